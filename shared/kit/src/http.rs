//! JSON in, JSON out, and the one error body.

use noizylab_core::error::ApiError;
use noizylab_core::request_id;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Headers, Request, Response};

use crate::{log, ApiResult, OrInternal};

/// The default cap on a JSON body read by a worker (the gateway caps raw bodies itself).
pub const JSON_LIMIT: usize = 1024 * 1024;

pub fn json<T: Serialize>(status: u16, value: &T) -> ApiResult<Response> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8").or_internal("header")?;
    Ok(Response::from_bytes(body).or_internal("response")?.with_status(status).with_headers(headers))
}

/// A JSON answer whose text is already written (by the database, say).
pub fn json_text(status: u16, body: String) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8").or_internal("header")?;
    Ok(Response::from_bytes(body.into_bytes()).or_internal("response")?.with_status(status).with_headers(headers))
}

pub fn ok<T: Serialize>(value: &T) -> ApiResult<Response> {
    json(200, value)
}

pub fn created<T: Serialize>(value: &T) -> ApiResult<Response> {
    json(201, value)
}

/// Reads and parses a JSON body, answering 415 for another media type and 400 naming the
/// field at fault for a body that does not fit `T`.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    require_json(req)?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    if bytes.len() > JSON_LIMIT {
        return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT as u64 });
    }
    parse_json(&bytes)
}

/// [`read_json`] for a body that may be left out: none at all is `T::default()`.
pub async fn read_json_or_default<T: DeserializeOwned + Default>(req: &mut Request) -> ApiResult<T> {
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json(req)?;
    if bytes.len() > JSON_LIMIT {
        return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT as u64 });
    }
    parse_json(&bytes)
}

/// A response's body as text, read by the runtime in one piece. (`worker::Response::text`
/// pulls a fetched body through wasm chunk by chunk, taking and releasing a stream reader
/// for each: several times the cost, on every internal call that reads an answer.)
pub async fn answer_text(resp: &Response) -> ApiResult<String> {
    use worker::ResponseBody;
    match resp.body() {
        ResponseBody::Empty => Ok(String::new()),
        ResponseBody::Body(bytes) => String::from_utf8(bytes.clone()).or_internal("answer is not UTF-8"),
        ResponseBody::Stream(stream) => {
            let unreadable = |e: worker::wasm_bindgen::JsValue| ApiError::internal(format!("answer body: {e:?}"));
            let whole = worker::web_sys::Response::new_with_opt_readable_stream(Some(stream)).map_err(unreadable)?;
            let text = worker::wasm_bindgen_futures::JsFuture::from(whole.text().map_err(unreadable)?)
                .await
                .map_err(unreadable)?;
            text.as_string().ok_or_else(|| ApiError::internal("answer body is not text"))
        }
    }
}

/// A response's JSON body as `T` (see [`answer_text`]).
pub async fn answer_json<T: DeserializeOwned>(resp: &Response) -> ApiResult<T> {
    serde_json::from_str(&answer_text(resp).await?).or_internal("answer body")
}

/// 415 unless the body is declared `application/json`.
pub fn require_json(req: &Request) -> ApiResult<()> {
    let media = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    if !media.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
    }
    Ok(())
}

/// The query string as `T`; 400 naming the parameter that does not fit.
pub fn query<T: DeserializeOwned>(req: &Request) -> ApiResult<T> {
    let pairs: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(raw_query(req).as_bytes())
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(pairs)).map_err(|e| {
        let text = e.to_string();
        let field = text.split('`').nth(1).map(str::to_owned);
        ApiError::BadRequest { message: format!("the query string does not fit: {text}"), field }
    })
}

