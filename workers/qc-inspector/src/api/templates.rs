//! `/api/v1/qc/templates…`: the checkpoints a device type is inspected against (staff
//! read them; admins set and remove them). Inspections copy the template they start with,
//! so changing one never changes an inspection under way.

use noizylab_core::auth::Scope;
use noizylab_core::qc::{self, Check, Checkpoint};
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::store;

#[derive(Deserialize)]
struct Row {
    device_type: String,
    checkpoints: String,
    version: i64,
    updated_by: String,
    updated_at: String,
}

#[derive(Serialize)]
struct Template {
    device_type: String,
    checkpoints: Value,
    version: i64,
    updated_by: String,
    updated_at: String,
}

impl Row {
    fn template(self) -> ApiResult<Template> {
        Ok(Template {
            device_type: self.device_type,
            checkpoints: serde_json::from_str(&self.checkpoints).or_internal("stored checkpoints")?,
            version: self.version,
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "device_type, checkpoints, version, updated_by, updated_at";

/// `GET /api/v1/qc/templates` (staff): every device type's template.
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let rows: Vec<Row> = call
        .sql()?
        .all(
            &format!("SELECT {COLUMNS} FROM qc_templates WHERE workspace_id = ?1 ORDER BY device_type"),
            &[who.workspace.as_str().into()],
        )
        .await?;
    let templates = rows.into_iter().map(Row::template).collect::<ApiResult<Vec<_>>>()?;
    http::ok(&json!({ "templates": templates }))
}

async fn find(call: &Call, who: &Caller, kind: &str) -> ApiResult<Option<Row>> {
    call.sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM qc_templates WHERE workspace_id = ?1 AND device_type = ?2"),
            &[who.workspace.as_str().into(), kind.into()],
        )
        .await
}

/// `GET /api/v1/qc/templates/:device_type` (staff).
pub async fn show(call: &Call, kind: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let kind = store::device_type(kind)?;
    let row = find(call, &who, kind).await?.ok_or_else(|| ApiError::not_found(format!("QC template for {kind}")))?;
    http::ok(&row.template()?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    checkpoints: Vec<Checkpoint>,
}

/// `PUT /api/v1/qc/templates/:device_type {checkpoints}` (admin): creates or replaces the
/// template (its version goes up by one); 200 with it.
pub async fn set(mut req: Request, call: &Call, kind: &str) -> ApiResult<Response> {
    let who = Caller::person_with(call, Scope::Admin).await?;
    let kind = store::device_type(kind)?;
    let body: Body = http::read_json(&mut req).await?;
    qc::check_template(&body.checkpoints).map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    for c in &body.checkpoints {
        if let Check::Photo { reference_id, .. } = &c.check {
            let known: Option<Value> = call
                .sql()?
                .first(
                    "SELECT id FROM vision_references WHERE id = ?1 AND workspace_id = ?2",
                    &[reference_id.as_str().into(), who.workspace.as_str().into()],
                )
                .await?;
            if known.is_none() {
                return Err(ApiError::invalid_field(
                    "checkpoints",
                    format!(
                        "'{}': no vision reference {reference_id} (upload one with POST /api/v1/vision/references)",
                        c.id
                    ),
                ));
            }
        }
    }
    let text = serde_json::to_string(&body.checkpoints).or_internal("checkpoints")?;
    let now = time::now_rfc3339();
    call.sql()?
        .run(
            "INSERT INTO qc_templates (workspace_id, device_type, checkpoints, version, updated_by, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5)
             ON CONFLICT (workspace_id, device_type) DO UPDATE SET checkpoints = excluded.checkpoints,
                 version = version + 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[
                who.workspace.as_str().into(),
                kind.into(),
                text.as_str().into(),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    let row = find(call, &who, kind).await?.ok_or_else(|| ApiError::internal("template vanished after its write"))?;
    http::ok(&row.template()?)
}

/// `DELETE /api/v1/qc/templates/:device_type` (admin): 204; inspections under way keep
/// their copy.
pub async fn remove(call: &Call, kind: &str) -> ApiResult<Response> {
    let who = Caller::person_with(call, Scope::Admin).await?;
    let kind = store::device_type(kind)?;
    let gone = call
        .sql()?
        .run(
            "DELETE FROM qc_templates WHERE workspace_id = ?1 AND device_type = ?2",
            &[who.workspace.as_str().into(), kind.into()],
        )
        .await?;
    if gone == 0 {
        return Err(ApiError::not_found(format!("QC template for {kind}")));
    }
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
