//! The bodies and answers of every call between workers, shared by caller and callee, so
//! that a field added or renamed on one side fails the build on the other. (Events have
//! theirs in [`crate::events`].)

use serde::{Deserialize, Serialize};

use crate::events::Envelope;

/// `POST /internal/events` on `analytics` and `training` (from the orchestrator): the new
/// bus events of one delivery batch, in order, handed on in one call. Each is counted once
/// by its id however often it is handed on, so a batch may be sent again whole.
#[derive(Debug, Serialize, Deserialize)]
pub struct BusEvents {
    pub events: Vec<Envelope>,
}

/// `POST /internal/email` on `notifications`: one message, sent at once (sign-in mail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// An HTML part beside the text (reports); mail clients show it when they can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// `POST /internal/audit` on `main`: a refusal another service saw (the gateway's refused
/// credentials, other workers' permission refusals). Never a credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub action: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub actor_id: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    pub detail: serde_json::Value,
}

/// `POST /internal/rooms/:ticket/publish` on `main`: a platform frame for a ticket's room
/// (`kind`: status, progress or event; `visibility`: internal or customer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomFrame {
    pub kind: String,
    pub visibility: String,
    pub data: serde_json::Value,
}

/// `GET /internal/tickets/:id` on `main`: what `pricing` needs of a ticket to quote it and
/// to check who may approve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketFacts {
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub status: String,
    pub number: i64,
    pub quote_id: Option<String>,
}

/// What happened to a ticket's quote, in [`QuoteMove`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteStep {
    /// DIAGNOSTICS → AWAITING_APPROVAL.
    Issued,
    /// → APPROVED.
    Approved,
    /// → DIAGNOSTICS.
    Declined,
}

/// `POST /internal/tickets/:id/quote` on `main` (from `pricing`); answered with the
/// ticket's [`TicketFacts`] after the move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteMove {
    pub event: QuoteStep,
    pub quote_id: String,
    pub actor_id: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /internal/tickets/:id/qc` on `main` (from `qc-inspector`): a finished inspection.
/// Passed: QC → READY, and the report (already in the uploads bucket at `report.r2_key`)
/// becomes a customer-visible attachment; failed: QC → IN_REPAIR with the rework list on
/// the timeline. Answered with the ticket's [`TicketFacts`] after the move; 409 when the
/// ticket is not in QC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QcMove {
    pub inspection_id: String,
    /// The inspector.
    pub actor_id: String,
    pub passed: bool,
    /// One line per failed checkpoint (`label: detail`); empty when passed.
    pub rework: Vec<String>,
    #[serde(default)]
    pub report: Option<QcReportFile>,
}

/// The QC report's PDF as [`QcMove`] hands it over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QcReportFile {
    /// `tickets/{workspace}/{ticket}/{attachment_id}`, the key main's attachments use.
    pub r2_key: String,
    pub attachment_id: String,
    pub filename: String,
    pub size: i64,
    pub sha256: String,
}

/// `POST /append` on `main`'s `AuditLog` object (the chain's single appender): an entry,
/// which the appender stamps with `seq`, `at` and the hashes. `detail` is JSON text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditAppend {
    pub action: String,
    pub actor: Option<String>,
    pub workspace_id: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

/// A message on `noizylab-jobs`: work queued for `brain` (as JSON text, tagged by `kind`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    /// Run the queued scan `scan_id` (a row of `device_scans` with its input).
    DiagnosticScan { scan_id: String },
}

/// A device's health as `GET /api/v1/devices/:id/health` answers it and KV
/// `device:health:{id}` keeps it for an hour: `main` fills it on a miss, `brain` after a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub device_id: String,
    /// 0–100 from the latest completed scan; `null` until one has run.
    pub health_score: Option<i64>,
    /// `good` (80+), `fair` (50+), `poor`, or `unknown` before the first scan.
    pub status: String,
    pub last_scan_at: Option<String>,
    pub scans_pending: i64,
}

impl DeviceHealth {
    /// The status word for a score.
    pub fn status_of(score: Option<i64>) -> &'static str {
        match score {
            None => "unknown",
            Some(s) if s >= 80 => "good",
            Some(s) if s >= 50 => "fair",
            Some(_) => "poor",
        }
    }
}

/// `GET /internal/parts/:id?workspace=…` on `inventory` (from `ebay-sniper` and `pricing`):
/// what a deal is judged against, what a quote costs a part at. 404 when the workspace has
/// no such part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartFacts {
    pub id: String,
    pub workspace_id: String,
    pub sku: String,
    pub mpn: Option<String>,
    pub description: String,
    pub cost_cents: i64,
    pub currency: String,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
    /// Summed over locations, from the ledger.
    pub available: i64,
}

/// What happens to a ticket's parts, in [`TicketParts`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum PartsStep {
    /// The quote was approved: its catalogue parts are reserved for the ticket.
    Reserve { quote_id: String },
    /// The repair is done (READY): what is still reserved for the ticket was used.
    Consume,
    /// The ticket was voided: its reservations go back to stock.
    Release,
}

/// `POST /internal/tickets/:id/parts` on `inventory` (from the orchestrator, on
/// `quote.approved` and `ticket.status_changed`). Each step is idempotent: heard twice, it
/// moves stock once. Answered with [`PartsMoved`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketParts {
    pub workspace_id: String,
    pub step: PartsStep,
    /// Who caused it (the approving customer, the technician who moved the ticket).
    pub by: String,
}

/// What a [`TicketParts`] step moved: per part and location, and what could not be
/// reserved for want of stock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartsMoved {
    pub moved: Vec<PartMove>,
    pub short: Vec<PartMove>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartMove {
    pub part_id: String,
    pub location: Option<String>,
    pub quantity: i64,
}

/// `POST /internal/purchases` on `inventory` (from `ebay-sniper`, after a manager approved
/// it): a purchase order to an eBay seller, who becomes a supplier, placed (`ordered`) at
/// once. `request_id` (the approved purchase request) makes it happen once: asked again,
/// inventory answers with the order it already made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealPurchase {
    pub workspace_id: String,
    pub request_id: String,
    /// The seller's eBay user name.
    pub seller: String,
    pub listing_id: String,
    pub part_id: String,
    pub quantity: i64,
    /// Landed cost of one, in cents.
    pub unit_cost_cents: i64,
    /// Where the stock is to arrive.
    pub location: String,
    /// Who approved it.
    pub approved_by: String,
}

/// The answer to [`DealPurchase`]: the order, and whether this call made it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PurchaseOrderRef {
    pub id: String,
    pub supplier_id: String,
    pub status: String,
    pub created: bool,
}

/// `POST /internal/hunts` on `ebay-sniper` (from the orchestrator, on
/// `inventory.low_stock`): search eBay now for the part's watches (one is made from the
/// part when it has none). Answered with [`HuntReport`]; 503 when eBay is not configured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hunt {
    pub workspace_id: String,
    pub part_id: String,
}

/// What a search of eBay found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuntReport {
    pub watches: u32,
    /// Listings eBay answered with.
    pub listings: u32,
    /// Listings too incomplete to judge.
    pub skipped: u32,
    /// Deals new or newly above their watch's score (each a `deal.found`).
    pub found: u32,
    /// For a hunt of one part: its deals worth buying now (not rejected, none already
    /// being bought), and the best of them by score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deals: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_deal: Option<String>,
}
