//! Schematics end to end (issue 15) against the real `schematic-analyzer` and `main`
//! workers in workerd, with real D1 and R2, on real netlists from open hardware
//! (`shared/core/tests/data/netlists/`, see its README): HackRF One (KiCad 5), its Opera
//! Cake board, and a KiCad 6 export. Counts are the files' own; paths, rails and suspects
//! were checked by hand against the HackRF One power sheet.

use std::sync::OnceLock;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("schematics"))
}

fn netlist(name: &str) -> Vec<u8> {
    let path = repo().join("shared/core/tests/data/netlists").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn upload(p: &Platform, token: &str, query: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    let url = p.url(&format!("/api/v1/schematics{query}"));
    request("POST", &url, &[("authorization", &auth), ("content-type", "text/plain")], Some(body))
}

fn import(p: &Platform, tech: &str, file: &str, model: &str) -> Value {
    let r = upload(p, tech, &format!("?board_model={}", model.replace(' ', "%20")), &netlist(file));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// What `by` has stored, and parts or nets left without their schematic (never any).
fn kept(p: &Platform, by: &str) -> (i64, i64) {
    let n = |sql: String| d1_query(&p.state, &sql)[0]["n"].as_i64().unwrap_or(-1);
    let mine = n(format!("SELECT COUNT(*) AS n FROM schematics WHERE created_by = '{by}'"));
    let orphans = n("SELECT (SELECT COUNT(*) FROM schematic_components WHERE schematic_id NOT IN (SELECT id FROM schematics))
                      + (SELECT COUNT(*) FROM schematic_nets WHERE schematic_id NOT IN (SELECT id FROM schematics)) AS n"
        .to_owned());
    (mine, orphans)
}

#[test]
fn a_real_board_imports_and_answers_lookups_paths_rails_and_suspects() {
    let p = platform();
    let tech = access(&technician(p));
    let s = import(p, &tech, "hackrf-one.net", "HackRF One r6");
    let id = s["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (s["component_count"].as_i64(), s["net_count"].as_i64(), s["format_version"].as_str()),
        (Some(413), Some(378), Some("D"))
    );
    assert_eq!(s["kinds"]["regulator"], 1, "{s}");
    let cake = import(p, &tech, "hackrf-operacake.net", "Opera Cake");
    assert_eq!((cake["component_count"].as_i64(), cake["net_count"].as_i64()), (Some(152), Some(203)));
    let six = import(p, &tech, "kicad6-legacy-power.net", "KiCad 6 test");
    assert_eq!((six["format_version"].as_str(), six["component_count"].as_i64()), (Some("E"), Some(2)));

    // The original is kept byte for byte.
    let file = authed(p, "GET", &format!("/api/v1/schematics/{id}/file"), &tech, None);
    assert_eq!(file.status, 200);
    assert_eq!(file.body, netlist("hackrf-one.net"));

    // Lookup by part number; a part's pins with their types and nets.
    let found = authed(p, "GET", &format!("/api/v1/schematics/{id}/components?q=TPS62410DRCR"), &tech, None).json();
    assert_eq!(found["components"][0]["reference"], "U21", "{found}");
    let u21 = authed(p, "GET", &format!("/api/v1/schematics/{id}/components/U21"), &tech, None).json();
    let vin =
        u21["pins"].as_array().and_then(|pins| pins.iter().find(|p| p["pin"] == "3")).cloned().unwrap_or_default();
    assert_eq!((vin["function"].as_str(), vin["pin_type"].as_str()), (Some("VIN"), Some("power_in")), "{u21}");
    assert_eq!(vin["net"], "/mcu/usb/power/VIN");
    let net = authed(p, "GET", &format!("/api/v1/schematics/{id}/nets?name=VIN"), &tech, None).json();
    assert_eq!(net["nets"][0]["nodes"].as_array().map(Vec::len), Some(6), "{net}");

    // The converter's SW2 reaches the CPLD's 1V8 decoupling through its inductor and a net tie.
    let path = authed(p, "GET", &format!("/api/v1/schematics/{id}/path?from=U21&to=C152"), &tech, None).json();
    let parts: Vec<&str> = path["path"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["step"] == "part")
        .filter_map(|s| s["reference"].as_str())
        .collect();
    assert!(parts == ["L10", "NT1"] || parts == ["R47", "NT1"], "{path}");
    let trace = authed(p, "GET", &format!("/api/v1/schematics/{id}/trace?net=%2B1V8"), &tech, None).json();
    assert!(trace["trace"]["through"].as_array().is_some_and(|t| t.contains(&json!("L10"))), "{trace}");

    let power = authed(p, "GET", &format!("/api/v1/schematics/{id}/power"), &tech, None).json();
    let u21 = power["regulators"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["reference"] == "U21"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(u21["outputs"], json!(["/mcu/usb/power/REG_OUT1", "/mcu/usb/power/REG_OUT2"]), "{power}");
    assert!(power["tree"].to_string().contains("REG_OUT1"), "the tree reaches the converter's outputs");

    // "No 1V8": the converter first, its inductor before the rail's capacitors; written to a ticket.
    let customer = access(&sign_in(p, &unique_email("sdr-owner")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "HackRF not enumerating" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let body = json!({ "symptom": "no 1V8 at the CPLD", "ticket_id": ticket });
    let r = authed(p, "POST", &format!("/api/v1/schematics/{id}/suspects"), &tech, Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    let d = r.json();
    assert_eq!((d["rail"].as_str(), d["reading"].as_str()), (Some("+1V8"), Some("missing")));
    assert_eq!(d["suspects"][0]["reference"], "U21", "{d}");
    let view = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), &tech, None).json();
    let noted = view["timeline"].as_array().is_some_and(|t| {
        t.iter().any(|e| e["kind"] == "note" && e["body"].as_str().is_some_and(|b| b.contains("1. U21 (TPS62410)")))
    });
    assert!(noted, "the suspects are on the ticket as a note: {view}");
    let customer_view = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), &customer, None).json();
    assert!(!customer_view.to_string().contains("TPS62410"), "an internal note");
    let short = authed(
        p,
        "POST",
        &format!("/api/v1/schematics/{id}/suspects"),
        &tech,
        Some(&json!({ "symptom": "+1.8V shorted" })),
    )
    .json();
    assert!(short["suspects"][0]["reference"].as_str().is_some_and(|r| r.starts_with('C')), "{short}");

    // The KiCad 6 board: +3.3V reaches a single pin, VCC has no capacitor.
    let six_id = six["id"].as_str().expect("id");
    let faults = authed(p, "GET", &format!("/api/v1/schematics/{six_id}/faults"), &tech, None).json();
    let rules: Vec<&str> =
        faults["findings"].as_array().into_iter().flatten().filter_map(|f| f["rule"].as_str()).collect();
    assert!(rules.contains(&"single_pin_net") && rules.contains(&"no_decoupling"), "{faults}");
    let listed = authed(p, "GET", "/api/v1/schematics?board_model=Opera%20Cake", &tech, None).json();
    assert_eq!(listed["schematics"].as_array().map(Vec::len), Some(1), "{listed}");
    // Customers do not read the shop's schematics.
    assert_eq!(authed(p, "GET", &format!("/api/v1/schematics/{id}"), &customer, None).status, 403);
}

#[test]
fn broken_files_are_refused_with_the_line_and_nothing_is_kept() {
    let p = platform();
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let real = String::from_utf8(netlist("hackrf-operacake.net")).expect("text");

    // Cut short by three parentheses: the last net is left open, and its line is named.
    let unbalanced = &real[..real.len() - 3];
    let nets_line = real[..real.rfind("(net (code").expect("a net")].lines().count();
    let r = upload(p, &tech, "", unbalanced.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains(&format!("line {nets_line}:")) && r.text().contains("never closed"), "{}", r.text());
    // The same part twice: the line of the second.
    let first = real.find("(comp (ref C11)").expect("C11");
    let duplicated = format!("{}(comp (ref C11) (value C))\n    {}", &real[..first], &real[first..]);
    let line = real[..first].lines().count() + 1;
    let r = upload(p, &tech, "", duplicated.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains(&format!("line {line}")) && r.text().contains("C11 appears twice"), "{}", r.text());
    let r = upload(p, &tech, "", b"(kicad_pcb (version 20221018) (generator pcbnew))");
    assert_eq!(r.status, 422);
    assert!(r.text().contains("not a KiCad netlist"), "{}", r.text());
    let r = upload(p, &tech, "", &[0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00]);
    assert_eq!(r.status, 415, "{}", r.text());
    let big = vec![b' '; 9 * 1024 * 1024];
    let r = upload(p, &tech, "", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(kept(p, &tech_id), (0, 0), "nothing was kept");

    let s = import(p, &tech, "hackrf-operacake.net", "Opera Cake");
    let id = s["id"].as_str().expect("id");
    let bad =
        authed(p, "POST", &format!("/api/v1/schematics/{id}/suspects"), &tech, Some(&json!({ "symptom": "no 48V" })));
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(authed(p, "GET", &format!("/api/v1/schematics/{id}/path?from=U1&to=U404"), &tech, None).status, 400);
    assert_eq!(authed(p, "GET", &format!("/api/v1/schematics/{id}/components/Q99"), &tech, None).status, 404);
    // Only admins delete, and then it is gone.
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/schematics/{id}"), &tech, None).status, 403);
    let owner = access(&sign_in(p, OWNER_EMAIL));
    assert_eq!(authed(p, "DELETE", &format!("/api/v1/schematics/{id}"), &owner, None).status, 204);
    assert_eq!(authed(p, "GET", &format!("/api/v1/schematics/{id}"), &tech, None).status, 404);
    assert_eq!(kept(p, &tech_id), (0, 0), "nothing of it is left");
}
