//! Watches, deals and purchase requests in D1, and the two things asked of other workers'
//! data: a part's facts (from `inventory`) and the shop's price list (tax and parts markup).

use noizylab_core::contracts::PartFacts;
use noizylab_core::deals::{Condition, WatchInput, Yardstick};
use noizylab_core::pricing::PriceList;
use noizylab_core::services::INVENTORY;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use worker::Method;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Watch {
    pub id: String,
    pub workspace_id: String,
    pub part_id: String,
    pub query: String,
    pub category_id: Option<String>,
    pub condition: String,
    pub max_total_cents: i64,
    pub currency: String,
    pub target_margin_bps: i64,
    pub min_score: i64,
    pub active: i64,
    pub origin: String,
    pub created_by: String,
    pub created_at: String,
    pub last_run_at: Option<String>,
    pub last_error: Option<String>,
}

impl Watch {
    /// The watch as the judging core reads it.
    pub fn input(&self) -> WatchInput {
        WatchInput {
            part_id: self.part_id.clone(),
            query: self.query.clone(),
            category_id: self.category_id.clone(),
            condition: Condition::parse(&self.condition).unwrap_or(Condition::New),
            max_total_cents: self.max_total_cents,
            currency: self.currency.clone(),
            target_margin_bps: self.target_margin_bps,
            min_score: u32::try_from(self.min_score).unwrap_or(100),
        }
    }
}

pub const WATCH: &str = "SELECT id, workspace_id, part_id, query, category_id, condition, max_total_cents, currency,
    target_margin_bps, min_score, active, origin, created_by, created_at, last_run_at, last_error FROM watches";

pub async fn watch(call: &Call, workspace: &str, id: &str) -> ApiResult<Watch> {
    call.sql()?
        .first(&format!("{WATCH} WHERE id = ?1 AND workspace_id = ?2"), &[id.into(), workspace.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("watch {id}")))
}

pub async fn watches_of_part(call: &Call, workspace: &str, part: &str) -> ApiResult<Vec<Watch>> {
    call.sql()?
        .all(
            &format!("{WATCH} WHERE workspace_id = ?1 AND part_id = ?2 AND active = 1 ORDER BY created_at"),
            &[workspace.into(), part.into()],
        )
        .await
}

/// Writes `w` as watch `id` (new or replaced).
pub async fn put_watch(
    call: &Call,
    workspace: &str,
    id: &str,
    w: &WatchInput,
    origin: &str,
    by: &str,
) -> ApiResult<()> {
    call.sql()?
        .run(
            "INSERT INTO watches (id, workspace_id, part_id, query, category_id, condition, max_total_cents, currency,
                 target_margin_bps, min_score, active, origin, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?12, ?13)
             ON CONFLICT (id) DO UPDATE SET part_id = excluded.part_id, query = excluded.query,
                 category_id = excluded.category_id, condition = excluded.condition,
                 max_total_cents = excluded.max_total_cents, currency = excluded.currency,
                 target_margin_bps = excluded.target_margin_bps, min_score = excluded.min_score, active = 1",
            &[
                id.into(),
                workspace.into(),
                w.part_id.as_str().into(),
                w.query.as_str().into(),
                opt(w.category_id.as_deref()),
                w.condition.as_str().into(),
                int(w.max_total_cents),
                w.currency.as_str().into(),
                int(w.target_margin_bps),
                int(i64::from(w.min_score)),
                origin.into(),
                by.into(),
                noizylab_kit::time::now_rfc3339().into(),
            ],
        )
        .await?;
    Ok(())
}

/// Notes how a watch's last search went (`None`: it went well).
pub async fn ran(call: &Call, id: &str, error: Option<&str>) -> ApiResult<()> {
    call.sql()?
        .run(
            "UPDATE watches SET last_run_at = ?2, last_error = ?3 WHERE id = ?1",
            &[id.into(), noizylab_kit::time::now_rfc3339().into(), opt(error)],
        )
        .await?;
    Ok(())
}

