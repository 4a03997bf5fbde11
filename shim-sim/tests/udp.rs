//! Core-level UDP translator tests: the engine against the modelled host, driven by
//! a scripted guest. Grouped by what a user would notice.

use passt_core::fwd::{DnsForward, PortRange};
use passt_core::io::Transport;
use passt_core::{DropReason, Event, SockKind, SockRef};
use passt_shim_sim::datagrams::Udp;
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Testbed, GATEWAY_V4, GUEST_V4, GUEST_V6};
use std::net::SocketAddr;
use std::time::Duration;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn guest(port: u16) -> SocketAddr {
    SocketAddr::new(GUEST_V4.into(), port)
}

fn guest6(port: u16) -> SocketAddr {
    SocketAddr::new(GUEST_V6.into(), port)
}

/// The guest sends one datagram.
fn send(tb: &mut Testbed, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
    let frame = Udp::new(src, dst, payload).to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
}

/// Every frame sent to the guest so far, decoded as UDP.
fn to_guest(tb: &mut Testbed) -> Vec<Udp> {
    std::iter::from_fn(|| tb.next_frame())
        .map(|f| Udp::from_frame(&f).unwrap_or_else(|| panic!("not a valid UDP frame: {f:02x?}")))
        .collect()
}

/// The flow socket connected to `peer`.
fn flow_sock(tb: &Testbed, peer: SocketAddr) -> SockRef {
    let sock = tb
        .host
        .find_connected(peer)
        .unwrap_or_else(|| panic!("no socket connected to {peer}: {:#?}", tb.host.trace));
    assert_eq!(sock.kind(), SockKind::UdpFlow);
    sock
}

/// What the host side of `sock` received: (destination, payload).
fn sent(tb: &Testbed, sock: SockRef) -> Vec<(Option<SocketAddr>, Vec<u8>)> {
    tb.host.socket(sock).unwrap().datagrams_out.clone()
}

#[test]
fn a_guest_datagram_leaves_from_the_guests_source_port_to_its_destination() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"query");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    let s = tb.host.socket(sock).unwrap();
    assert_eq!(s.transport, Transport::Udp);
    assert_eq!(s.local, Some(sa("0.0.0.0:40000")), "source port kept");
    assert!(s.interest.read, "replies are watched for");
    assert_eq!(sent(&tb, sock), vec![(None, b"query".to_vec())]);
    assert_eq!(tb.engine.stats().udp_opened, 1);
    assert_eq!(tb.engine.stats().udp_datagrams_to_host, 1);
    assert!(to_guest(&mut tb).is_empty());
}

#[test]
fn replies_reach_the_guest_from_the_address_it_wrote_to() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q1");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), b"a1");
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), b"a2");
    tb.settle();
    let got = to_guest(&mut tb);
    assert_eq!(
        got,
        vec![
            Udp::new(sa("203.0.113.1:53"), guest(40000), b"a1"),
            Udp::new(sa("203.0.113.1:53"), guest(40000), b"a2"),
        ]
    );
    // The next datagram of the same 4-tuple reuses the flow and its socket.
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q2");
    assert_eq!(tb.host.open_of(Transport::Udp), vec![sock]);
    assert_eq!(sent(&tb, sock).len(), 2);
    assert_eq!(tb.engine.flow_count(), 1);
}

#[test]
fn each_guest_four_tuple_gets_its_own_flow() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"a");
    send(&mut tb, guest(40000), sa("203.0.113.2:53"), b"b");
    send(&mut tb, guest(40001), sa("203.0.113.1:53"), b"c");
    assert_eq!(tb.engine.flow_count(), 3);
    assert_eq!(tb.host.open_of(Transport::Udp).len(), 3);
    let b = flow_sock(&tb, sa("203.0.113.2:53"));
    assert_eq!(tb.host.socket(b).unwrap().local, Some(sa("0.0.0.0:40000")));
    tb.host.peer_send_to(b, sa("203.0.113.2:53"), b"from-2");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(sa("203.0.113.2:53"), guest(40000), b"from-2")]
    );
}

#[test]
fn zero_length_datagrams_cross_both_ways() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:9"), b"");
    let sock = flow_sock(&tb, sa("203.0.113.1:9"));
    assert_eq!(
        sent(&tb, sock),
        vec![(None, Vec::new())],
        "an empty datagram went out"
    );
    tb.host.peer_send_to(sock, sa("203.0.113.1:9"), b"");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(sa("203.0.113.1:9"), guest(40000), b"")],
        "an empty datagram came back"
    );
    assert_eq!(tb.engine.stats().udp_datagrams_to_guest, 1);
}

