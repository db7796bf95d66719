//! `/api/v1/watches…`: what to look for on eBay, for which part, and how good a find must
//! be. Staff read (`inventory:read`) and write (`inventory:write`); a watch is searched by
//! the cron every 30 minutes, or now with `POST …/search`.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::HuntReport;
use noizylab_core::deals::WatchInput;
use noizylab_core::names::is_plain_id;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, random, ApiError, ApiResult, Call, OrInternal};
use serde_json::json;
use worker::{Request, Response};

use crate::config::Config;
use crate::hunt;
use crate::store::{self, Watch};

fn view(w: &Watch) -> serde_json::Value {
    let mut v = serde_json::to_value(w).unwrap_or_default();
    v["active"] = (w.active == 1).into();
    v
}

async fn checked(req: &mut Request, call: &Call, who: &Caller) -> ApiResult<WatchInput> {
    let w: WatchInput = http::read_json(req).await?;
    let w = w.checked().map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let part = store::part(call, &who.workspace, &w.part_id).await?;
    if part.currency != w.currency {
        return Err(ApiError::invalid_field(
            "currency",
            format!("the part is costed in {}: watch in {} too, so deals compare", part.currency, part.currency),
        ));
    }
    Ok(w)
}

/// `POST /api/v1/watches {part_id, query, category_id?, condition?, max_total_cents,
/// currency?, target_margin_bps?, min_score?}`: 201 with the watch.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let w = checked(&mut req, call, &who).await?;
    let id = format!("watch_{}", random::id()?);
    store::put_watch(call, &who.workspace, &id, &w, "person", &who.id).await?;
    http::created(&view(&store::watch(call, &who.workspace, &id).await?))
}

/// `PUT /api/v1/watches/:id`: replaces what it looks for (and starts it again if stopped).
pub async fn replace(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let old = store::watch(call, &who.workspace, id).await?;
    let w = checked(&mut req, call, &who).await?;
    store::put_watch(call, &who.workspace, &old.id, &w, &old.origin, &old.created_by).await?;
    http::ok(&view(&store::watch(call, &who.workspace, id).await?))
}

/// `GET /api/v1/watches`: every watch, and whether eBay can be searched at all.
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let rows: Vec<Watch> = call
        .sql()?
        .all(
            &format!("{} WHERE workspace_id = ?1 ORDER BY active DESC, created_at DESC LIMIT 200", store::WATCH),
            &[who.workspace.as_str().into()],
        )
        .await?;
    let cfg = Config::from_env(&call.env);
    http::ok(&json!({
        "watches": rows.iter().map(view).collect::<Vec<_>>(),
        "ebay": { "configured": cfg.keys.is_some(), "reason": cfg.unavailable(), "marketplace": cfg.marketplace },
    }))
}

/// `GET /api/v1/watches/:id`.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    http::ok(&view(&store::watch(call, &who.workspace, id).await?))
}

/// `DELETE /api/v1/watches/:id`: stops watching (its deals and their purchases stay).
pub async fn stop(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let w = store::watch(call, &who.workspace, id).await?;
    call.sql()?.run("UPDATE watches SET active = 0 WHERE id = ?1", &[w.id.as_str().into()]).await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}

/// `POST /api/v1/watches/:id/search`: searches eBay now; 200 with what it found, 503 when
/// eBay is not configured, 502 when eBay failed (noted on the watch).
pub async fn search(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    if !is_plain_id(id) {
        return Err(ApiError::not_found(format!("watch {id}")));
    }
    let w = store::watch(call, &who.workspace, id).await?;
    let report: HuntReport = hunt::run(call, &Config::from_env(&call.env), &w).await?;
    http::ok(&report)
}
