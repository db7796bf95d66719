//! `noizylab-vision`: PCB image analysis: golden-reference comparison, defect regions, component identification.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`). What it answers today is listed in its README.
use noizylab_kit::{health, http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

const DIR: &str = "vision";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Get, ["health"]) => health::handle(&req, &call).await,
        (Method::Get, ["health", "ping"]) => health::ping(&call),
        (_, ["health", ..]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        _ => Err(http::no_route(&req)),
    }
}
