//! Repair tickets, end to end against the real workers: the lifecycle and its refusals,
//! who sees what, timeline, timers, attachments in R2, search and the board.

use std::sync::OnceLock;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("tickets"))
}

fn open_ticket(p: &Platform, customer: &str, title: &str) -> Value {
    let device =
        authed(p, "POST", "/api/v1/devices/register", customer, Some(&json!({ "name": "Phone", "type": "phone" })));
    assert_eq!(device.status, 201, "{}", device.text());
    let body = json!({ "title": title, "description": "Cracked screen, touch dead in the lower half",
                       "device_id": device.json()["id"] });
    let r = authed(p, "POST", "/api/v1/tickets", customer, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn move_to(p: &Platform, token: &str, id: &str, to: &str) -> Reply {
    authed(
        p,
        "POST",
        &format!("/api/v1/tickets/{id}/status"),
        token,
        Some(&json!({ "to": to, "note": "on the bench" })),
    )
}

#[test]
fn a_ticket_moves_through_its_lifecycle_and_illegal_moves_name_the_allowed_ones() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("cust")));
    let tech = access(&technician(p));
    let ticket = open_ticket(p, &customer, "Screen replacement");
    let id = ticket["id"].as_str().expect("id").to_owned();
    assert_eq!(ticket["status"], "INTAKE");
    assert!(ticket["number"].as_i64().is_some_and(|n| n >= 1));

    // The customer cannot move it; the technician can, one step at a time.
    assert_eq!(move_to(p, &customer, &id, "TRIAGE").status, 403);
    let skip = move_to(p, &tech, &id, "IN_REPAIR");
    assert_eq!(skip.status, 409, "{}", skip.text());
    let err = skip.json();
    assert_eq!(err["error"]["code"], "invalid_transition");
    assert_eq!(err["error"]["allowed"], json!(["TRIAGE", "VOID"]));
    assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains("TRIAGE")));
    assert_eq!(move_to(p, &tech, &id, "TRIAGE").status, 200);
    let r = move_to(p, &tech, &id, "DIAGNOSTICS");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "DIAGNOSTICS");
    // AWAITING_APPROVAL only comes with a quote.
    let quote_move = move_to(p, &tech, &id, "AWAITING_APPROVAL");
    assert_eq!(quote_move.status, 409, "{}", quote_move.text());
    assert_eq!(move_to(p, &tech, &id, "fixed").json()["error"]["field"], "to");

    let view = authed(p, "GET", &format!("/api/v1/tickets/{id}"), &customer, None).json();
    let moves: Vec<(Value, Value)> = view["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter(|e| e["kind"] == "status")
                .map(|e| (e["from_status"].clone(), e["to_status"].clone()))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(moves, [(json!("INTAKE"), json!("TRIAGE")), (json!("TRIAGE"), json!("DIAGNOSTICS"))]);

    assert_eq!(move_to(p, &tech, &id, "VOID").status, 200);
    let dead = move_to(p, &tech, &id, "TRIAGE");
    assert_eq!(dead.status, 409);
    assert_eq!(dead.json()["error"]["allowed"], json!([]));

    // Each change went out on the bus.
    let events = eventually(std::time::Duration::from_secs(15), "ticket events logged", || {
        let rows = d1_query(&p.state, &format!("SELECT event FROM event_log WHERE ticket_id = '{id}'"));
        (rows.len() >= 4).then_some(rows)
    });
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(names.contains(&"ticket.created") && names.contains(&"ticket.status_changed"), "{names:?}");
}

#[test]
fn a_customer_sees_only_their_tickets_and_never_an_internal_note() {
    let p = platform();
    let alice = access(&sign_in(p, &unique_email("alice")));
    let bob = access(&sign_in(p, &unique_email("bob")));
    let tech = access(&technician(p));
    let ticket = open_ticket(p, &alice, "Battery swells");
    let id = ticket["id"].as_str().expect("id").to_owned();

    assert_eq!(authed(p, "GET", &format!("/api/v1/tickets/{id}"), &bob, None).status, 404);
    let listed = authed(p, "GET", "/api/v1/tickets", &bob, None).json();
    assert!(listed["tickets"].as_array().is_some_and(|t| t.iter().all(|t| t["id"] != id.as_str())));
    let sneaky = authed(p, "POST", &format!("/api/v1/tickets/{id}/messages"), &bob, Some(&json!({ "body": "hi" })));
    assert_eq!(sneaky.status, 404);

    let note = "Customer dropped it, swelling is impact damage";
    let r = authed(p, "POST", &format!("/api/v1/tickets/{id}/notes"), &tech, Some(&json!({ "body": note })));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        authed(p, "POST", &format!("/api/v1/tickets/{id}/notes"), &alice, Some(&json!({ "body": "x" }))).status,
        403
    );
    let msg = authed(
        p,
        "POST",
        &format!("/api/v1/tickets/{id}/messages"),
        &tech,
        Some(&json!({ "body": "We have your phone" })),
    );
    assert_eq!(msg.status, 201);

    let seen = authed(p, "GET", &format!("/api/v1/tickets/{id}"), &alice, None);
    assert_eq!(seen.status, 200);
    assert!(!seen.text().contains("impact damage"), "internal notes stay internal");
    assert!(seen.text().contains("We have your phone"));
    let staff_view = authed(p, "GET", &format!("/api/v1/tickets/{id}"), &tech, None);
    assert!(staff_view.text().contains("impact damage"));
    assert_eq!(authed(p, "GET", "/api/v1/tickets/board", &alice, None).status, 403);
}

