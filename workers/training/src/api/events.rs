//! `POST /internal/events`: XP from real work, handed on by the orchestrator — a repair
//! passing QC the first time (its technician), a repair guide completed (who finished it),
//! a customer approving a quote (the ticket's technician). Once per event: the ledger's
//! `source` is the event's id.

use noizylab_core::events::{Envelope, GuideCompleted, QcPassed, QuoteApproved};
use noizylab_core::services::WORKFLOW_ORCHESTRATOR;
use noizylab_kit::caller::require_service;
use noizylab_kit::db::int;
use noizylab_kit::{http, time, ApiResult, Call};
use serde_json::json;
use worker::{Request, Response};

use crate::domain::{XP_GUIDE_COMPLETED, XP_QC_FIRST_PASS, XP_QUOTE_APPROVED};
use crate::store;

/// `POST /internal/events` (the orchestrator) with an [`Envelope`]: 200 `{awarded}` (0 for a
/// redelivery or an event that earns nothing).
pub async fn ingest(mut req: Request, call: &Call) -> ApiResult<Response> {
    require_service(call, WORKFLOW_ORCHESTRATOR, "only the orchestrator hands on bus events")?;
    let e: Envelope = http::read_json(&mut req).await?;
    let Some(ws) = e.workspace_id.as_deref() else {
        return http::ok(&json!({ "awarded": 0 }));
    };
    let db = call.sql()?;
    let source = format!("event:{}", e.id);
    let now = time::now_rfc3339();
    let direct = |user: &str, xp: i64, reason: String| {
        db.statement(
            store::XP_INSERT,
            &[ws.into(), user.into(), source.as_str().into(), int(xp), reason.as_str().into(), now.as_str().into()],
        )
    };
    let statement = if let Some(p) = e.payload::<QcPassed>() {
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
                    now.as_str().into(),
                ],
            )?),
            None => None,
        }
    } else {
        None
    };
    let awarded = match statement {
        Some(s) => db.batch_changes(vec![s]).await?.iter().sum(),
        None => 0,
    };
    http::ok(&json!({ "awarded": awarded }))
}
