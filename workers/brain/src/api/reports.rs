//! `/api/v1/reports…` (seed 000's report engine): a report from a complete scan (compared
//! with the scan before it) and/or a remote session, kept as JSON in D1 and rendered once to
//! HTML and PDF in R2 (`reports/{id}.html|pdf`); emailed to the device's owner on request.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::Email;
use noizylab_core::diagnostics::{ScanInput, Severity};
use noizylab_core::events::ReportGenerated;
use noizylab_core::names::{content_disposition, display_name};
use noizylab_core::reports::{OpenIssue, Outlook, Report, ReportDevice, Snapshot};
use noizylab_core::services::NOTIFICATIONS;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::db::opt;
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;
use worker::{Headers, Method, Request, Response};

use crate::store::{self, Scan, ScanResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Generate {
    #[serde(default)]
    scan_id: Option<String>,
    /// The scan to compare with; the device's previous complete scan when absent.
    #[serde(default)]
    before_scan_id: Option<String>,
    /// A remote session whose actions are the work done.
    #[serde(default)]
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct StoredInput {
    input: Option<String>,
}

/// The snapshot of a complete scan: its score, and from its input the storage in use and
/// the startup time.
async fn snapshot(call: &Call, scan: &Scan, result: &ScanResult) -> ApiResult<Snapshot> {
    let row: Option<StoredInput> =
        call.sql()?.first("SELECT input FROM device_scans WHERE id = ?1", &[scan.id.as_str().into()]).await?;
    let input: Option<ScanInput> = row.and_then(|r| r.input).and_then(|t| serde_json::from_str(&t).ok());
    Ok(Snapshot {
        scan_id: scan.id.clone(),
        health_score: result.diagnosis.health_score,
        storage_used_percent: input
            .as_ref()
            .and_then(|i| i.free_storage_gb.map(|free| (100.0 * (1.0 - free / i.storage_gb) * 10.0).round() / 10.0)),
        startup_seconds: input.and_then(|i| i.startup_seconds),
    })
}

#[derive(Deserialize)]
struct Earlier {
    id: String,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    device_id: String,
    customer_id: String,
    technician_id: Option<String>,
}

impl Owned for Session {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "type")]
    kind: String,
    params: String,
}

#[derive(Deserialize)]
struct Person {
    email: String,
    name: Option<String>,
}

async fn person(call: &Call, id: &str) -> ApiResult<Option<Person>> {
    call.sql()?.first("SELECT email, name FROM users WHERE id = ?1", &[id.into()]).await
}

/// `POST /api/v1/reports/generate {scan_id?, before_scan_id?, session_id?}` (staff): 201
/// with the report and where its renderings are.
pub async fn generate(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let body: Generate = http::read_json(&mut req).await?;
    let (id, report) = make(call, &who, &body).await?;
    http::created(&json!({
        "report": report,
        "html_url": format!("/api/v1/reports/{id}"),
        "pdf_url": format!("/api/v1/reports/{id}/pdf"),
    }))
}

