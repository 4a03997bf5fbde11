//! UDP forwards changed at run time (the control socket, `doc/control-socket.md`;
//! the engine's entry points are in [`crate::fwd::runtime`]).
//!
//! A UDP forward's socket is more than a listener: the flows it created send their
//! replies through it. So removing a forward closes its sockets *and* those flows
//! (as `auto` forwarding does when a port goes away): their replies would have
//! nowhere to go, and a forward added later in the same range slot reuses the
//! sockets' names, so it must not inherit them. Adding is all or nothing, as for TCP.

use super::listen::{self, close_flows_of, listener_sock, open_port, rules};
use crate::engine::Engine;
use crate::fwd::PortForwards;
use crate::io::{Family, Host, Op};
use crate::tcp::{AddError, Direction};
use core::net::IpAddr;

/// Add the ranges of `new` to the `direction` table and bind their sockets, all or
/// nothing: a port that can't be bound closes what this call opened and leaves the
/// table as it was. `target` (inbound only) is the guest-side address datagrams go to
/// instead of the guest's own. Ports that `auto` forwarding had bound in the same
/// direction are handed over to the new forward. Returns how many sockets were opened.
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
    'ranges: for r in new.ranges.iter().filter(|r| !r.is_vacant()) {
        let Some(i) = rules_mut(e, direction).place(r.clone()) else {
            failure = Some(AddError::TableFull);
            break;
        };
        let _ = placed.push(i);
        if direction == Direction::Inbound {
            e.udp_inbound_targets[i] = target;
        }
        for port in r.first.max(1)..=r.last {
            match open_port(e, direction, i, port, r.bind_addr, host) {
                Ok(n) => opened += n,
                Err(err) => {
                    failure = Some(AddError::Listen(err));
                    break 'ranges;
                }
            }
        }
    }
    if let Some(err) = failure {
        for &i in placed.iter().rev() {
            close_range(e, direction, i, host);
        }
        return Err(err);
    }
    listen::yield_auto(e, direction, new, host);
    Ok(opened)
}

/// Close the flows and sockets of range `index` and vacate its slot.
pub(crate) fn close_range<H: Host>(
    e: &mut Engine<'_>,
    direction: Direction,
    index: usize,
    host: &mut H,
) {
    let Some(r) = rules(e, direction).ranges.get(index).cloned() else {
        return;
    };
    close_flows_of(e, |l| of_range(l, direction, index), host);
    for port in r.first.max(1)..=r.last {
        for family in [Family::V4, Family::V6] {
            let sock = listener_sock(direction, index, family, port);
            host.exec(Op::Close { sock, abort: false });
        }
    }
    if direction == Direction::Inbound {
        e.udp_inbound_targets[index] = None;
    }
    rules_mut(e, direction).vacate(index);
}

/// Whether the forwarded port's socket `sock` belongs to range `index` of `direction`
/// (the naming of [`listener_sock`]).
fn of_range(sock: crate::sockref::SockRef, direction: Direction, index: usize) -> bool {
    let slot = sock.slot();
    let dir = u32::from(direction == Direction::Outbound);
    slot >> 31 == dir && ((slot >> 17) & 0x3fff) as usize == index
}

fn rules_mut<'e>(e: &'e mut Engine<'_>, direction: Direction) -> &'e mut PortForwards {
    match direction {
        Direction::Inbound => &mut e.config.forwards.udp_in,
        Direction::Outbound => &mut e.config.forwards.udp_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_matched_to_their_range_and_direction_only() {
        let s = listener_sock(Direction::Inbound, 5, Family::V6, 5353);
        assert!(of_range(s, Direction::Inbound, 5));
        assert!(!of_range(s, Direction::Inbound, 4));
        assert!(!of_range(s, Direction::Outbound, 5));
        let o = listener_sock(Direction::Outbound, 0, Family::V4, 1);
        assert!(of_range(o, Direction::Outbound, 0));
        assert!(!of_range(o, Direction::Inbound, 0));
    }
}
