//! `/api/v1/guides/:id/progress`: which step each technician is on for a ticket, and who
//! completed the guide (`guide.completed` on the bus, which training rewards).

use noizylab_core::auth::Scope;
use noizylab_core::events::GuideCompleted;
use noizylab_core::names::is_plain_id;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    ticket_id: String,
    step: i64,
    #[serde(default)]
    completed: bool,
}

#[derive(Deserialize)]
struct TicketRow {
    status: String,
}

#[derive(Deserialize, Serialize)]
struct Row {
    technician_id: String,
    name: Option<String>,
    version: i64,
    step: i64,
    started_at: String,
    updated_at: String,
    completed_at: Option<String>,
}

#[derive(Deserialize)]
struct Existing {
    version: i64,
    completed_at: Option<String>,
}

/// `PUT /api/v1/guides/:id/progress {ticket_id, step, completed?}` (staff): the caller is
/// on `step` of the guide for the ticket (on the version they started with); `completed`
/// on the last step finishes it. 200 with the ticket's progress.
pub async fn record(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let me = who.person(call).await?.to_owned();
    let body: Body = http::read_json(&mut req).await?;
    let g = store::guide(call, &who, id).await?;
    let ticket: Option<TicketRow> = if is_plain_id(&body.ticket_id) {
        call.sql()?
            .first(
                "SELECT status FROM tickets WHERE id = ?1 AND workspace_id = ?2",
                &[body.ticket_id.as_str().into(), who.workspace.as_str().into()],
            )
            .await?
    } else {
        None
    };
    let ticket = ticket.ok_or_else(|| ApiError::invalid_field("ticket_id", "no such ticket"))?;
    if matches!(ticket.status.as_str(), "PICKED_UP" | "CLOSED" | "VOID") {
        return Err(ApiError::Conflict(format!("the ticket is {}: its work is over", ticket.status)));
    }
    let db = call.sql()?;
    let existing: Option<Existing> = db
        .first(
            "SELECT version, completed_at FROM guide_progress WHERE guide_id = ?1 AND ticket_id = ?2 AND technician_id = ?3",
            &[id.into(), body.ticket_id.as_str().into(), me.as_str().into()],
        )
        .await?;
    if existing.as_ref().is_some_and(|e| e.completed_at.is_some()) {
        return Err(ApiError::Conflict("you completed this guide on this ticket already".into()));
    }
    let version = existing.as_ref().map_or(g.version, |e| e.version);
    let steps = store::version(call, id, version).await?.steps()?.len() as i64;
    if !(1..=steps).contains(&body.step) {
        return Err(ApiError::invalid_field("step", format!("step is 1 to {steps}")));
    }
    if body.completed && body.step != steps {
        return Err(ApiError::invalid_field("completed", format!("a guide is completed on its last step, {steps}")));
    }
    let now = time::now_rfc3339();
    let done = body.completed.then_some(now.as_str());
    db.run(
        "INSERT INTO guide_progress (guide_id, ticket_id, technician_id, version, step, started_at, updated_at, completed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
         ON CONFLICT (guide_id, ticket_id, technician_id) DO UPDATE SET step = excluded.step,
             updated_at = excluded.updated_at, completed_at = excluded.completed_at
         WHERE guide_progress.completed_at IS NULL",
        &[id.into(), body.ticket_id.as_str().into(), me.as_str().into(), int(version), int(body.step), now.as_str().into(), opt(done)],
    )
    .await?;
    if body.completed {
        let about = About { workspace: Some(&who.workspace), device: None, ticket: Some(&body.ticket_id) };
        let e = GuideCompleted { guide_id: g.id.clone(), version, technician_id: me.clone(), title: g.title.clone() };
        events::publish(call, about, &e).await?;
    }
    progress_of(call, id, &body.ticket_id).await
}

async fn progress_of(call: &Call, id: &str, ticket: &str) -> ApiResult<Response> {
    let rows: Vec<Row> = call
        .sql()?
        .all(
            "SELECT p.technician_id, u.name, p.version, p.step, p.started_at, p.updated_at, p.completed_at
             FROM guide_progress p LEFT JOIN users u ON u.id = p.technician_id
             WHERE p.guide_id = ?1 AND p.ticket_id = ?2 ORDER BY p.started_at",
            &[id.into(), ticket.into()],
        )
        .await?;
    http::ok(&json!({ "guide_id": id, "ticket_id": ticket, "technicians": rows }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    ticket_id: String,
}

/// `GET /api/v1/guides/:id/progress?ticket_id=` (staff).
pub async fn show(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: Query = http::query(req)?;
    store::guide(call, &who, id).await?;
    progress_of(call, id, &q.ticket_id).await
}