/// Makes, stores and announces a report for `who` (staff): its id and the report.
async fn make(call: &Call, who: &Caller, body: &Generate) -> ApiResult<(String, Report)> {
    let session = match &body.session_id {
        Some(id) => {
            let found: Option<Session> = call
                .sql()?
                .first(
                    "SELECT id, device_id, customer_id, technician_id FROM repair_sessions WHERE id = ?1 AND workspace_id = ?2",
                    &[id.as_str().into(), who.workspace.as_str().into()],
                )
                .await?;
            Some(who.visible(found, format_args!("remote session {id}"))?)
        }
        None => None,
    };
    // The scan the report is about: the one named, else the session device's latest.
    let scan_id = match (&body.scan_id, &session) {
        (Some(id), _) => id.clone(),
        (None, Some(s)) => {
            let latest: Option<Earlier> = call
                .sql()?
                .first(
                    "SELECT id FROM device_scans WHERE device_id = ?1 AND status = 'complete' ORDER BY completed_at DESC LIMIT 1",
                    &[s.device_id.as_str().into()],
                )
                .await?;
            latest.map(|l| l.id).ok_or_else(|| {
                ApiError::Conflict("the session's device has no complete scan: scan it first, then report".into())
            })?
        }
        (None, None) => return Err(ApiError::invalid_field("scan_id", "name a scan_id, a session_id or both")),
    };
    let after = store::visible_scan(call, who, &scan_id).await?;
    if session.as_ref().is_some_and(|s| s.device_id != after.device_id) {
        return Err(ApiError::invalid_field("scan_id", "the scan and the session are of different devices"));
    }
    let Some(after_result) = after.result()? else {
        return Err(ApiError::Conflict(format!("scan {scan_id} is {}: report on a complete scan", after.status)));
    };
    let before_id = match &body.before_scan_id {
        Some(id) => Some(id.clone()),
        None => {
            let earlier: Option<Earlier> = call
                .sql()?
                .first(
                    "SELECT id FROM device_scans WHERE device_id = ?1 AND status = 'complete' AND completed_at < ?2
                     ORDER BY completed_at DESC LIMIT 1",
                    &[after.device_id.as_str().into(), opt(after.completed_at.as_deref())],
                )
                .await?;
            earlier.map(|e| e.id)
        }
    };
    let (before, before_result) = match before_id {
        Some(id) => {
            let scan = store::visible_scan(call, who, &id).await?;
            if scan.device_id != after.device_id {
                return Err(ApiError::invalid_field("before_scan_id", "the two scans are of different devices"));
            }
            let Some(result) = scan.result()? else {
                return Err(ApiError::Conflict(format!("scan {id} is {}: compare with a complete scan", scan.status)));
            };
            (Some(snapshot(call, &scan, &result).await?), Some(result))
        }
        None => (None, None),
    };

    // Fixed: what the earlier scan found that this one does not, and the session's actions.
    let mut issues_fixed: Vec<String> = before_result
        .map(|b| {
            b.diagnosis
                .issues
                .into_iter()
                .filter(|i| !after_result.diagnosis.issues.iter().any(|a| a.title == i.title))
                .map(|i| i.title)
                .collect()
        })
        .unwrap_or_default();
    if let Some(s) = &session {
        let actions: Vec<Action> = call
            .sql()?
            .all("SELECT type, params FROM session_actions WHERE session_id = ?1 ORDER BY at", &[s.id.as_str().into()])
            .await?;
        for a in actions {
            let params: serde_json::Value = serde_json::from_str(&a.params).unwrap_or_default();
            let what = params["issue"].as_str().map(|i| format!(": {i}")).unwrap_or_default();
            issues_fixed.push(format!("{}{what}", a.kind.replace('_', " ")));
        }
    }
    let technician_id = session.as_ref().and_then(|s| s.technician_id.clone()).unwrap_or_else(|| who.id.clone());
    let technician = match person(call, &technician_id).await? {
        Some(p) => format!("NoizyLab + {}", display_name(p.name.as_deref(), &p.email)),
        None => "NoizyLab".into(),
    };
    let device: store::Device = store::visible_device(call, who, &after.device_id).await?;
    let now = time::now_rfc3339();
    let id = format!("rep_{}", random::id()?);
    let after_snapshot = snapshot(call, &after, &after_result).await?;
    let report = Report {
        id: id.clone(),
        kind: if session.is_some() { "remote_session" } else { "diagnostic" }.into(),
        device: ReportDevice { id: device.id.clone(), name: device.name.clone(), os: device.os.clone() },
        generated_at: now.clone(),
        technician,
        session_id: session.as_ref().map(|s| s.id.clone()).unwrap_or_else(|| after.id.clone()),
        before,
        after: after_snapshot,
        issues_fixed,
        issues_open: after_result
            .diagnosis
            .issues
            .iter()
            .filter(|i| i.severity != Severity::Info)
            .map(|i| OpenIssue {
                severity: serde_json::to_value(i.severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                title: i.title.clone(),
            })
            .collect(),
        recommendations: after_result.diagnosis.recommendations.clone(),
        outlook: after_result
            .diagnosis
            .predicted_failures
            .iter()
            .map(|p| Outlook {
                component: p.component.clone(),
                failure_probability: p.failure_probability,
                timeline_days: p.timeline_days,
                urgency: p.urgency.clone(),
            })
            .collect(),
        next_scan: after_result.next_scan_recommended.clone(),
    };
    let json_text = serde_json::to_string(&report).or_internal("report")?;
    let bucket = call.uploads()?;
    bucket.put(format!("reports/{id}.html"), report.html().into_bytes()).execute().await.or_internal("r2 put")?;
    bucket.put(format!("reports/{id}.pdf"), report.pdf()).execute().await.or_internal("r2 put")?;
    call.sql()?
        .run(
            "INSERT INTO diagnostic_reports (id, workspace_id, device_id, scan_id, session_id, kind, created_by, created_at, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                id.as_str().into(),
                device.workspace_id.as_str().into(),
                device.id.as_str().into(),
                after.id.as_str().into(),
                opt(session.as_ref().map(|s| s.id.as_str())),
                report.kind.as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
                json_text.as_str().into(),
            ],
        )
        .await?;
    let about =
        About { workspace: Some(&device.workspace_id), device: Some(&device.id), ticket: after.ticket_id.as_deref() };
    events::publish(call, about, &ReportGenerated { report_id: id.clone(), kind: report.kind.clone() }).await?;
    Ok((id, report))
}

