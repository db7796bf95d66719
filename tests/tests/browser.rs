//! The customer portal in a real browser: Debian's Chromium, headless, driven by
//! `tests/browser/portal.mjs` (playwright-core). A customer signs in through the dev
//! outbox, sees their ticket, approves the quote, and watches the status change the
//! technician makes appear without reloading (and, in voice mode, hears it read aloud
//! through an ElevenLabs stand-in answering real MP3); then the owner's workbench shows the board
//! and the ticket's live room, and a note sent there appears in it; a voice note is uploaded
//! (a real MP3) and another recorded from Chromium's fake microphone, both played back. The customer asks the
//! chat assistant, asks for a person, and the technician joins from the workbench and
//! answers in the same conversation. Screenshots: `target/screenshots/portal/`. A
//! technician inspects a ticket in QC on the workbench (`tests/browser/qc.mjs`): a failed
//! inspection with the photo's defect overlay, then a passed one after rework. Screenshots:
//! `target/screenshots/qc/`. Two technicians open a repair guide on a ticket
//! (`tests/browser/guide.mjs`): the real glTF model renders with the step's part marked and
//! each sees the other's annotations live. Screenshots: `target/screenshots/guide/`. The
//! manager asks to buy the best parts deal an eBay watch found and approves it on the
//! workbench (`tests/browser/deals.mjs`). Screenshots: `target/screenshots/deals/`. A
//! manager opens a workflow in the builder, runs it and follows the run on its graph,
//! edits a step, and decides a workflow's task on the workbench (`tests/browser/workflows.mjs`). Screenshots: `target/screenshots/workflows/`.
//! A manager reads the shop's numbers drawn from real repairs and sees the dashboard redraw
//! as a ticket moves (`tests/browser/analytics.mjs`). Screenshots: `target/screenshots/analytics/`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use noizylab_tests::*;
use serde_json::json;

