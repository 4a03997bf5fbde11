//! Real frames captured in a sealed namespace lab (see `tests/fixtures/README.md`)
//! checked against what `passt_core::wire` offers today: Ethernet framing and the
//! Internet checksum. The protocol-level assertions dissect the bytes by hand, with
//! the RFC section for each field, so they stay independent of the crate's parsers.

mod common;

use common::{ip, l4_checksum_ok, load, load_all, ports, Ip, FIXTURES, GUEST_MAC, PEER_MAC};
use passt_core::wire::checksum;
use passt_core::wire::ethernet::{self, EtherType, Frame, MacAddr};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const GUEST4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const PEER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const GUEST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const PEER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// EtherType of a frame, through the crate's parser.
fn ethertype(frame: &[u8]) -> EtherType {
    ethernet::Repr::parse(&Frame::new_checked(frame).unwrap())
        .unwrap()
        .ethertype
}

/// The IP packet of a frame that must carry one.
fn must_ip(frame: &[u8]) -> Ip<'_> {
    ip(frame).expect("an IP frame")
}

/// The ICMP/ICMPv6 type of each frame (RFC 792, RFC 4443 §2.1: first octet).
fn icmp_types(frames: &[Vec<u8>]) -> Vec<u8> {
    frames.iter().map(|f| must_ip(f).payload[0]).collect()
}

// ---------------------------------------------------------------------------------
// Every fixture
// ---------------------------------------------------------------------------------

#[test]
fn fixture_set_is_complete_and_small() {
    let all = load_all();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = FIXTURES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected, "register new fixtures in common::FIXTURES");
    let mut total = 0;
    for (name, frames) in &all {
        assert!(!frames.is_empty(), "{name} has no frames");
        total += std::fs::metadata(common::fixture_dir().join(name))
            .unwrap()
            .len();
    }
    assert!(
        total < 32 * 1024,
        "fixtures should stay tiny, are {total} bytes"
    );
}

#[test]
fn every_frame_parses_as_ethernet_and_reemits_its_header() {
    for (name, frames) in load_all() {
        for (i, f) in frames.iter().enumerate() {
            let frame = Frame::new_checked(&f[..]).unwrap();
            let repr = ethernet::Repr::parse(&frame).unwrap();
            // Sealed lab: every frame was sent by one of the two documentation MACs.
            assert!(
                repr.src == MacAddr(GUEST_MAC) || repr.src == MacAddr(PEER_MAC),
                "{name}#{i}: foreign source {}",
                repr.src
            );
            assert!(
                matches!(
                    repr.ethertype,
                    EtherType::Arp | EtherType::Ipv4 | EtherType::Ipv6
                ),
                "{name}#{i}: {:?}",
                repr.ethertype
            );
            let mut out = [0u8; ethernet::HEADER_LEN];
            repr.emit(&mut Frame::new_unchecked(&mut out[..]));
            assert_eq!(
                out[..],
                f[..ethernet::HEADER_LEN],
                "{name}#{i}: emit differs"
            );
        }
    }
}

#[test]
fn ethertypes_match_each_capture() {
    use EtherType::*;
    let expect: &[(&str, &[EtherType])] = &[
        ("arp.pcap", &[Arp, Arp]),
        ("icmp-echo.pcap", &[Ipv4, Ipv4]),
        ("icmpv6-echo.pcap", &[Ipv6; 4]),
        ("dhcp-dora.pcap", &[Ipv4; 4]),
        ("ndp-rs-ra.pcap", &[Ipv6; 2]),
        ("dhcpv6.pcap", &[Ipv6; 4]),
        ("udp-dns.pcap", &[Ipv4, Ipv4, Ipv6, Ipv6]),
    ];
    for (name, types) in expect {
        let got: Vec<EtherType> = load(name).iter().map(|f| ethertype(f)).collect();
        assert_eq!(got, *types, "{name}");
    }
    // The TCP capture is one IPv4 connection, then one IPv6 connection.
    let tcp: Vec<EtherType> = load("tcp-handshake.pcap")
        .iter()
        .map(|f| ethertype(f))
        .collect();
    let v4 = tcp.iter().take_while(|t| **t == Ipv4).count();
    assert!(v4 >= 7, "an IPv4 connection first ({v4} frames)");
    assert!(tcp[v4..].iter().all(|t| *t == Ipv6));
    assert!(tcp.len() - v4 >= 7, "then an IPv6 connection");
}

