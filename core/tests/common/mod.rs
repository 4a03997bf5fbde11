//! Shared helpers for the integration tests: captured fixtures and a small
//! test-side dissector, so tests can check real frames before (and beside) the
//! crate's own wire modules.
//!
//! Later tests add Repr-level assertions on top, e.g.
//! `for f in common::load("arp.pcap") { arp::Repr::parse(...) }`.
#![allow(dead_code)] // each test crate uses its own subset

pub mod pcap;

use passt_core::wire::checksum::{self, Accumulator};
use passt_core::wire::ethernet::{EtherType, Frame};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Every fixture `core/tests/fixtures/capture.sh` produces.
pub const FIXTURES: &[&str] = &[
    "arp.pcap",
    "icmp-echo.pcap",
    "icmpv6-echo.pcap",
    "dhcp-dora.pcap",
    "ndp-rs-ra.pcap",
    "dhcpv6.pcap",
    "tcp-handshake.pcap",
    "udp-dns.pcap",
];

/// The lab's MACs (RFC 7042 §2.1.2 documentation block): the guest side, where the
/// captures were taken, and its peer.
pub const GUEST_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x02];
/// The peer's MAC (servers: arp replies, udhcpd, radvd, dnsmasq, socat).
pub const PEER_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01];

/// `core/tests/fixtures`.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// The Ethernet frames of fixture `name` (e.g. `"arp.pcap"`), in capture order.
/// Panics with the reason if the file is missing or not a clean Ethernet capture.
pub fn load(name: &str) -> Vec<Vec<u8>> {
    let path = fixture_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pcap::frames(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `*.pcap` under the fixture directory with its frames, sorted by name.
pub fn load_all() -> Vec<(String, Vec<Vec<u8>>)> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), load(&n))).collect()
}

/// An IP packet inside a frame, dissected by the test (not by the crate).
#[derive(Debug, Clone, Copy)]
pub struct Ip<'a> {
    /// The IP header, options or extension headers included.
    pub header: &'a [u8],
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after any IPv6 extension headers).
    pub protocol: u8,
    /// TTL / hop limit.
    pub hop_limit: u8,
    /// The upper-layer message, bounded by the IP length field (link padding dropped).
    pub payload: &'a [u8],
}

/// Dissect the IPv4 or IPv6 packet in an Ethernet frame; `None` for other
/// EtherTypes. Panics on anything malformed: fixtures are known-good captures.
pub fn ip(frame: &[u8]) -> Option<Ip<'_>> {
    let eth = Frame::new_checked(frame).expect("ethernet header");
    let body = &frame[14..];
    match eth.ethertype() {
        EtherType::Ipv4 => Some(ipv4(body)),
        EtherType::Ipv6 => Some(ipv6(body)),
        _ => None,
    }
}

fn ipv4(p: &[u8]) -> Ip<'_> {
    assert!(p.len() >= 20, "IPv4 header truncated");
    assert_eq!(p[0] >> 4, 4, "IPv4 version");
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    assert!(
        ihl >= 20 && ihl <= total && total <= p.len(),
        "IPv4 lengths"
    );
    let addr = |at: usize| IpAddr::V4(Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]));
    Ip {
        header: &p[..ihl],
        src: addr(12),
        dst: addr(16),
        protocol: p[9],
        hop_limit: p[8],
        payload: &p[ihl..total],
    }
}

fn ipv6(p: &[u8]) -> Ip<'_> {
    assert!(p.len() >= 40, "IPv6 header truncated");
    assert_eq!(p[0] >> 4, 6, "IPv6 version");
    let end = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
    assert!(end <= p.len(), "IPv6 payload length");
    let addr = |at: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&p[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    // Skip Hop-by-Hop (0), Routing (43) and Destination Options (60) headers
    // (RFC 8200 §4: length in 8-octet units, not counting the first 8).
    let mut next = p[6];
    let mut at = 40;
    while matches!(next, 0 | 43 | 60) {
        assert!(at + 2 <= end, "extension header truncated");
        let len = (usize::from(p[at + 1]) + 1) * 8;
        next = p[at];
        at += len;
        assert!(at <= end, "extension header overruns payload");
    }
    assert_ne!(next, 44, "fragments are not expected in fixtures");
    Ip {
        header: &p[..at],
        src: addr(8),
        dst: addr(24),
        protocol: next,
        hop_limit: p[7],
        payload: &p[at..end],
    }
}

/// Verify the upper-layer checksum of a TCP, UDP, ICMPv4 or ICMPv6 message over the
/// pseudo-header where the protocol has one (RFC 9293 §3.1, RFC 768, RFC 8200 §8.1;
/// ICMPv4 has none, RFC 792). The sum over everything, checksum field included, must
/// fold to all ones, i.e. `finish() == 0`.
///
/// Returns `None` for protocols without a checksum we know, and for an IPv4 UDP
/// checksum of zero, which means "not computed" (RFC 768).
pub fn l4_checksum_ok(ip: &Ip<'_>) -> Option<bool> {
    let len = ip.payload.len();
    let pseudo = match (ip.src, ip.dst, ip.protocol) {
        (IpAddr::V4(_), _, 1) => 0, // ICMPv4: no pseudo-header
        (IpAddr::V4(s), IpAddr::V4(d), p @ (6 | 17)) => {
            if p == 17 && ip.payload.get(6..8) == Some(&[0, 0]) {
                return None;
            }
            checksum::pseudo_header_v4(s, d, p, u16::try_from(len).ok()?)
        }
        (IpAddr::V6(s), IpAddr::V6(d), p @ (6 | 17 | 58)) => {
            checksum::pseudo_header_v6(s, d, p, u32::try_from(len).ok()?)
        }
        _ => return None,
    };
    let mut acc = Accumulator::with_sum(pseudo);
    acc.add(ip.payload);
    Some(acc.finish() == 0)
}

/// Source and destination ports of a TCP or UDP message.
pub fn ports(l4: &[u8]) -> (u16, u16) {
    assert!(l4.len() >= 4, "transport header truncated");
    (
        u16::from_be_bytes([l4[0], l4[1]]),
        u16::from_be_bytes([l4[2], l4[3]]),
    )
}
