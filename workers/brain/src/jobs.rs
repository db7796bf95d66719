//! The scan job: a [`Job::DiagnosticScan`] from `noizylab-jobs` runs the diagnostics
//! engine on the stored input, forecasts from the device's scans, stores the result, updates
//! the device and its caches and tells the bus (`diagnostics.started`, `.progress`,
//! `.complete`, `alert.critical`). A redelivered job finds its scan done and does nothing.

use noizylab_core::bindings::{CACHE, DB, EVENTS};
use noizylab_core::contracts::{DeviceHealth, Job};
use noizylab_core::diagnostics::{self, foresight, ScanInput, Severity};
use noizylab_core::events::{AlertCritical, DiagnosticsComplete, DiagnosticsProgress, DiagnosticsStarted};
use noizylab_kit::db::{int, Db};
use noizylab_kit::events::{publish_on, About};
use noizylab_kit::queue::{Delivery, Outcome};
use noizylab_kit::scans::{health_key, prediction_key, HEALTH_TTL_SECS, PREDICTION_TTL_SECS};
use noizylab_kit::{log, time, ApiResult, OrInternal};
use serde::Deserialize;
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
        let payload = DiagnosticsProgress { scan_id: self.scan_id.to_owned(), percent, message: message.to_owned() };
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
    let result = ScanResult {
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
