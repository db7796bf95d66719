//! Wall-clock time from the platform (`Date`), as RFC 3339 UTC.

pub fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

pub fn now_millis() -> u64 {
    worker::Date::now().as_millis()
}
