//! The hub: bus events (forwarded by the orchestrator onto `noizylab-notify`) become
//! messages on every channel a recipient wants.
//!
//! - **Who.** The ticket's customer (email and SMS by their preferences; never about what
//!   they did themselves) and the workspace's team channels (Slack, Discord webhooks).
//! - **What.** One template per event per channel (`template`).
//! - **When.** SMS respects quiet hours (22:00–08:00 in the customer's time zone); email
//!   goes at once.
//! - **Once.** Each (event, recipient, channel) is a row in `deliveries`, claimed before
//!   sending and final once `sent` or `skipped`: a redelivered event sends nothing twice.
//!   A provider failure leaves the row `failed` and retries the message (queue backoff);
//!   after the queue's retries it lands in `noizylab-notify-dlq`, visible to operators.
//! - **Replies.** Customer email carries `Reply-To: ticket+<id>.<tag>@REPLY_DOMAIN` (the
//!   tag an HMAC of the ticket id), so a reply finds its ticket through `inbound`.

use std::collections::{BTreeSet, HashMap};

use noizylab_core::events::Envelope;
use noizylab_kit::db::{opt, rows, Db};
use noizylab_kit::{random, time, ApiError, ApiResult, OrInternal};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use crate::config::Config;

/// One message to send.
pub struct Message {
    pub subject: String,
    pub text: String,
}

fn status_label(s: &str) -> String {
    s.replace('_', " ").to_lowercase()
}

/// The message for `event` on `channel`, or `None` when that channel says nothing of it
/// (or the event's data does not fit its payload type).
pub fn template(e: &Envelope, channel: &str) -> Option<Message> {
    use noizylab_core::events::*;
    use noizylab_core::text::money_in;
    let team = channel == "slack" || channel == "discord";
    let m = |subject: String, text: String| Some(Message { subject, text });
    let repair = |number: i64| format!("#{number}");
    if let Some(p) = e.payload::<TicketStatusChanged>() {
        let n = repair(p.number);
        let to = status_label(&p.to);
        if team {
            return m(format!("Ticket {n}"), format!("Ticket {n}: {} → {to}", status_label(&p.from)));
        }
        // Only an email reply finds its way back to the ticket.
        let reply = if channel == "email" { " Reply to this message to write to the shop." } else { "" };
        return m(format!("Repair {n}: {to}"), format!("Your repair {n} is now {to}.{reply}"));
    }
    if let Some(p) = e.payload::<QuoteIssued>() {
        let total = money_in(p.total, &p.currency);
        return (!team).then(|| Message {
            subject: "Your quote is ready".into(),
            text: format!("Your repair quote is {total}. Review and approve it in the portal."),
        });
    }
    if let Some(p) = e.payload::<TicketMessageAdded>() {
        return (!team && p.visibility == "customer").then(|| Message {
            subject: "New message about your repair".into(),
            text: "The shop wrote to you about your repair: open the portal to read it.".into(),
        });
    }
    if let Some(p) = e.payload::<PaymentSucceeded>() {
        let amount = money_in(p.amount, &p.currency);
        if team {
            return m("Payment".into(), format!("Invoice {} paid: {amount}", p.invoice_id));
        }
        return m(
            "Payment received".into(),
            format!("Thank you: we received {amount}. You earned {} points.", p.points),
        );
    }
    if let Some(p) = e.payload::<TicketCreated>() {
        return team.then(|| Message {
            subject: "New ticket".into(),
            text: format!("New repair ticket {} opened", repair(p.number)),
        });
    }
    if let Some(p) = e.payload::<QuoteApproved>() {
        return team
            .then(|| Message { subject: "Quote approved".into(), text: format!("Quote {} was approved", p.quote_id) });
    }
    if let Some(p) = e.payload::<SessionStarted>() {
        return team.then(|| Message {
            subject: "Remote session".into(),
            text: format!("A customer asks for a remote session: {}", p.issue),
        });
    }
    if let Some(p) = e.payload::<DiagnosticsProgress>() {
        // Progress is live news: the in-app inbox only, never mail or a text.
        return (channel == "in_app")
            .then(|| Message { subject: format!("Scanning your device: {}%", p.percent), text: p.message });
    }
    if let Some(p) = e.payload::<DiagnosticsComplete>() {
        let Some(score) = p.health_score else {
            return (!team).then(|| Message {
                subject: "Your device scan could not finish".into(),
                text: "The scan of your device could not finish: the shop will look into it.".into(),
            });
        };
        let critical = match p.critical_issues {
            0 => String::new(),
            n => format!(" ({n} critical)"),
        };
        return (!team).then(|| Message {
            subject: format!("Your device scan is complete: health {score}/100"),
            text: format!(
                "Your device scored {score}/100 with {} issue(s) found{critical}. Open the portal for the details and what to do.",
                p.issues_found
            ),
        });
    }
    if let Some(p) = e.payload::<AlertCritical>() {
        return team
            .then(|| Message { subject: "Critical finding".into(), text: format!("{} ({})", p.message, p.source) });
    }
    if let Some(p) = e.payload::<DealFound>() {
        // For the people who buy: the team channels and the managers' inboxes.
        let saving = if p.saving >= 0 {
            format!("{} under stock cost", money_in(p.saving, &p.currency))
        } else {
            format!("{} over stock cost", money_in(-p.saving, &p.currency))
        };
        return (team || channel == "in_app").then(|| Message {
            subject: format!("Deal on {}: {}", p.part, money_in(p.landed, &p.currency)),
            text: format!(
                "{} — {} landed ({saving}), score {}/100. Review it and ask to buy it from the workbench.",
                p.title,
                money_in(p.landed, &p.currency),
                p.score
            ),
        });
    }
    if let Some(p) = e.payload::<ChatEscalated>() {
        let about = p.number.map(|n| format!(" about ticket #{n}")).unwrap_or_default();
        return team.then(|| Message {
            subject: "Chat needs a person".into(),
            text: format!("A customer chat{about} needs a person ({}): join it from the workbench.", p.reason),
        });
    }
    None
}

