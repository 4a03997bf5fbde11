//! The tap-side TCP translator (passt-reference §3; RFC 9293).
//!
//! Each guest connection is terminated here and re-originated as an ordinary host
//! socket (and vice versa for forwarded ports), without payload buffers of our own:
//! - guest → host: a segment's payload is written straight into the host socket; we
//!   ACK the guest only what the socket accepted, and advertise a window that mirrors
//!   the socket's free send space so the guest never sends what cannot be taken;
//! - host → guest: data stays in the host socket's receive queue; it is *peeked* into
//!   frames, discarded only when the guest ACKs it, and re-peeked to retransmit.
//!
//! Readiness from the shim is edge-triggered: the translator always drains what it can
//! and resumes on its own (guest ACKs, window updates, timers) rather than expecting
//! to be told again.

pub mod conn;
mod guest;
mod host;
mod listen;
pub mod segment;
pub mod splice;

pub use conn::{TcpConn, TcpState, TimerKind};
pub(crate) use guest::from_guest;
pub(crate) use host::{on_socket, on_timer};

pub(crate) use listen::{
    add_ranges, close_range, retry_accepts, spliced_target, start_listeners, update_auto,
    AcceptRetry, AddError,
};
pub use listen::{
    Direction, ListenError, ACCEPT_BATCH, ACCEPT_RETRY_MAX, ACCEPT_RETRY_MIN, ACCEPT_RETRY_SLOTS,
};
pub use splice::SpliceConn;

use crate::config::Config;
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, Side};
use crate::frame::Link;
use crate::io::{Host, Op, OpResult, TcpInfo};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::ethernet::MacAddr;
use core::net::IpAddr;
use core::time::Duration;
use segment::{Header, ACK, RST};

/// How long the guest may take to complete a handshake (passt: 10 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Initial retransmission timeout (RFC 6298 §2.1: 1 s).
pub const RTO_INITIAL: Duration = Duration::from_secs(1);
/// Ceiling for the backed-off retransmission timeout (RFC 6298 §2.5 allows ≥ 60 s).
pub const RTO_MAX: Duration = Duration::from_secs(60);
/// Retransmissions without progress before the connection is reset (passt: 7).
pub const MAX_RETRIES: u8 = 7;
/// How long a connection may sit silent with only the guest's side open (our FIN
/// acknowledged) before we ask whether the guest still has it: Linux gives an
/// orphaned FIN-WAIT-2 socket as long (`tcp_fin_timeout`).
pub const HALF_CLOSED_IDLE: Duration = Duration::from_secs(60);
/// Listen backlog for forwarded ports (passt: 128).
pub const LISTEN_BACKLOG: u32 = 128;
/// How soon a closed window toward the guest is first re-checked against the host
/// socket's send space (passt: 10 ms, every time). Each check that finds it still
/// closed doubles the wait, up to [`WINDOW_RECHECK_MAX`]: a host peer that stopped
/// reading costs a wakeup a second, not a hundred.
pub const WINDOW_RECHECK: Duration = Duration::from_millis(10);
/// Longest wait between re-checks of a window that stays closed.
pub const WINDOW_RECHECK_MAX: Duration = Duration::from_secs(1);

/// The wait before the next re-check of a closed window, after `failed` checks that
/// found it still closed.
fn window_recheck_after(failed: u8) -> Duration {
    (WINDOW_RECHECK * (1u32 << failed.min(7))).min(WINDOW_RECHECK_MAX)
}
/// Most segments sent to the guest per call of the data pump, so that one busy
/// connection cannot starve the event loop.
pub const MAX_SEGMENTS_PER_PUMP: usize = 64;

/// Retransmission timeout after `retries` unanswered retransmissions (exponential
/// backoff, RFC 6298 §5.5).
pub fn rto(retries: u8) -> Duration {
    let shift = u32::from(retries.min(6));
    (RTO_INITIAL * (1 << shift)).min(RTO_MAX)
}

/// The MSS we announce to the guest: the MTU minus IP and TCP headers, rounded down to
/// a multiple of 4096 above that size so large segments align with pages (passt
/// reference §3.6: MTU 65520 gives 61440).
pub fn mss_for_guest(config: &Config, addr: &IpAddr) -> u16 {
    let headers = match addr {
        IpAddr::V4(_) => 40,
        IpAddr::V6(_) => 60,
    };
    let mtu = config.mtu.unwrap_or(crate::config::DEFAULT_MTU);
    let mss = mtu.saturating_sub(headers).max(536);
    if mss > 4096 {
        mss / 4096 * 4096
    } else {
        mss
    }
}

/// The link-layer ends for frames to the guest: broadcast until its MAC is learned.
fn link(e: &Engine<'_>) -> Link {
    Link {
        src: e.config.our_mac,
        dst: e.guest.mac.unwrap_or(MacAddr::BROADCAST),
    }
}

/// The socket handle of flow `id`.
fn sock_of(id: FlowId) -> SockRef {
    SockRef::new(
        SockKind::TcpConn,
        Side::Target as u8,
        id.generation,
        id.slot,
    )
}

/// The guest-facing key of a flow and a copy of its connection record.
fn load(e: &Engine<'_>, id: FlowId) -> Option<(FlowKey, TcpConn)> {
    let Some(Flow::Tcp(c)) = e.flows.get(id) else {
        return None;
    };
    let key = Side::BOTH.iter().find_map(|s| {
        e.flows
            .key(id, *s)
            .filter(|k| k.pif == crate::flow::Pif::Tap)
    })?;
    Some((*key, *c))
}

/// Write a connection record back and fold its timer into the engine's deadline.
fn store(e: &mut Engine<'_>, id: FlowId, c: TcpConn) {
    if let Some(at) = c.next_deadline() {
        e.note_deadline(at);
    }
    if let Some(Flow::Tcp(slot)) = e.flows.get_mut(id) {
        *slot = c;
    }
}

