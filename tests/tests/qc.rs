//! Quality control end to end (issue 14) against the real `qc-inspector`, `vision`, `main`
//! and `pricing` workers in workerd, with real D1 and R2: a template with a manual, a
//! measured and a photo checkpoint; a ticket walked to QC the real way (quote approved by
//! its customer); board photos made from the synthetic reference board the way a bench
//! camera takes them (`noizylab_core::vision::synthetic`, as in `vision.rs`) uploaded as
//! ticket attachments.

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_core::vision::register::Similarity;
use noizylab_core::vision::{encode_png, synthetic, Rgb};
use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("qc"))
}

const CAMERA: Similarity = Similarity { scale: 0.97, angle: 0.03, tx: -12.0, ty: 9.0 };

/// The golden reference of the synthetic board: its id.
fn reference(p: &Platform, tech: &str) -> String {
    synthetic_reference(p, tech)["id"].as_str().expect("id").to_owned()
}

fn template(reference: &str) -> Value {
    json!({ "checkpoints": [
        { "id": "powers_on", "label": "Powers on", "kind": "manual" },
        { "id": "rail_3v3", "label": "3.3 V rail", "kind": "measurement", "unit": "V", "min": 3.2, "max": 3.4 },
        { "id": "board_photo", "label": "Board photo", "kind": "photo", "reference_id": reference, "fail_at": "major" },
    ]})
}

/// A board photo attached to the ticket: the attachment's id.
fn attach(p: &Platform, tech: &str, ticket: &str, photo: &Rgb) -> String {
    let path = format!("/api/v1/tickets/{ticket}/attachments?filename=board.png");
    let auth = format!("Bearer {tech}");
    let r = request("POST", &p.url(&path), &[("authorization", &auth)], Some(&encode_png(photo)));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().expect("attachment").to_owned()
}

fn record(p: &Platform, tech: &str, inspection: &str, checkpoint: &str, answer: Value) -> Reply {
    authed(p, "POST", &format!("/api/v1/qc/inspections/{inspection}/checkpoints/{checkpoint}"), tech, Some(&answer))
}

