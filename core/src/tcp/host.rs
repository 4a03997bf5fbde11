//! The host side of the translator: connect completion, accepting forwarded
//! connections, pumping socket data to the guest, and timers.

use super::conn::{TcpConn, TcpState, TimerKind, DEFAULT_GUEST_MSS, OUR_WINDOW_SCALE};
use super::segment::{self, Header, SynOptions, ACK, FIN, PSH, SYN};
use super::{
    abort_both, destroy, host_failed, link, load, mss_for_guest, rto, send_ack, send_control,
    sock_of, store, tcp_info, window_for, HALF_CLOSED_IDLE, HANDSHAKE_TIMEOUT, MAX_RETRIES,
    MAX_SEGMENTS_PER_PUMP,
};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, Pif, Side};
use crate::frame;
use crate::fwd;
use crate::io::{Host, HostError, Interest, Op, OpResult, Readiness, TxOffload};
use crate::sockref::{SockKind, SockRef};
use crate::stats::{DropReason, TcpTimeout, Unanswered};
use crate::time::Instant;
use crate::wire::IpProtocol;

/// Register the connection's socket with the shim, once, for every readiness it has.
///
/// A tap-side connection needs no narrower interest: readiness is edge-triggered, a
/// writability edge comes only after a send found the socket full (exactly when the
/// connection waits for space, [`TcpConn::send_blocked`]), and the handlers ignore
/// what they do not need (data or EOF before the guest completes the handshake is
/// peeked by the first pump after it). Changing the interest as the connection moves
/// through its states cost the Linux shim one `epoll_ctl` each time, three per
/// short connection, where this costs one.
pub(super) fn watch<H: Host>(c: &mut TcpConn, host: &mut H) {
    if !c.registered {
        c.registered = true;
        host.exec(Op::Watch {
            sock: c.sock,
            interest: Interest {
                read: true,
                write: true,
            },
        });
    }
}

/// Go back to the oldest unacknowledged byte: everything after it is re-peeked and
/// sent again (the socket still holds it).
pub(super) fn rewind(c: &mut TcpConn) {
    c.seq_to_guest = c.seq_acked_by_guest;
    if c.fin_sent && !c.fin_acked {
        c.fin_sent = false;
    }
}

/// Keep the timer consistent with the connection's state after any change.
pub(super) fn arm_timer(e: &mut Engine<'_>, now: Instant, c: &mut TcpConn) {
    let waiting_ack = c.awaiting_ack();
    let persist = c.stalled && c.guest_window == 0;
    c.timer = match (c.state, c.timer) {
        (TcpState::Established, Some((at, TimerKind::Retransmit))) if waiting_ack => {
            Some((at, TimerKind::Retransmit))
        }
        (TcpState::Established, _) if waiting_ack => {
            Some((now + rto(c.retries), TimerKind::Retransmit))
        }
        (TcpState::Established, Some((at, TimerKind::Persist))) if persist => {
            Some((at, TimerKind::Persist))
        }
        (TcpState::Established, _) if persist => Some((now + rto(c.retries), TimerKind::Persist)),
        (TcpState::Established, Some((at, TimerKind::Keepalive))) if c.awaiting_guest_fin() => {
            Some((at, TimerKind::Keepalive))
        }
        (TcpState::Established, _) if c.awaiting_guest_fin() => {
            Some((now + HALF_CLOSED_IDLE, TimerKind::Keepalive))
        }
        (TcpState::Established, _) => None,
        (_, t) => t,
    };
    let _ = e;
}

/// Send a handshake segment to the guest; the socket is not read until the guest
/// completes the handshake.
fn send_handshake<H: Host>(
    e: &mut Engine<'_>,
    id: FlowId,
    key: &FlowKey,
    mut c: TcpConn,
    h: &Header,
    host: &mut H,
) {
    send_control(e, key, h, host);
    watch(&mut c, host);
    store(e, id, c);
}

/// The window we start with toward the guest: the host socket's free send space.
fn initial_window<H: Host>(c: &mut TcpConn, host: &mut H) {
    if let Some(info) = tcp_info(c.sock, host) {
        c.window_to_guest = info.send_space.clamp(1, super::conn::MAX_WINDOW);
        c.window_queried = c.window_to_guest;
    }
}

