//! `noizylab-main`: the core worker: auth, users, workspaces, devices, tickets and the
//! real-time ticket rooms.
//!
//! Today it serves the live ticket room (`TicketRoom`, hibernating WebSockets with
//! sequenced, persisted messages) and, in development only, the platform probes the
//! end-to-end suite and developers use to check their local stack. Identity, devices and
//! tickets arrive with their issues; see the README.

mod access;
mod audit;
mod auth;
mod dev;
mod devices;
mod idempotency;
mod keys;
mod objects;
mod privacy;
mod tickets;
mod users;
mod workspaces;

use noizylab_core::bindings;
use noizylab_kit::{http, serve, ApiError, ApiResult, Call, OrInternal};
use worker::{event, Context, Env, Headers, Method, Request, RequestInit, Response};

pub use objects::{RepairSession, TicketRoom};

const DIR: &str = "main";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Get, [".well-known", "jwks.json"]) => auth::jwks(&call),
        (_, ["api", "v1", "auth", rest @ ..]) => auth::route(req, &call, rest).await,
        (_, ["api", "v1", "workspaces", rest @ ..]) => workspaces::route(req, &call, rest).await,
        (_, ["api", "v1", "users", rest @ ..]) => users::route(req, &call, rest).await,
        (_, ["api", "v1", "devices", rest @ ..]) => devices::route(req, &call, rest).await,
        (Method::Get, ["api", "v1", "audit", "verify"]) => audit::verify(&call).await,
        (Method::Post, ["internal", "audit"]) => audit::from_gateway(req, &call).await,
        (Method::Get, ["api", "v1", "tickets", id, "live"]) => ticket_live(&req, &call, id).await,
        (_, ["api", "v1", "tickets", rest @ ..]) => tickets::route(req, &call, rest).await,
        (_, ["internal", "tickets", rest @ ..]) => tickets::internal(req, &call, rest).await,
        (_, ["api", "v1", "dev", rest @ ..]) => dev::route(req, &call, rest).await,
        _ => Err(http::no_route(&req)),
    }
}

/// A ticket id as it appears in a path: 1–64 characters of `[A-Za-z0-9_-]`.
fn ticket_id(raw: &str) -> ApiResult<&str> {
    let ok =
        !raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(raw).ok_or_else(|| ApiError::invalid_field("id", "a ticket id is 1-64 letters, digits, '-' or '_'"))
}

/// `GET /api/v1/tickets/:id/live` (WebSocket): joins the ticket's room.
async fn ticket_live(req: &Request, call: &Call, raw_id: &str) -> ApiResult<Response> {
    let id = ticket_id(raw_id)?;
    let upgrade = req.headers().get("upgrade").ok().flatten();
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(ApiError::bad_request("this route is a WebSocket: connect with Upgrade: websocket"));
    }
    let query = req.url().or_internal("url")?.query().map(|q| format!("&{q}")).unwrap_or_default();
    let stub = call
        .object(bindings::TICKET_ROOM)?
        .id_from_name(id)
        .and_then(|oid| oid.get_stub())
        .or_internal("ticket room stub")?;
    let headers = Headers::new();
    headers.set("upgrade", "websocket").or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let url = format!("https://room/connect?room={id}{query}");
    let forward = Request::new_with_init(&url, &init).or_internal("room request")?;
    stub.fetch_with_request(forward).await.or_internal("ticket room")
}