#[test]
fn every_ipv4_header_checksum_verifies() {
    let mut checked = 0;
    for (name, frames) in load_all() {
        for (i, f) in frames.iter().enumerate() {
            let Some(ip) = ip(f) else { continue };
            if !matches!(ip.src, IpAddr::V4(_)) {
                continue;
            }
            // RFC 791 §3.1: the sum over the header, checksum included, is all ones.
            assert_eq!(checksum::checksum(ip.header), 0, "{name}#{i}");
            // And the check has teeth: one flipped bit breaks it.
            let mut bad = ip.header.to_vec();
            bad[8] ^= 0x01;
            assert_ne!(checksum::checksum(&bad), 0, "{name}#{i}");
            checked += 1;
        }
    }
    // icmp-echo 2 + dhcp-dora 4 + udp-dns 2 + the IPv4 half of tcp-handshake.
    assert!(checked >= 15, "only {checked} IPv4 headers");
}

#[test]
fn every_transport_checksum_verifies() {
    // Offload is off on the lab's veth pair, so the kernel wrote full checksums
    // (with it on, captured TCP/UDP checksums would only hold the pseudo-header sum).
    let mut checked = 0;
    for (name, frames) in load_all() {
        for (i, f) in frames.iter().enumerate() {
            let Some(ip) = ip(f) else { continue };
            assert!(
                matches!(ip.protocol, 1 | 6 | 17 | 58),
                "{name}#{i}: protocol {}",
                ip.protocol
            );
            assert_eq!(l4_checksum_ok(&ip), Some(true), "{name}#{i}: checksum");
            // Flip one bit of the message: the checksum must notice.
            let mut copy = f.clone();
            let at = ethernet::HEADER_LEN + ip.header.len() + ip.payload.len() / 2;
            copy[at] ^= 0x10;
            let corrupt = common::ip(&copy).unwrap();
            assert_eq!(
                l4_checksum_ok(&corrupt),
                Some(false),
                "{name}#{i}: corrupted"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} transport checksums");
}

// ---------------------------------------------------------------------------------
// Per capture
// ---------------------------------------------------------------------------------

#[test]
fn arp_request_and_reply() {
    let frames = load("arp.pcap");
    assert_eq!(frames.len(), 2);
    // RFC 826 packet: htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4).
    for f in &frames {
        assert_eq!(f.len(), 42);
        let a = &f[14..];
        assert_eq!(a[..6], [0x00, 0x01, 0x08, 0x00, 6, 4], "Ethernet/IPv4 ARP");
    }
    let (req, rep) = (&frames[0][14..], &frames[1][14..]);
    let eth_req = Frame::new_checked(&frames[0][..]).unwrap();
    assert!(eth_req.dst_addr().is_broadcast());
    assert_eq!(req[6..8], [0, 1], "request");
    assert_eq!(req[8..14], GUEST_MAC);
    assert_eq!(req[14..18], GUEST4.octets());
    assert_eq!(req[24..28], PEER4.octets());

    let eth_rep = Frame::new_checked(&frames[1][..]).unwrap();
    assert_eq!(eth_rep.dst_addr(), MacAddr(GUEST_MAC));
    assert_eq!(eth_rep.src_addr(), MacAddr(PEER_MAC));
    assert_eq!(rep[6..8], [0, 2], "reply");
    assert_eq!(rep[8..14], PEER_MAC);
    assert_eq!(rep[14..18], PEER4.octets());
    assert_eq!(rep[18..24], GUEST_MAC);
    assert_eq!(rep[24..28], GUEST4.octets());
}

#[test]
fn icmpv4_echo_request_and_reply() {
    let frames = load("icmp-echo.pcap");
    assert_eq!(icmp_types(&frames), [8, 0]);
    let (req, rep) = (must_ip(&frames[0]), must_ip(&frames[1]));
    assert_eq!((req.src, req.dst), (IpAddr::V4(GUEST4), IpAddr::V4(PEER4)));
    assert_eq!((rep.src, rep.dst), (IpAddr::V4(PEER4), IpAddr::V4(GUEST4)));
    // RFC 792: the reply echoes identifier, sequence number and data.
    assert_eq!(req.payload[4..], rep.payload[4..]);
    assert_eq!(req.payload.len(), 64, "ping's default 56 data bytes + 8");
}

#[test]
fn icmpv6_echo_with_neighbour_discovery() {
    let frames = load("icmpv6-echo.pcap");
    assert_eq!(
        icmp_types(&frames),
        [135, 136, 128, 129],
        "NS, NA, request, reply"
    );
    let ns = must_ip(&frames[0]);
    let na = must_ip(&frames[1]);
    // RFC 4861 §7.1.1/§7.1.2: NS and NA travel with hop limit 255.
    assert_eq!((ns.hop_limit, na.hop_limit), (255, 255));
    // RFC 4861 §7.2.2: the solicitation goes to the target's solicited-node group
    // (RFC 4291 §2.7.1), framed to its RFC 2464 §7 multicast MAC.
    let solicited = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x0001);
    assert_eq!(ns.dst, IpAddr::V6(solicited));
    let eth = Frame::new_checked(&frames[0][..]).unwrap();
    assert_eq!(eth.dst_addr(), MacAddr::ipv6_multicast(solicited));
    // NS target (RFC 4861 §4.3: type, code, checksum, reserved, target).
    assert_eq!(ns.payload[8..24], PEER6.octets());
    // NA: Solicited flag set (§4.4), same target.
    assert_ne!(na.payload[4] & 0x40, 0, "S flag");
    assert_eq!(na.payload[8..24], PEER6.octets());
    let (req, rep) = (must_ip(&frames[2]), must_ip(&frames[3]));
    assert_eq!((req.src, req.dst), (IpAddr::V6(GUEST6), IpAddr::V6(PEER6)));
    assert_eq!(req.payload[4..], rep.payload[4..], "RFC 4443 §4.2 echo");
}

/// DHCP options of a BOOTP message (RFC 2131 §3, RFC 2132): after the 236-byte fixed
/// part and the magic cookie 99.130.83.99, code/length/value triples until End (255).
fn dhcp_options(msg: &[u8]) -> Vec<(u8, &[u8])> {
    assert_eq!(msg[236..240], [99, 130, 83, 99], "magic cookie");
    let mut out = Vec::new();
    let mut at = 240;
    while at < msg.len() {
        match msg[at] {
            0 => at += 1,
            255 => break,
            code => {
                let len = usize::from(msg[at + 1]);
                out.push((code, &msg[at + 2..at + 2 + len]));
                at += 2 + len;
            }
        }
    }
    out
}

fn dhcp_option(msg: &[u8], code: u8) -> Option<&[u8]> {
    dhcp_options(msg)
        .into_iter()
        .find(|(c, _)| *c == code)
        .map(|(_, v)| v)
}

#[test]
fn dhcpv4_dora() {
    let frames = load("dhcp-dora.pcap");
    let ips: Vec<Ip<'_>> = frames.iter().map(|f| must_ip(f)).collect();
    let udp_ports: Vec<(u16, u16)> = ips.iter().map(|ip| ports(ip.payload)).collect();
    assert_eq!(udp_ports, [(68, 67), (67, 68), (68, 67), (67, 68)]);
    let msgs: Vec<&[u8]> = ips.iter().map(|ip| &ip.payload[8..]).collect();
    // Option 53, DHCP message type (RFC 2132 §9.6): DISCOVER, OFFER, REQUEST, ACK.
    let types: Vec<u8> = msgs
        .iter()
        .map(|m| dhcp_option(m, 53).unwrap()[0])
        .collect();
    assert_eq!(types, [1, 2, 3, 5]);
    // op: BOOTREQUEST from the client, BOOTREPLY from the server; one xid throughout.
    let ops: Vec<u8> = msgs.iter().map(|m| m[0]).collect();
    assert_eq!(ops, [1, 2, 1, 2]);
    assert!(msgs.iter().all(|m| m[4..8] == msgs[0][4..8]), "xid");
    // The client has no address yet: it sends from 0.0.0.0 to broadcast (RFC 2131 §4.1).
    assert_eq!(ips[0].src, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(ips[0].dst, IpAddr::V4(Ipv4Addr::BROADCAST));
    assert_eq!(msgs[0][28..34], GUEST_MAC, "chaddr");
    // yiaddr (offset 16) from udhcpd's pool, the same in OFFER and ACK, and REQUEST
    // asks for it (option 50) from the offering server (option 54).
    let yiaddr = &msgs[1][16..20];
    assert_eq!(yiaddr, &msgs[3][16..20]);
    assert!(yiaddr[..3] == [198, 51, 100] && (100..=110).contains(&yiaddr[3]));
    assert_eq!(dhcp_option(msgs[2], 50), Some(yiaddr));
    assert_eq!(dhcp_option(msgs[2], 54), Some(&PEER4.octets()[..]));
    for ack in [msgs[1], msgs[3]] {
        assert_eq!(
            dhcp_option(ack, 1),
            Some(&[255, 255, 255, 0][..]),
            "subnet mask"
        );
        assert_eq!(dhcp_option(ack, 3), Some(&PEER4.octets()[..]), "router");
        assert_eq!(dhcp_option(ack, 6), Some(&PEER4.octets()[..]), "DNS");
        assert_eq!(dhcp_option(ack, 15), Some(&b"example.com"[..]), "domain");
        assert_eq!(
            dhcp_option(ack, 51),
            Some(&3600u32.to_be_bytes()[..]),
            "lease"
        );
    }
}

/// NDP options (RFC 4861 §4.6): type, length in units of 8 octets, body.
fn ndp_options(opts: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut rest = opts;
    while !rest.is_empty() {
        let len = usize::from(rest[1]) * 8;
        assert!(len > 0 && len <= rest.len(), "option length");
        out.push((rest[0], &rest[2..len]));
        rest = &rest[len..];
    }
    out
}

#[test]
fn router_solicitation_and_advertisement() {
    let frames = load("ndp-rs-ra.pcap");
    assert_eq!(icmp_types(&frames), [133, 134], "RS, RA");
    let (rs, ra) = (must_ip(&frames[0]), must_ip(&frames[1]));
    // RFC 4861 §6.1.1/§6.1.2: hop limit 255, link-local source for RAs.
    assert_eq!((rs.hop_limit, ra.hop_limit), (255, 255));
    assert_eq!(
        rs.dst,
        IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2))
    );
    let IpAddr::V6(ra_src) = ra.src else { panic!() };
    assert_eq!(ra_src.segments()[0], 0xfe80);
    // The link-local follows from the peer's MAC (modified EUI-64, RFC 4291 app. A).
    assert_eq!(
        ra_src,
        "fe80::200:5eff:fe00:5301".parse::<Ipv6Addr>().unwrap()
    );

    // RA (RFC 4861 §4.2): type code cksum | cur hop limit, flags, router lifetime |
    // reachable time | retrans timer, then options from octet 16.
    let ra = ra.payload;
    assert_eq!(ra[4], 64, "cur hop limit");
    assert_ne!(u16::from_be_bytes([ra[6], ra[7]]), 0, "default router");
    let opts = ndp_options(&ra[16..]);
    let kinds: Vec<u8> = opts.iter().map(|(t, _)| *t).collect();
    for k in [1, 3, 5, 25, 31] {
        assert!(kinds.contains(&k), "option {k} in {kinds:?}");
    }
    for (t, body) in opts {
        match t {
            1 => assert_eq!(body, PEER_MAC, "source link-layer address"),
            // Prefix information (§4.6.2): prefix length 64, L and A set, prefix.
            3 => {
                assert_eq!(body[0], 64);
                assert_eq!(body[1] & 0xc0, 0xc0);
                assert_eq!(
                    body[14..30],
                    "2001:db8::".parse::<Ipv6Addr>().unwrap().octets()
                );
            }
            5 => assert_eq!(body[2..6], 1500u32.to_be_bytes(), "MTU (§4.6.4)"),
            // RDNSS (RFC 8106 §5.1): reserved(2) lifetime(4) addresses.
            25 => assert_eq!(body[6..22], PEER6.octets()),
            // DNSSL (RFC 8106 §5.2): reserved(2) lifetime(4) DNS-encoded names.
            31 => assert_eq!(body[6..19], *b"\x07example\x03com\x00"),
            _ => {}
        }
    }
}

