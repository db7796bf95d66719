//! `noizylab-main`: the core worker: sign-in and sessions, users, workspaces and API keys,
//! devices, tickets, the live ticket rooms (`TicketRoom`) and remote repair sessions
//! (`RepairSession`), the audit chain, and, in development only, the platform probes.
//! Every route is listed in the README; the table below sends each to its module.

mod audit;
mod auth;
mod config;
mod dev;
mod devices;
mod idempotency;
mod keys;
mod live;
mod objects;
mod privacy;
mod replies;
mod rooms;
mod sessions;
mod tickets;
mod users;
mod workspaces;

use noizylab_kit::{http, serve, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

pub use audit::AuditLog;
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
        (Method::Post, ["api", "v1", "users", "me", "live", "ticket"]) => rooms::mint_inbox(&call).await,
        (Method::Get, ["api", "v1", "users", id, "live"]) => rooms::join_inbox(&req, &call, id).await,
        (_, ["api", "v1", "users", rest @ ..]) => users::route(req, &call, rest).await,
        (_, ["api", "v1", "devices", rest @ ..]) => devices::route(req, &call, rest).await,
        (Method::Get, ["api", "v1", "audit", "verify"]) => audit::verify(&req, &call).await,
        (Method::Post, ["internal", "audit"]) => audit::from_gateway(req, &call).await,
        (Method::Get, ["api", "v1", "tickets", id, "live"]) => rooms::join(&req, &call, id).await,
        (Method::Post, ["api", "v1", "tickets", id, "live", "ticket"]) => rooms::mint(&call, id).await,
        (Method::Post, ["internal", "rooms", id, "publish"]) => rooms::publish(req, &call, id).await,
        (Method::Post, ["api", "v1", "tickets", "email-replies"]) => replies::inbound(req, &call).await,
        (_, ["api", "v1", "tickets", rest @ ..]) => tickets::route(req, &call, rest).await,
        (_, ["api", "v1", "sessions", rest @ ..]) => sessions::route(req, &call, rest).await,
        (_, ["internal", "tickets", rest @ ..]) => tickets::internal(req, &call, rest).await,
        (_, ["api", "v1", "dev", rest @ ..]) => dev::route(req, &call, rest).await,
        _ => Err(http::no_route(&req)),
    }
}
