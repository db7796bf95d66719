//! `/api/v1/workspaces…`: the caller's workspaces, creating one, and per workspace its
//! members (roles, disabling) and API keys. Only the workspace's own admins and owners
//! see or change those; any other workspace answers 404, as if it did not exist.

use noizylab_core::auth::Role;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::{gate, http, random, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use worker::{Method, Request, Response};

use crate::audit_log as audit;
use crate::store;

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    match (req.method(), rest) {
        (Method::Get, []) => mine(call).await,
        (Method::Post, []) => create(req, call).await,
        (Method::Get, [ws, "members"]) => list(call, ws).await,
        (Method::Put, [ws, "members", user]) => change_role(req, call, ws, user).await,
        (Method::Post, [ws, "members", user, "disable"]) => set_disabled(call, ws, user, true).await,
        (Method::Post, [ws, "members", user, "enable"]) => set_disabled(call, ws, user, false).await,
        (_, []) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }),
        (_, [_, "members"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, [_, "members", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["PUT"] }),
        (_, [_, "members", _, "disable" | "enable"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["POST"] }),
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Serialize, Deserialize)]
struct Member {
    user_id: String,
    email: String,
    role: String,
    created_at: String,
    /// When this workspace disabled the member (`…/disable`); null while they may enter.
    disabled_at: Option<String>,
}

async fn list(call: &Call, workspace: &str) -> ApiResult<Response> {
    Caller::admin_of(call, workspace).await?;
    let members: Vec<Member> = call
        .sql()?
        .all(
            "SELECT m.user_id, u.email, m.role, m.created_at, m.disabled_at
               FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = ?1 ORDER BY u.email",
            &[workspace.into()],
        )
        .await?;
    http::ok(&serde_json::json!({ "members": members }))
}

#[derive(Deserialize)]
struct RoleChange {
    role: String,
}

#[derive(Deserialize)]
struct Epoch {
    auth_epoch: i64,
}

/// `PUT /api/v1/workspaces/:ws/members/:user {role}`: effective on the member's next
/// request (the epoch is raised at the gate), not at token expiry.
async fn change_role(mut req: Request, call: &Call, workspace: &str, target: &str) -> ApiResult<Response> {
    let admin = Caller::admin_of(call, workspace).await?;
    let (actor, actor_role) = (admin.id.as_str(), admin.role);
    let body: RoleChange = http::read_json(&mut req).await?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::invalid_field("role", "role is one of owner, admin, technician, customer, guest"))?;
    let current = store::role_in(call, workspace, target).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if (role == Role::Owner || current == Role::Owner) && actor_role != Some(Role::Owner) {
        return Err(ApiError::Forbidden("only an owner can grant or take the owner role".into()));
    }
    let db = call.sql()?;
    db.run(
        "UPDATE memberships SET role = ?3 WHERE workspace_id = ?1 AND user_id = ?2",
        &[workspace.into(), target.into(), role.as_str().into()],
    )
    .await?;
    let epoch: Option<Epoch> = db
        .first("UPDATE users SET auth_epoch = auth_epoch + 1 WHERE id = ?1 RETURNING auth_epoch", &[target.into()])
        .await?;
    let epoch = epoch.map(|e| e.auth_epoch).unwrap_or(0);
    gate::post(&call.env, target, "epoch", &serde_json::json!({ "min_epoch": epoch })).await?;
    // Keys they made hold no more than they now do; their sockets reconnect with the new role.
    store::follow_creator(call, target, Some(workspace), &role.default_scope_names()).await?;
    crate::live::kick_user(call, target, "your role changed").await?;
    let detail = format!("{{\"from\":\"{}\",\"to\":\"{}\"}}", current.as_str(), role.as_str());
    audit::record(call, "role.changed", Some(actor), Some(workspace), Some(target), None, &detail).await?;
    http::ok(&serde_json::json!({ "user_id": target, "workspace_id": workspace, "role": role }))
}

#[derive(Serialize, Deserialize)]
struct MyWorkspace {
    id: String,
    name: String,
    role: String,
}

