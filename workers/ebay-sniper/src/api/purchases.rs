//! `/api/v1/deals/:id/purchase-requests` and `/api/v1/deals/purchase-requests…`: buying a
//! deal. Staff ask (`inventory:write`); an owner or admin (`admin`) approves or rejects.
//! Nothing is bought without an approval: an approval moves the request from `pending` to
//! `approved` once, and the purchase order it makes (through `inventory`) is keyed by the
//! request, so an approval heard twice — a retry, a double click, a redelivery — buys
//! once. Every request and decision is on `main`'s audit chain.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::{AuditEntry, DealPurchase, PurchaseOrderRef};
use noizylab_core::services::{INVENTORY, MAIN};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use crate::store::{self, PurchaseRequest};

/// Writes a purchase step to the audit chain; the step stands if the chain is unreachable
/// (the failure is logged).
async fn audit(call: &Call, who: &Caller, action: &str, detail: serde_json::Value) -> ApiResult<()> {
    let entry = AuditEntry {
        action: action.into(),
        ip: None,
        actor_id: Some(who.id.clone()),
        workspace_id: Some(who.workspace.clone()),
        detail,
    };
    let body = serde_json::to_string(&entry).map_err(|e| ApiError::internal(format!("audit entry: {e}")))?;
    match call.as_service(MAIN, Method::Post, "/internal/audit", Some(body)).await {
        Ok(r) if r.status_code() == 204 => {}
        Ok(r) => call.log_warn(&format!("audit of {action} answered {}", r.status_code())),
        Err(e) => call.log_warn(&format!("audit of {action} failed: {e:?}")),
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    #[serde(default = "one")]
    quantity: i64,
    location: String,
    #[serde(default)]
    note: Option<String>,
}

fn one() -> i64 {
    1
}

fn note(n: Option<&str>) -> Option<String> {
    n.map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect())
}