/// One browser test at a time: each starts the whole platform and a Chromium, and on two
/// cores several at once starve each other (a board photo's analysis then outlasts the
/// page's patience).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn a_customer_approves_a_quote_and_sees_the_repair_move_live_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    // Text-to-speech: an ElevenLabs stand-in answering real MP3 (see tests/tests/voice.rs).
    let voice = StandIn::start_raw(|_| {
        let mp3 = std::fs::read(repo().join("shared/core/tests/data/voice/gsutil-test.mp3")).unwrap_or_default();
        (200, "audio/mpeg", mp3)
    });
    let base = voice.url();
    let p = Platform::fresh_with(
        "browser",
        &[("NOIZYLAB_ELEVENLABS_BASE_URL", base.as_str()), ("NOIZYLAB_ELEVENLABS_API_KEY", "sk_test_browser")],
    );
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let email = unique_email("browser");
    // The customer's account exists once they have signed in; the browser signs in again.
    let customer = access(&sign_in(&p, &email));
    // They like to hear how their repair goes.
    let prefs = authed(&p, "PUT", "/api/v1/users/preferences", &customer, Some(&json!({ "voice_mode": true })));
    assert_eq!(prefs.status, 200, "{}", prefs.text());
    let device = authed(
        &p,
        "POST",
        "/api/v1/devices/register",
        &customer,
        Some(&json!({ "name": "Studio laptop", "type": "laptop" })),
    );
    assert_eq!(device.status, 201);
    let t = authed(
        &p,
        "POST",
        "/api/v1/tickets",
        &customer,
        Some(&json!({ "title": "Fans roar, then it shuts down", "device_id": device.json()["id"] })),
    );
    assert_eq!(t.status, 201, "{}", t.text());
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        assert_eq!(
            authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": to }))).status,
            200
        );
    }
    let q = authed(
        &p,
        "POST",
        "/api/v1/pricing/estimate",
        &owner,
        Some(&json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 90,
                      "parts": [{ "name": "Fan assembly", "cost_cents": 2400, "quantity": 1 }] })),
    );
    assert_eq!(q.status, 201, "{}", q.text());

    let shots = repo().join("target/screenshots/portal");
    let _ = std::fs::remove_dir_all(&shots);
    let mut child = Command::new("node")
        .arg(repo().join("tests/browser/portal.mjs"))
        .env("BASE", &p.base)
        .env("EMAIL", &email)
        .env("TICKET", &ticket)
        .env("SHOTS", &shots)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node tests/browser/portal.mjs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok);

    assert_eq!(lines.next().as_deref(), Some("approved"), "the browser approved the quote");
    let view = authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).json();
    assert_eq!(view["ticket"]["status"], "APPROVED", "the approval reached the ticket");
    let r =
        authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "IN_REPAIR" })));
    assert_eq!(r.status, 200, "{}", r.text());
    writeln!(stdin, "moved").expect("tell the browser");
    assert_eq!(lines.next().as_deref(), Some("live-ok"), "the page showed IN_REPAIR without a reload");
    let spoken: Vec<String> = voice
        .requests()
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect();
    assert!(spoken.iter().any(|t| t.ends_with("is being repaired.")), "the new status was read aloud: {spoken:?}");
    assert_eq!(lines.next().as_deref(), Some("done"));
    let status = child.wait().expect("browser script");
    assert!(status.success(), "the browser script failed");
    // The workbench's voice notes were stored as audio, whatever their names said.
    let notes = d1_query(
        &p.state,
        &format!("SELECT content_type, visibility FROM ticket_attachments WHERE ticket_id = '{ticket}' AND content_type LIKE 'audio/%' ORDER BY created_at"),
    );
    let kinds: Vec<(&str, &str)> = notes
        .iter()
        .map(|n| (n["content_type"].as_str().unwrap_or(""), n["visibility"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(kinds, [("audio/mpeg", "internal"), ("audio/webm", "internal")], "the uploaded MP3, then the recording");
    for name in [
        "01-sign-in",
        "02-tickets",
        "03-ticket-quote",
        "04-approved",
        "05-live-status",
        "06-devices",
        "07-loyalty",
        "08-account",
        "10-chat",
        "11-workbench-chat",
        "12-chat-answered",
    ] {
        let file = shots.join(format!("{name}.png"));
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {} was saved", file.display());
    }
}

#[test]
fn the_api_reference_renders_every_operation_in_chromium_from_this_site_only() {
    let _one_browser_at_a_time = one_at_a_time();
    let p = Platform::fresh("browser-docs");
    let shots = repo().join("target/screenshots/docs");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(repo().join("tests/browser/docs.mjs"))
        .env("BASE", &p.base)
        .env("SHOTS", &shots)
        .output()
        .expect("node tests/browser/docs.mjs");
    p.stop();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.starts_with("rendered "), "{said}");
    let size = std::fs::metadata(shots.join("api-reference.png")).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "the reference's screenshot was saved");
}

