//! Attacks on who may do what (issue 9), each performed end to end: API keys acting as
//! staff, keys outliving their creator's rights, one workspace disabling another's owner,
//! bootstrap ownership regained, erasure leaving data behind. (Sockets, floods, stored
//! lists, team channels, push and display names: `hardening_live.rs`.)

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};
use tungstenite::Message;

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("hardening-access"))
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
    let p = platform();
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
fn a_key_whose_scope_no_route_here_uses_is_refused_by_every_route() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let customer = access(&sign_in(p, &unique_email("sweep")));
    let ticket = ticket_of(p, &customer);
    let chat = chat_of(p, &customer, &ticket);
    let key = key_with(p, &owner, &["ai:voice"]);
    let t = format!("/api/v1/tickets/{ticket}");
    let c = format!("/api/v1/chat/conversations/{chat}");
    let routes: Vec<(&str, String)> = vec![
        // main
        ("GET", "/api/v1/devices".into()),
        ("POST", "/api/v1/devices/register".into()),
        ("GET", "/api/v1/devices/d-none".into()),
        ("DELETE", "/api/v1/devices/d-none".into()),
        ("GET", "/api/v1/devices/d-none/health".into()),
        ("POST", "/api/v1/devices/d-none/scan".into()),
        ("POST", "/api/v1/tickets".into()),
        ("GET", "/api/v1/tickets".into()),
        ("GET", "/api/v1/tickets/board".into()),
        ("GET", t.clone()),
        ("PATCH", t.clone()),
        ("POST", format!("{t}/status")),
        ("POST", format!("{t}/notes")),
        ("POST", format!("{t}/messages")),
        ("POST", format!("{t}/timer/start")),
        ("POST", format!("{t}/timer/stop")),
        ("POST", format!("{t}/attachments")),
        ("GET", format!("{t}/attachments/a-none")),
        ("POST", format!("{t}/live/ticket")),
        ("POST", "/api/v1/sessions/start".into()),
        ("GET", "/api/v1/sessions/history".into()),
        ("GET", "/api/v1/sessions/ses_none".into()),
        ("POST", "/api/v1/sessions/ses_none/action".into()),
        ("POST", "/api/v1/sessions/ses_none/end".into()),
        ("POST", "/api/v1/sessions/ses_none/live/ticket".into()),
        ("GET", "/api/v1/sessions/ses_none/report".into()),
        ("GET", "/api/v1/auth/me".into()),
        ("GET", "/api/v1/users/profile".into()),
        ("GET", "/api/v1/users/me/export".into()),
        ("POST", "/api/v1/users/me/live/ticket".into()),
        ("GET", "/api/v1/workspaces".into()),
        ("GET", "/api/v1/workspaces/ws-default/members".into()),
        ("GET", "/api/v1/workspaces/ws-default/api-keys".into()),
        ("GET", "/api/v1/audit/verify".into()),
        // chat-agent
        ("POST", "/api/v1/chat/conversations".into()),
        ("GET", "/api/v1/chat/conversations".into()),
        ("GET", c.clone()),
        ("POST", format!("{c}/live/ticket")),
        ("POST", format!("{c}/escalate")),
        ("POST", format!("{c}/close")),
        ("GET", "/api/v1/chat/messages?q=pixel".into()),
        ("GET", "/api/v1/chat/kb".into()),
        ("POST", "/api/v1/chat/kb".into()),
        ("PUT", "/api/v1/chat/kb/kb-hours".into()),
        ("DELETE", "/api/v1/chat/kb/kb-hours".into()),
        // pricing
        ("POST", "/api/v1/pricing/estimate".into()),
        ("GET", "/api/v1/pricing/packages".into()),
        ("GET", "/api/v1/pricing/price-list".into()),
        ("PUT", "/api/v1/pricing/price-list".into()),
        ("GET", "/api/v1/pricing/quotes/q-none".into()),
        ("POST", "/api/v1/pricing/quotes/q-none/approve".into()),
        ("POST", "/api/v1/pricing/quotes/q-none/decline".into()),
        // notifications
        ("GET", "/api/v1/notifications/channels".into()),
        ("PUT", "/api/v1/notifications/channels".into()),
        ("GET", format!("/api/v1/notifications/deliveries?ticket_id={ticket}")),
        ("POST", "/api/v1/notifications/push/subscriptions".into()),
        ("DELETE", "/api/v1/notifications/push/subscriptions".into()),
        // customer-portal: a person's own things; a key is nobody there
        ("GET", "/api/v1/invoices".into()),
        ("GET", "/api/v1/loyalty".into()),
        ("POST", "/api/v1/payments/checkout".into()),
    ];
    let body = json!({});
    let mut let_through = Vec::new();
    for (method, path) in &routes {
        let with_body = matches!(*method, "POST" | "PUT" | "PATCH" | "DELETE").then_some(&body);
        let r = with_key(p, method, path, &key, with_body);
        if !matches!(r.status, 401 | 403) {
            let_through.push(format!("{method} {path} → {} {}", r.status, r.text()));
        }
    }
    assert!(let_through.is_empty(), "a key holding only ai:voice got past:\n{}", let_through.join("\n"));
    // Nothing it touched changed: the conversation is still open, the ticket untouched.
    let open = d1_query(&p.state, &format!("SELECT status FROM chat_conversations WHERE id = '{chat}'"));
    assert_ne!(open[0]["status"], "closed");
}

