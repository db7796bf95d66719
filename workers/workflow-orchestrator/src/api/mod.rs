//! The handlers of the automation engine, one module per resource (the bus consumer and
//! the operator routes are still in `lib.rs`). A handler module never imports another.

pub mod definitions;
pub mod runs;
pub mod tasks;
pub mod webhooks;
