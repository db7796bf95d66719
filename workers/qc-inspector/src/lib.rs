//! `noizylab-qc-inspector`: Quality control: checkpoint inspections, defect detection through vision, QC reports.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`). What it answers today is listed in its README.
use noizylab_kit::{http, serve, ApiResult, Call};
use worker::{event, Context, Env, Request, Response};

const DIR: &str = "qc-inspector";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

/// No routes of its own yet: `serve` answers `/health`; anything else is the JSON 404.
async fn route(req: Request, _call: Call) -> ApiResult<Response> {
    Err(http::no_route(&req))
}
