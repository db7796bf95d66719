//! `/api/v1/guides…`: repair guides per device model. Staff write them (every change is a
//! new version; old versions stay readable); everyone signed in reads them; admins archive.

use noizylab_core::auth::Scope;
use noizylab_core::guides::{self, Step};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::store::{self, Guide};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    title: String,
    #[serde(default)]
    device_model: Option<String>,
    #[serde(default)]
    device_type: Option<String>,
    #[serde(default)]
    asset_id: Option<String>,
    steps: Vec<Step>,
    #[serde(default)]
    note: Option<String>,
}

fn text(field: &str, v: &str, max: usize) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(ApiError::invalid_field(field, format!("{field} is 1 to {max} characters")));
    }
    Ok(v.to_owned())
}

/// The body's title, steps and model, checked: the model is one of the workspace's models,
/// each step's node is in it, each step's image is one of the workspace's images.
async fn checked(call: &Call, who: &Caller, body: &Body) -> ApiResult<String> {
    let title = text("title", &body.title, 120)?;
    let nodes = match &body.asset_id {
        Some(id) => {
            let asset = store::asset(call, who, id)
                .await
                .map_err(|_| ApiError::invalid_field("asset_id", format!("no model {id}: upload it first")))?;
            let model = asset
                .model()?
                .ok_or_else(|| ApiError::invalid_field("asset_id", format!("{id} is an image, not a model")))?;
            Some(model.node_names())
        }
        None => None,
    };
    guides::check_steps(&body.steps, nodes.as_deref()).map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    for (i, s) in body.steps.iter().enumerate() {
        for image in &s.images {
            let ok = store::asset(call, who, image).await.is_ok_and(|a| a.kind == "image");
            if !ok {
                return Err(ApiError::invalid_field(
                    &format!("steps[{i}]"),
                    format!("step {}: no image {image}", i + 1),
                ));
            }
        }
    }
    if body.note.as_deref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid_field("note", "a version note is at most 500 characters"));
    }
    Ok(title)
}

/// The statement writing version `version` of guide `id`.
fn version_statement(
    call: &Call,
    id: &str,
    version: i64,
    title: &str,
    body: &Body,
    author: &str,
    now: &str,
) -> ApiResult<worker::D1PreparedStatement> {
    call.sql()?.statement(
        "INSERT INTO guide_versions (guide_id, version, title, asset_id, steps, note, author_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            id.into(),
            int(version),
            title.into(),
            opt(body.asset_id.as_deref()),
            serde_json::to_string(&body.steps).or_internal("steps")?.as_str().into(),
            opt(body.note.as_deref()),
            author.into(),
            now.into(),
        ],
    )
}

/// `POST /api/v1/guides {title, device_model, device_type?, asset_id?, steps, note?}`
/// (staff): 201 with version 1.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let body: Body = http::read_json(&mut req).await?;
    let title = checked(call, &who, &body).await?;
    let model = text("device_model", body.device_model.as_deref().unwrap_or_default(), 120)?;
    let device_type = body.device_type.as_deref().map(|t| text("device_type", t, 40)).transpose()?;
    let id = format!("gd_{}", random::id()?);
    let now = time::now_rfc3339();
    let db = call.sql()?;
    db.batch(vec![
        db.statement(
            "INSERT INTO guides (id, workspace_id, title, device_model, device_type, version, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?7)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                title.as_str().into(),
                model.as_str().into(),
                opt(device_type.as_deref()),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )?,
        version_statement(call, &id, 1, &title, &body, &who.id, &now)?,
    ])
    .await?;
    let g = store::guide(call, &who, &id).await?;
    http::created(&store::view(call, &who, &g, &store::version(call, &id, 1).await?).await?)
}

/// `PUT /api/v1/guides/:id {title, asset_id?, steps, note?}` (staff): a new version
/// (the device model stays); 200 with it.
pub async fn update(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let g = store::guide(call, &who, id).await?;
    let body: Body = http::read_json(&mut req).await?;
    let title = checked(call, &who, &body).await?;
    if body.device_model.as_deref().is_some_and(|m| m.trim() != g.device_model) {
        return Err(ApiError::invalid_field(
            "device_model",
            "a guide's device model stays; write a new guide for another",
        ));
    }
    let next = g.version + 1;
    let now = time::now_rfc3339();
    let db = call.sql()?;
    // The version bump only lands if nobody wrote a version meanwhile.
    let changes = db
        .batch_changes(vec![
            db.statement(
                "UPDATE guides SET version = ?3, title = ?4, updated_at = ?5 WHERE id = ?1 AND version = ?2",
                &[id.into(), int(g.version), int(next), title.as_str().into(), now.as_str().into()],
            )?,
            version_statement(call, id, next, &title, &body, &who.id, &now)?,
        ])
        .await;
    match changes {
        Ok(c) if c.first() == Some(&1) => {}
        _ => return Err(ApiError::Conflict("the guide changed meanwhile; reload it and try again".into())),
    }
    let g = store::guide(call, &who, id).await?;
    http::ok(&store::view(call, &who, &g, &store::version(call, id, next).await?).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShowQuery {
    #[serde(default)]
    version: Option<String>,
}

/// `GET /api/v1/guides/:id[?version=N]` (signed in): the current version, or version N.
pub async fn show(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let q: ShowQuery = http::query(req)?;
    let g = store::guide(call, &who, id).await?;
    let version = match q.version.as_deref() {
        Some(v) => v.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
            ApiError::invalid_field("version", format!("version is a number from 1 to {}", g.version))
        })?,
        None => g.version,
    };
    http::ok(&store::view(call, &who, &g, &store::version(call, id, version).await?).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    device_model: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// `GET /api/v1/guides[?device_model=&q=]` (signed in): the workspace's guides.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    let like = q.q.map(|s| format!("%{}%", s.trim().replace(['%', '_'], "")));
    let rows: Vec<Guide> = call
        .sql()?
        .all(
            "SELECT id, title, device_model, device_type, version, created_by, created_at, updated_at FROM guides
             WHERE workspace_id = ?1 AND archived_at IS NULL AND (?2 IS NULL OR device_model = ?2)
               AND (?3 IS NULL OR title LIKE ?3 OR device_model LIKE ?3)
             ORDER BY device_model, title LIMIT 200",
            &[who.workspace.as_str().into(), opt(q.device_model.as_deref()), opt(like.as_deref())],
        )
        .await?;
    http::ok(&json!({ "guides": rows }))
}

#[derive(Deserialize, serde::Serialize)]
struct VersionRow {
    version: i64,
    title: String,
    note: Option<String>,
    author_id: String,
    created_at: String,
}

/// `GET /api/v1/guides/:id/versions` (signed in): newest first.
pub async fn versions(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    store::guide(call, &who, id).await?;
    let rows: Vec<VersionRow> = call
        .sql()?
        .all(
            "SELECT version, title, note, author_id, created_at FROM guide_versions WHERE guide_id = ?1 ORDER BY version DESC",
            &[id.into()],
        )
        .await?;
    http::ok(&json!({ "versions": rows }))
}

/// `DELETE /api/v1/guides/:id` (admin): archives it (204); progress records stay.
pub async fn archive(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::person_with(call, Scope::Admin).await?;
    store::guide(call, &who, id).await?;
    call.sql()?
        .run("UPDATE guides SET archived_at = ?2 WHERE id = ?1", &[id.into(), time::now_rfc3339().as_str().into()])
        .await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
