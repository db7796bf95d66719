//! `noizylab-analytics`: the shop's numbers (issue 18) — KPIs, technician performance,
//! revenue by period and grouping, a trend forecast, CSV exports.
//!
//! Life of a number: a bus event reaches the orchestrator, which hands it on here
//! (`POST /internal/events`); the events a report counts become rows of
//! `analytics_facts`, one per event id (a redelivery counts once), enriched with the
//! ticket's technician, device type and service tier as they are when it arrives. A report
//! is then one indexed scan of the facts in its window. What is a state rather than a
//! history — the backlog by status, overdue tickets, bench time from the ticket timers,
//! the staff — is read from its owner's table as it stands.
//!
//! Who sees what: managers (`admin`) everything; a technician their own performance only.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod domain;
mod params;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{events, kpis, revenue, technicians};

const DIR: &str = "analytics";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Get, Post};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Post, ["internal", "events"]) => events::ingest(req, &call).await,
        (Get, ["api", "v1", "analytics", "kpis"]) => kpis::show(&req, &call).await,
        (Get, ["api", "v1", "analytics", "technicians"]) => technicians::list(&req, &call).await,
        (Get, ["api", "v1", "analytics", "technicians", "csv"]) => technicians::export(&req, &call).await,
        (Get, ["api", "v1", "analytics", "revenue"]) => revenue::show(&req, &call).await,
        (Get, ["api", "v1", "analytics", "revenue", "csv"]) => revenue::export(&req, &call).await,
        (Get, ["api", "v1", "analytics", "forecast"]) => revenue::forecast_of(&req, &call).await,
        (_, ["api", "v1", "analytics", "kpis" | "technicians" | "revenue" | "forecast"])
        | (_, ["api", "v1", "analytics", "technicians" | "revenue", "csv"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
