//! `/api/v1/inventory…`: the stock ledger. Every movement is a row (receive, reserve for a
//! ticket, consume on a ticket, release, adjust with a reason, transfer); on hand, reserved
//! and available are sums of it. A movement lands only if, after it, nothing is negative —
//! checked by the insert itself, so two technicians taking the last unit at once cannot
//! both get it (one gets a 409). Crossing a part's reorder point puts
//! `inventory.low_stock` on the bus.

use noizylab_core::auth::Scope;
use noizylab_core::events::InventoryLowStock;
use noizylab_core::inventory::{effect, Kind};
use noizylab_core::names::is_plain_id;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use crate::barcodes;
use crate::store::{self, Part, PART_COLUMNS};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Movement {
    part_id: String,
    kind: Kind,
    quantity: i64,
    location: String,
    #[serde(default)]
    bin: Option<String>,
    #[serde(default)]
    ticket_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// Where a transfer goes.
    #[serde(default)]
    to_location: Option<String>,
}

fn place(field: &str, v: &str) -> ApiResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 60 {
        return Err(ApiError::invalid_field(field, format!("{field} is 1 to 60 characters")));
    }
    Ok(v.to_owned())
}

#[derive(Deserialize)]
struct TicketRow {
    status: String,
}

async fn available(call: &Call, part: &str) -> ApiResult<i64> {
    Ok(store::stock(call, part).await?.iter().map(|s| s.available).sum())
}

