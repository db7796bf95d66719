//! The catalogue's actions as calls: which worker, which route, what body. Each call
//! carries the run's `Idempotency-Key` (`<run>.<step>`), and acts for the run's actor (the
//! person who saved the version, or who decided its last task) with their current role.
//!
//! A call's answer decides the step: 2xx is its output; 408, 429 and 5xx are worth trying
//! again; any other 4xx is final (the worker said why, and that message is kept).

use noizylab_core::contracts::Hunt;
use noizylab_core::services::{BRAIN, EBAY_SNIPER, INVENTORY, MAIN, PRICING, VISION};
use noizylab_kit::{ApiError, Call};
use serde_json::{json, Value};
use worker::Method;

/// What came of calling an action.
pub enum Done {
    /// Its output.
    Output(Value),
    /// Started, not finished: ask `poll` (a GET) until it is.
    Started { output: Value, poll: Poll },
    /// Worth trying again.
    Retry(String),
    /// Final: the step failed.
    Failed(String),
}

/// An action that finishes later, and how to ask.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Poll {
    pub binding: String,
    pub path: String,
}

fn text(input: &Value, name: &str) -> Result<String, Done> {
    match &input[name] {
        Value::String(s) if !s.is_empty() && s.len() <= 200 && !s.contains(['/', '?', '#']) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(Done::Failed(format!("input {name} is not a plain value"))),
    }
}

/// `input` without the names that went into the path.
fn without(input: &Value, names: &[&str]) -> Value {
    let mut out = input.clone();
    if let Some(map) = out.as_object_mut() {
        for n in names {
            map.remove(*n);
        }
    }
    out
}

/// Calls `action` with its resolved `input` for a run of `workspace`.
pub async fn call(call: &Call, workspace: &str, action: &str, input: &Value, key: &str) -> Done {
    match route(call, workspace, action, input, key).await {
        Ok(done) | Err(done) => done,
    }
}

async fn route(call: &Call, workspace: &str, action: &str, input: &Value, key: &str) -> Result<Done, Done> {
    let (binding, method, path, body, as_service) = match action {
        "vision.analyze" => (VISION, Method::Post, "/api/v1/vision/analyze".to_owned(), Some(input.clone()), false),
        "brain.diagnose" => (BRAIN, Method::Post, "/api/v1/diagnostics/start".to_owned(), Some(input.clone()), false),
        "pricing.quote" => (PRICING, Method::Post, "/api/v1/pricing/estimate".to_owned(), Some(input.clone()), false),
        "inventory.check" => {
            (INVENTORY, Method::Get, format!("/api/v1/parts/{}", text(input, "part_id")?), None, false)
        }
        "ebay.hunt" => {
            let hunt = Hunt { workspace_id: workspace.to_owned(), part_id: text(input, "part_id")? };
            let body = serde_json::to_value(hunt).map_err(|e| Done::Failed(e.to_string()))?;
            (EBAY_SNIPER, Method::Post, "/internal/hunts".to_owned(), Some(body), true)
        }
        "ebay.request_purchase" => {
            let path = format!("/api/v1/deals/{}/purchase-requests", text(input, "deal_id")?);
            (EBAY_SNIPER, Method::Post, path, Some(without(input, &["deal_id"])), false)
        }
        "ebay.approve_purchase" | "ebay.reject_purchase" => {
            let verb = if action == "ebay.approve_purchase" { "approve" } else { "reject" };
            let path = format!("/api/v1/deals/purchase-requests/{}/{verb}", text(input, "request_id")?);
            (EBAY_SNIPER, Method::Post, path, Some(without(input, &["request_id"])), false)
        }
        "ticket.move" => {
            let path = format!("/api/v1/tickets/{}/status", text(input, "ticket_id")?);
            (MAIN, Method::Post, path, Some(without(input, &["ticket_id"])), false)
        }
        other => return Ok(Done::Failed(format!("{other} is not an action"))),
    };
    let body = body.map(|b| b.to_string());
    let sent = if as_service {
        call.as_service(binding, method, &path, body).await
    } else {
        call.internal_once(binding, method, &path, body, key).await
    };
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Ok(Done::Retry(format!("{binding} could not be reached: {e}"))),
    };
    let status = resp.status_code();
    let output = answer(resp).await;
    Ok(match status {
        200..=299 => match (action, &output) {
            ("brain.diagnose", out) => match out["scan_id"].as_str() {
                Some(scan) => Done::Started {
                    output: out.clone(),
                    poll: Poll { binding: BRAIN.into(), path: format!("/api/v1/diagnostics/{scan}") },
                },
                None => Done::Failed("brain queued no scan".into()),
            },
            _ => Done::Output(output),
        },
        408 | 429 | 500..=599 => Done::Retry(format!("{binding} answered {status}")),
        _ => Done::Failed(refusal(binding, status, &output)),
    })
}

/// Asks a started action whether it has finished: `Ok(Some(output))` when it has,
/// `Ok(None)` while it runs, `Err` (retry?, why) when it went wrong.
pub async fn poll(call: &Call, poll: &Poll) -> Result<Option<Value>, (bool, String)> {
    let resp = call
        .internal(&poll.binding, Method::Get, &poll.path, None)
        .await
        .map_err(|e| (true, format!("{} could not be reached: {e}", poll.binding)))?;
    let status = resp.status_code();
    let out = answer(resp).await;
    match status {
        200 => match out["status"].as_str() {
            Some("complete") => Ok(Some(out)),
            Some("failed") => {
                Err((false, format!("the scan failed: {}", out["error"].as_str().unwrap_or("no reason"))))
            }
            _ => Ok(None),
        },
        408 | 429 | 500..=599 => Err((true, format!("{} answered {status}", poll.binding))),
        _ => Err((false, refusal(&poll.binding, status, &out))),
    }
}

async fn answer(resp: worker::Response) -> Value {
    match noizylab_kit::http::answer_text(&resp).await {
        Ok(t) if t.is_empty() => json!({}),
        Ok(t) => serde_json::from_str(&t).unwrap_or_else(|_| json!({ "text": t })),
        Err(_) => json!({}),
    }
}

/// A worker's 4xx, as the run's history shows it: its status and message.
fn refusal(binding: &str, status: u16, body: &Value) -> String {
    let message = body["error"]["message"].as_str().unwrap_or("no message");
    format!("{} refused it ({status}): {message}", binding.to_lowercase().replace('_', "-"))
}

impl From<ApiError> for Done {
    fn from(e: ApiError) -> Self {
        Done::Retry(e.to_string())
    }
}
