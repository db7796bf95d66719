//! `/api/v1/workflows…`: workflow definitions per workspace (`workflows:manage`, staff).
//! A definition is checked whole before it is stored (`noizylab_core::workflows`: the
//! failing step is named in the 400); every save is a new version, kept, and readable; a
//! workflow starts disabled and is enabled by hand.

use noizylab_core::auth::Scope;
use noizylab_core::names::is_plain_id;
use noizylab_core::workflows::{Definition, Trigger, ACTIONS};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response};

#[derive(Deserialize, Serialize)]
struct Row {
    id: String,
    name: String,
    version: i64,
    enabled: i64,
    trigger_type: String,
    trigger_event: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
}

const COLUMNS: &str = "id, name, version, enabled, trigger_type, trigger_event, created_by, created_at, updated_at";

#[derive(Deserialize, Serialize)]
struct Version {
    version: i64,
    created_by: String,
    created_at: String,
}

#[derive(Deserialize)]
struct Text {
    definition: String,
}

fn summary(r: &Row) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["enabled"] = (r.enabled == 1).into();
    v
}

async fn row(call: &Call, who: &Caller, id: &str) -> ApiResult<Row> {
    if !is_plain_id(id) {
        return Err(ApiError::not_found(format!("workflow {id}")));
    }
    call.sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("workflow {id}")))
}

async fn definition(call: &Call, id: &str, version: i64) -> ApiResult<Option<Value>> {
    let text: Option<Text> = call
        .sql()?
        .first(
            "SELECT definition FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
            &[id.into(), int(version)],
        )
        .await?;
    Ok(text.and_then(|t| serde_json::from_str(&t.definition).ok()))
}

async fn view(call: &Call, r: &Row) -> ApiResult<Value> {
    let versions: Vec<Version> = call
        .sql()?
        .all(
            "SELECT version, created_by, created_at FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version",
            &[r.id.as_str().into()],
        )
        .await?;
    let mut v = summary(r);
    v["definition"] = definition(call, &r.id, r.version).await?.unwrap_or(Value::Null);
    v["versions"] = serde_json::to_value(&versions).unwrap_or_default();
    Ok(v)
}

async fn checked(req: &mut Request) -> ApiResult<Definition> {
    let d: Definition = http::read_json(req).await?;
    d.checked().map_err(|e| ApiError::invalid_field(&e.field, e.message))
}

fn trigger(d: &Definition) -> (&'static str, Option<&str>) {
    match &d.trigger {
        Trigger::Event { event, .. } => ("event", Some(event.as_str())),
        Trigger::Manual => ("manual", None),
        Trigger::Schedule { .. } => ("schedule", None),
    }
}

/// `POST /api/v1/workflows {name, description?, trigger, start, steps}`: 201 with the
/// workflow at version 1, disabled; 400 naming the step that is wrong; 409 for a name the
/// workspace has.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    let d = checked(&mut req).await?;
    let id = format!("wf_{}", random::id()?);
    let now = time::now_rfc3339();
    let text = serde_json::to_string(&d).or_internal("definition")?;
    let (kind, event) = trigger(&d);
    let db = call.sql()?;
    let inserted = db
        .batch_changes(vec![
            db.statement(
                "INSERT OR IGNORE INTO workflows (id, workspace_id, name, version, enabled, trigger_type, trigger_event,
                     created_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, 0, ?4, ?5, ?6, ?7, ?7)",
                &[
                    id.as_str().into(),
                    who.workspace.as_str().into(),
                    d.name.as_str().into(),
                    kind.into(),
                    opt(event),
                    who.id.as_str().into(),
                    now.as_str().into(),
                ],
            )?,
            db.statement(
                "INSERT INTO workflow_versions (workflow_id, version, definition, created_by, created_at)
                 SELECT ?1, 1, ?2, ?3, ?4 WHERE changes() = 1",
                &[id.as_str().into(), text.as_str().into(), who.id.as_str().into(), now.as_str().into()],
            )?,
        ])
        .await?;
    if inserted.first() != Some(&1) {
        return Err(ApiError::Conflict(format!("the workspace has a workflow called {}", d.name)));
    }
    http::created(&view(call, &row(call, &who, &id).await?).await?)
}

