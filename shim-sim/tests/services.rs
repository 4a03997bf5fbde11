//! The built-in DHCPv4, NDP and DHCPv6 servers, driven through the whole engine with
//! raw guest frames: what a booting guest sees on the wire. Every reply's checksums
//! are verified.

use passt_core::wire::dhcpv4::{self, DhcpOption, FLAG_BROADCAST};
use passt_core::wire::dhcpv6;
use passt_core::wire::ethernet::{self, EtherType, MacAddr};
use passt_core::wire::ndisc::{self, NdiscOption};
use passt_core::wire::{icmpv6, ip, ipv4, ipv6, udp, IpProtocol};
use passt_core::{DropReason, Event};
use passt_shim_sim::testbed::{
    default_config, Testbed, GATEWAY_V4, GUEST_MAC, GUEST_V4, GUEST_V6, OUR_LL,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// The guest's link-local address (EUI-64 from its MAC).
const GUEST_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5054, 0xff, 0xfe12, 0x3456);
const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

// ---------------------------------------------------------------- guest frames

fn ethernet_header(dst: MacAddr, ethertype: EtherType) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN];
    ethernet::Repr {
        src: GUEST_MAC,
        dst,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    f
}

/// A UDP datagram from the guest with `payload`, checksummed.
fn udp_datagram(src: IpAddr, dst: IpAddr, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let repr = udp::Repr {
        src_port: ports.0,
        dst_port: ports.1,
        payload_len: payload.len(),
    };
    let mut d = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut udp::Packet::new_unchecked(&mut d[..]),
        src,
        dst,
        payload,
    );
    d
}

/// An Ethernet + IPv4 + UDP frame from the guest.
fn udp4_frame(src: Ipv4Addr, dst: Ipv4Addr, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let datagram = udp_datagram(src.into(), dst.into(), ports, payload);
    let mut f = ethernet_header(MacAddr::BROADCAST, EtherType::Ipv4);
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: datagram.len(),
        hop_limit: 64,
        ident: 0,
        dont_frag: false,
    };
    let mut h = vec![0u8; ipv4::HEADER_LEN];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut h[..]));
    f.extend_from_slice(&h);
    f.extend_from_slice(&datagram);
    f
}

/// An Ethernet + IPv6 frame from the guest carrying `upper` (already checksummed).
fn ipv6_frame(src: Ipv6Addr, dst: Ipv6Addr, proto: IpProtocol, hop: u8, upper: &[u8]) -> Vec<u8> {
    let mut f = ethernet_header(MacAddr::ipv6_multicast(dst), EtherType::Ipv6);
    let ip = ipv6::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: proto,
        payload_len: upper.len(),
        hop_limit: hop,
        upper_offset: ipv6::HEADER_LEN,
    };
    let mut h = vec![0u8; ipv6::HEADER_LEN];
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut h[..]));
    f.extend_from_slice(&h);
    f.extend_from_slice(upper);
    f
}

fn udp6_frame(src: Ipv6Addr, dst: Ipv6Addr, ports: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let datagram = udp_datagram(src.into(), dst.into(), ports, payload);
    ipv6_frame(src, dst, IpProtocol::Udp, 1, &datagram)
}

/// An ICMPv6 frame from the guest: `msg` gets its checksum filled.
fn icmp6_frame(src: Ipv6Addr, dst: Ipv6Addr, hop: u8, mut msg: Vec<u8>) -> Vec<u8> {
    icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&src, &dst);
    ipv6_frame(src, dst, IpProtocol::Icmpv6, hop, &msg)
}

/// A BOOTREQUEST (RFC 2131 §2 layout): op 1, Ethernet, hlen 6, `xid`, `flags`,
/// `ciaddr`, chaddr = the guest's MAC, the magic cookie, `options`, padding to 300.
fn bootrequest(xid: u32, flags: u16, ciaddr: Ipv4Addr, options: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[..3].copy_from_slice(&[1, 1, 6]);
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    m[10..12].copy_from_slice(&flags.to_be_bytes());
    m[12..16].copy_from_slice(&ciaddr.octets());
    m[28..34].copy_from_slice(&GUEST_MAC.0);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    m.extend_from_slice(options);
    m.resize(m.len().max(300), 0);
    m
}

