//! # passt-cli
//!
//! The command line of pasta and passt (passt-reference §1, callers §1).
//!
//! - [`getopt`]: a GNU `getopt_long`-compatible tokenizer (why not clap: see there).

pub mod getopt;
