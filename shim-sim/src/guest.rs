//! A guest-side TCP endpoint for simulations: what the guest's kernel does with one
//! connection through the engine (RFC 9293), reduced to what a byte-stream check
//! needs.
//!
//! - Active open ([`GuestConn::connect`]) or passive open ([`GuestConn::listen`]).
//! - Sends its whole byte string, then a FIN (at once, or after the peer's FIN);
//!   retransmits go-back-N from the oldest unacknowledged byte on its retransmission
//!   timer (RFC 6298 backoff) and on the third duplicate ACK (RFC 5681 §3.2), and
//!   probes a zero window (RFC 9293 §3.8.6.1) for as long as the probes are answered,
//!   as Linux does: an ACK that keeps the window closed proves the peer alive and
//!   does not count toward [`MAX_RETRIES`].
//! - Receives in order only: a segment beyond `RCV.NXT` is dropped and answered with
//!   a duplicate ACK; data beyond its window is dropped. It ACKs in-order data after
//!   a random delay (delayed ACK), everything else at once.
//! - Its application reads received data after a random delay, so the advertised
//!   window shrinks and reopens (with a window update). It may also stop reading for
//!   a long while, or for good ([`ReadStall`]): its window closes and stays closed.
//! - Honours RSTs by RFC 5961 §3.2 (exactly at `RCV.NXT`; in the window: challenge
//!   ACK) and answers segments for a closed connection with a RST.
//!
//! It verifies nothing about the engine itself: the simulation checks what the engine
//! sends against what the host peer sent (see [`crate::sweep`]).

use crate::rng::Rng;
use crate::testbed::Segment;
use passt_core::wire::tcp::TcpFlags;
use passt_core::Instant;
use std::net::SocketAddr;
use std::time::Duration;

/// First retransmission timeout.
pub const RTO_INITIAL: Duration = Duration::from_millis(200);
/// Ceiling of the backed-off retransmission timeout.
pub const RTO_MAX: Duration = Duration::from_secs(5);
/// Retransmissions without progress before the guest gives up and resets.
pub const MAX_RETRIES: u32 = 10;
/// Idle time before an established connection sends keep-alive probes (RFC 9293
/// §3.8.4; far shorter than Linux's two hours, so a connection whose other end
/// vanished with its RST lost is noticed within a simulation).
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
/// Unanswered keep-alive probes before the guest gives up.
pub const KEEPALIVE_PROBES: u32 = 5;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const PSH: TcpFlags = TcpFlags::PSH;

/// How a guest connection behaves; chosen per connection by the simulation.
#[derive(Debug, Clone, Copy)]
pub struct GuestParams {
    /// MSS the guest announces (and uses: the engine's is larger).
    pub mss: u16,
    /// Window scale the guest offers, if any.
    pub wscale: Option<u8>,
    /// Receive buffer size: the most unread data it holds.
    pub rcv_buf: usize,
    /// Longest delay before ACKing in-order data.
    pub ack_delay: Duration,
    /// Longest delay before the application reads what arrived.
    pub read_delay: Duration,
    /// Send FIN as soon as the data is out (else only after the peer's FIN).
    pub close_first: bool,
    /// The application stops reading at some point.
    pub stall: Option<ReadStall>,
}

/// The guest application stops reading: what arrives stays unread, the receive
/// window closes, and the guest kernel only answers probes with a zero window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadStall {
    /// It stops once this many bytes have arrived (at the first data if 0).
    pub after: usize,
    /// How long it stops for; `None`: it never reads again.
    pub lasting: Option<Duration>,
    /// The application gives up this long after it stopped reading and closes its
    /// socket: with data unread, its kernel resets the connection (RFC 2525 §2.17,
    /// as Linux does).
    pub closes_after: Option<Duration>,
}

