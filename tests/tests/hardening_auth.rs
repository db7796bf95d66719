//! Attacks on sign-in, the gateway and the shipped routes (issue 9), each performed end to
//! end against the real workers: a concurrent code-guessing burst, a crashing date, a body
//! far over the cap, a stranger locking an owner out, a quote approved on a ticket that
//! cannot take it, an unbounded audit walk, a non-Latin file name, and development routes
//! open by default.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("hardening-auth"))
}

/// Asks for a sign-in code for `email` from address `ip`: (challenge, code).
fn code_for(p: &Platform, email: &str, ip: &str) -> (String, String) {
    let asked = request_from(p, ip, "/api/v1/auth/magic-link", &json!({ "email": email }));
    assert_eq!(asked.status, 202, "{}", asked.text());
    let (_, code) = from_outbox(p, email);
    (challenge(&asked), code)
}

/// A JSON POST as if from the client address `ip` (the edge sets `CF-Connecting-IP`).
fn request_from(p: &Platform, ip: &str, path: &str, body: &Value) -> Reply {
    let bytes = body.to_string().into_bytes();
    let headers = [("content-type", "application/json"), ("cf-connecting-ip", ip)];
    request("POST", &p.url(path), &headers, Some(&bytes))
}

fn a_wrong_code(right: &str, n: u32) -> String {
    let right: u32 = right.parse().expect("six digits");
    format!("{:06}", (right + 1 + n) % 1_000_000)
}