/// The host side of a guest-initiated connection is up: send the SYN-ACK.
pub(super) fn connected<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((key, mut c)) = load(e, id) else {
        return;
    };
    initial_window(&mut c, host);
    c.state = TcpState::SynAckSent;
    // Our SYN occupies the ISN: SND.NXT is past it. A reset sent from this state
    // carries it (RFC 9293 §3.10.4), which a guest that has the SYN-ACK accepts.
    c.seq_to_guest = c.our_isn.wrapping_add(1);
    c.timer = Some((now + rto(0), TimerKind::Handshake));
    let h = super::guest::syn_ack(e, now, &key, &c);
    send_handshake(e, id, &key, c, &h, host);
}

/// Send as much host data as the guest's window allows, then our FIN once the host
/// has closed and everything before it is out.
#[must_use = "a host reset found by the pump ends the connection"]
pub(super) fn pump<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    key: &FlowKey,
    c: &mut TcpConn,
    host: &mut H,
) -> Pumped {
    if c.state != TcpState::Established {
        return Pumped::Open;
    }
    let stamped = c.ts_recent.is_some();
    let off = segment::payload_offset(key, stamped);
    let tx_room = e.tx.len().saturating_sub(off);
    // The MSS counts no options (RFC 6691 §2): the timestamps come out of it.
    let options = if stamped { segment::TIMESTAMPS_LEN } else { 0 };
    let mss = usize::from(c.guest_mss)
        .min(usize::from(mss_for_guest(&e.config, &key.our_addr)))
        .saturating_sub(options)
        .max(1);
    // With segmentation offload a segment may hold many MSS of payload: the link cuts
    // it at `mss` (what the guest asked for, RFC 9293 §3.7.1), so the guest still
    // receives segments it can take.
    let offload = e.config.offload;
    // The link's limit counts a bare TCP header: the options come out of it too, or
    // the IP length would overflow.
    let max_payload = mss.max(usize::from(offload.tcp_segment_max).saturating_sub(options));
    let mut window_field = None;
    for _ in 0..MAX_SEGMENTS_PER_PUMP {
        if c.fin_sent {
            break;
        }
        let in_flight = c.in_flight() as usize;
        let window = c.guest_window as usize;
        if in_flight >= window {
            c.stalled = true;
            break;
        }
        c.stalled = false;
        let room = (window - in_flight).min(max_payload).min(tx_room);
        if room == 0 {
            break;
        }
        // A link lending its buffers takes the payload straight from the socket; the
        // engine only writes the headers (with the checksum left partial).
        let direct = offload.direct_peek && offload.tcp_checksum;
        let peeked = if direct {
            host.exec(Op::PeekToGuest {
                sock: c.sock,
                offset: in_flight,
                len: room,
                headroom: off,
            })
        } else {
            host.exec(Op::Peek {
                sock: c.sock,
                offset: in_flight,
                buf: &mut e.tx[off..off + room],
            })
        };
        let (len, flags) = match peeked {
            OpResult::Len(0) => {
                c.host_eof = true;
                (0, FIN | ACK)
            }
            OpResult::Len(n) => (n.min(room), ACK | PSH),
            OpResult::Err(HostError::WouldBlock) => break,
            // The socket's pending error (a reset that came after the data): a read
            // reports it once and clears it, so no error event will follow; the
            // caller resets the guest. Without this the guest saw a clean end of
            // stream after a transfer the host had aborted.
            OpResult::Err(_) => return Pumped::HostFailed,
            _ => break,
        };
        // A peek shorter than asked took everything queued: the next peek would
        // only fail (new data brings a new readiness edge), unless the host closed,
        // when it finds the end of stream and we send our FIN now.
        let short = len < room && !c.host_eof;
        let window = *window_field.get_or_insert_with(|| window_for(c, host));
        let h = Header {
            seq: c.seq_to_guest,
            ack: c.seq_from_guest,
            flags,
            window,
            options: None,
            timestamps: c.timestamps(now),
        };
        let l = link(e);
        let checksum = if offload.tcp_checksum {
            segment::Checksum::Partial
        } else {
            segment::Checksum::Full
        };
        let Some(frame_len) = segment::write_with(&mut e.tx, l, key, &h, len, checksum) else {
            e.stats.record_drop(DropReason::TxBufferTooSmall);
            break;
        };
        if offload.any() {
            let l4 = frame::upper_offset(&key.our_addr);
            let offload = TxOffload {
                l4_offset: l4 as u16,
                header_len: off as u16,
                mss: mss as u16,
                ipv6: key.our_addr.is_ipv6(),
                checksum_partial: offload.tcp_checksum,
                udp: false,
            };
            if direct {
                e.commit_to_guest(off, offload, host);
            } else {
                e.transmit_offload(frame_len, offload, host);
            }
        } else {
            e.transmit(frame_len, host);
        }
        c.seq_acked_to_guest = c.seq_from_guest;
        c.ack_due = false; // the segment carries the ACK
        if flags & FIN != 0 {
            c.fin_sent = true;
            c.seq_to_guest = c.seq_to_guest.wrapping_add(1);
            c.seq_max_to_guest = c.seq_to_guest;
            c.fin_in_max = true;
            break;
        }
        c.seq_to_guest = c.seq_to_guest.wrapping_add(len as u32);
        if super::conn::seq_lt(c.seq_max_to_guest, c.seq_to_guest) {
            c.seq_max_to_guest = c.seq_to_guest;
        }
        e.stats.tcp_bytes_to_guest += len as u64;
        if short {
            break;
        }
    }
    arm_timer(e, now, c);
    Pumped::Open
}

