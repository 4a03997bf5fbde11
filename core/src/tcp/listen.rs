//! Listening sockets for forwarded ports, and what happens to the connections they
//! accept.
//!
//! - `-t` (inbound): listeners in the host namespace. A connection goes to the guest
//!   through the tap — or, in pasta, when its client is on the host's loopback, it is
//!   spliced straight to a socket inside the namespace (passt-reference §3.10, §5.3).
//! - `-T` (outbound, pasta): listeners on the namespace's loopback; connections are
//!   spliced to the host's loopback.

use super::{host, sock_of, splice, LISTEN_BACKLOG};
use crate::config::Mode;
use crate::engine::{Engine, Flow};
use crate::flow::FlowId;
use crate::fwd::{PortForwards, PortSet};
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult, Transport};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::tcp::TcpConn;
use crate::time::Instant;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

/// Which way a forwarded port points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host → guest (`-t`).
    Inbound = 0,
    /// Guest loopback → host loopback (`-T`).
    Outbound = 1,
}

/// A forwarded port could not be bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenError {
    /// The port.
    pub port: u16,
    /// Which option it came from.
    pub direction: Direction,
    /// Why.
    pub error: HostError,
}

/// Listener slot layout: bits 0–15 port, bit 16 family (1 = IPv6), bits 17–30 range,
/// bit 31 direction (1 = outbound).
fn listener_sock(direction: Direction, range: usize, family: Family, port: u16) -> SockRef {
    let fam = u32::from(family == Family::V6);
    let dir = u32::from(direction == Direction::Outbound);
    let slot = (dir << 31) | ((range as u32 & 0x3fff) << 17) | (fam << 16) | u32::from(port);
    SockRef::new(SockKind::TcpListen, 0, 0, slot)
}

fn rules<'e>(e: &'e Engine<'_>, direction: Direction) -> &'e PortForwards {
    match direction {
        Direction::Inbound => &e.config.forwards.tcp_in,
        Direction::Outbound => &e.config.forwards.tcp_out,
    }
}

/// Decode a listener: its direction, port, the port its connections go to, and the
/// address they go to when the range names one (a forward added at run time with a
/// target address).
fn decode(e: &Engine<'_>, sock: SockRef) -> Option<(Direction, u16, u16, Option<IpAddr>)> {
    let slot = sock.slot();
    let direction = if slot >> 31 == 1 {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let range = ((slot >> 17) & 0x3fff) as usize;
    let port = (slot & 0xffff) as u16;
    if range == AUTO_RANGE {
        return e.auto_bound[direction as usize]
            .contains(port)
            .then_some((direction, port, port, None));
    }
    let r = rules(e, direction)
        .ranges
        .get(range)
        .filter(|r| r.contains(port))?;
    let to = match direction {
        Direction::Inbound => e.inbound_targets.get(range).copied().flatten(),
        Direction::Outbound => None,
    };
    Some((direction, port, r.map(port), to))
}

/// Range index naming listeners bound by `auto` forwarding (mapping to the same port).
const AUTO_RANGE: usize = 0x3fff;

/// Open, bind and listen on `port` for `direction`, at the addresses
/// [`crate::fwd::port_binds`] names. Returns how many sockets were opened.
fn open_port<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    range: usize,
    port: u16,
    bind_addr: Option<IpAddr>,
    host: &mut H,
) -> Result<usize, ListenError> {
    let (binds, ns) = crate::fwd::port_binds(&e.config, direction, bind_addr);
    let mut opened = 0;
    for (family, addr, dual_stack) in binds {
        let sock = listener_sock(direction, range, family, port);
        let fail = |error| ListenError {
            port,
            direction,
            error,
        };
        if let OpResult::Err(err) = host.exec(Op::Open {
            sock,
            family,
            transport: Transport::Tcp,
            ns,
        }) {
            return Err(fail(err));
        }
        let steps = [
            Op::Bind {
                sock,
                addr: SocketAddr::new(addr, port),
                dual_stack,
            },
            Op::Listen {
                sock,
                backlog: LISTEN_BACKLOG,
            },
            Op::Watch {
                sock,
                interest: Interest {
                    read: true,
                    write: false,
                },
            },
        ];
        for op in steps {
            if let OpResult::Err(err) = host.exec(op) {
                host.exec(Op::Close { sock, abort: false });
                return Err(fail(err));
            }
        }
        opened += 1;
    }
    Ok(opened)
}

