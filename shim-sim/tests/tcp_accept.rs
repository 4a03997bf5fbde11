//! Forwarded ports under pressure: `accept()` failing for want of descriptors, a full
//! flow table, and deep backlogs. Listeners are edge-triggered, so a connection left
//! queued is never reported again: the engine must come back for it on its own.

use passt_core::fwd::PortRange;
use passt_core::tcp::{ACCEPT_BATCH, ACCEPT_RETRY_MAX};
use passt_core::wire::tcp::TcpFlags;
use passt_core::{DropReason, SockKind, SockRef};
use passt_shim_sim::faults::HostFaultRates;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use std::net::SocketAddr;
use std::time::Duration;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A testbed with room for `flows` flows forwarding host port 8084 to the guest.
fn forwarding(flows: usize) -> (Testbed, SockRef) {
    let mut config = default_config();
    let range = PortRange {
        first: 8084,
        last: 8084,
        delta: 0,
        bind_addr: None,
        bind_iface: None,
    };
    config.forwards.tcp_in.ranges.push(range).unwrap();
    let mut tb = Testbed::new(config, flows);
    tb.engine.start(&mut tb.host).unwrap();
    let listener = tb
        .host
        .sockets()
        .find(|(r, _)| r.kind() == SockKind::TcpListen)
        .unwrap()
        .0;
    (tb, listener)
}

fn accept_fails(tb: &mut Testbed, per_mille: u16) {
    tb.host.faults.rates = HostFaultRates {
        accept_emfile: per_mille,
        ..HostFaultRates::default()
    };
}

fn accepts_tried(tb: &Testbed) -> usize {
    tb.host
        .trace
        .iter()
        .filter(|t| t.starts_with("Accept {") || t.starts_with("Refuse {"))
        .count()
}

/// Answer the engine's SYN as the guest and check the connection carries data.
fn complete_and_echo(tb: &mut Testbed, syn: &Segment, client: SocketAddr) {
    let mut synack = Segment::new(syn.dst, syn.src, 7000, syn.seq.wrapping_add(1), SYN | ACK);
    synack.mss = Some(1460);
    tb.guest_send(&synack);
    let ack = tb.next_segment().expect("ACK of the guest's SYN-ACK");
    assert_eq!((ack.flags, ack.ack), (ACK, 7001));
    let sock = tb.host.find_connected(client).expect("accepted socket");
    tb.host.peer_send(sock, b"through");
    tb.settle();
    assert_eq!(tb.next_segment().unwrap().payload, b"through");
}

#[test]
fn failed_accept_is_retried_and_the_connection_completes() {
    let (mut tb, listener) = forwarding(16);
    accept_fails(&mut tb, 1000);
    let client = sa("203.0.113.9:50001");
    tb.host.peer_connect(listener, client);
    tb.settle();
    assert!(tb.drain_segments().is_empty(), "nothing accepted yet");
    assert_eq!(tb.engine.stats().tcp_accept_failures, 1);
    assert!(
        tb.engine.poll_timeout().is_some(),
        "a retry is scheduled although no readiness will come"
    );
    // Descriptors stay short for a while: retries back off instead of spinning.
    tb.advance(Duration::from_secs(3));
    let tries = accepts_tried(&tb);
    assert!(
        (4..=12).contains(&tries),
        "backed-off retries over 3 s, got {tries}"
    );
    assert!(tb.drain_segments().is_empty());
    // Descriptors are free again: the queued connection is taken without any new
    // readiness, within the longest backoff.
    accept_fails(&mut tb, 0);
    tb.advance(ACCEPT_RETRY_MAX + Duration::from_millis(10));
    let syn = tb
        .next_segment()
        .expect("SYN to the guest once accept works");
    assert_eq!(syn.flags, SYN);
    assert_eq!(syn.src, client);
    assert_eq!(syn.dst, SocketAddr::new(GUEST_V4.into(), 8084));
    complete_and_echo(&mut tb, &syn, client);
    assert_eq!(tb.host.socket(listener).unwrap().backlog.len(), 0);
    // Nothing left to retry: the engine goes back to sleep.
    let before = accepts_tried(&tb);
    tb.advance(Duration::from_secs(5));
    assert_eq!(accepts_tried(&tb), before, "no retries once drained");
}

#[test]
fn full_table_resets_queued_host_connections_and_counts_them() {
    let (mut tb, listener) = forwarding(1);
    // The only slot goes to a guest connection.
    let guest = SocketAddr::new(GUEST_V4.into(), 41000);
    let remote = sa("203.0.113.5:80");
    tb.guest_send(&Segment::new(guest, remote, 1, 0, SYN));
    tb.complete_connects();
    assert_eq!(tb.engine.flow_count(), 1);
    tb.drain_segments();
    let (a, b) = (sa("203.0.113.9:50001"), sa("203.0.113.9:50002"));
    tb.host.peer_connect(listener, a);
    tb.host.peer_connect(listener, b);
    tb.settle();
    assert_eq!(tb.host.refused, vec![a, b], "both clients reset");
    assert!(tb.host.socket(listener).unwrap().backlog.is_empty());
    assert!(
        tb.drain_segments().is_empty(),
        "nothing offered to the guest"
    );
    let stats = tb.engine.stats();
    assert_eq!(stats.tcp_refused, 2);
    assert_eq!(stats.drops(DropReason::FlowTableFull), 2);
    assert_eq!(stats.tcp_resets_sent, 0, "no RST went to the guest");
    // The slot frees up: the next client gets through.
    tb.guest_send(&Segment::new(guest, remote, 2, 0, RST));
    assert_eq!(tb.engine.flow_count(), 0);
    let c = sa("203.0.113.9:50003");
    tb.host.peer_connect(listener, c);
    tb.settle();
    let syn = tb.next_segment().expect("SYN to the guest");
    complete_and_echo(&mut tb, &syn, c);
}

