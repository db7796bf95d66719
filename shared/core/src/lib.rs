//! The pure core of NoizyLab OS, shared by all seventeen workers.
//!
//! Nothing here depends on the `worker` crate: it compiles to wasm for the workers and
//! natively for `cargo test`. The worker-facing adapter lives in `noizylab-kit`.

pub mod audit;
pub mod auth;
pub mod bindings;
pub mod chat;
pub mod config;
pub mod contracts;
pub mod deals;
pub mod diagnostics;
pub mod error;
pub mod events;
pub mod guides;
pub mod health;
pub mod identity;
pub mod inventory;
pub mod mailgun;
pub mod names;
pub mod pricing;
pub mod qc;
pub mod ratelimit;
pub mod reorder;
pub mod replies;
pub mod reports;
pub mod request_id;
pub mod schematic;
pub mod services;
pub mod stripe;
pub mod text;
pub mod tickets;
pub mod time;
pub mod vision;
pub mod voice;
pub mod webhooks;
pub mod webpush;
pub mod workflows;

/// The version every worker reports in `/health`: the workspace version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
