//! Calls to the gateway's per-user `Gate` object (see `workers/api-gateway/src/gate.rs`).

use noizylab_core::bindings;
use serde::Serialize;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{web_sys, worker_sys, Env, Headers, Method, Request, RequestInit, Response};

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
/// with nothing to build or parse but the URL (they run on every API request). The answer
/// is the runtime's own object, not read into a `worker::Response`: only its status and
/// one header are wanted.
pub async fn ask(env: &Env, name: &str, action: &str, query: &[(&str, &str)]) -> ApiResult<web_sys::Response> {
    let failed = |e: JsValue| crate::ApiError::internal(format!("gate {action}: {}", worker::Error::from(e)));
    let ns: worker_sys::DurableObjectNamespace =
        JsValue::from(env.durable_object(bindings::GATE).or_internal("GATE")?).unchecked_into();
    let stub = ns.get(&id_of(&ns, name).map_err(failed)?).map_err(failed)?;
    let url = format!("https://gate/{action}?{}", crate::http::form_urlencode(query));
    let answer = worker::wasm_bindgen_futures::JsFuture::from(stub.fetch_with_str(&url).map_err(failed)?)
        .await
        .map_err(failed)?;
    let resp: web_sys::Response = answer.dyn_into().map_err(failed)?;
    if resp.status() >= 400 {
        return Err(crate::ApiError::internal(format!("gate {action} answered {}", resp.status())));
    }
    Ok(resp)
}

/// Gate ids kept per isolate, at most this many.
const IDS_CAP: usize = 4096;

thread_local! {
    /// The ids of the gates this isolate asked: a name's id is a hash the runtime computes
    /// (and always the same), and computing it again on every request was 6 % of the
    /// gateway's time in a profile. An id is a value, not a connection: the stub made from
    /// it is still made per request.
    static IDS: std::cell::RefCell<std::collections::HashMap<String, JsValue>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn id_of(ns: &worker_sys::DurableObjectNamespace, name: &str) -> Result<worker_sys::DurableObjectId, JsValue> {
    if let Some(id) = IDS.with(|ids| ids.borrow().get(name).cloned()) {
        return Ok(id.unchecked_into());
    }
    let id: JsValue = ns.id_from_name(name)?.into();
    IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if ids.len() >= IDS_CAP {
            ids.clear();
        }
        ids.insert(name.to_owned(), id.clone());
    });
    Ok(id.unchecked_into())
}
