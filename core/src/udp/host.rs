//! Host-side readiness: datagrams arriving on flow sockets and on forwarded ports
//! (passt-reference §4.3, §4.4), and idle expiry.

use super::listen::{self, Listener};
use super::{
    destroy, load, max_payload, payload_offset, run_to_guest, splice, store, Run, UdpFlow, UdpPath,
    MAX_DATAGRAMS_PER_EVENT,
};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, InsertError, Pif};
use crate::fwd;
use crate::io::{Host, HostError, Interest, Op, OpResult, Readiness};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::tcp::Direction;
use crate::time::Instant;
use crate::wire::IpProtocol;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};

/// Dispatch readiness for a UDP socket.
pub(crate) fn on_socket<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    sock: SockRef,
    r: Readiness,
    host: &mut H,
) {
    match sock.kind() {
        SockKind::UdpListen => match listen::decode(e, sock) {
            Some(l) => drain_listener(e, now, sock, &l, host),
            None => e.stats.record_drop(DropReason::StaleSockRef),
        },
        SockKind::UdpFlow => match e.flows.id_of_slot(sock.slot()) {
            Some(id)
                if id.generation == sock.generation()
                    && matches!(e.flows.get(id), Some(Flow::Udp(f)) if f.own_socket() == Some(sock)) =>
            {
                if r.error {
                    // An ICMP error for an earlier datagram: nothing to tell the guest
                    // (passt forwards no ICMP errors either); clear it and go on.
                    host.exec(Op::TakeError { sock });
                }
                match e.flows.get(id) {
                    Some(Flow::Udp(UdpFlow {
                        path: UdpPath::Spliced { .. },
                        ..
                    })) => splice::replies(e, now, id, host),
                    _ => drain_flow(e, now, id, host),
                }
            }
            _ => e.stats.record_drop(DropReason::StaleSockRef),
        },
        _ => e.stats.record_drop(DropReason::StaleSockRef),
    }
}

/// Re-arm a socket's watch after a capped batch: epoll reports a socket that is still
/// readable again after its interest is modified, so the rest of the queue is picked up
/// on the next turn of the event loop.
pub(super) fn rearm<H: Host>(sock: SockRef, host: &mut H) {
    host.exec(Op::Watch {
        sock,
        interest: Interest {
            read: true,
            write: false,
        },
    });
}

/// Read the replies queued on a flow's own socket and send each to the guest; with
/// UDP segmentation offload, datagrams of one size that follow each other are read
/// back to back and leave as one frame.
fn drain_flow<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((key, mut f)) = load(e, id) else {
        return;
    };
    let Some(sock) = f.own_socket() else {
        return;
    };
    let off = payload_offset(&key);
    let cap = max_payload(&key.our_addr).min(e.tx.len().saturating_sub(off));
    let max_run = usize::from(e.config().offload.udp_segment_max);
    let mut run = Run::default();
    for n in 0.. {
        if n == MAX_DATAGRAMS_PER_EVENT {
            rearm(sock, host);
            break;
        }
        // The next datagram lands right after the run; `Run::closed` made sure a
        // whole `cap` fits there.
        let at = off + run.bytes;
        let buf = &mut e.tx[at..at + cap];
        match host.exec(Op::RecvFrom { sock, buf }) {
            OpResult::Received { len, .. } if len > cap => {
                e.stats.record_drop(DropReason::DatagramTooBig);
            }
            OpResult::Received { len, .. } => {
                f.last_activity = now;
                if !run.takes(len, max_run) {
                    run_to_guest(e, &key, &run, host);
                    run = Run::default();
                    e.tx.copy_within(at..at + len, off);
                }
                run.add(len);
                let room = e.tx.len() - (off + run.bytes);
                if run.closed(len, max_run, room, cap) {
                    run_to_guest(e, &key, &run, host);
                    run = Run::default();
                }
            }
            OpResult::Err(HostError::WouldBlock) => break,
            // An ICMP error reported on the connected socket (port unreachable…):
            // consumed by the read; later datagrams may still be queued.
            OpResult::Err(
                HostError::ConnectionRefused
                | HostError::HostUnreachable
                | HostError::NetworkUnreachable,
            ) => {}
            _ => {
                // Anything else is unrecoverable for this socket: close the flow
                // (what was read still goes).
                run_to_guest(e, &key, &run, host);
                destroy(e, id, &f, host);
                return;
            }
        }
    }
    run_to_guest(e, &key, &run, host);
    store(e, id, f);
}

/// Where the datagrams of one sender on a forwarded port go.
enum Route {
    /// To the guest, on this tap-side key.
    Tap(FlowKey),
    /// Socket to socket, through this spliced flow.
    Spliced(FlowId),
}

