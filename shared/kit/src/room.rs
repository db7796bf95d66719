//! A hibernating, sequenced broadcast room: the heart of every real-time Durable Object
//! (ticket rooms now; repair sessions, chat sessions and annotation rooms build on it).
//!
//! - Sockets are accepted with the hibernation API (`state.accept_web_socket`), so an idle
//!   room is evicted from memory and costs nothing; each socket's member name rides in its
//!   attachment and survives hibernation.
//! - Every message is written to the object's SQLite storage with a sequence number before
//!   it is broadcast. A client that reconnects with `?since=<last seq it saw>` is sent
//!   exactly what it missed, then `hello`. Storage survives eviction and restarts.
//!
//! Frames (JSON text):
//! - client → room: `{"type":"note","text":"…"}` (1–4000 characters), `{"type":"ping"}`
//! - room → client: `{"type":"note","seq":N,"at":"…","from":"…","text":"…"}`,
//!   `{"type":"hello","room":"…","last_seq":N,"replayed":K}`, `{"type":"pong"}`,
//!   `{"type":"error","message":"…"}`

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use worker::{
    Request, Response, ResponseBuilder, SqlStorage, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

const MAX_TEXT_CHARS: usize = 4000;
const MAX_NAME_CHARS: usize = 64;
/// How many missed messages one reconnect may replay; older ones stay in storage.
const MAX_REPLAY: u32 = 1000;

#[derive(Serialize, Deserialize)]
struct Member {
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Note { text: String },
    Ping,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    seq: i64,
    at: String,
    from: String,
    text: String,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerFrame<'a> {
    Note { seq: i64, at: &'a str, from: &'a str, text: &'a str },
    Hello { room: &'a str, last_seq: i64, replayed: usize },
    Pong,
    Error { message: &'a str },
}

#[derive(Deserialize)]
struct LastSeq {
    seq: Option<i64>,
}

pub struct Room {
    state: State,
    schema_ready: Cell<bool>,
}

fn send(ws: &WebSocket, frame: &ServerFrame<'_>) -> worker::Result<()> {
    let text = serde_json::to_string(frame).map_err(|e| worker::Error::RustError(e.to_string()))?;
    ws.send_with_str(text)
}

fn bad_request(message: &str) -> worker::Result<Response> {
    let body = serde_json::json!({ "error": { "code": "bad_request", "message": message } });
    Ok(Response::from_json(&body)?.with_status(400))
}

impl Room {
    pub fn new(state: State) -> Self {
        Room { state, schema_ready: Cell::new(false) }
    }

    fn sql(&self) -> worker::Result<SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS messages (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    text TEXT NOT NULL
                )",
                None,
            )?;
            self.schema_ready.set(true);
        }
        Ok(sql)
    }

    fn last_seq(&self) -> worker::Result<i64> {
        let row: LastSeq = self.sql()?.exec("SELECT MAX(seq) AS seq FROM messages", None)?.one()?;
        Ok(row.seq.unwrap_or(0))
    }

    /// Accepts a WebSocket upgrade for `room`: `?since=<seq>` replays what came after it,
    /// `?name=<who>` names the member (the signed identity replaces it once sign-in lands).
    pub fn connect(&self, req: &Request, room: &str) -> worker::Result<Response> {
        let is_upgrade = req.headers().get("upgrade")?.is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !is_upgrade {
            return bad_request("connect with a WebSocket upgrade (Upgrade: websocket)");
        }
        let url = req.url()?;
        let mut since: Option<i64> = None;
        let mut name = String::from("anonymous");
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "since" => match value.parse::<i64>() {
                    Ok(n) if n >= 0 => since = Some(n),
                    _ => return bad_request("since must be a non-negative sequence number"),
                },
                "name" => {
                    let trimmed = value.trim();
                    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME_CHARS {
                        return bad_request("name must be 1 to 64 characters");
                    }
                    name = trimmed.to_owned();
                }
                _ => {}
            }
        }
        let pair = WebSocketPair::new()?;
        self.state.accept_web_socket(&pair.server);
        pair.server.serialize_attachment(Member { name })?;
        let replayed = match since {
            Some(since) => self.replay(&pair.server, since)?,
            None => 0,
        };
        send(&pair.server, &ServerFrame::Hello { room, last_seq: self.last_seq()?, replayed })?;
        Ok(ResponseBuilder::new().with_status(101).with_websocket(pair.client).empty())
    }

    fn replay(&self, ws: &WebSocket, since: i64) -> worker::Result<usize> {
        let rows: Vec<Stored> = self
            .sql()?
            .exec(
                "SELECT seq, at, sender AS \"from\", text FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
                vec![since.into(), i64::from(MAX_REPLAY).into()],
            )?
            .to_array()?;
        for m in &rows {
            send(ws, &ServerFrame::Note { seq: m.seq, at: &m.at, from: &m.from, text: &m.text })?;
        }
        Ok(rows.len())
    }

    /// Handles one frame from a member: persists notes, then broadcasts them to everyone.
    pub fn on_message(&self, ws: &WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        let WebSocketIncomingMessage::String(text) = message else {
            return send(ws, &ServerFrame::Error { message: "send JSON text frames" });
        };
        let frame: ClientFrame = match serde_json::from_str(&text) {
            Ok(frame) => frame,
            Err(_) => {
                return send(
                    ws,
                    &ServerFrame::Error {
                        message: r#"unknown frame; send {"type":"note","text":"…"} or {"type":"ping"}"#,
                    },
                )
            }
        };
        match frame {
            ClientFrame::Ping => send(ws, &ServerFrame::Pong),
            ClientFrame::Note { text } => {
                let chars = text.chars().count();
                if chars == 0 || chars > MAX_TEXT_CHARS {
                    return send(ws, &ServerFrame::Error { message: "a note is 1 to 4000 characters" });
                }
                let from = ws.deserialize_attachment::<Member>()?.map(|m| m.name).unwrap_or_else(|| "anonymous".into());
                let at = crate::time::now_rfc3339();
                let stored: Stored = self
                    .sql()?
                    .exec(
                        "INSERT INTO messages (at, sender, text) VALUES (?, ?, ?) RETURNING seq, at, sender AS \"from\", text",
                        vec![at.as_str().into(), from.as_str().into(), text.as_str().into()],
                    )?
                    .one()?;
                let frame =
                    ServerFrame::Note { seq: stored.seq, at: &stored.at, from: &stored.from, text: &stored.text };
                for peer in self.state.get_websockets() {
                    // A peer that went away mid-broadcast is cleaned up by its close event.
                    let _ = send(&peer, &frame);
                }
                Ok(())
            }
        }
    }

    pub fn on_close(&self, ws: &WebSocket, code: usize, reason: &str) -> worker::Result<()> {
        // 1005/1006 are reserved and may not be sent back; answer with a normal closure.
        let code = if code == 1005 || code == 1006 { 1000 } else { code as u16 };
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }
}
