//! `/api/v1/schematics/:id/components…` and `…/nets`: finding parts (by reference, value,
//! footprint or part number) and what each pin connects to.

use noizylab_core::schematic::analysis::{short_name, Board};
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::store;

/// At most this many parts or nets in one answer.
const MAX_LISTED: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Search {
    #[serde(default)]
    q: Option<String>,
}

/// `GET /api/v1/schematics/:id/components?q=` (staff): parts whose reference, value,
/// footprint or part number contains `q` (all of them without it), at most 200.
pub async fn components(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let q: Search = http::query(req)?;
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    let found = board.search(q.q.as_deref().unwrap_or(""));
    let total = found.len();
    let listed: Vec<_> = found.into_iter().take(MAX_LISTED).collect();
    http::ok(&json!({ "total": total, "components": listed }))
}

/// `GET /api/v1/schematics/:id/components/:ref` (staff): the part and each of its pins
/// with its net (null: unconnected).
pub async fn component(call: &Call, id: &str, reference: &str) -> ApiResult<Response> {
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    let part = board.component(reference).ok_or_else(|| ApiError::not_found(format!("component {reference}")))?;
    let mut v = serde_json::to_value(part).unwrap_or_default();
    v["pins"] = serde_json::to_value(board.pins(reference)).unwrap_or_default();
    http::ok(&v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    q: Option<String>,
}

/// `GET /api/v1/schematics/:id/nets?name=` (one net with its pins; a hierarchical name's
/// last part will do when unambiguous) or `?q=` (nets whose name contains it) (staff).
pub async fn nets(req: &Request, call: &Call, id: &str) -> ApiResult<Response> {
    let q: NetQuery = http::query(req)?;
    let (_, netlist) = store::open(call, id).await?;
    let board = Board::new(&netlist);
    if let Some(name) = q.name.as_deref() {
        let net = board.find_net(name).ok_or_else(|| ApiError::not_found(format!("net {name}")))?;
        return http::ok(&json!({ "nets": [net] }));
    }
    let needle = q.q.unwrap_or_default().to_lowercase();
    let found: Vec<_> = netlist
        .nets
        .iter()
        .filter(|n| short_name(&n.name).to_lowercase().contains(&needle) || n.name.to_lowercase().contains(&needle))
        .collect();
    let total = found.len();
    let listed: Vec<_> = found.into_iter().take(MAX_LISTED).collect();
    http::ok(&json!({ "total": total, "nets": listed }))
}