/// Read the datagrams queued on a forwarded port, opening a flow per new sender, and
/// send each on its way: to the guest, or (spliced) out the flow's own socket. With
/// UDP segmentation offload, datagrams of one size that follow each other from one
/// sender are read back to back and leave as one frame.
fn drain_listener<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    l: &Listener,
    host: &mut H,
) {
    // The sender's family decides the frame's: a datagram that starts a run is read at
    // the IPv6 payload offset (the larger) and moved down for IPv4; one that may join
    // the run is read right after it.
    let v6_any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let off6 = crate::frame::upper_offset(&v6_any) + crate::wire::udp::HEADER_LEN;
    let cap = max_payload(&v6_any).min(e.tx.len().saturating_sub(off6));
    let max_run = usize::from(e.config().offload.udp_segment_max);
    let mut run: Option<(FlowKey, Run)> = None;
    let mut taken = 0;
    loop {
        if taken >= MAX_DATAGRAMS_PER_EVENT {
            send_run(e, &mut run, host);
            rearm(listener, host);
            return;
        }
        let at = run
            .as_ref()
            .map_or(off6, |(key, r)| payload_offset(key) + r.bytes);
        let buf = &mut e.tx[at..at + cap];
        let (len, peer) = match host.exec(Op::RecvFrom {
            sock: listener,
            buf,
        }) {
            OpResult::Received { len, from } => (len, from),
            // A stray error on the shared socket: it is consumed, keep reading.
            OpResult::Err(err) if err != HostError::WouldBlock => {
                taken += 1;
                continue;
            }
            _ => break,
        };
        taken += 1;
        if len > cap {
            e.stats.record_drop(DropReason::DatagramTooBig);
            continue;
        }
        match route(e, now, listener, l, peer, host) {
            Some(Route::Spliced(id)) => {
                send_run(e, &mut run, host);
                let budget = MAX_DATAGRAMS_PER_EVENT.saturating_sub(taken);
                taken += splice::from_peer(e, now, id, (at, len), budget, host);
            }
            Some(Route::Tap(key)) => {
                if len > max_payload(&key.our_addr) {
                    e.stats.record_drop(DropReason::DatagramTooBig);
                    continue;
                }
                let joins = run
                    .as_ref()
                    .is_some_and(|(k, r)| *k == key && r.takes(len, max_run));
                if !joins {
                    send_run(e, &mut run, host);
                    e.tx.copy_within(at..at + len, payload_offset(&key));
                }
                let (_, r) = run.get_or_insert((key, Run::default()));
                r.add(len);
                let room = e.tx.len() - (payload_offset(&key) + r.bytes);
                if r.closed(len, max_run, room, cap) {
                    send_run(e, &mut run, host);
                }
            }
            None => {}
        }
    }
    send_run(e, &mut run, host);
}

/// Send a forwarded port's pending run (if any) to the guest.
fn send_run<H: Host>(e: &mut Engine<'_>, run: &mut Option<(FlowKey, Run)>, host: &mut H) {
    if let Some((key, r)) = run.take() {
        run_to_guest(e, &key, &r, host);
    }
}

/// The flow for datagrams from `peer` on forwarded port `l`: an existing one, or a new
/// one (passt-reference §5.3: spliced for a loopback sender in pasta; else to the guest
/// with source NAT, destination port plus the range's delta). `None` (counted) when the
/// datagram cannot be delivered.
fn route<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    l: &Listener,
    peer: SocketAddr,
    host: &mut H,
) -> Option<Route> {
    let near_key = FlowKey {
        pif: match l.direction {
            Direction::Inbound => Pif::Host,
            Direction::Outbound => Pif::Splice,
        },
        protocol: IpProtocol::Udp,
        our_addr: l.bind_addr.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        our_port: l.port,
        endpoint_addr: peer.ip(),
        endpoint_port: peer.port(),
    };
    if let Some((id, _)) = e.flows.lookup(&near_key) {
        return match e.flows.get(id) {
            Some(Flow::Udp(UdpFlow {
                path: UdpPath::Spliced { .. },
                ..
            })) => Some(Route::Spliced(id)),
            _ => {
                let (key, mut f) = load(e, id)?;
                f.last_activity = now;
                store(e, id, f);
                Some(Route::Tap(key))
            }
        };
    }
    if let Some(to) = splice::target(e, l, peer) {
        return splice::open(e, now, listener, near_key, peer, to, host).map(Route::Spliced);
    }
    if l.direction == Direction::Outbound {
        // passt-reference §5.3: only loopback senders are forwarded out of the namespace.
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    }
    let Some(source) = fwd::source_for_guest(&e.config, &e.guest, peer.ip()) else {
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    };
    // A forward with a target address delivers there, if the families agree.
    let guest = match l.to {
        Some(t) if t.is_ipv4() == source.is_ipv4() => Some(t),
        Some(_) => None,
        None => fwd::guest_destination(&e.config, &e.guest, source),
    };
    let Some(guest) = guest else {
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    };
    let tap_key = FlowKey {
        pif: Pif::Tap,
        protocol: IpProtocol::Udp,
        our_addr: source,
        our_port: peer.port(),
        endpoint_addr: guest,
        endpoint_port: l.mapped,
    };
    let f = UdpFlow {
        path: UdpPath::Listener {
            sock: listener,
            peer,
        },
        last_activity: now,
    };
    match e
        .flows
        .insert(Flow::Udp(f), [Some(near_key), Some(tap_key)])
    {
        Ok(id) => {
            e.stats.udp_opened += 1;
            store(e, id, f);
            Some(Route::Tap(tap_key))
        }
        Err(InsertError::Full) => {
            e.stats.record_drop(DropReason::FlowTableFull);
            None
        }
        // The guest already has a flow on this 4-tuple (it wrote to the sender
        // first): deliver through it, replies keep going out its own socket.
        Err(_) => Some(Route::Tap(tap_key)),
    }
}

/// A flow's timer is due: close it if it has been idle for the whole timeout.
pub(crate) fn on_timer<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some(Flow::Udp(f)) = e.flows.get(id).copied() else {
        return;
    };
    if f.expires() <= now {
        destroy(e, id, &f, host);
    } else {
        store(e, id, f);
    }
}