#[test]
fn a_technician_inspects_a_ticket_in_qc_on_the_workbench_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    use noizylab_core::vision::register::Similarity;
    use noizylab_core::vision::{encode_png, synthetic};

    let p = Platform::fresh("browser-qc");
    let owner_pair = sign_in(&p, OWNER_EMAIL);
    let (owner, owner_id) = (access(&owner_pair), user_id(&owner_pair));
    let reference = synthetic_reference(&p, &owner)["id"].as_str().expect("reference").to_owned();
    let template = json!({ "checkpoints": [
        { "id": "powers_on", "label": "Powers on", "kind": "manual" },
        { "id": "rail_3v3", "label": "3.3 V rail", "kind": "measurement", "unit": "V", "min": 3.2, "max": 3.4 },
        { "id": "board_photo", "label": "Board photo", "kind": "photo", "reference_id": reference, "fail_at": "major" },
    ]});
    assert_eq!(authed(&p, "PUT", "/api/v1/qc/templates/laptop", &owner, Some(&template)).status, 200);
    let customer = access(&sign_in(&p, &unique_email("qc-browser")));
    let (ticket, _) = ticket_in_qc(&p, &customer, &owner, &owner_id, "laptop");
    // Bench photos of the synthetic board (`noizylab_core::vision::synthetic`): one with U2
    // missing, one clean, both shifted, turned and re-lit as a hand-held camera takes them.
    let camera = Similarity { scale: 1.03, angle: -0.03, tx: 15.0, ty: -8.0 };
    let dir = repo().join("target/tmp/browser-qc");
    std::fs::create_dir_all(&dir).expect("photo dir");
    let (broken, clean) = (dir.join("broken.png"), dir.join("clean.png"));
    let photo =
        |missing: bool| encode_png(&synthetic::photograph(&synthetic::board(missing, None), camera, 440, 330, true));
    std::fs::write(&broken, photo(true)).expect("write photo");
    std::fs::write(&clean, photo(false)).expect("write photo");

    let shots = repo().join("target/screenshots/qc");
    let _ = std::fs::remove_dir_all(&shots);
    let mut child = Command::new("node")
        .arg(repo().join("tests/browser/qc.mjs"))
        .env("BASE", &p.base)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .env("TICKET", &ticket)
        .env("BROKEN", &broken)
        .env("CLEAN", &clean)
        .env("SHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node tests/browser/qc.mjs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok);
    let status = |token: &str| {
        authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), token, None).json()["ticket"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    assert_eq!(lines.next().as_deref(), Some("failed"), "the first inspection failed in the page");
    assert_eq!(status(&owner), "IN_REPAIR", "the failed inspection sent the ticket back");
    let r = authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "QC" })));
    assert_eq!(r.status, 200, "{}", r.text());
    writeln!(stdin, "requeued").expect("tell the browser");
    assert_eq!(lines.next().as_deref(), Some("passed"), "the second inspection passed in the page");
    assert_eq!(lines.next().as_deref(), Some("done"));
    assert!(child.wait().expect("browser script").success(), "the browser script failed");
    assert_eq!(status(&customer), "READY");
    let seen = authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), &customer, None).json();
    let report = seen["attachments"].as_array().and_then(|a| a.iter().find(|a| a["content_type"] == "application/pdf"));
    assert!(report.is_some(), "the customer sees the QC report: {seen}");
    for name in ["qc-00-ready-to-inspect", "qc-01-failed-with-overlay", "qc-02-passed"] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {name} was saved");
    }
}

#[test]
fn two_technicians_annotate_a_guide_live_on_its_3d_model_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    let p = Platform::fresh("browser-guide");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech = technician(&p);
    // A real glTF model: a Blender export with named parts (see shared/core/tests/data/models).
    let glb = std::fs::read(repo().join("shared/core/tests/data/models/ShapeCollection.glb")).expect("model");
    let auth = format!("Bearer {owner}");
    let m = request(
        "POST",
        &p.url("/api/v1/guides/assets?name=shapes.glb"),
        &[("authorization", &auth), ("content-type", "application/octet-stream")],
        Some(&glb),
    );
    assert_eq!(m.status, 201, "{}", m.text());
    let body = json!({ "title": "Amp: no sound", "device_model": "NL-AMP-2", "asset_id": m.json()["id"], "steps": [
        { "title": "Open the case", "text": "Remove the four PH00 screws under the feet.", "tools": ["PH00 screwdriver"], "minutes": 5 },
        { "title": "Check the capacitor", "text": "Look for a bulged top or residue.", "node": "Cylinder",
          "warnings": ["Discharge the supply first"], "minutes": 3 },
        { "title": "Reseat the module", "text": "Press the module until it clicks.", "node": "Cube", "minutes": 2 },
    ]});
    let g = authed(&p, "POST", "/api/v1/guides", &owner, Some(&body));
    assert_eq!(g.status, 201, "{}", g.text());
    let guide = g.json()["id"].as_str().expect("guide").to_owned();
    let customer = access(&sign_in(&p, &unique_email("guide-browser")));
    let t = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "No sound" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();

    let shots = repo().join("target/screenshots/guide");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(repo().join("tests/browser/guide.mjs"))
        .env("BASE", &p.base)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .env("TECH_EMAIL", tech["email"].as_str().expect("email"))
        .env("GUIDE", &guide)
        .env("TICKET", &ticket)
        .env("SHOTS", &shots)
        .output()
        .expect("node tests/browser/guide.mjs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("done"), "{said}");
    // The lead's progress reached the guide: step 2 on this ticket.
    let progress =
        authed(&p, "GET", &format!("/api/v1/guides/{guide}/progress?ticket_id={ticket}"), &owner, None).json();
    assert_eq!(progress["technicians"][0]["step"], 2, "{progress}");
    for name in ["guide-01-step-part-marked", "guide-02-annotated-live", "guide-03-pin-from-the-other"] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {name} was saved");
    }
    p.stop();
}