/// Where a guest connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestState {
    /// Waiting for the engine's SYN (passive open).
    Listen,
    /// SYN sent, waiting for the SYN-ACK.
    SynSent,
    /// SYN-ACK sent, waiting for its ACK.
    SynRcvd,
    /// Synchronized (including the half-closed states).
    Established,
    /// Finished: see [`Outcome`].
    Closed(Outcome),
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both FINs exchanged and acknowledged (the guest lingers in TIME-WAIT and still
    /// ACKs retransmitted FINs).
    Completed,
    /// The engine reset it.
    Reset,
    /// The guest gave up after [`MAX_RETRIES`] and reset it.
    Aborted,
}

/// One guest connection.
#[derive(Debug, Clone)]
pub struct GuestConn {
    /// The guest's address and port.
    pub local: SocketAddr,
    /// The remote end as the guest sees it.
    pub remote: SocketAddr,
    /// State.
    pub state: GuestState,
    params: GuestParams,
    /// What the guest sends.
    pub send: Vec<u8>,
    /// Initial send sequence number.
    pub iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    snd_max: u32,
    snd_wnd: u32,
    snd_wl1: u32,
    snd_wl2: u32,
    snd_scale: u8,
    rcv_scale: u8,
    /// Initial receive sequence number (the engine's ISN), once known.
    pub irs: Option<u32>,
    rcv_nxt: u32,
    /// Data received in order.
    pub received: Vec<u8>,
    /// The engine's FIN arrived (after all its data).
    pub fin_received: bool,
    /// Our FIN was acknowledged.
    pub fin_acked: bool,
    unread: usize,
    rto: Duration,
    retries: u32,
    dup_acks: u32,
    rtx_at: Option<Instant>,
    ack_at: Option<Instant>,
    read_at: Option<Instant>,
    ka_at: Option<Instant>,
    ka_probes: u32,
    /// When the application stopped reading ([`GuestParams::stall`]).
    pub stopped_reading: Option<Instant>,
    /// When it resumes (`None` while it has not stopped, or if it never does).
    resume_at: Option<Instant>,
    /// When it resumed.
    pub resumed_reading: Option<Instant>,
    /// When the application closes the socket it stopped reading.
    close_at: Option<Instant>,
}

/// Sequence comparison (RFC 1982): `a` before `b`.
fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn le(a: u32, b: u32) -> bool {
    a == b || lt(a, b)
}

impl GuestConn {
    fn new(
        local: SocketAddr,
        remote: SocketAddr,
        iss: u32,
        params: GuestParams,
        send: Vec<u8>,
        state: GuestState,
    ) -> GuestConn {
        GuestConn {
            local,
            remote,
            state,
            params,
            send,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            snd_scale: 0,
            rcv_scale: 0,
            irs: None,
            rcv_nxt: 0,
            received: Vec::new(),
            fin_received: false,
            fin_acked: false,
            unread: 0,
            rto: RTO_INITIAL,
            retries: 0,
            dup_acks: 0,
            rtx_at: None,
            ack_at: None,
            read_at: None,
            ka_at: None,
            ka_probes: 0,
            stopped_reading: None,
            resume_at: None,
            resumed_reading: None,
            close_at: None,
        }
    }

    /// Whether the application is not reading now.
    pub fn reading_stopped(&self) -> bool {
        self.stopped_reading.is_some() && self.resumed_reading.is_none()
    }

    /// Open a connection to `remote`: the returned conn has queued its SYN in `out`.
    pub fn connect(
        local: SocketAddr,
        remote: SocketAddr,
        iss: u32,
        params: GuestParams,
        send: Vec<u8>,
        now: Instant,
        out: &mut Vec<Segment>,
    ) -> GuestConn {
        let mut c = GuestConn::new(local, remote, iss, params, send, GuestState::SynSent);
        c.snd_nxt = iss.wrapping_add(1);
        c.snd_max = c.snd_nxt;
        out.push(c.syn(SYN, 0));
        c.rtx_at = Some(now + c.rto);
        c
    }

    /// Wait for the engine to open a connection from `remote` to `local`.
    pub fn listen(
        local: SocketAddr,
        remote: SocketAddr,
        iss: u32,
        params: GuestParams,
        send: Vec<u8>,
    ) -> GuestConn {
        GuestConn::new(local, remote, iss, params, send, GuestState::Listen)
    }

