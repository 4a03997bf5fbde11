//! The model of [`Op::Relay`](passt_core::io::Op::Relay): datagrams moved from one
//! modelled socket to another, as the Linux shim does with `recvmmsg`/`sendmmsg`.

use super::{SimSockets, SockState};
use passt_core::io::{HostError, OpResult};
use passt_core::SockRef;
use std::net::SocketAddr;

impl SimSockets {
    /// Take up to `max` datagrams from the head of `from`'s queue (while their sender
    /// is `only_from`, if given) and send each on `to`, to `dest` or `to`'s peer.
    pub(super) fn relay(
        &mut self,
        from: SockRef,
        to: SockRef,
        dest: Option<SocketAddr>,
        only_from: Option<SocketAddr>,
        max: usize,
    ) -> OpResult {
        match self.socks.get(&to.to_raw()) {
            Some(d) if d.is_datagram() && d.state != SockState::Closed => {
                if dest.is_none() && d.state != SockState::Connected {
                    return OpResult::Err(HostError::Other(89)); // EDESTADDRREQ
                }
            }
            Some(_) => return OpResult::Err(HostError::Other(95)), // EOPNOTSUPP
            None => return OpResult::Err(HostError::Other(9)),     // EBADF
        }
        let Some(src) = self.socks.get_mut(&from.to_raw()) else {
            return OpResult::Err(HostError::Other(9));
        };
        if !src.is_datagram() || src.state == SockState::Closed {
            return OpResult::Err(HostError::Other(95));
        }
        let mut moved = Vec::new();
        while moved.len() < max {
            match src.datagrams_in.front() {
                Some((sender, _)) if only_from.is_none_or(|p| p == *sender) => {
                    let (_, data) = src.datagrams_in.pop_front().expect("front exists");
                    moved.push(data);
                }
                _ => break,
            }
        }
        if moved.is_empty() {
            return OpResult::Err(HostError::WouldBlock);
        }
        let n = moved.len();
        let dst = self.socks.get_mut(&to.to_raw()).expect("checked above");
        dst.datagrams_out
            .extend(moved.into_iter().map(|data| (dest, data)));
        OpResult::Len(n)
    }
}
