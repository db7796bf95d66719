//! `noizylab-workflow-orchestrator`: the automation engine, and the router of the event
//! bus.
//!
//! Cloudflare Queues allow one consumer per queue, so this worker consumes
//! `noizylab-events` for everyone: it records each catalogued event once in `event_log`,
//! starts the workflows the event triggers (`runs`: one Durable Object per run, the seed's
//! parts sourcing and repair intake shipped as defaults), feeds ticket rooms, hands the
//! notifications hub what it tells people about, moves a ticket's parts with it (quote
//! approved: reserved; READY: consumed; VOID: released), and has an ended remote session's
//! report made and emailed (`brain`). It also consumes every dead-letter queue, so each
//! message that exhausted its retries is kept in `dead_letters` for an operator.

use noizylab_core::auth::Scope;
use noizylab_core::events::{self, Envelope};
use noizylab_core::events::{
    AlertCritical, ChatEscalated, DealFound, DiagnosticsComplete, DiagnosticsProgress, Payload, PaymentSucceeded,
    QuoteApproved, QuoteDeclined, QuoteIssued, SessionEnded, SessionStarted, TicketAssigned, TicketAttachmentAdded,
    TicketCreated, TicketMessageAdded, TicketStatusChanged, TicketUpdated,
};
use noizylab_core::services::queues;
use noizylab_kit::caller::Caller;
use noizylab_kit::queue::{self, Delivery, Outcome};
use noizylab_kit::{http, serve, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{event, wasm_bindgen::JsValue, Context, Env, MessageBatch, Method, Request, Response};

mod api;
mod runs;
mod webhooks;

use api::{definitions, runs as run_routes, tasks, webhooks as hooks};
pub use runs::object::WorkflowRun;

pub(crate) const DIR: &str = "workflow-orchestrator";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["api", "v1", "workflows"]) => definitions::create(req, &call).await,
        (Method::Get, ["api", "v1", "workflows"]) => definitions::list(&call).await,
        (Method::Get, ["api", "v1", "workflows", "actions"]) => definitions::actions(&call).await,
        (Method::Get, ["api", "v1", "workflows", "events", id]) => event_by_id(&call, id).await,
        (Method::Post, ["api", "v1", "workflows", "webhooks"]) => hooks::create(req, &call).await,
        (Method::Get, ["api", "v1", "workflows", "webhooks"]) => hooks::list(&call).await,
        (Method::Delete, ["api", "v1", "workflows", "webhooks", id]) => hooks::remove(&call, id).await,
        (Method::Get, ["api", "v1", "workflows", "webhooks", id, "deliveries"]) => hooks::deliveries(&call, id).await,
        (Method::Post, ["api", "v1", "workflows", "webhooks", "deliveries", id, "replay"]) => {
            hooks::replay(&call, id).await
        }
        (Method::Get, ["api", "v1", "workflows", "runs"]) => run_routes::list(&req, &call).await,
        (Method::Get, ["api", "v1", "workflows", "runs", id]) => run_routes::show(&call, id).await,
        (Method::Post, ["api", "v1", "workflows", "runs", id, "wake"]) => run_routes::wake(&call, id).await,
        (Method::Post, ["api", "v1", "workflows", id, "runs"]) => run_routes::start(req, &call, id).await,
        (Method::Get, ["api", "v1", "tasks"]) => tasks::list(&req, &call).await,
        (Method::Get, ["api", "v1", "tasks", id]) => tasks::show(&call, id).await,
        (Method::Post, ["api", "v1", "tasks", id, "decision"]) => tasks::decide(req, &call, id).await,
        (Method::Get, ["api", "v1", "workflows", "dead-letters"]) => dead_letters(&req, &call).await,
        (Method::Post, ["api", "v1", "workflows", "dead-letters", id, "replay"]) => replay(&call, id).await,
        (Method::Get, ["api", "v1", "workflows", id]) => definitions::show(&call, id).await,
        (Method::Put, ["api", "v1", "workflows", id]) => definitions::replace(req, &call, id).await,
        (Method::Get, ["api", "v1", "workflows", id, "versions", v]) => definitions::version(&call, id, v).await,
        (Method::Post, ["api", "v1", "workflows", id, "enable"]) => definitions::enable(&call, id, true).await,
        (Method::Post, ["api", "v1", "workflows", id, "disable"]) => definitions::enable(&call, id, false).await,
        (_, ["api", "v1", "workflows"] | ["api", "v1", "workflows", "webhooks"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] })
        }
        (_, ["api", "v1", "workflows", "webhooks", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["DELETE"] }),
        (_, ["api", "v1", "workflows", "webhooks", _, "deliveries"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "workflows", "webhooks", "deliveries", _, "replay"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (
            _,
            ["api", "v1", "workflows", "actions" | "dead-letters" | "runs"]
            | ["api", "v1", "workflows", "events" | "runs", _]
            | ["api", "v1", "tasks"]
            | ["api", "v1", "tasks", _],
        ) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, ["api", "v1", "workflows", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        (
            _,
            ["api", "v1", "workflows", _, "enable" | "disable" | "runs"]
            | ["api", "v1", "workflows", "dead-letters", _, "replay"]
            | ["api", "v1", "workflows", "runs", _, "wake"]
            | ["api", "v1", "tasks", _, "decision"],
        ) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        _ => Err(http::no_route(&req)),
    }
}

/// Operator routes: the `admin` scope (a person or an API key), who sees their own
/// workspace's messages; in development, anyone, everything. `Some(ws)` limits to one
/// workspace.
async fn require_operator(call: &Call) -> ApiResult<Option<String>> {
    match Caller::of(call) {
        Ok(who) if who.has(Scope::Admin) => Ok(Some(who.workspace)),
        _ if call.is_development() => Ok(None),
        Ok(who) => {
            let why = "operator routes need the admin scope";
            Err(who.refuse(call, why, serde_json::json!({ "needs": Scope::Admin })).await)
        }
        Err(e) => Err(e),
    }
}

#[derive(Serialize, Deserialize)]
struct EventRow {
    id: String,
    event: String,
    occurred_at: String,
    received_at: String,
    workspace_id: Option<String>,
    ticket_id: Option<String>,
    device_id: Option<String>,
    payload: String,
}

/// `GET /api/v1/workflows/events/:id`: one delivered event, as the log recorded it.
async fn event_by_id(call: &Call, id: &str) -> ApiResult<Response> {
    let only = require_operator(call).await?;
    let row: Option<EventRow> = call
        .db()?
        .prepare("SELECT * FROM event_log WHERE id = ?1")
        .bind(&[id.into()])
        .or_internal("bind")?
        .first(None)
        .await
        .or_internal("event_log read")?;
    let row = row
        .filter(|r| only.is_none() || r.workspace_id == only)
        .ok_or_else(|| ApiError::not_found(format!("event {id}")))?;
    let data: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null);
    http::ok(&serde_json::json!({
        "id": row.id, "event": row.event, "occurred_at": row.occurred_at,
        "received_at": row.received_at, "workspace_id": row.workspace_id,
        "ticket_id": row.ticket_id, "device_id": row.device_id, "data": data,
    }))
}

