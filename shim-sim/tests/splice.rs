//! pasta's loopback bypass at the protocol level: connections from the host's loopback
//! to forwarded ports, and `-T` connections from the namespace's loopback, are joined
//! socket to socket and never cross the tap.

use passt_core::config::Mode;
use passt_core::fwd::PortRange;
use passt_core::io::Namespace;
use passt_core::{SockKind, SockRef};
use passt_shim_sim::sockets::{ConnectBehaviour, SockState};
use passt_shim_sim::testbed::{default_config, Testbed, GUEST_V4};
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn forward(port: u16, to: u16) -> PortRange {
    PortRange {
        first: port,
        last: port,
        delta: to.wrapping_sub(port),
        bind_addr: None,
        bind_iface: None,
    }
}

fn pasta_bed(tcp_in: &[(u16, u16)], tcp_out: &[(u16, u16)]) -> Testbed {
    let mut c = default_config();
    c.mode = Mode::Pasta;
    c.splice = true;
    for (p, to) in tcp_in {
        c.forwards.tcp_in.ranges.push(forward(*p, *to)).unwrap();
    }
    for (p, to) in tcp_out {
        c.forwards.tcp_out.ranges.push(forward(*p, *to)).unwrap();
    }
    let mut tb = Testbed::new(c, 16);
    tb.engine.start(&mut tb.host).unwrap();
    tb
}

fn listener(tb: &Testbed, ns: Namespace) -> SockRef {
    tb.host
        .sockets()
        .find(|(r, s)| r.kind() == SockKind::TcpListen && s.ns == ns)
        .map(|(r, _)| r)
        .expect("listener")
}

#[test]
fn loopback_client_is_spliced_into_the_namespace_both_ways() {
    let mut tb = pasta_bed(&[(8084, 9084)], &[]);
    tb.host
        .peer_connect(listener(&tb, Namespace::Host), sa("127.0.0.1:50000"));
    tb.settle();
    let target_addr = SocketAddr::new(GUEST_V4.into(), 9084);
    let target = tb
        .host
        .find_connected(target_addr)
        .expect("connects to the guest's own address");
    assert_eq!(
        tb.host.socket(target).unwrap().ns,
        Namespace::Guest,
        "from inside the namespace"
    );
    tb.complete_connects();
    let client = tb.host.find_connected(sa("127.0.0.1:50000")).unwrap();
    tb.host.peer_send(client, b"hello");
    tb.settle();
    assert_eq!(tb.host.socket(target).unwrap().tx, b"hello");
    tb.host.peer_send(target, b"world");
    tb.settle();
    assert_eq!(tb.host.socket(client).unwrap().tx, b"world");
    assert!(tb.host.frames.is_empty(), "nothing crossed the tap");
    assert_eq!(tb.engine.stats().tcp_spliced, 1);

    // Half-close one way, then the other: FIN propagates, then both close gracefully.
    tb.host.peer_close(client);
    tb.settle();
    assert!(tb.host.socket(target).unwrap().tx_shutdown);
    assert_eq!(tb.engine.flow_count(), 1);
    let counts = tb.engine.flow_counts();
    assert_eq!((counts.spliced, counts.tcp, counts.total()), (1, 0, 1));
    assert_eq!(counts.capacity, 16);
    tb.host.peer_send(target, b"late");
    tb.host.peer_close(target);
    tb.settle();
    assert_eq!(tb.host.socket(client).unwrap().tx, b"worldlate");
    assert_eq!(tb.engine.flow_count(), 0);
    for s in [client, target] {
        let s = tb.host.socket(s).unwrap();
        assert_eq!(s.state, SockState::Closed);
        assert!(!s.aborted);
    }
    // Counted as opened and closed, as through the tap (`-d` logs both at exit).
    let stats = tb.engine.stats();
    assert_eq!((stats.tcp_opened, stats.tcp_closed), (1, 1));
}

