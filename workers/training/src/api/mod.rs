//! The training worker's handlers, one module per resource.

pub mod events;
pub mod people;
pub mod simulations;