#[derive(Serialize, Deserialize)]
struct DeadLetter {
    message_id: String,
    queue: String,
    body: String,
    reason: String,
    received_at: String,
    replayed_at: Option<String>,
}

/// `GET /api/v1/workflows/dead-letters[?queue=noizylab-events][&limit=50]`, newest first.
async fn dead_letters(req: &Request, call: &Call) -> ApiResult<Response> {
    let only = require_operator(call).await?;
    let url = req.url().or_internal("url")?;
    let mut queue: Option<String> = None;
    let mut limit: u32 = 50;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "queue" if queues::dead_letter_of(&v).is_some() => queue = Some(v.into_owned()),
            "queue" => {
                return Err(ApiError::invalid_field(
                    "queue",
                    format!("unknown queue; use one of {}", queues::ALL.join(", ")),
                ))
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| ApiError::invalid_field("limit", "limit is 1 to 200"))?
            }
            _ => {}
        }
    }
    let rows: Vec<DeadLetter> = call
        .sql()?
        .all(
            &format!(
                "SELECT * FROM dead_letters WHERE (?1 IS NULL OR queue = ?1)
                   AND (?2 IS NULL OR json_extract(body, '$.workspace_id') = ?2)
                 ORDER BY received_at DESC LIMIT {limit}"
            ),
            &[opt(&queue), opt(&only)],
        )
        .await?;
    http::ok(&serde_json::json!({ "dead_letters": rows }))
}

