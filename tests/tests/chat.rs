//! The chat agent end to end, real workers: a customer asks about their repair over the
//! conversation's WebSocket and is answered from their tickets, quotes and the workspace's
//! knowledge base; a question the agent cannot answer is handed to a person, the team hears
//! of it (Slack stand-in), a technician joins the same conversation and answers there, and
//! the transcript is searchable on the ticket. With a provider configured, the agent asks
//! Anthropic's Messages API (a stand-in on loopback) and falls back to itself when it fails.

use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

/// A customer with a ticket awaiting approval of a 90-minute fan quote: (customer token,
/// ticket id, ticket number).
fn a_repair_with_a_quote(p: &Platform, owner: &str) -> (String, String, i64) {
    let customer = access(&sign_in(p, &unique_email("chatter")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Fans roar, then it shuts down" })));
    assert_eq!(t.status, 201, "{}", t.text());
    let ticket = t.json()["id"].as_str().expect("id").to_owned();
    let number = t.json()["number"].as_i64().expect("number");
    for to in ["TRIAGE", "DIAGNOSTICS"] {
        let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), owner, Some(&json!({ "to": to })));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let q = authed(
        p,
        "POST",
        "/api/v1/pricing/estimate",
        owner,
        Some(&json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 90,
                      "parts": [{ "name": "Fan assembly", "cost_cents": 2400, "quantity": 1 }] })),
    );
    assert_eq!(q.status, 201, "{}", q.text());
    (customer, ticket, number)
}

/// Mints a room ticket for the conversation and connects with `since=0`: the socket and
/// everything replayed before `hello`.
fn join(p: &Platform, token: &str, conversation: &str) -> (Socket, Vec<Value>) {
    let r = authed(p, "POST", &format!("/api/v1/chat/conversations/{conversation}/live/ticket"), token, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let path = format!("{}&since=0", r.json()["path"].as_str().expect("path"));
    let mut socket = connect(&p.ws_url(&path)).expect("connect");
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut socket);
        if frame["type"] == "hello" {
            return (socket, replayed);
        }
        replayed.push(frame);
    }
}

/// Sends a message and returns the agent's answer, checking the agent was seen typing.
fn ask(socket: &mut Socket, text: &str) -> Value {
    send_frame(socket, &json!({ "type": "message", "text": text }));
    let mut typing = false;
    for _ in 0..50 {
        let frame = next_json(socket);
        assert_ne!(frame["type"], "error", "{frame}");
        if frame["type"] == "typing" && frame["on"] == true {
            typing = true;
        }
        if frame["type"] == "message" && frame["role"] == "agent" {
            assert!(typing, "the agent showed it was typing before answering");
            return frame;
        }
    }
    panic!("no answer to {text}")
}

