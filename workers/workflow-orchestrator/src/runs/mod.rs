//! Workflow runs: started by a catalogued event (when the trigger's filter holds), by a
//! person, or by a schedule; each run is one Durable Object ([`object::WorkflowRun`]) that
//! keeps its state and history in its storage and moves itself on with alarms.
//!
//! Why an object per run rather than D1 driven by the queues: a run is a small state
//! machine that must take one step at a time, wait (delays, back-off, a person's decision,
//! a task's timeout) and outlive restarts. An object gives it a single writer without
//! locks, durable timers (alarms fire after a restart or an eviction), and storage that
//! commits with each step; queue messages would need a sweeper to find runs whose message
//! was lost. D1 keeps the index (`workflow_runs`, `workflow_tasks`) that lists and filters
//! read, written by the object as the run moves.
//!
//! Starting is idempotent: a run's id is derived from its workflow and what triggered it,
//! so an event delivered twice starts one run.

pub mod actions;
pub mod defaults;
pub mod object;

use noizylab_core::auth::sha256_hex;
use noizylab_core::events::Envelope;
use noizylab_core::workflows::{self, Definition, Trigger};
use noizylab_kit::db::int;
use noizylab_kit::{time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What an object needs to begin a run.
#[derive(Clone, Serialize, Deserialize)]
pub struct Start {
    pub run_id: String,
    pub workspace_id: String,
    pub workflow_id: String,
    pub version: i64,
    pub trigger_ref: String,
    pub definition: Definition,
    /// What expressions see as `event`: the envelope, or a manual start's input.
    pub event: Value,
    /// Whose rights the run's actions use until a task is decided.
    pub actor: String,
}

/// A workflow's current version, as runs start with it.
#[derive(Deserialize)]
pub struct Current {
    pub id: String,
    pub workspace_id: String,
    pub version: i64,
    pub definition: String,
    pub created_by: String,
    /// The event that starts it (none for a schedule's or a hand-started workflow).
    pub trigger_event: Option<String>,
}

const CURRENT: &str = "SELECT w.id, w.workspace_id, w.version, v.definition, v.created_by, w.trigger_event
     FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.version";

/// The run of `workflow` for `trigger_ref`: the same pair, the same run.
pub fn run_id(workflow: &str, trigger_ref: &str) -> String {
    let hash = sha256_hex(format!("{workflow}\n{trigger_ref}").as_bytes());
    format!("run_{}", &hash[..24])
}

/// Starts a run of `current` (idempotent on the run id): its index row, then its object.
/// The run's id.
pub async fn start(call: &Call, current: &Current, trigger_ref: &str, event: Value) -> ApiResult<String> {
    let definition: Definition = serde_json::from_str(&current.definition).or_internal("stored definition")?;
    let id = run_id(&current.id, trigger_ref);
    let now = time::now_rfc3339();
    call.sql()?
        .run(
            "INSERT INTO workflow_runs (id, workspace_id, workflow_id, version, trigger_ref, status, current_step,
                 started_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?7) ON CONFLICT (id) DO NOTHING",
            &[
                id.as_str().into(),
                current.workspace_id.as_str().into(),
                current.id.as_str().into(),
                int(current.version),
                trigger_ref.into(),
                definition.start.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    let start = Start {
        run_id: id.clone(),
        workspace_id: current.workspace_id.clone(),
        workflow_id: current.id.clone(),
        version: current.version,
        trigger_ref: trigger_ref.to_owned(),
        definition,
        event,
        actor: current.created_by.clone(),
    };
    let body = serde_json::to_string(&start).or_internal("run start")?;
    match object::ask(&call.env, &id, worker::Method::Post, "/start", Some(body)).await? {
        (200 | 201, _) => Ok(id),
        (s, why) => Err(ApiError::internal(format!("run {id} did not start ({s}): {why}"))),
    }
}

/// What expressions read as `event` for a bus event.
pub fn event_value(envelope: &Envelope) -> Value {
    json!({
        "id": envelope.id, "event": envelope.event, "timestamp": envelope.timestamp,
        "workspace_id": envelope.workspace_id, "ticket_id": envelope.ticket_id,
        "device_id": envelope.device_id, "data": envelope.data,
    })
}

/// The enabled workflows that a batch of events may start, read once for the whole batch
/// (for [`for_event`] to pick from); the seed's defaults are installed first in each
/// workspace with an event that one of them takes.
pub async fn triggered(call: &Call, events: &[&Envelope]) -> ApiResult<Vec<Current>> {
    let workspaces = crate::workspaces(events);
    if workspaces.is_empty() {
        return Ok(Vec::new());
    }
    let mut installing: Vec<&str> = events
        .iter()
        .filter(|e| defaults::TRIGGERS.contains(&e.event.as_str()))
        .filter_map(|e| e.workspace_id.as_deref())
        .collect();
    installing.sort_unstable();
    installing.dedup();
    for workspace in installing {
        defaults::ensure(call, workspace).await?;
    }
    let mut names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let list = |v: &[&str]| serde_json::to_string(v).or_internal("list");
    call.sql()?
        .all(
            &format!(
                "{CURRENT} WHERE w.trigger_event IN (SELECT value FROM json_each(?1)) AND w.enabled = 1
                   AND w.workspace_id IN (SELECT value FROM json_each(?2))"
            ),
            &[list(&names)?.into(), list(&workspaces)?.into()],
        )
        .await
}

/// Starts the workflows of the event's workspace that it triggers, from those its batch
/// may start ([`triggered`]), their filters holding. A filter that cannot be evaluated on
/// this event skips the workflow, logged.
pub async fn for_event(call: &Call, envelope: &Envelope, triggered: &[Current]) -> ApiResult<()> {
    let Some(workspace) = envelope.workspace_id.as_deref() else { return Ok(()) };
    let takes = |c: &&Current| c.workspace_id == workspace && c.trigger_event.as_deref() == Some(&envelope.event);
    let event = event_value(envelope);
    for current in triggered.iter().filter(takes) {
        let definition: Definition = serde_json::from_str(&current.definition).or_internal("stored definition")?;
        if let Trigger::Event { filter: Some(filter), .. } = &definition.trigger {
            match workflows::evaluate(filter, &event, &json!({})) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(why) => {
                    call.log_warn(&format!("workflow {}: filter not evaluated on {}: {why}", current.id, envelope.id));
                    continue;
                }
            }
        }
        start(call, current, &envelope.id, event.clone()).await?;
    }
    Ok(())
}

/// The current version of workflow `id` of `workspace`.
pub async fn current(call: &Call, workspace: &str, id: &str) -> ApiResult<Option<Current>> {
    call.sql()?
        .first(&format!("{CURRENT} WHERE w.id = ?1 AND w.workspace_id = ?2"), &[id.into(), workspace.into()])
        .await
}

/// The schedules due this minute (UTC) start their runs, once per minute whatever the
/// number of ticks.
pub async fn scheduled(call: &Call) -> ApiResult<()> {
    let now = worker::js_sys::Date::new_0();
    let (minute, hour, day, month, weekday) =
        (now.get_utc_minutes(), now.get_utc_hours(), now.get_utc_date(), now.get_utc_month() + 1, now.get_utc_day());
    let found: Vec<Current> =
        call.sql()?.all(&format!("{CURRENT} WHERE w.trigger_type = 'schedule' AND w.enabled = 1"), &[]).await?;
    let stamp: String = time::now_rfc3339().chars().take(16).collect();
    for current in found {
        let Ok(definition) = serde_json::from_str::<Definition>(&current.definition) else { continue };
        let Trigger::Schedule { cron } = &definition.trigger else { continue };
        if workflows::cron_due(cron, minute, hour, day, month, weekday) {
            let event = json!({ "event": "schedule", "cron": cron, "at": stamp, "data": {} });
            if let Err(e) = start(call, &current, &format!("schedule:{stamp}"), event).await {
                call.log_warn(&format!("workflow {}: scheduled run not started: {e}", current.id));
            }
        }
    }
    Ok(())
}
