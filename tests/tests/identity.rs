//! Identity and access, end to end: sign-in through the dev outbox, token rotation and
//! revocation, RFC 8725 refusals, roles, workspaces, rate limits and the audit chain —
//! all against the real workers in workerd.

use std::sync::OnceLock;

use noizylab_core::auth::{self, AccessClaims, Role, SigningKey};
use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("identity"))
}

#[test]
fn a_customer_signs_in_with_the_emailed_link_and_again_with_the_code() {
    let p = platform();
    let email = unique_email("link");
    assert_eq!(ask_for_link(p, &email).status, 202);
    let (link, _) = from_outbox(p, &email);
    let r = send_json("POST", &p.url("/api/v1/auth/verify"), &json!({ "token": link }));
    assert_eq!(r.status, 200, "{}", r.text());
    let pair = r.json();
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert_eq!(pair["role"], "customer", "first sign-in creates a customer account");
    let me = authed(p, "GET", "/api/v1/auth/me", &access(&pair), None);
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["email"], email.as_str());
    assert!(me.header("ratelimit-remaining").is_some());

    let again = sign_in(p, &email);
    assert_eq!(again["user_id"], pair["user_id"], "the same account, not a new one");
}

#[test]
fn a_magic_link_works_once_and_not_after_it_expires() {
    let p = platform();
    let email = unique_email("once");
    let asked = ask_for_link(p, &email);
    assert_eq!(asked.status, 202);
    let (link, code) = from_outbox(p, &email);
    let verify = || send_json("POST", &p.url("/api/v1/auth/verify"), &json!({ "token": link }));
    assert_eq!(verify().status, 200);
    assert_eq!(verify().json()["error"]["code"], "unauthenticated", "a used link is refused");
    let by_code = login(p, &email, &code, &challenge(&asked));
    assert_eq!(by_code.status, 401, "the link's code went with it");

    let late = unique_email("late");
    let asked = ask_for_link(p, &late);
    assert_eq!(asked.status, 202);
    let (link, code) = from_outbox(p, &late);
    d1_execute(p, &format!("UPDATE magic_links SET expires_at = 0 WHERE email = '{late}'"));
    assert_eq!(send_json("POST", &p.url("/api/v1/auth/verify"), &json!({ "token": link })).status, 401);
    let r = login(p, &late, &code, &challenge(&asked));
    assert_eq!(r.status, 401);
}

#[test]
fn asking_for_a_link_never_reveals_whether_an_account_exists() {
    let p = platform();
    let known = unique_email("known");
    sign_in(p, &known);
    let a = ask_for_link(p, &known);
    let b = ask_for_link(p, &unique_email("stranger"));
    // Each answer carries its own random challenge; apart from it they are the same.
    let shape = |r: &Reply| {
        let mut body = r.json();
        let challenge = body["challenge"].take();
        (r.status, body, challenge.as_str().map(str::len))
    };
    assert_eq!(shape(&a), shape(&b));
    assert!(shape(&a).2.is_some_and(|n| n >= 43), "a 256-bit challenge");
}

#[test]
fn refresh_tokens_rotate_and_a_reused_one_ends_the_whole_session() {
    let p = platform();
    let first = sign_in(p, &unique_email("rotate"));
    let second = refresh(p, &refresh_token(&first));
    assert_eq!(second.status, 200, "{}", second.text());
    let second = second.json();
    assert_ne!(refresh_token(&second), refresh_token(&first), "rotated");
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&second), None).status, 200);

    // The old refresh token comes back: someone copied it. The family dies.
    assert_eq!(refresh(p, &refresh_token(&first)).status, 401);
    assert_eq!(refresh(p, &refresh_token(&second)).status, 401, "the newest token of the family too");
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&second), None).status, 401, "and its access token");
}

#[test]
fn logout_stops_the_access_token_and_the_refresh_token_at_once() {
    let p = platform();
    let pair = sign_in(p, &unique_email("logout"));
    let token = access(&pair);
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &token, None).status, 200);
    assert_eq!(authed(p, "POST", "/api/v1/auth/logout", &token, None).status, 204);
    let after = authed(p, "GET", "/api/v1/auth/me", &token, None);
    assert_eq!(after.status, 401);
    assert!(after.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
    assert_eq!(refresh(p, &refresh_token(&pair)).status, 401);
}

fn claims_for(pair: &Value) -> AccessClaims {
    AccessClaims {
        iss: auth::ISSUER.into(),
        aud: auth::AUDIENCE.into(),
        sub: pair["user_id"].as_str().unwrap_or_default().into(),
        jti: "forged".into(),
        sid: "forged-session".into(),
        ws: "ws-default".into(),
        role: Role::Owner,
        scopes: Role::Owner.default_scope_names(),
        epoch: 0,
    }
}

