//! `/api/v1/vision/analyze` and `/api/v1/vision/analyses…`: a board photo compared with a
//! reference — defects, condition score, overlay — stored and listed per ticket (staff,
//! `ai:vision`).

use noizylab_core::auth::Scope;
use noizylab_core::events::VisionAnalyzed;
use noizylab_core::vision::compare::{self, Bbox, Component};
use noizylab_core::vision::encode_png;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::opt;
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Headers, Request, Response};

use crate::store;
use crate::upload;

#[derive(Deserialize)]
struct Attachment {
    r2_key: String,
    ticket_id: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// A photo already on a ticket, analysed by reference (`qc-inspector` asks this way).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ByAttachment {
    /// Left out: the golden reference of the ticket's device model.
    #[serde(default)]
    reference_id: Option<String>,
    attachment_id: String,
    #[serde(default)]
    ticket_id: Option<String>,
}

/// `POST /api/v1/vision/analyze` (multipart: `reference_id`, and `image` or
/// `attachment_id`; `ticket_id?` — or the same without `image` as JSON): 201 with the
/// analysis.
pub async fn analyze(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let json = req.headers().get("content-type").ok().flatten().is_some_and(|t| t.starts_with("application/json"));
    let (reference_id, mut ticket_id, image, attachment_id) = if json {
        let body: ByAttachment = http::read_json(&mut req).await?;
        (body.reference_id, body.ticket_id, None, Some(body.attachment_id))
    } else {
        let form = upload::form(&mut req).await?;
        let image = upload::image_bytes(&form).await?;
        (
            upload::field(&form, "reference_id"),
            upload::field(&form, "ticket_id"),
            image,
            upload::field(&form, "attachment_id"),
        )
    };
    let by_model = json && reference_id.is_none();
    let reference_id = reference_id.filter(|r| !r.trim().is_empty());
    if reference_id.is_none() && !by_model {
        return Err(ApiError::invalid_field("reference_id", "reference_id names the known-good reference"));
    }
    let bytes = match (image, attachment_id) {
        (Some(bytes), _) => bytes,
        (None, Some(att)) => {
            let found: Option<Attachment> = call
                .sql()?
                .first(
                    "SELECT a.r2_key, a.ticket_id FROM ticket_attachments a JOIN tickets t ON t.id = a.ticket_id
                     WHERE a.id = ?1 AND t.workspace_id = ?2",
                    &[att.as_str().into(), who.workspace.as_str().into()],
                )
                .await?;
            let found = found.ok_or_else(|| ApiError::invalid_field("attachment_id", "no such attachment"))?;
            ticket_id.get_or_insert(found.ticket_id);
            store::object(call, &found.r2_key).await?
        }
        (None, None) => return Err(ApiError::invalid_field("image", "send the photo in `image`, or an attachment_id")),
    };
    if let Some(t) = &ticket_id {
        let found: Option<Count> = call
            .sql()?
            .first(
                "SELECT COUNT(*) AS n FROM tickets WHERE id = ?1 AND workspace_id = ?2",
                &[t.as_str().into(), who.workspace.as_str().into()],
            )
            .await?;
        if found.is_none_or(|c| c.n == 0) {
            return Err(ApiError::invalid_field("ticket_id", "no such ticket"));
        }
    }
    let reference_id = match (reference_id, &ticket_id) {
        (Some(r), _) => r,
        (None, Some(t)) => model_reference(call, &who.workspace, t).await?,
        (None, None) => {
            return Err(ApiError::invalid_field("reference_id", "reference_id names the known-good reference"))
        }
    };
    let reference = store::reference(call, &who, &reference_id).await?;
    let photo = upload::decode(&bytes, "image")?;
    drop(bytes);
    let ref_bytes = store::object(call, &reference.image_key).await?;
    let ref_photo = upload::decode(&ref_bytes, "reference")?;
    drop(ref_bytes);
    // Annotations are in the reference's own pixels; the engine works at analysis scale.
    let k = ref_photo.scale;
    let scaled: Vec<Component> = reference
        .components()?
        .into_iter()
        .map(|c| Component { bbox: Bbox { x: c.bbox.x / k, y: c.bbox.y / k, w: c.bbox.w / k, h: c.bbox.h / k }, ..c })
        .collect();
    let (analysis, overlay) = compare::compare(&ref_photo.image, &scaled, &photo.image, k);
    if analysis.registration.correlation < compare::MIN_CORRELATION {
        return Err(ApiError::Unprocessable(format!(
            "the photo does not line up with reference {} ({}): is it the same board, photographed whole?",
            reference.id, reference.board_model
        )));
    }
    let id = format!("va_{}", random::id()?);
    let overlay_key = format!("vision/analyses/{id}/overlay.png");
    call.uploads()?.put(&overlay_key, encode_png(&overlay)).execute().await.or_internal("r2 put")?;
    let now = time::now_rfc3339();
    let mut answer = serde_json::to_value(&analysis).or_internal("analysis")?;
    answer["id"] = id.as_str().into();
    answer["reference_id"] = reference.id.as_str().into();
    answer["ticket_id"] = ticket_id.clone().into();
    answer["photo"] = json!({ "format": photo.format, "width": photo.width, "height": photo.height });
    answer["overlay_url"] = format!("/api/v1/vision/analyses/{id}/overlay").into();
    answer["created_at"] = now.as_str().into();
    answer["created_by"] = who.id.as_str().into();
    call.sql()?
        .run(
            "INSERT INTO vision_analyses (id, workspace_id, reference_id, ticket_id, condition_score, result, overlay_key,
                                          created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                reference.id.as_str().into(),
                opt(ticket_id.as_deref()),
                analysis.condition_score.into(),
                answer.to_string().as_str().into(),
                overlay_key.as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    let about = About { workspace: Some(&who.workspace), device: None, ticket: ticket_id.as_deref() };
    let done = VisionAnalyzed {
        analysis_id: id.clone(),
        reference_id: reference.id.clone(),
        condition_score: analysis.condition_score,
        defects: u32::try_from(analysis.defects.len()).unwrap_or(u32::MAX),
    };
    events::publish(call, about, &done).await?;
    http::created(&answer)
}

#[derive(Deserialize)]
struct Stored {
    result: String,
    overlay_key: String,
}

async fn stored(call: &Call, who: &Caller, id: &str) -> ApiResult<Stored> {
    call.sql()?
        .first(
            "SELECT result, overlay_key FROM vision_analyses WHERE id = ?1 AND workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("analysis {id}")))
}

/// `GET /api/v1/vision/analyses/:id` (staff).
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    http::json_text(200, stored(call, &who, id).await?.result)
}

/// `GET /api/v1/vision/analyses/:id/overlay` (staff): the PNG with the defects drawn.
pub async fn overlay(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let bytes = store::object(call, &stored(call, &who, id).await?.overlay_key).await?;
    let headers = Headers::new();
    headers.set("content-type", "image/png").or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    ticket_id: String,
}

#[derive(Deserialize)]
struct Row {
    result: String,
}

/// `GET /api/v1/vision/analyses?ticket_id=` (staff): a ticket's analyses, newest first.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVision).await?;
    let q: ListQuery = http::query(req)?;
    let rows: Vec<Row> = call
        .sql()?
        .all(
            "SELECT result FROM vision_analyses WHERE ticket_id = ?1 AND workspace_id = ?2 ORDER BY created_at DESC LIMIT 100",
            &[q.ticket_id.as_str().into(), who.workspace.as_str().into()],
        )
        .await?;
    let list: Vec<Value> = rows.iter().filter_map(|r| serde_json::from_str(&r.result).ok()).collect();
    http::ok(&json!({ "analyses": list }))
}

/// The golden reference for a ticket's device: the newest of the workspace's references
/// whose board model is the device's model (case aside). 409 when there is none.
async fn model_reference(call: &Call, workspace: &str, ticket: &str) -> ApiResult<String> {
    #[derive(Deserialize)]
    struct Found {
        id: Option<String>,
        model: Option<String>,
    }
    let found: Option<Found> = call
        .sql()?
        .first(
            "SELECT d.model AS model,
                    (SELECT r.id FROM vision_references r WHERE r.workspace_id = t.workspace_id
                       AND lower(r.board_model) = lower(d.model) ORDER BY r.created_at DESC LIMIT 1) AS id
             FROM tickets t LEFT JOIN devices d ON d.id = t.device_id WHERE t.id = ?1 AND t.workspace_id = ?2",
            &[ticket.into(), workspace.into()],
        )
        .await?;
    match found {
        Some(Found { id: Some(id), .. }) => Ok(id),
        Some(Found { model: Some(m), .. }) => {
            Err(ApiError::Conflict(format!("no golden reference for board model {m}: add one, or name reference_id")))
        }
        _ => {
            Err(ApiError::Conflict("the ticket's device has no model to find a reference by: name reference_id".into()))
        }
    }
}
