//! TCP translator tests on recovery and liveness: retransmission from the host socket,
//! loss and reordering from the guest, windows that close and reopen, and probes
//! that keep an idle or stalled connection alive (or end it when nobody answers).

mod tcp_common;

use passt_core::{TcpTimeout, Unanswered};
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use std::net::SocketAddr;
use std::time::Duration;
use tcp_common::*;

/// A testbed for tests that wait minutes: no router advertisements, only TCP.
fn quiet_testbed() -> Testbed {
    let mut config = default_config();
    config.services.ra = false;
    Testbed::new(config, 16)
}

/// A connection from the guest's `port` whose guest took 100 bytes and then closed
/// its window, with 50 more bytes waiting in the host socket: the connection, and
/// the guest's zero-window ACK.
fn closed_window(tb: &mut Testbed, port: u16) -> (Conn, Segment) {
    let remote = sa("203.0.113.5:80");
    let mut c = connect(tb, SocketAddr::new(GUEST_V4.into(), port), remote);
    let sock = host_sock(tb, remote);
    tb.host.peer_send(sock, &[5u8; 100]);
    tb.settle();
    assert_eq!(tb.next_segment().unwrap().payload.len(), 100);
    c.ack += 100;
    let mut closed = c.seg(ACK, b"");
    closed.window = 0;
    tb.guest_send(&closed);
    tb.host.peer_send(sock, &[6u8; 50]);
    tb.settle();
    (c, closed)
}

/// The connection the engine last gave up on, as it keeps it for the log.
fn last_give_up(tb: &Testbed) -> TcpTimeout {
    tb.engine
        .stats()
        .last_tcp_timeout
        .expect("recorded for the log")
}

#[test]
fn unacknowledged_data_is_retransmitted_from_the_socket() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40004), remote);
    let sock = host_sock(&tb, remote);
    tb.host.peer_send(sock, b"hello");
    tb.settle();
    let first = tb.next_segment().unwrap();
    assert_eq!(first.payload, b"hello");
    tb.advance(Duration::from_millis(1100));
    let again = tb.next_segment().expect("retransmission after the RTO");
    assert_eq!(
        (again.seq, again.payload.as_slice()),
        (c.ack, &b"hello"[..])
    );
    assert_eq!(tb.engine.stats().tcp_retransmits, 1);
}

#[test]
fn connection_is_reset_after_retries_run_out() {
    let mut tb = quiet_testbed();
    let remote = sa("203.0.113.5:80");
    let guest = SocketAddr::new(GUEST_V4.into(), 40005);
    connect(&mut tb, guest, remote);
    let sock = host_sock(&tb, remote);
    tb.host.peer_send(sock, b"x");
    tb.settle();
    tb.advance(Duration::from_secs(600));
    let segs = tb.drain_segments();
    assert!(segs.last().unwrap().has(RST));
    assert_eq!(tb.engine.flow_count(), 0);
    assert!(
        tb.host.socket(sock).unwrap().aborted,
        "the remote is reset too"
    );
    let gave_up = last_give_up(&tb);
    assert_eq!(
        (gave_up.guest, gave_up.remote, gave_up.unanswered),
        (guest, remote, Unanswered::Acknowledgement)
    );
    assert_eq!((gave_up.tries, gave_up.in_flight), (7, 1));
}

