//! The gateway's configuration, read from vars once per isolate (vars cannot change
//! under a running isolate: a new deployment is a new isolate).

use noizylab_core::config as names;
use noizylab_kit::config::{positive, var};
use worker::Env;

/// 10 MiB: intake photos and documents fit; anything larger is refused before it is read.
const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// Requests per user per minute (the seed's limit).
const DEFAULT_USER_PER_MINUTE: u32 = 100;

/// Anonymous API requests per address per minute: sign-in pages, webhooks and room
/// sockets from one address stay well under it; a scraper or a credential flood does not.
const DEFAULT_ANON_PER_MINUTE: u32 = 600;

pub struct Config {
    /// Origins allowed by CORS (`PORTAL_ORIGIN`, comma-separated).
    pub origins: Vec<String>,
    pub max_body_bytes: u64,
    /// Anonymous API requests per client address per minute (`ANON_RATE_LIMIT`).
    pub anonymous_per_minute: u32,
    /// Requests per signed-in user per minute (`USER_RATE_LIMIT`).
    pub user_per_minute: u32,
}

thread_local! {
    static CONFIG: std::cell::OnceCell<std::rc::Rc<Config>> = const { std::cell::OnceCell::new() };
}

impl Config {
    /// The configuration, read from `env` the first time.
    pub fn of(env: &Env) -> std::rc::Rc<Config> {
        CONFIG.with(|c| c.get_or_init(|| std::rc::Rc::new(Config::from_env(env))).clone())
    }

    fn from_env(env: &Env) -> Self {
        let origins = var(env, names::PORTAL_ORIGIN)
            .map(|v| {
                v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
            })
            .unwrap_or_default();
        Config {
            origins,
            max_body_bytes: positive(env, names::MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES),
            anonymous_per_minute: positive(env, names::ANON_RATE_LIMIT, DEFAULT_ANON_PER_MINUTE),
            user_per_minute: positive(env, names::USER_RATE_LIMIT, DEFAULT_USER_PER_MINUTE),
        }
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}
