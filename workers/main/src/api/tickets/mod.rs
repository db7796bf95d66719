//! `/api/v1/tickets…`: repair tickets and their lifecycle (`noizylab_core::tickets`).
//!
//! Customers open tickets for their own devices and see only their own tickets, and on
//! them only customer-visible entries; staff see and work the whole workspace's. Every
//! change is a timeline entry (actor, time, from, to, note) and an event on the bus.
//! Moves the quote flow owns (AWAITING_APPROVAL, APPROVED, a decline back to
//! DIAGNOSTICS) come from `noizylab-pricing` through `/internal/tickets/…`; QC → READY
//! only from a passed inspection of `noizylab-qc-inspector`, which also sends a failed one
//! back to IN_REPAIR with its rework list.

use noizylab_core::auth::Role;
use noizylab_core::auth::Scope;
use noizylab_core::contracts::{QcMove, QuoteMove, QuoteStep, TicketFacts};
use noizylab_core::events::{
    Payload, TicketAssigned, TicketAttachmentAdded, TicketCreated, TicketMessageAdded, TicketStatusChanged,
    TicketUpdated,
};
use noizylab_core::tickets::{self, Priority, Status};
use noizylab_kit::call::now_secs;
use noizylab_kit::db::{int, json_object, opt, rows, Filter};
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::wasm_bindgen::JsValue;
use worker::{Headers, Method, Request, Response};

use crate::idempotency::{self, Claim};
use crate::store::{self, load_ticket as load, Ticket, TICKET_COLUMNS as COLUMNS};
use noizylab_core::services;
use noizylab_kit::caller::{self, Caller};

pub mod replies;

/// Intake photos and documents: 10 MiB each (the gateway's body cap).
const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
const MAX_TITLE_CHARS: usize = 120;
const MAX_TEXT_CHARS: usize = 5000;

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    use Method::{Get, Patch, Post};
    match (req.method(), rest) {
        (Post, []) => open(req, call).await,
        (Get, []) => list(&req, call).await,
        (Get, ["board"]) => board(call).await,
        (Get, [id]) => show(call, id).await,
        (Patch, [id]) => update(req, call, id).await,
        (Post, [id, "status"]) => change_status(req, call, id).await,
        (Post, [id, "notes"]) => add_entry(req, call, id, Visibility::Internal).await,
        (Post, [id, "messages"]) => add_entry(req, call, id, Visibility::Customer).await,
        (Post, [id, "timer", "start"]) => timer(call, id, true).await,
        (Post, [id, "timer", "stop"]) => timer(call, id, false).await,
        (Post, [id, "attachments"]) => attach(req, call, id).await,
        (Get, [id, "attachments", attachment]) => download(call, id, attachment).await,
        (_, []) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["board"] | [_, "attachments", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, [_]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PATCH"] }),
        (_, [_, "status" | "notes" | "messages" | "attachments"] | [_, "timer", "start" | "stop"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        _ => Err(http::no_route(&req)),
    }
}

/// `/internal/tickets/:id/…`: the quote flow, called by `noizylab-pricing` only, and the
/// end of an inspection, by `noizylab-qc-inspector` only.
pub async fn internal(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    if let (Method::Post, [id, "qc"]) = (req.method(), rest) {
        caller::require_service(call, services::QC_INSPECTOR, "only the QC inspector ends an inspection")?;
        return qc_event(req, call, id).await;
    }
    caller::require_service(call, services::PRICING, "only the pricing service drives quote moves")?;
    match (req.method(), rest) {
        (Method::Get, [id]) => internal_view(call, id).await,
        (Method::Post, [id, "quote"]) => quote_event(req, call, id).await,
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Deserialize)]
struct Email {
    email: String,
}

/// A customer's emailed reply (`replies`) as a customer-visible message on the ticket,
/// written as the customer: 404 without the ticket, 403 unless `sender` is its customer.
pub async fn email_reply(call: &Call, id: &str, sender: &str, reply: &str) -> ApiResult<serde_json::Value> {
    let ticket = load(call, id).await?;
    let customer: Option<Email> =
        call.sql()?.first("SELECT email FROM users WHERE id = ?1", &[ticket.customer_id.as_str().into()]).await?;
    if !customer.is_some_and(|c| c.email.eq_ignore_ascii_case(sender.trim())) {
        return Err(ApiError::Forbidden("the sender is not this ticket's customer".into()));
    }
    let note = text("text", reply, MAX_TEXT_CHARS)?;
    let now = time::now_rfc3339();
    record_message(call, &ticket, &ticket.customer_id, &note, Visibility::Customer, &now, Some("email")).await?;
    Ok(json!({ "ticket_id": id, "kind": "message", "body": note, "at": now, "visibility": "customer" }))
}

/// Writes a note or message to the ticket's timeline (touching the ticket) and announces
/// it on the bus.
async fn record_message(
    call: &Call,
    ticket: &Ticket,
    actor: &str,
    note: &str,
    visibility: Visibility,
    now: &str,
    via: Option<&str>,
) -> ApiResult<()> {
    let kind = if visibility == Visibility::Internal { "note" } else { "message" };
    let e = NewEntry { kind, from: None, to: None, body: Some(note), visibility };
    let db = call.sql()?;
    let touch =
        db.statement("UPDATE tickets SET updated_at = ?2 WHERE id = ?1", &[ticket.id.as_str().into(), now.into()])?;
    db.batch(vec![entry_statement(call, &ticket.id, actor, now, &e)?, touch]).await?;
    let added = TicketMessageAdded {
        visibility: visibility.as_str().to_owned(),
        by: actor.to_owned(),
        customer_id: ticket.customer_id.clone(),
        via: via.map(str::to_owned),
    };
    publish(call, ticket, &added).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visibility {
    Internal,
    Customer,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Internal => "internal",
            Visibility::Customer => "customer",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    seq: i64,
    at: String,
    actor_id: String,
    kind: String,
    from_status: Option<String>,
    to_status: Option<String>,
    body: Option<String>,
    visibility: String,
}

fn status_of(t: &Ticket) -> ApiResult<Status> {
    Status::parse(&t.status).ok_or_else(|| ApiError::internal(format!("ticket {} has status {}", t.id, t.status)))
}

/// A text field: trimmed, 1..=`max` characters, no control characters but newlines.
fn text(field: &str, raw: &str, max: usize) -> ApiResult<String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::invalid_field(field, format!("{field} is 1 to {max} characters of text")));
    }
    Ok(v.to_owned())
}

