//! The handlers, one module per resource: who → parse → store → publish → answer. A
//! handler module never imports another (shared queries live in `crate::store`), and
//! nothing but `lib.rs` refers to this module.

pub mod audit;
pub mod auth;
pub mod dev;
pub mod devices;
pub mod keys;
pub mod privacy;
pub mod rooms;
pub mod sessions;
pub mod tickets;
pub mod users;
pub mod workspaces;
