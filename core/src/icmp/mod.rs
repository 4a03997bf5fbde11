//! ICMP and ICMPv6 echo through unprivileged "ping sockets" (passt-reference §4.6).
//!
//! Only echo requests from the guest are proxied (RFC 792 type 8, RFC 4443 §4.1 type
//! 128). A flow per (guest address, destination, echo identifier) owns a ping socket
//! (`SOCK_DGRAM` + `IPPROTO_ICMP`/`IPPROTO_ICMPV6`): the guest's whole echo message
//! is sent through it, and the kernel replaces the identifier with the socket's own
//! and fills the checksum. Replies arrive on that socket, so the flow tells which
//! guest identifier to restore before the reply is framed for the guest. A flow idle
//! for [`IDLE_TIMEOUT`] is closed.
//!
//! When the host forbids ping sockets (`net.ipv4.ping_group_range` excludes our
//! group) the socket cannot be opened: the request is dropped and counted under
//! [`DropReason::PingForbidden`]; the shim warns once.

use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, InsertError, Pif, Side};
use crate::frame;
use crate::fwd;
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult, Readiness, Transport};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{checksum, icmpv4, icmpv6, put_u16, IpProtocol};
use core::net::IpAddr;
use core::time::Duration;

/// An echo flow with no request or reply for this long is closed (passt: 60 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most replies read from one ping socket per readiness event.
pub const MAX_REPLIES_PER_EVENT: usize = 64;
/// Length of an echo message's header: type, code, checksum, identifier, sequence.
const ECHO_HEADER_LEN: usize = 8;
/// Offset of the identifier in an echo message (RFC 792, RFC 4443 §4.1).
const IDENT_AT: usize = 4;
/// Offset of the checksum in an ICMP message.
const CHECKSUM_AT: usize = 2;

/// One proxied echo flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingFlow {
    /// The ping socket.
    pub sock: SockRef,
    /// Where the requests go on the host (the destination after NAT).
    pub target: IpAddr,
    /// Last request or reply.
    pub last_activity: Instant,
}

impl PingFlow {
    /// When the flow expires unless traffic refreshes it.
    pub fn expires(&self) -> Instant {
        self.last_activity + IDLE_TIMEOUT
    }

    /// The flow's deadline, for the engine's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        Some(self.expires())
    }
}

fn protocol_of(addr: &IpAddr) -> IpProtocol {
    match addr {
        IpAddr::V4(_) => IpProtocol::Icmp,
        IpAddr::V6(_) => IpProtocol::Icmpv6,
    }
}

fn malformed(addr: &IpAddr) -> DropReason {
    match addr {
        IpAddr::V4(_) => DropReason::Icmpv4Malformed,
        IpAddr::V6(_) => DropReason::Icmpv6Malformed,
    }
}

fn ignored(addr: &IpAddr) -> DropReason {
    match addr {
        IpAddr::V4(_) => DropReason::Icmpv4Ignored,
        IpAddr::V6(_) => DropReason::Icmpv6Ignored,
    }
}

/// Whether `message` (an ICMP message of `addr`'s family) is an echo of the given
/// direction with code 0 (RFC 792 "Echo or Echo Reply Message", RFC 4443 §4.1–4.2).
fn is_echo(addr: &IpAddr, message: &[u8], request: bool) -> bool {
    let (Some(&ty), Some(&code)) = (message.first(), message.get(1)) else {
        return false;
    };
    let want = match (addr, request) {
        (IpAddr::V4(_), true) => u8::from(icmpv4::Message::EchoRequest),
        (IpAddr::V4(_), false) => u8::from(icmpv4::Message::EchoReply),
        (IpAddr::V6(_), true) => u8::from(icmpv6::Message::EchoRequest),
        (IpAddr::V6(_), false) => u8::from(icmpv6::Message::EchoReply),
    };
    ty == want && code == 0
}

fn sock_of(id: FlowId) -> SockRef {
    SockRef::new(SockKind::Ping, Side::Target as u8, id.generation, id.slot)
}

fn load(e: &Engine<'_>, id: FlowId) -> Option<(FlowKey, PingFlow)> {
    let Some(Flow::Ping(f)) = e.flows.get(id) else {
        return None;
    };
    Some((*e.flows.key(id, Side::Initiator)?, *f))
}

