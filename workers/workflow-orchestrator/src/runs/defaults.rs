//! The seed's two data flows, shipped as every workspace's default workflows: put into a
//! workspace once (`workflow_defaults` remembers, so a shop that disables or edits one
//! keeps its choice), authored by the workspace's first owner, whose rights their actions
//! use until a manager decides a task.
//!
//! - **Parts sourcing** (enabled): low stock → eBay searched for the part → a manager
//!   decides on the best deal (how many to buy) → the purchase request made and approved
//!   → inventory places the order. (Deals are ranked by the hunter's score.)
//! - **Repair intake** (installed disabled: quoting by itself is the shop's call): a board
//!   photo on a ticket → vision against the model's golden reference (skipped if there is
//!   none) → the ticket moved to triage and diagnostics (skipped if staff moved it
//!   already) → brain diagnoses the device → pricing issues the quote, which the customer
//!   hears of (the hub's `quote.issued` email) and approves in the portal; the approval
//!   reserves the parts and moves the ticket on. A failed diagnosis or quote asks the
//!   admins whether to retry.

use noizylab_core::workflows::Definition;
use noizylab_kit::{time, ApiResult, Call, OrInternal};
use serde_json::{json, Value};

pub const PARTS_SOURCING: &str = "Parts sourcing";
pub const REPAIR_INTAKE: &str = "Repair intake";

/// The events that start a default workflow.
pub const TRIGGERS: [&str; 2] = ["inventory.low_stock", "ticket.attachment_added"];

pub fn parts_sourcing() -> Value {
    json!({
        "name": PARTS_SOURCING,
        "description": "Low stock: eBay is searched for the part; a manager decides on the best deal; it is bought.",
        "trigger": { "type": "event", "event": "inventory.low_stock" },
        "start": "hunt",
        "steps": [
            { "id": "hunt", "type": "action", "action": "ebay.hunt",
              "input": { "part_id": "{{event.data.part_id}}" }, "next": "any_deal" },
            { "id": "any_deal", "type": "condition", "expression": "steps.hunt.deals > 0", "then": "approve" },
            { "id": "approve", "type": "human_task", "title": "Buy the best eBay deal for a part that ran low?",
              "assignee": { "type": "role", "role": "admin" }, "escalate_to": { "type": "role", "role": "owner" },
              "timeout_hours": 24,
              "fields": [{ "name": "quantity", "label": "How many to buy", "kind": "number", "required": true }],
              "approved": "request" },
            { "id": "request", "type": "action", "action": "ebay.request_purchase",
              "input": { "deal_id": "{{steps.hunt.best_deal}}", "quantity": "{{steps.approve.answers.quantity}}",
                         "location": "main", "note": "Parts sourcing workflow" },
              "next": "buy" },
            { "id": "buy", "type": "action", "action": "ebay.approve_purchase",
              "input": { "request_id": "{{steps.request.id}}" } }
        ]
    })
}

pub fn repair_intake() -> Value {
    json!({
        "name": REPAIR_INTAKE,
        "description": "A board photo on a ticket: vision compares it with the model's reference, brain diagnoses, pricing quotes.",
        "trigger": { "type": "event", "event": "ticket.attachment_added",
                     "filter": "event.data.content_type == \"image/jpeg\" || event.data.content_type == \"image/png\"" },
        "start": "look",
        "steps": [
            { "id": "look", "type": "action", "action": "vision.analyze",
              "input": { "attachment_id": "{{event.data.attachment_id}}" }, "next": "to_triage", "on_failure": "skip" },
            { "id": "to_triage", "type": "action", "action": "ticket.move",
              "input": { "ticket_id": "{{event.ticket_id}}", "to": "TRIAGE", "note": "Photo analysed by the intake workflow" },
              "next": "to_diagnostics", "on_failure": "skip" },
            { "id": "to_diagnostics", "type": "action", "action": "ticket.move",
              "input": { "ticket_id": "{{event.ticket_id}}", "to": "DIAGNOSTICS" },
              "next": "scan", "on_failure": "skip" },
            { "id": "scan", "type": "action", "action": "brain.diagnose",
              "input": { "device_id": "{{event.device_id}}" }, "next": "quote", "on_failure": "ask" },
            { "id": "quote", "type": "action", "action": "pricing.quote",
              "input": { "ticket_id": "{{event.ticket_id}}", "diagnostic_id": "{{steps.scan.scan_id}}" },
              "on_failure": "ask" }
        ]
    })
}

/// Puts the defaults into `workspace` if they never were. A workspace with no owner yet
/// gets them later.
pub async fn ensure(call: &Call, workspace: &str) -> ApiResult<()> {
    let db = call.sql()?;
    for (value, enabled) in [(parts_sourcing(), 1), (repair_intake(), 0)] {
        let d: Definition = serde_json::from_value(value).or_internal("default workflow")?;
        let d = d.checked().map_err(|e| noizylab_kit::ApiError::internal(format!("{}: {}", e.field, e.message)))?;
        let text = serde_json::to_string(&d).or_internal("default workflow")?;
        let id =
            format!("wf_{}", &noizylab_core::auth::sha256_hex(format!("{workspace}\n{}", d.name).as_bytes())[..20]);
        let event = match &d.trigger {
            noizylab_core::workflows::Trigger::Event { event, .. } => Some(event.clone()),
            _ => None,
        };
        let now = time::now_rfc3339();
        let owner = "(SELECT user_id FROM memberships WHERE workspace_id = ?1 AND role = 'owner'
                      ORDER BY created_at, user_id LIMIT 1)";
        db.batch(vec![
            db.statement(
                &format!(
                    "INSERT OR IGNORE INTO workflow_defaults (workspace_id, name, installed_at)
                     SELECT ?1, ?2, ?3 WHERE {owner} IS NOT NULL"
                ),
                &[workspace.into(), d.name.as_str().into(), now.as_str().into()],
            )?,
            db.statement(
                &format!(
                    "INSERT OR IGNORE INTO workflows (id, workspace_id, name, version, enabled, trigger_type,
                         trigger_event, created_by, created_at, updated_at)
                     SELECT ?4, ?1, ?2, 1, ?5, 'event', ?6, {owner}, ?3, ?3 WHERE changes() = 1"
                ),
                &[
                    workspace.into(),
                    d.name.as_str().into(),
                    now.as_str().into(),
                    id.as_str().into(),
                    enabled.into(),
                    noizylab_kit::db::opt(event.as_deref()),
                ],
            )?,
            db.statement(
                &format!(
                    "INSERT OR IGNORE INTO workflow_versions (workflow_id, version, definition, created_by, created_at)
                     SELECT ?4, 1, ?5, {owner}, ?3 WHERE changes() = 1"
                ),
                &[workspace.into(), d.name.as_str().into(), now.as_str().into(), id.as_str().into(), text.into()],
            )?,
        ])
        .await?;
    }
    Ok(())
}