/// Open, bind and listen on every explicitly forwarded TCP port (`-t`, `-T`).
pub(crate) fn start_listeners<H: Host>(
    e: &mut Engine<'_>,
    host: &mut H,
) -> Result<usize, ListenError> {
    let mut opened = 0;
    for direction in [Direction::Inbound, Direction::Outbound] {
        if direction == Direction::Outbound && e.config.mode != Mode::Pasta {
            continue;
        }
        let ranges = rules(e, direction).ranges.clone();
        for (i, r) in ranges.iter().enumerate() {
            for port in r.first..=r.last {
                if port != 0 {
                    opened += open_port(e, direction, i, port, r.bind_addr, host)?;
                }
            }
        }
    }
    Ok(opened)
}

/// Run-time forwarding (the control socket): add the ranges of `new` to the
/// `direction` table and open their listeners, all or nothing. A port that can't be
/// bound closes what this call opened and leaves the table as it was. `target`, for
/// inbound ranges, is the guest-side address their connections go to instead of the
/// guest's own. Returns how many sockets were opened.
pub(crate) fn add_ranges<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    new: &PortForwards,
    target: Option<IpAddr>,
    host: &mut H,
) -> Result<usize, AddError> {
    let mut placed: heapless::Vec<usize, { crate::fwd::MAX_PORT_RANGES }> = heapless::Vec::new();
    let mut opened = 0;
    let mut failure = None;
    for r in new.ranges.iter().filter(|r| !r.is_vacant()) {
        let Some(i) = rules_mut(e, direction).place(r.clone()) else {
            failure = Some(AddError::TableFull);
            break;
        };
        let _ = placed.push(i);
        if direction == Direction::Inbound {
            e.inbound_targets[i] = target;
        }
        for port in r.first.max(1)..=r.last {
            match open_port(e, direction, i, port, r.bind_addr, host) {
                Ok(n) => opened += n,
                Err(err) => {
                    failure = Some(AddError::Listen(err));
                    break;
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    if let Some(err) = failure {
        for &i in placed.iter().rev() {
            close_range(e, direction, i, host);
        }
        return Err(err);
    }
    Ok(opened)
}

/// Why [`add_ranges`] changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddError {
    /// A port could not be bound.
    Listen(ListenError),
    /// The table has no room ([`crate::fwd::MAX_PORT_RANGES`]).
    TableFull,
}

/// Close the listeners of range `index` and vacate its slot.
pub(crate) fn close_range<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    index: usize,
    host: &mut H,
) {
    let Some(r) = rules(e, direction).ranges.get(index).cloned() else {
        return;
    };
    for port in r.first.max(1)..=r.last {
        for family in [Family::V4, Family::V6] {
            let sock = listener_sock(direction, index, family, port);
            host.exec(Op::Close { sock, abort: false });
        }
    }
    if direction == Direction::Inbound {
        e.inbound_targets[index] = None;
    }
    rules_mut(e, direction).vacate(index);
}

fn rules_mut<'e>(e: &'e mut Engine<'_>, direction: Direction) -> &'e mut PortForwards {
    match direction {
        Direction::Inbound => &mut e.config.forwards.tcp_in,
        Direction::Outbound => &mut e.config.forwards.tcp_out,
    }
}

/// `auto` forwarding: make the listeners of `direction` match `listening`, the ports
/// found listening on the other side. Ports we listen on ourselves in the opposite
/// direction (or forward explicitly) are never forwarded: that would loop. Bind
/// failures are skipped (the port may be busy here). Returns how many listeners changed.
pub(crate) fn update_auto<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    listening: &PortSet,
    host: &mut H,
) -> usize {
    let enabled = match direction {
        Direction::Inbound => e.config.forwards.tcp_in_auto,
        Direction::Outbound => e.config.forwards.tcp_out_auto,
    };
    if !enabled {
        return 0;
    }
    let d = direction as usize;
    let other = match direction {
        Direction::Inbound => Direction::Outbound,
        Direction::Outbound => Direction::Inbound,
    };
    let mut changed = 0;
    // Only a port found or bound can change: not all 65 535 every second.
    let candidates = listening.union(&e.auto_bound[d]);
    for port in candidates.iter().filter(|p| *p != 0) {
        let ours = e.auto_bound[other as usize].contains(port)
            || rules(e, other).find(port).is_some()
            || rules(e, direction).find(port).is_some();
        let want = listening.contains(port) && !ours;
        let have = e.auto_bound[d].contains(port);
        if want && !have {
            if let Ok(n) = open_port(e, direction, AUTO_RANGE, port, None, host) {
                if n > 0 {
                    e.auto_bound[d].insert(port);
                    changed += 1;
                }
            }
        } else if !want && have {
            for family in [Family::V4, Family::V6] {
                let sock = listener_sock(direction, AUTO_RANGE, family, port);
                host.exec(Op::Close { sock, abort: false });
            }
            e.auto_bound[d].remove(port);
            changed += 1;
        }
    }
    changed
}

/// Most connections taken from one listener per call, so that a deep backlog cannot
/// starve the event loop: the rest are taken from the timer path at once.
pub const ACCEPT_BATCH: usize = LISTEN_BACKLOG as usize;
/// Delay before the first retry of a failed `accept()`.
pub const ACCEPT_RETRY_MIN: Duration = Duration::from_millis(10);
/// Longest delay between retries of a failing `accept()` (the delay doubles per failed
/// retry up to this).
pub const ACCEPT_RETRY_MAX: Duration = Duration::from_secs(1);
/// Listeners remembered for a retry at once.
pub const ACCEPT_RETRY_SLOTS: usize = 256;

/// Listeners with connections still queued that no readiness will report again.
///
/// Listeners are watched edge-triggered: once `accept()` fails for want of descriptors
/// or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`), or a batch stops short of an
/// empty backlog, the pending connections would sit there until another one arrives.
/// The engine remembers such listeners and accepts from them on its own timer, with
/// an exponential backoff while the failure persists.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcceptRetry {
    listeners: heapless::Vec<SockRef, ACCEPT_RETRY_SLOTS>,
    at: Option<Instant>,
    /// Retry rounds in a row that left some listener failing.
    backoff: u8,
}

