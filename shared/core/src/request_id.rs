//! Request ids: one per request, echoed as `X-Request-Id`, carried to every worker and log.

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 64;

/// A client-supplied id we are willing to carry: short, and only `[A-Za-z0-9._-]`, so it
/// can go into logs and headers without escaping.
pub fn accept(candidate: &str) -> Option<&str> {
    let ok = !candidate.is_empty()
        && candidate.len() <= MAX_LEN
        && candidate.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(candidate)
}

/// A fresh id from 16 random bytes: 32 lowercase hex characters.
pub fn from_random(bytes: [u8; 16]) -> String {
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
    }
    out
}

/// Request ids minted without asking the platform for randomness on every request: a
/// 128-bit seed from the CSPRNG once (per isolate), then a counter, each id the counter
/// mixed with the seed by SplitMix64's finaliser (a bijection, so no id repeats within a
/// seed). Ids need to be unique, not secret: they name a request in logs and in the
/// signed identity, whose HMAC, not the id, is what cannot be forged.
pub struct Sequence {
    seed: [u64; 2],
    counter: u64,
}

impl Sequence {
    pub fn new(seed: [u8; 16]) -> Sequence {
        let (a, b) = seed.split_at(8);
        let word = |half: &[u8]| half.iter().fold(0u64, |w, &byte| (w << 8) | u64::from(byte));
        Sequence { seed: [word(a), word(b)], counter: 0 }
    }

    pub fn next_id(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        let hi = mix(self.counter ^ self.seed[0]);
        let lo = mix(self.counter.wrapping_add(self.seed[1]));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        from_random(bytes)
    }
}

/// SplitMix64's output function: a bijection on 64-bit words that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_ids_are_kept_and_others_dropped() {
        assert_eq!(accept("abc-123_X.y"), Some("abc-123_X.y"));
        assert_eq!(accept(""), None);
        assert_eq!(accept("has space"), None);
        assert_eq!(accept("inject\r\nheader"), None);
        assert_eq!(accept(&"a".repeat(65)), None);
    }

    #[test]
    fn random_ids_are_32_hex_characters() {
        let id = from_random([0xab; 16]);
        assert_eq!(id.len(), 32);
        assert!(id.starts_with("abab"));
    }

    #[test]
    fn a_sequence_never_repeats_and_differs_by_seed() {
        let mut one = Sequence::new([7; 16]);
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| one.next_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 32 && accept(id).is_some()));
        let mut other = Sequence::new([8; 16]);
        assert!(!ids.contains(&other.next_id()));
    }
}