#[test]
fn non_loopback_client_goes_through_the_tap() {
    let mut tb = pasta_bed(&[(8084, 8084)], &[]);
    tb.host
        .peer_connect(listener(&tb, Namespace::Host), sa("203.0.113.9:50001"));
    tb.settle();
    assert_eq!(tb.engine.stats().tcp_spliced, 0);
    let syn = tb.next_segment().expect("SYN to the guest");
    assert_eq!(syn.src, sa("203.0.113.9:50001"));
}

#[test]
fn no_splice_sends_loopback_clients_through_the_tap() {
    let mut c = default_config();
    c.mode = Mode::Pasta;
    c.splice = false;
    c.forwards.tcp_in.ranges.push(forward(8084, 8084)).unwrap();
    let mut tb = Testbed::new(c, 16);
    tb.engine.start(&mut tb.host).unwrap();
    tb.host
        .peer_connect(listener(&tb, Namespace::Host), sa("127.0.0.1:50002"));
    tb.settle();
    assert!(
        tb.next_segment().is_some(),
        "the guest sees a SYN from the gateway"
    );
}

#[test]
fn outbound_forward_reaches_the_host_loopback() {
    let mut tb = pasta_bed(&[], &[(5213, 6213)]);
    let l = listener(&tb, Namespace::Guest);
    let local = tb.host.socket(l).unwrap().local;
    assert!(
        local == Some(sa("127.0.0.1:5213")) || local == Some(sa("[::1]:5213")),
        "{local:?}"
    );
    tb.host.peer_connect(l, sa("127.0.0.1:40000"));
    tb.settle();
    let target = tb
        .host
        .find_connected(sa("127.0.0.1:6213"))
        .expect("host loopback, mapped port");
    assert_eq!(tb.host.socket(target).unwrap().ns, Namespace::Host);
    tb.complete_connects();
    let client = tb.host.find_connected(sa("127.0.0.1:40000")).unwrap();
    tb.host.peer_send(client, b"out");
    tb.settle();
    assert_eq!(tb.host.socket(target).unwrap().tx, b"out");
}

#[test]
fn refused_target_resets_the_client() {
    let mut tb = pasta_bed(&[], &[(5213, 5213)]);
    tb.host
        .set_behaviour(sa("127.0.0.1:5213"), ConnectBehaviour::Refuse);
    tb.host
        .peer_connect(listener(&tb, Namespace::Guest), sa("127.0.0.1:40001"));
    tb.settle();
    tb.complete_connects();
    let client = tb
        .host
        .sockets()
        .find(|(_, s)| s.peer == Some(sa("127.0.0.1:40001")))
        .unwrap()
        .1;
    assert!(client.aborted, "the client sees a reset");
    assert_eq!(tb.engine.flow_count(), 0);
    let stats = tb.engine.stats();
    assert_eq!((stats.tcp_opened, stats.tcp_closed), (1, 1));
}

#[test]
fn a_full_destination_holds_data_until_it_drains() {
    let mut tb = pasta_bed(&[], &[(5213, 5213)]);
    tb.host
        .peer_connect(listener(&tb, Namespace::Guest), sa("127.0.0.1:40002"));
    tb.settle();
    tb.complete_connects();
    let client = tb.host.find_connected(sa("127.0.0.1:40002")).unwrap();
    let target = tb.host.find_connected(sa("127.0.0.1:5213")).unwrap();
    tb.host.socket_mut(target).unwrap().send_space = 3;
    tb.host.peer_send(client, b"abcdef");
    tb.settle();
    assert_eq!(tb.host.socket(target).unwrap().tx, b"abc");
    assert!(
        tb.host.socket(target).unwrap().interest.write,
        "waits for room"
    );
    tb.host.peer_drain(target, 100);
    tb.settle();
    assert_eq!(tb.host.socket(target).unwrap().tx, b"abcdef");
}

mod auto {
    use super::*;
    use passt_core::fwd::PortSet;
    use passt_core::tcp::Direction;

