//! A hibernating, sequenced, access-aware room: the heart of every real-time Durable
//! Object (ticket rooms now; repair sessions, chat sessions and annotation rooms build on
//! it).
//!
//! - **Who may enter.** A socket is accepted only with a single-use room ticket minted
//!   by the owning worker for a verified caller (`POST /ticket` on the object: the
//!   ticket's SHA-256, the member, an expiry ≤ 60 s). The object redeems it once, in its
//!   own strongly consistent storage. The member (id, name, staff or not) rides in the
//!   socket's attachment and survives hibernation.
//! - **Who sees what.** Every frame is `internal` (staff only) or `customer` (everyone).
//!   A customer's socket is never sent an internal frame, live or replayed.
//! - **Nothing lost.** Persistent frames are written to the object's SQLite storage with a
//!   sequence number before they are broadcast. `?since=<last seq seen>` replays exactly
//!   what the member missed (that they may see), then `hello`. Storage survives eviction.
//! - **Hibernation.** Idle rooms are evicted from memory and cost nothing.
//! - **Limits.** A frame over 16 KiB is refused unread; each socket has a token bucket
//!   (a burst of 20, then 2 a second): over it a frame is answered `slow down`, and a socket
//!   that keeps flooding is closed with 1008. A socket is trusted on its ticket for a day.
//! - **Access follows the person.** `POST /kick {user_id, reason}` (the owning worker, when
//!   someone signs out, is disabled, changes role or is erased) closes that person's sockets
//!   with 4001 and voids their unused tickets: the client mints a new ticket to come back,
//!   with the rights it has now.
//!
//! Frames (JSON text), client → room:
//! `{"type":"note","text"}` (staff: internal), `{"type":"message","text"}` (customer-visible),
//! `{"type":"checklist","item","done"}` (staff), `{"type":"typing","on"}`,
//! `{"type":"presence","step"}` (what the member is on), `{"type":"ping"}`.
//! Room → client: the persisted kinds `note`, `message`, `checklist`, `status`,
//! `progress`, `event` as `{"type","seq","at","from","visibility",…data}`; and
//! `{"type":"hello","room","last_seq","replayed","you"}`,
//! `{"type":"presence","members":[{"id","name","staff","step"}]}`,
//! `{"type":"typing","from","on"}`, `{"type":"pong"}`, `{"type":"error","message"}`.
//! Server → room (`POST /publish {kind, visibility, from, data}`): persisted and broadcast.
//!
//! A room may also admit a **device agent** (remote repair sessions) with a standing
//! credential minted once (`POST /standing`): it may send `{"type":"progress","percent",
//! "message"}` and `{"type":"result","action_id","ok","output"}`, both customer-visible.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use noizylab_core::auth::{constant_time_eq, sha256_hex};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    Request, Response, ResponseBuilder, SqlStorage, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

const MAX_TEXT_CHARS: usize = 4000;
/// The largest frame a member may send; bigger ones are refused unread.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Frames per socket: a burst of this many, refilled at [`FRAMES_PER_SEC`].
const FRAME_BURST: f64 = 20.0;
const FRAMES_PER_SEC: f64 = 2.0;
/// Refused frames (over the rate) after which a socket is closed (1008).
const MAX_REFUSED: u32 = 40;
/// The close code telling a client its access changed: mint a new room ticket to return.
pub const CLOSE_ACCESS_CHANGED: u16 = 4001;
/// The longest a socket is trusted on its ticket: an older one is closed (4001) at its next
/// frame in or out, so that what a person was let in as is checked again at least daily.
/// (The owning worker remembers where it let someone in for longer than this: see main's
/// `live` module.)
pub const MAX_SOCKET_AGE_MS: u64 = 24 * 60 * 60 * 1000;
/// The frames a reconnect missed, oldest first: at most 1,000 (older ones stay in
/// storage). The limit is written into the statement, not bound (see `noizylab_kit::db`).
const REPLAY: &str = "SELECT seq, at, sender, kind, visibility, body FROM frames
                      WHERE seq > ? AND (? = 1 OR visibility = 'customer') ORDER BY seq LIMIT 1000";
/// Longest a room ticket may live.
pub const TICKET_TTL_MS: u64 = 60_000;

