//! `/api/v1/qc/inspections/:id/report…`: the QC report of a finished inspection, as a web
//! page or a PDF (staff; the customer once it passed, when their repair is ready). A passed
//! inspection's PDF is also on the ticket as a customer-visible attachment.

use noizylab_core::auth::Scope;
use noizylab_core::names::content_disposition;
use noizylab_core::qc::QcReport;
use noizylab_kit::caller::Caller;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use worker::{Headers, Response};

use crate::store;

async fn report(call: &Call, id: &str) -> ApiResult<QcReport> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let i = store::inspection(call, &who, id).await?;
    let passed = match i.status.as_str() {
        "passed" => true,
        "failed" => false,
        other => return Err(ApiError::Conflict(format!("inspection {id} is {other}: its report comes when it ends"))),
    };
    let answers = store::answers(call, id).await?;
    let at = i.completed_at.clone().unwrap_or_else(|| i.created_at.clone());
    store::report(call, &i, &i.checkpoints()?, &answers, passed, &at).await
}

/// `GET …/report`: the report as a self-contained page.
pub async fn html(call: &Call, id: &str) -> ApiResult<Response> {
    let page = report(call, id).await?.html();
    let headers = Headers::new();
    headers.set("content-type", "text/html; charset=utf-8").or_internal("header")?;
    headers
        .set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        .or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::ok(page).or_internal("response")?.with_headers(headers))
}

/// `GET …/report/pdf`: the report as a PDF download.
pub async fn pdf(call: &Call, id: &str) -> ApiResult<Response> {
    let report = report(call, id).await?;
    let headers = Headers::new();
    headers.set("content-type", "application/pdf").or_internal("header")?;
    headers
        .set(
            "content-disposition",
            &content_disposition("attachment", &format!("qc-report-{}.pdf", report.ticket_number)),
        )
        .or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::from_bytes(report.pdf()).or_internal("response")?.with_headers(headers))
}
