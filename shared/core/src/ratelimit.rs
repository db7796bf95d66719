//! An exact sliding-window limit: at most `limit` hits in any `window_ms`. It keeps each
//! hit's time, so it never over-admits at a window edge the way fixed windows do; the
//! caller (one Durable Object per user or key) makes it strongly consistent.

use std::collections::VecDeque;

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
/// and pruned of hits older than the window from the front: a check costs the hits that
/// left since the last one, not the whole window (which holds every request of the last
/// minute under load).
pub fn admit(hits: &mut VecDeque<u64>, now_ms: u64, limit: u32, window_ms: u64) -> Decision {
    // A hit at `t` counts until `t + window_ms`.
    while hits.front().is_some_and(|&t| t.saturating_add(window_ms) <= now_ms) {
        hits.pop_front();
    }
    let allowed = (hits.len() as u64) < u64::from(limit);
    if allowed {
        // Should the clock step back, the hit is recorded at the newest time already
        // kept: the order holds, and the hit counts a little longer, never shorter.
        hits.push_back(hits.back().map_or(now_ms, |&last| last.max(now_ms)));
    }
    let oldest = hits.front().copied().unwrap_or(now_ms);
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
        let mut hits = VecDeque::new();
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
        let mut hits = VecDeque::new();
        for _ in 0..3 {
            admit(&mut hits, 0, 3, 60_000);
        }
        assert!(!admit(&mut hits, 59_999, 3, 60_000).allowed, "still inside the window");
        assert!(admit(&mut hits, 60_001, 3, 60_000).allowed, "the old hits slid out");
    }

    #[test]
    fn a_clock_stepping_back_keeps_the_window_ordered_and_exact() {
        let mut hits = VecDeque::new();
        admit(&mut hits, 10_000, 3, 60_000);
        admit(&mut hits, 9_000, 3, 60_000);
        assert_eq!(hits, [10_000, 10_000]);
        admit(&mut hits, 11_000, 3, 60_000);
        assert!(!admit(&mut hits, 69_999, 3, 60_000).allowed);
        let d = admit(&mut hits, 70_000, 3, 60_000);
        assert!(d.allowed, "both hits recorded at 10 s left at 70 s");
        assert_eq!(hits, [11_000, 70_000]);
    }

    #[test]
    fn remaining_counts_down() {
        let mut hits = VecDeque::new();
        assert_eq!(admit(&mut hits, 0, 10, 1_000).remaining, 9);
        assert_eq!(admit(&mut hits, 1, 10, 1_000).remaining, 8);
    }
}
