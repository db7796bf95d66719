//! The notifications hub end to end: a ticket event fans out to email (SendGrid), SMS
//! (Twilio), Slack and Discord stand-ins on loopback, in each provider's wire format; a
//! redelivered event sends nothing twice; a failing provider ends in the dead-letter queue.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use noizylab_tests::*;
use serde_json::{json, Value};

/// The Twilio number that fails (the stand-in answers 500 for it while `TWILIO_DOWN`).
const BROKEN_PHONE: &str = "+15550000000";
static TWILIO_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

struct Hub {
    platform: Platform,
    providers: StandIn,
    /// The VAPID key pair the platform signs pushes with.
    vapid: Value,
}

/// `node tests/support/webpush.mjs …` (Node's crypto and the `http_ece` reference code).
fn webpush_tool(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("node")
        .arg(repo().join("tests/support/webpush.mjs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node webpush.mjs");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("webpush.mjs output");
    assert!(out.status.success(), "webpush.mjs {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn providers(req: &Received) -> (u16, String) {
    match req.path.as_str() {
        "/v3/mail/send" => (202, String::new()),
        p if p.starts_with("/2010-04-01/Accounts/") => {
            let down = TWILIO_DOWN.load(std::sync::atomic::Ordering::SeqCst);
            if down && String::from_utf8_lossy(&req.body).contains("To=%2B15550000000") {
                (500, json!({ "code": 20500, "message": "Internal Server Error" }).to_string())
            } else {
                (201, json!({ "sid": "SM123", "status": "queued" }).to_string())
            }
        }
        "/slack/hook" => (200, "ok".into()),
        p if p.starts_with("/push/") => (201, String::new()),
        "/discord/hook" => (204, String::new()),
        _ => (404, "{}".into()),
    }
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let providers = StandIn::start(providers);
        let url = providers.url();
        let vapid: Value = serde_json::from_str(&webpush_tool(&["keys"], None)).expect("vapid keys");
        let vapid_private = vapid["private"].as_str().expect("private").to_owned();
        let platform = Platform::fresh_with(
            "notifications",
            &[
                ("NOIZYLAB_SENDGRID_BASE_URL", url.as_str()),
                ("NOIZYLAB_SENDGRID_API_KEY", "SG.test"),
                ("NOIZYLAB_TWILIO_BASE_URL", url.as_str()),
                ("NOIZYLAB_TWILIO_ACCOUNT_SID", "AC123"),
                ("NOIZYLAB_TWILIO_AUTH_TOKEN", "twilio-token"),
                ("NOIZYLAB_TWILIO_FROM", "+15145550100"),
                ("NOIZYLAB_VAPID_PRIVATE_KEY", vapid_private.as_str()),
                ("NOIZYLAB_VAPID_SUBJECT", "mailto:ops@noizylab.test"),
                ("NOIZYLAB_INBOUND_EMAIL_KEY", INBOUND_KEY),
            ],
        );
        Hub { platform, providers, vapid }
    })
}

/// Signs in with the code from the mail the SendGrid stand-in received.
fn sign_in_by_mail(h: &Hub, email: &str) -> Value {
    // One at a time: two tests signing the same address in would read each other's code.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = &h.platform;
    let asked = ask_for_link(p, email);
    assert_eq!(asked.status, 202);
    let mail = eventually(Duration::from_secs(10), "the sign-in mail", || {
        h.providers
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.path == "/v3/mail/send" && String::from_utf8_lossy(&r.body).contains(email))
    });
    let body: Value = serde_json::from_slice(&mail.body).expect("sendgrid json");
    let text = body["content"][0]["value"].as_str().expect("text").to_owned();
    let code: String = text.split("code: ").nth(1).map(|c| c.chars().take(6).collect()).expect("code");
    let r = login(p, email, &code, &challenge(&asked));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// An IANA zone where it is now about `hour` o'clock.
