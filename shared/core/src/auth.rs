//! Access tokens, roles and scopes.
//!
//! Access tokens are JWTs signed with Ed25519 (`alg: EdDSA`), typed `at+jwt` (RFC 9068),
//! valid for 15 minutes. Verification follows RFC 8725: the algorithm is pinned (never
//! taken from the token), the key is chosen by `kid` from our own key ring, and `typ`,
//! `iss`, `aud`, `exp`, `iat`, `sub` and `jti` are all required and checked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_compact::{KeyPair, PublicKey, Seed};
use jwt_compact::alg::Ed25519;
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "noizylab-os";
pub const AUDIENCE: &str = "noizylab-api";
pub const TOKEN_TYPE: &str = "at+jwt";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// Tolerated clock difference between the issuer and a verifier.
const LEEWAY_SECS: i64 = 30;

/// The seed's scope model: what an access token or an API key may do. On the wire (tokens,
/// the signed identity, `api_keys.scopes`) a scope is its string, e.g. `tickets:read`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "tickets:read")]
    TicketsRead,
    #[serde(rename = "tickets:write")]
    TicketsWrite,
    #[serde(rename = "tickets:delete")]
    TicketsDelete,
    #[serde(rename = "ai:diagnose")]
    AiDiagnose,
    #[serde(rename = "ai:vision")]
    AiVision,
    #[serde(rename = "ai:voice")]
    AiVoice,
    #[serde(rename = "pricing:read")]
    PricingRead,
    #[serde(rename = "pricing:write")]
    PricingWrite,
    #[serde(rename = "inventory:read")]
    InventoryRead,
    #[serde(rename = "inventory:write")]
    InventoryWrite,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "workflows:manage")]
    WorkflowsManage,
    /// Remote actions on a customer's device (scripts, restarts) and ending sessions.
    #[serde(rename = "sessions:control")]
    SessionsControl,
}

impl Scope {
    pub const ALL: [Scope; 13] = [
        Scope::TicketsRead,
        Scope::TicketsWrite,
        Scope::TicketsDelete,
        Scope::AiDiagnose,
        Scope::AiVision,
        Scope::AiVoice,
        Scope::PricingRead,
        Scope::PricingWrite,
        Scope::InventoryRead,
        Scope::InventoryWrite,
        Scope::Admin,
        Scope::WorkflowsManage,
        Scope::SessionsControl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::TicketsRead => "tickets:read",
            Scope::TicketsWrite => "tickets:write",
            Scope::TicketsDelete => "tickets:delete",
            Scope::AiDiagnose => "ai:diagnose",
            Scope::AiVision => "ai:vision",
            Scope::AiVoice => "ai:voice",
            Scope::PricingRead => "pricing:read",
            Scope::PricingWrite => "pricing:write",
            Scope::InventoryRead => "inventory:read",
            Scope::InventoryWrite => "inventory:write",
            Scope::Admin => "admin",
            Scope::WorkflowsManage => "workflows:manage",
            Scope::SessionsControl => "sessions:control",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Every scope's name, for messages listing what exists.
    pub fn names() -> String {
        Scope::ALL.map(Scope::as_str).join(", ")
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Technician,
    Customer,
    Guest,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "technician" => Some(Role::Technician),
            "customer" => Some(Role::Customer),
            "guest" => Some(Role::Guest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Technician => "technician",
            Role::Customer => "customer",
            Role::Guest => "guest",
        }
    }

    /// The scopes a member of this role gets by default.
    pub fn default_scopes(self) -> &'static [Scope] {
        use Scope::*;
        match self {
            Role::Owner | Role::Admin => &Scope::ALL,
            Role::Technician => &[
                TicketsRead,
                TicketsWrite,
                AiDiagnose,
                AiVision,
                AiVoice,
                PricingRead,
                InventoryRead,
                InventoryWrite,
                SessionsControl,
            ],
            Role::Customer => &[TicketsRead, TicketsWrite, PricingRead],
            Role::Guest => &[TicketsRead],
        }
    }

    /// [`Role::default_scopes`] as the strings tokens carry.
    pub fn default_scope_names(self) -> Vec<String> {
        self.default_scopes().iter().map(|s| s.as_str().to_owned()).collect()
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Owner | Role::Admin | Role::Technician)
    }
}

