//! Datagrams from the guest (passt-reference §4.2).

use super::{destroy, is_unicast, load, reserve, sock_of, store, UdpFlow, UdpPath};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, Pif};
use crate::fwd;
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult, Transport};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::IpProtocol;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The guest's datagram: where from, where to, and its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Datagram<'p> {
    /// Source address and port (the guest's).
    pub src: SocketAddr,
    /// Destination address and port, as the guest addressed it.
    pub dst: SocketAddr,
    /// Payload, possibly empty.
    pub payload: &'p [u8],
}

/// Handle one UDP datagram from the guest that no built-in service claimed.
pub(crate) fn from_guest<H: Host>(e: &mut Engine<'_>, now: Instant, d: Datagram<'_>, host: &mut H) {
    if d.src.port() == 0
        || d.dst.port() == 0
        || !is_unicast(&d.src.ip())
        || !is_unicast(&d.dst.ip())
    {
        // No multicast or broadcast forwarding (passt-reference §11).
        e.stats.record_drop(DropReason::BadAddress);
        return;
    }
    let key = FlowKey {
        pif: Pif::Tap,
        protocol: IpProtocol::Udp,
        our_addr: d.dst.ip(),
        our_port: d.dst.port(),
        endpoint_addr: d.src.ip(),
        endpoint_port: d.src.port(),
    };
    let id = match e.flows.lookup(&key) {
        Some((id, _)) if matches!(e.flows.get(id), Some(Flow::Udp(_))) => id,
        Some(_) => {
            e.stats.record_drop(DropReason::BadAddress);
            return;
        }
        None => match open(e, now, key, host) {
            Some(id) => id,
            None => return,
        },
    };
    send(e, now, id, d.payload, host);
}

/// Open a flow for a new 4-tuple: a socket bound to the guest's source port (or, if
/// the host has that port taken, an ephemeral one) and connected to the destination.
fn open<H: Host>(e: &mut Engine<'_>, now: Instant, key: FlowKey, host: &mut H) -> Option<FlowId> {
    let target = fwd::target_from_guest(&e.config, SocketAddr::new(key.our_addr, key.our_port));
    if target.ip().is_unspecified() || target.port() == 0 {
        e.stats.record_drop(DropReason::BadAddress);
        return None;
    }
    let id = reserve(e, now, key)?;
    let sock = sock_of(id);
    let f = UdpFlow {
        path: UdpPath::Socket(sock),
        last_activity: now,
    };
    let family = Family::of(&target.ip());
    if let OpResult::Err(_) = host.exec(Op::Open {
        sock,
        family,
        transport: Transport::Udp,
        ns: Namespace::Host,
    }) {
        e.stats.record_drop(DropReason::HostSocketFailed);
        e.flows.remove(id);
        return None;
    }
    e.stats.udp_opened += 1;
    // Keep the guest's source port, so that a peer sees the port the guest chose
    // (passt-reference §4.2). If the host has it taken, connect() picks another.
    let any = match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    host.exec(Op::Bind {
        sock,
        addr: SocketAddr::new(any, key.endpoint_port),
        dual_stack: false,
    });
    if let OpResult::Err(err) = host.exec(Op::Connect { sock, addr: target }) {
        if err != HostError::InProgress {
            // No route to the destination: nothing to keep the flow for.
            e.stats.record_drop(DropReason::UdpSendFailed);
            destroy(e, id, &f, host);
            return None;
        }
    }
    host.exec(Op::Watch {
        sock,
        interest: Interest {
            read: true,
            write: false,
        },
    });
    store(e, id, f);
    Some(id)
}

/// Pass one payload to the flow's host side.
pub(super) fn send<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    payload: &[u8],
    host: &mut H,
) {
    let Some((_, mut f)) = load(e, id) else {
        return;
    };
    let op = match f.path {
        UdpPath::Socket(sock) => Op::SendTo {
            sock,
            data: payload,
            to: None,
        },
        UdpPath::Listener { sock, peer }
        | UdpPath::Spliced {
            listener: sock,
            peer,
            ..
        } => Op::SendTo {
            sock,
            data: payload,
            to: Some(peer),
        },
    };
    match host.exec(op) {
        OpResult::Err(_) => e.stats.record_drop(DropReason::UdpSendFailed),
        _ => e.stats.udp_datagrams_to_host += 1,
    }
    f.last_activity = now;
    store(e, id, f);
}
