//! Forwarding to the owning worker, and the headers every answer leaves with.

use noizylab_core::identity::{self, Identity, Signed};
use noizylab_core::request_id;
use noizylab_kit::call::now_secs;
use noizylab_kit::http::Edge;
use noizylab_kit::{ApiError, ApiResult, OrInternal};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{web_sys, worker_sys, Env, Headers, Method, Response};

use crate::config::Config;
use crate::incoming::Incoming;
use crate::js::{self, Names};

thread_local! {
    /// Headers that describe one hop, not the message (RFC 9110 §7.6.1), and the ones only
    /// the gateway may set or read. `upgrade` is kept: WebSocket upgrades are forwarded.
    static NOT_FORWARDED: Names = const { Names::new(&[
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
        // (`identity::HEADER`, `request_id::HEADER` and `Edge::HEADER` are not deleted but
        // set, which replaces whatever a client sent.)
    ]) };
}
const ALLOWED_HEADERS: &str = "authorization, content-type, idempotency-key, x-api-key, x-request-id";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// Answers a CORS preflight: 204 for the portal's origin, 403 for any other.
pub fn preflight(req: &Incoming, config: &Config) -> ApiResult<Response> {
    let origin = req.header("origin");
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
pub async fn read_body(req: &Incoming, max_body: u64) -> ApiResult<Option<JsValue>> {
    let unreadable = || ApiError::bad_request("the request body could not be read");
    let declared: Option<u64> = req.header("content-length").and_then(|v| v.parse().ok());
    match declared {
        Some(len) if len > max_body => Err(ApiError::PayloadTooLarge { limit: max_body }),
        Some(0) => Ok(None),
        Some(_) => {
            let buffer = req.raw().array_buffer().map_err(|_| unreadable())?;
            Ok(Some(wasm_bindgen_futures::JsFuture::from(buffer).await.map_err(|_| unreadable())?))
        }
        // A GET or HEAD with neither a length nor chunked framing has no body (RFC 9112
        // §6.3): nothing to read, nor to ask the runtime for (even an empty body stream
        // is an object made on request).
        None if !has_body(&req.method()) && req.header("transfer-encoding").is_none() => Ok(None),
        None if req.raw().body().is_none() => Ok(None),
        None => {
            let bytes = read_capped(&mut req.to_request(), max_body).await?;
            Ok((!bytes.is_empty()).then(|| js_sys_bytes(&bytes)))
        }
    }
}

/// Forwards `req` (its `body` already read by [`read_body`]) to the worker bound as
/// `binding`, carrying `who` signed for this exact method, path and request id, and the
/// `edge` headers its answer must leave with (see [`pass_back`]).
#[allow(clippy::too_many_arguments)]
pub async fn to_service(
    req: Incoming,
    body: Option<JsValue>,
    env: &Env,
    binding: &str,
    secret: &str,
    who: &Identity,
    request_id: &str,
    edge: &Edge,
) -> ApiResult<web_sys::Response> {
    let method = req.method();
    let body = if has_body(&method) { body } else { None };

    // The path and query as the runtime serialised them: not parsed again.
    let (path, query) = (req.path(), req.query());
    let signed = Signed { method: method.as_ref(), path, request_id };
    let header =
        identity::sign(secret.as_bytes(), who, signed, now_secs()).map_err(|e| ApiError::internal(e.message()))?;

    // A copy made by the runtime, changed in one call (`js::forward_headers`).
    let set = [(identity::HEADER, header.as_str()), (request_id::HEADER, request_id), (Edge::HEADER, &edge.header())];
    let headers = NOT_FORWARDED.with(|drop| js::forward_headers(&req.headers().0, drop, &set));

    // Handed to the runtime as URL and init, and the answer taken as the runtime's own
    // object: no `worker::Request` or `worker::Response` is built (and read back field
    // by field) for a message that only passes through.
    let init = web_sys::RequestInit::new();
    init.set_method(method.as_ref());
    init.set_headers(&headers);
    if let Some(body) = &body {
        init.set_body(body);
    }
    let target =
        if query.is_empty() { format!("https://internal{path}") } else { format!("https://internal{path}?{query}") };
    let bad_gateway = |e: JsValue| ApiError::BadGateway(format!("{binding}: {}", worker::Error::from(e)));
    let fetcher: worker_sys::Fetcher = env.service(binding).or_internal(binding)?.into_rpc();
    let answer = fetcher.fetch_with_str_and_init(&target, &init).map_err(bad_gateway)?;
    let answer = wasm_bindgen_futures::JsFuture::from(answer).await.map_err(bad_gateway)?;
    answer.dyn_into::<web_sys::Response>().map_err(|_| ApiError::BadGateway(format!("{binding}: not a response")))
}

/// An inner worker's answer on its way out. Every worker serving through the kit stamps
/// the request id and the gateway's [`Edge`] on its answer itself, so such an answer (and
/// a WebSocket handshake, whose socket must not be re-wrapped) goes back as it is; one
/// without the request id (a worker that failed before its kit could answer) is decorated
/// here.
pub fn pass_back(resp: web_sys::Response, request_id: &str, edge: &Edge) -> web_sys::Response {
    if resp.status() == 101 || resp.headers().has(request_id::HEADER).unwrap_or(false) {
        return resp;
    }
    decorate(resp.into(), request_id, edge).into()
}

/// Reads a body of undeclared length (chunked) chunk by chunk, counting as it streams in,
/// and stops at the first chunk that takes it over `max_body`: a body far over the cap
/// is never held in memory, only the cap's worth of it.
async fn read_capped(req: &mut worker::Request, max_body: u64) -> ApiResult<Vec<u8>> {
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

/// The gateway's own answers (and an inner one that came back undecorated) leave with
/// the request id and the [`Edge`] headers, stamped on a copy of their headers.
pub fn decorate(resp: Response, request_id: &str, edge: &Edge) -> Response {
    if resp.status_code() == 101 {
        return resp;
    }
    let status = resp.status_code();
    let headers = resp.headers().clone();
    let _ = edge.stamp(&headers, status, request_id);
    resp.with_headers(headers)
}