/// A due date (`noizylab_core::tickets::parse_due`), or 400.
fn due(raw: &str) -> ApiResult<String> {
    noizylab_core::tickets::parse_due(raw)
        .ok_or_else(|| ApiError::invalid_field("due_at", "due_at is a date (2026-12-01) or an RFC 3339 time"))
}

struct NewEntry<'a> {
    kind: &'a str,
    from: Option<Status>,
    to: Option<Status>,
    body: Option<&'a str>,
    visibility: Visibility,
}

fn entry_statement(
    call: &Call,
    ticket: &str,
    actor: &str,
    at: &str,
    e: &NewEntry<'_>,
) -> ApiResult<worker::D1PreparedStatement> {
    entry_with(call, ENTRY, ticket, actor, at, e)
}

/// [`entry_statement`] for the batch right after an `UPDATE`: inserts only if that update
/// changed a row (`changes()` reads the statement before it in the same transaction).
fn guarded_entry_statement(
    call: &Call,
    ticket: &str,
    actor: &str,
    at: &str,
    e: &NewEntry<'_>,
) -> ApiResult<worker::D1PreparedStatement> {
    entry_with(call, GUARDED_ENTRY, ticket, actor, at, e)
}

const ENTRY: &str =
    "INSERT INTO ticket_timeline (ticket_id, at, actor_id, kind, from_status, to_status, body, visibility)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const GUARDED_ENTRY: &str =
    "INSERT INTO ticket_timeline (ticket_id, at, actor_id, kind, from_status, to_status, body, visibility)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE changes() = 1";

fn entry_with(
    call: &Call,
    sql: &str,
    ticket: &str,
    actor: &str,
    at: &str,
    e: &NewEntry<'_>,
) -> ApiResult<worker::D1PreparedStatement> {
    call.sql()?.statement(
        sql,
        &[
            ticket.into(),
            at.into(),
            actor.into(),
            e.kind.into(),
            opt(e.from.map(Status::as_str)),
            opt(e.to.map(Status::as_str)),
            opt(e.body),
            e.visibility.as_str().into(),
        ],
    )
}

