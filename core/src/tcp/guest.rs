//! Segments from the guest (RFC 9293 §3.10.7 "SEGMENT ARRIVES", simplified by the
//! fact that the host kernel does the real TCP toward the peer).

use super::conn::{
    seq_le, seq_lt, TcpConn, TcpState, TimerKind, DEFAULT_GUEST_MSS, MAX_GUEST_WINDOW_SCALE,
    MAX_WINDOW, OUR_WINDOW_SCALE,
};
use super::segment::{Header, SynOptions, ACK, FIN, RST, SYN};
use super::{
    abort_both, destroy, host, host_failed, isn, load, mss_for_guest, reset_guest, send_ack,
    send_control, sock_of, store,
};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, InsertError, Pif};
use crate::fwd;
use crate::io::{Family, Host, HostError, Op, OpResult, Transport};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{tcp, IpProtocol};
use core::net::{IpAddr, SocketAddr};

/// The fields of a guest segment the translator uses.
#[derive(Debug, Clone, Copy)]
struct Incoming<'p> {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    mss: Option<u16>,
    window_scale: Option<u8>,
    /// TSval and TSecr (RFC 7323 §3).
    timestamp: Option<(u32, u32)>,
    payload: &'p [u8],
}

impl<'p> Incoming<'p> {
    fn parse(bytes: &'p [u8]) -> Option<Incoming<'p>> {
        let packet = tcp::Packet::new_checked(bytes).ok()?;
        let repr = tcp::Repr::parse(&packet).ok()?;
        let header_len = packet.header_len();
        let payload = packet.into_inner().get(header_len..)?;
        Some(Incoming {
            src_port: repr.src_port,
            dst_port: repr.dst_port,
            seq: repr.seq_number,
            ack: repr.ack_number,
            flags: repr.flags.bits(),
            window: repr.window_len,
            mss: repr.max_seg_size,
            window_scale: repr.window_scale,
            timestamp: repr.timestamp,
            payload,
        })
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Sequence space the segment occupies (RFC 9293 §3.4: SYN and FIN count).
    fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.has(SYN)) + u32::from(self.has(FIN))
    }
}

/// Handle one TCP segment from the guest, `src` → `dst`.
pub(crate) fn from_guest<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    src: IpAddr,
    dst: IpAddr,
    bytes: &[u8],
    host: &mut H,
) {
    let Some(seg) = Incoming::parse(bytes) else {
        e.stats.record_drop(DropReason::TcpMalformed);
        return;
    };
    if seg.src_port == 0 || seg.dst_port == 0 || !is_unicast(&dst) || !is_unicast(&src) {
        e.stats.record_drop(DropReason::BadAddress);
        return;
    }
    let key = FlowKey {
        pif: Pif::Tap,
        protocol: IpProtocol::Tcp,
        our_addr: dst,
        our_port: seg.dst_port,
        endpoint_addr: src,
        endpoint_port: seg.src_port,
    };
    match e.flows.lookup(&key) {
        Some((id, _)) => on_segment(e, now, id, &seg, host),
        None if seg.has(SYN) && !seg.has(ACK) && !seg.has(RST) => open(e, now, key, &seg, host),
        None => no_connection(e, &key, &seg, host),
    }
}

fn is_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_loopback())
        }
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast() || v6.is_loopback()),
    }
}

/// A segment for no connection (RFC 9293 §3.10.7.1, "CLOSED"): answer with RST unless
/// it is itself a RST.
fn no_connection<H: Host>(e: &mut Engine<'_>, key: &FlowKey, seg: &Incoming<'_>, host: &mut H) {
    e.stats.record_drop(DropReason::TcpNoConnection);
    if seg.has(RST) {
        return;
    }
    let h = if seg.has(ACK) {
        Header {
            seq: seg.ack,
            ack: 0,
            flags: RST,
            window: 0,
            options: None,
            timestamps: None,
        }
    } else {
        Header {
            seq: 0,
            ack: seg.seq.wrapping_add(seg.seg_len()),
            flags: RST | ACK,
            window: 0,
            options: None,
            timestamps: None,
        }
    };
    send_control(e, key, &h, host);
}

