//! Sockets for forwarded UDP ports (passt-reference §1.5, §8.4):
//!
//! - `-u` (inbound): sockets bound in the host namespace; datagrams go to the guest
//!   through the tap, or — in pasta, from a sender on the host's loopback — straight to
//!   a socket inside the namespace ([`super::splice`]).
//! - `-U` (outbound, pasta): sockets bound to the namespace's 127.0.0.1 and ::1;
//!   datagrams go to the same port (plus the range's delta) on the host's loopback,
//!   socket to socket.
//! - `auto` (pasta's default for both): the ports bound on the other side, rescanned
//!   by the shim about once a second.

use crate::config::Mode;
use crate::engine::Engine;
use crate::fwd::{PortForwards, PortSet};
use crate::io::{Family, Host, Interest, Op, OpResult, Transport};
use crate::sockref::{SockKind, SockRef};
use crate::tcp::{Direction, ListenError};
use core::net::{IpAddr, SocketAddr};

/// Range index naming sockets bound by `auto` forwarding (mapping to the same port).
pub(super) const AUTO_RANGE: usize = 0x3fff;

/// What a forwarded port's socket stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listener {
    /// Which option bound it.
    pub direction: Direction,
    /// The port it is bound to.
    pub port: u16,
    /// The port its datagrams go to (the port plus the range's delta).
    pub mapped: u16,
    /// The address it is bound to, if the range named one (`-u ADDR/PORT`).
    pub bind_addr: Option<IpAddr>,
    /// The guest-side address its datagrams go to instead of the guest's own, for a
    /// forward added at run time with one (`-u HOST/P:TARGET/Q`).
    pub to: Option<IpAddr>,
}

/// Socket naming, as for TCP listeners: bits 0–15 port, bit 16 family (1 = IPv6),
/// bits 17–30 range, bit 31 direction (1 = outbound).
pub(super) fn listener_sock(
    direction: Direction,
    range: usize,
    family: Family,
    port: u16,
) -> SockRef {
    let fam = u32::from(family == Family::V6);
    let dir = u32::from(direction == Direction::Outbound);
    let slot = (dir << 31) | ((range as u32 & 0x3fff) << 17) | (fam << 16) | u32::from(port);
    SockRef::new(SockKind::UdpListen, 0, 0, slot)
}

pub(super) fn rules<'e>(e: &'e Engine<'_>, direction: Direction) -> &'e PortForwards {
    match direction {
        Direction::Inbound => &e.config.forwards.udp_in,
        Direction::Outbound => &e.config.forwards.udp_out,
    }
}

/// What the forwarded port's socket `sock` is for; `None` for a socket that is no
/// longer forwarded (an `auto` port given up since).
pub(crate) fn decode(e: &Engine<'_>, sock: SockRef) -> Option<Listener> {
    let slot = sock.slot();
    let direction = if slot >> 31 == 1 {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let range = ((slot >> 17) & 0x3fff) as usize;
    let port = (slot & 0xffff) as u16;
    if range == AUTO_RANGE {
        return e.auto_bound_udp[direction as usize]
            .contains(port)
            .then_some(Listener {
                direction,
                port,
                mapped: port,
                bind_addr: None,
                to: None,
            });
    }
    let r = rules(e, direction)
        .ranges
        .get(range)
        .filter(|r| r.contains(port))?;
    let to = match direction {
        Direction::Inbound => e.udp_inbound_targets.get(range).copied().flatten(),
        Direction::Outbound => None,
    };
    Some(Listener {
        direction,
        port,
        mapped: r.map(port),
        bind_addr: r.bind_addr,
        to,
    })
}

/// Open and bind the sockets of one forwarded port, at the addresses
/// [`crate::fwd::port_binds`] names. Returns how many sockets were opened.
pub(super) fn open_port<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    range: usize,
    port: u16,
    bind_addr: Option<IpAddr>,
    host: &mut H,
) -> Result<usize, ListenError> {
    let (binds, ns) = crate::fwd::port_binds(&e.config, direction, bind_addr);
    let mut opened: heapless::Vec<SockRef, 2> = heapless::Vec::new();
    for (family, addr, dual_stack) in binds {
        let sock = listener_sock(direction, range, family, port);
        let fail = |error, host: &mut H, opened: &heapless::Vec<SockRef, 2>| {
            // Leave nothing of a port that could not be set up completely.
            for s in opened {
                host.exec(Op::Close {
                    sock: *s,
                    abort: false,
                });
            }
            ListenError {
                port,
                direction,
                error,
            }
        };
        if let OpResult::Err(err) = host.exec(Op::Open {
            sock,
            family,
            transport: Transport::Udp,
            ns,
        }) {
            return Err(fail(err, host, &opened));
        }
        let steps = [
            Op::Bind {
                sock,
                addr: SocketAddr::new(addr, port),
                dual_stack,
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
                return Err(fail(err, host, &opened));
            }
        }
        let _ = opened.push(sock);
    }
    Ok(opened.len())
}

/// Open and bind every explicitly forwarded UDP port (`-u`, and `-U` for pasta).
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

