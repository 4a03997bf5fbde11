//! The end of a sweep: the fresh connections of its last phase, what is still open,
//! and the verdict over everything it ran (outcomes, delivery, stalls).

use super::{Conn, World, FRESH_BOUND};
use crate::guest::{GuestState, Outcome};
use crate::sweep::{
    completed, give_up_time, live_conn_sockets, max_stalled_wakeups, Failure, Misbehaviour,
    SweepStats,
};
use std::time::Duration;

impl World<'_, '_> {
    /// Whether the liveness phase is done: every connection finished, no flows, no
    /// open connection sockets, nothing queued on the listener.
    pub(super) fn all_closed(&self) -> bool {
        self.engine.flow_count() == 0
            && live_conn_sockets(&self.host).is_empty()
            && self
                .listener
                .and_then(|l| self.host.socket(l))
                .is_none_or(|l| l.backlog.is_empty())
            && self.conns.iter().all(|c| self.conn_done(c))
    }

    fn conn_done(&self, c: &Conn) -> bool {
        // An inbound connection the guest never heard of (refused by a full table, or
        // its SYNs lost until the engine gave up) is done once its host side is.
        c.start_at.is_none()
            && (c.guest.is_closed() || (c.guest.state == GuestState::Listen && !c.outbound))
    }

    /// Describe what is still open.
    pub(super) fn stuck(&self) -> String {
        let mut parts = Vec::new();
        if self.engine.flow_count() > 0 {
            parts.push(format!("{} flows", self.engine.flow_count()));
        }
        let socks = live_conn_sockets(&self.host);
        if !socks.is_empty() {
            parts.push(format!("{} open host sockets", socks.len()));
        }
        if let Some(l) = self.listener.and_then(|l| self.host.socket(l)) {
            if !l.backlog.is_empty() {
                parts.push(format!(
                    "{} connections queued on the listener",
                    l.backlog.len()
                ));
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            if !self.conn_done(c) {
                parts.push(format!("conn {i} guest {:?}", c.guest.state));
            }
        }
        parts.join(", ")
    }

    /// The last phase: a fresh connection each way, each family, must complete —
    /// one at a time, so that even a one-flow table has room. Outbound ones go
    /// first: their frames show the engine the guest's current addresses.
    pub(super) fn fresh(&mut self) -> Result<(), Failure> {
        for (outbound, v6) in [(true, false), (true, true), (false, false), (false, true)] {
            let at = self.now;
            let i = self.add_conn(outbound, true, at, Some(v6));
            let bound = self.now + FRESH_BOUND;
            let done = |w: &World<'_, '_>| w.conns[i].guest.is_closed() && w.all_closed();
            let ok = self.run_until(bound, done)?;
            let c = &self.conns[i];
            if !completed(&c.guest) {
                return Err(self.fail(format!(
                    "fresh conn {i} ({}) did not complete: guest {:?}",
                    if outbound { "outbound" } else { "inbound" },
                    c.guest.state
                )));
            }
            if !ok {
                return Err(self.fail(format!("fresh conn {i} left: {}", self.stuck())));
            }
        }
        Ok(())
    }

    pub(super) fn finish(&mut self) -> Result<SweepStats, Failure> {
        self.check_stalls()?;
        if self.options.strict {
            self.check_outcomes()?;
        }
        for (i, c) in self.conns.iter().enumerate() {
            if completed(&c.guest) {
                if c.guest.received != c.to_guest {
                    return Err(self.fail(format!(
                        "conn {i} completed but the guest got {} of {} bytes",
                        c.guest.received.len(),
                        c.to_guest.len()
                    )));
                }
                // Its host socket got everything (a later one may exist: a stale
                // duplicate of the guest's SYN opens a new host connection).
                let got: Vec<usize> = c
                    .socks
                    .iter()
                    .filter_map(|s| self.host.socket(*s))
                    .map(|s| s.tx.len())
                    .collect();
                if !got.contains(&c.guest.send.len()) {
                    return Err(self.fail(format!(
                        "conn {i} completed but its host sockets got {got:?} of {} bytes",
                        c.guest.send.len()
                    )));
                }
                self.stats.completed += 1;
            } else {
                self.stats.reset += 1;
            }
            self.stats.bytes_to_guest += c.guest.received.len() as u64;
            self.stats.bytes_to_host += c
                .socks
                .iter()
                .filter_map(|s| self.host.socket(*s))
                .map(|s| s.tx.len() as u64)
                .sum::<u64>();
        }
        self.stats.virtual_time = self.elapsed();
        self.stats.link_faults = self.link.injected;
        self.stats.host_faults = self.host.faults.injected;
        let s = self.engine.stats();
        self.stats.engine_retransmits = s.tcp_retransmits + s.tcp_fast_retransmits;
        Ok(self.stats.clone())
    }

    /// Strict sweeps: each connection ended as its plan says — completed, or reset
    /// by design with the reset reaching the guest. A reset after both byte strings
    /// were delivered, both FINs included, passes as a late reset.
    fn check_outcomes(&mut self) -> Result<(), Failure> {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let planned = c.plan.and_then(Misbehaviour::planned_end);
            let planned_reset = planned.is_some();
            let want = planned.unwrap_or(Outcome::Completed);
            let got = c.guest.outcome();
            if got == Some(want) {
                self.stats.planned_resets += u64::from(planned_reset);
            } else if got == Some(Outcome::Reset) && self.delivered(c) {
                self.stats.late_resets += 1;
            } else {
                return Err(self.fail(format!(
                    "conn {i} ({}, plan {:?}) ended {got:?}, not {want:?} (longest outage \
                     {:?}; the ends give up after {:?})",
                    if c.outbound { "outbound" } else { "inbound" },
                    c.plan,
                    self.stats.longest_outage,
                    give_up_time()
                )));
            }
        }
        Ok(())
    }

