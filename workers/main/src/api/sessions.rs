//! `/api/v1/sessions…`: remote repair sessions (seed 000's remote session flow).
//!
//! 1. `POST /sessions/start {device_id, issue?, ticket_id?}` — the record (D1), the state
//!    (KV `session:state:{id}`, 24 h), the channel (the session's `RepairSession` object)
//!    and a secure token for the device agent (256 bits, hash kept by the object); the
//!    technicians are told (`session.started` on the bus).
//! 2. The device agent connects to `/sessions/:id/agent?token=…`; technicians and the
//!    customer join with single-use room tickets (`POST /sessions/:id/live/ticket`).
//! 3. `POST /sessions/:id/action {type, params}` — a technician's action is recorded and
//!    reaches the connected agent; the agent's progress and results reach everyone live.
//!    Asked to `run_diagnostic`, the agent collects the device's data itself and posts it
//!    (`POST /sessions/:id/scan` with its token): a scan of the session's device, run by
//!    `brain` like any other.
//! 4. `POST /sessions/:id/end {outcome, summary?}` — duration, outcome, and a report
//!    (JSON, plus an HTML summary kept in R2); the channel closes.

use base64::Engine;
use noizylab_core::auth::sha256_hex;
use noizylab_core::auth::Scope;
use noizylab_core::bindings;
use noizylab_core::events::{SessionAction, SessionEnded, SessionStarted};
use noizylab_kit::call::now_secs;
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::room::TICKET_TTL_MS;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Headers, Method, Request, RequestInit, Response, Stub};

use crate::store;
use noizylab_core::text::escape_html as esc;
use noizylab_kit::caller::{Caller, Owned};

/// `session:state:{id}` lives this long in KV (the seed's TTL), and so does an agent token.
const STATE_TTL_SECS: u64 = 24 * 60 * 60;
const ACTION_TYPES: [&str; 8] = [
    "run_diagnostic",
    "collect_logs",
    "clear_cache",
    "restart_service",
    "update_driver",
    "run_script",
    "reboot",
    "message",
];

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    use Method::{Get, Post};
    match (req.method(), rest) {
        (Post, ["start"]) => start(req, call).await,
        (Get, ["history"]) => history(&req, call).await,
        (Get, [id]) => show(call, id).await,
        (Post, [id, "action"]) => action(req, call, id).await,
        (Post, [id, "end"]) => end(req, call, id).await,
        (Post, [id, "scan"]) => agent_scan(req, call, id).await,
        (Post, [id, "live", "ticket"]) => live_ticket(call, id).await,
        (Get, [id, "live" | "agent"]) => join(&req, call, id).await,
        (Get, [id, "report"]) => report_html(call, id).await,
        (_, ["start"] | [_, "action" | "end" | "scan"] | [_, "live", "ticket"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (_, ["history"] | [_] | [_, "live" | "agent" | "report"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Clone, Serialize, Deserialize)]
struct Session {
    id: String,
    workspace_id: String,
    device_id: String,
    customer_id: String,
    ticket_id: Option<String>,
    technician_id: Option<String>,
    issue: String,
    status: String,
    started_at: String,
    started_at_secs: i64,
    ended_at: Option<String>,
    duration_seconds: Option<i64>,
    outcome: Option<String>,
    summary: Option<String>,
}

const COLUMNS: &str = "id, workspace_id, device_id, customer_id, ticket_id, technician_id, issue, status, started_at, \
                       started_at_secs, ended_at, duration_seconds, outcome, summary";

fn plain_id(raw: &str) -> ApiResult<&str> {
    let ok = !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(raw).ok_or_else(|| ApiError::not_found(format!("session {raw}")))
}

/// The session if the actor may see it (staff of its workspace, or its customer).
async fn visible(call: &Call, actor: &Caller, raw: &str) -> ApiResult<Session> {
    let id = plain_id(raw)?;
    let row: Option<Session> = call
        .sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM repair_sessions WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), actor.workspace.as_str().into()],
        )
        .await?;
    actor.visible(row, format_args!("session {id}"))
}

impl Owned for Session {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

fn channel(call: &Call, id: &str) -> ApiResult<Stub> {
    call.object(bindings::REPAIR_SESSION)?.id_from_name(id).and_then(|o| o.get_stub()).or_internal("session stub")
}

async fn to_channel(call: &Call, id: &str, action: &str, body: &Value) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json").or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let req = Request::new_with_init(&format!("https://session/{action}"), &init).or_internal("session request")?;
    channel(call, id)?.fetch_with_request(req).await.or_internal("session channel")
}

