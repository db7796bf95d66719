//! `POST /internal/events`: XP from real work, handed on by the orchestrator a batch at a
//! time — a repair passing QC the first time (its technician), a repair guide completed
//! (who finished it), a customer approving a quote (the ticket's technician). Once per
//! event: the ledger's `source` is the event's id.

use noizylab_core::contracts::BusEvents;
use noizylab_core::events::{Envelope, GuideCompleted, QcPassed, QuoteApproved};
use noizylab_core::services::WORKFLOW_ORCHESTRATOR;
use noizylab_kit::caller::require_service;
use noizylab_kit::db::{int, Db};
use noizylab_kit::{http, time, ApiResult, Call};
use serde_json::json;
use worker::{D1PreparedStatement, Request, Response};

use crate::domain::{XP_GUIDE_COMPLETED, XP_QC_FIRST_PASS, XP_QUOTE_APPROVED};
use crate::store;

/// `POST /internal/events` (the orchestrator) with [`BusEvents`]: 200 `{awarded}` (0 for
/// redeliveries and events that earn nothing), the batch's XP written in one D1 batch.
pub async fn ingest(mut req: Request, call: &Call) -> ApiResult<Response> {
    require_service(call, WORKFLOW_ORCHESTRATOR, "only the orchestrator hands on bus events")?;
    let batch: BusEvents = http::read_json(&mut req).await?;
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let mut statements = Vec::new();
    for e in &batch.events {
        if let Some(s) = award(&db, e, &now)? {
            statements.push(s);
        }
    }
    let awarded = if statements.is_empty() { 0 } else { db.batch_changes(statements).await?.iter().sum() };
    http::ok(&json!({ "awarded": awarded }))
}

/// The XP `e` earns, as a statement that writes it once (`None`: it earns nothing).
fn award(db: &Db, e: &Envelope, now: &str) -> ApiResult<Option<D1PreparedStatement>> {
    let Some(ws) = e.workspace_id.as_deref() else {
        return Ok(None);
    };
    let source = format!("event:{}", e.id);
    let direct = |user: &str, xp: i64, reason: String| {
        db.statement(
            store::XP_INSERT,
            &[ws.into(), user.into(), source.as_str().into(), int(xp), reason.as_str().into(), now.into()],
        )
    };
    Ok(if let Some(p) = e.payload::<QcPassed>() {
        match (p.attempt, p.technician_id.as_deref()) {
            (1, Some(tech)) => Some(direct(tech, XP_QC_FIRST_PASS, "a repair passed QC the first time".into())?),
            _ => None,
        }
    } else if let Some(p) = e.payload::<GuideCompleted>() {
        Some(direct(&p.technician_id, XP_GUIDE_COMPLETED, format!("finished the guide {}", p.title))?)
    } else if e.is::<QuoteApproved>() {
        match e.ticket_id.as_deref() {
            Some(ticket) => Some(db.statement(
                store::XP_TO_ASSIGNEE,
                &[
                    ws.into(),
                    ticket.into(),
                    source.as_str().into(),
                    int(XP_QUOTE_APPROVED),
                    "a customer approved the quote".into(),
                    now.into(),
                ],
            )?),
            None => None,
        }
    } else {
        None
    })
}
