//! `GET /api/v1/analytics/technicians[/csv]`: each technician's work over a window.
//! Managers (`admin`) see every member of staff; a technician sees their own row only.

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::domain::{civil, rate, Window};
use crate::params::{csv_response, window, WindowQuery};
use crate::store;

#[derive(Deserialize)]
struct Member {
    id: String,
    name: Option<String>,
    email: String,
    role: String,
}

#[derive(Deserialize)]
struct Work {
    id: String,
    tickets_closed: i64,
    qc_passed: i64,
    qc_failed: i64,
    messages_answered: i64,
}

#[derive(Deserialize)]
struct Bench {
    id: String,
    seconds: i64,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: Option<String>,
    email: String,
    role: String,
    tickets_closed: i64,
    bench_seconds: i64,
    qc_passed: i64,
    qc_failed: i64,
    qc_pass_rate: Option<f64>,
    rework: i64,
    messages_answered: i64,
}

/// Unix seconds of a window bound (a date is its midnight UTC).
fn unix(bound: &str) -> ApiResult<i64> {
    let day =
        civil(bound.get(..10).unwrap_or_default()).ok_or_else(|| ApiError::invalid_field("from", "not a date"))?;
    let mut secs = day * 86_400;
    if let Some(clock) = bound.get(11..19) {
        let parts: Vec<i64> = clock.split(':').filter_map(|p| p.parse().ok()).collect();
        if let [h, m, s] = parts.as_slice() {
            secs += h * 3600 + m * 60 + s;
        }
    }
    Ok(secs)
}

async fn rows(call: &Call, who: &Caller, w: &Window) -> ApiResult<Vec<Row>> {
    let db = call.sql()?;
    let ws = who.workspace.as_str();
    let mut staff: Vec<Member> = db.all(store::STAFF, &[ws.into()]).await?;
    if !who.has(Scope::Admin) {
        staff.retain(|m| m.id == who.id);
    }
    let args = [ws.into(), w.from.as_str().into(), w.to.as_str().into()];
    let work: Vec<Work> = db.all(store::PERFORMANCE, &args).await?;
    let now = (time::now_millis() / 1000) as i64;
    let bench: Vec<Bench> = db
        .all(
            store::BENCH,
            &[ws.into(), (unix(&w.from)? as f64).into(), (unix(&w.to)? as f64).into(), (now as f64).into()],
        )
        .await?;
    Ok(staff
        .into_iter()
        .map(|m| {
            let done = work.iter().find(|x| x.id == m.id);
            let get = |f: fn(&Work) -> i64| done.map_or(0, f);
            let (passed, failed) = (get(|x| x.qc_passed), get(|x| x.qc_failed));
            Row {
                bench_seconds: bench.iter().find(|b| b.id == m.id).map_or(0, |b| b.seconds),
                tickets_closed: get(|x| x.tickets_closed),
                qc_passed: passed,
                qc_failed: failed,
                qc_pass_rate: rate(passed, passed + failed),
                rework: failed,
                messages_answered: get(|x| x.messages_answered),
                id: m.id,
                name: m.name,
                email: m.email,
                role: m.role,
            }
        })
        .collect())
}

/// `GET /api/v1/analytics/technicians[?from=&to=]`.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: WindowQuery = http::query(req)?;
    let w = window(q.from.as_deref(), q.to.as_deref())?;
    let technicians = rows(call, &who, &w).await?;
    http::ok(&serde_json::json!({
        "window": { "from": w.from, "to": w.to },
        "scope": if who.has(Scope::Admin) { "workspace" } else { "self" },
        "technicians": technicians,
    }))
}

/// `GET /api/v1/analytics/technicians/csv[?from=&to=]`: the same rows as CSV.
pub async fn export(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: WindowQuery = http::query(req)?;
    let w = window(q.from.as_deref(), q.to.as_deref())?;
    let lines: Vec<Vec<String>> = rows(call, &who, &w)
        .await?
        .into_iter()
        .map(|r| {
            vec![
                r.id,
                r.name.unwrap_or_default(),
                r.email,
                r.role,
                r.tickets_closed.to_string(),
                r.bench_seconds.to_string(),
                r.qc_passed.to_string(),
                r.qc_failed.to_string(),
                r.qc_pass_rate.map(|x| x.to_string()).unwrap_or_default(),
                r.messages_answered.to_string(),
            ]
        })
        .collect();
    let header = [
        "technician_id",
        "name",
        "email",
        "role",
        "tickets_closed",
        "bench_seconds",
        "qc_passed",
        "qc_failed",
        "qc_pass_rate",
        "messages_answered",
    ];
    csv_response(&header, &lines, &format!("technicians-{}-{}.csv", &w.from[..10], &w.to[..10.min(w.to.len())]))
}
