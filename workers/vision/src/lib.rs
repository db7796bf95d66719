//! `noizylab-vision`: board photos compared with golden references (issue 14).
//!
//! Life of an analysis: staff upload a known-good photo of a board model with its
//! components annotated (`POST /api/v1/vision/references`) → a technician sends a photo of
//! a board under repair (`POST /api/v1/vision/analyze`, or a ticket attachment) → the
//! engine (`noizylab_core::vision`) decodes both at analysis scale, registers the photo to
//! the reference, normalises the lighting, finds and classifies the differences → the
//! answer and its overlay are stored (D1, R2), `vision.analyzed` goes on the bus.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod store;
mod upload;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{analyses, references};

const DIR: &str = "vision";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["api", "v1", "vision", "references"]) => references::create(req, &call).await,
        (Method::Get, ["api", "v1", "vision", "references"]) => references::list(&req, &call).await,
        (Method::Get, ["api", "v1", "vision", "references", id]) => references::show(&call, id).await,
        (Method::Put, ["api", "v1", "vision", "references", id]) => references::replace(req, &call, id).await,
        (Method::Delete, ["api", "v1", "vision", "references", id]) => references::remove(&call, id).await,
        (Method::Get, ["api", "v1", "vision", "references", id, "image"]) => references::image(&call, id).await,
        (Method::Post, ["api", "v1", "vision", "analyze"]) => analyses::analyze(req, &call).await,
        (Method::Get, ["api", "v1", "vision", "analyses"]) => analyses::list(&req, &call).await,
        (Method::Get, ["api", "v1", "vision", "analyses", id]) => analyses::show(&call, id).await,
        (Method::Get, ["api", "v1", "vision", "analyses", id, "overlay"]) => analyses::overlay(&call, id).await,
        (_, ["api", "v1", "vision", "references"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "vision", "references", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT", "DELETE"] })
        }
        (_, ["api", "v1", "vision", "analyze"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, ["api", "v1", "vision", "references", _, "image"] | ["api", "v1", "vision", "analyses", ..]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
