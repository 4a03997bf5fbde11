//! Forwards added and removed while running (the control socket's engine side,
//! `passt_core::fwd::runtime`): what a user of `pesto --add/--delete` would notice.

use passt_core::fwd::runtime::ChangeError;
use passt_core::fwd::{PortForwards, PortRange};
use passt_core::tcp::Direction;
use passt_core::wire::tcp::TcpFlags;
use passt_core::{HostError, SockKind, Transport};
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use std::net::{IpAddr, SocketAddr};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
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

fn started() -> Testbed {
    let mut tb = Testbed::new(default_config(), 16);
    tb.engine.start(&mut tb.host).unwrap();
    tb
}

/// Open TCP listeners and the ports they are bound to.
fn listening(tb: &Testbed) -> Vec<(passt_core::SockRef, u16)> {
    let mut v: Vec<_> = tb
        .host
        .sockets()
        .filter(|(r, s)| r.kind() == SockKind::TcpListen && s.state == SockState::Listening)
        .map(|(r, s)| (r, s.local.unwrap().port()))
        .collect();
    v.sort_by_key(|(_, p)| *p);
    v
}

fn add(tb: &mut Testbed, f: &PortForwards, to: Option<IpAddr>) -> Result<usize, ChangeError> {
    tb.engine
        .add_forwards(Transport::Tcp, Direction::Inbound, f, to, &mut tb.host)
}

#[test]
fn a_forward_added_at_run_time_delivers_connections_to_the_guest() {
    let mut tb = started();
    assert_eq!(add(&mut tb, &ranges(&[(8080, 8080, 80)]), None), Ok(1));
    let (listener, port) = listening(&tb)[0];
    assert_eq!(port, 8080);
    tb.host.peer_connect(listener, sa("203.0.113.9:40000"));
    tb.settle();
    let syn = tb.next_segment().expect("SYN to the guest");
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.dst, SocketAddr::new(GUEST_V4.into(), 80));
}

#[test]
fn a_target_address_sends_connections_there_instead_of_the_guest() {
    let mut tb = started();
    let to: IpAddr = "10.88.0.5".parse().unwrap();
    add(&mut tb, &ranges(&[(8080, 8080, 80)]), Some(to)).unwrap();
    let (listener, _) = listening(&tb)[0];
    tb.host.peer_connect(listener, sa("203.0.113.9:40000"));
    tb.settle();
    let syn = tb.next_segment().expect("SYN to the target");
    assert_eq!(syn.dst, SocketAddr::new(to, 80));
}

#[test]
fn a_busy_port_refuses_the_whole_change_and_binds_nothing() {
    let mut tb = started();
    tb.host.occupy(sa("[::]:9002"));
    let err = add(
        &mut tb,
        &ranges(&[(9000, 9000, 9000), (9001, 9003, 9001)]),
        None,
    );
    match err {
        Err(ChangeError::Bind(e)) => {
            assert_eq!((e.port, e.error), (9002, HostError::AddrInUse));
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(
        listening(&tb).is_empty(),
        "ports of the failed change closed"
    );
    let (table, _) = tb
        .engine
        .forwards(Transport::Tcp, Direction::Inbound)
        .unwrap();
    assert!(table.is_empty(), "table unchanged: {table:?}");
}

#[test]
fn removing_a_forward_closes_its_port_but_not_its_connections() {
    let mut tb = started();
    add(&mut tb, &ranges(&[(8080, 8080, 80)]), None).unwrap();
    add(&mut tb, &ranges(&[(8443, 8443, 443)]), None).unwrap();
    let (listener, _) = listening(&tb)[0];
    tb.host.peer_connect(listener, sa("203.0.113.9:40000"));
    tb.settle();
    let syn = tb.next_segment().unwrap();
    let mut synack = Segment::new(syn.dst, syn.src, 5000, syn.seq.wrapping_add(1), SYN | ACK);
    synack.mss = Some(1460);
    tb.guest_send(&synack);
    assert_eq!(tb.next_segment().unwrap().flags, ACK);

    let removed = tb.engine.remove_forwards(
        Transport::Tcp,
        Direction::Inbound,
        &ranges(&[(8080, 8080, 80)]),
        &mut tb.host,
    );
    assert_eq!(removed, Ok(1));
    let ports: Vec<u16> = listening(&tb).iter().map(|(_, p)| *p).collect();
    assert_eq!(ports, vec![8443], "8080 closed, 8443 untouched");

    // The connection accepted before keeps carrying data.
    let sock = tb.host.find_connected(sa("203.0.113.9:40000")).unwrap();
    tb.host.peer_send(sock, b"still here");
    tb.settle();
    assert_eq!(tb.next_segment().unwrap().payload, b"still here");

    // The port can be forwarded again, to another port this time.
    add(&mut tb, &ranges(&[(8080, 8080, 81)]), None).unwrap();
    let (listener, _) = listening(&tb)[0];
    tb.host.peer_connect(listener, sa("203.0.113.9:40001"));
    tb.settle();
    assert_eq!(tb.next_segment().unwrap().dst.port(), 81);
}

#[test]
fn removing_what_is_not_forwarded_changes_nothing() {
    let mut tb = started();
    add(&mut tb, &ranges(&[(8080, 8080, 80)]), None).unwrap();
    let err = tb.engine.remove_forwards(
        Transport::Tcp,
        Direction::Inbound,
        &ranges(&[(8080, 8080, 80), (8080, 8080, 81)]),
        &mut tb.host,
    );
    assert!(matches!(err, Err(ChangeError::NotFound(r)) if r.delta == 81u16.wrapping_sub(8080)));
    assert_eq!(listening(&tb).len(), 1, "8080 still forwarded");
}
