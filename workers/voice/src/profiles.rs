//! `/api/v1/voice/profiles…`: a workspace's voices (listed for staff with `ai:voice`,
//! managed by admins): the provider's voice, model, settings, language and format; one of
//! them the default.

use noizylab_core::auth::Scope;
use noizylab_core::names::is_plain_id;
use noizylab_core::voice::{Profile, Settings};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{Request, Response};

#[derive(Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub voice_id: String,
    pub model_id: String,
    pub settings: String,
    pub language: Option<String>,
    pub output_format: String,
    pub is_default: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str =
    "id, name, voice_id, model_id, settings, language, output_format, is_default, created_by, created_at, updated_at";

impl Row {
    pub fn profile(&self) -> Profile {
        Profile {
            name: self.name.clone(),
            voice_id: self.voice_id.clone(),
            model_id: self.model_id.clone(),
            settings: serde_json::from_str::<Settings>(&self.settings).unwrap_or_default(),
            language: self.language.clone(),
            output_format: self.output_format.clone(),
            is_default: self.is_default == 1,
        }
    }

    fn view(&self) -> Value {
        let mut v = serde_json::to_value(self.profile()).unwrap_or_default();
        for (k, x) in [
            ("id", &self.id),
            ("created_by", &self.created_by),
            ("created_at", &self.created_at),
            ("updated_at", &self.updated_at),
        ] {
            v[k] = x.as_str().into();
        }
        v
    }
}

/// The profile `id` of `workspace`, or with `None` its default (if it has one).
pub async fn find(call: &Call, workspace: &str, id: Option<&str>) -> ApiResult<Option<Row>> {
    match id {
        Some(id) if !is_plain_id(id) => Ok(None),
        Some(id) => {
            call.sql()?
                .first(
                    &format!("SELECT {COLUMNS} FROM voice_profiles WHERE id = ?1 AND workspace_id = ?2"),
                    &[id.into(), workspace.into()],
                )
                .await
        }
        None => {
            call.sql()?
                .first(
                    &format!("SELECT {COLUMNS} FROM voice_profiles WHERE workspace_id = ?1 AND is_default = 1"),
                    &[workspace.into()],
                )
                .await
        }
    }
}

async fn checked(req: &mut Request) -> ApiResult<Profile> {
    let p: Profile = http::read_json(req).await?;
    p.checked().map_err(|e| ApiError::invalid_field(&e.field, e.message))
}

/// Saves `p` as profile `id` (new or replaced) in one batch: a new default unsets the old.
async fn save(call: &Call, who: &Caller, id: &str, p: &Profile, new: bool) -> ApiResult<()> {
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let settings = serde_json::to_string(&p.settings).or_internal("settings")?;
    let mut statements = Vec::new();
    if p.is_default {
        statements.push(db.statement(
            "UPDATE voice_profiles SET is_default = 0 WHERE workspace_id = ?1 AND id != ?2 AND is_default = 1",
            &[who.workspace.as_str().into(), id.into()],
        )?);
    }
    let args = [
        id.into(),
        who.workspace.as_str().into(),
        p.name.as_str().into(),
        p.voice_id.as_str().into(),
        p.model_id.as_str().into(),
        settings.into(),
        opt(p.language.as_deref()),
        p.output_format.as_str().into(),
        int(i64::from(p.is_default)),
        who.id.as_str().into(),
        now.into(),
    ];
    statements.push(db.statement(
        if new {
            "INSERT INTO voice_profiles (id, workspace_id, name, voice_id, model_id, settings, language, output_format,
                 is_default, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)"
        } else {
            "UPDATE voice_profiles SET name = ?3, voice_id = ?4, model_id = ?5, settings = ?6, language = ?7,
                 output_format = ?8, is_default = ?9, updated_at = ?11
             WHERE id = ?1 AND workspace_id = ?2 AND ?10 IS NOT NULL"
        },
        &args,
    )?);
    db.batch(statements).await
}

/// 409 if another profile of the workspace has this name.
async fn name_free(call: &Call, workspace: &str, id: &str, name: &str) -> ApiResult<()> {
    let taken: Option<Value> = call
        .sql()?
        .first(
            "SELECT id FROM voice_profiles WHERE workspace_id = ?1 AND name = ?2 AND id != ?3",
            &[workspace.into(), name.into(), id.into()],
        )
        .await?;
    match taken {
        Some(_) => Err(ApiError::Conflict(format!("the workspace has a voice profile called {name}"))),
        None => Ok(()),
    }
}

/// `POST /api/v1/voice/profiles` (admin): 201 with the profile.
pub async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let p = checked(&mut req).await?;
    let id = format!("vp_{}", random::id()?);
    name_free(call, &who.workspace, &id, &p.name).await?;
    save(call, &who, &id, &p, true).await?;
    let row = find(call, &who.workspace, Some(&id)).await?.ok_or_else(|| ApiError::internal("profile lost"))?;
    http::created(&row.view())
}

/// `GET /api/v1/voice/profiles` (staff with `ai:voice`): the profiles, the default first,
/// and whether speech is configured at all.
pub async fn list(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVoice).await?;
    let rows: Vec<Row> = call
        .sql()?
        .all(
            &format!("SELECT {COLUMNS} FROM voice_profiles WHERE workspace_id = ?1 ORDER BY is_default DESC, name"),
            &[who.workspace.as_str().into()],
        )
        .await?;
    let configured = crate::eleven::Provider::from_env(&call.env).is_ok();
    http::ok(&json!({ "configured": configured, "profiles": rows.iter().map(Row::view).collect::<Vec<_>>() }))
}

/// `PUT /api/v1/voice/profiles/:id` (admin): the whole profile, replaced.
pub async fn replace(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    find(call, &who.workspace, Some(id)).await?.ok_or_else(|| ApiError::not_found(format!("voice profile {id}")))?;
    let p = checked(&mut req).await?;
    name_free(call, &who.workspace, id, &p.name).await?;
    save(call, &who, id, &p, false).await?;
    let row = find(call, &who.workspace, Some(id)).await?.ok_or_else(|| ApiError::internal("profile lost"))?;
    http::ok(&row.view())
}

/// `DELETE /api/v1/voice/profiles/:id` (admin): 204. Cached audio stays until it is old.
pub async fn remove(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let row = find(call, &who.workspace, Some(id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("voice profile {id}")))?;
    call.sql()?.run("DELETE FROM voice_profiles WHERE id = ?1", &[row.id.as_str().into()]).await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
