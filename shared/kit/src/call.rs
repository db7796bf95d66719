//! One request to an internal worker: who asked (verified), under which request id, with
//! the worker's bindings resolved by their constant names.

use std::future::Future;

use noizylab_core::bindings;
use noizylab_core::error::ApiError;
use noizylab_core::identity::{self, Identity, Signed};
use noizylab_core::request_id;
use noizylab_core::services::{self, ServiceSpec};
use worker::{
    Bucket, D1Database, Env, Fetcher, Headers, KvStore, Method, ObjectNamespace, Queue, Request, RequestInit, Response,
};

use crate::{http, log, random, ApiResult, OrInternal};

pub struct Call {
    pub spec: &'static ServiceSpec,
    pub env: Env,
    pub request_id: String,
    pub identity: Identity,
    secret: String,
}

impl Call {
    pub fn new(spec: &'static ServiceSpec, env: Env, request_id: String, identity: Identity, secret: String) -> Self {
        Call { spec, env, request_id, identity, secret }
    }

    /// The deployed name, e.g. `noizylab-main`.
    pub fn service(&self) -> String {
        self.spec.worker_name()
    }

    pub fn db(&self) -> ApiResult<D1Database> {
        self.env.d1(bindings::DB).or_internal("binding DB")
    }

    /// The `DB` binding behind the one-line helpers of [`crate::db`].
    pub fn sql(&self) -> ApiResult<crate::db::Db> {
        self.db().map(crate::db::Db)
    }

    pub fn cache(&self) -> ApiResult<KvStore> {
        self.env.kv(bindings::CACHE).or_internal("binding CACHE")
    }

    pub fn uploads(&self) -> ApiResult<Bucket> {
        self.env.bucket(bindings::UPLOADS).or_internal("binding UPLOADS")
    }

    pub fn queue(&self, binding: &str) -> ApiResult<Queue> {
        self.env.queue(binding).or_internal(binding)
    }

    pub fn object(&self, binding: &str) -> ApiResult<ObjectNamespace> {
        self.env.durable_object(binding).or_internal(binding)
    }

    pub fn is_development(&self) -> bool {
        is_development(&self.env)
    }

    pub fn log_info(&self, msg: &str) {
        log::info(self.spec.dir, &self.request_id, msg);
    }

    pub fn log_warn(&self, msg: &str) {
        log::warn(self.spec.dir, &self.request_id, msg);
    }

