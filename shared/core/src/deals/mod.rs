//! Deal hunting (issue 16): what a watch asks eBay for, eBay's Browse API answer read
//! without trusting it, and each listing judged against the part it is for.
//!
//! - **Watches** ([`WatchInput`]): a query, an optional category, a condition, the most the
//!   shop pays in all, the margin it wants and the least score worth an alert.
//! - **The search** ([`search_query`]): `GET /buy/browse/v1/item_summary/search` with
//!   eBay's filter syntax — fixed-price listings only (an auction's price is not a price
//!   until it ends), in the watch's currency, at most its ceiling, in its condition.
//! - **Listings** ([`read_search`]): an item summary lacking what a deal needs (an id, a
//!   price, a seller) is skipped and counted, never guessed at; a missing shipping option
//!   means shipping unknown, which is skipped too rather than taken as free.
//! - **Judgement** ([`judge`]): landed cost = price + shipping + the shop's tax estimate;
//!   margin = what a quote sells the part at (stock cost plus the parts markup) less the
//!   landed cost, over the selling price; a score of 0–100 from the margin over the target
//!   (60), the seller's feedback (25), the condition (10) and whether it ships from the
//!   shop's country (5). Every point says why.

use serde::{Deserialize, Serialize};

use crate::error::invalid;
pub use crate::error::Invalid;
use crate::inventory::parse_cents;

/// The conditions a watch may ask for, each a set of eBay condition ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    New,
    Refurbished,
    Used,
    ForParts,
}

impl Condition {
    /// eBay's condition ids for it (Browse API `conditionIds` filter).
    pub fn ebay_ids(self) -> &'static [&'static str] {
        match self {
            Condition::New => &["1000", "1500"],
            Condition::Refurbished => &["2000", "2010", "2020", "2030", "2500"],
            Condition::Used => &["3000"],
            Condition::ForParts => &["7000"],
        }
    }

    /// The condition an eBay condition id belongs to.
    pub fn of_ebay_id(id: &str) -> Option<Condition> {
        [Condition::New, Condition::Refurbished, Condition::Used, Condition::ForParts]
            .into_iter()
            .find(|c| c.ebay_ids().contains(&id))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::New => "new",
            Condition::Refurbished => "refurbished",
            Condition::Used => "used",
            Condition::ForParts => "for_parts",
        }
    }

    pub fn parse(s: &str) -> Option<Condition> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// Points of the score for the condition (of 10).
    fn points(self) -> u32 {
        match self {
            Condition::New => 10,
            Condition::Refurbished => 8,
            Condition::Used => 5,
            Condition::ForParts => 0,
        }
    }
}

/// A watch as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchInput {
    pub part_id: String,
    pub query: String,
    #[serde(default)]
    pub category_id: Option<String>,
    #[serde(default = "new")]
    pub condition: Condition,
    /// The most the shop pays for one, shipping and tax included, in cents.
    pub max_total_cents: i64,
    #[serde(default = "cad")]
    pub currency: String,
    /// The margin a deal must leave at the part's selling price, in basis points.
    #[serde(default = "default_margin")]
    pub target_margin_bps: i64,
    /// The least score (0–100) worth an alert.
    #[serde(default = "default_score")]
    pub min_score: u32,
}

fn new() -> Condition {
    Condition::New
}

fn cad() -> String {
    "CAD".into()
}

fn default_margin() -> i64 {
    3_000
}

fn default_score() -> u32 {
    60
}

/// The most a watch may pay for one: 100,000.00.
pub const MAX_TOTAL_CENTS: i64 = 10_000_000;

