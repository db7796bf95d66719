//! The engine room end to end (issue 13), against the real `main`, `brain`, orchestrator
//! and notifications workers in workerd: a scan queued with real `smartctl --json` output
//! and a real journal excerpt runs through `noizylab-jobs` in `brain`, its progress reaches
//! the device's ticket room live, its result, caches and events are checked, and reports
//! come out as JSON, HTML, a PDF whose text a standard reader extracts, and an email.
//!
//! Data: `shared/core/tests/data/smartctl/*.json` are real drives' output (AnalogJ/scrutiny's
//! test data, see the README there); `shared/core/tests/data/logs/*.log` real logs (see
//! the README there).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("diagnostics"))
}

fn data(path: &str) -> String {
    let file = repo().join("shared/core/tests/data").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn smartctl(name: &str) -> Value {
    serde_json::from_str(&data(&format!("smartctl/{name}"))).expect("smartctl JSON")
}

/// A device of the caller's with specs enough to scan without a body: its id.
fn device(p: &Platform, token: &str, name: &str) -> String {
    let body = json!({
        "name": name, "type": "desktop", "os": "Ubuntu 22.04",
        "specs": { "cpu_cores": 8, "ram_gb": 32, "storage_gb": 1000 },
    });
    let r = authed(p, "POST", "/api/v1/devices/register", token, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("device id").to_owned()
}

/// Waits for scan `id` to finish; its view.
fn finished(p: &Platform, token: &str, id: &str) -> Value {
    eventually(Duration::from_secs(30), &format!("scan {id} to finish"), || {
        let r = authed(p, "GET", &format!("/api/v1/diagnostics/{id}"), token, None);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        matches!(v["status"].as_str(), Some("complete" | "failed")).then_some(v)
    })
}

fn scan(p: &Platform, token: &str, device: &str, body: &Value) -> Value {
    let r = authed(p, "POST", &format!("/api/v1/devices/{device}/scan"), token, Some(body));
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()
}

fn events_for(p: &Platform, device: &str) -> Vec<String> {
    d1_query(&p.state, &format!("SELECT event FROM event_log WHERE device_id = '{device}' ORDER BY occurred_at"))
        .iter()
        .filter_map(|r| r["event"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_failing_drive_is_scanned_end_to_end_with_live_progress_caches_and_events() {
    let p = platform();
    let pair = sign_in(p, &unique_email("scanned"));
    let (owner, owner_id) = (access(&pair), user_id(&pair));
    let id = device(p, &owner, "Render box");
    let t = authed(p, "POST", "/api/v1/tickets", &owner, Some(&json!({ "title": "Clicking disk", "device_id": id })));
    assert_eq!(t.status, 201, "{}", t.text());
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let live = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &owner, None);
    assert_eq!(live.status, 201, "{}", live.text());
    let mut room = connect(&p.ws_url(live.json()["path"].as_str().expect("path"))).expect("room");
    next_of(&mut room, "hello");

    // A drive with reallocated and pending sectors (real smartctl output) and a real
    // journal with I/O errors.
    let queued = scan(
        p,
        &owner,
        &id,
        &json!({
            "smart_data": smartctl("smart-fail2.json"),
            "logs": data("logs/linux-journal-io-errors.log"),
            "free_storage_gb": 400,
        }),
    );
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["ticket_id"], ticket.as_str(), "the scan knows the device's open ticket");
    let scan_id = queued["scan_id"].as_str().expect("scan id").to_owned();

    let progress = next_of(&mut room, "progress");
    assert_eq!(progress["scan_id"], scan_id.as_str(), "{progress}");
    assert!(progress["percent"].as_u64().is_some_and(|n| n > 0 && n < 100), "{progress}");

    let view = finished(p, &owner, &scan_id);
    assert_eq!(view["status"], "complete", "{view}");
    let result = &view["result"];
    let score = result["health_score"].as_i64().expect("score");
    assert!(score < 50, "a failing drive and I/O errors score poor: {score}");
    let issues = result["issues"].as_array().expect("issues");
    let critical_storage = issues
        .iter()
        .find(|i| i["severity"] == "critical" && i["category"] == "storage")
        .unwrap_or_else(|| panic!("a critical storage issue in {issues:?}"));
    assert!(!critical_storage["evidence"].as_array().expect("evidence").is_empty());
    assert!(
        issues.iter().any(|i| i["evidence"].to_string().contains("sector 337736")),
        "the journal's I/O error is evidence: {issues:?}"
    );
    let weights: f64 =
        result["score_factors"].as_array().expect("factors").iter().filter_map(|f| f["weight"].as_f64()).sum();
    assert!((weights - 1.0).abs() < 1e-9, "the factors' weights sum to 1: {weights}");
    let storage = result["predicted_failures"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["component"] == "storage"))
        .unwrap_or_else(|| panic!("a storage prediction in {result}"));
    assert!(storage["failure_probability"].as_f64().is_some_and(|f| f > 0.3), "{storage}");
    for field in ["timeline_days", "confidence", "recommendation", "urgency"] {
        assert!(!storage[field].is_null(), "{field} in {storage}");
    }
    assert!(result["recommendations"].as_array().is_some_and(|r| !r.is_empty()));

    // The device, its health cache and its forecast follow. The cache is brain's: the
    // device row is changed behind it and the answer stays what the scan wrote.
    let row = d1_query(&p.state, &format!("SELECT health_score, last_scan_at FROM devices WHERE id = '{id}'"));
    assert_eq!(row[0]["health_score"].as_i64(), Some(score));
    assert_eq!(row[0]["last_scan_at"], view["completed_at"]);
    d1_execute(p, &format!("UPDATE devices SET health_score = 1 WHERE id = '{id}'"));
    let health = authed(p, "GET", &format!("/api/v1/devices/{id}/health"), &owner, None).json();
    assert_eq!(health["health_score"].as_i64(), Some(score), "KV device:health:{{id}}, written by brain: {health}");
    assert_eq!(health["status"], if score >= 50 { "fair" } else { "poor" });
    d1_execute(p, &format!("UPDATE devices SET health_score = {score} WHERE id = '{id}'"));
    let forecast = authed(p, "GET", &format!("/api/v1/predictions/{id}"), &owner, None);
    assert_eq!(forecast.status, 200, "{}", forecast.text());
    let forecast = forecast.json();
    assert!(forecast["overall_risk_score"].as_u64().is_some_and(|r| r > 30), "{forecast}");
    assert_eq!(forecast["generated_at"], view["completed_at"], "KV predict:{{id}}, written by the scan: {forecast}");

    // The bus heard every step; a critical finding alerted staff.
    let heard = eventually(Duration::from_secs(20), "the scan's events", || {
        let e = events_for(p, &id);
        [
            "diagnostics.requested",
            "diagnostics.started",
            "diagnostics.progress",
            "diagnostics.complete",
            "alert.critical",
        ]
        .iter()
        .all(|n| e.iter().any(|x| x == n))
        .then_some(e)
    });
    assert!(heard.iter().filter(|e| *e == "diagnostics.complete").count() == 1, "{heard:?}");
    // The customer's in-app inbox hears of the progress and the result; mail only of the result.
    eventually(Duration::from_secs(20), "the in-app notices of the scan", || {
        let rows = d1_query(
            &p.state,
            &format!("SELECT event, channel, status FROM deliveries WHERE recipient = '{owner_id}' AND event LIKE 'diagnostics.%'"),
        );
        let sent = |event: &str, channel: &str| {
            rows.iter().any(|r| r["event"] == event && r["channel"] == channel && r["status"] == "sent")
        };
        (sent("diagnostics.progress", "in_app") && sent("diagnostics.complete", "in_app") && sent("diagnostics.complete", "email"))
            .then_some(rows)
    })
    .iter()
    .filter(|r| r["event"] == "diagnostics.progress")
    .for_each(|r| assert_eq!(r["channel"], "in_app", "progress is in-app only: {r}"));

    // Nobody else sees the scan.
    let stranger = access(&sign_in(p, &unique_email("stranger")));
    assert_eq!(authed(p, "GET", &format!("/api/v1/diagnostics/{scan_id}"), &stranger, None).status, 404);
    let theirs = authed(p, "GET", "/api/v1/diagnostics/history", &stranger, None).json();
    assert!(!theirs.to_string().contains(&scan_id), "{theirs}");
    let mine = authed(p, "GET", &format!("/api/v1/diagnostics/history?device_id={id}"), &owner, None).json();
    let first = &mine["scans"][0];
    assert_eq!(first["scan_id"], scan_id.as_str(), "{mine}");
    assert!(first["critical_issues"].as_i64().is_some_and(|n| n >= 1), "{first}");
    let tech = access(&technician(p));
    assert_eq!(authed(p, "GET", &format!("/api/v1/diagnostics/{scan_id}"), &tech, None).status, 200);

    // The scan's repair plan becomes a quote: its complexity and minutes are the factors.
    let plan = &result["repair_plan"];
    assert_eq!(plan["steps"][0]["order"], 1, "{plan}");
    assert!(plan["parts"].to_string().contains("replacement drive"), "{plan}");
    assert_eq!(result["summary_source"], "engine");
    assert!(result["summary"].as_str().is_some_and(|s| s.contains("Critical")), "{result}");
    let quote = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&json!({ "diagnostic_id": scan_id })));
    assert_eq!(quote.status, 201, "{}", quote.text());
    let quote = quote.json();
    let minutes = plan["estimated_minutes"].as_i64().expect("minutes").max(15);
    assert_eq!(quote["estimated_time_minutes"].as_i64(), Some(minutes), "{quote}");
    let complexity = quote["explanation"]
        .as_array()
        .and_then(|e| e.iter().find(|f| f["factor"] == "complexity"))
        .map(|f| f.to_string())
        .unwrap_or_default();
    assert!(complexity.contains(plan["complexity"].as_str().expect("complexity")), "{complexity}");
    let theirs = authed(p, "POST", "/api/v1/pricing/estimate", &stranger, Some(&json!({ "diagnostic_id": scan_id })));
    assert_eq!(theirs.status, 404, "{}", theirs.text());
}