#[derive(Deserialize)]
struct Stored {
    id: String,
    device_id: String,
    owner_id: String,
    report: String,
}

impl Owned for Stored {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.owner_id)
    }
}

async fn visible(call: &Call, who: &Caller, id: &str) -> ApiResult<Stored> {
    let found: Option<Stored> = call
        .sql()?
        .first(
            "SELECT r.id, r.device_id, d.owner_id, r.report FROM diagnostic_reports r JOIN devices d ON d.id = r.device_id
             WHERE r.id = ?1 AND r.workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    who.visible(found, format_args!("report {id}"))
}

async fn rendering(call: &Call, key: String) -> ApiResult<Vec<u8>> {
    let object = call
        .uploads()?
        .get(&key)
        .execute()
        .await
        .or_internal("r2 get")?
        .ok_or_else(|| ApiError::internal(format!("{key} is missing from R2")))?;
    match object.body() {
        Some(b) => b.bytes().await.or_internal("r2 body"),
        None => Ok(Vec::new()),
    }
}

/// `GET /api/v1/reports/:id`: the report as JSON, or its web page with `Accept: text/html`.
pub async fn show(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let stored = visible(call, &who, id).await?;
    let accept = req.headers().get("accept").ok().flatten().unwrap_or_default();
    if accept.contains("text/html") {
        let bytes = rendering(call, format!("reports/{}.html", stored.id)).await?;
        let headers = Headers::new();
        headers.set("content-type", "text/html; charset=utf-8").or_internal("header")?;
        headers
            .set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")
            .or_internal("header")?;
        return Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers));
    }
    http::json_text(200, stored.report)
}

