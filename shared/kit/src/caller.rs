//! Who is calling, and may they: the one caller type every worker asks.
//!
//! The gateway verifies the caller once and signs who they are into the request; a worker
//! reads it back as a [`Caller`] (a signed-in person with a role, or an API key), checks
//! the route's [`Scope`] with [`Caller::require`] or [`Caller::staff_with`], and decides
//! whether a row is theirs with [`Caller::visible`]. Every refusal is written to `main`'s
//! audit chain, whichever worker refuses.

use noizylab_core::auth::{Role, Scope};
use noizylab_core::contracts::{AuditAppend, AuditEntry};
use noizylab_core::identity::PrincipalKind;
use noizylab_core::services::MAIN;
use serde_json::json;
use worker::Method;

use crate::{ApiError, ApiResult, Call};

pub struct Caller {
    /// A user id, or an API key's id.
    pub id: String,
    pub workspace: String,
    /// A person's role in the workspace; `None` for an API key, which has scopes only.
    pub role: Option<Role>,
    pub scopes: Vec<Scope>,
}

/// A row that belongs to one person (its customer, its owner): what
/// [`Caller::visible`] compares with the caller.
pub trait Owned {
    fn owner_id(&self) -> Option<&str>;
}

impl Caller {
    /// The caller, or 401 for an anonymous one (or a worker calling for itself).
    pub fn of(call: &Call) -> ApiResult<Caller> {
        let who = &call.identity;
        let role = who.role.as_deref().and_then(Role::parse);
        let known = match who.kind {
            PrincipalKind::User => role.is_some(),
            PrincipalKind::ApiKey => true,
            PrincipalKind::Anonymous | PrincipalKind::Service => false,
        };
        match (known, &who.sub, &who.workspace) {
            (true, Some(id), Some(workspace)) => Ok(Caller {
                id: id.clone(),
                workspace: workspace.clone(),
                role: if who.kind == PrincipalKind::User { role } else { None },
                scopes: who.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            }),
            _ => Err(ApiError::Unauthenticated("sign in first (Authorization: Bearer <access token>)".into())),
        }
    }

    /// The caller, if they hold `scope` (a refusal is audited).
    pub async fn with(call: &Call, scope: Scope) -> ApiResult<Caller> {
        let who = Caller::of(call)?;
        who.require(call, scope).await?;
        Ok(who)
    }

    /// The caller, if they are staff holding `scope` (refusals audited): the check every
    /// bench-side change starts with.
    pub async fn staff_with(call: &Call, scope: Scope) -> ApiResult<Caller> {
        let who = Caller::with(call, scope).await?;
        who.require_staff(call).await?;
        Ok(who)
    }

    /// The caller, if they are a signed-in person (not an API key).
    pub async fn signed_in(call: &Call) -> ApiResult<Caller> {
        let who = Caller::of(call)?;
        who.person(call).await?;
        Ok(who)
    }

    /// The caller, if they are a signed-in person holding `scope`.
    pub async fn person_with(call: &Call, scope: Scope) -> ApiResult<Caller> {
        let who = Caller::with(call, scope).await?;
        who.person(call).await?;
        Ok(who)
    }

    /// The caller, if they are a signed-in person of `workspace` holding the `admin` scope
    /// (refusals audited); another workspace is answered as missing.
    pub async fn admin_of(call: &Call, workspace: &str) -> ApiResult<Caller> {
        let who = Caller::of(call)?;
        if who.workspace != workspace {
            return Err(ApiError::not_found(format!("workspace {workspace}")));
        }
        who.require(call, Scope::Admin).await?;
        who.person(call).await?;
        Ok(who)
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn is_person(&self) -> bool {
        self.role.is_some()
    }

    /// Staff see the whole workspace; customers and guests only their own things. An API
    /// key acts for the workspace, but only within the scope the route has just checked:
    /// every route names its scope ([`Caller::require`], [`Caller::with`]) before asking
    /// this, so a key is never staff for anything its scopes do not name.
    pub fn is_staff(&self) -> bool {
        self.role.is_none_or(Role::is_staff)
    }

    /// Staff, or the owner, else 404: `found` if the caller may see it. Someone else's
    /// thing is answered exactly like a missing one, so ids cannot be probed.
    pub fn visible<T: Owned>(&self, found: Option<T>, what: impl std::fmt::Display) -> ApiResult<T> {
        found
            .filter(|row| self.is_staff() || row.owner_id() == Some(self.id.as_str()))
            .ok_or_else(|| ApiError::not_found(what.to_string()))
    }

    /// Whom a listing is limited to: nobody for staff, the caller for anyone else.
    pub fn only_own(&self) -> Option<&str> {
        (!self.is_staff()).then_some(self.id.as_str())
    }

    /// 403 unless the caller holds `scope`; the refusal is audited.
    pub async fn require(&self, call: &Call, scope: Scope) -> ApiResult<()> {
        if self.has(scope) {
            return Ok(());
        }
        Err(self.refuse(call, &format!("this needs the {scope} scope"), json!({ "needs": scope })).await)
    }

    /// 403 unless the caller is staff (owner, admin, technician or an API key); audited.
    /// Only ever after the route's scope check: alone it would let any key through.
    pub async fn require_staff(&self, call: &Call) -> ApiResult<()> {
        if self.is_staff() {
            return Ok(());
        }
        Err(self.refuse(call, "only the shop's staff can do this", json!({ "needs": "staff" })).await)
    }

    /// The user id, or 403 (audited) for an API key on a route that needs a person.
    pub async fn person(&self, call: &Call) -> ApiResult<&str> {
        if self.is_person() {
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
            let entry = AuditAppend {
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
        let entry = AuditEntry {
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

/// 403 unless the request comes from the worker bound as `binding` in the service
/// catalogue (e.g. `services::PRICING`) acting for itself: the check on `/internal/…`
/// routes that one worker alone may call.
pub fn require_service(call: &Call, binding: &str, why: &str) -> ApiResult<()> {
    match call.identity.calling_service() {
        Some(spec) if spec.binding == binding => Ok(()),
        _ => Err(ApiError::Forbidden(why.to_owned())),
    }
}
