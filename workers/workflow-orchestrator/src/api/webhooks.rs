//! `/api/v1/workflows/webhooks…`: a workspace's outbound webhook endpoints
//! (`workflows:manage`, staff) — made with the events they take and their signing secret
//! (shown once), listed, removed (kept with their log); each endpoint's delivery log, and a
//! delivery sent again. Sending is `crate::webhooks`.

use noizylab_core::auth::Scope;
use noizylab_core::names::is_plain_id;
use noizylab_core::webhooks;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response};

async fn manager(call: &Call) -> ApiResult<Caller> {
    Caller::staff_with(call, Scope::WorkflowsManage).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    events: String,
    enabled: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
}

const COLUMNS: &str = "id, url, description, events, enabled, created_by, created_at, updated_at";

fn view(r: &EndpointRow) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["events"] = serde_json::from_str(&r.events).unwrap_or(Value::Null);
    v["enabled"] = (r.enabled == 1).into();
    v
}

async fn endpoint(call: &Call, who: &Caller, id: &str) -> ApiResult<EndpointRow> {
    if !is_plain_id(id) {
        return Err(ApiError::not_found(format!("webhook endpoint {id}")));
    }
    call.sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("webhook endpoint {id}")))
}

/// `POST /api/v1/workflows/webhooks {url, events, description?}`: 201 with the endpoint
/// and its signing `secret`, shown this once.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = manager(call).await?;
    let body: NewEndpoint = http::read_json(&mut req).await?;
    let url = webhooks::checked_url(&body.url, call.is_development())
        .map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let events = webhooks::checked_filters(&body.events).map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let description = body.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::invalid_field("description", "at most 200 characters"));
    }
    let count: Option<Value> = call
        .sql()?
        .first(
            "SELECT COUNT(*) AS n FROM webhook_endpoints WHERE workspace_id = ?1 AND enabled = 1",
            &[who.workspace.as_str().into()],
        )
        .await?;
    if count.and_then(|c| c["n"].as_i64()).unwrap_or(0) >= 20 {
        return Err(ApiError::Conflict("a workspace has at most 20 webhook endpoints: remove one first".into()));
    }
    let id = format!("whe_{}", random::id()?);
    let secret = format!("whsec_{}{}", random::id()?, random::id()?);
    let now = time::now_rfc3339();
    let events_text = serde_json::to_string(&events).or_internal("events")?;
    call.sql()?
        .run(
            "INSERT INTO webhook_endpoints (id, workspace_id, url, description, events, secret, enabled, created_by,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?8)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                url.as_str().into(),
                noizylab_kit::db::opt(description.as_deref()),
                events_text.into(),
                secret.as_str().into(),
                who.id.as_str().into(),
                now.into(),
            ],
        )
        .await?;
    let mut v = view(&endpoint(call, &who, &id).await?);
    v["secret"] = secret.into();
    http::created(&v)
}

/// `GET /api/v1/workflows/webhooks`: the workspace's endpoints (never their secrets).
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = manager(call).await?;
    let rows: Vec<EndpointRow> = call
        .sql()?
        .all(
            &format!(
                "SELECT {COLUMNS} FROM webhook_endpoints WHERE workspace_id = ?1 ORDER BY enabled DESC, created_at"
            ),
            &[who.workspace.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "endpoints": rows.iter().map(view).collect::<Vec<_>>() }))
}

/// `DELETE /api/v1/workflows/webhooks/:id`: nothing more is sent there; its log is kept.
pub async fn remove(call: &Call, id: &str) -> ApiResult<Response> {
    let who = manager(call).await?;
    let e = endpoint(call, &who, id).await?;
    call.sql()?
        .run(
            "UPDATE webhook_endpoints SET enabled = 0, updated_at = ?2 WHERE id = ?1",
            &[e.id.as_str().into(), time::now_rfc3339().into()],
        )
        .await?;
    http::ok(&view(&endpoint(call, &who, id).await?))
}

#[derive(Serialize, Deserialize)]
struct DeliveryRow {
    id: String,
    endpoint_id: String,
    source: String,
    event: String,
    status: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

/// `GET /api/v1/workflows/webhooks/:id/deliveries`: the endpoint's delivery log, newest
/// first (the last 100).
pub async fn deliveries(call: &Call, id: &str) -> ApiResult<Response> {
    let who = manager(call).await?;
    let e = endpoint(call, &who, id).await?;
    let rows: Vec<DeliveryRow> = call
        .sql()?
        .all(
            "SELECT id, endpoint_id, source, event, status, attempts, last_status, last_error, next_attempt_at,
                    created_at, delivered_at
             FROM webhook_deliveries WHERE endpoint_id = ?1 ORDER BY created_at DESC, id LIMIT 100",
            &[e.id.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "deliveries": rows }))
}

/// `POST /api/v1/workflows/webhooks/deliveries/:id/replay`: sends a delivery again (its
/// tries start over); the receiver knows it by its `NoizyLab-Delivery` id.
pub async fn replay(call: &Call, id: &str) -> ApiResult<Response> {
    let who = manager(call).await?;
    if !is_plain_id(id) {
        return Err(ApiError::not_found(format!("webhook delivery {id}")));
    }
    let changed = call
        .sql()?
        .run(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = NULL, delivered_at = NULL
             WHERE id = ?1 AND workspace_id = ?2
               AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = endpoint_id AND e.enabled = 1)",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::not_found(format!("webhook delivery {id} (of an endpoint still in use)")));
    }
    let text =
        serde_json::to_string(&crate::webhooks::Send { webhook_delivery: id.to_owned() }).or_internal("message")?;
    call.queue(noizylab_core::bindings::WORKFLOWS)?.send(text).await.or_internal("replay send")?;
    http::json(202, &json!({ "id": id, "status": "pending" }))
}
