//! `noizylab-notifications`: the notifications hub: email, SMS, web push, Slack/Discord
//! and in-app delivery, by preference, with a delivery log.
//!
//! - `noizylab-notify` (bus events the orchestrator forwards) → `hub::deliver_all`, a batch at a time: email
//!   (SendGrid v3), SMS (Twilio), Slack and Discord incoming webhooks, once per event,
//!   recipient and channel, retried then dead-lettered on provider failure.
//! - `POST /internal/email {to, subject, text}` (other workers: sign-in mail) sends the same
//!   way. With no provider in development, email and SMS land in the dev outbox
//!   (`GET /api/v1/notifications/dev/outbox?to=`), so sign-in works on a laptop; with no
//!   provider in production they answer 503.
//! - `GET|PUT /api/v1/notifications/channels` (admin): the workspace's Slack/Discord webhooks.
//! - `GET /api/v1/notifications/deliveries?ticket_id=` (staff): a ticket's delivery log.
//! - Customer email carries a signed per-ticket `Reply-To`; `main` takes the replies in
//!   (`POST /api/v1/tickets/email-replies`).

mod config;
mod hub;

use noizylab_core::auth::Scope;
use noizylab_core::events::Envelope;
use noizylab_kit::caller::Caller;
use noizylab_kit::queue::{self, Delivery, Outcome};
use noizylab_kit::{http, random, serve, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{event, Context, Env, MessageBatch, Method, Request, Response};

const DIR: &str = "notifications";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["internal", "email"]) => send_email(req, &call).await,
        (Method::Get, ["api", "v1", "notifications", "dev", "outbox"]) => outbox(&req, &call).await,
        (Method::Get, ["api", "v1", "notifications", "channels"]) => channels(&call).await,
        (Method::Put, ["api", "v1", "notifications", "channels"]) => set_channels(req, &call).await,
        (Method::Get, ["api", "v1", "notifications", "deliveries"]) => deliveries(&req, &call).await,
        (Method::Get, ["api", "v1", "notifications", "push", "key"]) => push_key(&call),
        (Method::Post, ["api", "v1", "notifications", "push", "subscriptions"]) => subscribe(req, &call).await,
        (Method::Delete, ["api", "v1", "notifications", "push", "subscriptions"]) => unsubscribe(req, &call).await,
        (_, ["api", "v1", "notifications", "channels"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] })
        }
        _ => Err(http::no_route(&req)),
    }
}

async fn send_email(mut req: Request, call: &Call) -> ApiResult<Response> {
    let mail: noizylab_core::contracts::Email = http::read_json(&mut req).await?;
    if noizylab_core::auth::parse_email(&mail.to).is_none() {
        return Err(ApiError::invalid_field("to", "not an email address"));
    }
    let message = hub::Message { subject: mail.subject, text: mail.text };
    let via = hub::email(&call.env, &call.sql()?, &mail.to, &message, mail.html.as_deref(), None).await?;
    http::json(202, &serde_json::json!({ "delivered_to": via }))
}