/// The customer an event concerns, unless they caused it themselves.
fn customer_of(e: &Envelope) -> Option<String> {
    use noizylab_core::events::*;
    let (customer, by) = if let Some(p) = e.payload::<TicketStatusChanged>() {
        (p.customer_id, Some(p.by))
    } else if let Some(p) = e.payload::<TicketMessageAdded>() {
        (p.customer_id, Some(p.by))
    } else if let Some(p) = e.payload::<TicketCreated>() {
        (p.customer_id, Some(p.by))
    } else if let Some(p) = e.payload::<SessionStarted>() {
        (p.customer_id, Some(p.by))
    } else if let Some(p) = e.payload::<QuoteIssued>() {
        (p.customer_id, None)
    } else if let Some(p) = e.payload::<PaymentSucceeded>() {
        (p.customer_id, None)
    } else if let Some(p) = e.payload::<ChatEscalated>() {
        (p.customer_id, None)
    } else if let Some(p) = e.payload::<DiagnosticsComplete>() {
        (p.customer_id, None)
    } else if let Some(p) = e.payload::<DiagnosticsProgress>() {
        (p.customer_id, None)
    } else {
        return None;
    };
    (by.as_deref() != Some(customer.as_str())).then_some(customer)
}

/// Events for the shop's managers rather than a customer.
fn for_managers(e: &Envelope) -> bool {
    e.is::<noizylab_core::events::DealFound>()
}

/// What a batch of events needs to know of the people and channels it reaches, read in one
/// round trip to the database for the whole batch.
#[derive(Default)]
struct Directory {
    people: HashMap<String, Recipient>,
    subscriptions: HashMap<String, Vec<Subscription>>,
    /// Workspace → its owners' and admins' user ids.
    managers: HashMap<String, Vec<String>>,
    /// Workspace → its team channels.
    channels: HashMap<String, Vec<ChannelRow>>,
}

#[derive(Deserialize)]
struct Manager {
    workspace_id: String,
    user_id: String,
}

#[derive(Deserialize)]
struct Recipient {
    id: String,
    email: String,
    phone: Option<String>,
    preferences: String,
    disabled_at: Option<String>,
}

#[derive(Deserialize)]
struct ChannelRow {
    workspace_id: String,
    kind: String,
    url: String,
}

#[derive(Deserialize)]
struct Subscription {
    user_id: String,
    id: String,
    endpoint: String,
    p256dh: String,
    auth: String,
}

/// A JSON array of the distinct values, for `IN (SELECT value FROM json_each(?1))`.
fn json_list<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let set: BTreeSet<&str> = values.collect();
    serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
}

