//! `GET /api/v1/analytics/revenue[/csv]` and `/forecast` (managers: `admin`): payments by
//! period and by device type, service or technician; the trend forecast.

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use crate::domain::{civil, date_of, forecast, Grouping, Period, Window, FORECAST_METHOD};
use crate::params::{csv_response, window};
use crate::store;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevenueQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    group_by: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Line {
    period: String,
    #[serde(rename(serialize = "group"))]
    grp: String,
    #[serde(rename(serialize = "revenue_cents"))]
    cents: i64,
    payments: i64,
}

async fn lines(req: &Request, call: &Call) -> ApiResult<(Window, Period, Grouping, Vec<Line>)> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let q: RevenueQuery = http::query(req)?;
    let w = window(q.from.as_deref(), q.to.as_deref())?;
    let period = Period::parse(q.period.as_deref()).map_err(|m| ApiError::invalid_field("period", m))?;
    let grouping = Grouping::parse(q.group_by.as_deref()).map_err(|m| ApiError::invalid_field("group_by", m))?;
    let rows: Vec<Line> = call
        .sql()?
        .all(
            &store::revenue(grouping.column()),
            &[who.workspace.as_str().into(), w.from.as_str().into(), w.to.as_str().into(), period.format().into()],
        )
        .await?;
    Ok((w, period, grouping, rows))
}

fn names(period: Period, grouping: Grouping) -> (&'static str, &'static str) {
    let p = match period {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    };
    let g = match grouping {
        Grouping::None => "none",
        Grouping::DeviceType => "device_type",
        Grouping::Service => "service",
        Grouping::Technician => "technician",
    };
    (p, g)
}

/// `GET /api/v1/analytics/revenue[?from=&to=&period=day|week|month&group_by=…]`.
pub async fn show(req: &Request, call: &Call) -> ApiResult<Response> {
    let (w, period, grouping, rows) = lines(req, call).await?;
    let total: i64 = rows.iter().map(|r| r.cents).sum();
    let payments: i64 = rows.iter().map(|r| r.payments).sum();
    let (p, g) = names(period, grouping);
    http::ok(&json!({
        "window": { "from": w.from, "to": w.to },
        "period": p,
        "group_by": g,
        "total_cents": total,
        "payments": payments,
        "rows": rows,
    }))
}

/// `GET /api/v1/analytics/revenue/csv[?…]`: the same rows as CSV.
pub async fn export(req: &Request, call: &Call) -> ApiResult<Response> {
    let (w, period, grouping, rows) = lines(req, call).await?;
    let (p, g) = names(period, grouping);
    let body: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![r.period, r.grp, format!("{}.{:02}", r.cents / 100, (r.cents % 100).abs()), r.payments.to_string()]
        })
        .collect();
    let name = format!("revenue-by-{p}-{g}-{}-{}.csv", &w.from[..10], w.to.get(..10).unwrap_or("end"));
    csv_response(&[p, g, "revenue", "payments"], &body, &name)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForecastQuery {
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    history_days: Option<String>,
    #[serde(default)]
    horizon_days: Option<String>,
}

#[derive(Deserialize)]
struct Daily {
    day: String,
    total: f64,
}

fn days(v: Option<&str>, name: &str, default: i64, max: i64) -> ApiResult<i64> {
    match v {
        None => Ok(default),
        Some(s) => {
            s.parse::<i64>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                ApiError::invalid_field(name, format!("{name} is a whole number of days from 1 to {max}"))
            })
        }
    }
}

/// `GET /api/v1/analytics/forecast[?metric=revenue|tickets&history_days=56&horizon_days=14]`:
/// the daily history (today included) and the forecast after it, with the method named.
pub async fn forecast_of(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let q: ForecastQuery = http::query(req)?;
    let (metric, kind) = match q.metric.as_deref().unwrap_or("revenue") {
        "revenue" => ("revenue", "payment"),
        "tickets" => ("tickets", "opened"),
        other => {
            return Err(ApiError::invalid_field("metric", format!("metric is revenue or tickets, not {other:?}")));
        }
    };
    let history = days(q.history_days.as_deref(), "history_days", 56, 730)?;
    let horizon = days(q.horizon_days.as_deref(), "horizon_days", 14, 90)?;
    let now = time::now_rfc3339();
    let today =
        civil(now.get(..10).unwrap_or_default()).ok_or_else(|| ApiError::internal("the clock is not a date"))?;
    let first = today - history + 1;
    let (from, to) = (date_of(first), date_of(today + 1));
    let rows: Vec<Daily> = call
        .sql()?
        .all(store::DAILY, &[who.workspace.as_str().into(), from.as_str().into(), to.as_str().into(), kind.into()])
        .await?;
    let mut series = vec![0.0; history as usize];
    for r in rows {
        if let Some(i) = civil(&r.day).map(|d| d - first).filter(|i| (0..history).contains(i)) {
            series[i as usize] = r.total;
        }
    }
    let points = forecast(&series, first, horizon as usize).map_err(ApiError::Unprocessable)?;
    let history_out: Vec<_> =
        series.iter().enumerate().map(|(i, v)| json!({ "date": date_of(first + i as i64), "value": v })).collect();
    http::ok(&json!({
        "metric": metric,
        "unit": if metric == "revenue" { "cents" } else { "tickets" },
        "method": FORECAST_METHOD,
        "interval": 0.95,
        "history": history_out,
        "forecast": points,
    }))
}
