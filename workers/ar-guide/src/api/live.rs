//! `/api/v1/guides/:id/live…`: the live annotation room of a guide on a ticket
//! (`AnnotationRoom`, one per guide and ticket).
//!
//! 1. `POST /api/v1/guides/:id/live/ticket {ticket_id}` (staff, or the ticket's customer)
//!    mints a single-use room ticket (60 s; the room keeps its hash); the answer is the
//!    ticket and the WebSocket path.
//! 2. `GET /api/v1/guides/:id/live?ticket_id=…&ticket=…[&since=N]` (WebSocket) is redeemed
//!    by the room once; `since` replays what a reconnecting client missed.

use base64::Engine;
use noizylab_core::auth::Scope;
use noizylab_core::bindings;
use noizylab_core::names::{display_name, is_plain_id};
use noizylab_kit::call::now_secs;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::{http, random, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response, Stub};

use crate::store;

fn room(call: &Call, name: &str) -> ApiResult<Stub> {
    call.object(bindings::ANNOTATION_ROOM)?.id_from_name(name).and_then(|o| o.get_stub()).or_internal("annotation room")
}

/// The room of guide `guide` on ticket `ticket`.
fn room_name(guide: &str, ticket: &str) -> String {
    format!("{guide}:{ticket}")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    ticket_id: String,
}

#[derive(Deserialize)]
struct TicketRow {
    customer_id: String,
}

impl Owned for TicketRow {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

#[derive(Deserialize)]
struct Person {
    name: Option<String>,
    email: String,
}

/// `POST /api/v1/guides/:id/live/ticket {ticket_id}`: 201 `{ticket, expires_in, path}`.
pub async fn mint(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let user = who.person(call).await?.to_owned();
    let body: MintBody = http::read_json(&mut req).await?;
    store::guide(call, &who, id).await?;
    let ticket = body.ticket_id;
    let found: Option<TicketRow> = if is_plain_id(&ticket) {
        call.sql()?
            .first(
                "SELECT customer_id FROM tickets WHERE id = ?1 AND workspace_id = ?2",
                &[ticket.as_str().into(), who.workspace.as_str().into()],
            )
            .await?
    } else {
        None
    };
    who.visible(found, format_args!("ticket {ticket}"))
        .map_err(|_| ApiError::invalid_field("ticket_id", "no such ticket"))?;
    let person: Option<Person> =
        call.sql()?.first("SELECT name, email FROM users WHERE id = ?1", &[user.as_str().into()]).await?;
    let name = person.map(|p| display_name(p.name.as_deref(), &p.email)).unwrap_or_else(|| "member".into());
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let expires_ms = (now_secs() as u64) * 1000 + noizylab_kit::room::TICKET_TTL_MS;
    let mint = json!({
        "hash": noizylab_core::auth::sha256_hex(token.as_bytes()),
        "member": { "id": user, "name": name, "staff": who.is_staff() },
        "expires_ms": expires_ms,
    });
    noizylab_kit::room::post(&room(call, &room_name(id, &ticket))?, "ticket", &mint).await?;
    let path = format!("/api/v1/guides/{id}/live?ticket_id={ticket}&ticket={token}");
    http::created(&json!({ "ticket": token, "expires_in": noizylab_kit::room::TICKET_TTL_MS / 1000, "path": path }))
}

#[derive(Deserialize)]
struct JoinQuery {
    ticket_id: String,
}

/// `GET /api/v1/guides/:id/live?ticket_id=…&ticket=…` (WebSocket): to the room, which
/// redeems the ticket.
pub async fn join(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let q: JoinQuery =
        http::query(req).map_err(|_| ApiError::invalid_field("ticket_id", "name the ticket: ?ticket_id="))?;
    if !is_plain_id(id) || !is_plain_id(&q.ticket_id) {
        return Err(ApiError::invalid_field("ticket_id", "no such room"));
    }
    noizylab_kit::room::forward_upgrade(&room(call, &room_name(id, &q.ticket_id))?, req, &room_name(id, &q.ticket_id))
        .await
}