impl Directory {
    async fn load(db: &Db, events: &[Envelope]) -> ApiResult<Directory> {
        let customers: Vec<String> = events.iter().filter_map(customer_of).collect();
        let customers = json_list(customers.iter().map(String::as_str));
        let managed = json_list(events.iter().filter(|e| for_managers(e)).filter_map(|e| e.workspace_id.as_deref()));
        let workspaces = json_list(events.iter().filter_map(|e| e.workspace_id.as_deref()));
        let statements = vec![
            db.statement(
                "SELECT id, email, phone, preferences, disabled_at FROM users
                 WHERE id IN (SELECT value FROM json_each(?1))",
                &[customers.as_str().into()],
            )?,
            db.statement(
                "SELECT user_id, id, endpoint, p256dh, auth FROM push_subscriptions
                 WHERE user_id IN (SELECT value FROM json_each(?1))",
                &[customers.as_str().into()],
            )?,
            db.statement(
                "SELECT m.workspace_id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.workspace_id IN (SELECT value FROM json_each(?1)) AND m.role IN ('owner', 'admin')
                   AND m.disabled_at IS NULL AND u.disabled_at IS NULL",
                &[managed.as_str().into()],
            )?,
            db.statement(
                "SELECT workspace_id, kind, url FROM workspace_channels
                 WHERE workspace_id IN (SELECT value FROM json_each(?1))",
                &[workspaces.as_str().into()],
            )?,
        ];
        let results = db.batch_read(statements).await?;
        let mut dir = Directory::default();
        for person in rows::<Recipient>(results.first())? {
            dir.people.insert(person.id.clone(), person);
        }
        for sub in rows::<Subscription>(results.get(1))? {
            dir.subscriptions.entry(sub.user_id.clone()).or_default().push(sub);
        }
        for m in rows::<Manager>(results.get(2))? {
            dir.managers.entry(m.workspace_id).or_default().push(m.user_id);
        }
        for row in rows::<ChannelRow>(results.get(3))? {
            dir.channels.entry(row.workspace_id.clone()).or_default().push(row);
        }
        Ok(dir)
    }
}

/// One planned send.
struct Planned {
    recipient: String,
    channel: &'static str,
    to: String,
    message: Message,
    /// Why it is not sent (quiet hours, no address), recorded as `skipped`.
    skip: Option<String>,
    /// A push subscription's keys (p256dh, auth).
    push: Option<(String, String)>,
}

/// The hour (0–23) it is now in `tz` (an IANA zone), through the platform's `Intl`.
fn local_hour(tz: &str) -> Option<u32> {
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"timeZone".into(), &tz.into()).ok()?;
    js_sys::Reflect::set(&options, &"hour".into(), &"numeric".into()).ok()?;
    js_sys::Reflect::set(&options, &"hourCycle".into(), &"h23".into()).ok()?;
    let locales = js_sys::Array::of1(&"en-US".into());
    let format = js_sys::Intl::DateTimeFormat::new(&locales, &options);
    let text = format.format().call1(&format, &js_sys::Date::new_0()).ok()?.as_string()?;
    text.trim().parse().ok()
}

/// Quiet hours: 22:00 to 08:00 local time.
fn quiet(tz: &str) -> bool {
    local_hour(tz).is_some_and(|h| !(8..22).contains(&h))
}