/// `POST /api/v1/workflows/dead-letters/:id/replay` (admin): sends a dead letter again to
/// the queue it failed on (a bus event is handled again here at once), and notes when.
/// Consumers are idempotent, so a replay never repeats what already succeeded.
async fn replay(call: &Call, id: &str) -> ApiResult<Response> {
    let only = require_operator(call).await?;
    let row: Option<DeadLetter> = call
        .sql()?
        .first(
            "SELECT * FROM dead_letters WHERE message_id = ?1 AND (?2 IS NULL OR json_extract(body, '$.workspace_id') = ?2)",
            &[id.into(), opt(&only)],
        )
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("dead letter {id}")))?;
    let binding = match row.queue.as_str() {
        queues::NOTIFY => noizylab_core::bindings::NOTIFY,
        queues::WORKFLOWS => noizylab_core::bindings::WORKFLOWS,
        queues::EVENTS => {
            let delivery = Delivery { queue: row.queue.clone(), id: row.message_id.clone(), body: row.body.clone() };
            if let Some(Outcome::Retry(why)) = on_events(&call.env, std::slice::from_ref(&delivery)).await.pop() {
                return Err(ApiError::Conflict(format!("the event still cannot be handled: {why}")));
            }
            ""
        }
        other => return Err(ApiError::Conflict(format!("messages of {other} cannot be replayed from here"))),
    };
    if !binding.is_empty() {
        call.queue(binding)?.send(row.body.clone()).await.or_internal("replay send")?;
    }
    let now = time::now_rfc3339();
    call.sql()?
        .run("UPDATE dead_letters SET replayed_at = ?2 WHERE message_id = ?1", &[id.into(), now.as_str().into()])
        .await?;
    http::json(202, &serde_json::json!({ "message_id": id, "queue": row.queue, "replayed_at": now }))
}

#[event(queue)]
async fn consume(batch: MessageBatch<String>, env: Env, _ctx: Context) -> worker::Result<()> {
    queue::consume_together(batch, &env, DIR, handle_batch).await
}

/// A batch comes off one queue. Bus events are handled together, their shared reads and
/// writes made once for the batch; other messages one by one.
async fn handle_batch(env: Env, deliveries: Vec<Delivery>) -> Vec<Outcome> {
    if deliveries.first().is_some_and(|d| d.queue == queues::EVENTS) {
        return on_events(&env, &deliveries).await;
    }
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        outcomes.push(handle(&env, &delivery).await);
    }
    outcomes
}

async fn handle(env: &Env, delivery: &Delivery) -> Outcome {
    let result = match delivery.queue.as_str() {
        q if q.ends_with("-dlq") => {
            let failed_on = q.trim_end_matches("-dlq");
            record_dead_letter(env, delivery, failed_on, "exhausted its retries").await.map(|_| Outcome::Done)
        }
        queues::WORKFLOWS => on_workflow_message(env, delivery).await,
        other => Ok(Outcome::Retry(format!("no consumer here handles {other} messages"))),
    };
    result.unwrap_or_else(|e| Outcome::Retry(e.to_string()))
}

/// The distinct workspaces of some events.
pub(crate) fn workspaces<'a>(events: &[&'a Envelope]) -> Vec<&'a str> {
    let mut workspaces: Vec<&str> = events.iter().filter_map(|e| e.workspace_id.as_deref()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    workspaces
}

/// A batch of bus events, an outcome for each. Catalogued ones are handled and logged once;
/// malformed ones can never succeed and go straight to `dead_letters`; well-formed but
/// unknown ones are retried (a newer consumer may know them) and so end in the DLQ.
///
/// What every event of the batch needs is asked once for all of them: which are logged
/// already, the workflows and webhook endpoints they may concern; and what they leave is
/// written together: the read models' share (one call each to `analytics` and `training`),
/// the notifications hub's (one send), the log (one D1 batch). What is the event's own —
/// its room's frame, the workflows it starts, its webhook deliveries, its ticket's parts, a
/// session's report — is done event by event, in order, and only an event whose own work
/// failed is retried alone.
async fn on_events(env: &Env, deliveries: &[Delivery]) -> Vec<Outcome> {
    match events_together(env, deliveries).await {
        Ok(outcomes) => outcomes,
        Err(e) => deliveries.iter().map(|_| Outcome::Retry(e.to_string())).collect(),
    }
}

