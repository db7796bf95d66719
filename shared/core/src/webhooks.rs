//! Outbound webhooks to a shop's integrations, signed in the manner of Stripe's scheme so
//! a receiver can check them with any Stripe-style verifier:
//!
//! ```text
//! NoizyLab-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">
//! ```
//!
//! keyed with the endpoint's signing secret (`whsec_…`, shown once when the endpoint is
//! made). A receiver recomputes the HMAC over the exact bytes it received, compares in
//! constant time, and refuses a timestamp more than five minutes from its clock (replays).
//! [`verify`] is that check.
//!
//! Also here: which events an endpoint takes ([`takes`]), the retry schedule
//! ([`retry_after`]), and the addresses deliveries may go to ([`checked_url`]).

use std::net::IpAddr;

use crate::error::{invalid, Invalid};
pub use crate::stripe::SignatureError;

/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "NoizyLab-Signature";
/// How far a receiver should let a timestamp be from its clock.
pub const TOLERANCE_SECS: i64 = crate::stripe::TOLERANCE_SECS;
/// Tries of one delivery before it is marked failed (it can still be replayed).
pub const ATTEMPTS: u32 = 6;
/// The most event filters an endpoint has.
pub const MAX_FILTERS: usize = 30;

/// The `NoizyLab-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", crate::stripe::sign(secret, timestamp, body))
}

/// A receiver's check of a delivery: the header's `v1` is the body's HMAC and `t` is
/// within [`TOLERANCE_SECS`] of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    crate::stripe::verify(secret, header, body, now)
}

/// Whether an endpoint whose filters are `filters` takes `event`: `*` takes everything,
/// `ticket.*` every `ticket.…` event, anything else names one event.
pub fn takes(filters: &[String], event: &str) -> bool {
    filters.iter().any(|f| match f.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.') && event.starts_with(prefix),
        None => f == event,
    })
}

/// The filters as given, if each is `*`, `<area>.*` or a catalogued event.
pub fn checked_filters(filters: &[String]) -> Result<Vec<String>, Invalid> {
    if filters.is_empty() || filters.len() > MAX_FILTERS {
        return Err(invalid("events", format!("1 to {MAX_FILTERS} events, e.g. [\"ticket.*\", \"quote.approved\"]")));
    }
    for f in filters {
        let ok = match f.strip_suffix(".*") {
            _ if f == "*" => true,
            Some(area) => crate::events::CATALOG.iter().any(|e| e.split('.').next() == Some(area)),
            None => crate::events::is_known(f),
        };
        if !ok {
            return Err(invalid("events", format!("{f} is not a catalogued event, an area's `area.*`, or `*`")));
        }
    }
    Ok(filters.to_vec())
}

/// Seconds before try `attempt + 1` of a delivery that failed `attempt` times: 30 s,
/// then doubling, at most an hour.
pub fn retry_after(attempt: u32) -> u32 {
    30u32.saturating_mul(1 << attempt.saturating_sub(1).min(7)).min(3_600)
}

/// Whether an address is one no delivery may reach outside development: loopback,
/// private, link-local, unique-local, unspecified, carrier-grade NAT, documentation.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

/// An endpoint's URL, if deliveries may go there: `https` (or `http` in development), a
/// host, no credentials; outside development not a loopback, private or link-local
/// address, nor `localhost` or a `.local`/`.internal`/`.localhost` name.
pub fn checked_url(url: &str, development: bool) -> Result<String, Invalid> {
    let url = url.trim();
    if url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return Err(invalid("url", "a URL is at most 2,048 characters, without spaces"));
    }
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => r,
        (None, Some(r)) if development => r,
        _ => return Err(invalid("url", "a webhook URL starts with https://")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid("url", "a webhook URL carries no user name or password"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
    .to_ascii_lowercase();
    if host.is_empty() {
        return Err(invalid("url", "the URL has no host"));
    }
    if !development {
        let named_inside = host == "localhost"
            || [".localhost", ".local", ".internal"].iter().any(|s| host.ends_with(s))
            || !host.contains('.') && host.parse::<IpAddr>().is_err();
        if named_inside || host.parse::<IpAddr>().is_ok_and(internal) {
            return Err(invalid("url", "webhooks go to public addresses, not loopback, private or local ones"));
        }
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_over_the_exact_body_and_only_in_time() {
        let body = br#"{"event":"quote.approved","data":{"quote_id":"q_1"}}"#;
        let header = signature("whsec_test", 1_764_876_000, body);
        assert!(header.starts_with("t=1764876000,v1="), "{header}");
        assert_eq!(header.len(), "t=1764876000,v1=".len() + 64);
        assert_eq!(verify("whsec_test", &header, body, 1_764_876_100), Ok(()));
        assert_eq!(verify("whsec_test", &header, b"{}", 1_764_876_100), Err(SignatureError::Mismatch));
        assert_eq!(verify("whsec_other", &header, body, 1_764_876_100), Err(SignatureError::Mismatch));
        assert_eq!(verify("whsec_test", &header, body, 1_764_876_000 + 301), Err(SignatureError::Stale));
        // The same bytes as `openssl dgst -sha256 -hmac whsec_test` over "1764876000.{body}".
        let openssl = "t=1764876000,v1=".to_owned() + &crate::stripe::sign("whsec_test", 1_764_876_000, body);
        assert_eq!(header, openssl);
    }

    #[test]
    fn filters_take_events_by_name_area_or_all() {
        let f = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(takes(&f(&["*"]), "deal.found"));
        assert!(takes(&f(&["ticket.*"]), "ticket.status_changed"));
        assert!(!takes(&f(&["ticket.*"]), "quote.approved"));
        assert!(!takes(&f(&["ticket*"]), "ticket.created"), "a wildcard follows an area and a dot");
        assert!(takes(&f(&["quote.approved", "deal.found"]), "deal.found"));
        assert!(checked_filters(&f(&["ticket.*", "quote.approved", "*"])).is_ok());
        assert_eq!(checked_filters(&f(&["ticket.exploded"])).unwrap_err().field, "events");
        assert!(checked_filters(&f(&["nothing.*"])).is_err());
        assert!(checked_filters(&[]).is_err());
    }

    #[test]
    fn deliveries_go_to_public_https_addresses_outside_development() {
        for ok in ["https://hooks.example.com/noizylab", "https://93.184.215.14:8443/in", "https://[2606:4700::1111]/x"]
        {
            assert!(checked_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/x",
            "https://localhost/x",
            "https://127.0.0.1:9000/x",
            "https://10.1.2.3/x",
            "https://192.168.0.10/x",
            "https://172.20.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://printer.local/x",
            "https://noizylab-main.internal/x",
            "https://intranet/x",
            "https://user:pw@hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https:///x",
        ] {
            assert_eq!(checked_url(bad, false).map_err(|e| e.field), Err("url".to_owned()), "{bad}");
        }
        // Development: a stand-in on loopback over http.
        assert!(checked_url("http://127.0.0.1:40123/hook", true).is_ok());
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        let waits: Vec<u32> = (1..=ATTEMPTS).map(retry_after).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960]);
        assert_eq!(retry_after(20), 3_600);
    }
}
