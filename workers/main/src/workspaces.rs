//! `/api/v1/workspaces/:id/members…`: who belongs to a workspace, in which role.
//! Only the workspace's own admins and owners see or change it; any other workspace
//! answers 404, as if it did not exist.

use noizylab_core::auth::Role;
use noizylab_kit::{gate, http, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use worker::{Method, Request, Response};

use crate::{audit, auth};

pub async fn route(req: Request, call: &Call, rest: &[&str]) -> ApiResult<Response> {
    match (req.method(), rest) {
        (Method::Get, [ws, "members"]) => list(call, ws).await,
        (Method::Put, [ws, "members", user]) => change_role(req, call, ws, user).await,
        (_, [_, "members"]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
        (_, [_, "members", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["PUT"] }),
        _ => Err(http::no_route(&req)),
    }
}

/// The caller must be signed in with the `admin` scope. A refusal is audited.
pub async fn require_admin(call: &Call) -> ApiResult<(String, String, Role)> {
    let (user, ws, role) = auth::signed_in(call)?;
    if !call.identity.scopes.iter().any(|s| s == "admin") {
        audit::record(call, "access.refused", Some(user), Some(ws), None, None, "{\"needs\":\"admin\"}").await?;
        return Err(ApiError::Forbidden("this needs the admin scope".into()));
    }
    Ok((user.to_owned(), ws.to_owned(), role))
}

async fn require_admin_of(call: &Call, workspace: &str) -> ApiResult<(String, Role)> {
    let (_, ws, _) = auth::signed_in(call)?;
    if ws != workspace {
        return Err(ApiError::not_found(format!("workspace {workspace}")));
    }
    let (user, _, role) = require_admin(call).await?;
    Ok((user, role))
}

#[derive(Serialize, Deserialize)]
struct Member {
    user_id: String,
    email: String,
    role: String,
    created_at: String,
}

async fn list(call: &Call, workspace: &str) -> ApiResult<Response> {
    require_admin_of(call, workspace).await?;
    let members: Vec<Member> = call
        .db()?
        .prepare(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.workspace_id = ?1 ORDER BY u.email",
        )
        .bind(&[workspace.into()])
        .or_internal("bind")?
        .all()
        .await
        .or_internal("members")?
        .results()
        .or_internal("rows")?;
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
    let (actor, actor_role) = require_admin_of(call, workspace).await?;
    let body: RoleChange = http::read_json(&mut req).await?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::invalid_field("role", "role is one of owner, admin, technician, customer, guest"))?;
    let current = auth::role_in(call, workspace, target).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if (role == Role::Owner || current == Role::Owner) && actor_role != Role::Owner {
        return Err(ApiError::Forbidden("only an owner can grant or take the owner role".into()));
    }
    let db = call.db()?;
    db.prepare("UPDATE memberships SET role = ?3 WHERE workspace_id = ?1 AND user_id = ?2")
        .bind(&[workspace.into(), target.into(), role.as_str().into()])
        .or_internal("bind")?
        .run()
        .await
        .or_internal("role update")?;
    let epoch: Option<Epoch> = db
        .prepare("UPDATE users SET auth_epoch = auth_epoch + 1 WHERE id = ?1 RETURNING auth_epoch")
        .bind(&[target.into()])
        .or_internal("bind")?
        .first(None)
        .await
        .or_internal("epoch bump")?;
    let epoch = epoch.map(|e| e.auth_epoch).unwrap_or(0);
    gate::post(&call.env, target, "epoch", &serde_json::json!({ "min_epoch": epoch })).await?;
    let detail = format!("{{\"from\":\"{}\",\"to\":\"{}\"}}", current.as_str(), role.as_str());
    audit::record(call, "role.changed", Some(&actor), Some(workspace), Some(target), None, &detail).await?;
    http::ok(&serde_json::json!({ "user_id": target, "workspace_id": workspace, "role": role }))
}
