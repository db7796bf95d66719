//! The hub's settings, read once per use from the names in `noizylab_core::config`.

use noizylab_core::config as names;
use noizylab_kit::call::is_development;
use noizylab_kit::config::{secret, var, var_or};
use worker::Env;

pub struct Config {
    /// Without providers, email and SMS land in the dev outbox; only in development.
    pub development: bool,
    pub reply_domain: String,
    pub mail_from: String,
    /// Which email provider sends: `sendgrid` (the default) or `mailgun`.
    pub email_provider: String,
    pub sendgrid_base: String,
    pub sendgrid_key: Option<String>,
    pub mailgun_base: String,
    /// The sending domain (`mg.example.com`) and the API key, both or none.
    pub mailgun: Option<(String, String)>,
    pub twilio_base: String,
    /// (account sid, auth token, sender number), all three or none.
    pub twilio: Option<(String, String, String)>,
    pub vapid_private: Option<String>,
    pub vapid_subject: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        let twilio = match (
            secret(env, names::TWILIO_ACCOUNT_SID),
            secret(env, names::TWILIO_AUTH_TOKEN),
            secret(env, names::TWILIO_FROM),
        ) {
            (Some(sid), Some(token), Some(from)) => Some((sid, token, from)),
            _ => None,
        };
        Config {
            development: is_development(env),
            reply_domain: var_or(env, names::REPLY_DOMAIN, "replies.noizylab.example"),
            mail_from: var_or(env, names::MAIL_FROM, "no-reply@noizylab.example"),
            email_provider: var_or(env, names::EMAIL_PROVIDER, "sendgrid").to_ascii_lowercase(),
            sendgrid_base: var_or(env, names::SENDGRID_BASE_URL, "https://api.sendgrid.com"),
            mailgun_base: var_or(env, names::MAILGUN_BASE_URL, "https://api.mailgun.net"),
            mailgun: match (var(env, names::MAILGUN_DOMAIN), secret(env, names::MAILGUN_API_KEY)) {
                (Some(domain), Some(key)) => Some((domain, key)),
                _ => None,
            },
            sendgrid_key: secret(env, names::SENDGRID_API_KEY),
            twilio_base: var_or(env, names::TWILIO_BASE_URL, "https://api.twilio.com"),
            twilio,
            vapid_private: secret(env, names::VAPID_PRIVATE_KEY),
            vapid_subject: var_or(env, names::VAPID_SUBJECT, "mailto:ops@noizylab.example"),
        }
    }
}
