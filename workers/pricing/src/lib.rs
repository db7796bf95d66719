//! `noizylab-pricing`: quotes (seed 000's pricing engine), packages and price lists.
//!
//! Life of a quote: a technician asks `POST /api/v1/pricing/estimate` with the job's
//! factors and a `ticket_id` → the engine (`noizylab_core::pricing`) prices it under the
//! workspace's price list, with the customer's history (earlier repairs, loyalty tier) →
//! the quote is stored and `noizylab-main` moves the ticket to AWAITING_APPROVAL → the
//! customer approves (ticket → APPROVED; time, IP and user agent recorded) or declines
//! with a reason (ticket → DIAGNOSTICS). Expired quotes cannot be approved.

use noizylab_core::auth::Scope;
use noizylab_core::contracts::{PartFacts, QuoteMove, QuoteStep, TicketFacts};
use noizylab_core::diagnostics::plan::RepairPlan;
use noizylab_core::error::ErrorBody;
use noizylab_core::events::{QuoteApproved, QuoteDeclined, QuoteIssued};
use noizylab_core::pricing::{self, Complexity, Inputs, Part, PriceList, Tier, Urgency};
use noizylab_core::services::{INVENTORY, MAIN};
use noizylab_kit::call::now_secs;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::db::{int, opt};
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, serve, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response};

