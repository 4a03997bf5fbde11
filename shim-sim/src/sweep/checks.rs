//! The safety properties a sweep checks after every step.

use super::world::World;
use super::{live_conn_sockets, Failure};
use crate::guest::GuestState;
use crate::testbed::Segment;
use passt_core::wire::tcp::TcpFlags;

impl World<'_, '_> {
    /// Check a segment the engine just sent the guest against what the host peer of
    /// its connection sent and what its host socket took:
    /// - every payload byte is the peer's byte at that stream position, and the peer
    ///   has sent it (in order, exactly once: nothing invented, nothing shifted);
    /// - a FIN comes exactly after the peer's last byte, once the peer closed;
    /// - the ACK covers no more than the host socket accepted (passt's rule: the guest
    ///   learns its data arrived only once the socket has it).
    pub(super) fn check_emitted(&mut self, seg: &Segment) -> Result<(), Failure> {
        let Some(&i) = self.by_tuple.get(&(seg.dst, seg.src)) else {
            return Ok(());
        };
        let c = &mut self.conns[i];
        if c.start_at.is_some() {
            return Ok(());
        }
        if seg.has(TcpFlags::SYN) {
            c.engine_isn = Some(seg.seq);
            c.engine_max = Some(seg.seq.wrapping_add(1));
        } else if !seg.has(TcpFlags::RST) {
            let end = seg
                .seq
                .wrapping_add(seg.payload.len() as u32)
                .wrapping_add(u32::from(seg.has(TcpFlags::FIN)));
            if c.engine_max.is_some_and(|m| seq_lt(m, end)) {
                c.engine_max = Some(end);
            }
        }
        let took = c
            .socks
            .last()
            .and_then(|s| self.host.socket(*s))
            .map_or(0, |s| s.tx.len() as i64 + i64::from(s.tx_shutdown));
        // A RST on an inbound connection may come before the engine learned the
        // guest's ISN (its SYN unanswered): then the ACK field means nothing.
        let meaningful = c.outbound || !seg.has(TcpFlags::RST);
        if seg.has(TcpFlags::ACK) && meaningful {
            let acked = i64::from(seg.ack.wrapping_sub(c.guest.iss.wrapping_add(1)) as i32);
            if acked > took {
                let what = format!(
                    "conn {i}: the engine acknowledged {acked} bytes but the host socket took \
                     {took} (sockets {:x?}; open: {:x?})",
                    c.socks.iter().map(|s| s.to_raw()).collect::<Vec<_>>(),
                    live_conn_sockets(&self.host)
                        .iter()
                        .map(|(r, p)| (r.to_raw(), *p))
                        .collect::<Vec<_>>()
                );
                return Err(self.fail(what));
            }
        }
        let Some(isn) = c.engine_isn else {
            return Ok(());
        };
        if seg.has(TcpFlags::SYN) || seg.has(TcpFlags::RST) {
            return Ok(());
        }
        let off = seg.seq.wrapping_sub(isn.wrapping_add(1)) as i32;
        let len = seg.payload.len();
        let mut what = None;
        if len > 0 {
            if off < 0 {
                what = Some(format!("conn {i}: data {} bytes before the stream", -off));
            } else {
                let (from, to) = (off as usize, off as usize + len);
                if to > c.peer.sent {
                    what = Some(format!(
                        "conn {i}: the engine sent bytes {from}..{to} but the peer sent only {}",
                        c.peer.sent
                    ));
                } else if seg.payload[..] != c.to_guest[from..to] {
                    what = Some(format!(
                        "conn {i}: the engine sent wrong bytes at {from}..{to}"
                    ));
                }
            }
        }
        if what.is_none() && seg.has(TcpFlags::FIN) {
            let at = i64::from(off) + len as i64;
            if at != c.to_guest.len() as i64 || !c.peer.closed {
                what = Some(format!(
                    "conn {i}: FIN at stream position {at}, the peer sent {} bytes and {}",
                    c.peer.sent,
                    if c.peer.closed {
                        "closed"
                    } else {
                        "did not close"
                    }
                ));
            }
        }
        match what {
            Some(w) => Err(self.fail(w)),
            None => Ok(()),
        }
    }