#[test]
fn forty_concurrent_guesses_evaluate_at_most_five_and_none_fails_with_5xx() {
    let p = platform();
    let email = unique_email("burst");
    let (challenge, code) = code_for(p, &email, "198.51.100.1");
    let start = Arc::new(Barrier::new(39));
    let statuses: Vec<u16> = (0..39)
        .map(|n| {
            let (start, email, challenge, url) = (start.clone(), email.clone(), challenge.clone(), p.url(""));
            let guess = a_wrong_code(&code, n);
            std::thread::spawn(move || {
                start.wait();
                let body = json!({ "email": email, "code": guess, "challenge": challenge });
                send_json("POST", &format!("{url}/api/v1/auth/login"), &body).status
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("guess thread"))
        .collect();
    assert!(statuses.iter().all(|s| *s == 401), "every wrong guess is a 401, none a 5xx: {statuses:?}");
    let right = login(p, &email, &code, &challenge);
    assert_eq!(right.status, 401, "the right code is refused once five guesses were spent: {}", right.text());
    let attempts = d1_query(&p.state, &format!("SELECT attempts FROM magic_links WHERE email = '{email}'"));
    assert_eq!(attempts, vec![json!({ "attempts": 5 })], "at most five guesses were evaluated");
    let failed = d1_query(
        &p.state,
        &format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'auth.verify_failed' AND target = '{email}'"),
    );
    assert_eq!(failed[0]["n"], 40, "every refusal was audited, none lost");
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let verified = authed(p, "GET", "/api/v1/audit/verify", &owner, None).json();
    assert_eq!(verified["ok"], true, "{verified}");
}

#[test]
fn thirty_people_signing_in_at_once_all_get_in() {
    let p = platform();
    let people: Vec<(String, String, String)> = (0..30)
        .map(|n| {
            let email = unique_email(&format!("crowd{n}"));
            let (challenge, code) = code_for(p, &email, "198.51.100.2");
            (email, challenge, code)
        })
        .collect();
    let start = Arc::new(Barrier::new(people.len()));
    let statuses: Vec<(u16, String)> = people
        .into_iter()
        .map(|(email, challenge, code)| {
            let (start, url) = (start.clone(), p.url("/api/v1/auth/login"));
            std::thread::spawn(move || {
                start.wait();
                let r = send_json("POST", &url, &json!({ "email": email, "code": code, "challenge": challenge }));
                (r.status, r.text())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("sign-in thread"))
        .collect();
    assert!(statuses.iter().all(|(s, _)| *s == 200), "auditing never fails a sign-in: {statuses:?}");
}

#[test]
fn a_code_works_only_for_whoever_asked_for_it() {
    let p = platform();
    let email = unique_email("bound");
    let (challenge, code) = code_for(p, &email, "198.51.100.3");
    let unbound = send_json("POST", &p.url("/api/v1/auth/login"), &json!({ "email": email, "code": code }));
    assert_eq!((unbound.status, unbound.json()["error"]["field"].clone()), (400, json!("challenge")));
    // A stranger asks for a code of their own for the same address and guesses with it:
    // they spend their own code's attempts, never the owner's.
    let stranger = request_from(p, "203.0.113.50", "/api/v1/auth/magic-link", &json!({ "email": email }));
    let theirs = challenge_of(&stranger);
    for n in 0..7 {
        assert_eq!(login(p, &email, &a_wrong_code(&code, n), &theirs).status, 401);
    }
    assert_eq!(login(p, &email, &code, "made-up-challenge").status, 401);
    let owners = d1_query(
        &p.state,
        &format!("SELECT attempts FROM magic_links WHERE email = '{email}' AND ip = '198.51.100.3'"),
    );
    assert_eq!(owners, vec![json!({ "attempts": 0 })]);
    // The owner's code was mailed before the stranger's, so it is not the newest: it still works.
    let r = login(p, &email, &code, &challenge);
    assert_eq!(r.status, 200, "{}", r.text());
}

fn challenge_of(asked: &Reply) -> String {
    assert_eq!(asked.status, 202, "{}", asked.text());
    challenge(asked)
}

#[test]
fn a_stranger_cannot_lock_an_owner_out_of_signing_in() {
    // Its own platform with the production limits: 5 requests per address and requester,
    // 20 per requester, 20 per address from requesters it has not signed in from.
    let p = Platform::fresh_with(
        "lockout",
        &[
            ("NOIZYLAB_SIGNIN_LINKS_PER_EMAIL", "5"),
            ("NOIZYLAB_SIGNIN_LINKS_PER_IP", "20"),
            ("NOIZYLAB_SIGNIN_LINKS_PER_ADDRESS", "20"),
        ],
    );
    let victim = unique_email("victim");
    let home = "198.51.100.77";
    let (challenge, code) = code_for(&p, &victim, home);
    assert_eq!(login(&p, &victim, &code, &challenge).status, 200, "the owner signed in from home before");

    // One stranger: five requests, then held — the owner is not.
    let ask = |ip: &str| request_from(&p, ip, "/api/v1/auth/magic-link", &json!({ "email": victim })).status;
    for _ in 0..5 {
        assert_eq!(ask("203.0.113.1"), 202);
    }
    assert_eq!(ask("203.0.113.1"), 429, "a requester's own limit for one address");
    // More strangers use up the address's allowance for strangers…
    let mut spent = 1 + 5;
    'strangers: for host in 2..10 {
        for _ in 0..5 {
            if spent >= 20 {
                break 'strangers;
            }
            assert_eq!(ask(&format!("203.0.113.{host}")), 202);
            spent += 1;
        }
    }
    assert_eq!(ask("203.0.113.99"), 429, "the address's allowance for strangers is spent");
    // …but never the owner's: from where they signed in before, they still get a code.
    let (challenge, code) = code_for(&p, &victim, home);
    let back = login(&p, &victim, &code, &challenge);
    assert_eq!(back.status, 200, "{}", back.text());
}

#[test]
fn a_short_or_malformed_due_date_is_a_400_and_the_worker_keeps_answering() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("dates")));
    for junk in ["x", "", "2026", "2026-1", "2026-13-45", "2026-02-30", "é", "2026-12-01T", "😀😀😀😀😀😀"]
    {
        let body = json!({ "title": "Cracked screen", "due_at": junk });
        let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&body));
        assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("due_at")), "{junk:?}: {}", r.text());
    }
    let ok = json!({ "title": "Cracked screen", "due_at": "2026-12-01T17:00:00+01:00" });
    let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&ok));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["due_at"], "2026-12-01T16:00:00Z", "stored in one canonical form");
    assert_eq!(authed(p, "GET", "/api/v1/tickets", &customer, None).status, 200);
}

