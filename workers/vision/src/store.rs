//! Rows the handlers share: references, their photos in R2, analyses.

use noizylab_core::vision::compare::Component;
use noizylab_kit::caller::Caller;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
pub struct Reference {
    pub id: String,
    pub workspace_id: String,
    pub board_model: String,
    pub name: String,
    #[serde(skip_serializing)]
    pub image_key: String,
    pub format: String,
    pub width: i64,
    pub height: i64,
    /// The annotations as JSON text (see [`Reference::components`]).
    #[serde(skip_serializing)]
    pub components: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Reference {
    pub fn components(&self) -> ApiResult<Vec<Component>> {
        serde_json::from_str(&self.components).or_internal("stored components")
    }
}

pub const REFERENCE_COLUMNS: &str =
    "id, workspace_id, board_model, name, image_key, format, width, height, components, version, created_by, created_at, updated_at";

/// Reference `id` of the caller's workspace (else 404).
pub async fn reference(call: &Call, who: &Caller, id: &str) -> ApiResult<Reference> {
    call.sql()?
        .first(
            &format!("SELECT {REFERENCE_COLUMNS} FROM vision_references WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("reference {id}")))
}

/// An object of the uploads bucket.
pub async fn object(call: &Call, key: &str) -> ApiResult<Vec<u8>> {
    let found = call.uploads()?.get(key).execute().await.or_internal("r2 get")?;
    let object = found.ok_or_else(|| ApiError::internal(format!("{key} is missing from R2")))?;
    match object.body() {
        Some(b) => b.bytes().await.or_internal("r2 body"),
        None => Ok(Vec::new()),
    }
}
