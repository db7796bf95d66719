//! `noizylab-voice`: text-to-speech through ElevenLabs (its real API at a configurable
//! base URL), the workspace's voice profiles, audio streamed as it is made and cached in
//! R2 so the same words are never paid for twice; a customer with voice mode on hears
//! their repair's status.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

mod eleven;
mod profiles;
mod speak;

const DIR: &str = "voice";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["api", "v1", "voice", "speak"]) => speak::speak(req, &call).await,
        (Method::Get, ["api", "v1", "voice", "tickets", id, "status"]) => speak::ticket_status(&call, id).await,
        (Method::Post, ["api", "v1", "voice", "profiles"]) => profiles::create(req, &call).await,
        (Method::Get, ["api", "v1", "voice", "profiles"]) => profiles::list(&call).await,
        (Method::Put, ["api", "v1", "voice", "profiles", id]) => profiles::replace(req, &call, id).await,
        (Method::Delete, ["api", "v1", "voice", "profiles", id]) => profiles::remove(&call, id).await,
        (_, ["api", "v1", "voice", "speak"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, ["api", "v1", "voice", "tickets", _, "status"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "voice", "profiles"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "voice", "profiles", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["PUT", "DELETE"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
