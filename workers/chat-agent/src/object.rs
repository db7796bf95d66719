//! `ChatSession`: one conversation, on `noizylab_kit::room` (single-use tickets, sequence
//! numbers, replay, hibernation, customer/internal visibility).
//!
//! What it adds to the room: every message and note is also written to D1
//! (`chat_messages`, for search on the ticket), and while the conversation is the agent's
//! (`bot`) a customer's message is answered — typing on, answer, typing off. A hand-over
//! (asked for, or the agent unsure) turns the conversation `waiting`, says so in the room
//! and puts `chat.escalated` on the bus so the team hears of it; a technician who joins
//! from the workbench makes it `human` and answers in the same room.
//!
//! Object routes (called by this worker only): `/init` (meta + greeting), `/ticket`,
//! `/connect`, `/publish`, `/escalate`, `/close`.

use noizylab_core::bindings;
use noizylab_core::chat::{self, Intent};
use noizylab_core::events::ChatEscalated;
use noizylab_kit::db::{opt, Db};
use noizylab_kit::events::{publish_on, About};
use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use noizylab_kit::room::{member_of, text_ok, Member, Room};
use noizylab_kit::{log, random, time, ApiError, ApiResult, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{durable_object, DurableObject, Env, Request, Response, State, WebSocket, WebSocketIncomingMessage};

use crate::agent::{self, Answer, Provider, Scope, AGENT_NAME};
use crate::DIR;

/// Who and what the conversation is about; stored in the object at `/init`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Meta {
    pub conversation: String,
    pub workspace: String,
    pub customer: String,
    pub ticket: Option<String>,
    pub number: Option<i64>,
}

#[derive(Deserialize)]
pub struct Init {
    pub meta: Meta,
    pub greeting: String,
}

#[derive(Deserialize)]
struct Reason {
    reason: String,
}

#[derive(Deserialize)]
struct StatusRow {
    status: String,
}

#[derive(Deserialize)]
struct Said {
    role: String,
    text: String,
}

/// One line of the transcript, as written to D1.
struct Line<'a> {
    seq: i64,
    sender: Option<&'a str>,
    name: &'a str,
    role: &'a str,
    visibility: &'a str,
    intent: Option<&'a str>,
    text: &'a str,
}

#[durable_object]
pub struct ChatSession {
    room: Room,
    env: Env,
}

impl ChatSession {
    fn db(&self) -> ApiResult<Db> {
        self.env.d1(bindings::DB).map(Db).or_internal("binding DB")
    }

    async fn meta(&self) -> ApiResult<Meta> {
        self.room
            .storage()
            .get::<Meta>("meta")
            .await
            .or_internal("chat meta")?
            .ok_or_else(|| ApiError::internal("chat session without meta"))
    }

    /// The line in `chat_messages` and the conversation's activity time, in one batch.
    async fn persist(&self, meta: &Meta, line: Line<'_>) -> ApiResult<()> {
        let db = self.db()?;
        let now = time::now_rfc3339();
        let insert = db.statement(
            "INSERT INTO chat_messages (id, conversation_id, workspace_id, ticket_id, seq, sender_id, sender_name,
                 role, visibility, intent, text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
            &[
                random::id()?.into(),
                meta.conversation.as_str().into(),
                meta.workspace.as_str().into(),
                opt(meta.ticket.as_deref()),
                noizylab_kit::db::int(line.seq),
                opt(line.sender),
                line.name.into(),
                line.role.into(),
                line.visibility.into(),
                opt(line.intent),
                line.text.into(),
                now.as_str().into(),
            ],
        )?;
        let touch = db.statement(
            "UPDATE chat_conversations SET updated_at = ?2 WHERE id = ?1",
            &[meta.conversation.as_str().into(), now.as_str().into()],
        )?;
        db.batch(vec![insert, touch]).await
    }

    /// The agent says `answer` in the room and the transcript.
    async fn say(&self, meta: &Meta, answer: &Answer, intent: Option<Intent>) -> ApiResult<()> {
        let body = json!({ "text": answer.text, "role": "agent", "sources": answer.sources });
        let seq = self.room.append("message", "customer", AGENT_NAME, &body).or_internal("room append")?;
        let line = Line {
            seq,
            sender: None,
            name: AGENT_NAME,
            role: "agent",
            visibility: "customer",
            intent: intent.map(Intent::as_str),
            text: &answer.text,
        };
        self.persist(meta, line).await
    }

