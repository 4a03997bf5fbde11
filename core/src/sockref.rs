//! `SockRef`: the core's handle for a host-side socket.
//!
//! The core owns no file descriptors; it names sockets with `SockRef`s it allocates
//! itself, and the shim maps them to real descriptors. A `SockRef` packs
//! `kind | side | generation | slot` into a `u64`, so the shim can store it as epoll
//! user data. Slots are reused; the generation is bumped on every reuse, so an event
//! carrying a stale `SockRef` is recognised, counted and dropped — a reused slot never
//! aliases an old socket.

/// What a socket is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SockKind {
    /// A listening TCP socket for a forwarded port.
    TcpListen = 1,
    /// A connected TCP socket belonging to a flow.
    TcpConn = 2,
    /// A bound UDP socket for a forwarded port.
    UdpListen = 3,
    /// A per-flow UDP socket.
    UdpFlow = 4,
    /// A ping (ICMP echo) socket belonging to a flow.
    Ping = 5,
}

impl SockKind {
    fn from_u8(v: u8) -> Option<SockKind> {
        Some(match v {
            1 => SockKind::TcpListen,
            2 => SockKind::TcpConn,
            3 => SockKind::UdpListen,
            4 => SockKind::UdpFlow,
            5 => SockKind::Ping,
            _ => return None,
        })
    }
}

/// A generation-checked handle for one host socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockRef(u64);

impl SockRef {
    /// Pack a handle. `side` is 0 or 1 (which side of a flow the socket serves).
    pub const fn new(kind: SockKind, side: u8, generation: u16, slot: u32) -> SockRef {
        SockRef(
            (kind as u64) << 56
                | ((side & 1) as u64) << 48
                | (generation as u64) << 32
                | slot as u64,
        )
    }

    /// Rebuild from the raw `u64` the shim stored (e.g. epoll data). `None` if the
    /// kind byte is not a valid kind.
    pub fn from_raw(raw: u64) -> Option<SockRef> {
        SockKind::from_u8((raw >> 56) as u8).map(|_| SockRef(raw))
    }

    /// The raw value for the shim to store.
    pub const fn to_raw(self) -> u64 {
        self.0
    }

    /// What the socket is for.
    pub fn kind(self) -> SockKind {
        // Every constructor guarantees a valid kind byte.
        SockKind::from_u8((self.0 >> 56) as u8).unwrap_or(SockKind::TcpConn)
    }

    /// Which side of its flow the socket serves (0 or 1).
    pub const fn side(self) -> u8 {
        ((self.0 >> 48) & 1) as u8
    }

    /// Generation of the slot when this handle was made.
    pub const fn generation(self) -> u16 {
        (self.0 >> 32) as u16
    }

    /// Slot index (a flow index, or a listener index for listening sockets).
    pub const fn slot(self) -> u32 {
        self.0 as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack() {
        let s = SockRef::new(SockKind::UdpFlow, 1, 0xbeef, 0x1234_5678);
        assert_eq!(s.kind(), SockKind::UdpFlow);
        assert_eq!(s.side(), 1);
        assert_eq!(s.generation(), 0xbeef);
        assert_eq!(s.slot(), 0x1234_5678);
        assert_eq!(SockRef::from_raw(s.to_raw()), Some(s));
    }

    #[test]
    fn invalid_raw_rejected() {
        assert_eq!(SockRef::from_raw(0), None);
        assert_eq!(SockRef::from_raw(0xff << 56), None);
    }
}
