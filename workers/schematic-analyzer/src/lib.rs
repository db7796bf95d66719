//! `noizylab-schematic-analyzer`: schematics (issue 15) — KiCad netlists imported (the file
//! in R2, its parts and nets in D1), part lookup, net tracing, the path between two parts,
//! power rails as a tree from the input down, rule checks, and suspects for a symptom.
//!
//! Life of a question: a technician imports the board's `.net` export once
//! (`POST /api/v1/schematics`) → each question loads the parse from D1 and asks the engine
//! (`noizylab_core::schematic`, pure and unit-tested on real netlists) → "no 1V8" gives the
//! converter, its inductor, its input and the rail's capacitors in that order, and can go on
//! the ticket as an internal note.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{analysis, lookup, schematics};

const DIR: &str = "schematic-analyzer";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Delete, Get, Post};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Post, ["api", "v1", "schematics"]) => schematics::import(req, &call).await,
        (Get, ["api", "v1", "schematics"]) => schematics::list(&req, &call).await,
        (Get, ["api", "v1", "schematics", id]) => schematics::show(&call, id).await,
        (Delete, ["api", "v1", "schematics", id]) => schematics::remove(&call, id).await,
        (Get, ["api", "v1", "schematics", id, "file"]) => schematics::file(&call, id).await,
        (Get, ["api", "v1", "schematics", id, "components"]) => lookup::components(&req, &call, id).await,
        (Get, ["api", "v1", "schematics", id, "components", reference]) => {
            lookup::component(&call, id, reference).await
        }
        (Get, ["api", "v1", "schematics", id, "nets"]) => lookup::nets(&req, &call, id).await,
        (Get, ["api", "v1", "schematics", id, "trace"]) => analysis::trace(&req, &call, id).await,
        (Get, ["api", "v1", "schematics", id, "path"]) => analysis::path(&req, &call, id).await,
        (Get, ["api", "v1", "schematics", id, "power"]) => analysis::power(&call, id).await,
        (Get, ["api", "v1", "schematics", id, "faults"]) => analysis::faults(&call, id).await,
        (Post, ["api", "v1", "schematics", id, "suspects"]) => analysis::suspects(req, &call, id).await,
        (_, ["api", "v1", "schematics"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "schematics", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "DELETE"] }),
        (_, ["api", "v1", "schematics", _, "suspects"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, ["api", "v1", "schematics", _, "file" | "components" | "nets" | "trace" | "path" | "power" | "faults"])
        | (_, ["api", "v1", "schematics", _, "components", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
