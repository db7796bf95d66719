//! Workflow definitions checked: the seed's two flows as definitions, and each way a
//! definition can be wrong named by its step.

use super::*;
use serde_json::json;

/// Seed 001's parts sourcing flow: low stock → eBay searched → a manager decides → buy.
fn parts_sourcing() -> Value {
    json!({
        "name": "Parts sourcing",
        "trigger": { "type": "event", "event": "inventory.low_stock" },
        "start": "hunt",
        "steps": [
            { "id": "hunt", "type": "action", "action": "ebay.hunt",
              "input": { "part_id": "{{event.data.part_id}}" }, "next": "found", "on_failure": "ask" },
            { "id": "found", "type": "condition", "expression": "steps.hunt.found > 0",
              "then": "approve", "else": "tell_team" },
            { "id": "approve", "type": "human_task", "title": "Buy the best deal?",
              "assignee": { "type": "role", "role": "admin" }, "escalate_to": { "type": "role", "role": "owner" },
              "timeout_hours": 24, "approved": "buy", "rejected": "tell_team" },
            { "id": "buy", "type": "action", "action": "ebay.request_purchase",
              "input": { "deal_id": "{{steps.hunt.best_deal}}", "quantity": 2, "location": "main" } },
            { "id": "tell_team", "type": "notify", "to": "team", "subject": "Low stock",
              "text": "A part is low and no deal was bought." }
        ]
    })
}

/// Seed 001's repair intake: a ticket with a board photo → vision → brain → a quote → the
/// customer told.
fn repair_intake() -> Value {
    json!({
        "name": "Repair intake",
        "trigger": { "type": "event", "event": "ticket.attachment_added",
                     "filter": "event.data.content_type == \"image/jpeg\" || event.data.content_type == \"image/png\"" },
        "start": "look",
        "steps": [
            { "id": "look", "type": "action", "action": "vision.analyze",
              "input": { "attachment_id": "{{event.data.attachment_id}}", "reference_id": "ref_board" }, "next": "scan",
              "on_failure": "skip" },
            { "id": "scan", "type": "action", "action": "brain.diagnose", "input": { "device_id": "{{event.device_id}}" },
              "next": "quote" },
            { "id": "quote", "type": "action", "action": "pricing.quote", "input": { "ticket_id": "{{event.ticket_id}}" },
              "next": "tell" },
            { "id": "tell", "type": "notify", "to": "customer", "subject": "Your quote is ready",
              "text": "Review and approve it in the portal." }
        ]
    })
}

fn check(v: Value) -> Result<Definition, Invalid> {
    serde_json::from_value::<Definition>(v).map_err(|e| invalid("body", e.to_string()))?.checked()
}

fn refused(v: Value) -> (String, String) {
    match check(v) {
        Ok(_) => ("accepted".into(), String::new()),
        Err(e) => (e.field, e.message),
    }
}

#[test]
fn the_seeds_two_flows_are_valid_definitions() {
    let parts = check(parts_sourcing()).map_err(|e| format!("{}: {}", e.field, e.message));
    assert!(parts.is_ok(), "{parts:?}");
    let intake = check(repair_intake()).map_err(|e| format!("{}: {}", e.field, e.message));
    assert!(intake.is_ok(), "{intake:?}");
    let d = parts.unwrap_or_else(|_| unreachable!());
    assert_eq!(d.steps[0].on_failure, OnFailure::Ask);
    assert_eq!(edges(&d.steps[2]), ["buy", "tell_team"]);
}