#[test]
fn opening_a_ticket_twice_with_one_idempotency_key_creates_one() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("twice")));
    let bearer = format!("Bearer {customer}");
    let body = json!({ "title": "Keyboard sticky" }).to_string();
    let send = || {
        let headers =
            [("authorization", bearer.as_str()), ("content-type", "application/json"), ("idempotency-key", "tk-1")];
        request("POST", &p.url("/api/v1/tickets"), &headers, Some(body.as_bytes()))
    };
    let first = send();
    assert_eq!(first.status, 201, "{}", first.text());
    let second = send();
    assert_eq!(second.status, 201);
    assert_eq!(second.json()["id"], first.json()["id"]);
    let mine = authed(p, "GET", "/api/v1/tickets", &customer, None).json();
    assert_eq!(mine["tickets"].as_array().map(Vec::len), Some(1));
    let missing = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "description": "no title" })));
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["error"]["field"], "title");
    let malformed = request(
        "POST",
        &p.url("/api/v1/tickets"),
        &[("authorization", bearer.as_str()), ("content-type", "application/json")],
        Some(b"{\"title\":"),
    );
    assert_eq!(malformed.status, 400);
}

#[test]
fn a_keyed_ticket_is_kept_with_its_answer_and_twins_sent_at_once_open_one() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("kept")));
    let bearer = format!("Bearer {customer}");
    // Text that JSON must escape, and text it must not: the replayed answer is the one the
    // database kept with the ticket (built there, from the row as written), and must read
    // exactly as the first.
    let description = "Keys \"F\" and \\ stick;\nspilled café ☕ on it\t(twice)";
    let body = json!({ "title": "Keyboard sticky", "description": description, "priority": "high" }).to_string();
    let send = |key: &str| {
        let headers =
            [("authorization", bearer.as_str()), ("content-type", "application/json"), ("idempotency-key", key)];
        request("POST", &p.url("/api/v1/tickets"), &headers, Some(body.as_bytes()))
    };
    let first = send("kept-1");
    assert_eq!(first.status, 201, "{}", first.text());
    assert_eq!(first.json()["description"], description);
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = send("kept-1");
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.json(), first.json(), "the replay is the first answer, field for field");

    // Twins sent at once with a new key: one ticket; both answered with it.
    let twins: Vec<_> = (0..2)
        .map(|_| {
            let (url, bearer, body) = (p.url("/api/v1/tickets"), bearer.clone(), body.clone());
            std::thread::spawn(move || {
                let headers = [
                    ("authorization", bearer.as_str()),
                    ("content-type", "application/json"),
                    ("idempotency-key", "kept-twins"),
                ];
                request("POST", &url, &headers, Some(body.as_bytes()))
            })
        })
        .collect();
    let twins: Vec<Reply> = twins.into_iter().map(|t| t.join().expect("twin")).collect();
    for twin in &twins {
        assert_eq!(twin.status, 201, "{}", twin.text());
    }
    assert_eq!(twins[0].json(), twins[1].json(), "both twins are answered with the one ticket");
    let mine = authed(p, "GET", "/api/v1/tickets", &customer, None).json();
    assert_eq!(mine["tickets"].as_array().map(Vec::len), Some(2));
}