#[test]
fn dhcpv6_solicit_advertise_request_reply() {
    let frames = load("dhcpv6.pcap");
    let ips: Vec<Ip<'_>> = frames.iter().map(|f| must_ip(f)).collect();
    let udp_ports: Vec<(u16, u16)> = ips.iter().map(|ip| ports(ip.payload)).collect();
    assert_eq!(udp_ports, [(546, 547), (547, 546), (546, 547), (547, 546)]);
    // RFC 8415 §7.1: clients send to All_DHCP_Relay_Agents_and_Servers from link-local.
    let all_servers = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2));
    assert_eq!((ips[0].dst, ips[2].dst), (all_servers, all_servers));
    // RFC 8415 §8: msg-type(1) transaction-id(3). §7.3: 1 SOLICIT, 2 ADVERTISE,
    // 3 REQUEST, 7 REPLY.
    let msgs: Vec<&[u8]> = ips.iter().map(|ip| &ip.payload[8..]).collect();
    let types: Vec<u8> = msgs.iter().map(|m| m[0]).collect();
    assert_eq!(types, [1, 2, 3, 7]);
    assert_eq!(
        msgs[0][1..4],
        msgs[1][1..4],
        "ADVERTISE answers SOLICIT's xid"
    );
    assert_eq!(msgs[2][1..4], msgs[3][1..4], "REPLY answers REQUEST's xid");
    // Every message carries a Client Identifier (option 1), and the server's carry a
    // Server Identifier (option 2); the Client ID is echoed verbatim (§18.3).
    let option = |m: &[u8], code: u16| -> Option<Vec<u8>> {
        let mut at = 4;
        while at + 4 <= m.len() {
            let c = u16::from_be_bytes([m[at], m[at + 1]]);
            let len = usize::from(u16::from_be_bytes([m[at + 2], m[at + 3]]));
            if c == code {
                return Some(m[at + 4..at + 4 + len].to_vec());
            }
            at += 4 + len;
        }
        None
    };
    let client_id = option(msgs[0], 1).expect("client id");
    for m in &msgs {
        assert_eq!(option(m, 1).as_ref(), Some(&client_id));
    }
    assert!(option(msgs[1], 2).is_some() && option(msgs[3], 2).is_some());
    // IA_NA (option 3) in the REPLY, with an IA Address (option 5) from the pool.
    let ia = option(msgs[3], 3).expect("IA_NA");
    assert_eq!(
        u16::from_be_bytes([ia[12], ia[13]]),
        5,
        "IA Address inside IA_NA"
    );
    let addr: [u8; 16] = ia[16..32].try_into().unwrap();
    assert_eq!(
        Ipv6Addr::from(addr).segments()[..7],
        [0x2001, 0xdb8, 0, 0, 0, 0, 0]
    );
    // DNS servers (option 23, RFC 3646) as configured.
    assert_eq!(option(msgs[3], 23), Some(PEER6.octets().to_vec()));
}

