//! Board vision end to end (issue 14) against the real `vision` worker in workerd, with
//! real R2 and D1: a reference uploaded as PNG with its components, photos made from it the
//! way a bench camera takes them (shifted, turned, scaled, re-lit, noisy —
//! `noizylab_core::vision::synthetic`, the same boards the engine's unit tests use) with a
//! component removed or a blob added, and what the engine must find in each.

use std::sync::OnceLock;

use noizylab_core::vision::register::Similarity;
use noizylab_core::vision::{encode_png, synthetic, Rgb};
use noizylab_tests::*;
use serde_json::json;

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("vision"))
}

const CAMERA: Similarity = Similarity { scale: 1.05, angle: -0.045, tx: 22.0, ty: 14.0 };

fn png(img: &Rgb) -> Vec<u8> {
    encode_png(img)
}

/// A reference of the synthetic board, checked as stored: its id.
fn reference(p: &Platform, tech: &str) -> String {
    let v = synthetic_reference(p, tech);
    assert_eq!(v["components"].as_array().map(Vec::len), Some(5));
    assert_eq!((v["width"].as_i64(), v["height"].as_i64(), v["format"].as_str()), (Some(400), Some(300), Some("png")));
    v["id"].as_str().expect("id").to_owned()
}

fn analyze(p: &Platform, tech: &str, reference: &str, photo: &Rgb, ticket: Option<&str>) -> Reply {
    let mut fields = vec![("reference_id", reference)];
    if let Some(t) = ticket {
        fields.push(("ticket_id", t));
    }
    send_form(p, "POST", "/api/v1/vision/analyze", tech, &fields, Some(&png(photo)))
}

