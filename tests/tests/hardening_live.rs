//! Attacks on what is live (issue 9), each performed end to end against the real workers:
//! sockets that outlive a sign-out, a demotion, disabling or erasure; floods of frames into
//! a room and a chat; unbounded lists stored with a quote; customer words pinging a whole
//! Slack or Discord; a person speaking under the platform's name; push subscriptions taken
//! over or pointed anywhere; provider URLs shown to every staff member.

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};
use tungstenite::Message;

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("hardening-live"))
}

/// A customer's ticket: (customer token pair, ticket id).
fn a_ticket(p: &Platform) -> (Value, String) {
    let customer = sign_in(p, &unique_email("live-customer"));
    let r = authed(p, "POST", "/api/v1/tickets", &access(&customer), Some(&json!({ "title": "Mixer crackles" })));
    assert_eq!(r.status, 201, "{}", r.text());
    (customer, r.json()["id"].as_str().expect("id").to_owned())
}

/// The path (with its single-use ticket) into the room `mint` names.
fn room_path(p: &Platform, token: &str, mint: &str) -> String {
    let r = authed(p, "POST", mint, token, None);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["path"].as_str().expect("path").to_owned()
}

/// Connects to `path` (with `since`) and returns the socket after its `hello`, and what was
/// replayed before it.
fn enter(p: &Platform, path: &str, since: Option<i64>) -> (Socket, Value, Vec<Value>) {
    let path = match since {
        Some(s) => format!("{path}&since={s}"),
        None => path.to_owned(),
    };
    let mut socket = connect(&p.ws_url(&path)).expect("connect");
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut socket);
        if frame["type"] == "hello" {
            return (socket, frame, replayed);
        }
        replayed.push(frame);
    }
}

fn ticket_room(p: &Platform, token: &str, ticket: &str) -> Socket {
    enter(p, &room_path(p, token, &format!("/api/v1/tickets/{ticket}/live/ticket")), None).0
}

fn chat_room(p: &Platform, token: &str, conversation: &str) -> Socket {
    enter(p, &room_path(p, token, &format!("/api/v1/chat/conversations/{conversation}/live/ticket")), None).0
}

fn open_chat(p: &Platform, token: &str, ticket: &str) -> String {
    let r = authed(p, "POST", "/api/v1/chat/conversations", token, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_owned()
}

/// Reads until the server closes the socket: its close code and reason, and the `error`
/// frames that came before.
fn closed(socket: &mut Socket) -> (u16, String, Vec<String>) {
    let mut errors = Vec::new();
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                if frame["type"] == "error" {
                    errors.push(frame["message"].as_str().unwrap_or_default().to_owned());
                }
            }
            Ok(Message::Close(Some(f))) => return (u16::from(f.code), f.reason.to_string(), errors),
            Ok(Message::Close(None)) => return (1005, String::new(), errors),
            Ok(_) => {}
            Err(e) => panic!("the socket was not closed by the room: {e} (errors so far: {errors:?})"),
        }
    }
}

fn member_path(user: &str, action: &str) -> String {
    format!("/api/v1/workspaces/ws-default/members/{user}{action}")
}

#[test]
fn a_demoted_technician_s_room_and_chat_sockets_close_and_nothing_more_reaches_them() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let (customer, ticket) = a_ticket(p);
    let customer = access(&customer);
    let conversation = open_chat(p, &customer, &ticket);
    let tech_pair = technician(p);
    let tech = access(&tech_pair);
    let colleague = access(&technician(p));

    let mut room = ticket_room(p, &tech, &ticket);
    let mut chat = chat_room(p, &tech, &conversation);
    let mut watcher = ticket_room(p, &colleague, &ticket);
    let mut customer_socket = ticket_room(p, &customer, &ticket);
    // A ticket minted in advance, to be used after the demotion.
    let spare = room_path(p, &tech, &format!("/api/v1/tickets/{ticket}/live/ticket"));

    let r = authed(p, "PUT", &member_path(&user_id(&tech_pair), ""), &owner, Some(&json!({ "role": "customer" })));
    assert_eq!(r.status, 200, "{}", r.text());

    for socket in [&mut room, &mut chat] {
        let (code, reason, _) = closed(socket);
        assert_eq!(code, 4001, "closed as 'your access changed': {reason}");
        assert!(!reason.is_empty());
    }
    // Posting a note on the old socket goes nowhere.
    let _ = room.send(Message::text(json!({ "type": "note", "text": "after demotion" }).to_string()));
    // The spare ticket was dropped with the sockets, and a new one is not granted.
    assert!(connect(&p.ws_url(&spare)).is_err(), "a ticket minted before the demotion is void");
    let renewed = access(&refresh(p, &refresh_token(&tech_pair)).json());
    let again = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &renewed, None);
    assert_eq!(again.status, 404, "as a customer they may not see someone else's ticket: {}", again.text());

    // Everyone else stays: a note still reaches the colleague, a message the customer.
    send_frame(&mut watcher, &json!({ "type": "note", "text": "still here" }));
    assert_eq!(next_of(&mut watcher, "note")["text"], "still here");
    send_frame(&mut watcher, &json!({ "type": "message", "text": "Your mixer is on the bench" }));
    assert_eq!(next_of(&mut customer_socket, "message")["text"], "Your mixer is on the bench");
    let (_, _, history) =
        enter(p, &room_path(p, &colleague, &format!("/api/v1/tickets/{ticket}/live/ticket")), Some(0));
    assert!(history.iter().all(|f| f["text"] != "after demotion"), "{history:?}");
}