#[test]
fn each_mistake_is_named_by_its_step() {
    let with = |path: &[&str], value: Value| {
        let mut v = parts_sourcing();
        let mut at = &mut v;
        for p in &path[..path.len() - 1] {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        let last = path[path.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => at[i] = value,
            Err(_) => at[last] = value,
        }
        refused(v)
    };
    // A cycle: the notification goes back to the hunt.
    let (field, why) = with(&["steps", "4", "next"], json!("hunt"));
    assert_eq!(field, "steps.tell_team");
    assert!(why.contains("goes back to hunt"), "{why}");
    // An edge to nothing.
    assert_eq!(with(&["steps", "1", "else"], json!("shrug")).0, "steps.found");
    // Unknown action, with the catalogue named.
    let (field, why) = with(&["steps", "0", "action"], json!("ebay.snipe"));
    assert_eq!(field, "steps.hunt");
    assert!(why.contains("ebay.hunt") && why.contains("pricing.quote"), "{why}");
    // A required input missing.
    let (field, why) = with(&["steps", "0", "input"], json!({}));
    assert_eq!((field.as_str(), why.contains("part_id")), ("steps.hunt", true), "{why}");
    // Expressions: one that does not parse, one reading a step that has not run yet,
    // one reading something a run does not have.
    assert!(with(&["steps", "1", "expression"], json!("steps.hunt.found >")).1.contains("does not parse"));
    let (field, why) = with(&["steps", "1", "expression"], json!("steps.buy.ok == true"));
    assert_eq!(field, "steps.found");
    assert!(why.contains("does not run before"), "{why}");
    assert!(with(&["steps", "1", "expression"], json!("secrets.key == 1")).1.contains("not something a run has"));
    // A reference in an action's input to a later step.
    let (field, _) = with(&["steps", "0", "input", "part_id"], json!("{{steps.buy.part_id}}"));
    assert_eq!(field, "steps.hunt");
    // Duplicate and malformed ids, the start, the trigger.
    assert_eq!(with(&["steps", "4", "id"], json!("hunt")).0, "steps.hunt");
    assert_eq!(with(&["steps", "4", "id"], json!("Tell Team")).0, "steps[4].id");
    assert_eq!(with(&["start"], json!("begin")).0, "start");
    assert_eq!(with(&["trigger", "event"], json!("part.low")).0, "trigger.event");
    assert_eq!(with(&["trigger"], json!({ "type": "schedule", "cron": "every day" })).0, "trigger.cron");
    assert_eq!(with(&["trigger"], json!({ "type": "schedule", "cron": "*/30 * * * *" })).0, "accepted");
    // A human task for a role that does not decide, or that never times out.
    assert_eq!(with(&["steps", "2", "assignee"], json!({ "type": "role", "role": "customer" })).0, "steps.approve");
    assert_eq!(with(&["steps", "2", "timeout_hours"], json!(0)).0, "steps.approve");
    // A condition that also says next.
    assert_eq!(with(&["steps", "1", "next"], json!("buy")).0, "steps.found");
}

#[test]
fn a_step_no_path_reaches_is_unreachable() {
    let mut v = parts_sourcing();
    if let Some(steps) = v["steps"].as_array_mut() {
        steps.push(json!({ "id": "orphan", "type": "delay", "seconds": 60 }));
    }
    let (field, why) = refused(v);
    assert_eq!(field, "steps.orphan");
    assert!(why.contains("no path from hunt"), "{why}");
}

#[test]
fn conditions_read_the_event_and_earlier_steps_outputs() {
    let event = json!({ "event": "quote.issued", "data": { "total": 62_000, "currency": "CAD", "lines": [1, 2, 3] } });
    let steps = json!({ "hunt": { "found": 2, "best": { "score": 72 } } });
    let holds = |e: &str| evaluate(e, &event, &steps);
    assert_eq!(holds("event.data.total > 50000 && event.data.currency == \"CAD\""), Ok(true));
    assert_eq!(holds("steps.hunt.found > 0 && steps.hunt.best.score >= 80"), Ok(false));
    assert_eq!(holds("event.data.lines == 3"), Ok(true), "an array reads as its length");
    assert!(holds("steps.buy.ok").is_err(), "a name the run lacks is an error, not false");
    assert!(holds("event.data.total + 1").is_err_and(|e| e.contains("not true or false")));
}

#[test]
fn references_are_filled_from_the_event_and_earlier_steps() {
    let event = json!({ "data": { "part_id": "part_1", "lines": [{ "qty": 3 }] } });
    let steps = json!({ "hunt": { "found": 2, "best_deal": "deal_9" } });
    let input = json!({ "part": "{{event.data.part_id}}", "deal": "{{ steps.hunt.best_deal }}",
                        "qty": "{{event.data.lines.0.qty}}", "location": "main" });
    let resolved = resolve(input.as_object().unwrap(), &event, &steps).unwrap();
    assert_eq!(resolved, json!({ "part": "part_1", "deal": "deal_9", "qty": 3, "location": "main" }));
    let missing = json!({ "deal": "{{steps.hunt.nothing}}" });
    let err = resolve(missing.as_object().unwrap(), &event, &steps).unwrap_err();
    assert!(err.contains("steps.hunt.nothing"), "{err}");
    assert_eq!(lookup("other.x", &event, &steps), None);
}

#[test]
fn cron_schedules_are_due_on_their_minutes() {
    // 2026-12-04 19:30 UTC was a Friday (weekday 5).
    assert!(cron_due("*/30 * * * *", 30, 19, 4, 12, 5));
    assert!(!cron_due("*/30 * * * *", 31, 19, 4, 12, 5));
    assert!(cron_due("0 9 * * 1-5", 0, 9, 4, 12, 5));
    assert!(!cron_due("0 9 * * 1-5", 0, 9, 5, 12, 6));
    assert!(cron_due("15,45 8-18/2 * * *", 45, 10, 1, 1, 0));
    assert!(!cron_due("15,45 8-18/2 * * *", 45, 11, 1, 1, 0));
    // Day of month and weekday both given: either matches; 7 is Sunday too.
    assert!(cron_due("0 0 1 * 0", 0, 0, 6, 12, 0));
    assert!(cron_due("0 0 1 * 7", 0, 0, 6, 12, 0));
    assert!(cron_due("0 0 1 * 0", 0, 0, 1, 12, 2));
    assert!(!cron_due("0 0 1 * 0", 0, 0, 2, 12, 2));
    assert!(!cron_due("0 0 * *", 0, 0, 1, 1, 0), "four fields is no schedule");
    assert!(!cron_due("*/0 * * * *", 0, 0, 1, 1, 0), "a step of 0 matches nothing");
}