/// A SYN for a new connection: start the host connect. The guest gets its SYN-ACK only
/// once the host connection is up, or a RST as soon as it fails.
fn open<H: Host>(e: &mut Engine<'_>, now: Instant, key: FlowKey, seg: &Incoming<'_>, host: &mut H) {
    let target = fwd::target_from_guest(&e.config, SocketAddr::new(key.our_addr, key.our_port));
    let guest_wscale = seg.window_scale.map(|w| w.min(MAX_GUEST_WINDOW_SCALE));
    let our_isn = isn(e, &key, now);
    let mut conn = TcpConn {
        state: TcpState::Connecting,
        our_isn,
        seq_to_guest: our_isn,
        seq_acked_by_guest: our_isn,
        seq_from_guest: seg.seq.wrapping_add(1),
        seq_acked_to_guest: seg.seq.wrapping_add(1),
        guest_window: u32::from(seg.window),
        guest_wscale: guest_wscale.unwrap_or(0),
        our_wscale: if guest_wscale.is_some() {
            OUR_WINDOW_SCALE
        } else {
            0
        },
        guest_mss: seg.mss.unwrap_or(DEFAULT_GUEST_MSS).max(64),
        ts_recent: seg.timestamp.map(|(value, _)| value),
        ..TcpConn::placeholder()
    };
    let id = match e.flows.insert(Flow::Tcp(conn), [Some(key), None]) {
        Ok(id) => id,
        Err(InsertError::Full) => {
            // A full table refuses politely: the guest sees "connection refused".
            e.stats.record_drop(DropReason::FlowTableFull);
            e.stats.tcp_refused += 1;
            let mut refused = conn;
            refused.seq_to_guest = 0;
            reset_guest(e, &key, &refused, host);
            return;
        }
        Err(_) => {
            e.stats.record_drop(DropReason::TcpNoConnection);
            return;
        }
    };
    conn.sock = sock_of(id);
    e.stats.tcp_opened += 1;
    let refuse = |e: &mut Engine<'_>, conn: &TcpConn, host: &mut H| {
        let mut refused = *conn;
        refused.seq_to_guest = 0;
        reset_guest(e, &key, &refused, host);
        destroy(e, id, conn, true, host);
    };
    if target.ip().is_unspecified() || target.port() == 0 {
        refuse(e, &conn, host);
        return;
    }
    let family = Family::of(&target.ip());
    if let OpResult::Err(_) = host.exec(Op::Open {
        sock: conn.sock,
        family,
        transport: Transport::Tcp,
        ns: crate::io::Namespace::Host,
    }) {
        e.stats.record_drop(DropReason::HostSocketFailed);
        refuse(e, &conn, host);
        return;
    }
    host.exec(Op::SetMaxSeg {
        sock: conn.sock,
        mss: conn.guest_mss,
    });
    match host.exec(Op::Connect {
        sock: conn.sock,
        addr: target,
    }) {
        OpResult::Done | OpResult::Len(_) => {
            store(e, id, conn);
            host::connected(e, now, id, host);
        }
        OpResult::Err(HostError::InProgress) | OpResult::Err(HostError::WouldBlock) => {
            host::watch(&mut conn, host);
            store(e, id, conn);
        }
        _ => refuse(e, &conn, host),
    }
}

/// The SYN-ACK for a guest-initiated connection whose host side is up (with
/// timestamps if the guest's SYN offered them, RFC 7323 §3.2).
pub(super) fn syn_ack(e: &Engine<'_>, now: Instant, key: &FlowKey, c: &TcpConn) -> Header {
    Header {
        seq: c.our_isn,
        ack: c.seq_from_guest,
        flags: SYN | ACK,
        // RFC 7323 §2.2: the window in a SYN segment is never scaled.
        window: c.window_to_guest.min(u32::from(u16::MAX)) as u16,
        options: Some(SynOptions {
            mss: mss_for_guest(&e.config, &key.our_addr),
            window_scale: (c.our_wscale != 0).then_some(c.our_wscale),
        }),
        timestamps: c.timestamps(now),
    }
}

/// Answer an unacceptable ACK during a handshake with `<SEQ=SEG.ACK><CTL=RST>`
/// (RFC 9293 §3.10.7.3, §3.10.7.4).
fn reject_ack<H: Host>(e: &mut Engine<'_>, key: &FlowKey, seg: &Incoming<'_>, host: &mut H) {
    e.stats.record_drop(DropReason::TcpOutOfWindow);
    let h = Header {
        seq: seg.ack,
        ack: 0,
        flags: RST,
        window: 0,
        options: None,
        timestamps: None,
    };
    send_control(e, key, &h, host);
}

