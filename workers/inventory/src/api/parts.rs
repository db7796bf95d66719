//! `/api/v1/parts…`: the catalogue — parts by SKU with their barcodes and the device
//! models they fit (searchable both ways), CSV import with a report of rejected rows, and
//! CSV export. Staff read (`inventory:read`) and write (`inventory:write`).

use noizylab_core::auth::Scope;
use noizylab_core::inventory::{self, PartInput};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::opt;
use noizylab_kit::{http, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Headers, Request, Response};

use crate::store::{self, Part, PART_COLUMNS};

/// The largest CSV accepted.
const MAX_CSV_BYTES: usize = 2 * 1024 * 1024;

/// `POST /api/v1/parts {sku, mpn?, description, category?, cost_cents, currency?, barcodes?,
/// models?, reorder_point?, reorder_quantity?}`: 201 with the part. 409 when the SKU or a
/// barcode is another part's.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let input: PartInput = http::read_json(&mut req).await?;
    let input = input.checked().map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    if let Some(why) = store::taken(call, &who, None, &input).await? {
        return Err(ApiError::Conflict(why));
    }
    let id = store::write(call, &who, None, &input).await?;
    let p = store::part(call, &who, &id).await?;
    http::created(&store::view(call, &p).await?)
}

/// `PUT /api/v1/parts/:id` (the same body): replaces the part's fields, codes and models.
pub async fn replace(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    store::part(call, &who, id).await?;
    let input: PartInput = http::read_json(&mut req).await?;
    let input = input.checked().map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    if let Some(why) = store::taken(call, &who, Some(id), &input).await? {
        return Err(ApiError::Conflict(why));
    }
    store::write(call, &who, Some(id), &input).await?;
    let p = store::part(call, &who, id).await?;
    http::ok(&store::view(call, &p).await?)
}

/// `GET /api/v1/parts/:id`: the part with its codes, models and stock per location.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let p = store::part(call, &who, id).await?;
    http::ok(&store::view(call, &p).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    /// Parts that fit this device model.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    category: Option<String>,
}

/// `GET /api/v1/parts?q=&model=&category=`: at most 200, by SKU.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let q: ListQuery = http::query(req)?;
    let like = q.q.map(|s| format!("%{}%", s.trim().replace(['%', '_'], "")));
    let rows: Vec<Part> = call
        .sql()?
        .all(
            &format!(
                "SELECT {PART_COLUMNS} FROM parts p WHERE workspace_id = ?1
                   AND (?2 IS NULL OR sku LIKE ?2 OR mpn LIKE ?2 OR description LIKE ?2)
                   AND (?3 IS NULL OR EXISTS (SELECT 1 FROM part_models m WHERE m.part_id = p.id AND m.device_model = ?3))
                   AND (?4 IS NULL OR category = lower(?4))
                 ORDER BY sku LIMIT 200"
            ),
            &[who.workspace.as_str().into(), opt(like.as_deref()), opt(q.model.as_deref()), opt(q.category.as_deref())],
        )
        .await?;
    let mut parts = Vec::with_capacity(rows.len());
    for p in &rows {
        parts.push(store::view(call, p).await?);
    }
    http::ok(&json!({ "parts": parts }))
}

/// `POST /api/v1/parts/import` with the catalogue CSV as the body: each good row creates or
/// updates its part (by SKU), each in one batch; 200 with how many and the rejected rows by
/// line and why. A file that is not the catalogue's CSV is 400.
pub async fn import(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the upload could not be read"))?;
    if bytes.len() > MAX_CSV_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_CSV_BYTES as u64 });
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::UnsupportedMediaType("send the catalogue as UTF-8 CSV".into()))?;
    let inventory::Sheet { good, mut rejected } =
        inventory::read_csv(text).map_err(|e| ApiError::invalid_field("csv", e))?;
    let (mut created, mut updated) = (0, 0);
    for (line, input) in &good {
        let line = *line;
        let existing: Option<Part> = call
            .sql()?
            .first(
                &format!("SELECT {PART_COLUMNS} FROM parts WHERE workspace_id = ?1 AND sku = ?2"),
                &[who.workspace.as_str().into(), input.sku.as_str().into()],
            )
            .await?;
        let id = existing.as_ref().map(|p| p.id.as_str());
        if let Some(why) = store::taken(call, &who, id, input).await? {
            rejected.push(inventory::Rejected { line, sku: Some(input.sku.clone()), reason: why });
            continue;
        }
        store::write(call, &who, id, input).await?;
        if existing.is_some() {
            updated += 1;
        } else {
            created += 1;
        }
    }
    rejected.sort_by_key(|r| r.line);
    http::ok(&json!({ "created": created, "updated": updated, "rejected": rejected }))
}

#[derive(Deserialize)]
struct Listed {
    value: String,
}

/// `GET /api/v1/parts/export`: the catalogue as CSV (what import reads).
pub async fn export(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let db = call.sql()?;
    let rows: Vec<Part> = db
        .all(
            &format!("SELECT {PART_COLUMNS} FROM parts WHERE workspace_id = ?1 ORDER BY sku"),
            &[who.workspace.as_str().into()],
        )
        .await?;
    let mut inputs = Vec::with_capacity(rows.len());
    for p in rows {
        let codes: Vec<Listed> = db
            .all("SELECT code AS value FROM part_codes WHERE part_id = ?1 ORDER BY code", &[p.id.as_str().into()])
            .await?;
        let models: Vec<Listed> = db
            .all(
                "SELECT device_model AS value FROM part_models WHERE part_id = ?1 ORDER BY device_model",
                &[p.id.as_str().into()],
            )
            .await?;
        inputs.push(PartInput {
            sku: p.sku,
            mpn: p.mpn,
            description: p.description,
            category: p.category,
            cost_cents: p.cost_cents,
            currency: p.currency,
            barcodes: codes.into_iter().map(|c| c.value).collect(),
            models: models.into_iter().map(|m| m.value).collect(),
            reorder_point: p.reorder_point,
            reorder_quantity: p.reorder_quantity,
        });
    }
    let csv = inventory::write_csv(&inputs).map_err(ApiError::internal)?;
    let headers = Headers::new();
    headers.set("content-type", "text/csv; charset=utf-8").or_internal("header")?;
    headers.set("content-disposition", "attachment; filename=\"parts.csv\"").or_internal("header")?;
    Ok(Response::ok(csv).or_internal("response")?.with_headers(headers))
}
