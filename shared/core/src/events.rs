//! The event bus envelope: the seed's Redis channels become typed messages on the
//! `noizylab-events` queue.
//!
//! `{"id":"…","event":"ticket.created","timestamp":"…","workspace_id":"…","device_id":"…",
//!   "data":{…}}`
//!
//! Envelopes travel as JSON text: a `serde_json::Value` handed to the Queue binding directly
//! would be turned into a JS `Map` and arrive as `{}`.

use serde::{Deserialize, Serialize};

/// The events the platform knows. Consumers refuse (and so eventually dead-letter) others.
pub const CATALOG: &[&str] = &[
    "ticket.created",
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.updated",
    "ticket.message_added",
    "ticket.attachment_added",
    "quote.issued",
    "quote.approved",
    "quote.declined",
    "device.registered",
    "device.removed",
    "diagnostics.requested",
    "payment.succeeded",
    "diagnostics.started",
    "diagnostics.progress",
    "diagnostics.complete",
    "session.started",
    "session.connected",
    "session.action",
    "session.ended",
    "chat.escalated",
    "report.generated",
    "inventory.low_stock",
    "deal.found",
    "qc.failed",
    "alert.critical",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per event; consumers deduplicate on it (delivery is at-least-once).
    pub id: String,
    pub event: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Whether `name` is shaped like an event name: `domain.action`, lowercase, ≤ 64 bytes.
pub fn is_well_formed(name: &str) -> bool {
    let mut parts = name.split('.');
    let segment_ok = |s: &str| {
        s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    name.len() <= 64
        && parts.next().is_some_and(segment_ok)
        && parts.next().is_some_and(segment_ok)
        && parts.all(segment_ok)
}

pub fn is_known(name: &str) -> bool {
    CATALOG.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_well_formed() {
        for name in CATALOG {
            assert!(is_well_formed(name), "{name}");
        }
    }

    #[test]
    fn malformed_names_are_spotted() {
        for bad in ["", "ticket", "Ticket.created", "ticket.", ".created", "ticket:created", "a.b-c"] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert!(is_well_formed("ticket.note_added"));
        assert!(!is_known("ticket.note_added"));
    }

    #[test]
    fn an_envelope_round_trips_through_json_text() {
        let env = Envelope {
            id: "e1".into(),
            event: "ticket.created".into(),
            timestamp: "2026-11-21T10:00:00Z".into(),
            workspace_id: Some("ws".into()),
            device_id: None,
            ticket_id: Some("t1".into()),
            data: serde_json::json!({"priority": "high"}),
        };
        let text = serde_json::to_string(&env).unwrap_or_default();
        let back: Envelope = serde_json::from_str(&text).unwrap_or_else(|_| env.clone());
        assert_eq!(back, env);
        assert!(!text.contains("device_id"));
    }
}