/// The query string of `req`'s URL (without the `?`), taken from the URL the runtime has
/// already serialised instead of parsing it again.
pub fn raw_query(req: &Request) -> String {
    let url = req.inner().url();
    match url.split_once('?') {
        Some((_, rest)) => rest.split('#').next().unwrap_or_default().to_owned(),
        None => String::new(),
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        // serde names the field in backticks: "missing field `email` at line 1 column 2".
        let field = text.split('`').nth(1).map(str::to_owned);
        let message = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("the body is not valid JSON ({text})")
            }
            _ => format!("the body does not fit: {text}"),
        };
        ApiError::BadRequest { message, field }
    })
}

/// The response for `err`: the JSON error body, the status it documents, and for internal
/// failures a log line with the detail the client never sees.
pub fn error_response(err: &ApiError, service: &str, request_id: &str) -> Response {
    if err.is_server_error() {
        log::error(service, request_id, &err.to_string());
    }
    let body = serde_json::to_vec(&err.body(request_id)).unwrap_or_default();
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set(request_id::HEADER, request_id);
    match err {
        ApiError::RateLimited { retry_after } => {
            let _ = headers.set("retry-after", &retry_after.to_string());
        }
        ApiError::MethodNotAllowed { allowed } => {
            let _ = headers.set("allow", &allowed.join(", "));
        }
        _ => {}
    }
    match Response::from_bytes(body) {
        Ok(resp) => resp.with_status(err.status()).with_headers(headers),
        // Building a response from bytes cannot fail in practice; answer bare if it does.
        Err(_) => Response::empty().map(|r| r.with_status(500)).unwrap_or_else(|_| Response::builder().empty()),
    }
}

/// Stamps the request id and what the gateway asked for ([`Edge`]) on an answer, or
/// renders the error. A WebSocket handshake (101) passes untouched: its socket must not
/// be re-wrapped.
pub fn finish(outcome: ApiResult<Response>, service: &str, request_id: &str, edge: &Edge) -> Response {
    let mut resp = match outcome {
        Ok(resp) => resp,
        Err(err) => error_response(&err, service, request_id),
    };
    if resp.status_code() == 101 {
        return resp;
    }
    let status = resp.status_code();
    if edge.stamp(resp.headers(), status, request_id).is_err() {
        // An answer fetched from elsewhere (static assets, say) has immutable headers:
        // stamped on a copy made by the runtime.
        let copy = resp.headers().clone();
        let _ = edge.stamp(&copy, status, request_id);
        resp = resp.with_headers(copy);
    }
    resp
}

/// What the gateway adds to every answer it hands back: the caller's rate-limit state
/// (IETF draft-ietf-httpapi-ratelimit-headers, as the seed's clients expect), CORS for
/// the portal's origin, and the bearer challenge on a 401. The gateway passes it on in
/// one request header ([`Edge::HEADER`], never taken from a client), so that the worker
/// that answers stamps it on the answer it builds anyway and the gateway hands that
/// answer back as it is, instead of copying it to change its headers. An internal call
/// carries none and gets only the request id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Edge {
    /// `(limit, remaining, reset_secs)` of the caller's window.
    pub rate: Option<(u32, u32, u64)>,
    /// The origin allowed by CORS, already checked by the gateway.
    pub origin: Option<String>,
}

/// Headers a browser on the portal's origin may read from an answer.
pub const EXPOSED_HEADERS: &str =
    "x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, www-authenticate";

impl Edge {
    pub const HEADER: &str = "x-noizylab-edge";

    /// The header's value: `<limit> <remaining> <reset>|<origin>`, either part empty.
    pub fn header(&self) -> String {
        let rate = self.rate.map(|(l, r, s)| format!("{l} {r} {s}")).unwrap_or_default();
        format!("{rate}|{}", self.origin.as_deref().unwrap_or(""))
    }

    /// Reads [`Edge::header`] back; anything unreadable is no edge at all.
    pub fn parse(value: &str) -> Edge {
        let Some((rate, origin)) = value.split_once('|') else {
            return Edge::default();
        };
        let mut numbers = rate.split(' ');
        let mut next = || numbers.next().and_then(|n| n.parse::<u64>().ok());
        let rate = match (next(), next(), next()) {
            (Some(l), Some(r), Some(s)) => u32::try_from(l).ok().zip(u32::try_from(r).ok()).map(|(l, r)| (l, r, s)),
            _ => None,
        };
        let origin = (!origin.is_empty()).then(|| origin.to_owned());
        Edge { rate, origin }
    }

