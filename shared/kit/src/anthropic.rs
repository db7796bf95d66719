//! Anthropic's Messages API (`POST {base}/v1/messages`), used when `ANTHROPIC_API_KEY` is
//! set: the chat agent's answers, brain's scan summaries. Tests aim `ANTHROPIC_BASE_URL`
//! at a loopback stand-in speaking the same wire format.

use noizylab_core::config as names;
use serde_json::{json, Value};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use crate::config::{secret, var_or};
use crate::{ApiError, ApiResult, OrInternal};

pub struct Messages {
    base: String,
    key: String,
    model: String,
}

impl Messages {
    /// The provider this worker's settings name, or `None` without a key.
    pub fn from_env(env: &Env) -> Option<Messages> {
        let key = secret(env, names::ANTHROPIC_API_KEY)?;
        Some(Messages {
            base: var_or(env, names::ANTHROPIC_BASE_URL, "https://api.anthropic.com").trim_end_matches('/').to_owned(),
            key,
            model: var_or(env, names::ANTHROPIC_MODEL, "claude-haiku-4-5"),
        })
    }

    /// The text of the model's reply to `messages` (the API's turns) under `system`.
    pub async fn complete(&self, system: &str, messages: Value, max_tokens: u32) -> ApiResult<String> {
        let body = json!({ "model": self.model, "max_tokens": max_tokens, "system": system, "messages": messages });
        let headers = Headers::new();
        for (k, v) in [("content-type", "application/json"), ("anthropic-version", "2023-06-01")] {
            headers.set(k, v).or_internal("header")?;
        }
        headers.set("x-api-key", &self.key).or_internal("header")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
        let req = Request::new_with_init(&format!("{}/v1/messages", self.base), &init).or_internal("anthropic")?;
        let resp = Fetch::Request(req).send().await.or_internal("anthropic")?;
        let status = resp.status_code();
        let reply: Value = crate::http::answer_json(&resp).await?;
        if status != 200 {
            let why = reply["error"]["message"].as_str().unwrap_or("no message");
            return Err(ApiError::internal(format!("anthropic answered {status}: {why}")));
        }
        let text: String = reply["content"]
            .as_array()
            .map(|blocks| blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect())
            .unwrap_or_default();
        Ok(text.trim().to_owned())
    }
}
