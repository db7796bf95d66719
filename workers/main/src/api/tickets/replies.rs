//! Customers' emailed replies become messages on their ticket. (The notifications hub gives
//! customer email the signed per-ticket `Reply-To`.) Two providers post them:
//!
//! - `POST /api/v1/tickets/email-replies?key=…`: SendGrid Inbound Parse (multipart form:
//!   `envelope`, `to`, `from`, `text`, `html`, `headers`, …). The webhook URL carries a key
//!   (secret `INBOUND_EMAIL_KEY`), compared in constant time: 401 without it, 503 while
//!   none is configured.
//! - `POST /api/v1/tickets/email-replies/mailgun`: a Mailgun route forwarding the message
//!   (form: `recipient`, `sender`, `stripped-text`, `body-plain`, `Message-Id`, …), signed
//!   with the account's webhook signing key (`timestamp`, `token`, `signature`; secret
//!   `MAILGUN_WEBHOOK_SIGNING_KEY`): 401 for a bad or stale signature, 503 while none is
//!   configured.
//!
//! Then, for both:
//!
//! 1. The sender is who the provider says sent it.
//! 2. The ticket comes from the reply address (`ticket+<id>.<tag>@…`, the tag an HMAC
//!    under the platform secret: `noizylab_core::replies`); a made-up address is 400.
//! 3. Only the new text above the quoted original is kept.
//! 4. Each Message-ID is handled once (`inbound_emails`): a redelivery adds nothing.
//! 5. The message is written as the customer — if the sender is the ticket's customer
//!    (403 otherwise, and recorded as refused).

use noizylab_core::auth::{constant_time_eq, sha256_hex};
use noizylab_core::{mailgun, replies};
use noizylab_kit::db::opt;
use noizylab_kit::{http, time, ApiError, ApiResult, Call, OrInternal};
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::config::Config;

/// A crude but safe text from an HTML-only mail: tags dropped, common entities decoded.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push('\n');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// The `Message-ID` header among the raw headers SendGrid passes on.
fn message_id(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("message-id").then(|| value.trim().to_owned()).filter(|v| !v.is_empty())
    })
}

/// What a provider's POST says of one emailed reply.
struct Mail {
    /// Every recipient, comma-separated.
    recipients: String,
    sender: Option<String>,
    /// The text (or HTML made text), with the quoted original still in.
    body: String,
    message_id: Option<String>,
}

fn form_kind(req: &Request, also_urlencoded: bool) -> ApiResult<()> {
    let kind = req.headers().get("content-type").ok().flatten().unwrap_or_default();
    let ok = kind.starts_with("multipart/form-data")
        || (also_urlencoded && kind.starts_with("application/x-www-form-urlencoded"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType("send the mail as a form (multipart/form-data)".into()))
    }
}

/// `POST /api/v1/tickets/email-replies?key=…` (SendGrid Inbound Parse).
pub async fn inbound(mut req: Request, call: &Call) -> ApiResult<Response> {
    let key = Config::from_env(&call.env)
        .inbound_email_key
        .ok_or_else(|| ApiError::Unavailable("inbound email is not configured (secret INBOUND_EMAIL_KEY)".into()))?;
    let url = req.url().or_internal("url")?;
    let given = url.query_pairs().find(|(k, _)| k == "key").map(|(_, v)| v.into_owned()).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), key.as_bytes()) {
        return Err(ApiError::Unauthenticated("the inbound webhook URL must carry the right ?key=".into()));
    }
    form_kind(&req, false)?;
    let form = req.form_data().await.map_err(|_| ApiError::bad_request("the body is not a readable multipart form"))?;
    let field = |name: &str| form.get_field(name).filter(|v| !v.trim().is_empty());
    let envelope: Value = field("envelope").and_then(|e| serde_json::from_str(&e).ok()).unwrap_or(Value::Null);
    let recipients = match envelope["to"].as_array() {
        Some(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        None => field("to").unwrap_or_default(),
    };
    let mail = Mail {
        recipients,
        sender: envelope["from"].as_str().map(str::to_owned).or_else(|| field("from")),
        body: field("text").or_else(|| field("html").map(|h| html_text(&h))).unwrap_or_default(),
        message_id: field("headers").and_then(|h| message_id(&h)),
    };
    receive(call, mail).await
}

