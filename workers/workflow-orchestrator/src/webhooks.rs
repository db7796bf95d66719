//! Outbound webhooks: what goes to a workspace's integration endpoints, and the sending.
//!
//! A bus event an endpoint takes (and a workflow's webhook step) becomes a row of
//! `webhook_deliveries` — once per endpoint and source, however often the event is
//! delivered here — and a message on `noizylab-workflows`. The consumer claims the row's
//! next try (so two copies of the message send once), POSTs the body signed
//! (`noizylab_core::webhooks`: `NoizyLab-Signature: t=…,v1=…`), and records the answer; a
//! failure is tried again after 30 s, doubling, six tries in all, then marked failed —
//! and may be replayed from the delivery log.

use noizylab_core::events::Envelope;
use noizylab_core::webhooks::{self, ATTEMPTS, SIGNATURE_HEADER};
use noizylab_kit::db::{int, opt};
use noizylab_kit::{random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Fetch, Headers, Method, Request, RequestInit};

/// The message that asks for a delivery's next try.
#[derive(Serialize, Deserialize)]
pub struct Send {
    pub webhook_delivery: String,
}

/// An enabled endpoint, with the events it takes (a JSON list of filters).
#[derive(Deserialize)]
pub struct Endpoint {
    id: String,
    workspace_id: String,
    events: String,
}

/// Records a delivery of `body` to `endpoint` for `source` (once) and asks for it to be
/// sent. Its id.
pub async fn enqueue(
    call: &Call,
    workspace: &str,
    endpoint: &str,
    source: &str,
    event: &str,
    body: &str,
) -> ApiResult<String> {
    let db = call.sql()?;
    let id = format!("whd_{}", random::id()?);
    db.run(
        "INSERT OR IGNORE INTO webhook_deliveries (id, endpoint_id, workspace_id, source, event, body, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
        &[
            id.as_str().into(),
            endpoint.into(),
            workspace.into(),
            source.into(),
            event.into(),
            body.into(),
            time::now_rfc3339().into(),
        ],
    )
    .await?;
    #[derive(Deserialize)]
    struct Row {
        id: String,
        status: String,
    }
    let row: Option<Row> = db
        .first(
            "SELECT id, status FROM webhook_deliveries WHERE endpoint_id = ?1 AND source = ?2",
            &[endpoint.into(), source.into()],
        )
        .await?;
    let row = row.ok_or_else(|| ApiError::internal("a delivery just written is missing"))?;
    // A pending delivery is asked for again: the claim in `deliver` sends it once.
    if row.status == "pending" {
        ask(call, &row.id, 0).await?;
    }
    Ok(row.id)
}

async fn ask(call: &Call, id: &str, delay_seconds: u32) -> ApiResult<()> {
    let text = serde_json::to_string(&Send { webhook_delivery: id.to_owned() }).or_internal("webhook message")?;
    let queue = call.queue(noizylab_core::bindings::WORKFLOWS)?;
    let message = worker::MessageBuilder::new(text).delay_seconds(delay_seconds).build();
    queue.send(message).await.or_internal("webhook send")
}

/// The enabled endpoints of the workspaces of a batch of events, read once for the batch
/// (for [`for_event`] to pick from).
pub async fn endpoints(call: &Call, events: &[&Envelope]) -> ApiResult<Vec<Endpoint>> {
    let workspaces = crate::workspaces(events);
    if workspaces.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(&workspaces).or_internal("list")?;
    call.sql()?
        .all(
            "SELECT id, workspace_id, events FROM webhook_endpoints
             WHERE workspace_id IN (SELECT value FROM json_each(?1)) AND enabled = 1",
            &[list.into()],
        )
        .await
}