/// A DHCP message from an unconfigured guest: 0.0.0.0:68 → 255.255.255.255:67.
fn dhcp_frame(message: &[u8]) -> Vec<u8> {
    udp4_frame(
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        (68, 67),
        message,
    )
}

/// A DHCPv6 message from the guest's link-local address to ff02::1:2.
fn dhcpv6_frame(message: &[u8]) -> Vec<u8> {
    udp6_frame(
        GUEST_LL,
        dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        (546, 547),
        message,
    )
}

// ---------------------------------------------------------------- replies

/// A reply frame's parts, after every checksum was verified.
#[derive(Debug)]
struct Reply {
    eth_dst: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    hop_limit: u8,
    protocol: IpProtocol,
    /// UDP source and destination ports (UDP only).
    ports: Option<(u16, u16)>,
    /// UDP payload or the whole ICMPv6 message.
    payload: Vec<u8>,
}

/// Decode a frame the engine sent, asserting that its IPv4 header checksum and its
/// UDP / ICMPv6 checksum verify.
fn decode(frame: &[u8]) -> Reply {
    let eth = ethernet::Frame::new_checked(frame).expect("Ethernet header");
    assert_eq!(eth.src_addr(), MacAddr::PASST_DEFAULT);
    let (src, dst, hop_limit, protocol, l4): (IpAddr, IpAddr, u8, IpProtocol, &[u8]) =
        match eth.ethertype() {
            EtherType::Ipv4 => {
                let p = ipv4::Packet::new_checked(eth.payload()).expect("IPv4 header");
                assert!(p.verify_checksum(), "IPv4 header checksum");
                assert_eq!(usize::from(p.total_len()), eth.payload().len());
                let l4 = &eth.payload()[p.header_len()..];
                (
                    p.src_addr().into(),
                    p.dst_addr().into(),
                    p.hop_limit(),
                    p.next_header(),
                    l4,
                )
            }
            EtherType::Ipv6 => {
                let p = ipv6::Packet::new_checked(eth.payload()).expect("IPv6 header");
                let r = ipv6::Repr::parse(&p).expect("IPv6 header");
                assert_eq!(r.upper_offset + r.payload_len, eth.payload().len());
                let start = r.upper_offset;
                (
                    r.src_addr.into(),
                    r.dst_addr.into(),
                    r.hop_limit,
                    r.next_header,
                    &eth.payload()[start..],
                )
            }
            other => panic!("unexpected {other:?}"),
        };
    assert!(
        ip::upper_layer_checksum_ok(src, dst, protocol, l4),
        "{protocol:?} checksum"
    );
    let (ports, payload) = match protocol {
        IpProtocol::Udp => {
            let u = udp::Packet::new_checked(l4).expect("UDP header");
            assert_eq!(usize::from(u.len()), l4.len());
            (Some((u.src_port(), u.dst_port())), u.payload().to_vec())
        }
        _ => (None, l4.to_vec()),
    };
    Reply {
        eth_dst: eth.dst_addr(),
        src,
        dst,
        hop_limit,
        protocol,
        ports,
        payload,
    }
}

/// Send one guest frame and return the one reply it caused.
fn exchange(tb: &mut Testbed, frame: &[u8]) -> Reply {
    tb.engine
        .handle_event(tb.now, Event::TapFrame(frame), &mut tb.host);
    assert_eq!(tb.host.frames.len(), 1, "exactly one reply");
    decode(&tb.host.frames.pop_front().unwrap())
}

/// Send one guest frame that must stay unanswered.
fn no_reply(tb: &mut Testbed, frame: &[u8]) {
    tb.engine
        .handle_event(tb.now, Event::TapFrame(frame), &mut tb.host);
    assert!(tb.host.frames.is_empty(), "no reply expected");
}

