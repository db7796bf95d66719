//! The append-only, hash-chained audit log (`audit_log`; chain in `noizylab_core::audit`).

use noizylab_core::audit::{chain_hash, verify_chain, Entry, GENESIS};
use noizylab_kit::{http, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::Response;

#[derive(Deserialize)]
struct Tip {
    seq: i64,
    hash: String,
}

fn opt(v: Option<&str>) -> JsValue {
    v.map(JsValue::from).unwrap_or(JsValue::NULL)
}

/// Appends an entry. `detail` is JSON and must never hold a token or a code. Concurrent
/// writers race for the next `seq`; the loser (primary-key conflict) reads the new tip
/// and tries again.
pub async fn record(
    call: &Call,
    action: &str,
    actor: Option<&str>,
    workspace: Option<&str>,
    target: Option<&str>,
    ip: Option<&str>,
    detail: &str,
) -> ApiResult<()> {
    let db = call.db()?;
    let reads = call.sql()?;
    for attempt in 0..5u64 {
        if attempt > 0 {
            worker::Delay::from(std::time::Duration::from_millis(10 * attempt)).await;
        }
        let tip: Option<Tip> = reads.first("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[]).await?;
        let (seq, prev) = tip.map(|t| (t.seq + 1, t.hash)).unwrap_or((1, GENESIS.to_owned()));
        let entry = Entry {
            seq,
            at: time::now_rfc3339(),
            action: action.to_owned(),
            actor: actor.map(str::to_owned),
            workspace_id: workspace.map(str::to_owned),
            target: target.map(str::to_owned),
            ip: ip.map(str::to_owned),
            request_id: Some(call.request_id.clone()),
            detail: detail.to_owned(),
        };
        let hash = chain_hash(&prev, &entry);
        let inserted = db
            .prepare(
                "INSERT INTO audit_log (seq, at, action, actor, workspace_id, target, ip, request_id, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .bind(&[
                (seq as f64).into(),
                entry.at.as_str().into(),
                action.into(),
                opt(actor),
                opt(workspace),
                opt(target),
                opt(ip),
                call.request_id.as_str().into(),
                detail.into(),
                prev.as_str().into(),
                hash.as_str().into(),
            ])
            .or_internal("bind")?
            .run()
            .await;
        match inserted {
            Ok(_) => return Ok(()),
            // Another writer took this seq (or the database was busy): read the tip again.
            Err(e) if e.to_string().contains("UNIQUE") || e.to_string().contains("PRIMARY KEY") => continue,
            Err(e) if noizylab_kit::db::transient(&e) => continue,
            Err(e) => return Err(ApiError::internal(format!("audit insert: {e}"))),
        }
    }
    Err(ApiError::internal("audit: could not append after 5 attempts"))
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

/// `GET /api/v1/audit/verify` (admin): walks the whole chain.
pub async fn verify(call: &Call) -> ApiResult<Response> {
    crate::workspaces::require_admin(call).await?;
    let rows: Vec<Row> = call
        .db()?
        .prepare("SELECT * FROM audit_log ORDER BY seq")
        .all()
        .await
        .or_internal("audit read")?
        .results()
        .or_internal("audit rows")?;
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
    match verify_chain(entries.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str()))) {
        Ok(n) => http::ok(&serde_json::json!({ "ok": true, "entries": n })),
        Err(seq) => http::ok(&serde_json::json!({ "ok": false, "entries": entries.len(), "broken_at": seq })),
    }
}

/// The services that may write audit entries through `/internal/audit`.
const SERVICE_AUDITORS: [&str; 3] = ["noizylab-api-gateway", "noizylab-pricing", "noizylab-chat-agent"];

#[derive(serde::Deserialize)]
struct GatewayEntry {
    action: String,
    ip: Option<String>,
    actor_id: Option<String>,
    workspace_id: Option<String>,
    detail: serde_json::Value,
}

/// `POST /internal/audit`: refusals seen by other services — the gateway's refused
/// credentials (`auth.*`), and permission refusals in the workers that check their own
/// (`access.refused`, from `noizylab_kit::caller`). Nobody else may write here.
pub async fn from_gateway(mut req: worker::Request, call: &Call) -> ApiResult<Response> {
    use noizylab_core::identity::PrincipalKind;
    let who = &call.identity;
    let service = if who.kind == PrincipalKind::Service { who.sub.as_deref() } else { None };
    let Some(service) = service.filter(|s| SERVICE_AUDITORS.contains(s)) else {
        return Err(ApiError::Forbidden("only platform services write audit entries here".into()));
    };
    let entry: GatewayEntry = noizylab_kit::http::read_json(&mut req).await?;
    let allowed = if service == "noizylab-api-gateway" {
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
