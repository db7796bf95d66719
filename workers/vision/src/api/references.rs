//! `/api/v1/vision/references…`: known-good photos of board models with their components
//! annotated. Staff (`ai:vision`) upload, list, show and replace them; admins delete.

use noizylab_core::auth::Scope;
use noizylab_core::vision::compare::Component;
use noizylab_core::vision::Photo;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Headers, Request, Response};

use crate::store::{self, Reference, REFERENCE_COLUMNS};
use crate::upload;

const KINDS: [&str; 10] =
    ["ic", "capacitor", "resistor", "inductor", "diode", "transistor", "connector", "crystal", "fuse", "other"];
const MAX_COMPONENTS: usize = 500;

/// The annotations of a form, checked against the photo's size.
fn components(raw: Option<String>, photo: &Photo) -> ApiResult<Vec<Component>> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    let list: Vec<Component> = serde_json::from_str(&raw).map_err(|e| {
        ApiError::invalid_field(
            "components",
            format!("components is a JSON list of {{ref, kind, bbox: {{x, y, w, h}}}}: {e}"),
        )
    })?;
    if list.len() > MAX_COMPONENTS {
        return Err(ApiError::invalid_field("components", format!("at most {MAX_COMPONENTS} components")));
    }
    let (w, h) = (photo.width as f32, photo.height as f32);
    let mut seen = std::collections::BTreeSet::new();
    for c in &list {
        let name = c.reference.trim();
        if name.is_empty() || name.len() > 32 || name.chars().any(char::is_control) {
            return Err(ApiError::invalid_field("components", "each ref is 1 to 32 characters"));
        }
        if !seen.insert(name.to_owned()) {
            return Err(ApiError::invalid_field("components", format!("{name} is annotated twice")));
        }
        if !KINDS.contains(&c.kind.as_str()) {
            return Err(ApiError::invalid_field("components", format!("{name}: kind is one of {}", KINDS.join(", "))));
        }
        let b = c.bbox;
        let inside = b.x >= 0.0 && b.y >= 0.0 && b.w > 0.0 && b.h > 0.0 && b.x + b.w <= w && b.y + b.h <= h;
        if !inside || ![b.x, b.y, b.w, b.h].iter().all(|v| v.is_finite()) {
            return Err(ApiError::invalid_field(
                "components",
                format!("{name}: its bbox is not inside the {w} × {h} photo"),
            ));
        }
    }
    Ok(list)
}

struct Upload {
    board_model: String,
    name: String,
    bytes: Vec<u8>,
    photo: Photo,
    components: Vec<Component>,
}

async fn read(req: &mut Request) -> ApiResult<Upload> {
    let form = upload::form(req).await?;
    let board_model = upload::field(&form, "board_model").filter(|m| m.len() <= 120).ok_or_else(|| {
        ApiError::invalid_field("board_model", "board_model names the board (at most 120 characters)")
    })?;
    let name = upload::field(&form, "name").unwrap_or_else(|| board_model.clone());
    if name.len() > 120 {
        return Err(ApiError::invalid_field("name", "name is at most 120 characters"));
    }
    let bytes = upload::image_bytes(&form)
        .await?
        .ok_or_else(|| ApiError::invalid_field("image", "the known-good photo goes in the `image` part"))?;
    let photo = upload::decode(&bytes, "image")?;
    let components = components(upload::field(&form, "components"), &photo)?;
    Ok(Upload { board_model, name, bytes, photo, components })
}

async fn put_image(call: &Call, key: &str, u: &Upload) -> ApiResult<()> {
    call.uploads()?.put(key, u.bytes.clone()).execute().await.or_internal("r2 put")?;
    Ok(())
}

