//! The customer portal in a real browser: Debian's Chromium, headless, driven by
//! `tests/browser/portal.mjs` (playwright-core). A customer signs in through the dev
//! outbox, sees their ticket, approves the quote, and watches the status change the
//! technician makes appear without reloading; then the owner's workbench shows the board
//! and the ticket's live room, and a note sent there appears in it. The customer asks the
//! chat assistant, asks for a person, and the technician joins from the workbench and
//! answers in the same conversation. Screenshots:
//! `target/screenshots/portal/`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use noizylab_tests::*;
use serde_json::json;

#[test]
fn a_customer_approves_a_quote_and_sees_the_repair_move_live_in_chromium() {
    let p = Platform::fresh("browser");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let email = unique_email("browser");
    // The customer's account exists once they have signed in; the browser signs in again.
    let customer = access(&sign_in(&p, &email));
    let device = authed(
        &p,
        "POST",
        "/api/v1/devices/register",
        &customer,
        Some(&json!({ "name": "Studio laptop", "type": "laptop" })),
    );
    assert_eq!(device.status, 201);
    let t = authed(
        &p,
        "POST",
        "/api/v1/tickets",
        &customer,
        Some(&json!({ "title": "Fans roar, then it shuts down", "device_id": device.json()["id"] })),
    );
    assert_eq!(t.status, 201, "{}", t.text());
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        assert_eq!(
            authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": to }))).status,
            200
        );
    }
    let q = authed(
        &p,
        "POST",
        "/api/v1/pricing/estimate",
        &owner,
        Some(&json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 90,
                      "parts": [{ "name": "Fan assembly", "cost_cents": 2400, "quantity": 1 }] })),
    );
    assert_eq!(q.status, 201, "{}", q.text());

    let shots = repo().join("target/screenshots/portal");
    let _ = std::fs::remove_dir_all(&shots);
    let mut child = Command::new("node")
        .arg(repo().join("tests/browser/portal.mjs"))
        .env("BASE", &p.base)
        .env("EMAIL", &email)
        .env("TICKET", &ticket)
        .env("SHOTS", &shots)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node tests/browser/portal.mjs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok);

    assert_eq!(lines.next().as_deref(), Some("approved"), "the browser approved the quote");
    let view = authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).json();
    assert_eq!(view["ticket"]["status"], "APPROVED", "the approval reached the ticket");
    let r =
        authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "IN_REPAIR" })));
    assert_eq!(r.status, 200, "{}", r.text());
    writeln!(stdin, "moved").expect("tell the browser");
    assert_eq!(lines.next().as_deref(), Some("live-ok"), "the page showed IN_REPAIR without a reload");
    assert_eq!(lines.next().as_deref(), Some("done"));
    let status = child.wait().expect("browser script");
    assert!(status.success(), "the browser script failed");
    for name in [
        "01-sign-in",
        "02-tickets",
        "03-ticket-quote",
        "04-approved",
        "05-live-status",
        "06-devices",
        "07-loyalty",
        "08-account",
        "10-chat",
        "11-workbench-chat",
        "12-chat-answered",
    ] {
        let file = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {} was saved", file.display());
    }
}

#[test]
fn the_api_reference_renders_every_operation_in_chromium_from_this_site_only() {
    let p = Platform::fresh("browser-docs");
    let shots = repo().join("target/screenshots/docs");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(repo().join("tests/browser/docs.mjs"))
        .env("BASE", &p.base)
        .env("SHOTS", &shots)
        .output()
        .expect("node tests/browser/docs.mjs");
    p.stop();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("rendered "), "{said}");
    let size = std::fs::metadata(shots.join("api-reference.png")).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "the reference's screenshot was saved");
}
