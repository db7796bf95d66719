//! Who may do what, end to end: API keys, devices seen only by their owner and the shop,
//! the per-device scan limit, disabling users, opening workspaces, the GDPR export and
//! erasure, and the gateway's refusals in the audit log — against the real workers.

use std::sync::OnceLock;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("access"))
}

fn register_device(p: &Platform, token: &str, name: &str) -> Value {
    let body =
        json!({ "name": name, "type": "laptop", "make": "Apple", "model": "MacBook Pro 14", "serial": "C02XK1" });
    let r = authed(p, "POST", "/api/v1/devices/register", token, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn an_admin_creates_a_scoped_key_that_works_at_once_and_stops_when_revoked() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let keys = "/api/v1/workspaces/ws-default/api-keys";

    let bad = authed(p, "POST", keys, &owner, Some(&json!({ "name": "x", "scopes": ["tickets:fly"] })));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["error"]["field"], "scopes");
    let none = authed(p, "POST", keys, &owner, Some(&json!({ "name": "x", "scopes": [] })));
    assert_eq!(none.json()["error"]["field"], "scopes");

    let body = json!({ "name": "Shop display", "scopes": ["tickets:read"], "rate_limit": 5 });
    let created = authed(p, "POST", keys, &owner, Some(&body));
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let key = created["key"].as_str().expect("the key, shown once").to_owned();
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(key.starts_with(&format!("nlk_{id}_")), "{key}");
    assert_eq!(created["scopes"], json!(["tickets:read"]));

    let listed = authed(p, "GET", keys, &owner, None);
    assert_eq!(listed.status, 200);
    let text = listed.text();
    assert!(text.contains(&id) && !text.contains(&key), "listed without the secret: {text}");
    let secret = key.rsplit('_').next().unwrap_or_default();
    assert!(!text.contains(secret));
    let stored = d1_query(&p.state, &format!("SELECT key_hash FROM api_keys WHERE id = '{id}'"));
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0]["key_hash"], key.as_str(), "stored only hashed");

    // Within its scope it works, outside it is refused; its own limit is 5 a minute.
    let r = with_key(p, "GET", "/api/v1/devices", &key, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("ratelimit-limit"), Some("5"));
    let write = with_key(p, "POST", "/api/v1/devices/register", &key, Some(&json!({ "name": "n", "type": "phone" })));
    assert_eq!(write.status, 403, "{}", write.text());
    // A key is not a person.
    assert_eq!(with_key(p, "GET", "/api/v1/auth/me", &key, None).status, 403);
    // As a bearer too.
    let bearer = authed(p, "GET", "/api/v1/devices", &key, None);
    assert_eq!(bearer.status, 200, "{}", bearer.text());
    assert_eq!(with_key(p, "GET", "/api/v1/devices", &key, None).status, 200);
    let over = with_key(p, "GET", "/api/v1/devices", &key, None);
    assert_eq!(over.status, 429, "the sixth in a minute: {}", over.text());
    assert!(over.header("retry-after").is_some());

    // The right id with a wrong secret is refused like any unknown key.
    let forged = format!("nlk_{id}_{}", "A".repeat(43));
    assert_eq!(with_key(p, "GET", "/api/v1/devices", &forged, None).status, 401);

    let revoked = authed(p, "DELETE", &format!("{keys}/{id}"), &owner, None);
    assert_eq!(revoked.status, 204, "{}", revoked.text());
    let after = with_key(p, "GET", "/api/v1/devices", &key, None);
    assert_eq!(after.status, 401, "{}", after.text());
    let listed = authed(p, "GET", keys, &owner, None).json();
    let row = listed["api_keys"].as_array().and_then(|k| k.iter().find(|k| k["id"] == id.as_str()).cloned());
    assert!(row.is_some_and(|r| r["revoked_at"].is_string()));
    assert_eq!(authed(p, "DELETE", &format!("{keys}/nope"), &owner, None).status, 404);

    let actions = d1_query(&p.state, &format!("SELECT action FROM audit_log WHERE target = '{id}' ORDER BY seq"));
    let actions: Vec<&str> = actions.iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions, ["api_key.created", "api_key.revoked"]);
}