/// The caller's workspace, if they hold `scope` (a person or an API key); a refusal is
/// audited like every other worker's.
async fn scoped(call: &Call, scope: Scope) -> ApiResult<String> {
    Ok(Caller::with(call, scope).await?.workspace)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Channels {
    #[serde(default)]
    slack_webhook_url: Option<String>,
    #[serde(default)]
    discord_webhook_url: Option<String>,
}

/// `GET /api/v1/notifications/channels` (admin): the workspace's team webhooks.
async fn channels(call: &Call) -> ApiResult<Response> {
    let ws = scoped(call, Scope::Admin).await?;
    let rows: Vec<serde_json::Value> = call
        .sql()?
        .all(
            "SELECT kind, url, updated_at FROM workspace_channels WHERE workspace_id = ?1 ORDER BY kind",
            &[ws.as_str().into()],
        )
        .await?;
    http::ok(&serde_json::json!({ "channels": rows }))
}

/// `PUT /api/v1/notifications/channels {slack_webhook_url?, discord_webhook_url?}` (admin):
/// an empty string removes one.
async fn set_channels(mut req: Request, call: &Call) -> ApiResult<Response> {
    let ws = scoped(call, Scope::Admin).await?;
    let body: Channels = http::read_json(&mut req).await?;
    let db = call.sql()?;
    for (kind, field, value) in [
        ("slack", "slack_webhook_url", body.slack_webhook_url),
        ("discord", "discord_webhook_url", body.discord_webhook_url),
    ] {
        let Some(url) = value.map(|u| u.trim().to_owned()) else { continue };
        if url.is_empty() {
            db.run(
                "DELETE FROM workspace_channels WHERE workspace_id = ?1 AND kind = ?2",
                &[ws.as_str().into(), kind.into()],
            )
            .await?;
            continue;
        }
        let https = url.starts_with("https://");
        let local = call.is_development() && url.starts_with("http://127.0.0.1:");
        if !(https || local) || url.len() > 500 {
            return Err(ApiError::invalid_field(
                field,
                format!("{field} is the https URL of a {kind} incoming webhook"),
            ));
        }
        db.run(
            "INSERT INTO workspace_channels (workspace_id, kind, url, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workspace_id, kind) DO UPDATE SET url = ?3, updated_at = ?4",
            &[ws.as_str().into(), kind.into(), url.as_str().into(), time::now_rfc3339().into()],
        )
        .await?;
    }
    channels(call).await
}

/// `GET /api/v1/notifications/push/key`: the VAPID public key for `applicationServerKey`.
fn push_key(call: &Call) -> ApiResult<Response> {
    let private = config::Config::from_env(&call.env)
        .vapid_private
        .ok_or_else(|| ApiError::Unavailable("web push is not configured (set VAPID_PRIVATE_KEY)".into()))?;
    let key = noizylab_core::webpush::parse_private_key(&private)
        .and_then(|k| noizylab_core::webpush::vapid_public_key(&k))
        .map_err(ApiError::internal)?;
    http::ok(&serde_json::json!({ "public_key": key }))
}

/// The signed-in person (an API key is refused, audited).
async fn signed_in_user(call: &Call) -> ApiResult<String> {
    Ok(Caller::signed_in(call).await?.id)
}

/// Devices one person may have subscribed to web push at once.
const MAX_PUSH_SUBSCRIPTIONS: i64 = 10;

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize)]
struct PushKeys {
    p256dh: String,
    auth: String,
}

#[derive(Deserialize)]
struct NewSubscription {
    endpoint: String,
    keys: PushKeys,
}

/// Whether `endpoint` can be a browser push service's: `https://` on a named host (not an
/// IP address, so no subscription points the hub at an internal address), with no user or
/// password in it.
fn push_service_url(endpoint: &str) -> bool {
    let Ok(url) = worker::Url::parse(endpoint) else {
        return false;
    };
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.host(), Some(worker::url::Host::Domain(d)) if d.contains('.') && !d.ends_with('.'))
}

/// `POST /api/v1/notifications/push/subscriptions` with the browser's `PushSubscription`
/// JSON: 201; the same endpoint again replaces its keys.
async fn subscribe(mut req: Request, call: &Call) -> ApiResult<Response> {
    let user = signed_in_user(call).await?;
    let body: NewSubscription = http::read_json(&mut req).await?;
    let endpoint = body.endpoint.trim();
    let local = call.is_development() && endpoint.starts_with("http://127.0.0.1:");
    if !(push_service_url(endpoint) || local) || endpoint.len() > 1000 {
        return Err(ApiError::invalid_field(
            "endpoint",
            "endpoint is the push service's https URL: a host name, no user or password, no IP address",
        ));
    }
    // A trial encryption checks the keys the way a send will use them.
    noizylab_core::webpush::encrypt(&body.keys.p256dh, &body.keys.auth, b"{}", [1u8; 32], [0u8; 16])
        .map_err(|why| ApiError::invalid_field("keys", format!("keys.p256dh and keys.auth do not fit: {why}")))?;
    let db = call.sql()?;
    let held: Option<Count> = db
        .first(
            "SELECT COUNT(*) AS n FROM push_subscriptions WHERE user_id = ?1 AND endpoint != ?2",
            &[user.as_str().into(), endpoint.into()],
        )
        .await?;
    if held.is_some_and(|c| c.n >= MAX_PUSH_SUBSCRIPTIONS) {
        return Err(ApiError::Conflict(format!(
            "you already have {MAX_PUSH_SUBSCRIPTIONS} devices subscribed; remove one first"
        )));
    }
    let id = format!("push_{}", &random::id()?[..20]);
    // Another person's subscription is never taken over: the update applies only to the
    // caller's own, and an endpoint someone else holds is refused below.
    let changed = db
        .run(
            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (endpoint) DO UPDATE SET p256dh = ?4, auth = ?5 WHERE user_id = ?2",
            &[
                id.as_str().into(),
                user.as_str().into(),
                endpoint.into(),
                body.keys.p256dh.as_str().into(),
                body.keys.auth.as_str().into(),
                time::now_rfc3339().into(),
            ],
        )
        .await?;
    if changed == 0 {
        return Err(ApiError::Conflict("that endpoint is subscribed by another account".into()));
    }
    http::created(&serde_json::json!({ "endpoint": endpoint }))
}