const DIR: &str = "pricing";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Post, ["api", "v1", "pricing", "estimate"]) => estimate(req, &call).await,
        (Method::Get, ["api", "v1", "pricing", "packages"]) => packages(&call).await,
        (Method::Get, ["api", "v1", "pricing", "price-list"]) => show_price_list(&call).await,
        (Method::Put, ["api", "v1", "pricing", "price-list"]) => set_price_list(req, &call).await,
        (Method::Get, ["api", "v1", "pricing", "quotes", id]) => show_quote(&call, id).await,
        (Method::Post, ["api", "v1", "pricing", "quotes", id, "approve"]) => decide(req, &call, id, true).await,
        (Method::Post, ["api", "v1", "pricing", "quotes", id, "decline"]) => decide(req, &call, id, false).await,
        (_, ["api", "v1", "pricing", "estimate"] | ["api", "v1", "pricing", "quotes", _, "approve" | "decline"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (_, ["api", "v1", "pricing", "packages"] | ["api", "v1", "pricing", "quotes", _]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        (_, ["api", "v1", "pricing", "price-list"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        _ => Err(http::no_route(&req)),
    }
}

async fn price_list(call: &Call, workspace: &str) -> ApiResult<PriceList> {
    let row: Option<PriceList> = call
        .sql()?
        .first(
            "SELECT currency, labor_rate_cents, diagnostic_fee_cents, parts_markup_bps, margin_floor_bps, tax_bps,
                    guarantee_days, quote_valid_hours FROM price_lists WHERE workspace_id = ?1",
            &[workspace.into()],
        )
        .await?;
    Ok(row.unwrap_or_default())
}

/// `GET /api/v1/pricing/price-list`: the workspace's prices (defaults until set).
async fn show_price_list(call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::PricingRead).await?;
    http::ok(&price_list(call, &who.workspace).await?)
}

/// `PUT /api/v1/pricing/price-list` (pricing:write): replaces the workspace's prices.
async fn set_price_list(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::PricingWrite).await?;
    let list: PriceList = http::read_json(&mut req).await?;
    let checks: [(&str, bool, &str); 8] = [
        (
            "currency",
            list.currency.len() == 3 && list.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "an ISO 4217 code such as CAD",
        ),
        ("labor_rate_cents", (1..=MAX_CENTS).contains(&list.labor_rate_cents), "1 to 10,000,000"),
        ("diagnostic_fee_cents", (0..=MAX_CENTS).contains(&list.diagnostic_fee_cents), "0 to 10,000,000"),
        ("parts_markup_bps", (0..=MAX_MARKUP_BPS).contains(&list.parts_markup_bps), "0 to 100000"),
        ("margin_floor_bps", (0..=9_000).contains(&list.margin_floor_bps), "0 to 9000"),
        ("tax_bps", (0..=5_000).contains(&list.tax_bps), "0 to 5000"),
        ("guarantee_days", (0..=MAX_GUARANTEE_DAYS).contains(&list.guarantee_days), "0 to 3650"),
        ("quote_valid_hours", (1..=MAX_VALID_HOURS).contains(&list.quote_valid_hours), "1 to 8760"),
    ];
    if let Some((field, _, want)) = checks.iter().find(|(_, ok, _)| !ok) {
        return Err(ApiError::invalid_field(field, format!("{field} must be {want}")));
    }
    call.sql()?
        .run(
            "INSERT INTO price_lists (workspace_id, currency, labor_rate_cents, diagnostic_fee_cents, parts_markup_bps,
                                      margin_floor_bps, tax_bps, guarantee_days, quote_valid_hours, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (workspace_id) DO UPDATE SET currency = ?2, labor_rate_cents = ?3, diagnostic_fee_cents = ?4,
                parts_markup_bps = ?5, margin_floor_bps = ?6, tax_bps = ?7, guarantee_days = ?8,
                quote_valid_hours = ?9, updated_at = ?10",
            &[
                who.workspace.as_str().into(),
                list.currency.as_str().into(),
                int(list.labor_rate_cents),
                int(list.diagnostic_fee_cents),
                int(list.parts_markup_bps),
                int(list.margin_floor_bps),
                int(list.tax_bps),
                int(list.guarantee_days),
                int(list.quote_valid_hours),
                time::now_rfc3339().into(),
            ],
        )
        .await?;
    http::ok(&list)
}

#[derive(Serialize, Deserialize)]
struct Package {
    id: String,
    name: String,
    description: String,
    price_cents: i64,
    estimated_minutes: i64,
    guarantee_days: i64,
}

/// `GET /api/v1/pricing/packages` (pricing:read): the workspace's fixed-price packages.
async fn packages(call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::PricingRead).await?;
    let list = price_list(call, &who.workspace).await?;
    let rows: Vec<Package> = call
        .sql()?
        .all(
            "SELECT id, name, description, price_cents, estimated_minutes, guarantee_days FROM packages
             WHERE workspace_id = ?1 ORDER BY price_cents",
            &[who.workspace.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "currency": list.currency, "packages": rows }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EstimateRequest {
    #[serde(default)]
    ticket_id: Option<String>,
    /// A complete scan whose repair plan gives the complexity and the time (`brain`).
    #[serde(default)]
    diagnostic_id: Option<String>,
    #[serde(default)]
    complexity: Option<Complexity>,
    #[serde(default)]
    estimated_minutes: Option<i64>,
    #[serde(default)]
    parts: Vec<Part>,
    #[serde(default = "standard")]
    urgency: Urgency,
    /// Other shops' pre-tax prices for the same job, in cents.
    #[serde(default)]
    competitor_prices_cents: Vec<i64>,
}

fn standard() -> Urgency {
    Urgency::Standard
}

/// The seed's quote shape, money in integer cents.
#[derive(Serialize, Deserialize)]
struct Quote {
    quote_id: String,
    ticket_id: Option<String>,
    status: String,
    total: i64,
    currency: String,
    breakdown: pricing::Breakdown,
    explanation: Vec<pricing::Factor>,
    estimated_time_minutes: i64,
    guarantee_days: i64,
    expires_at: String,
    decided_at: Option<String>,
    decline_reason: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize)]
struct TierRow {
    tier: String,
}

/// Catalogue parts take their name and real cost from `inventory` (what the shop pays
/// for them now, whatever was typed); 400 for a part the catalogue does not have, 422 for
/// one costed in another currency than the price list's.
async fn catalogue_costs(call: &Call, workspace: &str, currency: &str, parts: Vec<Part>) -> ApiResult<Vec<Part>> {
    let mut out = Vec::with_capacity(parts.len());
    for (i, mut p) in parts.into_iter().enumerate() {
        if let Some(id) = p.part_id.clone() {
            let field = format!("parts[{i}]");
            if !noizylab_core::names::is_plain_id(&id) {
                return Err(ApiError::invalid_field(&field, format!("no part {id} in the catalogue")));
            }
            let path = format!("/internal/parts/{id}?workspace={workspace}");
            let resp = call.as_service(INVENTORY, Method::Get, &path, None).await?;
            let facts: PartFacts = match resp.status_code() {
                200 => noizylab_kit::http::answer_json(&resp).await?,
                404 => return Err(ApiError::invalid_field(&field, format!("no part {id} in the catalogue"))),
                s => return Err(ApiError::internal(format!("inventory answered {s} for part {id}"))),
            };
            if facts.currency != currency {
                return Err(ApiError::Unprocessable(format!(
                    "part {} is costed in {}; quotes here are in {currency}",
                    facts.sku, facts.currency
                )));
            }
            p.cost_cents = facts.cost_cents;
            if p.name.trim().is_empty() {
                p.name = format!("{} ({})", facts.description, facts.sku).chars().take(MAX_PART_NAME).collect();
            }
        }
        out.push(p);
    }
    Ok(out)
}

async fn ticket(call: &Call, id: &str) -> ApiResult<TicketFacts> {
    let resp = call.as_service(MAIN, Method::Get, &format!("/internal/tickets/{id}"), None).await?;
    match resp.status_code() {
        200 => noizylab_kit::http::answer_json(&resp).await,
        404 => Err(ApiError::invalid_field("ticket_id", "no such ticket")),
        s => Err(ApiError::BadGateway(format!("main answered {s} for ticket {id}"))),
    }
}

/// Bounds of what an estimate stores.
const MAX_PARTS: usize = 50;
const MAX_PART_NAME: usize = 120;
const MAX_COMPETITORS: usize = 10;
/// 100,000.00 in any currency: more than any repair.
const MAX_CENTS: i64 = 10_000_000;
/// Parts sold at most at eleven times their cost.
const MAX_MARKUP_BPS: i64 = 100_000;
/// Ten years.
const MAX_GUARANTEE_DAYS: i64 = 3_650;
/// A year: a quote must expire on a date that can be written down (a price list saved
/// with a validity of 10¹² hours made every estimate fail).
const MAX_VALID_HOURS: i64 = 8_760;

/// `POST /api/v1/pricing/estimate`: a priced, explained quote. With `ticket_id` (staff,
#[derive(Deserialize)]
struct ScanPlan {
    owner_id: String,
    status: String,
    result: Option<String>,
}

impl Owned for ScanPlan {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.owner_id)
    }
}