    async fn status(&self, meta: &Meta) -> ApiResult<String> {
        let row: Option<StatusRow> = self
            .db()?
            .first("SELECT status FROM chat_conversations WHERE id = ?1", &[meta.conversation.as_str().into()])
            .await?;
        Ok(row.map(|r| r.status).unwrap_or_else(|| "closed".into()))
    }

    /// Hands the conversation to a person: `waiting`, said in the room, `chat.escalated` on
    /// the bus. False when it was not the agent's (already handed over, or closed).
    async fn escalate(&self, meta: &Meta, reason: &str) -> ApiResult<bool> {
        let now = time::now_rfc3339();
        let changed = self
            .db()?
            .run(
                "UPDATE chat_conversations SET status = 'waiting', escalation_reason = ?2, escalated_at = ?3,
                        updated_at = ?3
                  WHERE id = ?1 AND status = 'bot'",
                &[meta.conversation.as_str().into(), reason.into(), now.into()],
            )
            .await?;
        if changed == 0 {
            return Ok(false);
        }
        let frame = json!({ "event": "escalated", "reason": reason, "text": "A technician has been asked to join." });
        self.room.append("event", "customer", "NoizyLab", &frame).or_internal("room append")?;
        let queue = self.env.queue(bindings::EVENTS).or_internal("binding EVENTS")?;
        let about = About { workspace: Some(&meta.workspace), ticket: meta.ticket.as_deref(), device: None };
        let escalated = ChatEscalated {
            conversation_id: meta.conversation.clone(),
            customer_id: meta.customer.clone(),
            number: meta.number,
            reason: reason.to_owned(),
        };
        publish_on(&queue, about, &escalated).await?;
        Ok(true)
    }

    /// The agent's turn after a customer's message (the conversation is its own).
    async fn answer(&self, meta: &Meta, question: &str, intent: Intent) -> ApiResult<()> {
        self.room.signal(&json!({ "type": "typing", "from": AGENT_NAME, "on": true }), false);
        let outcome = self.compose(meta, question, intent).await;
        self.room.signal(&json!({ "type": "typing", "from": AGENT_NAME, "on": false }), false);
        let answer = outcome?;
        self.say(meta, &answer, Some(intent)).await?;
        if let Some(reason) = &answer.escalate {
            self.escalate(meta, reason).await?;
        }
        Ok(())
    }

