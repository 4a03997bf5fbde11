//! # passt-core
//!
//! The protocol engine of a Rust passt/pasta: it turns a guest's Layer-2 frames into
//! Layer-4 socket operations on the host and back, answers ARP, DHCP, NDP and DHCPv6
//! itself, and does no I/O of its own.
//!
//! ## The contract
//! - **`no_std`, no `alloc`, no `unsafe`.** Large tables live in storage the caller
//!   lends (`managed::ManagedSlice`); small ones are `heapless`. Every capacity is a
//!   named constant; a full table refuses politely and is counted, never panics.
//! - **Sans-IO.** Inputs are [`Event`]s (a tap frame, tap up/down, socket readiness)
//!   plus the passage of time ([`Engine::handle_timeout`]). Effects are [`Op`] values
//!   executed synchronously by the caller's [`Host`] implementation, which returns an
//!   [`OpResult`]. The engine owns no file descriptors: host sockets are named by
//!   [`SockRef`]s the engine allocates, with generation counters so stale events are
//!   detected.
//! - **No clock, no entropy.** Time comes in as [`Instant`]; [`Engine::poll_timeout`]
//!   says when the engine next needs [`Engine::handle_timeout`]. Anything that must
//!   look random (ISNs, hash keys, RA intervals) derives from [`Config::seed`]. Same
//!   inputs ⇒ same operations, byte for byte.
//! - **Never panics on input.** Every malformed or unwanted frame is dropped and
//!   counted under a [`DropReason`] in [`Stats`].
//!
//! ## Layers
//! - [`wire`]: zero-copy views and `Repr`s for every protocol on the tap link.
//! - [`services`]: the built-in ARP proxy, DHCPv4, NDP and DHCPv6 responders.
//! - [`flow`]: the flow table on lent storage, with generation-checked slots.
//! - [`fwd`]: forwarded ports and the address translation (NAT, DNS forwarding).
//! - [`tcp`], [`udp`], [`icmp`]: the translators (ICMP: echo through ping sockets).
//! - [`engine`]: the [`Engine`] that ties them together behind the event/op contract.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod config;
pub mod engine;
pub mod flow;
pub(crate) mod frame;
pub mod fwd;
pub mod icmp;
pub mod io;
pub mod rng;
pub mod services;
pub mod sockref;
pub mod stats;
mod tap;
pub mod tcp;
pub mod time;
pub mod udp;
pub mod wire;

pub use config::{Config, ConfigError, Mode};
pub use engine::{Engine, EngineError, FlowCounts, GuestState, StartError, Storage};
pub use io::{
    Event, Family, Host, HostError, Interest, Namespace, Op, OpResult, Readiness, Spliced, TcpInfo,
    Transport,
};
pub use sockref::{SockKind, SockRef};
pub use stats::{DropReason, Stats, TcpTimeout, Unanswered};
pub use time::Instant;
