//! Attacks on who may do what (issue 9), each performed end to end: API keys acting as
//! staff, keys outliving their creator's rights, one workspace disabling another's owner,
//! sockets that outlive a session or a role, floods inside sockets and in stored lists, and
//! the lesser holes (mentions into Slack/Discord, push subscriptions taken over, provider
//! URLs in the delivery log, reserved display names, bootstrap ownership, erasure).

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};
use tungstenite::Message;

/// A stand-in for Slack, Discord and push services: records, answers 2xx.
fn providers(req: &Received) -> (u16, String) {
    match req.path.as_str() {
        "/slack/hook" => (200, "ok".into()),
        "/discord/hook" => (204, String::new()),
        _ => (404, "{}".into()),
    }
}

struct Shop {
    platform: Platform,
    providers: StandIn,
}

fn shop() -> &'static Shop {
    static SHARED: OnceLock<Shop> = OnceLock::new();
    SHARED.get_or_init(|| Shop { platform: Platform::fresh("hardening-access"), providers: StandIn::start(providers) })
}

fn key_with(p: &Platform, owner: &str, scopes: &[&str]) -> String {
    let body = json!({ "name": "integration", "scopes": scopes });
    let r = authed(p, "POST", "/api/v1/workspaces/ws-default/api-keys", owner, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["key"].as_str().expect("key").to_owned()
}

fn ticket_of(p: &Platform, customer: &str) -> String {
    let r = authed(p, "POST", "/api/v1/tickets", customer, Some(&json!({ "title": "Dead pixel" })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_owned()
}

fn chat_of(p: &Platform, customer: &str, ticket: &str) -> String {
    let r = authed(p, "POST", "/api/v1/chat/conversations", customer, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_owned()
}

#[test]
fn a_key_gets_exactly_its_scopes_and_never_staff_by_default() {
    let p = &shop().platform;
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let customer = access(&sign_in(p, &unique_email("kcust")));
    let ticket = ticket_of(p, &customer);
    let chat = chat_of(p, &customer, &ticket);
    let pricing_only = key_with(p, &owner, &["pricing:read"]);
    for (method, path) in [
        ("GET", "/api/v1/chat/conversations".to_owned()),
        ("GET", format!("/api/v1/chat/conversations/{chat}")),
        ("GET", "/api/v1/chat/messages?q=pixel".to_owned()),
        ("POST", format!("/api/v1/chat/conversations/{chat}/escalate")),
        ("POST", format!("/api/v1/chat/conversations/{chat}/close")),
        ("GET", "/api/v1/tickets/board".to_owned()),
    ] {
        let r = with_key(p, method, &path, &pricing_only, None);
        assert_eq!(r.status, 403, "{method} {path} with only pricing:read: {}", r.text());
    }
    // The refusals are in the audit chain.
    let refused = d1_query(&p.state, "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'access.refused'");
    assert!(refused[0]["n"].as_i64().is_some_and(|n| n >= 6), "{refused:?}");

    // A key that may read tickets reads the board; one that may write tickets still may
    // not drive a customer's device.
    let reader = key_with(p, &owner, &["tickets:read"]);
    assert_eq!(with_key(p, "GET", "/api/v1/tickets/board", &reader, None).status, 200);
    let writer = key_with(p, &owner, &["tickets:write", "tickets:read"]);
    let action = json!({ "type": "run_script", "params": { "script": "rm -rf /" } });
    let r = with_key(p, "POST", "/api/v1/sessions/s-any/action", &writer, Some(&action));
    assert_eq!(r.status, 403, "remote actions need sessions:control: {}", r.text());
    assert!(r.text().contains("sessions:control"), "{}", r.text());
}

#[test]
fn a_key_never_holds_more_than_its_creator_does_now() {
    let p = &shop().platform;
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let ws = "/api/v1/workspaces/ws-default/members";
    let mut admins = Vec::new();
    for n in 0..3 {
        let pair = sign_in(p, &unique_email(&format!("keyadmin{n}")));
        let id = user_id(&pair);
        let r = authed(p, "PUT", &format!("{ws}/{id}"), &owner, Some(&json!({ "role": "admin" })));
        assert_eq!(r.status, 200, "{}", r.text());
        let admin = refresh(p, &refresh_token(&pair)).json();
        let key = key_with(p, &access(&admin), &["admin", "tickets:read"]);
        assert_eq!(
            with_key(p, "GET", "/api/v1/workspaces/ws-default/api-keys", &key, None).status,
            403,
            "a key is not a person"
        );
        assert_eq!(with_key(p, "GET", "/api/v1/tickets/board", &key, None).status, 200);
        admins.push((id, admin, key));
    }
    // Demoted: the key loses what the creator lost (admin) and keeps the rest.
    let (id, _, key) = &admins[0];
    assert_eq!(authed(p, "PUT", &format!("{ws}/{id}"), &owner, Some(&json!({ "role": "technician" }))).status, 200);
    let scopes = d1_query(&p.state, &format!("SELECT scopes FROM api_keys WHERE created_by = '{id}'"));
    assert_eq!(scopes[0]["scopes"], "[\"tickets:read\"]", "{scopes:?}");
    assert_eq!(with_key(p, "GET", "/api/v1/tickets/board", key, None).status, 200);
    // Disabled: the key stops at once.
    let (id, _, key) = &admins[1];
    assert_eq!(authed(p, "POST", &format!("{ws}/{id}/disable"), &owner, None).status, 200);
    assert_eq!(with_key(p, "GET", "/api/v1/tickets/board", key, None).status, 401);
    // Erased: the key goes with the account.
    let (_, admin, key) = &admins[2];
    let email = admin["email"].as_str().expect("email");
    let erased = authed(p, "DELETE", "/api/v1/users/me", &access(admin), Some(&json!({ "confirm": email })));
    assert_eq!(erased.status, 204, "{}", erased.text());
    assert_eq!(with_key(p, "GET", "/api/v1/tickets/board", key, None).status, 401);
}

/// An owner of ws-default who opened a workspace of their own: (email, token there, its id).
fn shop_owner(p: &Platform, root: &str, tag: &str) -> (String, String) {
    let email = unique_email(tag);
    let pair = sign_in(p, &email);
    let promote = format!("/api/v1/workspaces/ws-default/members/{}", user_id(&pair));
    assert_eq!(authed(p, "PUT", &promote, root, Some(&json!({ "role": "owner" }))).status, 200);
    let owner = access(&refresh(p, &refresh_token(&pair)).json());
    let r = authed(p, "POST", "/api/v1/workspaces", &owner, Some(&json!({ "name": format!("{tag}'s shop") })));
    assert_eq!(r.status, 201, "{}", r.text());
    (email, r.json()["id"].as_str().expect("ws").to_owned())
}

/// Signs `email` in to workspace `ws` (its own address: no other test reads its mail).
fn sign_in_to(p: &Platform, email: &str, ws: &str) -> Reply {
    let asked = send_json("POST", &p.url("/api/v1/auth/magic-link"), &json!({ "email": email, "workspace_id": ws }));
    assert_eq!(asked.status, 202, "{}", asked.text());
    let (_, code) = from_outbox(p, email);
    login(p, email, &code, &challenge(&asked))
}

#[test]
fn disabling_is_decided_by_a_workspace_for_that_workspace_only() {
    let p = &shop().platform;
    let root = access(&sign_in(p, OWNER_EMAIL));
    let (alice, alice_ws) = shop_owner(p, &root, "alice");
    let (bob, bob_ws) = shop_owner(p, &root, "bob");
    // Alice in her own shop (owner), and in Bob's (a customer there).
    let at_home = sign_in_to(p, &alice, &alice_ws).json();
    let at_bob = sign_in_to(p, &alice, &bob_ws).json();
    assert_eq!((at_home["role"].clone(), at_bob["role"].clone()), (json!("owner"), json!("customer")));
    let bob_there = access(&sign_in_to(p, &bob, &bob_ws).json());
    let alice_id = user_id(&at_home);

    let r = authed(p, "POST", &format!("/api/v1/workspaces/{bob_ws}/members/{alice_id}/disable"), &bob_there, None);
    assert_eq!(r.status, 200, "{}", r.text());
    // Out of Bob's shop at once; untouched in her own.
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&at_bob), None).status, 401);
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&at_home), None).status, 200);
    assert_eq!(refresh(p, &refresh_token(&at_home)).status, 200);
    assert_eq!(sign_in_to(p, &alice, &bob_ws).status, 403, "no way back into Bob's shop");
    assert_eq!(sign_in_to(p, &alice, &alice_ws).status, 200, "her own shop is hers");
    // Bob's shop decides nothing about hers: there it is 404, as for any other workspace.
    let foreign = format!("/api/v1/workspaces/{alice_ws}/members/{alice_id}/disable");
    assert_eq!(authed(p, "POST", &foreign, &bob_there, None).status, 404);
    let enable = format!("/api/v1/workspaces/{alice_ws}/members/{alice_id}/enable");
    assert_eq!(authed(p, "POST", &enable, &bob_there, None).status, 404);
    // Bob re-enables her in his own shop.
    let back = format!("/api/v1/workspaces/{bob_ws}/members/{alice_id}/enable");
    assert_eq!(authed(p, "POST", &back, &bob_there, None).status, 200);
    assert_eq!(sign_in_to(p, &alice, &bob_ws).status, 200);
}