#[test]
fn a_healthy_nvme_drive_comes_out_healthy_and_the_seed_start_route_takes_the_same_data() {
    let p = platform();
    let owner = access(&sign_in(p, &unique_email("healthy")));
    let id = device(p, &owner, "Laptop");
    let r = authed(
        p,
        "POST",
        "/api/v1/diagnostics/start",
        &owner,
        Some(&json!({
            "device_id": id, "os": "Windows 11", "cpu_cores": 12, "ram_gb": 16, "storage_gb": 512,
            "free_storage_gb": 300, "smart_data": smartctl("smart-nvme.json"),
        })),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let view = finished(p, &owner, r.json()["session_id"].as_str().expect("session id"));
    let result = &view["result"];
    assert_eq!(view["status"], "complete", "{view}");
    assert!(result["health_score"].as_i64().is_some_and(|s| s >= 90), "{result}");
    assert!(
        !result["issues"].as_array().expect("issues").iter().any(|i| i["severity"] == "critical"),
        "nothing critical on a healthy drive: {result}"
    );
    assert_eq!(result["os_family"], "windows");
    assert_eq!(result["drive"]["protocol"], "nvme", "{result}");
}

#[test]
fn a_scan_job_delivered_again_changes_nothing_and_announces_nothing_twice() {
    let p = platform();
    let owner = access(&sign_in(p, &unique_email("twice")));
    let id = device(p, &owner, "Twice scanned");
    let s = scan(p, &owner, &id, &json!({ "smart_data": smartctl("smart-nvme.json") }));
    let scan_id = s["scan_id"].as_str().expect("id").to_owned();
    let first = finished(p, &owner, &scan_id);
    assert_eq!(first["status"], "complete", "{first}");
    let health = authed(p, "GET", &format!("/api/v1/devices/{id}/health"), &owner, None).json();
    // The queue delivers at least once: the same job twice more, as a redelivery would.
    for _ in 0..2 {
        let again =
            send_json("POST", &p.url("/api/v1/dev/jobs"), &json!({ "kind": "diagnostic_scan", "scan_id": scan_id }));
        assert_eq!(again.status, 202, "{}", again.text());
    }
    // Brain takes them (a batch is delivered within about a second) and finds the scan done.
    std::thread::sleep(Duration::from_secs(4));
    let after = authed(p, "GET", &format!("/api/v1/diagnostics/{scan_id}"), &owner, None).json();
    assert_eq!(after["status"], "complete");
    assert_eq!(after["completed_at"], first["completed_at"], "the scan was not run again");
    assert_eq!(after["result"], first["result"]);
    assert_eq!(authed(p, "GET", &format!("/api/v1/devices/{id}/health"), &owner, None).json(), health);
    let events = events_for(p, &id);
    for once in ["diagnostics.started", "diagnostics.complete"] {
        assert_eq!(events.iter().filter(|e| *e == once).count(), 1, "{once} once: {events:?}");
    }
    let dead = d1_query(&p.state, &format!("SELECT message_id FROM dead_letters WHERE body LIKE '%{scan_id}%'"));
    assert!(dead.is_empty(), "a redelivered job is done, not failed: {dead:?}");
}

#[test]
fn in_a_remote_session_the_device_agent_collects_the_scan_data_itself() {
    let p = platform();
    let email = unique_email("agent-scan");
    let owner = access(&sign_in(p, &email));
    let tech = access(&technician(p));
    let id = device(p, &owner, "Agent PC");
    let started = authed(
        p,
        "POST",
        "/api/v1/sessions/start",
        &owner,
        Some(&json!({ "device_id": id, "issue": "Clicking, then slow" })),
    );
    assert_eq!(started.status, 201, "{}", started.text());
    let session = started.json()["id"].as_str().expect("session").to_owned();
    let token = started.json()["agent_token"].as_str().expect("agent token").to_owned();
    let mut agent =
        connect(&p.ws_url(started.json()["agent_path"].as_str().expect("path"))).expect("the agent connects");
    next_of(&mut agent, "hello");
    let live = authed(p, "POST", &format!("/api/v1/sessions/{session}/live/ticket"), &tech, None);
    let mut bench = connect(&p.ws_url(live.json()["path"].as_str().expect("path"))).expect("the technician joins");
    next_of(&mut bench, "hello");

    // The technician asks for a diagnostic; the agent collects the drive's SMART data and
    // the system log on the device (real smartctl output and a real journal) and sends them.
    let asked = authed(
        p,
        "POST",
        &format!("/api/v1/sessions/{session}/action"),
        &tech,
        Some(&json!({ "type": "run_diagnostic" })),
    );
    assert_eq!(asked.status, 201, "{}", asked.text());
    assert_eq!(next_of(&mut agent, "action")["action"], "run_diagnostic");
    let collected = json!({
        "os": "Ubuntu 22.04", "cpu_cores": 8, "ram_gb": 32, "storage_gb": 1000, "free_storage_gb": 400,
        "smart_data": smartctl("smart-fail2.json"), "logs": data("logs/linux-journal-io-errors.log"),
    });
    let body = collected.to_string();
    let url = p.url(&format!("/api/v1/sessions/{session}/scan"));
    let json_type = ("content-type", "application/json");
    let none = request("POST", &url, &[json_type], Some(body.as_bytes()));
    assert_eq!(none.status, 401, "{}", none.text());
    let wrong = request("POST", &url, &[json_type, ("x-agent-token", "not-the-agent")], Some(body.as_bytes()));
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    let bad = request("POST", &url, &[json_type, ("x-agent-token", &token)], Some(br#"{"ram_gb": -4}"#));
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("ram_gb")), "{}", bad.text());
    let sent = request("POST", &url, &[json_type, ("x-agent-token", &token)], Some(body.as_bytes()));
    assert_eq!(sent.status, 202, "{}", sent.text());
    let scan_id = sent.json()["scan_id"].as_str().expect("scan id").to_owned();
    let noted = next_of(&mut bench, "event");
    assert_eq!(
        (noted["event"].as_str(), noted["scan_id"].as_str()),
        (Some("diagnostics.requested"), Some(scan_id.as_str()))
    );

    // Brain runs it like any other scan: the failing drive is found.
    let view = finished(p, &owner, &scan_id);
    assert_eq!(view["status"], "complete", "{view}");
    assert!(view["result"]["health_score"].as_i64().is_some_and(|s| s <= 45), "{view}");
    assert_eq!(view["device_id"], id.as_str());

    // Once the session has ended, its agent sends nothing more, and the customer gets the
    // session's report in the seed's template (from brain's engine), once.
    let end =
        authed(p, "POST", &format!("/api/v1/sessions/{session}/end"), &tech, Some(&json!({ "outcome": "resolved" })));
    assert_eq!(end.status, 200, "{}", end.text());
    let late = request("POST", &url, &[json_type, ("x-agent-token", &token)], Some(body.as_bytes()));
    assert_eq!(late.status, 409, "{}", late.text());
    let reports = || {
        let outbox = get(&p.url(&format!("/api/v1/notifications/dev/outbox?to={email}"))).json();
        outbox["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["subject"].as_str().is_some_and(|s| s.starts_with("Your repair report")))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let sent = eventually(Duration::from_secs(30), "the session's report emailed", || {
        let r = reports();
        (!r.is_empty()).then_some(r)
    });
    assert!(sent[0]["body"].as_str().is_some_and(|b| b.contains("run diagnostic")), "{}", sent[0]);
    let stored = d1_query(&p.state, &format!("SELECT id, kind FROM diagnostic_reports WHERE session_id = '{session}'"));
    assert_eq!((stored.len(), stored[0]["kind"].as_str()), (1, Some("remote_session")), "{stored:?}");
    // The session's end heard again (a new delivery of the event): no second report, no second email.
    let ws = d1_query(&p.state, &format!("SELECT workspace_id FROM repair_sessions WHERE id = '{session}'"));
    let again = json!({ "event": "session.ended", "workspace_id": ws[0]["workspace_id"], "device_id": id,
                        "data": { "session_id": session, "outcome": "resolved", "duration_seconds": 1 } });
    assert_eq!(send_json("POST", &p.url("/api/v1/dev/events"), &again).status, 202);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(reports().len(), 1, "one report email");
    assert_eq!(
        d1_query(&p.state, &format!("SELECT id FROM diagnostic_reports WHERE session_id = '{session}'")).len(),
        1
    );
}

#[test]
fn bad_scan_input_is_refused_naming_the_field_and_nothing_is_queued() {
    let p = platform();
    let owner = access(&sign_in(p, &unique_email("badscan")));
    let id = device(p, &owner, "Bad data");
    let full = serde_json::to_string(&smartctl("smart-ata-full.json")).expect("text");
    let cases = [
        (json!({ "smart_data": &full[..full.len() / 2] }), "smart_data"),
        (json!({ "os": "TempleOS 5" }), "os"),
        (json!({ "ram_gb": -8 }), "ram_gb"),
        (json!({ "cpu_cores": 1_000_000_000u64 }), "cpu_cores"),
        (json!({ "logs": "x".repeat(800 * 1024) }), "logs"),
        (json!({ "device_id": "dev_someone_else" }), "device_id"),
    ];
    for (body, field) in cases {
        let r = authed(p, "POST", &format!("/api/v1/devices/{id}/scan"), &owner, Some(&body));
        assert_eq!(r.status, 400, "{field}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field, "{}", r.text());
    }
    let huge = json!({ "logs": "x".repeat(1100 * 1024) });
    assert_eq!(authed(p, "POST", &format!("/api/v1/devices/{id}/scan"), &owner, Some(&huge)).status, 413);
    // A device whose record lacks what a scan needs, scanned without a body.
    let bare = authed(p, "POST", "/api/v1/devices/register", &owner, Some(&json!({ "name": "Bare", "type": "phone" })));
    let bare = bare.json()["id"].as_str().expect("id").to_owned();
    let r = authed(p, "POST", &format!("/api/v1/devices/{bare}/scan"), &owner, None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "os");
    let stored =
        d1_query(&p.state, &format!("SELECT COUNT(*) AS n FROM device_scans WHERE device_id IN ('{id}', '{bare}')"));
    assert_eq!(stored[0]["n"], 0, "nothing was queued");
    // An unknown SMART attribute is ignored, not fatal.
    let mut odd = smartctl("smart-ata-full.json");
    odd["ata_smart_attributes"]["table"]
        .as_array_mut()
        .expect("table")
        .push(json!({ "id": 250, "name": "Vendor_Thing", "raw": { "value": 7 } }));
    let ok = scan(p, &owner, &id, &json!({ "smart_data": odd }));
    assert_eq!(finished(p, &owner, ok["scan_id"].as_str().expect("id"))["status"], "complete");
}

#[test]
fn a_report_compares_two_scans_and_comes_as_json_html_pdf_and_email() {
    let p = platform();
    let email = unique_email("reported");
    let owner = access(&sign_in(p, &email));
    let id = device(p, &owner, "Studio iMac");
    let before = scan(p, &owner, &id, &json!({ "os": "macOS 14.1", "free_storage_gb": 10, "startup_seconds": 85 }));
    let before = finished(p, &owner, before["scan_id"].as_str().expect("id"));
    let after = scan(p, &owner, &id, &json!({ "os": "macOS 14.1", "free_storage_gb": 400, "startup_seconds": 28 }));
    let after = finished(p, &owner, after["scan_id"].as_str().expect("id"));
    let (b, a) = (before["health_score"].as_i64().expect("b"), after["health_score"].as_i64().expect("a"));
    assert!(a > b, "freeing space raised the score: {b} -> {a}");

    let scan_id = after["scan_id"].as_str().expect("id");
    assert_eq!(
        authed(p, "POST", "/api/v1/reports/generate", &owner, Some(&json!({ "scan_id": scan_id }))).status,
        403,
        "customers read reports; staff make them"
    );
    let tech = access(&technician(p));
    let made = authed(p, "POST", "/api/v1/reports/generate", &tech, Some(&json!({ "scan_id": scan_id })));
    assert_eq!(made.status, 201, "{}", made.text());
    let report = made.json()["report"].clone();
    let rid = report["id"].as_str().expect("report id").to_owned();
    assert_eq!(report["before"]["health_score"].as_i64(), Some(b));
    assert_eq!(report["after"]["health_score"].as_i64(), Some(a));
    assert_eq!(report["before"]["startup_seconds"].as_f64(), Some(85.0));
    assert!(report["issues_fixed"].to_string().contains("Storage 99% full"), "{report}");

    let json_view = authed(p, "GET", &format!("/api/v1/reports/{rid}"), &owner, None);
    assert_eq!(json_view.status, 200);
    assert_eq!(json_view.json()["device"]["name"], "Studio iMac");
    let html = request(
        "GET",
        &p.url(&format!("/api/v1/reports/{rid}")),
        &[("authorization", &format!("Bearer {owner}")), ("accept", "text/html")],
        None,
    );
    assert_eq!(html.status, 200);
    assert!(html.header("content-type").is_some_and(|c| c.starts_with("text/html")));
    assert!(html.text().contains("Studio iMac") && html.text().contains("Before &amp; after"), "{}", html.text());

    let pdf = request(
        "GET",
        &p.url(&format!("/api/v1/reports/{rid}/pdf")),
        &[("authorization", &format!("Bearer {owner}"))],
        None,
    );
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&pdf.body);
    assert!(text.contains("Studio iMac"), "{text}");
    assert!(text.contains(&format!("Health Score: {b} -> {a}")), "{text}");

    let stranger = access(&sign_in(p, &unique_email("nosy")));
    assert_eq!(authed(p, "GET", &format!("/api/v1/reports/{rid}"), &stranger, None).status, 404);

    let sent = authed(p, "POST", &format!("/api/v1/reports/{rid}/email"), &tech, None);
    assert_eq!(sent.status, 202, "{}", sent.text());
    assert_eq!(sent.json()["sent_to"], email.as_str());
    let outbox = get(&p.url(&format!("/api/v1/notifications/dev/outbox?to={email}"))).json();
    let mail = outbox["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["subject"].as_str().is_some_and(|s| s.contains("repair report"))))
        .unwrap_or_else(|| panic!("the report in the outbox: {outbox}"))
        .clone();
    let expected = format!("Health Score: {b} -> {a}");
    assert!(mail["body"].as_str().is_some_and(|text| text.contains(&expected)), "{mail}");
}

#[test]
fn fixes_go_only_through_a_connected_remote_session() {
    let p = platform();
    let owner = access(&sign_in(p, &unique_email("fixme")));
    let id = device(p, &owner, "Full disk");
    let s = scan(p, &owner, &id, &json!({ "free_storage_gb": 5 }));
    let scan_id = s["scan_id"].as_str().expect("id").to_owned();
    finished(p, &owner, &scan_id);
    let tech = access(&technician(p));
    let path = format!("/api/v1/diagnostics/{scan_id}/fix");
    let none = authed(p, "POST", &path, &tech, None);
    assert_eq!(none.status, 409, "{}", none.text());
    assert!(none.text().contains("remote session"), "{}", none.text());
    assert_eq!(authed(p, "POST", &path, &owner, None).status, 403, "a customer cannot push fixes");
    let started =
        authed(p, "POST", "/api/v1/sessions/start", &owner, Some(&json!({ "device_id": id, "issue": "Disk full" })));
    assert_eq!(started.status, 201, "{}", started.text());
    let no_agent = authed(p, "POST", &path, &tech, None);
    assert_eq!(no_agent.status, 409, "{}", no_agent.text());
    assert!(no_agent.text().contains("agent"), "{}", no_agent.text());
}

/// The Messages API as the stand-in answers it: the summary and notes the scan should show.
fn anthropic(_: &Received) -> (u16, String) {
    let text = json!({
        "summary": "Your disk is failing: we will save your files first, then replace it.",
        "plan_notes": ["Earlier repairs of this model needed a new SATA cable too: check it."],
    });
    let reply = json!({
        "id": "msg_standin", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{ "type": "text", "text": text.to_string() }], "stop_reason": "end_turn",
        "usage": { "input_tokens": 10, "output_tokens": 10 }
    });
    (200, reply.to_string())
}

#[test]
fn with_a_language_model_the_summary_is_the_models_grounded_in_findings_and_past_repairs() {
    let provider = StandIn::start(anthropic);
    let url = provider.url();
    let p = Platform::fresh_with(
        "diagnostics-llm",
        &[("NOIZYLAB_ANTHROPIC_BASE_URL", url.as_str()), ("NOIZYLAB_ANTHROPIC_API_KEY", "sk-ant-test")],
    );
    let owner = access(&sign_in(&p, &unique_email("llm")));
    let body = json!({
        "name": "Tower", "type": "desktop", "model": "OptiPlex 7050", "os": "Ubuntu 22.04",
        "specs": { "cpu_cores": 4, "ram_gb": 16, "storage_gb": 1000 },
    });
    let id = authed(&p, "POST", "/api/v1/devices/register", &owner, Some(&body)).json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    // A closed repair of the same model, which the model is given as history.
    let t =
        authed(&p, "POST", "/api/v1/tickets", &owner, Some(&json!({ "title": "Flaky SATA cable", "device_id": id })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    d1_execute(&p, &format!("UPDATE tickets SET status = 'CLOSED' WHERE id = '{ticket}'"));

    let queued = scan(&p, &owner, &id, &json!({ "smart_data": smartctl("smart-fail2.json") }));
    let view = finished(&p, &owner, queued["scan_id"].as_str().expect("id"));
    let result = &view["result"];
    assert_eq!(result["summary_source"], "anthropic", "{result}");
    assert_eq!(result["summary"], "Your disk is failing: we will save your files first, then replace it.");
    assert_eq!(result["plan_notes"][0], "Earlier repairs of this model needed a new SATA cable too: check it.");
    assert!(result["health_score"].as_i64().is_some_and(|s| s <= 45), "the engine's numbers stand: {result}");

    let call = provider.requests().into_iter().find(|r| r.path == "/v1/messages").expect("a Messages API call");
    assert_eq!(call.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(call.header("anthropic-version"), Some("2023-06-01"));
    let sent: Value = serde_json::from_slice(&call.body).expect("json");
    let facts: Value = serde_json::from_str(sent["messages"][0]["content"].as_str().expect("content")).expect("facts");
    assert_eq!(facts["health_score"], result["health_score"]);
    assert!(
        facts["findings"].to_string().contains("Reallocated") || facts["findings"].to_string().contains("reallocated"),
        "{facts}"
    );
    assert!(facts["closed_repairs_of_this_model"].to_string().contains("Flaky SATA cable"), "{facts}");
    drop(p);
}

/// The report's text as a standard PDF reader extracts it (pypdf, installed by the setup).
fn pdf_text(bytes: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("noizylab-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file: PathBuf = dir.join(format!("{}.pdf", now()));
    std::fs::write(&file, bytes).expect("write pdf");
    let python = repo().join(".venv/bin/python");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, pypdf; print('\\n'.join(p.extract_text() for p in pypdf.PdfReader(sys.argv[1]).pages))",
        ])
        .arg(&file)
        .output()
        .expect("run pypdf");
    assert!(out.status.success(), "pypdf: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&file);
    // The folder too, once no other test of this process has a file in it.
    let _ = std::fs::remove_dir(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
