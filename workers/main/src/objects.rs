//! The Durable Objects `main` defines.

use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::room::Room;
use worker::{durable_object, DurableObject, Env, Request, Response, State, WebSocket, WebSocketIncomingMessage};

/// `POST /kick {user_id, reason}`: closes that person's sockets here.
#[derive(serde::Deserialize)]
struct Kick {
    user_id: String,
    reason: String,
}

fn kick(room: &Room, k: Kick) -> worker::Result<Response> {
    Response::from_json(&serde_json::json!({ "closed": room.kick(&k.user_id, &k.reason)? }))
}

/// One per ticket: the live room technicians and the ticket's customer share.
#[durable_object]
pub struct TicketRoom {
    room: Room,
}

impl DurableObject for TicketRoom {
    fn new(state: State, _env: Env) -> Self {
        TicketRoom { room: Room::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let url = req.url()?;
        match url.path() {
            OBJECT_HEALTH_PATH => object_ok("TicketRoom"),
            "/connect" => {
                let room =
                    url.query_pairs().find(|(k, _)| k == "room").map(|(_, v)| v.into_owned()).unwrap_or_default();
                self.room.connect(&req, &room)
            }
            "/ticket" => self.room.mint(req.json().await?),
            "/kick" => kick(&self.room, req.json().await?),
            "/publish" => self.room.publish(req.json().await?),
            _ => Response::error("no such object route", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        self.room.on_message(&ws, message)
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        self.room.on_close(&ws, code, &reason)
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        Ok(())
    }
}

/// One per remote repair session (seed 000's remote session flow): the channel between the
/// device agent, the technicians and the customer, on `noizylab_kit::room`.
#[durable_object]
pub struct RepairSession {
    room: Room,
}

impl DurableObject for RepairSession {
    fn new(state: State, _env: Env) -> Self {
        RepairSession { room: Room::new(state) }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let url = req.url()?;
        match url.path() {
            OBJECT_HEALTH_PATH => object_ok("RepairSession"),
            "/connect" => {
                let room =
                    url.query_pairs().find(|(k, _)| k == "room").map(|(_, v)| v.into_owned()).unwrap_or_default();
                self.room.connect(&req, &room)
            }
            "/ticket" => self.room.mint(req.json().await?),
            "/kick" => kick(&self.room, req.json().await?),
            "/standing" => self.room.mint_standing(req.json().await?),
            "/action" => {
                if !self.room.agent_connected() {
                    return Response::error("the device agent is not connected", 409);
                }
                let body: serde_json::Value = req.json().await?;
                let by = body["by"].as_str().unwrap_or("technician").to_owned();
                let seq = self.room.append("action", "customer", &by, &body)?;
                Response::from_json(&serde_json::json!({ "seq": seq }))
            }
            "/transcript" => self.room.transcript(),
            // Whether a token is this session's device agent's (its HTTP calls).
            "/agent" => {
                let body: serde_json::Value = req.json().await?;
                match self.room.agent_of(body["token"].as_str().unwrap_or_default())? {
                    Some(agent) if body["event"].is_object() => {
                        let seq = self.room.append("event", "customer", &agent.name, &body["event"])?;
                        Response::from_json(&serde_json::json!({ "seq": seq }))
                    }
                    Some(agent) => Response::from_json(&serde_json::json!({ "agent": agent.name })),
                    None => Response::error("not this session's device agent", 403),
                }
            }
            "/close" => {
                self.room.close_all("session ended")?;
                Response::empty()
            }
            _ => Response::error("no such object route", 404),
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        self.room.on_message(&ws, message)
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> worker::Result<()> {
        self.room.on_close(&ws, code, &reason)
    }

    async fn websocket_error(&self, _ws: WebSocket, _error: worker::Error) -> worker::Result<()> {
        Ok(())
    }
}
