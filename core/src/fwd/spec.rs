//! Port specification grammar (to be written).