#[derive(Deserialize)]
struct WithPlan {
    repair_plan: RepairPlan,
}

/// The repair plan of scan `id` (brain's `device_scans`), if the caller may see it and
/// it is complete.
async fn repair_plan(call: &Call, who: &Caller, id: &str) -> ApiResult<RepairPlan> {
    let found: Option<ScanPlan> = call
        .sql()?
        .first(
            "SELECT d.owner_id, s.status, s.result FROM device_scans s JOIN devices d ON d.id = s.device_id
             WHERE s.id = ?1 AND s.workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    let scan = who.visible(found, format_args!("diagnostic {id}"))?;
    let Some(result) = scan.result.filter(|_| scan.status == "complete") else {
        return Err(ApiError::Conflict(format!("diagnostic {id} is {}: quote from a complete scan", scan.status)));
    };
    let with: WithPlan = serde_json::from_str(&result).or_internal("stored scan result")?;
    Ok(with.repair_plan)
}

/// tickets:write) it is issued on the ticket, which then awaits the customer's approval.
async fn estimate(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::PricingRead).await?;
    let body: EstimateRequest = http::read_json(&mut req).await?;
    let plan = match body.diagnostic_id.as_deref() {
        Some(id) => Some(repair_plan(call, &who, id).await?),
        None => None,
    };
    // What the caller says wins over the plan; one of the two must say it.
    let complexity = match (body.complexity, &plan) {
        (Some(c), _) => c,
        (None, Some(p)) => p.complexity,
        (None, None) => {
            return Err(ApiError::invalid_field("complexity", "give complexity, or a diagnostic_id to take it from"))
        }
    };
    let estimated_minutes = match (body.estimated_minutes, &plan) {
        (Some(m), _) => m,
        (None, Some(p)) => i64::from(p.estimated_minutes.max(15)),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "estimated_minutes",
                "give estimated_minutes, or a diagnostic_id to take it from",
            ))
        }
    };
    if !(1..=10_000).contains(&estimated_minutes) {
        return Err(ApiError::invalid_field("estimated_minutes", "estimated_minutes is 1 to 10000"));
    }
    // Everything here is stored with the quote: every list and every text is bounded.
    if body.parts.len() > MAX_PARTS {
        return Err(ApiError::invalid_field("parts", format!("a quote lists at most {MAX_PARTS} parts")));
    }
    let part_ok = |p: &Part| {
        let name = p.name.trim();
        p.cost_cents >= 0
            && p.cost_cents <= MAX_CENTS
            && (1..=100).contains(&p.quantity)
            && (!name.is_empty() || p.part_id.is_some())
            && name.chars().count() <= MAX_PART_NAME
            && !name.chars().any(char::is_control)
    };
    if !body.parts.iter().all(part_ok) {
        return Err(ApiError::invalid_field(
            "parts",
            "each part is a part_id from the catalogue, or has a name of 1 to 120 characters and cost_cents of 0 to 10,000,000; a quantity of 1 to 100",
        ));
    }
    if body.competitor_prices_cents.len() > MAX_COMPETITORS
        || body.competitor_prices_cents.iter().any(|c| !(0..=MAX_CENTS).contains(c))
    {
        return Err(ApiError::invalid_field(
            "competitor_prices_cents",
            "give at most 10 competitor prices, each 0 to 10,000,000 cents",
        ));
    }
    let db = call.sql()?;
    let (ticket_id, customer) = match body.ticket_id.as_deref() {
        None => (None, who.only_own().map(str::to_owned)),
        Some(id) => {
            if !who.is_staff() {
                let why = "only the shop's staff issue quotes on tickets";
                return Err(who.refuse(call, why, json!({ "ticket_id": id })).await);
            }
            who.require(call, Scope::TicketsWrite).await?;
            let t = ticket(call, id).await?;
            if t.workspace_id != who.workspace {
                return Err(ApiError::invalid_field("ticket_id", "no such ticket"));
            }
            if t.status != "DIAGNOSTICS" {
                return Err(ApiError::Conflict(format!(
                    "quotes are issued from DIAGNOSTICS; this ticket is {}",
                    t.status
                )));
            }
            (Some(id.to_owned()), Some(t.customer_id))
        }
    };
    let (previous_repairs, tier) = match customer.as_deref() {
        None => (0, Tier::None),
        Some(c) => {
            let done: Option<Count> = db
                .first(
                    "SELECT COUNT(*) AS n FROM tickets WHERE workspace_id = ?1 AND customer_id = ?2
                     AND status IN ('PICKED_UP', 'CLOSED')",
                    &[who.workspace.as_str().into(), c.into()],
                )
                .await?;
            let tier: Option<TierRow> = db
                .first(
                    "SELECT tier FROM loyalty_accounts WHERE workspace_id = ?1 AND user_id = ?2",
                    &[who.workspace.as_str().into(), c.into()],
                )
                .await?;
            let tier = tier.and_then(|t| serde_json::from_value(json!(t.tier)).ok()).unwrap_or(Tier::None);
            (done.map(|d| d.n).unwrap_or(0), tier)
        }
    };
    let list = price_list(call, &who.workspace).await?;
    let parts = catalogue_costs(call, &who.workspace, &list.currency, body.parts).await?;
    let inputs = Inputs {
        complexity,
        estimated_minutes,
        parts,
        urgency: body.urgency,
        tier,
        previous_repairs,
        competitor_cents: body.competitor_prices_cents,
    };
    let priced = pricing::price(&list, &inputs);
    // Held to the bounds a price list is saved with, for one stored before they existed.
    let expires_secs = now_secs() + list.quote_valid_hours.clamp(1, MAX_VALID_HOURS) * 3600;
    let expires_at = noizylab_core::time::rfc3339_millis(expires_secs.saturating_mul(1000))
        .ok_or_else(|| ApiError::internal(format!("quote expiry {expires_secs} is not a date")))?;
    let quote = Quote {
        quote_id: format!("Q{}", &random::id()?[..12].to_ascii_uppercase()),
        ticket_id: ticket_id.clone(),
        status: if ticket_id.is_some() { "issued" } else { "estimate" }.into(),
        total: priced.total,
        currency: list.currency.clone(),
        breakdown: priced.breakdown,
        explanation: priced.explanation,
        estimated_time_minutes: estimated_minutes,
        guarantee_days: list.guarantee_days,
        expires_at,
        decided_at: None,
        decline_reason: None,
    };
    let inputs_json = json!({
        "complexity": inputs.complexity, "estimated_minutes": inputs.estimated_minutes, "parts": inputs.parts,
        "urgency": inputs.urgency, "tier": inputs.tier, "previous_repairs": inputs.previous_repairs,
        "competitor_prices_cents": inputs.competitor_cents, "diagnostic_id": body.diagnostic_id,
    });
    db.run(
        "INSERT INTO quotes (id, workspace_id, ticket_id, customer_id, status, currency, total_cents, breakdown,
                             explanation, inputs, estimated_time_minutes, guarantee_days, created_by, created_at,
                             expires_at, expires_at_secs)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        &[
            quote.quote_id.as_str().into(),
            who.workspace.as_str().into(),
            opt(ticket_id.as_deref()),
            opt(customer.as_deref()),
            quote.status.as_str().into(),
            quote.currency.as_str().into(),
            int(quote.total),
            serde_json::to_string(&quote.breakdown).or_internal("breakdown")?.as_str().into(),
            serde_json::to_string(&quote.explanation).or_internal("explanation")?.as_str().into(),
            inputs_json.to_string().as_str().into(),
            int(quote.estimated_time_minutes),
            int(quote.guarantee_days),
            who.id.as_str().into(),
            time::now_rfc3339().into(),
            quote.expires_at.as_str().into(),
            int(expires_secs),
        ],
    )
    .await?;
    if let (Some(tid), Some(customer)) = (ticket_id.as_deref(), customer.as_deref()) {
        // An older open quote on the ticket no longer stands.
        db.run(
            "UPDATE quotes SET status = 'superseded' WHERE ticket_id = ?1 AND status = 'issued' AND id != ?2",
            &[tid.into(), quote.quote_id.as_str().into()],
        )
        .await?;
        let note =
            format!("quote {} for {} {}", quote.quote_id, noizylab_core::text::money(quote.total), quote.currency);
        tell_ticket(call, tid, QuoteStep::Issued, &quote.quote_id, &who.id, Some(&note)).await?;
        let about = About { workspace: Some(&who.workspace), device: None, ticket: Some(tid) };
        let issued = QuoteIssued {
            quote_id: quote.quote_id.clone(),
            total: quote.total,
            currency: quote.currency.clone(),
            customer_id: customer.to_owned(),
        };
        events::publish(call, about, &issued).await?;
    }
    http::created(&quote)
}