impl AcceptRetry {
    /// When the next retry is due, if any.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.at
    }

    /// How long to wait after a failure, given the rounds that failed so far.
    fn delay(&self) -> Duration {
        (ACCEPT_RETRY_MIN * (1u32 << self.backoff.min(7))).min(ACCEPT_RETRY_MAX)
    }

    /// Remember `listener`: at once when `busy` (a batch was cut short), else after
    /// the backoff delay. Returns false when there is no room to remember it.
    fn defer(&mut self, now: Instant, listener: SockRef, busy: bool) -> bool {
        if !self.listeners.contains(&listener) && self.listeners.push(listener).is_err() {
            return false;
        }
        let at = if busy { now } else { now + self.delay() };
        self.at = Some(self.at.map_or(at, |a| a.min(at)));
        true
    }

    /// `listener` was drained: nothing left to retry for it.
    fn forget(&mut self, listener: SockRef) {
        self.listeners.retain(|l| *l != listener);
        if self.listeners.is_empty() {
            self.at = None;
            self.backoff = 0;
        }
    }
}

/// Remember `listener` for a retry (see [`AcceptRetry`]).
fn defer_accept(e: &mut Engine<'_>, now: Instant, listener: SockRef, busy: bool) {
    if !e.accept_retry.defer(now, listener, busy) {
        e.stats.record_drop(DropReason::AcceptRetryFull);
    }
}

/// Accept again from the listeners whose `accept()` failed or whose batch was cut
/// short, once their retry is due.
pub(crate) fn retry_accepts<H: Host>(e: &mut Engine<'_>, now: Instant, host: &mut H) {
    if e.accept_retry.at.is_none_or(|at| at > now) {
        return;
    }
    let pending = core::mem::take(&mut e.accept_retry.listeners);
    e.accept_retry.at = None;
    // Listeners that fail again are deferred by the next, longer delay.
    e.accept_retry.backoff = e.accept_retry.backoff.saturating_add(1).min(7);
    for listener in pending {
        accept_all(e, now, listener, host);
    }
    if e.accept_retry.listeners.is_empty() {
        e.accept_retry.backoff = 0;
    }
}