async fn publish<T: Payload>(call: &Call, t: &Ticket, payload: &T) -> ApiResult<()> {
    let about = About { workspace: Some(&t.workspace_id), device: t.device_id.as_deref(), ticket: Some(&t.id) };
    events::publish(call, about, payload).await.map(|_| ())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTicket {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    /// Staff opening a ticket for a customer at the counter.
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    due_at: Option<String>,
}

/// `POST /api/v1/tickets`: 201 with the ticket in INTAKE. Accepts `Idempotency-Key`.
async fn open(mut req: Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let key = idempotency::key_of(&req)?;
    http::require_json(&req)?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    let body: NewTicket = http::parse_json(&bytes)?;
    let path = req.path();
    let fingerprint: [&[u8]; 3] = [b"POST", path.as_bytes(), &bytes];
    idempotency::once(call, key, &actor.id, &fingerprint, |claim| create(call, &actor, body, claim)).await
}

async fn create(call: &Call, actor: &Caller, body: NewTicket, claim: Option<Claim>) -> ApiResult<Response> {
    let title = text("title", &body.title, MAX_TITLE_CHARS)?;
    let description = match body.description.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => text("description", d, MAX_TEXT_CHARS)?,
        _ => String::new(),
    };
    let priority = match body.priority.as_deref() {
        None => Priority::Normal,
        Some(p) => Priority::parse(p)
            .ok_or_else(|| ApiError::invalid_field("priority", "priority is low, normal, high or urgent"))?,
    };
    let due_at = body.due_at.as_deref().map(due).transpose()?;
    let customer = match body.customer_id.as_deref() {
        Some(c) if c != actor.id => {
            actor.require_staff(call).await?;
            store::role_in(call, &actor.workspace, c).await?.ok_or_else(|| {
                ApiError::invalid_field("customer_id", "customer_id is not a member of this workspace")
            })?;
            c.to_owned()
        }
        _ => actor.person(call).await?.to_owned(),
    };
    if let Some(device) = body.device_id.as_deref() {
        let d = store::visible_device(call, actor, device)
            .await
            .map_err(|_| ApiError::invalid_field("device_id", "no such device of yours"))?;
        if d.owner_id != customer {
            return Err(ApiError::invalid_field("device_id", "that device belongs to someone else"));
        }
    }
    let id = format!("tkt_{}", random::id()?);
    let now = time::now_rfc3339();
    let db = call.sql()?;
    // The row as written comes back from the insert (`RETURNING`): not read again.
    let insert = db.statement(
        &format!(
            "INSERT INTO tickets (id, workspace_id, number, customer_id, device_id, title, description, status,
                                  priority, due_at, created_by, created_at, updated_at)
             SELECT ?1, ?2, COALESCE(MAX(number), 0) + 1, ?3, ?4, ?5, ?6, 'INTAKE', ?7, ?8, ?9, ?10, ?10
             FROM tickets WHERE workspace_id = ?2
             RETURNING {COLUMNS}"
        ),
        &[
            id.as_str().into(),
            actor.workspace.as_str().into(),
            customer.as_str().into(),
            opt(body.device_id.as_deref()),
            title.as_str().into(),
            description.as_str().into(),
            priority.as_str().into(),
            opt(due_at.as_deref()),
            actor.id.as_str().into(),
            now.as_str().into(),
        ],
    )?;
    let created = NewEntry {
        kind: "created",
        from: None,
        to: Some(Status::Intake),
        body: None,
        visibility: Visibility::Customer,
    };
    let mut statements = vec![insert, entry_statement(call, &id, &actor.id, &now, &created)?];
    if let Some(claim) = &claim {
        // The key is kept with the ticket, and the answer as the row was written (its
        // number counted by the insert).
        let body = format!("SELECT {} FROM tickets WHERE id = ?5", json_object(COLUMNS));
        statements.extend(claim.keep_from(&db, 201, &body, &[id.as_str().into()])?);
    }
    let ticket: Ticket = db
        .batch_returning(statements)
        .await?
        .ok_or_else(|| ApiError::internal("the new ticket's insert returned no row"))?;
    let created = TicketCreated { number: ticket.number, customer_id: customer.to_owned(), by: actor.id.clone() };
    publish(call, &ticket, &created).await?;
    http::created(&ticket)
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    assignee: Option<String>,
    customer: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /api/v1/tickets[?status=A,B&assignee=&customer=&q=&limit=&cursor=]`: newest
/// activity first. `assignee=me` and `assignee=none` work; `q` searches title and
/// description.
async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    let limit = store::page_limit(q.limit.as_deref())?;
    let statuses = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(list) => {
            let parsed: Option<Vec<&str>> = list.split(',').map(|s| Status::parse(s).map(Status::as_str)).collect();
            let mut parsed = parsed.ok_or_else(|| {
                let names: Vec<&str> = tickets::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid_field("status", format!("status is a comma-separated list of {}", names.join(", ")))
            })?;
            // One placeholder per distinct status: a repeated one must not multiply them
            // (D1 binds at most 100 per statement).
            parsed.sort_unstable();
            parsed.dedup();
            Some(parsed)
        }
    };
    let customer = if actor.is_staff() { q.customer } else { Some(actor.id.clone()) };
    let assignee = match q.assignee.as_deref() {
        Some("me") => Some(actor.id.clone()),
        other => other.map(str::to_owned),
    };
    let pattern = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| {
        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    });
    let (after_at, after_id) = match q.cursor.as_deref().map(|c| c.split_once('|')) {
        None => (None, None),
        Some(Some((at, id))) => (Some(at.to_owned()), Some(id.to_owned())),
        Some(None) => return Err(ApiError::invalid_field("cursor", "pass back the next_cursor of the previous page")),
    };
    // Only the filters asked for are written and bound (`Filter`); the rows cross into
    // wasm as one JSON text (`Db::rows_json`), each an array in `COLUMNS` order, which is
    // `Ticket`'s field order.
    let mut filter = Filter::new("workspace_id = ?", [actor.workspace.as_str().into()]);
    if let Some(statuses) = &statuses {
        let marks = vec!["?"; statuses.len()].join(", ");
        filter.and(&format!("status IN ({marks})"), statuses.iter().map(|s| JsValue::from(*s)));
    }
    if let Some(customer) = customer.as_deref() {
        filter.and("customer_id = ?", [customer.into()]);
    }
    match assignee.as_deref() {
        None => {}
        Some("none") => {
            filter.and("assignee_id IS NULL", []);
        }
        Some(a) => {
            filter.and("assignee_id = ?", [a.into()]);
        }
    }
    if let Some(p) = pattern.as_deref() {
        filter.and("title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\'", [p.into(), p.into()]);
    }
    if let (Some(at), Some(id)) = (after_at.as_deref(), after_id.as_deref()) {
        filter.and("updated_at < ? OR (updated_at = ? AND id < ?)", [at.into(), at.into(), id.into()]);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM tickets WHERE {} ORDER BY updated_at DESC, id DESC LIMIT {}",
        filter.clause(),
        limit + 1
    );
    let page = call.sql()?.rows_json(&sql, &filter.args([])).await?;
    let mut rows: Vec<Ticket> = serde_json::from_str(&page).or_internal("ticket page")?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|t| format!("{}|{}", t.updated_at, t.id))
    } else {
        None
    };
    http::ok(&json!({ "tickets": rows, "next_cursor": next_cursor }))
}

/// `GET /api/v1/tickets/board`: the open tickets in one column per status (staff).
async fn board(call: &Call) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::TicketsRead).await?;
    let rows: Vec<Ticket> = call
        .sql()?
        .all(
            &format!(
                "SELECT {COLUMNS} FROM tickets WHERE workspace_id = ?1 AND status NOT IN ('CLOSED', 'VOID')
                 ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END,
                          COALESCE(due_at, '9999'), created_at LIMIT 1000"
            ),
            &[actor.workspace.as_str().into()],
        )
        .await?;
    let columns: Vec<serde_json::Value> = tickets::ALL
        .iter()
        .filter(|s| !matches!(s, Status::Closed | Status::Void))
        .map(|s| {
            let cards: Vec<&Ticket> = rows.iter().filter(|t| t.status == s.as_str()).collect();
            json!({ "status": s.as_str(), "count": cards.len(), "tickets": cards })
        })
        .collect();
    http::ok(&json!({ "columns": columns }))
}

#[derive(Serialize, Deserialize)]
struct TimerTotal {
    technician_id: String,
    seconds: i64,
    running: i64,
}

#[derive(Serialize, Deserialize)]
struct Attachment {
    id: String,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
    uploaded_by: String,
    visibility: String,
    created_at: String,
}

/// `GET /api/v1/tickets/:id`: the ticket, its timeline and attachments (customer-visible
/// ones only for customers), and for staff the bench time per technician.
async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let staff = actor.is_staff();
    let db = call.sql()?;
    // The ticket, its timeline, attachments and (for staff) timers in one round trip; the
    // rest is only looked at once the ticket is known to be the caller's to see.
    let mut reads = vec![
        db.statement(
            &format!("SELECT {COLUMNS} FROM tickets WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), actor.workspace.as_str().into()],
        )?,
        db.statement(
            "SELECT seq, at, actor_id, kind, from_status, to_status, body, visibility FROM ticket_timeline
             WHERE ticket_id = ?1 AND (?2 = 1 OR visibility = 'customer') ORDER BY seq",
            &[id.into(), int(i64::from(staff))],
        )?,
        db.statement(
            "SELECT id, filename, content_type, size, sha256, uploaded_by, visibility, created_at
             FROM ticket_attachments WHERE ticket_id = ?1 AND (?2 = 1 OR visibility = 'customer') ORDER BY created_at",
            &[id.into(), int(i64::from(staff))],
        )?,
    ];
    if staff {
        reads.push(db.statement(
            "SELECT technician_id, SUM(COALESCE(stopped_at, ?2) - started_at) AS seconds,
                    SUM(stopped_at IS NULL) AS running
             FROM ticket_timers WHERE ticket_id = ?1 GROUP BY technician_id ORDER BY technician_id",
            &[id.into(), int(now_secs())],
        )?);
    }
    let read = db.batch_read(reads).await?;
    let found: Option<Ticket> = rows(read.first())?.into_iter().next();
    let ticket = actor.visible(found, format_args!("ticket {id}"))?;
    let timeline: Vec<Entry> = rows(read.get(1))?;
    let attachments: Vec<Attachment> = rows(read.get(2))?;
    let status = status_of(&ticket)?;
    let mut allowed: Vec<&str> = status.next().into_iter().map(Status::as_str).collect();
    if !staff {
        allowed.clear();
    }
    let mut view =
        json!({ "ticket": ticket, "timeline": timeline, "attachments": attachments, "allowed_moves": allowed });
    if staff {
        let timers: Vec<TimerTotal> = rows(read.get(3))?;
        view["timers"] = serde_json::to_value(timers).or_internal("timers")?;
    }
    http::ok(&view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    to: String,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/tickets/:id/status {to, note?}` (staff): 409 naming the allowed moves
