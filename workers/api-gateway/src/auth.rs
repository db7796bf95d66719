//! Who is calling: a bearer access token, verified here once per request.
//!
//! The token's signature and claims are checked against the JWKS `main` publishes
//! (cached in the isolate for five minutes, refetched at once for an unknown `kid`, so a
//! rotated key is picked up immediately). Then one call to the caller's `Gate` object
//! answers the rest: is the token's epoch current, is its session still open, and is the
//! caller within the sliding-window limit.
//!
//! An API key (`X-API-Key: nlk_…`, or as the bearer) is checked by its own `key:<id>`
//! gate in one call too: hash, revocation, expiry and the key's own limit.

use std::cell::RefCell;

use noizylab_core::auth::{self, PublicRing, TokenError};
use noizylab_core::identity::{Identity, PrincipalKind};
use noizylab_core::services::MAIN;
use noizylab_kit::call::{forward_signed, now_secs};
use noizylab_kit::{gate, ApiError, ApiResult, OrInternal};
use worker::{Env, Method};

use crate::config::Config;
use crate::gate::{CheckAnswer, KeyAnswer, ANSWER_HEADER};
use crate::incoming::Incoming;

const RING_TTL_MS: u64 = 5 * 60 * 1000;
const WINDOW_MS: u64 = 60_000;

/// Verified tokens kept per isolate, at most this many.
const VERIFIED_CAP: usize = 4096;

thread_local! {
    static RING: RefCell<Option<(PublicRing, u64)>> = const { RefCell::new(None) };
    /// Tokens whose signature and claims were verified here, until they expire: a client
    /// sends the same token for up to 15 minutes, and re-verifying an Ed25519 signature
    /// each time is most of what a request costs the gateway. Everything that can end a
    /// token early (sign-out, refresh reuse, role change, disabling) is the `Gate`'s, asked
    /// on every request all the same. Emptied whenever the key ring is fetched again, so a
    /// key taken out of the ring stops its tokens within the ring's lifetime.
    static VERIFIED: RefCell<std::collections::HashMap<String, auth::Verified>> =
        RefCell::new(std::collections::HashMap::new());
}

/// The claims of `token` if it was verified here and has not expired.
fn remembered(token: &str, now: i64) -> Option<auth::AccessClaims> {
    VERIFIED.with(|v| v.borrow().get(token).filter(|t| t.expires_at > now).map(|t| t.claims.clone()))
}

fn remember(token: &str, verified: &auth::Verified, now: i64) {
    VERIFIED.with(|v| {
        let mut v = v.borrow_mut();
        if v.len() >= VERIFIED_CAP {
            v.retain(|_, t| t.expires_at > now);
            if v.len() >= VERIFIED_CAP {
                v.clear();
            }
        }
        v.insert(token.to_owned(), verified.clone());
    });
}

async fn ring(env: &Env, secret: &str, request_id: &str, force: bool) -> ApiResult<PublicRing> {
    let now = noizylab_kit::time::now_millis();
    if !force {
        let cached =
            RING.with(|r| r.borrow().as_ref().filter(|(_, at)| now - at < RING_TTL_MS).map(|(k, _)| k.clone()));
        if let Some(ring) = cached {
            return Ok(ring);
        }
    }
    let fetcher = env.service(MAIN).or_internal("MAIN")?;
    let me = Identity::of_service(noizylab_core::services::API_GATEWAY);
    let resp = forward_signed(&fetcher, secret, &me, request_id, Method::Get, "/.well-known/jwks.json", None).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::Unavailable("token keys are not available; try again shortly".into()));
    }
    let jwks: serde_json::Value = noizylab_kit::http::answer_json(&resp).await?;
    let ring = auth::public_ring_from_jwks(&jwks);
    RING.with(|r| *r.borrow_mut() = Some((ring.clone(), now)));
    VERIFIED.with(|v| v.borrow_mut().clear());
    Ok(ring)
}

/// The credential a request presents, if any.
pub enum Credential {
    None,
    Bearer(String),
    ApiKey(String),
}

impl Credential {
    pub fn of(req: &Incoming) -> ApiResult<Credential> {
        let header = |name: &str| req.header(name);
        if let Some(key) = header("x-api-key") {
            return Ok(Credential::ApiKey(key.trim().to_owned()));
        }
        let Some(value) = header("authorization") else {
            return Ok(Credential::None);
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::Unauthenticated("use Authorization: Bearer <access token>".into()))?;
        Ok(if token.starts_with(auth::API_KEY_PREFIX) {
            Credential::ApiKey(token.to_owned())
        } else {
            Credential::Bearer(token.to_owned())
        })
    }
}

