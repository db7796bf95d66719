//! `/internal/hunts`: the parts sourcing flow's first step — stock fell to a part's
//! reorder point (`inventory.low_stock`, routed here by the orchestrator), so eBay is
//! searched for it now.

use noizylab_core::contracts::{Hunt, HuntReport};
use noizylab_core::deals::{Condition, WatchInput};
use noizylab_core::services::WORKFLOW_ORCHESTRATOR;
use noizylab_kit::caller::require_service;
use noizylab_kit::{http, random, ApiError, ApiResult, Call};
use worker::Request;
use worker::Response;

use crate::config::Config;
use crate::hunt;
use crate::store;

/// `POST /internal/hunts` [`Hunt`] (the orchestrator): every active watch of the part is
/// searched; a part with none gets one made from it (its part number, or its description;
/// new; at most its stock cost landed). 200 with the [`HuntReport`]; 503 with the reason
/// when eBay is not configured (noted on the watches); 502 when eBay failed.
pub async fn hunt(mut req: Request, call: &Call) -> ApiResult<Response> {
    require_service(call, WORKFLOW_ORCHESTRATOR, "only the orchestrator starts a hunt")?;
    let h: Hunt = http::read_json(&mut req).await?;
    let mut watches = store::watches_of_part(call, &h.workspace_id, &h.part_id).await?;
    if watches.is_empty() {
        let part = store::part(call, &h.workspace_id, &h.part_id).await?;
        let query: String = part.mpn.clone().unwrap_or_else(|| part.description.clone()).chars().take(100).collect();
        let input = WatchInput {
            part_id: part.id.clone(),
            query,
            category_id: None,
            condition: Condition::New,
            max_total_cents: part.cost_cents,
            currency: part.currency.clone(),
            target_margin_bps: 3_000,
            min_score: 60,
        }
        .checked()
        .map_err(|e| ApiError::Unprocessable(format!("no watch can be made for part {}: {}", part.sku, e.message)))?;
        let id = format!("watch_{}", random::id()?);
        store::put_watch(call, &h.workspace_id, &id, &input, "low_stock", "low_stock").await?;
        watches = store::watches_of_part(call, &h.workspace_id, &h.part_id).await?;
    }
    let cfg = Config::from_env(&call.env);
    let mut report = HuntReport { watches: 0, listings: 0, skipped: 0, found: 0 };
    for w in &watches {
        report = hunt::sum(report, &hunt::run(call, &cfg, w).await?);
    }
    http::ok(&report)
}