/// `GET /api/v1/workspaces`: the workspaces the caller belongs to, with their role in each.
async fn mine(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let (user, current) = (who.id.as_str(), who.workspace.as_str());
    let rows: Vec<MyWorkspace> = call
        .sql()?
        .all(
            "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
             WHERE m.user_id = ?1 ORDER BY w.name, w.id",
            &[user.into()],
        )
        .await?;
    http::ok(&serde_json::json!({ "current": current, "workspaces": rows }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWorkspace {
    name: String,
}

/// `POST /api/v1/workspaces {name}`: an owner opens another shop or location and owns it.
/// Signing in with `workspace_id` enters it.
async fn create(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    if who.role != Some(Role::Owner) {
        let why = "only a workspace owner can open another workspace";
        return Err(who.refuse(call, why, serde_json::json!({ "needs": "owner" })).await);
    }
    let user = who.id.as_str();
    let body: NewWorkspace = http::read_json(&mut req).await?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", "a workspace name is 1 to 100 printable characters"));
    }
    let id = format!("ws-{}", &random::id()?[..16]);
    let now = time::now_rfc3339();
    let db = call.sql()?;
    db.batch(vec![
        db.statement(
            "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
            &[id.as_str().into(), name.into(), now.as_str().into()],
        )?,
        db.statement(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (?1, ?2, 'owner', ?3)",
            &[id.as_str().into(), user.into(), now.as_str().into()],
        )?,
    ])
    .await?;
    audit::record(call, "workspace.created", Some(user), Some(&id), Some(&id), None, "{}").await?;
    http::created(&MyWorkspace { id, name: name.to_owned(), role: "owner".into() })
}

#[derive(Deserialize)]
struct SessionId {
    id: String,
}

/// `POST …/members/:user/disable` and `…/enable`: decided by this workspace, for this
/// workspace. Disabling ends the member's sessions here at once (revoked at their gate),
/// refuses their sign-ins and refreshes here, revokes or narrows the API keys they made
/// here and closes their sockets; their access to other workspaces is untouched.
async fn set_disabled(call: &Call, workspace: &str, target: &str, disable: bool) -> ApiResult<Response> {
    let admin = Caller::admin_of(call, workspace).await?;
    let (actor, actor_role) = (admin.id.as_str(), admin.role);
    let (current, _) =
        store::membership(call, workspace, target).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if target == actor {
        return Err(ApiError::Conflict("you cannot disable or enable yourself".into()));
    }
    if current == Role::Owner && actor_role != Some(Role::Owner) {
        return Err(ApiError::Forbidden("only an owner can disable or enable an owner".into()));
    }
    let db = call.sql()?;
    if disable {
        db.run(
            "UPDATE memberships SET disabled_at = COALESCE(disabled_at, ?3) WHERE workspace_id = ?1 AND user_id = ?2",
            &[workspace.into(), target.into(), time::now_rfc3339().into()],
        )
        .await?;
        let sessions: Vec<SessionId> = db
            .all(
                "SELECT id FROM sessions WHERE user_id = ?1 AND workspace_id = ?2 AND revoked_at IS NULL
                 AND expires_at > ?3",
                &[target.into(), workspace.into(), int(noizylab_kit::call::now_secs())],
            )
            .await?;
        for s in &sessions {
            store::revoke_session(call, target, &s.id, "disabled").await?;
        }
        store::follow_creator(call, target, Some(workspace), &[]).await?;
        crate::live::kick_user(call, target, "your access changed").await?;
    } else {
        db.run(
            "UPDATE memberships SET disabled_at = NULL WHERE workspace_id = ?1 AND user_id = ?2",
            &[workspace.into(), target.into()],
        )
        .await?;
    }
    let action = if disable { "user.disabled" } else { "user.enabled" };
    audit::record(call, action, Some(actor), Some(workspace), Some(target), None, "{}").await?;
    http::ok(&serde_json::json!({ "user_id": target, "workspace_id": workspace, "disabled": disable }))
}
