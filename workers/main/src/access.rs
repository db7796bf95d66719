//! Who is acting, and may they: the verified caller as an [`Actor`] (a signed-in user or
//! an API key), with scope checks whose refusals are audited.

use noizylab_core::auth::Role;
use noizylab_core::identity::PrincipalKind;
use noizylab_kit::{ApiError, ApiResult, Call};

use crate::audit;

pub struct Actor {
    /// A user id, or an API key's id.
    pub id: String,
    pub workspace: String,
    pub kind: PrincipalKind,
    /// A user's role; API keys have scopes only.
    pub role: Option<Role>,
    pub scopes: Vec<String>,
}

impl Actor {
    /// The caller, or 401 for an anonymous one.
    pub fn of(call: &Call) -> ApiResult<Actor> {
        let who = &call.identity;
        let role = who.role.as_deref().and_then(Role::parse);
        match (who.kind, who.sub.as_deref(), who.workspace.as_deref()) {
            (PrincipalKind::User, Some(id), Some(ws)) if role.is_some() => Ok(Actor {
                id: id.to_owned(),
                workspace: ws.to_owned(),
                kind: PrincipalKind::User,
                role,
                scopes: who.scopes.clone(),
            }),
            (PrincipalKind::ApiKey, Some(id), Some(ws)) => Ok(Actor {
                id: id.to_owned(),
                workspace: ws.to_owned(),
                kind: PrincipalKind::ApiKey,
                role: None,
                scopes: who.scopes.clone(),
            }),
            _ => Err(ApiError::Unauthenticated("sign in first (Authorization: Bearer <access token>)".into())),
        }
    }

    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Staff see the whole workspace; customers and guests only their own things. An API
    /// key acts for the workspace, but only within the scope the route has just checked:
    /// every route calls [`Actor::require`] (or [`Actor::staff_with`]) before asking this,
    /// so a key is never staff for anything its scopes do not name.
    pub fn is_staff(&self) -> bool {
        self.kind == PrincipalKind::ApiKey || self.role.is_some_and(Role::is_staff)
    }

    /// The caller, if they are staff holding `scope` (refusals audited): the check every
    /// bench-side change starts with.
    pub async fn staff_with(call: &Call, scope: &str) -> ApiResult<Actor> {
        let actor = Actor::of(call)?;
        actor.require(call, scope).await?;
        actor.require_staff(call).await?;
        Ok(actor)
    }

    /// The user id, or 403 for an API key on a route that needs a person.
    pub fn user(&self) -> ApiResult<&str> {
        match self.kind {
            PrincipalKind::User => Ok(&self.id),
            _ => Err(ApiError::Forbidden("this route needs a signed-in person, not an API key".into())),
        }
    }

    /// 403 unless the caller holds `scope`; a refusal is audited.
    pub async fn require(&self, call: &Call, scope: &str) -> ApiResult<()> {
        if self.has(scope) {
            return Ok(());
        }
        let detail = serde_json::json!({ "needs": scope }).to_string();
        audit::record(call, "access.refused", Some(&self.id), Some(&self.workspace), None, None, &detail).await?;
        Err(ApiError::Forbidden(format!("this needs the {scope} scope")))
    }

    /// 403 unless the caller is staff (owner, admin, technician or an API key). Only ever
    /// after the route's scope check: alone it would let any key through.
    pub async fn require_staff(&self, call: &Call) -> ApiResult<()> {
        if self.is_staff() {
            return Ok(());
        }
        let detail = r#"{"needs":"staff"}"#;
        audit::record(call, "access.refused", Some(&self.id), Some(&self.workspace), None, None, detail).await?;
        Err(ApiError::Forbidden("only the shop's staff can do this".into()))
    }
}