#[derive(Deserialize)]
struct Unsubscribe {
    endpoint: String,
}

/// `DELETE /api/v1/notifications/push/subscriptions {endpoint}`: 204.
async fn unsubscribe(mut req: Request, call: &Call) -> ApiResult<Response> {
    let user = signed_in_user(call).await?;
    let body: Unsubscribe = http::read_json(&mut req).await?;
    call.sql()?
        .run(
            "DELETE FROM push_subscriptions WHERE endpoint = ?1 AND user_id = ?2",
            &[body.endpoint.as_str().into(), user.as_str().into()],
        )
        .await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}

/// `GET /api/v1/notifications/deliveries?ticket_id=` (staff): what went out about a ticket.
async fn deliveries(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let ws = who.workspace;
    let url = req.url().or_internal("url")?;
    let ticket = url
        .query_pairs()
        .find(|(k, _)| k == "ticket_id")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::invalid_field("ticket_id", "name the ticket: ?ticket_id="))?;
    let rows: Vec<serde_json::Value> = call
        .sql()?
        .all(
            "SELECT event_id, event, recipient, channel, status, attempts, detail, updated_at FROM deliveries
             WHERE ticket_id = ?1 AND workspace_id = ?2 ORDER BY updated_at, channel",
            &[ticket.as_str().into(), ws.as_str().into()],
        )
        .await?;
    http::ok(&serde_json::json!({ "deliveries": rows }))
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
    let rows: Vec<OutboxRow> = call
        .sql()?
        .all(
            "SELECT * FROM dev_outbox WHERE ?1 IS NULL OR recipient = ?1 ORDER BY created_at DESC LIMIT 50",
            &[noizylab_kit::db::opt(to.as_deref())],
        )
        .await?;
    http::ok(&serde_json::json!({ "messages": rows }))
}

/// Consumes `noizylab-notify`: each message is a bus event to deliver. A provider failure
/// retries it (finished deliveries are not repeated); after `max_retries` it lands in
/// `noizylab-notify-dlq`, where the orchestrator records it for an operator.
#[event(queue)]
async fn consume(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    queue::consume_together(batch, &env, DIR, handle).await
}

/// A batch of events delivered together (`hub::deliver_all`): one outcome per message, in
/// order. A message that is not an event is retried (and dead-lettered) alone.
async fn handle(env: Env, deliveries: Vec<Delivery>) -> Vec<Outcome> {
    let parsed: Vec<Result<Envelope, String>> = deliveries
        .iter()
        .map(|d| serde_json::from_str(&d.body).map_err(|e| format!("not an event envelope: {e}")))
        .collect();
    let events: Vec<Envelope> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let delivered = match env.d1(noizylab_core::bindings::DB) {
        Ok(db) => hub::deliver_all(&env, &noizylab_kit::db::Db(db), &events).await,
        Err(e) => Err(ApiError::internal(format!("DB: {e}"))),
    };
    let mut delivered = match delivered {
        Ok(outcomes) => outcomes.into_iter(),
        Err(e) => return deliveries.iter().map(|_| Outcome::Retry(e.to_string())).collect(),
    };
    parsed
        .into_iter()
        .map(|p| match p {
            Err(why) => Outcome::Retry(why),
            Ok(_) => match delivered.next() {
                Some(Ok(())) => Outcome::Done,
                Some(Err(e)) => Outcome::Retry(e.to_string()),
                None => Outcome::Retry("no outcome for this event".into()),
            },
        })
        .collect()
}