fn dhcp_options(message: &[u8]) -> Vec<(u8, Vec<u8>)> {
    dhcpv4::Packet::new_checked(message)
        .unwrap()
        .option_iter()
        .map(|o| {
            let DhcpOption { code, data } = o.unwrap();
            (code, data.to_vec())
        })
        .collect()
}

fn dhcp_option(message: &[u8], code: u8) -> Option<Vec<u8>> {
    dhcp_options(message)
        .into_iter()
        .find_map(|(c, d)| (c == code).then_some(d))
}

// ---------------------------------------------------------------- DHCPv4

// busybox udhcpc's DISCOVER options: type, client id, max size 576, PRL.
const DISCOVER_OPTIONS: &[u8] = &[
    53, 1, 1, // DHCPDISCOVER
    61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id
    57, 2, 0x02, 0x40, // max message size 576
    55, 7, 1, 3, 6, 12, 15, 28, 42, // PRL
    255,
];

#[test]
fn dhcp_full_dora_configures_the_guest() {
    let mut tb = Testbed::new(default_config(), 4);
    // DISCOVER with the broadcast flag (the guest cannot receive unicast yet).
    let discover = bootrequest(
        0x1d2c_3b4a,
        FLAG_BROADCAST,
        Ipv4Addr::UNSPECIFIED,
        DISCOVER_OPTIONS,
    );
    let offer = exchange(&mut tb, &dhcp_frame(&discover));
    assert_eq!(offer.eth_dst, GUEST_MAC);
    assert_eq!(offer.src, IpAddr::V4(GATEWAY_V4));
    assert_eq!(offer.dst, IpAddr::V4(Ipv4Addr::BROADCAST));
    assert_eq!(offer.ports, Some((67, 68)));
    assert_eq!(offer.hop_limit, 255);
    let m = &offer.payload;
    assert_eq!(m.len(), 300);
    assert_eq!(m[0], 2, "BOOTREPLY");
    assert_eq!(&m[4..8], &0x1d2c_3b4au32.to_be_bytes());
    assert_eq!(&m[16..20], &GUEST_V4.octets(), "yiaddr");
    let codes: Vec<u8> = dhcp_options(m).iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [53, 1, 3, 26, 51, 54], "no DNS servers configured");
    assert_eq!(dhcp_option(m, 53), Some(vec![2]), "OFFER");
    assert_eq!(dhcp_option(m, 1), Some(vec![255, 255, 255, 0]));
    assert_eq!(dhcp_option(m, 3), Some(GATEWAY_V4.octets().to_vec()));
    let server_id = dhcp_option(m, 54).unwrap();

    // REQUEST (SELECTING): the offered address and the offering server.
    let mut options = vec![53, 1, 3, 50, 4];
    options.extend_from_slice(&m[16..20]);
    options.extend_from_slice(&[54, 4]);
    options.extend_from_slice(&server_id);
    options.extend_from_slice(&[55, 4, 1, 3, 6, 51, 255]);
    let request = bootrequest(0x1d2c_3b4a, FLAG_BROADCAST, Ipv4Addr::UNSPECIFIED, &options);
    let ack = exchange(&mut tb, &dhcp_frame(&request));
    assert_eq!(ack.dst, IpAddr::V4(Ipv4Addr::BROADCAST));
    assert_eq!(dhcp_option(&ack.payload, 53), Some(vec![5]), "ACK");
    assert_eq!(
        dhcp_option(&ack.payload, 51),
        Some(vec![0xff; 4]),
        "infinite lease"
    );
    assert_eq!(&ack.payload[16..20], &GUEST_V4.octets());

    // RENEWING: unicast from the configured address, ciaddr set, no broadcast flag:
    // the ACK goes straight to the guest's address.
    let renew = bootrequest(7, 0, GUEST_V4, &[53, 1, 3, 255]);
    let ack = exchange(&mut tb, &udp4_frame(GUEST_V4, GATEWAY_V4, (68, 67), &renew));
    assert_eq!(ack.dst, IpAddr::V4(GUEST_V4));
    assert_eq!(dhcp_option(&ack.payload, 53), Some(vec![5]));
    assert_eq!(tb.engine.guest().addr_seen_v4, Some(GUEST_V4));
    assert_eq!(tb.engine.stats().service_replies, 3);
    assert_eq!(tb.engine.stats().total_drops(), 0);
}