/// when the lifecycle does not allow it.
async fn change_status(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let body: Move = http::read_json(&mut req).await?;
    let ticket = store::visible_ticket(call, &actor, id).await?;
    let to = Status::parse(&body.to).ok_or_else(|| {
        let names: Vec<&str> = tickets::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::invalid_field("to", format!("to is one of {}", names.join(", ")))
    })?;
    let from = status_of(&ticket)?;
    let note = body.note.as_deref().map(|n| text("note", n, MAX_TEXT_CHARS)).transpose()?;
    if from.can_move_to(to) && Status::is_quote_driven(from, to) {
        return Err(ApiError::Conflict(format!(
            "{} → {} happens through the quote: issue one with POST /api/v1/pricing/estimate, and the customer \
             approves or declines it",
            from.as_str(),
            to.as_str()
        )));
    }
    if (from, to) == (Status::Qc, Status::Ready) {
        return Err(ApiError::Conflict(
            "QC → READY happens when an inspection passes: record its checkpoints with POST /api/v1/qc/inspections"
                .into(),
        ));
    }
    http::ok(&transition(call, &ticket, &actor.id, from, to, note.as_deref()).await?)
}

fn refuse_move(from: Status, to: Status) -> ApiError {
    let allowed: Vec<String> = from.next().into_iter().map(|s| s.as_str().to_owned()).collect();
    let message = if allowed.is_empty() {
        format!("a {} ticket cannot move any more", from.as_str())
    } else {
        format!("a {} ticket cannot move to {}; it can move to {}", from.as_str(), to.as_str(), allowed.join(", "))
    };
    ApiError::InvalidTransition { message, allowed }
}

