//! `/api/v1/suppliers…`: who parts are bought from, their lead times, and what each
//! charges for a part. Staff read (`inventory:read`) and write (`inventory:write`).

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    lead_time_days: Option<i64>,
}

#[derive(Deserialize, Serialize)]
struct Supplier {
    id: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    lead_time_days: i64,
    created_at: String,
}

const COLUMNS: &str = "id, name, email, phone, lead_time_days, created_at";

/// `POST /api/v1/suppliers {name, email?, phone?, lead_time_days?}`: 201; 409 for a name
/// the workspace has.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let b: Body = http::read_json(&mut req).await?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(ApiError::invalid_field("name", "a supplier's name is 1 to 120 characters"));
    }
    let lead = b.lead_time_days.unwrap_or(7);
    if !(0..=365).contains(&lead) {
        return Err(ApiError::invalid_field("lead_time_days", "a lead time is 0 to 365 days"));
    }
    if b.email.as_deref().is_some_and(|e| !e.contains('@') || e.len() > 200) {
        return Err(ApiError::invalid_field("email", "an email address, like orders@supplier.example"));
    }
    let id = format!("sup_{}", random::id()?);
    let inserted = call
        .sql()?
        .run(
            "INSERT OR IGNORE INTO suppliers (id, workspace_id, name, email, phone, lead_time_days, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                name.into(),
                opt(b.email.as_deref()),
                opt(b.phone.as_deref().map(|p| p.trim()).filter(|p| !p.is_empty())),
                int(lead),
                time::now_rfc3339().as_str().into(),
            ],
        )
        .await?;
    if inserted != 1 {
        return Err(ApiError::Conflict(format!("there is a supplier called {name} already")));
    }
    show(call, &id).await.map(|r| r.with_status(201))
}

/// `GET /api/v1/suppliers`.
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let rows: Vec<Supplier> = call
        .sql()?
        .all(
            &format!("SELECT {COLUMNS} FROM suppliers WHERE workspace_id = ?1 ORDER BY name"),
            &[who.workspace.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "suppliers": rows }))
}

#[derive(Deserialize, Serialize)]
struct Price {
    part_id: String,
    sku: String,
    cost_cents: i64,
    supplier_sku: Option<String>,
}

/// `GET /api/v1/suppliers/:id`: the supplier and its prices.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let db = call.sql()?;
    let s: Supplier = db
        .first(
            &format!("SELECT {COLUMNS} FROM suppliers WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("supplier {id}")))?;
    let prices: Vec<Price> = db
        .all(
            "SELECT sp.part_id, p.sku, sp.cost_cents, sp.supplier_sku FROM supplier_parts sp JOIN parts p ON p.id = sp.part_id
             WHERE sp.supplier_id = ?1 ORDER BY p.sku",
            &[id.into()],
        )
        .await?;
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    v["prices"] = serde_json::to_value(prices).unwrap_or_default();
    http::ok(&v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    cost_cents: i64,
    #[serde(default)]
    supplier_sku: Option<String>,
}

/// `PUT /api/v1/suppliers/:id/parts/:part {cost_cents, supplier_sku?}`: what the supplier
/// charges for the part.
pub async fn price(mut req: Request, call: &Call, id: &str, part: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let b: PriceBody = http::read_json(&mut req).await?;
    if !(0..=noizylab_core::inventory::MAX_CENTS).contains(&b.cost_cents) {
        return Err(ApiError::invalid_field("cost_cents", "a unit cost is 0 to 100,000.00"));
    }
    let known: Option<serde_json::Value> = call
        .sql()?
        .first(
            "SELECT id FROM suppliers WHERE id = ?1 AND workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    known.ok_or_else(|| ApiError::not_found(format!("supplier {id}")))?;
    store::part(call, &who, part).await?;
    call.sql()?
        .run(
            "INSERT INTO supplier_parts (supplier_id, part_id, cost_cents, supplier_sku) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (supplier_id, part_id) DO UPDATE SET cost_cents = excluded.cost_cents,
                 supplier_sku = excluded.supplier_sku",
            &[id.into(), part.into(), int(b.cost_cents), opt(b.supplier_sku.as_deref())],
        )
        .await?;
    show(call, id).await
}
