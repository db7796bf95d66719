//! A person's open sockets follow their session and rights. Every room ticket minted for
//! someone is recorded (`live_grants`: who, which object class, which room); when that
//! person signs out, is disabled, changes role or erases the account, every room they were
//! let into closes their sockets at once (code 4001: mint a new ticket to come back, with
//! the rights they have now). Chat sessions belong to `chat-agent`; `main` reaches them
//! through its `CHAT_SESSION` binding to that worker's class.

use noizylab_core::bindings;
use noizylab_kit::call::now_secs;
use noizylab_kit::db::int;
use noizylab_kit::{ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::json;

/// Grants older than this are dropped: twice the longest a room keeps a socket open on its
/// ticket (`MAX_SOCKET_AGE_MS`), so every socket still open has its grant.
const GRANT_TTL_SECS: i64 = 2 * (noizylab_kit::room::MAX_SOCKET_AGE_MS / 1000) as i64;

/// Records that `user` was given a ticket into `room` of `class` (`TicketRoom`,
/// `RepairSession` or `ChatSession`).
pub async fn grant(call: &Call, user: &str, class: &str, room: &str) -> ApiResult<()> {
    let db = call.sql()?;
    let now = now_secs();
    db.batch(vec![
        db.statement(
            "INSERT INTO live_grants (user_id, class, room, minted_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id, class, room) DO UPDATE SET minted_at = ?4",
            &[user.into(), class.into(), room.into(), int(now)],
        )?,
        db.statement("DELETE FROM live_grants WHERE minted_at < ?1", &[int(now - GRANT_TTL_SECS)])?,
    ])
    .await
}

#[derive(Deserialize)]
struct Grant {
    class: String,
    room: String,
}

/// Closes every socket `user` has open in any room, now. A room that cannot be reached is
/// an error: the change that called this must not look done while a socket still listens.
pub async fn kick_user(call: &Call, user: &str, reason: &str) -> ApiResult<()> {
    let grants: Vec<Grant> =
        call.sql()?.all("SELECT class, room FROM live_grants WHERE user_id = ?1", &[user.into()]).await?;
    let body = json!({ "user_id": user, "reason": reason });
    let mut kicks = Vec::new();
    for g in &grants {
        let binding = match g.class.as_str() {
            "TicketRoom" => bindings::TICKET_ROOM,
            "RepairSession" => bindings::REPAIR_SESSION,
            "ChatSession" => bindings::CHAT_SESSION,
            _ => continue,
        };
        let stub = call.object(binding)?.id_from_name(&g.room).and_then(|id| id.get_stub()).or_internal("room stub")?;
        let body = &body;
        kicks.push(async move { noizylab_kit::room::post(&stub, "kick", body).await.map(drop) });
    }
    // Every room at once: a technician may have been in many.
    futures_util::future::join_all(kicks).await.into_iter().collect()
}
