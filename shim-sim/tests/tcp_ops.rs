//! What a TCP request/response exchange costs in host operations (each one a system
//! call on Linux): a peek that comes back short took everything queued, so the
//! engine does not peek again to be told so; yet it never misses data or an end of
//! stream.

use passt_core::wire::tcp::TcpFlags;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use std::net::SocketAddr;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const PSH: TcpFlags = TcpFlags::PSH;
const FIN: TcpFlags = TcpFlags::FIN;

fn peeks(tb: &Testbed) -> usize {
    tb.host
        .trace
        .iter()
        .filter(|t| t.starts_with("Peek("))
        .count()
}

/// A connection from the guest, established: (guest addr, remote, next seq, next ack).
fn established(tb: &mut Testbed) -> (SocketAddr, SocketAddr, u32, u32) {
    let guest = SocketAddr::new(GUEST_V4.into(), 41000);
    let remote: SocketAddr = "203.0.113.5:7".parse().unwrap();
    let mut syn = Segment::new(guest, remote, 5000, 0, SYN);
    syn.mss = Some(1460);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK");
    let ack = synack.seq.wrapping_add(1);
    tb.guest_send(&Segment::new(guest, remote, 5001, ack, ACK));
    (guest, remote, 5001, ack)
}

#[test]
fn a_transaction_costs_two_peeks() {
    let mut tb = Testbed::new(default_config(), 16);
    let (guest, remote, mut seq, mut ack) = established(&mut tb);
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.drain_segments();
    let before = peeks(&tb);
    for i in 0..10u8 {
        // The request (carrying the ACK of the previous reply) goes to the socket,
        // and one peek looks for a reply already there (none yet here)...
        let mut req = Segment::new(guest, remote, seq, ack, ACK | PSH);
        req.payload = vec![i];
        tb.guest_send(&req);
        seq += 1;
        assert_eq!(tb.host.socket(sock).unwrap().tx.last(), Some(&i));
        // ...and the reply is peeked once: a short peek took all there was, with no
        // second peek to learn that the queue is empty.
        tb.host.peer_send(sock, &[i ^ 0xff]);
        tb.settle();
        tb.engine.flush(tb.now, &mut tb.host);
        let reply: Vec<Segment> = tb
            .drain_segments()
            .into_iter()
            .filter(|s| !s.payload.is_empty())
            .collect();
        assert_eq!(reply.len(), 1, "transaction {i}");
        assert_eq!(reply[0].payload, vec![i ^ 0xff]);
        ack += 1;
    }
    assert_eq!(
        peeks(&tb) - before,
        20,
        "one peek per request, one per reply (was three)"
    );
}

#[test]
fn data_and_eof_arriving_after_a_drained_peek_still_reach_the_guest() {
    let mut tb = Testbed::new(default_config(), 16);
    let (guest, remote, seq, mut ack) = established(&mut tb);
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.host.peer_send(sock, b"first");
    tb.settle();
    let got = tb.drain_segments();
    assert_eq!(got.last().unwrap().payload, b"first");
    ack += 5;
    tb.guest_send(&Segment::new(guest, remote, seq, ack, ACK));
    // Later data and the end of stream come with readiness of their own.
    tb.host.peer_send(sock, b"second");
    tb.host.peer_close(sock);
    tb.settle();
    let got = tb.drain_segments();
    let data: Vec<u8> = got.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"second");
    assert!(
        got.last().unwrap().has(FIN),
        "FIN right behind the data: {got:?}"
    );
}

#[test]
fn an_eof_before_the_guests_handshake_ack_is_not_lost() {
    let mut tb = Testbed::new(default_config(), 16);
    let guest = SocketAddr::new(GUEST_V4.into(), 41001);
    let remote: SocketAddr = "203.0.113.5:7".parse().unwrap();
    let mut syn = Segment::new(guest, remote, 9000, 0, SYN);
    syn.mss = Some(1460);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK");
    // The remote says everything and closes before the guest completes the handshake.
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.host.peer_send(sock, b"banner");
    tb.host.peer_close(sock);
    tb.settle();
    assert!(
        tb.drain_segments().is_empty(),
        "nothing before the handshake ends"
    );
    tb.guest_send(&Segment::new(
        guest,
        remote,
        9001,
        synack.seq.wrapping_add(1),
        ACK,
    ));
    let got = tb.drain_segments();
    let data: Vec<u8> = got.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"banner");
    assert!(got.last().unwrap().has(FIN), "{got:?}");
}

fn watches(tb: &Testbed) -> Vec<String> {
    tb.host
        .trace
        .iter()
        .filter(|t| t.starts_with("Watch"))
        .cloned()
        .collect()
}