#[test]
fn a_manager_buys_the_best_parts_deal_from_the_workbench_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    let stand_in = StandIn::start(ebay::reply);
    let env = ebay::env(&stand_in);
    let p = Platform::fresh_with("browser-deals", &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let body = json!({ "sku": format!("T4-{}", now()), "description": "NVIDIA Tesla T4 16 GB", "category": "gpu",
                       "cost_cents": 240_000, "currency": "USD" });
    let part = authed(&p, "POST", "/api/v1/parts", &owner, Some(&body));
    assert_eq!(part.status, 201, "{}", part.text());
    let watch = json!({ "part_id": part.json()["id"], "query": "NVIDIA T4", "max_total_cents": 220_000,
                        "currency": "USD", "min_score": 65 });
    let w = authed(&p, "POST", "/api/v1/watches", &owner, Some(&watch));
    assert_eq!(w.status, 201, "{}", w.text());
    let searched =
        authed(&p, "POST", &format!("/api/v1/watches/{}/search", w.json()["id"].as_str().unwrap_or("")), &owner, None);
    assert_eq!(searched.status, 200, "{}", searched.text());
    let deals = authed(&p, "GET", "/api/v1/deals", &owner, None).json();
    let best = deals["deals"][0]["id"].as_str().expect("a deal").to_owned();

    let shots = repo().join("target/screenshots/deals");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(repo().join("tests/browser/deals.mjs"))
        .env("BASE", &p.base)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .env("DEAL", &best)
        .env("SHOTS", &shots)
        .stderr(Stdio::inherit())
        .output()
        .expect("node tests/browser/deals.mjs");
    assert!(out.status.success(), "the browser script failed");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = said.lines();
    let po = lines.next().unwrap_or_default().to_owned();
    assert_eq!(lines.next(), Some("done"), "{said}");
    let order = authed(&p, "GET", &format!("/api/v1/purchase-orders/{po}"), &owner, None);
    assert_eq!(order.status, 200, "{}", order.text());
    assert_eq!(
        (order.json()["status"].as_str(), order.json()["lines"][0]["quantity"].as_i64()),
        (Some("ordered"), Some(2))
    );
    assert_eq!(order.json()["supplier"], "eBay: jedeh-telecom");
    for name in ["deals-00-found", "deals-01-asked", "deals-02-bought"] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {name} was saved");
    }
    p.stop();
}

