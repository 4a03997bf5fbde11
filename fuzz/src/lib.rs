//! Fuzz harness bodies (being written).
