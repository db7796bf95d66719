//! `/api/v1/tickets/:id/live…`: the ticket's live room (`TicketRoom`, on
//! `noizylab_kit::room`).
//!
//! 1. `POST /api/v1/tickets/:id/live/ticket` (signed in, may see the ticket) mints a
//!    single-use room ticket: 256 random bits, valid 60 s, whose hash the room itself
//!    keeps; the answer is the ticket and the WebSocket path.
//! 2. `GET /api/v1/tickets/:id/live?ticket=…[&since=N]` (WebSocket) is redeemed by the room
//!    once. No long-lived token ever travels in a URL. The gateway refuses a foreign
//!    `Origin`.
//! 3. `POST /internal/rooms/:id/publish` (the workflow orchestrator, from the events queue)
//!    pushes a platform frame — a status change — into the room.
//!
//! Each person also has an **inbox**: the same kind of room, named `inbox:<user id>`, that
//! the notifications hub writes in-app notices into (`POST /api/v1/users/me/live/ticket`,
//! then `GET /api/v1/users/:id/live?ticket=…`); only its owner can enter it.

use base64::Engine;
use noizylab_core::auth::Scope;
use noizylab_core::bindings;
use noizylab_kit::call::now_secs;
use noizylab_kit::{http, random, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response, Stub};

use noizylab_core::services;
use noizylab_kit::caller::{self, Caller};

/// A ticket id as it appears in a path: 1–64 characters of `[A-Za-z0-9_-]`.
fn ticket_id(raw: &str) -> ApiResult<&str> {
    let ok = noizylab_core::names::is_plain_id(raw);
    ok.then_some(raw).ok_or_else(|| ApiError::invalid_field("id", "a ticket id is 1-64 letters, digits, '-' or '_'"))
}

fn room(call: &Call, id: &str) -> ApiResult<Stub> {
    call.object(bindings::TICKET_ROOM)?.id_from_name(id).and_then(|oid| oid.get_stub()).or_internal("ticket room stub")
}

async fn post_to_room(call: &Call, id: &str, action: &str, body: &serde_json::Value) -> ApiResult<Response> {
    noizylab_kit::room::post(&room(call, id)?, action, body).await
}

#[derive(Deserialize)]
struct Name {
    name: Option<String>,
    email: String,
}

/// `POST /api/v1/tickets/:id/live/ticket`: 201 `{ticket, expires_in, path}`.
pub async fn mint(call: &Call, raw_id: &str) -> ApiResult<Response> {
    let id = ticket_id(raw_id)?;
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    crate::store::visible_ticket(call, &actor, id).await?;
    let user = actor.person(call).await?;
    let token = mint_for(call, id, user, actor.is_staff()).await?;
    let path = format!("/api/v1/tickets/{id}/live?ticket={token}");
    http::created(&json!({ "ticket": token, "expires_in": noizylab_kit::room::TICKET_TTL_MS / 1000, "path": path }))
}

/// `POST /api/v1/users/me/live/ticket`: a room ticket into the caller's own inbox (in-app
/// notices). 201 `{ticket, expires_in, path}`.
pub async fn mint_inbox(call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    let user = actor.person(call).await?.to_owned();
    let token = mint_for(call, &noizylab_core::names::inbox_room(&user), &user, false).await?;
    let path = format!("/api/v1/users/{user}/live?ticket={token}");
    http::created(&json!({ "ticket": token, "expires_in": noizylab_kit::room::TICKET_TTL_MS / 1000, "path": path }))
}

/// `GET /api/v1/users/:id/live?ticket=…` (WebSocket): the inbox, which redeems the ticket.
pub async fn join_inbox(req: &Request, call: &Call, raw_id: &str) -> ApiResult<Response> {
    let id = ticket_id(raw_id).map_err(|_| ApiError::invalid_field("id", "not a user id"))?;
    let name = noizylab_core::names::inbox_room(id);
    noizylab_kit::room::forward_upgrade(&room(call, &name)?, req, &name).await
}

/// Stores a single-use ticket for `user` in room `name`; the ticket.
async fn mint_for(call: &Call, name: &str, user: &str, staff: bool) -> ApiResult<String> {
    let who: Option<Name> = call.sql()?.first("SELECT name, email FROM users WHERE id = ?1", &[user.into()]).await?;
    let display =
        who.map(|w| noizylab_core::names::display_name(w.name.as_deref(), &w.email)).unwrap_or_else(|| "member".into());
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let expires_ms = (now_secs() as u64) * 1000 + noizylab_kit::room::TICKET_TTL_MS;
    let body = json!({
        "hash": noizylab_core::auth::sha256_hex(token.as_bytes()),
        "member": { "id": user, "name": display, "staff": staff },
        "expires_ms": expires_ms,
    });
    post_to_room(call, name, "ticket", &body).await?;
    crate::live::grant(call, user, "TicketRoom", name).await?;
    Ok(token)
}

/// `GET /api/v1/tickets/:id/live?ticket=…` (WebSocket): hands the upgrade to the room,
/// which redeems the ticket.
pub async fn join(req: &Request, call: &Call, raw_id: &str) -> ApiResult<Response> {
    let id = ticket_id(raw_id)?;
    noizylab_kit::room::forward_upgrade(&room(call, id)?, req, id).await
}

/// `POST /internal/rooms/:id/publish {kind, visibility, data}`: the orchestrator only.
pub async fn publish(mut req: Request, call: &Call, raw_id: &str) -> ApiResult<Response> {
    let why = "only the workflow orchestrator publishes into rooms";
    caller::require_service(call, services::WORKFLOW_ORCHESTRATOR, why)?;
    let id = ticket_id(raw_id)?;
    let frame: noizylab_core::contracts::RoomFrame = http::read_json(&mut req).await?;
    if !matches!(frame.kind.as_str(), "status" | "progress" | "event") {
        return Err(ApiError::invalid_field("kind", "kind is status, progress or event"));
    }
    if !matches!(frame.visibility.as_str(), "internal" | "customer") {
        return Err(ApiError::invalid_field("visibility", "visibility is internal or customer"));
    }
    let body = json!({ "kind": frame.kind, "visibility": frame.visibility, "from": "NoizyLab", "data": frame.data });
    let resp = post_to_room(call, id, "publish", &body).await?;
    let seq: serde_json::Value = noizylab_kit::http::answer_json(&resp).await?;
    http::ok(&seq)
}