/// Accept pending connections on a forwarded port (at most [`ACCEPT_BATCH`]) and
/// send each on its way. A listener left with connections queued is retried from the
/// timer path (see [`AcceptRetry`]).
pub(super) fn accept_all<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    listener: SockRef,
    host: &mut H,
) {
    let Some((direction, _port, mapped, to)) = decode(e, listener) else {
        e.stats.record_drop(DropReason::StaleSockRef);
        e.accept_retry.forget(listener);
        return;
    };
    for _ in 0..ACCEPT_BATCH {
        let id = match e
            .flows
            .insert(Flow::Tcp(TcpConn::placeholder()), [None, None])
        {
            Ok(id) => id,
            Err(_) => {
                // Full table: take the connections and reset them, so that clients are
                // refused instead of left hanging in the backlog.
                refuse_pending(e, now, listener, host);
                return;
            }
        };
        let sock = sock_of(id);
        let peer = match host.exec(Op::Accept { listener, sock }) {
            OpResult::Accepted { peer, .. } => peer,
            OpResult::Err(HostError::WouldBlock) => {
                e.flows.remove(id);
                e.accept_retry.forget(listener);
                return;
            }
            OpResult::Err(HostError::ConnectionReset) => {
                // Reset while queued (ECONNABORTED): on to the next one.
                e.flows.remove(id);
                continue;
            }
            _ => {
                // Out of descriptors or memory (or another failure): the connection
                // stays queued and no new readiness will say so. Try again later.
                e.flows.remove(id);
                e.stats.tcp_accept_failures += 1;
                defer_accept(e, now, listener, false);
                return;
            }
        };
        dispatch(e, now, id, sock, direction, peer, (mapped, to), host);
    }
    defer_accept(e, now, listener, true);
}

/// Send a connection accepted from a listener of `direction` on its way: spliced, or
/// offered to the guest on port `mapped` — at address `to` when the forward names one
/// (added at run time with a target), else the guest's own.
#[allow(clippy::too_many_arguments)]
fn dispatch<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    sock: SockRef,
    direction: Direction,
    peer: SocketAddr,
    (mapped, to): (u16, Option<IpAddr>),
    host: &mut H,
) {
    match direction {
        Direction::Outbound => {
            // -T: the namespace's loopback to the host's loopback, same family.
            let to = match peer.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            };
            splice::open(
                e,
                now,
                id,
                SocketAddr::new(to, mapped),
                Namespace::Host,
                host,
            );
        }
        Direction::Inbound if e.config.splice && peer.ip().is_loopback() => {
            // A loopback client bypasses the tap: connect from inside the namespace
            // to the guest's own address (passt-reference §3.10), or the target.
            match to.or_else(|| spliced_target(e, peer.ip())) {
                Some(to) => splice::open(
                    e,
                    now,
                    id,
                    SocketAddr::new(to, mapped),
                    Namespace::Guest,
                    host,
                ),
                None => {
                    e.stats.record_drop(DropReason::BadAddress);
                    host.exec(Op::Close { sock, abort: true });
                    e.flows.remove(id);
                }
            }
        }
        Direction::Inbound => host::offer_to_guest(e, now, id, peer, mapped, to, host),
    }
}

/// The namespace-side address a spliced connection from `client` goes to: the guest's
/// address of the same family.
pub(crate) fn spliced_target(e: &Engine<'_>, client: IpAddr) -> Option<IpAddr> {
    match client {
        IpAddr::V4(_) => e
            .config
            .ipv4
            .map(|c| IpAddr::V4(e.guest.addr_seen_v4.unwrap_or(c.addr))),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => e
            .config
            .ipv4
            .map(|c| IpAddr::V4(e.guest.addr_seen_v4.unwrap_or(c.addr))),
        IpAddr::V6(_) => e
            .config
            .ipv6
            .map(|c| IpAddr::V6(e.guest.addr_seen_v6.unwrap_or(c.addr))),
    }
}

/// Accept and reset connections we cannot track (a full flow table): each client
/// sees its connection reset (`ECONNRESET`), not a hang in the backlog.
fn refuse_pending<H: Host>(e: &mut Engine<'_>, now: Instant, listener: SockRef, host: &mut H) {
    for _ in 0..ACCEPT_BATCH {
        match host.exec(Op::Refuse { listener }) {
            OpResult::Done => {
                e.stats.record_drop(DropReason::FlowTableFull);
                e.stats.tcp_refused += 1;
            }
            OpResult::Err(HostError::WouldBlock) => {
                e.accept_retry.forget(listener);
                return;
            }
            OpResult::Err(HostError::ConnectionReset) => {}
            _ => {
                e.stats.tcp_accept_failures += 1;
                defer_accept(e, now, listener, false);
                return;
            }
        }
    }
    defer_accept(e, now, listener, true);
}
