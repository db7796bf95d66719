//! Schematics (issue 15): KiCad netlists read into parts and nets, and what a board-level
//! technician asks of them — lookup, net tracing, power rails, rule checks, suspects for a
//! symptom. Pure: `schematic-analyzer` stores and serves it.

pub mod analysis;
pub mod netlist;
pub mod sexpr;

#[cfg(test)]
mod tests;