/// How a [`pump`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pumped {
    /// The connection goes on.
    Open,
    /// Reading the socket reported the host's reset (or another pending error): the
    /// caller must reset the guest and free the flow.
    HostFailed,
}

/// Readiness on a connection socket.
fn on_conn<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, r: Readiness, host: &mut H) {
    let Some((key, mut c)) = load(e, id) else {
        return;
    };
    if r.error || (r.hangup && c.state == TcpState::Connecting) {
        let err = host.exec(Op::TakeError { sock: c.sock });
        if r.error || !matches!(err, OpResult::Done) {
            // Refused, unreachable or reset: the guest sees a RST right away.
            e.stats.tcp_host_errors += 1;
            if c.state == TcpState::SynSent {
                // RFC 9293 §3.10.4 (ABORT in SYN-SENT): no reset, we know no sequence
                // number of the guest's to acknowledge. A SYN-ACK it may still send
                // finds no connection and gets the RST of §3.10.7.1, which it accepts.
                destroy(e, id, &c, true, host);
                return;
            }
            if c.state == TcpState::Connecting {
                c.seq_to_guest = 0;
            }
            abort_both(e, id, &key, &c, host);
            return;
        }
    }
    match c.state {
        TcpState::Connecting => {
            if r.writable {
                match host.exec(Op::TakeError { sock: c.sock }) {
                    OpResult::Done => {
                        // A server that speaks first may have sent (and closed) by
                        // now: those edges came in this same event and do not come
                        // again, so remember them for the first pump, as below.
                        c.host_data_early |= r.readable;
                        c.host_eof |= r.hangup;
                        store(e, id, c);
                        connected(e, now, id, host);
                    }
                    _ => {
                        c.seq_to_guest = 0;
                        abort_both(e, id, &key, &c, host);
                    }
                }
            }
            return;
        }
        TcpState::SynAckSent | TcpState::SynSent => {
            // Data or EOF from the host waits for the guest's handshake; the first
            // pump then peeks it all. Both must be remembered: their readiness edges
            // do not come again.
            if r.hangup {
                c.host_eof = true;
            }
            if r.readable {
                c.host_data_early = true;
            }
            store(e, id, c);
            return;
        }
        TcpState::Established => {}
    }
    if r.writable && c.send_blocked {
        // Send space is back: a window update, plus duplicate ACKs so the guest
        // retransmits what the socket refused without waiting for its RTO.
        c.send_blocked = false;
        for _ in 0..4 {
            send_ack(e, now, &key, &mut c, host);
        }
    }
    if r.hangup {
        c.host_eof = true;
    }
    if (r.readable || r.hangup) && pump(e, now, &key, &mut c, host) == Pumped::HostFailed {
        host_failed(e, id, &key, &c, host);
        return;
    }
    if c.fully_closed() {
        destroy(e, id, &c, false, host);
        return;
    }
    store(e, id, c);
}

/// Dispatch readiness for a TCP socket.
pub(crate) fn on_socket<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    sock: SockRef,
    r: Readiness,
    host: &mut H,
) {
    match sock.kind() {
        SockKind::TcpListen => super::listen::accept_all(e, now, sock, host),
        SockKind::TcpConn => {
            let live = e
                .flows
                .id_of_slot(sock.slot())
                .filter(|id| id.generation == sock.generation());
            match live.map(|id| (id, e.flows.get(id))) {
                Some((id, Some(Flow::Tcp(_)))) => on_conn(e, now, id, r, host),
                Some((id, Some(Flow::Splice(_)))) => {
                    super::splice::on_socket(e, id, sock.side(), r, host)
                }
                _ => e.stats.record_drop(DropReason::StaleSockRef),
            }
        }
        _ => e.stats.record_drop(DropReason::StaleSockRef),
    }
}

