//! `noizylab-api-gateway`: the one public entry of NoizyLab OS.
//!
//! Life of a request: read it through the runtime's own object (not its `cf`) → take or
//! mint a request id → answer CORS preflights → read the body whole, refusing one over the
//! cap (413) → find the owning worker by `/api/v1/<area>/…` (404 otherwise) → verify a
//! bearer token and ask the user's `Gate` (epoch, session, rate limit) → sign the caller's
//! identity for that exact request → forward over the service binding with the edge
//! headers the answer must carry (rate limit, CORS) → hand the answer back as it is (the
//! answering worker stamped them); the gateway's own answers get them here.
//!
//! An API key (`X-API-Key`) is checked by its own gate the same way; with no credential a
//! caller is anonymous. A refused credential is audited (by `main`, after the answer).
//! `POST /api/v1/devices/:id/scan` is also held to 10 scans per device per hour.

mod auth;
mod config;
mod forward;
mod gate;
mod incoming;
mod js;

use futures_util::future::join_all;
use noizylab_core::bindings;
use noizylab_core::health::Report;
use noizylab_core::identity::{Identity, PrincipalKind};
use noizylab_core::services::{self, ServiceSpec, SERVICES};
use noizylab_kit::call::{forward_signed, internal_secret, request_id_from};
use noizylab_kit::http::Edge;
use noizylab_kit::{health, http, ApiError, ApiResult, Call, OrInternal};
use serde::Serialize;
use worker::{event, web_sys, Context, Env, Method, Response};

use config::Config;
pub use gate::Gate;
use incoming::Incoming;

const DIR: &str = "api-gateway";

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    console_error_panic_hook::set_once();
    let req = Incoming::new(req);
    let request_id = request_id_from(req.header(noizylab_core::request_id::HEADER));
    let config = Config::of(&env);
    let origin = req.header("origin");
    let allowed_origin = origin.filter(|o| config.allows_origin(o));
    let mut rate = None;
    let outcome = route(req, &env, &ctx, &config, &request_id, allowed_origin.as_deref(), &mut rate).await;
    let edge = edge(rate.as_ref(), allowed_origin.as_deref());
    let response = match outcome {
        Ok(Answer::Passed(resp)) => return Ok(forward::pass_back(resp, &request_id, &edge)),
        Ok(Answer::Own(resp)) => resp,
        Err(err) => http::error_response(&err, DIR, &request_id),
    };
    Ok(forward::decorate(response, &request_id, &edge).into())
}

/// What the gateway answers with: an inner worker's answer, passed back as the runtime's
/// own object, or one of its own.
enum Answer {
    Passed(web_sys::Response),
    Own(Response),
}

/// The headers an answer leaves with for this caller: the rate window (unless the caller
/// was refused for another reason than the rate) and CORS for an allowed origin.
fn edge(rate: Option<&gate::CheckAnswer>, origin: Option<&str>) -> Edge {
    let rate = rate.filter(|r| r.reason.as_deref().is_none_or(|r| r == "rate_limited"));
    Edge { rate: rate.map(|r| (r.limit, r.remaining, r.reset_secs)), origin: origin.map(str::to_owned) }
}

