//! Real time, end to end against the real workers: ticket rooms over Durable Object
//! WebSockets, entered only with single-use room tickets, fed by the events queue, and
//! never showing a customer an internal note.

use std::sync::OnceLock;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("realtime"))
}

/// A customer's ticket: (customer token, ticket id).
fn a_ticket(p: &Platform) -> (String, String) {
    let customer = access(&sign_in(p, &unique_email("roomer")));
    let r = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Amp hums" })));
    assert_eq!(r.status, 201, "{}", r.text());
    (customer, r.json()["id"].as_str().expect("id").to_owned())
}

/// Mints a room ticket and connects; returns the socket after its `hello`.
fn join(p: &Platform, token: &str, ticket: &str, since: Option<i64>) -> (Socket, Value) {
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), token, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let mut path = r.json()["path"].as_str().expect("path").to_owned();
    if let Some(s) = since {
        path.push_str(&format!("&since={s}"));
    }
    let mut socket = connect(&p.ws_url(&path)).expect("connect");
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut socket);
        if frame["type"] == "hello" {
            return (socket, json!({ "hello": frame, "replayed": replayed }));
        }
        replayed.push(frame);
    }
}

#[test]
fn two_technicians_and_a_customer_share_a_room_and_the_customer_never_sees_a_note() {
    let p = platform();
    let (customer, ticket) = a_ticket(p);
    let tech1 = access(&technician(p));
    let tech2 = access(&technician(p));
    let (mut c, hello) = join(p, &customer, &ticket, None);
    assert_eq!(hello["hello"]["you"]["staff"], false);
    let (mut t1, _) = join(p, &tech1, &ticket, None);
    let (mut t2, _) = join(p, &tech2, &ticket, None);

    // Everyone sees who is here.
    let roster = loop {
        let frame = next_of(&mut c, "presence");
        if frame["members"].as_array().is_some_and(|m| m.len() == 3) {
            break frame;
        }
    };
    assert_eq!(roster["members"].as_array().map(|m| m.iter().filter(|x| x["staff"] == true).count()), Some(2));

    send_frame(&mut t1, &json!({ "type": "note", "text": "Ground loop on the preamp board" }));
    for tech in [&mut t1, &mut t2] {
        let note = next_of(tech, "note");
        assert_eq!(note["text"], "Ground loop on the preamp board");
        assert_eq!(note["visibility"], "internal");
    }
    send_frame(&mut t2, &json!({ "type": "message", "text": "We found the hum; fixing it today" }));
    let seen = next_of(&mut c, "message");
    assert_eq!(seen["text"], "We found the hum; fixing it today", "the customer got the message, not the note");
    assert_eq!(next_of(&mut t1, "message")["seq"], seen["seq"]);

    // A status change made through the REST API reaches all three sockets (events queue →
    // orchestrator → room).
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(r.status, 200, "{}", r.text());
    for socket in [&mut c, &mut t1, &mut t2] {
        let status = next_of(socket, "status");
        assert_eq!(status["to_status"], "TRIAGE");
        assert_eq!(status["from_status"], "INTAKE");
        assert_eq!(status["from"], "NoizyLab");
    }

    // The customer may not write notes, and never received one, live or replayed.
    send_frame(&mut c, &json!({ "type": "note", "text": "sneaky" }));
    assert_eq!(next_of(&mut c, "error")["type"], "error");
    let (_, again) = join(p, &customer, &ticket, Some(0));
    let replayed = again["replayed"].as_array().cloned().unwrap_or_default();
    assert!(!replayed.is_empty());
    assert!(replayed.iter().all(|f| f["visibility"] == "customer"), "{replayed:?}");
}

/// The frames a socket reads up to and including the next one of `kind`.
fn frames_until(socket: &mut Socket, kind: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let frame = next_json(socket);
        assert_ne!(frame["type"], "error", "{frame}");
        let done = frame["type"] == kind;
        seen.push(frame);
        if done {
            return seen;
        }
    }
    panic!("no {kind} frame in {seen:?}")
}