fn open(p: &Platform, token: &str, ticket: &str) -> Value {
    let r = authed(p, "POST", "/api/v1/chat/conversations", token, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn slack_hook(request: &Received) -> (u16, String) {
    if request.path == "/slack/hook" {
        (200, "ok".into())
    } else {
        (404, "{}".into())
    }
}

#[test]
fn a_chat_escalates_to_a_technician_who_answers_in_the_same_conversation() {
    let team = StandIn::start(slack_hook);
    let p = Platform::fresh("chat");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let hook = json!({ "slack_webhook_url": format!("{}/slack/hook", team.url()) });
    assert_eq!(authed(&p, "PUT", "/api/v1/notifications/channels", &owner, Some(&hook)).status, 200);
    let (customer, ticket, number) = a_repair_with_a_quote(&p, &owner);

    let conversation = open(&p, &customer, &ticket);
    assert_eq!(conversation["status"], "bot");
    assert_eq!(conversation["ticket_number"], number);
    let id = conversation["id"].as_str().expect("id").to_owned();
    let (mut c, replayed) = join(&p, &customer, &id);
    let greeting = replayed.iter().find(|f| f["type"] == "message").expect("the agent said hello");
    assert!(greeting["text"].as_str().is_some_and(|t| t.contains(&format!("repair #{number}"))), "{greeting}");

    // Answers from the customer's own repair, its quote and the knowledge base.
    let status = ask(&mut c, "Where is my repair at?");
    let text = status["text"].as_str().expect("text");
    assert!(text.contains(&format!("#{number}")) && text.contains("waiting for your approval"), "{text}");
    assert!(text.contains("CAD"), "the quote's total is given: {text}");
    let hours = ask(&mut c, "What are your opening hours?");
    assert!(hours["text"].as_str().is_some_and(|t| t.contains("Monday")), "{hours}");
    assert_eq!(hours["sources"], json!(["kb-hours"]));
    let data = ask(&mut c, "Will you wipe my files?");
    assert_eq!(data["sources"], json!(["kb-data"]), "{data}");

    // Something the knowledge base does not cover: handed to a person, not guessed.
    let unsure = ask(&mut c, "Can you fix the heating element of my toaster oven?");
    assert!(unsure["text"].as_str().is_some_and(|t| t.contains("technician")), "{unsure}");
    let escalated = next_of(&mut c, "event");
    assert_eq!(escalated["event"], "escalated");
    let tech = technician(&p);
    let tech_token = access(&tech);
    let waiting = authed(&p, "GET", "/api/v1/chat/conversations?status=waiting", &tech_token, None);
    assert_eq!(waiting.status, 200, "{}", waiting.text());
    assert!(waiting.json()["conversations"].as_array().is_some_and(|l| l.iter().any(|x| x["id"] == id.as_str())));
    // The team heard of it.
    eventually(Duration::from_secs(20), "the Slack message about the chat", || {
        team.requests().into_iter().find(|r| {
            r.path == "/slack/hook" && String::from_utf8_lossy(&r.body).contains(&format!("ticket #{number}"))
        })
    });

    // A technician joins the same conversation: the customer is told, and the technician
    // sees everything said so far.
    let (mut t, history) = join(&p, &tech_token, &id);
    let said: Vec<&str> =
        history.iter().filter(|f| f["type"] == "message").filter_map(|f| f["text"].as_str()).collect();
    assert!(said.iter().any(|s| s.contains("toaster")), "{said:?}");
    let joined = next_of(&mut c, "event");
    assert_eq!(joined["event"], "joined", "{joined}");
    send_frame(
        &mut t,
        &json!({ "type": "message", "text": "We don't fix toasters, sorry. Bring the laptop in any time." }),
    );
    let answer = loop {
        let f = next_of(&mut c, "message");
        if f["role"] == "staff" {
            break f;
        }
    };
    assert!(answer["text"].as_str().is_some_and(|s| s.contains("toasters")));
    // A staff note stays with the staff.
    send_frame(&mut t, &json!({ "type": "note", "text": "customer may bring a second laptop" }));
    assert_eq!(next_of(&mut t, "note")["text"], "customer may bring a second laptop");
    // Now that a person has it, the agent keeps quiet.
    send_frame(&mut c, &json!({ "type": "message", "text": "OK, how much will the laptop cost?" }));
    let heard = loop {
        let f = next_of(&mut t, "message");
        if f["role"] == "customer" {
            break f;
        }
    };
    assert!(heard["text"].as_str().is_some_and(|s| s.contains("how much")));
    std::thread::sleep(Duration::from_millis(500));
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = c.get_ref() {
        let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    }
    while let Ok(msg) = c.read() {
        let frame: Value = serde_json::from_str(msg.to_text().unwrap_or("{}")).unwrap_or_default();
        assert_ne!(frame["role"], "agent", "the agent answered a conversation a person has: {frame}");
        assert_ne!(frame["type"], "note", "a customer received an internal note: {frame}");
    }

    // The transcript is kept and searchable on the ticket, without notes for the customer.
    let view = authed(&p, "GET", &format!("/api/v1/chat/conversations/{id}"), &customer, None).json();
    assert_eq!(view["conversation"]["status"], "human");
    assert_eq!(view["conversation"]["assignee_id"], user_id(&tech).as_str());
    let roles: Vec<&str> =
        view["messages"].as_array().expect("messages").iter().filter_map(|m| m["role"].as_str()).collect();
    assert!(roles.contains(&"customer") && roles.contains(&"agent") && roles.contains(&"staff"), "{roles:?}");
    assert!(view["messages"].as_array().is_some_and(|m| m.iter().all(|x| x["visibility"] == "customer")));
    let hits = authed(&p, "GET", &format!("/api/v1/chat/messages?ticket_id={ticket}&q=toaster"), &tech_token, None);
    assert_eq!(hits.status, 200, "{}", hits.text());
    let hits = hits.json()["messages"].as_array().cloned().unwrap_or_default();
    assert!(hits.len() >= 2 && hits.iter().all(|m| m["ticket_id"] == ticket.as_str()), "{hits:?}");
    let notes = authed(&p, "GET", &format!("/api/v1/chat/messages?ticket_id={ticket}&q=second"), &customer, None);
    assert_eq!(notes.json()["messages"], json!([]), "a customer's search never finds a note");
    let staff_notes =
        authed(&p, "GET", &format!("/api/v1/chat/messages?ticket_id={ticket}&q=second"), &tech_token, None);
    assert_eq!(staff_notes.json()["messages"].as_array().map(Vec::len), Some(1));

    // The escalation is on the bus, and into the ticket's room for the bench.
    let sql = format!("SELECT payload FROM event_log WHERE event = 'chat.escalated' AND ticket_id = '{ticket}'");
    let logged = eventually(Duration::from_secs(10), "chat.escalated in the event log", || {
        let rows = d1_query(&p.state, &sql);
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(logged.len(), 1, "once, however often it was delivered: {logged:?}");

    // Closing ends the conversation for everyone.
    assert_eq!(authed(&p, "POST", &format!("/api/v1/chat/conversations/{id}/close"), &customer, None).status, 204);
    let r = authed(&p, "POST", &format!("/api/v1/chat/conversations/{id}/live/ticket"), &customer, None);
    assert_eq!(r.status, 409, "{}", r.text());
}

#[test]
fn conversations_are_private_and_bad_input_is_refused_with_a_reason() {
    let p = Platform::fresh("chat-access");
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let (customer, ticket, _) = a_repair_with_a_quote(&p, &owner);
    let stranger = access(&sign_in(&p, &unique_email("stranger")));
    let r = authed(&p, "POST", "/api/v1/chat/conversations", &stranger, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(r.status, 400, "another customer's ticket: {}", r.text());
    assert_eq!(r.json()["error"]["field"], "ticket_id");
    let id = open(&p, &customer, &ticket)["id"].as_str().expect("id").to_owned();
    for path in [format!("/api/v1/chat/conversations/{id}"), format!("/api/v1/chat/conversations/{id}/live/ticket")] {
        let method = if path.ends_with("ticket") { "POST" } else { "GET" };
        assert_eq!(authed(&p, method, &path, &stranger, None).status, 404, "{path}");
    }
    let mine = authed(&p, "GET", "/api/v1/chat/conversations", &stranger, None).json();
    assert_eq!(mine["conversations"], json!([]));
    let bad = authed(&p, "GET", "/api/v1/chat/conversations?status=sleeping", &customer, None);
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.json()["error"]["message"].as_str().is_some_and(|m| m.contains("waiting")));
    assert_eq!(authed(&p, "GET", "/api/v1/chat/messages", &customer, None).status, 400);
    let no_socket = authed(&p, "GET", &format!("/api/v1/chat/conversations/{id}/live"), &customer, None);
    assert_eq!(no_socket.status, 400, "a plain GET on the socket route: {}", no_socket.text());
    // A WebSocket without a valid ticket is refused.
    let path = format!("/api/v1/chat/conversations/{id}/live?ticket=not-a-ticket");
    assert!(connect(&p.ws_url(&path)).is_err());

    // The knowledge base: everyone reads it, only admins write it.
    let kb = authed(&p, "GET", "/api/v1/chat/kb", &customer, None);
    assert!(kb.json()["articles"].as_array().is_some_and(|a| a.iter().any(|x| x["id"] == "kb-hours")));
    let article = json!({ "title": "Console repairs", "body": "We repair PlayStation and Xbox consoles: HDMI ports, fans and drives.", "tags": "playstation xbox console hdmi" });
    assert_eq!(authed(&p, "POST", "/api/v1/chat/kb", &customer, Some(&article)).status, 403);
    let empty = authed(&p, "POST", "/api/v1/chat/kb", &owner, Some(&json!({ "title": " ", "body": "x" })));
    assert_eq!(empty.json()["error"]["field"], "title");
    let created = authed(&p, "POST", "/api/v1/chat/kb", &owner, Some(&article));
    assert_eq!(created.status, 201, "{}", created.text());
    // The agent answers from it at once.
    let (mut c, _) = join(&p, &customer, &id);
    let answer = ask(&mut c, "Do you fix the HDMI port of an Xbox console?");
    assert_eq!(answer["sources"], json!([created.json()["id"]]), "{answer}");
    let gone =
        authed(&p, "DELETE", &format!("/api/v1/chat/kb/{}", created.json()["id"].as_str().unwrap_or("")), &owner, None);
    assert_eq!(gone.status, 204);
}

/// An Anthropic Messages API stand-in: answers from the request, escalates on "bicycle",
/// fails on "outage".
fn anthropic(request: &Received) -> (u16, String) {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let last = body["messages"].as_array().and_then(|m| m.last()).map(|m| m["content"].to_string()).unwrap_or_default();
    if request.path != "/v1/messages" {
        return (404, json!({ "type": "error", "error": { "type": "not_found_error", "message": "no" } }).to_string());
    }
    if last.contains("outage") {
        let e = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
        return (529, e.to_string());
    }
    let text = if last.contains("bicycle") {
        "ESCALATE".to_owned()
    } else {
        "The model says: your fan quote is waiting for you.".to_owned()
    };
    let reply = json!({
        "id": "msg_standin", "type": "message", "role": "assistant", "model": body["model"],
        "content": [{ "type": "text", "text": text }], "stop_reason": "end_turn",
        "usage": { "input_tokens": 10, "output_tokens": 10 }
    });
    (200, reply.to_string())
}

#[test]
fn with_a_provider_the_agent_asks_anthropic_grounded_in_the_customers_context() {
    let provider = StandIn::start(anthropic);
    let url = provider.url();
    let p = Platform::fresh_with(
        "chat-llm",
        &[("NOIZYLAB_ANTHROPIC_BASE_URL", url.as_str()), ("NOIZYLAB_ANTHROPIC_API_KEY", "sk-ant-test")],
    );
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let (customer, ticket, number) = a_repair_with_a_quote(&p, &owner);
    let id = open(&p, &customer, &ticket)["id"].as_str().expect("id").to_owned();
    let (mut c, _) = join(&p, &customer, &id);

    let answer = ask(&mut c, "Is my fan quote ready?");
    assert_eq!(answer["text"], "The model says: your fan quote is waiting for you.");
    let call = provider.requests().into_iter().find(|r| r.path == "/v1/messages").expect("a Messages API call");
    assert_eq!(call.method, "POST");
    assert_eq!(call.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(call.header("anthropic-version"), Some("2023-06-01"));
    let body: Value = serde_json::from_slice(&call.body).expect("json");
    assert_eq!(body["model"], "claude-haiku-4-5");
    assert!(body["max_tokens"].as_i64().is_some_and(|n| n > 0));
    let system = body["system"].as_str().expect("system prompt");
    assert!(system.contains(&format!("Repair #{number}")) && system.contains("Fans roar"), "grounded: {system}");
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages[0]["role"], "user", "turns start with the customer");
    assert!(messages
        .last()
        .is_some_and(|m| m["role"] == "user" && m["content"].as_str().is_some_and(|t| t.contains("fan quote"))));

    // The provider failing: the built-in agent still answers, from the same context.
    let fallback = ask(&mut c, "outage: where is my repair?");
    assert!(fallback["text"].as_str().is_some_and(|t| t.contains(&format!("#{number}"))), "{fallback}");

    // The model saying it cannot answer: handed to a person.
    let unsure = ask(&mut c, "Do you sell bicycle parts?");
    assert!(unsure["text"].as_str().is_some_and(|t| t.contains("technician")));
    assert_eq!(next_of(&mut c, "event")["event"], "escalated");
    let view = authed(&p, "GET", &format!("/api/v1/chat/conversations/{id}"), &customer, None).json();
    assert_eq!(view["conversation"]["status"], "waiting");
}