    /// How this connection behaves.
    pub fn params(&self) -> GuestParams {
        self.params
    }

    /// Whether the connection has ended (any outcome).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, GuestState::Closed(_))
    }

    /// The outcome, once closed.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.state {
            GuestState::Closed(o) => Some(o),
            _ => None,
        }
    }

    /// The earliest timer.
    pub fn deadline(&self) -> Option<Instant> {
        [
            self.rtx_at,
            self.ack_at,
            self.read_at,
            self.ka_at,
            self.resume_at,
            self.close_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn window_field(&self, in_syn: bool) -> u16 {
        let free = self.params.rcv_buf.saturating_sub(self.unread);
        let scaled = if in_syn { free } else { free >> self.rcv_scale };
        scaled.min(usize::from(u16::MAX)) as u16
    }

    fn segment(&self, seq: u32, flags: TcpFlags, payload: &[u8]) -> Segment {
        let mut s = Segment::new(self.local, self.remote, seq, self.rcv_nxt, flags);
        s.window = self.window_field(false);
        s.payload = payload.to_vec();
        s
    }

    fn syn(&self, flags: TcpFlags, ack: u32) -> Segment {
        let mut s = Segment::new(self.local, self.remote, self.iss, ack, flags);
        s.window = self.window_field(true);
        s.mss = Some(self.params.mss);
        s.window_scale = self.params.wscale;
        s
    }

    fn ack_now(&mut self, out: &mut Vec<Segment>) {
        self.ack_at = None;
        out.push(self.segment(self.snd_nxt, ACK, b""));
    }

    fn data_end(&self) -> u32 {
        self.iss
            .wrapping_add(1)
            .wrapping_add(self.send.len() as u32)
    }

    fn fin_wanted(&self) -> bool {
        self.params.close_first || self.fin_received
    }

    fn abort(&mut self, out: &mut Vec<Segment>) {
        out.push(self.segment(self.snd_nxt, RST | ACK, b""));
        self.close(Outcome::Aborted);
    }

    fn close(&mut self, outcome: Outcome) {
        self.state = GuestState::Closed(outcome);
        self.rtx_at = None;
        self.ack_at = None;
        self.read_at = None;
        self.ka_at = None;
        self.resume_at = None;
        self.close_at = None;
    }

    /// The reply of a closed port or connection to `seg` (RFC 9293 §3.10.7.1).
    pub fn reset_for(seg: &Segment) -> Option<Segment> {
        if seg.has(RST) {
            return None;
        }
        let len = seg.payload.len() as u32 + u32::from(seg.has(SYN)) + u32::from(seg.has(FIN));
        let mut r = if seg.has(ACK) {
            Segment::new(seg.dst, seg.src, seg.ack, 0, RST)
        } else {
            Segment::new(seg.dst, seg.src, 0, seg.seq.wrapping_add(len), RST | ACK)
        };
        r.window = 0;
        Some(r)
    }

    /// A segment from the engine arrived.
    pub fn on_segment(
        &mut self,
        seg: &Segment,
        now: Instant,
        rng: &mut Rng,
        out: &mut Vec<Segment>,
    ) {
        match self.state {
            GuestState::Closed(Outcome::Completed) => {
                // TIME-WAIT: acknowledge whatever is retransmitted to us.
                if !seg.has(RST) {
                    self.ack_now(out);
                }
            }
            GuestState::Closed(_) => out.extend(GuestConn::reset_for(seg)),
            GuestState::Listen => self.in_listen(seg, now, out),
            GuestState::SynSent => self.in_syn_sent(seg, now, out),
            GuestState::SynRcvd => {
                if seg.has(RST) {
                    if seg.seq == self.rcv_nxt {
                        self.close(Outcome::Reset);
                    }
                } else if seg.has(SYN) && !seg.has(ACK) {
                    if Some(seg.seq) == self.irs {
                        out.push(self.syn(SYN | ACK, self.rcv_nxt)); // retransmitted SYN
                    }
                } else if seg.has(ACK) && lt(self.iss, seg.ack) && le(seg.ack, self.snd_max) {
                    self.state = GuestState::Established;
                    self.snd_una = self.iss.wrapping_add(1);
                    self.snd_wl1 = seg.seq.wrapping_sub(1);
                    self.rtx_at = None;
                    self.retries = 0;
                    self.rto = RTO_INITIAL;
                    self.established(seg, now, rng, out);
                } else if seg.has(ACK) {
                    out.extend(GuestConn::reset_for(seg));
                }
            }
            GuestState::Established => self.established(seg, now, rng, out),
        }
    }

    fn in_listen(&mut self, seg: &Segment, now: Instant, out: &mut Vec<Segment>) {
        if seg.has(RST) {
            return;
        }
        if seg.has(ACK) || !seg.has(SYN) {
            out.extend(GuestConn::reset_for(seg));
            return;
        }
        self.irs = Some(seg.seq);
        self.rcv_nxt = seg.seq.wrapping_add(1);
        let scaling = seg.window_scale.is_some() && self.params.wscale.is_some();
        if !scaling {
            self.params.wscale = None;
        }
        self.snd_scale = if scaling {
            seg.window_scale.unwrap_or(0)
        } else {
            0
        };
        self.rcv_scale = if scaling {
            self.params.wscale.unwrap_or(0)
        } else {
            0
        };
        self.snd_wnd = u32::from(seg.window);
        self.snd_nxt = self.iss.wrapping_add(1);
        self.snd_max = self.snd_nxt;
        self.state = GuestState::SynRcvd;
        out.push(self.syn(SYN | ACK, self.rcv_nxt));
        self.rtx_at = Some(now + self.rto);
    }

    fn in_syn_sent(&mut self, seg: &Segment, now: Instant, out: &mut Vec<Segment>) {
        let ack_ok = seg.has(ACK) && seg.ack == self.iss.wrapping_add(1);
        if seg.has(ACK) && !ack_ok {
            if !seg.has(RST) {
                out.extend(GuestConn::reset_for(seg));
            }
            return;
        }
        if seg.has(RST) {
            if ack_ok {
                self.close(Outcome::Reset);
            }
            return;
        }
        if !(seg.has(SYN) && ack_ok) {
            return;
        }
        self.irs = Some(seg.seq);
        self.rcv_nxt = seg.seq.wrapping_add(1);
        let scaling = seg.window_scale.is_some() && self.params.wscale.is_some();
        self.snd_scale = if scaling {
            seg.window_scale.unwrap_or(0)
        } else {
            0
        };
        self.rcv_scale = if scaling {
            self.params.wscale.unwrap_or(0)
        } else {
            0
        };
        self.snd_una = seg.ack;
        self.snd_wnd = u32::from(seg.window); // never scaled in a SYN (RFC 7323 §2.2)
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        self.state = GuestState::Established;
        self.rtx_at = None;
        self.retries = 0;
        self.rto = RTO_INITIAL;
        self.ka_at = Some(now + KEEPALIVE_IDLE);
        self.ack_now(out);
        self.output(now, out);
    }

    fn established(&mut self, seg: &Segment, now: Instant, rng: &mut Rng, out: &mut Vec<Segment>) {
        let len = seg.payload.len() as u32;
        let window_end = self
            .rcv_nxt
            .wrapping_add(self.params.rcv_buf.saturating_sub(self.unread) as u32);
        if seg.has(RST) {
            // RFC 5961 §3.2.
            if seg.seq == self.rcv_nxt {
                self.close(Outcome::Reset);
            } else if le(self.rcv_nxt, seg.seq) && lt(seg.seq, window_end) {
                self.ack_now(out);
            }
            return;
        }
        if seg.has(SYN) {
            self.ack_now(out); // RFC 5961 §4.2 challenge ACK (or a SYN-ACK repeated)
            return;
        }
        if !seg.has(ACK) {
            return;
        }
        self.ka_at = Some(now + KEEPALIVE_IDLE);
        self.ka_probes = 0;
        self.on_ack(seg, now);
        let mut immediate = false;
        let mut delayed = false;
        if len > 0 || seg.has(FIN) {
            let end = seg.seq.wrapping_add(len);
            if lt(self.rcv_nxt, seg.seq) {
                immediate = true; // a gap: duplicate ACK
            } else if self.fin_received {
                immediate = true; // a retransmission after the FIN
            } else {
                if lt(self.rcv_nxt, end) {
                    let skip = self.rcv_nxt.wrapping_sub(seg.seq) as usize;
                    let room = self.params.rcv_buf.saturating_sub(self.unread);
                    let take = (seg.payload.len() - skip).min(room);
                    self.received
                        .extend_from_slice(&seg.payload[skip..skip + take]);
                    self.rcv_nxt = self.rcv_nxt.wrapping_add(take as u32);
                    self.unread += take;
                    if let Some(stall) = self.params.stall {
                        if self.stopped_reading.is_none() && self.received.len() >= stall.after {
                            self.stopped_reading = Some(now);
                            self.resume_at = stall.lasting.map(|d| now + d);
                            self.close_at = stall.closes_after.map(|d| now + d);
                            self.read_at = None;
                        }
                    }
                    if take > 0 && self.read_at.is_none() && !self.reading_stopped() {
                        let d = rng.below(self.params.read_delay.as_micros() as u64 + 1);
                        self.read_at = Some(now + Duration::from_micros(d));
                    }
                    if skip + take < seg.payload.len() {
                        immediate = true; // clipped by our window
                    } else {
                        delayed = true;
                    }
                } else {
                    immediate = true; // old data
                }
                if seg.has(FIN) && self.rcv_nxt == end {
                    self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
                    self.fin_received = true;
                    immediate = true;
                }
            }
        }
        let before = out.len();
        self.output(now, out);
        let acked = out.len() > before; // what output sent carries the current ACK
        if immediate && !acked {
            self.ack_now(out);
        } else if delayed && self.ack_at.is_none() {
            let d = rng.below(self.params.ack_delay.as_micros() as u64 + 1);
            self.ack_at = Some(now + Duration::from_micros(d));
        }
        if self.fin_received && self.fin_acked {
            if self.ack_at.is_some() {
                self.ack_now(out);
            }
            self.close(Outcome::Completed);
        }
    }

    fn on_ack(&mut self, seg: &Segment, now: Instant) {
        if lt(self.snd_max, seg.ack) {
            return; // acknowledges something never sent: ignored
        }
        let window = u32::from(seg.window) << self.snd_scale;
        if lt(self.snd_una, seg.ack) {
            self.snd_una = seg.ack;
            if lt(self.snd_nxt, self.snd_una) {
                self.snd_nxt = self.snd_una;
            }
            if self.snd_max == self.data_end().wrapping_add(1) && seg.ack == self.snd_max {
                self.fin_acked = true;
            }
            self.retries = 0;
            self.rto = RTO_INITIAL;
            self.dup_acks = 0;
            self.rtx_at = (self.snd_una != self.snd_max).then(|| now + self.rto);
        } else if seg.ack == self.snd_una
            && seg.payload.is_empty()
            && !seg.has(FIN)
            && window == self.snd_wnd
            && self.snd_una != self.snd_max
        {
            self.dup_acks += 1;
            if self.dup_acks == 3 {
                self.snd_nxt = self.snd_una; // fast retransmit, go-back-N
            }
        }
        if lt(self.snd_wl1, seg.seq) || (self.snd_wl1 == seg.seq && le(self.snd_wl2, seg.ack)) {
            self.snd_wnd = window;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
        }
        if self.snd_wnd == 0 {
            // RFC 9293 §3.8.6.1: a receiver that keeps answering probes keeps the
            // connection open however long its window stays closed (Linux resets
            // its probe count on every ACK). The backed-off interval stays.
            self.retries = 0;
        }
    }

    /// Send what the window allows, then the FIN when due. With `force`, send one
    /// segment even into a closed window (a retransmission or window probe).
    fn send_more(&mut self, now: Instant, force: bool, out: &mut Vec<Segment>) {
        if self.state != GuestState::Established {
            return;
        }
        let mut forced = force;
        let mss = u32::from(self.params.mss);
        for _ in 0..64 {
            let data_end = self.data_end();
            if lt(self.snd_nxt, data_end) {
                let limit = self.snd_una.wrapping_add(self.snd_wnd);
                let usable = limit.wrapping_sub(self.snd_nxt) as i32;
                let usable = if usable > 0 {
                    usable as u32
                } else if forced {
                    1
                } else {
                    break;
                };
                forced = false;
                let len = mss.min(data_end.wrapping_sub(self.snd_nxt)).min(usable);
                let off = self.snd_nxt.wrapping_sub(self.iss.wrapping_add(1)) as usize;
                let seg =
                    self.segment(self.snd_nxt, ACK | PSH, &self.send[off..off + len as usize]);
                out.push(seg);
                self.ack_at = None;
                self.snd_nxt = self.snd_nxt.wrapping_add(len);
            } else if self.snd_nxt == data_end && self.fin_wanted() {
                out.push(self.segment(self.snd_nxt, FIN | ACK, b""));
                self.ack_at = None;
                self.snd_nxt = self.snd_nxt.wrapping_add(1);
                break;
            } else {
                break;
            }
            if lt(self.snd_max, self.snd_nxt) {
                self.snd_max = self.snd_nxt;
            }
        }
        if lt(self.snd_max, self.snd_nxt) {
            self.snd_max = self.snd_nxt;
        }
        let pending = lt(self.snd_una, self.snd_max)
            || lt(self.snd_nxt, self.data_end())
            || (self.fin_wanted() && !self.fin_acked);
        if pending && self.rtx_at.is_none() {
            self.rtx_at = Some(now + self.rto);
        }
    }

    fn output(&mut self, now: Instant, out: &mut Vec<Segment>) {
        self.send_more(now, false, out);
    }

    /// Run the timers due at `now`.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<Segment>) {
        if self.close_at.is_some_and(|t| t <= now) {
            self.abort(out);
            return;
        }
        if self.ack_at.is_some_and(|t| t <= now) {
            self.ack_now(out);
        }
        if self.resume_at.is_some_and(|t| t <= now) {
            self.resume_at = None;
            self.resumed_reading = Some(now);
            self.read_at = Some(now);
        }
        if self.read_at.is_some_and(|t| t <= now) && self.reading_stopped() {
            self.read_at = None;
        }
        if self.read_at.is_some_and(|t| t <= now) {
            self.read_at = None;
            let was_small =
                self.params.rcv_buf.saturating_sub(self.unread) < usize::from(self.params.mss);
            self.unread = 0;
            if was_small && self.state == GuestState::Established {
                self.ack_now(out); // window update
            }
        }
        if self.ka_at.is_some_and(|t| t <= now) && self.state == GuestState::Established {
            // RFC 9293 §3.8.4: a probe one byte before SND.NXT, with no data.
            if self.ka_probes >= KEEPALIVE_PROBES {
                self.abort(out);
                return;
            }
            self.ka_probes += 1;
            out.push(self.segment(self.snd_nxt.wrapping_sub(1), ACK, b""));
            self.ka_at = Some(now + Duration::from_secs(1));
        }
        if self.rtx_at.is_none_or(|t| t > now) {
            return;
        }
        self.rtx_at = None;
        self.retries += 1;
        if self.retries > MAX_RETRIES {
            self.abort(out);
            return;
        }
        self.rto = (self.rto * 2).min(RTO_MAX);
        match self.state {
            GuestState::SynSent => out.push(self.syn(SYN, 0)),
            GuestState::SynRcvd => out.push(self.syn(SYN | ACK, self.rcv_nxt)),
            GuestState::Established => {
                self.snd_nxt = self.snd_una;
                self.dup_acks = 0;
                self.send_more(now, true, out);
            }
            _ => return,
        }
        self.rtx_at = Some(now + self.rto);
    }
}
