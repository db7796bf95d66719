//! `/api/v1/dev/…`: platform probes, present only when `ENVIRONMENT` is `development`
//! (in production every route here answers 404, as if it did not exist).
//!
//! They let a developer, and the end-to-end suite, see each storage binding work on the
//! local stack through the real gateway: KV with TTL, R2 objects, the event bus and the
//! jobs queue (a job sent again, as a queue may redeliver it). They touch only keys under
//! `dev:`/`dev/`, never real data.

use noizylab_core::bindings;
use noizylab_core::events::{self, Envelope};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Headers, Method, Request, Response};

/// KV refuses TTLs under 60 seconds.
const MIN_TTL_SECS: u64 = 60;
const MAX_KEY_LEN: usize = 200;
const MAX_OBJECT_BYTES: usize = 5 * 1024 * 1024;

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    if !call.is_development() {
        return Err(http::no_route(&req));
    }
    match (req.method(), rest) {
        (Method::Put, ["kv", key]) => kv_put(req, call, key).await,
        (Method::Get, ["kv", key]) => kv_get(call, key).await,
        (Method::Put, ["r2", key]) => r2_put(req, call, key).await,
        (Method::Get, ["r2", key]) => r2_get(call, key).await,
        (Method::Post, ["events"]) => publish(req, call).await,
        (Method::Post, ["jobs"]) => job(req, call).await,
        (_, ["kv" | "r2", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        (_, ["events" | "jobs"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        _ => Err(http::no_route(&req)),
    }
}

fn probe_key(raw: &str) -> ApiResult<&str> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_KEY_LEN
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(raw)
        .ok_or_else(|| ApiError::invalid_field("key", "a probe key is 1-200 letters, digits, '-', '_' or '.'"))
}

#[derive(Deserialize)]
struct KvPut {
    value: String,
    ttl_seconds: u64,
}

#[derive(Serialize)]
struct KvEntry {
    key: String,
    value: Option<String>,
    /// Unix seconds at which KV drops the key.
    expiration: Option<u64>,
}

async fn kv_put(mut req: Request, call: &Call, raw_key: &str) -> ApiResult<Response> {
    let key = probe_key(raw_key)?;
    let body: KvPut = http::read_json(&mut req).await?;
    if body.ttl_seconds < MIN_TTL_SECS {
        return Err(ApiError::invalid_field("ttl_seconds", "KV needs a TTL of at least 60 seconds"));
    }
    let kv = call.cache()?;
    kv.put(&format!("dev:{key}"), body.value.as_str())
        .or_internal("kv put")?
        .expiration_ttl(body.ttl_seconds)
        .execute()
        .await
        .or_internal("kv put")?;
    let expiration = time::now_millis() / 1000 + body.ttl_seconds;
    http::created(&KvEntry { key: key.to_owned(), value: Some(body.value), expiration: Some(expiration) })
}

async fn kv_get(call: &Call, raw_key: &str) -> ApiResult<Response> {
    let key = probe_key(raw_key)?;
    let full = format!("dev:{key}");
    let kv = call.cache()?;
    let value = kv.get(&full).text().await.or_internal("kv get")?;
    let Some(value) = value else {
        return Err(ApiError::not_found(format!("kv key {key}")));
    };
    // The expiration is not returned by `get`; `list` carries it.
    let listed = kv.list().prefix(full.clone()).execute().await.or_internal("kv list")?;
    let expiration = listed.keys.iter().find(|k| k.name == full).and_then(|k| k.expiration);
    http::ok(&KvEntry { key: key.to_owned(), value: Some(value), expiration })
}

#[derive(Serialize)]
struct R2Entry {
    key: String,
    size: u64,
    etag: String,
    content_type: Option<String>,
}

async fn r2_put(mut req: Request, call: &Call, raw_key: &str) -> ApiResult<Response> {
    let key = probe_key(raw_key)?;
    let content_type = req.headers().get("content-type").ok().flatten();
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request("send the object's bytes as the body"));
    }
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_OBJECT_BYTES as u64 });
    }
    let bucket = call.uploads()?;
    let mut put = bucket.put(format!("dev/{key}"), bytes);
    if let Some(ct) = &content_type {
        put = put.http_metadata(worker::HttpMetadata { content_type: Some(ct.clone()), ..Default::default() });
    }
    let object =
        put.execute().await.or_internal("r2 put")?.ok_or_else(|| ApiError::internal("r2 put returned no object"))?;
    http::created(&R2Entry { key: key.to_owned(), size: object.size(), etag: object.etag(), content_type })
}

async fn r2_get(call: &Call, raw_key: &str) -> ApiResult<Response> {
    let key = probe_key(raw_key)?;
    let bucket = call.uploads()?;
    let Some(object) = bucket.get(format!("dev/{key}")).execute().await.or_internal("r2 get")? else {
        return Err(ApiError::not_found(format!("object {key}")));
    };
    let content_type = object.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into());
    let etag = object.etag();
    let bytes = match object.body() {
        Some(body) => body.bytes().await.or_internal("r2 body")?,
        None => Vec::new(),
    };
    let headers = Headers::new();
    headers.set("content-type", &content_type).or_internal("header")?;
    headers.set("etag", &format!("\"{etag}\"")).or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

#[derive(Deserialize)]
struct Publish {
    /// Reuse an id to play a redelivery of an earlier event.
    #[serde(default)]
    id: Option<String>,
    event: String,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    ticket_id: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    data: serde_json::Value,
}

#[derive(Serialize)]
struct Published {
    id: String,
    event: String,
    queue: &'static str,
}

/// `POST /api/v1/dev/events`: puts an event on the bus as a producer would. Any
/// well-formed name is accepted; consumers decide what they understand.
async fn publish(mut req: Request, call: &Call) -> ApiResult<Response> {
    let body: Publish = http::read_json(&mut req).await?;
    if !events::is_well_formed(&body.event) {
        return Err(ApiError::invalid_field(
            "event",
            "an event name is lowercase `domain.action`, e.g. ticket.created",
        ));
    }
    if body.id.as_deref().is_some_and(|id| noizylab_core::request_id::accept(id).is_none()) {
        return Err(ApiError::invalid_field("id", "an event id is 1-64 of [A-Za-z0-9._-]"));
    }
    let envelope = Envelope {
        id: match body.id {
            Some(id) => id,
            None => random::id()?,
        },
        event: body.event,
        timestamp: time::now_rfc3339(),
        workspace_id: body.workspace_id,
        device_id: body.device_id,
        ticket_id: body.ticket_id,
        data: body.data,
    };
    let text = serde_json::to_string(&envelope).map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    call.queue(bindings::EVENTS)?.send(text).await.or_internal("queue send")?;
    call.log_info(&format!("published {} {}", envelope.event, envelope.id));
    http::json(
        202,
        &Published { id: envelope.id, event: envelope.event, queue: noizylab_core::services::queues::EVENTS },
    )
}

/// `POST /api/v1/dev/jobs {kind, …}`: puts a job on `noizylab-jobs` as a producer would —
/// to see a consumer take the same job twice (queues deliver at least once).
async fn job(mut req: Request, call: &Call) -> ApiResult<Response> {
    let job: noizylab_core::contracts::Job = http::read_json(&mut req).await?;
    let text = serde_json::to_string(&job).map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    call.queue(bindings::JOBS)?.send(text).await.or_internal("queue send")?;
    http::json(202, &serde_json::json!({ "queue": noizylab_core::services::queues::JOBS, "job": job }))
}
