//! `main`'s settings, read from the names in `noizylab_core::config`.

use noizylab_core::config as names;
use noizylab_kit::config::{positive, secret, var};
use worker::Env;

pub struct Config {
    /// Where magic links point; empty means sign-in links cannot be sent.
    pub portal_url: Option<String>,
    /// The address that becomes owner of `ws-default` at the first sign-in (bootstrap).
    pub owner_email: Option<String>,
    /// Sign-in requests per 15 minutes: per address from one requester, per requester,
    /// per address from requesters that have not signed it in before.
    pub links_per_email: u32,
    pub links_per_ip: u32,
    pub links_per_address: u32,
    /// `kid:base64url(seed)[,…]`, the first key signs.
    pub signing_keys: Option<String>,
    /// The key the inbound-mail webhook URL carries.
    pub inbound_email_key: Option<String>,
    /// The key Mailgun signs forwarded replies with.
    pub mailgun_signing_key: Option<String>,
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        Config {
            portal_url: var(env, names::PORTAL_URL),
            owner_email: var(env, names::OWNER_EMAIL).map(|e| e.trim().to_ascii_lowercase()),
            links_per_email: positive(env, names::SIGNIN_LINKS_PER_EMAIL, 5),
            links_per_ip: positive(env, names::SIGNIN_LINKS_PER_IP, 20),
            links_per_address: positive(env, names::SIGNIN_LINKS_PER_ADDRESS, 20),
            signing_keys: secret(env, names::JWT_SIGNING_KEYS),
            inbound_email_key: secret(env, names::INBOUND_EMAIL_KEY),
            mailgun_signing_key: secret(env, names::MAILGUN_WEBHOOK_SIGNING_KEY),
        }
    }
}
