//! `/api/v1/auth/…`: passwordless sign-in, token rotation, sign-out.
//!
//! - `POST magic-link {email, workspace_id?}` mails a single-use link and a 6-digit code
//!   (10 minutes, stored only hashed, limited per email and per IP). The answer is the same
//!   whether or not the address has an account.
//! - `POST verify {token}` / `POST login {email, code}` sign in (creating the account on
//!   first sign-in) and return an access token (EdDSA JWT, 15 min) and a refresh token
//!   (opaque, 256 bits, single use, rotated on every refresh; a second use revokes the
//!   whole session). Sessions last 24 h at most.
//! - `POST refresh {refresh_token}`, `POST logout`, `GET me`.

use noizylab_core::auth::{self, AccessClaims, Role, SigningKey};
use noizylab_core::contracts::Email;
use noizylab_kit::call::now_secs;
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Method, Request, Response};

use crate::audit_log as audit;
use crate::config::Config;
use crate::store::{membership, revoke_session};

const LINK_TTL_SECS: i64 = 10 * 60;
const SESSION_TTL_SECS: i64 = 24 * 60 * 60;
/// How long a requester that signed an address in stays known for it.
const KNOWN_REQUESTER_SECS: i64 = 30 * 24 * 60 * 60;

const LINK_WINDOW_SECS: i64 = 15 * 60;
/// Wrong codes before a magic link's code stops working.
const MAX_CODE_ATTEMPTS: i64 = 5;
pub const DEFAULT_WORKSPACE: &str = "ws-default";

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    match (req.method(), rest) {
        (Method::Post, ["magic-link"]) => request_link(req, call).await,
        (Method::Post, ["verify"]) => verify_link(req, call).await,
        (Method::Post, ["login"]) => login_with_code(req, call).await,
        (Method::Post, ["refresh"]) => refresh(req, call).await,
        (Method::Post, ["logout"]) => logout(call).await,
        (Method::Get, ["me"]) => me(call).await,
        (_, ["magic-link" | "verify" | "login" | "refresh" | "logout"]) => {
            Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] })
        }
        (_, ["me"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        _ => Err(http::no_route(&req)),
    }
}

/// The signing key ring from the `JWT_SIGNING_KEYS` secret (first key signs).
pub fn key_ring(call: &Call) -> ApiResult<Vec<SigningKey>> {
    let spec = Config::from_env(&call.env)
        .signing_keys
        .ok_or_else(|| ApiError::Unavailable("sign-in is not configured: JWT_SIGNING_KEYS is missing".into()))?;
    auth::parse_key_ring(&spec).map_err(|e| ApiError::internal(format!("JWT_SIGNING_KEYS: {e}")))
}

/// `GET /.well-known/jwks.json`: the public keys that verify our access tokens.
pub fn jwks(call: &Call) -> ApiResult<Response> {
    let keys: Vec<serde_json::Value> = key_ring(call)?.iter().map(SigningKey::jwk).collect();
    http::ok(&serde_json::json!({ "keys": keys }))
}

pub fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("cf-connecting-ip").ok().flatten()
}

