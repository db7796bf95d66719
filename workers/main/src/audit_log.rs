//! The append-only, hash-chained audit log (`audit_log`; chain in `noizylab_core::audit`):
//! `record` for every module that audits, and `AuditLog`, the chain's single appender.
//! Its routes (`verify`, the other workers' `/internal/audit`) are in `api::audit`.

use std::cell::RefCell;

use noizylab_core::audit::{chain_hash, Entry, GENESIS};
use noizylab_core::bindings;
use noizylab_core::contracts::AuditAppend;
use noizylab_kit::db::{int, opt};
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::{time, ApiResult, Call};
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