fn zone_at(hour: i64) -> String {
    let utc = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) / 3600 % 24;
    let mut offset = hour - utc; // local = utc + offset; Etc/GMT signs are inverted
    if offset > 12 {
        offset -= 24;
    }
    if offset < -12 {
        offset += 24;
    }
    if offset >= 0 {
        format!("Etc/GMT-{offset}")
    } else {
        format!("Etc/GMT+{}", -offset)
    }
}

fn count(h: &Hub, path_starts: &str, needle: &str) -> usize {
    h.providers
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(path_starts) && String::from_utf8_lossy(&r.body).contains(needle))
        .count()
}

/// Every provider request about this customer or this ticket's number.
fn about(h: &Hub, email: &str, phone_form: &str, number: i64) -> usize {
    let team = format!("Ticket #{number}:");
    h.providers
        .requests()
        .iter()
        .filter(|r| {
            let body = String::from_utf8_lossy(&r.body);
            (r.path == "/v3/mail/send" && body.contains(email) && body.contains("triage"))
                || body.contains(phone_form)
                || body.contains(&team)
        })
        .count()
}

/// A customer (email + SMS, given phone and zone) with a ticket: the owner's token, the
/// customer's email, the ticket id and number.
fn customer_with_ticket(h: &Hub, phone: &str, hour: i64) -> (String, String, String, i64) {
    let p = &h.platform;
    let owner = access(&sign_in_by_mail(h, OWNER_EMAIL));
    let email = unique_email("notified");
    let customer = access(&sign_in_by_mail(h, &email));
    let r = authed(p, "PUT", "/api/v1/users/profile", &customer, Some(&json!({ "name": "Dana", "phone": phone })));
    assert_eq!(r.status, 200, "{}", r.text());
    let prefs = json!({ "timezone": zone_at(hour), "notifications": { "email": true, "sms": true } });
    assert_eq!(authed(p, "PUT", "/api/v1/users/preferences", &customer, Some(&prefs)).status, 200);
    let channels = json!({ "slack_webhook_url": format!("{}/slack/hook", h.providers.url()),
                           "discord_webhook_url": format!("{}/discord/hook", h.providers.url()) });
    let c = authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&channels));
    assert_eq!(c.status, 200, "{}", c.text());
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Speaker crackles" }))).json();
    (owner, email, t["id"].as_str().expect("ticket").to_owned(), t["number"].as_i64().expect("number"))
}

