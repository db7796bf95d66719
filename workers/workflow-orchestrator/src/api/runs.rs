//! Workflow runs: start one by hand, list them, read one with its history (staff with
//! `workflows:manage`). Each run is its own Durable Object (`crate::runs`); the list reads
//! D1's index of them, a run's page asks its object.

use noizylab_core::auth::Scope;
use noizylab_core::names::is_plain_id;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::opt;
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use crate::runs::{self, object};

async fn manager(call: &Call) -> ApiResult<Caller> {
    Caller::staff_with(call, Scope::WorkflowsManage).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Manual {
    #[serde(default)]
    input: serde_json::Map<String, Value>,
}

/// `POST /api/v1/workflows/:id/runs {input?}`: starts an enabled workflow now, whatever
/// its trigger; `input` is what its expressions read as `event.data` (and a `ticket_id`
/// there is the run's ticket). 202 with the run; the same `Idempotency-Key` starts it once.
pub async fn start(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = manager(call).await?;
    let key = req.headers().get("idempotency-key").ok().flatten();
    let body: Manual = http::read_json_or_default(&mut req).await?;
    let current = runs::current(call, &who.workspace, id)
        .await?
        .filter(|_| is_plain_id(id))
        .ok_or_else(|| ApiError::not_found(format!("workflow {id}")))?;
    let enabled: Option<Value> =
        call.sql()?.first("SELECT 1 AS on_ FROM workflows WHERE id = ?1 AND enabled = 1", &[id.into()]).await?;
    if enabled.is_none() {
        return Err(ApiError::Conflict("the workflow is disabled: enable it first".into()));
    }
    let trigger_ref = match key {
        Some(k) if !k.is_empty() && k.len() <= 255 => format!("manual:{}:{k}", who.id),
        Some(_) => return Err(ApiError::invalid_field("Idempotency-Key", "1 to 255 characters")),
        None => format!("manual:{}", call.request_id),
    };
    let ticket = body.input.get("ticket_id").and_then(Value::as_str).map(str::to_owned);
    let event = json!({ "event": "manual", "by": who.id, "ticket_id": ticket, "data": body.input });
    let run = runs::start(call, &current, &trigger_ref, event).await?;
    http::json(202, &json!({ "id": run, "workflow_id": id, "status": "running" }))
}

#[derive(Serialize, Deserialize)]
struct RunRow {
    id: String,
    workflow_id: String,
    workflow: Option<String>,
    version: i64,
    trigger_ref: String,
    status: String,
    current_step: Option<String>,
    error: Option<String>,
    started_at: String,
    updated_at: String,
    finished_at: Option<String>,
}

const RUN_COLUMNS: &str = "r.id, r.workflow_id, w.name AS workflow, r.version, r.trigger_ref, r.status,
     r.current_step, r.error, r.started_at, r.updated_at, r.finished_at";

/// `GET /api/v1/workflows/runs[?workflow_id=][&status=][&limit=1..200]`, newest first.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = manager(call).await?;
    let url = req.url().map_err(|e| ApiError::internal(e.to_string()))?;
    let (mut workflow, mut status, mut limit) = (None::<String>, None::<String>, 50i64);
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "workflow_id" => workflow = Some(v.into_owned()),
            "status" if ["running", "waiting", "succeeded", "failed"].contains(&v.as_ref()) => {
                status = Some(v.into_owned())
            }
            "status" => {
                return Err(ApiError::invalid_field("status", "status is running, waiting, succeeded or failed"))
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| ApiError::invalid_field("limit", "limit is 1 to 200"))?
            }
            _ => {}
        }
    }
    let rows: Vec<RunRow> = call
        .sql()?
        .all(
            &format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
                 WHERE r.workspace_id = ?1 AND (?2 IS NULL OR r.workflow_id = ?2) AND (?3 IS NULL OR r.status = ?3)
                 ORDER BY r.started_at DESC, r.id LIMIT {limit}"
            ),
            &[who.workspace.as_str().into(), opt(workflow.as_deref()), opt(status.as_deref())],
        )
        .await?;
    http::ok(&json!({ "runs": rows }))
}

async fn row(call: &Call, who: &Caller, id: &str) -> ApiResult<RunRow> {
    if !is_plain_id(id) {
        return Err(ApiError::not_found(format!("run {id}")));
    }
    call.sql()?
        .first(
            &format!(
                "SELECT {RUN_COLUMNS} FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id
                 WHERE r.id = ?1 AND r.workspace_id = ?2"
            ),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id}")))
}

/// `GET /api/v1/workflows/runs/:id`: the run, its definition as it runs, each step's
/// output and its history (every step, input, output, outcome and timing).
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = manager(call).await?;
    let r = row(call, &who, id).await?;
    let (status, text) = object::ask(&call.env, &r.id, Method::Get, "/state", None).await?;
    if status != 200 {
        return Err(ApiError::internal(format!("run {id}: its object answered {status}")));
    }
    let state: Value = serde_json::from_str(&text).map_err(|e| ApiError::internal(format!("run state: {e}")))?;
    let mut out = serde_json::to_value(&r).unwrap_or_default();
    for k in ["definition", "event", "steps", "history", "actor"] {
        out[k] = state[k].clone();
    }
    http::ok(&out)
}

/// `POST /api/v1/workflows/runs/:id/wake` (development): the run's alarm, now — for tests
/// of timeouts that would otherwise take hours.
pub async fn wake(call: &Call, id: &str) -> ApiResult<Response> {
    if !call.is_development() {
        return Err(ApiError::not_found("this route exists only in development".to_owned()));
    }
    let who = manager(call).await?;
    let r = row(call, &who, id).await?;
    match object::ask(&call.env, &r.id, Method::Post, "/wake", None).await? {
        (200, _) => http::ok(&json!({ "id": r.id, "woken": true })),
        (s, why) => Err(ApiError::internal(format!("run {id} wake answered {s}: {why}"))),
    }
}