    async fn compose(&self, meta: &Meta, question: &str, intent: Intent) -> ApiResult<Answer> {
        let db = self.db()?;
        let scope = Scope { workspace: &meta.workspace, customer: &meta.customer, ticket: meta.ticket.as_deref() };
        let ctx = agent::context(&db, &scope).await?;
        // Asking for a person never waits on a model.
        let provider = Provider::from_env(&self.env).filter(|_| intent != Intent::Human);
        let Some(provider) = provider else {
            return Ok(agent::built_in(intent, question, &ctx));
        };
        let mut said: Vec<Said> = db
            .all(
                "SELECT role, text FROM chat_messages WHERE conversation_id = ?1 AND visibility = 'customer'
                  ORDER BY seq DESC LIMIT 12",
                &[meta.conversation.as_str().into()],
            )
            .await?;
        said.reverse();
        let history: Vec<(bool, String)> = said.into_iter().map(|s| (s.role == "customer", s.text)).collect();
        match provider.answer(question, &history, &ctx).await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                // The provider is down or refused: the built-in agent still answers.
                log::warn(DIR, &meta.conversation, &format!("LLM provider failed, answering built-in: {e:?}"));
                Ok(agent::built_in(intent, question, &ctx))
            }
        }
    }

    /// A `message` or `note` from a member: kept in the room and in D1; a customer's
    /// message gets the agent's answer. `false` when the frame is not one of those (the
    /// room handles it, errors included).
    async fn chat_frame(&self, ws: &WebSocket, member: &Member, frame: &Value) -> ApiResult<bool> {
        let kind = frame["type"].as_str().unwrap_or("");
        let Some(text) = frame["text"].as_str().map(str::trim) else {
            return Ok(false);
        };
        let note = kind == "note";
        if !matches!(kind, "message" | "note") || member.agent || !text_ok(text) || (note && !member.staff) {
            return Ok(false);
        }
        let meta = self.meta().await?;
        let status = self.status(&meta).await?;
        if status == "closed" {
            let _ = ws.send_with_str(json!({ "type": "error", "message": "this conversation is closed" }).to_string());
            return Ok(true);
        }
        let role = if member.staff { "staff" } else { "customer" };
        let visibility = if note { "internal" } else { "customer" };
        let intent = (!member.staff && !note).then(|| chat::intent(text));
        let seq = self
            .room
            .append(kind, visibility, &member.name, &json!({ "text": text, "role": role }))
            .or_internal("room")?;
        let line = Line {
            seq,
            sender: Some(&member.id),
            name: &member.name,
            role,
            visibility,
            intent: intent.map(Intent::as_str),
            text,
        };
        self.persist(&meta, line).await?;
        // The status read above decides: while a person has the conversation, the agent is quiet.
        if let Some(intent) = intent.filter(|_| status == "bot") {
            if let Err(e) = self.answer(&meta, text, intent).await {
                log::error(DIR, &meta.conversation, &format!("the agent failed: {e:?}"));
                let sorry = Answer {
                    text: "Sorry, I couldn't look that up just now. I've asked a technician to help.".into(),
                    sources: Vec::new(),
                    escalate: None,
                };
                self.say(&meta, &sorry, None).await?;
                self.escalate(&meta, "the assistant failed to answer").await?;
            }
        }
        Ok(true)
    }

    async fn init(&self, init: Init) -> ApiResult<Response> {
        self.room.storage().put("meta", &init.meta).await.or_internal("chat meta")?;
        let greeting = Answer { text: init.greeting, sources: Vec::new(), escalate: None };
        self.say(&init.meta, &greeting, None).await?;
        Response::empty().map(|r| r.with_status(204)).or_internal("response")
    }

    async fn route(&self, mut req: Request) -> ApiResult<Response> {
        let url = req.url().or_internal("url")?;
        match url.path() {
            OBJECT_HEALTH_PATH => object_ok("ChatSession").or_internal("health"),
            "/init" => self.init(req.json().await.or_internal("init body")?).await,
            "/connect" => {
                let room =
                    url.query_pairs().find(|(k, _)| k == "room").map(|(_, v)| v.into_owned()).unwrap_or_default();
                self.room.connect(&req, &room).or_internal("connect")
            }
            "/ticket" => self.room.mint(req.json().await.or_internal("ticket body")?).or_internal("mint"),
            "/kick" => {
                let Kick { user_id, reason } = req.json().await.or_internal("kick body")?;
                let closed = self.room.kick(&user_id, &reason).or_internal("kick")?;
                Response::from_json(&json!({ "closed": closed })).or_internal("response")
            }
            "/publish" => self.room.publish(req.json().await.or_internal("publish body")?).or_internal("publish"),
            "/escalate" => {
                let Reason { reason } = req.json().await.or_internal("escalate body")?;
                let meta = self.meta().await?;
                let escalated = self.escalate(&meta, &reason).await?;
                Response::from_json(&json!({ "escalated": escalated })).or_internal("response")
            }
            "/close" => {
                let text = "This conversation is closed. Open a new one any time.";
                self.room
                    .append("event", "customer", "NoizyLab", &json!({ "event": "closed", "text": text }))
                    .or_internal("room append")?;
                self.room.close_all("conversation closed").or_internal("close")?;
                Response::empty().map(|r| r.with_status(204)).or_internal("response")
            }
            _ => Response::error("no such object route", 404).or_internal("response"),
        }
    }
}

/// `POST /kick {user_id, reason}`: a person whose session or rights changed.
#[derive(Deserialize)]
struct Kick {
    user_id: String,
    reason: String,
}

impl DurableObject for ChatSession {
    fn new(state: State, env: Env) -> Self {
        ChatSession { room: Room::new(state), env }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match self.route(req).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                log::error(DIR, "chat-session", &format!("{e:?}"));
                Response::error("chat session failed", 500)
            }
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> worker::Result<()> {
        // Every frame counts against the socket's quota, the agent's turns included.
        if !self.room.admit(&ws, &message) {
            return Ok(());
        }
        if let (WebSocketIncomingMessage::String(text), Some(member)) = (&message, member_of(&ws)) {
            if let Ok(frame) = serde_json::from_str::<Value>(text) {
                match self.chat_frame(&ws, &member, &frame).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => {
                        log::error(DIR, "chat-session", &format!("{e:?}"));
                        let frame =
                            json!({ "type": "error", "message": "that message could not be kept; send it again" });
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
