//! `POST /internal/events`: the orchestrator hands on the new bus events of each batch it
//! takes off the queue; the ones a report counts become facts, all in one D1 batch.
//! Idempotent by the event's id, so a redelivery counts once.

use noizylab_core::contracts::BusEvents;
use noizylab_core::services::WORKFLOW_ORCHESTRATOR;
use noizylab_kit::caller::require_service;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, ApiResult, Call};
use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::{Request, Response};

use crate::domain::fact_of;
use crate::store;

/// `POST /internal/events` (the orchestrator) with [`BusEvents`]: 200 with how many facts
/// were new (0 for redeliveries and events no report counts).
pub async fn ingest(mut req: Request, call: &Call) -> ApiResult<Response> {
    require_service(call, WORKFLOW_ORCHESTRATOR, "only the orchestrator hands on bus events")?;
    let batch: BusEvents = http::read_json(&mut req).await?;
    let db = call.sql()?;
    let mut statements = Vec::new();
    for e in &batch.events {
        let Some(workspace) = e.workspace_id.as_deref() else { continue };
        for (i, f) in fact_of(e).iter().enumerate() {
            // A second fact of one event gets its own key: `<event id>#<n>`.
            let key = if i == 0 { e.id.clone() } else { format!("{}#{i}", e.id) };
            statements.push(db.statement(
                store::FACT_INSERT,
                &[
                    key.as_str().into(),
                    workspace.into(),
                    f.kind.into(),
                    e.timestamp.as_str().into(),
                    opt(e.ticket_id.as_deref()),
                    opt(f.actor.as_deref()),
                    opt(f.technician.as_deref()),
                    opt(f.stage.as_deref()),
                    f.amount.map(int).unwrap_or(JsValue::NULL),
                    f.value.map(int).unwrap_or(JsValue::NULL),
                ],
            )?);
        }
    }
    let counted: usize = if statements.is_empty() { 0 } else { db.batch_changes(statements).await?.iter().sum() };
    http::ok(&json!({ "counted": counted }))
}