#[test]
fn dhcp_request_for_a_stale_address_is_nakked() {
    let mut tb = Testbed::new(default_config(), 4);
    // INIT-REBOOT after moving hosts: option 50 names the old address.
    let options = [53, 1, 3, 50, 4, 203, 0, 113, 77, 255];
    let request = bootrequest(0xabcd, 0, Ipv4Addr::UNSPECIFIED, &options);
    let nak = exchange(&mut tb, &dhcp_frame(&request));
    assert_eq!(nak.eth_dst, GUEST_MAC);
    assert_eq!(nak.dst, IpAddr::V4(Ipv4Addr::BROADCAST), "RFC 2131 §4.1");
    assert_eq!(nak.src, IpAddr::V4(GATEWAY_V4));
    assert_eq!(&nak.payload[12..28], &[0; 16], "no addresses in a NAK");
    assert_eq!(
        dhcp_options(&nak.payload),
        vec![(53, vec![6]), (54, GATEWAY_V4.octets().to_vec())]
    );
    // The guest starts over: DISCOVER → OFFER of the right address.
    let discover = bootrequest(0xabce, 0, Ipv4Addr::UNSPECIFIED, DISCOVER_OPTIONS);
    let offer = exchange(&mut tb, &dhcp_frame(&discover));
    assert_eq!(dhcp_option(&offer.payload, 53), Some(vec![2]));
    // Another server's REQUEST is none of our business.
    let options = [53, 1, 3, 54, 4, 203, 0, 113, 1, 50, 4, 203, 0, 113, 77, 255];
    let request = bootrequest(0xabcf, 0, Ipv4Addr::UNSPECIFIED, &options);
    no_reply(&mut tb, &dhcp_frame(&request));
    assert_eq!(tb.engine.stats().drops(DropReason::DhcpIgnored), 1);
}

#[test]
fn dhcp_disabled_and_malformed_requests_are_consumed_and_counted() {
    let mut config = default_config();
    config.services.dhcp = false;
    let mut tb = Testbed::new(config, 4);
    let discover = bootrequest(1, 0, Ipv4Addr::UNSPECIFIED, DISCOVER_OPTIONS);
    no_reply(&mut tb, &dhcp_frame(&discover));
    assert_eq!(tb.engine.stats().drops(DropReason::Disabled), 1);

    let mut tb = Testbed::new(default_config(), 4);
    // A UDP length shorter than the IP payload.
    let mut frame = dhcp_frame(&discover);
    let length_field = 14 + 20 + 4;
    let short = (8 + discover.len() - 4) as u16;
    frame[length_field..length_field + 2].copy_from_slice(&short.to_be_bytes());
    no_reply(&mut tb, &frame);
    // A message cut inside the fixed fields.
    no_reply(&mut tb, &dhcp_frame(&discover[..200]));
    assert_eq!(tb.engine.stats().drops(DropReason::DhcpMalformed), 2);
}

// ---------------------------------------------------------------- NDP

/// A Router Solicitation from the guest's link-local address with its MAC.
fn router_solicitation() -> Vec<u8> {
    // Type 133, code 0, checksum, reserved; Source Link-Layer Address option.
    let mut m = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    m.extend_from_slice(&GUEST_MAC.0);
    icmp6_frame(GUEST_LL, ALL_ROUTERS, 255, m)
}