fn start(p: &Platform, tech: &str, ticket: &str) -> Value {
    let r = authed(p, "POST", "/api/v1/qc/inspections", tech, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn ticket_view(p: &Platform, token: &str, ticket: &str) -> Value {
    let r = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), token, None);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn events_of(p: &Platform, ticket: &str, event: &str) -> Vec<Value> {
    let sql = format!(
        "SELECT payload AS data FROM event_log WHERE ticket_id = '{ticket}' AND event = '{event}' ORDER BY occurred_at"
    );
    d1_query(&p.state, &sql)
}

#[test]
fn a_failed_inspection_sends_the_ticket_back_and_a_passed_one_makes_it_ready_with_its_report() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let reference = reference(p, &tech);
    let set = authed(p, "PUT", "/api/v1/qc/templates/laptop", &owner, Some(&template(&reference)));
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["version"], 1);
    let customer = access(&sign_in(p, &unique_email("amp-owner")));
    let (ticket, number) = ticket_in_qc(p, &customer, &tech, &tech_id, "laptop");

    // The only way from QC to READY is a passed inspection.
    let skip = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &tech, Some(&json!({ "to": "READY" })));
    assert_eq!(skip.status, 409, "{}", skip.text());
    assert!(skip.text().contains("/api/v1/qc/inspections"), "{}", skip.text());

    // First inspection: on, the rail low, U2 missing from the board.
    let first = start(p, &tech, &ticket);
    let id = first["id"].as_str().expect("inspection").to_owned();
    assert_eq!((first["attempt"].as_i64(), first["status"].as_str()), (Some(1), Some("open")));
    assert_eq!(first["checkpoints"].as_array().map(Vec::len), Some(3));
    assert_eq!(first["outcome"]["missing"], json!(["powers_on", "rail_3v3", "board_photo"]));
    assert_eq!(record(p, &tech, &id, "powers_on", json!({ "passed": true })).status, 200);
    let rail = record(p, &tech, &id, "rail_3v3", json!({ "value": 3.05 }));
    assert_eq!(rail.status, 200, "{}", rail.text());
    assert_eq!(rail.json()["outcome"]["failing"], json!(["rail_3v3"]), "{}", rail.text());
    let again = record(p, &tech, &id, "rail_3v3", json!({ "value": 3.3 }));
    assert_eq!(again.status, 409, "a recorded checkpoint stands: {}", again.text());
    let broken = synthetic::photograph(&synthetic::board(true, None), CAMERA, 440, 330, true);
    let photo = attach(p, &tech, &ticket, &broken);
    let done = record(p, &tech, &id, "board_photo", json!({ "attachment_id": photo }));
    assert_eq!(done.status, 200, "{}", done.text());
    let done = done.json();
    assert_eq!(done["status"], "failed", "{done}");
    let rework = done["outcome"]["rework"].as_array().expect("rework");
    assert_eq!(
        rework.iter().map(|v| v["checkpoint"].as_str()).collect::<Vec<_>>(),
        [Some("rail_3v3"), Some("board_photo")]
    );
    let board = &done["checkpoints"][2]["answer"];
    assert_eq!(board["recorded"]["worst"], "critical", "{board}");
    assert!(board["detail"].as_str().is_some_and(|d| d.starts_with("missing component on U2 (critical)")), "{board}");
    assert!(board["overlay_url"].as_str().is_some_and(|u| u.starts_with("/api/v1/vision/analyses/")), "{board}");

    // Back in repair, the rework list on the timeline; the bus heard it.
    let view = ticket_view(p, &tech, &ticket);
    assert_eq!(view["ticket"]["status"], "IN_REPAIR");
    let last = view["timeline"].as_array().and_then(|t| t.iter().rev().find(|e| e["kind"] == "status")).cloned();
    let note = last.as_ref().and_then(|e| e["body"].as_str()).unwrap_or_default().to_owned();
    assert!(note.contains("3.3 V rail: 3.05 V") && note.contains("Board photo"), "{note}");
    eventually(Duration::from_secs(20), "qc.failed on the bus", || {
        let rows = events_of(p, &ticket, "qc.failed");
        let data: Value = serde_json::from_str(rows.first()?["data"].as_str()?).ok()?;
        (data["attempt"] == 1 && data["rework"].as_array().map(Vec::len) == Some(2)).then_some(())
    });
    // A failed inspection is the shop's: the customer does not see it.
    assert_eq!(authed(p, "GET", &format!("/api/v1/qc/inspections/{id}"), &customer, None).status, 404);

    // Rework, then the second inspection passes with a clean photo.
    move_to(p, &tech, &ticket, &["QC"]);
    let second = start(p, &tech, &ticket);
    let id2 = second["id"].as_str().expect("inspection").to_owned();
    assert_eq!(second["attempt"], 2);
    assert_eq!(record(p, &tech, &id2, "powers_on", json!({ "passed": true })).status, 200);
    assert_eq!(record(p, &tech, &id2, "rail_3v3", json!({ "value": 3.31 })).status, 200);
    let clean = synthetic::photograph(&synthetic::board(false, None), CAMERA, 440, 330, true);
    let photo = attach(p, &tech, &ticket, &clean);
    let passed = record(p, &tech, &id2, "board_photo", json!({ "attachment_id": photo }));
    assert_eq!(passed.status, 200, "{}", passed.text());
    let passed = passed.json();
    assert_eq!(passed["status"], "passed", "{passed}");
    let report_attachment = passed["report_attachment_id"].as_str().expect("report attachment").to_owned();

    // READY, and the customer sees the report on their ticket.
    let seen = ticket_view(p, &customer, &ticket);
    assert_eq!(seen["ticket"]["status"], "READY");
    let listed = seen["attachments"].as_array().and_then(|a| a.iter().find(|a| a["id"] == report_attachment.as_str()));
    let listed = listed.unwrap_or_else(|| panic!("the report among the customer's attachments: {seen}"));
    assert_eq!(listed["filename"], format!("qc-report-{number}.pdf"));
    let pdf = request(
        "GET",
        &p.url(&format!("/api/v1/tickets/{ticket}/attachments/{report_attachment}")),
        &[("authorization", &format!("Bearer {customer}"))],
        None,
    );
    assert_eq!(pdf.status, 200);
    assert!(pdf.body.starts_with(b"%PDF-"), "a PDF");
    let page = authed(p, "GET", &format!("/api/v1/qc/inspections/{id2}/report"), &customer, None);
    assert_eq!(page.status, 200, "{}", page.text());
    let page = page.text();
    assert!(page.contains("Result: <strong>PASSED</strong>") && page.contains("3.31 V (allowed 3.2–3.4 V)"), "{page}");
    let mine = authed(p, "GET", &format!("/api/v1/qc/inspections?ticket_id={ticket}"), &customer, None).json();
    assert_eq!(mine["inspections"].as_array().map(Vec::len), Some(1), "only the passed one: {mine}");
    eventually(Duration::from_secs(20), "qc.passed on the bus", || {
        (!events_of(p, &ticket, "qc.passed").is_empty()).then_some(())
    });

    // First-pass yield counts first inspections only: this repair failed its first.
    let fpy = authed(p, "GET", "/api/v1/qc/yield", &tech, None);
    assert_eq!(fpy.status, 200, "{}", fpy.text());
    let fpy = fpy.json();
    let mine = fpy["by_technician"].as_array().and_then(|t| t.iter().find(|t| t["technician_id"] == tech_id.as_str()));
    let mine = mine.unwrap_or_else(|| panic!("the technician's yield: {fpy}"));
    assert_eq!((mine["inspected"].as_i64(), mine["passed_first_time"].as_i64()), (Some(1), Some(0)), "{fpy}");
    assert_eq!(mine["first_pass_yield"], 0.0);
    assert!(fpy["by_device_type"].as_array().is_some_and(|t| t.iter().any(|t| t["device_type"] == "laptop")), "{fpy}");
    assert_eq!(authed(p, "GET", "/api/v1/qc/yield", &customer, None).status, 403);
}

