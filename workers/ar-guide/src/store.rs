//! What the handlers share: assets, guides and their versions.

use noizylab_core::guides::{Model, Step};
use noizylab_kit::caller::Caller;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Serialize, Deserialize)]
pub struct Asset {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub content_type: String,
    #[serde(skip_serializing)]
    pub r2_key: String,
    pub size: i64,
    pub sha256: String,
    /// [`Model`] as JSON text for a model.
    #[serde(skip_serializing)]
    pub model: String,
    pub created_by: String,
    pub created_at: String,
}

impl Asset {
    pub fn model(&self) -> ApiResult<Option<Model>> {
        if self.kind != "model" {
            return Ok(None);
        }
        serde_json::from_str(&self.model).map(Some).or_internal("stored model")
    }

    /// The asset as the API shows it, with the model's nodes and a download path.
    pub fn view(&self) -> ApiResult<Value> {
        let mut v = serde_json::to_value(self).or_internal("asset")?;
        v["model"] = serde_json::to_value(self.model()?).or_internal("model")?;
        v["url"] = format!("/api/v1/guides/assets/{}/file", self.id).into();
        Ok(v)
    }
}

pub const ASSET_COLUMNS: &str = "id, kind, name, content_type, r2_key, size, sha256, model, created_by, created_at";

/// Asset `id` of the caller's workspace (else 404).
pub async fn asset(call: &Call, who: &Caller, id: &str) -> ApiResult<Asset> {
    call.sql()?
        .first(
            &format!("SELECT {ASSET_COLUMNS} FROM guide_assets WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("asset {id}")))
}

#[derive(Serialize, Deserialize)]
pub struct Guide {
    pub id: String,
    pub title: String,
    pub device_model: String,
    pub device_type: Option<String>,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Guide `id` of the caller's workspace, not archived (else 404).
pub async fn guide(call: &Call, who: &Caller, id: &str) -> ApiResult<Guide> {
    call.sql()?
        .first(
            "SELECT id, title, device_model, device_type, version, created_by, created_at, updated_at FROM guides
             WHERE id = ?1 AND workspace_id = ?2 AND archived_at IS NULL",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("guide {id}")))
}

#[derive(Deserialize)]
pub struct Version {
    pub version: i64,
    pub title: String,
    pub asset_id: Option<String>,
    pub steps: String,
    pub note: Option<String>,
    pub author_id: String,
    pub created_at: String,
}

impl Version {
    pub fn steps(&self) -> ApiResult<Vec<Step>> {
        serde_json::from_str(&self.steps).or_internal("stored steps")
    }
}

/// Version `version` of guide `id` (else 404).
pub async fn version(call: &Call, id: &str, version: i64) -> ApiResult<Version> {
    call.sql()?
        .first(
            "SELECT version, title, asset_id, steps, note, author_id, created_at FROM guide_versions
             WHERE guide_id = ?1 AND version = ?2",
            &[id.into(), noizylab_kit::db::int(version)],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("version {version} of guide {id}")))
}

/// The guide at `v`, with its steps and its model's nodes (where each step's node sits).
pub async fn view(call: &Call, who: &Caller, g: &Guide, v: &Version) -> ApiResult<Value> {
    let model = match &v.asset_id {
        Some(a) => Some(asset(call, who, a).await?.view()?),
        None => None,
    };
    let steps = v.steps()?;
    let total_minutes: u32 = steps.iter().map(|s| s.minutes).sum();
    Ok(json!({
        "id": g.id,
        "title": v.title,
        "device_model": g.device_model,
        "device_type": g.device_type,
        "version": v.version,
        "latest_version": g.version,
        "steps": steps,
        "total_minutes": total_minutes,
        "model": model,
        "note": v.note,
        "author_id": v.author_id,
        "created_at": g.created_at,
        "updated_at": v.created_at,
    }))
}
