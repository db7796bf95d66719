//! `/api/v1/diagnostics…` (seed 000): start a scan, watch it, apply its fixes, list past
//! scans. Whoever may see a device sees its scans (its owner, the shop's staff); anyone
//! else is answered 404.

use noizylab_core::auth::Scope;
use noizylab_core::diagnostics::{Category, ScanInput};
use noizylab_core::services::MAIN;
use noizylab_kit::caller::Caller;
use noizylab_kit::scans::{self, Target};
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use crate::store::{self, ScanResult};

/// `POST /api/v1/diagnostics/start`: the seed's device data (`device_id`, `os`,
/// `cpu_cores`, `ram_gb`, `storage_gb`, `logs`, `smart_data` …); what it leaves out comes
/// from the device's record. 202 with the queued scan.
pub async fn start(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsWrite).await?;
    let given: serde_json::Map<String, Value> = http::read_json(&mut req).await?;
    let Some(device_id) = given.get("device_id").and_then(Value::as_str).map(str::to_owned) else {
        return Err(ApiError::invalid_field("device_id", "device_id is required: the device to scan"));
    };
    let device = store::visible_device(call, &who, &device_id).await?;
    let specs: Value = serde_json::from_str(&device.specs).unwrap_or(Value::Null);
    let input = ScanInput::for_device(Some(given), &device.id, device.os.as_deref(), &specs)
        .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    let target = Target { device_id: &device.id, workspace_id: &device.workspace_id, requested_by: &who.id };
    http::json(202, &scans::queue(call, target, &input).await?)
}

#[derive(Serialize)]
struct ScanView {
    session_id: String,
    scan_id: String,
    device_id: String,
    device_name: String,
    ticket_id: Option<String>,
    status: String,
    progress: i64,
    created_at: String,
    started_at: Option<String>,
    completed_at: Option<String>,
    health_score: Option<i64>,
    error: Option<String>,
    /// The diagnosis in the seed's shape, once complete.
    result: Option<ScanResult>,
}

/// `GET /api/v1/diagnostics/:id`: the scan, how far it is, and its result once complete.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let scan = store::visible_scan(call, &who, id).await?;
    let result = scan.result()?;
    http::ok(&ScanView {
        session_id: scan.id.clone(),
        scan_id: scan.id,
        device_id: scan.device_id,
        device_name: scan.device_name,
        ticket_id: scan.ticket_id,
        status: scan.status,
        progress: scan.progress,
        created_at: scan.created_at,
        started_at: scan.started_at,
        completed_at: scan.completed_at,
        health_score: scan.health_score,
        error: scan.error,
        result,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Past {
    scan_id: String,
    device_id: String,
    device_name: String,
    status: String,
    health_score: Option<i64>,
    issues_found: Option<i64>,
    critical_issues: Option<i64>,
    created_at: String,
    completed_at: Option<String>,
}

/// `GET /api/v1/diagnostics/history[?device_id=&customer_id=&limit=&before=]`: past scans,
/// newest first. A customer sees their own devices' scans; staff the workspace's.
pub async fn history(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let q: HistoryQuery = http::query(req)?;
    let limit = match q.limit.as_deref().map(str::parse::<u32>) {
        None => 50,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid_field("limit", "limit is a number from 1 to 200")),
    };
    if let Some(device) = &q.device_id {
        store::visible_device(call, &who, device).await?;
    }
    // A customer is held to their own devices whatever they ask for.
    let owner = who.only_own().map(str::to_owned).or(q.customer_id);
    let rows: Vec<Past> = call
        .sql()?
        .all(
            &format!(
                "SELECT s.id AS scan_id, s.device_id, d.name AS device_name, s.status, s.health_score,
                        json_array_length(s.result, '$.issues') AS issues_found,
                        (SELECT COUNT(*) FROM json_each(s.result, '$.issues') WHERE json_extract(value, '$.severity') = 'critical')
                            AS critical_issues,
                        s.created_at, s.completed_at
                 FROM device_scans s JOIN devices d ON d.id = s.device_id
                 WHERE s.workspace_id = ?1 AND d.deleted_at IS NULL
                   AND (?2 IS NULL OR s.device_id = ?2) AND (?3 IS NULL OR d.owner_id = ?3)
                   AND (?4 IS NULL OR s.created_at < ?4)
                 ORDER BY s.created_at DESC, s.id DESC LIMIT {limit}"
            ),
            &[
                who.workspace.as_str().into(),
                noizylab_kit::db::opt(q.device_id.as_deref()),
                noizylab_kit::db::opt(owner.as_deref()),
                noizylab_kit::db::opt(q.before.as_deref()),
            ],
        )
        .await?;
    http::ok(&json!({ "scans": rows }))
}

#[derive(Deserialize)]
struct OpenSession {
    id: String,
}

/// The remote-session action that fixes a finding of `category`, with its parameters.
fn action_for(category: Category) -> &'static str {
    match category {
        Category::Storage => "clear_cache",
        Category::Software | Category::Graphics => "update_driver",
        Category::Stability => "restart_service",
        _ => "run_script",
    }
}

/// `POST /api/v1/diagnostics/:id/fix` (staff): sends each auto-fixable finding of a
/// complete scan to the device's connected remote session as an action. 409 when no
/// session is open for the device or its agent is not connected.
pub async fn fix(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::SessionsControl).await?;
    let scan = store::visible_scan(call, &who, id).await?;
    let Some(result) = scan.result()? else {
        return Err(ApiError::Conflict(format!("scan {id} is {}: fixes come from a complete scan", scan.status)));
    };
    let fixable: Vec<_> = result.diagnosis.issues.iter().filter(|i| i.auto_fixable).collect();
    if fixable.is_empty() {
        return Err(ApiError::Conflict("this scan found nothing that can be fixed automatically".into()));
    }
    let session: Option<OpenSession> = call
        .sql()?
        .first(
            "SELECT id FROM repair_sessions WHERE device_id = ?1 AND workspace_id = ?2 AND status IN ('waiting', 'active')
             ORDER BY started_at DESC LIMIT 1",
            &[scan.device_id.as_str().into(), scan.workspace_id.as_str().into()],
        )
        .await?;
    let Some(session) = session else {
        return Err(ApiError::Conflict(
            "no remote session is open for this device: start one (POST /api/v1/sessions/start) and have the customer run the agent".into(),
        ));
    };
    let mut sent = Vec::new();
    for issue in fixable {
        let kind = action_for(issue.category);
        let body = json!({
            "type": kind,
            "params": { "scan_id": scan.id, "issue": issue.title, "category": issue.category },
        });
        let path = format!("/api/v1/sessions/{}/action", session.id);
        let resp = call.internal(MAIN, Method::Post, &path, Some(body.to_string())).await?;
        match resp.status_code() {
            200..=202 => {
                let answer: Value = http::answer_json(&resp).await?;
                sent.push(json!({ "action_id": answer["action_id"], "type": kind, "issue": issue.title }));
            }
            409 => {
                return Err(ApiError::Conflict(
                    "the device agent is not connected to the remote session; ask the customer to start it".into(),
                ))
            }
            s => return Err(ApiError::internal(format!("session action answered {s}"))),
        }
    }
    http::json(202, &json!({ "scan_id": scan.id, "remote_session_id": session.id, "actions": sent }))
}
