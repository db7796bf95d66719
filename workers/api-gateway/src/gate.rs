//! `Gate`: one strongly consistent object per user (named `user:<id>`), so that each
//! authenticated request costs one call that answers everything the gateway must know:
//!
//! - the user's auth **epoch**: `main` raises the minimum when a role changes or the user is
//!   disabled; tokens minted in an older epoch are refused at once, not at expiry;
//! - **revoked sessions**: sign-out and refresh-token reuse revoke a session id (`sid`)
//!   here, kept until every access token of that session has expired;
//! - the exact **sliding-window rate limit** (`noizylab_core::ratelimit`).
//!
//! Protocol (JSON over the object's fetch): `POST /check {epoch, sid, limit, window_ms}`
//! → `{allowed, reason, limit, remaining, reset_secs, retry_after_secs}`;
//! `POST /epoch {min_epoch}`; `POST /revoke {sid, until_ms}`.

use std::cell::RefCell;

use noizylab_core::ratelimit;
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

#[derive(Default, Serialize, Deserialize)]
struct GateState {
    min_epoch: u64,
    /// (session id, revoked until, unix ms)
    revoked: Vec<(String, u64)>,
    hits: Vec<u64>,
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
        let refusal = if req.epoch < s.min_epoch {
            Some("stale_epoch")
        } else if s.revoked.iter().any(|(sid, _)| *sid == req.sid) {
            Some("revoked")
        } else {
            None
        };
        let answer = match refusal {
            Some(reason) => CheckAnswer {
                allowed: false,
                reason: Some(reason.into()),
                limit: req.limit,
                remaining: 0,
                reset_secs: 0,
                retry_after_secs: 0,
            },
            None => {
                let d = ratelimit::admit(&mut s.hits, now, req.limit, req.window_ms);
                CheckAnswer {
                    allowed: d.allowed,
                    reason: (!d.allowed).then(|| "rate_limited".into()),
                    limit: d.limit,
                    remaining: d.remaining,
                    reset_secs: d.reset_secs,
                    retry_after_secs: d.retry_after_secs,
                }
            }
        };
        self.save(s).await?;
        Ok(answer)
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
            _ => Response::error("no such object route", 404),
        }
    }
}