fn token_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
fn six_digit_code() -> ApiResult<String> {
    loop {
        let n = u32::from_le_bytes(random::bytes::<4>()?);
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

#[derive(Deserialize)]
struct LinkRequest {
    email: String,
    #[serde(default)]
    workspace_id: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    n: u32,
}

async fn count(call: &Call, sql: &str, arg: &str, since: i64) -> ApiResult<u32> {
    let row: Option<Count> = call.sql()?.first(sql, &[arg.into(), noizylab_kit::db::int(since)]).await?;
    Ok(row.map(|c| c.n).unwrap_or(0))
}

/// Whether `ip` completed a sign-in as `email` in the last 30 days: such a requester is
/// the address's owner often enough that strangers' requests must not lock it out.
async fn known_requester(call: &Call, email: &str, ip: &str, now: i64) -> ApiResult<bool> {
    let row: Option<Count> = call
        .sql()?
        .first(
            "SELECT COUNT(*) AS n FROM magic_links WHERE email = ?1 AND ip = ?2 AND used_at IS NOT NULL AND used_at > ?3",
            &[email.into(), ip.into(), noizylab_kit::db::int(now - KNOWN_REQUESTER_SECS)],
        )
        .await?;
    Ok(row.is_some_and(|c| c.n > 0))
}

/// `POST /api/v1/auth/magic-link {email, workspace_id?}` → 202 `{message, challenge}`.
///
/// Limits, per 15 minutes: 5 requests per address from one requester (IP), 20 per
/// requester in all, and 20 per address from requesters that have not signed that address
/// in before. A stranger can therefore spend their own allowance and the address's
/// allowance for strangers, never the owner's: a requester that completed a sign-in as
/// the address in the last 30 days is held only by its own limits. The answer is the same
/// whether the address (or the workspace) exists or not.
async fn request_link(mut req: Request, call: &Call) -> ApiResult<Response> {
    let body: LinkRequest = http::read_json(&mut req).await?;
    let email = auth::parse_email(&body.email)
        .ok_or_else(|| ApiError::invalid_field("email", "that does not look like an email address"))?;
    let workspace = body.workspace_id.unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned());
    if !noizylab_core::names::is_plain_id(&workspace) {
        return Err(ApiError::invalid_field("workspace_id", "a workspace id is letters, digits, '-' or '_'"));
    }
    let ip = client_ip(&req).unwrap_or_else(|| "unknown".to_owned());
    let config = Config::from_env(&call.env);
    let now = now_secs();
    let since = now - LINK_WINDOW_SECS;
    let held = || ApiError::RateLimited { retry_after: LINK_WINDOW_SECS as u64 };
    let db = call.sql()?;
    let from_here: Option<Count> = db
        .first(
            "SELECT COUNT(*) AS n FROM magic_links WHERE email = ?1 AND ip = ?2 AND created_at > ?3",
            &[email.as_str().into(), ip.as_str().into(), noizylab_kit::db::int(since)],
        )
        .await?;
    if from_here.map(|c| c.n).unwrap_or(0) >= config.links_per_email {
        return Err(held());
    }
    if count(call, "SELECT COUNT(*) AS n FROM magic_links WHERE ip = ?1 AND created_at > ?2", &ip, since).await?
        >= config.links_per_ip
    {
        return Err(held());
    }
    if count(call, "SELECT COUNT(*) AS n FROM magic_links WHERE email = ?1 AND created_at > ?2", &email, since).await?
        >= config.links_per_address
        && !known_requester(call, &email, &ip, now).await?
    {
        return Err(held());
    }

    let challenge = token_b64(&random::bytes::<32>()?);
    let accepted = || {
        http::json(
            202,
            &serde_json::json!({
                "message": "If that address can sign in, a link and a code are on their way.",
                "challenge": challenge,
            }),
        )
    };
    let known_workspace: Option<Count> =
        db.first("SELECT COUNT(*) AS n FROM workspaces WHERE id = ?1", &[workspace.as_str().into()]).await?;
    if known_workspace.map(|c| c.n).unwrap_or(0) == 0 {
        // The same answer as for a real workspace: whether one exists is not told here.
        return accepted();
    }

    let token = token_b64(&random::bytes::<32>()?);
    let code = six_digit_code()?;
    db.run(
        "INSERT INTO magic_links (id, email, workspace_id, token_hash, code_hash, created_at, expires_at, ip, challenge_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            random::id()?.into(),
            email.as_str().into(),
            workspace.as_str().into(),
            auth::sha256_hex(token.as_bytes()).into(),
            auth::sha256_hex(format!("{email}:{code}").as_bytes()).into(),
            (now as f64).into(),
            ((now + LINK_TTL_SECS) as f64).into(),
            ip.as_str().into(),
            auth::sha256_hex(challenge.as_bytes()).into(),
        ],
    )
    .await?;

    let portal = config
        .portal_url
        .ok_or_else(|| ApiError::Unavailable("sign-in is not configured: PORTAL_URL is missing".into()))?;
    let link = format!("{}/sign-in?token={token}", portal.trim_end_matches('/'));
    let text = format!(
        "Sign in to NoizyLab:\n\n{link}\n\nOr enter this code: {code}\n\nBoth work once and expire in 10 minutes. \
         If you did not ask to sign in, ignore this message."
    );
    let mail = Email { to: email.clone(), subject: format!("Your NoizyLab sign-in code: {code}"), text, html: None };
    let mail = serde_json::to_string(&mail).or_internal("mail")?;
    let sent =
        call.internal(noizylab_core::services::NOTIFICATIONS, Method::Post, "/internal/email", Some(mail)).await?;
    if sent.status_code() >= 300 {
        return Err(ApiError::Unavailable("email could not be sent right now; try again shortly".into()));
    }
    accepted()
}