#[test]
fn bad_templates_and_answers_are_refused_and_nothing_is_half_written() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let reference = reference(p, &tech);

    // Templates: admins only, and checked.
    let good = template(&reference);
    assert_eq!(authed(p, "PUT", "/api/v1/qc/templates/tablet", &tech, Some(&good)).status, 403);
    assert_eq!(authed(p, "PUT", "/api/v1/qc/templates/toaster", &owner, Some(&good)).status, 400);
    let mut inverted = good.clone();
    inverted["checkpoints"][1]["min"] = json!(3.4);
    inverted["checkpoints"][1]["max"] = json!(3.2);
    let r = authed(p, "PUT", "/api/v1/qc/templates/tablet", &owner, Some(&inverted));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("rail_3v3"), "{}", r.text());
    let unknown = template("ref_nowhere");
    let r = authed(p, "PUT", "/api/v1/qc/templates/tablet", &owner, Some(&unknown));
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("vision reference"), "{}", r.text());
    assert_eq!(authed(p, "GET", "/api/v1/qc/templates/tablet", &tech, None).status, 404, "nothing was stored");
    assert_eq!(authed(p, "PUT", "/api/v1/qc/templates/tablet", &owner, Some(&good)).status, 200);

    // No template for the device type: the ticket cannot be inspected yet, and says how.
    let customer = access(&sign_in(p, &unique_email("console-owner")));
    let (console, _) = ticket_in_qc(p, &customer, &tech, &tech_id, "console");
    let r = authed(p, "POST", "/api/v1/qc/inspections", &tech, Some(&json!({ "ticket_id": console })));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("/api/v1/qc/templates/console"), "{}", r.text());

    let (ticket, _) = ticket_in_qc(p, &customer, &tech, &tech_id, "tablet");
    let inspection = start(p, &tech, &ticket);
    let id = inspection["id"].as_str().expect("id").to_owned();
    let dup = authed(p, "POST", "/api/v1/qc/inspections", &tech, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(dup.status, 409, "one open inspection per ticket: {}", dup.text());
    assert_eq!(
        authed(p, "POST", "/api/v1/qc/inspections", &customer, Some(&json!({ "ticket_id": ticket }))).status,
        403
    );

    // Answers of the wrong shape, a reading that is not a number, a photo of another board.
    let words = record(p, &tech, &id, "rail_3v3", json!({ "value": "about 3.3" }));
    assert_eq!(words.status, 400, "{}", words.text());
    assert_eq!(words.json()["error"]["field"], "answers.rail_3v3");
    assert_eq!(record(p, &tech, &id, "rail_3v3", json!({ "passed": true })).status, 400);
    assert_eq!(record(p, &tech, &id, "powers_on", json!({ "passed": "yes" })).status, 400);
    assert_eq!(record(p, &tech, &id, "nonexistent", json!({ "passed": true })).status, 404);
    let mut other = Rgb { w: 400, h: 300, px: vec![[0.6, 0.1, 0.1]; 400 * 300] };
    for y in (0..300).step_by(50) {
        synthetic::fill(&mut other, 0, y, 400, 20, [0.1, 0.1, 0.7]);
    }
    let photo = attach(p, &tech, &ticket, &other);
    let wrong = record(p, &tech, &id, "board_photo", json!({ "attachment_id": photo }));
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(wrong.text().contains("line up"), "{}", wrong.text());
    let missing = record(p, &tech, &id, "board_photo", json!({ "attachment_id": "att_nope" }));
    assert_eq!(missing.status, 400, "{}", missing.text());
    let answers = d1_query(&p.state, &format!("SELECT COUNT(*) AS n FROM qc_answers WHERE inspection_id = '{id}'"));
    assert_eq!(answers[0]["n"], 0, "nothing recorded");

    // A cancelled inspection takes no more answers; a new one can start.
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/qc/inspections/{id}"), &tech, None).status, 204);
    assert_eq!(record(p, &tech, &id, "powers_on", json!({ "passed": true })).status, 409);
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/qc/inspections/{id}"), &tech, None).status, 409);
    let fresh = start(p, &tech, &ticket);
    assert_eq!(fresh["attempt"], 1, "a cancelled inspection is not an attempt");
    // The ticket leaving QC another way leaves the inspection unable to finish it.
    move_to(p, &tech, &ticket, &["IN_REPAIR"]);
    let stale = record(p, &tech, fresh["id"].as_str().expect("id"), "powers_on", json!({ "passed": true }));
    assert_eq!(stale.status, 409, "{}", stale.text());
    assert_eq!(ticket_view(p, &tech, &ticket)["ticket"]["status"], "IN_REPAIR");
}