/// Moves `ticket` from `from` to `to` if nobody moved it meanwhile; records and publishes.
/// The ticket as moved.
async fn transition(
    call: &Call,
    ticket: &Ticket,
    actor: &str,
    from: Status,
    to: Status,
    note: Option<&str>,
) -> ApiResult<Ticket> {
    transition_with(call, ticket, actor, from, to, note, Vec::new()).await
}

/// [`transition`], with `more` statements in the same batch after the move and its entry
/// (each guarded by `changes() = 1` lands only if the move did).
async fn transition_with(
    call: &Call,
    ticket: &Ticket,
    actor: &str,
    from: Status,
    to: Status,
    note: Option<&str>,
    more: Vec<worker::D1PreparedStatement>,
) -> ApiResult<Ticket> {
    if !from.can_move_to(to) {
        return Err(refuse_move(from, to));
    }
    let now = time::now_rfc3339();
    let db = call.sql()?;
    // One batch: the move and its timeline entry land together or not at all, and the entry
    // is written only if this very statement moved the ticket (a concurrent move wins alone).
    let e = NewEntry { kind: "status", from: Some(from), to: Some(to), body: note, visibility: Visibility::Customer };
    // The move returns the ticket as moved (no row: somebody else moved it first).
    let mut statements = vec![
        db.statement(
            &format!(
                "UPDATE tickets SET status = ?3, updated_at = ?4 WHERE id = ?1 AND status = ?2 RETURNING {COLUMNS}"
            ),
            &[ticket.id.as_str().into(), from.as_str().into(), to.as_str().into(), now.as_str().into()],
        )?,
        guarded_entry_statement(call, &ticket.id, actor, &now, &e)?,
    ];
    statements.extend(more);
    let Some(moved) = db.batch_returning::<Ticket>(statements).await? else {
        return Err(ApiError::Conflict("the ticket changed meanwhile; reload it and try again".into()));
    };
    let changed = TicketStatusChanged {
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
        by: actor.to_owned(),
        customer_id: ticket.customer_id.clone(),
        number: ticket.number,
    };
    publish(call, &moved, &changed).await?;
    Ok(moved)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    /// A date, or `null` to clear it.
    #[serde(default, with = "double_option")]
    due_at: Option<Option<String>>,
    /// A technician's user id, or `null` to unassign.
    #[serde(default, with = "double_option")]
    assignee_id: Option<Option<String>>,
}