    /// The edge a request carries (none for an internal call).
    pub fn of(req: &Request) -> Edge {
        req.headers().get(Edge::HEADER).ok().flatten().map(|v| Edge::parse(&v)).unwrap_or_default()
    }

    /// What an answer with `status` gets: the request id and this edge's headers, in
    /// order, each set (replacing a value already there) or, for `Stamp::Append`, added.
    pub fn stamps(&self, status: u16, request_id: &str) -> Vec<Stamp> {
        let mut out = vec![Stamp::Set(request_id::HEADER, request_id.to_owned())];
        if let Some((limit, remaining, reset)) = self.rate {
            out.push(Stamp::Set("ratelimit-limit", limit.to_string()));
            out.push(Stamp::Set("ratelimit-remaining", remaining.to_string()));
            out.push(Stamp::Set("ratelimit-reset", reset.to_string()));
        }
        if status == 401 {
            out.push(Stamp::Set("www-authenticate", "Bearer realm=\"noizylab\", error=\"invalid_token\"".into()));
        }
        if let Some(origin) = &self.origin {
            out.push(Stamp::Set("access-control-allow-origin", origin.clone()));
            out.push(Stamp::Set("access-control-allow-credentials", "true".into()));
            out.push(Stamp::Set("access-control-expose-headers", EXPOSED_HEADERS.into()));
            out.push(Stamp::Append("vary", "Origin".into()));
        }
        out
    }

    /// Sets the request id and this edge's headers on `headers`; fails on immutable ones.
    pub fn stamp(&self, headers: &Headers, status: u16, request_id: &str) -> worker::Result<()> {
        for stamp in self.stamps(status, request_id) {
            match stamp {
                Stamp::Set(name, value) => headers.set(name, &value)?,
                Stamp::Append(name, value) => headers.append(name, &value)?,
            }
        }
        Ok(())
    }
}

/// One header an answer leaves with ([`Edge::stamps`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    Set(&'static str, String),
    Append(&'static str, String),
}

/// [`finish`], with the answer handed to the runtime in one call (`answer::build`): a
/// body of bytes (or none) and its headers stamped there, where `worker::Response`'s own
/// conversion and the stamps made about ten calls across the wasm boundary. A WebSocket
/// handshake, a streamed body or a manually encoded one takes the usual way.
pub fn finish_raw(
    outcome: ApiResult<Response>,
    service: &str,
    request_id: &str,
    edge: &Edge,
) -> worker::worker_sys::web_sys::Response {
    let resp = match outcome {
        Ok(resp) => resp,
        Err(err) => error_response(&err, service, request_id),
    };
    let status = resp.status_code();
    if status != 101 && matches!(resp.encode_body(), worker::EncodeBody::Automatic) {
        let body: Option<&[u8]> = match resp.body() {
            worker::ResponseBody::Body(bytes) => Some(bytes),
            worker::ResponseBody::Empty => Some(&[]),
            worker::ResponseBody::Stream(_) => None,
        };
        if let Some(body) = body {
            if let Some(raw) = answer::build(body, status, resp.headers(), &edge.stamps(status, request_id)) {
                return raw;
            }
        }
    }
    finish(Ok(resp), service, request_id, edge).into()
}

/// The answer made in JS, from a view of the body in wasm memory (copied by the runtime's
/// `Response`), its status and headers, and the stamps as one text (`name` and value on
/// lines of their own; a name starting with `+` appended). A header name or value never
/// holds a line feed (the runtime refuses them).
mod answer {
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use worker::worker_sys::web_sys;

    use super::Stamp;

