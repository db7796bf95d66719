//! `/api/v1/workspaces/:ws/api-keys…`: a workspace's API keys, managed by its admins.
//!
//! A key is `nlk_<id>_<secret>`: shown once at creation, stored only as its SHA-256, with
//! explicit scopes (never more than its creator holds) and its own per-minute limit. The
//! gateway admits a key through the key's `Gate` object, which is written here before
//! the key is handed out and told at once when it is revoked.
//!
//! **A key is capped at its creator's current rights** ([`follow_creator`]). When the
//! creator changes role in the key's workspace, the key keeps only the scopes the new
//! role grants (the intersection; revoked if nothing is left, so a demotion to customer
//! takes `admin`, `pricing:write`… away and keeps `tickets:read`). When the creator is
//! disabled in that workspace or erases the account, every key they made there is revoked.
//! Both happen at once, at the key's gate (`key/put` or `key/revoke`) before D1, in the
//! same request that changed the creator: the key's very next request sees it. A key
//! narrowed or revoked this way is not widened again when the creator regains rights.

use base64::Engine;
use noizylab_core::auth::{self, Scope};
use noizylab_kit::db::{int, opt};
use noizylab_kit::{gate, http, random, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::audit_log as audit;
use noizylab_kit::caller::Caller;

/// Requests per minute for a key created without `rate_limit`.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 10_000;
const MAX_NAME_CHARS: usize = 80;
const MAX_DAYS: i64 = 366;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
    #[serde(default)]
    rate_limit: Option<u32>,
    /// Days until it stops working; without it the key lasts until revoked.
    #[serde(default)]
    expires_in_days: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct KeyRow {
    id: String,
    name: String,
    scopes: String,
    rate_limit: i64,
    created_by: String,
    created_at: String,
    expires_at: Option<i64>,
    revoked_at: Option<String>,
}

#[derive(Serialize)]
struct KeyView {
    id: String,
    name: String,
    /// The recognisable start of the key (`nlk_<id>_`), never the secret.
    prefix: String,
    scopes: Vec<String>,
    rate_limit: i64,
    created_by: String,
    created_at: String,
    expires_at: Option<i64>,
    revoked_at: Option<String>,
}

impl From<KeyRow> for KeyView {
    fn from(r: KeyRow) -> Self {
        KeyView {
            prefix: format!("{}{}_", auth::API_KEY_PREFIX, r.id),
            scopes: serde_json::from_str(&r.scopes).unwrap_or_default(),
            id: r.id,
            name: r.name,
            rate_limit: r.rate_limit,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn validate(body: &NewKey, granter_scopes: &[String]) -> ApiResult<(String, Vec<String>, u32)> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", "a key's name is 1 to 80 printable characters"));
    }
    if body.scopes.is_empty() {
        return Err(ApiError::invalid_field("scopes", "name at least one scope the key may use"));
    }
    let mut scopes: Vec<String> = Vec::new();
    for scope in &body.scopes {
        if Scope::parse(scope).is_none() {
            return Err(ApiError::invalid_field(
                "scopes",
                format!("unknown scope '{scope}'; known: {}", Scope::names()),
            ));
        }
        if !granter_scopes.contains(scope) {
            return Err(ApiError::invalid_field("scopes", format!("you cannot grant '{scope}': you do not hold it")));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    let limit = body.rate_limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid_field("rate_limit", "rate_limit is 1 to 10000 requests per minute"));
    }
    if body.expires_in_days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
        return Err(ApiError::invalid_field("expires_in_days", "expires_in_days is 1 to 366"));
    }
    Ok((name.to_owned(), scopes, limit))
}

/// `POST …/api-keys {name, scopes, rate_limit?, expires_in_days?}` → 201 with the key,
/// the only time it is ever shown.
pub async fn create(mut req: Request, call: &Call, workspace: &str) -> ApiResult<Response> {
    let admin = Caller::admin_of(call, workspace).await?;
    let actor = admin.id.as_str();
    let body: NewKey = http::read_json(&mut req).await?;
    let (name, scopes, limit) = validate(&body, &call.identity.scopes)?;
    let id: String = random::bytes::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let key = auth::format_api_key(&id, &secret);
    let hash = auth::sha256_hex(key.as_bytes());
    let expires_at = body.expires_in_days.map(|d| noizylab_kit::call::now_secs() + d * 86_400);
    let scopes_json = serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into());
    let now = time::now_rfc3339();

    // The gate first: a key that exists in D1 but not at the gate would be refused, never
    // the other way round.
    let record = serde_json::json!({ "key": {
        "hash": hash, "workspace_id": workspace, "scopes": scopes, "limit": limit,
        "expires_at": expires_at, "revoked": false,
    }});
    gate::post_to(&call.env, &format!("key:{id}"), "key/put", &record).await?;
    call.sql()?
        .run(
            "INSERT INTO api_keys (id, workspace_id, name, key_hash, scopes, rate_limit, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &[
                id.as_str().into(),
                workspace.into(),
                name.as_str().into(),
                hash.as_str().into(),
                scopes_json.as_str().into(),
                int(i64::from(limit)),
                actor.into(),
                now.as_str().into(),
                expires_at.map(int).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
            ],
        )
        .await?;
    let detail = serde_json::json!({ "name": name, "scopes": scopes, "rate_limit": limit }).to_string();
    audit::record(call, "api_key.created", Some(actor), Some(workspace), Some(&id), None, &detail).await?;
    let mut view = serde_json::to_value(KeyView::from(KeyRow {
        id,
        name,
        scopes: scopes_json,
        rate_limit: i64::from(limit),
        created_by: actor.to_owned(),
        created_at: now,
        expires_at,
        revoked_at: None,
    }))
    .map_err(|e| ApiError::internal(format!("key view: {e}")))?;
    view["key"] = key.into();
    http::created(&view)
}