#[test]
fn only_admins_manage_keys_and_nobody_grants_more_than_they_hold() {
    let p = platform();
    let customer = access(&sign_in(p, &unique_email("keyless")));
    let keys = "/api/v1/workspaces/ws-default/api-keys";
    let r = authed(p, "POST", keys, &customer, Some(&json!({ "name": "mine", "scopes": ["tickets:read"] })));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(authed(p, "GET", keys, &customer, None).status, 403);
    let owner = access(&sign_in(p, OWNER_EMAIL));
    assert_eq!(authed(p, "GET", "/api/v1/workspaces/ws-elsewhere/api-keys", &owner, None).status, 404);
}

#[test]
fn a_customer_sees_only_their_own_devices_and_the_shop_sees_all() {
    let p = platform();
    let alice = sign_in(p, &unique_email("alice"));
    let bob = sign_in(p, &unique_email("bob"));
    let device = register_device(p, &access(&alice), "Alice's laptop");
    let id = device["id"].as_str().expect("id").to_owned();
    assert_eq!(device["owner_id"], user_id(&alice).as_str());
    assert_eq!(device["type"], "laptop");

    let mine = authed(p, "GET", &format!("/api/v1/devices/{id}"), &access(&alice), None);
    assert_eq!(mine.status, 200, "{}", mine.text());
    for path in [format!("/api/v1/devices/{id}"), format!("/api/v1/devices/{id}/health")] {
        let theirs = authed(p, "GET", &path, &access(&bob), None);
        assert_eq!(theirs.status, 404, "{path}: {}", theirs.text());
    }
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/devices/{id}"), &access(&bob), None).status, 404);
    let bobs = authed(p, "GET", "/api/v1/devices", &access(&bob), None).json();
    assert_eq!(bobs["devices"], json!([]));

    let owner = access(&sign_in(p, OWNER_EMAIL));
    let all = authed(p, "GET", &format!("/api/v1/devices?owner_id={}", user_id(&alice)), &owner, None).json();
    assert_eq!(all["devices"][0]["id"], id.as_str());

    let health = authed(p, "GET", &format!("/api/v1/devices/{id}/health"), &access(&alice), None);
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "unknown");
    // Now cached (KV): still nobody else's to read.
    let cached = authed(p, "GET", &format!("/api/v1/devices/{id}/health"), &access(&bob), None);
    assert_eq!(cached.status, 404, "{}", cached.text());

    let bad = authed(
        p,
        "POST",
        "/api/v1/devices/register",
        &access(&alice),
        Some(&json!({ "name": "x", "type": "toaster" })),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["field"], "type");
    let missing = authed(p, "POST", "/api/v1/devices/register", &access(&alice), Some(&json!({ "type": "phone" })));
    assert_eq!(missing.json()["error"]["field"], "name");
    let imei = json!({ "name": "p", "type": "phone", "imei": "490154203237519" });
    assert_eq!(authed(p, "POST", "/api/v1/devices/register", &access(&alice), Some(&imei)).status, 400);

    assert_eq!(authed(p, "DELETE", &format!("/api/v1/devices/{id}"), &access(&alice), None).status, 204);
    assert_eq!(authed(p, "GET", &format!("/api/v1/devices/{id}"), &access(&alice), None).status, 404);
}

