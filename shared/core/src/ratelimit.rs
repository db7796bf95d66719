//! An exact sliding-window limit: at most `limit` hits in any `window_ms`. It keeps each
//! hit's time, so it never over-admits at a window edge the way fixed windows do; the
//! caller (one Durable Object per user or key) makes it strongly consistent.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the oldest hit in the window leaves it.
    pub reset_secs: u64,
    /// When refused: seconds until a hit would be admitted.
    pub retry_after_secs: u64,
}

/// Records a hit at `now_ms` if the window has room. `hits` is kept sorted, oldest first,
/// and pruned of hits older than the window.
pub fn admit(hits: &mut Vec<u64>, now_ms: u64, limit: u32, window_ms: u64) -> Decision {
    // A hit at `t` counts until `t + window_ms`.
    hits.retain(|&t| t.saturating_add(window_ms) > now_ms);
    let allowed = (hits.len() as u64) < u64::from(limit);
    if allowed {
        hits.push(now_ms);
    }
    let oldest = hits.first().copied().unwrap_or(now_ms);
    let until_oldest_leaves = (oldest + window_ms).saturating_sub(now_ms);
    let secs = |ms: u64| ms.div_ceil(1000).max(1);
    Decision {
        allowed,
        limit,
        remaining: limit.saturating_sub(hits.len() as u32),
        reset_secs: secs(until_oldest_leaves),
        retry_after_secs: if allowed { 0 } else { secs(until_oldest_leaves) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hundred_and_first_hit_in_a_minute_is_refused() {
        let mut hits = Vec::new();
        for i in 0..100 {
            assert!(admit(&mut hits, 1_000 + i * 10, 100, 60_000).allowed, "hit {i}");
        }
        let refused = admit(&mut hits, 5_000, 100, 60_000);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, 56, "the first hit (t=1.0 s) leaves at 61.0 s");
    }

    #[test]
    fn the_window_slides_instead_of_resetting() {
        let mut hits = Vec::new();
        for _ in 0..3 {
            admit(&mut hits, 0, 3, 60_000);
        }
        assert!(!admit(&mut hits, 59_999, 3, 60_000).allowed, "still inside the window");
        assert!(admit(&mut hits, 60_001, 3, 60_000).allowed, "the old hits slid out");
    }

    #[test]
    fn remaining_counts_down() {
        let mut hits = Vec::new();
        assert_eq!(admit(&mut hits, 0, 10, 1_000).remaining, 9);
        assert_eq!(admit(&mut hits, 1, 10, 1_000).remaining, 8);
    }
}
