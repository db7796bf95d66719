//! `/api/v1/users/profile` and `/api/v1/users/preferences` (seed 000), for the signed-in
//! user. Preferences live in D1 and are cached in KV under `user:prefs:{id}` (persistent,
//! as the seed says), written through on every change.

use noizylab_kit::{http, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Method, Request, Response};

use noizylab_kit::caller::Caller;

const MAX_NAME_CHARS: usize = 100;

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    match (req.method(), rest) {
        (Method::Get, ["profile"]) => profile(call).await,
        (Method::Put, ["profile"]) => update_profile(req, call).await,
        (Method::Get, ["preferences"]) => preferences(call).await,
        (Method::Put, ["preferences"]) => update_preferences(req, call).await,
        (_, ["profile" | "preferences"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "PUT"] }),
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Serialize, Deserialize)]
struct Profile {
    id: String,
    email: String,
    name: Option<String>,
    phone: Option<String>,
    created_at: String,
    last_login_at: Option<String>,
}

async fn read_profile(call: &Call, user: &str) -> ApiResult<Profile> {
    call.sql()?
        .first("SELECT id, email, name, phone, created_at, last_login_at FROM users WHERE id = ?1", &[user.into()])
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

async fn profile(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let user = who.id.as_str();
    http::ok(&read_profile(call, user).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileUpdate {
    name: String,
    /// E.164, for SMS; `""` removes it.
    #[serde(default)]
    phone: Option<String>,
}

/// An E.164 number: `+` and 8 to 15 digits (spaces and dashes are dropped).
fn e164(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')')).collect();
    let digits = compact.strip_prefix('+')?;
    (digits.len() >= 8 && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'))
        .then_some(compact)
}

async fn update_profile(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let user = who.id.as_str();
    let body: ProfileUpdate = http::read_json(&mut req).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", "a name is 1 to 100 printable characters"));
    }
    if noizylab_core::names::is_reserved_name(name) {
        return Err(ApiError::invalid_field("name", "that name is the shop's own; choose your name"));
    }
    let phone = match body.phone.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(raw) => Some(Some(e164(raw).ok_or_else(|| {
            ApiError::invalid_field("phone", "a phone number in international form, e.g. +15145550123")
        })?)),
    };
    call.sql()?
        .run(
            "UPDATE users SET name = ?2, phone = CASE WHEN ?3 = 1 THEN ?4 ELSE phone END WHERE id = ?1",
            &[
                user.into(),
                name.into(),
                noizylab_kit::db::int(i64::from(phone.is_some())),
                noizylab_kit::db::opt(phone.flatten().as_deref()),
            ],
        )
        .await?;
    http::ok(&read_profile(call, user).await?)
}

#[derive(Clone, Serialize, Deserialize)]
struct Channels {
    email: bool,
    sms: bool,
    push: bool,
    /// Notices in the portal (the person's inbox room); on unless turned off.
    #[serde(default = "on")]
    in_app: bool,
}

fn on() -> bool {
    true
}

#[derive(Clone, Serialize, Deserialize)]
struct Preferences {
    voice_mode: bool,
    notifications: Channels,
    timezone: String,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            voice_mode: false,
            notifications: Channels { email: true, sms: false, push: false, in_app: true },
            timezone: "UTC".into(),
        }
    }
}

/// An IANA zone name's shape (`UTC`, `America/Toronto`, `America/Argentina/Buenos_Aires`).
fn plausible_timezone(tz: &str) -> bool {
    let parts: Vec<&str> = tz.split('/').collect();
    tz.len() <= 64
        && (1..=3).contains(&parts.len())
        && parts.iter().all(|p| {
            p.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        })
}

fn cache_key(user: &str) -> String {
    format!("user:prefs:{user}")
}

#[derive(Deserialize)]
struct PrefsRow {
    preferences: String,
}

async fn load_preferences(call: &Call, user: &str) -> ApiResult<Preferences> {
    let kv = call.cache()?;
    if let Some(cached) = kv.get(&cache_key(user)).text().await.or_internal("kv get")? {
        if let Ok(p) = serde_json::from_str(&cached) {
            return Ok(p);
        }
    }
    let row: Option<PrefsRow> =
        call.sql()?.first("SELECT preferences FROM users WHERE id = ?1", &[user.into()]).await?;
    let prefs: Preferences = row.and_then(|r| serde_json::from_str(&r.preferences).ok()).unwrap_or_default();
    let text = serde_json::to_string(&prefs).or_internal("prefs json")?;
    kv.put(&cache_key(user), text).or_internal("kv put")?.execute().await.or_internal("kv put")?;
    Ok(prefs)
}

async fn preferences(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let user = who.id.as_str();
    http::ok(&load_preferences(call, user).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesUpdate {
    voice_mode: Option<bool>,
    notifications: Option<ChannelsUpdate>,
    timezone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelsUpdate {
    email: Option<bool>,
    sms: Option<bool>,
    push: Option<bool>,
    in_app: Option<bool>,
}

/// `PUT /api/v1/users/preferences`: a partial update; fields left out keep their value.
async fn update_preferences(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let user = who.id.as_str();
    let body: PreferencesUpdate = http::read_json(&mut req).await?;
    let mut prefs = load_preferences(call, user).await?;
    if let Some(tz) = body.timezone {
        if !plausible_timezone(&tz) {
            return Err(ApiError::invalid_field("timezone", "use an IANA zone name such as UTC or America/Toronto"));
        }
        prefs.timezone = tz;
    }
    if let Some(v) = body.voice_mode {
        prefs.voice_mode = v;
    }
    if let Some(n) = body.notifications {
        prefs.notifications.email = n.email.unwrap_or(prefs.notifications.email);
        prefs.notifications.sms = n.sms.unwrap_or(prefs.notifications.sms);
        prefs.notifications.push = n.push.unwrap_or(prefs.notifications.push);
        prefs.notifications.in_app = n.in_app.unwrap_or(prefs.notifications.in_app);
    }
    let text = serde_json::to_string(&prefs).or_internal("prefs json")?;
    call.sql()?.run("UPDATE users SET preferences = ?2 WHERE id = ?1", &[user.into(), text.as_str().into()]).await?;
    let kv = call.cache()?;
    kv.put(&cache_key(user), text).or_internal("kv put")?.execute().await.or_internal("kv put")?;
    http::ok(&prefs)
}
