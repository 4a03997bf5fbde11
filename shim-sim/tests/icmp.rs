//! Core-level ICMP/ICMPv6 echo tests: requests through ping sockets, replies with the
//! guest's identifier restored, idle expiry, and a host that forbids ping sockets.

use passt_core::io::Transport;
use passt_core::wire::IpProtocol;
use passt_core::{DropReason, SockKind, SockRef};
use passt_shim_sim::datagrams::{ip_frame, Echo};
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Testbed, GATEWAY_V4, GUEST_V4, GUEST_V6};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn request(tb: &mut Testbed, e: &Echo) {
    let frame = e.to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
}

fn replies(tb: &mut Testbed) -> Vec<Echo> {
    std::iter::from_fn(|| tb.next_frame())
        .map(|f| Echo::from_frame(&f).unwrap_or_else(|| panic!("not a valid echo: {f:02x?}")))
        .collect()
}

fn ping_sockets(tb: &Testbed) -> Vec<SockRef> {
    let mut v = tb.host.open_of(Transport::Icmp);
    v.extend(tb.host.open_of(Transport::Icmpv6));
    v
}

/// The remote answers the last request on `sock` the way the kernel hands it to a
/// ping socket: an echo reply carrying the socket's own identifier.
fn answer(tb: &mut Testbed, sock: SockRef, from: IpAddr) {
    let s = tb.host.socket(sock).unwrap();
    let (_, req) = s.datagrams_out.last().expect("a request went out").clone();
    let id = s.ping_id.unwrap();
    let mut reply = req.clone();
    reply[0] = if from.is_ipv4() { 0 } else { 129 };
    assert_eq!(
        u16::from_be_bytes([req[4], req[5]]),
        id,
        "kernel id stamped"
    );
    tb.host.peer_send_to(sock, SocketAddr::new(from, 0), &reply);
    tb.settle();
}

#[test]
fn echo_request_goes_out_a_ping_socket_and_the_reply_comes_back_with_the_guests_id() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = ip("203.0.113.1");
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), remote, 0x1234, 1, b"abcdefgh"),
    );
    let socks = ping_sockets(&tb);
    assert_eq!(socks.len(), 1);
    let sock = socks[0];
    assert_eq!(sock.kind(), SockKind::Ping);
    let s = tb.host.socket(sock).unwrap();
    assert_eq!(s.transport, Transport::Icmp);
    let (to, msg) = &s.datagrams_out[0];
    assert_eq!(*to, Some(SocketAddr::new(remote, 0)));
    assert_eq!(
        &msg[8..],
        b"abcdefgh",
        "the whole echo message, data intact"
    );
    answer(&mut tb, sock, remote);
    let got = replies(&mut tb);
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert!(r.reply);
    assert_eq!((r.src, r.dst), (remote, IpAddr::from(GUEST_V4)));
    assert_eq!(r.ident, 0x1234, "the guest's identifier, not the kernel's");
    assert_eq!(r.seq, 1);
    assert_eq!(r.data, b"abcdefgh");
    assert_eq!(tb.engine.stats().echo_requests, 1);
    assert_eq!(tb.engine.stats().echo_replies, 1);
}

#[test]
fn icmpv6_echo_works_the_same() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = ip("2001:db8:2::1");
    request(
        &mut tb,
        &Echo::request(GUEST_V6.into(), remote, 77, 3, b"v6"),
    );
    let sock = ping_sockets(&tb)[0];
    assert_eq!(tb.host.socket(sock).unwrap().transport, Transport::Icmpv6);
    answer(&mut tb, sock, remote);
    let got = replies(&mut tb);
    assert_eq!(
        got.len(),
        1,
        "checksum with the IPv6 pseudo-header verifies"
    );
    assert_eq!((got[0].ident, got[0].seq, got[0].src), (77, 3, remote));
}

#[test]
fn each_guest_identifier_has_its_own_socket_and_gets_its_own_replies() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = ip("203.0.113.1");
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), remote, 100, 1, b"a"),
    );
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), remote, 200, 1, b"b"),
    );
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), remote, 100, 2, b"a"),
    );
    let socks = ping_sockets(&tb);
    assert_eq!(socks.len(), 2, "one socket per guest identifier");
    let sock_for = |data: &[u8]| {
        socks
            .iter()
            .copied()
            .find(|s| tb.host.socket(*s).unwrap().datagrams_out[0].1[8..] == *data)
            .unwrap()
    };
    let (a, b) = (sock_for(b"a"), sock_for(b"b"));
    assert_eq!(
        tb.host.socket(a).unwrap().datagrams_out.len(),
        2,
        "the second request of identifier 100 reused its socket"
    );
    assert_ne!(
        tb.host.socket(a).unwrap().ping_id,
        tb.host.socket(b).unwrap().ping_id
    );
    answer(&mut tb, b, remote);
    answer(&mut tb, a, remote);
    let got: Vec<(u16, u16, Vec<u8>)> = replies(&mut tb)
        .into_iter()
        .map(|r| (r.ident, r.seq, r.data))
        .collect();
    assert_eq!(got, vec![(200, 1, b"b".to_vec()), (100, 2, b"a".to_vec())]);
}