/// Check an RA against the default configuration and return its options.
fn check_router_advert(ra: &Reply) -> Vec<u8> {
    assert_eq!(ra.protocol, IpProtocol::Icmpv6);
    assert_eq!(ra.src, IpAddr::V6(OUR_LL));
    assert_eq!(ra.hop_limit, 255);
    let p = icmpv6::Packet::new_checked(&ra.payload[..]).unwrap();
    let repr = ndisc::Repr::parse(&p).unwrap();
    let ndisc::Repr::RouterAdvert {
        cur_hop_limit,
        flags,
        router_lifetime,
        reachable_time,
        retrans_time,
        ..
    } = repr
    else {
        panic!("not an RA: {repr:?}");
    };
    assert_eq!(cur_hop_limit, 255);
    assert_eq!(flags, ndisc::RouterFlags::MANAGED);
    assert_eq!(
        (router_lifetime, reachable_time, retrans_time),
        (65535, 0, 0)
    );
    let mut kinds = Vec::new();
    for o in repr.options() {
        let o = o.unwrap();
        match o {
            NdiscOption::PrefixInformation(pi) => {
                assert_eq!(pi.prefix_len, 64);
                assert_eq!(pi.prefix, GUEST_V6, "passt sends the full address");
                assert_eq!(
                    (pi.valid_lifetime, pi.preferred_lifetime),
                    (u32::MAX, u32::MAX)
                );
            }
            NdiscOption::SourceLinkLayerAddr(mac) => assert_eq!(mac, MacAddr::PASST_DEFAULT),
            NdiscOption::Mtu(mtu) => assert_eq!(mtu, 65520),
            _ => {}
        }
        kinds.push(o.kind());
    }
    kinds
}

#[test]
fn router_solicitation_gets_advertisement() {
    let mut tb = Testbed::new(default_config(), 4);
    let ra = exchange(&mut tb, &router_solicitation());
    assert_eq!(ra.eth_dst, GUEST_MAC);
    assert_eq!(ra.dst, IpAddr::V6(GUEST_LL));
    assert_eq!(check_router_advert(&ra), [3, 1, 5]);
    assert_eq!(tb.engine.guest().addr_ll_seen, Some(GUEST_LL));
}