#[derive(Deserialize)]
struct LinkRow {
    id: String,
    email: String,
    workspace_id: String,
    code_hash: String,
}

#[derive(Deserialize)]
struct VerifyRequest {
    token: String,
}

async fn verify_link(mut req: Request, call: &Call) -> ApiResult<Response> {
    let body: VerifyRequest = http::read_json(&mut req).await?;
    let ip = client_ip(&req);
    let now = now_secs();
    let hash = auth::sha256_hex(body.token.trim().as_bytes());
    // Single use: only the request that flips used_at from NULL wins.
    let row: Option<LinkRow> = call
        .sql()?
        .first(
            "UPDATE magic_links SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING id, email, workspace_id, code_hash",
            &[hash.into(), (now as f64).into()],
        )
        .await?;
    let Some(link) = row else {
        audit::record(call, "auth.verify_failed", None, None, None, ip.as_deref(), "{\"via\":\"link\"}").await?;
        return Err(ApiError::Unauthenticated(
            "this sign-in link is invalid, used or expired; ask for a new one".into(),
        ));
    };
    sign_in(call, &link.email, &link.workspace_id, ip.as_deref(), "link").await
}

#[derive(Deserialize)]
struct LoginRequest {
    email: String,
    code: String,
    /// What `POST /auth/magic-link` answered: the code works only with it.
    #[serde(default)]
    challenge: Option<String>,
}

/// `POST /api/v1/auth/login {email, code, challenge}`.
///
/// Each try spends one of the code's five attempts *before* the code is compared, in one
/// statement (`attempts = attempts + 1 … WHERE attempts < 5 RETURNING`), so concurrent
/// guesses cannot all count as the first: at most five are ever evaluated. Only the
/// client that asked for the code (it holds the challenge) can spend its attempts.
async fn login_with_code(mut req: Request, call: &Call) -> ApiResult<Response> {
    let body: LoginRequest = http::read_json(&mut req).await?;
    let email = auth::parse_email(&body.email)
        .ok_or_else(|| ApiError::invalid_field("email", "that does not look like an email address"))?;
    let code = body.code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field("code", "the code is the 6 digits from the email"));
    }
    let challenge = body.challenge.as_deref().map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::invalid_field("challenge", "send the challenge that POST /api/v1/auth/magic-link answered with")
    })?;
    let ip = client_ip(&req);
    let now = now_secs();
    let db = call.sql()?;
    let link: Option<LinkRow> = db
        .first(
            "UPDATE magic_links SET attempts = attempts + 1
             WHERE challenge_hash = ?1 AND email = ?2 AND used_at IS NULL AND expires_at > ?3 AND attempts < ?4
             RETURNING id, email, workspace_id, code_hash",
            &[
                auth::sha256_hex(challenge.as_bytes()).into(),
                email.as_str().into(),
                (now as f64).into(),
                noizylab_kit::db::int(MAX_CODE_ATTEMPTS),
            ],
        )
        .await?;
    let refused = || ApiError::Unauthenticated("that code is wrong, used or expired; ask for a new one".into());
    let expected = auth::sha256_hex(format!("{email}:{code}").as_bytes());
    let Some(link) = link.filter(|l| auth::constant_time_eq(expected.as_bytes(), l.code_hash.as_bytes())) else {
        audit::record(call, "auth.verify_failed", None, None, Some(&email), ip.as_deref(), "{\"via\":\"code\"}")
            .await?;
        return Err(refused());
    };
    let used = db
        .run(
            "UPDATE magic_links SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
            &[link.id.as_str().into(), (now as f64).into()],
        )
        .await?;
    if used != 1 {
        return Err(refused());
    }
    sign_in(call, &link.email, &link.workspace_id, ip.as_deref(), "code").await
}