async fn events_together(env: &Env, deliveries: &[Delivery]) -> ApiResult<Vec<Outcome>> {
    let mut outcomes: Vec<Outcome> = deliveries.iter().map(|_| Outcome::Done).collect();
    let mut fresh: Vec<(usize, Envelope)> = Vec::with_capacity(deliveries.len());
    for (i, delivery) in deliveries.iter().enumerate() {
        match serde_json::from_str::<Envelope>(&delivery.body) {
            Err(e) => record_dead_letter(env, delivery, queues::EVENTS, &format!("not an event envelope: {e}")).await?,
            Ok(e) if !events::is_known(&e.event) => outcomes[i] = Outcome::Retry(format!("unknown event {}", e.event)),
            // The same event twice in one batch is handled once.
            Ok(e) if fresh.iter().any(|(_, f)| f.id == e.id) => {}
            Ok(e) => fresh.push((i, e)),
        }
    }
    if fresh.is_empty() {
        return Ok(outcomes);
    }
    let sql = noizylab_kit::db::Db(env.d1(noizylab_core::bindings::DB).or_internal("DB")?);
    // A redelivery of a logged event does nothing again; an event's own work is done
    // before it is logged, so a failure there is retried with the delivery.
    let ids: Vec<&str> = fresh.iter().map(|(_, e)| e.id.as_str()).collect();
    let logged: Vec<Logged> = sql
        .all(
            "SELECT id FROM event_log WHERE id IN (SELECT value FROM json_each(?1))",
            &[serde_json::to_string(&ids).or_internal("ids")?.into()],
        )
        .await?;
    fresh.retain(|(_, e)| !logged.iter().any(|l| l.id == e.id));
    if fresh.is_empty() {
        return Ok(outcomes);
    }

    let all: Vec<&Envelope> = fresh.iter().map(|(_, e)| e).collect();
    let batch_call = bus_call(env, all[0])?;
    let triggered = runs::triggered(&batch_call, &all).await?;
    let endpoints = webhooks::endpoints(&batch_call, &all).await?;
    let mut handled: Vec<usize> = Vec::with_capacity(fresh.len());
    for (n, (i, envelope)) in fresh.iter().enumerate() {
        let bus = bus_call(env, envelope)?;
        match own_work(env, &bus, envelope, &triggered, &endpoints).await {
            Ok(Outcome::Done) => handled.push(n),
            Ok(retry) => outcomes[*i] = retry,
            Err(e) => outcomes[*i] = Outcome::Retry(e.to_string()),
        }
    }
    if handled.is_empty() {
        return Ok(outcomes);
    }
    let handled: Vec<&Envelope> = handled.iter().map(|&n| &fresh[n].1).collect();
    let shared = leave_together(env, &sql, &handled, deliveries, &fresh).await;
    if let Err(why) = shared {
        for (i, e) in &fresh {
            if handled.iter().any(|h| h.id == e.id) {
                outcomes[*i] = Outcome::Retry(why.clone());
            }
        }
    }
    Ok(outcomes)
}

#[derive(Deserialize)]
struct Logged {
    id: String,
}

/// What is one event's own: its room's frame, the workflows it starts, its webhook
/// deliveries, its ticket's parts, a session's report.
async fn own_work(
    env: &Env,
    bus: &Call,
    envelope: &Envelope,
    triggered: &[runs::Current],
    endpoints: &[webhooks::Endpoint],
) -> ApiResult<Outcome> {
    feed_room(env, envelope).await?;
    // Workflows it triggers start (once per workflow and event, however often delivered).
    runs::for_event(bus, envelope, triggered).await?;
    // The workspace's integrations that take it get a signed delivery (once each).
    webhooks::for_event(bus, envelope, endpoints).await?;
    if let Outcome::Retry(why) = ticket_parts(env, envelope).await? {
        return Ok(Outcome::Retry(why));
    }
    if let Some(ended) = envelope.payload::<SessionEnded>() {
        return session_report(env, envelope, &ended.session_id).await;
    }
    Ok(Outcome::Done)
}

