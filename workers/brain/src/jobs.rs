//! The scan job: a [`Job::DiagnosticScan`] from `noizylab-jobs` runs the diagnostics
//! engine on the stored input, forecasts from the device's scans, stores the result, updates
//! the device and its caches and tells the bus (`diagnostics.started`, `.progress`,
//! `.complete`, `alert.critical`). A redelivered job finds its scan done and does nothing.

use noizylab_core::bindings::{CACHE, DB, EVENTS};
use noizylab_core::contracts::{DeviceHealth, Job};
use noizylab_core::diagnostics::plan::{self, RepairPlan};
use noizylab_core::diagnostics::{self, foresight, Diagnosis, ScanInput, Severity};
use noizylab_core::events::{AlertCritical, DiagnosticsComplete, DiagnosticsProgress, DiagnosticsStarted};
use noizylab_kit::anthropic::Messages;
use noizylab_kit::db::{int, Db};
use noizylab_kit::events::{publish_on, About};
use noizylab_kit::queue::{Delivery, Outcome};
use noizylab_kit::scans::{health_key, prediction_key, HEALTH_TTL_SECS, PREDICTION_TTL_SECS};
use noizylab_kit::{log, time, ApiResult, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Env, Queue};

use crate::store::{self, DeviceForecast, ScanResult};

const DIR: &str = "brain";

pub async fn handle(env: Env, delivery: Delivery) -> Outcome {
    let job: Job = match serde_json::from_str(&delivery.body) {
        Ok(job) => job,
        // Kept for an operator: after its retries it lands in the dead-letter queue.
        Err(e) => return Outcome::Retry(format!("not a job brain knows: {e}")),
    };
    let outcome = match &job {
        Job::DiagnosticScan { scan_id } => scan(&env, scan_id).await,
    };
    outcome.unwrap_or_else(|e| Outcome::Retry(format!("{job:?}: {e:?}")))
}

#[derive(Deserialize)]
struct Queued {
    device_id: String,
    owner_id: String,
    workspace_id: String,
    ticket_id: Option<String>,
    status: String,
    input: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

struct Run<'a> {
    db: Db,
    events: Queue,
    scan_id: &'a str,
    row: Queued,
}

impl Run<'_> {
    fn about(&self) -> About<'_> {
        About {
            workspace: Some(&self.row.workspace_id),
            device: Some(&self.row.device_id),
            ticket: self.row.ticket_id.as_deref(),
        }
    }

    /// Records and announces how far the scan is (the ticket's room shows it live).
    async fn progress(&self, percent: u8, message: &str) -> ApiResult<()> {
        self.db
            .run(
                "UPDATE device_scans SET progress = ?2 WHERE id = ?1 AND status = 'running'",
                &[self.scan_id.into(), int(i64::from(percent))],
            )
            .await?;
        let payload = DiagnosticsProgress {
            scan_id: self.scan_id.to_owned(),
            percent,
            message: message.to_owned(),
            customer_id: self.row.owner_id.clone(),
        };
        publish_on(&self.events, self.about(), &payload).await?;
        Ok(())
    }

    async fn fail(&self, why: &str) -> ApiResult<Outcome> {
        self.db
            .run(
                "UPDATE device_scans SET status = 'failed', error = ?2, completed_at = ?3
                 WHERE id = ?1 AND status IN ('queued', 'running')",
                &[self.scan_id.into(), why.into(), time::now_rfc3339().into()],
            )
            .await?;
        let done = DiagnosticsComplete {
            scan_id: self.scan_id.to_owned(),
            health_score: None,
            issues_found: 0,
            critical_issues: 0,
            customer_id: self.row.owner_id.clone(),
        };
        publish_on(&self.events, self.about(), &done).await?;
        Ok(Outcome::Done)
    }
}