#[test]
fn the_device_list_pages_newest_first_and_lists_each_device_as_it_reads_alone() {
    let p = platform();
    let carol = access(&sign_in(p, &unique_email("carol")));
    let mut ids = Vec::new();
    for (i, specs) in [json!({}), json!({ "ram_gb": 16, "cpu": "M3 \"Pro\"" }), json!({ "disks": [{ "gb": 512 }] })]
        .into_iter()
        .enumerate()
    {
        let body = json!({ "name": format!("Device {i}"), "type": "laptop", "os": "macOS 14.1", "specs": specs });
        let r = authed(p, "POST", "/api/v1/devices/register", &carol, Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["id"].as_str().expect("id").to_owned());
    }
    let alone = |id: &str| authed(p, "GET", &format!("/api/v1/devices/{id}"), &carol, None).json();

    let first = authed(p, "GET", "/api/v1/devices?limit=2", &carol, None);
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    let listed = first["devices"].as_array().expect("devices");
    assert_eq!(listed.len(), 2);
    // Newest first; every field (specs as the object it was given) as the device reads alone.
    assert_eq!(listed[0], alone(&ids[2]));
    assert_eq!(listed[1], alone(&ids[1]));
    assert_eq!(listed[1]["specs"], json!({ "ram_gb": 16, "cpu": "M3 \"Pro\"" }));
    let cursor = first["next_cursor"].as_str().expect("another page follows");
    assert!(cursor.ends_with(&format!("|{}", ids[1])), "{cursor}");

    let next = format!("/api/v1/devices?limit=2&cursor={}", cursor.replace(':', "%3A").replace('|', "%7C"));
    let second = authed(p, "GET", &next, &carol, None).json();
    assert_eq!(second["devices"], json!([alone(&ids[0])]));
    assert_eq!(second["next_cursor"], Value::Null);

    let bad = authed(p, "GET", "/api/v1/devices?cursor=nonsense", &carol, None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["error"]["field"], "cursor");
}

#[test]
fn registering_with_an_idempotency_key_creates_one_device() {
    let p = platform();
    let token = access(&sign_in(p, &unique_email("retry")));
    let body = json!({ "name": "Console", "type": "console" }).to_string();
    let bearer = format!("Bearer {token}");
    let send = |key: &str, body: &str| {
        let headers =
            [("authorization", bearer.as_str()), ("content-type", "application/json"), ("idempotency-key", key)];
        request("POST", &p.url("/api/v1/devices/register"), &headers, Some(body.as_bytes()))
    };
    let first = send("reg-1", &body);
    assert_eq!(first.status, 201, "{}", first.text());
    let again = send("reg-1", &body);
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), first.json(), "the replay is the first answer, field for field");
    let listed = authed(p, "GET", "/api/v1/devices", &token, None).json();
    assert_eq!(listed["devices"].as_array().map(Vec::len), Some(1));
    let other = send("reg-1", &json!({ "name": "Other", "type": "phone" }).to_string());
    assert_eq!(other.status, 422, "{}", other.text());
}

#[test]
fn the_eleventh_scan_of_a_device_in_an_hour_is_refused() {
    let p = platform();
    let token = access(&sign_in(p, &unique_email("scanner")));
    let id = register_device(p, &token, "Scanned")["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/devices/{id}/scan");
    let facts = json!({ "os": "Linux", "cpu_cores": 4, "ram_gb": 8, "storage_gb": 256 });
    for i in 1..=10 {
        let r = authed(p, "POST", &path, &token, Some(&facts));
        assert_eq!(r.status, 202, "scan {i}: {}", r.text());
    }
    let r = authed(p, "POST", &path, &token, Some(&facts));
    assert_eq!(r.status, 429, "{}", r.text());
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!(retry > 60 && retry <= 3600, "{retry}");
    let stored = d1_query(&p.state, &format!("SELECT COUNT(*) AS n FROM device_scans WHERE device_id = '{id}'"));
    assert_eq!(stored[0]["n"], 10, "the refused scan was not recorded");
}

#[test]
fn a_disabled_user_is_out_at_once_and_cannot_sign_in_until_enabled() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let email = unique_email("leaver");
    let pair = sign_in(p, &email);
    let id = user_id(&pair);
    let base = format!("/api/v1/workspaces/ws-default/members/{id}");
    assert_eq!(authed(p, "POST", &format!("{base}/disable"), &access(&pair), None).status, 403);
    let r = authed(p, "POST", &format!("{base}/disable"), &owner, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&pair), None).status, 401);
    assert_eq!(refresh(p, &refresh_token(&pair)).status, 401);
    let asked = ask_for_link(p, &email);
    assert_eq!(asked.status, 202, "the answer never tells");
    let (_, code) = from_outbox(p, &email);
    let login = login(p, &email, &code, &challenge(&asked));
    assert_eq!(login.status, 403, "{}", login.text());

    assert_eq!(authed(p, "POST", &format!("{base}/enable"), &owner, None).status, 200);
    let back = sign_in(p, &email);
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&back), None).status, 200);
}