#[test]
fn unsolicited_advertisements_follow_link_up_every_200_to_600_s() {
    let mut tb = Testbed::new(default_config(), 4);
    tb.engine.handle_event(tb.now, Event::TapUp, &mut tb.host);
    // RFC 4861 §6.2.4 as passt does it: nothing before the first interval.
    tb.advance(Duration::from_secs(199));
    assert!(tb.host.frames.is_empty());
    tb.advance(Duration::from_secs(401));
    assert_eq!(tb.host.frames.len(), 1, "one RA within 600 s");
    let ra = decode(&tb.host.frames.pop_front().unwrap());
    assert_eq!(ra.eth_dst, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    assert_eq!(ra.dst, IpAddr::V6(ALL_NODES));
    assert_eq!(check_router_advert(&ra), [3, 1, 5]);
    // Then one every 200–600 s: 6 to 18 in the next hour.
    tb.advance(Duration::from_secs(3600));
    let n = tb.host.frames.len();
    assert!((6..=18).contains(&n), "{n} RAs in an hour");
    for f in tb.host.frames.drain(..) {
        assert_eq!(decode(&f).dst, IpAddr::V6(ALL_NODES));
    }
    // Link down stops them.
    tb.engine.handle_event(tb.now, Event::TapDown, &mut tb.host);
    tb.advance(Duration::from_secs(3600));
    assert!(tb.host.frames.is_empty());
}

#[test]
fn no_unsolicited_advertisements_without_ra() {
    let mut config = default_config();
    config.services.ra = false;
    let mut tb = Testbed::new(config, 4);
    tb.engine.handle_event(tb.now, Event::TapUp, &mut tb.host);
    tb.advance(Duration::from_secs(3600));
    assert!(tb.host.frames.is_empty());
    no_reply(&mut tb, &router_solicitation());
    assert_eq!(tb.engine.stats().drops(DropReason::Disabled), 1);
}

#[test]
fn neighbor_solicitation_gets_advertisement_for_any_target() {
    let mut tb = Testbed::new(default_config(), 4);
    for target in [OUR_LL, "2001:db8::99".parse().unwrap()] {
        // Type 135, code 0, checksum, reserved, target, SLLAO with the guest's MAC.
        let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
        ns.extend_from_slice(&Ipv6Addr::octets(&target));
        ns.extend_from_slice(&[1, 1]);
        ns.extend_from_slice(&GUEST_MAC.0);
        let frame = icmp6_frame(GUEST_LL, ndisc::solicited_node(&target), 255, ns);
        let na = exchange(&mut tb, &frame);
        assert_eq!(na.eth_dst, GUEST_MAC);
        assert_eq!((na.src, na.dst), (IpAddr::V6(OUR_LL), IpAddr::V6(GUEST_LL)));
        assert_eq!(na.hop_limit, 255);
        let p = icmpv6::Packet::new_checked(&na.payload[..]).unwrap();
        let repr = ndisc::Repr::parse(&p).unwrap();
        let ndisc::Repr::NeighborAdvert {
            flags, target_addr, ..
        } = repr
        else {
            panic!("not an NA: {repr:?}");
        };
        use ndisc::NeighborFlags as F;
        assert_eq!(flags, F::ROUTER | F::SOLICITED | F::OVERRIDE);
        assert_eq!(target_addr, target);
        assert_eq!(repr.target_lladdr(), Some(MacAddr::PASST_DEFAULT));
    }
    // DAD probe for the guest's own address: unanswered.
    let mut probe = vec![135, 0, 0, 0, 0, 0, 0, 0];
    probe.extend_from_slice(&GUEST_V6.octets());
    let frame = icmp6_frame(
        Ipv6Addr::UNSPECIFIED,
        ndisc::solicited_node(&GUEST_V6),
        255,
        probe,
    );
    no_reply(&mut tb, &frame);
    assert_eq!(tb.engine.stats().drops(DropReason::Icmpv6Ignored), 1);
    // A forwarded NS (hop limit below 255) is invalid (RFC 4861 §7.1.1).
    let mut ns = vec![135, 0, 0, 0, 0, 0, 0, 0];
    ns.extend_from_slice(&OUR_LL.octets());
    no_reply(
        &mut tb,
        &icmp6_frame(GUEST_LL, ndisc::solicited_node(&OUR_LL), 64, ns),
    );
    assert_eq!(tb.engine.stats().drops(DropReason::Icmpv6Malformed), 1);
}

// ---------------------------------------------------------------- DHCPv6

const CLIENT_DUID: [u8; 10] = [0, 3, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

fn dhcpv6_option(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

#[test]
fn dhcpv6_solicit_advertise_request_reply() {
    let mut tb = Testbed::new(default_config(), 4);
    // SOLICIT: type 1, xid 0x0a0b0c, Client ID, IA_NA (IAID 0xfeed, T1 = T2 = 0),
    // ORO (DNS servers, domain list), Elapsed Time 0.
    let mut solicit = vec![1, 0x0a, 0x0b, 0x0c];
    solicit.extend_from_slice(&dhcpv6_option(1, &CLIENT_DUID));
    solicit.extend_from_slice(&dhcpv6_option(
        3,
        &[0, 0, 0xfe, 0xed, 0, 0, 0, 0, 0, 0, 0, 0],
    ));
    solicit.extend_from_slice(&dhcpv6_option(6, &[0, 23, 0, 24]));
    solicit.extend_from_slice(&dhcpv6_option(8, &[0, 0]));
    let advertise = exchange(&mut tb, &dhcpv6_frame(&solicit));
    assert_eq!(advertise.eth_dst, GUEST_MAC);
    assert_eq!(advertise.src, IpAddr::V6(OUR_LL));
    assert_eq!(advertise.dst, IpAddr::V6(GUEST_LL));
    assert_eq!(advertise.ports, Some((547, 546)));
    let m = &advertise.payload;
    assert_eq!(&m[..4], &[2, 0x0a, 0x0b, 0x0c], "ADVERTISE, xid echoed");
    let p = dhcpv6::Packet::new_checked(&m[..]).unwrap();
    let repr = dhcpv6::Repr::parse(&p).unwrap();
    assert_eq!(repr.client_id, Some(&CLIENT_DUID[..]));
    let server_id = repr.server_id.expect("server id").to_vec();
    // DUID-LLT: type 1, hardware type 1, time, our MAC.
    assert_eq!(&server_id[..4], &[0, 1, 0, 1]);
    assert_eq!(&server_id[8..], &MacAddr::PASST_DEFAULT.0);
    let ia = repr.ia_na.expect("IA_NA");
    assert_eq!((ia.iaid, ia.t1, ia.t2), (0xfeed, u32::MAX, u32::MAX));
    let offered = ia.address.expect("IAADDR");
    assert_eq!(offered.addr, GUEST_V6);
    assert_eq!(
        (offered.preferred_lifetime, offered.valid_lifetime),
        (u32::MAX, u32::MAX)
    );

    // REQUEST: Client ID, the advertising server's ID, the offered address.
    let mut request = vec![3, 0x0d, 0x0e, 0x0f];
    request.extend_from_slice(&dhcpv6_option(1, &CLIENT_DUID));
    request.extend_from_slice(&dhcpv6_option(2, &server_id));
    let mut ia_addr = GUEST_V6.octets().to_vec();
    ia_addr.extend_from_slice(&[0; 8]);
    let mut ia_na = vec![0, 0, 0xfe, 0xed, 0, 0, 0, 0, 0, 0, 0, 0];
    ia_na.extend_from_slice(&dhcpv6_option(5, &ia_addr));
    request.extend_from_slice(&dhcpv6_option(3, &ia_na));
    let reply = exchange(&mut tb, &dhcpv6_frame(&request));
    assert_eq!(&reply.payload[..4], &[7, 0x0d, 0x0e, 0x0f], "REPLY");
    // Same options as the ADVERTISE.
    assert_eq!(&reply.payload[4..], &advertise.payload[4..]);
    assert_eq!(tb.engine.guest().addr_seen_v6, Some(GUEST_V6));
    assert_eq!(tb.engine.guest().addr_ll_seen, Some(GUEST_LL));
    assert_eq!(tb.engine.stats().total_drops(), 0);

    // A REQUEST for another server is ignored; a unicast SOLICIT too.
    let mut other = request.clone();
    other[4 + 14 + 4 + 13] ^= 0xff; // last byte of the server ID
    no_reply(&mut tb, &dhcpv6_frame(&other));
    no_reply(&mut tb, &udp6_frame(GUEST_LL, OUR_LL, (546, 547), &solicit));
    assert_eq!(tb.engine.stats().drops(DropReason::Dhcpv6Ignored), 2);
}

#[test]
fn dhcpv6_request_for_a_foreign_address_is_not_on_link() {
    let mut config = default_config();
    config.duid_time = 12345;
    let mut tb = Testbed::new(config, 4);
    let server_id = dhcpv6::duid_llt(12345, MacAddr::PASST_DEFAULT);
    let mut request = vec![3, 1, 2, 3];
    request.extend_from_slice(&dhcpv6_option(1, &CLIENT_DUID));
    request.extend_from_slice(&dhcpv6_option(2, &server_id));
    let mut ia_addr = "2001:db8:77::2"
        .parse::<Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    ia_addr.extend_from_slice(&[0; 8]);
    let mut ia_na = vec![0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
    ia_na.extend_from_slice(&dhcpv6_option(5, &ia_addr));
    request.extend_from_slice(&dhcpv6_option(3, &ia_na));
    let reply = exchange(&mut tb, &dhcpv6_frame(&request));
    let p = dhcpv6::Packet::new_checked(&reply.payload[..]).unwrap();
    let status = p
        .option_iter()
        .find_map(|o| match o.unwrap().typed().unwrap() {
            dhcpv6::Dhcpv6Option::IaNa(ia) => {
                ia.option_iter()
                    .find_map(|n| match n.unwrap().typed().unwrap() {
                        dhcpv6::Dhcpv6Option::StatusCode { code, message } => {
                            Some((code, message.to_vec()))
                        }
                        _ => None,
                    })
            }
            _ => None,
        });
    assert_eq!(
        status,
        Some((
            dhcpv6::StatusCode::NotOnLink,
            b"Prefix not appropriate for link.".to_vec()
        ))
    );
    assert_eq!(
        tb.engine.guest().addr_seen_v6,
        None,
        "nothing was handed out"
    );
}
