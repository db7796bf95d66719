//! The handlers, one module per resource. A handler module never imports another (shared
//! queries live in `crate::store`), and nothing but `lib.rs` refers to this module.

pub mod internal;
pub mod parts;
pub mod purchase_orders;
pub mod reorder;
pub mod stock;
pub mod suppliers;
pub mod tickets;
