//! `/api/v1/purchase-orders…`: buying parts. A draft names a supplier, where stock arrives
//! and its lines; ordered, it is received line by line (each receipt a `receive` row of
//! the stock ledger, in the same batch as the line's count — a line can never receive more
//! than it ordered), then closed; or cancelled before anything arrives. Suggestions group
//! the parts at their reorder point by the supplier that sells them cheapest.

use std::collections::BTreeMap;

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineIn {
    part_id: String,
    quantity: i64,
    #[serde(default)]
    cost_cents: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    supplier_id: String,
    location: String,
    #[serde(default)]
    note: Option<String>,
    lines: Vec<LineIn>,
}

#[derive(Deserialize, Serialize)]
struct Po {
    id: String,
    supplier_id: String,
    supplier: String,
    status: String,
    location: String,
    note: Option<String>,
    /// `ebay:<purchase request>` for an order an approved deal made.
    source: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize, Serialize)]
struct Line {
    line: i64,
    part_id: String,
    sku: String,
    quantity: i64,
    received: i64,
    cost_cents: i64,
}

async fn po(call: &Call, who: &Caller, id: &str) -> ApiResult<Po> {
    call.sql()?
        .first(
            "SELECT o.id, o.supplier_id, s.name AS supplier, o.status, o.location, o.note, o.source, o.created_by, o.created_at, o.updated_at
             FROM purchase_orders o JOIN suppliers s ON s.id = o.supplier_id WHERE o.id = ?1 AND o.workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("purchase order {id}")))
}

async fn lines(call: &Call, id: &str) -> ApiResult<Vec<Line>> {
    call.sql()?
        .all(
            "SELECT l.line, l.part_id, p.sku, l.quantity, l.received, l.cost_cents FROM purchase_order_lines l
             JOIN parts p ON p.id = l.part_id WHERE l.po_id = ?1 ORDER BY l.line",
            &[id.into()],
        )
        .await
}

async fn view(call: &Call, who: &Caller, id: &str) -> ApiResult<Value> {
    let o = po(call, who, id).await?;
    let lines = lines(call, id).await?;
    let total: i64 = lines.iter().map(|l| l.quantity * l.cost_cents).sum();
    let mut v = serde_json::to_value(&o).unwrap_or_default();
    v["lines"] = serde_json::to_value(&lines).unwrap_or_default();
    v["total_cents"] = total.into();
    Ok(v)
}

#[derive(Deserialize)]
struct Cost {
    cost_cents: i64,
}

