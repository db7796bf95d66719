//! The queries more than one handler needs: the rows of tickets and devices and who may
//! see them, memberships and roles, sessions, and what follows a key's creator. Each
//! handler module keeps its own SQL beside it; what is shared lives here, so that no
//! handler imports another.

use noizylab_core::auth::{self, Role};
use noizylab_kit::call::now_secs;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::db::opt;
use noizylab_kit::{gate, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::audit_log;

// --- devices

#[derive(Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub workspace_id: String,
    pub owner_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub imei: Option<String>,
    pub os: Option<String>,
    #[serde(with = "json_text")]
    pub specs: serde_json::Value,
    pub health_score: Option<i64>,
    pub last_scan_at: Option<String>,
    pub created_at: String,
}

/// `specs` is JSON text in D1 and a JSON object on the wire.
mod json_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<serde_json::Value, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(serde::de::Error::custom)
    }

    /// The JSON text as it is, once checked to be JSON.
    pub fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Box<serde_json::value::RawValue>, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::value::RawValue::from_string(text).map_err(serde::de::Error::custom)
    }
}

/// A device as a list page reads it: each cell kept as the JSON text it came in (D1's rows,
/// serialised by the runtime) and written out unchanged, in [`Device`]'s shape and field
/// order; only `specs`, JSON text inside a text cell, is unwrapped into the object it
/// holds (and checked to be one). A page is read and written, never looked into: no
/// string or map is built per cell.
#[derive(Serialize, Deserialize)]
pub struct DeviceRow<'a> {
    #[serde(borrow)]
    pub id: &'a RawValue,
    #[serde(borrow)]
    pub workspace_id: &'a RawValue,
    #[serde(borrow)]
    pub owner_id: &'a RawValue,
    #[serde(borrow)]
    pub name: &'a RawValue,
    #[serde(rename = "type", borrow)]
    pub kind: &'a RawValue,
    #[serde(borrow)]
    pub make: &'a RawValue,
    #[serde(borrow)]
    pub model: &'a RawValue,
    #[serde(borrow)]
    pub serial: &'a RawValue,
    #[serde(borrow)]
    pub imei: &'a RawValue,
    #[serde(borrow)]
    pub os: &'a RawValue,
    #[serde(deserialize_with = "json_text::raw")]
    pub specs: Box<RawValue>,
    #[serde(borrow)]
    pub health_score: &'a RawValue,
    #[serde(borrow)]
    pub last_scan_at: &'a RawValue,
    #[serde(borrow)]
    pub created_at: &'a RawValue,
}

pub const DEVICE_COLUMNS: &str = "id, workspace_id, owner_id, name, type, make, model, serial, imei, os, specs, \
                       health_score, last_scan_at, created_at";

/// The device if the actor may see it; 404 otherwise.
pub async fn visible_device(call: &Call, actor: &Caller, id: &str) -> ApiResult<Device> {
    let device: Option<Device> = call
        .sql()?
        .first(
            &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1 AND workspace_id = ?2 AND deleted_at IS NULL"),
            &[id.into(), actor.workspace.as_str().into()],
        )
        .await?;
    actor.visible(device, format_args!("device {id}"))
}

impl Owned for Device {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.owner_id)
    }
}

const PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A page size from `?limit=`: 1 to 200, 50 when absent.
pub fn page_limit(raw: Option<&str>) -> ApiResult<u32> {
    match raw.map(str::parse::<u32>) {
        None => Ok(PAGE),
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_field("limit", "limit is a number from 1 to 200")),
    }
}

// --- tickets

#[derive(Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub workspace_id: String,
    pub number: i64,
    pub customer_id: String,
    pub device_id: Option<String>,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub assignee_id: Option<String>,
    pub due_at: Option<String>,
    pub quote_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub const TICKET_COLUMNS: &str =
    "id, workspace_id, number, customer_id, device_id, title, description, status, priority, \
                       assignee_id, due_at, quote_id, created_at, updated_at";

/// The ticket if the actor may see it; 404 otherwise (never 403: a customer must not
/// learn that another's ticket exists).
pub async fn visible_ticket(call: &Call, actor: &Caller, id: &str) -> ApiResult<Ticket> {
    let ticket: Option<Ticket> = call
        .sql()?
        .first(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), actor.workspace.as_str().into()],
        )
        .await?;
    actor.visible(ticket, format_args!("ticket {id}"))
}