/// Streams a chunked body of up to `total` bytes to `path` over a bare connection; the
/// answer's status and how many bytes had been sent when it arrived.
fn stream_chunked(port: u16, path: &str, total: usize) -> (u16, usize) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    let sent = Arc::new(AtomicUsize::new(0));
    let mut writer = stream.try_clone().expect("clone");
    let counter = sent.clone();
    let feeder = std::thread::spawn(move || {
        let chunk = vec![b'a'; 64 * 1024];
        let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
        while counter.load(Ordering::SeqCst) < total {
            if writer.write_all(&framed).is_err() {
                return;
            }
            counter.fetch_add(64 * 1024, Ordering::SeqCst);
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut first = [0u8; 12];
    let status = match stream.read_exact(&mut first) {
        Ok(()) => String::from_utf8_lossy(&first[9..12]).parse().unwrap_or(0),
        Err(_) => 0,
    };
    let at_answer = sent.load(Ordering::SeqCst);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = feeder.join();
    (status, at_answer)
}

#[test]
fn a_chunked_body_far_over_the_cap_is_refused_as_it_streams_in() {
    let p = platform();
    let total = 150 * 1024 * 1024;
    for path in ["/portal/x", "/api/v1/tickets"] {
        let (status, sent) = stream_chunked(p.port, path, total);
        assert_eq!(status, 413, "{path}");
        assert!(sent < 48 * 1024 * 1024, "{path}: answered after {sent} bytes, so the body was read whole first");
    }
    assert_eq!(get(&p.url("/api/v1/health")).status, 200, "the gateway is still answering");
}

#[test]
fn portal_pages_and_the_health_fan_out_are_limited_per_address() {
    let p = Platform::fresh_with("anon-portal", &[("NOIZYLAB_ANON_RATE_LIMIT", "5")]);
    let from = |ip: &str, path: &str| request("GET", &p.url(path), &[("cf-connecting-ip", ip)], None);
    for _ in 0..5 {
        assert_eq!(from("192.0.2.10", "/portal/").status, 200);
    }
    let held = from("192.0.2.10", "/portal/");
    assert_eq!(held.status, 429, "{}", held.text());
    assert!(held.header("retry-after").is_some());
    for _ in 0..5 {
        assert_eq!(from("192.0.2.11", "/api/v1/health").status, 200);
    }
    assert_eq!(from("192.0.2.11", "/api/v1/health").status, 429, "17 probes per call are not free");
    assert_eq!(from("192.0.2.12", "/portal/").status, 200, "another address is not held");
}

#[test]
fn an_unknown_workspace_at_sign_in_is_answered_like_a_known_one() {
    let p = platform();
    let email = unique_email("wsprobe");
    let known = send_json("POST", &p.url("/api/v1/auth/magic-link"), &json!({ "email": email }));
    let unknown =
        send_json("POST", &p.url("/api/v1/auth/magic-link"), &json!({ "email": email, "workspace_id": "ws-nope" }));
    assert_eq!((known.status, unknown.status), (202, 202));
    assert_eq!(known.json()["message"], unknown.json()["message"]);
    assert!(unknown.json()["challenge"].is_string());
    let links = d1_query(&p.state, &format!("SELECT workspace_id FROM magic_links WHERE email = '{email}'"));
    assert_eq!(links, vec![json!({ "workspace_id": "ws-default" })], "no link into a workspace that does not exist");
}

#[test]
fn the_audit_chain_is_verified_in_bounded_pages() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let whole = authed(p, "GET", "/api/v1/audit/verify", &owner, None).json();
    assert_eq!((whole["ok"].clone(), whole["complete"].clone()), (json!(true), json!(true)), "{whole}");
    let mut from = 1;
    let mut pages = 0;
    loop {
        let page = authed(p, "GET", &format!("/api/v1/audit/verify?from={from}&limit=2"), &owner, None).json();
        assert_eq!(page["ok"], true, "{page}");
        assert!(page["entries"].as_i64().is_some_and(|n| n <= 2), "{page}");
        pages += 1;
        match page["next_from"].as_i64() {
            Some(next) => from = next,
            None => break,
        }
    }
    assert!(pages >= 2, "a chain of several entries takes several pages of two");
    let too_many = authed(p, "GET", "/api/v1/audit/verify?limit=100000", &owner, None);
    assert_eq!((too_many.status, too_many.json()["error"]["field"].clone()), (400, json!("limit")));
}

#[test]
fn a_file_with_a_non_latin_name_downloads_with_a_safe_header() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("cyrillic")));
    let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Board photo" })));
    let ticket = r.json()["id"].as_str().expect("id").to_owned();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 64]);
    let bearer = format!("Bearer {customer}");
    let headers = [("authorization", bearer.as_str()), ("content-type", "image/png")];
    // "схема 日本.png", percent-encoded in the query.
    let name = "%D1%81%D1%85%D0%B5%D0%BC%D0%B0%20%E6%97%A5%E6%9C%AC.png";
    let url = p.url(&format!("/api/v1/tickets/{ticket}/attachments?filename={name}"));
    let up = request("POST", &url, &headers, Some(&png));
    assert_eq!(up.status, 201, "{}", up.text());
    let id = up.json()["id"].as_str().expect("id").to_owned();
    let got = authed(p, "GET", &format!("/api/v1/tickets/{ticket}/attachments/{id}"), &customer, None);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, png);
    let disposition = got.header("content-disposition").expect("content-disposition");
    assert!(disposition.contains(&format!("filename*=UTF-8''{name}")), "{disposition}");
}

