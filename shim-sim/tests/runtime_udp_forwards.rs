//! UDP forwards added and removed while running (`pesto --add/--delete -u|-U`, the
//! engine side in `passt_core::fwd::runtime`): what a user would notice. A UDP
//! forward's socket also carries its flows' replies, so removing it closes them.

use passt_core::config::{Config, Mode};
use passt_core::fwd::runtime::ChangeError;
use passt_core::fwd::{PortForwards, PortRange, PortSet};
use passt_core::io::Namespace;
use passt_core::tcp::Direction;
use passt_core::{HostError, SockKind, SockRef, Transport};
use passt_shim_sim::datagrams::Udp;
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Testbed, GUEST_V4};
use std::net::{IpAddr, SocketAddr};

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn guest(port: u16) -> SocketAddr {
    SocketAddr::new(GUEST_V4.into(), port)
}

fn ranges(list: &[(u16, u16, u16)]) -> PortForwards {
    let mut f = PortForwards::default();
    for &(first, last, to) in list {
        f.ranges
            .push(PortRange {
                first,
                last,
                delta: to.wrapping_sub(first),
                bind_addr: None,
                bind_iface: None,
            })
            .unwrap();
    }
    f
}

fn pasta_config() -> Config {
    let mut c = default_config();
    c.mode = Mode::Pasta;
    c.splice = true;
    c
}

fn started(c: Config) -> Testbed {
    let mut tb = Testbed::new(c, 16);
    tb.engine.start(&mut tb.host).unwrap();
    tb
}

fn add(
    tb: &mut Testbed,
    d: Direction,
    f: &PortForwards,
    to: Option<IpAddr>,
) -> Result<usize, ChangeError> {
    tb.engine
        .add_forwards(Transport::Udp, d, f, to, &mut tb.host)
}

fn remove(tb: &mut Testbed, d: Direction, f: &PortForwards) -> Result<usize, ChangeError> {
    tb.engine
        .remove_forwards(Transport::Udp, d, f, &mut tb.host)
}

/// Open forwarded-port sockets in `ns`, with their ports, sorted by port.
fn bound(tb: &Testbed, ns: Namespace) -> Vec<(SockRef, u16)> {
    let mut v: Vec<_> = tb
        .host
        .sockets()
        .filter(|(r, s)| r.kind() == SockKind::UdpListen && s.state != SockState::Closed)
        .filter(|(_, s)| s.ns == ns)
        .map(|(r, s)| (r, s.local.unwrap().port()))
        .collect();
    v.sort_by_key(|(_, p)| *p);
    v
}

/// Every frame sent to the guest so far, decoded as UDP.
fn to_guest(tb: &mut Testbed) -> Vec<Udp> {
    std::iter::from_fn(|| tb.next_frame())
        .map(|f| Udp::from_frame(&f).expect("a UDP frame"))
        .collect()
}

fn guest_send(tb: &mut Testbed, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
    let frame = Udp::new(src, dst, payload).to_frame(tb.engine.config().our_mac);
    tb.guest_frame(&frame);
}

fn sent(tb: &Testbed, sock: SockRef) -> Vec<(Option<SocketAddr>, Vec<u8>)> {
    tb.host.socket(sock).unwrap().datagrams_out.clone()
}

#[test]
fn a_udp_forward_added_at_run_time_delivers_and_carries_the_replies() {
    let mut tb = started(default_config());
    let added = add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53)]),
        None,
    );
    assert_eq!(added, Ok(1), "one dual-stack socket");
    let (l, _) = bound(&tb, Namespace::Host)[0];
    let remote = sa("203.0.113.7:41000");
    tb.host.peer_send_to(l, remote, b"query");
    tb.settle();
    assert_eq!(
        to_guest(&mut tb),
        vec![Udp::new(remote, guest(53), b"query")]
    );
    guest_send(&mut tb, guest(53), remote, b"answer");
    assert_eq!(sent(&tb, l), vec![(Some(remote), b"answer".to_vec())]);
    let (table, _) = tb
        .engine
        .forwards(Transport::Udp, Direction::Inbound)
        .unwrap();
    assert_eq!(table.ranges.len(), 1, "listed for `show`");
}

#[test]
fn a_target_address_sends_datagrams_there_and_a_family_mismatch_is_dropped() {
    let mut tb = started(default_config());
    let to: IpAddr = "10.88.0.5".parse().unwrap();
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53)]),
        Some(to),
    )
    .unwrap();
    let (l, _) = bound(&tb, Namespace::Host)[0];
    tb.host.peer_send_to(l, sa("203.0.113.7:41000"), b"v4");
    tb.host.peer_send_to(l, sa("[2001:db8:2::1]:41002"), b"v6");
    tb.settle();
    let got = to_guest(&mut tb);
    assert_eq!(got.len(), 1, "the IPv6 sender can't reach an IPv4 target");
    assert_eq!(got[0].dst, SocketAddr::new(to, 53));
}

