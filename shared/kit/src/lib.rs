//! The adapter between `worker` and the pure core, shared by all seventeen workers.
//!
//! A worker's fetch handler is one call to [`serve`] with its route table: a `match` on
//! method and path segments whose arms are one line each, pointing at named handlers.
//! `serve` does what every internal worker must: verify the signed identity, carry the
//! request id, turn [`ApiError`]s into the one JSON error body, and log internal failures
//! without echoing them.

pub mod anthropic;
pub mod audit;
pub mod call;
pub mod caller;
pub mod config;
pub mod db;
pub mod events;
pub mod gate;
pub mod health;
pub mod http;
pub mod log;
#[cfg(target_arch = "wasm32")]
mod microtasks;
pub mod queue;
pub mod random;
pub mod room;
pub mod scans;
pub mod time;

pub use call::{lazily, serve, Call};
pub use noizylab_core::error::ApiError;

/// What a handler returns.
pub type ApiResult<T = worker::Response> = Result<T, ApiError>;

/// Lifts a platform error (`worker::Error`, `KvError`, …) into an internal [`ApiError`],
/// keeping the detail for the log.
pub trait OrInternal<T> {
    fn or_internal(self, what: &str) -> ApiResult<T>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self, what: &str) -> ApiResult<T> {
        self.map_err(|e| ApiError::internal(format!("{what}: {e}")))
    }
}
