//! `GET /api/v1/audit/verify` and `POST /internal/audit`: reading the chain back, and the
//! other workers' refusals written into it.

use noizylab_core::audit::{verify_from, Entry, GENESIS};
use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::{http, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::Response;

use crate::audit_log::record;

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
    let mut rows: Vec<Row> = db
        .all(&format!("SELECT * FROM audit_log WHERE seq >= ?1 ORDER BY seq LIMIT {}", limit + 1), &[int(from)])
        .await?;
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
/// (`access.refused`, from `noizylab_kit::caller`), and the deal hunter's purchase
/// requests and decisions (`purchase.*`), the orchestrator's human-task decisions
/// (`workflow.*`), each from a catalogued worker acting for itself.
/// Nobody else may write here.
pub async fn from_gateway(mut req: worker::Request, call: &Call) -> ApiResult<Response> {
    let Some(service) = call.identity.calling_service() else {
        return Err(ApiError::Forbidden("only platform services write audit entries here".into()));
    };
    let entry: noizylab_core::contracts::AuditEntry = noizylab_kit::http::read_json(&mut req).await?;
    // Each service records its own kind of action, and every service its refusals.
    let own = match service.binding {
        noizylab_core::services::API_GATEWAY => Some("auth."),
        noizylab_core::services::EBAY_SNIPER => Some("purchase."),
        noizylab_core::services::WORKFLOW_ORCHESTRATOR => Some("workflow."),
        _ => None,
    };
    let allowed = entry.action == "access.refused" || own.is_some_and(|p| entry.action.starts_with(p));
    if !allowed {
        return Err(ApiError::invalid_field(
            "action",
            "the gateway records auth.* actions, the deal hunter purchase.*, the orchestrator workflow.*, every service access.refused",
        ));
    }
    let (actor, workspace) = (entry.actor_id.as_deref(), entry.workspace_id.as_deref());
    record(call, &entry.action, actor, workspace, None, entry.ip.as_deref(), &entry.detail.to_string()).await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