/// Every send this event calls for, by what `dir` knows of its people and channels.
fn plan(dir: &Directory, e: &Envelope) -> Vec<Planned> {
    let mut out = Vec::new();
    if let Some(customer) = customer_of(e).as_deref() {
        if let Some(who) = dir.people.get(customer).filter(|w| w.disabled_at.is_none()) {
            let prefs: Value = serde_json::from_str(&who.preferences).unwrap_or_else(|_| json!({}));
            let wants = |ch: &str, default: bool| prefs["notifications"][ch].as_bool().unwrap_or(default);
            let tz = prefs["timezone"].as_str().unwrap_or("UTC").to_owned();
            if wants("email", true) {
                if let Some(message) = template(e, "email") {
                    out.push(Planned {
                        recipient: customer.into(),
                        channel: "email",
                        to: who.email.clone(),
                        message,
                        skip: None,
                        push: None,
                    });
                }
            }
            if wants("sms", false) {
                if let Some(message) = template(e, "sms") {
                    let skip = match who.phone.as_deref() {
                        None => Some("no phone number on the account".to_owned()),
                        Some(_) if quiet(&tz) => Some(format!("quiet hours in {tz}")),
                        Some(_) => None,
                    };
                    let to = who.phone.clone().unwrap_or_default();
                    out.push(Planned { recipient: customer.into(), channel: "sms", to, message, skip, push: None });
                }
            }
            if wants("in_app", true) {
                if let Some(message) = template(e, "in_app") {
                    let to = customer.to_owned();
                    out.push(Planned {
                        recipient: customer.into(),
                        channel: "in_app",
                        to,
                        message,
                        skip: None,
                        push: None,
                    });
                }
            }
            if wants("push", false) {
                for sub in dir.subscriptions.get(customer).into_iter().flatten() {
                    if let Some(message) = template(e, "push") {
                        let skip = quiet(&tz).then(|| format!("quiet hours in {tz}"));
                        out.push(Planned {
                            recipient: format!("{customer}#{}", sub.id),
                            channel: "push",
                            to: sub.endpoint.clone(),
                            message,
                            skip,
                            push: Some((sub.p256dh.clone(), sub.auth.clone())),
                        });
                    }
                }
            }
        }
    }
    if let (Some(ws), true) = (e.workspace_id.as_deref(), for_managers(e)) {
        // Owners and admins hear in their inbox (in-app only: a deal is not worth a text).
        for manager in dir.managers.get(ws).into_iter().flatten() {
            if let Some(message) = template(e, "in_app") {
                let to = manager.clone();
                out.push(Planned {
                    recipient: manager.clone(),
                    channel: "in_app",
                    to,
                    message,
                    skip: None,
                    push: None,
                });
            }
        }
    }
    if let Some(ws) = e.workspace_id.as_deref() {
        for row in dir.channels.get(ws).into_iter().flatten() {
            let channel = if row.kind == "slack" { "slack" } else { "discord" };
            if let Some(message) = template(e, channel) {
                let recipient = format!("workspace:{ws}");
                out.push(Planned { recipient, channel, to: row.url.clone(), message, skip: None, push: None });
            }
        }
    }
    out
}

#[derive(Deserialize)]
struct Claimed {
    event_id: String,
    recipient: String,
    channel: String,
    status: String,
}

/// Delivers a batch of events, each on every channel it calls for, and answers one outcome
/// per event in order: `Err` when a provider failed for it (the queue tries that event
/// again later; its finished deliveries are not repeated). The batch shares its database
/// work: one read of the people and channels it reaches, one write claiming every
/// delivery (and reading back which are already final), one write of how each went.
/// `Err` for the whole batch only when the database fails.
pub async fn deliver_all(env: &Env, db: &Db, events: &[Envelope]) -> ApiResult<Vec<ApiResult<()>>> {
    let dir = Directory::load(db, events).await?;
    // A (event, recipient, channel) is sent once even if the batch carries the event twice.
    let mut seen = BTreeSet::new();
    let planned: Vec<(usize, Planned)> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| plan(&dir, e).into_iter().map(move |p| (i, p)))
        .filter(|(i, p)| seen.insert((events[*i].id.clone(), p.recipient.clone(), p.channel)))
        .collect();
    let mut outcomes: Vec<ApiResult<()>> = events.iter().map(|_| Ok(())).collect();
    if planned.is_empty() {
        return Ok(outcomes);
    }

    // Claimed before anything is sent; a delivery already `sent` or `skipped` (an event
    // delivered again) is not repeated.
    let now = time::now_rfc3339();
    let mut claims = Vec::with_capacity(planned.len() + 1);
    for (i, p) in &planned {
        let e = &events[*i];
        // A delivery that is not to be sent (quiet hours, no address) is final as it is
        // claimed: the log shows it at once, not after the batch's sends.
        let (status, attempts, detail) = match &p.skip {
            Some(why) => ("skipped", 1, Some(why.chars().take(500).collect::<String>())),
            None => ("sending", 0, None),
        };
        claims.push(db.statement(
            "INSERT INTO deliveries (event_id, recipient, channel, event, workspace_id, ticket_id, status, attempts,
                                     detail, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            &[
                e.id.as_str().into(),
                p.recipient.as_str().into(),
                p.channel.into(),
                e.event.as_str().into(),
                opt(e.workspace_id.as_deref()),
                opt(e.ticket_id.as_deref()),
                status.into(),
                noizylab_kit::db::int(attempts),
                opt(detail.as_deref()),
                now.as_str().into(),
            ],
        )?);
    }
    let ids = json_list(planned.iter().map(|(i, _)| events[*i].id.as_str()));
    claims.push(db.statement(
        "SELECT event_id, recipient, channel, status FROM deliveries WHERE event_id IN (SELECT value FROM json_each(?1))",
        &[ids.as_str().into()],
    )?);
    let results = db.batch_read(claims).await?;
    let final_already: BTreeSet<(String, String, String)> = rows::<Claimed>(results.last())?
        .into_iter()
        .filter(|c| c.status == "sent" || c.status == "skipped")
        .map(|c| (c.event_id, c.recipient, c.channel))
        .collect();

    let mut failures: Vec<Vec<String>> = events.iter().map(|_| Vec::new()).collect();
    let mut updates = Vec::new();
    for (i, p) in &planned {
        let e = &events[*i];
        if final_already.contains(&(e.id.clone(), p.recipient.clone(), p.channel.to_owned())) {
            continue;
        }
        let (status, detail) = match &p.skip {
            Some(why) => ("skipped", why.clone()),
            None => match send(env, db, e, p).await {
                Ok(detail) => ("sent", detail),
                Err(err) => {
                    failures[*i].push(format!("{} to {}: {err}", p.channel, p.recipient));
                    // Staff read this log: an internal failure's detail (which may name a
                    // webhook or push URL) stays in the worker's log.
                    let said = match &err {
                        ApiError::Internal(_) => "internal error; it has been logged".to_owned(),
                        other => other.to_string(),
                    };
                    ("failed", said)
                }
            },
        };
        updates.push(db.statement(
            "UPDATE deliveries SET status = ?4, attempts = attempts + 1, detail = ?5, updated_at = ?6
             WHERE event_id = ?1 AND recipient = ?2 AND channel = ?3",
            &[
                e.id.as_str().into(),
                p.recipient.as_str().into(),
                p.channel.into(),
                status.into(),
                detail.chars().take(500).collect::<String>().as_str().into(),
                time::now_rfc3339().into(),
            ],
        )?);
    }
    if !updates.is_empty() {
        db.batch(updates).await?;
    }
    for (outcome, failed) in outcomes.iter_mut().zip(failures) {
        if !failed.is_empty() {
            *outcome = Err(ApiError::BadGateway(failed.join("; ")));
        }
    }
    Ok(outcomes)
}