    /// Whether both byte strings of `c` were delivered whole, each followed by its
    /// FIN: the guest got every byte and the engine's FIN, and a host socket got
    /// every byte of the guest's and then its FIN (the engine shut it down).
    fn delivered(&self, c: &Conn) -> bool {
        c.guest.received == c.to_guest
            && c.guest.fin_received
            && c.socks
                .iter()
                .filter_map(|s| self.host.socket(*s))
                .any(|s| s.tx == c.guest.send && s.tx_shutdown)
    }

    /// While an end is stalled the engine must not spin: at most
    /// [`max_stalled_wakeups`] timer wakeups in every whole second after the first
    /// of the stall.
    fn check_stalls(&mut self) -> Result<(), Failure> {
        let end = self.now;
        let mut spans = Vec::new();
        for c in &self.conns {
            let closed = c.closed_at.unwrap_or(end);
            if let Some(from) = c.guest.stopped_reading {
                spans.push((from, c.guest.resumed_reading.unwrap_or(end).min(closed)));
            }
            if let Some(from) = c.host_stopped {
                spans.push((from, c.host_resumed.unwrap_or(end).min(closed)));
            }
        }
        const SEC: u64 = 1_000_000_000;
        for (from, to) in spans {
            let lasted = Duration::from_nanos(to.as_nanos().saturating_sub(from.as_nanos()));
            self.stats.stalls += 1;
            self.stats.longest_stall = self.stats.longest_stall.max(lasted);
            let first = from.as_nanos().div_ceil(SEC) + 1;
            let last = to.as_nanos() / SEC; // seconds [first, last) lie wholly inside
            for second in first..last {
                let n = self.wakeups.get(&second).copied().unwrap_or(0);
                self.stats.max_stalled_wakeups = self.stats.max_stalled_wakeups.max(n);
                if n > max_stalled_wakeups(self.conns.len()) {
                    return Err(self.fail(format!(
                        "{n} engine timer wakeups in second {second} while an end was \
                         stalled (from {:.3} s to {:.3} s)",
                        from.as_nanos() as f64 / 1e9,
                        to.as_nanos() as f64 / 1e9
                    )));
                }
            }
        }
        Ok(())
    }
}