#[test]
fn staff_assign_time_search_and_see_the_board() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("board")));
    let tech_pair = technician(p);
    let tech = access(&tech_pair);
    let word = format!("flux{}", now());
    let ticket = open_ticket(p, &customer, &format!("Water damage {word}"));
    let id = ticket["id"].as_str().expect("id").to_owned();

    let patch = json!({ "assignee_id": user_id(&tech_pair), "priority": "urgent", "due_at": "2026-12-01" });
    let r = authed(p, "PATCH", &format!("/api/v1/tickets/{id}"), &tech, Some(&patch));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["priority"], "urgent");
    let bad = authed(
        p,
        "PATCH",
        &format!("/api/v1/tickets/{id}"),
        &tech,
        Some(&json!({ "assignee_id": user_id(&tech_pair).replace('a', "b") + "x" })),
    );
    assert_eq!(bad.json()["error"]["field"], "assignee_id");

    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{id}/timer/start"), &tech, None).status, 200);
    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{id}/timer/start"), &tech, None).status, 409);
    let stopped = authed(p, "POST", &format!("/api/v1/tickets/{id}/timer/stop"), &tech, None);
    assert_eq!(stopped.status, 200, "{}", stopped.text());
    assert_eq!(stopped.json()["running"], 0);

    let found = authed(p, "GET", &format!("/api/v1/tickets?q={word}&assignee=me&status=INTAKE,TRIAGE"), &tech, None);
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(found.json()["tickets"][0]["id"], id.as_str());
    let none = authed(p, "GET", &format!("/api/v1/tickets?q={word}&status=READY"), &tech, None).json();
    assert_eq!(none["tickets"], json!([]));
    assert_eq!(authed(p, "GET", "/api/v1/tickets?status=DONE", &tech, None).json()["error"]["field"], "status");

    let board = authed(p, "GET", "/api/v1/tickets/board", &tech, None);
    assert_eq!(board.status, 200, "{}", board.text());
    let intake = board.json()["columns"][0].clone();
    assert_eq!(intake["status"], "INTAKE");
    assert!(intake["tickets"].as_array().is_some_and(|t| t.iter().any(|t| t["id"] == id.as_str())));
    let view = authed(p, "GET", &format!("/api/v1/tickets/{id}"), &tech, None).json();
    assert_eq!(view["timers"][0]["technician_id"], user_id(&tech_pair).as_str());
}

#[test]
fn the_ticket_list_pages_by_cursor_and_filters_by_assignee_and_literal_search() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("pages")));
    let tech_pair = technician(p);
    let tech = access(&tech_pair);
    let word = format!("page{}", now());
    // `%` and `_` in a search are the characters themselves, not wildcards.
    let titles = [format!("{word} 100%_off"), format!("{word} 1000 off"), format!("{word} a"), format!("{word} b")];
    let ids: Vec<String> =
        titles.iter().map(|t| open_ticket(p, &customer, t)["id"].as_str().expect("id").to_owned()).collect();

    // The customer's own list, two at a time: every ticket once, newest activity first.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut path = "/api/v1/tickets?limit=2".to_owned();
    for _ in 0..4 {
        let page = authed(p, "GET", &path, &customer, None);
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        let rows = page["tickets"].as_array().cloned().unwrap_or_default();
        assert!(rows.len() <= 2, "{page}");
        seen.extend(rows.iter().map(|t| {
            (t["updated_at"].as_str().unwrap_or_default().to_owned(), t["id"].as_str().unwrap_or_default().to_owned())
        }));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/tickets?limit=2&cursor={}", cursor.replace('|', "%7C")),
            None => break,
        }
    }
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "not newest first, or a ticket twice: {seen:?}");
    let mut listed: Vec<String> = seen.iter().map(|(_, id)| id.clone()).collect();
    listed.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(listed, all);
    let bad = authed(p, "GET", "/api/v1/tickets?cursor=nonsense", &customer, None);
    assert_eq!((bad.status, bad.json()["error"]["field"].clone()), (400, json!("cursor")));

    let search = |q: &str, extra: &str| -> Vec<String> {
        let r = authed(p, "GET", &format!("/api/v1/tickets?q={q}{extra}"), &tech, None);
        assert_eq!(r.status, 200, "{}", r.text());
        let mut found: Vec<String> = r.json()["tickets"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["id"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        found.sort();
        found
    };
    assert_eq!(search(&format!("{word}%20100%25_"), ""), [ids[0].clone()]);
    // A status named again and again is one filter, not a placeholder each.
    let repeated = format!("&status={}", vec!["INTAKE"; 150].join(","));
    assert_eq!(search(&word, &repeated).len(), ids.len());
    assert_eq!(search(&word, "&assignee=none"), all);
    let patch = json!({ "assignee_id": user_id(&tech_pair) });
    assert_eq!(authed(p, "PATCH", &format!("/api/v1/tickets/{}", ids[2]), &tech, Some(&patch)).status, 200);
    let unassigned: Vec<String> = all.iter().filter(|id| **id != ids[2]).cloned().collect();
    assert_eq!(search(&word, "&assignee=none"), unassigned);
    assert_eq!(search(&word, "&assignee=me"), [ids[2].clone()]);
}

#[test]
fn attachments_are_checked_by_their_bytes_and_kept_in_r2() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("photo")));
    let ticket = open_ticket(p, &customer, "Liquid in the port");
    let id = ticket["id"].as_str().expect("id").to_owned();
    let bearer = format!("Bearer {customer}");
    let upload = |name: &str, declared: &str, bytes: &[u8]| {
        let headers = [("authorization", bearer.as_str()), ("content-type", declared)];
        request("POST", &p.url(&format!("/api/v1/tickets/{id}/attachments?filename={name}")), &headers, Some(bytes))
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0u8; 64]);
    let r = upload("intake.png", "image/png", &png);
    assert_eq!(r.status, 201, "{}", r.text());
    let att = r.json();
    assert_eq!(att["content_type"], "image/png");
    let fake = upload("photo.jpg", "image/jpeg", b"<script>alert(1)</script>");
    assert_eq!(fake.status, 415, "a declared type is not trusted: {}", fake.text());

    let got = authed(
        p,
        "GET",
        &format!("/api/v1/tickets/{id}/attachments/{}", att["id"].as_str().unwrap_or_default()),
        &customer,
        None,
    );
    assert_eq!(got.status, 200);
    assert_eq!(got.body, png);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    let other = access(&sign_in(p, &unique_email("nosy")));
    let path = format!("/api/v1/tickets/{id}/attachments/{}", att["id"].as_str().unwrap_or_default());
    assert_eq!(authed(p, "GET", &path, &other, None).status, 404);
}