async fn post(url: &str, headers: Headers, body: String) -> ApiResult<u16> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
    let req = Request::new_with_init(url, &init).or_internal("provider request")?;
    // The URL (a webhook's secret path, a push endpoint) is logged, never kept in the
    // delivery log that staff read.
    let resp = Fetch::Request(req).send().await.map_err(|e| {
        worker::console_warn!("provider request to {url} failed: {e}");
        ApiError::BadGateway("the provider could not be reached".into())
    })?;
    Ok(resp.status_code())
}

/// Text for Slack's `text` fields: `&`, `<` and `>` escaped as Slack asks, so that
/// `<!channel>`, `<@U123>` or `<https://…|…>` in someone's words stay plain text.
fn slack_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Text for Discord: `@everyone` and `@here` get a zero-width space after the `@`, so they
/// read the same and ping nobody even where `allowed_mentions` is not honoured.
fn discord_text(s: &str) -> String {
    s.replace("@everyone", "@\u{200B}everyone").replace("@here", "@\u{200B}here")
}

fn ok_or(status: u16, provider: &str) -> ApiResult<String> {
    if (200..300).contains(&status) {
        Ok(format!("{provider} {status}"))
    } else {
        Err(ApiError::BadGateway(format!("{provider} answered {status}")))
    }
}

/// In-app: a notice in the person's inbox room (`inbox:<user id>`, a `TicketRoom` of
/// main's), stored with a sequence number and sent at once to every socket they have open
/// on it; replayed when they connect later.
async fn in_app(env: &Env, e: &Envelope, p: &Planned) -> ApiResult<String> {
    let name = noizylab_core::names::inbox_room(&p.to);
    let rooms = env.durable_object(noizylab_core::bindings::TICKET_ROOM).or_internal("TICKET_ROOM")?;
    let stub = rooms.id_from_name(&name).and_then(|id| id.get_stub()).or_internal("inbox stub")?;
    let url = e.ticket_id.as_deref().map(|t| format!("/portal/tickets/{t}"));
    let body = json!({
        "kind": "event",
        "visibility": "customer",
        "from": "NoizyLab",
        "data": { "event": e.event, "event_id": e.id, "title": p.message.subject, "text": p.message.text,
                  "ticket_id": e.ticket_id, "url": url },
    });
    let resp = noizylab_kit::room::post(&stub, "publish", &body).await?;
    let seq: Value = noizylab_kit::http::answer_json(&resp).await?;
    Ok(format!("inbox seq {}", seq["seq"]))
}

