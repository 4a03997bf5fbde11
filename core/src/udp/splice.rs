//! pasta's UDP loopback bypass (passt-reference §4.4, §5.3): datagrams between the
//! host's loopback and the namespace never cross the tap.
//!
//! - `-u`: a sender on the host's loopback gets a socket inside the namespace, bound to
//!   the sender's port and connected to the namespace's own address (as for spliced TCP,
//!   so that services listening only on the namespace's loopback stay private).
//! - `-U`: a sender on the namespace's loopback gets a socket on the host, bound to the
//!   sender's port and connected to the host's loopback of the same family.
//!
//! Datagrams move socket to socket with [`Op::Relay`] (the Linux shim batches them
//! with `recvmmsg`/`sendmmsg`); the engine only picks the flow and keeps it alive.
//! Replies to the target socket go back out the forwarded port's socket to the sender.

use super::listen::Listener;
use super::{destroy, reserve, sock_of, store, UdpFlow, UdpPath, MAX_DATAGRAMS_PER_EVENT};
use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey};
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult};
use crate::sockref::SockRef;
use crate::stats::DropReason;
use crate::tcp::Direction;
use crate::time::Instant;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where datagrams from `peer` on the forwarded port `l` go when they bypass the tap:
/// the namespace of the target socket and the address it connects to. `None` when they
/// take the tap instead (a sender off the loopback, or `--no-splice`).
pub(crate) fn target(
    e: &Engine<'_>,
    l: &Listener,
    peer: SocketAddr,
) -> Option<(Namespace, SocketAddr)> {
    if !peer.ip().is_loopback() {
        return None;
    }
    match l.direction {
        Direction::Outbound => {
            let to = match peer.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            Some((Namespace::Host, SocketAddr::new(to, l.mapped)))
        }
        Direction::Inbound if e.config.splice => {
            // The forward's target address, as for TCP, else the guest's own.
            let to = l.to.or_else(|| crate::tcp::spliced_target(e, peer.ip()))?;
            Some((Namespace::Guest, SocketAddr::new(to, l.mapped)))
        }
        Direction::Inbound => None,
    }
}

/// Open a spliced flow for datagrams from `peer` on `listener` (`key` names that
/// side): a socket in `ns`, bound to the peer's port where that port is free there
/// (passt keeps source ports), connected to `to`. `None` (counted) on failure.
pub(crate) fn open<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    key: FlowKey,
    peer: SocketAddr,
    (ns, to): (Namespace, SocketAddr),
    host: &mut H,
) -> Option<FlowId> {
    let id = reserve(e, now, key)?;
    let target = sock_of(id);
    let f = UdpFlow {
        path: UdpPath::Spliced {
            listener,
            peer,
            target,
        },
        last_activity: now,
    };
    let family = Family::of(&to.ip());
    if let OpResult::Err(_) = host.exec(Op::Open {
        sock: target,
        family,
        transport: crate::io::Transport::Udp,
        ns,
    }) {
        e.stats.record_drop(DropReason::HostSocketFailed);
        e.flows.remove(id);
        return None;
    }
    e.stats.udp_opened += 1;
    e.stats.udp_spliced += 1;
    let any = match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    host.exec(Op::Bind {
        sock: target,
        addr: SocketAddr::new(any, peer.port()),
        dual_stack: false,
    });
    if let OpResult::Err(err) = host.exec(Op::Connect {
        sock: target,
        addr: to,
    }) {
        if err != HostError::InProgress {
            e.stats.record_drop(DropReason::UdpSendFailed);
            destroy(e, id, &f, host);
            return None;
        }
    }
    host.exec(Op::Watch {
        sock: target,
        interest: Interest {
            read: true,
            write: false,
        },
    });
    store(e, id, f);
    Some(id)
}

/// The datagram at `e.tx[at..at + len]` came from the flow's peer: send it out the
/// target socket, then relay whatever else that peer has queued right behind it on
/// the forwarded port (at most `budget` datagrams). Returns how many datagrams were
/// taken from the forwarded port's socket after the first.
pub(crate) fn from_peer<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    (at, len): (usize, usize),
    budget: usize,
    host: &mut H,
) -> usize {
    let Some(Flow::Udp(mut f)) = e.flows.get(id).copied() else {
        return 0;
    };
    let UdpPath::Spliced {
        listener,
        peer,
        target,
    } = f.path
    else {
        return 0;
    };
    f.last_activity = now;
    match host.exec(Op::SendTo {
        sock: target,
        data: e.tx.get(at..at + len).unwrap_or(&[]),
        to: None,
    }) {
        OpResult::Err(_) => e.stats.record_drop(DropReason::UdpSendFailed),
        _ => e.stats.udp_datagrams_spliced += 1,
    }
    let taken = if budget == 0 {
        0
    } else {
        match host.exec(Op::Relay {
            from: listener,
            to: target,
            dest: None,
            only_from: Some(peer),
            max: budget,
        }) {
            OpResult::Len(n) => {
                e.stats.udp_datagrams_spliced += n as u64;
                n
            }
            OpResult::Err(HostError::WouldBlock) => 0,
            _ => {
                // The target socket is gone: nothing to keep the flow for.
                destroy(e, id, &f, host);
                return 0;
            }
        }
    };
    store(e, id, f);
    taken
}

/// The target socket of spliced flow `id` is readable: relay the replies to the peer
/// through the forwarded port's socket, at most [`MAX_DATAGRAMS_PER_EVENT`] before
/// giving other sockets a turn.
pub(crate) fn replies<H: Host>(e: &mut Engine<'_>, now: Instant, id: FlowId, host: &mut H) {
    let Some(Flow::Udp(mut f)) = e.flows.get(id).copied() else {
        return;
    };
    let UdpPath::Spliced {
        listener,
        peer,
        target,
    } = f.path
    else {
        return;
    };
    let mut left = MAX_DATAGRAMS_PER_EVENT;
    while left > 0 {
        match host.exec(Op::Relay {
            from: target,
            to: listener,
            dest: Some(peer),
            only_from: None,
            max: left,
        }) {
            OpResult::Len(n) => {
                f.last_activity = now;
                e.stats.udp_datagrams_spliced += n as u64;
                left = left.saturating_sub(n.max(1));
            }
            OpResult::Err(HostError::WouldBlock) => break,
            // An ICMP error for an earlier datagram, consumed by the read: go on.
            OpResult::Err(
                HostError::ConnectionRefused
                | HostError::HostUnreachable
                | HostError::NetworkUnreachable,
            ) => left -= 1,
            _ => {
                destroy(e, id, &f, host);
                return;
            }
        }
    }
    if left == 0 {
        super::host::rearm(target, host);
    }
    store(e, id, f);
}