/// `POST /api/v1/inventory/movements {part_id, kind, quantity, location, bin?, ticket_id?,
/// reason?, to_location?}` (staff, `inventory:write`): 201 with the part's stock after it;
/// 409 naming what is short.
pub async fn movement(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let m: Movement = http::read_json(&mut req).await?;
    let part =
        store::part(call, &who, &m.part_id).await.map_err(|_| ApiError::invalid_field("part_id", "no such part"))?;
    let location = place("location", &m.location)?;
    let bin = m.bin.as_deref().map(|b| place("bin", b)).transpose()?;
    let signed = m.kind == Kind::Adjust;
    if (signed && m.quantity == 0) || (!signed && m.quantity < 1) || m.quantity.abs() > 100_000 {
        let why = if signed {
            "an adjustment is a non-zero count (negative to remove)"
        } else {
            "quantity is a whole number from 1"
        };
        return Err(ApiError::invalid_field("quantity", why));
    }
    let needs_ticket = matches!(m.kind, Kind::Reserve | Kind::Consume | Kind::Release);
    let ticket = match (&m.ticket_id, needs_ticket) {
        (Some(t), true) => {
            let found: Option<TicketRow> = if is_plain_id(t) {
                call.sql()?
                    .first(
                        "SELECT status FROM tickets WHERE id = ?1 AND workspace_id = ?2",
                        &[t.as_str().into(), who.workspace.as_str().into()],
                    )
                    .await?
            } else {
                None
            };
            let found = found.ok_or_else(|| ApiError::invalid_field("ticket_id", "no such ticket"))?;
            if m.kind == Kind::Reserve && matches!(found.status.as_str(), "PICKED_UP" | "CLOSED" | "VOID") {
                return Err(ApiError::Conflict(format!(
                    "the ticket is {}: nothing more is reserved for it",
                    found.status
                )));
            }
            Some(t.clone())
        }
        (None, true) => {
            return Err(ApiError::invalid_field("ticket_id", "reserve, consume and release are for a ticket"))
        }
        (Some(_), false) => {
            return Err(ApiError::invalid_field("ticket_id", "only reserve, consume and release name a ticket"))
        }
        (None, false) => None,
    };
    let reason =
        m.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(|r| r.chars().take(300).collect::<String>());
    if m.kind == Kind::Adjust && reason.is_none() {
        return Err(ApiError::invalid_field("reason", "say why the count changed (damaged, counted, found …)"));
    }
    let to = match (m.kind, m.to_location.as_deref()) {
        (Kind::Transfer, Some(t)) => {
            let t = place("to_location", t)?;
            if t == location {
                return Err(ApiError::invalid_field("to_location", "a transfer goes to another location"));
            }
            Some(t)
        }
        (Kind::Transfer, None) => return Err(ApiError::invalid_field("to_location", "a transfer names where it goes")),
        (_, Some(_)) => return Err(ApiError::invalid_field("to_location", "only a transfer goes somewhere")),
        (_, None) => None,
    };
    let before = available(call, &part.id).await?;
    let (dq, dr) = effect(m.kind, m.quantity);
    let kind = match m.kind {
        Kind::Receive => "receive",
        Kind::Reserve => "reserve",
        Kind::Consume => "consume",
        Kind::Release => "release",
        Kind::Adjust => "adjust",
        Kind::Transfer => "transfer_out",
    };
    let now = time::now_rfc3339();
    let db = call.sql()?;
    let row = |kind: &str, location: &str, dq: i64, dr: i64| {
        db.statement(
            store::LEDGER_INSERT,
            &[
                who.workspace.as_str().into(),
                part.id.as_str().into(),
                location.into(),
                opt(bin.as_deref()),
                kind.into(),
                int(dq),
                int(dr),
                opt(ticket.as_deref()),
                opt(reason.as_deref()),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
    };
    let mut statements = vec![row(kind, &location, dq, dr)?];
    if let Some(to) = &to {
        // Lands only with the outgoing half (`changes()` reads the insert before it).
        statements.push(db.statement(
            "INSERT INTO stock_ledger (workspace_id, part_id, location, bin, kind, quantity, reserved, ticket_id, reason, actor_id, at)
             SELECT ?1, ?2, ?3, NULL, 'transfer_in', ?4, 0, NULL, ?5, ?6, ?7 WHERE changes() = 1",
            &[
                who.workspace.as_str().into(),
                part.id.as_str().into(),
                to.as_str().into(),
                int(m.quantity),
                opt(reason.as_deref()),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )?);
    }
    let changes = db.batch_changes(statements).await?;
    if changes.first() != Some(&1) {
        let short = match m.kind {
            Kind::Consume | Kind::Release => format!(
                "the ticket has fewer than {} of {} reserved at {location}: reserve first",
                m.quantity, part.sku
            ),
            _ => format!("not enough {} available at {location} for that", part.sku),
        };
        return Err(ApiError::Conflict(short));
    }
    let after = available(call, &part.id).await?;
    if part.reorder_point > 0 && before > part.reorder_point && after <= part.reorder_point {
        let about = About { workspace: Some(&who.workspace), device: None, ticket: ticket.as_deref() };
        let low = InventoryLowStock { part_id: part.id.clone(), on_hand: after, reorder_point: part.reorder_point };
        events::publish(call, about, &low).await?;
    }
    let mut view = store::view(call, &part).await?;
    view["movement"] = json!({ "kind": m.kind, "quantity": m.quantity, "location": location, "to_location": to,
                               "ticket_id": ticket, "at": now });
    http::created(&view)
}

#[derive(Deserialize, Serialize)]
struct Entry {
    seq: i64,
    part_id: String,
    location: String,
    bin: Option<String>,
    kind: String,
    quantity: i64,
    reserved: i64,
    ticket_id: Option<String>,
    reason: Option<String>,
    actor_id: String,
    at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    #[serde(default)]
    part_id: Option<String>,
    #[serde(default)]
    ticket_id: Option<String>,
}

/// `GET /api/v1/inventory/ledger?part_id=&ticket_id=` (staff): the movements, newest first
/// (at most 500).
pub async fn ledger(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let q: LedgerQuery = http::query(req)?;
    let rows: Vec<Entry> = call
        .sql()?
        .all(
            "SELECT seq, part_id, location, bin, kind, quantity, reserved, ticket_id, reason, actor_id, at FROM stock_ledger
             WHERE workspace_id = ?1 AND (?2 IS NULL OR part_id = ?2) AND (?3 IS NULL OR ticket_id = ?3)
             ORDER BY seq DESC LIMIT 500",
            &[who.workspace.as_str().into(), opt(q.part_id.as_deref()), opt(q.ticket_id.as_deref())],
        )
        .await?;
    http::ok(&json!({ "entries": rows }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scan {
    code: String,
}

#[derive(Deserialize)]
struct Owner {
    part_id: String,
}

/// The largest photo a scan takes.
const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// `POST /api/v1/inventory/scan` (staff): with a photo as the body (PNG or JPEG), the
/// barcodes and QR codes in it are read here; with `{code}`, the decoded text is given.
/// 200 with the part the first code (or SKU) names and what was read; 404 naming the
/// codes read when no part has them; 422 when the photo holds no readable code.
pub async fn scan(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let json = req.headers().get("content-type").ok().flatten().is_some_and(|t| t.starts_with("application/json"));
    let read: Vec<barcodes::Code> = if json {
        let s: Scan = http::read_json(&mut req).await?;
        let code = s.code.trim();
        if code.is_empty() || code.len() > 128 {
            return Err(ApiError::invalid_field("code", "the code read is 1 to 128 characters"));
        }
        vec![barcodes::Code { format: "TEXT".into(), text: code.to_owned() }]
    } else {
        let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the photo could not be read"))?;
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(ApiError::PayloadTooLarge { limit: MAX_PHOTO_BYTES as u64 });
        }
        barcodes::read(&bytes).map_err(|why| match why {
            barcodes::Unreadable::NotAnImage => ApiError::UnsupportedMediaType(
                "send a photo of the code (PNG or JPEG), or {\"code\": \"…\"} as JSON".into(),
            ),
            barcodes::Unreadable::Photo(why) => ApiError::Unprocessable(why),
            barcodes::Unreadable::NoCode => ApiError::Unprocessable(
                "no barcode or QR code could be read in the photo: fill the frame with the code, flat and in focus"
                    .into(),
            ),
        })?
    };
    for code in &read {
        let owner: Option<Owner> = call
            .sql()?
            .first(
                "SELECT part_id FROM part_codes WHERE workspace_id = ?1 AND code = ?2
                 UNION ALL SELECT id AS part_id FROM parts WHERE workspace_id = ?1 AND sku = ?2 LIMIT 1",
                &[who.workspace.as_str().into(), code.text.as_str().into()],
            )
            .await?;
        if let Some(owner) = owner {
            let p = store::part(call, &who, &owner.part_id).await?;
            let mut v = store::view(call, &p).await?;
            v["read"] = serde_json::to_value(&read).unwrap_or_default();
            return http::ok(&v);
        }
    }
    let texts: Vec<&str> = read.iter().map(|c| c.text.as_str()).collect();
    Err(ApiError::not_found(format!("a part with code {}", texts.join(" or "))))
}

/// `GET /api/v1/inventory/low-stock` (staff): parts at or below their reorder point, with
/// how many to order.
pub async fn low(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let rows: Vec<Part> = call
        .sql()?
        .all(
            &format!(
                "SELECT {PART_COLUMNS} FROM parts p WHERE workspace_id = ?1 AND reorder_point > 0
                   AND (SELECT COALESCE(SUM(quantity) - SUM(reserved), 0) FROM stock_ledger l WHERE l.part_id = p.id)
                       <= reorder_point
                 ORDER BY sku LIMIT 200"
            ),
            &[who.workspace.as_str().into()],
        )
        .await?;
    let mut parts = Vec::with_capacity(rows.len());
    for p in &rows {
        let mut v = store::view(call, p).await?;
        let available = v["available"].as_i64().unwrap_or(0);
        let order = (p.reorder_point - available + p.reorder_quantity).max(p.reorder_quantity);
        v["suggested_order"] = order.into();
        parts.push(v);
    }
    http::ok(&json!({ "parts": parts }))
}
