//! Where a person stands, shared by the handlers: their level from the XP ledger, and the
//! certifications their first answers have now earned.

use noizylab_kit::caller::Caller;
use noizylab_kit::{time, ApiError, ApiResult, Call};
use serde::Deserialize;

use crate::domain::{level_of, Level};
use crate::store;

#[derive(Deserialize)]
struct Total {
    xp: i64,
}

/// The person's level from all the XP they have earned in the workspace.
pub async fn level(call: &Call, who: &Caller) -> ApiResult<Level> {
    let total: Option<Total> =
        call.sql()?.first(store::XP_TOTAL, &[who.workspace.as_str().into(), who.id.as_str().into()]).await?;
    Ok(level_of(total.map_or(0, |t| t.xp)))
}

#[derive(Deserialize)]
pub struct Module {
    pub module: String,
    pub simulations: i64,
    pub answered: i64,
    pub mean_score: Option<f64>,
}

/// Each module with the person's progress in it.
pub async fn modules(call: &Call, who: &Caller) -> ApiResult<Vec<Module>> {
    call.sql()?.all(store::MODULES, &[who.workspace.as_str().into(), who.id.as_str().into()]).await
}

/// Passed: every simulation answered, the mean first score at least `min`.
pub fn passed(m: &Module, min: i64) -> bool {
    m.simulations > 0 && m.answered == m.simulations && m.mean_score.unwrap_or(0.0) >= min as f64
}

#[derive(Deserialize)]
pub struct Certification {
    pub id: String,
    pub name: String,
    pub modules: String,
    pub min_score: i64,
    pub valid_days: i64,
    pub created_at: String,
    pub earned_at: Option<String>,
    pub expires_at: Option<String>,
}

impl Certification {
    pub fn module_names(&self) -> Vec<String> {
        serde_json::from_str(&self.modules).unwrap_or_default()
    }
}

pub async fn certifications(call: &Call, who: &Caller) -> ApiResult<Vec<Certification>> {
    call.sql()?.all(store::CERTIFICATIONS, &[who.workspace.as_str().into(), who.id.as_str().into()]).await
}

/// Awards every certification the person now meets and does not hold unexpired: the names
/// of those earned now.
pub async fn certify(call: &Call, who: &Caller) -> ApiResult<Vec<String>> {
    let now = time::now_rfc3339();
    let held = |c: &Certification| c.expires_at.as_deref().is_some_and(|e| e > now.as_str());
    let all = certifications(call, who).await?;
    if all.iter().all(held) {
        return Ok(Vec::new());
    }
    let progress = modules(call, who).await?;
    let db = call.sql()?;
    let mut earned = Vec::new();
    for c in all.iter().filter(|c| !held(c)) {
        let names = c.module_names();
        let met = !names.is_empty()
            && names.iter().all(|n| progress.iter().any(|m| &m.module == n && passed(m, c.min_score)));
        if !met {
            continue;
        }
        let expires = expiry(&now, c.valid_days)?;
        let changed = db
            .run(
                store::CERTIFICATE_AWARD,
                &[
                    who.workspace.as_str().into(),
                    who.id.as_str().into(),
                    c.id.as_str().into(),
                    now.as_str().into(),
                    expires.as_str().into(),
                ],
            )
            .await?;
        if changed > 0 {
            earned.push(c.name.clone());
        }
    }
    Ok(earned)
}

/// `now` plus `days` (negative: back), as RFC 3339.
pub fn expiry(now: &str, days: i64) -> ApiResult<String> {
    noizylab_core::time::add_days(now, days)
        .ok_or_else(|| ApiError::internal(format!("{now} moved by {days} days is not a date")))
}
