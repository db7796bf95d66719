//! `/internal/…`: what other workers ask of inventory — a part's facts (`ebay-sniper` to
//! judge a deal against, `pricing` to quote it at its real cost), and the purchase order an
//! approved deal becomes.

use noizylab_core::contracts::{DealPurchase, PartFacts, PurchaseOrderRef};
use noizylab_core::names::is_plain_id;
use noizylab_core::services::{EBAY_SNIPER, PRICING};
use noizylab_kit::caller::require_service;
use noizylab_kit::db::int;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Of {
    workspace: String,
}

/// `GET /internal/parts/:id?workspace=` (ebay-sniper, pricing): the part's [`PartFacts`].
pub async fn part(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    if require_service(call, PRICING, "").is_err() {
        require_service(call, EBAY_SNIPER, "only pricing and the deal hunter read parts here")?;
    }
    let q: Of = http::query(req)?;
    let p = store::part_in(call, &q.workspace, id).await?;
    let available = store::stock(call, &p.id).await?.iter().map(|s| s.available).sum();
    http::ok(&PartFacts {
        id: p.id,
        workspace_id: q.workspace,
        sku: p.sku,
        mpn: p.mpn,
        description: p.description,
        cost_cents: p.cost_cents,
        currency: p.currency,
        reorder_point: p.reorder_point,
        reorder_quantity: p.reorder_quantity,
        available,
    })
}

#[derive(Deserialize)]
struct Made {
    id: String,
    supplier_id: String,
    status: String,
}

async fn by_source(call: &Call, workspace: &str, source: &str) -> ApiResult<Option<Made>> {
    call.sql()?
        .first(
            "SELECT id, supplier_id, status FROM purchase_orders WHERE workspace_id = ?1 AND source = ?2",
            &[workspace.into(), source.into()],
        )
        .await
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

/// `POST /internal/purchases` (ebay-sniper) [`DealPurchase`]: the eBay seller as a
/// supplier (made once), their price for the part, and an `ordered` purchase order of one
/// line, all in one batch. The same request again answers with the order it made.
pub async fn purchase(mut req: Request, call: &Call) -> ApiResult<Response> {
    require_service(call, EBAY_SNIPER, "only the deal hunter buys from eBay sellers")?;
    let d: DealPurchase = http::read_json(&mut req).await?;
    if !is_plain_id(&d.request_id) {
        return Err(ApiError::invalid_field("request_id", "a purchase request id"));
    }
    if !(1..=1000).contains(&d.quantity) || !(0..=noizylab_core::inventory::MAX_CENTS).contains(&d.unit_cost_cents) {
        return Err(ApiError::invalid_field("quantity", "1 to 1000 at a unit cost of 0 to 100,000.00"));
    }
    let location = d.location.trim();
    if location.is_empty() || location.chars().count() > 60 {
        return Err(ApiError::invalid_field("location", "where the stock arrives: 1 to 60 characters"));
    }
    let source = format!("ebay:{}", d.request_id);
    let answer = |m: Made, created: bool| {
        http::json(
            if created { 201 } else { 200 },
            &PurchaseOrderRef { id: m.id, supplier_id: m.supplier_id, status: m.status, created },
        )
    };
    if let Some(m) = by_source(call, &d.workspace_id, &source).await? {
        return answer(m, false);
    }
    let part = store::part_in(call, &d.workspace_id, &d.part_id).await?;
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let name: String = format!("eBay: {}", d.seller.trim()).chars().take(120).collect();
    db.run(
        "INSERT OR IGNORE INTO suppliers (id, workspace_id, name, email, phone, lead_time_days, created_at)
         VALUES (?1, ?2, ?3, NULL, NULL, 7, ?4)",
        &[
            format!("sup_{}", random::id()?).into(),
            d.workspace_id.as_str().into(),
            name.as_str().into(),
            now.as_str().into(),
        ],
    )
    .await?;
    let supplier: Id = db
        .first(
            "SELECT id FROM suppliers WHERE workspace_id = ?1 AND name = ?2",
            &[d.workspace_id.as_str().into(), name.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::internal("the eBay seller's supplier row vanished"))?;
    let id = format!("po_{}", random::id()?);
    let note = format!("eBay listing {}, approved by {}", d.listing_id, d.approved_by);
    let statements = vec![
        db.statement(
            "INSERT INTO supplier_parts (supplier_id, part_id, cost_cents, supplier_sku) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (supplier_id, part_id) DO UPDATE SET cost_cents = excluded.cost_cents,
                 supplier_sku = excluded.supplier_sku",
            &[
                supplier.id.as_str().into(),
                part.id.as_str().into(),
                int(d.unit_cost_cents),
                d.listing_id.as_str().into(),
            ],
        )?,
        // Ignored when another call made the order for this request first.
        db.statement(
            "INSERT OR IGNORE INTO purchase_orders (id, workspace_id, supplier_id, status, location, note, source,
                 created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'ordered', ?4, ?5, ?6, ?7, ?8, ?8)",
            &[
                id.as_str().into(),
                d.workspace_id.as_str().into(),
                supplier.id.as_str().into(),
                location.into(),
                note.as_str().into(),
                source.as_str().into(),
                d.approved_by.as_str().into(),
                now.as_str().into(),
            ],
        )?,
        db.statement(
            "INSERT INTO purchase_order_lines (po_id, line, part_id, quantity, cost_cents)
             SELECT ?1, 1, ?2, ?3, ?4 WHERE changes() = 1",
            &[id.as_str().into(), part.id.as_str().into(), int(d.quantity), int(d.unit_cost_cents)],
        )?,
    ];
    let changes = db.batch_changes(statements).await?;
    let made = by_source(call, &d.workspace_id, &source)
        .await?
        .ok_or_else(|| ApiError::internal("the purchase order was neither made nor found"))?;
    let created = changes.get(1) == Some(&1);
    answer(made, created)
}