    /// The engine counted a guest frame as out of window. That is wrong when the
    /// frame is an undamaged segment of an established connection acknowledging
    /// only what the engine has sent (RFC 9293 §3.10.7.4 drops an ACK only for data
    /// *not yet sent*): the guest's progress would be lost and the connection stall.
    pub(super) fn check_refused_ack(&mut self, frame: &[u8]) -> Result<(), Failure> {
        let Some(seg) = Segment::from_frame(frame) else {
            return Ok(()); // damaged on the way: anything may happen to it
        };
        let Some(&i) = self.by_tuple.get(&(seg.src, seg.dst)) else {
            return Ok(());
        };
        let c = &self.conns[i];
        let (Some(isn), Some(max)) = (c.engine_isn, c.engine_max) else {
            return Ok(());
        };
        let plain_ack = seg.has(TcpFlags::ACK)
            && !seg.has(TcpFlags::SYN)
            && !seg.has(TcpFlags::RST)
            && c.socks.len() == 1
            && c.guest.state == GuestState::Established;
        if plain_ack && seq_lt(isn, seg.ack) && !seq_lt(max, seg.ack) {
            let what = format!(
                "conn {i}: the engine refused the guest's ACK of {} bytes although it had sent {}",
                seg.ack.wrapping_sub(isn.wrapping_add(1)),
                max.wrapping_sub(isn.wrapping_add(1))
            );
            return Err(self.fail(what));
        }
        Ok(())
    }

    /// Check the whole state after a step:
    /// - the engine's structural invariants and its flow capacity;
    /// - exactly one open host socket per flow (none leaked, none lost);
    /// - no operation on a closed socket;
    /// - each host socket received a prefix of the guest's byte string (in order,
    ///   exactly once), all of it once the guest's FIN was passed on.
    pub(super) fn check_state(&mut self) -> Result<(), Failure> {
        if let Err(e) = self.engine.check_invariants() {
            return Err(self.fail(format!("engine invariant broken: {e}")));
        }
        let flows = self.engine.flow_count();
        if flows > self.options.flows {
            return Err(self.fail(format!(
                "{flows} flows in a table of {}",
                self.options.flows
            )));
        }
        let socks = live_conn_sockets(&self.host).len();
        if socks != flows {
            return Err(self.fail(format!("{socks} open connection sockets for {flows} flows")));
        }
        if let Some(m) = self.host.misuse.first() {
            let what = format!("host misused: {m}");
            return Err(self.fail(what));
        }
        for i in 0..self.conns.len() {
            for k in 0..self.conns[i].socks.len() {
                let c = &self.conns[i];
                let sock = c.socks[k];
                let Some(s) = self.host.socket(sock) else {
                    continue;
                };
                let want = &c.guest.send;
                let from = c
                    .checked_tx
                    .get(&sock)
                    .copied()
                    .unwrap_or(0)
                    .min(s.tx.len());
                let what = if s.tx.len() > want.len() || s.tx[from..] != want[from..s.tx.len()] {
                    Some(format!(
                        "conn {i}: the host peer received {} bytes that are not a prefix of \
                         the guest's {}",
                        s.tx.len(),
                        want.len()
                    ))
                } else if s.tx_shutdown && s.tx.len() != want.len() {
                    Some(format!(
                        "conn {i}: the guest's FIN reached the host peer after {} of {} bytes",
                        s.tx.len(),
                        want.len()
                    ))
                } else {
                    None
                };
                if let Some(w) = what {
                    return Err(self.fail(w));
                }
                let len = s.tx.len();
                self.conns[i].checked_tx.insert(sock, len);
            }
        }
        Ok(())
    }
}

/// Sequence comparison (RFC 1982): `a` before `b`.
fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}