#[test]
fn pinging_the_gateway_reaches_the_hosts_loopback() {
    let mut tb = Testbed::new(default_config(), 16);
    let gw = IpAddr::from(GATEWAY_V4);
    request(&mut tb, &Echo::request(GUEST_V4.into(), gw, 9, 1, b"gw"));
    let sock = ping_sockets(&tb)[0];
    let to = tb.host.socket(sock).unwrap().datagrams_out[0].0;
    assert_eq!(to, Some("127.0.0.1:0".parse().unwrap()));
    answer(&mut tb, sock, ip("127.0.0.1"));
    let got = replies(&mut tb);
    assert_eq!(
        got[0].src, gw,
        "the reply comes from the address the guest pinged"
    );
}

#[test]
fn an_idle_echo_flow_closes_after_60_seconds() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = ip("203.0.113.1");
    request(&mut tb, &Echo::request(GUEST_V4.into(), remote, 5, 1, b""));
    let sock = ping_sockets(&tb)[0];
    tb.advance(Duration::from_secs(50));
    request(&mut tb, &Echo::request(GUEST_V4.into(), remote, 5, 2, b""));
    tb.advance(Duration::from_secs(50));
    assert_eq!(tb.engine.flow_count(), 1, "refreshed by the second request");
    tb.advance(Duration::from_secs(11));
    assert_eq!(tb.engine.flow_count(), 0);
    assert_eq!(tb.host.socket(sock).unwrap().state, SockState::Closed);
    assert_eq!(tb.engine.stats().ping_closed, 1);
}

#[test]
fn a_host_that_forbids_ping_sockets_drops_and_counts_echo_requests() {
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.forbid_ping = true;
    for seq in 0..3 {
        request(
            &mut tb,
            &Echo::request(GUEST_V4.into(), ip("203.0.113.1"), 5, seq, b"x"),
        );
    }
    request(
        &mut tb,
        &Echo::request(GUEST_V6.into(), ip("2001:db8:2::1"), 5, 0, b"x"),
    );
    assert_eq!(tb.engine.stats().drops(DropReason::PingForbidden), 4);
    assert_eq!(tb.engine.flow_count(), 0, "no flow kept without a socket");
    assert!(tb.next_frame().is_none());
    // Other traffic is unaffected.
    tb.host.forbid_ping = false;
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), ip("203.0.113.1"), 5, 9, b"x"),
    );
    assert_eq!(ping_sockets(&tb).len(), 1);
}

#[test]
fn only_echo_requests_are_proxied() {
    let mut tb = Testbed::new(default_config(), 16);
    let mac = tb.engine.config().our_mac;
    let remote = ip("203.0.113.1");
    // An ICMP timestamp request (type 13), and a truncated echo.
    let mut ts = vec![13u8, 0, 0, 0, 0, 1, 0, 1];
    ts.extend_from_slice(&[0; 12]);
    tb.guest_frame(&ip_frame(
        mac,
        GUEST_V4.into(),
        remote,
        IpProtocol::Icmp,
        &ts,
    ));
    tb.guest_frame(&ip_frame(
        mac,
        GUEST_V4.into(),
        remote,
        IpProtocol::Icmp,
        &[8, 0, 0],
    ));
    let mut reply = Echo::request(GUEST_V4.into(), remote, 1, 1, b"");
    reply.reply = true;
    request(&mut tb, &reply);
    assert!(ping_sockets(&tb).is_empty());
    let s = tb.engine.stats();
    assert_eq!(s.drops(DropReason::Icmpv4Ignored), 2);
    assert_eq!(s.drops(DropReason::Icmpv4Malformed), 1);
}

#[test]
fn replies_that_are_not_echo_replies_are_dropped() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = ip("203.0.113.1");
    request(&mut tb, &Echo::request(GUEST_V4.into(), remote, 5, 1, b"x"));
    let sock = ping_sockets(&tb)[0];
    tb.host
        .peer_send_to(sock, SocketAddr::new(remote, 0), &[3, 1, 0, 0, 0, 0, 0, 0]);
    tb.host
        .peer_send_to(sock, SocketAddr::new(remote, 0), &[0, 0, 0]);
    tb.settle();
    assert!(tb.next_frame().is_none());
    assert_eq!(tb.engine.stats().drops(DropReason::Icmpv4Ignored), 2);
}

#[test]
fn no_icmp_drops_echo_requests() {
    let mut c = default_config();
    c.protocols.icmp = false;
    let mut tb = Testbed::new(c, 16);
    request(
        &mut tb,
        &Echo::request(GUEST_V4.into(), ip("203.0.113.1"), 5, 1, b"x"),
    );
    request(
        &mut tb,
        &Echo::request(GUEST_V6.into(), ip("2001:db8:2::1"), 5, 1, b"x"),
    );
    assert!(ping_sockets(&tb).is_empty());
    assert_eq!(tb.engine.stats().drops(DropReason::Disabled), 2);
}