/// Whether `port` is one we forward ourselves in a way that `auto` forwarding in
/// `direction` must not forward back (passt-reference §8.4: the reverse UDP and TCP
/// maps, explicit or automatic, and this direction's explicit UDP ports).
fn is_ours(e: &Engine<'_>, direction: Direction, port: u16) -> bool {
    let other = match direction {
        Direction::Inbound => Direction::Outbound,
        Direction::Outbound => Direction::Inbound,
    };
    let tcp_other = match other {
        Direction::Inbound => &e.config.forwards.tcp_in,
        Direction::Outbound => &e.config.forwards.tcp_out,
    };
    e.auto_bound_udp[other as usize].contains(port)
        || e.auto_bound[other as usize].contains(port)
        || rules(e, other).find(port).is_some()
        || tcp_other.find(port).is_some()
        || rules(e, direction).find(port).is_some()
}

/// `auto` forwarding: make the UDP sockets of `direction` match `bound`, the ports the
/// shim found on the other side (bound, unconnected UDP sockets and listening TCP
/// sockets, as passt does for iperf3-style servers). Bind failures are skipped (the
/// port may be taken here). Returns how many ports changed.
pub(crate) fn update_auto<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    bound: &PortSet,
    host: &mut H,
) -> usize {
    let enabled = match direction {
        Direction::Inbound => e.config.forwards.udp_in_auto,
        Direction::Outbound => e.config.forwards.udp_out_auto,
    };
    if !enabled || e.config.mode != Mode::Pasta {
        return 0;
    }
    let d = direction as usize;
    let mut changed = 0;
    // Only a port found or bound can change: not all 65 535 every second.
    let candidates = bound.union(&e.auto_bound_udp[d]);
    for port in candidates.iter().filter(|p| *p != 0) {
        let want = bound.contains(port) && !is_ours(e, direction, port);
        let have = e.auto_bound_udp[d].contains(port);
        if want && !have {
            if let Ok(n) = open_port(e, direction, AUTO_RANGE, port, None, host) {
                if n > 0 {
                    e.auto_bound_udp[d].insert(port);
                    changed += 1;
                }
            }
        } else if !want && have {
            for family in [Family::V4, Family::V6] {
                let sock = listener_sock(direction, AUTO_RANGE, family, port);
                host.exec(Op::Close { sock, abort: false });
            }
            e.auto_bound_udp[d].remove(port);
            forget_listener(e, direction, port, host);
            changed += 1;
        }
    }
    changed
}

/// Close the flows that send through an `auto` port's sockets, just closed: their
/// replies have nowhere to go.
fn forget_listener<H: Host>(e: &mut Engine<'_>, direction: Direction, port: u16, host: &mut H) {
    let gone = [Family::V4, Family::V6].map(|f| listener_sock(direction, AUTO_RANGE, f, port));
    close_flows_of(e, |l| gone.contains(&l), host);
}

/// Close every flow whose datagrams leave through a forwarded port's socket for which
/// `gone` holds (sockets being closed: the flows' replies would have nowhere to go,
/// and a later forward reusing the socket's name must not inherit them).
pub(super) fn close_flows_of<H: Host>(
    e: &mut Engine<'_>,
    gone: impl Fn(SockRef) -> bool,
    host: &mut H,
) {
    let mut next_slot = 0;
    loop {
        let batch: heapless::Vec<(crate::flow::FlowId, super::UdpFlow), 32> = e
            .flows
            .iter()
            .filter(|(id, _)| id.slot >= next_slot)
            .filter_map(|(id, f)| match f {
                crate::engine::Flow::Udp(u) if u.listener().is_some_and(&gone) => Some((id, *u)),
                _ => None,
            })
            .take(32)
            .collect();
        let Some((last, _)) = batch.last() else {
            return;
        };
        next_slot = last.slot + 1;
        for (id, f) in batch {
            super::destroy(e, id, &f, host);
        }
    }
}

/// Give up the `auto` sockets of `direction` on ports that `explicit` now forwards:
/// the explicit forward's sockets take the port over (with its flows closed, as when
/// an `auto` port goes away). Returns how many ports were given up.
pub(super) fn yield_auto<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    explicit: &PortForwards,
    host: &mut H,
) -> usize {
    let d = direction as usize;
    let mut given_up = 0;
    for r in explicit.ranges.iter().filter(|r| !r.is_vacant()) {
        for port in r.first.max(1)..=r.last {
            if e.auto_bound_udp[d].contains(port) {
                for family in [Family::V4, Family::V6] {
                    let sock = listener_sock(direction, AUTO_RANGE, family, port);
                    host.exec(Op::Close { sock, abort: false });
                }
                e.auto_bound_udp[d].remove(port);
                forget_listener(e, direction, port, host);
                given_up += 1;
            }
        }
    }
    given_up
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_names_keep_direction_range_family_and_port_apart() {
        let a = listener_sock(Direction::Inbound, 3, Family::V6, 5353);
        let b = listener_sock(Direction::Outbound, 3, Family::V6, 5353);
        let c = listener_sock(Direction::Inbound, AUTO_RANGE, Family::V4, 5353);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.kind(), SockKind::UdpListen);
        assert_eq!(b.slot() >> 31, 1);
        assert_eq!(((c.slot() >> 17) & 0x3fff) as usize, AUTO_RANGE);
        assert_eq!(c.slot() & 0xffff, 5353);
    }
}
