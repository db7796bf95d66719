//! Publishing on the event bus (`noizylab-events`) in the architecture's envelope.

use noizylab_core::bindings;
use noizylab_core::events::{self, Envelope, Payload};

use crate::{random, time, ApiError, ApiResult, Call, OrInternal};

/// What an event is about, besides its name and data.
#[derive(Default)]
pub struct About<'a> {
    pub workspace: Option<&'a str>,
    pub device: Option<&'a str>,
    pub ticket: Option<&'a str>,
}

/// Puts an event on the bus, typed by its payload; its id, for consumers to deduplicate on.
pub async fn publish<T: Payload>(call: &Call, about: About<'_>, payload: &T) -> ApiResult<String> {
    publish_on(&call.queue(bindings::EVENTS)?, about, payload).await
}

/// [`publish`] from where there is no [`Call`] (a Durable Object): on the `EVENTS` queue
/// binding given.
pub async fn publish_on<T: Payload>(queue: &worker::Queue, about: About<'_>, payload: &T) -> ApiResult<String> {
    let data = serde_json::to_value(payload).or_internal("event payload")?;
    publish_raw(queue, T::NAME, about, data).await
}

/// An event by name with untyped data: only for the development probe that puts
/// arbitrary events on the bus (to test consumers with what no producer sends).
pub async fn publish_raw(
    queue: &worker::Queue,
    event: &str,
    about: About<'_>,
    data: serde_json::Value,
) -> ApiResult<String> {
    if !events::is_known(event) {
        return Err(ApiError::internal(format!("event {event} is not in the catalogue")));
    }
    let envelope = Envelope {
        id: random::id()?,
        event: event.to_owned(),
        timestamp: time::now_rfc3339(),
        workspace_id: about.workspace.map(str::to_owned),
        device_id: about.device.map(str::to_owned),
        ticket_id: about.ticket.map(str::to_owned),
        data,
    };
    let text = serde_json::to_string(&envelope).or_internal("event")?;
    queue.send(text).await.or_internal("event send")?;
    Ok(envelope.id)
}