/// Waits for the server to close `socket`; the close code.
fn closed_with(socket: &mut Socket) -> Option<u16> {
    for _ in 0..50 {
        match socket.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

fn room_socket(p: &Platform, token: &str, mint: &str) -> Socket {
    let r = authed(p, "POST", mint, token, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let path = r.json()["path"].as_str().expect("path").to_owned();
    let mut socket = connect(&p.ws_url(&path)).expect("connect");
    next_of(&mut socket, "hello");
    socket
}

#[test]
fn a_demoted_technicians_sockets_close_and_a_signed_out_ones_too() {
    let p = &shop().platform;
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let customer = access(&sign_in(p, &unique_email("sockcust")));
    let ticket = ticket_of(p, &customer);
    let chat = chat_of(p, &customer, &ticket);
    let tech = technician(p);
    let tech_token = access(&tech);
    let mut room = room_socket(p, &tech_token, &format!("/api/v1/tickets/{ticket}/live/ticket"));
    let mut chat_socket = room_socket(p, &tech_token, &format!("/api/v1/chat/conversations/{chat}/live/ticket"));
    let member = format!("/api/v1/workspaces/ws-default/members/{}", user_id(&tech));
    assert_eq!(authed(p, "PUT", &member, &owner, Some(&json!({ "role": "customer" }))).status, 200);
    assert_eq!(closed_with(&mut room), Some(4001), "the ticket room closed the demoted technician's socket");
    assert_eq!(closed_with(&mut chat_socket), Some(4001), "so did the chat");

    // A technician who signs out loses their sockets the same moment.
    let other = technician(p);
    let mut room = room_socket(p, &access(&other), &format!("/api/v1/tickets/{ticket}/live/ticket"));
    assert_eq!(authed(p, "POST", "/api/v1/auth/logout", &access(&other), None).status, 204);
    assert_eq!(closed_with(&mut room), Some(4001));
}

#[test]
fn a_flood_inside_a_socket_is_held_and_then_closed() {
    let p = &shop().platform;
    let customer = access(&sign_in(p, &unique_email("flooder")));
    let ticket = ticket_of(p, &customer);
    let mut room = room_socket(p, &customer, &format!("/api/v1/tickets/{ticket}/live/ticket"));
    for n in 0..200 {
        if room.send(Message::text(json!({ "type": "message", "text": format!("spam {n}") }).to_string())).is_err() {
            break;
        }
    }
    let mut slowed = 0;
    let mut closed = None;
    for _ in 0..400 {
        match room.read() {
            Ok(Message::Text(t)) if t.as_str().contains("slow down") => slowed += 1,
            Ok(Message::Close(frame)) => {
                closed = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(slowed > 0, "the socket was told to slow down");
    assert_eq!(closed, Some(1008), "and closed when it kept on");
    // At most the burst (and what refilled meanwhile) was kept.
    let staff = access(&technician(p));
    let (mut fresh, kept) = {
        let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &staff, None);
        let path = format!("{}&since=0", r.json()["path"].as_str().expect("path"));
        let mut s = connect(&p.ws_url(&path)).expect("connect");
        let mut kept = 0;
        loop {
            let f = next_json(&mut s);
            if f["type"] == "hello" {
                break (s, kept);
            }
            if f["type"] == "message" {
                kept += 1;
            }
        }
    };
    drain(&mut fresh);
    assert!((1..=30).contains(&kept), "{kept} messages kept of 200");

    // A frame over 16 KiB is refused unread.
    let mut big = room_socket(p, &customer, &format!("/api/v1/tickets/{ticket}/live/ticket"));
    big.send(Message::text(json!({ "type": "message", "text": "x".repeat(20_000) }).to_string())).expect("send");
    assert!(next_of(&mut big, "error")["message"].as_str().is_some_and(|m| m.contains("too large")));
}

#[test]
fn an_estimate_bounds_every_list_and_text_it_stores() {
    let p = &shop().platform;
    let tech = access(&technician(p));
    let base = |parts: Value, competitors: Value| {
        json!({ "complexity": "simple", "estimated_minutes": 30, "urgency": "standard",
                "parts": parts, "competitor_prices_cents": competitors })
    };
    let many: Vec<Value> =
        (0..10_000).map(|n| json!({ "name": format!("p{n}"), "cost_cents": 1, "quantity": 1 })).collect();
    let r = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&base(json!(many), json!([]))));
    assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("parts")), "{}", r.text());
    let long = json!([{ "name": "x".repeat(100_000), "cost_cents": 1, "quantity": 1 }]);
    let r = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&base(long, json!([]))));
    assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("parts")), "{}", r.text());
    let prices: Vec<i64> = (0..5_000).collect();
    let r = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&base(json!([]), json!(prices))));
    assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("competitor_prices_cents")));
    let fine = base(json!([{ "name": "DC jack", "cost_cents": 1200, "quantity": 1 }]), json!([15000]));
    assert_eq!(authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&fine)).status, 201);
}

