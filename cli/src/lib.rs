//! # passt-cli
//!
//! The command line of pasta and passt (passt-reference §1, callers §1): argv in, a
//! plain [`Options`] out, with no side effects. The binaries and the run-time wiring
//! live elsewhere; they call [`options::mode_from_argv0`], then [`options::parse_with`]
//! (passing the host's ephemeral port range), then act on the [`Action`].
//!
//! - [`getopt`]: a GNU `getopt_long`-compatible tokenizer (why not clap: see there).
//! - [`options`]: the option table, [`Options`] and the parser (split into table,
//!   types and parsing).
//! - [`values`]: parsers for option arguments (addresses, MACs, MTU, names…).
//! - [`help`]: `--help` and `--version` texts.
//! - [`error`]: [`CliError`], one line naming the offending option.
//! - [`launch`]: from [`Options`] to a running pasta or passt (host discovery, the
//!   engine's configuration, the Linux shim).
//! - [`resolv`]: the host's `/etc/resolv.conf`.
//! - [`man`]: the `pasta(1)`/`passt(1)` manual pages, from the option table.
//! - [`users`]: `--runas`, resolved against the local account files.
//! - [`pesto`]: the `pesto` client of pasta's control socket (`-c`).
//!
//! Port specifications are parsed by `passt_core::fwd::spec`, shared with anything
//! else that reads them.

pub mod error;
pub mod getopt;
pub mod help;
pub mod launch;
pub mod man;
pub mod options;
pub mod pesto;
pub mod resolv;
pub mod users;
pub mod values;

pub use error::CliError;
pub use options::{parse, parse_with, Action, Options, ParseEnv};