/// `POST /api/v1/deals/:id/purchase-requests {quantity?, location, note?}`: 201 with the
/// pending request; 409 when the listing is no deal or already has an open request.
pub async fn ask(mut req: Request, call: &Call, deal: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryWrite).await?;
    let a: Ask = http::read_json(&mut req).await?;
    let d = store::deal(call, &who.workspace, deal).await?;
    if let Some(why) = &d.rejected {
        return Err(ApiError::Conflict(format!("this listing is no deal: {why}")));
    }
    if !(1..=1000).contains(&a.quantity) {
        return Err(ApiError::invalid_field("quantity", "1 to 1000"));
    }
    let location = a.location.trim();
    if location.is_empty() || location.chars().count() > 60 {
        return Err(ApiError::invalid_field("location", "where the stock is to arrive: 1 to 60 characters"));
    }
    let id = format!("preq_{}", random::id()?);
    let inserted = call
        .sql()?
        .run(
            "INSERT OR IGNORE INTO purchase_requests (id, workspace_id, deal_id, quantity, location, note, status,
                 requested_by, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                d.id.as_str().into(),
                int(a.quantity),
                location.into(),
                opt(note(a.note.as_deref()).as_deref()),
                who.id.as_str().into(),
                time::now_rfc3339().into(),
            ],
        )
        .await?;
    if inserted != 1 {
        return Err(ApiError::Conflict("this deal already has a purchase request pending or approved".into()));
    }
    let detail = json!({ "request": id, "deal": d.id, "listing": d.listing_id, "quantity": a.quantity,
                         "landed_cents": d.landed_cents, "currency": d.currency });
    audit(call, &who, "purchase.requested", detail).await?;
    http::created(&store::request(call, &who.workspace, &id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/deals/purchase-requests[?status=pending|approved|rejected]`: newest first.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::InventoryRead).await?;
    let q: ListQuery = http::query(req)?;
    const STATES: [&str; 3] = ["pending", "approved", "rejected"];
    if q.status.as_deref().is_some_and(|s| !STATES.contains(&s)) {
        return Err(ApiError::invalid_field("status", "status is pending, approved or rejected"));
    }
    let rows: Vec<PurchaseRequest> = call
        .sql()?
        .all(
            &format!(
                "{} WHERE workspace_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY requested_at DESC LIMIT 100",
                store::REQUEST
            ),
            &[who.workspace.as_str().into(), opt(q.status.as_deref())],
        )
        .await?;
    http::ok(&json!({ "purchase_requests": rows }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    note: Option<String>,
}

/// A decision's body: JSON, or nothing at all.
async fn decision(req: &mut Request) -> ApiResult<Decision> {
    let text = req.text().await.map_err(|_| ApiError::bad_request("the body could not be read"))?;
    if text.trim().is_empty() {
        return Ok(Decision::default());
    }
    serde_json::from_str(&text).map_err(|e| ApiError::bad_request(format!("the body does not fit: {e}")))
}

/// `POST /api/v1/deals/purchase-requests/:id/approve {note?}` (owner or admin): the
/// request approved and bought — an `ordered` purchase order to the eBay seller — in one
/// answer: 200 with the request and the order. Approving an approved request answers
/// with the order it already made; a rejected one is 409. If inventory cannot be reached
/// the approval stands and approving again places the order (502 until then).
pub async fn approve(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let body = decision(&mut req).await?;
    let r = store::request(call, &who.workspace, id).await?;
    if r.status == "rejected" {
        return Err(ApiError::Conflict("this purchase request was rejected: ask again to buy it".into()));
    }
    let now = time::now_rfc3339();
    let decided = call
        .sql()?
        .run(
            "UPDATE purchase_requests SET status = 'approved', decided_by = ?2, decided_at = ?3, decision_note = ?4
             WHERE id = ?1 AND status = 'pending'",
            &[
                r.id.as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
                opt(note(body.note.as_deref()).as_deref()),
            ],
        )
        .await?;
    let d = store::deal(call, &who.workspace, &r.deal_id).await?;
    if decided == 1 {
        let detail = json!({ "request": r.id, "deal": d.id, "listing": d.listing_id, "seller": d.seller,
                             "quantity": r.quantity, "unit_cost_cents": d.landed_cents, "currency": d.currency });
        audit(call, &who, "purchase.approved", detail).await?;
    }
    let r = store::request(call, &who.workspace, id).await?;
    let approver = r.decided_by.clone().unwrap_or_else(|| who.id.clone());
    let order = DealPurchase {
        workspace_id: who.workspace.clone(),
        request_id: r.id.clone(),
        seller: d.seller.clone(),
        listing_id: d.listing_id.clone(),
        part_id: d.part_id.clone(),
        quantity: r.quantity,
        unit_cost_cents: d.landed_cents,
        location: r.location.clone(),
        approved_by: approver,
    };
    let body = serde_json::to_string(&order).map_err(|e| ApiError::internal(format!("purchase: {e}")))?;
    let resp = call.as_service(INVENTORY, Method::Post, "/internal/purchases", Some(body)).await?;
    let po: PurchaseOrderRef = match resp.status_code() {
        200 | 201 => http::answer_json(&resp).await?,
        s => {
            call.log_warn(&format!("inventory answered {s} to the purchase of request {}", r.id));
            return Err(ApiError::BadGateway(
                "approved, but the purchase order could not be placed yet: approve again to place it".into(),
            ));
        }
    };
    call.sql()?
        .run(
            "UPDATE purchase_requests SET purchase_order_id = ?2 WHERE id = ?1 AND purchase_order_id IS NULL",
            &[r.id.as_str().into(), po.id.as_str().into()],
        )
        .await?;
    let r = store::request(call, &who.workspace, id).await?;
    http::ok(&json!({ "purchase_request": r, "purchase_order": po }))
}

/// `POST /api/v1/deals/purchase-requests/:id/reject {note}` (owner or admin): 200 with
/// the request; 409 once it is approved (the order is then cancelled in inventory).
pub async fn reject(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let body = decision(&mut req).await?;
    let why = note(body.note.as_deref()).ok_or_else(|| ApiError::invalid_field("note", "say why it is not bought"))?;
    let r = store::request(call, &who.workspace, id).await?;
    let changed = call
        .sql()?
        .run(
            "UPDATE purchase_requests SET status = 'rejected', decided_by = ?2, decided_at = ?3, decision_note = ?4
             WHERE id = ?1 AND status = 'pending'",
            &[r.id.as_str().into(), who.id.as_str().into(), time::now_rfc3339().into(), why.as_str().into()],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::Conflict(format!(
            "this purchase request is {}: only a pending one can be rejected",
            r.status
        )));
    }
    audit(call, &who, "purchase.rejected", json!({ "request": r.id, "deal": r.deal_id, "reason": why })).await?;
    http::ok(&store::request(call, &who.workspace, id).await?)
}