impl WatchInput {
    pub fn checked(mut self) -> Result<WatchInput, Invalid> {
        self.query = self.query.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.query.is_empty() || self.query.chars().count() > 100 {
            return Err(invalid("query", "the search is 1 to 100 characters (eBay's limit)"));
        }
        if let Some(c) = self.category_id.as_deref().map(str::trim) {
            if c.is_empty() || c.len() > 12 || !c.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("category_id", "an eBay category id is digits (e.g. 58058 for Computers)"));
            }
            self.category_id = Some(c.to_owned());
        }
        if !(1..=MAX_TOTAL_CENTS).contains(&self.max_total_cents) {
            return Err(invalid("max_total_cents", "the most to pay is from 0.01 to 100,000.00, shipping and tax in"));
        }
        self.currency = self.currency.trim().to_uppercase();
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid("currency", "a currency is a three-letter ISO 4217 code (CAD, USD, EUR)"));
        }
        if !(0..=9_000).contains(&self.target_margin_bps) {
            return Err(invalid("target_margin_bps", "the target margin is 0 to 9000 basis points (0–90 %)"));
        }
        if self.min_score > 100 {
            return Err(invalid("min_score", "a score is 0 to 100"));
        }
        Ok(self)
    }
}

/// `q`, `category_ids`, `filter`, `sort` and `limit` of the search for `w`, in order (the
/// caller URL-encodes them).
pub fn search_query(w: &WatchInput) -> Vec<(&'static str, String)> {
    let filter = [
        format!("price:[..{}]", crate::text::money(w.max_total_cents)),
        format!("priceCurrency:{}", w.currency),
        "buyingOptions:{FIXED_PRICE}".to_owned(),
        format!("conditionIds:{{{}}}", w.condition.ebay_ids().join("|")),
    ];
    let mut q = vec![("q", w.query.clone())];
    if let Some(c) = &w.category_id {
        q.push(("category_ids", c.clone()));
    }
    q.push(("filter", filter.join(",")));
    q.push(("sort", "price".to_owned()));
    q.push(("limit", "50".to_owned()));
    q
}

/// eBay's amount: a decimal string and a currency.
#[derive(Clone, Debug, Deserialize)]
struct Amount {
    value: Option<String>,
    currency: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShippingOption {
    shipping_cost: Option<Amount>,
    shipping_cost_type: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seller {
    username: Option<String>,
    /// A decimal string ("99.8").
    feedback_percentage: Option<String>,
    feedback_score: Option<i64>,
}

#[derive(Clone, Debug, Deserialize)]
struct Location {
    country: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemSummary {
    item_id: Option<String>,
    title: Option<String>,
    price: Option<Amount>,
    #[serde(default)]
    shipping_options: Vec<ShippingOption>,
    condition_id: Option<String>,
    condition: Option<String>,
    seller: Option<Seller>,
    item_location: Option<Location>,
    item_web_url: Option<String>,
    #[serde(default)]
    buying_options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    total: i64,
    #[serde(default)]
    item_summaries: Vec<ItemSummary>,
}

/// eBay's error body: `{"errors":[{"errorId":…,"message":…}]}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorItem {
    #[serde(default)]
    pub error_id: i64,
    #[serde(default)]
    pub message: String,
}

/// What eBay's error body says, in a line for a log or an operator.
pub fn error_text(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) if !b.errors.is_empty() => {
            b.errors.iter().map(|e| format!("{} {}", e.error_id, e.message)).collect::<Vec<_>>().join("; ")
        }
        _ => "no error body".to_owned(),
    }
}

/// One fixed-price listing, complete enough to judge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    pub listing_id: String,
    pub title: String,
    pub url: Option<String>,
    pub price_cents: i64,
    pub shipping_cents: i64,
    pub currency: String,
    pub condition: Option<Condition>,
    /// eBay's own words for it ("New", "Used", "For parts or not working").
    pub condition_text: Option<String>,
    pub seller: String,
    /// Percent of positive feedback, in tenths (998 = 99.8 %).
    pub seller_feedback_permille: Option<i64>,
    pub seller_feedback_score: Option<i64>,
    pub country: Option<String>,
}

/// A search answer read: the listings complete enough to judge, and the others with why.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    pub total: i64,
    pub listings: Vec<Listing>,
    pub skipped: Vec<String>,
}