#[test]
fn a_ticket_event_fans_out_to_every_channel_once() {
    let h = hub();
    let p = &h.platform;
    let (owner, email, ticket, number) = customer_with_ticket(h, "+15145550123", 12);
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(r.status, 200, "{}", r.text());

    let log = eventually(Duration::from_secs(20), "five deliveries", || {
        let r = authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={ticket}"), &owner, None).json();
        let sent: Vec<Value> = r["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|d| d["event"] == "ticket.status_changed" && d["status"] == "sent")
            .collect();
        (sent.len() == 5).then_some(sent)
    });
    let channels: Vec<&str> = log.iter().filter_map(|d| d["channel"].as_str()).collect();
    for c in ["email", "sms", "slack", "discord", "in_app"] {
        assert!(channels.contains(&c), "{c} in {channels:?}");
    }
    // Each provider got its own wire format.
    // Other tests share these stand-ins: pick this customer's mail and this ticket's posts.
    let has = |r: &Received, needle: &str| String::from_utf8_lossy(&r.body).contains(needle);
    let team = format!("Ticket #{number}:");
    let mail = h
        .providers
        .requests()
        .into_iter()
        .find(|r| r.path == "/v3/mail/send" && has(r, "triage") && has(r, &email))
        .expect("email");
    let mail: Value = serde_json::from_slice(&mail.body).expect("json");
    assert_eq!(mail["personalizations"][0]["to"][0]["email"], email.as_str());
    let reply_to = mail["reply_to"]["email"].as_str().expect("reply_to");
    assert!(
        reply_to.starts_with(&format!("ticket+{ticket}.")) && reply_to.ends_with("@replies.noizylab.example"),
        "replies find their ticket: {reply_to}"
    );
    let sms = h
        .providers
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/Messages.json") && String::from_utf8_lossy(&r.body).contains("%2B15145550123"))
        .expect("sms");
    assert_eq!(sms.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert!(sms.header("authorization").is_some_and(|a| a.starts_with("Basic ")));
    assert!(String::from_utf8_lossy(&sms.body).contains("From=%2B15145550100"));
    let slack = h.providers.requests().into_iter().find(|r| r.path == "/slack/hook" && has(r, &team)).expect("slack");
    assert!(serde_json::from_slice::<Value>(&slack.body).is_ok_and(|b| b["text"].is_string() && b["blocks"].is_array()));
    let discord =
        h.providers.requests().into_iter().find(|r| r.path == "/discord/hook" && has(r, &team)).expect("discord");
    assert!(serde_json::from_slice::<Value>(&discord.body).is_ok_and(|b| b["content"].is_string()));

    // The same event delivered again sends nothing again.
    let event_id = log[0]["event_id"].as_str().expect("event id").to_owned();
    let before = about(h, &email, "%2B15145550123", number);
    assert_eq!(before, 4);
    let again = send_json(
        "POST",
        &p.url("/api/v1/dev/events"),
        &json!({
            "id": event_id, "event": "ticket.status_changed", "workspace_id": "ws-default", "ticket_id": ticket,
            // The whole payload (`noizylab_core::events::TicketStatusChanged`): data that does not
            // fit its type would be ignored whether or not it was seen before.
            "data": { "from": "INTAKE", "to": "TRIAGE", "by": "someone-else", "number": number,
                      "customer_id": log.iter().find(|d| d["channel"] == "email").and_then(|d| d["recipient"].as_str()) },
        }),
    );
    assert_eq!(again.status, 202, "{}", again.text());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(about(h, &email, "%2B15145550123", number), before, "a redelivered event sent nothing twice");
}

/// A burst of events is taken a batch at a time (the bus and the notices queue deliver up
/// to 100 messages at once): each event still reaches each team channel exactly once, an
/// event carried twice in the burst included.
#[test]
fn a_burst_of_events_is_delivered_a_batch_at_a_time_each_once() {
    let h = hub();
    let p = &h.platform;
    let owner = access(&sign_in_by_mail(h, OWNER_EMAIL));
    let channels = json!({ "slack_webhook_url": format!("{}/slack/hook", h.providers.url()),
                           "discord_webhook_url": format!("{}/discord/hook", h.providers.url()) });
    assert_eq!(authed(p, "PUT", "/api/v1/notifications/channels", &owner, Some(&channels)).status, 200);

    // Ticket numbers no other test uses; no ticket id (no room to feed) and a customer who
    // does not exist (nobody to mail): the team channels alone hear of them.
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let base = 5_000_000 + (secs % 10_000) as i64 * 100;
    let numbers: Vec<i64> = (0..30).map(|i| base + i).collect();
    let event = |n: i64| {
        json!({
            "id": format!("burst-{n}"), "event": "ticket.status_changed", "workspace_id": "ws-default",
            "data": { "from": "INTAKE", "to": "TRIAGE", "by": "tech", "number": n, "customer_id": "nobody" },
        })
    };
    for &n in &numbers {
        let r = send_json("POST", &p.url("/api/v1/dev/events"), &event(n));
        assert_eq!(r.status, 202, "{}", r.text());
    }
    // The first event once more, in the same burst.
    assert_eq!(send_json("POST", &p.url("/api/v1/dev/events"), &event(numbers[0])).status, 202);

    let posts = |hook: &str, n: i64| {
        let needle = format!("Ticket #{n}:");
        h.providers
            .requests()
            .iter()
            .filter(|r| r.path == hook && String::from_utf8_lossy(&r.body).contains(&needle))
            .count()
    };
    eventually(Duration::from_secs(30), "every event on both team channels", || {
        numbers.iter().all(|&n| posts("/slack/hook", n) >= 1 && posts("/discord/hook", n) >= 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    for &n in &numbers {
        assert_eq!((posts("/slack/hook", n), posts("/discord/hook", n)), (1, 1), "ticket #{n}: once on each channel");
    }
}

#[test]
fn sms_waits_out_quiet_hours_and_a_failing_provider_ends_in_the_dead_letter_queue_and_is_replayed() {
    let h = hub();
    let p = &h.platform;
    // At 03:00 local time the SMS is skipped; the email still goes.
    let (owner, _, quiet_ticket, _) = customer_with_ticket(h, "+15145550999", 3);
    authed(p, "POST", &format!("/api/v1/tickets/{quiet_ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    let log = eventually(Duration::from_secs(20), "the quiet deliveries", || {
        let r = authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={quiet_ticket}"), &owner, None)
            .json();
        let rows = r["deliveries"].as_array().cloned().unwrap_or_default();
        (rows.iter().filter(|d| d["event"] == "ticket.status_changed").count() == 5).then_some(rows)
    });
    let sms = log.iter().find(|d| d["channel"] == "sms" && d["event"] == "ticket.status_changed").expect("sms row");
    assert_eq!(sms["status"], "skipped");
    assert!(sms["detail"].as_str().is_some_and(|d| d.contains("quiet hours")));

    // Twilio fails for this number every time: retried, then dead-lettered.
    let (owner, broken_email, ticket, _) = customer_with_ticket(h, BROKEN_PHONE, 12);
    authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    let dead = eventually(Duration::from_secs(60), "the failed notification in the DLQ", || {
        let r = get(&p.url("/api/v1/workflows/dead-letters?queue=noizylab-notify"));
        let rows = r.json()["dead_letters"].as_array().cloned().unwrap_or_default();
        rows.into_iter().find(|d| d["body"].as_str().is_some_and(|b| b.contains(&ticket)))
    });
    assert_eq!(dead["queue"], "noizylab-notify");
    let attempts = h
        .providers
        .requests()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("To=%2B15550000000"))
        .count();
    assert!(attempts >= 2, "retried before giving up ({attempts})");
    assert_eq!(count(h, "/v3/mail/send", &broken_email), 2, "one sign-in mail, one status mail");
    let log = authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={ticket}"), &owner, None).json();
    let rows = log["deliveries"].as_array().cloned().unwrap_or_default();
    let email_row =
        rows.iter().find(|d| d["channel"] == "email" && d["event"] == "ticket.status_changed").expect("email row");
    assert_eq!(email_row["attempts"], 1, "the email went once, however often the SMS was retried");

    // Once the provider is back, an admin replays the dead letter and the SMS goes out,
    // while the email that already went is not sent again.
    TWILIO_DOWN.store(false, std::sync::atomic::Ordering::SeqCst);
    let id = dead["message_id"].as_str().expect("message id");
    let r = authed(p, "POST", &format!("/api/v1/workflows/dead-letters/{id}/replay"), &owner, None);
    assert_eq!(r.status, 202, "{}", r.text());
    eventually(Duration::from_secs(20), "the replayed SMS", || {
        let log =
            authed(p, "GET", &format!("/api/v1/notifications/deliveries?ticket_id={ticket}"), &owner, None).json();
        let rows = log["deliveries"].as_array().cloned().unwrap_or_default();
        rows.iter().find(|d| d["channel"] == "sms" && d["status"] == "sent").cloned()
    });
    assert_eq!(count(h, "/v3/mail/send", &broken_email), 2, "the email was not sent again");
}

#[test]
fn a_web_push_is_encrypted_for_the_browser_and_signed_with_vapid() {
    use base64::Engine;
    let h = hub();
    let p = &h.platform;
    let owner = access(&sign_in_by_mail(h, OWNER_EMAIL));
    let customer = access(&sign_in_by_mail(h, &unique_email("pushed")));
    let browser: Value = serde_json::from_str(&webpush_tool(&["keys"], None)).expect("browser keys");
    let endpoint = format!("{}/push/{}", h.providers.url(), unique_email("sub").replace('@', "-"));
    let sub = json!({ "endpoint": endpoint, "keys": { "p256dh": browser["p256dh"], "auth": browser["auth"] } });
    let r = authed(p, "POST", "/api/v1/notifications/push/subscriptions", &customer, Some(&sub));
    assert_eq!(r.status, 201, "{}", r.text());
    let bad = json!({ "endpoint": endpoint, "keys": { "p256dh": "AAAA", "auth": browser["auth"] } });
    let refused = authed(p, "POST", "/api/v1/notifications/push/subscriptions", &customer, Some(&bad));
    assert_eq!(refused.json()["error"]["field"], "keys");
    let prefs = json!({ "timezone": zone_at(12), "notifications": { "email": false, "push": true } });
    assert_eq!(authed(p, "PUT", "/api/v1/users/preferences", &customer, Some(&prefs)).status, 200);
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Turntable hum" }))).json();
    let ticket = t["id"].as_str().expect("ticket").to_owned();
    let moved =
        authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(moved.status, 200);

    let path = endpoint.trim_start_matches(&h.providers.url()).to_owned();
    let pushed =
        eventually(Duration::from_secs(20), "the push", || h.providers.requests().into_iter().find(|r| r.path == path));
    assert_eq!(pushed.header("content-encoding"), Some("aes128gcm"));
    assert_eq!(pushed.header("ttl"), Some("86400"));
    // The body decrypts with the reference implementation, with the browser's keys.
    let body = base64::engine::general_purpose::STANDARD.encode(&pushed.body);
    let plain = webpush_tool(
        &["decrypt", browser["private"].as_str().unwrap_or(""), browser["auth"].as_str().unwrap_or("")],
        Some(&body),
    );
    let payload: Value = serde_json::from_str(&plain).expect("a JSON payload");
    assert!(payload["body"].as_str().is_some_and(|b| b.contains("triage")), "{payload}");
    assert_eq!(payload["ticket_id"], ticket.as_str());

    // VAPID: an ES256 JWT for the push service's origin, checked by an independent JWT
    // library against the advertised public key.
    let auth = pushed.header("authorization").expect("authorization").to_owned();
    let (token, key) = auth.strip_prefix("vapid t=").and_then(|r| r.split_once(", k=")).expect("vapid t=…, k=…");
    let advertised = authed(p, "GET", "/api/v1/notifications/push/key", &customer, None).json();
    assert_eq!(advertised["public_key"], key);
    assert_eq!(key, h.vapid["p256dh"].as_str().unwrap_or_default(), "the platform's own VAPID key");
    let point = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key).expect("key");
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let decoding =
        jsonwebtoken::DecodingKey::from_ec_components(&b64(&point[1..33]), &b64(&point[33..65])).expect("ec key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[h.providers.url()]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation).expect("a valid VAPID JWT").claims;
    assert_eq!(claims["sub"], "mailto:ops@noizylab.test");
}

const INBOUND_KEY: &str = "inbound-test-key-0123456789";

/// A SendGrid Inbound Parse post: multipart form fields.
fn inbound(p: &Platform, key: &str, fields: &[(&str, &str)]) -> Reply {
    let boundary = "----noizylab-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let url = p.url(&format!("/api/v1/tickets/email-replies?key={key}"));
    request("POST", &url, &[("content-type", content_type.as_str())], Some(body.as_bytes()))
}

#[test]
fn an_emailed_reply_lands_on_its_ticket_once_and_only_from_its_customer() {
    let h = hub();
    let p = &h.platform;
    let (owner, email, ticket, _) = customer_with_ticket(h, "+15145550166", 12);
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(r.status, 200, "{}", r.text());
    let mail = eventually(Duration::from_secs(20), "the status mail", || {
        h.providers.requests().into_iter().find(|r| {
            r.path == "/v3/mail/send"
                && String::from_utf8_lossy(&r.body).contains(&email)
                && String::from_utf8_lossy(&r.body).contains("triage")
        })
    });
    let mail: Value = serde_json::from_slice(&mail.body).expect("json");
    let reply_to = mail["reply_to"]["email"].as_str().expect("reply_to").to_owned();

    let text = "Thanks, please go ahead with the speaker.\n\nOn Mon, 23 Nov 2026, NoizyLab wrote:\n> Your repair is now triage.";
    let envelope = json!({ "to": [reply_to], "from": email }).to_string();
    let headers = format!("Message-ID: <reply-{ticket}@mail.example>\nSubject: Re: Repair");
    let fields = [
        ("envelope", envelope.as_str()),
        ("from", email.as_str()),
        ("to", reply_to.as_str()),
        ("subject", "Re: Repair"),
        ("text", text),
        ("headers", headers.as_str()),
    ];
    let r = inbound(p, INBOUND_KEY, &fields);
    assert_eq!(r.status, 201, "{}", r.text());
    // Redelivered by the provider: nothing added twice.
    let again = inbound(p, INBOUND_KEY, &fields);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["duplicate"], true);
    let view = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).json();
    let replies: Vec<&Value> = view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "message" && e["body"].as_str().is_some_and(|b| b.contains("go ahead")))
        .collect();
    assert_eq!(replies.len(), 1, "{:?}", view["timeline"]);
    assert_eq!(replies[0]["body"], "Thanks, please go ahead with the speaker.", "the quoted mail is left out");
    assert_eq!(replies[0]["visibility"], "customer");

    // Someone else replying from the address, a made-up address, a wrong key: refused.
    let envelope = json!({ "to": [reply_to], "from": "mallory@example.com" }).to_string();
    let other = [("envelope", envelope.as_str()), ("text", "cancel everything"), ("headers", "Message-ID: <m1@x>")];
    let r = inbound(p, INBOUND_KEY, &other);
    assert_eq!(r.status, 403, "{}", r.text());
    let forged_to = reply_to.replacen(&ticket, "someone-elses-ticket", 1);
    let envelope = json!({ "to": [forged_to], "from": email }).to_string();
    let r = inbound(p, INBOUND_KEY, &[("envelope", envelope.as_str()), ("text", "hello")]);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "to");
    assert_eq!(inbound(p, "wrong-key", &fields).status, 401);
    let envelope_ok = json!({ "to": [reply_to], "from": email }).to_string();
    let r = inbound(p, INBOUND_KEY, &[("envelope", envelope_ok.as_str()), ("text", "> only the quote")]);
    assert_eq!(r.status, 422, "{}", r.text());
    let view = authed(p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).json();
    let bodies: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["body"].as_str()).collect();
    assert!(!bodies.iter().any(|b| b.contains("cancel everything")), "{bodies:?}");
}

