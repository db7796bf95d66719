//! `noizylab-qc-inspector`: quality control (issue 14) — checkpoint templates per device
//! type, inspections of tickets in QC, QC reports and first-pass yield.
//!
//! Life of an inspection: an admin sets the checkpoints for a device type
//! (`PUT /api/v1/qc/templates/:device_type`) → a repaired ticket reaches QC and a
//! technician starts an inspection (`POST /api/v1/qc/inspections`), which copies the
//! template → each checkpoint is recorded once (`POST …/checkpoints/:checkpoint`): a manual
//! pass/fail, a measurement judged against its range, or a photo that `vision` compares
//! with the golden reference → with the last one the inspection is final: `main` moves the
//! ticket to READY with the QC report attached for the customer, or back to IN_REPAIR with
//! the failed checkpoints as the rework list; `qc.passed` / `qc.failed` go on the bus.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod photos;
mod store;

use noizylab_kit::{http, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response};

use api::{inspections, reports, templates, yields};

const DIR: &str = "qc-inspector";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Delete, Get, Post, Put};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Get, ["api", "v1", "qc", "templates"]) => templates::list(&call).await,
        (Get, ["api", "v1", "qc", "templates", kind]) => templates::show(&call, kind).await,
        (Put, ["api", "v1", "qc", "templates", kind]) => templates::set(req, &call, kind).await,
        (Delete, ["api", "v1", "qc", "templates", kind]) => templates::remove(&call, kind).await,
        (Post, ["api", "v1", "qc", "inspections"]) => inspections::start(req, &call).await,
        (Get, ["api", "v1", "qc", "inspections"]) => inspections::list(&req, &call).await,
        (Get, ["api", "v1", "qc", "inspections", id]) => inspections::show(&call, id).await,
        (Delete, ["api", "v1", "qc", "inspections", id]) => inspections::cancel(&call, id).await,
        (Post, ["api", "v1", "qc", "inspections", id, "checkpoints", checkpoint]) => {
            inspections::record(req, &call, id, checkpoint).await
        }
        (Get, ["api", "v1", "qc", "inspections", id, "report"]) => reports::html(&call, id).await,
        (Get, ["api", "v1", "qc", "inspections", id, "report", "pdf"]) => reports::pdf(&call, id).await,
        (Get, ["api", "v1", "qc", "yield"]) => yields::first_pass(&req, &call).await,
        (_, ["api", "v1", "qc", "templates"] | ["api", "v1", "qc", "inspections", _, "report", ..]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "qc", "yield"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "qc", "templates", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT", "DELETE"] })
        }
        (_, ["api", "v1", "qc", "inspections"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "qc", "inspections", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "DELETE"] })
        }
        (_, ["api", "v1", "qc", "inspections", _, "checkpoints", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        _ => Err(http::no_route(&req)),
    }
}