/// The endpoints of the event's workspace that take it (from its batch's [`endpoints`])
/// each get a delivery of the event.
pub async fn for_event(call: &Call, envelope: &Envelope, endpoints: &[Endpoint]) -> ApiResult<()> {
    let Some(workspace) = envelope.workspace_id.as_deref() else { return Ok(()) };
    let mut body = None;
    for e in endpoints.iter().filter(|e| e.workspace_id == workspace) {
        let filters: Vec<String> = serde_json::from_str(&e.events).unwrap_or_default();
        if webhooks::takes(&filters, &envelope.event) {
            let body = match &body {
                Some(b) => b,
                None => body.insert(serde_json::to_string(envelope).or_internal("event body")?),
            };
            enqueue(call, workspace, &e.id, &envelope.id, &envelope.event, body).await?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Due {
    id: String,
    event: String,
    body: String,
    status: String,
    attempts: i64,
    url: String,
    secret: String,
    enabled: i64,
}

/// One try of delivery `id`, if it is still due. Errors are the platform's (retried with
/// the message); the endpoint's failures are recorded and retried on the schedule.
pub async fn deliver(call: &Call, id: &str) -> ApiResult<()> {
    let db = call.sql()?;
    let due: Option<Due> = db
        .first(
            "SELECT d.id, d.event, d.body, d.status, d.attempts, e.url, e.secret, e.enabled
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?1",
            &[id.into()],
        )
        .await?;
    let Some(d) = due.filter(|d| d.status == "pending") else { return Ok(()) };
    if d.enabled == 0 {
        return finish(call, &d, "failed", None, Some("the endpoint was removed")).await;
    }
    // This try is ours alone: a copy of the message finds the count moved on, or the next
    // try not yet due (a copy of a failed try's message must not skip the back-off).
    let soon = in_secs(1)?;
    let claimed = db
        .run(
            "UPDATE webhook_deliveries SET attempts = attempts + 1
             WHERE id = ?1 AND status = 'pending' AND attempts = ?2 AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)",
            &[d.id.as_str().into(), int(d.attempts), soon.as_str().into()],
        )
        .await?;
    if claimed != 1 {
        return Ok(());
    }
    let attempt = u32::try_from(d.attempts + 1).unwrap_or(ATTEMPTS);
    let (status, error) = match post(call, &d).await {
        Ok(s) if (200..300).contains(&s) => return finish(call, &d, "delivered", Some(s), None).await,
        Ok(s) => (Some(s), format!("the endpoint answered {s}")),
        Err(e) => (None, format!("the endpoint could not be reached: {e}")),
    };
    if attempt >= ATTEMPTS {
        return finish(call, &d, "failed", status, Some(&error)).await;
    }
    let wait = webhooks::retry_after(attempt);
    let next = in_secs(wait)?;
    db.run(
        "UPDATE webhook_deliveries SET last_status = ?2, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1",
        &[
            d.id.as_str().into(),
            status.map(|s| int(i64::from(s))).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
            error.as_str().into(),
            next.as_str().into(),
        ],
    )
    .await?;
    ask(call, &d.id, wait).await
}

/// Now plus `secs`, as RFC 3339 (a retry's time: at most an hour away).
fn in_secs(secs: u32) -> ApiResult<String> {
    let at = i64::try_from(time::now_millis()).unwrap_or(i64::MAX).saturating_add(i64::from(secs) * 1000);
    noizylab_core::time::rfc3339_millis(at).ok_or_else(|| ApiError::internal(format!("now + {secs} s is not a date")))
}

async fn finish(call: &Call, d: &Due, status: &str, answered: Option<u16>, error: Option<&str>) -> ApiResult<()> {
    let delivered = (status == "delivered").then(time::now_rfc3339);
    call.sql()?
        .run(
            "UPDATE webhook_deliveries SET status = ?2, last_status = ?3, last_error = ?4, next_attempt_at = NULL,
                 delivered_at = ?5 WHERE id = ?1",
            &[
                d.id.as_str().into(),
                status.into(),
                answered.map(|s| int(i64::from(s))).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
                opt(error),
                opt(delivered.as_deref()),
            ],
        )
        .await?;
    Ok(())
}

async fn post(call: &Call, d: &Due) -> Result<u16, String> {
    let now = (time::now_millis() / 1000) as i64;
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    set("user-agent", "NoizyLab-Webhooks/1")?;
    set(SIGNATURE_HEADER, &webhooks::signature(&d.secret, now, d.body.as_bytes()))?;
    set("noizylab-event", &d.event)?;
    set("noizylab-delivery", &d.id)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(d.body.as_str().into()));
    let req = Request::new_with_init(&d.url, &init).map_err(|e| e.to_string())?;
    let resp = Fetch::Request(req).send().await.map_err(|e| e.to_string())?;
    call.log_info(&format!("webhook {} to endpoint answered {}", d.id, resp.status_code()));
    Ok(resp.status_code())
}

/// Whether a queue message of `noizylab-workflows` is a delivery's.
pub fn of_message(body: &str) -> Option<String> {
    serde_json::from_str::<Send>(body).ok().map(|s| s.webhook_delivery)
}