/// A guest whose ACKs of our SYN-ACK never arrive is given up on after the handshake
/// timeout, and the reset that tells it so is one it accepts: it may well have our
/// SYN-ACK (only its answers were lost) and be established, expecting nothing before
/// SND.NXT, the sequence number after our SYN (RFC 9293 §3.10.4, ABORT in
/// SYN-RECEIVED; RFC 5961 §3.2: a reset anywhere else is ignored or challenged).
#[test]
fn unanswered_syn_ack_ends_in_a_reset_an_established_guest_accepts() {
    let mut tb = quiet_testbed();
    let remote = sa("203.0.113.5:80");
    let guest = SocketAddr::new(GUEST_V4.into(), 40007);
    tb.guest_send(&Segment::new(guest, remote, GUEST_ISN, 0, SYN));
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK");
    let established = Conn::after_synack(guest, remote, &synack);
    tb.advance(Duration::from_secs(30));
    let segs = tb.drain_segments();
    let (resends, rest) = segs.split_at(segs.len() - 1);
    assert!(resends.iter().all(|s| s.has(SYN | ACK)), "{segs:?}");
    let rst = &rest[0];
    assert!(rst.has(RST), "{rst:?}");
    assert_eq!(
        (rst.seq, rst.ack),
        (established.ack, GUEST_ISN + 1),
        "at SND.NXT, acknowledging the guest's SYN"
    );
    assert_eq!(tb.engine.flow_count(), 0);
    let gave_up = last_give_up(&tb);
    assert_eq!(
        (gave_up.guest, gave_up.unanswered),
        (guest, Unanswered::Handshake)
    );
}

/// A guest whose window is closed and that stops answering our probes of it is given
/// up on after `MAX_RETRIES` unanswered probes, and the log is told what went
/// unanswered.
#[test]
fn zero_window_with_unanswered_probes_is_given_up_on() {
    let mut tb = quiet_testbed();
    let (c, _) = closed_window(&mut tb, 40006);
    let mut probes = 0;
    let mut reset = false;
    for _ in 0..400 {
        tb.advance(Duration::from_secs(1));
        for seg in tb.drain_segments() {
            reset |= seg.has(RST);
            probes += usize::from(seg.payload.len() == 1);
        }
    }
    assert!(reset, "still waiting after {probes} unanswered probes");
    assert_eq!(probes, 7);
    assert_eq!(tb.engine.stats().tcp_timeouts, 1);
    let gave_up = last_give_up(&tb);
    assert_eq!(
        (
            gave_up.guest,
            gave_up.remote,
            gave_up.unanswered,
            gave_up.tries
        ),
        (c.guest, c.remote, Unanswered::WindowProbe, 7)
    );
}

/// The host closed, the guest acknowledged our FIN and then went silent (its own FIN
/// and RST lost on the way): after a minute we ask with a keep-alive probe (RFC 1122
/// §4.2.3.6); a guest that answers keeps the connection, one that answers with RST
/// frees the flow.
#[test]
fn silent_half_closed_guest_is_probed_and_its_reset_frees_the_flow() {
    let mut tb = quiet_testbed();
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40017), remote);
    let sock = host_sock(&tb, remote);
    tb.host.peer_close(sock);
    tb.settle();
    assert!(tb.next_segment().unwrap().has(FIN));
    c.ack += 1;
    tb.guest_send(&c.seg(ACK, b""));
    tb.advance(Duration::from_secs(59));
    assert!(tb.drain_segments().is_empty(), "quiet for the first minute");
    tb.advance(Duration::from_secs(2));
    let probe = tb.next_segment().expect("a keep-alive probe");
    assert_eq!(
        (probe.flags, probe.seq, probe.payload.len()),
        (ACK, c.ack - 1, 0)
    );
    // A guest that still has the connection answers: it stays.
    tb.guest_send(&c.seg(ACK, b""));
    tb.advance(Duration::from_secs(30));
    assert!(tb.drain_segments().is_empty(), "silence starts over");
    assert_eq!(tb.engine.flow_count(), 1);
    tb.advance(Duration::from_secs(31));
    let probe = tb
        .next_segment()
        .expect("probed again after another minute");
    // The guest has forgotten it: RFC 9293 §3.10.7.1 makes it answer with RST.
    tb.guest_send(&Segment::new(c.guest, c.remote, probe.ack, 0, RST));
    assert_eq!(tb.engine.flow_count(), 0);
    assert!(tb
        .host
        .socket(sock)
        .is_none_or(|s| s.state == SockState::Closed));
}

