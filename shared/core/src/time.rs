//! Instants as RFC 3339 text, computed here rather than by the platform's `Date`: its
//! `toISOString` throws on an instant out of its range, and a JS exception inside a
//! worker's wasm ends the request with no answer. Out-of-range instants are `None` here,
//! for the caller to refuse.

use chrono::{DateTime, Datelike, Duration, SecondsFormat, Utc};

/// The last instant of year 9999, in ms since the epoch: later years need the extended
/// `+YYYYYY` form, which few readers of our dates would parse.
const MAX_MS: i64 = 253_402_300_799_999;

/// `ms` since the epoch as RFC 3339 UTC with milliseconds, as JS writes it
/// (`2026-12-05T21:00:00.000Z`); `None` before year 0 or after year 9999.
pub fn rfc3339_millis(ms: i64) -> Option<String> {
    let at = DateTime::<Utc>::from_timestamp_millis(ms)?;
    (at.year() >= 0 && ms <= MAX_MS).then(|| at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The RFC 3339 instant `from` moved by `days` (negative: back), in the same form;
/// `None` if `from` does not parse or the result leaves years 0–9999.
pub fn add_days(from: &str, days: i64) -> Option<String> {
    let at = DateTime::parse_from_rfc3339(from).ok()?.with_timezone(&Utc);
    let moved = at.checked_add_signed(Duration::try_days(days)?)?;
    rfc3339_millis(moved.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_as_javascript_writes_them() {
        assert_eq!(rfc3339_millis(0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        // 2026-12-05T21:00:00.123Z, as `new Date(1796504400123).toISOString()` gives it.
        assert_eq!(rfc3339_millis(1_796_504_400_123).as_deref(), Some("2026-12-05T21:00:00.123Z"));
        assert_eq!(rfc3339_millis(-1).as_deref(), Some("1969-12-31T23:59:59.999Z"));
    }

    #[test]
    fn instants_beyond_four_digit_years_are_none_not_a_throw() {
        assert_eq!(rfc3339_millis(MAX_MS).as_deref(), Some("9999-12-31T23:59:59.999Z"));
        assert_eq!(rfc3339_millis(MAX_MS + 1), None);
        assert_eq!(rfc3339_millis(i64::MAX), None);
        assert_eq!(rfc3339_millis(i64::MIN), None);
        assert_eq!(rfc3339_millis(-62_167_219_200_001), None, "before year 0");
    }

    #[test]
    fn days_are_added_and_taken_away() {
        assert_eq!(add_days("2026-12-05T21:00:00.123Z", 30).as_deref(), Some("2027-01-04T21:00:00.123Z"));
        assert_eq!(add_days("2026-12-05T21:00:00.123Z", -7).as_deref(), Some("2026-11-28T21:00:00.123Z"));
        assert_eq!(add_days("2026-12-05T21:00:00+02:00", 1).as_deref(), Some("2026-12-06T19:00:00.000Z"));
        assert_eq!(add_days("yesterday", 1), None);
        assert_eq!(add_days("9999-12-31T00:00:00.000Z", 1), None);
        assert_eq!(add_days("2026-12-05T21:00:00.000Z", i64::MAX), None);
    }
}