/// `GET /api/v1/reports/:id/pdf`: the report as a PDF download.
pub async fn pdf(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let stored = visible(call, &who, id).await?;
    let bytes = rendering(call, format!("reports/{}.pdf", stored.id)).await?;
    let headers = Headers::new();
    headers.set("content-type", "application/pdf").or_internal("header")?;
    headers
        .set("content-disposition", &content_disposition("attachment", &format!("noizylab-report-{}.pdf", stored.id)))
        .or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

/// `POST /api/v1/reports/:id/email` (staff): the email version sent to the device's owner
/// through `notifications`. 202 with where it went.
pub async fn email(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let stored = visible(call, &who, id).await?;
    http::json(202, &send(call, &stored).await?)
}

/// Emails the stored report to the device's owner through `notifications`; where it went.
async fn send(call: &Call, stored: &Stored) -> ApiResult<serde_json::Value> {
    let report: Report = serde_json::from_str(&stored.report).or_internal("stored report")?;
    let Some(owner) = person(call, &stored.owner_id).await? else {
        return Err(ApiError::Conflict("the device's owner has no email address on record".into()));
    };
    let mail = Email {
        to: owner.email.clone(),
        subject: format!("Your repair report: {} (health {}/100)", report.device.name, report.after.health_score),
        text: report.text(),
        html: Some(report.email_html()),
    };
    let body = serde_json::to_string(&mail).or_internal("email")?;
    let resp = call.as_service(NOTIFICATIONS, Method::Post, "/internal/email", Some(body)).await?;
    if resp.status_code() != 202 {
        return Err(ApiError::internal(format!("notifications answered {} to a report email", resp.status_code())));
    }
    let delivered: serde_json::Value = http::answer_json(&resp).await?;
    call.sql()?
        .run(
            "UPDATE diagnostic_reports SET emailed_at = ?2 WHERE id = ?1",
            &[stored.id.as_str().into(), time::now_rfc3339().into()],
        )
        .await?;
    Ok(
        json!({ "report_id": stored.id, "device_id": stored.device_id, "sent_to": owner.email, "delivered_to": delivered["delivered_to"] }),
    )
}

#[derive(Deserialize)]
struct EndedSession {
    workspace_id: String,
    technician_id: Option<String>,
    status: String,
}

#[derive(Deserialize)]
struct Made {
    id: String,
    emailed_at: Option<String>,
}

/// `POST /internal/sessions/:id/report` (the orchestrator, on `session.ended`): the
/// session's report in the seed's template, made from the device's latest complete scan
/// and the session's actions, and emailed to the customer — once: heard again, the report
/// made is reused and an email sent is not sent again. 200 with where it went; 409 when the
/// device has no complete scan to report on (nothing to retry).
pub async fn for_session(call: &Call, id: &str) -> ApiResult<Response> {
    noizylab_kit::caller::require_service(
        call,
        noizylab_core::services::WORKFLOW_ORCHESTRATOR,
        "only the orchestrator reports an ended session",
    )?;
    let s: EndedSession = call
        .sql()?
        .first("SELECT workspace_id, technician_id, status FROM repair_sessions WHERE id = ?1", &[id.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("session {id}")))?;
    if s.status != "ended" {
        return Err(ApiError::Conflict("the session has not ended".into()));
    }
    let made: Option<Made> = call
        .sql()?
        .first(
            "SELECT id, emailed_at FROM diagnostic_reports WHERE session_id = ?1 ORDER BY created_at LIMIT 1",
            &[id.into()],
        )
        .await?;
    let made = match made {
        Some(m) => m,
        None => {
            // The report is the session technician's (or the shop's, when none took it).
            let who = Caller {
                id: s.technician_id.clone().unwrap_or_else(|| "noizylab-brain".into()),
                workspace: s.workspace_id.clone(),
                role: Some(noizylab_core::auth::Role::Technician),
                scopes: noizylab_core::auth::Role::Technician.default_scopes().to_vec(),
            };
            let body = Generate { scan_id: None, before_scan_id: None, session_id: Some(id.to_owned()) };
            let (report_id, _) = make(call, &who, &body).await?;
            Made { id: report_id, emailed_at: None }
        }
    };
    if made.emailed_at.is_some() {
        return http::ok(&json!({ "report_id": made.id, "emailed": "before" }));
    }
    let stored: Stored = call
        .sql()?
        .first(
            "SELECT r.id, r.device_id, d.owner_id, r.report FROM diagnostic_reports r JOIN devices d ON d.id = r.device_id
             WHERE r.id = ?1",
            &[made.id.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::internal(format!("report {} vanished", made.id)))?;
    http::ok(&send(call, &stored).await?)
}