#[test]
fn typing_reaches_the_others_it_may_and_is_not_kept() {
    let p = platform();
    let (customer, ticket) = a_ticket(p);
    let tech1 = access(&technician(p));
    let tech2 = access(&technician(p));
    let (mut c, _) = join(p, &customer, &ticket, None);
    let (mut t1, _) = join(p, &tech1, &ticket, None);
    let (mut t2, _) = join(p, &tech2, &ticket, None);
    while next_of(&mut c, "presence")["members"].as_array().map_or(0, Vec::len) < 3 {}
    let typing = |frames: &[Value]| frames.iter().filter(|f| f["type"] == "typing").cloned().collect::<Vec<_>>();

    // Staff typing may be an internal note: the other technician sees it, the customer
    // does not, and nobody is told of their own typing. A message sent after it is the
    // marker that everything before it has arrived.
    send_frame(&mut t1, &json!({ "type": "typing", "on": true }));
    send_frame(&mut t1, &json!({ "type": "message", "text": "One moment" }));
    let seen = typing(&frames_until(&mut t2, "message"));
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["on"], true);
    assert!(seen[0]["from"].as_str().is_some_and(|f| !f.is_empty()), "{seen:?}");
    assert!(typing(&frames_until(&mut c, "message")).is_empty(), "the customer saw staff typing");
    assert!(typing(&frames_until(&mut t1, "message")).is_empty(), "the typist was told of their own typing");

    // A customer's typing reaches the staff; it is not kept, so a replay has none of it.
    send_frame(&mut c, &json!({ "type": "typing", "on": false }));
    send_frame(&mut c, &json!({ "type": "message", "text": "Thanks" }));
    for tech in [&mut t1, &mut t2] {
        let seen = typing(&frames_until(tech, "message"));
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0]["on"], false);
    }
    let (_, again) = join(p, &tech1, &ticket, Some(0));
    let replayed = again["replayed"].as_array().cloned().unwrap_or_default();
    assert_eq!(replayed.iter().filter(|f| f["type"] == "message").count(), 2, "{replayed:?}");
    assert!(typing(&replayed).is_empty(), "{replayed:?}");
}

#[test]
fn a_member_who_reconnects_with_the_last_sequence_misses_nothing() {
    let p = platform();
    let (_customer, ticket) = a_ticket(p);
    let tech = access(&technician(p));
    let (mut a, _) = join(p, &tech, &ticket, None);
    send_frame(&mut a, &json!({ "type": "note", "text": "first" }));
    let last = next_of(&mut a, "note")["seq"].as_i64().expect("seq");
    let _ = a.close(None);
    let (mut b, _) = join(p, &tech, &ticket, None);
    for text in ["second", "third"] {
        send_frame(&mut b, &json!({ "type": "checklist", "item": text, "done": true }));
        next_of(&mut b, "checklist");
    }
    let (_, back) = join(p, &tech, &ticket, Some(last));
    let items: Vec<Value> =
        back["replayed"].as_array().map(|r| r.iter().map(|f| f["item"].clone()).collect()).unwrap_or_default();
    assert_eq!(items, [json!("second"), json!("third")]);
    assert_eq!(back["hello"]["replayed"], 2);
}

