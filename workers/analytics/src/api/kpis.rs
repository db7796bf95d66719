//! `GET /api/v1/analytics/kpis`: the shop's numbers over a window (managers: `admin`).

use std::collections::BTreeMap;

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, time, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::domain::rate;
use crate::params::{window, WindowQuery};
use crate::store;

#[derive(Deserialize)]
struct Count {
    kind: String,
    n: i64,
    tickets: i64,
    amount: i64,
}

#[derive(Deserialize)]
struct Hours {
    hours: Option<f64>,
}

#[derive(Deserialize)]
struct Stage {
    stage: Option<String>,
    n: i64,
    hours: Option<f64>,
}

#[derive(Deserialize)]
struct Ftf {
    completed: i64,
    fixed: i64,
}

#[derive(Deserialize)]
struct FirstPass {
    attempts: i64,
    passed: i64,
}

#[derive(Deserialize)]
struct Cents {
    cents: i64,
}

#[derive(Deserialize)]
struct Band {
    band: String,
    n: i64,
    average: Option<f64>,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    n: i64,
}

#[derive(Deserialize)]
struct N {
    n: i64,
}

#[derive(Deserialize)]
struct Last {
    at: Option<String>,
    n: i64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `GET /api/v1/analytics/kpis[?from=&to=]`.
pub async fn show(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let q: WindowQuery = http::query(req)?;
    let w = window(q.from.as_deref(), q.to.as_deref())?;
    let db = call.sql()?;
    let args = [who.workspace.as_str().into(), w.from.as_str().into(), w.to.as_str().into()];
    let counts: Vec<Count> = db.all(store::COUNTS, &args).await?;
    let of = |kind: &str| counts.iter().find(|c| c.kind == kind);
    let n = |kind: &str| of(kind).map_or(0, |c| c.n);
    let turnaround: Option<Hours> = db.first(store::TURNAROUND, &args).await?;
    let stages: Vec<Stage> = db.all(store::STAGES, &args).await?;
    let ftf: Option<Ftf> = db.first(store::FIRST_TIME_FIX, &args).await?;
    let first: Option<FirstPass> = db.first(store::FIRST_PASS, &args).await?;
    let parts: Option<Cents> = db.first(store::PARTS_COST_OF_PAID, &args).await?;
    let bands: Vec<Band> = db.all(store::SCANS, &args).await?;
    let backlog: Vec<Status> = db.all(store::BACKLOG, &[who.workspace.as_str().into()]).await?;
    let now = time::now_rfc3339();
    let overdue: Option<N> = db.first(store::OVERDUE, &[who.workspace.as_str().into(), now.as_str().into()]).await?;
    let last: Option<Last> = db.first(store::LAST_EVENT, &[who.workspace.as_str().into()]).await?;

    let revenue = of("payment").map_or(0, |c| c.amount);
    let paid_tickets = of("payment").map_or(0, |c| c.tickets);
    let parts_cost = parts.map_or(0, |p| p.cents);
    let (approved, declined) = (n("quote_approved"), n("quote_declined"));
    let (ftf_completed, ftf_fixed) = ftf.map_or((0, 0), |f| (f.completed, f.fixed));
    let (first_attempts, first_passed) = first.map_or((0, 0), |f| (f.attempts, f.passed));
    let scans: i64 = bands.iter().map(|b| b.n).sum();
    let scored: Vec<&Band> = bands.iter().filter(|b| b.band != "unscored").collect();
    let scored_n: i64 = scored.iter().map(|b| b.n).sum();
    let health_sum: f64 = scored.iter().map(|b| b.average.unwrap_or(0.0) * b.n as f64).sum();
    let bands_out: Vec<_> = ["0-49", "50-69", "70-89", "90-100", "unscored"]
        .iter()
        .map(|band| json!({ "band": band, "count": bands.iter().find(|b| b.band == *band).map_or(0, |b| b.n) }))
        .collect();
    let backlog_map: BTreeMap<String, i64> = backlog.into_iter().map(|s| (s.status, s.n)).collect();
    let (last_at, facts) = last.map_or((None, 0), |l| (l.at, l.n));
    http::ok(&json!({
        "window": { "from": w.from, "to": w.to },
        "tickets": {
            "opened": n("opened"),
            "completed": of("completed").map_or(0, |c| c.tickets),
            "turnaround_hours": turnaround.and_then(|t| t.hours).map(round2),
        },
        "stages": stages.iter().map(|s| json!({
            "stage": s.stage, "count": s.n, "average_hours": s.hours.map(round2),
        })).collect::<Vec<_>>(),
        "first_time_fix": { "completed": ftf_completed, "fixed_first_time": ftf_fixed, "rate": rate(ftf_fixed, ftf_completed) },
        "qc_first_pass": { "first_inspections": first_attempts, "passed": first_passed, "yield": rate(first_passed, first_attempts) },
        "quotes": {
            "issued": n("quote_issued"), "approved": approved, "declined": declined,
            "approval_rate": rate(approved, approved + declined),
        },
        "revenue": {
            "total_cents": revenue,
            "payments": n("payment"),
            "paid_tickets": paid_tickets,
            "average_ticket_value_cents": (paid_tickets > 0).then(|| revenue / paid_tickets),
            "parts_cost_cents": parts_cost,
            "margin_cents": revenue - parts_cost,
            "margin_rate": rate(revenue - parts_cost, revenue),
        },
        "backlog": backlog_map,
        "overdue": overdue.map_or(0, |o| o.n),
        "scans": {
            "count": scans,
            "average_health": (scored_n > 0).then(|| round2(health_sum / scored_n as f64)),
            "distribution": bands_out,
        },
        "facts": facts,
        "last_event_at": last_at,
    }))
}