#[derive(Deserialize)]
struct UserRow {
    id: String,
    email: String,
    name: Option<String>,
    auth_epoch: i64,
    disabled_at: Option<String>,
}

/// Which column a user is looked up by.
enum UserKey<'a> {
    Email(&'a str),
    Id(&'a str),
}

async fn find_user(call: &Call, key: UserKey<'_>) -> ApiResult<Option<UserRow>> {
    let (sql, value) = match key {
        UserKey::Email(v) => ("SELECT id, email, name, auth_epoch, disabled_at FROM users WHERE email = ?1", v),
        UserKey::Id(v) => ("SELECT id, email, name, auth_epoch, disabled_at FROM users WHERE id = ?1", v),
    };
    call.db()?.prepare(sql).bind(&[value.into()]).or_internal("bind")?.first(None).await.or_internal("user read")
}

/// Whether the bootstrap owner may still be made: only while `ws-default` has no owner, so
/// that an owner who was demoted cannot regain the role by erasing the account and
/// signing in again.
async fn bootstrap_open(call: &Call) -> ApiResult<bool> {
    let owners: Option<Count> = call
        .sql()?
        .first(
            "SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = ?1 AND role = 'owner'",
            &[DEFAULT_WORKSPACE.into()],
        )
        .await?;
    Ok(owners.is_none_or(|c| c.n == 0))
}

async fn sign_in(call: &Call, email: &str, workspace: &str, ip: Option<&str>, via: &str) -> ApiResult<Response> {
    let db = call.sql()?;
    let now_text = time::now_rfc3339();
    db.run(
        "INSERT INTO users (id, email, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (email) DO NOTHING",
        &[random::id()?.into(), email.into(), now_text.as_str().into()],
    )
    .await?;
    let user = find_user(call, UserKey::Email(email))
        .await?
        .ok_or_else(|| ApiError::internal("user vanished after insert"))?;
    if user.disabled_at.is_some() {
        audit::record(call, "auth.refused_disabled", Some(&user.id), Some(workspace), None, ip, "{}").await?;
        return Err(ApiError::Forbidden("this account is disabled".into()));
    }
    let role = match membership(call, workspace, &user.id).await? {
        Some((_, true)) => {
            audit::record(call, "auth.refused_disabled", Some(&user.id), Some(workspace), None, ip, "{}").await?;
            return Err(ApiError::Forbidden("your access to this workspace is disabled".into()));
        }
        Some((role, false)) => role,
        None => {
            let owner = Config::from_env(&call.env).owner_email;
            let bootstrap = owner.as_deref() == Some(email) && workspace == DEFAULT_WORKSPACE;
            let role = if bootstrap && bootstrap_open(call).await? { Role::Owner } else { Role::Customer };
            db.run(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                &[workspace.into(), user.id.as_str().into(), role.as_str().into(), now_text.as_str().into()],
            )
            .await?;
            role
        }
    };
    let now = now_secs();
    let session = random::id()?;
    db.run(
        "INSERT INTO sessions (id, user_id, workspace_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            session.as_str().into(),
            user.id.as_str().into(),
            workspace.into(),
            (now as f64).into(),
            ((now + SESSION_TTL_SECS) as f64).into(),
        ],
    )
    .await?;
    db.run("UPDATE users SET last_login_at = ?2 WHERE id = ?1", &[user.id.as_str().into(), now_text.as_str().into()])
        .await?;
    audit::record(call, "auth.sign_in", Some(&user.id), Some(workspace), None, ip, &format!("{{\"via\":\"{via}\"}}"))
        .await?;
    let pair = issue_pair(call, &user, workspace, role, &session, now + SESSION_TTL_SECS).await?;
    http::ok(&pair)
}

#[derive(Serialize)]
struct TokenPair {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    /// Unix seconds: the session's absolute end, after which the user signs in again.
    session_expires_at: i64,
    user_id: String,
    email: String,
    workspace_id: String,
    role: Role,
}

