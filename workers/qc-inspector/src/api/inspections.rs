//! `/api/v1/qc/inspections…`: inspections of tickets in QC. Staff start one, record each
//! checkpoint once, and the last answer decides: `main` moves the ticket to READY (with the
//! QC report attached for the customer) or back to IN_REPAIR (with the rework list).
//! Customers see the passed inspections of their own tickets.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::{QcMove, QcReportFile};
use noizylab_core::error::ErrorBody;
use noizylab_core::events::{QcFailed, QcPassed};
use noizylab_core::qc::{self, Answer, Check, Checkpoint, Outcome};
use noizylab_core::services::MAIN;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Method, Request, Response};

use crate::photos;
use crate::store::{self, Inspection};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Start {
    ticket_id: String,
}

#[derive(Deserialize)]
struct TemplateRow {
    checkpoints: String,
    version: i64,
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// `POST /api/v1/qc/inspections {ticket_id}` (staff): 201 with a new inspection of a ticket
/// in QC, on a copy of its device type's template (or the `default` one).
pub async fn start(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let body: Start = http::read_json(&mut req).await?;
    let ticket = store::ticket(call, &who, &body.ticket_id).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::invalid_field("ticket_id", "no such ticket"),
        other => other,
    })?;
    if ticket.status != "QC" {
        return Err(ApiError::Conflict(format!(
            "ticket #{} is {}: move it to QC when the repair is done, then inspect it",
            ticket.number, ticket.status
        )));
    }
    let kind = ticket.device_type.clone().unwrap_or_else(|| "other".into());
    let db = call.sql()?;
    let template: Option<TemplateRow> = db
        .first(
            "SELECT checkpoints, version FROM qc_templates WHERE workspace_id = ?1 AND device_type IN (?2, 'default')
             ORDER BY device_type = 'default' LIMIT 1",
            &[who.workspace.as_str().into(), kind.as_str().into()],
        )
        .await?;
    let template = template.ok_or_else(|| {
        ApiError::Conflict(format!(
            "there is no QC template for {kind} devices: an admin sets one with PUT /api/v1/qc/templates/{kind} \
             (or /api/v1/qc/templates/default)"
        ))
    })?;
    let open: Option<IdRow> = db
        .first("SELECT id FROM qc_inspections WHERE ticket_id = ?1 AND status = 'open'", &[ticket.id.as_str().into()])
        .await?;
    if let Some(open) = open {
        return Err(ApiError::Conflict(format!(
            "inspection {} is already open on this ticket: record its checkpoints, or cancel it",
            open.id
        )));
    }
    let done: Option<Count> = db
        .first(
            "SELECT COUNT(*) AS n FROM qc_inspections WHERE ticket_id = ?1 AND status IN ('passed', 'failed')",
            &[ticket.id.as_str().into()],
        )
        .await?;
    let attempt = done.map_or(0, |c| c.n) + 1;
    let id = format!("qc_{}", random::id()?);
    let now = time::now_rfc3339();
    // The partial unique index allows one open inspection per ticket: a concurrent start loses.
    let inserted = db
        .run(
            "INSERT OR IGNORE INTO qc_inspections (id, workspace_id, ticket_id, attempt, device_type, technician_id,
                 inspector_id, template_version, checkpoints, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                ticket.id.as_str().into(),
                int(attempt),
                kind.as_str().into(),
                opt(ticket.assignee_id.as_deref()),
                who.id.as_str().into(),
                int(template.version),
                template.checkpoints.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    if inserted != 1 {
        return Err(ApiError::Conflict("another inspection was just opened on this ticket".into()));
    }
    let inspection = store::inspection(call, &who, &id).await?;
    http::created(&store::view(&inspection, &inspection.checkpoints()?, &[])?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    ticket_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/qc/inspections?ticket_id=&status=`: newest first, at most 100 (customers:
/// the passed inspections of their own tickets).
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    if let Some(s) = &q.status {
        if !["open", "passed", "failed", "cancelled"].contains(&s.as_str()) {
            return Err(ApiError::invalid_field("status", "status is open, passed, failed or cancelled"));
        }
    }
    let rows: Vec<Inspection> = call
        .sql()?
        .all(
            &format!(
                "SELECT {} FROM qc_inspections i JOIN tickets t ON t.id = i.ticket_id
                 WHERE i.workspace_id = ?1 AND (?2 IS NULL OR i.ticket_id = ?2) AND (?3 IS NULL OR i.status = ?3)
                   AND (?4 IS NULL OR (t.customer_id = ?4 AND i.status = 'passed'))
                 ORDER BY i.created_at DESC, i.id LIMIT 100",
                store::INSPECTION_COLUMNS
            ),
            &[
                who.workspace.as_str().into(),
                opt(q.ticket_id.as_deref()),
                opt(q.status.as_deref()),
                opt(who.only_own()),
            ],
        )
        .await?;
    let mut list = Vec::with_capacity(rows.len());
    for i in &rows {
        let answers = store::answers(call, &i.id).await?;
        list.push(store::view(i, &i.checkpoints()?, &answers)?);
    }
    http::ok(&json!({ "inspections": list }))
}

/// `GET /api/v1/qc/inspections/:id`.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let i = store::inspection(call, &who, id).await?;
    let answers = store::answers(call, id).await?;
    http::ok(&store::view(&i, &i.checkpoints()?, &answers)?)
}

/// `DELETE /api/v1/qc/inspections/:id` (staff): cancels an open inspection (204); a
/// finished one stands (409).
pub async fn cancel(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let i = store::inspection(call, &who, id).await?;
    let changed = call
        .sql()?
        .run(
            "UPDATE qc_inspections SET status = 'cancelled', completed_at = ?2 WHERE id = ?1 AND status = 'open'",
            &[id.into(), time::now_rfc3339().as_str().into()],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::Conflict(format!("inspection {id} is {}: only an open one can be cancelled", i.status)));
    }
    Ok(Response::empty().or_internal("response")?.with_status(204))
}

/// A checkpoint's answer as sent: the field its kind asks for, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    #[serde(default)]
    passed: Option<bool>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    analysis_id: Option<String>,
    #[serde(default)]
    attachment_id: Option<String>,
}

/// The answer to judge, checked against the checkpoint's kind; a photo is analysed (or its
/// analysis checked) by `vision`. Returns the answer, what to store, and the analysis id.
async fn answer_for(
    call: &Call,
    i: &Inspection,
    c: &Checkpoint,
    r: Record,
) -> ApiResult<(Answer, Value, Option<String>)> {
    let field = format!("answers.{}", c.id);
    match (&c.check, r) {
        (Check::Manual, Record { passed: Some(passed), value: None, analysis_id: None, attachment_id: None }) => {
            Ok((Answer::Manual { passed }, json!({ "passed": passed }), None))
        }
        (Check::Manual, _) => {
            Err(ApiError::invalid_field(&field, format!("{}: answer {{\"passed\": true|false}}", c.label)))
        }
        (
            Check::Measurement { .. },
            Record { value: Some(value), passed: None, analysis_id: None, attachment_id: None },
        ) => Ok((Answer::Measurement { value: value.clone() }, json!({ "value": value }), None)),
        (Check::Measurement { unit, .. }, _) => Err(ApiError::invalid_field(
            &field,
            format!("{}: answer {{\"value\": <the reading in {unit}, a number>}}", c.label),
        )),
        (Check::Photo { reference_id, .. }, Record { passed: None, value: None, analysis_id, attachment_id }) => {
            let analysis = match (analysis_id, attachment_id) {
                (Some(a), None) => photos::existing(call, reference_id, &i.ticket_id, &a).await?,
                (None, Some(att)) => photos::analyse(call, reference_id, &i.ticket_id, &att).await?,
                _ => {
                    return Err(ApiError::invalid_field(
                        &field,
                        format!(
                            "{}: answer {{\"attachment_id\": <a photo of the board on this ticket>}} or \
                             {{\"analysis_id\": <a vision analysis of it>}}",
                            c.label
                        ),
                    ))
                }
            };
            let stored = json!({ "analysis_id": analysis.id, "defects": analysis.found, "worst": analysis.worst });
            let answer =
                Answer::Photo { analysis_id: analysis.id.clone(), worst: analysis.worst, found: analysis.found };
            Ok((answer, stored, Some(analysis.id)))
        }
        (Check::Photo { .. }, _) => Err(ApiError::invalid_field(
            &field,
            format!("{}: answer with the board photo's attachment_id or a vision analysis_id", c.label),
        )),
    }
}

/// `POST /api/v1/qc/inspections/:id/checkpoints/:checkpoint` (staff): records one
/// checkpoint (once: a second answer is 409); with the last one the inspection is final and
/// the ticket moves. 200 with the inspection.
pub async fn record(mut req: Request, call: &Call, id: &str, checkpoint: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let i = store::inspection(call, &who, id).await?;
    if i.status != "open" {
        return Err(ApiError::Conflict(format!(
            "inspection {id} is {}: start a new inspection to inspect the ticket again",
            i.status
        )));
    }
    let checkpoints = i.checkpoints()?;
    let c = checkpoints
        .iter()
        .find(|c| c.id == checkpoint)
        .ok_or_else(|| ApiError::not_found(format!("checkpoint {checkpoint} of inspection {id}")))?;
    if i.ticket_status != "QC" {
        return Err(ApiError::Conflict(format!(
            "ticket #{} is {}, no longer in QC: cancel this inspection and start a new one when it is back",
            i.ticket_number, i.ticket_status
        )));
    }
    if let Some(done) = store::answers(call, id).await?.iter().find(|a| a.checkpoint == c.id) {
        return Err(ApiError::Conflict(format!(
            "{} was recorded at {}: a recorded checkpoint stands; re-inspect after rework",
            c.label, done.recorded_at
        )));
    }
    let body: Record = http::read_json(&mut req).await?;
    let (answer, stored, analysis_id) = answer_for(call, &i, c, body).await?;
    let verdict = qc::judge(c, &answer).map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let now = time::now_rfc3339();
    let inserted = call
        .sql()?
        .run(
            "INSERT OR IGNORE INTO qc_answers (inspection_id, checkpoint, answer, passed, detail, analysis_id,
                                               recorded_by, recorded_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
             WHERE EXISTS (SELECT 1 FROM qc_inspections WHERE id = ?1 AND status = 'open')",
            &[
                id.into(),
                c.id.as_str().into(),
                stored.to_string().as_str().into(),
                int(i64::from(verdict.passed)),
                verdict.detail.as_str().into(),
                opt(analysis_id.as_deref()),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    if inserted != 1 {
        return Err(ApiError::Conflict(format!("{} was recorded meanwhile, or the inspection ended", c.label)));
    }
    // Read back: answers recorded at the same time by others count too, so the last one
    // always completes the inspection.
    let answers = store::answers(call, id).await?;
    let outcome = store::outcome(&checkpoints, &answers);
    if outcome.is_final() {
        finish(call, &i, &checkpoints, &answers, &outcome, &c.id).await?;
    }
    let i = store::inspection(call, &who, id).await?;
    http::ok(&store::view(&i, &checkpoints, &store::answers(call, id).await?)?)
}

/// Ends the inspection once: marks it, renders the report, has `main` move the ticket,
/// announces it. If `main` refuses, the inspection is reopened and `recorded` (this
/// request's answer) withdrawn, so nothing is half-written.
async fn finish(
    call: &Call,
    i: &Inspection,
    checkpoints: &[Checkpoint],
    answers: &[store::Answer],
    outcome: &Outcome,
    recorded: &str,
) -> ApiResult<()> {
    let passed = matches!(outcome, Outcome::Passed);
    let now = time::now_rfc3339();
    let attachment_id = passed.then(|| random::id().map(|r| format!("att_{r}"))).transpose()?;
    let db = call.sql()?;
    let won = db
        .run(
            "UPDATE qc_inspections SET status = ?2, completed_at = ?3, report_attachment_id = ?4
             WHERE id = ?1 AND status = 'open'",
            &[
                i.id.as_str().into(),
                if passed { "passed" } else { "failed" }.into(),
                now.as_str().into(),
                opt(attachment_id.as_deref()),
            ],
        )
        .await?;
    if won != 1 {
        return Ok(()); // A concurrent answer is finishing it.
    }
    let report = store::report(call, i, checkpoints, answers, passed, &now).await?;
    let rework: Vec<String> = match outcome {
        Outcome::Failed { rework } => rework
            .iter()
            .map(|v| {
                let label =
                    checkpoints.iter().find(|c| c.id == v.checkpoint).map_or(v.checkpoint.as_str(), |c| &c.label);
                format!("{label}: {}", v.detail)
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut file = None;
    if let Some(att) = &attachment_id {
        let pdf = report.pdf();
        let key = format!("tickets/{}/{}/{att}", i.workspace_id, i.ticket_id);
        let described = QcReportFile {
            r2_key: key.clone(),
            attachment_id: att.clone(),
            filename: format!("qc-report-{}.pdf", i.ticket_number),
            size: i64::try_from(pdf.len()).unwrap_or(i64::MAX),
            sha256: noizylab_core::auth::sha256_hex(&pdf),
        };
        call.uploads()?
            .put(&key, pdf)
            .http_metadata(worker::HttpMetadata { content_type: Some("application/pdf".into()), ..Default::default() })
            .execute()
            .await
            .or_internal("r2 put")?;
        file = Some(described);
    }
    let body = QcMove {
        inspection_id: i.id.clone(),
        actor_id: i.inspector_id.clone(),
        passed,
        rework: rework.clone(),
        report: file.clone(),
    };
    let body = serde_json::to_string(&body).or_internal("qc move")?;
    let path = format!("/internal/tickets/{}/qc", i.ticket_id);
    let moved = match call.as_service(MAIN, Method::Post, &path, Some(body)).await {
        Ok(resp) if resp.status_code() == 200 => Ok(()),
        Ok(resp) if resp.status_code() == 409 => Err(ApiError::Conflict(
            http::answer_json::<ErrorBody>(&resp)
                .await
                .map(|b| b.error.message)
                .unwrap_or_else(|_| "the ticket left QC meanwhile".into()),
        )),
        Ok(resp) => Err(ApiError::BadGateway(format!("main answered {} to a QC move", resp.status_code()))),
        Err(e) => Err(e),
    };
    if let Err(e) = moved {
        reopen(call, i, recorded, file.as_ref()).await;
        return Err(e);
    }
    let about = About { workspace: Some(&i.workspace_id), device: None, ticket: Some(&i.ticket_id) };
    let attempt = u32::try_from(i.attempt).unwrap_or(1);
    match (passed, attachment_id) {
        (true, Some(report_attachment_id)) => {
            let e = QcPassed {
                inspection_id: i.id.clone(),
                attempt,
                device_type: i.device_type.clone(),
                technician_id: i.technician_id.clone(),
                report_attachment_id,
            };
            events::publish(call, about, &e).await?;
        }
        _ => {
            let e = QcFailed {
                inspection_id: i.id.clone(),
                attempt,
                device_type: i.device_type.clone(),
                technician_id: i.technician_id.clone(),
                rework,
            };
            events::publish(call, about, &e).await?;
        }
    }
    Ok(())
}

/// Undoes [`finish`]'s marks after `main` refused the move (logged if that fails too).
async fn reopen(call: &Call, i: &Inspection, recorded: &str, file: Option<&QcReportFile>) {
    let undo = async {
        let db = call.sql()?;
        db.batch(vec![
            db.statement(
                "DELETE FROM qc_answers WHERE inspection_id = ?1 AND checkpoint = ?2",
                &[i.id.as_str().into(), recorded.into()],
            )?,
            db.statement(
                "UPDATE qc_inspections SET status = 'open', completed_at = NULL, report_attachment_id = NULL
                 WHERE id = ?1",
                &[i.id.as_str().into()],
            )?,
        ])
        .await?;
        if let Some(f) = file {
            call.uploads()?.delete(&f.r2_key).await.or_internal("r2 delete")?;
        }
        ApiResult::Ok(())
    };
    if let Err(e) = undo.await {
        call.log_warn(&format!("reopening inspection {} after a refused move failed: {e:?}", i.id));
    }
}
