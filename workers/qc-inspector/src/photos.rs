//! Photo checkpoints: `vision` compares the board photo with the checkpoint's golden
//! reference, as the technician (their identity and scopes travel with the call).

use noizylab_core::error::ErrorBody;
use noizylab_core::qc::Severity;
use noizylab_core::services::VISION;
use noizylab_kit::http::answer_json;
use noizylab_kit::{ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Method, Response};

/// What a photo checkpoint keeps of an analysis.
pub struct Analysis {
    pub id: String,
    /// The worst defect found; `None`: clean.
    pub worst: Option<Severity>,
    /// Each defect as a technician reads it: `missing component on U2 (critical)`.
    pub found: Vec<String>,
}

#[derive(Deserialize)]
struct Defect {
    kind: String,
    severity: Severity,
    component: Option<String>,
}

impl Defect {
    fn describe(&self) -> String {
        let kind = self.kind.replace('_', " ");
        let severity = format!("{:?}", self.severity).to_lowercase();
        match &self.component {
            Some(c) => format!("{kind} on {c} ({severity})"),
            None => format!("{kind} ({severity})"),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    id: String,
    reference_id: String,
    ticket_id: Option<String>,
    defects: Vec<Defect>,
}

impl Answer {
    fn analysis(self) -> Analysis {
        Analysis {
            worst: self.defects.iter().map(|d| d.severity).max(),
            found: self.defects.iter().map(Defect::describe).collect(),
            id: self.id,
        }
    }
}

/// `vision`'s refusal as this worker's: what the technician can act on keeps its message.
async fn refusal(resp: &Response, field: &str) -> ApiError {
    let status = resp.status_code();
    let message = match answer_json::<ErrorBody>(resp).await {
        Ok(body) => body.error.message,
        Err(_) => format!("vision answered {status}"),
    };
    match status {
        400 | 404 => ApiError::invalid_field(field, message),
        403 => ApiError::Forbidden(message),
        409 | 413 | 415 | 422 => ApiError::Unprocessable(message),
        _ => ApiError::BadGateway(format!("vision answered {status}: {message}")),
    }
}

/// Runs a new analysis of ticket attachment `attachment` against `reference`.
pub async fn analyse(call: &Call, reference: &str, ticket: &str, attachment: &str) -> ApiResult<Analysis> {
    let body = json!({ "reference_id": reference, "attachment_id": attachment, "ticket_id": ticket });
    let resp = call.internal(VISION, Method::Post, "/api/v1/vision/analyze", Some(body.to_string())).await?;
    if resp.status_code() != 201 {
        return Err(refusal(&resp, "attachment_id").await);
    }
    let answer: Answer = answer_json(&resp).await?;
    Ok(answer.analysis())
}

/// An analysis already made: it must compare a photo of this ticket with `reference`.
pub async fn existing(call: &Call, reference: &str, ticket: &str, analysis: &str) -> ApiResult<Analysis> {
    if !noizylab_core::names::is_plain_id(analysis) {
        return Err(ApiError::invalid_field("analysis_id", "no such analysis"));
    }
    let path = format!("/api/v1/vision/analyses/{analysis}");
    let resp = call.internal(VISION, Method::Get, &path, None).await?;
    if resp.status_code() != 200 {
        return Err(refusal(&resp, "analysis_id").await);
    }
    let answer: Answer = answer_json(&resp).await?;
    if answer.reference_id != reference {
        return Err(ApiError::Unprocessable(format!(
            "analysis {analysis} compared the photo with reference {}; this checkpoint needs reference {reference}",
            answer.reference_id
        )));
    }
    if answer.ticket_id.as_deref() != Some(ticket) {
        return Err(ApiError::Unprocessable(format!("analysis {analysis} is not of this ticket's board")));
    }
    Ok(answer.analysis())
}
