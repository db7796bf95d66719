//! `/api/v1/devices…` (seed 000): the devices customers bring in.
//!
//! Customers see and change only their own devices; staff (and API keys with the
//! tickets scopes) see the whole workspace's. Anything else answers 404, as if it did not
//! exist. Removal is soft: tickets keep pointing at the device they were about.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::DeviceHealth;
use noizylab_core::diagnostics::ScanInput;
use noizylab_core::events::{DeviceRegistered, DeviceRemoved};
use noizylab_kit::db::{opt, Filter};
use noizylab_kit::events::{self, About};
use noizylab_kit::scans::{self, Target};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::idempotency::{self, Claim};
use crate::store::{self, page_limit, Device, DeviceRow, DEVICE_COLUMNS};
use noizylab_kit::caller::Caller;
use serde_json::value::RawValue;

const TYPES: [&str; 8] = ["laptop", "desktop", "phone", "tablet", "console", "audio", "wearable", "other"];

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    use worker::Method::{Delete, Get, Post};
    match (req.method(), rest) {
        (Post, ["register"]) => register(req, call).await,
        (Get, []) => list(&req, call).await,
        (Get, [id]) => get(call, id).await,
        (Delete, [id]) => remove(call, id).await,
        (Get, [id, "health"]) => health(call, id).await,
        (Post, [id, "scan"]) => scan(req, call, id).await,
        (_, ["register"] | [_, "scan"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        (_, []) | (_, [_, "health"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, [_]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "DELETE"] }),
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    make: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    serial: Option<String>,
    #[serde(default)]
    imei: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    specs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Staff registering a device on a customer's behalf.
    #[serde(default)]
    owner_id: Option<String>,
}

/// A text field: trimmed, at most `max` printable characters; empty becomes `None`.
fn text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, format!("{field} is at most {max} printable characters")));
    }
    Ok(Some(v.to_owned()))
}

/// An IMEI: 15 digits whose Luhn check digit is right.
fn imei(value: Option<&str>) -> ApiResult<Option<String>> {
    let Some(v) = value.map(|v| v.replace([' ', '-'], "")).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let digits: Option<Vec<u32>> = v.chars().map(|c| c.to_digit(10)).collect();
    let valid = digits.filter(|d| d.len() == 15).is_some_and(|d| {
        let sum: u32 =
            d.iter().rev().enumerate().map(|(i, &x)| if i % 2 == 1 { (x * 2) / 10 + (x * 2) % 10 } else { x }).sum();
        sum.is_multiple_of(10)
    });
    if !valid {
        return Err(ApiError::invalid_field("imei", "an IMEI is 15 digits with a valid check digit"));
    }
    Ok(Some(v))
}

/// `POST /api/v1/devices/register`: 201 with the device. Accepts `Idempotency-Key`.
async fn register(mut req: Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let key = idempotency::key_of(&req)?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    http::require_json(&req)?;
    let body: NewDevice = http::parse_json(&bytes)?;
    let path = req.path();
    let fingerprint: [&[u8]; 3] = [b"POST", path.as_bytes(), &bytes];
    idempotency::once(call, key, &actor.id, &fingerprint, |claim| create(call, &actor, body, claim)).await
}

