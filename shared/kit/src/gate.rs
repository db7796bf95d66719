//! Calls to the gateway's per-user `Gate` object (see `workers/api-gateway/src/gate.rs`).

use noizylab_core::bindings;
use serde::Serialize;
use worker::{Env, Headers, Method, Request, RequestInit, Response};

use crate::{ApiResult, OrInternal};

/// `POST https://gate/<action>` with a JSON body to the gate of `user_id`.
pub async fn post<T: Serialize>(env: &Env, user_id: &str, action: &str, body: &T) -> ApiResult<Response> {
    post_to(env, &format!("user:{user_id}"), action, body).await
}

/// `POST https://gate/<action>` to the gate named `name` (`user:<id>`, `key:<id>`,
/// `device:<id>`).
pub async fn post_to<T: Serialize>(env: &Env, name: &str, action: &str, body: &T) -> ApiResult<Response> {
    let ns = env.durable_object(bindings::GATE).or_internal("GATE")?;
    let stub = ns.id_from_name(name).and_then(|id| id.get_stub()).or_internal("gate stub")?;
    let text = serde_json::to_string(body).or_internal("gate body")?;
    let headers = Headers::new();
    headers.set("content-type", "application/json").or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(text.into()));
    let req = Request::new_with_init(&format!("https://gate/{action}"), &init).or_internal("gate request")?;
    let resp = stub.fetch_with_request(req).await.or_internal("gate")?;
    if resp.status_code() >= 400 {
        return Err(crate::ApiError::internal(format!("gate {action} answered {}", resp.status_code())));
    }
    Ok(resp)
}

/// `GET https://gate/<action>?<query>` to the gate named `name`: the per-request checks,
/// with nothing to build or parse but the URL (they run on every API request).
pub async fn ask(env: &Env, name: &str, action: &str, query: &[(&str, &str)]) -> ApiResult<Response> {
    let ns = env.durable_object(bindings::GATE).or_internal("GATE")?;
    let stub = ns.id_from_name(name).and_then(|id| id.get_stub()).or_internal("gate stub")?;
    let url = format!("https://gate/{action}?{}", crate::http::form_urlencode(query));
    let resp = stub.fetch_with_str(&url).await.or_internal("gate")?;
    if resp.status_code() >= 400 {
        return Err(crate::ApiError::internal(format!("gate {action} answered {}", resp.status_code())));
    }
    Ok(resp)
}
