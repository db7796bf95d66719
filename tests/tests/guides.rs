//! Repair guides end to end (issue 15) against the real `ar-guide` worker in workerd, with
//! real D1, R2 and Durable Objects: a real glTF model (`ShapeCollection.glb`, a Blender
//! export from the glTF-Transform project's test assets; see
//! `shared/core/tests/data/models/README.md`), guides in versions checked against its
//! nodes, each technician's progress, and the live annotation room seen by two sockets
//! and replayed after a reconnect.

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_core::vision::{encode_png, synthetic};
use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("guides"))
}

fn model(name: &str) -> Vec<u8> {
    let path = repo().join("shared/core/tests/data/models").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn upload(p: &Platform, token: &str, name: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    let url = p.url(&format!("/api/v1/guides/assets?name={name}"));
    request("POST", &url, &[("authorization", &auth), ("content-type", "application/octet-stream")], Some(body))
}

fn steps(image: &str) -> Value {
    json!([
        { "title": "Open the case", "text": "Remove the four PH00 screws under the feet.", "tools": ["PH00 screwdriver"],
          "minutes": 5, "images": [image] },
        { "title": "Check the capacitor", "text": "Look for a bulged top or residue.", "node": "Cylinder",
          "camera": { "orbit": "30deg 70deg 6m", "target": "auto auto auto" }, "warnings": ["Discharge the supply first"], "minutes": 3 },
        { "title": "Reseat the module", "text": "Press the module until it clicks.", "node": "Cube", "minutes": 2 },
    ])
}

/// A guide on the real model, by `tech`: its id.
fn guide(p: &Platform, tech: &str) -> (String, Value) {
    let m = upload(p, tech, "shapes.glb", &model("ShapeCollection.glb"));
    assert_eq!(m.status, 201, "{}", m.text());
    let m = m.json();
    let image = upload(p, tech, "feet.png", &encode_png(&synthetic::board(false, None)));
    assert_eq!(image.status, 201, "{}", image.text());
    let body = json!({ "title": "Amp: no sound", "device_model": "NL-AMP-2", "asset_id": m["id"],
                       "steps": steps(image.json()["id"].as_str().expect("image")) });
    let g = authed(p, "POST", "/api/v1/guides", tech, Some(&body));
    assert_eq!(g.status, 201, "{}", g.text());
    let g = g.json();
    (g["id"].as_str().expect("id").to_owned(), g)
}

#[test]
fn a_real_model_is_validated_and_guides_keep_their_versions() {
    let p = platform();
    let tech = access(&technician(p));
    let m = upload(p, &tech, "shapes.glb", &model("ShapeCollection.glb"));
    assert_eq!(m.status, 201, "{}", m.text());
    let m = m.json();
    let names: Vec<&str> =
        m["model"]["nodes"].as_array().into_iter().flatten().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["Sphere", "Icosphere", "Cylinder", "Cube", "Cone", "Torus", "Torus.001"]);
    let file = authed(p, "GET", m["url"].as_str().expect("url"), &tech, None);
    assert_eq!((file.status, file.header("content-type")), (200, Some("model/gltf-binary")));
    assert_eq!(file.body, model("ShapeCollection.glb"));

    // What is not a model is refused, and says why.
    let boxed = model("Box.glb");
    let r = upload(p, &tech, "half.glb", &boxed[..boxed.len() / 2]);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(upload(p, &tech, "notes.txt", b"just some notes").status, 415);
    let external = br#"{"asset":{"version":"2.0"},"buffers":[{"uri":"box.bin","byteLength":8}]}"#;
    let r = upload(p, &tech, "box.gltf", external);
    assert_eq!(r.status, 422);
    assert!(r.text().contains("one .glb"), "{}", r.text());

    let (id, g) = guide(p, &tech);
    assert_eq!((g["version"].as_i64(), g["total_minutes"].as_i64()), (Some(1), Some(10)));
    assert_eq!(g["steps"][1]["node"], "Cylinder");
    assert!(g["model"]["model"]["nodes"].to_string().contains("center"), "the viewer gets where each node sits");
    // A step on a node the model does not have, by name.
    let mut bad = json!({ "title": "Lid", "device_model": "NL-AMP-2", "asset_id": m["id"], "steps": steps("x") });
    bad["steps"][0]["images"] = json!([]);
    bad["steps"][2]["node"] = json!("Lid");
    let r = authed(p, "POST", "/api/v1/guides", &tech, Some(&bad));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "steps[2]");
    assert!(r.text().contains("no node Lid"), "{}", r.text());

    // A new version; the old one stays readable.
    let mut next =
        json!({ "title": "Amp: no sound (rev B)", "asset_id": m["id"], "steps": steps("x"), "note": "rev B board" });
    next["steps"][0]["images"] = json!([]);
    let r = authed(p, "PUT", &format!("/api/v1/guides/{id}"), &tech, Some(&next));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["version"], 2);
    let old = authed(p, "GET", &format!("/api/v1/guides/{id}?version=1"), &tech, None).json();
    assert_eq!((old["title"].as_str(), old["latest_version"].as_i64()), (Some("Amp: no sound"), Some(2)));
    let versions = authed(p, "GET", &format!("/api/v1/guides/{id}/versions"), &tech, None).json();
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));
    let listed = authed(p, "GET", "/api/v1/guides?device_model=NL-AMP-2", &tech, None).json();
    assert!(listed["guides"].as_array().is_some_and(|g| g.iter().any(|g| g["id"] == id.as_str())));

    // Everyone signed in reads guides; only staff write them; only admins archive.
    let customer = access(&sign_in(p, &unique_email("diy")));
    assert_eq!(authed(p, "GET", &format!("/api/v1/guides/{id}"), &customer, None).status, 200);
    assert_eq!(authed(p, "PUT", &format!("/api/v1/guides/{id}"), &customer, Some(&next)).status, 403);
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/guides/{id}"), &tech, None).status, 403);
}

