//! The deal hunter's settings, read once per use from the names in `noizylab_core::config`.

use noizylab_core::config as names;
use noizylab_kit::config::{secret, var_or};
use worker::Env;

pub struct Config {
    /// eBay's API root (production, the sandbox, or a stand-in).
    pub base: String,
    pub marketplace: String,
    /// Where the shop is: listings shipping from here score higher.
    pub country: String,
    /// The application keyset (client id, client secret), both or none.
    pub keys: Option<(String, String)>,
}

impl Config {
    pub fn from_env(env: &Env) -> Config {
        let keys = match (secret(env, names::EBAY_CLIENT_ID), secret(env, names::EBAY_CLIENT_SECRET)) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        };
        Config {
            base: var_or(env, names::EBAY_BASE_URL, "https://api.ebay.com").trim_end_matches('/').to_owned(),
            marketplace: var_or(env, names::EBAY_MARKETPLACE, "EBAY_CA"),
            country: var_or(env, names::SHOP_COUNTRY, "CA").to_uppercase(),
            keys,
        }
    }

    /// Why eBay cannot be searched, when it cannot.
    pub fn unavailable(&self) -> Option<&'static str> {
        self.keys.is_none().then_some(
            "eBay is not configured: set the EBAY_CLIENT_ID and EBAY_CLIENT_SECRET secrets (an eBay application keyset)",
        )
    }
}