/// TCP options (RFC 9293 §3.1): kind 0 ends, kind 1 is a single-byte NOP, others are
/// kind, length, body.
fn tcp_options(seg: &[u8]) -> Vec<(u8, &[u8])> {
    let data_offset = usize::from(seg[12] >> 4) * 4;
    let mut out = Vec::new();
    let mut at = 20;
    while at < data_offset {
        match seg[at] {
            0 => break,
            1 => at += 1,
            kind => {
                let len = usize::from(seg[at + 1]);
                out.push((kind, &seg[at + 2..at + len]));
                at += len;
            }
        }
    }
    out
}

/// The data of a TCP segment: what follows the data offset (RFC 9293 §3.1).
fn tcp_data<'a>(ip: &Ip<'a>) -> &'a [u8] {
    &ip.payload[usize::from(ip.payload[12] >> 4) * 4..]
}

#[test]
fn tcp_connections_with_real_linux_options() {
    let frames = load("tcp-handshake.pcap");
    let ips: Vec<Ip<'_>> = frames.iter().map(|f| must_ip(f)).collect();
    assert!(ips.iter().all(|ip| ip.protocol == 6));
    let split = ips.iter().position(|ip| ip.src.is_ipv6()).unwrap();
    for (family, conn) in [("v4", &ips[..split]), ("v6", &ips[split..])] {
        // SYN header: seq at 4, ack at 8, flags at 13 (RFC 9293 §3.1).
        let seg = |i: usize| conn[i].payload;
        let seq = |s: &[u8]| u32::from_be_bytes([s[4], s[5], s[6], s[7]]);
        let ack = |s: &[u8]| u32::from_be_bytes([s[8], s[9], s[10], s[11]]);
        let flags = |s: &[u8]| s[13];
        let (syn, synack, ack3) = (seg(0), seg(1), seg(2));
        assert_eq!(flags(syn), 0x02, "{family}: SYN");
        assert_eq!(flags(synack), 0x12, "{family}: SYN|ACK");
        assert_eq!(flags(ack3), 0x10, "{family}: ACK");
        // RFC 9293 §3.5: each SYN consumes one sequence number.
        assert_eq!(ack(synack), seq(syn).wrapping_add(1), "{family}");
        assert_eq!(ack(ack3), seq(synack).wrapping_add(1), "{family}");
        assert_eq!(ports(syn).1, 7, "{family}: to the echo port");
        // Linux's SYN: MSS, SACK permitted, timestamps, window scale.
        let kinds: Vec<u8> = tcp_options(syn).iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, [2, 4, 8, 3], "{family}: option order");
        let mss = u16::from_be_bytes(tcp_options(syn)[0].1.try_into().unwrap());
        // MTU 1500 minus IP and TCP headers (RFC 9293 §3.7.1).
        let expect_mss = if family == "v4" { 1460 } else { 1440 };
        assert_eq!(mss, expect_mss, "{family}: MSS");
        // The payload goes out and comes back (socat's PIPE echoes it).
        let text: &[u8] = if family == "v4" {
            b"hello v4\n"
        } else {
            b"hello v6\n"
        };
        let carrying: Vec<&Ip<'_>> = conn.iter().filter(|ip| tcp_data(ip) == text).collect();
        assert_eq!(carrying.len(), 2, "{family}: once each way");
        assert_ne!(
            carrying[0].src, carrying[1].src,
            "{family}: both directions"
        );
        // Both sides close with a FIN.
        let fins = conn
            .iter()
            .filter(|ip| flags(ip.payload) & 0x01 != 0)
            .count();
        assert_eq!(fins, 2, "{family}: FIN each way");
    }
}

