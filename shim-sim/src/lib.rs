//! # passt-shim-sim
//!
//! A deterministic simulator for `passt-core`: one [`Engine`](passt_core::Engine)
//! driven on a virtual clock by packetdrill-style scripts, with every input and every
//! op recorded in a text log that [`replay`] checks byte for byte.
//!
//! - [`sim`]: [`Sim`], the engine plus clock, outbox, RNG and log; [`storage`]: the
//!   memory it lends the engine.
//! - [`parse`] and [`config`]: the script language (`scripts/*.sim`).
//! - [`frames`]: frame builders and matchers (`hex`, `arp`, `dhcp`, `ndp`, `dhcpv6`…).
//! - [`malformed`]: generated malformed frames.
//! - [`run`]: the executor.
//! - [`log`]: the record/replay log and [`replay`].
//! - [`sockets`] and [`testbed`]: a host socket model with remote peers (byte streams
//!   and datagrams), and a testbed driving the engine through it from Rust tests;
//!   [`datagrams`]: the UDP and ICMP echo frames those tests exchange.
//! - [`faults`]: injected host failures and link damage; [`guest`]: a guest TCP
//!   endpoint; [`sweep`]: seeded whole-world simulations with safety and liveness
//!   checks (`tests/sweep.rs` runs thousands of seeds).
//!
//! ## Committed logs and blessing
//! Every `scripts/NAME.sim` has its recorded log next to it, `scripts/NAME.log`. The
//! `scripts` test checks that running the script reproduces the committed log exactly
//! and that replaying the committed log reproduces the same ops. When the engine's
//! behaviour changes on purpose, regenerate the logs with
//! `PASST_SIM_BLESS=1 cargo test -p passt-shim-sim --test scripts` and review the diff.

pub mod config;
pub mod datagrams;
pub mod faults;
pub mod fields;
pub mod frames;
pub mod guest;
pub mod hex;
pub mod host;
pub mod log;
pub mod malformed;
pub mod offload;
pub mod parse;
pub mod rng;
pub mod run;
pub mod sim;
pub mod sockets;
pub mod storage;
pub mod sweep;
pub mod testbed;

pub use log::{replay, Divergence, Log};
pub use parse::{parse_script, ParseError, Script};
pub use run::{run_file, run_script, Outcome, ScriptError};
pub use sim::{Sim, SimError};
pub use storage::SimStorage;
