//! Forwards changed at run time (the control socket, `doc/control-socket.md`): the
//! engine's side of "add these ranges" and "remove these ranges".
//!
//! A change is all or nothing: every new port is bound before the change counts, and
//! a failure closes what the change opened and leaves the table as it was. Removing
//! a range closes its listening sockets only; connections they accepted are flows of
//! their own and keep running. Range slots are never renumbered (a listener's name
//! carries its range's index): a removed range leaves a [`PortRange::VACANT`] slot
//! that the next addition reuses.
//!
//! UDP forwards change the same way, with one difference: a UDP forward's socket
//! also carries the replies of the flows it created, so removing the forward closes
//! those flows too (`crate::udp::runtime`).

use super::{PortForwards, PortRange};
use crate::engine::{Engine, StartError};
use crate::io::{Host, Transport};
use crate::tcp::{AddError, Direction};
use core::net::IpAddr;

/// Why a run-time forwarding change was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeError {
    /// A port could not be bound (busy, not permitted…).
    Bind(StartError),
    /// The table has no room for the new ranges.
    TableFull,
    /// A range to remove is not forwarded.
    NotFound(PortRange),
    /// This transport or direction can't change at run time.
    Unsupported,
}

impl<'a> Engine<'a> {
    /// Add the ranges of `new` to the `transport`/`direction` forwards and bind their
    /// ports, as [`Engine::start`] does for start-up forwards. `target` (inbound only)
    /// is the guest-side address their connections go to instead of the guest's own.
    /// Returns how many sockets were opened.
    pub fn add_forwards<H: Host>(
        &mut self,
        transport: Transport,
        direction: Direction,
        new: &PortForwards,
        target: Option<IpAddr>,
        host: &mut H,
    ) -> Result<usize, ChangeError> {
        self.changeable(transport, direction)?;
        if direction == Direction::Outbound && target.is_some() {
            return Err(ChangeError::Unsupported);
        }
        let added = match transport {
            Transport::Udp => crate::udp::add_ranges(self, direction, new, target, host),
            _ => crate::tcp::add_ranges(self, direction, new, target, host),
        };
        added.map_err(|e| match e {
            AddError::TableFull => ChangeError::TableFull,
            AddError::Listen(l) => ChangeError::Bind(StartError {
                transport,
                direction,
                port: l.port,
                error: l.error,
            }),
        })
    }

    /// Remove the ranges of `old` (each equal to a forwarded range: ports, target
    /// port, address and interface) and close their sockets: for TCP the listeners
    /// only (accepted connections keep running), for UDP also the flows that reply
    /// through them. Returns how many ranges were removed.
    pub fn remove_forwards<H: Host>(
        &mut self,
        transport: Transport,
        direction: Direction,
        old: &PortForwards,
        host: &mut H,
    ) -> Result<usize, ChangeError> {
        self.changeable(transport, direction)?;
        let live = || old.ranges.iter().filter(|r| !r.is_vacant());
        let position = |e: &Engine<'_>, r: &PortRange| {
            e.forwards(transport, direction)
                .and_then(|(table, _)| table.position(r))
        };
        // All or nothing: every range must be forwarded before any is removed.
        if let Some(missing) = live().find(|r| position(self, r).is_none()) {
            return Err(ChangeError::NotFound(missing.clone()));
        }
        let mut removed = 0;
        for r in live() {
            if let Some(i) = position(self, r) {
                match transport {
                    Transport::Udp => crate::udp::close_range(self, direction, i, host),
                    _ => crate::tcp::close_range(self, direction, i, host),
                }
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The forwarded ranges of `transport`/`direction` (vacant slots included), and
    /// per range the target address it was added with.
    pub fn forwards(
        &self,
        transport: Transport,
        direction: Direction,
    ) -> Option<(&PortForwards, &[Option<IpAddr>])> {
        let f = &self.config.forwards;
        match (transport, direction) {
            (Transport::Tcp, Direction::Inbound) => Some((&f.tcp_in, &self.inbound_targets)),
            (Transport::Tcp, Direction::Outbound) => Some((&f.tcp_out, &[])),
            (Transport::Udp, Direction::Inbound) => Some((&f.udp_in, &self.udp_inbound_targets)),
            (Transport::Udp, Direction::Outbound) => Some((&f.udp_out, &[])),
            _ => None,
        }
    }

    fn changeable(&self, transport: Transport, direction: Direction) -> Result<(), ChangeError> {
        let outbound_ok = self.config.mode == crate::config::Mode::Pasta;
        match (transport, direction) {
            (Transport::Tcp | Transport::Udp, Direction::Inbound) => Ok(()),
            (Transport::Tcp | Transport::Udp, Direction::Outbound) if outbound_ok => Ok(()),
            _ => Err(ChangeError::Unsupported),
        }
    }
}