#[test]
fn a_quote_is_not_approved_when_its_ticket_cannot_take_it() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("voided")));
    let tech = access(&technician(p));
    let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "No power" })));
    let ticket = r.json()["id"].as_str().expect("id").to_owned();
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        let m = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &tech, Some(&json!({ "to": to })));
        assert_eq!(m.status, 200, "{}", m.text());
    }
    let body = json!({
        "ticket_id": ticket, "complexity": "simple", "estimated_minutes": 30, "urgency": "standard",
        "parts": [{ "name": "DC jack", "cost_cents": 1200, "quantity": 1 }],
    });
    let quote = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&body));
    assert_eq!(quote.status, 201, "{}", quote.text());
    let quote = quote.json()["quote_id"].as_str().expect("quote_id").to_owned();
    let void = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &tech, Some(&json!({ "to": "VOID" })));
    assert_eq!(void.status, 200, "{}", void.text());

    let approve = authed(p, "POST", &format!("/api/v1/pricing/quotes/{quote}/approve"), &customer, None);
    assert_eq!(approve.status, 409, "{}", approve.text());
    let shown = authed(p, "GET", &format!("/api/v1/pricing/quotes/{quote}"), &customer, None).json();
    assert_eq!(shown["status"], "issued", "the refused approval was rolled back: {shown}");
}

#[test]
fn production_is_the_default_and_development_routes_are_closed_there() {
    let p = Platform::fresh_with("production", &[("NOIZYLAB_ENVIRONMENT", "production")]);
    let outbox = get(&p.url("/api/v1/notifications/dev/outbox"));
    assert_eq!(outbox.status, 404, "{}", outbox.text());
    let publish = send_json("POST", &p.url("/api/v1/dev/events"), &json!({ "event": "ticket.created" }));
    assert_eq!(publish.status, 404, "{}", publish.text());
    let kv = request("PUT", &p.url("/api/v1/dev/kv/x"), &[], Some(b"1"));
    assert_eq!(kv.status, 404, "{}", kv.text());
}