/// Moves the ticket for a quote event through `main`; its refusals come back as they are.
async fn tell_ticket(
    call: &Call,
    ticket: &str,
    event: QuoteStep,
    quote: &str,
    actor: &str,
    note: Option<&str>,
) -> ApiResult<()> {
    let body =
        QuoteMove { event, quote_id: quote.to_owned(), actor_id: actor.to_owned(), note: note.map(str::to_owned) };
    let body = serde_json::to_string(&body).or_internal("quote move")?;
    let resp = call.as_service(MAIN, Method::Post, &format!("/internal/tickets/{ticket}/quote"), Some(body)).await?;
    match resp.status_code() {
        200 => Ok(()),
        409 => {
            let message = match noizylab_kit::http::answer_json::<ErrorBody>(&resp).await {
                Ok(body) => body.error.message,
                Err(_) => "the ticket cannot take this quote now".to_owned(),
            };
            Err(ApiError::Conflict(message))
        }
        s => Err(ApiError::BadGateway(format!("main answered {s} to a quote move ({event:?})"))),
    }
}

#[derive(Deserialize)]
struct QuoteRow {
    id: String,
    workspace_id: String,
    ticket_id: Option<String>,
    customer_id: Option<String>,
    status: String,
    currency: String,
    total_cents: i64,
    breakdown: String,
    explanation: String,
    estimated_time_minutes: i64,
    guarantee_days: i64,
    expires_at: String,
    expires_at_secs: i64,
    decided_at: Option<String>,
    decline_reason: Option<String>,
}

