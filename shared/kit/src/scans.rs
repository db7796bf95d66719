//! Queueing a diagnostic scan. `main`'s `POST /api/v1/devices/:id/scan` and `brain`'s
//! `POST /api/v1/diagnostics/start` both start scans here, so there is one way a scan is
//! made: a `device_scans` row holding the checked input, a [`Job`] on `noizylab-jobs`
//! (which `brain` consumes), the device's caches dropped, `diagnostics.requested` on the bus.

use noizylab_core::bindings::JOBS;
use noizylab_core::contracts::Job;
use noizylab_core::diagnostics::ScanInput;
use noizylab_core::events::DiagnosticsRequested;
use serde::{Deserialize, Serialize};

use crate::events::{self, About};
use crate::{random, time, ApiResult, Call, OrInternal};

/// The device a scan is of, as the caller was allowed to see it.
pub struct Target<'a> {
    pub device_id: &'a str,
    pub workspace_id: &'a str,
    pub requested_by: &'a str,
}

/// The answer to a queued scan (202).
#[derive(Serialize)]
pub struct Queued {
    pub scan_id: String,
    /// The seed's name for the same id (`/api/v1/diagnostics/:sessionId`).
    pub session_id: String,
    pub device_id: String,
    /// The device's open ticket, whose room shows the scan's progress.
    pub ticket_id: Option<String>,
    pub status: &'static str,
    pub created_at: String,
}

#[derive(Deserialize)]
struct OpenTicket {
    id: String,
}

/// `device:health:{id}` lives this long in KV (the seed's TTL).
pub const HEALTH_TTL_SECS: u64 = 60 * 60;
/// `predict:{id}` lives this long in KV (the seed's TTL); a new scan replaces it.
pub const PREDICTION_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// KV keys that a new scan makes stale.
pub fn health_key(device_id: &str) -> String {
    format!("device:health:{device_id}")
}

pub fn prediction_key(device_id: &str) -> String {
    format!("predict:{device_id}")
}

/// Records and queues a scan of `target` with `input` (already checked).
pub async fn queue(call: &Call, target: Target<'_>, input: &ScanInput) -> ApiResult<Queued> {
    let scan_id = format!("scan_{}", random::id()?);
    let now = time::now_rfc3339();
    let db = call.sql()?;
    // The ticket the device is in for, if any: the newest one not yet handed back.
    let ticket: Option<OpenTicket> = db
        .first(
            "SELECT id FROM tickets WHERE device_id = ?1 AND workspace_id = ?2
               AND status NOT IN ('PICKED_UP', 'CLOSED', 'VOID')
             ORDER BY updated_at DESC LIMIT 1",
            &[target.device_id.into(), target.workspace_id.into()],
        )
        .await?;
    let ticket_id = ticket.map(|t| t.id);
    let input_json = serde_json::to_string(input).or_internal("scan input")?;
    db.run(
        "INSERT INTO device_scans (id, device_id, workspace_id, requested_by, status, created_at, input, ticket_id)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7)",
        &[
            scan_id.as_str().into(),
            target.device_id.into(),
            target.workspace_id.into(),
            target.requested_by.into(),
            now.as_str().into(),
            input_json.as_str().into(),
            crate::db::opt(ticket_id.as_deref()),
        ],
    )
    .await?;
    let kv = call.cache()?;
    kv.delete(&health_key(target.device_id)).await.or_internal("kv delete")?;
    kv.delete(&prediction_key(target.device_id)).await.or_internal("kv delete")?;
    let job = serde_json::to_string(&Job::DiagnosticScan { scan_id: scan_id.clone() }).or_internal("job")?;
    call.queue(JOBS)?.send(job).await.or_internal("jobs send")?;
    let about =
        About { workspace: Some(target.workspace_id), device: Some(target.device_id), ticket: ticket_id.as_deref() };
    let requested = DiagnosticsRequested { scan_id: scan_id.clone(), by: target.requested_by.to_owned() };
    events::publish(call, about, &requested).await?;
    Ok(Queued {
        session_id: scan_id.clone(),
        scan_id,
        device_id: target.device_id.to_owned(),
        ticket_id,
        status: "queued",
        created_at: now,
    })
}