#[test]
fn an_owner_opens_a_workspace_and_nothing_crosses_between_them() {
    let p = platform();
    // A second owner of ws-default, so that no other test's sign-in races this one's.
    let root = access(&sign_in(p, OWNER_EMAIL));
    let boss_email = unique_email("boss");
    let boss = sign_in(p, &boss_email);
    let promote = format!("/api/v1/workspaces/ws-default/members/{}", user_id(&boss));
    assert_eq!(authed(p, "PUT", &promote, &root, Some(&json!({ "role": "owner" }))).status, 200);
    let owner = access(&refresh(p, &refresh_token(&boss)).json());
    let r = authed(p, "POST", "/api/v1/workspaces", &owner, Some(&json!({ "name": "Downtown" })));
    assert_eq!(r.status, 201, "{}", r.text());
    let ws = r.json()["id"].as_str().expect("id").to_owned();
    let mine = authed(p, "GET", "/api/v1/workspaces", &owner, None).json();
    assert!(mine["workspaces"].as_array().is_some_and(|w| w.iter().any(|x| x["id"] == ws.as_str())));

    // Signing in to the new workspace gives a token for it; ws-default's data is not there.
    let ask = json!({ "email": boss_email, "workspace_id": ws });
    let asked = send_json("POST", &p.url("/api/v1/auth/magic-link"), &ask);
    assert_eq!(asked.status, 202);
    let (_, code) = from_outbox(p, &boss_email);
    let there = login(p, &boss_email, &code, &challenge(&asked));
    assert_eq!(there.status, 200, "{}", there.text());
    let there = there.json();
    assert_eq!(there["workspace_id"], ws.as_str());
    let customer = sign_in(p, &unique_email("local"));
    let device = register_device(p, &access(&customer), "Home laptop");
    let path = format!("/api/v1/devices/{}", device["id"].as_str().unwrap_or_default());
    assert_eq!(authed(p, "GET", &path, &access(&there), None).status, 404);
    assert_eq!(authed(p, "GET", &path, &owner, None).status, 200);

    let customer_try = authed(p, "POST", "/api/v1/workspaces", &access(&customer), Some(&json!({ "name": "Mine" })));
    assert_eq!(customer_try.status, 403);
}

#[test]
fn a_person_exports_their_data_and_erases_their_account() {
    let p = platform();
    let email = unique_email("gdpr");
    let pair = sign_in(p, &email);
    let token = access(&pair);
    let device = register_device(p, &token, "Old phone");
    let export = authed(p, "GET", "/api/v1/users/me/export", &token, None);
    assert_eq!(export.status, 200, "{}", export.text());
    assert!(export.header("content-disposition").is_some_and(|d| d.contains("attachment")));
    let doc = export.json();
    assert_eq!(doc["profile"][0]["email"], email.as_str());
    assert_eq!(doc["devices"][0]["id"], device["id"]);
    assert!(doc["sessions"].as_array().is_some_and(|s| !s.is_empty()));
    let text = export.text();
    assert!(!text.contains("token_hash") && !text.contains(&refresh_token(&pair)));

    let wrong = authed(p, "DELETE", "/api/v1/users/me", &token, Some(&json!({ "confirm": "someone@else.com" })));
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"]["field"], "confirm");
    let gone = authed(p, "DELETE", "/api/v1/users/me", &token, Some(&json!({ "confirm": email })));
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &token, None).status, 401);
    assert_eq!(refresh(p, &refresh_token(&pair)).status, 401);
    let left = d1_query(&p.state, &format!("SELECT email FROM users WHERE id = '{}'", user_id(&pair)));
    assert!(left[0]["email"].as_str().is_some_and(|e| !e.contains("gdpr")), "{left:?}");
    let serials = d1_query(&p.state, &format!("SELECT serial FROM devices WHERE owner_id = '{}'", user_id(&pair)));
    assert_eq!(serials[0]["serial"], Value::Null);

    let owner = access(&sign_in(p, OWNER_EMAIL));
    let refused = authed(p, "DELETE", "/api/v1/users/me", &owner, Some(&json!({ "confirm": OWNER_EMAIL })));
    assert_eq!(refused.status, 409, "an owner hands the shop on first: {}", refused.text());
}