/// A guest that keeps its window closed but answers every probe is waited for: after
/// ten minutes of zero window the transfer still completes (RFC 9293 §3.8.6.1).
#[test]
fn zero_window_answered_for_ten_minutes_keeps_the_connection() {
    let mut tb = quiet_testbed();
    let (mut c, closed) = closed_window(&mut tb, 40018);
    let mut probes = 0;
    for _ in 0..600 {
        tb.advance(Duration::from_secs(1));
        for seg in tb.drain_segments() {
            assert!(!seg.has(RST), "reset after {probes} answered probes");
            if !seg.payload.is_empty() {
                probes += 1;
                tb.guest_send(&closed); // answered, still closed
            }
        }
    }
    assert!(probes >= 10, "probed {probes} times in ten minutes");
    // The window opens: the rest arrives at once.
    tb.guest_send(&c.seg(ACK, b""));
    let mut got = Vec::new();
    for _ in 0..5 {
        tb.advance(Duration::from_secs(1));
        for seg in tb.drain_segments() {
            if seg.seq == c.ack {
                got.extend_from_slice(&seg.payload);
                c.ack += seg.payload.len() as u32;
                tb.guest_send(&c.seg(ACK, b""));
            }
        }
    }
    assert_eq!(got, [6u8; 50]);
    assert_eq!(tb.engine.flow_count(), 1);
}

/// Timestamps (RFC 7323) are on when the guest's SYN offers them: every segment we
/// send carries our clock and echoes the TSval of the guest segment that last advanced
/// what we acknowledged — after a loss, the retransmission's own, which gives the
/// guest a round-trip sample and ends its timeout backoff. Data segments shrink by
/// the option's 12 bytes to stay within the guest's MSS.
#[test]
fn timestamps_are_echoed_from_the_segment_that_filled_the_hole() {
    let mut tb = Testbed::new(default_config(), 16);
    let guest = SocketAddr::new(GUEST_V4.into(), 40019);
    let remote = sa("203.0.113.5:80");
    let mut syn = Segment::new(guest, remote, GUEST_ISN, 0, SYN);
    syn.mss = Some(1460);
    syn.window_scale = Some(7);
    syn.timestamp = Some((1000, 0));
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().unwrap();
    let (our_clock, echo) = synack.timestamp.expect("timestamps in the SYN-ACK");
    assert_eq!(echo, 1000);
    let mut c = Conn::after_synack(guest, remote, &synack);
    let stamped = |c: &Conn, flags, payload: &[u8], val: u32| {
        let mut s = c.seg(flags, payload);
        s.timestamp = Some((val, our_clock));
        s
    };
    tb.guest_send(&stamped(&c, ACK, b"", 1001));
    // In order: the next ACK echoes it.
    tb.guest_send(&stamped(&c, ACK, b"one", 1002));
    c.seq += 3;
    tb.settle();
    let ack = tb.next_segment().unwrap();
    assert_eq!((ack.ack, ack.timestamp.map(|t| t.1)), (c.seq, Some(1002)));
    // A gap: the segment after it is not echoed, the one that fills it is.
    let mut later = stamped(&c, ACK, b"three", 1004);
    later.seq += 3;
    tb.guest_send(&later);
    let dup = tb.next_segment().unwrap();
    assert_eq!((dup.ack, dup.timestamp.map(|t| t.1)), (c.seq, Some(1002)));
    tb.guest_send(&stamped(&c, ACK, b"two", 1010));
    c.seq += 3;
    tb.settle();
    let filled = tb.next_segment().unwrap();
    assert_eq!(
        (filled.ack, filled.timestamp.map(|t| t.1)),
        (c.seq, Some(1010))
    );
    // Host data: full-sized segments leave room for the option.
    let sock = host_sock(&tb, remote);
    tb.host.peer_send(sock, &[9u8; 4000]);
    tb.settle();
    let data = tb.drain_segments();
    assert!(data
        .iter()
        .all(|s| s.timestamp.is_some_and(|t| t.1 == 1010)));
    assert_eq!(data[0].payload.len(), 1460 - 12);
    // A guest that offers no timestamps gets none.
    let other = SocketAddr::new(GUEST_V4.into(), 40020);
    let mut plain = Segment::new(other, remote, GUEST_ISN, 0, SYN);
    plain.mss = Some(1460);
    tb.guest_send(&plain);
    tb.complete_connects();
    assert_eq!(tb.next_segment().unwrap().timestamp, None);
}