#[test]
fn a_busy_port_refuses_the_whole_change_and_binds_nothing() {
    let mut tb = started(default_config());
    tb.host.occupy_udp(sa("[::]:9002"));
    let err = add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(9000, 9000, 9000), (9001, 9003, 9001)]),
        None,
    );
    match err {
        Err(ChangeError::Bind(e)) => {
            assert_eq!((e.port, e.error), (9002, HostError::AddrInUse));
            assert_eq!(e.transport, Transport::Udp);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(bound(&tb, Namespace::Host).is_empty(), "9000, 9001 closed");
    let (table, _) = tb
        .engine
        .forwards(Transport::Udp, Direction::Inbound)
        .unwrap();
    assert!(table.is_empty(), "table unchanged: {table:?}");
}

#[test]
fn deleting_a_udp_forward_closes_its_socket_and_its_flows() {
    let mut tb = started(pasta_config());
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53)]),
        None,
    )
    .unwrap();
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(6000, 6000, 6000)]),
        None,
    )
    .unwrap();
    let (l, _) = bound(&tb, Namespace::Host)[0];
    // One flow through the tap, one spliced from the host's loopback.
    tb.host.peer_send_to(l, sa("203.0.113.7:41000"), b"tap");
    tb.host.peer_send_to(l, sa("127.0.0.1:41001"), b"lo");
    tb.settle();
    let spliced = tb
        .host
        .find_connected(guest(53))
        .expect("the spliced flow's socket in the namespace");
    assert_eq!(tb.engine.flow_count(), 2);

    assert_eq!(
        remove(&mut tb, Direction::Inbound, &ranges(&[(5353, 5353, 53)])),
        Ok(1)
    );
    assert_eq!(tb.host.socket(l).unwrap().state, SockState::Closed);
    assert_eq!(tb.host.socket(spliced).unwrap().state, SockState::Closed);
    assert_eq!(tb.engine.flow_count(), 0, "both flows closed with it");
    let ports: Vec<u16> = bound(&tb, Namespace::Host).iter().map(|p| p.1).collect();
    assert_eq!(ports, vec![6000], "the other forward untouched");
    assert!(tb.host.misuse.is_empty(), "{:?}", tb.host.misuse);

    // The same slot, re-added with another target port: the old sender's datagrams
    // go to the new port, not through a leftover flow.
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 54)]),
        None,
    )
    .unwrap();
    let (l, _) = bound(&tb, Namespace::Host)[0];
    tb.host.peer_send_to(l, sa("203.0.113.7:41000"), b"again");
    tb.settle();
    assert_eq!(to_guest(&mut tb).last().unwrap().dst, guest(54));
}

#[test]
fn deleting_what_is_not_forwarded_changes_nothing() {
    let mut tb = started(default_config());
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53)]),
        None,
    )
    .unwrap();
    let err = remove(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53), (5353, 5353, 54)]),
    );
    assert!(matches!(err, Err(ChangeError::NotFound(_))));
    assert_eq!(bound(&tb, Namespace::Host).len(), 1);
}

#[test]
fn an_outbound_udp_forward_added_at_run_time_splices_to_the_host_loopback() {
    let mut tb = started(pasta_config());
    let n = add(
        &mut tb,
        Direction::Outbound,
        &ranges(&[(7000, 7000, 7001)]),
        None,
    );
    assert_eq!(n, Ok(2), "the namespace's 127.0.0.1 and ::1");
    let (l, _) = bound(&tb, Namespace::Guest)[0];
    tb.host.peer_send_to(l, sa("127.0.0.1:42000"), b"out");
    tb.settle();
    let t = tb
        .host
        .find_connected(sa("127.0.0.1:7001"))
        .expect("a host socket toward the host's loopback");
    assert_eq!(sent(&tb, t), vec![(None, b"out".to_vec())]);
    assert_eq!(
        remove(&mut tb, Direction::Outbound, &ranges(&[(7000, 7000, 7001)])),
        Ok(1)
    );
    assert!(bound(&tb, Namespace::Guest).is_empty());
    assert_eq!(tb.host.socket(t).unwrap().state, SockState::Closed);
    // No target address on the outbound side.
    let to = Some("10.0.0.1".parse().unwrap());
    let err = add(
        &mut tb,
        Direction::Outbound,
        &ranges(&[(7000, 7000, 7000)]),
        to,
    );
    assert_eq!(err, Err(ChangeError::Unsupported));
}

#[test]
fn passt_has_no_outbound_udp_forwards_to_change() {
    let mut tb = started(default_config());
    let err = add(
        &mut tb,
        Direction::Outbound,
        &ranges(&[(7000, 7000, 7000)]),
        None,
    );
    assert_eq!(err, Err(ChangeError::Unsupported));
    assert!(tb.host.open_of(Transport::Udp).is_empty());
}

#[test]
fn an_explicit_forward_takes_over_a_port_auto_forwarding_had_bound() {
    let mut c = pasta_config();
    c.forwards.udp_in_auto = true;
    let mut tb = started(c);
    let mut ns_ports = PortSet::new();
    ns_ports.insert(5353);
    tb.engine
        .update_auto_udp_forwards(Direction::Inbound, &ns_ports, &mut tb.host);
    let (auto, _) = bound(&tb, Namespace::Host)[0];
    add(
        &mut tb,
        Direction::Inbound,
        &ranges(&[(5353, 5353, 53)]),
        None,
    )
    .unwrap();
    assert_eq!(tb.host.socket(auto).unwrap().state, SockState::Closed);
    assert!(tb
        .engine
        .auto_udp_ports(Direction::Inbound)
        .iter()
        .next()
        .is_none());
    let socks = bound(&tb, Namespace::Host);
    assert_eq!(socks.len(), 1, "one socket on 5353: the explicit forward's");
    tb.host
        .peer_send_to(socks[0].0, sa("203.0.113.7:41000"), b"x");
    tb.settle();
    assert_eq!(to_guest(&mut tb)[0].dst, guest(53), "mapped as asked");
    // The next scan leaves the port alone.
    tb.engine
        .update_auto_udp_forwards(Direction::Inbound, &ns_ports, &mut tb.host);
    assert_eq!(bound(&tb, Namespace::Host).len(), 1);
}
