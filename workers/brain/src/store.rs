//! The rows brain's handlers and its scan job share: devices (owned by `main`, read here to
//! decide who may see what), scans and their stored results.

use noizylab_core::diagnostics::foresight::{Forecast, Observation};
use noizylab_core::diagnostics::plan::RepairPlan;
use noizylab_core::diagnostics::Diagnosis;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::db::Db;
use noizylab_kit::{ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};

/// A device as brain needs it.
#[derive(Deserialize)]
pub struct Device {
    pub id: String,
    pub workspace_id: String,
    pub owner_id: String,
    pub name: String,
    pub os: Option<String>,
    /// The device's specs, as JSON text.
    pub specs: String,
}

impl Owned for Device {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.owner_id)
    }
}

/// The device `id` of the caller's workspace, if the caller may see it (else 404).
pub async fn visible_device(call: &Call, who: &Caller, id: &str) -> ApiResult<Device> {
    let found: Option<Device> = call
        .sql()?
        .first(
            "SELECT id, workspace_id, owner_id, name, os, specs FROM devices
             WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    who.visible(found, format_args!("device {id}"))
}

/// A scan with its device's owner.
#[derive(Deserialize)]
pub struct Scan {
    pub id: String,
    pub device_id: String,
    pub workspace_id: String,
    pub owner_id: String,
    pub device_name: String,
    pub ticket_id: Option<String>,
    pub status: String,
    pub progress: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub health_score: Option<i64>,
    /// [`ScanResult`] as JSON text, once complete.
    pub result: Option<String>,
    pub error: Option<String>,
}

impl Owned for Scan {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.owner_id)
    }
}

pub const SCAN_COLUMNS: &str = "s.id, s.device_id, s.workspace_id, d.owner_id, d.name AS device_name, s.ticket_id,
    s.status, s.progress, s.created_at, s.started_at, s.completed_at, s.health_score, s.result, s.error";

/// Scan `id`, if the caller may see its device (else 404).
pub async fn visible_scan(call: &Call, who: &Caller, id: &str) -> ApiResult<Scan> {
    let found: Option<Scan> = call
        .sql()?
        .first(
            &format!(
                "SELECT {SCAN_COLUMNS} FROM device_scans s JOIN devices d ON d.id = s.device_id
                 WHERE s.id = ?1 AND s.workspace_id = ?2"
            ),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    who.visible(found, format_args!("scan {id}"))
}

/// What a complete scan stored: the diagnosis in the seed's shape, with the forecast made
/// from the device's scans up to it.
#[derive(Serialize, Deserialize)]
pub struct ScanResult {
    #[serde(flatten)]
    pub diagnosis: Diagnosis,
    pub overall_risk_score: u32,
    pub next_scan_recommended: String,
    pub scans_considered: usize,
    /// The work the findings call for; `pricing` quotes from it (`diagnostic_id`).
    pub repair_plan: RepairPlan,
    /// A plain account of the scan for the customer.
    pub summary: String,
    /// Who wrote the summary: `engine` (built in) or `anthropic` (the language model).
    pub summary_source: String,
    /// The model's advice on the plan, grounded in the findings and the shop's closed
    /// repairs of the same model (empty without a model).
    pub plan_notes: Vec<String>,
}

impl Scan {
    pub fn result(&self) -> ApiResult<Option<ScanResult>> {
        self.result
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ApiError::internal(format!("stored result of {}: {e}", self.id)))
    }
}

#[derive(Deserialize)]
struct StoredObservation {
    observation: String,
}

/// What the device's last 50 complete scans observed, oldest first.
pub async fn observations(db: &Db, device_id: &str) -> ApiResult<Vec<Observation>> {
    let rows: Vec<StoredObservation> = db
        .all(
            "SELECT observation FROM (
                 SELECT observation, completed_at FROM device_scans
                 WHERE device_id = ?1 AND status = 'complete' AND observation IS NOT NULL
                 ORDER BY completed_at DESC LIMIT 50)
             ORDER BY completed_at ASC",
            &[device_id.into()],
        )
        .await?;
    Ok(rows.iter().filter_map(|r| serde_json::from_str(&r.observation).ok()).collect())
}

/// The device's forecast as `GET /api/v1/predictions/:device_id` answers it and KV
/// `predict:{id}` keeps it.
#[derive(Serialize, Deserialize)]
pub struct DeviceForecast {
    pub device_id: String,
    #[serde(flatten)]
    pub forecast: Forecast,
    pub generated_at: String,
}