/// `POST /api/v1/tickets/email-replies/mailgun` (a Mailgun route's forward).
pub async fn inbound_mailgun(mut req: Request, call: &Call) -> ApiResult<Response> {
    let key = Config::from_env(&call.env).mailgun_signing_key.ok_or_else(|| {
        ApiError::Unavailable("inbound Mailgun email is not configured (secret MAILGUN_WEBHOOK_SIGNING_KEY)".into())
    })?;
    form_kind(&req, true)?;
    let form = req.form_data().await.map_err(|_| ApiError::bad_request("the body is not a readable form"))?;
    let field = |name: &str| form.get_field(name).filter(|v| !v.trim().is_empty());
    let (timestamp, token) = (field("timestamp").unwrap_or_default(), field("token").unwrap_or_default());
    let signature = field("signature").unwrap_or_default();
    let now = (time::now_millis() / 1000) as i64;
    mailgun::verify(&key, &timestamp, &token, &signature, now)
        .map_err(|why| ApiError::Unauthenticated(format!("{why} (signed with MAILGUN_WEBHOOK_SIGNING_KEY?)")))?;
    // `message-headers` is a JSON list of [name, value] pairs.
    let headers: Vec<(String, String)> =
        field("message-headers").and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
    let header_id = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("message-id")).map(|(_, v)| v.clone());
    let mail = Mail {
        recipients: field("recipient").or_else(|| field("To")).unwrap_or_default(),
        sender: field("sender").or_else(|| field("from")),
        body: field("stripped-text")
            .or_else(|| field("body-plain"))
            .or_else(|| field("body-html").map(|h| html_text(&h)))
            .unwrap_or_default(),
        message_id: field("Message-Id").or(header_id),
    };
    receive(call, mail).await
}

async fn receive(call: &Call, mail: Mail) -> ApiResult<Response> {
    let secret = noizylab_kit::call::internal_secret(&call.env)?;
    let ticket = replies::ticket_of(secret.as_bytes(), &mail.recipients)
        .ok_or_else(|| ApiError::invalid_field("to", "no ticket reply address among the recipients"))?;
    let sender = mail
        .sender
        .and_then(|f| replies::bare(&f))
        .ok_or_else(|| ApiError::invalid_field("from", "the sender's address is missing or malformed"))?;
    let text = replies::new_text(&mail.body);
    if text.is_empty() {
        return Err(ApiError::Unprocessable("the reply has no new text above the quoted message".into()));
    }
    let id = mail
        .message_id
        .unwrap_or_else(|| format!("sha256:{}", sha256_hex(format!("{sender}\n{ticket}\n{text}").as_bytes())));

    let db = call.sql()?;
    let fresh = db
        .run(
            "INSERT INTO inbound_emails (message_id, ticket_id, sender, status, received_at)
             VALUES (?1, ?2, ?3, 'received', ?4) ON CONFLICT DO NOTHING",
            &[id.as_str().into(), ticket.as_str().into(), sender.as_str().into(), time::now_rfc3339().into()],
        )
        .await?;
    if fresh == 0 {
        let seen: Option<Value> =
            db.first("SELECT status FROM inbound_emails WHERE message_id = ?1", &[id.as_str().into()]).await?;
        // A message that was not finished (main was down) is tried again.
        if seen.as_ref().and_then(|s| s["status"].as_str()) != Some("received") {
            return http::ok(&json!({ "ticket_id": ticket, "duplicate": true }));
        }
    }
    let outcome = super::email_reply(call, &ticket, &sender, &text).await;
    let (status, detail) = match &outcome {
        Ok(_) => ("added", None),
        Err(e) if !e.is_server_error() => ("refused", Some(e.public_message())),
        // Left `received`: the provider's retry tries again.
        Err(_) => return outcome.and_then(|m| http::created(&m)),
    };
    db.run(
        "UPDATE inbound_emails SET status = ?2, detail = ?3 WHERE message_id = ?1",
        &[id.as_str().into(), status.into(), opt(detail.as_deref())],
    )
    .await?;
    match outcome {
        Ok(message) => http::created(&json!({ "ticket_id": ticket, "message": message })),
        Err(ApiError::NotFound(_)) => {
            Err(ApiError::invalid_field("to", "the ticket of this reply address no longer exists"))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_and_html_text_are_read() {
        let headers = "Received: by mx\nMessage-ID: <abc@mail.example>\nSubject: Re: quote";
        assert_eq!(message_id(headers).as_deref(), Some("<abc@mail.example>"));
        assert_eq!(message_id("Subject: x"), None);
        assert_eq!(html_text("<p>Yes &amp; thanks</p>").trim(), "Yes & thanks");
    }
}
