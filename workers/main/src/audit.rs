//! The append-only, hash-chained audit log (`audit_log`; chain in `noizylab_core::audit`).

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use std::cell::RefCell;

use noizylab_core::audit::{chain_hash, verify_from, Entry, GENESIS};
use noizylab_core::bindings;
use noizylab_core::contracts::AuditAppend;
use noizylab_kit::db::{int, opt};
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::{http, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Response, State};

/// Appends an entry. `detail` is JSON and must never hold a token or a code.
///
/// Every append goes through one `AuditLog` Durable Object, which writes the entries one
/// after another: concurrent requests queue there instead of racing for the next `seq`,
/// so auditing never fails the request it records because others are auditing too.
pub async fn record(
    call: &Call,
    action: &str,
    actor: Option<&str>,
    workspace: Option<&str>,
    target: Option<&str>,
    ip: Option<&str>,
    detail: &str,
) -> ApiResult<()> {
    let entry = AuditAppend {
        action: action.to_owned(),
        actor: actor.map(str::to_owned),
        workspace_id: workspace.map(str::to_owned),
        target: target.map(str::to_owned),
        ip: ip.map(str::to_owned),
        request_id: Some(call.request_id.clone()),
        detail: detail.to_owned(),
    };
    noizylab_kit::audit::append(call, &entry).await
}

#[derive(Deserialize)]
struct Tip {
    seq: i64,
    hash: String,
}

/// The chain's single appender. One instance (`chain`) holds the tip (last `seq` and
/// hash) in memory and appends under an async lock, so entries are written strictly one
/// after another with no conflicts however many requests audit at once; they wait in
/// line for a few milliseconds instead of failing. If the tip it holds is stale (the
/// object restarted, or a row was written behind its back), the insert's conflict makes
/// it read the tip from D1 again and retry.
///
/// Why one chain and one appender, not a chain per workspace: the log must show
/// platform-wide events (refused credentials, sign-ins before a workspace is known) in one
/// verifiable order, and a shop's rate of audited actions is far below what one object
/// appending to D1 sustains (hundreds a second).
#[durable_object]
pub struct AuditLog {
    env: Env,
    tip: RefCell<Option<(i64, String)>>,
    lock: futures_util::lock::Mutex<()>,
}