/// What the handled events of a batch leave together: the read models' share, the
/// notifications hub's, and the log. `Err` (why) retries them all: every part is
/// idempotent by the event's id.
async fn leave_together(
    env: &Env,
    sql: &noizylab_kit::db::Db,
    handled: &[&Envelope],
    deliveries: &[Delivery],
    fresh: &[(usize, Envelope)],
) -> Result<(), String> {
    // After the tickets' parts have moved, so a completed repair's parts cost is known.
    let batch = noizylab_core::contracts::BusEvents { events: handled.iter().map(|&e| e.clone()).collect() };
    let body = serde_json::to_string(&batch).map_err(|e| format!("events: {e}"))?;
    for binding in [noizylab_core::services::ANALYTICS, noizylab_core::services::TRAINING] {
        match ask(env, binding, handled[0], "/internal/events", body.clone()).await {
            Ok(200) => {}
            Ok(s) => return Err(format!("{binding} answered {s} for the events")),
            Err(e) => return Err(e.to_string()),
        }
    }
    // The hub hears what it tells people about, as the bus carried it.
    let notified: Vec<String> = fresh
        .iter()
        .filter(|(_, e)| NOTIFIED.contains(&e.event.as_str()) && handled.iter().any(|h| h.id == e.id))
        .map(|(i, _)| deliveries[*i].body.clone())
        .collect();
    if !notified.is_empty() {
        let queue = env.queue(noizylab_core::bindings::NOTIFY).map_err(|e| format!("NOTIFY: {e}"))?;
        // Within the producer's limits however big the batch (a redelivered run of notices
        // sends nothing twice: the hub claims each delivery).
        for run in noizylab_kit::queue::send_batches(notified) {
            queue.send_batch::<String, _>(run).await.map_err(|e| format!("notify send: {e}"))?;
        }
    }
    let received = time::now_rfc3339();
    let mut statements = Vec::with_capacity(handled.len());
    for e in handled {
        let payload = serde_json::to_string(&e.data).map_err(|e| format!("payload: {e}"))?;
        let statement = sql.statement(
            "INSERT INTO event_log (id, event, occurred_at, received_at, workspace_id, ticket_id, device_id, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            &[
                e.id.as_str().into(),
                e.event.as_str().into(),
                e.timestamp.as_str().into(),
                received.as_str().into(),
                opt(&e.workspace_id),
                opt(&e.ticket_id),
                opt(&e.device_id),
                payload.into(),
            ],
        );
        statements.push(statement.map_err(|e| e.to_string())?);
    }
    sql.batch(statements).await.map_err(|e| format!("event_log insert: {e}"))
}

async fn record_dead_letter(env: &Env, delivery: &Delivery, failed_on: &str, reason: &str) -> ApiResult<()> {
    env.d1(noizylab_core::bindings::DB)
        .or_internal("DB")?
        .prepare(
            "INSERT INTO dead_letters (message_id, queue, body, reason, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(&[
            delivery.id.as_str().into(),
            failed_on.into(),
            delivery.body.as_str().into(),
            reason.into(),
            time::now_rfc3339().into(),
        ])
        .or_internal("bind")?
        .run()
        .await
        .or_internal("dead_letters insert")?;
    Ok(())
}

/// Calls `path` on the worker bound as `binding`, as this service, with the event's id as
/// the request id; answers the status.
async fn ask(env: &Env, binding: &str, envelope: &Envelope, path: &str, body: String) -> ApiResult<u16> {
    let fetcher = env.service(binding).or_internal(binding)?;
    let secret = noizylab_kit::call::internal_secret(env)?;
    let me = noizylab_core::identity::Identity::of_service(noizylab_core::services::WORKFLOW_ORCHESTRATOR);
    let resp = noizylab_kit::call::forward_signed(&fetcher, &secret, &me, &envelope.id, Method::Post, path, Some(body))
        .await?;
    Ok(resp.status_code())
}