async fn expect_ok(call: &Call, id: &str, action: &str, body: &Value) -> ApiResult<Response> {
    let resp = to_channel(call, id, action, body).await?;
    if resp.status_code() >= 400 {
        return Err(ApiError::internal(format!("session {action} answered {}", resp.status_code())));
    }
    Ok(resp)
}

/// Mirrors the session's state into KV `session:state:{id}` for 24 h.
async fn save_state(call: &Call, s: &Session, extra: Value) -> ApiResult<()> {
    let mut state = json!({
        "id": s.id, "status": s.status, "device_id": s.device_id, "customer_id": s.customer_id,
        "technician_id": s.technician_id, "updated_at": time::now_rfc3339(),
    });
    if let (Some(target), Some(more)) = (state.as_object_mut(), extra.as_object()) {
        target.extend(more.clone());
    }
    call.cache()?
        .put(&format!("session:state:{}", s.id), state.to_string())
        .or_internal("kv put")?
        .expiration_ttl(STATE_TTL_SECS)
        .execute()
        .await
        .or_internal("kv put")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    device_id: String,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    ticket_id: Option<String>,
}

/// `POST /api/v1/sessions/start` (tickets:write; staff starting one on a customer's device
/// also sessions:control): 201 with the session and the device agent's token (shown once)
/// and path.
async fn start(mut req: Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let body: Start = http::read_json(&mut req).await?;
    let device = store::visible_device(call, &actor, &body.device_id)
        .await
        .map_err(|_| ApiError::invalid_field("device_id", "no such device of yours"))?;
    if device.owner_id != actor.id {
        // Opening a channel to someone else's device is remote control, not ticket work.
        actor.require(call, Scope::SessionsControl).await?;
    }
    if let Some(t) = body.ticket_id.as_deref() {
        store::visible_ticket(call, &actor, t)
            .await
            .map_err(|_| ApiError::invalid_field("ticket_id", "no such ticket"))?;
    }
    let issue: String = body.issue.unwrap_or_default().trim().chars().take(2000).collect();
    let now = now_secs();
    let session = Session {
        id: format!("ses_{}", random::id()?),
        workspace_id: actor.workspace.clone(),
        device_id: device.id.clone(),
        customer_id: device.owner_id.clone(),
        ticket_id: body.ticket_id,
        technician_id: actor.is_staff().then(|| actor.id.clone()),
        issue,
        status: "waiting".into(),
        started_at: time::now_rfc3339(),
        started_at_secs: now,
        ended_at: None,
        duration_seconds: None,
        outcome: None,
        summary: None,
    };
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let agent = json!({
        "hash": sha256_hex(token.as_bytes()),
        "member": { "id": format!("agent:{}", device.id), "name": format!("{} agent", device.name), "staff": false, "agent": true },
        "expires_ms": (now as u64 + STATE_TTL_SECS) * 1000,
    });
    expect_ok(call, &session.id, "standing", &agent).await?;
    call.sql()?
        .run(
            "INSERT INTO repair_sessions (id, workspace_id, device_id, customer_id, ticket_id, technician_id, issue, status,
                                          started_at, started_at_secs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'waiting', ?8, ?9)",
            &[
                session.id.as_str().into(),
                session.workspace_id.as_str().into(),
                session.device_id.as_str().into(),
                session.customer_id.as_str().into(),
                opt(session.ticket_id.as_deref()),
                opt(session.technician_id.as_deref()),
                session.issue.as_str().into(),
                session.started_at.as_str().into(),
                int(now),
            ],
        )
        .await?;
    save_state(call, &session, json!({ "agent_connected": false })).await?;
    let about = About {
        workspace: Some(&session.workspace_id),
        device: Some(&session.device_id),
        ticket: session.ticket_id.as_deref(),
    };
    let started = SessionStarted {
        session_id: session.id.clone(),
        customer_id: session.customer_id.clone(),
        issue: session.issue.clone(),
        by: actor.id.clone(),
    };
    events::publish(call, about, &started).await?;
    let mut view = serde_json::to_value(&session).or_internal("session")?;
    view["agent_token"] = token.as_str().into();
    view["agent_path"] = format!("/api/v1/sessions/{}/agent?ticket={token}", session.id).into();
    http::created(&view)
}

#[derive(Deserialize)]
struct HistoryQuery {
    limit: Option<String>,
    device_id: Option<String>,
}

