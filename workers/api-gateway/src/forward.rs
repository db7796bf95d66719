//! Forwarding to the owning worker, and the headers every answer leaves with.

use noizylab_core::identity::{self, Identity, Signed};
use noizylab_core::request_id;
use noizylab_kit::call::now_secs;
use noizylab_kit::{ApiError, ApiResult, OrInternal};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::config::Config;
use crate::gate::CheckAnswer;

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1), and the ones only
/// the gateway may set or read. `upgrade` is kept: WebSocket upgrades are forwarded.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "content-length",
    // Credentials end here: inner workers get the verified identity instead.
    "authorization",
    "x-api-key",
    identity::HEADER,
    request_id::HEADER,
];

const EXPOSED: &str =
    "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, www-authenticate";
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, x-api-key, x-request-id";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// Answers a CORS preflight: 204 for the portal's origin, 403 for any other.
pub fn preflight(req: &Request, config: &Config) -> ApiResult<Response> {
    let origin = req.headers().get("origin").ok().flatten();
    match origin {
        Some(o) if config.allows_origin(&o) => {
            let headers = Headers::new();
            headers.set("access-control-allow-methods", ALLOWED_METHODS).or_internal("header")?;
            headers.set("access-control-allow-headers", ALLOWED_HEADERS).or_internal("header")?;
            headers.set("access-control-max-age", "600").or_internal("header")?;
            Ok(Response::empty().or_internal("response")?.with_status(204).with_headers(headers))
        }
        Some(_) => Err(ApiError::Forbidden("this origin may not call the API".into())),
        None => Err(ApiError::bad_request("an OPTIONS request needs an Origin header")),
    }
}

fn has_body(method: &Method) -> bool {
    !matches!(method, Method::Get | Method::Head | Method::Options)
}

/// The request's body, read whole before anything answers: a declared length over the
/// cap is refused unread (413); an undeclared (chunked) body is counted as it streams and
/// refused the moment it passes the cap; anything else is read as a JS `ArrayBuffer`
/// that never crosses into wasm memory.
///
/// Reading first matters to every client that keeps its connection alive (every
/// browser): an answer sent while the client's body is still unread — the gateway's own
/// 404 or 401, or a worker's 415 on a stream handed on to it — makes workerd reset the
/// connection under the client's *next* request.
pub async fn read_body(req: &mut Request, max_body: u64) -> ApiResult<Option<JsValue>> {
    let unreadable = || ApiError::bad_request("the request body could not be read");
    let declared: Option<u64> = req.headers().get("content-length").ok().flatten().and_then(|v| v.parse().ok());
    match declared {
        Some(len) if len > max_body => Err(ApiError::PayloadTooLarge { limit: max_body }),
        Some(0) => Ok(None),
        Some(_) => {
            let buffer = req.inner().array_buffer().map_err(|_| unreadable())?;
            Ok(Some(wasm_bindgen_futures::JsFuture::from(buffer).await.map_err(|_| unreadable())?))
        }
        // A GET or HEAD with neither a length nor chunked framing has no body (RFC 9112
        // §6.3), but the runtime may still hand it an (empty) stream: drained by the
        // runtime in one piece, not chunk by chunk through wasm.
        None if !has_body(&req.method()) && req.headers().get("transfer-encoding").ok().flatten().is_none() => {
            if req.inner().body().is_some() {
                let buffer = req.inner().array_buffer().map_err(|_| unreadable())?;
                wasm_bindgen_futures::JsFuture::from(buffer).await.map_err(|_| unreadable())?;
            }
            Ok(None)
        }
        None if req.inner().body().is_none() => Ok(None),
        None => {
            let bytes = read_capped(req, max_body).await?;
            Ok((!bytes.is_empty()).then(|| js_sys_bytes(&bytes)))
        }
    }
}

/// Forwards `req` (its `body` already read by [`read_body`]) to the worker bound as
/// `binding`, carrying `who` signed for this exact method, path and request id.
pub async fn to_service(
    req: Request,
    body: Option<JsValue>,
    env: &Env,
    binding: &str,
    secret: &str,
    who: &Identity,
    request_id: &str,
) -> ApiResult<Response> {
    let method = req.method();
    let body = if has_body(&method) { body } else { None };

    let url = req.url().or_internal("url")?;
    let path = url.path();
    let signed = Signed { method: method.as_ref(), path, request_id };
    let header =
        identity::sign(secret.as_bytes(), who, signed, now_secs()).map_err(|e| ApiError::internal(e.message()))?;

    // A copy made by the runtime, not header by header across the wasm boundary.
    let headers = req.headers().clone();
    for name in NOT_FORWARDED {
        headers.delete(name).or_internal("header")?;
    }
    headers.set(identity::HEADER, &header).or_internal("header")?;
    headers.set(request_id::HEADER, request_id).or_internal("header")?;

    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers).with_body(body);
    let target = match url.query() {
        Some(q) => format!("https://internal{path}?{q}"),
        None => format!("https://internal{path}"),
    };
    // Handed to the runtime as URL and init: no `worker::Request` is built (and read back
    // field by field) for a request that only passes through.
    let fetcher = env.service(binding).or_internal(binding)?;
    fetcher.fetch(target, Some(init)).await.map_err(|e| ApiError::BadGateway(format!("{binding}: {e}")))
}

/// Reads a body of undeclared length (chunked) chunk by chunk, counting as it streams in,
/// and stops at the first chunk that takes it over `max_body`: a body far over the cap
/// is never held in memory, only the cap's worth of it.
async fn read_capped(req: &mut Request, max_body: u64) -> ApiResult<Vec<u8>> {
    use futures_util::StreamExt;
    let unreadable = || ApiError::bad_request("the request body could not be read");
    let Ok(mut stream) = req.stream() else {
        // No body at all.
        return Ok(Vec::new());
    };
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if (bytes.len() + chunk.len()) as u64 > max_body {
            return Err(ApiError::PayloadTooLarge { limit: max_body });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn js_sys_bytes(bytes: &[u8]) -> JsValue {
    worker::js_sys::Uint8Array::from(bytes).into()
}

/// Every answer leaves with the request id and, for the portal's origin, CORS headers.
/// A WebSocket handshake (101) passes untouched: its socket must not be re-wrapped.
pub fn decorate(resp: Response, request_id: &str, origin: Option<&str>, rate: Option<&CheckAnswer>) -> Response {
    if resp.status_code() == 101 {
        return resp;
    }
    let status = resp.status_code();
    let headers = resp.headers().clone();
    let _ = headers.set(request_id::HEADER, request_id);
    // IETF draft-ietf-httpapi-ratelimit-headers, as the seed's clients expect.
    if let Some(rate) = rate.filter(|r| r.reason.as_deref().is_none_or(|r| r == "rate_limited")) {
        let _ = headers.set("ratelimit-limit", &rate.limit.to_string());
        let _ = headers.set("ratelimit-remaining", &rate.remaining.to_string());
        let _ = headers.set("ratelimit-reset", &rate.reset_secs.to_string());
    }
    if status == 401 {
        let _ = headers.set("www-authenticate", "Bearer realm=\"noizylab\", error=\"invalid_token\"");
    }
    if let Some(origin) = origin {
        let _ = headers.set("access-control-allow-origin", origin);
        let _ = headers.set("access-control-allow-credentials", "true");
        let _ = headers.set("access-control-expose-headers", EXPOSED);
        let _ = headers.append("vary", "Origin");
    }
    let (_, body) = resp.into_parts();
    Response::builder().with_status(status).with_headers(headers).body(body)
}
