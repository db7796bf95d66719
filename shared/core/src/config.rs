//! Every setting a worker reads from its environment, named once.
//!
//! Workers read settings only through these names (each worker's `Config::from_env`), and
//! `tests/wrangler_configs.rs` holds every `wrangler.toml` to [`settings_of`]: a `[vars]`
//! entry no worker reads, or a required var missing from a config, fails the build's tests.

/// How a setting reaches a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plain var its `wrangler.toml` declares (possibly empty, filled at deploy).
    Var,
    /// A plain var with a default in code: set only to move it (tests, tuning).
    Tuning,
    /// A secret (`wrangler secret put`, or the local launcher): never in a config file.
    Secret,
}

pub const ENVIRONMENT: &str = crate::bindings::ENVIRONMENT;
pub const INTERNAL_SECRET: &str = crate::bindings::INTERNAL_SECRET;

// The gateway.
pub const PORTAL_ORIGIN: &str = "PORTAL_ORIGIN";
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
pub const USER_RATE_LIMIT: &str = "USER_RATE_LIMIT";
pub const ANON_RATE_LIMIT: &str = "ANON_RATE_LIMIT";

// main.
pub const PORTAL_URL: &str = "PORTAL_URL";
pub const OWNER_EMAIL: &str = "OWNER_EMAIL";
pub const SIGNIN_LINKS_PER_EMAIL: &str = "SIGNIN_LINKS_PER_EMAIL";
pub const SIGNIN_LINKS_PER_IP: &str = "SIGNIN_LINKS_PER_IP";
pub const SIGNIN_LINKS_PER_ADDRESS: &str = "SIGNIN_LINKS_PER_ADDRESS";
pub const JWT_SIGNING_KEYS: &str = "JWT_SIGNING_KEYS";
pub const INBOUND_EMAIL_KEY: &str = "INBOUND_EMAIL_KEY";

// customer-portal.
pub const STRIPE_BASE_URL: &str = "STRIPE_BASE_URL";
pub const STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";

// notifications.
pub const REPLY_DOMAIN: &str = "REPLY_DOMAIN";
pub const MAIL_FROM: &str = "MAIL_FROM";
pub const SENDGRID_BASE_URL: &str = "SENDGRID_BASE_URL";
pub const SENDGRID_API_KEY: &str = "SENDGRID_API_KEY";
/// `sendgrid` (the default) or `mailgun`: which provider the hub sends email through.
pub const EMAIL_PROVIDER: &str = "EMAIL_PROVIDER";
pub const MAILGUN_BASE_URL: &str = "MAILGUN_BASE_URL";
pub const MAILGUN_DOMAIN: &str = "MAILGUN_DOMAIN";
pub const MAILGUN_API_KEY: &str = "MAILGUN_API_KEY";
/// The key Mailgun signs its webhooks (and forwarded replies) with; `main` checks it.
pub const MAILGUN_WEBHOOK_SIGNING_KEY: &str = "MAILGUN_WEBHOOK_SIGNING_KEY";
pub const TWILIO_BASE_URL: &str = "TWILIO_BASE_URL";
pub const TWILIO_ACCOUNT_SID: &str = "TWILIO_ACCOUNT_SID";
pub const TWILIO_AUTH_TOKEN: &str = "TWILIO_AUTH_TOKEN";
pub const TWILIO_FROM: &str = "TWILIO_FROM";
pub const VAPID_PRIVATE_KEY: &str = "VAPID_PRIVATE_KEY";
pub const VAPID_SUBJECT: &str = "VAPID_SUBJECT";

// chat-agent.
pub const ANTHROPIC_BASE_URL: &str = "ANTHROPIC_BASE_URL";
pub const ANTHROPIC_MODEL: &str = "ANTHROPIC_MODEL";
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";

// ebay-sniper.
pub const EBAY_BASE_URL: &str = "EBAY_BASE_URL";
pub const EBAY_MARKETPLACE: &str = "EBAY_MARKETPLACE";
/// Where the shop is (ISO 3166 alpha-2): deals shipping from here score higher.
pub const SHOP_COUNTRY: &str = "SHOP_COUNTRY";
pub const EBAY_CLIENT_ID: &str = "EBAY_CLIENT_ID";
pub const EBAY_CLIENT_SECRET: &str = "EBAY_CLIENT_SECRET";

// voice.
pub const ELEVENLABS_BASE_URL: &str = "ELEVENLABS_BASE_URL";
pub const ELEVENLABS_API_KEY: &str = "ELEVENLABS_API_KEY";

/// Every worker's own settings, besides `ENVIRONMENT` (a var of all) and
/// `INTERNAL_SECRET` (a secret of all).
pub fn settings_of(dir: &str) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match dir {
        "api-gateway" => {
            &[(PORTAL_ORIGIN, Var), (MAX_BODY_BYTES, Var), (USER_RATE_LIMIT, Tuning), (ANON_RATE_LIMIT, Tuning)]
        }
        "main" => &[
            (PORTAL_URL, Var),
            (OWNER_EMAIL, Var),
            (SIGNIN_LINKS_PER_EMAIL, Tuning),
            (SIGNIN_LINKS_PER_IP, Tuning),
            (SIGNIN_LINKS_PER_ADDRESS, Tuning),
            (JWT_SIGNING_KEYS, Secret),
            (INBOUND_EMAIL_KEY, Secret),
            (MAILGUN_WEBHOOK_SIGNING_KEY, Secret),
        ],
        "customer-portal" => {
            &[(PORTAL_URL, Var), (STRIPE_BASE_URL, Var), (STRIPE_SECRET_KEY, Secret), (STRIPE_WEBHOOK_SECRET, Secret)]
        }
        "notifications" => &[
            (REPLY_DOMAIN, Tuning),
            (MAIL_FROM, Tuning),
            (SENDGRID_BASE_URL, Tuning),
            (SENDGRID_API_KEY, Secret),
            (EMAIL_PROVIDER, Tuning),
            (MAILGUN_BASE_URL, Tuning),
            (MAILGUN_DOMAIN, Tuning),
            (MAILGUN_API_KEY, Secret),
            (TWILIO_BASE_URL, Tuning),
            (TWILIO_ACCOUNT_SID, Secret),
            (TWILIO_AUTH_TOKEN, Secret),
            (TWILIO_FROM, Secret),
            (VAPID_PRIVATE_KEY, Secret),
            (VAPID_SUBJECT, Tuning),
        ],
        "ebay-sniper" => &[
            (EBAY_BASE_URL, Var),
            (EBAY_MARKETPLACE, Var),
            (SHOP_COUNTRY, Var),
            (EBAY_CLIENT_ID, Secret),
            (EBAY_CLIENT_SECRET, Secret),
        ],
        "chat-agent" | "brain" => &[(ANTHROPIC_BASE_URL, Var), (ANTHROPIC_MODEL, Var), (ANTHROPIC_API_KEY, Secret)],
        "voice" => &[(ELEVENLABS_BASE_URL, Var), (ELEVENLABS_API_KEY, Secret)],
        _ => &[],
    }
}

/// Whether `dir` reads the setting `name` (the two every worker reads included).
pub fn reads(dir: &str, name: &str) -> bool {
    name == ENVIRONMENT || name == INTERNAL_SECRET || settings_of(dir).iter().any(|(n, _)| *n == name)
}