/// Who a socket belongs to.
#[derive(Clone, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub staff: bool,
    #[serde(default)]
    pub step: Option<String>,
    /// A device agent rather than a person.
    #[serde(default)]
    pub agent: bool,
    /// This socket's own key (set when it connects), for its frame quota.
    #[serde(default)]
    pub socket: Option<String>,
    /// When this socket was accepted (ms since the epoch); 0 for a ticket not yet redeemed.
    #[serde(default)]
    pub since_ms: u64,
}

impl Member {
    /// Whether this socket has outlived [`MAX_SOCKET_AGE_MS`].
    fn stale(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.since_ms) > MAX_SOCKET_AGE_MS
    }
}

/// A socket's frame quota: a token bucket, and how many frames it had refused.
struct Quota {
    tokens: f64,
    at_ms: u64,
    refused: u32,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Note {
        text: String,
    },
    Message {
        text: String,
    },
    Checklist {
        item: String,
        done: bool,
    },
    Typing {
        on: bool,
    },
    Presence {
        step: Option<String>,
    },
    Progress {
        percent: Option<u8>,
        message: String,
    },
    #[serde(rename = "result")]
    ActionResult {
        action_id: String,
        ok: bool,
        #[serde(default)]
        output: Option<String>,
    },
    Ping,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    seq: i64,
    at: String,
    sender: String,
    kind: String,
    visibility: String,
    body: String,
}

#[derive(Deserialize)]
struct LastSeq {
    seq: Option<i64>,
}

/// `POST /ticket` on the object: a room ticket minted by the owning worker.
#[derive(Deserialize)]
pub struct Mint {
    pub hash: String,
    pub member: Member,
    pub expires_ms: u64,
}

/// `POST /publish` on the object: a frame from the platform (a status change, progress).
#[derive(Deserialize)]
pub struct Publish {
    pub kind: String,
    pub visibility: String,
    pub from: String,
    pub data: Value,
}

#[derive(Deserialize)]
struct TicketRow {
    hash: String,
    member: String,
    expires_ms: i64,
}

pub struct Room {
    state: State,
    schema_ready: Cell<bool>,
    /// Per-socket frame quotas, in memory: an evicted room starts everyone afresh.
    quotas: RefCell<HashMap<String, Quota>>,
    /// Each socket with its member as its attachment says, read once and kept until a
    /// socket comes, goes or changes: reading every attachment across the JS boundary on
    /// every broadcast was most of a broadcast's work in a full room. A woken object
    /// starts with none and reads them again.
    members: RefCell<Option<Vec<(WebSocket, Member)>>>,
}

/// Hands a client's WebSocket upgrade (with its query: `ticket`, `since`) to the room
/// object behind `stub`, as `/connect?room=<room>`. 400 without `Upgrade: websocket`.
pub async fn forward_upgrade(stub: &worker::Stub, req: &Request, room: &str) -> crate::ApiResult<Response> {
    use crate::OrInternal;
    let upgrade = req.headers().get("upgrade").ok().flatten();
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(crate::ApiError::bad_request("this route is a WebSocket: connect with Upgrade: websocket"));
    }
    let query = req.url().or_internal("url")?.query().map(|q| format!("&{q}")).unwrap_or_default();
    let headers = worker::Headers::new();
    headers.set("upgrade", "websocket").or_internal("header")?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Get).with_headers(headers);
    let forward = Request::new_with_init(&format!("https://room/connect?room={room}{query}"), &init)
        .or_internal("room request")?;
    stub.fetch_with_request(forward).await.or_internal("room")
}

/// `POST`s JSON to a room object's own route (`ticket`, `publish`, `init`, …) and returns
/// its answer; an error status from the object is an internal error.
pub async fn post(stub: &worker::Stub, action: &str, body: &Value) -> crate::ApiResult<Response> {
    use crate::OrInternal;
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json").or_internal("header")?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let req = Request::new_with_init(&format!("https://room/{action}"), &init).or_internal("room request")?;
    let resp = stub.fetch_with_request(req).await.or_internal("room")?;
    if resp.status_code() >= 400 {
        return Err(crate::ApiError::internal(format!("room {action} answered {}", resp.status_code())));
    }
    Ok(resp)
}

/// A frame for many sockets, its text made a JS string once: `WebSocket::send_with_str`
/// would decode the same UTF-8 into a new JS string for every socket.
struct Outgoing(js_sys::JsString);

impl Outgoing {
    fn new(text: &str) -> Outgoing {
        Outgoing(js_sys::JsString::from(text))
    }

