//! `AnnotationRoom`: one per guide and ticket, on `noizylab_kit::room` (single-use tickets,
//! sequence numbers, replay after a reconnect, hibernation). What it adds: annotation
//! frames — `{"type":"annotate","op":"add","shape":"marker|arrow|note","node"|"point",…}`
//! and `{"type":"annotate","op":"remove","id"}` — checked (`noizylab_core::guides::Annotate`),
//! given an id, kept and sent to everyone in the room as `annotation` frames. Everything
//! else (presence with the step a technician is on, typing, notes) is the room's own.
//!
//! Object routes (called by this worker only): `/ticket`, `/connect`, `/kick`.

use noizylab_core::guides::Annotate;
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::room::{member_of, Room};
use noizylab_kit::{log, random};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{durable_object, DurableObject, Env, Request, Response, State, WebSocket, WebSocketIncomingMessage};

use crate::DIR;

#[durable_object]
pub struct AnnotationRoom {
    room: Room,
}

#[derive(Deserialize)]
struct Kick {
    user_id: String,
    reason: String,
}

impl AnnotationRoom {
    /// An annotation frame: kept and broadcast, or refused with an error frame. `false` for
    /// a frame of another type (the room's to handle).
    fn annotate(&self, ws: &WebSocket, frame: &Value) -> worker::Result<bool> {
        if frame.get("type").and_then(Value::as_str) != Some("annotate") {
            return Ok(false);
        }
        let Some(member) = member_of(ws) else {
            return ws.send_with_str(json!({ "type": "error", "message": "reconnect" }).to_string()).map(|_| true);
        };
        let a = match Annotate::read(frame) {
            Ok(a) => a,
            Err(why) => return ws.send_with_str(json!({ "type": "error", "message": why }).to_string()).map(|_| true),
        };
        let mut body = serde_json::to_value(&a).map_err(|e| worker::Error::RustError(e.to_string()))?;
        if let (Annotate::Add { id: None, .. }, Some(map)) = (&a, body.as_object_mut()) {
            let id = random::id().map_err(|e| worker::Error::RustError(format!("{e:?}")))?;
            map.insert("id".into(), Value::String(format!("an_{}", &id[..12.min(id.len())])));
        }
        body["by"] = member.id.clone().into();
        self.room.append("annotation", "customer", &member.name, &body)?;
        Ok(true)
    }
}

impl DurableObject for AnnotationRoom {
    fn new(state: State, _env: Env) -> Self {
        AnnotationRoom { room: Room::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let url = req.url()?;
        match url.path() {
            OBJECT_HEALTH_PATH => object_ok("AnnotationRoom"),
            "/connect" => {
                let room =
                    url.query_pairs().find(|(k, _)| k == "room").map(|(_, v)| v.into_owned()).unwrap_or_default();
                self.room.connect(&req, &room)
            }
            "/ticket" => self.room.mint(req.json().await?),
            "/kick" => {
                let Kick { user_id, reason } = req.json().await?;
                let closed = self.room.kick(&user_id, &reason)?;
                Response::from_json(&json!({ "closed": closed }))
            }
            _ => Response::error("no such object route", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        if !self.room.admit(&ws, &message) {
            return Ok(());
        }
        if let WebSocketIncomingMessage::String(text) = &message {
            if let Ok(frame) = serde_json::from_str::<Value>(text) {
                match self.annotate(&ws, &frame) {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => {
                        log::error(DIR, "annotation-room", &format!("{e:?}"));
                        let frame =
                            json!({ "type": "error", "message": "that annotation could not be kept; send it again" });
                        return ws.send_with_str(frame.to_string());
                    }
                }
            }
        }
        self.room.handle(&ws, message)
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, reason: String, _clean: bool) -> worker::Result<()> {
        self.room.on_close(&ws, code, &reason)
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        Ok(())
    }
}