/// `GET /api/v1/workflows`: the workspace's workflows, by name (the defaults put in first,
/// if they never were).
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    crate::runs::defaults::ensure(call, &who.workspace).await?;
    let rows: Vec<Row> = call
        .sql()?
        .all(
            &format!("SELECT {COLUMNS} FROM workflows WHERE workspace_id = ?1 ORDER BY name LIMIT 200"),
            &[who.workspace.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "workflows": rows.iter().map(summary).collect::<Vec<_>>() }))
}

/// `GET /api/v1/workflows/:id`: the workflow, its current definition and its versions.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    http::ok(&view(call, &row(call, &who, id).await?).await?)
}

/// `GET /api/v1/workflows/:id/versions/:version`: a version's definition as it was saved.
pub async fn version(call: &Call, id: &str, version: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    let r = row(call, &who, id).await?;
    let n: i64 = version.parse().map_err(|_| ApiError::not_found(format!("version {version}")))?;
    let d = definition(call, &r.id, n).await?.ok_or_else(|| ApiError::not_found(format!("version {version}")))?;
    http::ok(&json!({ "workflow_id": r.id, "version": n, "definition": d }))
}

/// `PUT /api/v1/workflows/:id` (a whole definition): saved as the next version, which new
/// runs start with; runs already going keep theirs. Enabled stays as it was.
pub async fn replace(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    let r = row(call, &who, id).await?;
    let d = checked(&mut req).await?;
    let text = serde_json::to_string(&d).or_internal("definition")?;
    let (kind, event) = trigger(&d);
    let now = time::now_rfc3339();
    let db = call.sql()?;
    // Only if nobody saved a version meanwhile (the version read is still current).
    let changes = db
        .batch_changes(vec![
            db.statement(
                "UPDATE workflows SET version = version + 1, name = ?3, trigger_type = ?4, trigger_event = ?5,
                     updated_at = ?6
                 WHERE id = ?1 AND version = ?2
                   AND NOT EXISTS (SELECT 1 FROM workflows w WHERE w.workspace_id = workflows.workspace_id
                                   AND w.name = ?3 AND w.id != ?1)",
                &[
                    r.id.as_str().into(),
                    int(r.version),
                    d.name.as_str().into(),
                    kind.into(),
                    opt(event),
                    now.as_str().into(),
                ],
            )?,
            db.statement(
                "INSERT INTO workflow_versions (workflow_id, version, definition, created_by, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE changes() = 1",
                &[
                    r.id.as_str().into(),
                    int(r.version + 1),
                    text.as_str().into(),
                    who.id.as_str().into(),
                    now.as_str().into(),
                ],
            )?,
        ])
        .await?;
    if changes.first() != Some(&1) {
        return Err(ApiError::Conflict(format!(
            "another version was saved meanwhile, or the workspace has a workflow called {}: reload and save again",
            d.name
        )));
    }
    http::ok(&view(call, &row(call, &who, id).await?).await?)
}

/// `POST /api/v1/workflows/:id/enable` and `…/disable`.
pub async fn enable(call: &Call, id: &str, on: bool) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::WorkflowsManage).await?;
    let r = row(call, &who, id).await?;
    call.sql()?
        .run(
            "UPDATE workflows SET enabled = ?2, updated_at = ?3 WHERE id = ?1",
            &[r.id.as_str().into(), i32::from(on).into(), time::now_rfc3339().into()],
        )
        .await?;
    http::ok(&summary(&row(call, &who, id).await?))
}

/// `GET /api/v1/workflows/actions`: what a step may call, with its inputs (the builder's
/// palette).
pub async fn actions(call: &Call) -> ApiResult<Response> {
    Caller::staff_with(call, Scope::WorkflowsManage).await?;
    let list: Vec<Value> = ACTIONS
        .iter()
        .map(|a| json!({ "name": a.name, "worker": a.worker, "required": a.required, "what": a.what }))
        .collect();
    http::ok(&json!({ "actions": list }))
}
