//! A search of eBay for one watch, wherever it starts (the cron, a person, low stock):
//! the listings judged against the part, kept as deals (a listing seen again is updated),
//! and a `deal.found` for each deal that first reaches the watch's score.

use noizylab_core::contracts::HuntReport;
use noizylab_core::deals::{judge, Listing, Verdict};
use noizylab_core::events::DealFound;
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::{random, time, ApiError, ApiResult, Call};
use serde::Deserialize;

use crate::config::Config;
use crate::ebay::Ebay;
use crate::store::{self, Watch};

const UPSERT: &str = "INSERT INTO deals (id, workspace_id, watch_id, part_id, listing_id, title, url, seller,
        seller_feedback_permille, seller_feedback_score, country, condition, price_cents, shipping_cents, tax_cents,
        landed_cents, currency, stock_cost_cents, margin_bps, score, reasons, rejected, found_at, seen_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?23)
    ON CONFLICT (watch_id, listing_id) DO UPDATE SET title = excluded.title, url = excluded.url,
        seller_feedback_permille = excluded.seller_feedback_permille,
        seller_feedback_score = excluded.seller_feedback_score, price_cents = excluded.price_cents,
        shipping_cents = excluded.shipping_cents, tax_cents = excluded.tax_cents, landed_cents = excluded.landed_cents,
        stock_cost_cents = excluded.stock_cost_cents, margin_bps = excluded.margin_bps, score = excluded.score,
        reasons = excluded.reasons, rejected = excluded.rejected, seen_at = excluded.seen_at";

#[derive(Deserialize)]
struct ToAlert {
    id: String,
    listing_id: String,
    title: String,
    landed_cents: i64,
    stock_cost_cents: i64,
    currency: String,
    score: i64,
}

/// Searches eBay for `w` and keeps what it finds. A failure is noted on the watch (its
/// `last_error`) and returned.
pub async fn run(call: &Call, cfg: &Config, w: &Watch) -> ApiResult<HuntReport> {
    let result = search(call, cfg, w).await;
    let error = match &result {
        Ok(_) => None,
        // eBay's own error is for the staff who read the watch; ours stay in the log.
        Err(ApiError::BadGateway(detail)) => Some(detail.clone()),
        Err(e) => Some(e.public_message()),
    };
    store::ran(call, &w.id, error.as_deref()).await?;
    result
}

async fn search(call: &Call, cfg: &Config, w: &Watch) -> ApiResult<HuntReport> {
    let ebay = Ebay::new(cfg)?;
    let part = store::part(call, &w.workspace_id, &w.part_id).await?;
    let yard = store::yardstick(call, &w.workspace_id, &part, &cfg.country).await?;
    let input = w.input();
    let page = ebay.search(call, &input).await?;
    if !page.skipped.is_empty() {
        call.log_info(&format!("watch {}: skipped {}", w.id, page.skipped.join("; ")));
    }
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let mut statements = Vec::with_capacity(page.listings.len());
    for l in &page.listings {
        let v = judge(l, &input, &yard);
        statements.push(
            db.statement(UPSERT, &row(w, l, &v, &yard.stock_cost_cents, &format!("deal_{}", random::id()?), &now))?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    // Each deal at or above the watch's score is announced once: claimed, then published
    // (and unclaimed if the bus refuses it, to be announced by the next search).
    let due: Vec<ToAlert> = db
        .all(
            "SELECT id, listing_id, title, landed_cents, stock_cost_cents, currency, score FROM deals
             WHERE watch_id = ?1 AND alerted_at IS NULL AND rejected IS NULL AND score >= ?2 ORDER BY score DESC",
            &[w.id.as_str().into(), int(w.min_score)],
        )
        .await?;
    let mut found = 0;
    for d in due {
        let claimed = db
            .run(
                "UPDATE deals SET alerted_at = ?2 WHERE id = ?1 AND alerted_at IS NULL",
                &[d.id.as_str().into(), now.as_str().into()],
            )
            .await?;
        if claimed != 1 {
            continue;
        }
        let e = DealFound {
            deal_id: d.id.clone(),
            watch_id: w.id.clone(),
            listing_id: d.listing_id,
            part_id: part.id.clone(),
            part: part.sku.clone(),
            title: d.title,
            landed: d.landed_cents,
            saving: d.stock_cost_cents - d.landed_cents,
            currency: d.currency,
            score: u32::try_from(d.score).unwrap_or(0),
        };
        let about = About { workspace: Some(&w.workspace_id), device: None, ticket: None };
        if let Err(err) = events::publish(call, about, &e).await {
            db.run("UPDATE deals SET alerted_at = NULL WHERE id = ?1", &[d.id.as_str().into()]).await?;
            return Err(err);
        }
        found += 1;
    }
    Ok(HuntReport {
        watches: 1,
        listings: u32::try_from(page.listings.len() + page.skipped.len()).unwrap_or(u32::MAX),
        skipped: u32::try_from(page.skipped.len()).unwrap_or(u32::MAX),
        found,
        deals: None,
        best_deal: None,
    })
}

fn row(
    w: &Watch,
    l: &Listing,
    v: &Verdict,
    stock_cost: &i64,
    id: &str,
    now: &str,
) -> Vec<worker::wasm_bindgen::JsValue> {
    let reasons = serde_json::to_string(&v.reasons).unwrap_or_else(|_| "[]".into());
    vec![
        id.into(),
        w.workspace_id.as_str().into(),
        w.id.as_str().into(),
        w.part_id.as_str().into(),
        l.listing_id.as_str().into(),
        l.title.as_str().into(),
        opt(l.url.as_deref()),
        l.seller.as_str().into(),
        l.seller_feedback_permille.map(int).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
        l.seller_feedback_score.map(int).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
        opt(l.country.as_deref()),
        opt(l.condition_text.as_deref()),
        int(l.price_cents),
        int(l.shipping_cents),
        int(v.tax_cents),
        int(v.landed_cents),
        l.currency.as_str().into(),
        int(*stock_cost),
        int(v.margin_bps),
        int(i64::from(v.score)),
        reasons.into(),
        opt(v.rejected.as_deref()),
        now.into(),
    ]
}

/// Adds up reports.
pub fn sum(a: HuntReport, b: &HuntReport) -> HuntReport {
    HuntReport {
        watches: a.watches + b.watches,
        listings: a.listings + b.listings,
        skipped: a.skipped + b.skipped,
        found: a.found + b.found,
        deals: a.deals.or(b.deals),
        best_deal: a.best_deal.or_else(|| b.best_deal.clone()),
    }
}