/// Where a customer's reply about `ticket` goes: `ticket+<id>.<tag>@REPLY_DOMAIN`, signed
/// so that it cannot be made up for another ticket (`noizylab_core::replies`).
pub fn reply_address(env: &Env, ticket: &str) -> ApiResult<Option<String>> {
    let secret = noizylab_kit::call::internal_secret(env)?;
    let domain = Config::from_env(env).reply_domain;
    Ok(noizylab_core::replies::address(secret.as_bytes(), ticket, &domain))
}

async fn send(env: &Env, db: &Db, e: &Envelope, p: &Planned) -> ApiResult<String> {
    match p.channel {
        "email" => {
            let reply_to = match e.ticket_id.as_deref() {
                Some(t) => reply_address(env, t)?,
                None => None,
            };
            email(env, db, &p.to, &p.message, None, reply_to.as_deref()).await
        }
        "sms" => sms(env, db, &p.to, &p.message).await,
        "in_app" => in_app(env, e, p).await,
        "push" => push(env, db, e, p).await,
        "slack" => {
            // Customer words (an issue, an escalation reason) must not ping anyone or
            // become links: Slack's control characters are escaped.
            let (subject, text) = (slack_text(&p.message.subject), slack_text(&p.message.text));
            let body = json!({ "text": text, "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": format!("*{subject}*\n{text}") } }
            ]});
            ok_or(webhook(env, &p.to, body).await?, "slack")
        }
        "discord" => {
            // No mention of any kind is resolved (`@everyone`, `@here`, users, roles), and
            // the mass mentions are broken in the text as well.
            let (subject, text) = (discord_text(&p.message.subject), discord_text(&p.message.text));
            let body = json!({
                "content": text,
                "embeds": [{ "title": subject, "description": text }],
                "allowed_mentions": { "parse": [] },
            });
            ok_or(webhook(env, &p.to, body).await?, "discord")
        }
        other => Err(ApiError::internal(format!("no sender for {other}"))),
    }
}

/// Web push to one subscription: the payload encrypted for it (RFC 8291), identified with
/// VAPID (RFC 8292). A subscription the push service says is gone is removed.
async fn push(env: &Env, db: &Db, e: &Envelope, p: &Planned) -> ApiResult<String> {
    use noizylab_core::webpush;
    let config = Config::from_env(env);
    let private = config
        .vapid_private
        .ok_or_else(|| ApiError::Unavailable("web push is not configured (set VAPID_PRIVATE_KEY)".into()))?;
    let private = webpush::parse_private_key(&private).map_err(ApiError::internal)?;
    let (p256dh, auth) = p.push.clone().ok_or_else(|| ApiError::internal("push without keys"))?;
    let payload = json!({
        "title": p.message.subject, "body": p.message.text, "ticket_id": e.ticket_id,
        "url": e.ticket_id.as_deref().map(|t| format!("/portal/tickets/{t}")),
    });
    let body = webpush::encrypt(
        &p256dh,
        &auth,
        payload.to_string().as_bytes(),
        random::bytes::<32>()?,
        random::bytes::<16>()?,
    )
    .map_err(|why| ApiError::BadGateway(format!("push encryption: {why}")))?;
    let authorization =
        webpush::vapid_authorization(&private, &p.to, &config.vapid_subject, noizylab_kit::call::now_secs())
            .map_err(ApiError::internal)?;
    let headers = Headers::new();
    headers.set("authorization", &authorization).or_internal("header")?;
    headers.set("content-encoding", "aes128gcm").or_internal("header")?;
    headers.set("content-type", "application/octet-stream").or_internal("header")?;
    headers.set("ttl", "86400").or_internal("header")?;
    headers.set("urgency", "normal").or_internal("header")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
    let req = Request::new_with_init(&p.to, &init).or_internal("push request")?;
    let resp = Fetch::Request(req).send().await.map_err(|err| {
        worker::console_warn!("push to {} failed: {err}", p.to);
        ApiError::BadGateway("the push service could not be reached".into())
    })?;
    match resp.status_code() {
        404 | 410 => {
            db.run("DELETE FROM push_subscriptions WHERE endpoint = ?1", &[p.to.as_str().into()]).await?;
            Ok("the subscription is gone; removed".into())
        }
        status => ok_or(status, "push service"),
    }
}

async fn webhook(env: &Env, url: &str, body: Value) -> ApiResult<u16> {
    let https = url.starts_with("https://");
    if !https && !Config::from_env(env).development {
        return Err(ApiError::BadGateway("webhook URLs must be https".into()));
    }
    let headers = Headers::new();
    headers.set("content-type", "application/json").or_internal("header")?;
    post(url, headers, body.to_string()).await
}

