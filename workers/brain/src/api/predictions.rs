//! `GET /api/v1/predictions/:device_id` (seed 000's foresight engine): the device's failure
//! forecast from all its scans, cached in KV `predict:{device_id}` for 7 days (a new scan
//! drops it and its job writes the new one).

use noizylab_core::auth::Scope;
use noizylab_core::diagnostics::foresight;
use noizylab_kit::caller::Caller;
use noizylab_kit::scans::{prediction_key, PREDICTION_TTL_SECS};
use noizylab_kit::{http, time, ApiError, ApiResult, Call, OrInternal};
use worker::Response;

use crate::store::{self, DeviceForecast};

pub async fn show(call: &Call, device_id: &str) -> ApiResult<Response> {
    let who = Caller::with(call, Scope::TicketsRead).await?;
    let device = store::visible_device(call, &who, device_id).await?;
    let kv = call.cache()?;
    let key = prediction_key(&device.id);
    // Read as text: a flattened struct does not come back through the JS object `json()` builds.
    if let Some(text) = kv.get(&key).text().await.or_internal("kv get")? {
        if serde_json::from_str::<DeviceForecast>(&text).is_ok() {
            return http::json_text(200, text);
        }
    }
    let history = store::observations(&call.sql()?, &device.id).await?;
    if history.is_empty() {
        return Err(ApiError::Conflict(format!(
            "device {device_id} has no complete scan yet: run one (POST /api/v1/devices/{device_id}/scan)"
        )));
    }
    let now = noizylab_kit::call::now_secs();
    let fresh = DeviceForecast {
        device_id: device.id,
        forecast: foresight::forecast(&history, now),
        generated_at: time::now_rfc3339(),
    };
    let text = serde_json::to_string(&fresh).or_internal("forecast")?;
    kv.put(&key, text.as_str())
        .or_internal("kv put")?
        .expiration_ttl(PREDICTION_TTL_SECS)
        .execute()
        .await
        .or_internal("kv put")?;
    http::json_text(200, text)
}