#[test]
fn out_of_order_guest_data_waits_for_the_gap() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40011), remote);
    let sock = host_sock(&tb, remote);
    let mut late = c.seg(ACK, b"world");
    late.seq += 5;
    tb.guest_send(&late);
    assert!(
        tb.host.socket(sock).unwrap().tx.is_empty(),
        "nothing beyond the gap is sent"
    );
    assert_eq!(
        tb.next_segment().unwrap().ack,
        c.seq,
        "duplicate ACK for the gap"
    );
    tb.guest_send(&c.seg(ACK, b"hello"));
    // A duplicated segment is acknowledged again but not sent twice.
    tb.guest_send(&c.seg(ACK, b"hello"));
    c.seq += 5;
    tb.guest_send(&c.seg(ACK, b"world"));
    assert_eq!(tb.host.socket(sock).unwrap().tx, b"helloworld");
}

#[test]
fn overlapping_retransmission_is_trimmed() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40012), remote);
    let sock = host_sock(&tb, remote);
    tb.guest_send(&c.seg(ACK, b"abc"));
    tb.guest_send(&c.seg(ACK, b"abcdef"));
    c.seq += 6;
    assert_eq!(
        tb.drain_segments().last().map(|s| s.ack),
        Some(c.seq),
        "all of it acknowledged"
    );
    assert_eq!(tb.host.socket(sock).unwrap().tx, b"abcdef");
}

#[test]
fn zero_window_is_probed_and_reopened() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40013), remote);
    let sock = host_sock(&tb, remote);
    let mut closed = c.seg(ACK, b"");
    closed.window = 0;
    tb.guest_send(&closed);
    tb.host.peer_send(sock, b"data");
    tb.settle();
    assert!(
        tb.drain_segments().is_empty(),
        "nothing sent into a zero window"
    );
    tb.advance(Duration::from_millis(1100));
    let probe = tb.next_segment().expect("zero-window probe");
    assert_eq!(probe.payload.len(), 1);
    c.ack += 1;
    let mut open = c.seg(ACK, b"");
    open.window = 1000;
    tb.guest_send(&open);
    let rest = tb.drain_segments();
    let data: Vec<u8> = rest.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"ata");
}

#[test]
fn window_mirrors_host_send_space_and_blocked_data_is_recovered() {
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.default_send_space = 10;
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40014), remote);
    let sock = host_sock(&tb, remote);
    tb.guest_send(&c.seg(ACK, b"0123456789abcdef"));
    let ack = tb.next_segment().unwrap();
    assert_eq!(
        ack.ack,
        c.seq + 10,
        "only what the socket took is acknowledged"
    );
    assert_eq!(ack.window, 0, "and the window says the socket is full");
    // Window scale 8: free space is advertised in 256-byte units.
    tb.host.peer_drain(sock, 10_000);
    tb.settle();
    let updates = tb.drain_segments();
    assert!(updates.len() >= 4, "window update plus duplicate ACKs");
    assert!(updates.iter().all(|s| s.ack == c.seq + 10 && s.window > 0));
    c.seq += 10;
    tb.guest_send(&c.seg(ACK, b"abcdef"));
    assert_eq!(tb.host.socket(sock).unwrap().tx, b"0123456789abcdef");
}

/// The host peer sends `bytes`; what the engine sent of them is taken off the link
/// (the guest got all but what the test says it lost).
fn host_sends(tb: &mut Testbed, sock: passt_core::SockRef, bytes: &[u8]) {
    tb.host.peer_send(sock, bytes);
    tb.settle();
    tb.drain_segments();
}