#[test]
fn refusal_that_fails_is_retried_too() {
    let (mut tb, listener) = forwarding(1);
    let guest = SocketAddr::new(GUEST_V4.into(), 41000);
    tb.guest_send(&Segment::new(guest, sa("203.0.113.5:80"), 1, 0, SYN));
    accept_fails(&mut tb, 1000);
    let client = sa("203.0.113.9:50001");
    tb.host.peer_connect(listener, client);
    tb.settle();
    assert!(tb.host.refused.is_empty());
    accept_fails(&mut tb, 0);
    tb.advance(Duration::from_millis(100));
    assert_eq!(tb.host.refused, vec![client], "reset once accept works");
    assert_eq!(tb.engine.stats().tcp_refused, 1);
}

#[test]
fn deep_backlog_is_taken_in_bounded_batches() {
    let total = ACCEPT_BATCH * 2 + 10;
    let (mut tb, listener) = forwarding(total + 8);
    for i in 0..total {
        tb.host.peer_connect(
            listener,
            SocketAddr::new(sa("203.0.113.9:0").ip(), 20000 + i as u16),
        );
    }
    // One readiness event: one batch, the rest deferred to the timer path.
    let events = tb.host.take_events();
    let (sock, readiness) = events[0];
    tb.engine.handle_event(
        tb.now,
        passt_core::Event::Socket { sock, readiness },
        &mut tb.host,
    );
    assert_eq!(tb.engine.flow_count(), ACCEPT_BATCH);
    assert_eq!(
        tb.engine.poll_timeout(),
        Some(tb.now),
        "the rest due at once"
    );
    tb.advance(Duration::ZERO);
    assert_eq!(tb.engine.flow_count(), total);
    assert_eq!(
        tb.drain_segments()
            .iter()
            .filter(|s| s.flags == SYN)
            .count(),
        total
    );
    assert!(tb.host.socket(listener).unwrap().backlog.is_empty());
}

#[test]
fn unanswered_handshakes_free_their_slots_after_ten_seconds() {
    // A SYN flood's flows: the host connects succeed, the SYN-ACKs go unanswered.
    let (mut tb, _) = forwarding(4);
    for port in 0..4 {
        let guest = SocketAddr::new(GUEST_V4.into(), 42000 + port);
        tb.guest_send(&Segment::new(guest, sa("203.0.113.5:80"), 1, 0, SYN));
    }
    tb.complete_connects();
    assert_eq!(tb.engine.flow_count(), 4, "the table is full");
    let late = SocketAddr::new(GUEST_V4.into(), 42100);
    tb.guest_send(&Segment::new(late, sa("203.0.113.5:80"), 1, 0, SYN));
    assert!(tb
        .drain_segments()
        .iter()
        .any(|s| s.has(RST) && s.dst == late));
    tb.advance(Duration::from_millis(9_900));
    assert_eq!(
        tb.engine.flow_count(),
        4,
        "still within the handshake timeout"
    );
    tb.advance(Duration::from_millis(200));
    assert_eq!(
        tb.engine.flow_count(),
        0,
        "freed at passt's 10 s SYN timeout"
    );
    assert_eq!(tb.engine.stats().tcp_timeouts, 4);
    assert_eq!(tb.engine.stats().tcp_refused, 1);
}

#[test]
fn client_reset_before_the_guest_answers_sends_the_guest_nothing_bogus() {
    let (mut tb, listener) = forwarding(16);
    let client = sa("203.0.113.9:50001");
    tb.host.peer_connect(listener, client);
    tb.settle();
    let syn = tb.next_segment().expect("SYN to the guest");
    let sock = tb.host.find_connected(client).unwrap();
    tb.host.peer_reset(sock);
    tb.settle();
    // RFC 9293 §3.10.4: an abort in SYN-SENT sends nothing (there is no guest
    // sequence number to acknowledge: before, a RST|ACK acknowledging 0 went out).
    assert!(tb.drain_segments().is_empty());
    assert_eq!(tb.engine.flow_count(), 0);
    assert!(tb.host.socket(sock).unwrap().aborted);
    // The guest's SYN-ACK, already on its way, is answered with a RST it accepts:
    // sequence number = its acknowledgement (§3.10.7.1), no ACK.
    let synack = Segment::new(syn.dst, syn.src, 7000, syn.seq.wrapping_add(1), SYN | ACK);
    tb.guest_send(&synack);
    let rst = tb.next_segment().expect("RST for the stale SYN-ACK");
    assert_eq!(rst.flags, RST);
    assert_eq!(rst.seq, syn.seq.wrapping_add(1));
}
