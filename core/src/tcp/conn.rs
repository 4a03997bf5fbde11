//! The per-connection record of the tap-side TCP translator.
//!
//! There is no payload buffer here: data from the guest goes straight into the host
//! socket, and data for the guest stays in the host socket's receive queue until the
//! guest acknowledges it (it is peeked, not read). The record only tracks sequence
//! numbers on the guest side, windows, and timers.

use super::segment::Timestamps;
use crate::sockref::SockRef;
use crate::time::Instant;
use crate::wire::tcp::{self, SeqNumber};

/// Largest window we advertise or honour: 16 MiB, like passt (scale ≤ 8).
pub const MAX_WINDOW: u32 = 1 << 24;
/// Window scale we offer the guest (RFC 7323 §2.3): 65535 << 8 ≈ 16 MiB.
pub const OUR_WINDOW_SCALE: u8 = 8;
/// Largest window scale accepted from the guest (RFC 7323 §2.3).
pub const MAX_GUEST_WINDOW_SCALE: u8 = 14;
/// Guest MSS assumed when its SYN carries none (RFC 9293 §3.7.1: 536 for IPv4).
pub const DEFAULT_GUEST_MSS: u16 = 536;

/// `a` comes before `b` in sequence space (RFC 1982 serial number arithmetic).
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    tcp::seq_lt(SeqNumber(a), SeqNumber(b))
}

/// `a` comes before or equals `b` in sequence space.
#[inline]
pub fn seq_le(a: u32, b: u32) -> bool {
    tcp::seq_le(SeqNumber(a), SeqNumber(b))
}

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// The guest sent a SYN; our host `connect()` is in progress.
    Connecting,
    /// The host connection is up; we sent the guest a SYN-ACK and await its ACK.
    SynAckSent,
    /// We accepted a host connection and sent the guest a SYN; we await its SYN-ACK.
    SynSent,
    /// Both handshakes completed; data flows (possibly half-closed, see the flags).
    Established,
}

/// What a connection's timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// The guest has not completed the handshake (SYN-ACK or SYN unanswered).
    Handshake,
    /// Data or FIN we sent the guest is unacknowledged: retransmit.
    Retransmit,
    /// The guest's window is closed while data waits: probe it.
    Persist,
    /// Our FIN is acknowledged and the guest, silent, has not sent its own: ask
    /// whether it still has the connection (RFC 1122 §4.2.3.6 keep-alive), so that a
    /// guest whose FIN and RST were both lost does not hold the flow forever.
    Keepalive,
}

