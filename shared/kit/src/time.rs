//! Wall-clock time from the platform (`Date.now()`), as RFC 3339 UTC.

pub fn now_rfc3339() -> String {
    // Written here, as `Date.prototype.toISOString` writes it, without a `Date` made per call.
    i64::try_from(now_millis())
        .ok()
        .and_then(noizylab_core::time::rfc3339_millis)
        .unwrap_or_else(|| String::from(js_sys::Date::new_0().to_iso_string()))
}

/// Milliseconds since the epoch: the static `Date.now()` (no `Date` object made, as
/// `worker::Date::now()` makes one; this is read several times per request).
pub fn now_millis() -> u64 {
    js_sys::Date::now() as u64
}
