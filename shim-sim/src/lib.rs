//! Deterministic simulator for passt-core (being written).
