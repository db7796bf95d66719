//! `Gate`: one strongly consistent object per user (named `user:<id>`), so that each
//! authenticated request costs one call that answers everything the gateway must know:
//!
//! - the user's auth **epoch**: `main` raises the minimum when a role changes or the user is
//!   disabled; tokens minted in an older epoch are refused at once, not at expiry;
//! - **revoked sessions**: sign-out and refresh-token reuse revoke a session id (`sid`)
//!   here, kept until every access token of that session has expired;
//! - the exact **sliding-window rate limit** (`noizylab_core::ratelimit`).
//!
//! The same class, named `key:<id>`, is an API key's gate: the key's hash, workspace,
//! scopes, limit and revocation (main keeps it in step with D1), and its window; named
//! `device:<id>`, it holds a device's scan window.
//!
//! Protocol (JSON over the object's fetch): `POST /check {epoch, sid, limit, window_ms}`
//! → `{allowed, reason, limit, remaining, reset_secs, retry_after_secs}`;
//! `POST /epoch {min_epoch}`; `POST /revoke {sid, until_ms}`; `POST /limit {limit,
//! window_ms}` → the same answer; `POST /key/put {key}`; `POST /key/revoke`;
//! `POST /key/check {hash, now_secs, window_ms}` → the answer plus `grant`.

use std::cell::RefCell;

use noizylab_core::{auth, ratelimit};
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

#[derive(Default, Serialize, Deserialize)]
struct GateState {
    #[serde(default)]
    min_epoch: u64,
    /// (session id, revoked until, unix ms)
    #[serde(default)]
    revoked: Vec<(String, u64)>,
    #[serde(default)]
    hits: Vec<u64>,
    /// Set in a `key:<id>` gate only.
    #[serde(default)]
    key: Option<KeyRecord>,
}

/// What the gateway must know of an API key to admit a request made with it.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub hash: String,
    pub workspace_id: String,
    pub scopes: Vec<String>,
    /// Requests per window.
    pub limit: u32,
    pub expires_at: Option<i64>,
    pub revoked: bool,
}

/// The part of a key's record an admitted request carries on.
#[derive(Serialize, Deserialize)]
pub struct KeyGrant {
    pub workspace_id: String,
    pub scopes: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub struct KeyAnswer {
    #[serde(flatten)]
    pub check: CheckAnswer,
    pub grant: Option<KeyGrant>,
}

#[derive(Deserialize)]
struct KeyCheck {
    hash: String,
    now_secs: i64,
    window_ms: u64,
}

#[derive(Deserialize)]
struct KeyPut {
    key: KeyRecord,
}

#[derive(Deserialize)]
struct LimitRequest {
    limit: u32,
    window_ms: u64,
}

#[derive(Deserialize)]
pub struct CheckRequest {
    pub epoch: u64,
    pub sid: String,
    pub limit: u32,
    pub window_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub struct CheckAnswer {
    pub allowed: bool,
    /// `stale_epoch`, `revoked` or `rate_limited` when refused.
    pub reason: Option<String>,
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
    pub retry_after_secs: u64,
}

#[derive(Deserialize)]
struct EpochRequest {
    min_epoch: u64,
}

#[derive(Deserialize)]
struct RevokeRequest {
    sid: String,
    until_ms: u64,
}

const KEY: &str = "gate";

#[durable_object]
pub struct Gate {
    state: State,
    cached: RefCell<Option<GateState>>,
}

impl Gate {
    async fn load(&self) -> worker::Result<GateState> {
        if let Some(s) = self.cached.borrow_mut().take() {
            return Ok(s);
        }
        Ok(self.state.storage().get::<GateState>(KEY).await?.unwrap_or_default())
    }

    async fn save(&self, s: GateState) -> worker::Result<()> {
        self.state.storage().put(KEY, &s).await?;
        *self.cached.borrow_mut() = Some(s);
        Ok(())
    }