impl QuoteRow {
    fn view(self) -> ApiResult<Quote> {
        Ok(Quote {
            quote_id: self.id,
            ticket_id: self.ticket_id,
            status: self.status,
            total: self.total_cents,
            currency: self.currency,
            breakdown: serde_json::from_str(&self.breakdown).or_internal("breakdown")?,
            explanation: serde_json::from_str(&self.explanation).or_internal("explanation")?,
            estimated_time_minutes: self.estimated_time_minutes,
            guarantee_days: self.guarantee_days,
            expires_at: self.expires_at,
            decided_at: self.decided_at,
            decline_reason: self.decline_reason,
        })
    }
}

/// The quote if the caller may see it: staff of its workspace, or its customer. 404 otherwise.
async fn visible_quote(call: &Call, who: &Caller, id: &str) -> ApiResult<QuoteRow> {
    let row: Option<QuoteRow> = call
        .sql()?
        .first(
            "SELECT id, workspace_id, ticket_id, customer_id, status, currency, total_cents, breakdown, explanation,
                    estimated_time_minutes, guarantee_days, expires_at, expires_at_secs, decided_at, decline_reason
             FROM quotes WHERE id = ?1",
            &[id.into()],
        )
        .await?;
    who.visible(row.filter(|q| q.workspace_id == who.workspace), format_args!("quote {id}"))
}

