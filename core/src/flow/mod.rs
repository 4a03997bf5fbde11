//! The flow table: every connection or datagram flow the engine tracks.
//!
//! A flow has two sides — the side that initiated it and the side it was forwarded
//! to — each facing one interface ([`Pif`]) and described by a [`FlowKey`]. Slots live
//! in storage lent by the caller; each carries a generation counter that is bumped when
//! the slot is freed, so a stale [`FlowId`] (or `SockRef`) never reaches a new flow.
//! Sides are found through a keyed open-addressing index (see [`table`]).

mod hash;
pub mod table;

pub use hash::{key_from_seed, SipHasher24};
pub use table::{index_len_for, FlowId, FlowTable, InsertError, Slot, TableError};

use crate::wire::IpProtocol;
use core::net::IpAddr;

/// The interface a flow side faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pif {
    /// The guest, through the tap device or qemu's socket.
    Tap,
    /// Host sockets in the init (host) namespace.
    Host,
    /// pasta's loopback bypass: sockets inside the guest namespace.
    Splice,
}

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// The side that opened the flow.
    Initiator = 0,
    /// The side the flow was forwarded to.
    Target = 1,
}

impl Side {
    /// Both sides, initiator first.
    pub const BOTH: [Side; 2] = [Side::Initiator, Side::Target];

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Initiator => Side::Target,
            Side::Target => Side::Initiator,
        }
    }
}

/// The addresses and ports of one flow side, as seen from that side's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Interface the side faces.
    pub pif: Pif,
    /// Transport protocol (TCP, UDP, ICMP, ICMPv6).
    pub protocol: IpProtocol,
    /// Our address on that side.
    pub our_addr: IpAddr,
    /// Our port (or echo identifier).
    pub our_port: u16,
    /// The peer's address on that side.
    pub endpoint_addr: IpAddr,
    /// The peer's port (or echo identifier).
    pub endpoint_port: u16,
}

impl FlowKey {
    /// Feed the key into a hasher. IPv4 addresses are hashed in their IPv4-mapped IPv6
    /// form so both families share one layout.
    pub fn hash_into(&self, h: &mut SipHasher24) {
        fn canonical(a: &IpAddr) -> [u8; 16] {
            match a {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            }
        }
        h.write(&[self.pif as u8, u8::from(self.protocol)]);
        h.write(&canonical(&self.our_addr));
        h.write(&self.our_port.to_be_bytes());
        h.write(&canonical(&self.endpoint_addr));
        h.write(&self.endpoint_port.to_be_bytes());
    }
}
