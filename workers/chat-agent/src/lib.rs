//! `noizylab-chat-agent`: the real-time assistant. A customer opens a conversation (about
//! one repair or in general) and talks to the agent over a WebSocket; the agent answers
//! from their repairs and the workspace's knowledge base (`agent`), hands over to a person
//! when asked or unsure, and a technician joins the same conversation from the workbench.
//! Transcripts are kept in D1 and searchable, on a ticket too.
//!
//! Internal: reached only through service bindings with a signed identity (see
//! `noizylab_kit::serve`). Routes are listed in the README.
use base64::Engine;
use noizylab_core::auth::Scope;
use noizylab_core::bindings;
use noizylab_kit::call::now_secs;
use noizylab_kit::caller::{Caller, Owned};
use noizylab_kit::db::opt;
use noizylab_kit::{http, random, serve, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{event, Context, Env, Method, Request, Response, Stub};

mod agent;
mod kb;
mod object;

pub use object::ChatSession;

const DIR: &str = "chat-agent";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<worker::web_sys::Response> {
    serve(req, env, DIR, route).await
}

async fn route(req: Request, call: Call) -> ApiResult<Response> {
    let path = req.path();
    let segments = http::segments(&path);
    match (req.method(), segments.as_slice()) {
        (Method::Post, ["api", "v1", "chat", "conversations"]) => open(req, &call).await,
        (Method::Get, ["api", "v1", "chat", "conversations"]) => list(&req, &call).await,
        (Method::Get, ["api", "v1", "chat", "conversations", id]) => show(&call, id).await,
        (Method::Post, ["api", "v1", "chat", "conversations", id, "live", "ticket"]) => mint(&call, id).await,
        // The room ticket in the query is the credential; the object redeems it.
        (Method::Get, ["api", "v1", "chat", "conversations", id, "live"]) => {
            let id = valid_id(id)?;
            noizylab_kit::room::forward_upgrade(&session(&call, id)?, &req, id).await
        }
        (Method::Post, ["api", "v1", "chat", "conversations", id, "escalate"]) => escalate(req, &call, id).await,
        (Method::Post, ["api", "v1", "chat", "conversations", id, "close"]) => close(&call, id).await,
        (Method::Get, ["api", "v1", "chat", "messages"]) => search(&req, &call).await,
        (Method::Get, ["api", "v1", "chat", "kb"]) => kb::list(&call, &Caller::of(&call)?).await,
        (Method::Post, ["api", "v1", "chat", "kb"]) => kb::create(req, &call, &Caller::of(&call)?).await,
        (Method::Put, ["api", "v1", "chat", "kb", id]) => kb::update(req, &call, &Caller::of(&call)?, id).await,
        (Method::Delete, ["api", "v1", "chat", "kb", id]) => kb::delete(&call, &Caller::of(&call)?, id).await,
        _ => Err(http::no_route(&req)),
    }
}

#[derive(Serialize, Deserialize)]
struct Conversation {
    id: String,
    workspace_id: String,
    customer_id: String,
    customer_name: Option<String>,
    ticket_id: Option<String>,
    ticket_number: Option<i64>,
    status: String,
    assignee_id: Option<String>,
    escalation_reason: Option<String>,
    escalated_at: Option<String>,
    created_at: String,
    updated_at: String,
}

const CONVERSATION: &str =
    "SELECT c.*, COALESCE(NULLIF(u.name, ''), u.email) AS customer_name, t.number AS ticket_number
      FROM chat_conversations c JOIN users u ON u.id = c.customer_id LEFT JOIN tickets t ON t.id = c.ticket_id";

fn valid_id(raw: &str) -> ApiResult<&str> {
    let ok = noizylab_core::names::is_plain_id(raw);
    ok.then_some(raw).ok_or_else(|| ApiError::invalid_field("id", "an id is 1-64 letters, digits, '-' or '_'"))
}

/// The conversation, if the caller may see it (staff: their workspace's; a customer: their
/// own); 404 otherwise, whether or not it exists.
async fn visible(call: &Call, who: &Caller, id: &str) -> ApiResult<Conversation> {
    let id = valid_id(id)?;
    let c: Option<Conversation> = call
        .sql()?
        .first(
            &format!("{CONVERSATION} WHERE c.id = ?1 AND c.workspace_id = ?2"),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    who.visible(c, "no such conversation")
}

impl Owned for Conversation {
    fn owner_id(&self) -> Option<&str> {
        Some(&self.customer_id)
    }
}

fn session(call: &Call, id: &str) -> ApiResult<Stub> {
    call.object(bindings::CHAT_SESSION)?.id_from_name(id).and_then(|oid| oid.get_stub()).or_internal("chat stub")
}

/// `POST` to the conversation's object; its answer when it is not an error.
async fn to_session(call: &Call, id: &str, action: &str, body: &Value) -> ApiResult<Response> {
    noizylab_kit::room::post(&session(call, id)?, action, body).await
}

#[derive(Deserialize)]
struct Person {
    name: Option<String>,
    email: String,
}

/// How a person is shown in a conversation: their name, or their address's local part.
async fn display_name(call: &Call, user: &str) -> ApiResult<String> {
    let who: Option<Person> = call.sql()?.first("SELECT name, email FROM users WHERE id = ?1", &[user.into()]).await?;
    Ok(who.map(|w| noizylab_core::names::display_name(w.name.as_deref(), &w.email)).unwrap_or_else(|| "member".into()))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Open {
    ticket_id: Option<String>,
}

#[derive(Deserialize)]
struct TicketRow {
    id: String,
    number: i64,
    customer_id: String,
}

/// `POST /api/v1/chat/conversations {ticket_id?}`: a customer opens a conversation (about
/// one of their repairs, or in general); staff open one for a customer's ticket. 201 with
/// the conversation; the agent has already said hello in it.
async fn open(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    let me = who.person(call).await?.to_owned();
    who.require(call, Scope::TicketsRead).await?;
    let body = req.text().await.or_internal("body")?;
    let open: Open = if body.trim().is_empty() { Open::default() } else { http::parse_json(body.as_bytes())? };
    let ticket = match open.ticket_id.as_deref() {
        Some(t) => {
            let t = valid_id(t).map_err(|_| ApiError::invalid_field("ticket_id", "not a ticket id"))?;
            let row: Option<TicketRow> = call
                .sql()?
                .first(
                    "SELECT id, number, customer_id FROM tickets WHERE id = ?1 AND workspace_id = ?2",
                    &[t.into(), who.workspace.as_str().into()],
                )
                .await?;
            let row = row
                .filter(|r| who.is_staff() || r.customer_id == me)
                .ok_or_else(|| ApiError::invalid_field("ticket_id", "no such ticket of yours"))?;
            Some(row)
        }
        None => None,
    };
    let customer = ticket.as_ref().map(|t| t.customer_id.clone()).unwrap_or_else(|| me.clone());
    let id = random::id()?;
    let now = time::now_rfc3339();
    call.sql()?
        .run(
            "INSERT INTO chat_conversations (id, workspace_id, customer_id, ticket_id, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'bot', ?5, ?5)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                customer.as_str().into(),
                opt(ticket.as_ref().map(|t| t.id.as_str())),
                now.into(),
            ],
        )
        .await?;
    let name = display_name(call, &customer).await?;
    let about = ticket.as_ref().map(|t| format!(" about repair #{}", t.number)).unwrap_or_default();
    let greeting = format!(
        "Hi {name}! I'm the NoizyLab assistant{about}. I can tell you where your repair is and what it costs, and \
         answer common questions. Say \"technician\" any time to talk to a person."
    );
    let meta = json!({
        "conversation": id,
        "workspace": who.workspace,
        "customer": customer,
        "ticket": ticket.as_ref().map(|t| &t.id),
        "number": ticket.as_ref().map(|t| t.number),
    });
    to_session(call, &id, "init", &json!({ "meta": meta, "greeting": greeting })).await?;
    let c = visible(call, &who, &id).await?;
    http::created(&c)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    ticket_id: Option<String>,
}

/// `GET /api/v1/chat/conversations[?status=waiting][&ticket_id=]`: staff see the
/// workspace's (the workbench's queue), customers their own; newest activity first.
async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    if let Some(s) = q.status.as_deref() {
        if !matches!(s, "bot" | "waiting" | "human" | "closed") {
            return Err(ApiError::invalid_field("status", "status is bot, waiting, human or closed"));
        }
    }
    let rows: Vec<Conversation> = call
        .sql()?
        .all(
            &format!(
                "{CONVERSATION} WHERE c.workspace_id = ?1 AND (?2 = 1 OR c.customer_id = ?3)
                   AND (?4 IS NULL OR c.status = ?4) AND (?5 IS NULL OR c.ticket_id = ?5)
                 ORDER BY c.updated_at DESC LIMIT 100"
            ),
            &[
                who.workspace.as_str().into(),
                i32::from(who.is_staff()).into(),
                who.id.as_str().into(),
                opt(q.status.as_deref()),
                opt(q.ticket_id.as_deref()),
            ],
        )
        .await?;
    http::ok(&json!({ "conversations": rows }))
}

#[derive(Serialize, Deserialize)]
struct MessageRow {
    conversation_id: String,
    ticket_id: Option<String>,
    seq: i64,
    sender_id: Option<String>,
    sender_name: String,
    role: String,
    visibility: String,
    intent: Option<String>,
    text: String,
    created_at: String,
}

/// `GET /api/v1/chat/conversations/:id`: the conversation and its transcript (customers
/// never see internal notes).
async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsRead).await?;
    let c = visible(call, &who, id).await?;
    let messages: Vec<MessageRow> = call
        .sql()?
        .all(
            "SELECT conversation_id, ticket_id, seq, sender_id, sender_name, role, visibility, intent, text, created_at
               FROM chat_messages WHERE conversation_id = ?1 AND (?2 = 1 OR visibility = 'customer')
              ORDER BY seq LIMIT 2000",
            &[c.id.as_str().into(), i32::from(who.is_staff()).into()],
        )
        .await?;
    http::ok(&json!({ "conversation": c, "messages": messages }))
}

