//! `fuzz-tcp`: structure-aware TCP conversations between a scripted guest and the
//! modelled host, through a whole engine.
//!
//! The input is decoded byte by byte into steps (see [`tcp_conversation`]): guest
//! connects and host connections to a forwarded port, handshake replies, guest data at
//! chosen offsets (in order, retransmitted, overlapping, out of order, beyond the
//! window), ACKs with chosen acknowledgement numbers and windows (zero included),
//! FINs, RSTs and odd flag combinations, host data, drains, closes and resets, and
//! time passing. Every frame is well formed (checksums right) so it reaches the TCP
//! translator rather than the parsers' drop paths.
//!
//! Each conversation carries two byte streams that are functions of the offset (see
//! [`stream_byte`]): the guest only ever sends its stream's bytes at their offsets, the
//! host its own. So whatever the guest's segmentation, duplication or reordering,
//! every byte the host receives must be the guest's stream from its start, and every
//! byte the guest receives must sit at its own offset in the host's stream.

use passt_core::fwd::PortRange;
use passt_core::io::Transport;
use passt_core::wire::tcp::TcpFlags;
use passt_core::{SockKind, SockRef};
use passt_shim_sim::sockets::{ConnectBehaviour, SimSocket, SockState};
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4, GUEST_V6};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

mod checks;

/// The host port forwarded to the guest (same port inside).
const FORWARDED_PORT: u16 = 8080;
/// Most conversations one input opens.
const MAX_CONVERSATIONS: usize = 6;
/// Most steps one input runs.
const MAX_STEPS: usize = 200;
/// Largest guest segment payload.
const MAX_GUEST_PAYLOAD: usize = 4000;

/// The byte at `offset` of stream `salt` (a conversation's guest or host stream):
/// a hash, so a byte delivered at the wrong offset is caught with odds 255/256.
pub fn stream_byte(salt: u64, offset: u64) -> u8 {
    let mut x = offset
        .wrapping_add(salt.wrapping_mul(0xa076_1d64_78bd_642f))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (x >> 32) as u8
}

fn stream(salt: u64, from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64)
        .map(|o| stream_byte(salt, o))
        .collect()
}

/// The fuzzer's bytes, read in order; missing bytes read as zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Who opened a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The guest sent a SYN to a host address.
    Guest,
    /// A host client connected to the forwarded port.
    Host,
}

/// One conversation as the scripted guest sees it. Offsets are stream offsets: 0 is
/// the first byte after the SYN.
#[derive(Debug)]
struct Conversation {
    origin: Origin,
    /// The guest's end (inbound: known once the engine's SYN arrived).
    guest: Option<SocketAddr>,
    /// The far end as the guest sees it (inbound: known with `guest`).
    remote: Option<SocketAddr>,
    /// The peer address of the engine's host socket.
    host_peer: SocketAddr,
    /// The host socket first opened (outbound) or accepted (inbound) for it.
    host_sock: Option<SockRef>,
    guest_isn: u32,
    window_scale: Option<u8>,
    mss: Option<u16>,
    /// One past the highest guest stream offset sent.
    sent_hi: u64,
    /// Where the guest's FIN sits, once it sent one.
    fin_at: Option<u64>,
    /// The engine's initial sequence number toward the guest, once seen.
    engine_isn: Option<u32>,
    /// The engine opened a second connection for this 4-tuple (the guest's SYN
    /// reached a closed flow): host → guest checks stop, the rest go on.
    restarted: bool,
    /// Bytes the host sent on `host_sock`.
    host_sent: u64,
    /// The host closed its sending side.
    host_closed: bool,
    /// The guest received every host byte below this, in order.
    rcv_nxt: u64,
    /// One past the highest offset the engine sent (its FIN counted).
    seen_hi: u64,
    /// Where the engine's FIN sits, once seen.
    fin_seen: Option<u64>,
    /// The guest acknowledged the engine's FIN.
    fin_acked: bool,
    /// Highest acknowledgement offset the guest sent.
    ack_hi: i64,
    /// Highest acknowledgement offset the engine sent (of the guest's stream).
    engine_ack_hi: i64,
    /// Inbound: the guest sent a SYN-ACK acknowledging the engine's SYN, whose
    /// options are the connection's from then on.
    options_settled: bool,
    /// Highest right window edge the guest advertised (offset space).
    right_edge: Option<i64>,
}

