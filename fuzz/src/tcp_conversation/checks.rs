//! What `fuzz-tcp` checks after every step and at the end: each host socket holds a
//! prefix of its guest's stream, each segment to the guest carries the host's bytes at
//! their offsets and acknowledges no more than the host took, and once everything is
//! closed or reset no flow and no connection socket remains.

use super::{is_conn_of, stream, stream_byte, Harness, Origin, FORWARDED_PORT};
use passt_core::wire::tcp::TcpFlags;
use passt_core::{SockKind, SockRef};
use passt_shim_sim::sockets::{SimSocket, SockState};
use passt_shim_sim::testbed::Segment;
use std::net::SocketAddr;
use std::time::Duration;

impl Harness {
    /// The most bytes any host socket of conversation `i` received, and whether that
    /// one's sending side toward the host was shut down.
    pub(super) fn host_received(&self, i: usize) -> (usize, bool) {
        let peer = self.convs[i].host_peer;
        self.host_conns(peer)
            .map(|s| (s.tx.len(), s.tx_shutdown))
            .max()
            .unwrap_or((0, false))
    }

    /// Every TCP connection socket (open, closed or retired) whose peer is `peer`.
    fn host_conns(&self, peer: SocketAddr) -> impl Iterator<Item = &SimSocket> {
        self.tb
            .host
            .sockets()
            .map(|(_, s)| s)
            .chain(self.tb.host.retired.iter())
            .filter(move |s| is_conn_of(s, peer))
    }

    pub(super) fn after_step(&mut self) {
        self.tb.engine.flush(self.tb.now, &mut self.tb.host);
        self.tb.settle();
        self.tb.check();
        self.check_frames();
        self.check_host_side();
        assert!(
            self.tb.engine.flow_count() <= self.capacity,
            "{} flows in a table of {}",
            self.tb.engine.flow_count(),
            self.capacity
        );
        assert!(
            self.tb.host.misuse.is_empty(),
            "engine used closed sockets: {:?}",
            self.tb.host.misuse
        );
    }

    /// Host sockets hold a prefix of their guest's stream, shut down only at its FIN.
    fn check_host_side(&mut self) {
        for i in 0..self.convs.len() {
            self.find_host_sock(i);
            if self.host_conns(self.convs[i].host_peer).count() > 1 {
                // A guest SYN reached a closed flow and opened another connection
                // (with the same engine ISN, if at the same instant).
                self.convs[i].restarted = true;
            }
            let c = &self.convs[i];
            let salt = c.salt_guest(i);
            for s in self.host_conns(c.host_peer) {
                if let Some(at) =
                    s.tx.iter()
                        .enumerate()
                        .position(|(o, b)| *b != stream_byte(salt, o as u64))
                {
                    panic!(
                        "conversation {i}: host byte {at} of {} is not the guest's",
                        s.tx.len()
                    );
                }
                assert!(
                    s.tx.len() as u64 <= c.sent_hi,
                    "conversation {i}: host got {} bytes, guest sent {}",
                    s.tx.len(),
                    c.sent_hi
                );
                if s.tx_shutdown {
                    assert_eq!(
                        Some(s.tx.len() as u64),
                        c.fin_at,
                        "conversation {i}: host socket shut down away from the guest's FIN"
                    );
                }
            }
        }
        self.out.bytes_to_host = (0..self.convs.len()).map(|i| self.host_received(i).0).sum();
    }

    /// Every frame to the guest is valid TCP; each of a conversation's lies in the
    /// host's stream at its offset, within the guest's window, acknowledging no more
    /// than the host took.
    fn check_frames(&mut self) {
        while let Some(frame) = self.tb.next_frame() {
            if !carries_tcp(&frame) {
                // Router advertisements and the like: the engine's own business.
                continue;
            }
            let seg = Segment::from_frame(&frame).unwrap_or_else(|| {
                panic!("frame to the guest is not TCP with valid checksums: {frame:02x?}")
            });
            if self.trace {
                eprintln!("  engine → guest {seg:?}");
            }
            self.out.segments_to_guest += 1;
            if seg.has(TcpFlags::RST) {
                self.out.resets_to_guest += 1;
            }
            let Some(i) = self.conversation_of(&seg) else {
                continue;
            };
            self.check_segment(i, &seg);
        }
    }

    fn conversation_of(&mut self, seg: &Segment) -> Option<usize> {
        if let Some(i) = self
            .convs
            .iter()
            .position(|c| c.guest == Some(seg.dst) && c.remote == Some(seg.src))
        {
            return Some(i);
        }
        // The engine's SYN for an inbound conversation: learn its addresses.
        let i = self.convs.iter().position(|c| {
            c.origin == Origin::Host
                && c.guest.is_none()
                && seg.src.port() == c.host_peer.port()
                && seg.dst.port() == FORWARDED_PORT
        })?;
        assert!(
            seg.flags == TcpFlags::SYN,
            "first segment of an inbound connection: {seg:?}"
        );
        let c = &mut self.convs[i];
        c.guest = Some(seg.dst);
        c.remote = Some(seg.src);
        Some(i)
    }

