//! Built-in services that answer the guest directly, without touching the host.
//!
//! Each responder is a pure function of the configuration, what the engine learned
//! about the guest, and one parsed request: it writes one complete Ethernet frame into
//! the engine's transmit buffer and returns its length, or says why it stays silent.
//! They never panic: a reply that would not fit the buffer is refused and counted.

pub mod arp;
pub mod dhcp;
pub mod dhcpv6;
pub mod fqdn;
pub mod ndp;

use crate::stats::DropReason;

/// What a responder decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// A frame of this many bytes is ready at the start of the output buffer.
    Frame(usize),
    /// No reply, for this reason (counted by the engine).
    Silent(DropReason),
}
