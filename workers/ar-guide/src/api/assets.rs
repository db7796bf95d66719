//! `/api/v1/guides/assets…`: a guide's 3D model (glTF 2.0 — binary `.glb`, or `.gltf` with
//! its buffers embedded — validated by a real glTF parser, its nodes listed) and step
//! images (PNG, JPEG), kept in R2.

use noizylab_core::auth::Scope;
use noizylab_core::guides;
use noizylab_core::names::content_disposition;
use noizylab_core::tickets::sniff_content_type;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::{Headers, Request, Response};

use crate::store;

/// The largest asset accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/v1/guides/assets?name=` with the file as the body (staff): 201 with the
/// asset; a model lists its nodes. A file that is neither a valid glTF 2.0 model nor a
/// PNG or JPEG is refused (415, or 422 saying what the parser found wrong).
pub async fn upload(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsWrite).await?;
    let q: UploadQuery = http::query(&req)?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the upload could not be read"))?;
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BYTES as u64 });
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("send the file (.glb, .gltf, .png, .jpg) as the request body"));
    }
    let gltf_json = bytes.first() == Some(&b'{');
    let (kind, content_type, model) = if bytes.starts_with(b"glTF") || gltf_json {
        let model = guides::read_model(&bytes).map_err(ApiError::Unprocessable)?;
        let content_type = if gltf_json { "model/gltf+json" } else { "model/gltf-binary" };
        ("model", content_type, serde_json::to_string(&model).or_internal("model")?)
    } else {
        match sniff_content_type(&bytes) {
            Some(t @ ("image/png" | "image/jpeg")) => ("image", t, "{}".to_owned()),
            _ => {
                return Err(ApiError::UnsupportedMediaType(
                    "upload a glTF 2.0 model (.glb, or .gltf with embedded buffers) or a PNG or JPEG image".into(),
                ))
            }
        }
    };
    let name = q.name.map(|n| n.trim().chars().take(120).collect::<String>()).filter(|n| !n.is_empty());
    let name = name.unwrap_or_else(|| if kind == "model" { "model.glb".into() } else { "image".into() });
    let id = format!("ga_{}", random::id()?);
    let r2_key = format!("guides/{}/assets/{id}", who.workspace);
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let sha256 = noizylab_core::auth::sha256_hex(&bytes);
    call.uploads()?
        .put(&r2_key, bytes)
        .http_metadata(worker::HttpMetadata { content_type: Some(content_type.to_owned()), ..Default::default() })
        .execute()
        .await
        .or_internal("r2 put")?;
    call.sql()?
        .run(
            "INSERT INTO guide_assets (id, workspace_id, kind, name, content_type, r2_key, size, sha256, model,
                 created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                kind.into(),
                name.as_str().into(),
                content_type.into(),
                r2_key.as_str().into(),
                int(size),
                sha256.as_str().into(),
                model.as_str().into(),
                who.id.as_str().into(),
                time::now_rfc3339().as_str().into(),
            ],
        )
        .await?;
    http::created(&store::asset(call, &who, &id).await?.view()?)
}

/// `GET /api/v1/guides/assets/:id` (signed in): the asset and, for a model, its nodes.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    http::ok(&store::asset(call, &who, id).await?.view()?)
}

/// `GET /api/v1/guides/assets/:id/file` (signed in): the bytes, with their type.
pub async fn file(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let a = store::asset(call, &who, id).await?;
    let object = call.uploads()?.get(&a.r2_key).execute().await.or_internal("r2 get")?;
    let object = object.ok_or_else(|| ApiError::internal(format!("{} is missing from R2", a.r2_key)))?;
    let bytes = match object.body() {
        Some(b) => b.bytes().await.or_internal("r2 body")?,
        None => Vec::new(),
    };
    let headers = Headers::new();
    headers.set("content-type", &a.content_type).or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    headers.set("content-disposition", &content_disposition("inline", &a.name)).or_internal("header")?;
    headers.set("cache-control", "private, max-age=3600").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}
