//! Property-based models of passt-core (see tests/).
