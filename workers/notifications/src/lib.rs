//! `noizylab-notifications`: the notifications hub: email, SMS, web push, Slack/Discord
//! and in-app delivery, by preference, with a delivery log.
//!
//! Today: email. `POST /internal/email {to, subject, text}` (other workers, over the
//! service binding) sends through SendGrid's v3 API when `SENDGRID_API_KEY` is set (base URL
//! `SENDGRID_BASE_URL`, sender `MAIL_FROM`); with no provider in development the message
//! lands in the dev outbox (`GET /api/v1/notifications/dev/outbox?to=`), so sign-in works
//! on a laptop; with no provider in production it answers 503.

use noizylab_kit::queue::{self, Delivery, Outcome};
use noizylab_kit::{http, random, serve, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{event, Context, Env, Fetch, Headers, MessageBatch, Method, Request, RequestInit, Response};

const DIR: &str = "notifications";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["internal", "email"]) => send_email(req, &call).await,
        (Method::Get, ["api", "v1", "notifications", "dev", "outbox"]) => outbox(&req, &call).await,
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Deserialize)]
struct Email {
    to: String,
    subject: String,
    text: String,
}

fn var(call: &Call, name: &str) -> Option<String> {
    call.env.var(name).map(|v| v.to_string()).ok().filter(|v| !v.is_empty())
}

async fn send_email(mut req: Request, call: &Call) -> ApiResult<Response> {
    let mail: Email = http::read_json(&mut req).await?;
    if noizylab_core::auth::parse_email(&mail.to).is_none() {
        return Err(ApiError::invalid_field("to", "not an email address"));
    }
    let key = call.env.secret("SENDGRID_API_KEY").map(|s| s.to_string()).ok().filter(|k| !k.is_empty());
    match key {
        Some(key) => sendgrid(call, &key, &mail).await,
        None if call.is_development() => {
            call.db()?
                .prepare(
                    "INSERT INTO dev_outbox (id, recipient, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .bind(&[
                    random::id()?.into(),
                    mail.to.as_str().into(),
                    mail.subject.as_str().into(),
                    mail.text.as_str().into(),
                    time::now_rfc3339().into(),
                ])
                .or_internal("bind")?
                .run()
                .await
                .or_internal("outbox insert")?;
            http::json(202, &serde_json::json!({ "delivered_to": "dev_outbox" }))
        }
        None => Err(ApiError::Unavailable("no email provider is configured (set SENDGRID_API_KEY)".into())),
    }
}

/// SendGrid v3 `POST /v3/mail/send` (https://docs.sendgrid.com/api-reference/mail-send).
async fn sendgrid(call: &Call, key: &str, mail: &Email) -> ApiResult<Response> {
    let base = var(call, "SENDGRID_BASE_URL").unwrap_or_else(|| "https://api.sendgrid.com".into());
    let from = var(call, "MAIL_FROM").unwrap_or_else(|| "no-reply@noizylab.example".into());
    let body = serde_json::json!({
        "personalizations": [{ "to": [{ "email": mail.to }] }],
        "from": { "email": from },
        "subject": mail.subject,
        "content": [{ "type": "text/plain", "value": mail.text }],
    });
    let headers = Headers::new();
    headers.set("authorization", &format!("Bearer {key}")).or_internal("header")?;
    headers.set("content-type", "application/json").or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let req = Request::new_with_init(&format!("{}/v3/mail/send", base.trim_end_matches('/')), &init)
        .or_internal("sendgrid request")?;
    let resp = Fetch::Request(req).send().await.map_err(|e| ApiError::BadGateway(format!("sendgrid: {e}")))?;
    match resp.status_code() {
        200..=299 => http::json(202, &serde_json::json!({ "delivered_to": "sendgrid" })),
        status => Err(ApiError::BadGateway(format!("sendgrid answered {status}"))),
    }
}

#[derive(Serialize, Deserialize)]
struct OutboxRow {
    id: String,
    recipient: String,
    subject: String,
    body: String,
    created_at: String,
}

/// `GET /api/v1/notifications/dev/outbox[?to=<email>]`: development only, newest first.
async fn outbox(req: &Request, call: &Call) -> ApiResult<Response> {
    if !call.is_development() {
        return Err(http::no_route(req));
    }
    let url = req.url().or_internal("url")?;
    let to = url.query_pairs().find(|(k, _)| k == "to").map(|(_, v)| v.trim().to_ascii_lowercase());
    let db = call.db()?;
    let stmt = match &to {
        Some(to) => db
            .prepare("SELECT * FROM dev_outbox WHERE recipient = ?1 ORDER BY created_at DESC LIMIT 50")
            .bind(&[to.as_str().into()]),
        None => Ok(db.prepare("SELECT * FROM dev_outbox ORDER BY created_at DESC LIMIT 50")),
    }
    .or_internal("bind")?;
    let rows: Vec<OutboxRow> = stmt.all().await.or_internal("outbox read")?.results().or_internal("rows")?;
    http::ok(&serde_json::json!({ "messages": rows }))
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