#[test]
fn forged_and_malformed_tokens_are_refused_with_401() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let p = platform();
    let pair = sign_in(p, &unique_email("forge"));
    let real = access(&pair);
    let parts: Vec<&str> = real.split('.').collect();
    let payload = parts[1];
    let key = SigningKey::from_seed(TEST_KID, TEST_SEED);
    let mut cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"test-1"}"#)),
        ),
        (
            "HS256",
            format!(
                "{}.{payload}.{}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt","kid":"test-1"}"#),
                parts[2]
            ),
        ),
        ("garbage", "not.a.token".into()),
    ];
    let mut tampered: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default()).unwrap_or_default();
    tampered["role"] = "owner".into();
    cases.push((
        "tampered payload",
        format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(tampered.to_string()), parts[2]),
    ));
    let base = claims_for(&pair);
    let sign = |c: AccessClaims, at: i64| auth::issue(&key, c, at).unwrap_or_default();
    cases.push(("wrong aud", sign(AccessClaims { aud: "another-api".into(), ..base.clone() }, now())));
    cases.push(("wrong iss", sign(AccessClaims { iss: "evil".into(), ..base.clone() }, now())));
    cases.push(("expired", sign(base.clone(), now() - 3600)));
    let other_key = SigningKey::from_seed(TEST_KID, [8; 32]);
    cases.push(("wrong key", auth::issue(&other_key, base.clone(), now()).unwrap_or_default()));
    let untyped = {
        let header = format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{TEST_KID}"}}"#);
        let signed = sign(base.clone(), now());
        let sp: Vec<&str> = signed.split('.').collect();
        format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header), sp[1], sp[2])
    };
    cases.push(("wrong typ", untyped));
    for (what, token) in cases {
        let r = authed(p, "GET", "/api/v1/auth/me", &token, None);
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "unauthenticated", "{what}");
    }
}