#[test]
fn a_manager_follows_a_workflow_run_on_its_graph_and_edits_a_step_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    let p = Platform::fresh("browser-workflows");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let part = authed(
        &p,
        "POST",
        "/api/v1/parts",
        &owner,
        Some(&json!({ "sku": format!("WF-B-{}", now()), "description": "Bias resistor 1k", "category": "passive",
                      "cost_cents": 20, "currency": "USD", "reorder_point": 0, "reorder_quantity": 10 })),
    );
    assert_eq!(part.status, 201, "{}", part.text());
    let part = part.json()["id"].as_str().expect("part").to_owned();
    let flow = json!({
        "name": "Check twice",
        "description": "Checks a part, waits, checks it again.",
        "trigger": { "type": "manual" },
        "start": "first",
        "steps": [
            { "id": "first", "type": "action", "action": "inventory.check", "input": { "part_id": part }, "next": "pause" },
            { "id": "pause", "type": "delay", "seconds": 3, "next": "again" },
            { "id": "again", "type": "action", "action": "inventory.check", "input": { "part_id": "{{steps.first.id}}" } }
        ]
    });
    let made = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&flow));
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().expect("workflow").to_owned();
    assert_eq!(authed(&p, "POST", &format!("/api/v1/workflows/{id}/enable"), &owner, None).status, 200);

    // A run waiting on the managers' decision, for "My tasks" on the workbench.
    let ask = json!({
        "name": "Order resistors",
        "trigger": { "type": "manual" },
        "start": "approve",
        "steps": [
            { "id": "approve", "type": "human_task", "title": "Order more bias resistors?",
              "assignee": { "type": "role", "role": "admin" },
              "fields": [{ "name": "quantity", "label": "How many", "kind": "number", "required": true }],
              "approved": "noted" },
            { "id": "noted", "type": "delay", "seconds": 1 }
        ]
    });
    let asked = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&ask));
    assert_eq!(asked.status, 201, "{}", asked.text());
    let ask_id = asked.json()["id"].as_str().expect("workflow").to_owned();
    assert_eq!(authed(&p, "POST", &format!("/api/v1/workflows/{ask_id}/enable"), &owner, None).status, 200);
    let waiting = authed(&p, "POST", &format!("/api/v1/workflows/{ask_id}/runs"), &owner, None);
    assert_eq!(waiting.status, 202, "{}", waiting.text());
    let waiting = waiting.json()["id"].as_str().expect("run").to_owned();
    let task = format!("{waiting}.approve");
    eventually(std::time::Duration::from_secs(20), "the task", || {
        (authed(&p, "GET", &format!("/api/v1/tasks/{task}"), &owner, None).status == 200).then_some(())
    });

    let shots = repo().join("target/screenshots/workflows");
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(repo().join("tests/browser/workflows.mjs"))
        .env("BASE", &p.base)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .env("WORKFLOW", &id)
        .env("TASK", &task)
        .env("SHOTS", &shots)
        .stderr(Stdio::inherit())
        .output()
        .expect("node tests/browser/workflows.mjs");
    assert!(out.status.success(), "the browser script failed");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = said.lines();
    let run = lines.next().unwrap_or_default().to_owned();
    assert_eq!(lines.next(), Some("done"), "{said}");

    // What the page showed is what the platform holds: the run done, the edit saved.
    let r = authed(&p, "GET", &format!("/api/v1/workflows/runs/{run}"), &owner, None).json();
    assert_eq!((r["status"].as_str(), r["history"].as_array().map(Vec::len)), (Some("succeeded"), Some(3)), "{r}");
    let w = authed(&p, "GET", &format!("/api/v1/workflows/{id}"), &owner, None).json();
    assert_eq!(w["version"], 2, "{w}");
    assert_eq!(w["definition"]["steps"][1]["seconds"], 5);
    assert_eq!(w["definition"]["steps"][0]["input"]["part_id"], part.as_str(), "the refused edit saved nothing");
    let decided = eventually(std::time::Duration::from_secs(20), "the decided run to finish", || {
        let r = authed(&p, "GET", &format!("/api/v1/workflows/runs/{waiting}"), &owner, None).json();
        (r["status"] == "succeeded").then_some(r)
    });
    assert_eq!(decided["steps"]["approve"]["answers"]["quantity"], 3, "{decided}");
    assert_eq!(decided["steps"]["approve"]["comment"], "three, for the bench");
    for name in
        ["workflows-00-graph", "workflows-01-running", "workflows-02-done", "workflows-03-refused", "workflows-04-task"]
    {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {name} was saved");
    }
    p.stop();
}

