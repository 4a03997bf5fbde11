//! pasta's UDP loopback bypass and `auto` UDP forwarding at the protocol level:
//! datagrams from the host's loopback to a `-u` port, and from the namespace's
//! loopback to a `-U` port, go socket to socket and never cross the tap.

use passt_core::config::{Config, Mode};
use passt_core::fwd::{PortRange, PortSet};
use passt_core::io::{Namespace, Transport};
use passt_core::tcp::Direction;
use passt_core::{DropReason, SockKind, SockRef};
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Testbed, GUEST_V4, GUEST_V6};
use std::net::SocketAddr;
use std::time::Duration;

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

fn pasta_config() -> Config {
    let mut c = default_config();
    c.mode = Mode::Pasta;
    c.splice = true;
    c
}

fn bed(c: Config, flows: usize) -> Testbed {
    let mut tb = Testbed::new(c, flows);
    tb.engine.start(&mut tb.host).unwrap();
    tb
}

/// The forwarded port's socket in `ns` bound to `port` (the first one found).
fn listener(tb: &Testbed, ns: Namespace, port: u16) -> SockRef {
    tb.host
        .sockets()
        .find(|(r, s)| {
            r.kind() == SockKind::UdpListen
                && s.ns == ns
                && s.state != SockState::Closed
                && s.local.map(|a| a.port()) == Some(port)
        })
        .map(|(r, _)| r)
        .unwrap_or_else(|| panic!("no UDP socket on port {port} in {ns:?}"))
}

fn out(tb: &Testbed, sock: SockRef) -> Vec<(Option<SocketAddr>, Vec<u8>)> {
    tb.host.socket(sock).unwrap().datagrams_out.clone()
}

#[test]
fn a_host_loopback_sender_is_spliced_into_the_namespace_and_answered() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 6000)).unwrap();
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Host, 5000);
    let client = sa("127.0.0.1:41000");
    tb.host.peer_send_to(l, client, b"one");
    tb.host.peer_send_to(l, client, b"two");
    tb.host.peer_send_to(l, client, b"");
    tb.settle();

    let to = SocketAddr::new(GUEST_V4.into(), 6000);
    let target = tb
        .host
        .find_connected(to)
        .expect("a socket toward the namespace");
    let t = tb.host.socket(target).unwrap();
    assert_eq!(t.ns, Namespace::Guest, "opened inside the namespace");
    assert_eq!(t.local, Some(sa("0.0.0.0:41000")), "the sender's port kept");
    assert_eq!(
        out(&tb, target),
        vec![
            (None, b"one".to_vec()),
            (None, b"two".to_vec()),
            (None, Vec::new())
        ],
        "in order, the zero-length datagram too"
    );
    assert!(tb.host.frames.is_empty(), "nothing crossed the tap");

    // Replies leave through the forwarded port's socket, to the sender.
    tb.host.peer_send_to(target, to, b"back");
    tb.host.peer_send_to(target, to, b"");
    tb.settle();
    assert_eq!(
        out(&tb, l),
        vec![(Some(client), b"back".to_vec()), (Some(client), Vec::new())]
    );
    let s = tb.engine.stats();
    assert_eq!((s.udp_spliced, s.udp_datagrams_spliced), (1, 5));
    assert_eq!(tb.engine.flow_count(), 1);
}

#[test]
fn senders_interleaved_on_one_port_each_get_their_own_flow() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 5000)).unwrap();
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Host, 5000);
    let (a, b) = (sa("127.0.0.1:41001"), sa("127.0.0.1:41002"));
    for (from, data) in [(a, "a1"), (a, "a2"), (b, "b1"), (a, "a3"), (b, "b2")] {
        tb.host.peer_send_to(l, from, data.as_bytes());
    }
    tb.settle();
    let targets: Vec<_> = tb
        .host
        .sockets()
        .filter(|(r, s)| r.kind() == SockKind::UdpFlow && s.state != SockState::Closed)
        .map(|(r, s)| (s.local.unwrap().port(), r))
        .collect();
    assert_eq!(targets.len(), 2);
    for (port, sock) in targets {
        let want: &[&[u8]] = if port == 41001 {
            &[b"a1", b"a2", b"a3"]
        } else {
            &[b"b1", b"b2"]
        };
        let got: Vec<Vec<u8>> = out(&tb, sock).into_iter().map(|(_, d)| d).collect();
        assert_eq!(got, want, "sender on port {port}");
    }
}