/// `GET /api/v1/sessions/history[?device_id=&limit=]`: newest first.
async fn history(req: &Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let q: HistoryQuery = http::query(req)?;
    let limit = store::page_limit(q.limit.as_deref())?;
    let customer = (!actor.is_staff()).then(|| actor.id.clone());
    let rows: Vec<Session> = call
        .sql()?
        .all(
            &format!(
                "SELECT {COLUMNS} FROM repair_sessions WHERE workspace_id = ?1 AND (?2 IS NULL OR customer_id = ?2)
                 AND (?3 IS NULL OR device_id = ?3) ORDER BY started_at_secs DESC, id DESC LIMIT {limit}"
            ),
            &[actor.workspace.as_str().into(), opt(customer.as_deref()), opt(q.device_id.as_deref())],
        )
        .await?;
    http::ok(&json!({ "sessions": rows }))
}

/// `GET /api/v1/sessions/:id`: the record, the live state from KV, and the actions.
async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let s = visible(call, &actor, id).await?;
    let state: Option<Value> =
        call.cache()?.get(&format!("session:state:{}", s.id)).json().await.or_internal("kv get")?;
    let actions: Vec<Value> = call
        .sql()?
        .all(
            "SELECT id, technician_id, type, params, at FROM session_actions WHERE session_id = ?1 ORDER BY at, id",
            &[s.id.as_str().into()],
        )
        .await?;
    let report: Option<Value> = call
        .sql()?
        .first("SELECT report FROM repair_sessions WHERE id = ?1", &[s.id.as_str().into()])
        .await?
        .and_then(|r: Value| r["report"].as_str().and_then(|t| serde_json::from_str(t).ok()));
    http::ok(&json!({ "session": s, "state": state, "actions": actions, "report": report }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAction {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    params: serde_json::Map<String, Value>,
}

/// `POST /api/v1/sessions/:id/action {type, params}` (staff): recorded, then sent to the
/// connected device agent. 409 if the agent is not connected or the session ended.
async fn action(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::SessionsControl).await?;
    let body: NewAction = http::read_json(&mut req).await?;
    let mut s = visible(call, &actor, id).await?;
    if s.status == "ended" {
        return Err(ApiError::Conflict("this session has ended".into()));
    }
    if !ACTION_TYPES.contains(&body.kind.as_str()) {
        return Err(ApiError::invalid_field("type", format!("type is one of {}", ACTION_TYPES.join(", "))));
    }
    let params = Value::Object(body.params);
    if params.to_string().len() > 8 * 1024 {
        return Err(ApiError::invalid_field("params", "params are at most 8 KiB of JSON"));
    }
    let action_id = format!("act_{}", &random::id()?[..20]);
    let frame = json!({ "action_id": action_id, "action": body.kind, "params": params, "by": actor.id });
    let resp = to_channel(call, &s.id, "action", &frame).await?;
    if resp.status_code() == 409 {
        return Err(ApiError::Conflict("the device agent is not connected; ask the customer to start it".into()));
    }
    let sent: Value = noizylab_kit::http::answer_json(&resp).await?;
    let now = time::now_rfc3339();
    let db = call.sql()?;
    db.run(
        "INSERT INTO session_actions (id, session_id, technician_id, type, params, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            action_id.as_str().into(),
            s.id.as_str().into(),
            actor.id.as_str().into(),
            body.kind.as_str().into(),
            params.to_string().as_str().into(),
            now.as_str().into(),
        ],
    )
    .await?;
    if s.status == "waiting" || s.technician_id.is_none() {
        db.run(
            "UPDATE repair_sessions SET status = 'active', technician_id = COALESCE(technician_id, ?2) WHERE id = ?1",
            &[s.id.as_str().into(), actor.id.as_str().into()],
        )
        .await?;
        s.status = "active".into();
        s.technician_id.get_or_insert_with(|| actor.id.clone());
    }
    save_state(
        call,
        &s,
        json!({ "agent_connected": true, "last_action": { "id": action_id, "type": body.kind, "at": now } }),
    )
    .await?;
    let about = About { workspace: Some(&s.workspace_id), device: Some(&s.device_id), ticket: s.ticket_id.as_deref() };
    let action = SessionAction { session_id: s.id.clone(), action_id: action_id.clone(), r#type: body.kind.clone() };
    events::publish(call, about, &action).await?;
    http::created(&json!({ "action_id": action_id, "seq": sent["seq"], "at": now }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct End {
    outcome: String,
    #[serde(default)]
    summary: Option<String>,
}

/// `POST /api/v1/sessions/:id/scan` (the session's device agent, `X-Agent-Token: <its
/// token>`): what the agent collected on the device (the seed's scan data: os, cpu_cores,
/// ram_gb, storage_gb, logs, smart_data …; what it leaves out comes from the device's
/// record) becomes a scan of the session's device, queued for `brain`: 202 with its id,
/// and an `event` frame in the session's room. 401 without the agent's token, 409 once
/// the session has ended, 400 naming a bad field (nothing queued).
async fn agent_scan(mut req: Request, call: &Call, raw: &str) -> ApiResult<Response> {
    let id = plain_id(raw)?;
    let token =
        req.headers().get("x-agent-token").ok().flatten().filter(|t| !t.is_empty() && t.len() <= 128).ok_or_else(
            || ApiError::Unauthenticated("the device agent sends its session token in X-Agent-Token".into()),
        )?;
    let s: Session = call
        .sql()?
        .first(&format!("SELECT {COLUMNS} FROM repair_sessions WHERE id = ?1"), &[id.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("session {id}")))?;
    if s.status == "ended" {
        return Err(ApiError::Conflict("this session has ended: the agent's token died with it".into()));
    }
    let body = req.bytes().await.or_internal("body")?;
    if body.len() > http::JSON_LIMIT {
        return Err(ApiError::PayloadTooLarge { limit: http::JSON_LIMIT as u64 });
    }
    let given: serde_json::Map<String, Value> = http::parse_json(&body)?;
    let device: store::Device = call
        .sql()?
        .first(
            &format!("SELECT {} FROM devices WHERE id = ?1 AND deleted_at IS NULL", store::DEVICE_COLUMNS),
            &[s.device_id.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::Conflict("the session's device was removed".into()))?;
    let input =
        noizylab_core::diagnostics::ScanInput::for_device(Some(given), &device.id, device.os.as_deref(), &device.specs)
            .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    // The token is checked before anything is queued; then the room notes the scan.
    if to_channel(call, &s.id, "agent", &json!({ "token": token })).await?.status_code() != 200 {
        return Err(ApiError::Unauthenticated("this is not the session's device agent token".into()));
    }
    let by = s.technician_id.clone().unwrap_or_else(|| s.customer_id.clone());
    let target =
        noizylab_kit::scans::Target { device_id: &device.id, workspace_id: &s.workspace_id, requested_by: &by };
    let queued = noizylab_kit::scans::queue(call, target, &input).await?;
    let note = json!({ "token": token, "event": { "event": "diagnostics.requested", "scan_id": queued.scan_id } });
    expect_ok(call, &s.id, "agent", &note).await?;
    http::json(202, &queued)
}

/// `POST /api/v1/sessions/:id/end {outcome, summary?}` (staff): the session, its report.
async fn end(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::SessionsControl).await?;
    let body: End = http::read_json(&mut req).await?;
    let mut s = visible(call, &actor, id).await?;
    if s.status == "ended" {
        return Err(ApiError::Conflict("this session has already ended".into()));
    }
    if !["resolved", "unresolved", "escalated"].contains(&body.outcome.as_str()) {
        return Err(ApiError::invalid_field("outcome", "outcome is resolved, unresolved or escalated"));
    }
    let summary: Option<String> =
        body.summary.map(|t| t.trim().chars().take(4000).collect()).filter(|t: &String| !t.is_empty());
    let db = call.sql()?;
    let actions: Vec<Value> = db
        .all(
            "SELECT id, type, params, at FROM session_actions WHERE session_id = ?1 ORDER BY at, id",
            &[s.id.as_str().into()],
        )
        .await?;
    let mut transcript = to_channel(call, &s.id, "transcript", &json!({})).await?;
    let frames: Value = transcript.json().await.or_internal("transcript")?;
    let now = now_secs();
    s.status = "ended".into();
    s.ended_at = Some(time::now_rfc3339());
    s.duration_seconds = Some((now - s.started_at_secs).max(0));
    s.outcome = Some(body.outcome.clone());
    s.summary = summary.clone();
    let progress: Vec<&Value> =
        frames["frames"].as_array().map(|f| f.iter().filter(|x| x["type"] == "progress").collect()).unwrap_or_default();
    let results: Vec<&Value> =
        frames["frames"].as_array().map(|f| f.iter().filter(|x| x["type"] == "result").collect()).unwrap_or_default();
    let report = json!({
        "session_id": s.id, "device_id": s.device_id, "customer_id": s.customer_id, "technician_id": s.technician_id,
        "issue": s.issue, "started_at": s.started_at, "ended_at": s.ended_at, "duration_seconds": s.duration_seconds,
        "outcome": s.outcome, "summary": s.summary, "actions": actions, "progress": progress, "results": results,
    });
    let html = report_page(&report);
    call.uploads()?
        .put(format!("reports/sessions/{}.html", s.id), html.into_bytes())
        .http_metadata(worker::HttpMetadata {
            content_type: Some("text/html; charset=utf-8".into()),
            ..Default::default()
        })
        .execute()
        .await
        .or_internal("r2 put")?;
    let changed = db
        .run(
            "UPDATE repair_sessions SET status = 'ended', ended_at = ?2, duration_seconds = ?3, outcome = ?4, summary = ?5,
                    report = ?6 WHERE id = ?1 AND status != 'ended'",
            &[
                s.id.as_str().into(),
                opt(s.ended_at.as_deref()),
                int(s.duration_seconds.unwrap_or(0)),
                body.outcome.as_str().into(),
                opt(summary.as_deref()),
                report.to_string().as_str().into(),
            ],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::Conflict("this session has already ended".into()));
    }
    expect_ok(call, &s.id, "close", &json!({ "reason": "session ended" })).await?;
    save_state(call, &s, json!({ "agent_connected": false, "outcome": s.outcome })).await?;
    let about = About { workspace: Some(&s.workspace_id), device: Some(&s.device_id), ticket: s.ticket_id.as_deref() };
    let ended =
        SessionEnded { session_id: s.id.clone(), outcome: s.outcome.clone(), duration_seconds: s.duration_seconds };
    events::publish(call, about, &ended).await?;
    http::ok(&json!({ "session": s, "report": report, "report_html": format!("/api/v1/sessions/{}/report", s.id) }))
}

/// The report as a small self-contained HTML page.
fn report_page(r: &Value) -> String {
    let text = |v: &Value| esc(v.as_str().unwrap_or(""));
    let actions: String = r["actions"]
        .as_array()
        .map(|a| a.iter().map(|x| format!("<li>{} — {}</li>", text(&x["at"]), text(&x["type"]))).collect())
        .unwrap_or_default();
    let progress: String = r["progress"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| format!("<li>{}% {}</li>", x["percent"].as_u64().unwrap_or(0), text(&x["message"])))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Repair session report</title>\
         <h1>Repair session report</h1><p>Session {id} · device {device}</p>\
         <p>Outcome: <strong>{outcome}</strong> · duration {secs} s</p><p>Issue: {issue}</p><p>Summary: {summary}</p>\
         <h2>Actions</h2><ol>{actions}</ol><h2>Progress</h2><ul>{progress}</ul></html>",
        id = text(&r["session_id"]),
        device = text(&r["device_id"]),
        outcome = text(&r["outcome"]),
        secs = r["duration_seconds"].as_i64().unwrap_or(0),
        issue = text(&r["issue"]),
        summary = text(&r["summary"]),
    )
}

/// `GET /api/v1/sessions/:id/report`: the HTML summary of an ended session.
async fn report_html(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let s = visible(call, &actor, id).await?;
    let object = call
        .uploads()?
        .get(format!("reports/sessions/{}.html", s.id))
        .execute()
        .await
        .or_internal("r2 get")?
        .ok_or_else(|| ApiError::not_found("report (the session has not ended)"))?;
    let bytes = match object.body() {
        Some(b) => b.bytes().await.or_internal("r2 body")?,
        None => Vec::new(),
    };
    let headers = Headers::new();
    headers.set("content-type", "text/html; charset=utf-8").or_internal("header")?;
    headers.set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

/// `POST /api/v1/sessions/:id/live/ticket`: a single-use ticket into the session's channel.
async fn live_ticket(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let user = actor.person(call).await?.to_owned();
    let s = visible(call, &actor, id).await?;
    if s.status == "ended" {
        return Err(ApiError::Conflict("this session has ended".into()));
    }
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let body = json!({
        "hash": sha256_hex(token.as_bytes()),
        "member": { "id": user, "name": if actor.is_staff() { "technician" } else { "customer" }, "staff": actor.is_staff() },
        "expires_ms": (now_secs() as u64) * 1000 + TICKET_TTL_MS,
    });
    expect_ok(call, &s.id, "ticket", &body).await?;
    crate::live::grant(call, &user, "RepairSession", &s.id).await?;
    http::created(&json!({ "ticket": token, "expires_in": TICKET_TTL_MS / 1000,
                           "path": format!("/api/v1/sessions/{}/live?ticket={token}", s.id) }))
}

/// `GET /api/v1/sessions/:id/live?ticket=…` and `…/agent?ticket=<agent token>` (WebSocket).
async fn join(req: &Request, call: &Call, raw: &str) -> ApiResult<Response> {
    let id = plain_id(raw)?;
    noizylab_kit::room::forward_upgrade(&channel(call, id)?, req, id).await
}