impl Owned for QuoteRow {
    fn owner_id(&self) -> Option<&str> {
        self.customer_id.as_deref()
    }
}

async fn show_quote(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::PricingRead).await?;
    http::ok(&visible_quote(call, &who, id).await?.view()?)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Decision {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST …/quotes/:id/approve` and `…/decline {reason}`: the ticket's customer decides.
async fn decide(mut req: Request, call: &Call, id: &str, approve: bool) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsWrite).await?;
    let body: Decision = if approve { Decision::default() } else { http::read_json(&mut req).await? };
    let quote = visible_quote(call, &who, id).await?;
    if quote.customer_id.as_deref() != Some(&who.id) {
        let why = "only the customer decides on their quote";
        return Err(who.refuse(call, why, json!({ "quote_id": id })).await);
    }
    let ticket =
        quote.ticket_id.clone().ok_or_else(|| ApiError::Conflict("an estimate has nothing to approve".into()))?;
    if quote.status != "issued" {
        return Err(ApiError::Conflict(format!("this quote is {}; only an issued quote can be decided", quote.status)));
    }
    if approve && quote.expires_at_secs <= now_secs() {
        return Err(ApiError::Conflict("this quote has expired; ask the shop for a new one".into()));
    }
    let reason = match (approve, body.reason.as_deref().map(str::trim)) {
        (true, _) => None,
        (false, Some(r)) if !r.is_empty() && r.chars().count() <= 1000 => Some(r.to_owned()),
        (false, _) => return Err(ApiError::invalid_field("reason", "say in 1 to 1000 characters why you decline")),
    };
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let (ip, agent) =
        (header("cf-connecting-ip"), header("user-agent").map(|a| a.chars().take(400).collect::<String>()));
    let status = if approve { "approved" } else { "declined" };
    let now = time::now_rfc3339();
    let changed = call
        .sql()?
        .run(
            "UPDATE quotes SET status = ?2, decided_at = ?3, decided_by = ?4, decided_ip = ?5, decided_user_agent = ?6,
                    decline_reason = ?7 WHERE id = ?1 AND status = 'issued'",
            &[
                id.into(),
                status.into(),
                now.as_str().into(),
                who.id.as_str().into(),
                opt(ip.as_deref()),
                opt(agent.as_deref()),
                opt(reason.as_deref()),
            ],
        )
        .await?;
    if changed != 1 {
        return Err(ApiError::Conflict("this quote was decided meanwhile".into()));
    }
    // The decision stands only if the ticket takes it: a ticket that cannot move (void,
    // closed, elsewhere in its lifecycle) puts the quote back as it was.
    let step = if approve { QuoteStep::Approved } else { QuoteStep::Declined };
    if let Err(refused) = tell_ticket(call, &ticket, step, id, &who.id, reason.as_deref()).await {
        call.sql()?
            .run(
                "UPDATE quotes SET status = 'issued', decided_at = NULL, decided_by = NULL, decided_ip = NULL,
                        decided_user_agent = NULL, decline_reason = NULL
                 WHERE id = ?1 AND status = ?2 AND decided_at = ?3",
                &[id.into(), status.into(), now.as_str().into()],
            )
            .await?;
        return Err(refused);
    }
    let about = About { workspace: Some(&quote.workspace_id), device: None, ticket: Some(&ticket) };
    let (quote_id, total, by) = (id.to_owned(), quote.total_cents, who.id.clone());
    if approve {
        events::publish(call, about, &QuoteApproved { quote_id, total, by }).await?;
    } else {
        events::publish(call, about, &QuoteDeclined { quote_id, total, by }).await?;
    }
    let decided = visible_quote(call, &who, id).await?;
    http::ok(&decided.view()?)
}