#[test]
fn udp_dns_queries_and_answers() {
    let frames = load("udp-dns.pcap");
    let ips: Vec<Ip<'_>> = frames.iter().map(|f| must_ip(f)).collect();
    assert!(ips.iter().all(|ip| ip.protocol == 17));
    for pair in ips.chunks(2) {
        let (q, a) = (&pair[0], &pair[1]);
        assert_eq!((q.src, q.dst), (a.dst, a.src));
        let (qp, ap) = (ports(q.payload), ports(a.payload));
        assert_eq!(qp.1, 53);
        assert_eq!((ap.0, ap.1), (53, qp.0));
        // UDP length (RFC 768) equals what IP carries.
        for ip in [q, a] {
            let len = usize::from(u16::from_be_bytes([ip.payload[4], ip.payload[5]]));
            assert_eq!(len, ip.payload.len());
        }
        // DNS (RFC 1035 §4.1.1): same ID, QR clear in the query and set in the answer,
        // one answer record.
        let (qd, ad) = (&q.payload[8..], &a.payload[8..]);
        assert_eq!(qd[..2], ad[..2], "DNS id");
        assert_eq!((qd[2] & 0x80, ad[2] & 0x80), (0, 0x80), "QR");
        assert_eq!(ad[6..8], [0, 1], "ANCOUNT");
    }
    // The A answer ends with 198.51.100.80, the AAAA answer with 2001:db8::80.
    assert!(ips[1].payload.ends_with(&[198, 51, 100, 80]));
    let aaaa = "2001:db8::80".parse::<Ipv6Addr>().unwrap().octets();
    assert!(ips[3].payload.ends_with(&aaaa));
}

