//! `/api/v1/deals…`: what the watches found, best first (staff, `inventory:read`).

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::opt;
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::store::{self, Deal};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    watch_id: Option<String>,
    #[serde(default)]
    part_id: Option<String>,
    /// `true`: listings that are no deal too (over the ceiling, under the margin …).
    #[serde(default)]
    all: Option<String>,
}

/// `GET /api/v1/deals[?watch_id=][&part_id=][&all=true]`: deals by score, then landed
/// cost (at most 100), each with why it scored what it did and its purchase request.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let q: ListQuery = http::query(req)?;
    let all = match q.all.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_field("all", "all is true or false")),
    };
    let rows: Vec<Deal> = call
        .sql()?
        .all(
            &format!(
                "{} WHERE workspace_id = ?1 AND (?2 IS NULL OR watch_id = ?2) AND (?3 IS NULL OR part_id = ?3)
                   AND (?4 = 1 OR rejected IS NULL)
                 ORDER BY score DESC, landed_cents ASC LIMIT 100",
                store::DEAL
            ),
            &[
                who.workspace.as_str().into(),
                opt(q.watch_id.as_deref()),
                opt(q.part_id.as_deref()),
                i32::from(all).into(),
            ],
        )
        .await?;
    http::ok(&json!({ "deals": rows.iter().map(store::deal_view).collect::<Vec<_>>() }))
}

/// `GET /api/v1/deals/:id`: the deal with its purchase requests.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let d = store::deal(call, &who.workspace, id).await?;
    let requests: Vec<store::PurchaseRequest> = call
        .sql()?
        .all(&format!("{} WHERE deal_id = ?1 ORDER BY requested_at DESC", store::REQUEST), &[d.id.as_str().into()])
        .await?;
    let mut v = store::deal_view(&d);
    v["purchase_requests"] = serde_json::to_value(&requests).unwrap_or_default();
    http::ok(&v)
}