async fn scan(env: &Env, scan_id: &str) -> ApiResult<Outcome> {
    let db = Db(env.d1(DB).or_internal("DB")?);
    let found: Option<Queued> = db
        .first(
            "SELECT s.device_id, d.owner_id, s.workspace_id, s.ticket_id, s.status, s.input
             FROM device_scans s JOIN devices d ON d.id = s.device_id WHERE s.id = ?1",
            &[scan_id.into()],
        )
        .await?;
    let Some(row) = found else {
        log::warn(DIR, scan_id, "a scan job for a scan that does not exist: dropped");
        return Ok(Outcome::Done);
    };
    if row.status == "complete" || row.status == "failed" {
        return Ok(Outcome::Done);
    }
    let run = Run { db, events: env.queue(EVENTS).or_internal("EVENTS")?, scan_id, row };
    let started = time::now_rfc3339();
    run.db
        .run(
            "UPDATE device_scans SET status = 'running', started_at = COALESCE(started_at, ?2), progress = 5
             WHERE id = ?1 AND status IN ('queued', 'running')",
            &[scan_id.into(), started.as_str().into()],
        )
        .await?;
    publish_on(&run.events, run.about(), &DiagnosticsStarted { scan_id: scan_id.to_owned() }).await?;

    let Some(input_text) = run.row.input.as_deref() else {
        return run.fail("the scan has no input (queued before scans carried their data)").await;
    };
    let input: ScanInput = match serde_json::from_str(input_text) {
        Ok(i) => i,
        Err(e) => return run.fail(&format!("the stored input does not read back: {e}")).await,
    };
    run.progress(20, "Reading the drive's SMART data and the system logs").await?;
    let mut diagnosis = match diagnostics::diagnose(&input, &started) {
        Ok(d) => d,
        Err(bad) => return run.fail(&format!("{}: {}", bad.field, bad.message)).await,
    };

    run.progress(70, "Forecasting failures from the device's scan history").await?;
    let mut history = store::observations(&run.db, &run.row.device_id).await?;
    history.push(diagnosis.observation.clone());
    let forecast = foresight::forecast(&history, diagnosis.observation.at);
    diagnosis.predicted_failures = forecast.predictions.clone();
    let health_score = i64::from(diagnosis.health_score);
    let issues_found = result_len(diagnosis.issues.len());
    let critical: Vec<String> =
        diagnosis.issues.iter().filter(|i| i.severity == Severity::Critical).map(|i| i.title.clone()).collect();
    let observation = serde_json::to_string(&diagnosis.observation).or_internal("observation")?;
    let repair_plan = plan::repair_plan(&diagnosis);
    let (summary, summary_source, plan_notes) = match Messages::from_env(env) {
        Some(llm) => match narrate(&llm, &run, &diagnosis, &repair_plan).await {
            Ok((text, notes)) => (text, "anthropic", notes),
            Err(e) => {
                log::warn(DIR, scan_id, &format!("the language model failed; the engine's summary stands: {e:?}"));
                (plan::summary(&diagnosis, &repair_plan), "engine", Vec::new())
            }
        },
        None => (plan::summary(&diagnosis, &repair_plan), "engine", Vec::new()),
    };
    let result = ScanResult {
        repair_plan,
        summary,
        summary_source: summary_source.into(),
        plan_notes,
        diagnosis,
        overall_risk_score: forecast.overall_risk_score,
        next_scan_recommended: forecast.next_scan_recommended.clone(),
        scans_considered: forecast.scans_considered,
    };
    let result_text = serde_json::to_string(&result).or_internal("result")?;
    let finished = time::now_rfc3339();
    let device = run.row.device_id.as_str();
    run.db
        .batch(vec![
            run.db.statement(
                "UPDATE device_scans SET status = 'complete', progress = 100, completed_at = ?2, health_score = ?3,
                        result = ?4, observation = ?5, error = NULL
                 WHERE id = ?1 AND status IN ('queued', 'running')",
                &[
                    scan_id.into(),
                    finished.as_str().into(),
                    int(health_score),
                    result_text.as_str().into(),
                    observation.as_str().into(),
                ],
            )?,
            run.db.statement(
                "UPDATE devices SET health_score = ?2, last_scan_at = ?3 WHERE id = ?1",
                &[device.into(), int(health_score), finished.as_str().into()],
            )?,
        ])
        .await?;

    let pending: Option<Count> = run
        .db
        .first(
            "SELECT COUNT(*) AS n FROM device_scans WHERE device_id = ?1 AND status IN ('queued', 'running')",
            &[device.into()],
        )
        .await?;
    let kv = env.kv(CACHE).or_internal("CACHE")?;
    let health = DeviceHealth {
        device_id: device.to_owned(),
        health_score: Some(health_score),
        status: DeviceHealth::status_of(Some(health_score)).into(),
        last_scan_at: Some(finished.clone()),
        scans_pending: pending.map(|p| p.n).unwrap_or(0),
    };
    kv.put(&health_key(device), &health)
        .or_internal("kv put")?
        .expiration_ttl(HEALTH_TTL_SECS)
        .execute()
        .await
        .or_internal("kv put")?;
    let cached = DeviceForecast { device_id: device.to_owned(), forecast, generated_at: finished };
    // As JSON text: a flattened struct handed to KV as a value would arrive as `{}`.
    let cached = serde_json::to_string(&cached).or_internal("forecast")?;
    kv.put(&prediction_key(device), cached)
        .or_internal("kv put")?
        .expiration_ttl(PREDICTION_TTL_SECS)
        .execute()
        .await
        .or_internal("kv put")?;

    let done = DiagnosticsComplete {
        scan_id: scan_id.to_owned(),
        health_score: Some(health_score),
        issues_found,
        critical_issues: result_len(critical.len()),
        customer_id: run.row.owner_id.clone(),
    };
    publish_on(&run.events, run.about(), &done).await?;
    if !critical.is_empty() {
        let alert = AlertCritical {
            source: format!("diagnostics scan {scan_id}"),
            message: format!("Critical finding on a device: {}", critical.join("; ")),
        };
        publish_on(&run.events, run.about(), &alert).await?;
    }
    Ok(Outcome::Done)
}

