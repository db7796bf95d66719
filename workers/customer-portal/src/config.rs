//! The portal's settings, read from the names in `noizylab_core::config`.

use noizylab_core::config as names;
use noizylab_kit::config::{secret, var, var_or};
use worker::Env;

pub struct Config {
    /// Where the portal is served: Stripe sends the customer back here.
    pub portal_url: Option<String>,
    pub stripe_base_url: String,
    pub stripe_secret_key: Option<String>,
    pub stripe_webhook_secret: Option<String>,
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        Config {
            portal_url: var(env, names::PORTAL_URL),
            stripe_base_url: var_or(env, names::STRIPE_BASE_URL, "https://api.stripe.com"),
            stripe_secret_key: secret(env, names::STRIPE_SECRET_KEY),
            stripe_webhook_secret: secret(env, names::STRIPE_WEBHOOK_SECRET),
        }
    }
}