#[test]
fn an_issued_token_verifies_with_an_independent_jwt_library_against_the_jwks() {
    let p = platform();
    let pair = sign_in(p, &unique_email("jwks"));
    let jwks = get(&p.url("/.well-known/jwks.json"));
    assert_eq!(jwks.status, 200);
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&jwks.body).expect("a JWK set");
    let token = access(&pair);
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = set.find(header.kid.as_deref().unwrap_or_default()).expect("the token's kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[auth::AUDIENCE]);
    validation.set_issuer(&[auth::ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies independently");
    assert_eq!(data.claims["sub"], pair["user_id"]);
    assert_eq!(data.claims["ws"], "ws-default");
    assert!(data.claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let lifetime = data.claims["exp"].as_i64().unwrap_or(0) - data.claims["iat"].as_i64().unwrap_or(0);
    assert!(lifetime <= 900, "at most 15 minutes: {lifetime}");
}

#[test]
fn roles_change_at_once_and_each_workspace_is_its_own() {
    let p = platform();
    let owner = sign_in(p, OWNER_EMAIL);
    assert_eq!(owner["role"], "owner");
    let member = sign_in(p, &unique_email("member"));
    let member_id = member["user_id"].as_str().unwrap_or_default().to_owned();

    let listed = authed(p, "GET", "/api/v1/workspaces/ws-default/members", &access(&owner), None);
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(listed.json()["members"].as_array().is_some_and(|m| m.iter().any(|x| x["user_id"] == member_id.as_str())));

    // A customer may not list members.
    let refused = authed(p, "GET", "/api/v1/workspaces/ws-default/members", &access(&member), None);
    assert_eq!(refused.status, 403, "{}", refused.text());
    // Another workspace does not exist for this caller.
    let foreign = authed(p, "GET", "/api/v1/workspaces/ws-other/members", &access(&owner), None);
    assert_eq!(foreign.status, 404, "{}", foreign.text());

    let change = authed(
        p,
        "PUT",
        &format!("/api/v1/workspaces/ws-default/members/{member_id}"),
        &access(&owner),
        Some(&json!({ "role": "technician" })),
    );
    assert_eq!(change.status, 200, "{}", change.text());
    // The member's next request with the old token is refused; a refresh carries the new role.
    assert_eq!(authed(p, "GET", "/api/v1/auth/me", &access(&member), None).status, 401);
    let renewed = refresh(p, &refresh_token(&member));
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    let renewed = renewed.json();
    assert_eq!(renewed["role"], "technician");
    // A technician calling an admin route: 403.
    let tech = authed(p, "GET", "/api/v1/workspaces/ws-default/members", &access(&renewed), None);
    assert_eq!(tech.status, 403);
    let bad_role = authed(
        p,
        "PUT",
        &format!("/api/v1/workspaces/ws-default/members/{member_id}"),
        &access(&owner),
        Some(&json!({ "role": "superuser" })),
    );
    assert_eq!(bad_role.status, 400);
    assert_eq!(bad_role.json()["error"]["field"], "role");
}

#[test]
fn the_hundred_and_first_request_in_a_minute_is_refused_with_429() {
    let p = platform();
    let pair = sign_in(p, &unique_email("busy"));
    let token = access(&pair);
    for i in 1..=100 {
        let r = authed(p, "GET", "/api/v1/auth/me", &token, None);
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    let r = authed(p, "GET", "/api/v1/auth/me", &token, None);
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("ratelimit-limit"), Some("100"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
}

#[test]
fn bad_sign_in_input_names_the_field() {
    let p = platform();
    let url = p.url("/api/v1/auth/magic-link");
    let missing = send_json("POST", &url, &json!({}));
    assert_eq!((missing.status, missing.json()["error"]["field"].clone()), (400, json!("email")));
    let nonsense = send_json("POST", &url, &json!({ "email": "not-an-address" }));
    assert_eq!((nonsense.status, nonsense.json()["error"]["field"].clone()), (400, json!("email")));
    let broken = request("POST", &url, &[("content-type", "application/json")], Some(b"{\"email\""));
    assert_eq!(broken.status, 400);
    let no_code = send_json("POST", &p.url("/api/v1/auth/login"), &json!({ "email": "a@example.com" }));
    assert_eq!((no_code.status, no_code.json()["error"]["field"].clone()), (400, json!("code")));
    let short = send_json("POST", &p.url("/api/v1/auth/login"), &json!({ "email": "a@example.com", "code": "12" }));
    assert_eq!((short.status, short.json()["error"]["field"].clone()), (400, json!("code")));
}

#[test]
fn the_audit_chain_verifies_and_a_tampered_row_is_detected() {
    let p = Platform::fresh("audit");
    let owner = sign_in(&p, OWNER_EMAIL);
    let other = sign_in(&p, &unique_email("audited"));
    assert_eq!(authed(&p, "POST", "/api/v1/auth/logout", &access(&other), None).status, 204);
    let verify = || authed(&p, "GET", "/api/v1/audit/verify", &access(&owner), None).json();
    let clean = verify();
    assert_eq!(clean["ok"], true, "{clean}");
    assert!(clean["entries"].as_u64().is_some_and(|n| n >= 3), "sign-ins and a sign-out: {clean}");

    d1_execute(&p, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");
    let broken = verify();
    assert_eq!(broken["ok"], false, "{broken}");
    assert_eq!(broken["broken_at"], 2);
}

#[test]
fn a_user_reads_and_updates_their_profile_and_preferences() {
    let p = platform();
    let email = unique_email("prefs");
    let token = access(&sign_in(p, &email));
    assert_eq!(get(&p.url("/api/v1/users/preferences")).status, 401, "sign in first");

    let defaults = authed(p, "GET", "/api/v1/users/preferences", &token, None);
    assert_eq!(defaults.status, 200, "{}", defaults.text());
    assert_eq!(
        defaults.json(),
        json!({ "voice_mode": false, "notifications": { "email": true, "sms": false, "push": false, "in_app": true }, "timezone": "UTC" })
    );

    let update = json!({ "voice_mode": true, "notifications": { "sms": true }, "timezone": "America/Toronto" });
    let changed = authed(p, "PUT", "/api/v1/users/preferences", &token, Some(&update));
    assert_eq!(changed.status, 200, "{}", changed.text());
    let read_back = authed(p, "GET", "/api/v1/users/preferences", &token, None).json();
    assert_eq!(read_back["timezone"], "America/Toronto");
    assert_eq!(read_back["voice_mode"], true);
    assert_eq!(
        read_back["notifications"],
        json!({ "email": true, "sms": true, "push": false, "in_app": true }),
        "a partial update"
    );

    let bad_tz = authed(p, "PUT", "/api/v1/users/preferences", &token, Some(&json!({ "timezone": "not a zone" })));
    assert_eq!((bad_tz.status, bad_tz.json()["error"]["field"].clone()), (400, json!("timezone")));
    let unknown = authed(p, "PUT", "/api/v1/users/preferences", &token, Some(&json!({ "colour": "red" })));
    assert_eq!(unknown.status, 400, "unknown fields are refused, not ignored");
    assert_eq!(authed(p, "GET", "/api/v1/users/preferences", &token, None).json(), read_back, "nothing lost");

    let named = authed(p, "PUT", "/api/v1/users/profile", &token, Some(&json!({ "name": "  Ada Lovelace " })));
    assert_eq!(named.status, 200, "{}", named.text());
    let profile = authed(p, "GET", "/api/v1/users/profile", &token, None).json();
    assert_eq!(profile["name"], "Ada Lovelace");
    assert_eq!(profile["email"], email.as_str());
    let empty = authed(p, "PUT", "/api/v1/users/profile", &token, Some(&json!({ "name": "   " })));
    assert_eq!((empty.status, empty.json()["error"]["field"].clone()), (400, json!("name")));
}
