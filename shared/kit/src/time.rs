//! Wall-clock time from the platform (`Date`), as RFC 3339 UTC.

pub fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

/// Milliseconds since the epoch: the static `Date.now()` (no `Date` object made, as
/// `worker::Date::now()` makes one; this is read several times per request).
pub fn now_millis() -> u64 {
    js_sys::Date::now() as u64
}