impl AuditLog {
    async fn read_tip(db: &noizylab_kit::db::Db) -> worker::Result<(i64, String)> {
        let tip: Option<Tip> = db
            .first("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[])
            .await
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        Ok(tip.map(|t| (t.seq, t.hash)).unwrap_or((0, GENESIS.to_owned())))
    }

    async fn append(&self, new: AuditAppend) -> worker::Result<()> {
        let _turn = self.lock.lock().await;
        let db = noizylab_kit::db::Db(self.env.d1(bindings::DB)?);
        for attempt in 0..6u64 {
            if attempt > 0 {
                worker::Delay::from(std::time::Duration::from_millis(5 * attempt)).await;
            }
            let known = self.tip.borrow().clone();
            let (last, prev) = match known {
                Some(tip) => tip,
                None => Self::read_tip(&db).await?,
            };
            let entry = Entry {
                seq: last + 1,
                at: time::now_rfc3339(),
                action: new.action.clone(),
                actor: new.actor.clone(),
                workspace_id: new.workspace_id.clone(),
                target: new.target.clone(),
                ip: new.ip.clone(),
                request_id: new.request_id.clone(),
                detail: new.detail.clone(),
            };
            let hash = chain_hash(&prev, &entry);
            let inserted = db
                .0
                .prepare(
                    "INSERT INTO audit_log (seq, at, action, actor, workspace_id, target, ip, request_id, detail, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .bind(&[
                    int(entry.seq),
                    entry.at.as_str().into(),
                    entry.action.as_str().into(),
                    opt(entry.actor.as_deref()),
                    opt(entry.workspace_id.as_deref()),
                    opt(entry.target.as_deref()),
                    opt(entry.ip.as_deref()),
                    opt(entry.request_id.as_deref()),
                    entry.detail.as_str().into(),
                    prev.as_str().into(),
                    hash.as_str().into(),
                ])?
                .run()
                .await;
            match inserted {
                Ok(_) => {
                    *self.tip.borrow_mut() = Some((entry.seq, hash));
                    return Ok(());
                }
                // The tip moved behind our back: forget it and read it again.
                Err(e) if e.to_string().contains("UNIQUE") || e.to_string().contains("PRIMARY KEY") => {
                    *self.tip.borrow_mut() = None;
                }
                Err(e) if noizylab_kit::db::transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(worker::Error::RustError("audit: could not append after 6 attempts".into()))
    }
}

impl DurableObject for AuditLog {
    fn new(_state: State, env: Env) -> Self {
        AuditLog { env, tip: RefCell::new(None), lock: futures_util::lock::Mutex::new(()) }
    }

    async fn fetch(&self, mut req: worker::Request) -> worker::Result<Response> {
        match req.path().as_str() {
            OBJECT_HEALTH_PATH => object_ok("AuditLog"),
            "/append" => {
                let entry: AuditAppend = req.json().await?;
                if serde_json::from_str::<serde_json::Value>(&entry.detail).is_err() {
                    return Response::error("detail must be JSON", 400);
                }
                self.append(entry).await?;
                Ok(Response::empty()?.with_status(204))
            }
            _ => Response::error("no such object route", 404),
        }
    }
}

#[derive(Deserialize)]
struct Row {
    seq: i64,
    at: String,
    action: String,
    actor: Option<String>,
    workspace_id: Option<String>,
    target: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    detail: String,
    prev_hash: String,
    hash: String,
}

/// Entries one `verify` call checks at most; a longer chain is walked in pages.
const VERIFY_PAGE: i64 = 5000;

#[derive(Deserialize)]
struct Anchor {
    hash: String,
}

/// `GET /api/v1/audit/verify[?from=<seq>][&limit=<n>]` (admin): checks up to 5,000
/// entries from `from` (default the first), chained from the hash of the entry before it.
/// `complete` says whether the chain's end was reached; otherwise `next_from` continues.
pub async fn verify(req: &worker::Request, call: &Call) -> ApiResult<Response> {
    Caller::person_with(call, Scope::Admin).await?;
    let mut from = 1i64;
    let mut limit = VERIFY_PAGE;
    for (key, value) in req.url().or_internal("url")?.query_pairs() {
        let n = || value.parse::<i64>().ok().filter(|n| *n >= 1);
        match key.as_ref() {
            "from" => {
                from = n().ok_or_else(|| ApiError::invalid_field("from", "from is a sequence number, 1 or more"))?
            }
            "limit" => {
                limit = n()
                    .filter(|n| *n <= VERIFY_PAGE)
                    .ok_or_else(|| ApiError::invalid_field("limit", "limit is 1 to 5000 entries"))?
            }
            _ => {}
        }
    }
    let db = call.sql()?;
    let prev = if from == 1 {
        GENESIS.to_owned()
    } else {
        let anchor: Option<Anchor> = db.first("SELECT hash FROM audit_log WHERE seq = ?1", &[int(from - 1)]).await?;
        anchor
            .map(|a| a.hash)
            .ok_or_else(|| ApiError::invalid_field("from", "no entry precedes that sequence number"))?
    };
    // One more than the page, to know whether the chain goes on.
    let mut rows: Vec<Row> =
        db.all("SELECT * FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT ?2", &[int(from), int(limit + 1)]).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let last = rows.last().map(|r| r.seq);
    let entries: Vec<(Entry, String, String)> = rows
        .into_iter()
        .map(|r| {
            let e = Entry {
                seq: r.seq,
                at: r.at,
                action: r.action,
                actor: r.actor,
                workspace_id: r.workspace_id,
                target: r.target,
                ip: r.ip,
                request_id: r.request_id,
                detail: r.detail,
            };
            (e, r.prev_hash, r.hash)
        })
        .collect();
    let next_from = if more { last.map(|s| s + 1) } else { None };
    match verify_from(&prev, entries.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str()))) {
        Ok(n) => http::ok(&serde_json::json!({
            "ok": true, "entries": n, "from": from, "complete": !more, "next_from": next_from,
        })),
        Err(seq) => http::ok(&serde_json::json!({
            "ok": false, "entries": entries.len(), "from": from, "broken_at": seq,
        })),
    }
}

/// `POST /internal/audit`: refusals seen by other services — the gateway's refused
/// credentials (`auth.*`), and permission refusals in the workers that check their own
/// (`access.refused`, from `noizylab_kit::caller`), each from a catalogued worker acting
/// for itself. Nobody else may write here.
pub async fn from_gateway(mut req: worker::Request, call: &Call) -> ApiResult<Response> {
    let Some(service) = call.identity.calling_service() else {
        return Err(ApiError::Forbidden("only platform services write audit entries here".into()));
    };
    let entry: noizylab_core::contracts::AuditEntry = noizylab_kit::http::read_json(&mut req).await?;
    let allowed = if service.binding == noizylab_core::services::API_GATEWAY {
        entry.action.starts_with("auth.")
    } else {
        entry.action == "access.refused"
    };
    if !allowed {
        return Err(ApiError::invalid_field(
            "action",
            "the gateway records auth.* actions, other services access.refused",
        ));
    }
    let (actor, workspace) = (entry.actor_id.as_deref(), entry.workspace_id.as_deref());
    record(call, &entry.action, actor, workspace, None, entry.ip.as_deref(), &entry.detail.to_string()).await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