/// `POST /api/v1/purchase-orders {supplier_id, location, note?, lines: [{part_id,
/// quantity, cost_cents?}]}`: 201 with the draft (a line's cost defaults to the supplier's
/// price for the part, else the part's cost).
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let d: Draft = http::read_json(&mut req).await?;
    let db = call.sql()?;
    let supplier: Option<Value> = db
        .first(
            "SELECT id FROM suppliers WHERE id = ?1 AND workspace_id = ?2",
            &[d.supplier_id.as_str().into(), who.workspace.as_str().into()],
        )
        .await?;
    supplier.ok_or_else(|| ApiError::invalid_field("supplier_id", "no such supplier"))?;
    let location = d.location.trim();
    if location.is_empty() || location.chars().count() > 60 {
        return Err(ApiError::invalid_field("location", "where the stock arrives: 1 to 60 characters"));
    }
    if d.lines.is_empty() || d.lines.len() > 200 {
        return Err(ApiError::invalid_field("lines", "an order has 1 to 200 lines"));
    }
    let id = format!("po_{}", random::id()?);
    let now = time::now_rfc3339();
    let mut statements = vec![db.statement(
        "INSERT INTO purchase_orders (id, workspace_id, supplier_id, status, location, note, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'draft', ?4, ?5, ?6, ?7, ?7)",
        &[
            id.as_str().into(),
            who.workspace.as_str().into(),
            d.supplier_id.as_str().into(),
            location.into(),
            opt(d.note.as_deref().map(|n| n.trim()).filter(|n| !n.is_empty())),
            who.id.as_str().into(),
            now.as_str().into(),
        ],
    )?];
    for (i, l) in d.lines.iter().enumerate() {
        let field = format!("lines[{i}]");
        if !(1..=100_000).contains(&l.quantity) {
            return Err(ApiError::invalid_field(&field, format!("line {}: a quantity from 1", i + 1)));
        }
        let part = store::part(call, &who, &l.part_id)
            .await
            .map_err(|_| ApiError::invalid_field(&field, format!("line {}: no part {}", i + 1, l.part_id)))?;
        let quoted: Option<Cost> = db
            .first(
                "SELECT cost_cents FROM supplier_parts WHERE supplier_id = ?1 AND part_id = ?2",
                &[d.supplier_id.as_str().into(), part.id.as_str().into()],
            )
            .await?;
        let cost = l.cost_cents.or(quoted.map(|c| c.cost_cents)).unwrap_or(part.cost_cents);
        if !(0..=noizylab_core::inventory::MAX_CENTS).contains(&cost) {
            return Err(ApiError::invalid_field(&field, format!("line {}: a unit cost is 0 to 100,000.00", i + 1)));
        }
        statements.push(db.statement(
            "INSERT INTO purchase_order_lines (po_id, line, part_id, quantity, cost_cents) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[id.as_str().into(), int(i as i64 + 1), part.id.as_str().into(), int(l.quantity), int(cost)],
        )?);
    }
    db.batch(statements).await?;
    http::created(&view(call, &who, &id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/purchase-orders[?status=]`: newest first, at most 100.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let q: ListQuery = http::query(req)?;
    const STATES: [&str; 6] = ["draft", "ordered", "partially_received", "received", "closed", "cancelled"];
    if q.status.as_deref().is_some_and(|s| !STATES.contains(&s)) {
        return Err(ApiError::invalid_field("status", format!("status is one of {}", STATES.join(", "))));
    }
    let rows: Vec<Po> = call
        .sql()?
        .all(
            "SELECT o.id, o.supplier_id, s.name AS supplier, o.status, o.location, o.note, o.source, o.created_by, o.created_at, o.updated_at
             FROM purchase_orders o JOIN suppliers s ON s.id = o.supplier_id
             WHERE o.workspace_id = ?1 AND (?2 IS NULL OR o.status = ?2) ORDER BY o.created_at DESC LIMIT 100",
            &[who.workspace.as_str().into(), opt(q.status.as_deref())],
        )
        .await?;
    http::ok(&json!({ "purchase_orders": rows }))
}

/// `GET /api/v1/purchase-orders/:id`: the order with its lines and total.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    http::ok(&view(call, &who, id).await?)
}

/// Moves the order from one of `from` to `to`; 409 naming where it is otherwise.
async fn advance(call: &Call, id: &str, from: &[&str], to: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let o = po(call, &who, id).await?;
    let placeholders = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    let changed = call
        .sql()?
        .run(
            &format!(
                "UPDATE purchase_orders SET status = ?2, updated_at = ?3 WHERE id = ?1 AND status IN ({placeholders})"
            ),
            &[id.into(), to.into(), time::now_rfc3339().as_str().into()],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::Conflict(format!(
            "the order is {}; only a {} order can become {to}",
            o.status,
            from.join(" or ")
        )));
    }
    http::ok(&view(call, &who, id).await?)
}

/// `POST /api/v1/purchase-orders/:id/order`: draft → ordered.
pub async fn order(call: &Call, id: &str) -> ApiResult<Response> {
    advance(call, id, &["draft"], "ordered").await
}

/// `POST /api/v1/purchase-orders/:id/close`: received → closed.
pub async fn close(call: &Call, id: &str) -> ApiResult<Response> {
    advance(call, id, &["received"], "closed").await
}

/// `POST /api/v1/purchase-orders/:id/cancel`: a draft or an ordered order nothing of which
/// has arrived.
pub async fn cancel(call: &Call, id: &str) -> ApiResult<Response> {
    advance(call, id, &["draft", "ordered"], "cancelled").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Receipt {
    line: i64,
    quantity: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Receive {
    lines: Vec<Receipt>,
    #[serde(default)]
    bin: Option<String>,
}

/// `POST /api/v1/purchase-orders/:id/receive {lines: [{line, quantity}], bin?}` (ordered
/// or partially received): each receipt counts on its line and enters the ledger, and the
/// part's cost becomes the weighted average of the stock on hand and the receipt, all in
/// one batch; more than a line ordered is 409 and nothing is written.
pub async fn receive(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let r: Receive = http::read_json(&mut req).await?;
    let o = po(call, &who, id).await?;
    if !matches!(o.status.as_str(), "ordered" | "partially_received") {
        return Err(ApiError::Conflict(format!("the order is {}: only an ordered one is received", o.status)));
    }
    if r.lines.is_empty() {
        return Err(ApiError::invalid_field("lines", "name the lines received"));
    }
    let current = lines(call, id).await?;
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let mut statements = Vec::new();
    for (i, rec) in r.lines.iter().enumerate() {
        let field = format!("lines[{i}]");
        let line = current
            .iter()
            .find(|l| l.line == rec.line)
            .ok_or_else(|| ApiError::invalid_field(&field, format!("the order has no line {}", rec.line)))?;
        if rec.quantity < 1 {
            return Err(ApiError::invalid_field(&field, "a quantity received is from 1"));
        }
        if line.received + rec.quantity > line.quantity {
            return Err(ApiError::Conflict(format!(
                "line {} ordered {} of {} and {} arrived already: {} more is too many",
                line.line, line.quantity, line.sku, line.received, rec.quantity
            )));
        }
        statements.push(db.statement(
            "UPDATE purchase_order_lines SET received = received + ?3 WHERE po_id = ?1 AND line = ?2",
            &[id.into(), int(line.line), int(rec.quantity)],
        )?);
        // The part's cost becomes the weighted average of what is on hand and what arrived
        // (read before the receipt enters the ledger): quotes then charge what the shop
        // really paid.
        statements.push(db.statement(
            "UPDATE parts SET updated_at = ?4, cost_cents = (
                 SELECT CAST(CASE WHEN on_hand <= 0 THEN ?3
                             ELSE (parts.cost_cents * on_hand + ?3 * ?2 + (on_hand + ?2) / 2) / (on_hand + ?2) END AS INTEGER)
                 FROM (SELECT COALESCE(SUM(quantity), 0) AS on_hand FROM stock_ledger WHERE part_id = ?1))
             WHERE id = ?1",
            &[line.part_id.as_str().into(), int(rec.quantity), int(line.cost_cents), now.as_str().into()],
        )?);
        statements.push(db.statement(
            "INSERT INTO stock_ledger (workspace_id, part_id, location, bin, kind, quantity, reserved, ticket_id, reason, actor_id, at)
             VALUES (?1, ?2, ?3, ?4, 'receive', ?5, 0, NULL, ?6, ?7, ?8)",
            &[
                who.workspace.as_str().into(),
                line.part_id.as_str().into(),
                o.location.as_str().into(),
                opt(r.bin.as_deref()),
                int(rec.quantity),
                format!("purchase order {id} line {}", line.line).as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )?);
    }
    statements.push(db.statement(
        "UPDATE purchase_orders SET updated_at = ?2,
             status = CASE WHEN (SELECT SUM(received) = SUM(quantity) FROM purchase_order_lines WHERE po_id = ?1)
                           THEN 'received' ELSE 'partially_received' END
         WHERE id = ?1",
        &[id.into(), now.as_str().into()],
    )?);
    // The lines' CHECK (received ≤ quantity) fails the whole batch on a concurrent over-receipt.
    if db.batch(statements).await.is_err() {
        return Err(ApiError::Conflict(
            "the order changed meanwhile (more than ordered would arrive); reload it".into(),
        ));
    }
    http::ok(&view(call, &who, id).await?)
}

#[derive(Deserialize)]
struct Suggestion {
    part_id: String,
    sku: String,
    reorder_point: i64,
    reorder_quantity: i64,
    available: i64,
    supplier_id: Option<String>,
    supplier: Option<String>,
    cost_cents: Option<i64>,
}

/// `GET /api/v1/purchase-orders/suggestions`: the parts at or below their reorder point,
/// each with how many to order, grouped by the supplier that sells it cheapest (parts no
/// supplier sells are listed apart).
pub async fn suggestions(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let rows: Vec<Suggestion> = call
        .sql()?
        .all(
            "SELECT p.id AS part_id, p.sku, p.reorder_point, p.reorder_quantity,
                    (SELECT COALESCE(SUM(quantity) - SUM(reserved), 0) FROM stock_ledger l WHERE l.part_id = p.id) AS available,
                    (SELECT sp.supplier_id FROM supplier_parts sp WHERE sp.part_id = p.id ORDER BY sp.cost_cents LIMIT 1) AS supplier_id,
                    (SELECT s.name FROM supplier_parts sp JOIN suppliers s ON s.id = sp.supplier_id WHERE sp.part_id = p.id
                     ORDER BY sp.cost_cents LIMIT 1) AS supplier,
                    (SELECT MIN(sp.cost_cents) FROM supplier_parts sp WHERE sp.part_id = p.id) AS cost_cents
             FROM parts p WHERE p.workspace_id = ?1 AND p.reorder_point > 0
               AND (SELECT COALESCE(SUM(quantity) - SUM(reserved), 0) FROM stock_ledger l WHERE l.part_id = p.id) <= p.reorder_point
             ORDER BY p.sku LIMIT 500",
            &[who.workspace.as_str().into()],
        )
        .await?;
    let mut groups: BTreeMap<Option<String>, (Option<String>, Vec<Value>)> = BTreeMap::new();
    for s in rows {
        let order = (s.reorder_point - s.available + s.reorder_quantity).max(s.reorder_quantity.max(1));
        let entry = groups.entry(s.supplier_id.clone()).or_insert((s.supplier.clone(), Vec::new()));
        entry.1.push(json!({ "part_id": s.part_id, "sku": s.sku, "available": s.available, "quantity": order,
                             "cost_cents": s.cost_cents }));
    }
    let list: Vec<Value> = groups
        .into_iter()
        .map(|(id, (name, lines))| json!({ "supplier_id": id, "supplier": name, "lines": lines }))
        .collect();
    http::ok(&json!({ "suggestions": list }))
}