/// The claims of an access token besides `exp`/`iat`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub jti: String,
    /// The session (refresh-token family) this token belongs to; logout revokes it.
    pub sid: String,
    /// The workspace the token acts in.
    pub ws: String,
    pub role: Role,
    pub scopes: Vec<String>,
    /// The user's auth epoch at issuance: a role change or disabling bumps it, and tokens
    /// from an older epoch stop working at once.
    pub epoch: u64,
}

/// A verified token: its claims and its expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub claims: AccessClaims,
    pub expires_at: i64,
}

/// One Ed25519 key of the ring, identified by `kid`.
pub struct SigningKey {
    pub kid: String,
    pair: KeyPair,
}

impl SigningKey {
    pub fn from_seed(kid: &str, seed: [u8; 32]) -> SigningKey {
        SigningKey { kid: kid.to_owned(), pair: KeyPair::from_seed(Seed::new(seed)) }
    }

    pub fn public(&self) -> PublicKey {
        self.pair.pk
    }

    /// The public half as a JWK (RFC 8037).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": self.kid, "x": URL_SAFE_NO_PAD.encode(&self.pair.pk[..]),
        })
    }
}

/// Parses `JWT_SIGNING_KEYS`: `kid:base64url(32-byte seed)` entries separated by commas.
/// The first signs; the others only verify, so a rotated-out key keeps its tokens valid
/// until they expire.
pub fn parse_key_ring(spec: &str) -> Result<Vec<SigningKey>, String> {
    let mut ring = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (kid, seed) = entry.split_once(':').ok_or("each key is kid:base64url-seed")?;
        let bytes = URL_SAFE_NO_PAD.decode(seed.trim()).map_err(|_| format!("key {kid}: seed is not base64url"))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| format!("key {kid}: seed must be 32 bytes"))?;
        ring.push(SigningKey::from_seed(kid.trim(), seed));
    }
    if ring.is_empty() {
        return Err("no signing keys configured".into());
    }
    Ok(ring)
}

/// Public keys by kid, as a verifier holds them (from the JWKS).
pub type PublicRing = Vec<(String, PublicKey)>;

/// Reads the Ed25519 keys of a JWKS document.
pub fn public_ring_from_jwks(jwks: &serde_json::Value) -> PublicRing {
    jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["kty"] == "OKP" && k["crv"] == "Ed25519")
        .filter_map(|k| {
            let kid = k["kid"].as_str()?.to_owned();
            let x = URL_SAFE_NO_PAD.decode(k["x"].as_str()?).ok()?;
            Some((kid, PublicKey::from_slice(&x).ok()?))
        })
        .collect()
}

fn utc(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

/// Signs an access token for `claims`, issued at `now` (unix seconds).
pub fn issue(key: &SigningKey, claims: AccessClaims, now: i64) -> Result<String, String> {
    let header = Header::empty().with_key_id(key.kid.clone()).with_token_type(TOKEN_TYPE);
    let options = TimeOptions::new(Duration::seconds(LEEWAY_SECS), move || utc(now));
    let claims = Claims::new(claims).set_duration_and_issuance(&options, Duration::seconds(ACCESS_TTL_SECS));
    Ed25519.token(&header, &claims, &key.pair.sk).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    WrongType,
    WrongAlgorithm,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Malformed => "the access token is malformed",
            TokenError::WrongType => "the token is not an access token",
            TokenError::WrongAlgorithm => "the token's algorithm is not accepted",
            TokenError::UnknownKey => "the token was signed with an unknown key",
            TokenError::BadSignature => "the token's signature does not verify",
            TokenError::Expired => "the access token has expired; refresh it",
            TokenError::NotYetValid => "the access token is not valid yet",
            TokenError::WrongIssuer => "the token was issued by someone else",
            TokenError::WrongAudience => "the token is meant for another audience",
        }
    }
}

