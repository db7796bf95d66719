//! `noizylab-notifications`: The notifications hub: email, SMS, web push, Slack/Discord and in-app delivery.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`). What it answers today is listed in its README.
use noizylab_kit::queue::{self, Delivery, Outcome};
use noizylab_kit::{http, serve, ApiResult, Call};
use worker::{event, Context, Env, MessageBatch, Request, Response};

const DIR: &str = "notifications";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

/// No routes of its own yet: `serve` answers `/health`; anything else is the JSON 404.
async fn route(req: Request, _call: Call) -> ApiResult<Response> {
    Err(http::no_route(&req))
}

/// Consumes `noizylab-notify`. No message kinds are defined yet: each is retried and, after
/// `max_retries`, lands in `noizylab-notify-dlq`, where the orchestrator records it for an operator.
#[event(queue)]
async fn consume(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    queue::consume(batch, &env, DIR, handle).await
}

async fn handle(_env: Env, delivery: Delivery) -> Outcome {
    Outcome::Retry(format!("no handler for messages on {} yet", delivery.queue))
}
