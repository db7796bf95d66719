//! Quotes end to end: a technician prices a ticket, the customer approves or declines,
//! and the ticket follows — against the real `pricing` and `main` workers.

use std::sync::OnceLock;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("quotes"))
}

/// A ticket of `customer`'s, moved by `tech` to DIAGNOSTICS.
fn ticket_in_diagnostics(p: &Platform, customer: &str, tech: &str) -> String {
    let r = authed(p, "POST", "/api/v1/tickets", customer, Some(&json!({ "title": "No power" })));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_owned();
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        let m = authed(p, "POST", &format!("/api/v1/tickets/{id}/status"), tech, Some(&json!({ "to": to })));
        assert_eq!(m.status, 200, "{}", m.text());
    }
    id
}

fn issue(p: &Platform, tech: &str, ticket: &str) -> Value {
    let body = json!({
        "ticket_id": ticket, "complexity": "complex", "estimated_minutes": 45, "urgency": "priority",
        "parts": [{ "name": "DC jack", "cost_cents": 1200, "quantity": 1 }],
    });
    let r = authed(p, "POST", "/api/v1/pricing/estimate", tech, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn status(p: &Platform, token: &str, ticket: &str) -> String {
    let view = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), token, None).json();
    view["ticket"]["status"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_quote_explains_itself_and_the_customers_approval_moves_the_ticket() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("payer")));
    let tech = access(&technician(p));
    let ticket = ticket_in_diagnostics(p, &customer, &tech);
    let quote = issue(p, &tech, &ticket);
    for field in ["quote_id", "total", "currency", "estimated_time_minutes", "guarantee_days", "expires_at"] {
        assert!(!quote[field].is_null(), "{field} in {quote}");
    }
    let b = &quote["breakdown"];
    let sum = ["diagnostic", "labor", "parts", "urgency_fee"].iter().map(|k| b[*k].as_i64().unwrap_or(0)).sum::<i64>()
        - b["discount"].as_i64().unwrap_or(0)
        + b["tax"].as_i64().unwrap_or(0);
    assert_eq!(quote["total"].as_i64(), Some(sum), "the breakdown adds up: {quote}");
    let factors: Vec<&str> = quote["explanation"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["factor"].as_str()).collect())
        .unwrap_or_default();
    for f in ["complexity", "parts", "urgency", "tax"] {
        assert!(factors.contains(&f), "{f} explained: {factors:?}");
    }
    assert_eq!(status(p, &customer, &ticket), "AWAITING_APPROVAL");
    let id = quote["quote_id"].as_str().expect("quote id").to_owned();

    // The technician cannot approve for the customer; another customer cannot even see it.
    let other = access(&sign_in(p, &unique_email("other")));
    assert_eq!(authed(p, "GET", &format!("/api/v1/pricing/quotes/{id}"), &other, None).status, 404);
    assert_eq!(authed(p, "POST", &format!("/api/v1/pricing/quotes/{id}/approve"), &tech, None).status, 403);

    let headers = [("authorization", &*format!("Bearer {customer}")), ("user-agent", "QuoteTest/1.0")];
    let approved = request("POST", &p.url(&format!("/api/v1/pricing/quotes/{id}/approve")), &headers, None);
    assert_eq!(approved.status, 200, "{}", approved.text());
    assert_eq!(approved.json()["status"], "approved");
    assert_eq!(status(p, &customer, &ticket), "APPROVED");
    let again = authed(p, "POST", &format!("/api/v1/pricing/quotes/{id}/approve"), &customer, None);
    assert_eq!(again.status, 409);
    let stored = d1_query(&p.state, &format!("SELECT decided_at, decided_user_agent FROM quotes WHERE id = '{id}'"));
    assert_eq!(stored[0]["decided_user_agent"], "QuoteTest/1.0");
    assert!(stored[0]["decided_at"].is_string());
}

#[test]
fn a_declined_quote_sends_the_ticket_back_and_an_expired_one_cannot_be_approved() {
    // Its own platform: it writes to D1 behind the workers' backs.
    let p = &Platform::fresh("quotes-expiry");
    let customer = access(&sign_in(p, &unique_email("decliner")));
    let tech = access(&technician(p));
    let ticket = ticket_in_diagnostics(p, &customer, &tech);
    let id = issue(p, &tech, &ticket)["quote_id"].as_str().expect("id").to_owned();
    let no_reason = authed(p, "POST", &format!("/api/v1/pricing/quotes/{id}/decline"), &customer, Some(&json!({})));
    assert_eq!(no_reason.status, 400);
    assert_eq!(no_reason.json()["error"]["field"], "reason");
    let declined = authed(
        p,
        "POST",
        &format!("/api/v1/pricing/quotes/{id}/decline"),
        &customer,
        Some(&json!({ "reason": "Too expensive" })),
    );
    assert_eq!(declined.status, 200, "{}", declined.text());
    assert_eq!(declined.json()["decline_reason"], "Too expensive");
    assert_eq!(status(p, &customer, &ticket), "DIAGNOSTICS");

    let second = issue(p, &tech, &ticket)["quote_id"].as_str().expect("id").to_owned();
    d1_execute(p, &format!("UPDATE quotes SET expires_at_secs = 1 WHERE id = '{second}'"));
    let late = authed(p, "POST", &format!("/api/v1/pricing/quotes/{second}/approve"), &customer, None);
    assert_eq!(late.status, 409, "{}", late.text());
    assert!(late.text().contains("expired"));
    assert_eq!(status(p, &customer, &ticket), "AWAITING_APPROVAL");
}

#[test]
fn quotes_only_come_from_diagnostics_and_bad_input_names_the_field() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("early")));
    let tech = access(&technician(p));
    let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Fan noise" })));
    let ticket = r.json()["id"].as_str().expect("id").to_owned();
    let early = authed(
        p,
        "POST",
        "/api/v1/pricing/estimate",
        &tech,
        Some(&json!({ "ticket_id": ticket, "complexity": "simple", "estimated_minutes": 30 })),
    );
    assert_eq!(early.status, 409, "{}", early.text());
    let bad = authed(
        p,
        "POST",
        "/api/v1/pricing/estimate",
        &tech,
        Some(&json!({ "complexity": "simple", "estimated_minutes": 0 })),
    );
    assert_eq!(bad.json()["error"]["field"], "estimated_minutes");
    let missing = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&json!({ "estimated_minutes": 30 })));
    assert_eq!(missing.json()["error"]["field"], "complexity");
    let customer_issue = authed(
        p,
        "POST",
        "/api/v1/pricing/estimate",
        &customer,
        Some(&json!({ "ticket_id": ticket, "complexity": "simple", "estimated_minutes": 30 })),
    );
    assert_eq!(customer_issue.status, 403);
    let packages = authed(p, "GET", "/api/v1/pricing/packages", &customer, None);
    assert_eq!(packages.status, 200, "{}", packages.text());
    assert!(packages.json()["packages"].as_array().is_some_and(|p| !p.is_empty()));
}