#[test]
fn a_connection_registers_its_socket_once_for_everything() {
    // Each change of interest is an `epoll_ctl` on Linux: a short connection used to
    // make three (connecting, handshake, established), a blocked send two more.
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.default_send_space = 10;
    let (guest, remote, mut seq, ack) = established(&mut tb);
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.drain_segments();
    // The guest sends more than the socket takes: the rest waits for send space...
    let mut big = Segment::new(guest, remote, seq, ack, ACK | PSH);
    big.payload = b"0123456789abcdef".to_vec();
    tb.guest_send(&big);
    assert_eq!(tb.next_segment().unwrap().ack, seq + 10);
    // ...whose return is reported without asking again, and the guest is told at once.
    tb.host.peer_drain(sock, 10_000);
    tb.settle();
    let updates = tb.drain_segments();
    assert!(updates.iter().any(|s| s.ack == seq + 10 && s.window > 0));
    seq += 10;
    let mut rest = Segment::new(guest, remote, seq, ack, ACK | PSH);
    rest.payload = b"abcdef".to_vec();
    tb.guest_send(&rest);
    seq += 6;
    assert_eq!(tb.host.socket(sock).unwrap().tx, b"0123456789abcdef");
    // A reply, then both sides close.
    tb.host.peer_send(sock, b"reply");
    tb.host.peer_close(sock);
    tb.settle();
    let got = tb.drain_segments();
    let data: Vec<u8> = got.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"reply");
    assert!(got.last().unwrap().has(FIN));
    tb.guest_send(&Segment::new(guest, remote, seq, ack + 6, ACK | FIN));
    assert_eq!(
        watches(&tb),
        vec![format!(
            "Watch {{ sock: {sock:?}, interest: Interest {{ read: true, write: true }} }} -> Done"
        )],
        "one registration for the connection's life"
    );
}

fn window_queries(tb: &Testbed) -> usize {
    tb.host
        .trace
        .iter()
        .filter(|t| t.starts_with("TcpInfo"))
        .count()
}

#[test]
fn the_window_is_asked_of_the_host_only_when_it_runs_low_and_never_overstated() {
    // Each query is an ioctl(SIOCOUTQ) on Linux; it used to come with every segment
    // and ACK sent to the guest.
    let mut tb = Testbed::new(default_config(), 16);
    tb.host.default_send_space = 20_000;
    let (guest, remote, mut seq, mut ack) = established(&mut tb);
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.drain_segments();
    let before = window_queries(&tb);
    for i in 0..10u8 {
        let mut req = Segment::new(guest, remote, seq, ack, ACK | PSH);
        req.payload = vec![i];
        tb.guest_send(&req);
        seq += 1;
        tb.host.peer_send(sock, &[i]);
        tb.settle();
        tb.engine.flush(tb.now, &mut tb.host);
        for s in tb.drain_segments() {
            let space = tb.host.socket(sock).unwrap().send_space;
            assert!(usize::from(s.window) <= space, "{s:?} with {space} free");
        }
        ack += 1;
    }
    assert_eq!(window_queries(&tb), before, "ten transactions, no query");
    // Bulk from the guest: the known space runs down with what we send, and below
    // half of the last answer the host is asked again.
    for _ in 0..4 {
        let mut seg = Segment::new(guest, remote, seq, ack, ACK);
        seg.payload = vec![7; 3000];
        tb.guest_send(&seg);
        seq += 3000;
        tb.engine.flush(tb.now, &mut tb.host);
        let space = tb.host.socket(sock).unwrap().send_space;
        let acks = tb.drain_segments();
        let last = acks.last().expect("an ACK");
        assert!(
            usize::from(last.window) <= space,
            "{last:?} with {space} free"
        );
    }
    assert_eq!(window_queries(&tb), before + 1);
    let last_space = tb.host.socket(sock).unwrap().send_space;
    assert_eq!(last_space, 20_000 - 10 - 12_000);
    // The remote drains the socket: the next ACK still advertises no more than known.
    tb.host.peer_drain(sock, 100_000);
    tb.settle();
    let mut seg = Segment::new(guest, remote, seq, ack, ACK);
    seg.payload = vec![7; 100];
    tb.guest_send(&seg);
    tb.engine.flush(tb.now, &mut tb.host);
    let last = tb.drain_segments().pop().expect("an ACK");
    assert_eq!(usize::from(last.window), last_space - 100);
}

#[test]
fn the_handshake_ack_peeks_only_when_the_host_spoke_first() {
    // Client-first (HTTP, the CRR loop): the bare ACK that completes the handshake
    // makes no peek, which could only fail.
    let mut tb = Testbed::new(default_config(), 16);
    let (guest, remote, seq, ack) = established(&mut tb);
    assert_eq!(peeks(&tb), 0, "{:?}", tb.host.trace);
    let sock = tb.host.find_connected(remote).expect("host socket");
    let mut req = Segment::new(guest, remote, seq, ack, ACK | PSH);
    req.payload = b"GET".to_vec();
    tb.guest_send(&req);
    tb.host.peer_send(sock, b"200");
    tb.settle();
    let data: Vec<u8> = tb
        .drain_segments()
        .iter()
        .flat_map(|s| s.payload.clone())
        .collect();
    assert_eq!(data, b"200");

    // Server-first (SMTP, SSH): a banner that came during the handshake is peeked
    // and sent right behind it.
    let guest = SocketAddr::new(GUEST_V4.into(), 41002);
    let remote: SocketAddr = "203.0.113.5:25".parse().unwrap();
    let mut syn = Segment::new(guest, remote, 7000, 0, SYN);
    syn.mss = Some(1460);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK");
    let sock = tb.host.find_connected(remote).expect("host socket");
    tb.host.peer_send(sock, b"220 ready");
    tb.settle();
    assert!(tb.drain_segments().is_empty());
    tb.guest_send(&Segment::new(
        guest,
        remote,
        7001,
        synack.seq.wrapping_add(1),
        ACK,
    ));
    let got = tb.drain_segments();
    let data: Vec<u8> = got.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, b"220 ready");
}