#[test]
fn a_clean_board_is_clean_and_a_missing_component_is_found_on_it() {
    let p = platform();
    let tech = access(&technician(p));
    let id = reference(p, &tech);

    let clean = synthetic::photograph(&synthetic::board(false, None), CAMERA, 460, 350, true);
    let r = analyze(p, &tech, &id, &clean, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let a = r.json();
    assert_eq!(a["defects"], json!([]), "{a}");
    assert_eq!(a["condition_score"], 100);
    let reg = &a["registration"];
    assert!((reg["rotation_degrees"].as_f64().unwrap_or(0.0) + 2.6).abs() < 0.5, "{reg}");
    assert!((reg["scale"].as_f64().unwrap_or(0.0) - 1.05).abs() < 0.015, "{reg}");

    let customer = access(&sign_in(p, &unique_email("bench-owner")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Amp dead after drop" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let broken = synthetic::photograph(&synthetic::board(true, None), CAMERA, 460, 350, true);
    let r = analyze(p, &tech, &id, &broken, Some(&ticket));
    assert_eq!(r.status, 201, "{}", r.text());
    let a = r.json();
    let defects = a["defects"].as_array().expect("defects");
    assert_eq!(defects.len(), 1, "{a}");
    let d = &defects[0];
    assert_eq!(d["kind"], "missing_component");
    assert_eq!(d["component"], "U2");
    assert_eq!(d["severity"], "critical");
    let (x, y) = (d["bbox"]["x"].as_f64().unwrap_or(0.0), d["bbox"]["y"].as_f64().unwrap_or(0.0));
    assert!((x - 230.0).abs() < 10.0 && (y - 60.0).abs() < 10.0, "U2 sits at (230, 60): {d}");
    assert!(a["condition_score"].as_i64().is_some_and(|s| s < 70), "{a}");

    // The overlay is a PNG in R2; the analysis is listed on its ticket; the bus heard it.
    let analysis = a["id"].as_str().expect("analysis id");
    let overlay = request(
        "GET",
        &p.url(&format!("/api/v1/vision/analyses/{analysis}/overlay")),
        &[("authorization", &format!("Bearer {tech}"))],
        None,
    );
    assert_eq!(overlay.status, 200);
    assert!(overlay.body.starts_with(b"\x89PNG"), "a PNG");
    let listed = authed(p, "GET", &format!("/api/v1/vision/analyses?ticket_id={ticket}"), &tech, None).json();
    assert_eq!(listed["analyses"][0]["id"], analysis, "{listed}");
    eventually(std::time::Duration::from_secs(20), "vision.analyzed on the bus", || {
        let rows = d1_query(
            &p.state,
            &format!("SELECT event FROM event_log WHERE ticket_id = '{ticket}' AND event = 'vision.analyzed'"),
        );
        (!rows.is_empty()).then_some(())
    });
    // Customers do not run the bench's tools.
    assert_eq!(analyze(p, &customer, &id, &broken, None).status, 403);
}

#[test]
fn a_blob_of_solder_is_extra_material_and_another_board_is_refused() {
    let p = platform();
    let tech = access(&technician(p));
    let id = reference(p, &tech);
    let blob = synthetic::photograph(&synthetic::board(false, Some((180.0, 240.0, 9.0))), CAMERA, 460, 350, true);
    let a = analyze(p, &tech, &id, &blob, None).json();
    let defects = a["defects"].as_array().expect("defects");
    assert_eq!(defects.len(), 1, "{a}");
    assert_eq!(defects[0]["kind"], "extra_material");

    let mut other = Rgb { w: 400, h: 300, px: vec![[0.6, 0.1, 0.1]; 400 * 300] };
    for y in (0..300).step_by(50) {
        synthetic::fill(&mut other, 0, y, 400, 20, [0.1, 0.1, 0.7]);
    }
    let r = analyze(p, &tech, &id, &other, None);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("line up"), "{}", r.text());
}

/// Two real photographs of one milled board, taken separately before and after faults were
/// added (`shared/core/tests/data/pcb-photos/`, from Mirsadeghi/PCB-Fault-Detection, MIT):
/// JPEGs of about 3 megapixels, uploaded as they are.
#[test]
fn a_real_photo_pair_shows_the_solder_bridge_where_it_is() {
    let p = platform();
    let tech = access(&technician(p));
    let dir = format!("{}/../shared/core/tests/data/pcb-photos", env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (before, after) = (read("S4_1.jpg"), read("S4_2.jpg"));
    let r = send_form(
        p,
        "POST",
        "/api/v1/vision/references",
        &tech,
        &[("board_model", "S4-MILLED"), ("name", "Milled test board")],
        Some(&before),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let reference = r.json();
    assert_eq!(reference["format"], "jpeg");
    let id = reference["id"].as_str().expect("id").to_owned();
    // Original pixels per analysed pixel (the long side is analysed at 512).
    let (w, h) = (reference["width"].as_f64().unwrap_or(0.0), reference["height"].as_f64().unwrap_or(0.0));
    let k = w.max(h) / 512.0;

    let r = send_form(p, "POST", "/api/v1/vision/analyze", &tech, &[("reference_id", &id)], Some(&after));
    assert_eq!(r.status, 201, "{}", r.text());
    let a = r.json();
    assert!(a["registration"]["correlation"].as_f64().is_some_and(|c| c > 0.5), "{a}");
    let defects = a["defects"].as_array().expect("defects");
    let overlaps = |(x, y, bw, bh): (f64, f64, f64, f64)| {
        defects.iter().any(|d| {
            let b = |f: &str| d["bbox"][f].as_f64().unwrap_or(-1.0);
            b("x") < (x + bw) * k && x * k < b("x") + b("w") && b("y") < (y + bh) * k && y * k < b("y") + b("h")
        })
    };
    assert!(overlaps((262.0, 362.0, 45.0, 40.0)), "the solder bridge, below the right-hand pads: {a}");
    assert!(!overlaps((18.0, 22.0, 50.0, 48.0)) && !overlaps((385.0, 24.0, 50.0, 48.0)), "upper mounting holes: {a}");
    assert!(a["condition_score"].as_i64().is_some_and(|s| s < 100), "{a}");
}

#[test]
fn bad_uploads_are_refused_clearly_and_nothing_is_stored() {
    let p = platform();
    let tech = access(&technician(p));
    let id = reference(p, &tech);
    let good = png(&synthetic::board(false, None));
    let count = || {
        let sql = format!("SELECT COUNT(*) AS n FROM vision_analyses WHERE reference_id = '{id}'");
        d1_query(&p.state, &sql)[0]["n"].as_i64().unwrap_or(-1)
    };
    let before = count();

    let text = send_form(p, "POST", "/api/v1/vision/analyze", &tech, &[("reference_id", &id)], Some(b"just some text"));
    assert_eq!(text.status, 415, "{}", text.text());
    let truncated =
        send_form(p, "POST", "/api/v1/vision/analyze", &tech, &[("reference_id", &id)], Some(&good[..good.len() / 2]));
    assert_eq!(truncated.status, 422, "{}", truncated.text());
    // A decompression bomb: a valid PNG whose header claims 50,000 × 50,000 pixels.
    let bomb = synthetic::with_declared_size(&good, 50_000, 50_000);
    let r = send_form(p, "POST", "/api/v1/vision/analyze", &tech, &[("reference_id", &id)], Some(&bomb));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("megapixels"), "{}", r.text());
    let missing = send_form(p, "POST", "/api/v1/vision/analyze", &tech, &[("reference_id", "ref_nope")], Some(&good));
    assert_eq!(missing.status, 404);
    // As JSON, the photo can only be an attachment of a ticket.
    let json_body = authed(p, "POST", "/api/v1/vision/analyze", &tech, Some(&json!({ "reference_id": id })));
    assert_eq!(json_body.status, 400, "{}", json_body.text());
    assert!(json_body.text().contains("attachment_id"), "{}", json_body.text());
    let plain = request(
        "POST",
        &p.url("/api/v1/vision/analyze"),
        &[("authorization", &format!("Bearer {tech}")), ("content-type", "text/plain")],
        Some(b"a photo, honestly"),
    );
    assert_eq!(plain.status, 415, "{}", plain.text());
    assert_eq!(count(), before, "nothing was stored");

    // Annotations are checked against the photo.
    let twice = r#"[{"ref":"U1","kind":"ic","bbox":{"x":1,"y":1,"w":5,"h":5}},{"ref":"U1","kind":"ic","bbox":{"x":9,"y":9,"w":5,"h":5}}]"#;
    let outside = r#"[{"ref":"U9","kind":"ic","bbox":{"x":390,"y":1,"w":50,"h":5}}]"#;
    for bad in [twice, outside, "not json"] {
        let r = send_form(
            p,
            "POST",
            "/api/v1/vision/references",
            &tech,
            &[("board_model", "X"), ("components", bad)],
            Some(&good),
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"]["field"], "components");
    }
    // Only admins delete a reference; one with analyses cannot go.
    let owner = access(&sign_in(p, OWNER_EMAIL));
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/vision/references/{id}"), &tech, None).status, 403);
    let fresh = reference(p, &tech);
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/vision/references/{fresh}"), &owner, None).status, 204);
    assert_eq!(authed(p, "GET", &format!("/api/v1/vision/references/{fresh}"), &tech, None).status, 404);
}
