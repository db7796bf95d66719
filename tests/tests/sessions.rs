//! Remote repair sessions end to end (seed 000's flow): start → the device agent connects
//! → a technician's action reaches it → its progress reaches the customer and the
//! technician live → end → a report. Real workers, real Durable Objects, KV and R2.

use noizylab_tests::*;
use serde_json::json;

fn join(p: &Platform, token: &str, session: &str) -> Socket {
    let r = authed(p, "POST", &format!("/api/v1/sessions/{session}/live/ticket"), token, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let mut s = connect(&p.ws_url(r.json()["path"].as_str().expect("path"))).expect("join");
    next_of(&mut s, "hello");
    s
}

#[test]
fn a_remote_session_runs_from_start_to_report() {
    let p = Platform::fresh("sessions");
    let customer = access(&sign_in(&p, &unique_email("remote")));
    let tech = access(&technician(&p));
    let device = authed(
        &p,
        "POST",
        "/api/v1/devices/register",
        &customer,
        Some(&json!({ "name": "Mixing PC", "type": "desktop" })),
    );
    let device_id = device.json()["id"].as_str().expect("device").to_owned();

    let started = authed(
        &p,
        "POST",
        "/api/v1/sessions/start",
        &customer,
        Some(&json!({ "device_id": device_id, "issue": "Audio dropouts under load" })),
    );
    assert_eq!(started.status, 201, "{}", started.text());
    let started = started.json();
    let id = started["id"].as_str().expect("id").to_owned();
    assert_eq!(started["status"], "waiting");
    let agent_path = started["agent_path"].as_str().expect("agent path").to_owned();

    // No agent yet: an action has nowhere to go.
    let early =
        authed(&p, "POST", &format!("/api/v1/sessions/{id}/action"), &tech, Some(&json!({ "type": "collect_logs" })));
    assert_eq!(early.status, 409, "{}", early.text());

    let mut agent = connect(&p.ws_url(&agent_path)).expect("the device agent connects");
    assert_eq!(next_of(&mut agent, "hello")["you"]["name"], "Mixing PC agent");
    let mut t = join(&p, &tech, &id);
    let mut c = join(&p, &customer, &id);

    let sent = authed(
        &p,
        "POST",
        &format!("/api/v1/sessions/{id}/action"),
        &tech,
        Some(&json!({ "type": "run_diagnostic", "params": { "suite": "audio" } })),
    );
    assert_eq!(sent.status, 201, "{}", sent.text());
    let action_id = sent.json()["action_id"].as_str().expect("action id").to_owned();
    let got = next_of(&mut agent, "action");
    assert_eq!(got["action"], "run_diagnostic");
    assert_eq!(got["params"]["suite"], "audio");
    assert_eq!(got["action_id"], action_id.as_str());

    send_frame(
        &mut agent,
        &json!({ "type": "progress", "percent": 40, "message": "DPC latency spikes from the Wi-Fi driver" }),
    );
    for socket in [&mut c, &mut t] {
        let progress = next_of(socket, "progress");
        assert_eq!(progress["percent"], 40);
        assert_eq!(progress["message"], "DPC latency spikes from the Wi-Fi driver");
    }
    send_frame(
        &mut agent,
        &json!({ "type": "result", "action_id": action_id, "ok": true, "output": "3 drivers flagged" }),
    );
    assert_eq!(next_of(&mut t, "result")["ok"], true);
    // Only the agent speaks for the device.
    send_frame(&mut c, &json!({ "type": "progress", "percent": 100, "message": "done!" }));
    assert_eq!(next_of(&mut c, "error")["type"], "error");

    let state = authed(&p, "GET", &format!("/api/v1/sessions/{id}"), &customer, None).json();
    assert_eq!(state["session"]["status"], "active");
    assert_eq!(state["state"]["last_action"]["type"], "run_diagnostic", "KV session:state: {state}");
    assert_eq!(state["actions"].as_array().map(Vec::len), Some(1));

    assert_eq!(
        authed(&p, "POST", &format!("/api/v1/sessions/{id}/end"), &customer, Some(&json!({ "outcome": "resolved" })))
            .status,
        403
    );
    let ended = authed(
        &p,
        "POST",
        &format!("/api/v1/sessions/{id}/end"),
        &tech,
        Some(&json!({ "outcome": "resolved", "summary": "Rolled back the Wi-Fi driver" })),
    );
    assert_eq!(ended.status, 200, "{}", ended.text());
    let ended = ended.json();
    assert_eq!(ended["session"]["status"], "ended");
    assert!(ended["session"]["duration_seconds"].as_i64().is_some_and(|d| d >= 0));
    assert_eq!(ended["report"]["outcome"], "resolved");
    assert_eq!(ended["report"]["actions"][0]["type"], "run_diagnostic");
    assert_eq!(ended["report"]["progress"][0]["percent"], 40);

    let html = authed(&p, "GET", &format!("/api/v1/sessions/{id}/report"), &customer, None);
    assert_eq!(html.status, 200);
    assert!(html.text().contains("Rolled back the Wi-Fi driver") && html.text().contains("run_diagnostic"));
    let history = authed(&p, "GET", "/api/v1/sessions/history", &customer, None).json();
    assert_eq!(history["sessions"][0]["id"], id.as_str());
    assert_eq!(
        authed(&p, "POST", &format!("/api/v1/sessions/{id}/action"), &tech, Some(&json!({ "type": "reboot" }))).status,
        409
    );
    assert!(connect(&p.ws_url(&agent_path)).is_err(), "the agent's token died with the session");
    let stranger = access(&sign_in(&p, &unique_email("nosy")));
    assert_eq!(authed(&p, "GET", &format!("/api/v1/sessions/{id}"), &stranger, None).status, 404);
}