#[test]
fn signing_out_closes_the_person_s_room_chat_and_inbox_sockets() {
    let p = platform();
    let (customer, ticket) = a_ticket(p);
    let token = access(&customer);
    let conversation = open_chat(p, &token, &ticket);
    let mut room = ticket_room(p, &token, &ticket);
    let mut chat = chat_room(p, &token, &conversation);
    let mut inbox = enter(p, &room_path(p, &token, "/api/v1/users/me/live/ticket"), None).0;

    let r = authed(p, "POST", "/api/v1/auth/logout", &token, None);
    assert_eq!(r.status, 204, "{}", r.text());
    for socket in [&mut room, &mut chat, &mut inbox] {
        assert_eq!(closed(socket).0, 4001);
    }
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &token, None);
    assert_eq!(r.status, 401, "the signed-out token mints nothing: {}", r.text());
}

#[test]
fn disabling_a_technician_closes_their_sockets_at_once() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let (_, ticket) = a_ticket(p);
    let tech_pair = technician(p);
    let mut room = ticket_room(p, &access(&tech_pair), &ticket);
    let r = authed(p, "POST", &member_path(&user_id(&tech_pair), "/disable"), &owner, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(closed(&mut room).0, 4001);
}

#[test]
fn erasing_an_account_closes_its_chat_socket() {
    let p = platform();
    let email = unique_email("erased");
    let pair = sign_in(p, &email);
    let token = access(&pair);
    let r = authed(p, "POST", "/api/v1/tickets", &token, Some(&json!({ "title": "Speaker buzz" })));
    let ticket = r.json()["id"].as_str().expect("id").to_owned();
    let conversation = open_chat(p, &token, &ticket);
    let mut chat = chat_room(p, &token, &conversation);
    let r = authed(p, "DELETE", "/api/v1/users/me", &token, Some(&json!({ "confirm": email })));
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(closed(&mut chat).0, 4001);
}

/// Sends `n` frames as fast as the socket takes them (the room may close it on the way).
fn flood(socket: &mut Socket, n: usize, frame: impl Fn(usize) -> Value) {
    for i in 0..n {
        if socket.send(Message::text(frame(i).to_string())).is_err() {
            break;
        }
    }
}

#[test]
fn a_flood_of_two_hundred_room_frames_is_slowed_then_closed_and_few_are_kept() {
    let p = platform();
    let (_, ticket) = a_ticket(p);
    let tech = access(&technician(p));
    let mut socket = ticket_room(p, &tech, &ticket);

    // One frame over 16 KiB is refused before it is read.
    send_frame(&mut socket, &json!({ "type": "note", "text": "x".repeat(20 * 1024) }));
    let refused = next_of(&mut socket, "error");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("16 KiB")), "{refused}");

    flood(&mut socket, 200, |i| json!({ "type": "note", "text": format!("flood {i}") }));
    let (code, _, errors) = closed(&mut socket);
    assert_eq!(code, 1008, "closed for flooding");
    assert!(errors.iter().any(|e| e.contains("slow down")), "{errors:?}");

    let (_, _, kept) = enter(p, &room_path(p, &tech, &format!("/api/v1/tickets/{ticket}/live/ticket")), Some(0));
    let notes = kept.iter().filter(|f| f["type"] == "note").count();
    assert!((1..=30).contains(&notes), "{notes} of 200 frames were kept");
    assert!(kept.iter().all(|f| f["text"].as_str().is_none_or(|t| t.len() < 100)), "the large frame was not kept");
}