/// The caller's identity: anonymous with no credential; a user with a valid bearer token;
/// a key with a valid API key; otherwise 401 (or 429 over the limit, with `rate` filled
/// for the headers).
pub async fn authenticate(
    credential: &Credential,
    env: &Env,
    config: &Config,
    secret: &str,
    request_id: &str,
    rate: &mut Option<CheckAnswer>,
) -> ApiResult<Identity> {
    match credential {
        Credential::None => Ok(Identity::anonymous()),
        Credential::Bearer(token) => bearer(token, env, config.user_per_minute, secret, request_id, rate).await,
        Credential::ApiKey(key) => api_key(key, env, rate).await,
    }
}

async fn api_key(key: &str, env: &Env, rate: &mut Option<CheckAnswer>) -> ApiResult<Identity> {
    let invalid = || ApiError::Unauthenticated("this API key is not valid (unknown, revoked or expired)".into());
    let id = auth::api_key_id(key).ok_or_else(invalid)?;
    let body = serde_json::json!({
        "hash": auth::sha256_hex(key.as_bytes()), "now_secs": now_secs(), "window_ms": WINDOW_MS,
    });
    let resp = gate::post_to(env, &format!("key:{id}"), "key/check", &body).await?;
    let answer: KeyAnswer = noizylab_kit::http::answer_json(&resp).await?;
    let Some(grant) = answer.grant else {
        return Err(invalid());
    };
    let allowed = answer.check.allowed;
    let retry_after = answer.check.retry_after_secs;
    *rate = Some(answer.check);
    if !allowed {
        return Err(ApiError::RateLimited { retry_after });
    }
    Ok(Identity {
        kind: PrincipalKind::ApiKey,
        sub: Some(id.to_owned()),
        workspace: Some(grant.workspace_id),
        role: None,
        scopes: grant.scopes,
        session: None,
    })
}

/// The answer a gate gave in its header (see `gate.rs`).
fn gate_answer(resp: &worker::web_sys::Response) -> ApiResult<CheckAnswer> {
    let value = resp.headers().get(ANSWER_HEADER).ok().flatten();
    value
        .as_deref()
        .and_then(CheckAnswer::from_header)
        .ok_or_else(|| ApiError::internal("the gate's answer is unreadable"))
}

/// At most `limit` requests per `window_ms` against the gate named `name`; 429 beyond.
pub async fn limit(env: &Env, name: &str, limit: u32, window_ms: u64, rate: &mut Option<CheckAnswer>) -> ApiResult<()> {
    let (limit_text, window) = (limit.to_string(), window_ms.to_string());
    let resp = gate::ask(env, name, "limit", &[("limit", &limit_text), ("window_ms", &window)]).await?;
    let answer = gate_answer(&resp)?;
    if answer.allowed {
        return Ok(());
    }
    let retry_after = answer.retry_after_secs;
    *rate = Some(answer);
    Err(ApiError::RateLimited { retry_after })
}

async fn bearer(
    token: &str,
    env: &Env,
    limit: u32,
    secret: &str,
    request_id: &str,
    rate: &mut Option<CheckAnswer>,
) -> ApiResult<Identity> {
    let now = now_secs();
    let keys = ring(env, secret, request_id, false).await?;
    let claims = match remembered(token, now) {
        Some(claims) => claims,
        None => {
            let verified = match auth::verify(&keys, token, now) {
                Err(TokenError::UnknownKey) => auth::verify(&ring(env, secret, request_id, true).await?, token, now),
                other => other,
            }
            .map_err(|e| ApiError::Unauthenticated(e.message().into()))?;
            remember(token, &verified, now);
            verified.claims
        }
    };

    let (epoch, limit, window) = (claims.epoch.to_string(), limit.to_string(), WINDOW_MS.to_string());
    let query = [("epoch", epoch.as_str()), ("sid", &claims.sid), ("limit", &limit), ("window_ms", &window)];
    let resp = gate::ask(env, &format!("user:{}", claims.sub), "check", &query).await?;
    let answer = gate_answer(&resp)?;
    let allowed = answer.allowed;
    let reason = answer.reason.clone();
    let retry_after = answer.retry_after_secs;
    *rate = Some(answer);
    if !allowed {
        return Err(match reason.as_deref() {
            Some("rate_limited") => ApiError::RateLimited { retry_after },
            Some("stale_epoch") => ApiError::Unauthenticated("your access changed; refresh your token".into()),
            _ => ApiError::Unauthenticated("this session has ended; sign in again".into()),
        });
    }
    Ok(Identity {
        kind: PrincipalKind::User,
        sub: Some(claims.sub),
        workspace: Some(claims.ws),
        role: Some(claims.role.as_str().to_owned()),
        scopes: claims.scopes,
        session: Some(claims.sid),
    })
}
