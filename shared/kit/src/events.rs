//! Publishing on the event bus (`noizylab-events`) in the architecture's envelope.

use noizylab_core::bindings;
use noizylab_core::events::{self, Envelope};

use crate::{random, time, ApiError, ApiResult, Call, OrInternal};

/// What an event is about, besides its name and data.
#[derive(Default)]
pub struct About<'a> {
    pub workspace: Option<&'a str>,
    pub device: Option<&'a str>,
    pub ticket: Option<&'a str>,
}

/// Puts a catalogued event on the bus; its id, for consumers to deduplicate on.
pub async fn publish(call: &Call, event: &str, about: About<'_>, data: serde_json::Value) -> ApiResult<String> {
    publish_on(&call.queue(bindings::EVENTS)?, event, about, data).await
}

/// [`publish`] from where there is no [`Call`] (a Durable Object): on the `EVENTS` queue
/// binding given.
pub async fn publish_on(
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