/// Reads a Browse API search answer. `Err` when it is not one at all.
pub fn read_search(body: &str) -> Result<Page, String> {
    let page: SearchPage = serde_json::from_str(body).map_err(|e| format!("not a search answer: {e}"))?;
    let mut out = Page { total: page.total, ..Page::default() };
    for item in page.item_summaries {
        let id = item.item_id.clone().unwrap_or_else(|| "(no itemId)".into());
        match listing(item) {
            Ok(l) => out.listings.push(l),
            Err(why) => out.skipped.push(format!("{id}: {why}")),
        }
    }
    Ok(out)
}

fn listing(item: ItemSummary) -> Result<Listing, &'static str> {
    let listing_id = item.item_id.filter(|i| !i.is_empty() && i.len() <= 100).ok_or("no itemId")?;
    let price = item.price.ok_or("no price")?;
    let currency = price.currency.filter(|c| c.len() == 3).ok_or("no price currency")?;
    let price_cents = price.value.as_deref().and_then(parse_cents).ok_or("no readable price")?;
    if !item.buying_options.is_empty() && !item.buying_options.iter().any(|b| b == "FIXED_PRICE") {
        return Err("not a fixed-price listing");
    }
    // The cheapest way it ships; none named means the cost is not known here.
    let shipping_cents = item
        .shipping_options
        .iter()
        .filter_map(|o| match (&o.shipping_cost, o.shipping_cost_type.as_deref()) {
            (Some(a), _) if a.currency.as_deref().is_none_or(|c| c == currency) => {
                a.value.as_deref().and_then(parse_cents)
            }
            (None, Some("FREE")) => Some(0),
            _ => None,
        })
        .min()
        .ok_or("no shipping cost in the listing's currency")?;
    let seller = item.seller.ok_or("no seller")?;
    let name = seller.username.filter(|u| !u.is_empty()).ok_or("no seller name")?;
    let permille = seller.feedback_percentage.as_deref().and_then(|p| {
        let tenths = match p.trim().split_once('.') {
            Some((units, frac)) => format!("{units}{}", frac.chars().next().unwrap_or('0')),
            None => format!("{}0", p.trim()),
        };
        tenths.parse::<i64>().ok().filter(|t| (0..=1000).contains(t))
    });
    Ok(Listing {
        listing_id,
        title: item.title.unwrap_or_default().chars().take(200).collect(),
        url: item.item_web_url.filter(|u| u.starts_with("https://")),
        price_cents,
        shipping_cents,
        currency,
        condition: item.condition_id.as_deref().and_then(Condition::of_ebay_id),
        condition_text: item.condition,
        seller: name.chars().take(64).collect(),
        seller_feedback_permille: permille,
        seller_feedback_score: seller.feedback_score,
        country: item.item_location.and_then(|l| l.country).filter(|c| c.len() == 2),
    })
}

/// What a listing is judged against: the part and the shop.
#[derive(Clone, Debug, PartialEq)]
pub struct Yardstick {
    /// What the shop pays for the part today (its stock cost).
    pub stock_cost_cents: i64,
    pub currency: String,
    /// What quotes add to a part's cost (the price list's parts markup).
    pub parts_markup_bps: i64,
    /// The shop's sales tax, as an estimate of what a purchase pays.
    pub tax_bps: i64,
    /// Where the shop is (ISO 3166 alpha-2).
    pub country: String,
}

/// A listing judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub landed_cents: i64,
    pub tax_cents: i64,
    /// What the part sells at in a quote.
    pub sell_cents: i64,
    pub margin_bps: i64,
    /// Stock cost less landed cost (negative: dearer than today).
    pub saving_cents: i64,
    pub score: u32,
    pub reasons: Vec<String>,
    /// Why it is not a deal at all (over the ceiling, the wrong currency or condition,
    /// under the target margin).
    pub rejected: Option<String>,
}

fn bps(amount: i64, bps: i64) -> i64 {
    (amount * bps + 5_000) / 10_000
}