#[test]
fn progress_is_kept_per_technician_and_completing_is_announced() {
    let p = platform();
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let (id, _) = guide(p, &tech);
    let customer = access(&sign_in(p, &unique_email("amp")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "No sound" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let at = |step: i64, completed: bool| {
        let body = json!({ "ticket_id": ticket, "step": step, "completed": completed });
        authed(p, "PUT", &format!("/api/v1/guides/{id}/progress"), &tech, Some(&body))
    };
    assert_eq!(at(1, false).status, 200);
    assert_eq!(at(4, false).status, 400, "the guide has three steps");
    assert_eq!(at(2, true).status, 400, "completed on the last step only");
    let done = at(3, true);
    assert_eq!(done.status, 200, "{}", done.text());
    let mine = &done.json()["technicians"][0];
    assert_eq!((mine["technician_id"].as_str(), mine["step"].as_i64()), (Some(tech_id.as_str()), Some(3)));
    assert!(mine["completed_at"].is_string());
    assert_eq!(at(3, true).status, 409, "completed once");
    eventually(Duration::from_secs(20), "guide.completed on the bus", || {
        let sql = format!("SELECT payload FROM event_log WHERE ticket_id = '{ticket}' AND event = 'guide.completed'");
        let rows = d1_query(&p.state, &sql);
        let data: Value = serde_json::from_str(rows.first()?["payload"].as_str()?).ok()?;
        (data["technician_id"] == tech_id.as_str() && data["guide_id"] == id.as_str()).then_some(())
    });
}

fn join(p: &Platform, token: &str, guide: &str, ticket: &str, since: Option<i64>) -> Socket {
    let r =
        authed(p, "POST", &format!("/api/v1/guides/{guide}/live/ticket"), token, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 201, "{}", r.text());
    let mut path = r.json()["path"].as_str().expect("path").to_owned();
    if let Some(s) = since {
        path.push_str(&format!("&since={s}"));
    }
    connect(&p.ws_url(&path)).expect("connect")
}

#[test]
fn two_technicians_see_each_others_annotations_live_and_after_a_reconnect() {
    let p = platform();
    let (a, b) = (access(&technician(p)), access(&technician(p)));
    let (id, _) = guide(p, &a);
    let owner = access(&sign_in(p, &unique_email("annotated")));
    let t = authed(p, "POST", "/api/v1/tickets", &owner, Some(&json!({ "title": "Hum" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let mut first = join(p, &a, &id, &ticket, None);
    let mut second = join(p, &b, &id, &ticket, None);
    next_of(&mut first, "hello");
    next_of(&mut second, "hello");

    let marker =
        json!({ "type": "annotate", "op": "add", "shape": "marker", "node": "Cylinder", "text": "bulged", "step": 2 });
    send_frame(&mut first, &marker);
    let seen = next_of(&mut second, "annotation");
    assert_eq!(
        (seen["op"].as_str(), seen["node"].as_str(), seen["shape"].as_str()),
        (Some("add"), Some("Cylinder"), Some("marker")),
        "{seen}"
    );
    let marker_id = seen["id"].as_str().expect("an id").to_owned();
    let mine = next_of(&mut first, "annotation");
    assert_eq!(mine["id"], marker_id.as_str(), "the sender sees it too");
    let last = seen["seq"].as_i64().expect("seq");

    // The second leaves; meanwhile an arrow and a removal; back, it gets both.
    drop(second);
    let arrow = json!({ "type": "annotate", "op": "add", "shape": "arrow", "point": { "x": 0.2, "y": 0.3 }, "to": { "x": 0.5, "y": 0.45 } });
    send_frame(&mut first, &arrow);
    next_of(&mut first, "annotation");
    send_frame(&mut first, &json!({ "type": "annotate", "op": "remove", "id": marker_id }));
    next_of(&mut first, "annotation");
    let mut back = join(p, &b, &id, &ticket, Some(last));
    let replayed_arrow = next_of(&mut back, "annotation");
    assert_eq!(replayed_arrow["shape"], "arrow", "{replayed_arrow}");
    let replayed_remove = next_of(&mut back, "annotation");
    assert_eq!(
        (replayed_remove["op"].as_str(), replayed_remove["id"].as_str()),
        (Some("remove"), Some(marker_id.as_str()))
    );

    // A malformed annotation is refused to its sender and kept from the room.
    send_frame(
        &mut back,
        &json!({ "type": "annotate", "op": "add", "shape": "arrow", "point": { "x": 0.2, "y": 0.3 } }),
    );
    let err = next_of(&mut back, "error");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("head")), "{err}");
    // Someone who may not see the ticket cannot enter its room.
    let stranger = access(&sign_in(p, &unique_email("stranger")));
    let r = authed(
        p,
        "POST",
        &format!("/api/v1/guides/{id}/live/ticket"),
        &stranger,
        Some(&json!({ "ticket_id": ticket })),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}