/// Tells a field left out (`None`) from one set to `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /api/v1/tickets/:id` (staff): title, description, priority, due date,
/// assignment. Each change is a timeline entry.
async fn update(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let body: Patch = http::read_json(&mut req).await?;
    let ticket = store::visible_ticket(call, &actor, id).await?;
    if !status_of(&ticket)?.is_open() {
        return Err(ApiError::Conflict(format!("a {} ticket can no longer be edited", ticket.status)));
    }
    let title = body.title.as_deref().map(|t| text("title", t, MAX_TITLE_CHARS)).transpose()?;
    let description = body.description.as_deref().map(|d| text("description", d, MAX_TEXT_CHARS)).transpose()?;
    let priority = body
        .priority
        .as_deref()
        .map(|p| {
            Priority::parse(p)
                .ok_or_else(|| ApiError::invalid_field("priority", "priority is low, normal, high or urgent"))
        })
        .transpose()?;
    let due_at = match &body.due_at {
        Some(Some(d)) => Some(Some(due(d)?)),
        other => other.clone(),
    };
    if let Some(Some(assignee)) = &body.assignee_id {
        let role = store::role_in(call, &actor.workspace, assignee).await?;
        if !role.is_some_and(Role::is_staff) {
            return Err(ApiError::invalid_field("assignee_id", "assign the ticket to a technician of this workspace"));
        }
    }
    let now = time::now_rfc3339();
    let db = call.sql()?;
    let mut statements = vec![db.statement(
        &format!(
            "UPDATE tickets SET title = COALESCE(?2, title), description = COALESCE(?3, description),
                    priority = COALESCE(?4, priority),
                    due_at = CASE WHEN ?5 = 1 THEN ?6 ELSE due_at END,
                    assignee_id = CASE WHEN ?7 = 1 THEN ?8 ELSE assignee_id END,
                    updated_at = ?9
             WHERE id = ?1
             RETURNING {COLUMNS}"
        ),
        &[
            id.into(),
            opt(title.as_deref()),
            opt(description.as_deref()),
            opt(priority.map(Priority::as_str)),
            int(i64::from(due_at.is_some())),
            opt(due_at.clone().flatten().as_deref()),
            int(i64::from(body.assignee_id.is_some())),
            opt(body.assignee_id.clone().flatten().as_deref()),
            now.as_str().into(),
        ],
    )?];
    let mut changes: Vec<(&str, String)> = Vec::new();
    if let Some(p) = priority.filter(|p| p.as_str() != ticket.priority) {
        changes.push(("priority", format!("priority {} → {}", ticket.priority, p.as_str())));
    }
    if let Some(d) = &due_at {
        changes.push(("due", format!("due {}", d.as_deref().unwrap_or("cleared"))));
    }
    if let Some(a) = &body.assignee_id {
        changes
            .push(("assigned", a.clone().map(|a| format!("assigned to {a}")).unwrap_or_else(|| "unassigned".into())));
    }
    for (kind, note) in &changes {
        let e = NewEntry { kind, from: None, to: None, body: Some(note), visibility: Visibility::Internal };
        statements.push(entry_statement(call, id, &actor.id, &now, &e)?);
    }
    let updated: Ticket =
        db.batch_returning(statements).await?.ok_or_else(|| ApiError::not_found(format!("ticket {id}")))?;
    if let Some(a) = &body.assignee_id {
        publish(call, &updated, &TicketAssigned { assignee_id: a.clone(), by: actor.id.clone() }).await?;
    }
    publish(call, &updated, &TicketUpdated { by: actor.id.clone() }).await?;
    http::ok(&updated)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNote {
    body: String,
}

/// `POST …/notes {body}` (staff, internal) and `POST …/messages {body}` (customer-visible;
/// the customer or staff).
async fn add_entry(mut req: Request, call: &Call, id: &str, visibility: Visibility) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    if visibility == Visibility::Internal {
        actor.require_staff(call).await?;
    }
    let body: NewNote = http::read_json(&mut req).await?;
    let ticket = store::visible_ticket(call, &actor, id).await?;
    let note = text("body", &body.body, MAX_TEXT_CHARS)?;
    let now = time::now_rfc3339();
    let kind = if visibility == Visibility::Internal { "note" } else { "message" };
    record_message(call, &ticket, &actor.id, &note, visibility, &now, None).await?;
    http::created(&json!({ "ticket_id": id, "kind": kind, "body": note, "at": now, "visibility": visibility.as_str() }))
}

/// `POST …/timer/start` and `…/timer/stop`: the calling technician's bench time.
async fn timer(call: &Call, id: &str, start: bool) -> ApiResult<Response> {
    let actor = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let tech = actor.person(call).await?;
    let ticket = store::visible_ticket(call, &actor, id).await?;
    let db = call.sql()?;
    let now = now_secs();
    if start {
        if !status_of(&ticket)?.is_open() {
            return Err(ApiError::Conflict(format!("a {} ticket takes no more bench time", ticket.status)));
        }
        let started = db
            .run(
                "INSERT INTO ticket_timers (ticket_id, technician_id, started_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                &[id.into(), tech.into(), int(now)],
            )
            .await?;
        if started == 0 {
            return Err(ApiError::Conflict("your timer on this ticket is already running".into()));
        }
    } else {
        let stopped = db
            .run(
                "UPDATE ticket_timers SET stopped_at = ?3 WHERE ticket_id = ?1 AND technician_id = ?2 AND stopped_at IS NULL",
                &[id.into(), tech.into(), int(now)],
            )
            .await?;
        if stopped == 0 {
            return Err(ApiError::Conflict("your timer on this ticket is not running".into()));
        }
    }
    let total: Option<TimerTotal> = db
        .first(
            "SELECT technician_id, SUM(COALESCE(stopped_at, ?3) - started_at) AS seconds, SUM(stopped_at IS NULL) AS running
             FROM ticket_timers WHERE ticket_id = ?1 AND technician_id = ?2 GROUP BY technician_id",
            &[id.into(), tech.into(), int(now)],
        )
        .await?;
    http::ok(&total)
}