#[test]
fn customer_words_reach_slack_and_discord_without_pinging_anyone() {
    let s = shop();
    let p = &s.platform;
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let channels = json!({ "slack_webhook_url": format!("{}/slack/hook", s.providers.url()),
                           "discord_webhook_url": format!("{}/discord/hook", s.providers.url()) });
    assert_eq!(authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&channels)).status, 200);
    let customer = access(&sign_in(p, &unique_email("pinger")));
    let ticket = ticket_of(p, &customer);
    let chat = chat_of(p, &customer, &ticket);
    let reason = json!({ "reason": "<!channel> @everyone look <https://evil.example|here>" });
    let r = authed(p, "POST", &format!("/api/v1/chat/conversations/{chat}/escalate"), &customer, Some(&reason));
    assert_eq!(r.status, 200, "{}", r.text());
    let (slack, discord) = eventually(Duration::from_secs(20), "both team channels told", || {
        let got = s.providers.requests();
        let find = |path: &str| {
            got.iter()
                .rev()
                .find(|r| r.path == path && String::from_utf8_lossy(&r.body).contains("evil.example"))
                .cloned()
        };
        Some((find("/slack/hook")?, find("/discord/hook")?))
    });
    let slack = String::from_utf8_lossy(&slack.body).into_owned();
    assert!(!slack.contains("<!channel>") && slack.contains("&lt;!channel&gt;"), "{slack}");
    assert!(!slack.contains("<https://evil.example"), "{slack}");
    let discord: Value = serde_json::from_slice(&discord.body).expect("discord json");
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]), "{discord}");

    // A webhook that cannot be reached fails without its (secret) URL landing in the log
    // staff read: only that the provider could not be reached.
    let unreachable =
        json!({ "slack_webhook_url": "http://127.0.0.1:9/services/T0/B0/secret-path", "discord_webhook_url": "" });
    assert_eq!(authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&unreachable)).status, 200);
    let ticket = ticket_of(p, &customer);
    let chat = chat_of(p, &customer, &ticket);
    let r = authed(p, "POST", &format!("/api/v1/chat/conversations/{chat}/escalate"), &customer, Some(&json!({})));
    assert_eq!(r.status, 200, "{}", r.text());
    let log = eventually(Duration::from_secs(20), "a failed slack delivery", || {
        let log = authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={ticket}"), &owner, None);
        let failed = log.json()["deliveries"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x["channel"] == "slack" && x["status"] == "failed"));
        failed.then_some(log)
    });
    assert!(!log.text().contains("secret-path") && !log.text().contains("127.0.0.1:9"), "{}", log.text());
    let stored = d1_query(&p.state, "SELECT COUNT(*) AS n FROM deliveries WHERE detail LIKE '%secret-path%'");
    assert_eq!(stored[0]["n"], 0);
    let _ = authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&json!({ "slack_webhook_url": "" })));
}