// ---------------------------------------------------------------------------------
// The test-only pcap reader itself
// ---------------------------------------------------------------------------------

mod pcap_reader {
    use super::common::pcap::{frames, PcapError};

    /// A capture with the given frames, every field in big- or little-endian order.
    fn build(magic: u32, big_endian: bool, linktype: u32, recs: &[&[u8]]) -> Vec<u8> {
        let w = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let h = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(w(magic));
        out.extend(h(2)); // version 2.4
        out.extend(h(4));
        out.extend(w(0)); // thiszone
        out.extend(w(0)); // sigfigs
        out.extend(w(65535)); // snaplen
        out.extend(w(linktype));
        for (i, r) in recs.iter().enumerate() {
            out.extend(w(1_700_000_000 + i as u32)); // ts_sec
            out.extend(w(0)); // ts_usec
            out.extend(w(r.len() as u32)); // incl_len
            out.extend(w(r.len() as u32)); // orig_len
            out.extend_from_slice(r);
        }
        out
    }

    const A: &[u8] = &[0xff; 42];
    const B: &[u8] = &[0x33, 0x33, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x86, 0xdd];

    #[test]
    fn both_byte_orders_and_nanosecond_magic() {
        for magic in [0xa1b2_c3d4, 0xa1b2_3c4d] {
            for be in [true, false] {
                let file = build(magic, be, 1, &[A, B]);
                assert_eq!(frames(&file).unwrap(), vec![A.to_vec(), B.to_vec()]);
            }
        }
    }