    /// A peer that went away mid-broadcast is cleaned up by its close event.
    fn send(&self, ws: &WebSocket) {
        use wasm_bindgen::JsCast;
        let _ = ws.as_ref().unchecked_ref::<socket::Socket>().send(&self.0);
    }
}

/// The runtime's `WebSocket.send`, taking a JS string as it is.
mod socket {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen]
    extern "C" {
        /// A `WebSocket` seen only for this one method.
        pub type Socket;
        #[wasm_bindgen(method, catch, js_name = send)]
        pub fn send(this: &Socket, text: &js_sys::JsString) -> Result<(), wasm_bindgen::JsValue>;
    }
}

fn send_json(ws: &WebSocket, frame: &Value) -> worker::Result<()> {
    ws.send_with_str(frame.to_string())
}

fn error_frame(ws: &WebSocket, message: &str) -> worker::Result<()> {
    send_json(ws, &json!({ "type": "error", "message": message }))
}

fn refuse(status: u16, code: &str, message: &str) -> worker::Result<Response> {
    let body = json!({ "error": { "code": code, "message": message } });
    Ok(Response::from_json(&body)?.with_status(status))
}

/// The member a socket belongs to (kept in its attachment, so it survives hibernation).
pub fn member_of(ws: &WebSocket) -> Option<Member> {
    ws.deserialize_attachment::<Member>().ok().flatten()
}

/// Whether `text` is a note or message the room takes: 1–4000 characters once trimmed.
pub fn text_ok(text: &str) -> bool {
    let n = text.trim().chars().count();
    (1..=MAX_TEXT_CHARS).contains(&n)
}

impl Stored {
    fn frame(&self) -> Value {
        let mut frame = serde_json::from_str::<Value>(&self.body).unwrap_or_else(|_| json!({}));
        if !frame.is_object() {
            frame = json!({ "data": frame });
        }
        frame["type"] = self.kind.as_str().into();
        frame["seq"] = self.seq.into();
        frame["at"] = self.at.as_str().into();
        frame["from"] = self.sender.as_str().into();
        frame["visibility"] = self.visibility.as_str().into();
        frame
    }

    fn visible_to(&self, member: &Member) -> bool {
        member.staff || self.visibility == "customer"
    }
}

impl Room {
    pub fn new(state: State) -> Self {
        Room {
            state,
            schema_ready: Cell::new(false),
            quotas: RefCell::new(HashMap::new()),
            members: RefCell::new(None),
        }
    }

    /// The object's key-value storage, for what its owner keeps beside the room.
    pub fn storage(&self) -> worker::Storage {
        self.state.storage()
    }