#[test]
fn a_manager_reads_the_numbers_drawn_from_real_repairs_and_sees_them_move_live_in_chromium() {
    let _one_browser_at_a_time = one_at_a_time();
    let stand_in = StandIn::start(stripe::reply);
    let env = stripe::env(&stand_in.url());
    let p = Platform::fresh_with("browser-analytics", &env.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech_pair = technician(&p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let manual = json!({ "checkpoints": [{ "id": "powers_on", "label": "Powers on", "kind": "manual" }] });
    for kind in ["laptop", "phone"] {
        assert_eq!(authed(&p, "PUT", &format!("/api/v1/qc/templates/{kind}"), &owner, Some(&manual)).status, 200);
    }
    // Two repairs done and paid (the laptop failed QC once), one quote declined.
    let mut paid = 0;
    let mut done = Vec::new();
    for (kind, fails) in [("laptop", true), ("phone", false)] {
        let customer = access(&sign_in(&p, &unique_email(kind)));
        let (ticket, quote) = quoted_ticket(&p, &customer, &tech, &tech_id, kind, json!([]));
        assert_eq!(authed(&p, "POST", &format!("/api/v1/pricing/quotes/{quote}/approve"), &customer, None).status, 200);
        move_to(&p, &tech, &ticket, &["IN_REPAIR", "QC"]);
        if fails {
            inspect_manual(&p, &tech, &ticket, false);
            move_to(&p, &tech, &ticket, &["QC"]);
        }
        inspect_manual(&p, &tech, &ticket, true);
        paid += stripe::pay(&p, &customer, &quote);
        done.push(ticket);
    }
    let customer = access(&sign_in(&p, &unique_email("tablet")));
    let (_, quote) = quoted_ticket(&p, &customer, &tech, &tech_id, "tablet", json!([]));
    let reason = json!({ "reason": "too dear" });
    let declined = authed(&p, "POST", &format!("/api/v1/pricing/quotes/{quote}/decline"), &customer, Some(&reason));
    assert_eq!(declined.status, 200, "{}", declined.text());
    eventually(std::time::Duration::from_secs(60), "the payments counted", || {
        let k = authed(&p, "GET", "/api/v1/analytics/kpis", &owner, None).json();
        (k["revenue"]["payments"] == 2 && k["quotes"]["declined"] == 1).then_some(())
    });

    let shots = repo().join("target/screenshots/analytics");
    let _ = std::fs::remove_dir_all(&shots);
    let mut child = Command::new("node")
        .arg(repo().join("tests/browser/analytics.mjs"))
        .env("BASE", &p.base)
        .env("STAFF_EMAIL", OWNER_EMAIL)
        .env("REVENUE", paid.to_string())
        .env("SHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node tests/browser/analytics.mjs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines().map_while(Result::ok);
    assert_eq!(lines.next().as_deref(), Some("watching"), "the dashboard drew the shop's numbers");
    // A finished repair is picked up: a stay in READY the dashboard has not drawn yet.
    move_to(&p, &owner, &done[0], &["PICKED_UP"]);
    writeln!(stdin, "moved").expect("tell the browser");
    assert_eq!(lines.next().as_deref(), Some("done"), "the page redrew by itself and the CSV downloaded");
    assert!(child.wait().expect("browser script").success(), "the browser script failed");
    for name in ["analytics-00-dashboard", "analytics-01-live"] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "screenshot {name} was saved");
    }
    drop(stand_in);
    p.stop();
}