async fn to_outbox(db: &Db, to: &str, m: &Message) -> ApiResult<String> {
    db.run(
        "INSERT INTO dev_outbox (id, recipient, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[
            random::id()?.into(),
            to.into(),
            m.subject.as_str().into(),
            m.text.as_str().into(),
            time::now_rfc3339().into(),
        ],
    )
    .await?;
    Ok("dev outbox".into())
}

/// Email through the configured provider (`EMAIL_PROVIDER`): SendGrid v3
/// `POST /v3/mail/send` or Mailgun `POST /v3/{domain}/messages`, with an HTML part when
/// given; the dev outbox (text only) in development when that provider has no key.
pub async fn email(
    env: &Env,
    db: &Db,
    to: &str,
    m: &Message,
    html: Option<&str>,
    reply_to: Option<&str>,
) -> ApiResult<String> {
    let config = Config::from_env(env);
    let unconfigured =
        |what: &str| -> ApiError { ApiError::Unavailable(format!("no email provider is configured (set {what})")) };
    if config.email_provider == "mailgun" {
        let Some((domain, key)) = config.mailgun.clone() else {
            return if config.development {
                to_outbox(db, to, m).await
            } else {
                Err(unconfigured("MAILGUN_DOMAIN and the MAILGUN_API_KEY secret"))
            };
        };
        return mailgun(&config, &domain, &key, to, m, html, reply_to).await;
    }
    let Some(key) = config.sendgrid_key else {
        return if config.development {
            to_outbox(db, to, m).await
        } else {
            Err(unconfigured("SENDGRID_API_KEY, or EMAIL_PROVIDER=mailgun with its settings"))
        };
    };
    let (base, from) = (config.sendgrid_base, config.mail_from);
    let mut body = json!({
        "personalizations": [{ "to": [{ "email": to }] }],
        "from": { "email": from },
        "subject": m.subject,
        "content": [{ "type": "text/plain", "value": m.text }],
    });
    if let (Some(html), Some(content)) = (html, body["content"].as_array_mut()) {
        // SendGrid wants text/plain first, then text/html.
        content.push(json!({ "type": "text/html", "value": html }));
    }
    if let Some(r) = reply_to {
        body["reply_to"] = json!({ "email": r });
    }
    let headers = Headers::new();
    headers.set("authorization", &format!("Bearer {key}")).or_internal("header")?;
    headers.set("content-type", "application/json").or_internal("header")?;
    ok_or(post(&format!("{}/v3/mail/send", base.trim_end_matches('/')), headers, body.to_string()).await?, "sendgrid")
}

/// Mailgun's messages API: a form, basic auth `api:<key>`.
async fn mailgun(
    config: &Config,
    domain: &str,
    key: &str,
    to: &str,
    m: &Message,
    html: Option<&str>,
    reply_to: Option<&str>,
) -> ApiResult<String> {
    use base64::Engine;
    let form = noizylab_core::mailgun::message_form(&config.mail_from, to, &m.subject, &m.text, html, reply_to);
    let body = noizylab_kit::http::form_urlencode(&form);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"));
    let headers = Headers::new();
    headers.set("authorization", &format!("Basic {auth}")).or_internal("header")?;
    headers.set("content-type", "application/x-www-form-urlencoded").or_internal("header")?;
    let url = format!("{}/v3/{domain}/messages", config.mailgun_base.trim_end_matches('/'));
    ok_or(post(&url, headers, body).await?, "mailgun")
}

/// Twilio `POST /2010-04-01/Accounts/{sid}/Messages.json` (form, basic auth); the dev
/// outbox in development without credentials.
async fn sms(env: &Env, db: &Db, to: &str, m: &Message) -> ApiResult<String> {
    let config = Config::from_env(env);
    let Some((sid, token, from)) = config.twilio else {
        return if config.development {
            to_outbox(db, to, m).await
        } else {
            Err(ApiError::Unavailable("no SMS provider is configured (set TWILIO_*)".into()))
        };
    };
    use base64::Engine;
    let base = config.twilio_base;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
    let body = noizylab_kit::http::form_urlencode(&[("To", to), ("From", &from), ("Body", &m.text)]);
    let headers = Headers::new();
    headers.set("authorization", &format!("Basic {auth}")).or_internal("header")?;
    headers.set("content-type", "application/x-www-form-urlencoded").or_internal("header")?;
    let url = format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base.trim_end_matches('/'));
    ok_or(post(&url, headers, body).await?, "twilio")
}