/// Verifies an access token against `ring` at `now` (unix seconds).
pub fn verify(ring: &PublicRing, token: &str, now: i64) -> Result<Verified, TokenError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| TokenError::Malformed)?;
    if untrusted.header().token_type.as_deref() != Some(TOKEN_TYPE) {
        return Err(TokenError::WrongType);
    }
    // Pinned: only EdDSA, whatever the header claims (RFC 8725 §3.1).
    if untrusted.algorithm() != "EdDSA" {
        return Err(TokenError::WrongAlgorithm);
    }
    let kid = untrusted.header().key_id.as_deref().ok_or(TokenError::UnknownKey)?;
    let key = ring.iter().find(|(k, _)| k == kid).map(|(_, pk)| pk).ok_or(TokenError::UnknownKey)?;
    let token = Ed25519.validator::<AccessClaims>(key).validate(&untrusted).map_err(|_| TokenError::BadSignature)?;
    let claims = token.claims();
    let expires = claims.expiration.ok_or(TokenError::Malformed)?.timestamp();
    let issued = claims.issued_at.ok_or(TokenError::Malformed)?.timestamp();
    if now > expires + LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    if issued > now + LEEWAY_SECS || expires - issued > ACCESS_TTL_SECS {
        return Err(TokenError::NotYetValid);
    }
    let custom = claims.custom.clone();
    if custom.iss != ISSUER {
        return Err(TokenError::WrongIssuer);
    }
    if custom.aud != AUDIENCE {
        return Err(TokenError::WrongAudience);
    }
    if custom.sub.is_empty() || custom.jti.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(Verified { claims: custom, expires_at: expires })
}

/// Hex SHA-256, for storing tokens, codes and keys only hashed.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A plausible email address, normalised to lowercase. Deliberately permissive: the
/// magic link is the real check.
pub fn parse_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_ascii_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && !domain.contains('@');
    ok.then_some(email)
}

/// What every API key starts with, so a leaked one is recognisable (and scannable).
pub const API_KEY_PREFIX: &str = "nlk_";

/// An API key's text: `nlk_<id>_<secret>`, with a 16-hex-digit public id and a
/// base64url secret of 32 random bytes.
pub fn format_api_key(id: &str, secret_b64: &str) -> String {
    format!("{API_KEY_PREFIX}{id}_{secret_b64}")
}