    async fn check(&self, req: CheckRequest) -> worker::Result<CheckAnswer> {
        let now = worker::Date::now().as_millis();
        let mut s = self.load().await?;
        s.revoked.retain(|(_, until)| *until > now);
        let answer = if req.epoch < s.min_epoch {
            CheckAnswer::refused("stale_epoch", req.limit)
        } else if s.revoked.iter().any(|(sid, _)| *sid == req.sid) {
            CheckAnswer::refused("revoked", req.limit)
        } else {
            CheckAnswer::admit(&mut s.hits, now, req.limit, req.window_ms)
        };
        self.save(s).await?;
        Ok(answer)
    }

    async fn limit(&self, req: LimitRequest) -> worker::Result<CheckAnswer> {
        let mut s = self.load().await?;
        let answer = CheckAnswer::admit(&mut s.hits, worker::Date::now().as_millis(), req.limit, req.window_ms);
        self.save(s).await?;
        Ok(answer)
    }

    /// An unknown, revoked, expired or mismatched key is refused alike (`invalid_key`):
    /// the answer never tells which.
    async fn key_check(&self, req: KeyCheck) -> worker::Result<KeyAnswer> {
        let mut s = self.load().await?;
        let valid = s.key.as_ref().filter(|k| {
            !k.revoked
                && k.expires_at.is_none_or(|at| at > req.now_secs)
                && auth::constant_time_eq(k.hash.as_bytes(), req.hash.as_bytes())
        });
        let Some(key) = valid.cloned() else {
            return Ok(KeyAnswer { check: CheckAnswer::refused("invalid_key", 0), grant: None });
        };
        let check = CheckAnswer::admit(&mut s.hits, worker::Date::now().as_millis(), key.limit, req.window_ms);
        self.save(s).await?;
        Ok(KeyAnswer { check, grant: Some(KeyGrant { workspace_id: key.workspace_id, scopes: key.scopes }) })
    }
}

impl CheckAnswer {
    fn refused(reason: &str, limit: u32) -> Self {
        CheckAnswer {
            allowed: false,
            reason: Some(reason.into()),
            limit,
            remaining: 0,
            reset_secs: 0,
            retry_after_secs: 0,
        }
    }

    fn admit(hits: &mut Vec<u64>, now_ms: u64, limit: u32, window_ms: u64) -> Self {
        let d = ratelimit::admit(hits, now_ms, limit, window_ms);
        CheckAnswer {
            allowed: d.allowed,
            reason: (!d.allowed).then(|| "rate_limited".into()),
            limit: d.limit,
            remaining: d.remaining,
            reset_secs: d.reset_secs,
            retry_after_secs: d.retry_after_secs,
        }
    }
}

impl DurableObject for Gate {
    fn new(state: State, _env: Env) -> Self {
        Gate { state, cached: RefCell::new(None) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (_, OBJECT_HEALTH_PATH) => object_ok("Gate"),
            (Method::Post, "/check") => {
                let body: CheckRequest = req.json().await?;
                Response::from_json(&self.check(body).await?)
            }
            (Method::Post, "/epoch") => {
                let body: EpochRequest = req.json().await?;
                let mut s = self.load().await?;
                s.min_epoch = s.min_epoch.max(body.min_epoch);
                self.save(s).await?;
                Response::empty()
            }
            (Method::Post, "/revoke") => {
                let body: RevokeRequest = req.json().await?;
                let mut s = self.load().await?;
                s.revoked.retain(|(sid, _)| *sid != body.sid);
                s.revoked.push((body.sid, body.until_ms));
                self.save(s).await?;
                Response::empty()
            }
            (Method::Post, "/limit") => {
                let body: LimitRequest = req.json().await?;
                Response::from_json(&self.limit(body).await?)
            }
            (Method::Post, "/key/put") => {
                let body: KeyPut = req.json().await?;
                let mut s = self.load().await?;
                s.key = Some(body.key);
                self.save(s).await?;
                Response::empty()
            }
            (Method::Post, "/key/revoke") => {
                let mut s = self.load().await?;
                if let Some(k) = s.key.as_mut() {
                    k.revoked = true;
                }
                self.save(s).await?;
                Response::empty()
            }
            (Method::Post, "/key/check") => {
                let body: KeyCheck = req.json().await?;
                Response::from_json(&self.key_check(body).await?)
            }
            _ => Response::error("no such object route", 404),
        }
    }
}