/// A RST for an existing connection.
fn on_reset<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    key: &FlowKey,
    mut c: TcpConn,
    seg: &Incoming<'_>,
    host: &mut H,
) {
    match c.state {
        // The host connect is pending: the guest gave up on its SYN.
        TcpState::Connecting => destroy(e, id, &c, true, host),
        // RFC 9293 §3.10.7.3: in SYN-SENT a RST counts only if it acknowledges our
        // SYN; without that ACK it is dropped, unanswered.
        TcpState::SynSent => {
            if seg.has(ACK) && seg.ack == c.our_isn.wrapping_add(1) {
                destroy(e, id, &c, true, host);
            } else {
                e.stats.record_drop(DropReason::TcpOutOfWindow);
            }
        }
        // RFC 5961 §3.2: exactly at RCV.NXT it resets; elsewhere in the receive window
        // it earns a challenge ACK; outside the window it is dropped silently.
        _ if seg.seq == c.seq_from_guest => destroy(e, id, &c, true, host),
        _ if seg.seq.wrapping_sub(c.seq_from_guest) < c.window_to_guest => {
            challenge_ack(e, now, key, &mut c, host);
            store(e, id, c);
        }
        _ => e.stats.record_drop(DropReason::TcpOutOfWindow),
    }
}

/// Answer an inexact RST or a SYN on a synchronized connection with an ACK from
/// SND.NXT (RFC 5961 §3.2, §4.2), which a guest that really has the connection takes
/// as a hint and a blind attacker cannot use.
fn challenge_ack<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    key: &FlowKey,
    c: &mut TcpConn,
    host: &mut H,
) {
    e.stats.record_drop(DropReason::TcpOutOfWindow);
    if c.state == TcpState::SynAckSent {
        // Our SYN is not acknowledged yet: no window to re-check, only SND.NXT.
        let h = Header {
            seq: c.seq_to_guest,
            ack: c.seq_from_guest,
            flags: ACK,
            window: super::window_for(c, host),
            options: None,
            timestamps: c.timestamps(now),
        };
        send_control(e, key, &h, host);
    } else {
        send_ack(e, now, key, c, host);
    }
}

/// A segment for an existing connection.
fn on_segment<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    seg: &Incoming<'_>,
    host: &mut H,
) {
    let Some((key, mut c)) = load(e, id) else {
        return;
    };

    if seg.has(RST) {
        on_reset(e, now, id, &key, c, seg, host);
        return;
    }

    if let (Some(recent), Some((value, _))) = (c.ts_recent, seg.timestamp) {
        // RFC 7323 §4.3: echo the newest TSval of a segment that starts at or before
        // the last ACK we sent — the one that filled a hole, after a loss.
        if seq_le(seg.seq, c.seq_acked_to_guest) && seq_le(recent, value) {
            c.ts_recent = Some(value);
        }
    }
    let completes_handshake = c.state == TcpState::SynAckSent;
    match c.state {
        // Retransmitted SYNs while the host connect is pending: the SYN-ACK follows it.
        TcpState::Connecting => return,
        TcpState::SynSent => {
            if seg.has(SYN) && seg.has(ACK) && seg.ack == c.our_isn.wrapping_add(1) {
                c.seq_from_guest = seg.seq.wrapping_add(1);
                c.seq_acked_to_guest = c.seq_from_guest;
                c.seq_acked_by_guest = seg.ack;
                c.seq_to_guest = seg.ack;
                c.seq_max_to_guest = seg.ack;
                match seg.window_scale {
                    Some(ws) => c.guest_wscale = ws.min(MAX_GUEST_WINDOW_SCALE),
                    None => {
                        c.guest_wscale = 0;
                        c.our_wscale = 0;
                    }
                }
                c.guest_mss = seg.mss.unwrap_or(DEFAULT_GUEST_MSS).max(64);
                // Never scaled in a SYN (RFC 7323 §2.2).
                c.guest_window = u32::from(seg.window);
                // We offered timestamps in our SYN: on if the guest's answer has them.
                c.ts_recent = seg.timestamp.map(|(value, _)| value);
                c.state = TcpState::Established;
                c.timer = None;
                c.retries = 0;
                host.exec(Op::SetMaxSeg {
                    sock: c.sock,
                    mss: c.guest_mss,
                });
                send_ack(e, now, &key, &mut c, host);
                host::watch(&mut c, host);
                if (c.host_data_early || c.host_eof)
                    && host::pump(e, now, &key, &mut c, host) == host::Pumped::HostFailed
                {
                    host_failed(e, id, &key, &c, host);
                    return;
                }
                store(e, id, c);
            } else if seg.has(ACK) {
                // RFC 9293 §3.10.7.3: an unacceptable ACK in SYN-SENT gets a RST.
                reject_ack(e, &key, seg, host);
            }
            return;
        }
        TcpState::SynAckSent => {
            if seg.has(SYN) && !seg.has(ACK) {
                let h = syn_ack(e, now, &key, &c);
                send_control(e, &key, &h, host);
                return;
            }
            if seg.has(SYN) {
                // RFC 9293 §3.10.7.4 with RFC 5961 §4.2: the SYN check comes before
                // the ACK's, so this segment completes nothing; the handshake timer
                // keeps running.
                challenge_ack(e, now, &key, &mut c, host);
                store(e, id, c);
                return;
            }
            if !seg.has(ACK) {
                return;
            }
            if seg.ack != c.our_isn.wrapping_add(1) {
                reject_ack(e, &key, seg, host);
                return;
            }
            c.state = TcpState::Established;
            c.seq_acked_by_guest = seg.ack;
            c.seq_to_guest = seg.ack;
            c.seq_max_to_guest = seg.ack;
            c.timer = None;
            c.retries = 0;
            host::watch(&mut c, host);
        }
        TcpState::Established => {}
    }

    if seg.has(SYN) {
        // RFC 5961 §4.2: a SYN on a synchronized connection gets a challenge ACK.
        challenge_ack(e, now, &key, &mut c, host);
        store(e, id, c);
        return;
    }
    if !seg.has(ACK) {
        e.stats.record_drop(DropReason::TcpOutOfWindow);
        return;
    }

    if !process_ack(e, now, &key, &mut c, seg, host) {
        store(e, id, c);
        return;
    }
    if !process_data(e, now, id, &key, &mut c, seg, host) {
        return; // the flow was torn down
    }
    // Also when the socket looked drained: a reply to what the guest just sent is
    // often there already, and taking it now saves a wakeup and a separate ACK
    // (measured: TCP RR 0.5x direct without this peek, 0.6-0.7x with it). Not for
    // the bare ACK that completes the handshake when the host sent nothing yet: that
    // peek would only fail (one system call in ~30 of a short connection).
    if (!completes_handshake || !seg.payload.is_empty() || c.host_data_early || c.host_eof)
        && host::pump(e, now, &key, &mut c, host) == host::Pumped::HostFailed
    {
        host_failed(e, id, &key, &c, host);
        return;
    }
    if c.fully_closed() {
        destroy(e, id, &c, false, host);
        return;
    }
    host::arm_timer(e, now, &mut c);
    store(e, id, c);
}