/// The part behind a watch, from `inventory`: 422 when it is not the workspace's.
pub async fn part(call: &Call, workspace: &str, id: &str) -> ApiResult<PartFacts> {
    if !noizylab_core::names::is_plain_id(id) {
        return Err(ApiError::invalid_field("part_id", "no such part"));
    }
    let path = format!("/internal/parts/{id}?workspace={workspace}");
    let resp = call.as_service(INVENTORY, Method::Get, &path, None).await?;
    match resp.status_code() {
        200 => http::answer_json(&resp).await,
        404 => Err(ApiError::invalid_field("part_id", "no such part in the catalogue")),
        s => Err(ApiError::internal(format!("inventory answered {s} for part {id}"))),
    }
}

#[derive(Deserialize)]
struct Prices {
    parts_markup_bps: i64,
    tax_bps: i64,
}

/// What a listing is judged against: the part's cost and currency, the workspace's parts
/// markup and tax (its price list, else the defaults quotes use) and the shop's country.
pub async fn yardstick(call: &Call, workspace: &str, part: &PartFacts, country: &str) -> ApiResult<Yardstick> {
    let list: Option<Prices> = call
        .sql()?
        .first("SELECT parts_markup_bps, tax_bps FROM price_lists WHERE workspace_id = ?1", &[workspace.into()])
        .await?;
    let d = PriceList::default();
    let (markup, tax) = list.map(|l| (l.parts_markup_bps, l.tax_bps)).unwrap_or((d.parts_markup_bps, d.tax_bps));
    Ok(Yardstick {
        stock_cost_cents: part.cost_cents,
        currency: part.currency.clone(),
        parts_markup_bps: markup,
        tax_bps: tax,
        country: country.to_owned(),
    })
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Deal {
    pub id: String,
    pub watch_id: String,
    pub part_id: String,
    pub listing_id: String,
    pub title: String,
    pub url: Option<String>,
    pub seller: String,
    pub seller_feedback_permille: Option<i64>,
    pub seller_feedback_score: Option<i64>,
    pub country: Option<String>,
    pub condition: Option<String>,
    pub price_cents: i64,
    pub shipping_cents: i64,
    pub tax_cents: i64,
    pub landed_cents: i64,
    pub currency: String,
    pub stock_cost_cents: i64,
    pub margin_bps: i64,
    pub score: i64,
    pub reasons: String,
    pub rejected: Option<String>,
    pub found_at: String,
    pub seen_at: String,
    pub alerted_at: Option<String>,
}

pub const DEAL: &str = "SELECT id, watch_id, part_id, listing_id, title, url, seller, seller_feedback_permille,
    seller_feedback_score, country, condition, price_cents, shipping_cents, tax_cents, landed_cents, currency,
    stock_cost_cents, margin_bps, score, reasons, rejected, found_at, seen_at, alerted_at FROM deals";

pub async fn deal(call: &Call, workspace: &str, id: &str) -> ApiResult<Deal> {
    call.sql()?
        .first(&format!("{DEAL} WHERE id = ?1 AND workspace_id = ?2"), &[id.into(), workspace.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("deal {id}")))
}

/// The deal as the API shows it: `reasons` as a list.
pub fn deal_view(d: &Deal) -> serde_json::Value {
    let mut v = serde_json::to_value(d).unwrap_or_default();
    v["reasons"] = serde_json::from_str(&d.reasons).unwrap_or_default();
    v
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PurchaseRequest {
    pub id: String,
    pub deal_id: String,
    pub quantity: i64,
    pub location: String,
    pub note: Option<String>,
    pub status: String,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub purchase_order_id: Option<String>,
}

pub const REQUEST: &str =
    "SELECT id, deal_id, quantity, location, note, status, requested_by, requested_at, decided_by,
    decided_at, decision_note, purchase_order_id FROM purchase_requests";

pub async fn request(call: &Call, workspace: &str, id: &str) -> ApiResult<PurchaseRequest> {
    call.sql()?
        .first(&format!("{REQUEST} WHERE id = ?1 AND workspace_id = ?2"), &[id.into(), workspace.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("purchase request {id}")))
}
