//! `/api/v1/training/me`, `/modules` and `/leaderboard`: where people stand.

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::json;
use worker::{Request, Response};

use crate::domain::level_of;
use crate::progress::{self, passed};
use crate::store;

#[derive(Deserialize)]
struct Earned {
    xp: i64,
    reason: String,
    source: String,
    at: String,
}

/// `GET /api/v1/training/me` (staff, a person): level, recent XP, certificates.
pub async fn me(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    who.person(call).await?;
    let level = progress::level(call, &who).await?;
    let recent: Vec<Earned> =
        call.sql()?.all(store::XP_RECENT, &[who.workspace.as_str().into(), who.id.as_str().into()]).await?;
    let now = time::now_rfc3339();
    let certificates: Vec<_> = progress::certifications(call, &who)
        .await?
        .into_iter()
        .filter_map(|c| {
            let (earned, expires) = (c.earned_at?, c.expires_at?);
            let valid = expires.as_str() > now.as_str();
            Some(json!({ "certification_id": c.id, "name": c.name, "earned_at": earned, "expires_at": expires, "valid": valid }))
        })
        .collect();
    http::ok(&json!({
        "user_id": who.id,
        "level": level,
        "recent_xp": recent.iter().map(|e| json!({ "xp": e.xp, "reason": e.reason, "source": e.source, "at": e.at })).collect::<Vec<_>>(),
        "certificates": certificates,
    }))
}

/// `GET /api/v1/training/modules` (staff): each module, its simulations and the caller's
/// progress in it.
pub async fn modules(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let list = progress::modules(call, &who).await?;
    http::ok(&json!({ "modules": list.iter().map(|m| json!({
        "module": m.module, "simulations": m.simulations, "answered": m.answered,
        "mean_score": m.mean_score.map(|s| (s * 10.0).round() / 10.0),
        "complete": m.simulations > 0 && m.answered == m.simulations,
    })).collect::<Vec<_>>() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardQuery {
    #[serde(default)]
    period: Option<String>,
}

#[derive(Deserialize)]
struct Standing {
    id: String,
    name: Option<String>,
    email: String,
    xp: i64,
    total_xp: i64,
}

/// `GET /api/v1/training/leaderboard[?period=week|month|all]` (staff): XP earned in the
/// period, most first; each with their level from all their XP.
pub async fn leaderboard(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: BoardQuery = http::query(req)?;
    let period = q.period.unwrap_or_else(|| "week".to_owned());
    let days = match period.as_str() {
        "week" => Some(7),
        "month" => Some(30),
        "all" => None,
        other => return Err(ApiError::invalid_field("period", format!("period is week, month or all, not {other:?}"))),
    };
    let since = match days {
        Some(d) => progress::expiry(&time::now_rfc3339(), -d)?,
        None => String::new(),
    };
    let rows: Vec<Standing> =
        call.sql()?.all(store::LEADERBOARD, &[who.workspace.as_str().into(), since.as_str().into()]).await?;
    let board: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({ "rank": i + 1, "user_id": s.id, "name": s.name.clone().unwrap_or_else(|| s.email.clone()),
                    "xp": s.xp, "level": level_of(s.total_xp).level })
        })
        .collect();
    http::ok(&json!({ "period": period, "since": if since.is_empty() { None } else { Some(since) }, "leaders": board }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCertification {
    name: String,
    modules: Vec<String>,
    min_score: i64,
    valid_days: i64,
}

/// `POST /api/v1/training/certifications` (managers).
pub async fn create_certification(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let c: NewCertification = http::read_json(&mut req).await?;
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(ApiError::invalid_field("name", "name is 1 to 120 characters"));
    }
    if c.modules.is_empty() || c.modules.len() > 20 || c.modules.iter().any(|m| m.trim().is_empty()) {
        return Err(ApiError::invalid_field("modules", "modules names 1 to 20 modules (GET /api/v1/training/modules)"));
    }
    if !(0..=100).contains(&c.min_score) {
        return Err(ApiError::invalid_field("min_score", "min_score is 0 to 100"));
    }
    if !(1..=3650).contains(&c.valid_days) {
        return Err(ApiError::invalid_field("valid_days", "valid_days is 1 to 3650"));
    }
    let id = format!("cert_{}", noizylab_kit::random::id()?);
    let now = time::now_rfc3339();
    let made = call
        .sql()?
        .run(
            store::CERTIFICATION_INSERT,
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                name.into(),
                json!(c.modules).to_string().into(),
                noizylab_kit::db::int(c.min_score),
                noizylab_kit::db::int(c.valid_days),
                who.id.as_str().into(),
                now.as_str().into(),
            ],
        )
        .await?;
    if made == 0 {
        return Err(ApiError::Conflict(format!("a certification named {name:?} exists")));
    }
    http::created(&json!({
        "id": id, "name": name, "modules": c.modules, "min_score": c.min_score, "valid_days": c.valid_days,
        "created_at": now, "held": Option::<serde_json::Value>::None,
    }))
}

/// `GET /api/v1/training/certifications` (staff): each with what it asks and whether the
/// caller holds it, and the modules' state for them.
pub async fn certifications(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let progress = progress::modules(call, &who).await?;
    let now = time::now_rfc3339();
    let list: Vec<_> = progress::certifications(call, &who)
        .await?
        .into_iter()
        .map(|c| {
            let modules = c.module_names();
            let passed_modules: Vec<&String> =
                modules.iter().filter(|n| progress.iter().any(|m| &&m.module == n && passed(m, c.min_score))).collect();
            let held = match (&c.earned_at, &c.expires_at) {
                (Some(e), Some(x)) => json!({ "earned_at": e, "expires_at": x, "valid": x.as_str() > now.as_str() }),
                _ => serde_json::Value::Null,
            };
            json!({ "id": c.id, "name": c.name, "modules": modules, "min_score": c.min_score,
                    "valid_days": c.valid_days, "created_at": c.created_at, "passed_modules": passed_modules, "held": held })
        })
        .collect();
    http::ok(&json!({ "certifications": list }))
}
