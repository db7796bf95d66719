//! `Gate`: one strongly consistent object per user (named `user:<id>`), so that each
//! authenticated request costs one call that answers everything the gateway must know:
//!
//! - the user's auth **epoch**: `main` raises the minimum when a role changes or the user is
//!   disabled; tokens minted in an older epoch are refused at once, not at expiry;
//! - **revoked sessions**: sign-out and refresh-token reuse revoke a session id (`sid`)
//!   here, kept until every access token of that session has expired;
//! - the exact **sliding-window rate limit** (`noizylab_core::ratelimit`), kept in memory:
//!   a check writes nothing; only a change to the epoch, revocations or a key is stored.
//!
//! The same class, named `key:<id>`, is an API key's gate: the key's hash, workspace,
//! scopes, limit and revocation (main keeps it in step with D1), and its window; named
//! `device:<id>`, it holds a device's scan window.
//!
//! Protocol (over the object's fetch): `GET /check?epoch=&sid=&limit=&window_ms=` and
//! `GET /limit?limit=&window_ms=` → an empty 200 whose `x-gate-answer` header is the
//! answer ([`CheckAnswer::header`]): the two asked on every request carry their arguments
//! in the URL and their answer in one header, so neither side builds, streams or parses a
//! body;
//! `POST /epoch {min_epoch}`; `POST /revoke {sid, until_ms}`; `POST /key/put {key}`; `POST /key/revoke`;
//! `POST /key/check {hash, now_secs, window_ms}` → the answer plus `grant`.

use std::cell::RefCell;
use std::collections::VecDeque;

use noizylab_core::{auth, ratelimit};
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

/// What must survive the object: who may still come in. Written only when it changes
/// (an epoch raised, a session revoked, a key put or revoked), never by a check.
#[derive(Default, Serialize, Deserialize)]
struct GateState {
    #[serde(default)]
    min_epoch: u64,
    /// (session id, revoked until, unix ms)
    #[serde(default)]
    revoked: Vec<(String, u64)>,
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

/// The arguments of a `GET` to the object.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(req: &Request) -> Query {
        let query = noizylab_kit::http::raw_query(req);
        Query(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    fn text(&self, name: &str) -> worker::Result<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| worker::Error::RustError(format!("gate: no {name}")))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> worker::Result<T> {
        self.text(name)?.parse().map_err(|_| worker::Error::RustError(format!("gate: {name} is not a number")))
    }
}

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

/// The rate window lives in memory only: the object is the single place a user's (or a
/// key's) requests are counted, so the limit is exact while it lives, and no request waits
/// for a storage write. If the object is evicted (idle for a while) the window starts
/// empty, which can only admit a caller who was quiet anyway. The durable part
/// ([`GateState`]) is read once per object and written only when it changes.
#[durable_object]
pub struct Gate {
    state: State,
    durable: RefCell<Option<GateState>>,
    hits: RefCell<VecDeque<u64>>,
}

impl Gate {
    /// The durable state, read from storage the first time.
    async fn load(&self) -> worker::Result<()> {
        if self.durable.borrow().is_none() {
            let stored = self.state.storage().get::<GateState>(KEY).await?.unwrap_or_default();
            let mut slot = self.durable.borrow_mut();
            if slot.is_none() {
                *slot = Some(stored);
            }
        }
        Ok(())
    }

    /// Changes the durable state and writes it.
    async fn change(&self, f: impl FnOnce(&mut GateState)) -> worker::Result<()> {
        self.load().await?;
        let snapshot = {
            let mut slot = self.durable.borrow_mut();
            let s = slot.get_or_insert_with(GateState::default);
            f(s);
            serde_json::to_value(&*s).map_err(|e| worker::Error::RustError(e.to_string()))?
        };
        self.state.storage().put(KEY, &snapshot).await
    }

    fn admit(&self, limit: u32, window_ms: u64) -> CheckAnswer {
        CheckAnswer::admit(&mut self.hits.borrow_mut(), noizylab_kit::time::now_millis(), limit, window_ms)
    }

    async fn check(&self, req: CheckRequest) -> worker::Result<CheckAnswer> {
        self.load().await?;
        let now = noizylab_kit::time::now_millis();
        let refusal = {
            let mut slot = self.durable.borrow_mut();
            let s = slot.get_or_insert_with(GateState::default);
            // Expired revocations are dropped here in memory; the next write stores that.
            s.revoked.retain(|(_, until)| *until > now);
            if req.epoch < s.min_epoch {
                Some("stale_epoch")
            } else if s.revoked.iter().any(|(sid, _)| *sid == req.sid) {
                Some("revoked")
            } else {
                None
            }
        };
        Ok(match refusal {
            Some(reason) => CheckAnswer::refused(reason, req.limit),
            None => self.admit(req.limit, req.window_ms),
        })
    }