#[test]
fn a_room_is_refused_without_a_valid_single_use_ticket_or_from_a_foreign_origin() {
    let p = platform();
    let (customer, ticket) = a_ticket(p);
    let no_ticket = connect(&p.ws_url(&format!("/api/v1/tickets/{ticket}/live")));
    assert!(no_ticket.is_err(), "no ticket, no room");
    let forged = connect(&p.ws_url(&format!("/api/v1/tickets/{ticket}/live?ticket=AAAA")));
    assert!(forged.is_err());

    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &customer, None).json();
    let path = r["path"].as_str().expect("path").to_owned();
    let first = connect(&p.ws_url(&path));
    assert!(first.is_ok(), "the ticket works once");
    assert!(connect(&p.ws_url(&path)).is_err(), "and only once");

    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &customer, None).json();
    let path = r["path"].as_str().expect("path").to_owned();
    let foreign = connect_with_origin(&p.ws_url(&path), "https://evil.example");
    assert!(foreign.is_err(), "a foreign Origin is refused");

    // Minting needs a caller who may see the ticket.
    let stranger = access(&sign_in(p, &unique_email("stranger")));
    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &stranger, None).status, 404);
    assert_eq!(send_json("POST", &p.url(&format!("/api/v1/tickets/{ticket}/live/ticket")), &json!({})).status, 401);
}

#[test]
fn a_room_survives_eviction_and_a_restart_of_the_platform() {
    let first = Platform::fresh("room-restart");
    let (customer, ticket) = a_ticket(&first);
    let tech = access(&technician(&first));
    {
        let (mut t, _) = join(&first, &tech, &ticket, None);
        for text in ["step 1: opened the case", "step 2: replaced the filter caps"] {
            send_frame(&mut t, &json!({ "type": "message", "text": text }));
            assert_eq!(next_of(&mut t, "message")["text"], text);
        }
        let _ = t.close(None);
    }
    let state = first.stop();
    let second = Platform::start(&state);
    // Access tokens outlive the restart (same key ring); the room's storage does too.
    let (_, back) = join(&second, &customer, &ticket, Some(0));
    let texts: Vec<Value> =
        back["replayed"].as_array().map(|r| r.iter().map(|f| f["text"].clone()).collect()).unwrap_or_default();
    assert_eq!(texts, [json!("step 1: opened the case"), json!("step 2: replaced the filter caps")]);
}

/// Without its binding to the rooms (`NOIZYLAB_GATEWAY_ROOMS=via-main`) the gateway
/// forwards a room's upgrade to `main`, whose own route redeems the ticket and hands the
/// socket to the same room: the path a deployment without the binding takes.
#[test]
fn without_the_gateways_room_binding_main_joins_the_room_the_same_way() {
    let p = Platform::fresh_with("room-via-main", &[("NOIZYLAB_GATEWAY_ROOMS", "via-main")]);
    // The setting took: the gateway has no rooms to reach.
    let health = get(&p.url("/health")).json();
    let rooms = health["checks"].as_array().and_then(|c| c.iter().find(|c| c["binding"] == "TICKET_ROOM").cloned());
    assert_eq!(rooms.as_ref().map(|c| c["status"].clone()), Some(json!("failed")), "{health:#}");

    let (customer, ticket) = a_ticket(&p);
    let tech = access(&technician(&p));
    let (mut c, hello) = join(&p, &customer, &ticket, None);
    assert_eq!(hello["hello"]["you"]["staff"], false);
    let (mut t, hello) = join(&p, &tech, &ticket, None);
    assert_eq!(hello["hello"]["you"]["staff"], true);
    send_frame(&mut t, &json!({ "type": "note", "text": "Checked the rails" }));
    assert_eq!(next_of(&mut t, "note")["visibility"], "internal");
    send_frame(&mut t, &json!({ "type": "message", "text": "Ready tomorrow" }));
    assert_eq!(next_of(&mut c, "message")["text"], "Ready tomorrow", "the customer got the message, not the note");

    // Single use, and only for a caller who may see the ticket, on this route too.
    let r = authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &customer, None).json();
    let path = r["path"].as_str().expect("path").to_owned();
    assert!(connect(&p.ws_url(&path)).is_ok(), "the ticket works once");
    assert!(connect(&p.ws_url(&path)).is_err(), "and only once");
    assert!(connect(&p.ws_url(&format!("/api/v1/tickets/{ticket}/live?ticket=AAAA"))).is_err());
}
