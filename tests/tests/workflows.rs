//! Workflow definitions end to end (issue 17, its first part) against the real
//! `workflow-orchestrator` in workerd with real D1: the seed's parts sourcing flow saved,
//! a definition with a cycle or an unknown action refused naming the step, versions kept
//! and readable, enable/disable, and who may manage them.

use noizylab_tests::*;
use serde_json::{json, Value};

/// Seed 001's parts sourcing flow.
fn parts_sourcing(name: &str) -> Value {
    json!({
        "name": name,
        "trigger": { "type": "event", "event": "inventory.low_stock" },
        "start": "hunt",
        "steps": [
            { "id": "hunt", "type": "action", "action": "ebay.hunt",
              "input": { "part_id": "{{event.data.part_id}}" }, "next": "found", "on_failure": "ask" },
            { "id": "found", "type": "condition", "expression": "steps.hunt.found > 0",
              "then": "approve", "else": "tell_team" },
            { "id": "approve", "type": "human_task", "title": "Buy the best deal?",
              "assignee": { "type": "role", "role": "admin" }, "approved": "buy", "rejected": "tell_team" },
            { "id": "buy", "type": "action", "action": "ebay.request_purchase",
              "input": { "deal_id": "{{steps.hunt.best_deal}}", "quantity": 2, "location": "main" } },
            { "id": "tell_team", "type": "notify", "to": "team", "subject": "Low stock",
              "text": "A part is low and no deal was bought." }
        ]
    })
}

#[test]
fn workflows_are_checked_whole_versioned_and_enabled_by_those_who_manage_them() {
    let p = Platform::fresh("workflows");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech = access(&technician(&p));

    let made = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&parts_sourcing("Parts sourcing")));
    assert_eq!(made.status, 201, "{}", made.text());
    let v = made.json();
    let id = v["id"].as_str().expect("id").to_owned();
    assert_eq!((v["version"].as_i64(), v["enabled"].as_bool()), (Some(1), Some(false)));
    assert_eq!((v["trigger_type"].as_str(), v["trigger_event"].as_str()), (Some("event"), Some("inventory.low_stock")));
    assert_eq!(v["definition"]["steps"][2]["assignee"]["role"], "admin");

    // Wrong definitions are refused naming the step, and nothing is stored.
    let mut cycle = parts_sourcing("Cycle");
    cycle["steps"][4]["next"] = json!("hunt");
    let r = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&cycle));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("steps.tell_team")), "{}", r.text());
    assert!(r.text().contains("goes back to hunt"), "{}", r.text());
    let mut unknown = parts_sourcing("Unknown");
    unknown["steps"][0]["action"] = json!("ebay.snipe");
    let r = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&unknown));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("steps.hunt")), "{}", r.text());
    let same = authed(&p, "POST", "/api/v1/workflows", &owner, Some(&parts_sourcing("Parts sourcing")));
    assert_eq!(same.status, 409, "{}", same.text());
    let listed = authed(&p, "GET", "/api/v1/workflows", &owner, None).json();
    assert_eq!(listed["workflows"].as_array().map(Vec::len), Some(1), "{listed}");

    // A new version: the old one stays readable.
    let mut second = parts_sourcing("Parts sourcing");
    second["steps"][1]["expression"] = json!("steps.hunt.found > 0 && event.data.reorder_point >= 1");
    let saved = authed(&p, "PUT", &format!("/api/v1/workflows/{id}"), &owner, Some(&second));
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert_eq!(saved.json()["version"], 2);
    assert_eq!(saved.json()["versions"].as_array().map(Vec::len), Some(2));
    let first = authed(&p, "GET", &format!("/api/v1/workflows/{id}/versions/1"), &owner, None).json();
    assert_eq!(first["definition"]["steps"][1]["expression"], "steps.hunt.found > 0");
    assert_eq!(authed(&p, "GET", &format!("/api/v1/workflows/{id}/versions/9"), &owner, None).status, 404);

    let on = authed(&p, "POST", &format!("/api/v1/workflows/{id}/enable"), &owner, None);
    assert_eq!((on.status, on.json()["enabled"].as_bool()), (200, Some(true)));
    let off = authed(&p, "POST", &format!("/api/v1/workflows/{id}/disable"), &owner, None);
    assert_eq!(off.json()["enabled"], false);

    // The builder's palette; technicians do not manage workflows.
    let actions = authed(&p, "GET", "/api/v1/workflows/actions", &owner, None).json();
    assert!(actions["actions"].as_array().is_some_and(|a| a.iter().any(|x| x["name"] == "ebay.hunt")), "{actions}");
    assert_eq!(authed(&p, "GET", "/api/v1/workflows", &tech, None).status, 403);
    assert_eq!(authed(&p, "POST", "/api/v1/workflows", &tech, Some(&parts_sourcing("Mine"))).status, 403);
    p.stop();
}