#[allow(clippy::too_many_arguments)]
async fn route(
    req: Incoming,
    env: &Env,
    ctx: &Context,
    config: &Config,
    request_id: &str,
    origin: Option<&str>,
    rate: &mut Option<gate::CheckAnswer>,
) -> ApiResult<Answer> {
    if req.method() == Method::Options {
        return forward::preflight(&req, config).map(Answer::Own);
    }
    // Before anything can answer: an answer that leaves the body unread resets the
    // client's kept-alive connection (see `forward::read_body`).
    let body = forward::read_body(&req, config.max_body_bytes).await?;
    let path = req.path().to_owned();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Get, ["health"]) => own_health(&req.to_request(), env, request_id).await.map(Answer::Own),
        (Method::Get, ["api", "v1", "health"]) => {
            // Seventeen probes per call: held per address like any anonymous request.
            limit_by_address(&req, env, config, rate).await?;
            aggregate_health(env, request_id).await.map(Answer::Own)
        }
        (_, ["api", "v1", "health"] | ["health"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (Method::Get | Method::Head, []) => redirect("/portal/").map(Answer::Own),
        (_, ["portal", ..]) => {
            // The customer web app: public pages; the API calls they make authenticate.
            // Anonymous traffic, held per address like the API's.
            limit_by_address(&req, env, config, rate).await?;
            let secret = internal_secret(env)?;
            let who = Identity::anonymous();
            let owner = services::CUSTOMER_PORTAL;
            forward::to_service(req, body, env, owner, &secret, &who, request_id, &edge(rate.as_ref(), origin))
                .await
                .map(Answer::Passed)
        }
        // The API reference: the OpenAPI document and its rendered page, from the portal's
        // static assets. Public, held per address like the portal's pages.
        (Method::Get, ["api", "v1", "openapi.json"] | ["docs"] | ["docs", "redoc.standalone.js"]) => {
            limit_by_address(&req, env, config, rate).await?;
            let secret = internal_secret(env)?;
            let who = Identity::anonymous();
            let edge = edge(rate.as_ref(), origin);
            forward::to_service(req, body, env, services::CUSTOMER_PORTAL, &secret, &who, request_id, &edge)
                .await
                .map(Answer::Passed)
        }
        (_, ["api", "v1", "openapi.json"] | ["docs"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (Method::Get, [".well-known", "jwks.json"]) => {
            let secret = internal_secret(env)?;
            let who = Identity::anonymous();
            let edge = edge(rate.as_ref(), origin);
            forward::to_service(req, body, env, services::MAIN, &secret, &who, request_id, &edge)
                .await
                .map(Answer::Passed)
        }
        (_, ["api", "v1", area, rest @ ..]) => {
            let owner =
                services::owner_of_area(area).ok_or_else(|| ApiError::not_found(format!("API area '{area}'")))?;
            refuse_foreign_websocket(&req, config)?;
            let secret = internal_secret(env)?;
            let who = match auth::Credential::of(&req) {
                Ok(auth::Credential::None) => {
                    limit_by_address(&req, env, config, rate).await?;
                    Ok(Identity::anonymous())
                }
                Ok(credential) => auth::authenticate(&credential, env, config, &secret, request_id, rate).await,
                Err(e) => Err(e),
            };
            let who = match who {
                Err(ApiError::Unauthenticated(why)) => {
                    // Refused credentials count as anonymous traffic: a flood of them is
                    // held at the address's limit instead of filling the audit log.
                    limit_by_address(&req, env, config, rate).await?;
                    audit_refusal(&req, env, ctx, &secret, request_id, &why);
                    return Err(ApiError::Unauthenticated(why));
                }
                other => other?,
            };
            if let (Method::Post, "devices", [device, "scan"]) = (req.method(), *area, rest) {
                if who.kind != PrincipalKind::Anonymous {
                    auth::limit(env, &format!("device:{device}"), SCANS_PER_HOUR, 3_600_000, rate).await?;
                }
            }
            if let (Method::Get, Some(room)) = (req.method(), noizylab_core::names::live_room(area, rest)) {
                if let Some(joined) = join_room(&req, env, room).await? {
                    return Ok(Answer::Own(joined));
                }
            }
            forward::to_service(req, body, env, owner, &secret, &who, request_id, &edge(rate.as_ref(), origin))
                .await
                .map(Answer::Passed)
        }
        (method, _) => Err(ApiError::NotFound(format!("route {method} {path}"))),
    }
}

/// A room's WebSocket (`GET /api/v1/tickets/:id/live`, `…/users/:id/live`) goes straight to
/// its `TicketRoom`, bound from `main`'s script, which redeems the single-use ticket in the
/// query as it does when `main` forwards the upgrade (`rooms::join`): every frame of the
/// socket's life then crosses one isolate fewer. `None` (`main` answers) for a request
/// that is not an upgrade, or on a gateway without the binding.
async fn join_room(req: &Incoming, env: &Env, room: Result<String, &str>) -> ApiResult<Option<Response>> {
    if !req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Ok(None);
    }
    let Ok(rooms) = env.durable_object(bindings::TICKET_ROOM) else {
        return Ok(None);
    };
    let name = room.map_err(|why| ApiError::invalid_field("id", why))?;
    let stub = rooms.id_from_name(&name).and_then(|id| id.get_stub()).or_internal("ticket room stub")?;
    noizylab_kit::room::forward_upgrade(&stub, &req.to_request(), &name).await.map(Some)
}

/// A browser WebSocket from another site is refused (cross-site WebSocket hijacking):
/// with an `Origin`, it must be the portal's or this host's own. Clients that are not
/// browsers (device agents) send none.
fn refuse_foreign_websocket(req: &Incoming, config: &Config) -> ApiResult<()> {
    let upgrade = req.header("upgrade");
    if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Ok(());
    }
    let Some(origin) = req.header("origin") else {
        return Ok(());
    };
    let own = worker::Url::parse(req.url()).ok().map(|u| u.origin().ascii_serialization());
    if config.allows_origin(&origin) || own.as_deref() == Some(origin.as_str()) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!("WebSockets from {origin} are not allowed")))
}