fn store(e: &mut Engine<'_>, id: FlowId, f: PingFlow) {
    if let Some(at) = f.next_deadline() {
        e.note_deadline(at);
    }
    if let Some(Flow::Ping(slot)) = e.flows.get_mut(id) {
        *slot = f;
    }
}

fn destroy<H: Host>(e: &mut Engine<'_>, id: FlowId, f: &PingFlow, host: &mut H) {
    host.exec(Op::Close {
        sock: f.sock,
        abort: false,
    });
    e.flows.remove(id);
    e.stats.ping_closed += 1;
}

/// Handle an ICMP (IPv4) or ICMPv6 message from the guest, `src` → `dst`, that is not
/// Neighbor Discovery: echo requests are proxied, everything else is dropped.
pub(crate) fn from_guest<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    src: IpAddr,
    dst: IpAddr,
    message: &[u8],
    host: &mut H,
) {
    if message.len() < ECHO_HEADER_LEN {
        e.stats.record_drop(malformed(&dst));
        return;
    }
    if !is_echo(&dst, message, true) {
        e.stats.record_drop(ignored(&dst));
        return;
    }
    if !crate::udp::is_unicast(&src) || !crate::udp::is_unicast(&dst) {
        e.stats.record_drop(DropReason::BadAddress);
        return;
    }
    let ident = u16::from_be_bytes([message[IDENT_AT], message[IDENT_AT + 1]]);
    let key = FlowKey {
        pif: Pif::Tap,
        protocol: protocol_of(&dst),
        our_addr: dst,
        our_port: ident,
        endpoint_addr: src,
        endpoint_port: ident,
    };
    let id = match e.flows.lookup(&key) {
        Some((id, _)) if matches!(e.flows.get(id), Some(Flow::Ping(_))) => id,
        Some(_) => {
            e.stats.record_drop(DropReason::BadAddress);
            return;
        }
        None => match open(e, now, key, host) {
            Some(id) => id,
            None => return,
        },
    };
    let Some((_, mut f)) = load(e, id) else {
        return;
    };
    match host.exec(Op::SendTo {
        sock: f.sock,
        data: message,
        to: Some(fwd::host_sockaddr(&e.config, f.target, 0)),
    }) {
        OpResult::Err(_) => e.stats.record_drop(DropReason::PingSendFailed),
        _ => e.stats.echo_requests += 1,
    }
    f.last_activity = now;
    store(e, id, f);
}

/// Open an echo flow and its ping socket.
fn open<H: Host>(e: &mut Engine<'_>, now: Instant, key: FlowKey, host: &mut H) -> Option<FlowId> {
    let target = fwd::target_addr_from_guest(&e.config, key.our_addr);
    let placeholder = PingFlow {
        sock: sock_of(FlowId {
            slot: 0,
            generation: 0,
        }),
        target,
        last_activity: now,
    };
    let id = match e.flows.insert(Flow::Ping(placeholder), [Some(key), None]) {
        Ok(id) => id,
        Err(InsertError::Full) => {
            e.stats.record_drop(DropReason::FlowTableFull);
            return None;
        }
        Err(_) => {
            e.stats.record_drop(DropReason::BadAddress);
            return None;
        }
    };
    let f = PingFlow {
        sock: sock_of(id),
        ..placeholder
    };
    let (family, transport) = match target {
        IpAddr::V4(_) => (Family::V4, Transport::Icmp),
        IpAddr::V6(_) => (Family::V6, Transport::Icmpv6),
    };
    match host.exec(Op::Open {
        sock: f.sock,
        family,
        transport,
        ns: Namespace::Host,
    }) {
        OpResult::Err(err) => {
            e.stats.record_drop(if err == HostError::PermissionDenied {
                DropReason::PingForbidden
            } else {
                DropReason::HostSocketFailed
            });
            e.flows.remove(id);
            return None;
        }
        _ => e.stats.ping_opened += 1,
    }
    host.exec(Op::Watch {
        sock: f.sock,
        interest: Interest {
            read: true,
            write: false,
        },
    });
    store(e, id, f);
    Some(id)
}