#[test]
fn ipv6_loopback_senders_reach_the_namespaces_ipv6_address() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 5000)).unwrap();
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Host, 5000);
    tb.host.peer_send_to(l, sa("[::1]:41003"), b"six");
    tb.settle();
    let target = tb
        .host
        .find_connected(SocketAddr::new(GUEST_V6.into(), 5000))
        .expect("IPv6 target");
    assert_eq!(out(&tb, target), vec![(None, b"six".to_vec())]);
}

#[test]
fn udp_ns_forwards_namespace_loopback_to_host_loopback() {
    let mut c = pasta_config();
    c.forwards
        .udp_out
        .ranges
        .push(forward(10003, 10004))
        .unwrap();
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Guest, 10003);
    assert_eq!(
        tb.host.socket(l).unwrap().local,
        Some(sa("127.0.0.1:10003")),
        "the namespace's loopback only"
    );
    tb.host.peer_send_to(l, sa("127.0.0.1:42000"), b"out");
    tb.settle();
    let target = tb
        .host
        .find_connected(sa("127.0.0.1:10004"))
        .expect("to host loopback");
    let t = tb.host.socket(target).unwrap();
    assert_eq!(t.ns, Namespace::Host);
    assert_eq!(t.local, Some(sa("0.0.0.0:42000")));
    assert_eq!(out(&tb, target), vec![(None, b"out".to_vec())]);
    tb.host.peer_send_to(target, sa("127.0.0.1:10004"), b"in");
    tb.settle();
    assert_eq!(
        out(&tb, l),
        vec![(Some(sa("127.0.0.1:42000")), b"in".to_vec())]
    );
    assert!(tb.host.frames.is_empty());
}

#[test]
fn non_loopback_senders_and_no_splice_go_through_the_tap() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 5000)).unwrap();
    let mut tb = bed(c.clone(), 16);
    let l = listener(&tb, Namespace::Host, 5000);
    tb.host.peer_send_to(l, sa("203.0.113.9:41000"), b"remote");
    tb.settle();
    assert_eq!(tb.host.frames.len(), 1);
    assert_eq!(tb.engine.stats().udp_spliced, 0);

    c.splice = false;
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Host, 5000);
    tb.host.peer_send_to(l, sa("127.0.0.1:41000"), b"local");
    tb.settle();
    assert_eq!(tb.host.frames.len(), 1, "--no-splice: through the tap");
    assert_eq!(tb.engine.stats().udp_spliced, 0);
}

#[test]
fn idle_spliced_flows_close_after_the_udp_timeout_and_traffic_keeps_them() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 5000)).unwrap();
    let mut tb = bed(c, 16);
    let l = listener(&tb, Namespace::Host, 5000);
    let client = sa("127.0.0.1:41000");
    tb.host.peer_send_to(l, client, b"x");
    tb.settle();
    let target = tb
        .host
        .open_of(Transport::Udp)
        .into_iter()
        .find(|s| s.kind() == SockKind::UdpFlow)
        .unwrap();
    tb.advance(Duration::from_secs(170));
    // A reply 170 s in refreshes the flow.
    tb.host
        .peer_send_to(target, SocketAddr::new(GUEST_V4.into(), 5000), b"y");
    tb.settle();
    tb.advance(Duration::from_secs(170));
    assert_eq!(tb.engine.flow_count(), 1, "kept alive by the reply");
    assert_eq!(tb.host.socket(target).unwrap().state, SockState::Connected);
    tb.advance(Duration::from_secs(11));
    assert_eq!(tb.engine.flow_count(), 0);
    assert_eq!(tb.host.socket(target).unwrap().state, SockState::Closed);
    assert_ne!(
        tb.host.socket(l).unwrap().state,
        SockState::Closed,
        "the forwarded port stays"
    );
    // The next datagram from the same sender opens a fresh flow.
    tb.host.peer_send_to(l, client, b"z");
    tb.settle();
    assert_eq!(tb.engine.flow_count(), 1);
    assert_eq!(tb.engine.stats().udp_spliced, 2);
}