    #[wasm_bindgen(inline_js = r#"
export function answer(body, status, headers, stamps) {
  const lines = stamps.split("\n");
  let copied = false;
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const name = lines[i];
    try {
      if (name[0] === "+") headers.append(name.slice(1), lines[i + 1]);
      else headers.set(name, lines[i + 1]);
    } catch (e) {
      if (copied || !(e instanceof TypeError)) throw e;
      // Immutable (taken from a fetched answer): stamped on a copy, from the start.
      headers = new Headers(headers);
      copied = true;
      i = -2;
    }
  }
  return new Response(body.length === 0 ? null : body, { status, headers });
}
"#)]
    extern "C" {
        #[wasm_bindgen(catch)]
        fn answer(
            body: &[u8],
            status: u16,
            headers: &web_sys::Headers,
            stamps: &str,
        ) -> Result<web_sys::Response, JsValue>;
    }

    /// `None` when the runtime refused to make it (a status it does not allow, say): the
    /// caller then takes the usual way, which reports the refusal as that way does.
    pub fn build(body: &[u8], status: u16, headers: &worker::Headers, stamps: &[Stamp]) -> Option<web_sys::Response> {
        let mut text = String::new();
        for (i, stamp) in stamps.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            let (name, value, append) = match stamp {
                Stamp::Set(n, v) => (n, v, false),
                Stamp::Append(n, v) => (n, v, true),
            };
            if append {
                text.push('+');
            }
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
        }
        answer(body, status, &headers.0, &text).ok()
    }
}

/// `application/x-www-form-urlencoded` (as Stripe and Twilio take it): unreserved bytes
/// as they are, spaces as `+`, everything else percent-encoded.
pub fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The path split into its segments, without empty ones: `/api/v1/x/` → `["api","v1","x"]`.
pub fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// The 404 for a path no route matches.
pub fn no_route(req: &Request) -> ApiError {
    ApiError::NotFound(format!("route {} {}", req.method(), req.path()))
}

#[cfg(test)]
mod tests {
    use super::{Edge, Stamp};

    #[test]
    fn an_answer_is_stamped_with_the_request_id_the_rate_cors_and_the_challenge() {
        let none = Edge::default().stamps(200, "rid");
        assert_eq!(none, [Stamp::Set("x-request-id", "rid".into())]);
        let full = Edge { rate: Some((100, 99, 60)), origin: Some("https://portal.example".into()) };
        let names: Vec<String> = full
            .stamps(401, "rid")
            .into_iter()
            .map(|s| match s {
                Stamp::Set(n, v) => format!("{n}={v}"),
                Stamp::Append(n, v) => format!("+{n}={v}"),
            })
            .collect();
        assert_eq!(
            names[..5],
            [
                "x-request-id=rid",
                "ratelimit-limit=100",
                "ratelimit-remaining=99",
                "ratelimit-reset=60",
                "www-authenticate=Bearer realm=\"noizylab\", error=\"invalid_token\""
            ]
        );
        assert_eq!(names[5], "access-control-allow-origin=https://portal.example");
        assert_eq!(names.last().map(String::as_str), Some("+vary=Origin"), "vary is added to, not replaced");
    }

    #[test]
    fn an_edge_survives_its_header() {
        let full = Edge { rate: Some((100, 99, 60)), origin: Some("https://portal.example".into()) };
        assert_eq!(full.header(), "100 99 60|https://portal.example");
        assert_eq!(Edge::parse(&full.header()), full);
        for partial in [Edge { rate: Some((5, 0, 12)), origin: None }, Edge { rate: None, origin: Some("o".into()) }] {
            assert_eq!(Edge::parse(&partial.header()), partial);
        }
        assert_eq!(Edge::parse(&Edge::default().header()), Edge::default());
    }

    #[test]
    fn an_unreadable_edge_is_none() {
        for bad in ["", "100 99 60", "x 1 2|", "1 2|", "99999999999 1 1|"] {
            assert_eq!(Edge::parse(bad).rate, None, "{bad:?}");
        }
        assert_eq!(Edge::parse("1 2 3"), Edge::default());
    }
}