fn result_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Deserialize)]
struct Closed {
    title: String,
    description: String,
}

#[derive(Deserialize)]
struct Narrative {
    summary: String,
    #[serde(default)]
    plan_notes: Vec<String>,
}

/// The language model's summary and notes on the plan, grounded in the scan's findings and
/// the shop's closed repairs of devices of the same model. The numbers are the engines'.
async fn narrate(llm: &Messages, run: &Run<'_>, d: &Diagnosis, plan: &RepairPlan) -> ApiResult<(String, Vec<String>)> {
    let history: Vec<Closed> = run
        .db
        .all(
            "SELECT t.title, t.description FROM tickets t JOIN devices d ON d.id = t.device_id
             WHERE t.workspace_id = ?1 AND t.status IN ('PICKED_UP', 'CLOSED')
               AND d.model IS NOT NULL AND d.model = (SELECT model FROM devices WHERE id = ?2)
             ORDER BY t.updated_at DESC LIMIT 10",
            &[run.row.workspace_id.as_str().into(), run.row.device_id.as_str().into()],
        )
        .await?;
    let findings: Vec<_> = d
        .issues
        .iter()
        .map(|i| json!({ "severity": i.severity, "title": i.title, "evidence": i.evidence.iter().take(3).collect::<Vec<_>>() }))
        .collect();
    let facts = json!({
        "health_score": d.health_score,
        "findings": findings,
        "predicted_failures": d.predicted_failures.iter().map(|p| json!({
            "component": p.component, "failure_probability": p.failure_probability, "timeline_days": p.timeline_days,
        })).collect::<Vec<_>>(),
        "repair_plan": plan.steps.iter().map(|s| &s.title).collect::<Vec<_>>(),
        "closed_repairs_of_this_model": history.iter().map(|h| format!("{}: {}", h.title, h.description)).collect::<Vec<_>>(),
    });
    let system = "You are the diagnostic assistant of a hardware repair shop. From the scan facts given as JSON, \
                  write for the customer: a summary of at most four plain sentences, and at most five short notes \
                  for the technician on the repair plan, drawing on the shop's closed repairs of this model when \
                  they are relevant. Use only the facts given: never change a number, never invent a finding. \
                  Answer with JSON only: {\"summary\": \"...\", \"plan_notes\": [\"...\"]}";
    let text = llm.complete(system, json!([{ "role": "user", "content": facts.to_string() }]), 600).await?;
    let json_part = text.find('{').and_then(|a| text.rfind('}').map(|b| &text[a..=b])).unwrap_or(&text);
    match serde_json::from_str::<Narrative>(json_part) {
        Ok(n) if !n.summary.trim().is_empty() => {
            Ok((n.summary.trim().to_owned(), n.plan_notes.into_iter().take(5).collect()))
        }
        _ if !text.is_empty() => Ok((text, Vec::new())),
        _ => Err(noizylab_kit::ApiError::internal("the model answered nothing")),
    }
}
