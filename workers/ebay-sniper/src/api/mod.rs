//! The handlers, one module per resource. A handler module never imports another (shared
//! work lives in `crate::hunt` and `crate::store`), and nothing but `lib.rs` refers to this
//! module.

pub mod deals;
pub mod internal;
pub mod purchases;
pub mod watches;