    /// Calls another worker over its service binding, signing this call's identity and
    /// request id for it. Errors from the transport are internal; the answer is returned
    /// as it came, status and all.
    pub async fn internal(
        &self,
        binding: &str,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> ApiResult<Response> {
        self.signed_as(&self.identity, binding, method, path, body).await
    }

    /// Like [`Call::internal`], but acting as this worker itself (a service identity), for
    /// routes that only a named service may call.
    pub async fn as_service(
        &self,
        binding: &str,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> ApiResult<Response> {
        self.signed_as(&Identity::service(&self.service()), binding, method, path, body).await
    }

    /// [`Call::internal`] with an `Idempotency-Key`: a call the receiver does once per key.
    pub async fn internal_once(
        &self,
        binding: &str,
        method: Method,
        path: &str,
        body: Option<String>,
        key: &str,
    ) -> ApiResult<Response> {
        let fetcher = self.env.service(binding).or_internal(binding)?;
        let extra = [("idempotency-key", key)];
        send_signed(&fetcher, &self.secret, &self.identity, &self.request_id, method, path, body, &extra).await
    }

    async fn signed_as(
        &self,
        who: &Identity,
        binding: &str,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> ApiResult<Response> {
        let fetcher = self.env.service(binding).or_internal(binding)?;
        forward_signed(&fetcher, &self.secret, who, &self.request_id, method, path, body).await
    }
}

/// Sends a signed request to `fetcher`. `path` may carry a query string; the signature
/// covers the path alone, which is what the receiver sees as `req.path()`.
pub async fn forward_signed(
    fetcher: &Fetcher,
    secret: &str,
    who: &Identity,
    request_id: &str,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> ApiResult<Response> {
    send_signed(fetcher, secret, who, request_id, method, path_and_query, body, &[]).await
}

#[allow(clippy::too_many_arguments)]
async fn send_signed(
    fetcher: &Fetcher,
    secret: &str,
    who: &Identity,
    request_id: &str,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
    extra: &[(&str, &str)],
) -> ApiResult<Response> {
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    let signed = Signed { method: method.as_ref(), path, request_id };
    let header =
        identity::sign(secret.as_bytes(), who, signed, now_secs()).map_err(|e| ApiError::internal(e.message()))?;
    let headers = Headers::new();
    headers.set(identity::HEADER, &header).or_internal("header")?;
    headers.set(request_id::HEADER, request_id).or_internal("header")?;
    for (name, value) in extra {
        headers.set(name, value).or_internal("header")?;
    }
    if body.is_some() {
        headers.set("content-type", "application/json").or_internal("header")?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let req = Request::new_with_init(&format!("https://internal{path_and_query}"), &init).or_internal("request")?;
    fetcher.fetch_request(req).await.or_internal("service binding")
}

pub fn now_secs() -> i64 {
    (crate::time::now_millis() / 1000) as i64
}

pub fn is_development(env: &Env) -> bool {
    env.var(bindings::ENVIRONMENT).map(|v| v.to_string() == "development").unwrap_or(false)
}

/// The shared internal secret, or a 503 explaining it is not configured.
pub fn internal_secret(env: &Env) -> ApiResult<String> {
    thread_local! {
        /// Secrets cannot change under a running isolate: read once.
        static SECRET: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
    }
    if let Some(secret) = SECRET.with(|s| s.get().cloned()) {
        return Ok(secret);
    }
    let secret = env
        .secret(bindings::INTERNAL_SECRET)
        .map(|s| s.to_string())
        .map_err(|_| ApiError::Unavailable("INTERNAL_SECRET is not configured for this worker".into()))?;
    if secret.len() < identity::MIN_SECRET_LEN {
        return Err(ApiError::Unavailable("INTERNAL_SECRET is shorter than 32 bytes".into()));
    }
    SECRET.with(|s| {
        let _ = s.set(secret.clone());
    });
    Ok(secret)
}

/// The request id the caller sent, if sane, or a fresh one.
pub fn request_id_of(req: &Request) -> String {
    request_id_from(req.headers().get(request_id::HEADER).ok().flatten())
}

/// The request id a request's `x-request-id` header carries, if it is one we accept;
/// otherwise a fresh one.
pub fn request_id_from(header: Option<String>) -> String {
    header
        .and_then(|h| request_id::accept(&h).map(str::to_owned))
        .or_else(fresh_request_id)
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A new request id from this isolate's [`request_id::Sequence`], seeded once.
fn fresh_request_id() -> Option<String> {
    thread_local! {
        static SEQUENCE: std::cell::RefCell<Option<request_id::Sequence>> = const { std::cell::RefCell::new(None) };
    }
    SEQUENCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(request_id::Sequence::new(random::bytes::<16>().ok()?));
        }
        slot.as_mut().map(request_id::Sequence::next_id)
    })
}

/// `future` as its own function, reached through a pointer: the compiler cannot inline it
/// into the caller. V8 compiles a wasm function on its first call, whole: a router whose
/// handlers were all inlined into it is compiled entire on a worker's first request
/// (`main`'s was most of its 55 ms first answer; docs/benchmarks.md). Boxed, each handler
/// is compiled when a request first needs it.
pub fn lazily<'a, T>(future: impl Future<Output = T> + 'a) -> std::pin::Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}

/// The entry point of every internal worker: verifies the signed identity, answers
/// `GET /health` and `GET /health/ping`, then hands the request to `routes`. Whatever `routes` answers gets the request id and the
/// gateway's [`http::Edge`] headers; an error becomes the platform's JSON error body
/// (internal ones logged, never echoed).
pub async fn serve<F, Fut>(
    req: Request,
    env: Env,
    dir: &'static str,
    routes: F,
) -> worker::Result<worker::worker_sys::web_sys::Response>
where
    F: FnOnce(Request, Call) -> Fut,
    Fut: Future<Output = ApiResult<Response>>,
{
    console_error_panic_hook::set_once();
    let request_id = request_id_of(&req);
    // What the gateway asked to be stamped on the answer (rate limit, CORS).
    let edge = http::Edge::of(&req);
    let outcome = async {
        let spec = services::spec(dir).ok_or_else(|| ApiError::internal(format!("no service spec for {dir}")))?;
        let secret = internal_secret(&env)?;
        let header = req.headers().get(identity::HEADER).ok().flatten();
        let path = req.path();
        let method = req.method();
        let signed = Signed { method: method.as_ref(), path: &path, request_id: &request_id };
        let identity = identity::verify(secret.as_bytes(), header.as_deref(), signed, now_secs()).map_err(|e| {
            log::warn(dir, &request_id, &format!("refused {method} {path}: {}", e.message()));
            ApiError::Unauthenticated(e.message().to_owned())
        })?;
        let call = Call { spec, env, request_id: request_id.clone(), identity, secret };
        // Every internal worker answers its health routes the same way, before its own.
        match (method, path.as_str()) {
            (Method::Get, "/health") => crate::health::handle(&req, &call).await,
            (Method::Get, "/health/ping") => crate::health::ping(&call),
            (_, "/health" | "/health/ping") => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
            // Behind a pointer, so that the routes are not one function with `serve`.
            _ => lazily(routes(req, call)).await,
        }
    }
    .await;
    Ok(http::finish_raw(outcome, dir, &request_id, &edge))
}