#[test]
fn ipv6_flows_work_the_same() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("[2001:db8:2::1]:7");
    send(&mut tb, guest6(40000), remote, b"v6");
    let sock = flow_sock(&tb, remote);
    assert_eq!(tb.host.socket(sock).unwrap().local, Some(sa("[::]:40000")));
    tb.host.peer_send_to(sock, remote, b"v6-reply");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(remote, guest6(40000), b"v6-reply")]
    );
}

#[test]
fn the_gateway_means_the_hosts_loopback() {
    let mut tb = Testbed::new(default_config(), 16);
    let gw = SocketAddr::new(GATEWAY_V4.into(), 8053);
    send(&mut tb, guest(40000), gw, b"to-host");
    let sock = flow_sock(&tb, sa("127.0.0.1:8053"));
    tb.host
        .peer_send_to(sock, sa("127.0.0.1:8053"), b"from-host");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(gw, guest(40000), b"from-host")],
        "the reply appears to come from the gateway"
    );
}

#[test]
fn dns_to_the_forward_address_goes_to_the_dns_host() {
    let mut c = default_config();
    c.dns_forward = DnsForward {
        match_v4: Some("169.254.1.1".parse().unwrap()),
        host_v4: Some("127.0.0.53".parse().unwrap()),
        ..DnsForward::default()
    };
    let mut tb = Testbed::new(c, 16);
    send(&mut tb, guest(40000), sa("169.254.1.1:53"), b"dns-query");
    let sock = flow_sock(&tb, sa("127.0.0.53:53"));
    assert_eq!(sent(&tb, sock), vec![(None, b"dns-query".to_vec())]);
    tb.host
        .peer_send_to(sock, sa("127.0.0.53:53"), b"dns-answer");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(sa("169.254.1.1:53"), guest(40000), b"dns-answer")]
    );
    // Other ports of that address are not DNS.
    send(&mut tb, guest(40001), sa("169.254.1.1:80"), b"x");
    assert!(tb.host.find_connected(sa("169.254.1.1:80")).is_some());
}

#[test]
fn a_source_port_taken_on_the_host_falls_back_to_an_ephemeral_one() {
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.occupy_udp(sa("0.0.0.0:40000"));
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    let local = tb.host.socket(sock).unwrap().local.unwrap();
    assert_ne!(local.port(), 40000);
    assert_eq!(
        sent(&tb, sock),
        vec![(None, b"q".to_vec())],
        "still delivered"
    );
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), b"a");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(sa("203.0.113.1:53"), guest(40000), b"a")],
        "the guest still sees its own port"
    );
}

#[test]
fn an_idle_flow_closes_after_180_seconds_and_traffic_keeps_it_open() {
    let mut c = default_config();
    c.services.ra = false; // no periodic RA: the flow's is the only timer
    let mut tb = Testbed::new(c, 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    tb.advance(Duration::from_secs(170));
    // A reply refreshes the flow as much as a request does.
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), b"a");
    tb.settle();
    tb.advance(Duration::from_secs(170));
    assert_eq!(tb.engine.flow_count(), 1, "refreshed by the reply at 170 s");
    tb.advance(Duration::from_secs(11));
    assert_eq!(tb.engine.flow_count(), 0);
    assert_eq!(tb.host.socket(sock).unwrap().state, SockState::Closed);
    assert_eq!(tb.engine.stats().udp_closed, 1);
    assert_eq!(tb.engine.poll_timeout(), None, "no timer left behind");
    // A late reply event for the closed socket is stale, not a crash.
    tb.engine.handle_event(
        tb.now,
        Event::Socket {
            sock,
            readiness: passt_core::Readiness {
                readable: true,
                ..Default::default()
            },
        },
        &mut tb.host,
    );
    assert_eq!(tb.engine.stats().drops(DropReason::StaleSockRef), 1);
    // The same 4-tuple later opens a fresh flow.
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q2");
    assert_eq!(tb.engine.flow_count(), 1);
    assert_ne!(flow_sock(&tb, sa("203.0.113.1:53")), sock);
}

