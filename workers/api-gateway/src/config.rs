//! The gateway's configuration, read from vars once per request (vars are plain reads).

use worker::Env;

/// 10 MiB: intake photos and documents fit; anything larger is refused before it is read.
const DEFAULT_MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;

/// Anonymous API requests per address per minute: sign-in pages, webhooks and room
/// sockets from one address stay well under it; a scraper or a credential flood does not.
const DEFAULT_ANON_PER_MINUTE: u32 = 600;

pub struct Config {
    /// Origins allowed by CORS (`PORTAL_ORIGIN`, comma-separated).
    pub origins: Vec<String>,
    pub max_body_bytes: u64,
    /// Anonymous API requests per client address per minute (`ANON_RATE_LIMIT`).
    pub anonymous_per_minute: u32,
}

impl Config {
    pub fn from_env(env: &Env) -> Self {
        let var = |name: &str| env.var(name).map(|v| v.to_string()).ok();
        let origins = var("PORTAL_ORIGIN")
            .map(|v| {
                v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
            })
            .unwrap_or_default();
        let max_body_bytes = var("MAX_BODY_BYTES").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let anonymous_per_minute =
            var("ANON_RATE_LIMIT").and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(DEFAULT_ANON_PER_MINUTE);
        Config { origins, max_body_bytes, anonymous_per_minute }
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin)
    }
}