/// `POST /api/v1/chat/conversations/:id/live/ticket`: a single-use room ticket (60 s).
/// A staff member joining a conversation takes it over: it becomes `human`, assigned to
/// them, and the room is told who joined.
async fn mint(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    let me = who.person(call).await?.to_owned();
    who.require(call, Scope::TicketsRead).await?;
    let c = visible(call, &who, id).await?;
    if c.status == "closed" {
        return Err(ApiError::Conflict("this conversation is closed; open a new one".into()));
    }
    let name = display_name(call, &me).await?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::bytes::<32>()?);
    let expires_ms = (now_secs() as u64) * 1000 + noizylab_kit::room::TICKET_TTL_MS;
    let ticket = json!({
        "hash": noizylab_core::auth::sha256_hex(token.as_bytes()),
        "member": { "id": me, "name": name, "staff": who.is_staff() },
        "expires_ms": expires_ms,
    });
    to_session(call, &c.id, "ticket", &ticket).await?;
    // Recorded so that `main` closes this socket when the person's session or rights change.
    call.sql()?
        .run(
            "INSERT INTO live_grants (user_id, class, room, minted_at) VALUES (?1, 'ChatSession', ?2, ?3)
             ON CONFLICT (user_id, class, room) DO UPDATE SET minted_at = ?3",
            &[me.as_str().into(), c.id.as_str().into(), noizylab_kit::db::int(now_secs())],
        )
        .await?;
    if who.is_staff() && c.assignee_id.as_deref() != Some(me.as_str()) {
        let taken = call
            .sql()?
            .run(
                "UPDATE chat_conversations SET status = 'human', assignee_id = ?2, updated_at = ?3
                  WHERE id = ?1 AND status IN ('bot', 'waiting')",
                &[c.id.as_str().into(), me.as_str().into(), time::now_rfc3339().into()],
            )
            .await?;
        if taken > 0 {
            let text = format!("{name} from the shop joined the conversation.");
            let frame = json!({ "kind": "event", "visibility": "customer", "from": name,
                                "data": { "event": "joined", "text": text, "staff_id": me } });
            to_session(call, &c.id, "publish", &frame).await?;
        }
    }
    let path = format!("/api/v1/chat/conversations/{}/live?ticket={token}", c.id);
    http::created(&json!({ "ticket": token, "expires_in": noizylab_kit::room::TICKET_TTL_MS / 1000, "path": path }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Escalate {
    reason: Option<String>,
}

/// `POST /api/v1/chat/conversations/:id/escalate {reason?}`: hand over to a person now.
/// 200 `{escalated}` (false when a person already has it).
async fn escalate(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsWrite).await?;
    let c = visible(call, &who, id).await?;
    let body = req.text().await.or_internal("body")?;
    let e: Escalate = if body.trim().is_empty() { Escalate::default() } else { http::parse_json(body.as_bytes())? };
    let reason = e.reason.map(|r| r.trim().chars().take(500).collect::<String>()).filter(|r| !r.is_empty());
    if c.status == "closed" {
        return Err(ApiError::Conflict("this conversation is closed; open a new one".into()));
    }
    let reason = reason.unwrap_or_else(|| "the customer asked for a person".into());
    let resp = to_session(call, &c.id, "escalate", &json!({ "reason": reason })).await?;
    let answer: Value = noizylab_kit::http::answer_json(&resp).await?;
    http::ok(&answer)
}

/// `POST /api/v1/chat/conversations/:id/close`: over; every socket is closed. 204.
async fn close(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsWrite).await?;
    let c = visible(call, &who, id).await?;
    if c.status == "closed" {
        return Response::empty().map(|r| r.with_status(204)).or_internal("response");
    }
    call.sql()?
        .run(
            "UPDATE chat_conversations SET status = 'closed', updated_at = ?2 WHERE id = ?1",
            &[c.id.as_str().into(), time::now_rfc3339().into()],
        )
        .await?;
    to_session(call, &c.id, "close", &json!({})).await?;
    Response::empty().map(|r| r.with_status(204)).or_internal("response")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
    ticket_id: Option<String>,
    conversation_id: Option<String>,
}