fn clean_filename(raw: Option<String>) -> String {
    let name: String = raw
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' '))
        .take(100)
        .collect();
    let name = name.trim().trim_start_matches('.').to_owned();
    if name.is_empty() {
        "upload".into()
    } else {
        name
    }
}

#[derive(Deserialize)]
struct AttachQuery {
    filename: Option<String>,
    visibility: Option<String>,
}

/// `POST …/attachments?filename=&visibility=` with the file as the body: JPEG, PNG, GIF,
/// WebP, HEIC or PDF, or a voice note (MP3, Ogg, WAV, M4A, WebM), as judged from the
/// bytes, at most 10 MiB. Customers' uploads are customer-visible; staff choose (internal
/// by default).
async fn attach(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let q: AttachQuery = http::query(&req)?;
    let visibility = match (actor.is_staff(), q.visibility.as_deref()) {
        (false, _) | (true, Some("customer")) => Visibility::Customer,
        (true, None | Some("internal")) => Visibility::Internal,
        (true, Some(_)) => return Err(ApiError::invalid_field("visibility", "visibility is internal or customer")),
    };
    let ticket = store::visible_ticket(call, &actor, id).await?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the upload could not be read"))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("send the file's bytes as the request body"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_ATTACHMENT_BYTES as u64 });
    }
    let content_type = tickets::sniff_content_type(&bytes).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "attach a photo (JPEG, PNG, GIF, WebP, HEIC), a PDF or a voice note (MP3, Ogg, WAV, M4A, WebM)".into(),
        )
    })?;
    let attachment = Attachment {
        id: format!("att_{}", random::id()?),
        filename: clean_filename(q.filename),
        content_type: content_type.to_owned(),
        size: bytes.len() as i64,
        sha256: noizylab_core::auth::sha256_hex(&bytes),
        uploaded_by: actor.id.clone(),
        visibility: visibility.as_str().to_owned(),
        created_at: time::now_rfc3339(),
    };
    let r2_key = format!("tickets/{}/{}/{}", ticket.workspace_id, id, attachment.id);
    call.uploads()?
        .put(&r2_key, bytes)
        .http_metadata(worker::HttpMetadata { content_type: Some(content_type.to_owned()), ..Default::default() })
        .execute()
        .await
        .or_internal("r2 put")?;
    let db = call.sql()?;
    let note = if tickets::is_audio(content_type) {
        format!("recorded a voice note ({})", attachment.filename)
    } else {
        format!("attached {}", attachment.filename)
    };
    let e = NewEntry { kind: "attachment", from: None, to: None, body: Some(&note), visibility };
    db.batch(vec![
        db.statement(
            "INSERT INTO ticket_attachments (id, ticket_id, r2_key, filename, content_type, size, sha256, uploaded_by,
                                             visibility, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                attachment.id.as_str().into(),
                id.into(),
                r2_key.as_str().into(),
                attachment.filename.as_str().into(),
                content_type.into(),
                int(attachment.size),
                attachment.sha256.as_str().into(),
                actor.id.as_str().into(),
                visibility.as_str().into(),
                attachment.created_at.as_str().into(),
            ],
        )?,
        entry_statement(call, id, &actor.id, &attachment.created_at, &e)?,
    ])
    .await?;
    let added = TicketAttachmentAdded {
        attachment_id: attachment.id.clone(),
        content_type: content_type.to_owned(),
        visibility: visibility.as_str().to_owned(),
    };
    publish(call, &ticket, &added).await?;
    http::created(&attachment)
}

#[derive(Deserialize)]
struct StoredAttachment {
    r2_key: String,
    filename: String,
    content_type: String,
    visibility: String,
}

