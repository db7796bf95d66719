//! Technician training end to end (issue 18) against the real workers in workerd with real
//! D1, every queue message delivered twice: laptop repairs done the real way (a catalogue
//! part quoted, approved, consumed when QC passes first time) earn their technician XP once
//! each; a manager turns them into simulations (anonymised); the technician answers — four
//! answers racing on one simulation earn once — levels up and earns a certification; the
//! leaderboard ranks them.

use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

fn xp_rows(p: &Platform, user: &str) -> Vec<Value> {
    d1_query(&p.state, &format!("SELECT source, xp FROM training_xp WHERE user_id = '{user}' ORDER BY id"))
}

#[test]
fn a_technician_earns_xp_once_from_real_work_and_simulations_levels_up_and_is_certified() {
    let p = Platform::fresh_with("training", &[("NOIZYLAB_DELIVER_TWICE", "1")]);
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech_pair = technician(&p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let manual = json!({ "checkpoints": [{ "id": "powers_on", "label": "Powers on", "kind": "manual" }] });
    assert_eq!(authed(&p, "PUT", "/api/v1/qc/templates/laptop", &owner, Some(&manual)).status, 200);
    let mut parts = Vec::new();
    for (sku, description) in [("FAN-1", "CPU fan 5V"), ("HINGE-1", "Hinge pair"), ("BAT-1", "Battery 3-cell")] {
        let body = json!({ "sku": sku, "description": description, "category": "laptop", "cost_cents": 1_500 });
        let r = authed(&p, "POST", "/api/v1/parts", &tech, Some(&body));
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().expect("part").to_owned();
        let stock = json!({ "part_id": id, "kind": "receive", "quantity": 4, "location": "main" });
        assert_eq!(authed(&p, "POST", "/api/v1/inventory/movements", &tech, Some(&stock)).status, 201);
        parts.push((id, description));
    }

    // Two laptop repairs, each needing one part, passing QC the first time.
    let mut tickets = Vec::new();
    for (part, _) in parts.iter().take(2) {
        let customer = access(&sign_in(&p, &unique_email("trainee-source")));
        let (ticket, quote) = quoted_ticket(
            &p,
            &customer,
            &tech,
            &tech_id,
            "laptop",
            json!([{ "part_id": part, "quantity": 1, "cost_cents": 1 }]),
        );
        let note =
            json!({ "body": "Owner jo.bloggs@example.com says it clicks; board serial C02XK1ZZJG5H, rail fine" });
        assert_eq!(authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/notes"), &tech, Some(&note)).status, 201);
        assert_eq!(authed(&p, "POST", &format!("/api/v1/pricing/quotes/{quote}/approve"), &customer, None).status, 200);
        move_to(&p, &tech, &ticket, &["IN_REPAIR", "QC"]);
        inspect_manual(&p, &tech, &ticket, true);
        tickets.push(ticket);
    }
    // Real work: two first-time QC passes (50 each) and two approvals (10 each), once each
    // although every event was delivered twice.
    let rows = eventually(Duration::from_secs(60), "XP for the real work", || {
        let rows = xp_rows(&p, &tech_id);
        (rows.len() >= 4).then_some(rows)
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(xp_rows(&p, &tech_id).len(), 4, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r["xp"].as_i64().unwrap_or(0)).sum::<i64>(), 120);
    assert!(rows.iter().all(|r| r["source"].as_str().is_some_and(|s| s.starts_with("event:"))));

    // Simulations from the two repairs, once.
    assert_eq!(
        authed(&p, "POST", "/api/v1/training/simulations/build", &tech, None).status,
        403,
        "managers build them"
    );
    let built = authed(&p, "POST", "/api/v1/training/simulations/build", &owner, None);
    assert_eq!(built.status, 200, "{}", built.text());
    assert_eq!(built.json()["created"].as_array().map(Vec::len), Some(2), "{}", built.text());
    let again = authed(&p, "POST", "/api/v1/training/simulations/build", &owner, None).json();
    assert_eq!(again["created"].as_array().map(Vec::len), Some(0));
    let list = authed(&p, "GET", "/api/v1/training/simulations?module=laptop-repair", &tech, None);
    assert_eq!(list.status, 200, "{}", list.text());
    let sims = list.json()["simulations"].as_array().cloned().expect("simulations");
    assert_eq!(sims.len(), 2);
    let text = serde_json::to_string(&sims).unwrap_or_default();
    assert!(!text.contains("example.com") && !text.contains("C02XK1ZZJG5H"), "anonymised: {text}");
    assert!(text.contains("it clicks"), "the findings are there: {text}");
    assert!(sims.iter().all(|s| s.get("answer").is_none() && s.get("outcome").is_none()), "no answer before answering");
    // Each simulation's real part is among its choices.
    let real = |sim: &Value| {
        let ticket = d1_query(
            &p.state,
            &format!("SELECT ticket_id FROM training_simulations WHERE id = '{}'", sim["id"].as_str().unwrap_or("")),
        );
        let ticket = ticket[0]["ticket_id"].as_str().expect("ticket").to_owned();
        let i = tickets.iter().position(|t| *t == ticket).expect("one of ours");
        parts[i].1.to_owned()
    };
    for s in &sims {
        assert!(s["choices"].as_array().is_some_and(|c| c.iter().any(|x| x == real(s).as_str())), "{s}");
    }

    let cert = json!({ "name": "Laptop basics", "modules": ["laptop-repair"], "min_score": 50, "valid_days": 365 });
    let made = authed(&p, "POST", "/api/v1/training/certifications", &owner, Some(&cert));
    assert_eq!(made.status, 201, "{}", made.text());
    assert_eq!(authed(&p, "POST", "/api/v1/training/certifications", &owner, Some(&cert)).status, 409);

    // The first simulation: a choice not offered is named; the right one scores 100, 40 XP,
    // and the real outcome is revealed.
    let (first, second) = (&sims[0], &sims[1]);
    let path = |s: &Value| format!("/api/v1/training/simulations/{}/attempts", s["id"].as_str().unwrap_or(""));
    let bad = authed(&p, "POST", &path(first), &tech, Some(&json!({ "choice": "A hammer" })));
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("choice")), "{}", bad.text());
    let answered = authed(&p, "POST", &path(first), &tech, Some(&json!({ "choice": real(first) })));
    assert_eq!(answered.status, 201, "{}", answered.text());
    let answered = answered.json();
    assert_eq!(
        (&answered["attempt"]["score"], &answered["xp_awarded"], &answered["first_attempt"]),
        (&json!(100), &json!(40), &json!(true))
    );
    assert_eq!(answered["outcome"]["part"], real(first).as_str());
    assert_eq!(answered["outcome"]["passed_qc_first_time"], true);
    assert_eq!(answered["certificates_earned"], json!([]), "one module simulation is still unanswered");

    // The second: four answers race; one earns the XP and completes the certification.
    let body = json!({ "choice": real(second) });
    let replies: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| authed(&p, "POST", &path(second), &tech, Some(&body)))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("answer"))
            .map(|r| {
                assert_eq!(r.status, 201, "{}", r.text());
                r.json()
            })
            .collect()
    });
    assert_eq!(replies.iter().filter(|r| r["first_attempt"] == true).count(), 1, "{replies:?}");
    assert_eq!(replies.iter().map(|r| r["xp_awarded"].as_i64().unwrap_or(0)).sum::<i64>(), 40);
    let certified: Vec<&Value> =
        replies.iter().filter(|r| r["certificates_earned"] == json!(["Laptop basics"])).collect();
    assert_eq!(certified.len(), 1, "certified once: {replies:?}");
    let sources = xp_rows(&p, &tech_id);
    assert_eq!(sources.iter().filter(|r| r["source"].as_str().is_some_and(|s| s.starts_with("sim:"))).count(), 2);

    // 120 + 40 + 40 = 200 XP: level 2 (level 3 at 300); the certificate held for a year.
    let me = authed(&p, "GET", "/api/v1/training/me", &tech, None);
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!(
        (&me["level"]["xp"], &me["level"]["level"], &me["level"]["next_level_xp"]),
        (&json!(200), &json!(2), &json!(300))
    );
    assert_eq!(me["certificates"][0]["name"], "Laptop basics");
    assert_eq!(me["certificates"][0]["valid"], true);
    let expires = me["certificates"][0]["expires_at"].as_str().unwrap_or_default();
    let earned = me["certificates"][0]["earned_at"].as_str().unwrap_or_default();
    assert!(
        expires > earned && expires[..4].parse::<i32>().unwrap_or(0) == earned[..4].parse::<i32>().unwrap_or(0) + 1,
        "{expires} / {earned}"
    );
    let modules = authed(&p, "GET", "/api/v1/training/modules", &tech, None).json();
    assert_eq!(
        modules["modules"][0],
        json!({ "module": "laptop-repair", "simulations": 2, "answered": 2, "mean_score": 100.0, "complete": true })
    );

    // Practice after the first answer earns nothing.
    let practice = authed(&p, "POST", &path(first), &tech, Some(&json!({ "choice": real(first) }))).json();
    assert_eq!((&practice["first_attempt"], &practice["xp_awarded"]), (&json!(false), &json!(0)));

    // The leaderboard: the technician first with their 200 XP this week.
    let board = authed(&p, "GET", "/api/v1/training/leaderboard?period=week", &owner, None);
    assert_eq!(board.status, 200, "{}", board.text());
    let board = board.json();
    assert_eq!(
        (&board["leaders"][0]["user_id"], &board["leaders"][0]["xp"], &board["leaders"][0]["level"]),
        (&json!(tech_id), &json!(200), &json!(2))
    );
    let bad = authed(&p, "GET", "/api/v1/training/leaderboard?period=decade", &owner, None);
    assert_eq!((bad.status, bad.json()["error"]["field"].as_str()), (400, Some("period")));

    // Customers do not train.
    let customer = access(&sign_in(&p, &unique_email("not-staff")));
    assert_eq!(authed(&p, "GET", "/api/v1/training/simulations", &customer, None).status, 403);
    p.stop();
}