    #[test]
    fn the_committed_fixtures_are_little_endian_microsecond_captures() {
        let bytes = std::fs::read(super::common::fixture_dir().join("arp.pcap")).unwrap();
        assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
    }

    #[test]
    fn empty_capture_has_no_frames() {
        assert_eq!(
            frames(&build(0xa1b2_c3d4, false, 1, &[])).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn rejects_what_is_not_a_clean_ethernet_capture() {
        assert_eq!(frames(&[0; 23]), Err(PcapError::NoHeader));
        let mut pcapng = build(0xa1b2_c3d4, true, 1, &[A]);
        pcapng[..4].copy_from_slice(&0x0a0d_0d0a_u32.to_be_bytes());
        assert_eq!(frames(&pcapng), Err(PcapError::BadMagic(0x0a0d_0d0a)));
        let raw_ip = build(0xa1b2_c3d4, false, 101, &[A]);
        assert_eq!(frames(&raw_ip), Err(PcapError::LinkType(101)));
        let whole = build(0xa1b2_c3d4, false, 1, &[A, B]);
        for cut in [whole.len() - 1, whole.len() - B.len() - 1, 24 + 15] {
            let index = if cut < 24 + 16 + A.len() { 0 } else { 1 };
            assert_eq!(
                frames(&whole[..cut]),
                Err(PcapError::Truncated { index }),
                "cut {cut}"
            );
        }
        let mut snapped = build(0xa1b2_c3d4, false, 1, &[A]);
        snapped[24 + 12..24 + 16].copy_from_slice(&1500u32.to_le_bytes());
        assert_eq!(
            frames(&snapped),
            Err(PcapError::Snapped {
                index: 0,
                incl: 42,
                orig: 1500
            })
        );
    }

    #[test]
    fn huge_record_length_is_truncation_not_a_panic() {
        let mut file = build(0xa1b2_c3d4, false, 1, &[A]);
        file[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        file[24 + 12..24 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(frames(&file), Err(PcapError::Truncated { index: 0 }));
    }
}