    fn ports(list: &[u16]) -> PortSet {
        let mut s = PortSet::new();
        list.iter().for_each(|p| s.insert(*p));
        s
    }

    fn auto_bed() -> Testbed {
        let mut c = default_config();
        c.mode = Mode::Pasta;
        c.splice = true;
        c.forwards.tcp_in_auto = true;
        c.forwards.tcp_out_auto = true;
        c.forwards.tcp_out.ranges.push(forward(5213, 5213)).unwrap();
        let mut tb = Testbed::new(c, 16);
        tb.engine.start(&mut tb.host).unwrap();
        tb
    }

    fn listening(tb: &Testbed, ns: Namespace, port: u16) -> bool {
        tb.host.sockets().any(|(r, s)| {
            r.kind() == SockKind::TcpListen
                && s.ns == ns
                && s.state == SockState::Listening
                && s.local.map(|a| a.port()) == Some(port)
        })
    }

    #[test]
    fn a_server_started_later_becomes_reachable_then_goes_away() {
        let mut tb = auto_bed();
        assert!(!listening(&tb, Namespace::Host, 8080));
        assert_eq!(
            tb.engine
                .update_auto_forwards(Direction::Inbound, &ports(&[8080]), &mut tb.host),
            1
        );
        assert!(
            listening(&tb, Namespace::Host, 8080),
            "host port 8080 now forwarded"
        );
        let l = tb
            .host
            .sockets()
            .find(|(r, s)| {
                r.kind() == SockKind::TcpListen && s.local.map(|a| a.port()) == Some(8080)
            })
            .unwrap()
            .0;
        tb.host.peer_connect(l, sa("203.0.113.9:50100"));
        tb.settle();
        let syn = tb.next_segment().expect("SYN to the guest's 8080");
        assert_eq!(syn.dst, SocketAddr::new(GUEST_V4.into(), 8080));
        // Unchanged scans change nothing; the server going away closes the listener.
        assert_eq!(
            tb.engine
                .update_auto_forwards(Direction::Inbound, &ports(&[8080]), &mut tb.host),
            0
        );
        assert_eq!(
            tb.engine
                .update_auto_forwards(Direction::Inbound, &ports(&[]), &mut tb.host),
            1
        );
        assert!(!listening(&tb, Namespace::Host, 8080));
    }

    #[test]
    fn our_own_listeners_are_never_forwarded_back() {
        let mut tb = auto_bed();
        // The namespace scan sees our -T listener on 5213: forwarding it inbound would
        // loop, so it is skipped.
        tb.engine
            .update_auto_forwards(Direction::Inbound, &ports(&[5213, 8080]), &mut tb.host);
        assert!(tb.engine.auto_ports(Direction::Inbound).contains(8080));
        assert!(!tb.engine.auto_ports(Direction::Inbound).contains(5213));
        // The host scan sees our inbound auto listener on 8080: not forwarded outbound.
        tb.engine
            .update_auto_forwards(Direction::Outbound, &ports(&[8080, 631]), &mut tb.host);
        assert!(tb.engine.auto_ports(Direction::Outbound).contains(631));
        assert!(!tb.engine.auto_ports(Direction::Outbound).contains(8080));
        assert!(
            listening(&tb, Namespace::Guest, 631),
            "outbound listeners live in the namespace"
        );
    }

    #[test]
    fn busy_ports_are_skipped() {
        let mut tb = auto_bed();
        tb.host.occupy(sa("[::]:8080"));
        assert_eq!(
            tb.engine
                .update_auto_forwards(Direction::Inbound, &ports(&[8080]), &mut tb.host),
            0
        );
        assert!(!tb.engine.auto_ports(Direction::Inbound).contains(8080));
    }

    #[test]
    fn auto_off_does_nothing() {
        let mut tb = pasta_bed(&[], &[]);
        assert_eq!(
            tb.engine
                .update_auto_forwards(Direction::Inbound, &ports(&[8080]), &mut tb.host),
            0
        );
    }
}
