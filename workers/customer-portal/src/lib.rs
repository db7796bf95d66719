//! `noizylab-customer-portal`: the customer web app (`/portal/…`), invoices, Stripe
//! payments and loyalty.
//!
//! Life of a payment: the customer approves a quote → `POST /api/v1/payments/checkout`
//! makes (once) the quote's invoice and a Stripe Checkout Session, and the browser goes to
//! Stripe → Stripe calls `POST /api/v1/webhooks/stripe`; the signature is checked over the
//! raw body, the event id makes a redelivery a no-op, and one D1 batch marks the invoice
//! paid and awards the points → `payment.succeeded` goes on the bus.

mod config;
mod docs;
mod pages;
mod stripe;

use noizylab_core::auth::Scope;
use noizylab_core::events::PaymentSucceeded;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::events::{self, About};
use noizylab_kit::{http, random, serve, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{event, Context, Env, Method, Request, Response};

use config::Config;

const DIR: &str = "customer-portal";

/// Loyalty tiers by lifetime points (one point per whole dollar paid).
const TIERS: [(&str, i64); 4] = [("bronze", 0), ("silver", 500), ("gold", 1500), ("platinum", 5000)];

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    match (req.method(), http::segments(&path).as_slice()) {
        (Method::Get, ["portal"] | ["portal", "sign-in"]) => pages::sign_in(),
        (Method::Get, ["portal", "devices"]) => pages::devices(),
        (Method::Get, ["portal", "tickets"]) => pages::tickets(),
        (Method::Get, ["portal", "tickets", id]) => pages::ticket(plain_id(id)?),
        (Method::Get, ["portal", "loyalty"]) => pages::loyalty(),
        (Method::Get, ["portal", "account"]) => pages::account(),
        (Method::Get, ["portal", "paid"]) => pages::paid(),
        (Method::Get, ["portal", "workbench"]) => pages::workbench(),
        (Method::Get, ["portal", "workflows"]) => pages::workflows(),
        (Method::Get, ["portal", "builder", "cytoscape.min.js"]) => docs::asset(&call, "cytoscape.min.js").await,
        (Method::Get, ["portal", "analytics"]) => pages::analytics(),
        (Method::Get, ["portal", "builder", "chart.umd.min.js"]) => docs::asset(&call, "chart.umd.min.js").await,
        (Method::Get, ["portal", "chat"]) => pages::chat(),
        (Method::Get, ["portal", "guides", id]) => pages::guide(plain_id(id)?),
        (Method::Get, ["portal", "viewer", "model-viewer.min.js"]) => docs::asset(&call, "model-viewer.min.js").await,
        (Method::Get, ["portal", "assets", name]) => pages::asset(name),
        (Method::Get, ["docs"]) => docs::page(),
        (Method::Get, ["docs", "redoc.standalone.js"]) => docs::asset(&call, "redoc.standalone.js").await,
        (Method::Get, ["api", "v1", "openapi.json"]) => docs::asset(&call, "openapi.json").await,
        (Method::Get, ["api", "v1", "invoices"]) => invoices(&call).await,
        (Method::Get, ["api", "v1", "loyalty"]) => loyalty(&call).await,
        (Method::Post, ["api", "v1", "payments", "checkout"]) => checkout(req, &call).await,
        (Method::Post, ["api", "v1", "webhooks", "stripe"]) => webhook(req, &call).await,
        (_, ["api", "v1", "payments", "checkout"] | ["api", "v1", "webhooks", "stripe"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (_, ["portal", ..] | ["api", "v1", "invoices" | "loyalty" | "openapi.json"] | ["docs", ..]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] })
        }
        _ => Err(http::no_route(&req)),
    }
}

fn plain_id(raw: &str) -> ApiResult<&str> {
    let ok = noizylab_core::names::is_plain_id(raw);
    ok.then_some(raw).ok_or_else(|| ApiError::not_found("page"))
}

/// The signed-in person holding `scope`: (user id, workspace). 401 for anyone else (an API
/// key included: everything here is a person's own), 403 (audited) without the scope.
async fn customer(call: &Call, scope: Scope) -> ApiResult<(String, String)> {
    let who = Caller::of(call)?;
    if !who.is_person() {
        return Err(ApiError::Unauthenticated("sign in first (Authorization: Bearer <access token>)".into()));
    }
    who.require(call, scope).await?;
    Ok((who.id, who.workspace))
}

