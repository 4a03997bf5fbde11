//! The engine (to be written).

/// The protocol engine.
pub struct Engine;