/// Readiness on a ping socket: read the replies and send each to the guest with its
/// own identifier restored.
pub(crate) fn on_socket<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    sock: SockRef,
    r: Readiness,
    host: &mut H,
) {
    let id = match e.flows.id_of_slot(sock.slot()) {
        Some(id)
            if id.generation == sock.generation()
                && matches!(e.flows.get(id), Some(Flow::Ping(f)) if f.sock == sock) =>
        {
            id
        }
        _ => {
            e.stats.record_drop(DropReason::StaleSockRef);
            return;
        }
    };
    let Some((key, mut f)) = load(e, id) else {
        return;
    };
    if r.error {
        host.exec(Op::TakeError { sock });
    }
    let off = frame::upper_offset(&key.our_addr);
    let cap = crate::udp::max_payload(&key.our_addr)
        .saturating_add(crate::wire::udp::HEADER_LEN)
        .min(e.tx.len().saturating_sub(off));
    for n in 0.. {
        if n == MAX_REPLIES_PER_EVENT {
            host.exec(Op::Watch {
                sock,
                interest: Interest {
                    read: true,
                    write: false,
                },
            });
            break;
        }
        let buf = &mut e.tx[off..off + cap];
        let len = match host.exec(Op::RecvFrom { sock, buf }) {
            OpResult::Received { len, .. } => len,
            OpResult::Err(HostError::WouldBlock) => break,
            // An ICMP error for an earlier request: consumed, keep reading.
            OpResult::Err(_) => continue,
            _ => break,
        };
        if len > cap {
            e.stats.record_drop(DropReason::DatagramTooBig);
            continue;
        }
        let message = &mut e.tx[off..off + len];
        if len < ECHO_HEADER_LEN || !is_echo(&key.our_addr, message, false) {
            e.stats.record_drop(ignored(&key.our_addr));
            continue;
        }
        f.last_activity = now;
        reply_to_guest(e, &key, len, host);
    }
    store(e, id, f);
}

/// Frame the echo reply at [`frame::upper_offset`] for the guest: its identifier set
/// back to the guest's, the checksum recomputed (RFC 792: over the message; RFC 4443
/// §2.3: with the IPv6 pseudo-header).
fn reply_to_guest<H: Host>(e: &mut Engine<'_>, key: &FlowKey, len: usize, host: &mut H) {
    let off = frame::upper_offset(&key.our_addr);
    let message = &mut e.tx[off..off + len];
    put_u16(message, IDENT_AT, key.endpoint_port);
    let checksum_at = match key.our_addr {
        IpAddr::V4(_) => {
            put_u16(message, CHECKSUM_AT, 0);
            let sum = checksum::checksum(message);
            put_u16(message, CHECKSUM_AT, sum);
            None
        }
        IpAddr::V6(_) => Some(CHECKSUM_AT),
    };
    let link = e.guest_link();
    match frame::finish(
        &mut e.tx,
        link,
        key.our_addr,
        key.endpoint_addr,
        key.protocol,
        len,
        checksum_at,
    ) {
        Some(frame_len) => {
            e.stats.echo_replies += 1;
            e.transmit(frame_len, host);
        }
        None => e.stats.record_drop(DropReason::DatagramTooBig),
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn echo_types_by_family() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(core::net::Ipv6Addr::LOCALHOST);
        assert!(is_echo(&v4, &[8, 0, 0, 0], true));
        assert!(is_echo(&v4, &[0, 0, 0, 0], false));
        assert!(!is_echo(&v4, &[8, 1, 0, 0], true), "code must be 0");
        assert!(is_echo(&v6, &[128, 0], true));
        assert!(is_echo(&v6, &[129, 0], false));
        assert!(!is_echo(&v6, &[8, 0], true));
        assert!(!is_echo(&v6, &[], true));
    }

    #[test]
    fn deadline_is_sixty_seconds_after_activity() {
        let f = PingFlow {
            sock: SockRef::new(SockKind::Ping, 1, 0, 0),
            target: IpAddr::V4(Ipv4Addr::LOCALHOST),
            last_activity: Instant::from_secs(1),
        };
        assert_eq!(f.next_deadline(), Some(Instant::from_secs(61)));
    }
}