    fn sql(&self) -> worker::Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS frames (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    visibility TEXT NOT NULL CHECK (visibility IN ('internal', 'customer')),
                    body TEXT NOT NULL
                )",
                None,
            )?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, member TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
                None,
            )?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS standing (hash TEXT PRIMARY KEY, member TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
                None,
            )?;
            self.schema_ready.set(true);
        }
        Ok(sql)
    }

    fn last_seq(&self) -> worker::Result<i64> {
        let row: LastSeq = self.sql()?.exec("SELECT MAX(seq) AS seq FROM frames", None)?.one()?;
        Ok(row.seq.unwrap_or(0))
    }

    /// Stores a room ticket the owning worker minted for a verified member.
    pub fn mint(&self, mint: Mint) -> worker::Result<Response> {
        let now = crate::time::now_millis();
        let sql = self.sql()?;
        sql.exec("DELETE FROM tickets WHERE expires_ms < ?", vec![(now as i64).into()])?;
        let expires = mint.expires_ms.min(now + TICKET_TTL_MS);
        let member = serde_json::to_string(&mint.member).map_err(|e| worker::Error::RustError(e.to_string()))?;
        sql.exec(
            "INSERT INTO tickets (hash, member, expires_ms) VALUES (?, ?, ?)",
            vec![mint.hash.into(), member.into(), (expires as i64).into()],
        )?;
        Response::empty().map(|r| r.with_status(204))
    }

    /// Stores a standing credential (a device agent's token): usable until it expires or
    /// the room is closed, for reconnects.
    pub fn mint_standing(&self, mint: Mint) -> worker::Result<Response> {
        let member = serde_json::to_string(&mint.member).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.sql()?.exec(
            "INSERT INTO standing (hash, member, expires_ms) VALUES (?, ?, ?)",
            vec![mint.hash.into(), member.into(), (mint.expires_ms as i64).into()],
        )?;
        Response::empty().map(|r| r.with_status(204))
    }

    /// Ends the room: standing credentials are dropped and every socket is closed.
    pub fn close_all(&self, reason: &str) -> worker::Result<()> {
        self.sql()?.exec("DELETE FROM standing", None)?;
        self.sql()?.exec("DELETE FROM tickets", None)?;
        for ws in self.state.get_websockets() {
            let _ = ws.close(Some(1000), Some(reason));
        }
        self.forget_members();
        Ok(())
    }

    /// Every stored frame, oldest first (for reports).
    pub fn transcript(&self) -> worker::Result<Response> {
        let rows: Vec<Stored> = self
            .sql()?
            .exec("SELECT seq, at, sender, kind, visibility, body FROM frames ORDER BY seq", None)?
            .to_array()?;
        let frames: Vec<Value> = rows.iter().map(Stored::frame).collect();
        Response::from_json(&json!({ "frames": frames }))
    }

    /// Whether a device agent is connected.
    pub fn agent_connected(&self) -> bool {
        self.state.get_websockets().iter().filter_map(member_of).any(|m| m.agent)
    }

    /// The device agent a standing credential names, if it is one and has not expired:
    /// for the agent's HTTP calls beside its socket (nothing is used up).
    pub fn agent_of(&self, token: &str) -> worker::Result<Option<Member>> {
        let hash = sha256_hex(token.as_bytes());
        let rows: Vec<TicketRow> = self
            .sql()?
            .exec("SELECT hash, member, expires_ms FROM standing WHERE hash = ?", vec![hash.as_str().into()])?
            .to_array()?;
        let Some(row) = rows.into_iter().find(|r| constant_time_eq(r.hash.as_bytes(), hash.as_bytes())) else {
            return Ok(None);
        };
        if row.expires_ms < crate::time::now_millis() as i64 {
            return Ok(None);
        }
        Ok(serde_json::from_str::<Member>(&row.member).ok().filter(|m| m.agent))
    }

    /// Redeems a room ticket (once) or a standing credential: the member it names.
    fn redeem(&self, ticket: &str) -> worker::Result<Option<Member>> {
        let hash = sha256_hex(ticket.as_bytes());
        let sql = self.sql()?;
        let standing: Vec<TicketRow> = sql
            .exec("SELECT hash, member, expires_ms FROM standing WHERE hash = ?", vec![hash.as_str().into()])?
            .to_array()?;
        if let Some(row) = standing.into_iter().find(|r| constant_time_eq(r.hash.as_bytes(), hash.as_bytes())) {
            if row.expires_ms < crate::time::now_millis() as i64 {
                return Ok(None);
            }
            return Ok(serde_json::from_str(&row.member).ok());
        }
        let rows: Vec<TicketRow> = sql
            .exec("SELECT hash, member, expires_ms FROM tickets WHERE hash = ?", vec![hash.as_str().into()])?
            .to_array()?;
        let Some(row) = rows.into_iter().find(|r| constant_time_eq(r.hash.as_bytes(), hash.as_bytes())) else {
            return Ok(None);
        };
        sql.exec("DELETE FROM tickets WHERE hash = ?", vec![hash.as_str().into()])?;
        if row.expires_ms < crate::time::now_millis() as i64 {
            return Ok(None);
        }
        Ok(serde_json::from_str(&row.member).ok())
    }

    /// Accepts a WebSocket upgrade for `room` with `?ticket=<room ticket>` and optionally
    /// `?since=<seq>`. A missing, used or expired ticket is 401 before any upgrade.
    pub fn connect(&self, req: &Request, room: &str) -> worker::Result<Response> {
        let is_upgrade = req.headers().get("upgrade")?.is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !is_upgrade {
            return refuse(400, "bad_request", "connect with a WebSocket upgrade (Upgrade: websocket)");
        }
        let url = req.url()?;
        let mut since: Option<i64> = None;
        let mut ticket = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "since" => match value.parse::<i64>() {
                    Ok(n) if n >= 0 => since = Some(n),
                    _ => return refuse(400, "bad_request", "since must be a non-negative sequence number"),
                },
                "ticket" => ticket = Some(value.into_owned()),
                _ => {}
            }
        }
        let Some(ticket) = ticket else {
            return refuse(401, "unauthenticated", "a room needs ?ticket=: mint one with POST …/live/ticket");
        };
        let Some(member) = self.redeem(&ticket)? else {
            return refuse(401, "unauthenticated", "this room ticket is unknown, used or expired; mint a new one");
        };
        let mut member = member;
        member.since_ms = crate::time::now_millis();
        member.socket = Some(sha256_hex(format!("{ticket}:{}", member.since_ms).as_bytes()));
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(&member)?;
        self.forget_members();
        let replayed = match since {
            Some(since) => self.replay(&pair.server, &member, since)?,
            None => 0,
        };
        let you = json!({ "id": member.id, "name": member.name, "staff": member.staff });
        let hello =
            json!({ "type": "hello", "room": room, "last_seq": self.last_seq()?, "replayed": replayed, "you": you });
        send_json(&pair.server, &hello)?;
        self.broadcast_presence(None)?;
        Ok(ResponseBuilder::new().with_status(101).with_websocket(pair.client).empty())
    }

    fn replay(&self, ws: &WebSocket, member: &Member, since: i64) -> worker::Result<usize> {
        let rows: Vec<Stored> =
            self.sql()?.exec(REPLAY, vec![since.into(), i64::from(member.staff).into()])?.to_array()?;
        for row in &rows {
            send_json(ws, &row.frame())?;
        }
        Ok(rows.len())
    }

    /// Persists a frame, then sends it to every member allowed to see it.
    pub fn append(&self, kind: &str, visibility: &str, from: &str, body: &Value) -> worker::Result<i64> {
        if visibility != "internal" && visibility != "customer" {
            return Err(worker::Error::RustError(format!("visibility {visibility}")));
        }
        let at = crate::time::now_rfc3339();
        let stored: Stored = self
            .sql()?
            .exec(
                "INSERT INTO frames (at, sender, kind, visibility, body) VALUES (?, ?, ?, ?, ?)
                 RETURNING seq, at, sender, kind, visibility, body",
                vec![at.into(), from.into(), kind.into(), visibility.into(), body.to_string().into()],
            )?
            .one()?;
        let frame = Outgoing::new(&stored.frame().to_string());
        self.each_trusted(|peer, member| {
            if stored.visible_to(member) {
                frame.send(peer);
            }
        });
        Ok(stored.seq)
    }

    /// Sends a frame that is not kept (typing, say) to every member; internal-only when
    /// `staff_only`.
    pub fn signal(&self, frame: &Value, staff_only: bool) {
        let frame = Outgoing::new(&frame.to_string());
        self.each_trusted(|peer, member| {
            if !staff_only || member.staff {
                frame.send(peer);
            }
        });
    }

    /// Every socket with its member, but for those past [`MAX_SOCKET_AGE_MS`], which are
    /// closed (4001) instead: nothing more reaches a socket on a ticket that old.
    fn trusted(&self) -> Vec<(WebSocket, Member)> {
        let mut live = Vec::new();
        self.each_trusted(|ws, m| live.push((ws.clone(), m.clone())));
        live
    }

    /// [`Room::trusted`] without copying them out: `f` sees each in turn (a broadcast
    /// reaches a thousand sockets). `f` must not come back into the room's members.
    fn each_trusted(&self, mut f: impl FnMut(&WebSocket, &Member)) {
        let now = crate::time::now_millis();
        let mut cache = self.members.borrow_mut();
        let all = cache.get_or_insert_with(|| {
            self.state.get_websockets().into_iter().filter_map(|ws| member_of(&ws).map(|m| (ws, m))).collect()
        });
        let mut closed = false;
        for (ws, m) in all.iter() {
            if m.stale(now) {
                let _ = ws.close(Some(CLOSE_ACCESS_CHANGED), Some("this socket is a day old; mint a new room ticket"));
                closed = true;
            } else {
                f(ws, m);
            }
        }
        if closed {
            *cache = None;
        }
    }

    /// The sockets or their members changed: read them again next time.
    fn forget_members(&self) {
        *self.members.borrow_mut() = None;
    }

    /// `POST /publish` from the owning worker.
    pub fn publish(&self, p: Publish) -> worker::Result<Response> {
        let seq = self.append(&p.kind, &p.visibility, &p.from, &p.data)?;
        Response::from_json(&json!({ "seq": seq }))
    }

    /// Everyone here, to everyone here; a member's `step` only to staff.
    fn broadcast_presence(&self, leaving: Option<&WebSocket>) -> worker::Result<()> {
        let here: Vec<(WebSocket, Member)> =
            self.trusted().into_iter().filter(|(ws, _)| leaving.is_none_or(|l| !l.eq(ws))).collect();
        let list = |staff: bool| -> Value {
            let mut seen = std::collections::BTreeMap::new();
            for (_, m) in &here {
                let step = if staff { m.step.clone() } else { None };
                seen.insert(m.id.clone(), json!({ "id": m.id, "name": m.name, "staff": m.staff, "step": step }));
            }
            json!({ "type": "presence", "members": seen.into_values().collect::<Vec<_>>() })
        };
        let (for_staff, for_customers) =
            (Outgoing::new(&list(true).to_string()), Outgoing::new(&list(false).to_string()));
        for (ws, m) in &here {
            if m.staff { &for_staff } else { &for_customers }.send(ws);
        }
        Ok(())
    }

    /// Closes every socket of `user` here (code 4001) and drops the room tickets minted for
    /// them and not yet used: their session ended or their rights changed; a client that may
    /// still come back mints a new room ticket, with the rights it has now. How many closed.
    pub fn kick(&self, user: &str, reason: &str) -> worker::Result<usize> {
        let sql = self.sql()?;
        let pending: Vec<TicketRow> = sql.exec("SELECT hash, member, expires_ms FROM tickets", None)?.to_array()?;
        for row in pending {
            let theirs = serde_json::from_str::<Member>(&row.member).map_or(true, |m| m.id == user);
            if theirs {
                sql.exec("DELETE FROM tickets WHERE hash = ?", vec![row.hash.into()])?;
            }
        }
        let mut closed = 0;
        for ws in self.state.get_websockets() {
            let Some(mut member) = member_of(&ws).filter(|m| m.id == user) else {
                continue;
            };
            // Marked stale first: a client that ignores the close frame and keeps sending is
            // refused by `admit`, and nothing more is broadcast to it.
            member.since_ms = 0;
            let _ = ws.serialize_attachment(&member);
            self.forget_members();
            let _ = ws.close(Some(CLOSE_ACCESS_CHANGED), Some(reason));
            closed += 1;
        }
        Ok(closed)
    }

    /// Whether a member's frame may be handled: the socket's ticket is less than a day old,
    /// the frame at most [`MAX_FRAME_BYTES`] (refused before it is parsed) and within the
    /// socket's quota, a token bucket of [`FRAME_BURST`] refilled at [`FRAMES_PER_SEC`]. A
    /// refused frame is answered with an `error` frame; a socket that keeps flooding (every
    /// refusal counts, every admitted frame forgives one) is closed with 1008. Every frame a
    /// socket sends passes here first.
    pub fn admit(&self, ws: &WebSocket, message: &WebSocketIncomingMessage) -> bool {
        let now = crate::time::now_millis();
        let member = match member_of(ws) {
            Some(m) if !m.stale(now) => m,
            _ => {
                let _ = ws.close(Some(CLOSE_ACCESS_CHANGED), Some("mint a new room ticket and reconnect"));
                return false;
            }
        };
        let size = match message {
            WebSocketIncomingMessage::String(t) => t.len(),
            WebSocketIncomingMessage::Binary(b) => b.len(),
        };
        let too_large = size > MAX_FRAME_BYTES;
        let key = member.socket.clone().unwrap_or_else(|| member.id.clone());
        let mut quotas = self.quotas.borrow_mut();
        let q = quotas.entry(key.clone()).or_insert(Quota { tokens: FRAME_BURST, at_ms: now, refused: 0 });
        let elapsed = now.saturating_sub(q.at_ms) as f64 / 1000.0;
        q.tokens = (q.tokens + elapsed * FRAMES_PER_SEC).min(FRAME_BURST);
        q.at_ms = now;
        if !too_large && q.tokens >= 1.0 {
            q.tokens -= 1.0;
            q.refused = q.refused.saturating_sub(1);
            return true;
        }
        q.refused += 1;
        if q.refused > MAX_REFUSED {
            // Closed already: frames still on their way stay refused. The quota is kept until
            // the socket's close event; starting it afresh here would admit another burst.
        } else if q.refused == MAX_REFUSED {
            // Marked stale too, so that nothing it still sends is admitted, quota or not.
            let _ = ws.serialize_attachment(&Member { since_ms: 0, ..member });
            self.forget_members();
            let _ = ws.close(Some(1008), Some("too many frames"));
        } else if too_large {
            let _ = error_frame(ws, "that frame is too large: 16 KiB at most");
        } else {
            let _ = error_frame(ws, "slow down: too many frames; wait a moment and send again");
        }
        false
    }

    /// Handles one frame from a member (within its quota: see [`Room::admit`]).
    pub fn on_message(&self, ws: &WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        if !self.admit(ws, &message) {
            return Ok(());
        }
        self.handle(ws, message)
    }

    /// Handles one admitted frame.
    pub fn handle(&self, ws: &WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            return error_frame(ws, "send JSON text frames");
        };
        let Some(mut member) = member_of(ws) else {
            return error_frame(ws, "this socket has no member; reconnect");
        };
        let frame: ClientFrame = match serde_json::from_str(&text) {
            Ok(frame) => frame,
            Err(_) => return error_frame(ws, "unknown frame; send note, message, checklist, typing, presence or ping"),
        };
        match frame {
            ClientFrame::Ping => send_json(ws, &json!({ "type": "pong" })),
            ClientFrame::Note { text } | ClientFrame::Message { text } if !text_ok(&text) => {
                error_frame(ws, "a note or message is 1 to 4000 characters")
            }
            ClientFrame::Note { .. } | ClientFrame::Checklist { .. } if !member.staff || member.agent => {
                error_frame(ws, "notes and checklists are for the shop's staff; send a message instead")
            }
            ClientFrame::Progress { .. } | ClientFrame::ActionResult { .. } if !member.agent => {
                error_frame(ws, "progress and results come from the device agent")
            }
            ClientFrame::Progress { percent, message } => {
                if !text_ok(&message) || percent.is_some_and(|p| p > 100) {
                    return error_frame(ws, "progress is a message of 1 to 4000 characters and a percent of 0 to 100");
                }
                let body = json!({ "percent": percent, "message": message.trim() });
                self.append("progress", "customer", &member.name, &body).map(|_| ())
            }
            ClientFrame::ActionResult { action_id, ok, output } => {
                let output: Option<String> = output.map(|o| o.chars().take(MAX_TEXT_CHARS).collect());
                let body = json!({ "action_id": action_id, "ok": ok, "output": output });
                self.append("result", "customer", &member.name, &body).map(|_| ())
            }
            // `staff` tells readers who the sender is, whatever name they gave themselves.
            ClientFrame::Note { text } => {
                let body = json!({ "text": text.trim(), "staff": member.staff });
                self.append("note", "internal", &member.name, &body).map(|_| ())
            }
            ClientFrame::Message { text } => {
                let body = json!({ "text": text.trim(), "staff": member.staff });
                self.append("message", "customer", &member.name, &body).map(|_| ())
            }
            ClientFrame::Checklist { item, done } => {
                if !text_ok(&item) || item.chars().count() > 200 {
                    return error_frame(ws, "a checklist item is 1 to 200 characters");
                }
                let body = json!({ "item": item.trim(), "done": done });
                self.append("checklist", "internal", &member.name, &body).map(|_| ())
            }
            ClientFrame::Typing { on } => {
                // Staff typing may be an internal note: only staff hear it.
                let frame = Outgoing::new(&json!({ "type": "typing", "from": member.name, "on": on }).to_string());
                self.each_trusted(|peer, them| {
                    if !peer.eq(ws) && (them.staff || !member.staff) {
                        frame.send(peer);
                    }
                });
                Ok(())
            }
            ClientFrame::Presence { step } => {
                member.step = step.map(|s| s.chars().take(100).collect());
                ws.serialize_attachment(&member)?;
                self.forget_members();
                self.broadcast_presence(None)
            }
        }
    }

    pub fn on_close(&self, ws: &WebSocket, code: usize, reason: &str) -> worker::Result<()> {
        if let Some(key) = member_of(ws).and_then(|m| m.socket) {
            self.quotas.borrow_mut().remove(&key);
        }
        self.forget_members();
        // 1005/1006 are reserved and may not be sent back; answer with a normal closure.
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some(reason));
        self.broadcast_presence(Some(ws))
    }
}
