//! The identity the gateway forwards to internal workers, and its signature.
//!
//! The gateway authenticates a caller once and forwards who they are in one header:
//!
//! ```text
//! x-noizy-identity: v1.<unix seconds>.<base64url(identity JSON)>.<base64url(HMAC-SHA256)>
//! ```
//!
//! The MAC covers the version, the timestamp, the method, the path, the request id and the
//! identity, keyed by the `INTERNAL_SECRET` every worker shares. A header copied onto
//! another route, another request or replayed after [`MAX_SKEW_SECS`] fails verification.
//! Workers refuse any request without a valid header, so reaching an internal worker by
//! some other path grants nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const HEADER: &str = "x-noizy-identity";
const VERSION: &str = "v1";
/// How far a signature's timestamp may be from the verifier's clock.
pub const MAX_SKEW_SECS: i64 = 60;
/// The shortest secret accepted: 256 bits, hex or otherwise.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// No credentials were presented.
    #[default]
    Anonymous,
    User,
    ApiKey,
    /// A worker acting on its own behalf (queue consumers, cron).
    Service,
}

/// Who is calling, as verified by the gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The signed-in session (refresh-token family) the caller's token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

impl Identity {
    pub fn anonymous() -> Self {
        Identity::default()
    }

    /// A worker acting for itself, e.g. the gateway's health aggregation, by its deployed
    /// name (`noizylab-<dir>`).
    pub fn service(name: &str) -> Self {
        Identity { kind: PrincipalKind::Service, sub: Some(name.to_owned()), ..Identity::default() }
    }

    /// The worker bound as `binding` in the service catalogue, acting for itself.
    pub fn of_service(binding: &str) -> Self {
        let name = crate::services::by_binding(binding).map_or_else(|| binding.to_owned(), |s| s.worker_name());
        Identity::service(&name)
    }

    /// The catalogued worker this identity is, if it is one acting for itself.
    pub fn calling_service(&self) -> Option<&'static crate::services::ServiceSpec> {
        let name = self.sub.as_deref().filter(|_| self.kind == PrincipalKind::Service)?;
        crate::services::SERVICES.iter().find(|s| s.worker_name() == name)
    }
}

/// What a request's signature binds together.
#[derive(Clone, Copy, Debug)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub request_id: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityError {
    Missing,
    Malformed,
    BadSignature,
    Expired,
    WeakSecret,
}

impl IdentityError {
    pub fn message(&self) -> &'static str {
        match self {
            IdentityError::Missing => "internal request without a signed identity",
            IdentityError::Malformed => "internal identity header is malformed",
            IdentityError::BadSignature => "internal identity signature does not verify",
            IdentityError::Expired => "internal identity signature is too old or from the future",
            IdentityError::WeakSecret => "internal secret is missing or shorter than 32 bytes",
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], ts: i64, payload: &str, what: Signed<'_>) -> Result<HmacSha256, IdentityError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(IdentityError::WeakSecret);
    }
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| IdentityError::WeakSecret)?;
    for part in [VERSION, &ts.to_string(), what.method, what.path, what.request_id, payload] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    Ok(mac)
}

/// The header value carrying `identity` for the request described by `what`.
pub fn sign(secret: &[u8], identity: &Identity, what: Signed<'_>, now: i64) -> Result<String, IdentityError> {
    let json = serde_json::to_vec(identity).map_err(|_| IdentityError::Malformed)?;
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = mac(secret, now, &payload, what)?.finalize().into_bytes();
    Ok(format!("{VERSION}.{now}.{payload}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// The identity in `header`, if its signature holds for the request described by `what`.
pub fn verify(secret: &[u8], header: Option<&str>, what: Signed<'_>, now: i64) -> Result<Identity, IdentityError> {
    let header = header.ok_or(IdentityError::Missing)?;
    let mut parts = header.split('.');
    let (Some(version), Some(ts), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Malformed);
    };
    if version != VERSION {
        return Err(IdentityError::Malformed);
    }
    let ts: i64 = ts.parse().map_err(|_| IdentityError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| IdentityError::Malformed)?;
    // `verify_slice` compares in constant time.
    mac(secret, ts, payload, what)?.verify_slice(&tag).map_err(|_| IdentityError::BadSignature)?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(IdentityError::Expired);
    }
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| IdentityError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| IdentityError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const WHAT: Signed<'static> = Signed { method: "GET", path: "/api/v1/devices", request_id: "req-1" };

    fn alice() -> Identity {
        Identity {
            kind: PrincipalKind::User,
            sub: Some("alice".into()),
            workspace: Some("ws1".into()),
            role: Some("technician".into()),
            scopes: vec!["tickets:read".into()],
            session: Some("s1".into()),
        }
    }

    #[test]
    fn a_signed_identity_verifies_and_round_trips() {
        let header = sign(SECRET, &alice(), WHAT, 1_000).unwrap_or_default();
        assert_eq!(verify(SECRET, Some(&header), WHAT, 1_030), Ok(alice()));
    }

    #[test]
    fn a_missing_header_is_refused() {
        assert_eq!(verify(SECRET, None, WHAT, 0), Err(IdentityError::Missing));
    }

    #[test]
    fn a_header_signed_with_another_secret_is_refused() {
        let header = sign(b"another-secret-another-secret-xx", &alice(), WHAT, 0).unwrap_or_default();
        assert_eq!(verify(SECRET, Some(&header), WHAT, 0), Err(IdentityError::BadSignature));
    }

    #[test]
    fn a_header_moved_to_another_path_or_method_or_request_is_refused() {
        let header = sign(SECRET, &alice(), WHAT, 0).unwrap_or_default();
        for other in [
            Signed { path: "/api/v1/admin", ..WHAT },
            Signed { method: "DELETE", ..WHAT },
            Signed { request_id: "req-2", ..WHAT },
        ] {
            assert_eq!(verify(SECRET, Some(&header), other, 0), Err(IdentityError::BadSignature));
        }
    }

    #[test]
    fn an_edited_identity_is_refused() {
        let header = sign(SECRET, &Identity::anonymous(), WHAT, 0).unwrap_or_default();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&alice()).unwrap_or_default());
        let mut parts: Vec<&str> = header.split('.').collect();
        parts[2] = &forged_payload;
        let forged = parts.join(".");
        assert_eq!(verify(SECRET, Some(&forged), WHAT, 0), Err(IdentityError::BadSignature));
    }

    #[test]
    fn an_old_signature_is_refused() {
        let header = sign(SECRET, &alice(), WHAT, 0).unwrap_or_default();
        assert_eq!(verify(SECRET, Some(&header), WHAT, MAX_SKEW_SECS + 1), Err(IdentityError::Expired));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in ["", "v1", "v1.x.y.z", "v2.1.e30.AA", "v1.1.e30.AA.extra", "v1.1.!!.@@"] {
            assert!(verify(SECRET, Some(junk), WHAT, 1).is_err(), "{junk}");
        }
    }

    #[test]
    fn a_short_secret_is_refused_for_signing() {
        assert_eq!(sign(b"short", &alice(), WHAT, 0), Err(IdentityError::WeakSecret));
    }
}
