//! Queue consumption with the platform's rules: every message is handled on its own, acked
//! when handled, retried when not (the queue's `max_retries` then moves it to its
//! dead-letter queue). Bodies travel as JSON text (see `noizylab_core::events`).

use std::future::Future;

use worker::{Env, MessageBatch, MessageExt};

use crate::log;

/// One message, as a handler sees it.
pub struct Delivery {
    pub queue: String,
    pub id: String,
    pub body: String,
}

/// What a handler decided.
pub enum Outcome {
    Done,
    /// Try again later; the reason is logged.
    Retry(String),
}

fn body_text(value: &wasm_bindgen::JsValue) -> String {
    value
        .as_string()
        .unwrap_or_else(|| js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_default())
}

pub async fn consume<T, F, Fut>(batch: MessageBatch<T>, env: &Env, service: &str, handle: F) -> worker::Result<()>
where
    F: Fn(Env, Delivery) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let queue = batch.queue();
    for message in batch.raw_iter() {
        let delivery = Delivery { queue: queue.clone(), id: message.id(), body: body_text(&message.body()) };
        let id = delivery.id.clone();
        match handle(env.clone(), delivery).await {
            Outcome::Done => message.ack(),
            Outcome::Retry(reason) => {
                log::warn(service, &id, &format!("{queue}: message {id} will be retried: {reason}"));
                message.retry();
            }
        }
    }
    Ok(())
}