#[test]
fn a_technicians_voice_note_is_sniffed_as_audio_size_limited_and_kept_private() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("voice-note")));
    let ticket = open_ticket(p, &customer, "Hum from the left channel");
    let id = ticket["id"].as_str().expect("id").to_owned();
    let tech = access(&technician(p));
    let bearer = format!("Bearer {tech}");
    let upload = |name: &str, bytes: &[u8]| {
        let headers = [("authorization", bearer.as_str()), ("content-type", "application/octet-stream")];
        request("POST", &p.url(&format!("/api/v1/tickets/{id}/attachments?filename={name}")), &headers, Some(bytes))
    };
    // A real MP3 (shared/core/tests/data/voice, see its README), named without an extension.
    let mp3 = std::fs::read(repo().join("shared/core/tests/data/voice/gsutil-test.mp3")).expect("the test MP3");
    let r = upload("bench-note", &mp3);
    assert_eq!(r.status, 201, "{}", r.text());
    let note = r.json();
    assert_eq!((note["content_type"].as_str(), note["visibility"].as_str()), (Some("audio/mpeg"), Some("internal")));
    let path = format!("/api/v1/tickets/{id}/attachments/{}", note["id"].as_str().unwrap_or_default());
    let back = authed(p, "GET", &path, &tech, None);
    assert_eq!((back.status, back.header("content-type")), (200, Some("audio/mpeg")));
    assert_eq!(back.body, mp3, "the same bytes from R2");
    // The customer does not hear the shop's internal notes; the timeline says what it was.
    assert_eq!(authed(p, "GET", &path, &customer, None).status, 404);
    let view = authed(p, "GET", &format!("/api/v1/tickets/{id}"), &tech, None).json();
    let said = view["timeline"].as_array().into_iter().flatten().any(|e| {
        e["kind"] == "attachment" && e["body"].as_str().is_some_and(|b| b.starts_with("recorded a voice note"))
    });
    assert!(said, "{}", view["timeline"]);
    // Not audio because it is called so; not more than 10 MiB.
    let fake = upload("note.mp3", b"ID4 this is text pretending");
    assert_eq!(fake.status, 415, "{}", fake.text());
    assert!(fake.text().contains("voice note"), "the refusal says what is accepted: {}", fake.text());
    // 10 MiB + 1 declared (and not sent): refused from the header alone.
    let head = format!(
        "POST /api/v1/tickets/{id}/attachments?filename=long.mp3 HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         authorization: Bearer {tech}\r\ncontent-type: application/octet-stream\r\ncontent-length: {}",
        10 * 1024 * 1024 + 1
    );
    let (status, body) = raw_http(p.port, &head, b"");
    assert_eq!(status, 413, "{body}");
}
