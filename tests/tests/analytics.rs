//! The shop's numbers end to end (issue 18) against the real workers in workerd with real
//! D1: repairs walked the real way — tickets opened by customers, quoted with a catalogue
//! part, approved and declined, repaired with the bench timer running, inspected (one fails
//! QC once), made READY (which consumes the part), paid through Stripe Checkout (a Stripe
//! stand-in, its webhook signed as Stripe signs) — with every queue message delivered twice.
//! Then each KPI the analytics worker kept from the bus is recomputed here from the owners'
//! tables (tickets, timeline, quotes, invoices, QC inspections, stock ledger, timers) and
//! must match exactly.

use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

fn int(rows: &[Value], column: &str) -> i64 {
    rows.first().and_then(|r| r[column].as_i64()).unwrap_or_default()
}

#[test]
fn kpis_kept_from_the_bus_match_the_source_tables_and_count_each_event_once() {
    let stand_in = StandIn::start(stripe::reply);
    let mut env = stripe::env(&stand_in.url());
    env.push(("NOIZYLAB_DELIVER_TWICE", "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let platform = Platform::fresh_with("analytics", &env);
    let p = &platform;
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let manual = json!({ "checkpoints": [{ "id": "powers_on", "label": "Powers on", "kind": "manual" }] });
    for kind in ["laptop", "phone"] {
        let r = authed(p, "PUT", &format!("/api/v1/qc/templates/{kind}"), &owner, Some(&manual));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let part = authed(
        p,
        "POST",
        "/api/v1/parts",
        &tech,
        Some(&json!({ "sku": "HINGE-L", "description": "Laptop hinge", "category": "hinge", "cost_cents": 4_100 })),
    );
    assert_eq!(part.status, 201, "{}", part.text());
    let part = part.json()["id"].as_str().expect("part").to_owned();
    let stock = json!({ "part_id": part, "kind": "receive", "quantity": 5, "location": "main" });
    assert_eq!(authed(p, "POST", "/api/v1/inventory/movements", &tech, Some(&stock)).status, 201);

    // A laptop: a hinge pair quoted, approved, bench time, a reply to the customer, QC
    // failed once then passed, READY (the hinges consumed), paid.
    let alice = access(&sign_in(p, &unique_email("alice")));
    let (laptop, laptop_quote) = quoted_ticket(
        p,
        &alice,
        &tech,
        &tech_id,
        "laptop",
        json!([{ "part_id": part, "quantity": 2, "cost_cents": 1 }]),
    );
    assert_eq!(authed(p, "POST", &format!("/api/v1/pricing/quotes/{laptop_quote}/approve"), &alice, None).status, 200);
    move_to(p, &tech, &laptop, &["IN_REPAIR"]);
    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{laptop}/timer/start"), &tech, None).status, 200);
    let reply = json!({ "body": "New hinges are on; testing it now." });
    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{laptop}/messages"), &tech, Some(&reply)).status, 201);
    assert_eq!(authed(p, "POST", &format!("/api/v1/tickets/{laptop}/timer/stop"), &tech, None).status, 200);
    move_to(p, &tech, &laptop, &["QC"]);
    inspect_manual(p, &tech, &laptop, false);
    move_to(p, &tech, &laptop, &["QC"]);
    inspect_manual(p, &tech, &laptop, true);
    let laptop_paid = stripe::pay(p, &alice, &laptop_quote);

    // A phone: approved, passes QC first time, paid.
    let bob = access(&sign_in(p, &unique_email("bob")));
    let (phone, phone_quote) = quoted_ticket(p, &bob, &tech, &tech_id, "phone", json!([]));
    assert_eq!(authed(p, "POST", &format!("/api/v1/pricing/quotes/{phone_quote}/approve"), &bob, None).status, 200);
    move_to(p, &tech, &phone, &["IN_REPAIR", "QC"]);
    inspect_manual(p, &tech, &phone, true);
    let phone_paid = stripe::pay(p, &bob, &phone_quote);

    // A tablet whose quote is declined, left waiting (and overdue).
    let carol = access(&sign_in(p, &unique_email("carol")));
    let (tablet, tablet_quote) = quoted_ticket(p, &carol, &tech, &tech_id, "tablet", json!([]));
    let decline = json!({ "reason": "too dear" });
    let d = authed(p, "POST", &format!("/api/v1/pricing/quotes/{tablet_quote}/decline"), &carol, Some(&decline));
    assert_eq!(d.status, 200, "{}", d.text());
    let due = authed(p, "PATCH", &format!("/api/v1/tickets/{tablet}"), &tech, Some(&json!({ "due_at": "2026-01-05" })));
    assert_eq!(due.status, 200, "{}", due.text());

    // The read models settle: both payments counted, the decline too.
    let kpis = eventually(Duration::from_secs(60), "the analytics read models to take the events in", || {
        let k = authed(p, "GET", "/api/v1/analytics/kpis", &owner, None);
        assert_eq!(k.status, 200, "{}", k.text());
        let k = k.json();
        (k["revenue"]["payments"] == 2 && k["quotes"]["declined"] == 1 && k["tickets"]["completed"] == 2).then_some(k)
    });
    let state = &p.state;
    let q = |sql: &str| d1_query(state, sql);

    // Each event once, though every message was delivered twice.
    let dupes = q("SELECT COUNT(*) AS n FROM analytics_facts WHERE kind = 'payment'");
    assert_eq!(int(&dupes, "n"), 2, "a payment delivered twice is counted once");
    let logged = q("SELECT COUNT(*) AS n FROM event_log WHERE event IN ('ticket.created', 'ticket.status_changed',
        'quote.issued', 'quote.approved', 'quote.declined', 'payment.succeeded', 'qc.passed', 'qc.failed')");
    let facts = q("SELECT COUNT(*) AS n FROM analytics_facts WHERE kind != 'completed' AND kind != 'message_answered'");
    assert_eq!(int(&facts, "n"), int(&logged, "n"), "one fact per logged event");

    // Tickets, completions, turnaround and stages, from the tickets and their timelines.
    assert_eq!(kpis["tickets"]["opened"], int(&q("SELECT COUNT(*) AS n FROM tickets"), "n"));
    let ready =
        q("SELECT COUNT(DISTINCT ticket_id) AS n FROM ticket_timeline WHERE kind = 'status' AND to_status = 'READY'");
    assert_eq!(kpis["tickets"]["completed"], int(&ready, "n"));
    let turnaround = q("SELECT AVG((julianday(r.at) - julianday(t.created_at)) * 24.0) AS h FROM tickets t
        JOIN ticket_timeline r ON r.ticket_id = t.id AND r.kind = 'status' AND r.to_status = 'READY'");
    let expected = turnaround[0]["h"].as_f64().expect("turnaround");
    let got = kpis["tickets"]["turnaround_hours"].as_f64().expect("turnaround");
    assert!((got - expected).abs() < 0.01, "turnaround {got} h, the timeline says {expected} h");
    let left = q("SELECT from_status AS stage, COUNT(*) AS n FROM ticket_timeline WHERE kind = 'status' GROUP BY from_status ORDER BY from_status");
    let stages: Vec<(String, i64)> = kpis["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| (s["stage"].as_str().unwrap_or_default().to_owned(), s["count"].as_i64().unwrap_or_default()))
        .collect();
    let timeline: Vec<(String, i64)> = left
        .iter()
        .map(|r| (r["stage"].as_str().unwrap_or_default().to_owned(), r["n"].as_i64().unwrap_or_default()))
        .collect();
    assert_eq!(stages, timeline, "every stay in a status, as the timeline has them");

    // First-time fix and QC first-pass yield, from the inspections.
    let fixed = q("SELECT COUNT(DISTINCT r.ticket_id) AS n FROM ticket_timeline r WHERE r.kind = 'status' AND r.to_status = 'READY'
        AND NOT EXISTS (SELECT 1 FROM qc_inspections i WHERE i.ticket_id = r.ticket_id AND i.status = 'failed')");
    assert_eq!(kpis["first_time_fix"]["fixed_first_time"], int(&fixed, "n"));
    assert_eq!(kpis["first_time_fix"]["rate"], 0.5);
    let first = q("SELECT COUNT(*) AS n, SUM(status = 'passed') AS passed FROM qc_inspections WHERE attempt = 1");
    assert_eq!(kpis["qc_first_pass"]["first_inspections"], int(&first, "n"));
    assert_eq!(kpis["qc_first_pass"]["passed"], int(&first, "passed"));

    // Quotes, from the quotes.
    let quotes = q("SELECT COUNT(*) AS n, SUM(status = 'approved') AS approved, SUM(status = 'declined') AS declined
        FROM quotes WHERE ticket_id IS NOT NULL");
    assert_eq!(kpis["quotes"]["issued"], int(&quotes, "n"));
    assert_eq!(kpis["quotes"]["approved"], int(&quotes, "approved"));
    assert_eq!(kpis["quotes"]["declined"], int(&quotes, "declined"));
    assert_eq!(kpis["quotes"]["approval_rate"], 0.6667);

    // Revenue, average ticket and margin, from the invoices and the stock ledger's costs.
    let paid = q(
        "SELECT SUM(amount_cents) AS cents, COUNT(DISTINCT ticket_id) AS tickets FROM invoices WHERE status = 'paid'",
    );
    assert_eq!(kpis["revenue"]["total_cents"], int(&paid, "cents"));
    assert_eq!(int(&paid, "cents"), laptop_paid + phone_paid);
    assert_eq!(kpis["revenue"]["average_ticket_value_cents"], int(&paid, "cents") / int(&paid, "tickets"));
    let cost =
        q("SELECT SUM(ABS(l.quantity) * p.cost_cents) AS cents FROM stock_ledger l JOIN parts p ON p.id = l.part_id
        WHERE l.kind = 'consume' AND l.ticket_id IN (SELECT ticket_id FROM invoices WHERE status = 'paid')");
    assert_eq!(int(&cost, "cents"), 8_200, "two hinges at 41.00 were used on the laptop");
    assert_eq!(kpis["revenue"]["parts_cost_cents"], 8_200);
    assert_eq!(kpis["revenue"]["margin_cents"], int(&paid, "cents") - 8_200);

    // The backlog and what is overdue, as the tickets stand.
    let backlog = q(
        "SELECT status, COUNT(*) AS n FROM tickets WHERE status NOT IN ('PICKED_UP', 'CLOSED', 'VOID') GROUP BY status",
    );
    for row in &backlog {
        let status = row["status"].as_str().expect("status");
        assert_eq!(kpis["backlog"][status], row["n"], "backlog of {status}");
    }
    assert_eq!(kpis["backlog"].as_object().map(|m| m.len()), Some(backlog.len()));
    assert_eq!(kpis["overdue"], 1, "the tablet was due in January");

    // Revenue by device type; the same rows as a CSV that opens.
    let by_type = authed(p, "GET", "/api/v1/analytics/revenue?period=month&group_by=device_type", &owner, None);
    assert_eq!(by_type.status, 200, "{}", by_type.text());
    let rows = by_type.json()["rows"].as_array().cloned().expect("rows");
    let of = |g: &str| rows.iter().find(|r| r["group"] == g).map(|r| r["revenue_cents"].as_i64().unwrap_or_default());
    assert_eq!((of("laptop"), of("phone"), of("tablet")), (Some(laptop_paid), Some(phone_paid), None));
    let by_tech = authed(p, "GET", "/api/v1/analytics/revenue?group_by=technician", &owner, None).json();
    assert!(by_tech["rows"].as_array().is_some_and(|r| r.iter().all(|x| x["group"] == tech_id.as_str())), "{by_tech}");
    let csv = authed(p, "GET", "/api/v1/analytics/revenue/csv?period=month&group_by=device_type", &owner, None);
    assert_eq!(csv.status, 200, "{}", csv.text());
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    assert!(csv.header("content-disposition").is_some_and(|d| d.contains("attachment")));
    let mut reader = csv::Reader::from_reader(csv.body.as_slice());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["month", "device_type", "revenue", "payments"]
    );
    let mut total = 0.0;
    for record in reader.records() {
        let record = record.expect("a CSV row");
        total += record[2].parse::<f64>().expect("an amount");
    }
    assert!((total * 100.0 - (laptop_paid + phone_paid) as f64).abs() < 0.5, "the CSV adds up: {total}");

    // The technician's work: two closed, one rework, one reply, the timer's time.
    let perf = authed(p, "GET", "/api/v1/analytics/technicians", &owner, None);
    assert_eq!(perf.status, 200, "{}", perf.text());
    let perf = perf.json();
    assert_eq!(perf["scope"], "workspace");
    let me = perf["technicians"].as_array().and_then(|t| t.iter().find(|r| r["id"] == tech_id.as_str())).cloned();
    let me = me.expect("the technician's row");
    let bench = q("SELECT SUM(stopped_at - started_at) AS s FROM ticket_timers");
    assert_eq!(
        (&me["tickets_closed"], &me["qc_passed"], &me["qc_failed"], &me["rework"], &me["messages_answered"]),
        (&json!(2), &json!(2), &json!(1), &json!(1), &json!(1)),
        "{me}"
    );
    assert_eq!(me["bench_seconds"], int(&bench, "s"));
    // A technician sees only their own row, and not the shop's money.
    let own = authed(p, "GET", "/api/v1/analytics/technicians", &tech, None).json();
    assert_eq!(own["scope"], "self");
    assert_eq!(own["technicians"].as_array().map(Vec::len), Some(1));
    assert_eq!(own["technicians"][0]["id"], tech_id.as_str());
    assert_eq!(authed(p, "GET", "/api/v1/analytics/kpis", &tech, None).status, 403);
    assert_eq!(authed(p, "GET", "/api/v1/analytics/technicians", &alice, None).status, 403);
    let tcsv = authed(p, "GET", "/api/v1/analytics/technicians/csv", &tech, None);
    assert_eq!(tcsv.status, 200, "{}", tcsv.text());
    assert_eq!(tcsv.text().lines().count(), 2, "header and their own row: {}", tcsv.text());

    // The forecast names its method and gives an interval around each point.
    let f = authed(p, "GET", "/api/v1/analytics/forecast?metric=tickets&history_days=28&horizon_days=7", &owner, None);
    assert_eq!(f.status, 200, "{}", f.text());
    let f = f.json();
    assert!(f["method"].as_str().is_some_and(|m| m.contains("day-of-week")), "{f}");
    assert_eq!(f["history"].as_array().map(Vec::len), Some(28));
    let opened_today: f64 =
        f["history"].as_array().into_iter().flatten().map(|h| h["value"].as_f64().unwrap_or(0.0)).sum();
    assert_eq!(opened_today, 3.0, "the three tickets opened are in the history");
    for point in f["forecast"].as_array().expect("forecast") {
        let (lo, v, hi) = (point["lower"].as_f64(), point["value"].as_f64(), point["upper"].as_f64());
        assert!(lo <= v && v <= hi, "{point}");
    }

    // Bad questions get a 4xx saying what to fix.
    let short = authed(p, "GET", "/api/v1/analytics/forecast?history_days=7", &owner, None);
    assert_eq!(short.status, 422, "{}", short.text());
    assert!(short.text().contains("at least 14 days"), "{}", short.text());
    let bad = authed(p, "GET", "/api/v1/analytics/revenue?group_by=customer", &owner, None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(bad.json()["error"]["field"], "group_by");
    let window = authed(p, "GET", "/api/v1/analytics/kpis?from=2026-12-10&to=2026-12-01", &owner, None);
    assert_eq!(window.status, 400, "{}", window.text());
    let empty = authed(p, "GET", "/api/v1/analytics/kpis?from=2020-01-01&to=2020-02-01", &owner, None).json();
    assert_eq!((empty["revenue"]["total_cents"].as_i64(), empty["quotes"]["approval_rate"].as_f64()), (Some(0), None));
    drop(stand_in);
    platform.stop();
}
