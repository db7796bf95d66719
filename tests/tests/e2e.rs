//! End to end: the real, built workers in workerd with real local D1, KV, R2, Queues and
//! Durable Objects, driven over HTTP and WebSocket through the gateway as a client would.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use noizylab_core::identity::{self, Identity, Signed};
use noizylab_tests::*;
use serde_json::{json, Value};

/// One platform shared by the tests that do not restart it.
fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("shared"))
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

fn assert_error_body(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert!(reply.header("content-type").is_some_and(|c| c.starts_with("application/json")), "JSON error body");
    let body = reply.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "a message a person can act on");
    let request_id = reply.header("x-request-id").expect("x-request-id header");
    assert_eq!(body["error"]["request_id"], request_id, "the body names the request id the header carries");
    body
}

#[test]
fn all_seventeen_workers_answer_health_through_the_gateway() {
    let p = platform();
    let reply = get(&p.url("/api/v1/health"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "ok", "{body:#}");
    let services = body["services"].as_array().expect("services");
    let mut names: Vec<&str> = services.iter().filter_map(|s| s["service"].as_str()).collect();
    names.sort();
    let mut expected: Vec<String> = noizylab_core::services::SERVICES.iter().map(|s| s.worker_name()).collect();
    expected.sort();
    assert_eq!(names, expected);
    for s in services {
        assert_eq!(s["status"], "ok", "{s:#}");
        assert_eq!(s["version"], noizylab_core::VERSION);
        assert!(!s["checks"].as_array().expect("checks").is_empty(), "{} checks its bindings", s["service"]);
    }
    // The core worker's checks are live: D1 counted the applied migrations, the room
    // objects answered their probe.
    let main = services.iter().find(|s| s["service"] == "noizylab-main").expect("main");
    let check = |name: &str| main["checks"].as_array().and_then(|c| c.iter().find(|c| c["binding"] == name)).cloned();
    let db = check("DB").expect("DB check");
    assert_eq!(db["status"], "ok");
    assert!(db["detail"].as_str().is_some_and(|d| d.contains("migrations applied")), "{db}");
    assert_eq!(check("TICKET_ROOM").expect("room")["status"], "ok");
    assert_eq!(check("CACHE").expect("kv")["status"], "ok");
    assert_eq!(check("UPLOADS").expect("r2")["status"], "ok");
    assert_eq!(check("EVENTS").expect("queue")["status"], "bound");
}

#[test]
fn a_worker_asked_directly_checks_its_service_links_live() {
    let p = platform();
    // The gateway's own /health follows its sixteen service links.
    let reply = get(&p.url("/health"));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let links: Vec<&Value> =
        body["checks"].as_array().expect("checks").iter().filter(|c| c["kind"] == "service").collect();
    assert_eq!(links.len(), 16);
    assert!(links.iter().all(|c| c["status"] == "ok"), "{body:#}");
}

#[test]
fn every_answer_carries_a_request_id_and_a_sane_client_id_is_kept() {
    let p = platform();
    let kept = request("GET", &p.url("/api/v1/health"), &[("x-request-id", "e2e-trace-42")], None);
    assert_eq!(kept.header("x-request-id"), Some("e2e-trace-42"));
    let replaced = request("GET", &p.url("/api/v1/nope/x"), &[("x-request-id", "bad id with spaces")], None);
    let id = replaced.header("x-request-id").expect("request id");
    assert_eq!(id.len(), 32, "a fresh 128-bit hex id: {id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let a = get(&p.url("/nothing")).header("x-request-id").map(str::to_owned);
    let b = get(&p.url("/nothing")).header("x-request-id").map(str::to_owned);
    assert_ne!(a, b, "each request gets its own id");
}

#[test]
fn unknown_routes_answer_the_json_error_body() {
    let p = platform();
    assert_error_body(&get(&p.url("/no/such/page")), 404, "not_found");
    let area = assert_error_body(&get(&p.url("/api/v1/teleporters/1")), 404, "not_found");
    assert!(area["error"]["message"].as_str().is_some_and(|m| m.contains("teleporters")));
    // Forwarded to main, which has no such route: the same body, from the worker.
    assert_error_body(&get(&p.url("/api/v1/tickets/abc/unknown")), 404, "not_found");
    let wrong_method = request("DELETE", &p.url("/api/v1/health"), &[], None);
    assert_error_body(&wrong_method, 405, "method_not_allowed");
    assert_eq!(wrong_method.header("allow"), Some("GET"));
}

#[test]
fn a_declared_body_over_the_cap_is_refused_with_413_before_it_is_sent() {
    let p = platform();
    // Declare 10 MiB + 1 and send none of it: the answer comes from the header alone.
    let head = format!(
        "PUT /api/v1/dev/r2/too-big HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\ncontent-length: {}",
        10 * 1024 * 1024 + 1
    );
    let (status, body) = raw_http(p.port, &head, b"");
    assert_eq!(status, 413, "{body}");
    let json: Value = serde_json::from_str(body.trim()).expect("JSON error body");
    assert_eq!(json["error"]["code"], "payload_too_large");
    assert!(json["error"]["message"].as_str().is_some_and(|m| m.contains("10485760")));
    // Nothing was stored.
    assert_error_body(&get(&p.url("/api/v1/dev/r2/too-big")), 404, "not_found");
}

#[test]
fn a_chunked_body_over_the_cap_is_refused_with_413() {
    let p = platform();
    let size = 10 * 1024 * 1024 + 1;
    let mut chunked = format!("{size:x}\r\n").into_bytes();
    chunked.extend(std::iter::repeat_n(b'x', size));
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let head = "PUT /api/v1/dev/r2/too-big-chunked HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked";
    let (status, body) = raw_http(p.port, head, &chunked);
    assert_eq!(status, 413, "{body}");
    assert_error_body(&get(&p.url("/api/v1/dev/r2/too-big-chunked")), 404, "not_found");
}

#[test]
fn cors_admits_the_portal_origin_and_no_other() {
    let p = platform();
    let portal = "http://localhost:8787";
    let preflight = request(
        "OPTIONS",
        &p.url("/api/v1/devices"),
        &[("origin", portal), ("access-control-request-method", "POST")],
        None,
    );
    assert_eq!(preflight.status, 204, "{}", preflight.text());
    assert!(preflight.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert_eq!(preflight.header("access-control-allow-origin"), Some(portal));

    let foreign = request(
        "OPTIONS",
        &p.url("/api/v1/devices"),
        &[("origin", "https://evil.example"), ("access-control-request-method", "POST")],
        None,
    );
    assert_error_body(&foreign, 403, "forbidden");
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    let simple = request("GET", &p.url("/api/v1/health"), &[("origin", portal)], None);
    assert_eq!(simple.header("access-control-allow-origin"), Some(portal));
    assert!(simple.header("access-control-expose-headers").is_some_and(|h| h.contains("x-request-id")));
    let other = request("GET", &p.url("/api/v1/health"), &[("origin", "https://evil.example")], None);
    assert_eq!(other.header("access-control-allow-origin"), None);

    // An inner worker's answer, handed back by the gateway as it is, carries them too: the
    // worker stamps what the gateway passed on. A client cannot pass its own.
    let forged = [("origin", portal), ("x-noizylab-edge", "1 0 9|https://evil.example")];
    let inner = request("GET", &p.url("/api/v1/devices"), &forged, None);
    assert_eq!(inner.status, 401, "{}", inner.text());
    assert_eq!(inner.header("access-control-allow-origin"), Some(portal));
    assert!(inner.header("access-control-expose-headers").is_some_and(|h| h.contains("ratelimit-remaining")));
    assert_eq!(inner.header("ratelimit-limit"), None, "an anonymous caller within its limit gets none");
    assert!(inner.header("x-request-id").is_some());
}

#[test]
fn kv_keeps_a_value_with_its_ttl_and_drops_it_when_the_ttl_ends() {
    let p = platform();
    let url = p.url("/api/v1/dev/kv/ttl-probe");
    let put = send_json("PUT", &url, &json!({ "value": "hello kv", "ttl_seconds": 60 }));
    assert_eq!(put.status, 201, "{}", put.text());
    let got = get(&url);
    assert_eq!(got.status, 200, "{}", got.text());
    let body = got.json();
    assert_eq!(body["value"], "hello kv");
    let expiration = body["expiration"].as_i64().expect("expiration from KV's own listing");
    let now = now_secs();
    assert!((now + 50..=now + 70).contains(&expiration), "expires about 60 s from now: {expiration} vs {now}");

    let too_short = send_json("PUT", &url, &json!({ "value": "x", "ttl_seconds": 10 }));
    assert_eq!(assert_error_body(&too_short, 400, "bad_request")["error"]["field"], "ttl_seconds");

    // KV's shortest TTL is 60 s: wait it out and see the key gone.
    std::thread::sleep(Duration::from_secs(62));
    assert_error_body(&get(&url), 404, "not_found");
}

#[test]
fn r2_stores_an_object_and_returns_the_same_bytes() {
    let p = platform();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let url = p.url("/api/v1/dev/r2/board-photo.png");
    let put = request("PUT", &url, &[("content-type", "image/png")], Some(&bytes));
    assert_eq!(put.status, 201, "{}", put.text());
    assert_eq!(put.json()["size"], 70_000);
    let got = get(&url);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert!(got.header("etag").is_some());
    assert_eq!(got.body, bytes);
}

#[test]
fn an_event_published_by_main_is_consumed_by_the_orchestrator_and_read_back_from_d1() {
    let p = platform();
    let published = send_json(
        "POST",
        &p.url("/api/v1/dev/events"),
        &json!({ "event": "ticket.created", "ticket_id": "t-100", "workspace_id": "ws-1",
                 "data": { "priority": "high", "device": "MacBook Pro M2" } }),
    );
    assert_eq!(published.status, 202, "{}", published.text());
    let id = published.json()["id"].as_str().expect("event id").to_owned();
    let logged = eventually(Duration::from_secs(30), "event in event_log", || {
        let r = get(&p.url(&format!("/api/v1/workflows/events/{id}")));
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(logged["event"], "ticket.created");
    assert_eq!(logged["ticket_id"], "t-100");
    assert_eq!(logged["workspace_id"], "ws-1");
    assert_eq!(logged["data"]["device"], "MacBook Pro M2");
    assert!(logged["received_at"].as_str().is_some_and(|t| t.ends_with('Z')));
}

#[test]
fn an_event_no_consumer_understands_lands_in_the_dead_letter_queue_after_its_retries() {
    let p = platform();
    let published = send_json("POST", &p.url("/api/v1/dev/events"), &json!({ "event": "ticket.teleported" }));
    assert_eq!(published.status, 202, "{}", published.text());
    let id = published.json()["id"].as_str().expect("event id").to_owned();
    let letter = eventually(Duration::from_secs(90), "dead letter recorded", || {
        let r = get(&p.url("/api/v1/workflows/dead-letters?queue=noizylab-events"));
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["dead_letters"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["body"].as_str().is_some_and(|b| b.contains(&id))).cloned())
    });
    assert_eq!(letter["queue"], "noizylab-events");
    assert_eq!(letter["reason"], "exhausted its retries");
    // It never reached the event log.
    assert_error_body(&get(&p.url(&format!("/api/v1/workflows/events/{id}"))), 404, "not_found");
}

#[test]
fn bad_input_is_refused_with_a_clear_4xx() {
    let p = platform();
    let url = p.url("/api/v1/dev/events");
    let bad_name = send_json("POST", &url, &json!({ "event": "Ticket Created" }));
    assert_eq!(assert_error_body(&bad_name, 400, "bad_request")["error"]["field"], "event");
    let missing = send_json("POST", &url, &json!({ "data": {} }));
    assert_eq!(assert_error_body(&missing, 400, "bad_request")["error"]["field"], "event");
    let broken = request("POST", &url, &[("content-type", "application/json")], Some(b"{\"event\":"));
    assert_error_body(&broken, 400, "bad_request");
    let not_json = request("POST", &url, &[("content-type", "text/plain")], Some(b"hello"));
    assert_error_body(&not_json, 415, "unsupported_media_type");
    let not_ws = get(&p.url("/api/v1/tickets/t-1/live"));
    assert_error_body(&not_ws, 400, "bad_request");
}

#[test]
fn an_internal_worker_refuses_a_request_that_did_not_come_signed_through_the_gateway() {
    let p = platform();
    let direct = |headers: &[(&str, &str)]| {
        let mut all = vec![("host", "noizylab-main.internal")];
        all.extend_from_slice(headers);
        request("GET", &p.url("/health"), &all, None)
    };
    let unsigned = direct(&[]);
    assert_error_body(&unsigned, 401, "unauthenticated");
    let forged = direct(&[(identity::HEADER, "v1.1.e30.AAAA"), ("x-request-id", "r1")]);
    assert_error_body(&forged, 401, "unauthenticated");
    let wrong_key = identity::sign(
        b"not-the-platform-secret-000000000000000",
        &Identity::anonymous(),
        Signed { method: "GET", path: "/health", request_id: "r2" },
        now_secs(),
    )
    .expect("sign");
    assert_error_body(&direct(&[(identity::HEADER, &wrong_key), ("x-request-id", "r2")]), 401, "unauthenticated");

    // Signed with the platform's secret, the same request is served: the signature is the
    // only thing that was missing.
    let good = identity::sign(
        TEST_SECRET.as_bytes(),
        &Identity::anonymous(),
        Signed { method: "GET", path: "/health", request_id: "r3" },
        now_secs(),
    )
    .expect("sign");
    let served = direct(&[(identity::HEADER, &good), ("x-request-id", "r3")]);
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.json()["service"], "noizylab-main");
}