#[test]
fn a_push_subscription_cannot_be_taken_over_and_each_person_has_a_few() {
    let p = &shop().platform;
    let alice = access(&sign_in(p, &unique_email("pusha")));
    let mallory = access(&sign_in(p, &unique_email("pushm")));
    // The receiver's public key and auth secret of RFC 8291's worked example (appendix A):
    // the hub checks keys by encrypting with them.
    let keys = json!({ "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                       "auth": "BTBZMqHH6r4Tts7J_aSIgg" });
    let endpoint = format!("https://push.example.net/send/{}", unique_email("ep"));
    let sub = |token: &str| {
        authed(
            p,
            "POST",
            "/api/v1/notifications/push/subscriptions",
            token,
            Some(&json!({ "endpoint": endpoint, "keys": keys })),
        )
    };
    assert_eq!(sub(&alice).status, 201, "{}", sub(&alice).text());
    let taken = sub(&mallory);
    assert_eq!(taken.status, 409, "{}", taken.text());
    let owner = d1_query(&p.state, &format!("SELECT user_id FROM push_subscriptions WHERE endpoint = '{endpoint}'"));
    assert_eq!(owner.len(), 1);
    for n in 1..10 {
        let other = json!({ "endpoint": format!("{endpoint}-{n}"), "keys": keys });
        assert_eq!(authed(p, "POST", "/api/v1/notifications/push/subscriptions", &alice, Some(&other)).status, 201);
    }
    let eleventh = json!({ "endpoint": format!("{endpoint}-11"), "keys": keys });
    let r = authed(p, "POST", "/api/v1/notifications/push/subscriptions", &alice, Some(&eleventh));
    assert_eq!(r.status, 409, "{}", r.text());
}

#[test]
fn nobody_takes_the_shops_own_name_and_room_frames_say_who_is_staff() {
    let p = &shop().platform;
    let customer = access(&sign_in(p, &unique_email("mimic")));
    for name in ["NoizyLab", "noizy lab support", "N0IZYLAB"] {
        let r = authed(p, "PUT", "/api/v1/users/profile", &customer, Some(&json!({ "name": name })));
        assert_eq!((r.status, r.json()["error"]["field"].clone()), (400, json!("name")), "{name}");
    }
    let ticket = ticket_of(p, &customer);
    let mut room = room_socket(p, &customer, &format!("/api/v1/tickets/{ticket}/live/ticket"));
    send_frame(&mut room, &json!({ "type": "message", "text": "hello" }));
    assert_eq!(next_of(&mut room, "message")["staff"], false);
}

#[test]
fn a_demoted_owner_cannot_regain_ownership_by_erasing_the_account() {
    // Its own platform: here the bootstrap owner is demoted by a second owner.
    let p = Platform::fresh("bootstrap");
    let first = sign_in(&p, OWNER_EMAIL);
    assert_eq!(first["role"], "owner", "the first sign-in of OWNER_EMAIL bootstraps the owner");
    let second = sign_in(&p, &unique_email("heir"));
    let member = |id: &str| format!("/api/v1/workspaces/ws-default/members/{id}");
    assert_eq!(
        authed(&p, "PUT", &member(&user_id(&second)), &access(&first), Some(&json!({ "role": "owner" }))).status,
        200
    );
    let heir = access(&refresh(&p, &refresh_token(&second)).json());
    assert_eq!(authed(&p, "PUT", &member(&user_id(&first)), &heir, Some(&json!({ "role": "customer" }))).status, 200);
    let demoted = refresh(&p, &refresh_token(&first)).json();
    let erased = authed(&p, "DELETE", "/api/v1/users/me", &access(&demoted), Some(&json!({ "confirm": OWNER_EMAIL })));
    assert_eq!(erased.status, 204, "{}", erased.text());
    let again = sign_in(&p, OWNER_EMAIL);
    assert_eq!(again["role"], "customer", "bootstrap is one-shot: {again}");
}

#[test]
fn erasure_leaves_no_phone_push_subscription_or_chat_words() {
    let p = &shop().platform;
    let email = unique_email("forget");
    let pair = sign_in(p, &email);
    let me = access(&pair);
    let id = user_id(&pair);
    let profile = json!({ "name": "Forget Me", "phone": "+15145550199" });
    assert_eq!(authed(p, "PUT", "/api/v1/users/profile", &me, Some(&profile)).status, 200);
    let keys = json!({ "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                       "auth": "BTBZMqHH6r4Tts7J_aSIgg" });
    let sub = json!({ "endpoint": format!("https://push.example.net/send/{id}"), "keys": keys });
    assert_eq!(authed(p, "POST", "/api/v1/notifications/push/subscriptions", &me, Some(&sub)).status, 201);
    let ticket = ticket_of(p, &me);
    let chat = chat_of(p, &me, &ticket);
    let mut socket = room_socket(p, &me, &format!("/api/v1/chat/conversations/{chat}/live/ticket"));
    send_frame(&mut socket, &json!({ "type": "message", "text": "my secret is 1234" }));
    eventually(Duration::from_secs(10), "the line in the transcript", || {
        let rows = d1_query(&p.state, &format!("SELECT id FROM chat_messages WHERE sender_id = '{id}'"));
        (!rows.is_empty()).then_some(())
    });
    assert_eq!(authed(p, "DELETE", "/api/v1/users/me", &me, Some(&json!({ "confirm": email }))).status, 204);
    assert_eq!(closed_with(&mut socket), Some(4001), "the chat socket closed with the account");
    let user = d1_query(&p.state, &format!("SELECT phone FROM users WHERE id = '{id}'"));
    assert_eq!(user[0]["phone"], Value::Null);
    let subs = d1_query(&p.state, &format!("SELECT COUNT(*) AS n FROM push_subscriptions WHERE user_id = '{id}'"));
    assert_eq!(subs[0]["n"], 0);
    let words =
        d1_query(&p.state, &format!("SELECT COUNT(*) AS n FROM chat_messages WHERE text LIKE '%secret is 1234%'"));
    assert_eq!(words[0]["n"], 0);
}