/// One translated TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct TcpConn {
    /// Life-cycle state.
    pub state: TcpState,
    /// The host socket.
    pub sock: SockRef,

    /// Next sequence number we send to the guest (SND.NXT).
    pub seq_to_guest: u32,
    /// Oldest sequence number the guest has not acknowledged (SND.UNA).
    pub seq_acked_by_guest: u32,
    /// Our initial sequence number toward the guest.
    pub our_isn: u32,
    /// Next sequence number expected from the guest (RCV.NXT).
    pub seq_from_guest: u32,
    /// Last acknowledgement number we sent the guest.
    pub seq_acked_to_guest: u32,
    /// Highest sequence number sent to the guest + 1 (survives rewinds).
    pub seq_max_to_guest: u32,
    /// `seq_max_to_guest` includes our FIN.
    pub fin_in_max: bool,

    /// The guest's receive window, in bytes (already scaled).
    pub guest_window: u32,
    /// Window scale the guest applies to the windows it sends (0 if none).
    pub guest_wscale: u8,
    /// Window scale we apply to the windows we send (0 if the guest did not offer
    /// scaling, RFC 7323 §1.3).
    pub our_wscale: u8,
    /// Largest segment the guest accepts.
    pub guest_mss: u16,
    /// The host socket's free send space as far as we know it, in bytes: the last
    /// answer of [`crate::io::Op::TcpInfo`] less what we sent to the socket since (a
    /// lower bound: only the remote's ACKs free space). The window we advertise.
    pub window_to_guest: u32,
    /// [`TcpConn::window_to_guest`] as the host last reported it (0: ask next time).
    pub window_queried: u32,

    /// The guest sent FIN; we shut down the host socket's sending side.
    pub guest_fin: bool,
    /// The host peer closed its side (EOF seen on the socket).
    pub host_eof: bool,
    /// The host socket became readable before the guest completed the handshake, so
    /// the first pump after it has something to peek (without this, it would only
    /// fail: the socket is registered from its start, so data brings an edge).
    pub host_data_early: bool,
    /// We sent our FIN to the guest (it occupies `fin_seq`).
    pub fin_sent: bool,
    /// The guest acknowledged our FIN.
    pub fin_acked: bool,
    /// A host send accepted less than the guest sent: the guest must retransmit.
    pub send_blocked: bool,
    /// The guest's window is full: stop reading the socket until it opens.
    pub stalled: bool,
    /// Consecutive duplicate ACKs from the guest (RFC 5681 §3.2 fast retransmit).
    pub dup_acks: u8,
    /// `seq_max_to_guest` when we last went back to resend (a fast retransmit or a
    /// timeout), until the guest acknowledges past it: duplicate ACKs meanwhile are
    /// answers to our own resent copies and trigger no further fast retransmit
    /// (RFC 6582 "recover", §3.2 step 2, §4).
    pub recover: Option<u32>,

    /// Retransmissions since the last forward progress (the backoff exponent).
    pub retries: u8,
    /// Zero-window or keep-alive probes sent since the guest last sent anything: a
    /// guest that answers its probes is never given up on (RFC 9293 §3.8.6.1).
    pub probes_unanswered: u8,
    /// When the timer fires, and why.
    pub timer: Option<(Instant, TimerKind)>,
    /// While the window we advertised is closed: when to look at the host socket's
    /// send space again and tell the guest if it opened (the kernel reports no
    /// writability for a buffer that drained without a failed send).
    pub window_recheck: Option<Instant>,
    /// Re-checks in a row that found the window still closed (the backoff exponent).
    pub window_rechecks: u8,
    /// Timestamps were negotiated with the guest (RFC 7323 §3.2): the TSval of its to
    /// echo (TS.Recent, §4.3). They give the guest a round-trip sample even from a
    /// retransmission, so its timeout backoff ends at the first ACK after a loss.
    pub ts_recent: Option<u32>,
    /// The socket is registered with the shim for all its readiness
    /// (`host::watch`).
    pub registered: bool,
    /// An ACK for in-order data is queued for the end of this batch
    /// ([`crate::Engine::flush`]).
    pub ack_due: bool,
}

/// Our timestamp clock at `now`: milliseconds (RFC 7323 §5.4 asks for 1 ms to 1 s a
/// tick), from `offset` so that connections do not share a clock.
pub fn ts_clock(now: Instant, offset: u32) -> u32 {
    ((now.as_nanos() / 1_000_000) as u32).wrapping_add(offset)
}

impl TcpConn {
    /// Bytes sent to the guest and not yet acknowledged (FIN excluded).
    pub fn in_flight(&self) -> u32 {
        let span = self.seq_to_guest.wrapping_sub(self.seq_acked_by_guest);
        if self.fin_sent && !self.fin_acked {
            span.saturating_sub(1)
        } else {
            span
        }
    }

    /// Something we sent the guest (data or FIN) is not acknowledged yet.
    pub fn awaiting_ack(&self) -> bool {
        self.in_flight() > 0 || (self.fin_sent && !self.fin_acked)
    }

    /// The earliest of the connection's deadlines.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.timer.map(|(at, _)| at), self.window_recheck) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The host's side is closed and acknowledged, the guest's still open, and
    /// nothing waits to go either way: only the guest can end the connection now.
    pub fn awaiting_guest_fin(&self) -> bool {
        self.fin_acked && !self.guest_fin && !self.awaiting_ack()
    }

    /// The timestamps option for a segment sent `now`, if negotiated: our clock in
    /// milliseconds from a per-connection offset (RFC 7323 §5.4), and TS.Recent.
    pub fn timestamps(&self, now: Instant) -> Option<Timestamps> {
        self.ts_recent.map(|echo| Timestamps {
            value: ts_clock(now, self.our_isn),
            echo,
        })
    }

    /// Sequence number our FIN occupies (valid once `fin_sent`).
    pub fn fin_seq(&self) -> u32 {
        self.seq_to_guest.wrapping_sub(1)
    }

    /// Both directions are finished: the guest's FIN was passed on, the host's EOF
    /// was passed on and acknowledged.
    pub fn fully_closed(&self) -> bool {
        self.guest_fin && self.host_eof && self.fin_acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(seq_lt(1, 2));
        assert!(seq_lt(u32::MAX, 0));
        assert!(seq_lt(u32::MAX - 10, 5));
        assert!(!seq_lt(5, u32::MAX - 10));
        assert!(seq_le(7, 7));
        assert!(!seq_lt(7, 7));
    }
}
