//! `/internal/tickets/:id/parts`: a ticket's parts follow its life (the orchestrator calls
//! this on the events). An approved quote reserves its catalogue parts for the ticket, at
//! the location with the most available, as far as stock allows (what is short is said);
//! READY consumes what is still reserved for the ticket (the repair used it); VOID releases
//! it. Every step is a set of conditional ledger inserts, so heard twice it moves stock once.

use noizylab_core::contracts::{PartMove, PartsMoved, PartsStep, TicketParts};
use noizylab_core::events::InventoryLowStock;
use noizylab_core::inventory::{effect, Kind};
use noizylab_core::names::is_plain_id;
use noizylab_core::services::WORKFLOW_ORCHESTRATOR;
use noizylab_kit::caller::require_service;
use noizylab_kit::db::int;
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
struct Line {
    part_id: String,
    quantity: i64,
}

#[derive(Deserialize)]
struct Held {
    part_id: String,
    location: String,
    reserved: i64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

async fn available(call: &Call, part: &str) -> ApiResult<i64> {
    Ok(store::stock(call, part).await?.iter().map(|s| s.available).sum())
}

/// `POST /internal/tickets/:id/parts` [`TicketParts`] (the orchestrator): 200 with
/// [`PartsMoved`]; 404 for a quote that is not the ticket's approved one.
pub async fn parts(mut req: Request, call: &Call, ticket: &str) -> ApiResult<Response> {
    require_service(call, WORKFLOW_ORCHESTRATOR, "only the orchestrator moves a ticket's parts")?;
    if !is_plain_id(ticket) {
        return Err(ApiError::not_found(format!("ticket {ticket}")));
    }
    let t: TicketParts = http::read_json(&mut req).await?;
    let ws = t.workspace_id.as_str();
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let row = |part: &str, location: &str, kind: &str, quantity: i64, reserved: i64, reason: &str| {
        db.statement(
            store::LEDGER_INSERT,
            &[
                ws.into(),
                part.into(),
                location.into(),
                worker::wasm_bindgen::JsValue::NULL,
                kind.into(),
                int(quantity),
                int(reserved),
                ticket.into(),
                reason.into(),
                t.by.as_str().into(),
                now.as_str().into(),
            ],
        )
    };
    let mut out = PartsMoved { moved: Vec::new(), short: Vec::new() };
    let mut statements = Vec::new();
    let mut touched: Vec<(String, i64)> = Vec::new();
    match &t.step {
        PartsStep::Reserve { quote_id } => {
            let reason = format!("quote {quote_id}");
            let done: Option<Count> = db
                .first(
                    "SELECT COUNT(*) AS n FROM stock_ledger WHERE ticket_id = ?1 AND kind = 'reserve' AND reason = ?2",
                    &[ticket.into(), reason.as_str().into()],
                )
                .await?;
            if done.is_some_and(|d| d.n > 0) {
                return http::ok(&out);
            }
            let lines: Vec<Line> = db
                .all(
                    "SELECT json_extract(p.value, '$.part_id') AS part_id, SUM(json_extract(p.value, '$.quantity')) AS quantity
                     FROM quotes q, json_each(q.inputs, '$.parts') p
                     WHERE q.id = ?1 AND q.workspace_id = ?2 AND q.ticket_id = ?3 AND q.status = 'approved'
                       AND json_extract(p.value, '$.part_id') IS NOT NULL
                     GROUP BY 1",
                    &[quote_id.as_str().into(), ws.into(), ticket.into()],
                )
                .await?;
            for l in lines {
                if store::part_in(call, ws, &l.part_id).await.is_err() {
                    continue;
                }
                let best = store::stock(call, &l.part_id).await?.into_iter().max_by_key(|s| s.available);
                let (location, have) = best.map(|s| (Some(s.location), s.available)).unwrap_or((None, 0));
                let take = l.quantity.min(have).max(0);
                if let (Some(loc), true) = (&location, take > 0) {
                    let (dq, dr) = effect(Kind::Reserve, take);
                    statements.push(row(&l.part_id, loc, "reserve", dq, dr, &reason)?);
                    out.moved.push(PartMove { part_id: l.part_id.clone(), location: location.clone(), quantity: take });
                }
                if take < l.quantity {
                    out.short.push(PartMove { part_id: l.part_id.clone(), location, quantity: l.quantity - take });
                }
                touched.push((l.part_id.clone(), available(call, &l.part_id).await?));
            }
        }
        PartsStep::Consume | PartsStep::Release => {
            let (kind, name, reason) = match t.step {
                PartsStep::Consume => (Kind::Consume, "consume", "the repair is done"),
                _ => (Kind::Release, "release", "the ticket was voided"),
            };
            let held: Vec<Held> = db
                .all(
                    "SELECT part_id, location, SUM(reserved) AS reserved FROM stock_ledger
                     WHERE ticket_id = ?1 AND workspace_id = ?2 GROUP BY part_id, location HAVING SUM(reserved) > 0",
                    &[ticket.into(), ws.into()],
                )
                .await?;
            for h in held {
                let (dq, dr) = effect(kind, h.reserved);
                statements.push(row(&h.part_id, &h.location, name, dq, dr, reason)?);
                out.moved.push(PartMove {
                    part_id: h.part_id.clone(),
                    location: Some(h.location),
                    quantity: h.reserved,
                });
            }
        }
    }
    if !statements.is_empty() {
        let changes = db.batch_changes(statements).await?;
        // A row a concurrent step already made is not made again: keep what landed.
        let landed: Vec<bool> = changes.iter().map(|c| *c == 1).collect();
        let mut i = 0;
        out.moved.retain(|_| {
            let keep = landed.get(i).copied().unwrap_or(false);
            i += 1;
            keep
        });
    }
    // Reserving can take a part to its reorder point: the sourcing flow starts there.
    for (part, before) in touched {
        let p = store::part_in(call, ws, &part).await?;
        let after = available(call, &part).await?;
        if p.reorder_point > 0 && before > p.reorder_point && after <= p.reorder_point {
            let about = About { workspace: Some(ws), device: None, ticket: Some(ticket) };
            let low = InventoryLowStock { part_id: part.clone(), on_hand: after, reorder_point: p.reorder_point };
            events::publish(call, about, &low).await?;
        }
    }
    http::ok(&out)
}
