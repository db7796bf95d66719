//! Paying for a repair, end to end: the approved quote becomes an invoice and a Stripe
//! Checkout Session (Stripe stand-in on loopback, spoken to in Stripe's wire format), and
//! the webhook — signed exactly as Stripe signs — marks it paid and awards points once.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use noizylab_tests::*;
use serde_json::{json, Value};

struct Shop {
    platform: Platform,
    stripe: StandIn,
}

fn shop() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let stripe = StandIn::start(stripe::reply);
        let url = stripe.url();
        let platform = Platform::fresh_with(
            "payments",
            &[
                ("NOIZYLAB_STRIPE_BASE_URL", url.as_str()),
                ("NOIZYLAB_STRIPE_SECRET_KEY", "sk_test_noizylab"),
                ("NOIZYLAB_STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
            ],
        );
        Shop { platform, stripe }
    })
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn deliver(p: &Platform, body: &str, signature: &str) -> Reply {
    let headers = [("content-type", "application/json"), ("stripe-signature", signature)];
    request("POST", &p.url("/api/v1/webhooks/stripe"), &headers, Some(body.as_bytes()))
}

/// A customer with an approved quote on a ticket: (customer token, ticket id, quote).
fn approved_quote(p: &Platform) -> (String, String, Value) {
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let customer = access(&sign_in(p, &unique_email("payer")));
    let device =
        authed(p, "POST", "/api/v1/devices/register", &customer, Some(&json!({ "name": "Laptop", "type": "laptop" })));
    assert_eq!(device.status, 201, "{}", device.text());
    let body = json!({ "title": "Hinge broken", "device_id": device.json()["id"] });
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&body)).json();
    let ticket = t["id"].as_str().expect("ticket").to_owned();
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": to })));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let q = authed(
        p,
        "POST",
        "/api/v1/pricing/estimate",
        &owner,
        Some(&json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 60 })),
    );
    assert_eq!(q.status, 201, "{}", q.text());
    let quote = q.json();
    let id = quote["quote_id"].as_str().expect("quote").to_owned();
    let a = authed(p, "POST", &format!("/api/v1/pricing/quotes/{id}/approve"), &customer, None);
    assert_eq!(a.status, 200, "{}", a.text());
    (customer, ticket, quote)
}

fn completed_event(event_id: &str, invoice: &str, amount: i64) -> String {
    json!({
        "id": event_id, "object": "event", "type": "checkout.session.completed", "api_version": "2024-06-20",
        "data": { "object": {
            "id": format!("cs_test_{invoice}"), "object": "checkout.session", "client_reference_id": invoice,
            "metadata": { "invoice_id": invoice }, "payment_status": "paid", "status": "complete",
            "amount_total": amount, "currency": "cad", "payment_intent": "pi_test_1",
        }},
    })
    .to_string()
}

#[test]
fn a_customer_pays_through_checkout_and_a_repeated_webhook_credits_once() {
    let Shop { platform: p, stripe } = shop();
    let (customer, _ticket, quote) = approved_quote(p);
    let quote_id = quote["quote_id"].as_str().expect("id");
    let total = quote["total"].as_i64().expect("total");

    let c = authed(p, "POST", "/api/v1/payments/checkout", &customer, Some(&json!({ "quote_id": quote_id })));
    assert_eq!(c.status, 201, "{}", c.text());
    let c = c.json();
    let invoice = c["invoice_id"].as_str().expect("invoice").to_owned();
    assert!(c["checkout_url"].as_str().is_some_and(|u| u.starts_with("https://checkout.stripe.test/")));

    // What Stripe received: its wire format, our secret key, an idempotency key.
    let sent = stripe
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/checkout/sessions" && String::from_utf8_lossy(&r.body).contains(&invoice))
        .expect("a session request for this invoice");
    assert_eq!(sent.header("authorization"), Some("Bearer sk_test_noizylab"));
    assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(sent.header("idempotency-key").is_some());
    let form = String::from_utf8_lossy(&sent.body).to_string();
    assert!(form.contains(&format!("line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D={total}")), "{form}");
    assert!(form.contains("mode=payment") && form.contains(&format!("client_reference_id={invoice}")), "{form}");

    let body = completed_event("evt_paid_1", &invoice, total);
    let first = deliver(p, &body, &stripe::signature(stripe::WEBHOOK_SECRET, unix_now(), &body));
    assert_eq!(first.status, 200, "{}", first.text());
    let again = deliver(p, &body, &stripe::signature(stripe::WEBHOOK_SECRET, unix_now(), &body));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["duplicate"], true);

    let invoices = authed(p, "GET", "/api/v1/invoices", &customer, None).json();
    assert_eq!(invoices["invoices"][0]["status"], "paid");
    let loyalty = authed(p, "GET", "/api/v1/loyalty", &customer, None).json();
    assert_eq!(loyalty["points"], total / 100, "one point per dollar, once: {loyalty}");
    assert_eq!(loyalty["history"].as_array().map(Vec::len), Some(1));
    let paid_again = authed(p, "POST", "/api/v1/payments/checkout", &customer, Some(&json!({ "quote_id": quote_id })));
    assert_eq!(paid_again.status, 409);
}

#[test]
fn forged_stale_and_mismatched_webhooks_are_refused_with_400() {
    let Shop { platform: p, .. } = shop();
    let (customer, _ticket, quote) = approved_quote(p);
    let quote_id = quote["quote_id"].as_str().expect("id");
    let c = authed(p, "POST", "/api/v1/payments/checkout", &customer, Some(&json!({ "quote_id": quote_id }))).json();
    let invoice = c["invoice_id"].as_str().expect("invoice").to_owned();
    let total = quote["total"].as_i64().expect("total");
    let body = completed_event("evt_forged", &invoice, total);

    let wrong_key = deliver(p, &body, &stripe::signature("whsec_someone_else", unix_now(), &body));
    assert_eq!(wrong_key.status, 400, "{}", wrong_key.text());
    let stale = deliver(p, &body, &stripe::signature(stripe::WEBHOOK_SECRET, unix_now() - 301, &body));
    assert_eq!(stale.status, 400);
    assert!(stale.text().contains("tolerance"));
    let tampered = body.replace(&total.to_string(), "1");
    let signed_other = deliver(p, &tampered, &stripe::signature(stripe::WEBHOOK_SECRET, unix_now(), &body));
    assert_eq!(signed_other.status, 400);
    assert_eq!(deliver(p, &body, "").status, 400);
    // A genuine event whose amount does not match the invoice settles nothing.
    let short = completed_event("evt_short", &invoice, total - 1);
    let r = deliver(p, &short, &stripe::signature(stripe::WEBHOOK_SECRET, unix_now(), &short));
    assert_eq!(r.status, 400, "{}", r.text());
    let invoices = authed(p, "GET", "/api/v1/invoices", &customer, None).json();
    assert_eq!(invoices["invoices"][0]["status"], "open");
    let loyalty = authed(p, "GET", "/api/v1/loyalty", &customer, None).json();
    assert_eq!(loyalty["points"], 0);
}