#[test]
fn a_full_flow_table_refuses_new_flows_and_counts_them() {
    let mut tb = Testbed::new(default_config(), 2);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"1");
    send(&mut tb, guest(40001), sa("203.0.113.1:53"), b"2");
    send(&mut tb, guest(40002), sa("203.0.113.1:53"), b"3");
    assert_eq!(tb.engine.flow_count(), 2);
    assert_eq!(
        tb.host.open_of(Transport::Udp).len(),
        2,
        "no socket for the third"
    );
    assert_eq!(tb.engine.stats().drops(DropReason::FlowTableFull), 1);
    // Existing flows keep working.
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"1b");
    assert_eq!(tb.engine.stats().udp_datagrams_to_host, 3);
    // Room comes back when a flow expires.
    tb.advance(Duration::from_secs(181));
    send(&mut tb, guest(40002), sa("203.0.113.1:53"), b"3");
    assert_eq!(tb.engine.flow_count(), 1);
}

#[test]
fn multicast_broadcast_and_port_zero_are_not_forwarded() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(5353), sa("224.0.0.251:5353"), b"mdns");
    send(&mut tb, guest(68), sa("255.255.255.255:9"), b"bcast");
    send(&mut tb, guest(40000), sa("203.0.113.1:0"), b"zero");
    assert_eq!(tb.engine.flow_count(), 0);
    assert!(tb.host.open_of(Transport::Udp).is_empty());
    assert_eq!(tb.engine.stats().drops(DropReason::BadAddress), 3);
}

#[test]
fn a_burst_larger_than_one_batch_is_delivered_whole() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:19"), b"go");
    let sock = flow_sock(&tb, sa("203.0.113.1:19"));
    let n = passt_core::udp::MAX_DATAGRAMS_PER_EVENT * 2 + 5;
    for i in 0..n - 1 {
        let d = (sa("203.0.113.1:19"), format!("d{i}").into_bytes());
        tb.host.socket_mut(sock).unwrap().datagrams_in.push_back(d);
    }
    // One edge for the whole burst, as epoll reports it.
    tb.host.peer_send_to(sock, sa("203.0.113.1:19"), b"last");
    tb.settle();
    let got = to_guest(&mut tb);
    assert_eq!(got.len(), n);
    assert_eq!(got[0].payload, b"d0");
    assert_eq!(got[n - 1].payload, b"last");
}

#[test]
fn link_down_closes_udp_flows() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    tb.engine.handle_event(tb.now, Event::TapDown, &mut tb.host);
    assert_eq!(tb.engine.flow_count(), 0);
    assert_eq!(tb.host.socket(sock).unwrap().state, SockState::Closed);
}

/// A configuration forwarding host UDP port 5353 to the guest's port 53 (`-u 5353:53`).
fn forwarding_config() -> passt_core::Config {
    let mut c = default_config();
    c.forwards
        .udp_in
        .ranges
        .push(PortRange {
            first: 5353,
            last: 5353,
            delta: 53u16.wrapping_sub(5353),
            bind_addr: None,
            bind_iface: None,
        })
        .unwrap();
    c
}

#[test]
fn forwarded_port_is_one_dual_stack_socket() {
    let mut tb = Testbed::new(forwarding_config(), 16);
    assert_eq!(tb.engine.start(&mut tb.host), Ok(1));
    let l = tb
        .host
        .find_bound(Transport::Udp, sa("[::]:5353"))
        .expect("bound to the IPv6 wildcard");
    assert_eq!(l.kind(), SockKind::UdpListen);
    assert!(tb.host.socket(l).unwrap().interest.read);
    assert!(tb.host.trace.iter().any(|t| t.contains("dual_stack: true")));
}

#[test]
fn forwarded_port_delivers_to_the_guest_and_replies_go_back_to_the_sender() {
    let mut tb = Testbed::new(forwarding_config(), 16);
    tb.engine.start(&mut tb.host).unwrap();
    let l = tb.host.find_bound(Transport::Udp, sa("[::]:5353")).unwrap();
    let remote = sa("203.0.113.7:41000");
    tb.host.peer_send_to(l, remote, b"hello");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(remote, guest(53), b"hello")],
        "to the guest's port 53, from the real sender"
    );
    send(&mut tb, guest(53), remote, b"reply");
    assert_eq!(
        sent(&tb, l),
        vec![(Some(remote), b"reply".to_vec())],
        "out through the forwarded port's socket, to the sender"
    );
    assert_eq!(tb.engine.flow_count(), 1);
    assert!(
        tb.host.open_of(Transport::Udp).len() == 1,
        "no socket of its own for an inbound flow"
    );
    // A zero-length datagram takes the same way in.
    tb.host.peer_send_to(l, remote, b"");
    tb.settle();
    assert_eq!(to_guest(&mut tb), vec![Udp::new(remote, guest(53), b"")]);
}