    fn check_segment(&mut self, i: usize, seg: &Segment) {
        let (taken, shut) = self.host_received(i);
        let c = &mut self.convs[i];
        if seg.has(TcpFlags::SYN) {
            assert!(seg.payload.is_empty(), "conversation {i}: SYN with data");
            match c.engine_isn {
                None => c.engine_isn = Some(seg.seq),
                Some(isn) if isn != seg.seq => c.restarted = true,
                Some(_) => {}
            }
            return;
        }
        // The engine knows the guest's ISN from its SYN (outbound) or SYN-ACK
        // (inbound); before that its acknowledgement numbers mean nothing here.
        let knows_guest_isn = c.origin == Origin::Guest || c.options_settled;
        if seg.has(TcpFlags::ACK) && !seg.has(TcpFlags::RST) && knows_guest_isn {
            let off = c.guest_offset(seg.ack);
            assert!(
                off <= taken as i64 + i64::from(shut),
                "conversation {i}: engine acknowledged offset {off}, host took {taken}{}",
                if shut { " and the FIN" } else { "" }
            );
            c.engine_ack_hi = c.engine_ack_hi.max(off);
        }
        if c.restarted || seg.has(TcpFlags::RST) {
            return;
        }
        let Some(off) = c.engine_offset(seg.seq) else {
            panic!("conversation {i}: segment before the engine's SYN: {seg:?}");
        };
        let len = seg.payload.len() as i64;
        if len > 0 {
            assert!(off >= 0, "conversation {i}: data at offset {off}");
            assert!(
                off + len <= c.host_sent as i64,
                "conversation {i}: data up to {} but the host sent {}",
                off + len,
                c.host_sent
            );
            let expected = stream(c.salt_host(i), off as u64, len as usize);
            assert!(
                seg.payload == expected,
                "conversation {i}: corrupted data at offset {off}"
            );
            if let Some(edge) = c.right_edge {
                // One byte more: a zero-window probe (RFC 9293 §3.8.6.1).
                assert!(
                    off + len <= edge + 1,
                    "conversation {i}: data up to {} past the guest's window edge {edge}",
                    off + len
                );
            }
        }
        let Ok(end) = u64::try_from(off + len) else {
            // A bare segment from before the SYN's sequence number (the handshake's
            // challenge ACK): nothing to record.
            return;
        };
        if seg.has(TcpFlags::FIN) {
            assert!(
                c.host_closed && end == c.host_sent,
                "conversation {i}: FIN at {end}, host closed: {}, sent {}",
                c.host_closed,
                c.host_sent
            );
            c.fin_seen = Some(end);
        }
        c.seen_hi = c.seen_hi.max(end + u64::from(seg.has(TcpFlags::FIN)));
        if off <= c.rcv_nxt as i64 && end > c.rcv_nxt {
            c.rcv_nxt = end;
        }
        self.out.bytes_to_guest = self.convs.iter().map(|c| c.rcv_nxt).sum();
    }

    /// The host closes whatever is open and the guest goes silent for an hour: only
    /// connections whose FIN the guest acknowledged (half-open toward the host, as
    /// TCP allows) may remain. Then the guest resets each at the exact sequence
    /// number: no flow and no connection socket may remain.
    pub(super) fn finish(&mut self) {
        self.tb.host.complete_connects();
        self.after_step();
        for i in 0..self.convs.len() {
            if self.live_host_sock(i).is_some() {
                self.convs[i].host_closed = true;
            }
            // Every connected socket (a restarted conversation has more than one).
            let peer = self.convs[i].host_peer;
            let open: Vec<SockRef> = self
                .tb
                .host
                .sockets()
                .filter(|(_, s)| is_conn_of(s, peer) && s.state == SockState::Connected)
                .filter(|(_, s)| !s.rx_eof)
                .map(|(r, _)| r)
                .collect();
            for sock in open {
                self.tb.host.peer_close(sock);
            }
        }
        self.after_step();
        for _ in 0..60 {
            self.tb.advance(Duration::from_secs(60));
            self.after_step();
        }
        self.out.flows_after_timeouts = self.tb.engine.flow_count();
        for i in 0..self.convs.len() {
            let c = &self.convs[i];
            let open = self
                .tb
                .host
                .sockets()
                .any(|(_, s)| is_conn_of(s, c.host_peer) && s.state != SockState::Closed);
            assert!(
                !open || c.fin_acked || c.restarted,
                "conversation {i}: still open after an hour's silence, FIN unacknowledged: {c:?}"
            );
        }
        for i in 0..self.convs.len() {
            let c = &self.convs[i];
            let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
                continue;
            };
            // Where the engine expects the guest's next byte: after what each open
            // host socket took (and the FIN that shut it down).
            let seqs: Vec<u32> = self
                .host_conns(c.host_peer)
                .filter(|s| s.state != SockState::Closed)
                .map(|s| c.seq_at(s.tx.len() as u64 + u64::from(s.tx_shutdown)))
                .collect();
            for seq in seqs {
                let seg = Segment::new(guest, remote, seq, 0, TcpFlags::RST);
                self.tb.guest_send(&seg);
                self.after_step();
            }
        }
        self.tb.advance(Duration::from_secs(1));
        self.after_step();
        assert_eq!(
            self.tb.engine.flow_count(),
            0,
            "flows left after every connection was reset"
        );
        let left: Vec<_> = self
            .tb
            .host
            .sockets()
            .filter(|(r, s)| r.kind() == SockKind::TcpConn && s.state != SockState::Closed)
            .map(|(_, s)| (s.state, s.peer))
            .collect();
        assert!(left.is_empty(), "host sockets left open: {left:?}");
    }
}

/// The frame is IPv4 or IPv6 (no extension headers) carrying TCP, judged from its
/// headers alone (whether they are right is what [`Segment::from_frame`] checks).
fn carries_tcp(frame: &[u8]) -> bool {
    const TCP: u8 = 6;
    match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(14 + 9) == Some(&TCP),
        Some([0x86, 0xdd]) => frame.get(14 + 6) == Some(&TCP),
        _ => false,
    }
}
