//! # passt-cli
//!
//! The command line of pasta and passt (passt-reference §1, callers §1).
//!
//! - [`getopt`]: a GNU `getopt_long`-compatible tokenizer (why not clap: see there).
//! - [`values`]: parsers for option arguments (addresses, MACs, MTU, names…).
//! - [`error`]: `CliError`, one line naming the offending option.

pub mod error;
pub mod getopt;
pub mod values;
