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
    let mut report = HuntReport { watches: 0, listings: 0, skipped: 0, found: 0, deals: None, best_deal: None };
    for w in &watches {
        report = hunt::sum(report, &hunt::run(call, &cfg, w).await?);
    }
    // What a workflow decides on: the part's deals worth buying now, best first.
    let open: Vec<BestDeal> = call
        .sql()?
        .all(
            "SELECT d.id FROM deals d WHERE d.workspace_id = ?1 AND d.part_id = ?2 AND d.rejected IS NULL
               AND NOT EXISTS (SELECT 1 FROM purchase_requests r WHERE r.deal_id = d.id AND r.status IN ('pending', 'approved'))
             ORDER BY d.score DESC, d.landed_cents, d.found_at",
            &[h.workspace_id.as_str().into(), h.part_id.as_str().into()],
        )
        .await?;
    report.deals = Some(u32::try_from(open.len()).unwrap_or(u32::MAX));
    report.best_deal = open.into_iter().next().map(|d| d.id);
    http::ok(&report)
}

#[derive(serde::Deserialize)]
struct BestDeal {
    id: String,
}