fn redirect(to: &str) -> ApiResult<Response> {
    let headers = worker::Headers::new();
    headers.set("location", to).map_err(|e| ApiError::internal(format!("header: {e}")))?;
    Ok(Response::empty()
        .map_err(|e| ApiError::internal(format!("response: {e}")))?
        .with_status(302)
        .with_headers(headers))
}

/// Anonymous API requests (and refused credentials) are limited per client address, in
/// the address's own `Gate` (`ip:<address>`): 429 with `Retry-After` past the limit.
async fn limit_by_address(
    req: &Incoming,
    env: &Env,
    config: &Config,
    rate: &mut Option<gate::CheckAnswer>,
) -> ApiResult<()> {
    let address = req.header("cf-connecting-ip").unwrap_or_else(|| "unknown".into());
    auth::limit(env, &format!("ip:{address}"), config.anonymous_per_minute, 60_000, rate).await
}

/// Scans a device may have in any hour (the seed's limit).
const SCANS_PER_HOUR: u32 = 10;

/// Hands a refused credential to `main`'s audit log once the answer has gone out. The
/// credential itself is never sent, only why it failed.
fn audit_refusal(req: &Incoming, env: &Env, ctx: &Context, secret: &str, request_id: &str, why: &str) {
    let body = noizylab_core::contracts::AuditEntry {
        action: "auth.credential_refused".into(),
        ip: req.header("cf-connecting-ip"),
        actor_id: None,
        workspace_id: None,
        detail: serde_json::json!({ "reason": why, "method": req.method().to_string(), "path": req.path() }),
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    let (env, secret, request_id) = (env.clone(), secret.to_owned(), request_id.to_owned());
    ctx.wait_until(async move {
        let me = Identity::of_service(noizylab_core::services::API_GATEWAY);
        let sent = match env.service(services::MAIN) {
            Ok(main) => forward_signed(&main, &secret, &me, &request_id, Method::Post, "/internal/audit", Some(body))
                .await
                .map(|r| r.status_code()),
            Err(e) => Err(ApiError::internal(format!("MAIN: {e}"))),
        };
        match sent {
            Ok(204) => {}
            Ok(status) => noizylab_kit::log::warn(DIR, &request_id, &format!("audit of a refusal answered {status}")),
            Err(e) => noizylab_kit::log::warn(DIR, &request_id, &format!("audit of a refusal failed: {e}")),
        }
    });
}

fn gateway_call(env: &Env, request_id: &str) -> ApiResult<Call> {
    let spec = services::spec(DIR).ok_or_else(|| ApiError::internal("no spec for the gateway"))?;
    let secret = internal_secret(env)?;
    Ok(Call::new(spec, env.clone(), request_id.to_owned(), Identity::service(&spec.worker_name()), secret))
}

/// `GET /health`: the gateway's own bindings, service links included.
async fn own_health(req: &worker::Request, env: &Env, request_id: &str) -> ApiResult<Response> {
    let call = gateway_call(env, request_id)?;
    health::handle(req, &call).await
}

#[derive(Serialize)]
struct Aggregate {
    status: &'static str,
    services: Vec<Report>,
}

/// `GET /api/v1/health`: all seventeen workers, probed concurrently. Each is asked for
/// its local checks only, since each is probed here directly.
async fn aggregate_health(env: &Env, request_id: &str) -> ApiResult<Response> {
    let call = gateway_call(env, request_id)?;
    let reports = join_all(SERVICES.iter().map(|spec| service_report(&call, spec))).await;
    let healthy = reports.iter().all(Report::is_ok);
    let body = Aggregate { status: if healthy { "ok" } else { "degraded" }, services: reports };
    http::json(if healthy { 200 } else { 503 }, &body)
}

async fn service_report(call: &Call, spec: &'static ServiceSpec) -> Report {
    if spec.dir == DIR {
        return health::report(call, false).await;
    }
    let unreachable = |why: String| {
        call.log_warn(&format!("health of {} failed: {why}", spec.worker_name()));
        Report {
            service: spec.worker_name(),
            version: "unknown".into(),
            status: "unreachable".into(),
            checks: Vec::new(),
        }
    };
    match call.internal(spec.binding, Method::Get, "/health?scope=local", None).await {
        Ok(resp) => match http::answer_json::<Report>(&resp).await {
            Ok(report) => report,
            Err(e) => unreachable(format!("answered {} with an unreadable body: {e}", resp.status_code())),
        },
        Err(e) => unreachable(e.to_string()),
    }
}