/// A ticket's parts follow it: an approved quote reserves its catalogue parts, READY
/// consumes what is reserved, VOID releases it (`inventory`, idempotent per step).
async fn ticket_parts(env: &Env, envelope: &Envelope) -> ApiResult<Outcome> {
    use noizylab_core::contracts::{PartsStep, TicketParts};
    let (Some(workspace), Some(ticket)) = (envelope.workspace_id.clone(), envelope.ticket_id.as_deref()) else {
        return Ok(Outcome::Done);
    };
    let (step, by) = if let Some(q) = envelope.payload::<QuoteApproved>() {
        (PartsStep::Reserve { quote_id: q.quote_id }, q.by)
    } else if let Some(m) = envelope.payload::<TicketStatusChanged>() {
        match m.to.as_str() {
            "READY" => (PartsStep::Consume, m.by),
            "VOID" => (PartsStep::Release, m.by),
            _ => return Ok(Outcome::Done),
        }
    } else {
        return Ok(Outcome::Done);
    };
    let body = serde_json::to_string(&TicketParts { workspace_id: workspace, step, by })
        .map_err(|e| ApiError::internal(format!("ticket parts: {e}")))?;
    let path = format!("/internal/tickets/{ticket}/parts");
    match ask(env, noizylab_core::services::INVENTORY, envelope, &path, body).await? {
        200 => Ok(Outcome::Done),
        404 => {
            worker::console_warn!("{DIR}: parts of ticket {ticket} for event {}: not found", envelope.id);
            Ok(Outcome::Done)
        }
        s => Ok(Outcome::Retry(format!("inventory answered {s} for the ticket's parts"))),
    }
}

/// A remote session ended: `brain` makes its report in the seed's template and emails it
/// to the customer, once. A device with no complete scan to report on (409) is logged.
async fn session_report(env: &Env, envelope: &Envelope, session: &str) -> ApiResult<Outcome> {
    let path = format!("/internal/sessions/{session}/report");
    match ask(env, noizylab_core::services::BRAIN, envelope, &path, "{}".into()).await? {
        200 => Ok(Outcome::Done),
        s @ (404 | 409) => {
            worker::console_warn!("{DIR}: no report for session {session} ({s})");
            Ok(Outcome::Done)
        }
        s => Ok(Outcome::Retry(format!("brain answered {s} for the session's report"))),
    }
}

/// A `Call` for work the bus consumer does as this service, with the event's id as the
/// request id.
fn bus_call(env: &Env, envelope: &Envelope) -> ApiResult<Call> {
    let spec = noizylab_core::services::spec(DIR).ok_or_else(|| ApiError::internal("no service spec"))?;
    let secret = noizylab_kit::call::internal_secret(env)?;
    let me = noizylab_core::identity::Identity::service(&spec.worker_name());
    Ok(Call::new(spec, env.clone(), envelope.id.clone(), me, secret))
}

/// A message on `noizylab-workflows`: a webhook delivery's next try
/// (`{webhook_delivery}`), or a failed run replayed from the dead letters (`{run_id}`),
/// resumed from the step that failed.
async fn on_workflow_message(env: &Env, delivery: &Delivery) -> ApiResult<Outcome> {
    if let Some(id) = webhooks::of_message(&delivery.body) {
        let spec = noizylab_core::services::spec(DIR).ok_or_else(|| ApiError::internal("no service spec"))?;
        let secret = noizylab_kit::call::internal_secret(env)?;
        let me = noizylab_core::identity::Identity::service(&spec.worker_name());
        let call = Call::new(spec, env.clone(), delivery.id.clone(), me, secret);
        webhooks::deliver(&call, &id).await?;
        return Ok(Outcome::Done);
    }
    #[derive(Deserialize)]
    struct Replay {
        run_id: String,
    }
    let Ok(r) = serde_json::from_str::<Replay>(&delivery.body) else {
        record_dead_letter(env, delivery, queues::WORKFLOWS, "not a run to resume").await?;
        return Ok(Outcome::Done);
    };
    match runs::object::ask(env, &r.run_id, Method::Post, "/resume", None).await? {
        (200 | 404 | 409, _) => Ok(Outcome::Done),
        (s, why) => Ok(Outcome::Retry(format!("run {} did not resume ({s}): {why}", r.run_id))),
    }
}

