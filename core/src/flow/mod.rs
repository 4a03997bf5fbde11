//! Flow table (to be written).