#[test]
fn in_app_notices_reach_the_customers_open_inbox_and_wait_for_the_next_visit() {
    let h = hub();
    let p = &h.platform;
    let owner = access(&sign_in_by_mail(h, OWNER_EMAIL));
    let customer = access(&sign_in_by_mail(h, &unique_email("inboxed")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Mixer channel dead" }))).json();
    let (ticket, number) = (t["id"].as_str().expect("id").to_owned(), t["number"].as_i64().expect("number"));

    let r = authed(p, "POST", "/api/v1/users/me/live/ticket", &customer, None);
    assert_eq!(r.status, 201, "{}", r.text());
    let path = r.json()["path"].as_str().expect("path").to_owned();
    let mut inbox = connect(&p.ws_url(&path)).expect("inbox");
    let hello = next_of(&mut inbox, "hello");
    assert_eq!(hello["you"]["staff"], false);
    let r = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(r.status, 200, "{}", r.text());
    let notice = loop {
        let f = next_of(&mut inbox, "event");
        if f["event"] == "ticket.status_changed" {
            break f;
        }
    };
    assert_eq!(notice["title"], format!("Repair #{number}: triage"));
    assert_eq!(notice["url"], format!("/portal/tickets/{ticket}"));
    let seq = notice["seq"].as_i64().expect("seq");

    // Not connected when the next one comes: it waits in the inbox.
    drop(inbox);
    let r =
        authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "DIAGNOSTICS" })));
    assert_eq!(r.status, 200, "{}", r.text());
    let later = eventually(Duration::from_secs(20), "the notice kept for later", || {
        let path =
            authed(p, "POST", "/api/v1/users/me/live/ticket", &customer, None).json()["path"].as_str()?.to_owned();
        let mut inbox = connect(&p.ws_url(&format!("{path}&since={seq}"))).ok()?;
        loop {
            let f = next_json(&mut inbox);
            if f["type"] == "hello" {
                return None;
            }
            if f["title"].as_str().is_some_and(|t| t.contains("diagnostics")) {
                return Some(f);
            }
        }
    });
    assert_eq!(later["ticket_id"], ticket.as_str());
    // Nobody else can enter someone's inbox: the ticket names the room it was minted for.
    let stranger = access(&sign_in_by_mail(h, &unique_email("nosy")));
    let theirs = authed(p, "POST", "/api/v1/users/me/live/ticket", &stranger, None).json();
    let token = theirs["ticket"].as_str().expect("ticket");
    let customer_id = path.split('/').nth(4).expect("user id in the path");
    assert!(connect(&p.ws_url(&format!("/api/v1/users/{customer_id}/live?ticket={token}"))).is_err());
}