#[test]
fn forwarded_port_from_host_loopback_appears_from_the_gateway_and_v6_peers_work() {
    let mut tb = Testbed::new(forwarding_config(), 16);
    tb.engine.start(&mut tb.host).unwrap();
    let l = tb.host.find_bound(Transport::Udp, sa("[::]:5353")).unwrap();
    tb.host.peer_send_to(l, sa("127.0.0.1:41001"), b"lo");
    tb.host.peer_send_to(l, sa("[2001:db8:2::1]:41002"), b"v6");
    tb.settle();
    let gw = SocketAddr::new(GATEWAY_V4.into(), 41001);
    assert_eq!(
        to_guest(&mut tb),
        vec![
            Udp::new(gw, guest(53), b"lo"),
            Udp::new(sa("[2001:db8:2::1]:41002"), guest6(53), b"v6"),
        ]
    );
    send(&mut tb, guest(53), gw, b"lo-reply");
    send(
        &mut tb,
        guest6(53),
        sa("[2001:db8:2::1]:41002"),
        b"v6-reply",
    );
    assert_eq!(
        sent(&tb, l),
        vec![
            (Some(sa("127.0.0.1:41001")), b"lo-reply".to_vec()),
            (Some(sa("[2001:db8:2::1]:41002")), b"v6-reply".to_vec()),
        ]
    );
}

#[test]
fn inbound_flows_expire_and_a_full_table_drops_new_senders() {
    let mut tb = Testbed::new(forwarding_config(), 1);
    tb.engine.start(&mut tb.host).unwrap();
    let l = tb.host.find_bound(Transport::Udp, sa("[::]:5353")).unwrap();
    tb.host.peer_send_to(l, sa("203.0.113.7:1"), b"a");
    tb.host.peer_send_to(l, sa("203.0.113.7:2"), b"b");
    tb.settle();
    assert_eq!(to_guest(&mut tb).len(), 1);
    assert_eq!(tb.engine.stats().drops(DropReason::FlowTableFull), 1);
    tb.advance(Duration::from_secs(181));
    assert_eq!(tb.engine.flow_count(), 0);
    assert_eq!(
        tb.host.socket(l).unwrap().state,
        SockState::Open,
        "the forwarded port stays open"
    );
    tb.host.peer_send_to(l, sa("203.0.113.7:2"), b"b");
    tb.settle();
    assert_eq!(to_guest(&mut tb).len(), 1);
}

#[test]
fn a_forwarded_port_that_cannot_be_bound_fails_start() {
    let mut tb = Testbed::new(forwarding_config(), 16);
    tb.host.occupy_udp(sa("[::]:5353"));
    let err = tb.engine.start(&mut tb.host).unwrap_err();
    assert_eq!(err.port, 5353);
    assert_eq!(err.transport, Transport::Udp);
    assert_eq!(err.error, passt_core::HostError::AddrInUse);
}

#[test]
fn oversized_datagrams_from_the_host_are_counted_not_sent() {
    let mut tb = Testbed::new(default_config(), 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q");
    let sock = flow_sock(&tb, sa("203.0.113.1:53"));
    let big = vec![7u8; 70_000];
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), &big);
    tb.host.peer_send_to(sock, sa("203.0.113.1:53"), b"ok");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(sa("203.0.113.1:53"), guest(40000), b"ok")]
    );
    assert_eq!(tb.engine.stats().drops(DropReason::DatagramTooBig), 1);
}

#[test]
fn no_udp_drops_the_guests_datagrams() {
    let mut c = default_config();
    c.protocols.udp = false;
    let mut tb = Testbed::new(c, 16);
    send(&mut tb, guest(40000), sa("203.0.113.1:53"), b"q");
    assert_eq!(tb.engine.flow_count(), 0);
    assert!(tb.host.open_of(Transport::Udp).is_empty());
    assert_eq!(tb.engine.stats().drops(DropReason::Disabled), 1);
}

