//! The analytics worker's handlers, one module per resource.

pub mod events;
pub mod kpis;
pub mod revenue;
pub mod technicians;