/// `GET /api/v1/chat/messages?q=&ticket_id=&conversation_id=`: transcript search, newest
/// first (staff: the workspace; customers: their own conversations, customer-visible).
/// `q` is a literal substring, case-insensitive for ASCII: `instr`, not `LIKE`, which D1
/// refuses with a 500 past a 50-byte pattern (found by the schema fuzzer).
async fn search(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsRead).await?;
    let q: SearchQuery = http::query(req)?;
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_none() && q.ticket_id.is_none() && q.conversation_id.is_none() {
        return Err(ApiError::bad_request("say what to search: q, ticket_id or conversation_id"));
    }
    if text.is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::invalid_field("q", "a search is at most 200 characters"));
    }
    let rows: Vec<MessageRow> = call
        .sql()?
        .all(
            "SELECT m.conversation_id, m.ticket_id, m.seq, m.sender_id, m.sender_name, m.role, m.visibility, m.intent,
                    m.text, m.created_at
               FROM chat_messages m JOIN chat_conversations c ON c.id = m.conversation_id
              WHERE m.workspace_id = ?1 AND (?2 = 1 OR (c.customer_id = ?3 AND m.visibility = 'customer'))
                AND (?4 IS NULL OR instr(lower(m.text), lower(?4)) > 0) AND (?5 IS NULL OR m.ticket_id = ?5)
                AND (?6 IS NULL OR m.conversation_id = ?6)
              ORDER BY m.created_at DESC, m.seq DESC LIMIT 200",
            &[
                who.workspace.as_str().into(),
                i32::from(who.is_staff()).into(),
                who.id.as_str().into(),
                opt(text),
                opt(q.ticket_id.as_deref()),
                opt(q.conversation_id.as_deref()),
            ],
        )
        .await?;
    http::ok(&json!({ "messages": rows }))
}