/// Judges `l` for watch `w` against `y`.
pub fn judge(l: &Listing, w: &WatchInput, y: &Yardstick) -> Verdict {
    let tax_cents = bps(l.price_cents + l.shipping_cents, y.tax_bps);
    let landed_cents = l.price_cents + l.shipping_cents + tax_cents;
    let sell_cents = y.stock_cost_cents + bps(y.stock_cost_cents, y.parts_markup_bps);
    let margin_bps = if sell_cents > 0 { (sell_cents - landed_cents) * 10_000 / sell_cents } else { -10_000 };
    let mut reasons = Vec::new();
    let mut rejected = None;
    if l.currency != w.currency || l.currency != y.currency {
        rejected = Some(format!("priced in {}, the watch is in {}", l.currency, w.currency));
    } else if landed_cents > w.max_total_cents {
        rejected = Some(format!(
            "landed cost {} is over the watch's {}",
            crate::text::money(landed_cents),
            crate::text::money(w.max_total_cents)
        ));
    } else if l.condition.is_some_and(|c| c != w.condition) {
        rejected = Some(format!(
            "condition {} is not the {} asked for",
            l.condition_text.as_deref().unwrap_or("?"),
            w.condition.as_str()
        ));
    } else if margin_bps < w.target_margin_bps {
        rejected = Some(format!(
            "margin {:.1} % is under the target {:.1} %",
            margin_bps as f64 / 100.0,
            w.target_margin_bps as f64 / 100.0
        ));
    }
    // Economics: 30 at the target, 60 at 30 points of margin over it.
    let over = (margin_bps - w.target_margin_bps).clamp(0, 3_000);
    let economics = if margin_bps >= w.target_margin_bps { 30 + (over * 30 / 3_000) as u32 } else { 0 };
    reasons.push(format!(
        "margin {:.1} % at a selling price of {} (target {:.1} %): {economics}/60",
        margin_bps as f64 / 100.0,
        crate::text::money(sell_cents),
        w.target_margin_bps as f64 / 100.0
    ));
    let feedback = match l.seller_feedback_permille {
        Some(p) if p >= 995 => 20,
        Some(p) if p >= 980 => 15,
        Some(p) if p >= 950 => 8,
        _ => 0,
    } + match l.seller_feedback_score {
        Some(s) if s >= 1_000 => 5,
        Some(s) if s >= 100 => 3,
        Some(s) if s >= 10 => 1,
        _ => 0,
    };
    let percent = l.seller_feedback_permille.map(|p| format!("{}.{} %", p / 10, p % 10)).unwrap_or_else(|| "no".into());
    let count = l.seller_feedback_score.map(|s| s.to_string()).unwrap_or_else(|| "no".into());
    reasons.push(format!("seller {}: {percent} positive, {count} ratings: {feedback}/25", l.seller));
    let condition = l.condition.map(Condition::points).unwrap_or(0);
    reasons.push(format!("condition {}: {condition}/10", l.condition_text.as_deref().unwrap_or("unknown")));
    let local = l.country.as_deref() == Some(y.country.as_str());
    let place = if local { 5 } else { 0 };
    reasons.push(format!("ships from {}: {place}/5", l.country.as_deref().unwrap_or("unknown")));
    let score = if rejected.is_some() { 0 } else { economics + feedback + condition + place };
    Verdict {
        landed_cents,
        tax_cents,
        sell_cents,
        margin_bps,
        saving_cents: y.stock_cost_cents - landed_cents,
        score: score.min(100),
        reasons,
        rejected,
    }
}

/// eBay's OAuth answer to a client-credentials grant.
#[derive(Clone, Debug, Deserialize)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
}

/// How long to keep a token: its life less five minutes, at least a minute.
pub fn token_ttl(t: &Token) -> u64 {
    u64::try_from((t.expires_in - 300).max(60)).unwrap_or(60)
}

/// The scope every Browse API call needs.
pub const OAUTH_SCOPE: &str = "https://api.ebay.com/oauth/api_scope";

#[cfg(test)]
mod tests;
