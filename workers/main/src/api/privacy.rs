//! Your data (GDPR): `GET /api/v1/users/me/export` gives everything held about the
//! signed-in person as one JSON document; `DELETE /api/v1/users/me {confirm: <email>}`
//! erases it.
//!
//! Erasure removes what identifies the person (email, name, preferences, devices'
//! identifiers, memberships), ends every session at once, and keeps only what the shop
//! must keep (tickets, invoices, the audit chain) under the now anonymous user id. An
//! owner must hand the workspace on first.

use noizylab_core::auth::Role;
use noizylab_kit::call::now_secs;
use noizylab_kit::db::int;
use noizylab_kit::{gate, http, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::Value;
use worker::{Request, Response};

use crate::audit_log as audit;
use noizylab_kit::caller::Caller;

/// What the export holds: a section name and the query that fills it (`?1` = user id).
/// Secrets (token and key hashes) are never selected.
const SECTIONS: &[(&str, &str)] = &[
    ("profile", "SELECT id, email, name, created_at, last_login_at, preferences FROM users WHERE id = ?1"),
    ("memberships", "SELECT workspace_id, role, created_at FROM memberships WHERE user_id = ?1"),
    (
        "sessions",
        "SELECT id, workspace_id, created_at, expires_at, revoked_at, revoked_reason FROM sessions WHERE user_id = ?1
         ORDER BY created_at",
    ),
    (
        "devices",
        "SELECT id, workspace_id, name, type, make, model, serial, imei, os, specs, health_score, last_scan_at,
                created_at, deleted_at FROM devices WHERE owner_id = ?1 ORDER BY created_at",
    ),
    (
        "device_scans",
        "SELECT s.id, s.device_id, s.status, s.created_at, s.completed_at FROM device_scans s
         JOIN devices d ON d.id = s.device_id WHERE d.owner_id = ?1 ORDER BY s.created_at",
    ),
    (
        "tickets",
        "SELECT id, workspace_id, number, device_id, title, description, status, priority, due_at, quote_id,
                created_at, updated_at FROM tickets WHERE customer_id = ?1 ORDER BY created_at",
    ),
    (
        "ticket_timeline",
        "SELECT e.ticket_id, e.at, e.actor_id, e.kind, e.from_status, e.to_status, e.body FROM ticket_timeline e
         JOIN tickets t ON t.id = e.ticket_id WHERE t.customer_id = ?1 AND e.visibility = 'customer' ORDER BY e.seq",
    ),
    (
        "ticket_attachments",
        "SELECT a.id, a.ticket_id, a.filename, a.content_type, a.size, a.created_at FROM ticket_attachments a
         JOIN tickets t ON t.id = a.ticket_id WHERE t.customer_id = ?1 AND a.visibility = 'customer'",
    ),
    (
        "api_keys_created",
        "SELECT id, workspace_id, name, scopes, created_at, revoked_at FROM api_keys WHERE created_by = ?1",
    ),
    (
        "audit_entries",
        "SELECT seq, at, action, workspace_id, target, ip, request_id FROM audit_log
         WHERE actor = ?1 OR target = ?1 ORDER BY seq",
    ),
];

/// `GET /api/v1/users/me/export`: a JSON document to download.
pub async fn export(call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let (user, ws) = (who.id.as_str(), who.workspace.as_str());
    let db = call.sql()?;
    let mut doc = serde_json::Map::new();
    doc.insert("exported_at".into(), time::now_rfc3339().into());
    doc.insert("user_id".into(), user.into());
    for (name, sql) in SECTIONS {
        let rows: Vec<Value> = db.all(sql, &[user.into()]).await?;
        doc.insert((*name).into(), Value::Array(rows));
    }
    audit::record(call, "user.exported", Some(user), Some(ws), Some(user), None, "{}").await?;
    let mut resp = http::ok(&doc)?;
    resp.headers_mut()
        .set("content-disposition", "attachment; filename=\"noizylab-export.json\"")
        .or_internal("header")?;
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Confirm {
    /// The account's email address, typed again.
    confirm: String,
}

#[derive(Deserialize)]
struct Owned {
    workspace_id: String,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    auth_epoch: i64,
}

/// `DELETE /api/v1/users/me {confirm}`: 204, and every token of the account stops working.
pub async fn erase(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::signed_in(call).await?;
    let (user, ws) = (who.id.as_str(), who.workspace.as_str());
    let body: Confirm = http::read_json(&mut req).await?;
    let db = call.sql()?;
    let me: Email = db
        .first("SELECT email, auth_epoch FROM users WHERE id = ?1", &[user.into()])
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !body.confirm.trim().eq_ignore_ascii_case(&me.email) {
        return Err(ApiError::invalid_field("confirm", "type your account's email address to confirm"));
    }
    let owned: Vec<Owned> = db
        .all(
            "SELECT workspace_id FROM memberships WHERE user_id = ?1 AND role = ?2",
            &[user.into(), Role::Owner.as_str().into()],
        )
        .await?;
    if let Some(o) = owned.first() {
        return Err(ApiError::Conflict(format!(
            "you own workspace {}; make someone else its owner before deleting your account",
            o.workspace_id
        )));
    }
    let now = time::now_rfc3339();
    let epoch = me.auth_epoch + 1;
    let tombstone = format!("deleted-{user}@deleted.invalid");
    db.batch(vec![
        db.statement(
            "UPDATE users SET email = ?2, name = NULL, phone = NULL, preferences = '{}', disabled_at = ?3,
                    auth_epoch = ?4
             WHERE id = ?1",
            &[user.into(), tombstone.as_str().into(), now.as_str().into(), int(epoch)],
        )?,
        db.statement(
            "UPDATE devices SET name = 'deleted', make = NULL, model = NULL, serial = NULL, imei = NULL, os = NULL,
                    specs = '{}', deleted_at = COALESCE(deleted_at, ?2) WHERE owner_id = ?1",
            &[user.into(), now.as_str().into()],
        )?,
        db.statement("DELETE FROM memberships WHERE user_id = ?1", &[user.into()])?,
        db.statement("DELETE FROM magic_links WHERE email = ?1", &[me.email.as_str().into()])?,
        db.statement(
            "UPDATE sessions SET revoked_at = ?2, revoked_reason = 'account_deleted'
             WHERE user_id = ?1 AND revoked_at IS NULL",
            &[user.into(), int(now_secs())],
        )?,
        db.statement("DELETE FROM idempotency_keys WHERE actor = ?1", &[user.into()])?,
        db.statement("DELETE FROM push_subscriptions WHERE user_id = ?1", &[user.into()])?,
        // What they wrote in chats is gone, and what the agent said to them (it greets them
        // by name and quotes their repairs); the shop keeps that a conversation took place
        // and what its staff wrote.
        db.statement(
            "UPDATE chat_messages SET text = '(deleted)', intent = NULL,
                    sender_name = CASE WHEN sender_id = ?1 THEN 'deleted' ELSE sender_name END
              WHERE sender_id = ?1
                 OR (role = 'agent' AND conversation_id IN (SELECT id FROM chat_conversations WHERE customer_id = ?1))",
            &[user.into()],
        )?,
        db.statement("UPDATE chat_conversations SET escalation_reason = NULL WHERE customer_id = ?1", &[user.into()])?,
    ])
    .await?;
    gate::post(&call.env, user, "epoch", &serde_json::json!({ "min_epoch": epoch })).await?;
    // Their keys go with them, and every socket they still hold closes now.
    crate::store::follow_creator(call, user, None, &[]).await?;
    crate::live::kick_user(call, user, "account deleted").await?;
    call.cache()?.delete(&format!("user:prefs:{user}")).await.or_internal("kv delete")?;
    audit::record(call, "user.deleted", Some(user), Some(ws), Some(user), None, "{}").await?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
