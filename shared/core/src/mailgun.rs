//! Mailgun, the second email provider (seed 001): its messages API's form and its webhook
//! signatures (https://documentation.mailgun.com/docs/mailgun/user-manual/tracking-messages/#securing-webhooks).
//!
//! Sending: `POST {base}/v3/{domain}/messages`, HTTP basic auth `api:<key>`, a form with
//! `from`, `to`, `subject`, `text`, `html` and `h:Reply-To`.
//!
//! Receiving (a route forwarding replies to us): the POST carries `timestamp`, `token` and
//! `signature`, the hex HMAC-SHA256 of `timestamp + token` keyed with the account's webhook
//! signing key. Genuine if it matches and the timestamp is within the tolerance of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signed timestamp may be from now: fifteen minutes.
pub const TOLERANCE_SECS: i64 = 900;

/// The signature Mailgun sends with `timestamp` and `token`, in hex.
pub fn sign(key: &str, timestamp: &str, token: &str) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a webhook's `timestamp`, `token` and `signature` at `now` (unix seconds): the
/// reason it is refused, if it is.
pub fn verify(key: &str, timestamp: &str, token: &str, signature: &str, now: i64) -> Result<(), &'static str> {
    let t: i64 = timestamp.parse().map_err(|_| "the Mailgun timestamp is missing or not a number")?;
    if (now - t).abs() > TOLERANCE_SECS {
        return Err("the Mailgun timestamp is more than 15 minutes from now");
    }
    if token.is_empty() {
        return Err("the Mailgun token is missing");
    }
    let expected = sign(key, timestamp, token);
    if crate::auth::constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err("the Mailgun signature does not match")
    }
}

/// The form of one message to `to`.
pub fn message_form<'a>(
    from: &'a str,
    to: &'a str,
    subject: &'a str,
    text: &'a str,
    html: Option<&'a str>,
    reply_to: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![("from", from), ("to", to), ("subject", subject), ("text", text)];
    if let Some(h) = html {
        form.push(("html", h));
    }
    if let Some(r) = reply_to {
        form.push(("h:Reply-To", r));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_hmac_sha256_of_timestamp_and_token() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'key-test', b'1700000000abc123', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign("key-test", "1700000000", "abc123"),
            "c0e08973c41265c4aa6c8271c75edff95b121b46a0985bbad43577cdd8f759c1"
        );
    }

    #[test]
    fn verification_refuses_forgeries_stale_and_missing_parts() {
        let sig = sign("key-test", "1700000000", "abc123");
        assert_eq!(verify("key-test", "1700000000", "abc123", &sig, 1_700_000_100), Ok(()));
        assert_eq!(verify("key-test", "1700000000", "abc123", &sig.to_uppercase(), 1_700_000_100), Ok(()));
        assert!(verify("key-other", "1700000000", "abc123", &sig, 1_700_000_100).is_err());
        assert!(verify("key-test", "1700000000", "abc124", &sig, 1_700_000_100).is_err());
        assert!(verify("key-test", "1700000000", "abc123", &sig, 1_700_001_000).unwrap_err().contains("15 minutes"));
        assert!(verify("key-test", "soon", "abc123", &sig, 1_700_000_100).is_err());
        assert!(verify("key-test", "1700000000", "", &sig, 1_700_000_100).is_err());
    }

    #[test]
    fn the_form_carries_html_and_reply_to_only_when_given() {
        let f = message_form("a@x", "b@y", "S", "T", None, Some("r@z"));
        assert_eq!(f, vec![("from", "a@x"), ("to", "b@y"), ("subject", "S"), ("text", "T"), ("h:Reply-To", "r@z")]);
    }
}