/// A timer is due for this connection.
pub(crate) fn on_timer<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((key, mut c)) = load(e, id) else {
        return;
    };
    if c.window_recheck.is_some_and(|at| at <= now) {
        c.window_recheck = None;
        if c.state == TcpState::Established {
            let before = c.window_to_guest;
            let mut probe = c;
            probe.window_queried = 0;
            window_for(&mut probe, host);
            if probe.window_to_guest > before {
                // Send space came back: a window update, and quick re-checks again.
                c.window_rechecks = 0;
                c.window_to_guest = probe.window_to_guest;
                c.window_queried = probe.window_queried;
                send_ack(e, now, &key, &mut c, host);
            } else {
                c.window_rechecks = c.window_rechecks.saturating_add(1);
                c.window_recheck = Some(now + super::window_recheck_after(c.window_rechecks));
            }
        }
    }
    let Some((at, kind)) = c.timer else {
        store(e, id, c);
        return;
    };
    if at > now {
        store(e, id, c);
        return;
    }
    c.timer = None;
    match kind {
        TimerKind::Handshake => {
            c.retries += 1;
            if rto_total(c.retries) >= HANDSHAKE_TIMEOUT {
                timed_out(e, &key, &c, Unanswered::Handshake, c.retries);
                if c.state == TcpState::SynSent {
                    // The guest never answered: nothing to reset on its side.
                    destroy(e, id, &c, true, host);
                } else {
                    abort_both(e, id, &key, &c, host);
                }
                return;
            }
            let h = match c.state {
                TcpState::SynSent => syn_to_guest(e, now, &key, &c),
                _ => super::guest::syn_ack(e, now, &key, &c),
            };
            send_control(e, &key, &h, host);
            // Backed off (RFC 6298 §5.5), but the last wait ends HANDSHAKE_TIMEOUT
            // after the first handshake segment, as passt's SYN timeout does.
            let left = HANDSHAKE_TIMEOUT.saturating_sub(rto_total(c.retries));
            c.timer = Some((now + rto(c.retries).min(left), TimerKind::Handshake));
        }
        TimerKind::Keepalive => {
            if c.probes_unanswered >= MAX_RETRIES {
                timed_out(e, &key, &c, Unanswered::KeepAlive, c.probes_unanswered);
                abort_both(e, id, &key, &c, host);
                return;
            }
            c.probes_unanswered += 1;
            // RFC 1122 §4.2.3.6: an old sequence number draws an ACK from a guest that
            // has the connection and a RST from one that does not.
            let h = Header {
                seq: c.seq_to_guest.wrapping_sub(1),
                ack: c.seq_from_guest,
                flags: ACK,
                window: window_for(&mut c, host),
                options: None,
                timestamps: c.timestamps(now),
            };
            send_control(e, &key, &h, host);
            c.timer = Some((now + rto(c.probes_unanswered), kind));
        }
        TimerKind::Retransmit | TimerKind::Persist => {
            // The guest's window is closed, or our probe of it is still unanswered:
            // that connection is given up on only when the guest stops answering
            // (RFC 9293 §3.8.6.1, MUST-26); data, after MAX_RETRIES lost tries.
            let zero_window = c.guest_window == 0 || c.probes_unanswered > 0;
            let unanswered = if zero_window {
                c.probes_unanswered
            } else {
                c.retries
            };
            if unanswered >= MAX_RETRIES {
                let what = if zero_window {
                    Unanswered::WindowProbe
                } else {
                    Unanswered::Acknowledgement
                };
                timed_out(e, &key, &c, what, unanswered);
                abort_both(e, id, &key, &c, host);
                return;
            }
            c.retries = c.retries.saturating_add(1);
            if zero_window {
                // RFC 9293 §3.8.6.1: probe a zero window with one byte (again).
                c.probes_unanswered += 1;
                c.guest_window = 1;
            } else {
                e.stats.tcp_retransmits += 1;
                c.recover = Some(c.seq_max_to_guest);
            }
            rewind(&mut c);
            if pump(e, now, &key, &mut c, host) == Pumped::HostFailed {
                host_failed(e, id, &key, &c, host);
                return;
            }
            c.timer = Some((now + rto(c.retries), kind));
            arm_timer(e, now, &mut c);
        }
    }
    store(e, id, c);
}

