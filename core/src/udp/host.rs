//! Host-side readiness: datagrams arriving on flow sockets and on forwarded ports
//! (passt-reference §4.3), the forwarded ports' sockets, and idle expiry.

use super::{
    destroy, load, max_payload, payload_offset, store, to_guest, UdpFlow, UdpPath,
    MAX_DATAGRAMS_PER_EVENT,
};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, InsertError, Pif};
use crate::fwd::{self, PortRange};
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult, Readiness, Transport};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::tcp::{Direction, ListenError};
use crate::time::Instant;
use crate::wire::IpProtocol;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Dispatch readiness for a UDP socket.
pub(crate) fn on_socket<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    sock: SockRef,
    r: Readiness,
    host: &mut H,
) {
    match sock.kind() {
        SockKind::UdpListen => match listener_range(e, sock) {
            Some(range) => drain_listener(e, now, sock, range, host),
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
                drain_flow(e, now, id, host)
            }
            _ => e.stats.record_drop(DropReason::StaleSockRef),
        },
        _ => e.stats.record_drop(DropReason::StaleSockRef),
    }
}

/// Re-arm a socket's watch after a capped batch: epoll reports a socket that is still
/// readable again after its interest is modified, so the rest of the queue is picked up
/// on the next turn of the event loop.
fn rearm<H: Host>(sock: SockRef, host: &mut H) {
    host.exec(Op::Watch {
        sock,
        interest: Interest {
            read: true,
            write: false,
        },
    });
}

/// Read the replies queued on a flow's own socket and send each to the guest.
fn drain_flow<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((key, mut f)) = load(e, id) else {
        return;
    };
    let Some(sock) = f.own_socket() else {
        return;
    };
    let off = payload_offset(&key);
    let cap = max_payload(&key.our_addr).min(e.tx.len().saturating_sub(off));
    for n in 0.. {
        if n == MAX_DATAGRAMS_PER_EVENT {
            rearm(sock, host);
            break;
        }
        let buf = &mut e.tx[off..off + cap];
        match host.exec(Op::RecvFrom { sock, buf }) {
            OpResult::Received { len, .. } if len > cap => {
                e.stats.record_drop(DropReason::DatagramTooBig);
            }
            OpResult::Received { len, .. } => {
                f.last_activity = now;
                to_guest(e, &key, len, host);
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
                // Anything else is unrecoverable for this socket: close the flow.
                destroy(e, id, &f, host);
                return;
            }
        }
    }
    store(e, id, f);
}

/// Read the datagrams queued on a forwarded port, opening a flow per new sender, and
/// send each to the guest.
fn drain_listener<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    range: usize,
    host: &mut H,
) {
    let Some(r) = e.config.forwards.udp_in.ranges.get(range).cloned() else {
        return;
    };
    let port = listener_port(listener);
    // The sender's family decides the frame's: receive at the IPv6 payload offset
    // (the larger) and move IPv4 payloads down.
    let v6_any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let off6 = crate::frame::upper_offset(&v6_any) + crate::wire::udp::HEADER_LEN;
    let cap = max_payload(&v6_any).min(e.tx.len().saturating_sub(off6));
    for n in 0.. {
        if n == MAX_DATAGRAMS_PER_EVENT {
            rearm(listener, host);
            return;
        }
        let buf = &mut e.tx[off6..off6 + cap];
        let (len, peer) = match host.exec(Op::RecvFrom {
            sock: listener,
            buf,
        }) {
            OpResult::Received { len, from } => (len, from),
            OpResult::Err(HostError::WouldBlock) => return,
            // A stray error on the shared socket: it is consumed, keep reading.
            OpResult::Err(_) => continue,
            _ => return,
        };
        if len > cap {
            e.stats.record_drop(DropReason::DatagramTooBig);
            continue;
        }
        let Some(key) = flow_for_sender(e, now, listener, &r, port, peer) else {
            continue;
        };
        if key.our_addr.is_ipv4() {
            if len > max_payload(&key.our_addr) {
                e.stats.record_drop(DropReason::DatagramTooBig);
                continue;
            }
            let off4 = payload_offset(&key);
            e.tx.copy_within(off6..off6 + len, off4);
        }
        to_guest(e, &key, len, host);
    }
}

