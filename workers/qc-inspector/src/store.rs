//! What the handlers share: tickets and devices (owned by `main`, read here), templates,
//! inspections with their answers, and the QC report made of them.

use noizylab_core::names::display_name;
use noizylab_core::qc::{self, Checkpoint, Outcome, QcReport, ReportCheck, Verdict};
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The device types a template may be for (`devices.type`), and `default`, used for a
/// type without its own template and for tickets without a device.
pub const DEVICE_TYPES: [&str; 9] =
    ["laptop", "desktop", "phone", "tablet", "console", "audio", "wearable", "other", "default"];

/// A ticket as QC needs it.
#[derive(Deserialize)]
pub struct Ticket {
    pub id: String,
    pub number: i64,
    pub customer_id: String,
    pub status: String,
    pub assignee_id: Option<String>,
    pub device_type: Option<String>,
}

impl Owned for Ticket {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

/// Ticket `id` of the caller's workspace, if the caller may see it (else 404).
pub async fn ticket(call: &Call, who: &Caller, id: &str) -> ApiResult<Ticket> {
    let found: Option<Ticket> = call
        .sql()?
        .first(
            "SELECT t.id, t.number, t.customer_id, t.status, t.assignee_id, d.type AS device_type
             FROM tickets t LEFT JOIN devices d ON d.id = t.device_id
             WHERE t.id = ?1 AND t.workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    who.visible(found, format_args!("ticket {id}"))
}

/// An inspection with its ticket's customer and status.
#[derive(Deserialize)]
pub struct Inspection {
    pub id: String,
    pub workspace_id: String,
    pub ticket_id: String,
    pub ticket_number: i64,
    pub ticket_status: String,
    pub customer_id: String,
    pub attempt: i64,
    pub device_type: String,
    pub technician_id: Option<String>,
    pub inspector_id: String,
    pub template_version: i64,
    /// The template's checkpoints as the inspection copied them (JSON text).
    pub checkpoints: String,
    pub status: String,
    pub report_attachment_id: Option<String>,
    pub created_at: String,
    pub completed_at: Option<String>,
}

impl Owned for Inspection {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

impl Inspection {
    pub fn checkpoints(&self) -> ApiResult<Vec<Checkpoint>> {
        serde_json::from_str(&self.checkpoints).or_internal("stored checkpoints")
    }
}

pub const INSPECTION_COLUMNS: &str = "i.id, i.workspace_id, i.ticket_id, t.number AS ticket_number,
    t.status AS ticket_status, t.customer_id, i.attempt, i.device_type, i.technician_id, i.inspector_id,
    i.template_version, i.checkpoints, i.status, i.report_attachment_id, i.created_at, i.completed_at";

/// Inspection `id` of the caller's workspace: staff see every one, a customer only the
/// passed inspections of their own tickets (else 404).
pub async fn inspection(call: &Call, who: &Caller, id: &str) -> ApiResult<Inspection> {
    let found: Option<Inspection> = call
        .sql()?
        .first(
            &format!(
                "SELECT {INSPECTION_COLUMNS} FROM qc_inspections i JOIN tickets t ON t.id = i.ticket_id
                 WHERE i.id = ?1 AND i.workspace_id = ?2"
            ),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    let found = found.filter(|i| who.is_staff() || i.status == "passed");
    who.visible(found, format_args!("inspection {id}"))
}

/// A recorded checkpoint.
#[derive(Deserialize, Serialize)]
pub struct Answer {
    pub checkpoint: String,
    /// What was recorded, as JSON text (`{"value": 3.31}`, `{"passed": true}`, …).
    #[serde(skip_serializing)]
    pub answer: String,
    pub passed: i64,
    pub detail: String,
    pub analysis_id: Option<String>,
    pub recorded_by: String,
    pub recorded_at: String,
}

impl Answer {
    pub fn verdict(&self) -> Verdict {
        Verdict { checkpoint: self.checkpoint.clone(), passed: self.passed == 1, detail: self.detail.clone() }
    }
}

pub async fn answers(call: &Call, inspection: &str) -> ApiResult<Vec<Answer>> {
    call.sql()?
        .all(
            "SELECT checkpoint, answer, passed, detail, analysis_id, recorded_by, recorded_at FROM qc_answers
             WHERE inspection_id = ?1 ORDER BY recorded_at, checkpoint",
            &[inspection.into()],
        )
        .await
}

/// The outcome of the answers recorded so far.
pub fn outcome(checkpoints: &[Checkpoint], answers: &[Answer]) -> Outcome {
    let verdicts: Vec<Verdict> = answers.iter().map(Answer::verdict).collect();
    qc::outcome(checkpoints, &verdicts)
}

/// The inspection as the API answers it: each checkpoint with its answer (or null), the
/// outcome, and where the report is.
pub fn view(i: &Inspection, checkpoints: &[Checkpoint], answers: &[Answer]) -> ApiResult<Value> {
    let mut points = Vec::with_capacity(checkpoints.len());
    for c in checkpoints {
        let mut point = serde_json::to_value(c).or_internal("checkpoint")?;
        let answer = answers.iter().find(|a| a.checkpoint == c.id);
        point["answer"] = match answer {
            Some(a) => {
                let mut v = serde_json::to_value(a).or_internal("answer")?;
                v["passed"] = (a.passed == 1).into();
                v["recorded"] = serde_json::from_str(&a.answer).or_internal("stored answer")?;
                if let Some(analysis) = &a.analysis_id {
                    v["overlay_url"] = format!("/api/v1/vision/analyses/{analysis}/overlay").into();
                }
                v
            }
            None => Value::Null,
        };
        points.push(point);
    }
    let done = matches!(i.status.as_str(), "passed" | "failed");
    Ok(json!({
        "id": i.id,
        "ticket_id": i.ticket_id,
        "ticket_number": i.ticket_number,
        "attempt": i.attempt,
        "device_type": i.device_type,
        "technician_id": i.technician_id,
        "inspector_id": i.inspector_id,
        "template_version": i.template_version,
        "status": i.status,
        "checkpoints": points,
        "outcome": outcome(checkpoints, answers),
        "report_attachment_id": i.report_attachment_id,
        "report_url": done.then(|| format!("/api/v1/qc/inspections/{}/report", i.id)),
        "report_pdf_url": done.then(|| format!("/api/v1/qc/inspections/{}/report/pdf", i.id)),
        "created_at": i.created_at,
        "completed_at": i.completed_at,
    }))
}

#[derive(Deserialize)]
struct Person {
    name: Option<String>,
    email: String,
}

#[derive(Deserialize)]
struct DeviceName {
    name: Option<String>,
}

/// The QC report of a finished inspection (`passed` as it ends, with `completed_at`).
pub async fn report(
    call: &Call,
    i: &Inspection,
    checkpoints: &[Checkpoint],
    answers: &[Answer],
    passed: bool,
    completed_at: &str,
) -> ApiResult<QcReport> {
    let db = call.sql()?;
    let inspector: Option<Person> =
        db.first("SELECT name, email FROM users WHERE id = ?1", &[i.inspector_id.as_str().into()]).await?;
    let device: Option<DeviceName> = db
        .first(
            "SELECT d.name FROM tickets t LEFT JOIN devices d ON d.id = t.device_id WHERE t.id = ?1",
            &[i.ticket_id.as_str().into()],
        )
        .await?;
    let checks = checkpoints
        .iter()
        .map(|c| match answers.iter().find(|a| a.checkpoint == c.id) {
            Some(a) => ReportCheck { label: c.label.clone(), passed: a.passed == 1, detail: a.detail.clone() },
            None => ReportCheck { label: c.label.clone(), passed: false, detail: "not recorded".into() },
        })
        .collect();
    Ok(QcReport {
        inspection_id: i.id.clone(),
        ticket_number: i.ticket_number,
        device: device.and_then(|d| d.name).unwrap_or_else(|| format!("Ticket #{} device", i.ticket_number)),
        device_type: i.device_type.clone(),
        inspected_at: completed_at.to_owned(),
        inspector: inspector.map(|p| display_name(p.name.as_deref(), &p.email)).unwrap_or_else(|| "staff".into()),
        attempt: u32::try_from(i.attempt).unwrap_or(1),
        passed,
        checks,
    })
}

/// 400 unless `kind` is a device type a template may be for.
pub fn device_type(kind: &str) -> ApiResult<&str> {
    DEVICE_TYPES.iter().copied().find(|t| *t == kind).ok_or_else(|| {
        ApiError::invalid_field("device_type", format!("the device type is one of {}", DEVICE_TYPES.join(", ")))
    })
}