/// The guest sends `n` ACKs of nothing new; what the engine sent in answer.
fn duplicate_acks(tb: &mut Testbed, c: &Conn, n: usize) -> Vec<Segment> {
    for _ in 0..n {
        tb.guest_send(&c.seg(ACK, b""));
    }
    tb.drain_segments()
}

/// After a fast retransmit has resent the window, the guest answers each copy it
/// already had with a duplicate ACK: those must not trigger another resend of the
/// whole window (RFC 6582 §3.2 step 2), or one loss becomes a storm of them (the
/// damaged-link lab sent 9 FINs in 75 ms and took ~200 such answers). Once the guest
/// acknowledges past what was resent, duplicates mean a new loss again.
#[test]
fn duplicates_of_our_own_resend_trigger_no_second_fast_retransmit() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40016), remote);
    let sock = host_sock(&tb, remote);
    host_sends(&mut tb, sock, &[7u8; 3000]);
    // The first segment was lost: three duplicate ACKs, one resend of the window.
    let resent = duplicate_acks(&mut tb, &c, 3);
    assert_eq!(resent.first().map(|s| s.seq), Some(c.ack));
    // More data goes out beyond what was resent; the resent first segment fills the
    // hole, and the guest answers the copies of the rest with duplicates.
    host_sends(&mut tb, sock, &[8u8; 1000]);
    c.ack += 3000;
    let resent = duplicate_acks(&mut tb, &c, 4);
    assert!(resent.is_empty(), "the window was resent again: {resent:?}");
    assert_eq!(tb.engine.stats().tcp_fast_retransmits, 1);
    // Past the resend: the next loss is retransmitted fast again.
    c.ack += 1000;
    tb.guest_send(&c.seg(ACK, b""));
    host_sends(&mut tb, sock, &[9u8; 3000]);
    let resent = duplicate_acks(&mut tb, &c, 3);
    assert_eq!(resent.first().map(|s| s.seq), Some(c.ack));
    assert_eq!(tb.engine.stats().tcp_fast_retransmits, 2);
}

#[test]
fn fast_retransmit_on_third_duplicate_ack() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40015), remote);
    let sock = host_sock(&tb, remote);
    host_sends(&mut tb, sock, &[7u8; 3000]);
    let resent = duplicate_acks(&mut tb, &c, 3);
    assert_eq!(
        resent.first().map(|s| s.seq),
        Some(c.ack),
        "resent from the oldest unacked byte"
    );
    assert_eq!(tb.engine.stats().tcp_fast_retransmits, 1);
}

#[test]
fn closed_window_reopens_when_the_host_drains_without_a_failed_send() {
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.default_send_space = 1000;
    let remote = sa("203.0.113.5:80");
    let mut c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40200), remote);
    let sock = host_sock(&tb, remote);
    // Exactly fill the send buffer: everything is accepted, nothing fails.
    tb.guest_send(&c.seg(ACK, &[1u8; 1000]));
    c.seq += 1000;
    let ack = tb.next_segment().unwrap();
    assert_eq!((ack.ack, ack.window), (c.seq, 0));
    // The peer drains it; the kernel reports no writability since no send failed.
    tb.host.socket_mut(sock).unwrap().send_space = 100_000;
    tb.advance(Duration::from_millis(20));
    let update = tb.next_segment().expect("window update once space is back");
    assert_eq!(update.ack, c.seq);
    assert!(update.window > 0, "{update:?}");
}

#[test]
fn zero_window_probe_and_keepalive_get_an_ack() {
    let mut tb = Testbed::new(default_config(), 16);
    let remote = sa("203.0.113.5:80");
    let c = connect(&mut tb, SocketAddr::new(GUEST_V4.into(), 40201), remote);
    let mut probe = c.seg(ACK, b"");
    probe.seq = c.seq - 1;
    tb.guest_send(&probe);
    let ack = tb
        .next_segment()
        .expect("an old empty segment is acknowledged");
    assert_eq!(ack.ack, c.seq);
    // A plain in-sequence pure ACK needs no answer.
    tb.guest_send(&c.seg(ACK, b""));
    assert!(tb.next_segment().is_none());
}