impl Conversation {
    fn salt_guest(&self, id: usize) -> u64 {
        (id as u64) << 1
    }

    fn salt_host(&self, id: usize) -> u64 {
        (id as u64) << 1 | 1
    }

    /// Window scale the engine applies to the guest's windows.
    fn scale(&self) -> u8 {
        self.window_scale.map_or(0, |w| w.min(14))
    }

    /// The guest's next sequence number (its FIN counted once sent).
    fn snd_nxt(&self) -> u32 {
        let end = self.fin_at.map_or(self.sent_hi, |f| f + 1);
        self.seq_at(end)
    }

    fn seq_at(&self, offset: u64) -> u32 {
        self.guest_isn.wrapping_add(1).wrapping_add(offset as u32)
    }

    /// Offset of an engine sequence number (`None` before its ISN is known).
    fn engine_offset(&self, seq: u32) -> Option<i64> {
        let isn = self.engine_isn?;
        Some(i64::from(seq.wrapping_sub(isn.wrapping_add(1)) as i32))
    }

    /// Offset of an acknowledgement number the engine sent (guest's sequence space).
    fn guest_offset(&self, ack: u32) -> i64 {
        i64::from(ack.wrapping_sub(self.guest_isn.wrapping_add(1)) as i32)
    }
}

/// What one conversation input did, for tests that check a seed reaches what it aims
/// at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConversationOutcome {
    /// Conversations opened (either way).
    pub conversations: usize,
    /// Bytes host sockets received from the guest, all conversations.
    pub bytes_to_host: usize,
    /// Host bytes the guest received in order, all conversations.
    pub bytes_to_guest: u64,
    /// Segments sent to the guest.
    pub segments_to_guest: usize,
    /// RSTs among them.
    pub resets_to_guest: usize,
    /// Flows left after the host closed everything and time passed (before the
    /// guest's final resets).
    pub flows_after_timeouts: usize,
}

struct Harness {
    tb: Testbed,
    capacity: usize,
    convs: Vec<Conversation>,
    listener: SockRef,
    out: ConversationOutcome,
    trace: bool,
}

/// Play one TCP conversation script against a fresh engine and check, after every
/// step, that nothing panics, the flow table stays within its capacity, host sockets
/// received exactly a prefix of the guest's stream (and end only at the guest's FIN),
/// every frame to the guest is valid TCP with correct checksums whose payload sits at
/// its own offset of the host's stream, within the window the guest advertised, and
/// whose acknowledgement covers only bytes the host socket took. At the end the host
/// closes every connection and time passes: only connections whose FIN the guest
/// acknowledged may remain; the guest's exact RSTs then leave no flow and no socket.
///
/// Input: byte 0 picks the link (bit 0: pasta's tap offloads) and the flow table's
/// capacity (bits 1–3, 1–8 flows); then steps, an opcode byte each and the bytes its
/// step reads.
pub fn tcp_conversation(data: &[u8]) -> ConversationOutcome {
    run(data, false)
}

/// [`tcp_conversation`], printing every step and segment to stderr (for triage).
pub fn tcp_conversation_traced(data: &[u8]) -> ConversationOutcome {
    run(data, true)
}

fn run(data: &[u8], trace: bool) -> ConversationOutcome {
    let mut input = Input(data);
    let head = input.byte();
    let mut config = default_config();
    if head & 1 != 0 {
        config.offload.tcp_segment_max = 65_000;
        config.offload.tcp_checksum = true;
    }
    let range = PortRange {
        first: FORWARDED_PORT,
        last: FORWARDED_PORT,
        delta: 0,
        bind_addr: None,
        bind_iface: None,
    };
    config
        .forwards
        .tcp_in
        .ranges
        .push(range)
        .expect("room for one range");
    let capacity = 1 + usize::from((head >> 1) & 7);
    let mut tb = Testbed::new(config, capacity);
    tb.host.tracing = false;
    tb.engine.start(&mut tb.host).expect("forwarded port binds");
    let listener = tb
        .host
        .sockets()
        .find(|(r, _)| r.kind() == SockKind::TcpListen)
        .expect("a listener for the forwarded port")
        .0;
    let mut h = Harness {
        tb,
        capacity,
        convs: Vec::new(),
        listener,
        out: ConversationOutcome::default(),
        trace,
    };
    let mut steps = 0;
    while !input.is_empty() && steps < MAX_STEPS {
        h.step(&mut input);
        h.after_step();
        steps += 1;
    }
    h.finish();
    h.out
}