/// Count a connection given up on because the guest stopped answering `what` after
/// `tries` tries, and keep how it stood for the log.
fn timed_out(e: &mut Engine<'_>, key: &FlowKey, c: &TcpConn, what: Unanswered, tries: u8) {
    e.stats.tcp_timeouts += 1;
    e.stats.last_tcp_timeout = Some(TcpTimeout {
        guest: core::net::SocketAddr::new(key.endpoint_addr, key.endpoint_port),
        remote: core::net::SocketAddr::new(key.our_addr, key.our_port),
        unanswered: what,
        tries,
        guest_window: c.guest_window,
        in_flight: c.in_flight(),
        window_to_guest: c.window_to_guest,
    });
}

/// Time spent in `retries` backed-off timeouts.
fn rto_total(retries: u8) -> core::time::Duration {
    (0..retries).map(rto).sum()
}

/// The SYN we send the guest for a connection accepted on a forwarded port, offering
/// timestamps (RFC 7323 §3.2).
fn syn_to_guest(e: &Engine<'_>, now: Instant, key: &FlowKey, c: &TcpConn) -> Header {
    Header {
        seq: c.our_isn,
        ack: 0,
        flags: SYN,
        window: c.window_to_guest.min(u32::from(u16::MAX)) as u16,
        options: Some(SynOptions {
            mss: mss_for_guest(&e.config, &key.our_addr),
            window_scale: Some(OUR_WINDOW_SCALE),
        }),
        timestamps: Some(segment::Timestamps {
            value: super::conn::ts_clock(now, c.our_isn),
            echo: 0,
        }),
    }
}

/// Offer a connection accepted on a forwarded port (`sock`, already named after flow
/// `id`, from `peer`) to the guest: SYN to the guest's `port`.
pub(super) fn offer_to_guest<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    peer: core::net::SocketAddr,
    port: u16,
    to: Option<core::net::IpAddr>,
    host: &mut H,
) {
    let sock = sock_of(id);
    // A forward with a target address delivers there, if the families agree.
    let target = fwd::source_for_guest(&e.config, &e.guest, peer.ip()).and_then(|src| {
        let dst = match to {
            Some(t) if t.is_ipv4() == src.is_ipv4() => t,
            Some(_) => return None,
            None => fwd::guest_destination(&e.config, &e.guest, src)?,
        };
        Some((src, dst))
    });
    let Some((our_addr, guest_addr)) = target else {
        e.stats.record_drop(DropReason::BadAddress);
        host.exec(Op::Close { sock, abort: true });
        e.flows.remove(id);
        return;
    };
    let key = FlowKey {
        pif: Pif::Tap,
        protocol: IpProtocol::Tcp,
        our_addr,
        our_port: peer.port(),
        endpoint_addr: guest_addr,
        endpoint_port: port,
    };
    if e.flows.set_key(id, Side::Target, Some(key)).is_err() {
        host.exec(Op::Close { sock, abort: true });
        e.flows.remove(id);
        return;
    }
    e.stats.tcp_opened += 1;
    let our_isn = super::isn(e, &key, now);
    let mut c = TcpConn {
        state: TcpState::SynSent,
        sock,
        our_isn,
        seq_to_guest: our_isn.wrapping_add(1),
        seq_acked_by_guest: our_isn,
        our_wscale: OUR_WINDOW_SCALE,
        timer: Some((now + rto(0), TimerKind::Handshake)),
        ..TcpConn::placeholder()
    };
    initial_window(&mut c, host);
    let h = syn_to_guest(e, now, &key, &c);
    send_handshake(e, id, &key, c, &h, host);
}

impl TcpConn {
    /// A record with every field at its resting value, for slots being filled in.
    pub(crate) fn placeholder() -> TcpConn {
        TcpConn {
            state: TcpState::SynSent,
            sock: SockRef::new(SockKind::TcpConn, 1, 0, 0),
            seq_to_guest: 0,
            seq_acked_by_guest: 0,
            our_isn: 0,
            seq_from_guest: 0,
            seq_acked_to_guest: 0,
            seq_max_to_guest: 0,
            fin_in_max: false,
            guest_window: 0,
            guest_wscale: 0,
            our_wscale: 0,
            guest_mss: DEFAULT_GUEST_MSS,
            window_to_guest: u32::from(u16::MAX),
            window_queried: 0,
            guest_fin: false,
            host_eof: false,
            host_data_early: false,
            fin_sent: false,
            fin_acked: false,
            send_blocked: false,
            stalled: false,
            dup_acks: 0,
            recover: None,
            retries: 0,
            probes_unanswered: 0,
            ts_recent: None,
            timer: None,
            window_recheck: None,
            window_rechecks: 0,
            registered: false,
            ack_due: false,
        }
    }
}