async fn issue_pair(
    call: &Call,
    user: &UserRow,
    workspace: &str,
    role: Role,
    session: &str,
    session_expires: i64,
) -> ApiResult<TokenPair> {
    let now = now_secs();
    let refresh = token_b64(&random::bytes::<32>()?);
    call.sql()?
        .run(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
            &[auth::sha256_hex(refresh.as_bytes()).into(), session.into(), (now as f64).into()],
        )
        .await?;
    let ring = key_ring(call)?;
    let key = ring.first().ok_or_else(|| ApiError::internal("empty key ring"))?;
    let claims = AccessClaims {
        iss: auth::ISSUER.into(),
        aud: auth::AUDIENCE.into(),
        sub: user.id.clone(),
        jti: random::id()?,
        sid: session.to_owned(),
        ws: workspace.to_owned(),
        role,
        scopes: role.default_scope_names(),
        epoch: user.auth_epoch.max(0) as u64,
    };
    let access = auth::issue(key, claims, now).map_err(ApiError::internal)?;
    Ok(TokenPair {
        access_token: access,
        token_type: "Bearer",
        expires_in: auth::ACCESS_TTL_SECS,
        refresh_token: refresh,
        session_expires_at: session_expires,
        user_id: user.id.clone(),
        email: user.email.clone(),
        workspace_id: workspace.to_owned(),
        role,
    })
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
struct RefreshRow {
    session_id: String,
    used_at: Option<f64>,
    user_id: String,
    workspace_id: String,
    expires_at: f64,
    revoked_at: Option<f64>,
}

async fn refresh(mut req: Request, call: &Call) -> ApiResult<Response> {
    let body: RefreshRequest = http::read_json(&mut req).await?;
    let ip = client_ip(&req);
    let now = now_secs();
    let hash = auth::sha256_hex(body.refresh_token.trim().as_bytes());
    let db = call.sql()?;
    let row: Option<RefreshRow> = db
        .first(
            "SELECT r.session_id, r.used_at, s.user_id, s.workspace_id, s.expires_at, s.revoked_at
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE r.token_hash = ?1",
            &[hash.as_str().into()],
        )
        .await?;
    let ended = || ApiError::Unauthenticated("this session has ended; sign in again".into());
    let Some(row) = row else {
        return Err(ApiError::Unauthenticated("unknown refresh token; sign in again".into()));
    };
    let reused = || async {
        revoke_session(call, &row.user_id, &row.session_id, "refresh_reuse").await?;
        audit::record(
            call,
            "auth.refresh_reuse",
            Some(&row.user_id),
            Some(&row.workspace_id),
            None,
            ip.as_deref(),
            "{}",
        )
        .await?;
        Err::<Response, ApiError>(ended())
    };
    if row.used_at.is_some() {
        return reused().await;
    }
    if row.revoked_at.is_some() || (row.expires_at as i64) <= now {
        return Err(ended());
    }
    let flipped = db
        .run(
            "UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1 AND used_at IS NULL",
            &[hash.as_str().into(), (now as f64).into()],
        )
        .await?;
    if flipped != 1 {
        return reused().await;
    }
    let user = find_user(call, UserKey::Id(&row.user_id)).await?.ok_or_else(ended)?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Forbidden("this account is disabled".into()));
    }
    let role = match membership(call, &row.workspace_id, &user.id).await? {
        Some((_, true)) => return Err(ApiError::Forbidden("your access to this workspace is disabled".into())),
        Some((role, false)) => role,
        None => return Err(ended()),
    };
    let pair = issue_pair(call, &user, &row.workspace_id, role, &row.session_id, row.expires_at as i64).await?;
    http::ok(&pair)
}

async fn logout(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let (user, ws) = (who.id.as_str(), who.workspace.as_str());
    let session = call.identity.session.clone().ok_or_else(|| ApiError::bad_request("this token has no session"))?;
    revoke_session(call, user, &session, "logout").await?;
    crate::live::kick_user(call, user, "signed out").await?;
    audit::record(call, "auth.sign_out", Some(user), Some(ws), None, None, "{}").await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}

async fn me(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let (user_id, ws, role) = (who.id.as_str(), who.workspace.as_str(), who.role);
    let user = find_user(call, UserKey::Id(user_id)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    http::ok(&serde_json::json!({
        "id": user.id, "email": user.email, "name": user.name,
        "workspace_id": ws, "role": role, "scopes": call.identity.scopes,
    }))
}