    /// An unknown, revoked, expired or mismatched key is refused alike (`invalid_key`):
    /// the answer never tells which.
    async fn key_check(&self, req: KeyCheck) -> worker::Result<KeyAnswer> {
        self.load().await?;
        let valid = {
            let slot = self.durable.borrow();
            slot.as_ref().and_then(|s| s.key.as_ref()).cloned().filter(|k| {
                !k.revoked
                    && k.expires_at.is_none_or(|at| at > req.now_secs)
                    && auth::constant_time_eq(k.hash.as_bytes(), req.hash.as_bytes())
            })
        };
        let Some(key) = valid else {
            return Ok(KeyAnswer { check: CheckAnswer::refused("invalid_key", 0), grant: None });
        };
        let check = self.admit(key.limit, req.window_ms);
        Ok(KeyAnswer { check, grant: Some(KeyGrant { workspace_id: key.workspace_id, scopes: key.scopes }) })
    }
}

/// The header a `/check` or `/limit` answer travels in.
pub const ANSWER_HEADER: &str = "x-gate-answer";

impl CheckAnswer {
    /// The answer as one header value: `<allowed 0|1> <limit> <remaining> <reset_secs>
    /// <retry_after_secs> [reason]`.
    pub fn header(&self) -> String {
        format!(
            "{} {} {} {} {} {}",
            u8::from(self.allowed),
            self.limit,
            self.remaining,
            self.reset_secs,
            self.retry_after_secs,
            self.reason.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_owned()
    }

    /// Reads [`CheckAnswer::header`] back; `None` if it is not one.
    pub fn from_header(value: &str) -> Option<CheckAnswer> {
        let mut parts = value.split(' ');
        let allowed = match parts.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let mut number = || parts.next().and_then(|p| p.parse::<u64>().ok());
        let (limit, remaining) = (u32::try_from(number()?).ok()?, u32::try_from(number()?).ok()?);
        let (reset_secs, retry_after_secs) = (number()?, number()?);
        let reason = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
        Some(CheckAnswer { allowed, reason, limit, remaining, reset_secs, retry_after_secs })
    }

    fn respond(&self) -> worker::Result<Response> {
        let resp = Response::empty()?;
        resp.headers().set(ANSWER_HEADER, &self.header())?;
        Ok(resp)
    }

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

    fn admit(hits: &mut VecDeque<u64>, now_ms: u64, limit: u32, window_ms: u64) -> Self {
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
        Gate { state, durable: RefCell::new(None), hits: RefCell::new(VecDeque::new()) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (_, OBJECT_HEALTH_PATH) => object_ok("Gate"),
            (Method::Get, "/check") => {
                let q = Query::of(&req);
                let body = CheckRequest {
                    epoch: q.number("epoch")?,
                    sid: q.text("sid")?,
                    limit: q.number("limit")?,
                    window_ms: q.number("window_ms")?,
                };
                self.check(body).await?.respond()
            }
            (Method::Post, "/epoch") => {
                let body: EpochRequest = req.json().await?;
                self.change(|s| s.min_epoch = s.min_epoch.max(body.min_epoch)).await?;
                Response::empty()
            }
            (Method::Post, "/revoke") => {
                let body: RevokeRequest = req.json().await?;
                self.change(|s| {
                    s.revoked.retain(|(sid, _)| *sid != body.sid);
                    s.revoked.push((body.sid, body.until_ms));
                })
                .await?;
                Response::empty()
            }
            (Method::Get, "/limit") => {
                let q = Query::of(&req);
                self.admit(q.number("limit")?, q.number("window_ms")?).respond()
            }
            (Method::Post, "/key/put") => {
                let body: KeyPut = req.json().await?;
                self.change(|s| s.key = Some(body.key)).await?;
                Response::empty()
            }
            (Method::Post, "/key/revoke") => {
                self.change(|s| {
                    if let Some(k) = s.key.as_mut() {
                        k.revoked = true;
                    }
                })
                .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_survives_its_header() {
        let admitted = CheckAnswer::admit(&mut VecDeque::new(), 1_000, 100, 60_000);
        assert_eq!(admitted.header(), "1 100 99 60 0");
        let back = CheckAnswer::from_header(&admitted.header()).expect("parses");
        assert!(back.allowed && back.reason.is_none());
        assert_eq!((back.limit, back.remaining, back.reset_secs, back.retry_after_secs), (100, 99, 60, 0));

        let mut hits = VecDeque::from([1_000]);
        let limited = CheckAnswer::admit(&mut hits, 2_000, 1, 60_000);
        let back = CheckAnswer::from_header(&limited.header()).expect("parses");
        assert!(!back.allowed);
        assert_eq!(back.reason.as_deref(), Some("rate_limited"));
        assert_eq!(back.retry_after_secs, limited.retry_after_secs);

        let stale = CheckAnswer::from_header(&CheckAnswer::refused("stale_epoch", 100).header()).expect("parses");
        assert_eq!(stale.reason.as_deref(), Some("stale_epoch"));
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        for bad in ["", "2 1 1 1 1", "1 x 1 1 1", "1 1 1 1", "1 99999999999 1 1 1"] {
            assert!(CheckAnswer::from_header(bad).is_none(), "{bad:?}");
        }
    }
}