#[test]
fn a_key_never_holds_more_than_its_creator_does_now() {
    let p = platform();
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
        // What `admin` lets a key do: read (and replace) the team's Slack and Discord hooks.
        assert_eq!(with_key(p, "GET", "/api/v1/notifications/channels", &key, None).status, 200);
        admins.push((id, admin, key));
    }
    // Demoted: the key loses what the creator lost (admin) and keeps the rest.
    let (id, _, key) = &admins[0];
    assert_eq!(authed(p, "PUT", &format!("{ws}/{id}"), &owner, Some(&json!({ "role": "technician" }))).status, 200);
    let scopes = d1_query(&p.state, &format!("SELECT scopes FROM api_keys WHERE created_by = '{id}'"));
    assert_eq!(scopes[0]["scopes"], "[\"tickets:read\"]", "{scopes:?}");
    assert_eq!(with_key(p, "GET", "/api/v1/notifications/channels", key, None).status, 403, "admin is gone at once");
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
    let p = platform();
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
    let members = authed(p, "GET", &format!("/api/v1/workspaces/{bob_ws}/members"), &bob_there, None).json();
    let listed = members["members"].as_array().and_then(|m| m.iter().find(|m| m["user_id"] == alice_id.as_str()));
    assert!(listed.is_some_and(|m| m["disabled_at"].is_string()), "{members}");
    let home_members = authed(p, "GET", &format!("/api/v1/workspaces/{alice_ws}/members"), &access(&at_home), None);
    assert!(home_members.json()["members"].as_array().is_some_and(|m| m.iter().all(|m| m["disabled_at"].is_null())));
    // Bob's shop decides nothing about hers: there it is 404, as for any other workspace.
    let foreign = format!("/api/v1/workspaces/{alice_ws}/members/{alice_id}/disable");
    assert_eq!(authed(p, "POST", &foreign, &bob_there, None).status, 404);
    let enable = format!("/api/v1/workspaces/{alice_ws}/members/{alice_id}/enable");
    assert_eq!(authed(p, "POST", &enable, &bob_there, None).status, 404);
    // Bob re-enables her in his own shop.
    let back = format!("/api/v1/workspaces/{bob_ws}/members/{alice_id}/enable");
    assert_eq!(authed(p, "POST", &back, &bob_there, None).status, 200);
    assert_eq!(sign_in_to(p, &alice, &bob_ws).status, 200);

    // The other way round: what Alice decides for her shop, Bob's shop cannot undo.
    let bob_at_alice = sign_in_to(p, &bob, &alice_ws).json();
    let bob_id = user_id(&bob_at_alice);
    let alice_home = access(&sign_in_to(p, &alice, &alice_ws).json());
    let shut = format!("/api/v1/workspaces/{alice_ws}/members/{bob_id}/disable");
    assert_eq!(authed(p, "POST", &shut, &alice_home, None).status, 200);
    assert_eq!(sign_in_to(p, &bob, &alice_ws).status, 403);
    let reopen = format!("/api/v1/workspaces/{alice_ws}/members/{bob_id}/enable");
    let bob_home = access(&sign_in_to(p, &bob, &bob_ws).json());
    assert_eq!(authed(p, "POST", &reopen, &bob_home, None).status, 404);
    assert_eq!(sign_in_to(p, &bob, &alice_ws).status, 403, "still shut out of Alice's shop");
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &bob_home, None).status, 200, "and still at home in his");
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
    let p = platform();
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
    let words = d1_query(&p.state, "SELECT COUNT(*) AS n FROM chat_messages WHERE text LIKE '%secret is 1234%'");
    assert_eq!(words[0]["n"], 0);
    let greeting = d1_query(
        &p.state,
        &format!(
            "SELECT COUNT(*) AS n FROM chat_messages WHERE conversation_id = '{chat}' AND text LIKE '%Forget Me%'"
        ),
    );
    assert_eq!(greeting[0]["n"], 0, "the agent's greeting by name is gone too");
}