/// The public id of a well-formed API key, or `None`.
pub fn api_key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn key(kid: &str, fill: u8) -> SigningKey {
        SigningKey::from_seed(kid, [fill; 32])
    }

    fn ring(keys: &[&SigningKey]) -> PublicRing {
        keys.iter().map(|k| (k.kid.clone(), k.public())).collect()
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "user-1".into(),
            jti: "jti-1".into(),
            sid: "sid-1".into(),
            ws: "ws-1".into(),
            role: Role::Technician,
            scopes: Role::Technician.default_scope_names(),
            epoch: 3,
        }
    }

    fn forge(header: &str, payload: &serde_json::Value, sig: &str) -> String {
        format!(
            "{}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default())
        )
    }

    #[test]
    fn an_issued_token_verifies_with_all_its_claims() {
        let k = key("k1", 7);
        let token = issue(&k, claims(), NOW).unwrap_or_default();
        let v = verify(&ring(&[&k]), &token, NOW + 60);
        assert_eq!(v.map(|v| (v.claims, v.expires_at)), Ok((claims(), NOW + ACCESS_TTL_SECS)));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let k = key("k1", 7);
        let token = issue(&k, claims(), NOW).unwrap_or_default();
        assert_eq!(verify(&ring(&[&k]), &token, NOW + ACCESS_TTL_SECS + 31), Err(TokenError::Expired));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let k = key("k1", 7);
        let token = issue(&k, claims(), NOW).unwrap_or_default();
        let payload_b64 = token.split('.').nth(1).unwrap_or_default();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload_b64).unwrap_or_default()).unwrap_or_default();
        let none = forge(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#, &payload, "");
        assert_eq!(verify(&ring(&[&k]), &none, NOW), Err(TokenError::WrongAlgorithm));
        let hs = forge(r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#, &payload, "AAAA");
        assert_eq!(verify(&ring(&[&k]), &hs, NOW), Err(TokenError::WrongAlgorithm));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let k = key("k1", 7);
        let token = issue(&k, claims(), NOW).unwrap_or_default();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default()).unwrap_or_default();
        payload["role"] = "owner".into();
        let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
        assert_eq!(verify(&ring(&[&k]), &tampered, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn wrong_issuer_audience_and_type_are_refused() {
        let k = key("k1", 7);
        let r = ring(&[&k]);
        let iss = issue(&k, AccessClaims { iss: "someone-else".into(), ..claims() }, NOW).unwrap_or_default();
        assert_eq!(verify(&r, &iss, NOW), Err(TokenError::WrongIssuer));
        let aud = issue(&k, AccessClaims { aud: "other-api".into(), ..claims() }, NOW).unwrap_or_default();
        assert_eq!(verify(&r, &aud, NOW), Err(TokenError::WrongAudience));
        let header = Header::empty().with_key_id("k1").with_token_type("JWT");
        let options = TimeOptions::new(Duration::seconds(0), move || utc(NOW));
        let c = Claims::new(claims()).set_duration_and_issuance(&options, Duration::seconds(60));
        let jwt = Ed25519.token(&header, &c, &k.pair.sk).unwrap_or_default();
        assert_eq!(verify(&r, &jwt, NOW), Err(TokenError::WrongType));
    }

    #[test]
    fn a_rotated_out_key_still_verifies_its_tokens_and_an_unknown_key_does_not() {
        let old = key("k1", 7);
        let new = key("k2", 9);
        let token = issue(&old, claims(), NOW).unwrap_or_default();
        assert!(verify(&ring(&[&new, &old]), &token, NOW).is_ok());
        assert_eq!(verify(&ring(&[&new]), &token, NOW), Err(TokenError::UnknownKey));
    }

    #[test]
    fn the_key_ring_parses_and_rejects_bad_seeds() {
        let seed = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let ring = parse_key_ring(&format!("a:{seed}, b:{seed}")).unwrap_or_default();
        assert_eq!(ring.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(parse_key_ring("").is_err());
        assert!(parse_key_ring("a:short").is_err());
        assert!(parse_key_ring("no-colon").is_err());
    }

    #[test]
    fn the_jwks_round_trips_to_a_verifying_ring() {
        let k = key("k1", 7);
        let jwks = serde_json::json!({ "keys": [k.jwk()] });
        let token = issue(&k, claims(), NOW).unwrap_or_default();
        assert!(verify(&public_ring_from_jwks(&jwks), &token, NOW).is_ok());
    }

    #[test]
    fn roles_have_sensible_default_scopes() {
        assert!(Role::Admin.default_scopes().contains(&Scope::Admin));
        assert!(!Role::Technician.default_scopes().contains(&Scope::Admin));
        assert!(!Role::Customer.default_scopes().contains(&Scope::InventoryWrite));
    }

    #[test]
    fn scopes_read_and_write_as_their_wire_names() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
            assert_eq!(serde_json::to_string(&scope).unwrap(), format!("\"{scope}\""));
        }
        assert_eq!(Scope::parse("tickets:read"), Some(Scope::TicketsRead));
        assert_eq!(Scope::parse("tickets:READ"), None);
        assert_eq!(Role::parse("technician"), Some(Role::Technician));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn emails_are_normalised_and_nonsense_refused() {
        assert_eq!(parse_email("  Alice@Example.COM "), Some("alice@example.com".into()));
        for bad in ["", "alice", "alice@", "@example.com", "a@b", "a b@example.com", "a@.com", "a@b@c.com"] {
            assert_eq!(parse_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn api_keys_are_recognised_only_when_well_formed() {
        let secret = "A".repeat(43);
        let key = format_api_key("0123456789abcdef", &secret);
        assert_eq!(api_key_id(&key), Some("0123456789abcdef"));
        assert_eq!(api_key_id(&key[..key.len() - 1]), None);
        assert_eq!(api_key_id(&key.replace("nlk_", "xyz_")), None);
        assert_eq!(api_key_id(&format_api_key("0123456789ABCDEF", &secret)), None);
        assert_eq!(api_key_id(&format_api_key("0123", &secret)), None);
        assert_eq!(api_key_id("eyJhbGciOiJFZERTQSJ9.e30.sig"), None);
    }

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