#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    let Some(spec) = noizylab_core::services::spec(DIR) else { return };
    let secret = match noizylab_kit::call::internal_secret(&env) {
        Ok(s) => s,
        Err(e) => return worker::console_error!("{DIR}: cron: {e}"),
    };
    let request_id = format!("cron-{}", time::now_millis());
    let me = noizylab_core::identity::Identity::service(&spec.worker_name());
    let call = Call::new(spec, env, request_id, me, secret);
    if let Err(e) = runs::scheduled(&call).await {
        call.log_warn(&format!("cron: {e}"));
    }
}

/// Events the notifications hub hears about (it decides who hears what, once).
const NOTIFIED: [&str; 12] = [
    TicketCreated::NAME,
    TicketStatusChanged::NAME,
    TicketMessageAdded::NAME,
    QuoteIssued::NAME,
    QuoteApproved::NAME,
    PaymentSucceeded::NAME,
    SessionStarted::NAME,
    ChatEscalated::NAME,
    DiagnosticsProgress::NAME,
    DiagnosticsComplete::NAME,
    AlertCritical::NAME,
    DealFound::NAME,
];

/// What of an event a ticket's live room shows: (frame kind, visibility). `None`: nothing.
fn room_frame(envelope: &Envelope) -> Option<(&'static str, String)> {
    let customer = || "customer".to_owned();
    let internal = || "internal".to_owned();
    // A note or an internal attachment stays with the staff.
    let as_given = |visibility: String| if visibility == "internal" { internal() } else { customer() };
    if envelope.is::<TicketStatusChanged>() {
        Some(("status", customer()))
    } else if envelope.is::<DiagnosticsProgress>() {
        Some(("progress", customer()))
    } else if let Some(p) = envelope.payload::<TicketMessageAdded>() {
        Some(("event", as_given(p.visibility)))
    } else if let Some(p) = envelope.payload::<TicketAttachmentAdded>() {
        Some(("event", as_given(p.visibility)))
    } else if envelope.is::<QuoteIssued>()
        || envelope.is::<QuoteApproved>()
        || envelope.is::<QuoteDeclined>()
        || envelope.is::<PaymentSucceeded>()
    {
        Some(("event", customer()))
    } else if envelope.is::<TicketAssigned>() || envelope.is::<TicketUpdated>() || envelope.is::<ChatEscalated>() {
        Some(("event", internal()))
    } else {
        None
    }
}

/// Pushes the event into its ticket's live room (through `main`, which owns the rooms).
async fn feed_room(env: &Env, envelope: &Envelope) -> ApiResult<()> {
    let (Some(ticket), Some((kind, visibility))) = (envelope.ticket_id.as_deref(), room_frame(envelope)) else {
        return Ok(());
    };
    let mut data = envelope.data.clone();
    if !data.is_object() {
        data = serde_json::json!({});
    }
    data["event"] = envelope.event.as_str().into();
    // `from` names a frame's sender in a room; a status change's ends get their own names.
    if let Some(obj) = data.as_object_mut() {
        for (old, new) in [("from", "from_status"), ("to", "to_status")] {
            if let Some(v) = obj.remove(old) {
                obj.insert(new.into(), v);
            }
        }
    }
    let frame = noizylab_core::contracts::RoomFrame { kind: kind.to_owned(), visibility, data };
    let body = serde_json::to_string(&frame).map_err(|e| ApiError::internal(format!("room frame: {e}")))?;
    let main = env.service(noizylab_core::services::MAIN).or_internal("MAIN")?;
    let secret = noizylab_kit::call::internal_secret(env)?;
    let me = noizylab_core::identity::Identity::of_service(noizylab_core::services::WORKFLOW_ORCHESTRATOR);
    let path = format!("/internal/rooms/{ticket}/publish");
    let resp =
        noizylab_kit::call::forward_signed(&main, &secret, &me, &envelope.id, Method::Post, &path, Some(body)).await?;
    match resp.status_code() {
        200 => Ok(()),
        s => Err(ApiError::internal(format!("room publish for {ticket} answered {s}"))),
    }
}

fn opt(v: &Option<String>) -> JsValue {
    v.as_deref().map(JsValue::from).unwrap_or(JsValue::NULL)
}
