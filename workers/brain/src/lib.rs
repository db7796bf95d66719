//! `noizylab-brain`: the engine room (seed 000) — diagnostics, foresight and reports.
//!
//! Life of a scan: `POST /api/v1/diagnostics/start` (or `main`'s `POST
//! /api/v1/devices/:id/scan`) checks the device data and queues a job on `noizylab-jobs` →
//! this worker's consumer (`jobs`) runs the diagnostics engine
//! (`noizylab_core::diagnostics`), forecasts from the device's scans, stores the result,
//! updates the device and its KV caches, and announces `diagnostics.started`,
//! `.progress`, `.complete` (and `alert.critical`) → the orchestrator puts progress into the
//! device's ticket room → `GET /api/v1/diagnostics/:id` shows the result, and
//! `POST /api/v1/reports/generate` turns it into a report (JSON, HTML, PDF, email).
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod jobs;
mod store;

use noizylab_kit::{http, queue, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, MessageBatch, Method, Request, Response};

use api::{diagnostics, predictions, reports};

const DIR: &str = "brain";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["api", "v1", "diagnostics", "start"]) => diagnostics::start(req, &call).await,
        (Method::Get, ["api", "v1", "diagnostics", "history"]) => diagnostics::history(&req, &call).await,
        (Method::Get, ["api", "v1", "diagnostics", id]) => diagnostics::show(&call, id).await,
        (Method::Post, ["api", "v1", "diagnostics", id, "fix"]) => diagnostics::fix(&call, id).await,
        (Method::Get, ["api", "v1", "predictions", device]) => predictions::show(&call, device).await,
        (Method::Post, ["api", "v1", "reports", "generate"]) => reports::generate(req, &call).await,
        (Method::Get, ["api", "v1", "reports", id]) => reports::show(&req, &call, id).await,
        (Method::Get, ["api", "v1", "reports", id, "pdf"]) => reports::pdf(&call, id).await,
        (Method::Post, ["api", "v1", "reports", id, "email"]) => reports::email(&call, id).await,
        (Method::Post, ["internal", "sessions", id, "report"]) => reports::for_session(&call, id).await,
        (_, ["api", "v1", "diagnostics", "start"] | ["api", "v1", "diagnostics", _, "fix"]) => post_only(),
        (_, ["api", "v1", "reports", "generate"] | ["api", "v1", "reports", _, "email"]) => post_only(),
        (_, ["api", "v1", "diagnostics", _] | ["api", "v1", "predictions", _]) => get_only(),
        (_, ["api", "v1", "reports", _] | ["api", "v1", "reports", _, "pdf"]) => get_only(),
        _ => Err(http::no_route(&req)),
    }
}

fn post_only() -> ApiResult<Response> {
    Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
}

fn get_only() -> ApiResult<Response> {
    Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
}

/// Consumes `noizylab-jobs`: scans (see `jobs`). A message it cannot read is retried and,
/// after `max_retries`, lands in `noizylab-jobs-dlq`, where the orchestrator records it.
#[event(queue)]
async fn consume(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    queue::consume(batch, &env, DIR, jobs::handle).await
}
