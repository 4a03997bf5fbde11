//! Wire formats: typed zero-copy views over byte buffers plus small `Repr`s.
//!
//! # Idiom
//! Every protocol module follows the same shape (borrowed from smoltcp's `wire`):
//! - `Packet<T: AsRef<[u8]>>` (or `Frame`, `Message`): a view over a buffer with
//!   `new_unchecked`, `new_checked` (validates lengths so every getter is in bounds),
//!   `check_len`, `into_inner`, field getters, and setters when `T: AsMut<[u8]>`.
//! - `Repr`: a small `Copy` high-level representation with
//!   `parse(&Packet<&T>) -> Result<Repr>`, `buffer_len()` and
//!   `emit(&self, &mut Packet<&mut T>)`.
//!
//! # Panic contract
//! - `new_checked` and `Repr::parse` never panic, whatever the byte string.
//! - After `new_checked` succeeded, no getter panics.
//! - `emit` into a buffer of at least `buffer_len()` bytes never panics. Emitting
//!   into a shorter buffer is a caller bug; callers size buffers from `buffer_len()`.
//!
//! Property tests in each module check both halves: arbitrary bytes never make `parse`
//! panic, and `parse(emit(repr)) == repr`.

pub mod checksum;

pub mod arp;
pub mod dhcpv4;
pub mod dhcpv6;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod tcp;
pub mod udp;

/// Why a buffer could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the header or a length field claims.
    Truncated,
    /// A field holds a value the protocol forbids (bad version, bad length field…).
    Malformed,
    /// Well-formed, but a feature this implementation deliberately refuses
    /// (fragments, jumbograms, unknown hardware types…).
    Unsupported,
    /// The checksum does not verify.
    Checksum,
}

/// Result of a wire parse.
pub type Result<T> = core::result::Result<T, Error>;

/// Read a big-endian `u16` at `at`; caller guarantees bounds.
#[inline]
pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Read a big-endian `u32` at `at`; caller guarantees bounds.
#[inline]
#[allow(dead_code)] // used by the IPv4/TCP/DHCP modules
pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Write a big-endian `u16` at `at`; caller guarantees bounds.
#[inline]
pub(crate) fn put_u16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Write a big-endian `u32` at `at`; caller guarantees bounds.
#[inline]
#[allow(dead_code)] // used by the IPv4/TCP/DHCP modules
pub(crate) fn put_u32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// IP protocol / IPv6 next-header numbers (IANA "Assigned Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpProtocol {
    /// 0: IPv6 Hop-by-Hop Options.
    HopByHop,
    /// 1: ICMP.
    Icmp,
    /// 6: TCP.
    Tcp,
    /// 17: UDP.
    Udp,
    /// 43: IPv6 Routing header.
    Ipv6Route,
    /// 44: IPv6 Fragment header.
    Ipv6Frag,
    /// 58: ICMPv6.
    Icmpv6,
    /// 59: IPv6 No Next Header.
    Ipv6NoNxt,
    /// 60: IPv6 Destination Options.
    Ipv6Opts,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            0 => IpProtocol::HopByHop,
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            43 => IpProtocol::Ipv6Route,
            44 => IpProtocol::Ipv6Frag,
            58 => IpProtocol::Icmpv6,
            59 => IpProtocol::Ipv6NoNxt,
            60 => IpProtocol::Ipv6Opts,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(v: IpProtocol) -> u8 {
        match v {
            IpProtocol::HopByHop => 0,
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Ipv6Route => 43,
            IpProtocol::Ipv6Frag => 44,
            IpProtocol::Icmpv6 => 58,
            IpProtocol::Ipv6NoNxt => 59,
            IpProtocol::Ipv6Opts => 60,
            IpProtocol::Unknown(other) => other,
        }
    }
}

pub mod ip;