async fn create(call: &Call, actor: &Caller, body: NewDevice, claim: Option<Claim>) -> ApiResult<Response> {
    let name =
        text("name", Some(&body.name), 100)?.ok_or_else(|| ApiError::invalid_field("name", "name the device"))?;
    let kind = body.kind.trim().to_ascii_lowercase();
    if !TYPES.contains(&kind.as_str()) {
        return Err(ApiError::invalid_field("type", format!("type is one of {}", TYPES.join(", "))));
    }
    let owner = match body.owner_id.as_deref() {
        Some(owner) if owner != actor.id => {
            actor.require_staff(call).await?;
            store::role_in(call, &actor.workspace, owner)
                .await?
                .ok_or_else(|| ApiError::invalid_field("owner_id", "owner_id is not a member of this workspace"))?;
            owner.to_owned()
        }
        _ => actor.person(call).await?.to_owned(),
    };
    let specs = serde_json::Value::Object(body.specs.unwrap_or_default());
    let specs_text = specs.to_string();
    if specs_text.len() > 16 * 1024 {
        return Err(ApiError::invalid_field("specs", "specs are at most 16 KiB of JSON"));
    }
    let device = Device {
        id: format!("dev_{}", random::id()?),
        workspace_id: actor.workspace.clone(),
        owner_id: owner,
        name,
        kind,
        make: text("make", body.make.as_deref(), 60)?,
        model: text("model", body.model.as_deref(), 100)?,
        serial: text("serial", body.serial.as_deref(), 64)?,
        imei: imei(body.imei.as_deref())?,
        os: text("os", body.os.as_deref(), 60)?,
        specs,
        health_score: None,
        last_scan_at: None,
        created_at: time::now_rfc3339(),
    };
    let answer = serde_json::to_string(&device).or_internal("device")?;
    let db = call.sql()?;
    let insert = db.statement(
        "INSERT INTO devices (id, workspace_id, owner_id, name, type, make, model, serial, imei, os, specs, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        &[
            device.id.as_str().into(),
            device.workspace_id.as_str().into(),
            device.owner_id.as_str().into(),
            device.name.as_str().into(),
            device.kind.as_str().into(),
            opt(device.make.as_deref()),
            opt(device.model.as_deref()),
            opt(device.serial.as_deref()),
            opt(device.imei.as_deref()),
            opt(device.os.as_deref()),
            specs_text.as_str().into(),
            device.created_at.as_str().into(),
        ],
    )?;
    let mut statements = vec![insert];
    if let Some(claim) = &claim {
        // The key is kept with the device, and the answer.
        statements.extend(claim.keep(&db, 201, &answer)?);
    }
    db.batch(statements).await?;
    let about = About { workspace: Some(&device.workspace_id), device: Some(&device.id), ticket: None };
    let registered =
        DeviceRegistered { owner_id: device.owner_id.clone(), r#type: device.kind.clone(), by: actor.id.clone() };
    events::publish(call, about, &registered).await?;
    http::json_text(201, answer)
}