/// A form body's fields (`application/x-www-form-urlencoded`), decoded.
fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = (bytes[i] == b'%').then(|| std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()).flatten();
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                }
                None => {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Mailgun's messages API: every message accepted with an id, as Mailgun answers.
fn mailgun_api(req: &Received) -> (u16, String) {
    if req.method == "POST" && req.path == "/v3/mg.noizylab.test/messages" {
        return (200, json!({ "id": "<20261204.1@mg.noizylab.test>", "message": "Queued. Thank you." }).to_string());
    }
    (404, json!({ "message": "not found" }).to_string())
}

const MAILGUN_SIGNING_KEY: &str = "mailgun-signing-key-test";

/// A Mailgun route's forward of a reply: a form signed with the webhook signing key.
fn mailgun_forward(p: &Platform, fields: &[(&str, &str)], timestamp: i64, key: &str) -> Reply {
    let (t, token) = (timestamp.to_string(), format!("tok{timestamp}x{}", fields.len()));
    let signature = noizylab_core::mailgun::sign(key, &t, &token);
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.extend([("timestamp", t.as_str()), ("token", token.as_str()), ("signature", signature.as_str())]);
    let body: String = all
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    request("POST", &p.url("/api/v1/tickets/email-replies/mailgun"), &headers, Some(body.as_bytes()))
}

#[test]
fn with_mailgun_chosen_mail_goes_through_its_messages_api_and_its_signed_forwards_become_replies() {
    let mailgun = StandIn::start(mailgun_api);
    let url = mailgun.url();
    let p = Platform::fresh_with(
        "mailgun",
        &[
            ("NOIZYLAB_EMAIL_PROVIDER", "mailgun"),
            ("NOIZYLAB_MAILGUN_BASE_URL", url.as_str()),
            ("NOIZYLAB_MAILGUN_DOMAIN", "mg.noizylab.test"),
            ("NOIZYLAB_MAILGUN_API_KEY", "key-mailgun-test"),
            ("NOIZYLAB_MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_SIGNING_KEY),
        ],
    );
    // Sign-in mail goes out through Mailgun: its form, basic auth api:<key>.
    let sign_in_mailgun = |email: &str| {
        let asked = ask_for_link(&p, email);
        assert_eq!(asked.status, 202);
        let mail = eventually(Duration::from_secs(10), "the sign-in mail at Mailgun", || {
            mailgun.requests().into_iter().rev().find(|r| field(&form_fields(&r.body), "to") == Some(email))
        });
        assert_eq!(mail.header("authorization"), Some("Basic YXBpOmtleS1tYWlsZ3VuLXRlc3Q="), "api:key-mailgun-test");
        assert_eq!(mail.header("content-type"), Some("application/x-www-form-urlencoded"));
        let form = form_fields(&mail.body);
        assert!(field(&form, "from").is_some() && field(&form, "subject").is_some());
        let text = field(&form, "text").expect("text");
        let code: String = text.split("code: ").nth(1).map(|c| c.chars().take(6).collect()).expect("code");
        let r = login(&p, email, &code, &challenge(&asked));
        assert_eq!(r.status, 200, "{}", r.text());
        access(&r.json())
    };
    let owner = sign_in_mailgun(OWNER_EMAIL);
    let email = unique_email("mailgun");
    let customer = sign_in_mailgun(&email);
    let prefs = json!({ "notifications": { "email": true } });
    assert_eq!(authed(&p, "PUT", "/api/v1/users/preferences", &customer, Some(&prefs)).status, 200);
    let t = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Tape deck eats tapes" })));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let r = authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/status"), &owner, Some(&json!({ "to": "TRIAGE" })));
    assert_eq!(r.status, 200, "{}", r.text());
    let status_mail =
        eventually(Duration::from_secs(20), "the status mail at Mailgun", || {
            mailgun.requests().into_iter().map(|r| form_fields(&r.body)).find(|f| {
                field(f, "to") == Some(email.as_str()) && field(f, "text").is_some_and(|t| t.contains("triage"))
            })
        });
    let reply_to = field(&status_mail, "h:Reply-To").expect("h:Reply-To").to_owned();
    assert!(reply_to.starts_with(&format!("ticket+{ticket}.")), "{reply_to}");

    // The customer's reply, forwarded by a Mailgun route, signed.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
    let message_id = format!("<mg-{ticket}@mail.example>");
    let reply = [
        ("recipient", reply_to.as_str()),
        ("sender", email.as_str()),
        ("from", email.as_str()),
        ("subject", "Re: your repair"),
        ("body-plain", "Yes, fix it please.\n\nOn Fri, NoizyLab wrote:\n> triage"),
        ("stripped-text", "Yes, fix it please."),
        ("Message-Id", message_id.as_str()),
    ];
    let r = mailgun_forward(&p, &reply, now, MAILGUN_SIGNING_KEY);
    assert_eq!(r.status, 201, "{}", r.text());
    let again = mailgun_forward(&p, &reply, now + 1, MAILGUN_SIGNING_KEY);
    assert_eq!((again.status, again.json()["duplicate"].as_bool()), (200, Some(true)), "{}", again.text());
    let view = authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).json();
    let said: Vec<&Value> =
        view["timeline"].as_array().expect("timeline").iter().filter(|e| e["body"] == "Yes, fix it please.").collect();
    assert_eq!(said.len(), 1, "{:?}", view["timeline"]);

    // Forged or replayed forwards are refused, saying why.
    let forged = mailgun_forward(&p, &reply, now, "someone-elses-key");
    assert_eq!(forged.status, 401, "{}", forged.text());
    assert!(forged.text().contains("does not match"), "{}", forged.text());
    let stale = mailgun_forward(&p, &reply, now - 3600, MAILGUN_SIGNING_KEY);
    assert_eq!(stale.status, 401, "{}", stale.text());
    assert!(stale.text().contains("15 minutes"), "{}", stale.text());
    let json_body = request(
        "POST",
        &p.url("/api/v1/tickets/email-replies/mailgun"),
        &[("content-type", "application/json")],
        Some(b"{}"),
    );
    assert_eq!(json_body.status, 415, "{}", json_body.text());
    drop(mailgun);
    p.stop();
}