#[test]
fn a_flood_of_two_hundred_chat_messages_is_slowed_then_closed_and_few_reach_the_transcript() {
    let p = platform();
    let (customer, ticket) = a_ticket(p);
    let token = access(&customer);
    let conversation = open_chat(p, &token, &ticket);
    let mut socket = chat_room(p, &token, &conversation);

    flood(&mut socket, 200, |i| json!({ "type": "message", "text": format!("are you there {i}?") }));
    let (code, _, errors) = closed(&mut socket);
    assert_eq!(code, 1008, "closed for flooding");
    assert!(errors.iter().any(|e| e.contains("slow down")), "{errors:?}");

    std::thread::sleep(Duration::from_secs(2));
    let sql = format!(
        "SELECT COUNT(*) AS n FROM chat_messages WHERE conversation_id = '{conversation}' AND role = 'customer'"
    );
    let kept = d1_query(&p.state, &sql)[0]["n"].as_i64().expect("count");
    assert!((1..=30).contains(&kept), "{kept} of 200 chat messages were kept (and answered)");
}

#[test]
fn an_estimate_with_ten_thousand_parts_or_a_huge_part_name_or_price_list_is_refused_clearly() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let estimate = |parts: Value, competitors: Value| {
        let body = json!({ "complexity": "standard", "estimated_minutes": 60, "parts": parts,
                           "competitor_prices_cents": competitors });
        authed(p, "POST", "/api/v1/pricing/estimate", &owner, Some(&body))
    };
    let part = |name: &str| json!({ "name": name, "cost_cents": 100, "quantity": 1 });

    let many: Vec<Value> = (0..10_000).map(|i| part(&format!("p{i}"))).collect();
    let r = estimate(json!(many), json!([]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "parts");
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("at most 50")), "{}", r.text());

    let r = estimate(json!([part(&"n".repeat(100_000))]), json!([]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "parts");
    assert!(r.json()["error"]["message"].as_str().is_some_and(|m| m.contains("120 characters")), "{}", r.text());

    let r = estimate(json!([part("Fan")]), json!(vec![5000; 10_000]));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "competitor_prices_cents");

    let r = estimate(json!([part("Fan")]), json!([5000, 7000]));
    assert_eq!(r.status, 201, "a reasonable estimate still works: {}", r.text());
}

fn team_hooks(request: &Received) -> (u16, String) {
    match request.path.as_str() {
        "/slack/hook" => (200, "ok".into()),
        "/discord/hook" => (204, String::new()),
        _ => (404, "{}".into()),
    }
}

#[test]
fn customer_words_reach_slack_and_discord_without_pinging_anyone_and_no_hook_url_reaches_the_log() {
    let team = StandIn::start(team_hooks);
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let hooks = json!({ "slack_webhook_url": format!("{}/slack/hook", team.url()),
                        "discord_webhook_url": format!("{}/discord/hook", team.url()) });
    assert_eq!(authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&hooks)).status, 200);

    let (customer, ticket) = a_ticket(p);
    let token = access(&customer);
    let conversation = open_chat(p, &token, &ticket);
    let reason = "<!channel> <!everyone> @everyone @here refund me now";
    let r = authed(
        p,
        "POST",
        &format!("/api/v1/chat/conversations/{conversation}/escalate"),
        &token,
        Some(&json!({ "reason": reason })),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let heard = |path: &'static str| {
        eventually(Duration::from_secs(20), path, || {
            team.requests()
                .into_iter()
                .find(|r| r.path == path && String::from_utf8_lossy(&r.body).contains("refund me"))
        })
    };
    let slack: Value = serde_json::from_slice(&heard("/slack/hook").body).expect("slack JSON");
    let text = slack.to_string();
    assert!(!text.contains("<!channel>") && !text.contains("<!everyone>"), "{text}");
    assert!(slack["text"].as_str().is_some_and(|t| t.contains("&lt;!channel&gt;")), "{text}");
    let discord: Value = serde_json::from_slice(&heard("/discord/hook").body).expect("discord JSON");
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]), "{discord}");
    let content = discord["content"].as_str().expect("content");
    assert!(!content.contains("@everyone") && !content.contains("@here"), "{content}");

    // A team hook that cannot be reached: the delivery log says so, never where it points.
    let secret = "T0SECRET/B0SECRET/x0secretpath";
    let hooks = json!({ "slack_webhook_url": format!("http://127.0.0.1:9/{secret}") });
    assert_eq!(authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&hooks)).status, 200);
    let (_, ticket) = a_ticket(p);
    let failed = eventually(Duration::from_secs(30), "the failed Slack delivery", || {
        let r = authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={ticket}"), &owner, None);
        let rows = r.json()["deliveries"].as_array().cloned().unwrap_or_default();
        rows.into_iter().find(|d| d["channel"] == "slack" && d["status"] == "failed")
    });
    let detail = failed["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("SECRET") && !detail.contains("127.0.0.1"), "{detail}");
}