impl Owned for Ticket {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

pub async fn load_ticket(call: &Call, id: &str) -> ApiResult<Ticket> {
    call.sql()?
        .first(&format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"), &[id.into()])
        .await?
        .ok_or_else(|| ApiError::not_found(format!("ticket {id}")))
}

// --- memberships and sessions

#[derive(Deserialize)]
struct RoleRow {
    role: String,
}

pub async fn role_in(call: &Call, workspace: &str, user: &str) -> ApiResult<Option<Role>> {
    let row: Option<RoleRow> = call
        .sql()?
        .first(
            "SELECT role FROM memberships WHERE workspace_id = ?1 AND user_id = ?2",
            &[workspace.into(), user.into()],
        )
        .await?;
    Ok(row.and_then(|r| Role::parse(&r.role)))
}

#[derive(Deserialize)]
struct MemberRow {
    role: String,
    disabled_at: Option<String>,
}

/// A member's role in a workspace and whether that workspace disabled them.
pub async fn membership(call: &Call, workspace: &str, user: &str) -> ApiResult<Option<(Role, bool)>> {
    let row: Option<MemberRow> = call
        .sql()?
        .first(
            "SELECT role, disabled_at FROM memberships WHERE workspace_id = ?1 AND user_id = ?2",
            &[workspace.into(), user.into()],
        )
        .await?;
    Ok(row.and_then(|r| Role::parse(&r.role).map(|role| (role, r.disabled_at.is_some()))))
}

/// Revokes a session everywhere: in D1 (no more refreshes) and at the gate (its access
/// tokens stop working now, not at expiry).
pub async fn revoke_session(call: &Call, user: &str, session: &str, reason: &str) -> ApiResult<()> {
    let now = now_secs();
    call.sql()?
        .run(
            "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            &[session.into(), (now as f64).into(), reason.into()],
        )
        .await?;
    let until_ms = ((now + auth::ACCESS_TTL_SECS + 60) * 1000) as u64;
    gate::post(&call.env, user, "revoke", &serde_json::json!({ "sid": session, "until_ms": until_ms })).await?;
    Ok(())
}

// --- API keys

#[derive(Deserialize)]
struct CreatedKey {
    id: String,
    workspace_id: String,
    key_hash: String,
    scopes: String,
    rate_limit: i64,
    expires_at: Option<i64>,
}

/// A key never holds more than its creator does now. When a creator's rights shrink —
/// demoted (`keep` = the scopes of the new role), disabled in the workspace or erased
/// (`keep` empty) — each of their live keys there is cut down to the scopes the creator
/// still holds, or revoked when none is left; at the key's gate first, so the very next
/// request with it already sees the change. `workspace` `None`: every workspace.
pub async fn follow_creator(call: &Call, creator: &str, workspace: Option<&str>, keep: &[String]) -> ApiResult<()> {
    let keys: Vec<CreatedKey> = call
        .sql()?
        .all(
            "SELECT id, workspace_id, key_hash, scopes, rate_limit, expires_at FROM api_keys
             WHERE created_by = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR workspace_id = ?2)",
            &[creator.into(), opt(workspace)],
        )
        .await?;
    for key in keys {
        let scopes: Vec<String> = serde_json::from_str(&key.scopes).unwrap_or_default();
        let left: Vec<String> = scopes.iter().filter(|s| keep.contains(s)).cloned().collect();
        if left.len() == scopes.len() {
            continue;
        }
        let gate_name = format!("key:{}", key.id);
        if left.is_empty() {
            gate::post_to(&call.env, &gate_name, "key/revoke", &serde_json::json!({})).await?;
            call.sql()?
                .run(
                    "UPDATE api_keys SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
                    &[key.id.as_str().into(), time::now_rfc3339().into(), "creator-rights".into()],
                )
                .await?;
            let detail = r#"{"reason":"its creator no longer holds any of its scopes"}"#;
            audit_log::record(
                call,
                "api_key.revoked",
                Some(creator),
                Some(&key.workspace_id),
                Some(&key.id),
                None,
                detail,
            )
            .await?;
            continue;
        }
        let record = serde_json::json!({ "key": {
            "hash": key.key_hash, "workspace_id": key.workspace_id, "scopes": left,
            "limit": key.rate_limit, "expires_at": key.expires_at, "revoked": false,
        }});
        gate::post_to(&call.env, &gate_name, "key/put", &record).await?;
        let left_json = serde_json::to_string(&left).unwrap_or_else(|_| "[]".into());
        call.sql()?
            .run("UPDATE api_keys SET scopes = ?2 WHERE id = ?1", &[key.id.as_str().into(), left_json.as_str().into()])
            .await?;
        let detail = serde_json::json!({ "reason": "its creator's rights shrank", "scopes": left }).to_string();
        audit_log::record(
            call,
            "api_key.narrowed",
            Some(creator),
            Some(&key.workspace_id),
            Some(&key.id),
            None,
            &detail,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each column's key first appears in `value` as JSON, in the list's order.
    fn key_positions<T: Serialize>(value: &T, columns: &str) -> (Vec<usize>, usize) {
        let text = serde_json::to_string(value).expect("serialises");
        let fields = serde_json::to_value(value).expect("a value").as_object().map_or(0, |o| o.len());
        let positions = columns
            .split(',')
            .map(str::trim)
            .map(|c| text.find(&format!("\"{c}\":")).expect("column is a field"))
            .collect();
        (positions, fields)
    }

    /// Lists read as arrays of cells (`Db::rows_json`) are parsed into these structs in
    /// field order: each column list must name every field, in the struct's order.
    #[test]
    fn column_lists_follow_the_structs_field_order() {
        let ticket = Ticket {
            id: "t".into(),
            workspace_id: "w".into(),
            number: 1,
            customer_id: "c".into(),
            device_id: None,
            title: "x".into(),
            description: String::new(),
            status: "INTAKE".into(),
            priority: "normal".into(),
            assignee_id: None,
            due_at: None,
            quote_id: None,
            created_at: "a".into(),
            updated_at: "b".into(),
        };
        let device = Device {
            id: "d".into(),
            workspace_id: "w".into(),
            owner_id: "o".into(),
            name: "n".into(),
            kind: "laptop".into(),
            make: None,
            model: None,
            serial: None,
            imei: None,
            os: None,
            specs: serde_json::json!({}),
            health_score: None,
            last_scan_at: None,
            created_at: "a".into(),
        };
        for (positions, fields, columns) in [
            (key_positions(&ticket, TICKET_COLUMNS), TICKET_COLUMNS),
            (key_positions(&device, DEVICE_COLUMNS), DEVICE_COLUMNS),
        ]
        .map(|((p, f), c)| (p, f, c))
        {
            assert_eq!(positions.len(), fields, "{columns}: one column per field");
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{columns}: not in field order");
        }
    }
}
