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
}