/// A burst from the host, in a flow the guest opened: `sizes` datagrams, each filled
/// with its index. Returns the engine's frames as the guest receives them and how
/// many frames the engine wrote (offloaded ones count once).
fn burst_to_guest(
    config: passt_core::Config,
    guest_at: SocketAddr,
    sizes: &[usize],
) -> (Vec<Udp>, Vec<Udp>, u64) {
    let remote = if guest_at.is_ipv4() {
        sa("203.0.113.1:5201")
    } else {
        sa("[2001:db8:2::1]:5201")
    };
    let mut tb = Testbed::new(config, 16);
    send(&mut tb, guest_at, remote, b"go");
    let sock = flow_sock(&tb, remote);
    let want: Vec<Udp> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| Udp::new(remote, guest_at, &vec![i as u8; n]))
        .collect();
    for d in &want {
        tb.host.peer_send_to(sock, remote, &d.payload);
    }
    tb.settle();
    let got = to_guest(&mut tb);
    assert_eq!(tb.engine.stats().udp_datagrams_to_guest, sizes.len() as u64);
    (got, want, tb.host.offloaded_frames)
}

/// iperf3-like bulk with a few odd sizes in between: runs break at a shorter
/// datagram, a longer one and an empty one.
const BURST: [(usize, usize); 6] = [
    (100, 1472),
    (1, 500),
    (3, 1000),
    (1, 0),
    (2, 1472),
    (50, 1200),
];

fn burst_sizes() -> Vec<usize> {
    BURST
        .iter()
        .flat_map(|&(n, size)| std::iter::repeat_n(size, n))
        .collect()
}

#[test]
fn with_udp_segmentation_a_burst_leaves_in_few_frames_and_arrives_as_its_datagrams() {
    let mut config = default_config();
    config.offload.udp_segment_max = 65_507;
    for at in [guest(40000), guest6(40000)] {
        let (got, want, offloaded) = burst_to_guest(config.clone(), at, &burst_sizes());
        assert_eq!(
            got, want,
            "every datagram, whole and in order, with valid checksums"
        );
        // Runs end at 64 KiB (44 × 1472), at a shorter datagram (which joins) and at
        // the 64 datagrams one socket event reads: 44 + 20 × 1472 | 36 × 1472 + 500,
        // 3 × 1000, the empty one alone, 2 × 1472, 21 × 1200 | 29 × 1200.
        assert_eq!(offloaded, 7, "for {} datagrams", want.len());
    }
}

#[test]
fn without_udp_segmentation_every_datagram_is_its_own_frame() {
    let (got, want, offloaded) = burst_to_guest(default_config(), guest(40000), &burst_sizes());
    assert_eq!(got, want);
    assert_eq!(offloaded, 0);
}

#[test]
fn with_udp_segmentation_senders_on_a_forwarded_port_get_runs_of_their_own() {
    let mut config = forwarding_config();
    config.offload.udp_segment_max = 65_507;
    let mut tb = Testbed::new(config, 16);
    tb.engine.start(&mut tb.host).unwrap();
    let l = tb.host.find_bound(Transport::Udp, sa("[::]:5353")).unwrap();
    let (a, b) = (sa("203.0.113.7:41000"), sa("[2001:db8:2::7]:41001"));
    // Ten from a, then a v6 sender's five, three more from a, one shorter from b.
    let order: Vec<(SocketAddr, usize)> = std::iter::repeat_n((a, 1000), 10)
        .chain(std::iter::repeat_n((b, 1400), 5))
        .chain(std::iter::repeat_n((a, 1000), 3))
        .chain([(b, 20)])
        .collect();
    let mut want = Vec::new();
    for (i, &(from, size)) in order.iter().enumerate() {
        let payload = vec![i as u8; size];
        tb.host.peer_send_to(l, from, &payload);
        let to = if from.is_ipv4() {
            guest(53)
        } else {
            guest6(53)
        };
        want.push(Udp::new(from, to, &payload));
    }
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        want,
        "every datagram, in order, checksums valid"
    );
    assert_eq!(
        tb.host.offloaded_frames, 3,
        "a's ten, b's five, a's three; b's last alone"
    );
    assert_eq!(tb.engine.stats().udp_runs_to_guest, 3);
}