/// `GET …/attachments/:id`: the file, served with its sniffed type and never rendered
/// inline as anything else.
async fn download(call: &Call, id: &str, attachment: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    store::visible_ticket(call, &actor, id).await?;
    let row: Option<StoredAttachment> = call
        .sql()?
        .first(
            "SELECT r2_key, filename, content_type, visibility FROM ticket_attachments WHERE id = ?1 AND ticket_id = ?2",
            &[attachment.into(), id.into()],
        )
        .await?;
    let row = row
        .filter(|r| actor.is_staff() || r.visibility == "customer")
        .ok_or_else(|| ApiError::not_found(format!("attachment {attachment}")))?;
    let object = call
        .uploads()?
        .get(&row.r2_key)
        .execute()
        .await
        .or_internal("r2 get")?
        .ok_or_else(|| ApiError::internal(format!("attachment {attachment} has no object")))?;
    let bytes = match object.body() {
        Some(body) => body.bytes().await.or_internal("r2 body")?,
        None => Vec::new(),
    };
    let headers = Headers::new();
    headers.set("content-type", &row.content_type).or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    let disposition = noizylab_core::names::content_disposition("inline", &row.filename);
    headers.set("content-disposition", &disposition).or_internal("header")?;
    headers.set("cache-control", "private, max-age=300").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

impl From<Ticket> for TicketFacts {
    fn from(t: Ticket) -> Self {
        TicketFacts {
            id: t.id,
            workspace_id: t.workspace_id,
            customer_id: t.customer_id,
            status: t.status,
            number: t.number,
            quote_id: t.quote_id,
        }
    }
}

/// `GET /internal/tickets/:id`: what pricing needs to quote and to check an approver.
async fn internal_view(call: &Call, id: &str) -> ApiResult<Response> {
    http::ok(&TicketFacts::from(load(call, id).await?))
}

/// `POST /internal/tickets/:id/quote {event, quote_id, actor_id, note?}`: a quote issued
/// (DIAGNOSTICS → AWAITING_APPROVAL), approved (→ APPROVED) or declined (→ DIAGNOSTICS).
async fn quote_event(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let body: QuoteMove = http::read_json(&mut req).await?;
    let ticket = load(call, id).await?;
    let from = status_of(&ticket)?;
    let to = match body.event {
        QuoteStep::Issued => Status::AwaitingApproval,
        QuoteStep::Approved => Status::Approved,
        QuoteStep::Declined => Status::Diagnostics,
    };
    let issued = body.event == QuoteStep::Issued;
    if !issued && ticket.quote_id.as_deref() != Some(body.quote_id.as_str()) {
        return Err(ApiError::Conflict("that quote is no longer the ticket's current quote".into()));
    }
    if issued {
        if !from.can_move_to(to) {
            return Err(refuse_move(from, to));
        }
        call.sql()?
            .run("UPDATE tickets SET quote_id = ?2 WHERE id = ?1", &[id.into(), body.quote_id.as_str().into()])
            .await?;
    }
    http::ok(&TicketFacts::from(transition(call, &ticket, &body.actor_id, from, to, body.note.as_deref()).await?))
}

/// `POST /internal/tickets/:id/qc` ([`QcMove`]): a passed inspection moves QC → READY and
/// attaches its report for the customer; a failed one moves QC → IN_REPAIR with the rework
/// list as the move's note. 409 unless the ticket is in QC.
async fn qc_event(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let body: QcMove = http::read_json(&mut req).await?;
    let ticket = load(call, id).await?;
    let from = status_of(&ticket)?;
    if from != Status::Qc {
        return Err(ApiError::Conflict(format!("ticket {id} is {}, not in QC", from.as_str())));
    }
    let db = call.sql()?;
    let now = time::now_rfc3339();
    if !body.passed {
        let note = format!(
            "Quality control found work to redo (inspection {}):\n- {}",
            body.inspection_id,
            body.rework.join("\n- ")
        );
        let note: String = note.chars().take(MAX_TEXT_CHARS).collect();
        let moved = transition(call, &ticket, &body.actor_id, from, Status::InRepair, Some(&note)).await?;
        return http::ok(&TicketFacts::from(moved));
    }
    let report =
        body.report.ok_or_else(|| ApiError::invalid_field("report", "a passed inspection hands over its report"))?;
    if !report.r2_key.starts_with(&format!("tickets/{}/{}/", ticket.workspace_id, ticket.id)) {
        return Err(ApiError::invalid_field("report", "the report is not stored under this ticket"));
    }
    let attach_note = format!("attached {}", report.filename);
    let entry = NewEntry {
        kind: "attachment",
        from: None,
        to: None,
        body: Some(&attach_note),
        visibility: Visibility::Customer,
    };
    let more = vec![
        db.statement(
            "INSERT INTO ticket_attachments (id, ticket_id, r2_key, filename, content_type, size, sha256, uploaded_by,
                                             visibility, created_at)
             SELECT ?1, ?2, ?3, ?4, 'application/pdf', ?5, ?6, ?7, 'customer', ?8 WHERE changes() = 1",
            &[
                report.attachment_id.as_str().into(),
                id.into(),
                report.r2_key.as_str().into(),
                report.filename.as_str().into(),
                int(report.size),
                report.sha256.as_str().into(),
                body.actor_id.as_str().into(),
                now.as_str().into(),
            ],
        )?,
        guarded_entry_statement(call, id, &body.actor_id, &now, &entry)?,
    ];
    let note = format!("Passed quality control (inspection {})", body.inspection_id);
    let moved = transition_with(call, &ticket, &body.actor_id, from, Status::Ready, Some(&note), more).await?;
    let added = TicketAttachmentAdded {
        attachment_id: report.attachment_id.clone(),
        content_type: "application/pdf".into(),
        visibility: Visibility::Customer.as_str().to_owned(),
    };
    publish(call, &ticket, &added).await?;
    http::ok(&TicketFacts::from(moved))
}