#[test]
fn nobody_speaks_in_a_room_as_noizylab_and_every_message_says_whether_staff_sent_it() {
    let p = platform();
    let r = authed(
        p,
        "PUT",
        "/api/v1/users/profile",
        &access(&sign_in(p, &unique_email("impostor"))),
        Some(&json!({ "name": "NoizyLab Support" })),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "name");

    // An address whose local part is the platform's name is shown as a person's.
    let impostor = access(&sign_in(p, &format!("noizylab@impostor{}.example.com", now())));
    let t = authed(p, "POST", "/api/v1/tickets", &impostor, Some(&json!({ "title": "Fake notice" })));
    let ticket = t.json()["id"].as_str().expect("id").to_owned();
    let tech = access(&technician(p));
    let mut staff = ticket_room(p, &tech, &ticket);
    let mut socket = ticket_room(p, &impostor, &ticket);
    send_frame(&mut socket, &json!({ "type": "message", "text": "Pay the balance to this account" }));
    let seen = next_of(&mut staff, "message");
    assert_ne!(seen["from"], "NoizyLab");
    assert_eq!(seen["from"], "noizylab (user)");
    assert_eq!(seen["staff"], false);
    send_frame(&mut staff, &json!({ "type": "message", "text": "That was not us" }));
    let answer = loop {
        let m = next_of(&mut socket, "message");
        if m["text"] == "That was not us" {
            break m;
        }
    };
    assert_eq!(answer["staff"], true);
}

/// `node tests/support/webpush.mjs keys`: a browser's push keys.
fn browser_keys() -> Value {
    let out = std::process::Command::new("node")
        .arg(repo().join("tests/support/webpush.mjs"))
        .arg("keys")
        .output()
        .expect("node webpush.mjs");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("keys JSON")
}

#[test]
fn push_subscriptions_are_capped_never_taken_over_and_only_point_at_named_https_hosts() {
    let p = platform();
    let keys = browser_keys();
    let subscribe = |token: &str, endpoint: &str| {
        let sub = json!({ "endpoint": endpoint, "keys": { "p256dh": keys["p256dh"], "auth": keys["auth"] } });
        authed(p, "POST", "/api/v1/notifications/push/subscriptions", token, Some(&sub))
    };
    let alice = access(&sign_in(p, &unique_email("alice")));
    let mallory_pair = sign_in(p, &unique_email("mallory"));
    let mallory = access(&mallory_pair);

    for bad in [
        "https://127.0.0.1/push",
        "https://[::1]/push",
        "https://user:pw@push.example.com/x",
        "ftp://push.example.com/x",
    ] {
        let r = subscribe(&mallory, bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], "endpoint");
    }

    let run = now();
    let alices = format!("https://push.example.com/alice-{run}");
    assert_eq!(subscribe(&alice, &alices).status, 201);
    let r = subscribe(&mallory, &alices);
    assert_eq!(r.status, 409, "another account's endpoint is not taken over: {}", r.text());
    let owner = d1_query(&p.state, &format!("SELECT user_id FROM push_subscriptions WHERE endpoint = '{alices}'"));
    assert_ne!(owner[0]["user_id"], user_id(&mallory_pair));

    for i in 0..10 {
        assert_eq!(subscribe(&mallory, &format!("https://push.example.com/m-{run}-{i}")).status, 201);
    }
    let r = subscribe(&mallory, &format!("https://push.example.com/m-{run}-11"));
    assert_eq!(r.status, 409, "at most ten devices: {}", r.text());
}
