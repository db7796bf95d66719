//! `/api/v1/schematics/:id/{trace,path,power,faults,suspects}`: what a net reaches, the
//! way between two parts, the power rails as a tree, rule checks, and the parts to check
//! for a symptom (optionally written to a ticket as an internal note).

use noizylab_core::schematic::analysis::{Board, Diagnosis};
use noizylab_core::services::MAIN;
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Method, Request, Response};

use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceQuery {
    net: String,
}

/// `GET /api/v1/schematics/:id/trace?net=` (staff): every net the net reaches through
/// series parts (resistors, inductors, ferrites, jumpers, fuses), never into ground.
pub async fn trace(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let q: TraceQuery = http::query(req)?;
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    let net = board.find_net(&q.net).ok_or_else(|| ApiError::not_found(format!("net {}", q.net)))?;
    let traced = board.trace(&net.name).ok_or_else(|| ApiError::not_found(format!("net {}", q.net)))?;
    http::ok(&json!({ "net": net.name, "trace": traced }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathQuery {
    from: String,
    to: String,
}

/// `GET /api/v1/schematics/:id/path?from=U21&to=C152` (staff): the shortest way between
/// two parts through series parts, as nets and the parts crossed; `path: null` when none.
pub async fn path(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let q: PathQuery = http::query(req)?;
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    for (field, r) in [("from", &q.from), ("to", &q.to)] {
        if board.component(r).is_none() {
            return Err(ApiError::invalid_field(field, format!("the schematic has no part {r}")));
        }
    }
    http::ok(&json!({ "from": q.from, "to": q.to, "path": board.path(&q.from, &q.to) }))
}

/// `GET /api/v1/schematics/:id/power` (staff): ground nets, rails with what makes and
/// what draws each and their decoupling, regulators, and the tree from the inputs down.
pub async fn power(call: &Call, id: &str) -> ApiResult<Response> {
    let (_, netlist) = store::open(call, id).await?;
    http::ok(&Board::new(&netlist).power())
}

/// `GET /api/v1/schematics/:id/faults` (staff): the rule checks' findings.
pub async fn faults(call: &Call, id: &str) -> ApiResult<Response> {
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    let findings = board.faults(&board.power());
    http::ok(&json!({ "findings": findings }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymptomBody {
    symptom: String,
    #[serde(default)]
    ticket_id: Option<String>,
}

/// The suspects as a note a technician reads on the ticket's timeline.
fn note(schematic: &str, d: &Diagnosis) -> String {
    let mut text = format!("Schematic {schematic}: \"{}\" — {} {}; check in this order:", d.symptom, d.rail, d.reading);
    for s in &d.suspects {
        text.push_str(&format!("\n{}. {} ({}): {}", s.order, s.reference, s.value, s.why));
    }
    text.chars().take(4900).collect()
}

/// `POST /api/v1/schematics/:id/suspects {symptom, ticket_id?}` (staff): for "no 3V3" or
/// "shorted 5V rail", the parts to check in a bench's order, each with why; with
/// `ticket_id` they are also written to the ticket as an internal note.
pub async fn suspects(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let (s, netlist) = store::open(call, id).await?;
    let body: SymptomBody = http::read_json(&mut req).await?;
    if body.symptom.trim().is_empty() || body.symptom.chars().count() > 200 {
        return Err(ApiError::invalid_field("symptom", "describe the symptom in 1 to 200 characters, e.g. \"no 3V3\""));
    }
    let board = Board::new(&netlist);
    let power = board.power();
    let diagnosis = board.suspects(&power, &body.symptom).ok_or_else(|| {
        let rails: Vec<&str> = power.rails.iter().map(|r| r.net.as_str()).take(20).collect();
        ApiError::invalid_field(
            "symptom",
            format!(
                "name a rail of this board in the symptom (\"no VCC\", \"shorted +1V8\"); its rails: {}",
                rails.join(", ")
            ),
        )
    })?;
    let mut answer = serde_json::to_value(&diagnosis).unwrap_or_default();
    if let Some(ticket) = body.ticket_id.as_deref() {
        if !noizylab_core::names::is_plain_id(ticket) {
            return Err(ApiError::invalid_field("ticket_id", "no such ticket"));
        }
        let text = json!({ "body": note(&s.name, &diagnosis) }).to_string();
        let resp = call.internal(MAIN, Method::Post, &format!("/api/v1/tickets/{ticket}/notes"), Some(text)).await?;
        match resp.status_code() {
            200 | 201 => {}
            404 => return Err(ApiError::invalid_field("ticket_id", "no such ticket")),
            409 => return Err(ApiError::Conflict("the ticket is closed: its timeline takes no more notes".into())),
            other => return Err(ApiError::BadGateway(format!("main answered {other} to a note"))),
        }
        answer["ticket_id"] = ticket.into();
    }
    http::ok(&answer)
}
