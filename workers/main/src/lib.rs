//! `noizylab-main`: the core worker: sign-in and sessions, users, workspaces and API keys,
//! devices, tickets, the live ticket rooms (`TicketRoom`) and remote repair sessions
//! (`RepairSession`), the audit chain (`AuditLog`), and, in development only, the platform
//! probes.
//!
//! Layout (AGENTS.md): this file is the route table; `api/` holds the handlers, one module
//! per resource, which never import each other; `store` the queries several handlers share;
//! `audit_log`, `idempotency`, `live` and `objects` what handlers build on. The domain
//! (ticket lifecycle, roles, scopes, pricing) is `noizylab_core`, shared with other workers.

mod api;
mod audit_log;
mod config;
mod idempotency;
mod live;
mod objects;
mod store;

use noizylab_kit::{http, lazily, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{audit, auth, dev, devices, keys, privacy, rooms, sessions, tickets, users, workspaces};
pub use audit_log::AuditLog;
pub use objects::{RepairSession, TicketRoom};

const DIR: &str = "main";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

/// Each handler behind a pointer ([`lazily`]): a worker's first request compiles its own.
async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Get, [".well-known", "jwks.json"]) => auth::jwks(&call),
        (_, ["api", "v1", "auth", rest @ ..]) => lazily(auth::route(req, &call, rest)).await,
        (Method::Get, ["api", "v1", "workspaces", ws, "api-keys"]) => lazily(keys::list(&call, ws)).await,
        (Method::Post, ["api", "v1", "workspaces", ws, "api-keys"]) => lazily(keys::create(req, &call, ws)).await,
        (Method::Delete, ["api", "v1", "workspaces", ws, "api-keys", id]) => lazily(keys::revoke(&call, ws, id)).await,
        (_, ["api", "v1", "workspaces", _, "api-keys"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] })
        }
        (_, ["api", "v1", "workspaces", _, "api-keys", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["DELETE"] })
        }
        (_, ["api", "v1", "workspaces", rest @ ..]) => lazily(workspaces::route(req, &call, rest)).await,
        (Method::Post, ["api", "v1", "users", "me", "live", "ticket"]) => lazily(rooms::mint_inbox(&call)).await,
        (Method::Get, ["api", "v1", "users", id, "live"]) => lazily(rooms::join_inbox(&req, &call, id)).await,
        (Method::Get, ["api", "v1", "users", "me", "export"]) => lazily(privacy::export(&call)).await,
        (Method::Delete, ["api", "v1", "users", "me"]) => lazily(privacy::erase(req, &call)).await,
        (_, ["api", "v1", "users", "me", "export"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "users", "me"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["DELETE"] }),
        (_, ["api", "v1", "users", rest @ ..]) => lazily(users::route(req, &call, rest)).await,
        (_, ["api", "v1", "devices", rest @ ..]) => lazily(devices::route(req, &call, rest)).await,
        (Method::Get, ["api", "v1", "audit", "verify"]) => lazily(audit::verify(&req, &call)).await,
        (Method::Post, ["internal", "audit"]) => lazily(audit::from_gateway(req, &call)).await,
        (Method::Get, ["api", "v1", "tickets", id, "live"]) => lazily(rooms::join(&req, &call, id)).await,
        (Method::Post, ["api", "v1", "tickets", id, "live", "ticket"]) => lazily(rooms::mint(&call, id)).await,
        (Method::Post, ["internal", "rooms", id, "publish"]) => lazily(rooms::publish(req, &call, id)).await,
        (Method::Post, ["api", "v1", "tickets", "email-replies"]) => {
            lazily(tickets::replies::inbound(req, &call)).await
        }
        (Method::Post, ["api", "v1", "tickets", "email-replies", "mailgun"]) => {
            lazily(tickets::replies::inbound_mailgun(req, &call)).await
        }
        (_, ["api", "v1", "tickets", rest @ ..]) => lazily(tickets::route(req, &call, rest)).await,
        (_, ["api", "v1", "sessions", rest @ ..]) => lazily(sessions::route(req, &call, rest)).await,
        (_, ["internal", "tickets", rest @ ..]) => lazily(tickets::internal(req, &call, rest)).await,
        (_, ["api", "v1", "dev", rest @ ..]) => lazily(dev::route(req, &call, rest)).await,
        _ => Err(http::no_route(&req)),
    }
}