impl Harness {
    fn step(&mut self, input: &mut Input<'_>) {
        let op = input.byte();
        if self.trace {
            eprintln!("step {} at {:?}", op % 16, self.tb.now);
        }
        match op % 16 {
            0 => self.guest_connect(input),
            1 => self.host_connect(input),
            2 => {
                self.tb.host.complete_connects();
            }
            3 => self.guest_handshake(input),
            4 | 5 => self.guest_data(input),
            6 => self.guest_ack(input),
            7 => self.guest_fin(input),
            8 => self.guest_rst(input),
            9 => self.guest_wild(input),
            10 | 11 => self.host_send(input),
            12 => self.host_drain(input),
            13 => self.host_close(input),
            14 => self.host_reset(input),
            _ => self.advance(input),
        }
    }

    /// The conversation a byte picks, if any.
    fn pick(&mut self, input: &mut Input<'_>) -> Option<usize> {
        let b = usize::from(input.byte());
        (!self.convs.is_empty()).then(|| b % self.convs.len())
    }

    fn guest_connect(&mut self, input: &mut Input<'_>) {
        let how = input.byte();
        let guest_isn = input.u32();
        let window = input.u16();
        if self.convs.len() >= MAX_CONVERSATIONS {
            return;
        }
        let id = self.convs.len() as u16;
        let v6 = how & 1 != 0;
        let (guest_ip, remote_ip): (IpAddr, IpAddr) = if v6 {
            (
                GUEST_V6.into(),
                Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5).into(),
            )
        } else {
            (GUEST_V4.into(), Ipv4Addr::new(203, 0, 113, 5).into())
        };
        let guest = SocketAddr::new(guest_ip, 40_000 + id);
        let remote = SocketAddr::new(remote_ip, 1000 + id);
        let behaviour = match (how >> 1) & 7 {
            0 => ConnectBehaviour::Refuse,
            1 => ConnectBehaviour::AcceptNow,
            _ => ConnectBehaviour::Accept,
        };
        self.tb.host.set_behaviour(remote, behaviour);
        self.tb.host.default_send_space = [256 * 1024, 0, 100, 3000][usize::from(how >> 4 & 3)];
        let (window_scale, mss) = syn_options(how >> 6, input);
        let conv = Conversation {
            origin: Origin::Guest,
            guest: Some(guest),
            remote: Some(remote),
            host_peer: remote,
            host_sock: None,
            guest_isn,
            window_scale,
            mss,
            sent_hi: 0,
            fin_at: None,
            engine_isn: None,
            restarted: false,
            host_sent: 0,
            host_closed: false,
            rcv_nxt: 0,
            seen_hi: 0,
            fin_seen: None,
            fin_acked: false,
            ack_hi: 0,
            engine_ack_hi: 0,
            options_settled: false,
            right_edge: None,
        };
        let mut syn = Segment::new(guest, remote, guest_isn, 0, TcpFlags::SYN);
        syn.window = window;
        syn.window_scale = window_scale;
        syn.mss = mss;
        self.convs.push(conv);
        self.out.conversations += 1;
        self.send(id.into(), &syn);
    }

    fn host_connect(&mut self, input: &mut Input<'_>) {
        let how = input.byte();
        if self.convs.len() >= MAX_CONVERSATIONS {
            return;
        }
        let id = self.convs.len() as u16;
        let client_ip: IpAddr = if how & 1 != 0 {
            Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 9).into()
        } else {
            Ipv4Addr::new(203, 0, 113, 9).into()
        };
        let client = SocketAddr::new(client_ip, 50_000 + id);
        self.tb.host.default_send_space = [256 * 1024, 0, 100, 3000][usize::from(how >> 1 & 3)];
        self.convs.push(Conversation {
            origin: Origin::Host,
            guest: None,
            remote: None,
            host_peer: client,
            host_sock: None,
            guest_isn: u32::from_be_bytes([how, 0x5e, 0xed, how]),
            window_scale: None,
            mss: None,
            sent_hi: 0,
            fin_at: None,
            engine_isn: None,
            restarted: false,
            host_sent: 0,
            host_closed: false,
            rcv_nxt: 0,
            seen_hi: 0,
            fin_seen: None,
            fin_acked: false,
            ack_hi: 0,
            engine_ack_hi: 0,
            options_settled: false,
            right_edge: None,
        });
        self.out.conversations += 1;
        self.tb.host.peer_connect(self.listener, client);
    }

    /// The guest's side of the handshake: the ACK of the engine's SYN-ACK (outbound)
    /// or its SYN-ACK to the engine's SYN (inbound), with a chosen window and options.
    fn guest_handshake(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let how = input.byte();
        let window = input.u16();
        let c = &mut self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let ack = match c.engine_isn {
            Some(isn) if how & 1 == 0 => isn.wrapping_add(1),
            _ => u32::from_be_bytes([how, 1, 2, 3]),
        };
        let seg = match c.origin {
            Origin::Guest => {
                let mut s = Segment::new(guest, remote, c.seq_at(0), ack, TcpFlags::ACK);
                s.window = window;
                s
            }
            Origin::Host => {
                let (mut window_scale, mut mss) = syn_options(how >> 1, input);
                if c.options_settled {
                    // A retransmission repeats the accepted SYN-ACK's options.
                    (window_scale, mss) = (c.window_scale, c.mss);
                } else if c.engine_isn.is_some_and(|isn| ack == isn.wrapping_add(1)) {
                    // The engine takes this one: its options are the connection's.
                    c.options_settled = true;
                    c.window_scale = window_scale;
                    c.mss = mss;
                }
                let mut s = Segment::new(
                    guest,
                    remote,
                    c.guest_isn,
                    ack,
                    TcpFlags::SYN | TcpFlags::ACK,
                );
                s.window = window;
                s.window_scale = window_scale;
                s.mss = mss;
                s
            }
        };
        self.send(i, &seg);
    }

    /// Guest data at an offset the input picks relative to what it sent so far.
    fn guest_data(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let how = input.byte();
        let len = usize::from(input.u16()) % (MAX_GUEST_PAYLOAD + 1);
        let k = u64::from(input.u16());
        let (ack, window) = self.ack_and_window(i, input);
        let c = &mut self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let acked = u64::try_from(c.engine_ack_hi).unwrap_or(0);
        let start = match how % 6 {
            // New data, in order.
            0 | 1 => c.sent_hi,
            // From the first byte the engine has not acknowledged (a retransmission).
            2 => acked,
            // Overlapping the end of what was sent.
            3 => c.sent_hi.saturating_sub(k % 4096),
            // Past a hole (out of order).
            4 => c.sent_hi + 1 + k % 8192,
            // Far beyond any window.
            _ => c.sent_hi + 65_536 * (1 + k % 512),
        };
        let mut len = len as u64;
        if let Some(f) = c.fin_at {
            len = len.min(f.saturating_sub(start));
        }
        if len > 0 {
            c.sent_hi = c.sent_hi.max(start + len);
        }
        let mut seg = Segment::new(
            guest,
            remote,
            c.seq_at(start),
            ack,
            if how & 0x40 != 0 {
                TcpFlags::ACK | TcpFlags::PSH
            } else {
                TcpFlags::ACK
            },
        );
        seg.window = window;
        seg.payload = stream(c.salt_guest(i), start, len as usize);
        self.send(i, &seg);
    }

    fn guest_ack(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let (ack, window) = self.ack_and_window(i, input);
        let c = &self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let mut seg = Segment::new(guest, remote, c.snd_nxt(), ack, TcpFlags::ACK);
        seg.window = window;
        self.send(i, &seg);
    }

    /// The guest's FIN: after what it sent (or with a last chunk of data), always at
    /// the same offset once sent.
    fn guest_fin(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let len = u64::from(input.byte()) * 8;
        let (ack, window) = self.ack_and_window(i, input);
        let c = &mut self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let start = c.fin_at.unwrap_or(c.sent_hi);
        let end = *c.fin_at.get_or_insert(c.sent_hi + len);
        c.sent_hi = c.sent_hi.max(end);
        let mut seg = Segment::new(
            guest,
            remote,
            c.seq_at(start),
            ack,
            TcpFlags::FIN | TcpFlags::ACK,
        );
        seg.window = window;
        seg.payload = stream(c.salt_guest(i), start, (end - start) as usize);
        self.send(i, &seg);
    }

    fn guest_rst(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let how = input.byte();
        let k = input.u32();
        let c = &self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let seq = match how % 4 {
            // Exactly where the engine expects it (what the host took).
            0 => c.seq_at(self.host_received(i).0 as u64),
            // The guest's own next sequence number.
            1 => c.snd_nxt(),
            // Somewhere in the window.
            2 => c.snd_nxt().wrapping_add(k % 65_536),
            _ => k,
        };
        let ack = c
            .engine_isn
            .map_or(0, |isn| isn.wrapping_add(1).wrapping_add(c.rcv_nxt as u32));
        let flags = if how & 4 != 0 {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        let seg = Segment::new(guest, remote, seq, ack, flags);
        self.send(i, &seg);
    }

    /// A segment with an odd set of flags (SYN on an open connection, SYN+FIN, URG,
    /// no ACK, …) near the guest's sequence numbers; its payload (if any) still the
    /// guest's stream at its offset.
    fn guest_wild(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let flags = TcpFlags(input.byte());
        let delta = input.u16();
        let len = usize::from(input.byte()) * 4;
        let (ack, window) = self.ack_and_window(i, input);
        let c = &mut self.convs[i];
        let (Some(guest), Some(remote)) = (c.guest, c.remote) else {
            return;
        };
        let mut seg;
        if flags.contains(TcpFlags::SYN) {
            // A SYN always carries the guest's ISN (a retransmission, or a new
            // connection if the flow is gone): no payload, and no FIN (it would sit
            // at offset 0).
            seg = Segment::new(
                guest,
                remote,
                c.guest_isn,
                ack,
                TcpFlags(flags.0 & !TcpFlags::FIN.0),
            );
            // The options the conversation settled on: a retransmission repeats them.
            seg.window_scale = c.window_scale;
            seg.mss = c.mss;
        } else if flags.contains(TcpFlags::FIN) {
            // Its FIN only ever at the one place.
            let end = *c.fin_at.get_or_insert(c.sent_hi);
            let start = end.saturating_sub(u64::from(delta) % 2048);
            seg = Segment::new(guest, remote, c.seq_at(start), ack, flags);
            seg.payload = stream(c.salt_guest(i), start, (end - start) as usize);
        } else {
            let start = c.sent_hi.saturating_sub(u64::from(delta));
            let mut len = len as u64;
            if let Some(f) = c.fin_at {
                len = len.min(f.saturating_sub(start));
            }
            if len > 0 {
                c.sent_hi = c.sent_hi.max(start + len);
            }
            seg = Segment::new(guest, remote, c.seq_at(start), ack, flags);
            seg.payload = stream(c.salt_guest(i), start, len as usize);
        }
        seg.window = window;
        self.send(i, &seg);
    }

    /// An acknowledgement number (current, everything seen, old, or beyond what the
    /// engine sent) and a window (zero, small, full, any) the input picks.
    fn ack_and_window(&mut self, i: usize, input: &mut Input<'_>) -> (u32, u16) {
        let a = input.byte();
        let w = input.byte();
        let window = match w % 4 {
            0 => 0,
            1 => u16::from(w >> 2),
            2 => u16::MAX,
            _ => input.u16(),
        };
        let c = &self.convs[i];
        let Some(isn) = c.engine_isn else {
            return (u32::from(a) << 24 | u32::from(w), window);
        };
        let rcv = c.rcv_nxt + u64::from(c.fin_seen == Some(c.rcv_nxt));
        let off = match a % 4 {
            0 => rcv,
            1 => c.seen_hi,
            2 => rcv.saturating_sub(u64::from(a >> 2) * 64),
            _ => c.seen_hi + 1 + u64::from(a >> 2),
        };
        (isn.wrapping_add(1).wrapping_add(off as u32), window)
    }

    fn host_send(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let n = usize::from(input.byte()) * 64 + usize::from(input.byte());
        let Some(sock) = self.live_host_sock(i) else {
            return;
        };
        let c = &mut self.convs[i];
        if c.host_closed {
            return;
        }
        let bytes = stream(c.salt_host(i), c.host_sent, n);
        c.host_sent += n as u64;
        self.tb.host.peer_send(sock, &bytes);
    }

    fn host_drain(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        let n = usize::from(input.u16()) * 4;
        if let Some(sock) = self.live_host_sock(i) {
            self.tb.host.peer_drain(sock, n);
        }
    }

    fn host_close(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        if let Some(sock) = self.live_host_sock(i) {
            if !self.convs[i].host_closed {
                self.convs[i].host_closed = true;
                self.tb.host.peer_close(sock);
            }
        }
    }

    fn host_reset(&mut self, input: &mut Input<'_>) {
        let Some(i) = self.pick(input) else { return };
        if let Some(sock) = self.live_host_sock(i) {
            self.tb.host.peer_reset(sock);
        }
    }

    fn advance(&mut self, input: &mut Input<'_>) {
        let b = input.byte();
        let unit = [1, 10, 200, 1000, 3000, 11_000, 61_000, 300_000][usize::from(b % 8)];
        let ms = unit * (1 + u64::from(b >> 3) % 4);
        self.tb.advance(Duration::from_millis(ms));
    }

    /// The conversation's first host socket, while it is connected.
    fn live_host_sock(&mut self, i: usize) -> Option<SockRef> {
        self.find_host_sock(i);
        let sock = self.convs[i].host_sock?;
        let s = self.tb.host.socket(sock)?;
        if self.trace {
            eprintln!("  conversation {i}: host socket {:?} {:?}", s.state, s.peer);
        }
        // Connected only: a peer cannot send, close or drain before the connection
        // exists (and the model would report readiness a kernel never would).
        (s.state == SockState::Connected)
            .then_some(sock)
            .filter(|_| s.peer == Some(self.convs[i].host_peer))
    }

    fn find_host_sock(&mut self, i: usize) {
        let c = &mut self.convs[i];
        if c.host_sock.is_none() {
            c.host_sock = self
                .tb
                .host
                .sockets()
                .find(|(_, s)| is_conn_of(s, c.host_peer))
                .map(|(r, _)| r);
        }
    }

    /// Feed a guest segment, recording the window and acknowledgement it carries.
    fn send(&mut self, i: usize, seg: &Segment) {
        let c = &mut self.convs[i];
        if seg.has(TcpFlags::ACK) && !seg.has(TcpFlags::RST) {
            if let Some(off) = c.engine_offset(seg.ack) {
                // Only acknowledgements of what the engine sent move its window.
                if off <= c.seen_hi as i64 {
                    c.ack_hi = c.ack_hi.max(off);
                    if c.fin_seen.is_some_and(|f| off == f as i64 + 1) {
                        c.fin_acked = true;
                    }
                }
                let window = if seg.has(TcpFlags::SYN) {
                    i64::from(seg.window)
                } else {
                    i64::from(seg.window) << c.scale()
                };
                let edge = c.ack_hi.max(off) + window;
                c.right_edge = Some(c.right_edge.map_or(edge, |e| e.max(edge)));
            }
        }
        if seg.has(TcpFlags::SYN) && c.origin == Origin::Guest && c.right_edge.is_none() {
            // Before the engine's ISN is known the window counts from the SYN-ACK.
            c.right_edge = Some(i64::from(seg.window));
        }
        if self.trace {
            eprintln!("  guest → engine {seg:?}");
        }
        self.tb.guest_send(seg);
    }
}

/// The guest's SYN options from two bits and the bytes after: window scale (none, 0,
/// 7, 14, or an out-of-range 15) and MSS (none, 536, 1460, 64, or any).
fn syn_options(bits: u8, input: &mut Input<'_>) -> (Option<u8>, Option<u16>) {
    let b = input.byte();
    let ws = match (bits ^ b) % 5 {
        0 => None,
        1 => Some(0),
        2 => Some(7),
        3 => Some(14),
        _ => Some(15),
    };
    let mss = match (b >> 3) % 5 {
        0 => None,
        1 => Some(536),
        2 => Some(1460),
        3 => Some(64),
        _ => Some(input.u16()),
    };
    (ws, mss)
}

/// `s` is a TCP connection socket (not a listener) whose peer is `peer`.
fn is_conn_of(s: &SimSocket, peer: SocketAddr) -> bool {
    s.transport == Transport::Tcp
        && s.peer == Some(peer)
        && s.state != SockState::Listening
        && !s.foreign
}
