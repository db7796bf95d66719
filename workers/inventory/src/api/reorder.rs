//! `/api/v1/parts/:id/reorder-plan`: the part's reorder point and quantity forecast from
//! what repairs consumed over the last 180 days (SBA, `noizylab_core::reorder`) and the
//! lead time of the supplier that sells it cheapest; shown, and applied on request.

use noizylab_core::auth::Scope;
use noizylab_core::events::InventoryLowStock;
use noizylab_core::reorder::{self, HISTORY_DAYS};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Response;

use crate::store::{self, Part};

#[derive(Deserialize)]
struct Used {
    day: String,
    used: i64,
}

#[derive(Deserialize)]
struct Lead {
    name: String,
    lead_time_days: i64,
}

/// Lead time when no supplier sells the part yet.
const DEFAULT_LEAD_DAYS: i64 = 7;

async fn plan(call: &Call, p: &Part) -> ApiResult<Value> {
    let today = time::now_rfc3339();
    let start = chrono_start(&today)?;
    let db = call.sql()?;
    let used: Vec<Used> = db
        .all(
            "SELECT substr(at, 1, 10) AS day, -SUM(quantity) AS used FROM stock_ledger
             WHERE part_id = ?1 AND kind = 'consume' AND at >= ?2 GROUP BY day",
            &[p.id.as_str().into(), start.as_str().into()],
        )
        .await?;
    let lead: Option<Lead> = db
        .first(
            "SELECT s.name, s.lead_time_days FROM supplier_parts sp JOIN suppliers s ON s.id = sp.supplier_id
             WHERE sp.part_id = ?1 ORDER BY sp.cost_cents, s.lead_time_days LIMIT 1",
            &[p.id.as_str().into()],
        )
        .await?;
    let pairs: Vec<(String, i64)> = used.into_iter().map(|u| (u.day, u.used)).collect();
    let daily = reorder::daily(&pairs, &today, HISTORY_DAYS)
        .ok_or_else(|| ApiError::internal(format!("the clock's date {today} does not read")))?;
    let days = lead.as_ref().map_or(DEFAULT_LEAD_DAYS, |l| l.lead_time_days);
    let plan = reorder::plan(&daily, days);
    Ok(json!({
        "part_id": p.id, "sku": p.sku,
        "current": { "reorder_point": p.reorder_point, "reorder_quantity": p.reorder_quantity },
        "plan": plan,
        "lead_time_from": lead.map(|l| l.name),
    }))
}

/// The first day of the history window, as the ledger's `at` compares.
fn chrono_start(today: &str) -> ApiResult<String> {
    reorder::window_start(today, HISTORY_DAYS).ok_or_else(|| ApiError::internal("the clock's date does not read"))
}

/// `GET /api/v1/parts/:id/reorder-plan`: the forecast, the plan and the part's current
/// settings.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let p = store::part(call, &who, id).await?;
    http::ok(&plan(call, &p).await?)
}

/// `POST /api/v1/parts/:id/reorder-plan`: sets the part's reorder point and quantity to the
/// plan's. If the part's stock is now at or under its new point (and was not under the
/// old one), `inventory.low_stock` goes on the bus.
pub async fn apply(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let p = store::part(call, &who, id).await?;
    let mut v = plan(call, &p).await?;
    let point = v["plan"]["reorder_point"].as_i64().unwrap_or(0);
    let quantity = v["plan"]["reorder_quantity"].as_i64().unwrap_or(0);
    call.sql()?
        .run(
            "UPDATE parts SET reorder_point = ?2, reorder_quantity = ?3, updated_at = ?4 WHERE id = ?1",
            &[p.id.as_str().into(), int(point), int(quantity), time::now_rfc3339().into()],
        )
        .await?;
    let available: i64 = store::stock(call, &p.id).await?.iter().map(|s| s.available).sum();
    let was_low = p.reorder_point > 0 && available <= p.reorder_point;
    if point > 0 && available <= point && !was_low {
        let about = About { workspace: Some(&who.workspace), device: None, ticket: None };
        events::publish(
            call,
            about,
            &InventoryLowStock { part_id: p.id.clone(), on_hand: available, reorder_point: point },
        )
        .await?;
    }
    v["current"] = json!({ "reorder_point": point, "reorder_quantity": quantity });
    v["applied"] = true.into();
    http::ok(&v)
}
