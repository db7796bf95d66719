//! The verified caller in a worker other than `main` (which has its own `Actor`): who they
//! are, whether they are the shop's staff, and scope checks whose refusals are written to
//! `main`'s audit chain like `main`'s own.

use noizylab_core::auth::Role;
use noizylab_core::identity::PrincipalKind;
use noizylab_core::services::MAIN;
use serde_json::json;
use worker::Method;

use crate::{ApiError, ApiResult, Call};

pub struct Caller {
    /// A user id, or an API key's id.
    pub id: String,
    pub workspace: String,
    /// Staff see the whole workspace; an API key acts for the workspace, but only within
    /// the scope the route checks first ([`Caller::require`]): no route reads this before
    /// naming its scope, so a key is never staff beyond its scopes.
    pub staff: bool,
    /// A signed-in person rather than an API key.
    pub person: bool,
    pub scopes: Vec<String>,
}

impl Caller {
    /// The caller, or 401 for an anonymous one.
    pub fn of(call: &Call) -> ApiResult<Caller> {
        let who = &call.identity;
        let (staff, person) = match who.kind {
            PrincipalKind::User => (who.role.as_deref().and_then(Role::parse).is_some_and(Role::is_staff), true),
            PrincipalKind::ApiKey => (true, false),
            _ => return Err(ApiError::Unauthenticated("sign in first (Authorization: Bearer <access token>)".into())),
        };
        match (who.sub.clone(), who.workspace.clone()) {
            (Some(id), Some(workspace)) => Ok(Caller { id, workspace, staff, person, scopes: who.scopes.clone() }),
            _ => Err(ApiError::Unauthenticated("sign in first".into())),
        }
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// 403 unless the caller holds `scope`; the refusal is audited.
    pub async fn require(&self, call: &Call, scope: &str) -> ApiResult<()> {
        if self.has(scope) {
            return Ok(());
        }
        Err(self.refuse(call, &format!("this needs the {scope} scope"), json!({ "needs": scope })).await)
    }

    /// The user id, or 403 (audited) for an API key on a route that needs a person.
    pub async fn person(&self, call: &Call) -> ApiResult<&str> {
        if self.person {
            return Ok(&self.id);
        }
        let why = "this route needs a signed-in person, not an API key";
        Err(self.refuse(call, why, json!({ "needs": "person" })).await)
    }

    /// Writes the refusal to `main`'s audit chain (`access.refused`) and returns the 403 to
    /// answer with. A failure to audit is logged; the refusal stands either way.
    pub async fn refuse(&self, call: &Call, why: &str, detail: serde_json::Value) -> ApiError {
        let detail = json!({ "service": call.service(), "reason": why, "detail": detail });
        if crate::audit::bound(call) {
            let entry = noizylab_core::contracts::AuditAppend {
                action: "access.refused".into(),
                actor: Some(self.id.clone()),
                workspace_id: Some(self.workspace.clone()),
                target: None,
                ip: None,
                request_id: Some(call.request_id.clone()),
                detail: detail.to_string(),
            };
            if let Err(e) = crate::audit::append(call, &entry).await {
                call.log_warn(&format!("audit of a refusal failed: {e:?}"));
            }
            return ApiError::Forbidden(why.to_owned());
        }
        let entry = noizylab_core::contracts::AuditEntry {
            action: "access.refused".into(),
            ip: None,
            actor_id: Some(self.id.clone()),
            workspace_id: Some(self.workspace.clone()),
            detail,
        };
        let body = serde_json::to_string(&entry).unwrap_or_default();
        match call.as_service(MAIN, Method::Post, "/internal/audit", Some(body)).await {
            Ok(resp) if resp.status_code() == 204 => {}
            Ok(resp) => call.log_warn(&format!("audit of a refusal answered {}", resp.status_code())),
            Err(e) => call.log_warn(&format!("audit of a refusal failed: {e:?}")),
        }
        ApiError::Forbidden(why.to_owned())
    }
}