#[derive(Serialize, Deserialize)]
struct Invoice {
    id: String,
    ticket_id: String,
    quote_id: String,
    currency: String,
    amount_cents: i64,
    status: String,
    created_at: String,
    paid_at: Option<String>,
}

/// `GET /api/v1/invoices` (pricing:read): the caller's invoices, newest first.
async fn invoices(call: &Call) -> ApiResult<Response> {
    let (user, ws) = customer(call, Scope::PricingRead).await?;
    let rows: Vec<Invoice> = call
        .sql()?
        .all(
            "SELECT id, ticket_id, quote_id, currency, amount_cents, status, created_at, paid_at FROM invoices
             WHERE workspace_id = ?1 AND customer_id = ?2 ORDER BY created_at DESC",
            &[ws.as_str().into(), user.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "invoices": rows }))
}

#[derive(Deserialize)]
struct Account {
    points: i64,
    lifetime_points: i64,
    tier: String,
}

#[derive(Serialize, Deserialize)]
struct LedgerEntry {
    points: i64,
    reason: String,
    invoice_id: Option<String>,
    at: String,
}

/// `GET /api/v1/loyalty` (pricing:read): points, tier, what the next tier needs, and the
/// history.
async fn loyalty(call: &Call) -> ApiResult<Response> {
    let (user, ws) = customer(call, Scope::PricingRead).await?;
    let db = call.sql()?;
    let account: Option<Account> = db
        .first(
            "SELECT points, lifetime_points, tier FROM loyalty_accounts WHERE workspace_id = ?1 AND user_id = ?2",
            &[ws.as_str().into(), user.as_str().into()],
        )
        .await?;
    let account = account.unwrap_or(Account { points: 0, lifetime_points: 0, tier: "bronze".into() });
    let history: Vec<LedgerEntry> = db
        .all(
            "SELECT points, reason, invoice_id, at FROM loyalty_ledger WHERE workspace_id = ?1 AND user_id = ?2
             ORDER BY id DESC LIMIT 100",
            &[ws.as_str().into(), user.as_str().into()],
        )
        .await?;
    let next = TIERS.iter().find(|(_, at)| *at > account.lifetime_points);
    http::ok(&json!({
        "points": account.points, "lifetime_points": account.lifetime_points, "tier": account.tier,
        "next_tier": next.map(|(name, _)| name),
        "points_to_next_tier": next.map(|(_, at)| at - account.lifetime_points),
        "history": history,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutRequest {
    quote_id: String,
}

#[derive(Deserialize)]
struct ApprovedQuote {
    id: String,
    workspace_id: String,
    ticket_id: String,
    customer_id: String,
    status: String,
    currency: String,
    total_cents: i64,
}

#[derive(Deserialize)]
struct Email {
    email: String,
}

/// `POST /api/v1/payments/checkout {quote_id}`: 201 `{invoice_id, checkout_url}` for the
/// caller's approved quote (tickets:write, as approving it was). The invoice is made once
/// per quote; Stripe gets the invoice id as its idempotency key, so a retried click opens
/// the same session.
async fn checkout(mut req: Request, call: &Call) -> ApiResult<Response> {
    let (user, ws) = customer(call, Scope::TicketsWrite).await?;
    let body: CheckoutRequest = http::read_json(&mut req).await?;
    let config = Config::from_env(&call.env);
    let key = config
        .stripe_secret_key
        .ok_or_else(|| ApiError::Unavailable("payments are not configured: STRIPE_SECRET_KEY is missing".into()))?;
    let db = call.sql()?;
    let quote: Option<ApprovedQuote> = db
        .first(
            "SELECT id, workspace_id, ticket_id, customer_id, status, currency, total_cents FROM quotes
             WHERE id = ?1 AND ticket_id IS NOT NULL",
            &[body.quote_id.as_str().into()],
        )
        .await?;
    let quote = quote
        .filter(|q| q.workspace_id == ws && q.customer_id == user)
        .ok_or_else(|| ApiError::invalid_field("quote_id", "no such quote of yours"))?;
    if quote.status != "approved" {
        return Err(ApiError::Conflict(format!("this quote is {}; approve it before paying", quote.status)));
    }
    let invoice_id = format!("inv_{}", &random::id()?[..24]);
    db.run(
        "INSERT INTO invoices (id, workspace_id, customer_id, ticket_id, quote_id, currency, amount_cents, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8) ON CONFLICT (quote_id) DO NOTHING",
        &[
            invoice_id.as_str().into(),
            ws.as_str().into(),
            user.as_str().into(),
            quote.ticket_id.as_str().into(),
            quote.id.as_str().into(),
            quote.currency.as_str().into(),
            int(quote.total_cents),
            time::now_rfc3339().into(),
        ],
    )
    .await?;
    let invoice: Invoice = db
        .first(
            "SELECT id, ticket_id, quote_id, currency, amount_cents, status, created_at, paid_at FROM invoices
             WHERE quote_id = ?1",
            &[quote.id.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::internal("invoice vanished after insert"))?;
    if invoice.status == "paid" {
        return Err(ApiError::Conflict("this invoice is already paid".into()));
    }
    let email: Option<Email> = db.first("SELECT email FROM users WHERE id = ?1", &[user.as_str().into()]).await?;
    let portal = config
        .portal_url
        .ok_or_else(|| ApiError::Unavailable("payments are not configured: PORTAL_URL is missing".into()))?;
    let base = config.stripe_base_url;
    let session = stripe::create_checkout_session(
        &base,
        &key,
        &stripe::CheckoutSession {
            invoice_id: &invoice.id,
            amount_cents: invoice.amount_cents,
            currency: &invoice.currency,
            description: &format!("Repair {} (quote {})", quote.ticket_id, quote.id),
            customer_email: email.as_ref().map(|e| e.email.as_str()),
            success_url: &format!("{portal}/paid"),
            cancel_url: &format!("{portal}/tickets/{}", quote.ticket_id),
        },
    )
    .await?;
    db.run(
        "UPDATE invoices SET checkout_session = ?2 WHERE id = ?1",
        &[invoice.id.as_str().into(), session.id.as_str().into()],
    )
    .await?;
    http::created(&json!({ "invoice_id": invoice.id, "checkout_url": session.url, "session_id": session.id }))
}

#[derive(Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: StripeData,
}

#[derive(Deserialize)]
struct StripeData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct OpenInvoice {
    id: String,
    workspace_id: String,
    customer_id: String,
    ticket_id: String,
    currency: String,
    amount_cents: i64,
    status: String,
}

/// Notes an event as handled; a concurrent delivery that noted it first is no failure.
async fn record_only(db: &noizylab_kit::db::Db, record: worker::D1PreparedStatement, id: &str) -> ApiResult<()> {
    match db.batch(vec![record]).await {
        Err(_) if seen(db, id).await? => Ok(()),
        other => other,
    }
}

/// Whether the Stripe event `id` has been handled already.
async fn seen(db: &noizylab_kit::db::Db, id: &str) -> ApiResult<bool> {
    let row: Option<serde_json::Value> = db.first("SELECT id FROM stripe_events WHERE id = ?1", &[id.into()]).await?;
    Ok(row.is_some())
}

/// `POST /api/v1/webhooks/stripe`: Stripe's word that a payment happened. 400 for a bad
/// or stale signature; 200 once handled, and 200 again (doing nothing) on redelivery.
async fn webhook(mut req: Request, call: &Call) -> ApiResult<Response> {
    let signing = Config::from_env(&call.env)
        .stripe_webhook_secret
        .ok_or_else(|| ApiError::Unavailable("payments are not configured: STRIPE_WEBHOOK_SECRET is missing".into()))?;
    let header = req.headers().get("stripe-signature").ok().flatten().unwrap_or_default();
    let raw = req.bytes().await.map_err(|_| ApiError::bad_request("the body could not be read"))?;
    noizylab_core::stripe::verify(&signing, &header, &raw, noizylab_kit::call::now_secs())
        .map_err(|e| ApiError::bad_request(e.message()))?;
    let event: StripeEvent = http::parse_json(&raw)?;
    let db = call.sql()?;
    if seen(&db, &event.id).await? {
        return http::ok(&json!({ "received": true, "duplicate": true }));
    }
    let now = time::now_rfc3339();
    let record = db.statement(
        "INSERT INTO stripe_events (id, type, received_at) VALUES (?1, ?2, ?3)",
        &[event.id.as_str().into(), event.kind.as_str().into(), now.as_str().into()],
    )?;
    if event.kind != "checkout.session.completed" {
        record_only(&db, record, &event.id).await?;
        return http::ok(&json!({ "received": true, "ignored": event.kind }));
    }
    let object = &event.data.object;
    let invoice_id = object["client_reference_id"]
        .as_str()
        .or_else(|| object["metadata"]["invoice_id"].as_str())
        .ok_or_else(|| ApiError::bad_request("the session names no invoice (client_reference_id)"))?;
    let invoice: OpenInvoice = db
        .first(
            "SELECT id, workspace_id, customer_id, ticket_id, currency, amount_cents, status FROM invoices WHERE id = ?1",
            &[invoice_id.into()],
        )
        .await?
        .ok_or_else(|| ApiError::bad_request(format!("unknown invoice {invoice_id}")))?;
    let paid = object["payment_status"].as_str() == Some("paid");
    let amount = object["amount_total"].as_i64();
    let currency = object["currency"].as_str().map(str::to_ascii_uppercase);
    if !paid || amount != Some(invoice.amount_cents) || currency.as_deref() != Some(invoice.currency.as_str()) {
        call.log_warn(&format!("stripe event {} does not settle invoice {} as billed", event.id, invoice.id));
        return Err(ApiError::bad_request("the session's payment does not match the invoice"));
    }
    if invoice.status == "paid" {
        record_only(&db, record, &event.id).await?;
        return http::ok(&json!({ "received": true, "already_paid": true }));
    }
    let points = invoice.amount_cents / 100;
    let tier_case = "CASE WHEN lifetime_points >= 5000 THEN 'platinum' WHEN lifetime_points >= 1500 THEN 'gold' \
                     WHEN lifetime_points >= 500 THEN 'silver' ELSE 'bronze' END";
    let batch = vec![
        record,
        db.statement(
            "UPDATE invoices SET status = 'paid', paid_at = ?2, payment_intent = ?3 WHERE id = ?1 AND status = 'open'",
            &[invoice.id.as_str().into(), now.as_str().into(), object["payment_intent"].as_str().unwrap_or("").into()],
        )?,
        db.statement(
            // Only if this batch's UPDATE paid the invoice (a concurrent event may have).
            "INSERT INTO loyalty_ledger (workspace_id, user_id, points, reason, invoice_id, at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE changes() = 1",
            &[
                invoice.workspace_id.as_str().into(),
                invoice.customer_id.as_str().into(),
                int(points),
                format!("repair paid ({})", invoice.id).as_str().into(),
                invoice.id.as_str().into(),
                now.as_str().into(),
            ],
        )?,
        db.statement(
            "INSERT INTO loyalty_accounts (workspace_id, user_id, points, lifetime_points, tier, updated_at)
             SELECT ?1, ?2, ?3, ?3, 'bronze', ?4 WHERE changes() = 1
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET points = points + ?3,
                lifetime_points = lifetime_points + ?3, updated_at = ?4",
            &[
                invoice.workspace_id.as_str().into(),
                invoice.customer_id.as_str().into(),
                int(points),
                now.as_str().into(),
            ],
        )?,
        db.statement(
            &format!("UPDATE loyalty_accounts SET tier = {tier_case} WHERE workspace_id = ?1 AND user_id = ?2"),
            &[invoice.workspace_id.as_str().into(), invoice.customer_id.as_str().into()],
        )?,
    ];
    if let Err(e) = db.batch(batch).await {
        // A concurrent delivery of the same event won the race: its batch did the work.
        if seen(&db, &event.id).await? {
            return http::ok(&json!({ "received": true, "duplicate": true }));
        }
        return Err(e);
    }
    let about = About { workspace: Some(&invoice.workspace_id), device: None, ticket: Some(&invoice.ticket_id) };
    let paid = PaymentSucceeded {
        invoice_id: invoice.id.clone(),
        amount: invoice.amount_cents,
        currency: invoice.currency.clone(),
        customer_id: invoice.customer_id.clone(),
        points,
    };
    events::publish(call, about, &paid).await?;
    http::ok(&json!({ "received": true, "invoice_id": invoice.id, "points": points }))
}
