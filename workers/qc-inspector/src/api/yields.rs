//! `GET /api/v1/qc/yield`: first-pass yield — the share of repairs whose first inspection
//! passed — per technician (who did the repair) and per device type, for analytics.

use noizylab_core::auth::Scope;
use noizylab_core::names::display_name;
use noizylab_core::qc::first_pass_yield;
use noizylab_core::tickets::parse_due;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::opt;
use noizylab_kit::{http, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    /// Only inspections finished since this date or time.
    #[serde(default)]
    since: Option<String>,
}

#[derive(Deserialize)]
struct Group {
    key: Option<String>,
    name: Option<String>,
    email: Option<String>,
    inspected: i64,
    passed: i64,
}

fn figures(g: &Group) -> Value {
    json!({
        "inspected": g.inspected,
        "passed_first_time": g.passed,
        "first_pass_yield": first_pass_yield(g.inspected, g.passed),
    })
}

const FIRST: &str = "FROM qc_inspections i LEFT JOIN users u ON u.id = i.technician_id
    WHERE i.workspace_id = ?1 AND i.attempt = 1 AND i.status IN ('passed', 'failed')
      AND (?2 IS NULL OR i.completed_at >= ?2)";

/// `GET /api/v1/qc/yield?since=` (staff).
pub async fn first_pass(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: Query = http::query(req)?;
    let since = q
        .since
        .as_deref()
        .map(|s| {
            parse_due(s)
                .ok_or_else(|| ApiError::invalid_field("since", "since is a date (2026-12-01) or an RFC 3339 time"))
        })
        .transpose()?;
    let db = call.sql()?;
    let args = [who.workspace.as_str().into(), opt(since.as_deref())];
    let total: Option<Group> = db
        .first(
            &format!(
                "SELECT NULL AS key, NULL AS name, NULL AS email, COUNT(*) AS inspected,
                        COALESCE(SUM(i.status = 'passed'), 0) AS passed {FIRST}"
            ),
            &args,
        )
        .await?;
    let by_tech: Vec<Group> = db
        .all(
            &format!(
                "SELECT i.technician_id AS key, u.name, u.email, COUNT(*) AS inspected,
                        SUM(i.status = 'passed') AS passed {FIRST}
                 GROUP BY i.technician_id ORDER BY inspected DESC, key"
            ),
            &args,
        )
        .await?;
    let by_type: Vec<Group> = db
        .all(
            &format!(
                "SELECT i.device_type AS key, NULL AS name, NULL AS email, COUNT(*) AS inspected,
                        SUM(i.status = 'passed') AS passed {FIRST}
                 GROUP BY i.device_type ORDER BY inspected DESC, key"
            ),
            &args,
        )
        .await?;
    let overall = total
        .map(|g| figures(&g))
        .unwrap_or_else(|| json!({ "inspected": 0, "passed_first_time": 0, "first_pass_yield": null }));
    let technicians: Vec<Value> = by_tech
        .iter()
        .map(|g| {
            let mut v = figures(g);
            v["technician_id"] = g.key.clone().into();
            v["name"] = g.email.as_deref().map(|e| display_name(g.name.as_deref(), e)).into();
            v
        })
        .collect();
    let types: Vec<Value> = by_type
        .iter()
        .map(|g| {
            let mut v = figures(g);
            v["device_type"] = g.key.clone().into();
            v
        })
        .collect();
    http::ok(&json!({ "since": since, "overall": overall, "by_technician": technicians, "by_device_type": types }))
}