/// Acknowledgement and window from the guest. Returns false if the segment must be
/// dropped (it acknowledged data we never sent).
fn process_ack<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    key: &FlowKey,
    c: &mut TcpConn,
    seg: &Incoming<'_>,
    host: &mut H,
) -> bool {
    // The guest is there: its probes are answered, and a half-closed connection's
    // silence starts again from now.
    let probing = c.guest_window == 0 || c.probes_unanswered > 0;
    c.probes_unanswered = 0;
    if matches!(c.timer, Some((_, TimerKind::Keepalive))) {
        c.timer = None;
    }
    if seq_lt(c.seq_to_guest, seg.ack) && !seq_lt(c.seq_max_to_guest, seg.ack) {
        // Data sent before a rewind: the guest has it, skip ahead.
        c.seq_to_guest = seg.ack;
        if c.fin_in_max && seg.ack == c.seq_max_to_guest {
            c.fin_sent = true;
        }
    }
    if seq_lt(c.seq_to_guest, seg.ack) {
        // RFC 9293 §3.10.7.4: an ACK for something not yet sent: ACK and drop.
        e.stats.record_drop(DropReason::TcpOutOfWindow);
        send_ack(e, now, key, c, host);
        return false;
    }
    let old_window = c.guest_window;
    c.guest_window = (u32::from(seg.window) << c.guest_wscale).min(MAX_WINDOW);
    if c.guest_window != old_window {
        // A window update is no duplicate ACK (RFC 5681 §2): counting starts over.
        c.dup_acks = 0;
    }
    if probing && c.guest_window > 0 {
        // The closed window opened: the probes' backoff was no retransmission's, and
        // a probe byte still unacknowledged is resent after a fresh timeout.
        c.retries = 0;
        if matches!(
            c.timer,
            Some((_, TimerKind::Persist | TimerKind::Retransmit))
        ) {
            c.timer = None;
        }
    }
    if seq_lt(c.seq_acked_by_guest, seg.ack) {
        let mut acked = seg.ack.wrapping_sub(c.seq_acked_by_guest);
        if c.fin_sent && !c.fin_acked && seq_le(c.fin_seq().wrapping_add(1), seg.ack) {
            c.fin_acked = true;
            acked -= 1;
        }
        if acked > 0 {
            host.exec(Op::Discard {
                sock: c.sock,
                len: acked as usize,
            });
        }
        c.seq_acked_by_guest = seg.ack;
        c.retries = 0;
        c.dup_acks = 0;
        if c.recover.is_some_and(|r| seq_lt(r, seg.ack)) {
            // Past everything the last rewind resent: duplicates mean loss again.
            c.recover = None;
        }
        if !c.awaiting_ack() {
            c.timer = None;
        } else {
            c.timer = Some((now + super::rto(0), TimerKind::Retransmit));
        }
    } else if seg.ack == c.seq_acked_by_guest
        && seg.payload.is_empty()
        && !seg.has(FIN)
        && c.guest_window == old_window
        && c.in_flight() > 0
    {
        // RFC 5681 §3.2: the third duplicate ACK triggers a fast retransmit, unless it
        // acknowledges no more than the last one resent (RFC 6582 §3.2 step 2): a
        // rewind resends the whole window, and the guest answers every copy it has.
        c.dup_acks = c.dup_acks.saturating_add(1);
        if c.dup_acks == 3 && c.recover.is_none() {
            e.stats.tcp_fast_retransmits += 1;
            c.recover = Some(c.seq_max_to_guest);
            host::rewind(c);
        }
    }
    true
}