#[derive(Deserialize)]
struct ListQuery {
    owner_id: Option<String>,
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /api/v1/devices[?owner_id=&limit=&cursor=]`: newest first, paginated by cursor.
async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    let limit = page_limit(q.limit.as_deref())?;
    let owner = if actor.is_staff() { q.owner_id } else { Some(actor.id.clone()) };
    // Cursor: "<created_at>|<id>" of the last device on the previous page.
    let (after_at, after_id) = match q.cursor.as_deref().map(|c| c.split_once('|')) {
        None => (None, None),
        Some(Some((at, id))) => (Some(at.to_owned()), Some(id.to_owned())),
        Some(None) => return Err(ApiError::invalid_field("cursor", "pass back the next_cursor of the previous page")),
    };
    // Plain columns, read as one JSON text of rows by the runtime (`Db::rows_json`): one
    // string crosses into wasm however many devices, and SQLite does no JSON work (building
    // the page as JSON in SQL cost it more than the rest of the query; see
    // docs/benchmarks.md). One device more than the page is read to know whether another
    // page follows. Only the conditions that apply are written and bound (`Filter`); the
    // LIMIT is written in, not bound (see `noizylab_kit::db`).
    let mut filter = Filter::new("workspace_id = ? AND deleted_at IS NULL", [actor.workspace.as_str().into()]);
    if let Some(owner) = owner.as_deref() {
        filter.and("owner_id = ?", [owner.into()]);
    }
    if let (Some(at), Some(id)) = (after_at.as_deref(), after_id.as_deref()) {
        filter.and("created_at < ? OR (created_at = ? AND id < ?)", [at.into(), at.into(), id.into()]);
    }
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE {} ORDER BY created_at DESC, id DESC LIMIT {}",
        filter.clause(),
        limit + 1
    );
    let args = filter.args([]);
    // Each row an array in `DEVICE_COLUMNS` order, which is `Device`'s field order.
    let rows = call.sql()?.rows_json(&sql, &args).await?;
    let mut devices: Vec<DeviceRow> = serde_json::from_str(&rows).or_internal("device page")?;
    let next_cursor = if devices.len() > limit as usize {
        // Another page follows: drop the extra device, and point the cursor at the last kept.
        devices.truncate(limit as usize);
        let text = |cell: &RawValue| serde_json::from_str::<String>(cell.get()).or_internal("device page");
        match devices.last() {
            Some(d) => Some(format!("{}|{}", text(d.created_at)?, text(d.id)?)),
            None => None,
        }
    } else {
        None
    };
    http::json(200, &DevicePage { devices, next_cursor })
}

#[derive(Serialize)]
struct DevicePage<'a> {
    devices: Vec<DeviceRow<'a>>,
    next_cursor: Option<String>,
}

async fn get(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    http::ok(&store::visible_device(call, &actor, id).await?)
}

/// `DELETE /api/v1/devices/:id`: 204; the device leaves every list.
async fn remove(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let device = store::visible_device(call, &actor, id).await?;
    call.sql()?
        .run("UPDATE devices SET deleted_at = ?2 WHERE id = ?1", &[id.into(), time::now_rfc3339().into()])
        .await?;
    call.cache()?.delete(&scans::health_key(id)).await.or_internal("kv delete")?;
    let about = About { workspace: Some(&device.workspace_id), device: Some(id), ticket: None };
    events::publish(call, about, &DeviceRemoved { by: actor.id.clone() }).await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}

#[derive(Deserialize)]
struct Pending {
    n: i64,
}

/// `GET /api/v1/devices/:id/health`, cached in KV `device:health:{id}` for an hour.
async fn health(call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsRead).await?;
    let kv = call.cache()?;
    let cache_key = scans::health_key(id);
    // The device (whether the caller may see it) and the cached answer are asked for at
    // once; the cached answer is used only once the device is known to be visible.
    let (device, cached) =
        futures_util::join!(store::visible_device(call, &actor, id), kv.get(&cache_key).json::<DeviceHealth>());
    let device = device?;
    if let Some(cached) = cached.or_internal("kv get")? {
        return http::ok(&cached);
    }
    let pending: Option<Pending> = call
        .sql()?
        .first(
            "SELECT COUNT(*) AS n FROM device_scans WHERE device_id = ?1 AND status IN ('queued', 'running')",
            &[id.into()],
        )
        .await?;
    let health = DeviceHealth {
        device_id: device.id,
        health_score: device.health_score,
        status: DeviceHealth::status_of(device.health_score).into(),
        last_scan_at: device.last_scan_at,
        scans_pending: pending.map(|p| p.n).unwrap_or(0),
    };
    kv.put(&cache_key, &health)
        .or_internal("kv put")?
        .expiration_ttl(scans::HEALTH_TTL_SECS)
        .execute()
        .await
        .or_internal("kv put")?;
    http::ok(&health)
}

/// `POST /api/v1/devices/:id/scan` (the gateway holds each device to 10 an hour): 202 with
/// the queued scan, which `brain` runs. The body (optional) is the seed's device data
/// without `device_id` — smartctl JSON, logs, free space …; what it leaves out comes from
/// the device's record.
async fn scan(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let actor = Caller::of(call)?;
    actor.require(call, Scope::TicketsWrite).await?;
    let device = store::visible_device(call, &actor, id).await?;
    let body = req.bytes().await.or_internal("body")?;
    if body.len() > http::JSON_LIMIT {
        return Err(ApiError::PayloadTooLarge { limit: http::JSON_LIMIT as u64 });
    }
    let given: Option<serde_json::Map<String, serde_json::Value>> =
        if body.iter().all(u8::is_ascii_whitespace) { None } else { Some(http::parse_json(&body)?) };
    let input = ScanInput::for_device(given, id, device.os.as_deref(), &device.specs)
        .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    let target = Target { device_id: id, workspace_id: &device.workspace_id, requested_by: &actor.id };
    http::json(202, &scans::queue(call, target, &input).await?)
}