/// `GET …/api-keys`: every key of the workspace, newest first, without secrets.
pub async fn list(call: &Call, workspace: &str) -> ApiResult<Response> {
    Caller::admin_of(call, workspace).await?;
    let rows: Vec<KeyRow> = call
        .sql()?
        .all(
            "SELECT id, name, scopes, rate_limit, created_by, created_at, expires_at, revoked_at
             FROM api_keys WHERE workspace_id = ?1 ORDER BY created_at DESC, id",
            &[workspace.into()],
        )
        .await?;
    let keys: Vec<KeyView> = rows.into_iter().map(KeyView::from).collect();
    http::ok(&serde_json::json!({ "api_keys": keys }))
}

/// `DELETE …/api-keys/:id`: refused by the gateway from the next request on. Revoking a
/// revoked key again changes nothing and answers the same.
pub async fn revoke(call: &Call, workspace: &str, id: &str) -> ApiResult<Response> {
    let admin = Caller::admin_of(call, workspace).await?;
    let actor = admin.id.as_str();
    let db = call.sql()?;
    let exists: Option<KeyRow> = db
        .first(
            "SELECT id, name, scopes, rate_limit, created_by, created_at, expires_at, revoked_at
             FROM api_keys WHERE id = ?1 AND workspace_id = ?2",
            &[id.into(), workspace.into()],
        )
        .await?;
    let row = exists.ok_or_else(|| ApiError::not_found(format!("API key {id}")))?;
    gate::post_to(&call.env, &format!("key:{id}"), "key/revoke", &serde_json::json!({})).await?;
    if row.revoked_at.is_none() {
        db.run(
            "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            &[id.into(), time::now_rfc3339().into(), opt(Some(actor))],
        )
        .await?;
        audit::record(call, "api_key.revoked", Some(actor), Some(workspace), Some(id), None, "{}").await?;
    }
    Ok(Response::empty().map_err(|e| ApiError::internal(format!("response: {e}")))?.with_status(204))
}