/// Payload and FIN from the guest. Returns false if the flow was torn down.
fn process_data<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    key: &FlowKey,
    c: &mut TcpConn,
    seg: &Incoming<'_>,
    host: &mut H,
) -> bool {
    let fin = seg.has(FIN);
    if seg.payload.is_empty() && !fin {
        if seg.seq != c.seq_from_guest {
            // RFC 9293 §3.10.7.4: an unacceptable segment — here a keep-alive or a
            // zero-window probe carrying an old sequence number — is answered with an
            // ACK, which also tells the guest our current window.
            send_ack(e, now, key, c, host);
        }
        return true;
    }
    if c.guest_fin {
        // Anything after the guest's FIN is a retransmission: re-ACK it.
        send_ack(e, now, key, c, host);
        return true;
    }
    let len = seg.payload.len() as u32;
    if seq_lt(c.seq_from_guest, seg.seq) {
        // A gap: we keep no out-of-order data. The duplicate ACK tells the guest
        // where we are; it retransmits from there.
        e.stats.tcp_out_of_order += 1;
        send_ack(e, now, key, c, host);
        return true;
    }
    let skip = c.seq_from_guest.wrapping_sub(seg.seq);
    if skip > len || (skip == len && !fin) {
        // Entirely old (a retransmission or a keep-alive probe): re-ACK.
        send_ack(e, now, key, c, host);
        return true;
    }
    let data = &seg.payload[skip as usize..];
    let mut accepted = 0usize;
    if !data.is_empty() {
        match host.exec(Op::Send { sock: c.sock, data }) {
            OpResult::Len(n) => accepted = n.min(data.len()),
            OpResult::Err(HostError::WouldBlock) => {}
            OpResult::Err(_) => {
                abort_both(e, id, key, c, host);
                return false;
            }
            _ => accepted = data.len(),
        }
        c.seq_from_guest = c.seq_from_guest.wrapping_add(accepted as u32);
        c.window_to_guest = c
            .window_to_guest
            .saturating_sub(u32::try_from(accepted).unwrap_or(u32::MAX));
        if accepted < data.len() {
            // The socket is full: the next window is asked of the host.
            c.window_queried = 0;
            // The host took less than the window we offered: wait for send space,
            // then tell the guest to retransmit the rest.
            c.send_blocked = true;
            e.stats.tcp_send_blocked += 1;
        }
    }
    if fin && accepted == data.len() {
        c.seq_from_guest = c.seq_from_guest.wrapping_add(1);
        c.guest_fin = true;
        host.exec(Op::ShutdownWrite { sock: c.sock });
    }
    if fin || c.send_blocked {
        send_ack(e, now, key, c, host);
    } else {
        // In-order data: one ACK per batch of guest frames is enough (RFC 9293
        // §3.8.6.3 allows delaying ACKs; ours go out at the end of the same wakeup).
        super::defer_ack(e, now, id, key, c, host);
    }
    true
}