#[test]
fn refused_credentials_at_the_gateway_are_audited_without_the_credential() {
    let p = platform();
    let bogus = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln";
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", bogus, None).status, 401);
    let rows = eventually(std::time::Duration::from_secs(10), "the refusal in the audit log", || {
        let rows = d1_query(&p.state, "SELECT detail, ip FROM audit_log WHERE action = 'auth.credential_refused'");
        (!rows.is_empty()).then_some(rows)
    });
    let all = serde_json::to_string(&rows).unwrap_or_default();
    assert!(all.contains("/api/v1/auth/me"), "{all}");
    assert!(!all.contains(bogus), "the token itself is never logged");
}

#[test]
fn anonymous_callers_and_refused_credentials_are_limited_per_address() {
    // Its own platform: five anonymous API requests a minute per address.
    let p = Platform::fresh_with("anonymous-limit", &[("NOIZYLAB_ANON_RATE_LIMIT", "5")]);
    // Signing in takes three: the link, the outbox, the code.
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    for _ in 0..2 {
        assert_eq!(get(&p.url("/api/v1/notifications/dev/outbox")).status, 200);
    }
    let held = get(&p.url("/api/v1/notifications/dev/outbox"));
    assert_eq!(held.status, 429, "{}", held.text());
    assert!(held.header("retry-after").and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(held.json()["error"]["code"], "rate_limited");
    // A signed-in person is not held by their address's anonymous traffic.
    assert_eq!(authed(&p, "GET", "/api/v1/auth/me", &owner, None).status, 200);
    // A flood of bad tokens is held too, and stops reaching the audit log.
    let bogus = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln";
    assert_eq!(authed(&p, "GET", "/api/v1/auth/me", bogus, None).status, 429);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let audited = d1_query(&p.state, "SELECT detail FROM audit_log WHERE action = 'auth.credential_refused'");
    assert!(audited.is_empty(), "{audited:?}");
}

#[test]
fn refusals_in_pricing_and_the_chat_agent_join_the_audit_chain() {
    let p = platform();
    let pair = sign_in(p, &unique_email("overreach"));
    let customer = access(&pair);
    let me = user_id(&pair);
    let r = authed(p, "PUT", "/api/v1/pricing/price-list", &customer, Some(&json!({ "labor_rate_cents": 1 })));
    assert_eq!(r.status, 403, "{}", r.text());
    let article = json!({ "title": "Free repairs", "body": "Everything is free today." });
    assert_eq!(authed(p, "POST", "/api/v1/chat/kb", &customer, Some(&article)).status, 403);
    let rows = d1_query(
        &p.state,
        &format!("SELECT detail FROM audit_log WHERE action = 'access.refused' AND actor = '{me}' ORDER BY seq"),
    );
    let all = serde_json::to_string(&rows).unwrap_or_default();
    assert!(all.contains("noizylab-pricing") && all.contains("pricing:write"), "{all}");
    assert!(all.contains("noizylab-chat-agent") && all.contains("admin"), "{all}");
    let verify = authed(p, "GET", "/api/v1/audit/verify", &access(&sign_in(p, OWNER_EMAIL)), None);
    assert_eq!(verify.json()["ok"], true, "the chain still verifies: {}", verify.text());
}
