//! `noizylab-training`: gamified technician training (issue 18) — simulations built from
//! the shop's real finished repairs, XP and levels, certifications with an expiry,
//! leaderboards per period.
//!
//! Life of a simulation: a manager builds them (`POST …/simulations/build`): each finished
//! repair that used a catalogue part becomes one — its symptoms and the technicians'
//! findings, anonymised, and the part it needed among others from the catalogue. A
//! technician answers; the first answer is scored (100 or 0), earns XP once (the ledger's
//! `source` is unique per person, so racing answers earn once) and counts towards the
//! certifications, whose every module must be answered through with a mean first score at
//! or above the bar. The real outcome is shown once they have answered.
//!
//! XP also comes from real work on the bus (`POST /internal/events`, from the orchestrator):
//! QC passed first time, a guide completed, a customer's approval — once per event.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod domain;
mod progress;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{events, people, simulations};

const DIR: &str = "training";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Get, Post};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Post, ["internal", "events"]) => events::ingest(req, &call).await,
        (Post, ["api", "v1", "training", "simulations", "build"]) => simulations::build(&call).await,
        (Get, ["api", "v1", "training", "simulations"]) => simulations::list(&req, &call).await,
        (Get, ["api", "v1", "training", "simulations", id]) => simulations::show(&call, id).await,
        (Post, ["api", "v1", "training", "simulations", id, "attempts"]) => simulations::attempt(req, &call, id).await,
        (Get, ["api", "v1", "training", "me"]) => people::me(&call).await,
        (Get, ["api", "v1", "training", "modules"]) => people::modules(&call).await,
        (Get, ["api", "v1", "training", "leaderboard"]) => people::leaderboard(&req, &call).await,
        (Post, ["api", "v1", "training", "certifications"]) => people::create_certification(req, &call).await,
        (Get, ["api", "v1", "training", "certifications"]) => people::certifications(&call).await,
        (
            _,
            ["api", "v1", "training", "simulations", "build"] | ["api", "v1", "training", "simulations", _, "attempts"],
        ) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, ["api", "v1", "training", "simulations" | "me" | "modules" | "leaderboard"])
        | (_, ["api", "v1", "training", "simulations", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "training", "certifications"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
