//! `noizylab-ar-guide`: repair guides (issue 15) — steps with text, images, tools,
//! warnings and expected time per device model, in versions; 3D models (glTF 2.0, checked
//! by a real parser) whose nodes a step can point at with a camera view; live annotation
//! rooms (`AnnotationRoom`) per guide and ticket; each technician's progress.
//!
//! Life of a guide: staff upload the model (`POST /api/v1/guides/assets`) and write the
//! guide (`POST /api/v1/guides`) → on a ticket a technician opens it in the workbench's
//! viewer, which shows each step's node on the model and the room's annotations live →
//! `PUT …/progress` keeps the step they are on; the last one completes it
//! (`guide.completed`).
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod object;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{assets, guides, live, progress};
pub use object::AnnotationRoom;

const DIR: &str = "ar-guide";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Delete, Get, Post, Put};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Post, ["api", "v1", "guides", "assets"]) => assets::upload(req, &call).await,
        (Get, ["api", "v1", "guides", "assets", id]) => assets::show(&call, id).await,
        (Get, ["api", "v1", "guides", "assets", id, "file"]) => assets::file(&call, id).await,
        (Post, ["api", "v1", "guides"]) => guides::create(req, &call).await,
        (Get, ["api", "v1", "guides"]) => guides::list(&req, &call).await,
        (Get, ["api", "v1", "guides", id]) => guides::show(&req, &call, id).await,
        (Put, ["api", "v1", "guides", id]) => guides::update(req, &call, id).await,
        (Delete, ["api", "v1", "guides", id]) => guides::archive(&call, id).await,
        (Get, ["api", "v1", "guides", id, "versions"]) => guides::versions(&call, id).await,
        (Put, ["api", "v1", "guides", id, "progress"]) => progress::record(req, &call, id).await,
        (Get, ["api", "v1", "guides", id, "progress"]) => progress::show(&req, &call, id).await,
        (Post, ["api", "v1", "guides", id, "live", "ticket"]) => live::mint(req, &call, id).await,
        (Get, ["api", "v1", "guides", id, "live"]) => live::join(&req, &call, id).await,
        (_, ["api", "v1", "guides", "assets"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, ["api", "v1", "guides", "assets", ..]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "guides"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "guides", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT", "DELETE"] }),
        (_, ["api", "v1", "guides", _, "progress"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        (_, ["api", "v1", "guides", _, "versions" | "live"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "guides", _, "live", "ticket"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        _ => Err(http::no_route(&req)),
    }
}
