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
    "qc.passed",
    "alert.critical",
    "vision.analyzed",
    "guide.completed",
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
/// An event's payload: its own type, shared by the producer and every consumer, so that a
/// field added or renamed on one side fails the build on the other. `NAME` is its
/// catalogued name; [`Envelope::payload`] reads one back.
pub trait Payload: Serialize + serde::de::DeserializeOwned {
    const NAME: &'static str;
}

macro_rules! payloads {
    ($( $(#[$doc:meta])* $name:literal => $ty:ident { $( $(#[$fdoc:meta])* $field:ident : $fty:ty ),* $(,)? } )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
            pub struct $ty { $( $(#[$fdoc])* pub $field: $fty ),* }
            impl Payload for $ty {
                const NAME: &'static str = $name;
            }
        )*
        /// Every payload type's name, in catalogue order (checked against [`CATALOG`]).
        pub const PAYLOAD_NAMES: &[&str] = &[$($name),*];
    };
}

payloads! {
    /// A customer or the shop opened a ticket.
    "ticket.created" => TicketCreated { number: i64, customer_id: String, by: String }
    /// A ticket moved in its lifecycle (`from`/`to` are status names).
    "ticket.status_changed" => TicketStatusChanged { from: String, to: String, by: String, customer_id: String, number: i64 }
    /// A technician was (un)assigned.
    "ticket.assigned" => TicketAssigned { assignee_id: Option<String>, by: String }
    /// Title, description, priority or due date changed.
    "ticket.updated" => TicketUpdated { by: String }
    /// A note (`internal`) or a message (`customer`); `via` says how it came (`email`).
    "ticket.message_added" => TicketMessageAdded { visibility: String, by: String, customer_id: String, via: Option<String> }
    "ticket.attachment_added" => TicketAttachmentAdded { attachment_id: String, content_type: String, visibility: String }
    /// Totals are in cents.
    "quote.issued" => QuoteIssued { quote_id: String, total: i64, currency: String, customer_id: String }
    "quote.approved" => QuoteApproved { quote_id: String, total: i64, by: String }
    "quote.declined" => QuoteDeclined { quote_id: String, total: i64, by: String }
    "device.registered" => DeviceRegistered { owner_id: String, r#type: String, by: String }
    "device.removed" => DeviceRemoved { by: String }
    "diagnostics.requested" => DiagnosticsRequested { scan_id: String, by: String }
    /// Amount in cents; the loyalty points it earned.
    "payment.succeeded" => PaymentSucceeded { invoice_id: String, amount: i64, currency: String, customer_id: String, points: i64 }
    "diagnostics.started" => DiagnosticsStarted { scan_id: String }
    "diagnostics.progress" => DiagnosticsProgress { scan_id: String, percent: u8, message: String, customer_id: String }
    "diagnostics.complete" => DiagnosticsComplete { scan_id: String, health_score: Option<i64>, issues_found: u32, critical_issues: u32, customer_id: String }
    "session.started" => SessionStarted { session_id: String, customer_id: String, issue: String, by: String }
    "session.connected" => SessionConnected { session_id: String }
    "session.action" => SessionAction { session_id: String, action_id: String, r#type: String }
    "session.ended" => SessionEnded { session_id: String, outcome: Option<String>, duration_seconds: Option<i64> }
    /// A chat went to a person; `number` is its ticket's, when it has one.
    "chat.escalated" => ChatEscalated { conversation_id: String, customer_id: String, number: Option<i64>, reason: String }
    "report.generated" => ReportGenerated { report_id: String, kind: String }
    "inventory.low_stock" => InventoryLowStock { part_id: String, on_hand: i64, reorder_point: i64 }
    /// A listing scored at or above its watch's threshold. `part` is the part's SKU;
    /// `landed` (price + shipping + tax estimate) and `saving` (stock cost less landed) in cents.
    "deal.found" => DealFound { deal_id: String, watch_id: String, listing_id: String, part_id: String, part: String, title: String, landed: i64, saving: i64, currency: String, score: u32 }
    /// An inspection failed: the ticket went back to IN_REPAIR; `rework` lists the failed
    /// checkpoints (`label: detail`). `attempt` 1 is the first inspection of the repair;
    /// `technician_id` is who did the repair (the ticket's assignee).
    "qc.failed" => QcFailed { inspection_id: String, attempt: u32, device_type: String, technician_id: Option<String>, rework: Vec<String> }
    /// An inspection passed: the ticket is READY and its QC report is attached.
    "qc.passed" => QcPassed { inspection_id: String, attempt: u32, device_type: String, technician_id: Option<String>, report_attachment_id: String }
    "alert.critical" => AlertCritical { source: String, message: String }
    "vision.analyzed" => VisionAnalyzed { analysis_id: String, reference_id: String, condition_score: u32, defects: u32 }
    /// A technician finished a repair guide on a ticket (training rewards it).
    "guide.completed" => GuideCompleted { guide_id: String, version: i64, technician_id: String, title: String }
}

impl Envelope {
    /// The typed payload, if this envelope carries `T`'s event and its data fits `T`.
    pub fn payload<T: Payload>(&self) -> Option<T> {
        (self.event == T::NAME).then(|| serde_json::from_value(self.data.clone()).ok()).flatten()
    }

    /// Whether this envelope carries `T`'s event.
    pub fn is<T: Payload>(&self) -> bool {
        self.event == T::NAME
    }
}

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
    fn every_catalogued_event_has_exactly_one_payload_type() {
        assert_eq!(PAYLOAD_NAMES, CATALOG);
    }

    #[test]
    fn a_payload_reads_back_from_its_envelope_and_not_from_another() {
        let data = TicketStatusChanged {
            from: "INTAKE".into(),
            to: "TRIAGE".into(),
            by: "u1".into(),
            customer_id: "c1".into(),
            number: 7,
        };
        let env = Envelope {
            id: "e1".into(),
            event: TicketStatusChanged::NAME.into(),
            timestamp: "t".into(),
            workspace_id: None,
            device_id: None,
            ticket_id: None,
            data: serde_json::to_value(&data).unwrap_or_default(),
        };
        assert_eq!(env.payload::<TicketStatusChanged>(), Some(data));
        assert_eq!(env.payload::<TicketCreated>(), None);
        let partial = Envelope { data: serde_json::json!({ "from": "INTAKE" }), ..env };
        assert_eq!(partial.payload::<TicketStatusChanged>(), None, "data that does not fit is not read");
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
