//! `noizylab-ar-guide`: Step-by-step repair guides with 3D model assets, live annotation sharing, progress.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`). What it answers today is listed in its README.
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::{http, serve, ApiResult, Call};
use worker::{durable_object, event, Context, DurableObject, Env, Request, Response, State};

const DIR: &str = "ar-guide";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

/// No routes of its own yet: `serve` answers `/health`; anything else is the JSON 404.
async fn route(req: Request, _call: Call) -> ApiResult<Response> {
    Err(http::no_route(&req))
}

/// One per guide session: live annotation sharing. It answers its health probe only; the
/// annotation channel arrives with the AR guide issue.
#[durable_object]
pub struct AnnotationRoom {
    _state: State,
}

impl DurableObject for AnnotationRoom {
    fn new(state: State, _env: Env) -> Self {
        AnnotationRoom { _state: state }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            OBJECT_HEALTH_PATH => object_ok("AnnotationRoom"),
            _ => Response::error("no such object route", 404),
        }
    }
}