/// Send a segment without payload to the guest.
fn send_control<H: Host>(e: &mut Engine<'_>, key: &FlowKey, h: &Header, host: &mut H) {
    let l = link(e);
    match segment::write(&mut e.tx, l, key, h, 0) {
        Some(len) => e.transmit(len, host),
        None => e.stats.record_drop(DropReason::TxBufferTooSmall),
    }
}

/// The window to advertise: the host socket's free send space, scaled.
///
/// The space is asked of the host ([`Op::TcpInfo`], an `ioctl(SIOCOUTQ)` on Linux)
/// only when the lower bound we keep ([`TcpConn::window_to_guest`]: the last answer
/// less what we sent since) fell below half the last answer or below one segment:
/// advertising a little less than the socket could take never invites loss, and a
/// request/response exchange then asks once per many thousand transactions instead
/// of with every segment it sends to the guest.
fn window_for<H: Host>(c: &mut TcpConn, host: &mut H) -> u16 {
    let floor = (c.window_queried / 2).max(smallest_useful_window(c));
    if c.window_queried == 0 || c.window_to_guest < floor {
        if let Some(info) = tcp_info(c.sock, host) {
            c.window_to_guest = info.send_space.min(conn::MAX_WINDOW);
            c.window_queried = c.window_to_guest;
        }
    }
    (c.window_to_guest >> c.our_wscale).min(u32::from(u16::MAX)) as u16
}

/// Below this much send space the window we advertise is no use to the guest: less
/// than one of its segments, or less than one unit of our window scale (which
/// advertises as 0, RFC 7323 §2.3).
fn smallest_useful_window(c: &TcpConn) -> u32 {
    u32::from(c.guest_mss).max(1 << c.our_wscale)
}

fn tcp_info<H: Host>(sock: SockRef, host: &mut H) -> Option<TcpInfo> {
    match host.exec(Op::TcpInfo { sock }) {
        OpResult::TcpInfo(i) => Some(i),
        _ => None,
    }
}

/// ACK everything received from the guest, with a fresh window. A window too small
/// for a segment schedules a re-check of the host's send space.
fn send_ack<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    key: &FlowKey,
    c: &mut TcpConn,
    host: &mut H,
) {
    c.ack_due = false;
    let window = window_for(c, host);
    if c.window_to_guest < smallest_useful_window(c) && !c.guest_fin {
        // Keep a re-check already pending (and its backoff): this ACK changes nothing
        // about the host socket.
        c.window_recheck = c
            .window_recheck
            .or(Some(now + window_recheck_after(c.window_rechecks)));
    } else {
        c.window_recheck = None;
        c.window_rechecks = 0;
    }
    c.seq_acked_to_guest = c.seq_from_guest;
    let h = Header {
        seq: c.seq_to_guest,
        ack: c.seq_from_guest,
        flags: ACK,
        window,
        options: None,
        timestamps: c.timestamps(now),
    };
    send_control(e, key, &h, host);
}

/// Queue an ACK for the end of the batch, or send it now if the queue is full.
fn defer_ack<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    key: &FlowKey,
    c: &mut TcpConn,
    host: &mut H,
) {
    if c.ack_due {
        return;
    }
    if e.ack_queue.push(id).is_ok() {
        c.ack_due = true;
    } else {
        send_ack(e, now, key, c, host);
    }
}

/// Send the ACK queued for flow `id`, unless one went out since.
pub(crate) fn flush_ack<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((key, mut c)) = load(e, id) else {
        return;
    };
    if c.ack_due {
        send_ack(e, now, &key, &mut c, host);
        store(e, id, c);
    }
}

/// Reset the guest's side of the connection (RFC 9293 §3.10.7: RST with our current
/// sequence number and an ACK of what we received).
fn reset_guest<H: Host>(e: &mut Engine<'_>, key: &FlowKey, c: &TcpConn, host: &mut H) {
    e.stats.tcp_resets_sent += 1;
    let h = Header {
        seq: c.seq_to_guest,
        ack: c.seq_from_guest,
        flags: RST | ACK,
        window: 0,
        options: None,
        timestamps: None,
    };
    send_control(e, key, &h, host);
}

/// Tear a flow down: close (or abort) its socket and free its slot.
fn destroy<H: Host>(e: &mut Engine<'_>, id: FlowId, c: &TcpConn, abort: bool, host: &mut H) {
    host.exec(Op::Close {
        sock: c.sock,
        abort,
    });
    e.flows.remove(id);
    e.stats.tcp_closed += 1;
}

/// Reset both sides and free the flow.
fn abort_both<H: Host>(e: &mut Engine<'_>, id: FlowId, key: &FlowKey, c: &TcpConn, host: &mut H) {
    reset_guest(e, key, c, host);
    destroy(e, id, c, true, host);
}

/// A read found the host's side failed (its reset, reported once: no error event will
/// follow): count it, reset the guest, free the flow.
fn host_failed<H: Host>(e: &mut Engine<'_>, id: FlowId, key: &FlowKey, c: &TcpConn, host: &mut H) {
    e.stats.tcp_host_errors += 1;
    abort_both(e, id, key, c, host);
}

/// Initial sequence number toward the guest (RFC 6528 §3: a keyed hash of the
/// connection identifiers plus a 4 µs clock).
fn isn(e: &Engine<'_>, key: &FlowKey, now: Instant) -> u32 {
    let mut h = crate::flow::SipHasher24::new(e.isn_key.0, e.isn_key.1);
    key.hash_into(&mut h);
    let hash = h.finish();
    ((hash >> 32) as u32 ^ hash as u32).wrapping_add((now.as_nanos() / 4000) as u32)
}
