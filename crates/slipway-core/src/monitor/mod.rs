//! Monitoring math: drift with the Population Stability Index ([`psi`]) and sustained-breach
//! detection on a live metric ([`slo`]).
//!
//! Everything here is streaming-friendly: profiles and histograms are fitted or counted one value
//! at a time, can be merged, and never need a whole production window in memory.

pub mod psi;
pub mod slo;