#[cfg(test)]
mod tests {
    use noizylab_core::events::*;

    use super::*;

    fn envelope<T: Payload>(payload: &T) -> Envelope {
        Envelope {
            id: "e1".into(),
            event: T::NAME.into(),
            timestamp: "t".into(),
            workspace_id: Some("ws".into()),
            device_id: None,
            ticket_id: Some("tkt_1".into()),
            data: serde_json::to_value(payload).unwrap_or_default(),
        }
    }

    #[test]
    fn each_event_has_its_words_per_channel() {
        let moved = TicketStatusChanged {
            from: "QC".into(),
            to: "READY".into(),
            by: "tech".into(),
            customer_id: "cust".into(),
            number: 7,
        };
        let e = envelope(&moved);
        let sms = template(&e, "sms").map(|m| m.text).unwrap_or_default();
        assert!(sms.contains("#7") && sms.contains("ready"), "{sms}");
        let slack = template(&e, "slack").map(|m| m.text).unwrap_or_default();
        assert!(slack.contains("qc → ready"), "{slack}");
        let note = TicketMessageAdded {
            visibility: "internal".into(),
            by: "tech".into(),
            customer_id: "cust".into(),
            via: None,
        };
        assert!(template(&envelope(&note), "email").is_none(), "internal notes never reach customers");
        let quote =
            QuoteIssued { quote_id: "Q1".into(), total: 12900, currency: "CAD".into(), customer_id: "cust".into() };
        assert!(template(&envelope(&quote), "email").is_some_and(|m| m.text.contains("129.00 CAD")));
        let device = DeviceRemoved { by: "cust".into() };
        assert!(template(&envelope(&device), "email").is_none());
    }

    #[test]
    fn a_batch_plans_each_event_from_the_directory_read_once() {
        let mut dir = Directory::default();
        dir.people.insert(
            "cust".into(),
            Recipient {
                id: "cust".into(),
                email: "c@example.com".into(),
                phone: None,
                preferences: r#"{"notifications":{"email":true,"in_app":false}}"#.into(),
                disabled_at: None,
            },
        );
        let slack =
            ChannelRow { workspace_id: "ws".into(), kind: "slack".into(), url: "https://hooks.example/s".into() };
        dir.channels.insert("ws".into(), vec![slack]);

        let opened = TicketCreated { number: 8, customer_id: "cust".into(), by: "cust".into() };
        let sends: Vec<_> = plan(&dir, &envelope(&opened)).into_iter().map(|p| (p.channel, p.recipient)).collect();
        assert_eq!(sends, [("slack", "workspace:ws".to_owned())], "the team hears; the customer opened it");

        let moved = TicketStatusChanged {
            from: "QC".into(),
            to: "READY".into(),
            by: "tech".into(),
            customer_id: "cust".into(),
            number: 8,
        };
        let sends: Vec<_> = plan(&dir, &envelope(&moved)).into_iter().map(|p| (p.channel, p.to)).collect();
        assert_eq!(
            sends,
            [("email", "c@example.com".to_owned()), ("slack", "https://hooks.example/s".to_owned())],
            "email by preference, no in-app (turned off), and the team channel"
        );

        let elsewhere = Envelope { workspace_id: Some("other".into()), ..envelope(&moved) };
        let sends: Vec<_> = plan(&dir, &elsewhere).into_iter().map(|p| p.channel).collect();
        assert_eq!(sends, ["email"], "another workspace's channels are not this one's");
        let stranger = TicketStatusChanged { customer_id: "nobody".into(), ..moved };
        assert_eq!(plan(&dir, &envelope(&stranger)).len(), 1, "an unknown customer gets nothing; the team still hears");
    }

    #[test]
    fn a_list_for_json_each_is_distinct_and_valid_json() {
        assert_eq!(json_list(["b", "a", "b", "it's \"q\""].into_iter()), r#"["a","b","it's \"q\""]"#);
        assert_eq!(json_list(std::iter::empty()), "[]");
    }

    #[test]
    fn the_customer_hears_of_what_others_did_not_of_what_they_did() {
        let by_shop = TicketStatusChanged {
            from: "QC".into(),
            to: "READY".into(),
            by: "tech".into(),
            customer_id: "cust".into(),
            number: 7,
        };
        assert_eq!(customer_of(&envelope(&by_shop)).as_deref(), Some("cust"));
        let by_customer = TicketCreated { number: 8, customer_id: "cust".into(), by: "cust".into() };
        assert_eq!(customer_of(&envelope(&by_customer)), None);
    }
}