/// `POST /api/v1/vision/references` (staff, multipart: `image`, `board_model`, `name?`,
/// `components?`): 201 with the reference.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let u = read(&mut req).await?;
    let id = format!("ref_{}", random::id()?);
    let key = format!("vision/references/{id}/1.{}", u.photo.format);
    put_image(call, &key, &u).await?;
    let now = time::now_rfc3339();
    let components = serde_json::to_string(&u.components).or_internal("components")?;
    call.sql()?
        .run(
            "INSERT INTO vision_references (id, workspace_id, board_model, name, image_key, format, width, height,
                                            components, version, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?11)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                u.board_model.as_str().into(),
                u.name.as_str().into(),
                key.as_str().into(),
                u.photo.format.into(),
                u.photo.width.into(),
                u.photo.height.into(),
                components.as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    let r = store::reference(call, &who, &id).await?;
    http::created(&view(&r)?)
}

fn view(r: &Reference) -> ApiResult<serde_json::Value> {
    let mut v = serde_json::to_value(r).or_internal("reference")?;
    v["components"] = serde_json::to_value(r.components()?).or_internal("components")?;
    v["image_url"] = format!("/api/v1/vision/references/{}/image", r.id).into();
    Ok(v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    board_model: Option<String>,
}

/// `GET /api/v1/vision/references[?board_model=]` (staff).
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let q: ListQuery = http::query(req)?;
    let rows: Vec<Reference> = call
        .sql()?
        .all(
            &format!(
                "SELECT {REFERENCE_COLUMNS} FROM vision_references WHERE workspace_id = ?1 AND (?2 IS NULL OR board_model = ?2)
                 ORDER BY created_at DESC LIMIT 200"
            ),
            &[who.workspace.as_str().into(), noizylab_kit::db::opt(q.board_model.as_deref())],
        )
        .await?;
    let views = rows.iter().map(view).collect::<ApiResult<Vec<_>>>()?;
    http::ok(&json!({ "references": views }))
}

/// `GET /api/v1/vision/references/:id` (staff).
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    http::ok(&view(&store::reference(call, &who, id).await?)?)
}

/// `GET /api/v1/vision/references/:id/image` (staff): the photo as uploaded.
pub async fn image(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let r = store::reference(call, &who, id).await?;
    let bytes = store::object(call, &r.image_key).await?;
    let headers = Headers::new();
    headers.set("content-type", if r.format == "png" { "image/png" } else { "image/jpeg" }).or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

/// `PUT /api/v1/vision/references/:id` (staff, the same form as create): a new photo and
/// annotations; the version goes up, earlier analyses keep pointing at what they used.
pub async fn replace(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let old = store::reference(call, &who, id).await?;
    let u = read(&mut req).await?;
    let version = old.version + 1;
    let key = format!("vision/references/{id}/{version}.{}", u.photo.format);
    put_image(call, &key, &u).await?;
    let components = serde_json::to_string(&u.components).or_internal("components")?;
    call.sql()?
        .run(
            "UPDATE vision_references SET board_model = ?2, name = ?3, image_key = ?4, format = ?5, width = ?6, height = ?7,
                    components = ?8, version = ?9, updated_at = ?10
             WHERE id = ?1 AND version = ?11",
            &[
                id.into(),
                u.board_model.as_str().into(),
                u.name.as_str().into(),
                key.as_str().into(),
                u.photo.format.into(),
                u.photo.width.into(),
                u.photo.height.into(),
                components.as_str().into(),
                noizylab_kit::db::int(version),
                time::now_rfc3339().into(),
                noizylab_kit::db::int(old.version),
            ],
        )
        .await?;
    http::ok(&view(&store::reference(call, &who, id).await?)?)
}

/// `DELETE /api/v1/vision/references/:id` (admin): 409 while analyses point at it.
pub async fn remove(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let r = store::reference(call, &who, id).await?;
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let used: Option<Count> =
        call.sql()?.first("SELECT COUNT(*) AS n FROM vision_analyses WHERE reference_id = ?1", &[id.into()]).await?;
    if used.is_some_and(|u| u.n > 0) {
        return Err(ApiError::Conflict(format!(
            "reference {id} has analyses that point at it: replace its photo instead (PUT)"
        )));
    }
    call.sql()?.run("DELETE FROM vision_references WHERE id = ?1", &[id.into()]).await?;
    call.uploads()?.delete(&r.image_key).await.or_internal("r2 delete")?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