/// The tap-side key for datagrams from `peer` on a forwarded port: the existing flow's,
/// or a new flow's (passt-reference §5.3: source NAT for the guest, destination port
/// plus the range's delta). `None` (counted) when the datagram cannot be delivered.
fn flow_for_sender(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    r: &PortRange,
    port: u16,
    peer: SocketAddr,
) -> Option<FlowKey> {
    let host_key = FlowKey {
        pif: Pif::Host,
        protocol: IpProtocol::Udp,
        our_addr: r.bind_addr.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        our_port: port,
        endpoint_addr: peer.ip(),
        endpoint_port: peer.port(),
    };
    if let Some((id, _)) = e.flows.lookup(&host_key) {
        let (key, mut f) = load(e, id)?;
        f.last_activity = now;
        store(e, id, f);
        return Some(key);
    }
    let Some(source) = fwd::source_for_guest(&e.config, &e.guest, peer.ip()) else {
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    };
    let Some(guest) = fwd::guest_destination(&e.config, &e.guest, source) else {
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    };
    let tap_key = FlowKey {
        pif: Pif::Tap,
        protocol: IpProtocol::Udp,
        our_addr: source,
        our_port: peer.port(),
        endpoint_addr: guest,
        endpoint_port: r.map(port),
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
        .insert(Flow::Udp(f), [Some(host_key), Some(tap_key)])
    {
        Ok(id) => {
            e.stats.udp_opened += 1;
            store(e, id, f);
            Some(tap_key)
        }
        Err(InsertError::Full) => {
            e.stats.record_drop(DropReason::FlowTableFull);
            None
        }
        // The guest already has a flow on this 4-tuple (it wrote to the sender
        // first): deliver through it, replies keep going out its own socket.
        Err(_) => Some(tap_key),
    }
}

/// A flow's timer is due: close it if it has been idle for the whole timeout.
pub(crate) fn on_timer<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some((_, f)) = load(e, id) else {
        return;
    };
    if f.expires() <= now {
        destroy(e, id, &f, host);
    } else {
        store(e, id, f);
    }
}

/// Listener slot layout, as for TCP: bits 0–15 port, bit 16 family (1 = IPv6), bits
/// 17+ the range's index.
fn listener_sock(range: usize, family: Family, port: u16) -> SockRef {
    let fam = u32::from(family == Family::V6);
    SockRef::new(
        SockKind::UdpListen,
        0,
        0,
        ((range as u32) << 17) | (fam << 16) | u32::from(port),
    )
}

fn listener_port(sock: SockRef) -> u16 {
    (sock.slot() & 0xffff) as u16
}

fn listener_range(e: &Engine<'_>, sock: SockRef) -> Option<usize> {
    let range = (sock.slot() >> 17) as usize;
    let port = listener_port(sock);
    e.config
        .forwards
        .udp_in
        .ranges
        .get(range)
        .filter(|r| r.contains(port))
        .map(|_| range)
}

/// Open and bind a socket for every forwarded UDP port (`-u`): one dual-stack socket
/// per port when both families are enabled and no address is given, else one per
/// family (passt-reference §1.5).
pub(crate) fn start_listeners<H: Host>(
    e: &mut Engine<'_>,
    host: &mut H,
) -> Result<usize, ListenError> {
    let v4 = e.config.ipv4.is_some();
    let v6 = e.config.ipv6.is_some();
    let mut opened = 0;
    for (i, r) in e.config.forwards.udp_in.ranges.clone().iter().enumerate() {
        for port in r.first..=r.last {
            if port == 0 {
                continue;
            }
            let (family, addr, dual_stack) = match r.bind_addr {
                Some(a) => (Family::of(&a), a, false),
                None if v6 => (Family::V6, IpAddr::V6(Ipv6Addr::UNSPECIFIED), v4),
                None => (Family::V4, IpAddr::V4(Ipv4Addr::UNSPECIFIED), false),
            };
            let sock = listener_sock(i, family, port);
            let fail = |error| ListenError {
                port,
                direction: Direction::Inbound,
                error,
            };
            if let OpResult::Err(err) = host.exec(Op::Open {
                sock,
                family,
                transport: Transport::Udp,
                ns: Namespace::Host,
            }) {
                return Err(fail(err));
            }
            if let OpResult::Err(err) = host.exec(Op::Bind {
                sock,
                addr: SocketAddr::new(addr, port),
                dual_stack,
            }) {
                host.exec(Op::Close { sock, abort: false });
                return Err(fail(err));
            }
            rearm(sock, host);
            opened += 1;
        }
    }
    Ok(opened)
}
