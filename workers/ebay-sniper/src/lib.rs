//! `noizylab-ebay-sniper`: parts deal hunting (issue 16) — watches on eBay listings for a
//! part, each listing judged on landed cost, margin, seller and place, and purchases only
//! after a person approves.
//!
//! Life of a deal: a watch names a part and what to search for (`POST /api/v1/watches`) →
//! every 30 minutes the cron (or a person, or `inventory.low_stock` through the
//! orchestrator) searches eBay's Browse API (`ebay.rs`, an application token cached in KV)
//! → each listing is judged against the part's stock cost and the shop's parts markup and
//! tax (`noizylab_core::deals`) and kept as a deal → a deal reaching the watch's score puts
//! `deal.found` on the bus once (notifications tells the managers) → staff ask to buy it
//! → an owner or admin approves → `inventory` places a purchase order to the seller, once
//! per approval → the stock arrives through that order's receiving, into the ledger.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`).

mod api;
mod config;
mod ebay;
mod hunt;
mod store;

use noizylab_core::identity::Identity;
use noizylab_core::services;
use noizylab_kit::{http, random, serve, ApiError, ApiResult, Call};
use worker::{event, Context, Env, Method, Request, Response, ScheduleContext, ScheduledEvent};

use api::{deals, internal, purchases, watches};

const DIR: &str = "ebay-sniper";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    use Method::{Delete, Get, Post, Put};
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Post, ["internal", "hunts"]) => internal::hunt(req, &call).await,
        (Post, ["api", "v1", "watches"]) => watches::create(req, &call).await,
        (Get, ["api", "v1", "watches"]) => watches::list(&call).await,
        (Get, ["api", "v1", "watches", id]) => watches::show(&call, id).await,
        (Put, ["api", "v1", "watches", id]) => watches::replace(req, &call, id).await,
        (Delete, ["api", "v1", "watches", id]) => watches::stop(&call, id).await,
        (Post, ["api", "v1", "watches", id, "search"]) => watches::search(&call, id).await,
        (Get, ["api", "v1", "deals"]) => deals::list(&req, &call).await,
        (Get, ["api", "v1", "deals", "purchase-requests"]) => purchases::list(&req, &call).await,
        (Post, ["api", "v1", "deals", "purchase-requests", id, "approve"]) => purchases::approve(req, &call, id).await,
        (Post, ["api", "v1", "deals", "purchase-requests", id, "reject"]) => purchases::reject(req, &call, id).await,
        (Get, ["api", "v1", "deals", id]) => deals::show(&call, id).await,
        (Post, ["api", "v1", "deals", id, "purchase-requests"]) => purchases::ask(req, &call, id).await,
        (_, ["api", "v1", "watches"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, ["api", "v1", "watches", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT", "DELETE"] }),
        (_, ["api", "v1", "deals"] | ["api", "v1", "deals", "purchase-requests"] | ["api", "v1", "deals", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (
            _,
            ["api", "v1", "watches", _, "search"]
            | ["api", "v1", "deals", _, "purchase-requests"]
            | ["api", "v1", "deals", "purchase-requests", _, "approve" | "reject"],
        ) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        _ => Err(http::no_route(&req)),
    }
}

/// The listing monitor (cron `*/30 * * * *`): every active watch, the longest unsearched
/// first, at most 100 a run. Without eBay configured it searches nothing and says so on
/// every watch (`last_error`) and in the log; a watch that fails is noted and the others
/// go on.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Some(spec) = services::spec(DIR) else { return };
    let secret = match noizylab_kit::call::internal_secret(&env) {
        Ok(s) => s,
        Err(e) => return worker::console_error!("{DIR}: cron: {e}"),
    };
    let request_id = random::id().unwrap_or_else(|_| "cron".into());
    let call = Call::new(spec, env, format!("cron-{request_id}"), Identity::service(DIR), secret);
    if let Err(e) = monitor(&call).await {
        call.log_warn(&format!("cron: {e}"));
    }
}

async fn monitor(call: &Call) -> ApiResult<()> {
    let cfg = config::Config::from_env(&call.env);
    let due: Vec<store::Watch> = call
        .sql()?
        .all(&format!("{} WHERE active = 1 ORDER BY last_run_at IS NOT NULL, last_run_at LIMIT 100", store::WATCH), &[])
        .await?;
    let mut found = 0;
    for w in &due {
        match hunt::run(call, &cfg, w).await {
            Ok(r) => found += r.found,
            Err(e) => call.log_warn(&format!("cron: watch {}: {e}", w.id)),
        }
    }
    call.log_info(&format!("cron: {} watch(es) searched, {found} deal(s) found", due.len()));
    Ok(())
}
