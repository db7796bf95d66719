//! Reading a worker's settings (named once, in `noizylab_core::config`). Each worker
//! gathers its own into a `Config::from_env`; these are the only readers.

use std::str::FromStr;

use worker::Env;

/// A plain var, if set and not empty.
pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string()).filter(|v| !v.trim().is_empty())
}

/// A secret, if set and not empty.
pub fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|v| v.to_string()).filter(|v| !v.trim().is_empty())
}

/// A var holding a positive number, or `default` when unset, unreadable or zero.
pub fn positive<T: FromStr + PartialOrd + Default>(env: &Env, name: &str, default: T) -> T {
    var(env, name).and_then(|v| v.trim().parse().ok()).filter(|n| *n > T::default()).unwrap_or(default)
}

/// A var, or `default` when unset.
pub fn var_or(env: &Env, name: &str, default: &str) -> String {
    var(env, name).unwrap_or_else(|| default.to_owned())
}
