//! The guest's IPv6 router is our link-local address (the source of our router
//! advertisements): a guest configured by SLAAC routes through it, and traffic to it
//! means the host, as traffic to the gateway does (passt-reference §5.2). Here the
//! host's own gateway is a global address, as in the lab, so the two differ.
//!
//! Other link-local destinations leave the host with the template interface as their
//! scope, without which the host's kernel cannot route them.

use passt_core::config::Config;
use passt_core::io::Transport;
use passt_core::wire::tcp::TcpFlags;
use passt_shim_sim::datagrams::{Echo, Udp};
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V6, OUR_LL};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// The host's own (global) IPv6 gateway.
const HOST_GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// The template interface's index on the host.
const TEMPLATE_IFINDEX: u32 = 7;
/// The guest's own link-local address.
const GUEST_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5054, 0xff, 0xfe12, 0x3456);

/// A host whose IPv6 gateway is global, with the default mappings the CLI sets.
fn config() -> Config {
    let mut c = default_config();
    if let Some(v6) = c.ipv6.as_mut() {
        v6.gateway = HOST_GATEWAY_V6;
    }
    c.nat.map_host_loopback_v6 = Some(HOST_GATEWAY_V6);
    c.nat.map_our_link_local = true;
    c.nat.host_link_scope = TEMPLATE_IFINDEX;
    c
}

/// `--no-map-gw`: neither the gateway nor our link-local address means the host.
fn config_no_map() -> Config {
    let mut c = config();
    c.nat.map_host_loopback_v6 = None;
    c.nat.map_our_link_local = false;
    c
}

fn at(ip: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

fn scoped(ip: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, TEMPLATE_IFINDEX))
}

/// The guest opens a TCP connection to `remote` and the host connect completes; the
/// SYN-ACK's source.
fn tcp_open(tb: &mut Testbed, guest: SocketAddr, remote: SocketAddr) -> SocketAddr {
    let mut syn = Segment::new(guest, remote, 1000, 0, TcpFlags::SYN);
    syn.mss = Some(1440);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb
        .next_segment()
        .expect("SYN-ACK once the host connect completes");
    assert!(synack.has(TcpFlags::SYN | TcpFlags::ACK), "{synack:?}");
    assert_eq!(synack.dst, guest);
    synack.src
}

#[test]
fn tcp_to_our_link_local_reaches_the_hosts_loopback_and_answers_from_it() {
    let mut tb = Testbed::new(config(), 16);
    let guest = at(GUEST_LL, 40001);
    let from = tcp_open(&mut tb, guest, at(OUR_LL, 10003));
    assert!(
        tb.host
            .find_connected("[::1]:10003".parse().unwrap())
            .is_some(),
        "connected to the host's ::1: {:#?}",
        tb.host.trace
    );
    assert_eq!(from, at(OUR_LL, 10003), "the guest hears its router answer");

    // The same from the guest's global address.
    let from = tcp_open(&mut tb, at(GUEST_V6, 40002), at(OUR_LL, 10004));
    assert!(tb
        .host
        .find_connected("[::1]:10004".parse().unwrap())
        .is_some());
    assert_eq!(from, at(OUR_LL, 10004));
}

#[test]
fn udp_to_our_link_local_reaches_the_hosts_loopback_and_replies_come_back_from_it() {
    let mut tb = Testbed::new(config(), 16);
    let guest = at(GUEST_LL, 40003);
    let router = at(OUR_LL, 10003);
    let frame = Udp::new(guest, router, b"request").to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
    let loopback: SocketAddr = "[::1]:10003".parse().unwrap();
    let sock = tb
        .host
        .find_connected(loopback)
        .unwrap_or_else(|| panic!("no socket to [::1]:10003: {:#?}", tb.host.trace));
    assert_eq!(
        tb.host.socket(sock).unwrap().datagrams_out,
        vec![(None, b"request".to_vec())]
    );

    tb.host.peer_send_to(sock, loopback, b"reply");
    tb.settle();
    let reply = Udp::from_frame(&tb.next_frame().expect("the reply")).expect("UDP");
    assert_eq!(reply, Udp::new(router, guest, b"reply"));
}

#[test]
fn ping_to_our_link_local_goes_to_the_hosts_loopback() {
    let mut tb = Testbed::new(config(), 16);
    let echo = Echo::request(GUEST_LL.into(), OUR_LL.into(), 0x77, 1, b"ping");
    let frame = echo.to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
    let socks = tb.host.open_of(Transport::Icmpv6);
    assert_eq!(socks.len(), 1);
    let (to, _) = tb.host.socket(socks[0]).unwrap().datagrams_out[0].clone();
    assert_eq!(to, Some("[::1]:0".parse().unwrap()));
}

#[test]
fn without_the_gateway_mapping_link_local_destinations_leave_scoped_to_the_template() {
    let mut tb = Testbed::new(config_no_map(), 16);
    // Our own link-local address is then an address like any other.
    tcp_open(&mut tb, at(GUEST_LL, 40005), at(OUR_LL, 10005));
    assert!(
        tb.host.find_connected(scoped(OUR_LL, 10005)).is_some(),
        "connected with the template's scope: {:#?}",
        tb.host.trace
    );
    assert!(
        tb.host.find_connected(at(OUR_LL, 10005)).is_none(),
        "never without a scope"
    );

    // A neighbour of the host's on the template link.
    let neighbour: Ipv6Addr = "fe80::99".parse().unwrap();
    let frame =
        Udp::new(at(GUEST_LL, 40006), at(neighbour, 53), b"q").to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
    assert!(tb.host.find_connected(scoped(neighbour, 53)).is_some());

    let echo = Echo::request(GUEST_LL.into(), IpAddr::V6(neighbour), 0x78, 1, b"p");
    let frame = echo.to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
    let socks = tb.host.open_of(Transport::Icmpv6);
    let (to, _) = tb.host.socket(socks[0]).unwrap().datagrams_out[0].clone();
    assert_eq!(to, Some(scoped(neighbour, 0)));
}

#[test]
fn an_explicit_map_host_loopback_takes_the_place_of_our_link_local() {
    let mut c = config();
    c.nat.map_host_loopback_v6 = Some("fd00::1".parse().unwrap());
    c.nat.map_our_link_local = false;
    let mut tb = Testbed::new(c, 16);
    tcp_open(
        &mut tb,
        at(GUEST_V6, 40007),
        at("fd00::1".parse().unwrap(), 22),
    );
    assert!(tb
        .host
        .find_connected("[::1]:22".parse().unwrap())
        .is_some());
    tcp_open(&mut tb, at(GUEST_LL, 40008), at(OUR_LL, 22));
    assert!(tb.host.find_connected(scoped(OUR_LL, 22)).is_some());
}
