//! Deterministic simulator for passt-core (being written).

pub mod sockets;
pub mod testbed;
