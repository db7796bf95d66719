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
    // At-least-once, shown: in development with `DELIVER_TWICE`, every message is handled
    // a second time as if redelivered, so tests prove each consumer's effects happen once.
    let twice = crate::call::is_development(env) && env.var("DELIVER_TWICE").is_ok_and(|v| v.to_string() == "1");
    for message in batch.raw_iter() {
        let delivery = Delivery { queue: queue.clone(), id: message.id(), body: body_text(&message.body()) };
        let id = delivery.id.clone();
        let mut outcome = handle(env.clone(), delivery).await;
        if twice && matches!(outcome, Outcome::Done) {
            let again = Delivery { queue: queue.clone(), id: id.clone(), body: body_text(&message.body()) };
            outcome = handle(env.clone(), again).await;
        }
        match outcome {
            Outcome::Done => message.ack(),
            Outcome::Retry(reason) => {
                log::warn(service, &id, &format!("{queue}: message {id} will be retried: {reason}"));
                message.retry();
            }
        }
    }
    Ok(())
}

/// [`consume`] for a handler that takes the batch whole, to share its reads and writes
/// among the messages: it answers one outcome per delivery, in the batch's order (a
/// missing one is a retry). Each message is still acked or retried on its own.
pub async fn consume_together<T, F, Fut>(
    batch: MessageBatch<T>,
    env: &Env,
    service: &str,
    handle: F,
) -> worker::Result<()>
where
    F: Fn(Env, Vec<Delivery>) -> Fut,
    Fut: Future<Output = Vec<Outcome>>,
{
    let queue = batch.queue();
    let twice = crate::call::is_development(env) && env.var("DELIVER_TWICE").is_ok_and(|v| v.to_string() == "1");
    let messages: Vec<_> = batch.raw_iter().collect();
    let delivery =
        |i: usize| Delivery { queue: queue.clone(), id: messages[i].id(), body: body_text(&messages[i].body()) };
    let mut outcomes = handle(env.clone(), (0..messages.len()).map(delivery).collect()).await;
    outcomes.resize_with(messages.len(), || Outcome::Retry("the handler gave no outcome".into()));
    if twice {
        // As in [`consume`]: what was handled is handled again, as if redelivered.
        let done: Vec<usize> = (0..messages.len()).filter(|&i| matches!(outcomes[i], Outcome::Done)).collect();
        let again = handle(env.clone(), done.iter().map(|&i| delivery(i)).collect()).await;
        for (i, outcome) in done.into_iter().zip(again) {
            outcomes[i] = outcome;
        }
    }
    for (message, outcome) in messages.iter().zip(outcomes) {
        match outcome {
            Outcome::Done => message.ack(),
            Outcome::Retry(reason) => {
                let id = message.id();
                log::warn(service, &id, &format!("{queue}: message {id} will be retried: {reason}"));
                message.retry();
            }
        }
    }
    Ok(())
}

/// The most messages one `sendBatch` may carry, and their most bytes in all (Cloudflare
/// Queues' limits for a producer; a single message may be 128 KB).
pub const SEND_BATCH_MESSAGES: usize = 100;
pub const SEND_BATCH_BYTES: usize = 256_000;

/// `messages` cut, in order, into runs that each fit one `sendBatch`.
pub fn send_batches(messages: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for message in messages {
        let full =
            out.last().is_none_or(|run| run.len() >= SEND_BATCH_MESSAGES || bytes + message.len() > SEND_BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += message.len();
        if let Some(run) = out.last_mut() {
            run.push(message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_batch_stays_within_the_producers_limits_and_keeps_the_order() {
        assert!(send_batches(Vec::new()).is_empty());
        let small: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        let runs = send_batches(small.clone());
        assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        assert_eq!(runs.concat(), small);
        let big: Vec<String> = (0..5).map(|i| format!("{i}{}", "x".repeat(100_000))).collect();
        let runs = send_batches(big.clone());
        assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        assert!(runs.iter().all(|r| r.iter().map(String::len).sum::<usize>() <= SEND_BATCH_BYTES));
        assert_eq!(runs.concat(), big);
    }
}