#[test]
fn a_full_flow_table_drops_new_senders_and_keeps_serving_the_others() {
    let mut c = pasta_config();
    c.forwards.udp_in.ranges.push(forward(5000, 5000)).unwrap();
    let mut tb = bed(c, 4);
    let l = listener(&tb, Namespace::Host, 5000);
    for i in 0..6u16 {
        tb.host
            .peer_send_to(l, SocketAddr::new([127, 0, 0, 1].into(), 41000 + i), b"hi");
    }
    tb.settle();
    assert_eq!(tb.engine.flow_count(), 4);
    assert_eq!(tb.engine.stats().drops(DropReason::FlowTableFull), 2);
    let flows = tb
        .host
        .open_of(Transport::Udp)
        .into_iter()
        .filter(|s| s.kind() == SockKind::UdpFlow)
        .count();
    assert_eq!(flows, 4, "no socket for a refused sender");
    // An existing sender is still served.
    tb.host.peer_send_to(l, sa("127.0.0.1:41000"), b"again");
    tb.settle();
    assert_eq!(tb.engine.stats().udp_datagrams_spliced, 5);
}

#[test]
fn auto_forwarding_follows_bound_ports_and_never_loops() {
    let mut c = pasta_config();
    c.forwards.udp_in_auto = true;
    c.forwards.udp_out_auto = true;
    let mut tb = bed(c, 16);
    let mut ns_ports = PortSet::new();
    ns_ports.insert(5353);
    ns_ports.insert(7000);
    let n = tb
        .engine
        .update_auto_udp_forwards(Direction::Inbound, &ns_ports, &mut tb.host);
    assert_eq!(n, 2);
    let l = listener(&tb, Namespace::Host, 5353);
    // The host side sees our own sockets on 5353 and 7000, plus its own server on 9000:
    // only 9000 is forwarded into the namespace's loopback.
    let mut host_ports = PortSet::new();
    for p in [5353, 7000, 9000] {
        host_ports.insert(p);
    }
    tb.engine
        .update_auto_udp_forwards(Direction::Outbound, &host_ports, &mut tb.host);
    assert_eq!(
        tb.engine
            .auto_udp_ports(Direction::Outbound)
            .iter()
            .collect::<Vec<_>>(),
        [9000]
    );
    listener(&tb, Namespace::Guest, 9000);

    // A spliced flow through 5353, then the server there exits.
    tb.host.peer_send_to(l, sa("127.0.0.1:41000"), b"q");
    tb.settle();
    assert_eq!(tb.engine.flow_count(), 1);
    ns_ports.remove(5353);
    tb.engine
        .update_auto_udp_forwards(Direction::Inbound, &ns_ports, &mut tb.host);
    assert_eq!(tb.host.socket(l).unwrap().state, SockState::Closed);
    assert_eq!(tb.engine.flow_count(), 0, "its flows go with it");
    assert_eq!(
        tb.engine
            .auto_udp_ports(Direction::Inbound)
            .iter()
            .collect::<Vec<_>>(),
        [7000]
    );
    assert!(tb.host.misuse.is_empty(), "{:?}", tb.host.misuse);
}

#[test]
fn auto_is_off_unless_asked_and_for_passt() {
    let mut tb = bed(pasta_config(), 16);
    let mut ports = PortSet::new();
    ports.insert(5353);
    assert_eq!(
        tb.engine
            .update_auto_udp_forwards(Direction::Inbound, &ports, &mut tb.host),
        0
    );
    let mut c = default_config();
    c.forwards.udp_in_auto = true;
    let mut tb = bed(c, 16);
    assert_eq!(
        tb.engine
            .update_auto_udp_forwards(Direction::Inbound, &ports, &mut tb.host),
        0,
        "passt has no namespace to scan"
    );
}
