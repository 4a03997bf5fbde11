//! The far end of the modelled sockets, as a test drives it: how connects to a
//! destination turn out, ports other programs hold, and the remote peer's side of a
//! connection or a datagram exchange (send, close, reset, drain, connect). Each call
//! changes the socket and queues the readiness the engine would get from epoll.

use super::{ConnectBehaviour, SimSockets, SockState};
use passt_core::io::{Family, HostError, Transport};
use passt_core::{Readiness, SockRef};
use std::net::SocketAddr;

impl SimSockets {
    /// Choose how connects to `addr` behave (default: [`ConnectBehaviour::Accept`]).
    pub fn set_behaviour(&mut self, addr: SocketAddr, b: ConnectBehaviour) {
        self.behaviours.insert(addr, b);
    }

    /// Pretend another program has bound `addr`: binds to it fail with `EADDRINUSE`.
    pub fn occupy(&mut self, addr: SocketAddr) {
        let mut s = self.blank(Family::of(&addr.ip()), Transport::Tcp);
        s.local = Some(addr);
        s.state = SockState::Listening;
        s.foreign = true;
        // A raw key no engine SockRef can have (kind byte 0 is invalid).
        let raw = u64::from(addr.port()) | 1 << 40;
        self.socks.insert(raw, s);
        self.note_bound(addr, raw);
    }

    /// Pretend another program has a UDP socket bound to `addr`: the engine's binds to
    /// it fail with `EADDRINUSE`.
    pub fn occupy_udp(&mut self, addr: SocketAddr) {
        let mut s = self.blank(Family::of(&addr.ip()), Transport::Udp);
        s.local = Some(addr);
        s.foreign = true;
        let raw = u64::from(addr.port()) | 2 << 40;
        self.socks.insert(raw, s);
        self.note_bound(addr, raw);
    }

    /// Complete every pending connect according to its destination's behaviour.
    pub fn complete_connects(&mut self) {
        let pending: Vec<u64> = self
            .socks
            .iter()
            .filter(|(_, s)| s.state == SockState::Connecting)
            .map(|(k, _)| *k)
            .collect();
        for raw in pending {
            let Some(sock) = SockRef::from_raw(raw) else {
                continue;
            };
            let s = self.socks.get_mut(&raw).expect("listed above");
            let behaviour = s
                .peer
                .and_then(|p| self.behaviours.get(&p).copied())
                .unwrap_or(ConnectBehaviour::Accept);
            let r = if behaviour == ConnectBehaviour::Refuse {
                s.state = SockState::Failed(HostError::ConnectionRefused);
                Readiness {
                    writable: true,
                    error: true,
                    hangup: true,
                    ..Readiness::default()
                }
            } else {
                s.state = SockState::Connected;
                Readiness {
                    writable: true,
                    ..Readiness::default()
                }
            };
            self.push_event(sock, r);
        }
    }

    /// The remote peer of `sock` sends `data`.
    pub fn peer_send(&mut self, sock: SockRef, data: &[u8]) {
        if let Some(s) = self.socks.get_mut(&sock.to_raw()) {
            s.rx.extend(data);
            self.push_event(
                sock,
                Readiness {
                    readable: true,
                    ..Readiness::default()
                },
            );
        }
    }

    /// The remote peer closes its sending side (FIN).
    pub fn peer_close(&mut self, sock: SockRef) {
        if let Some(s) = self.socks.get_mut(&sock.to_raw()) {
            s.rx_eof = true;
            self.push_event(
                sock,
                Readiness {
                    readable: true,
                    hangup: true,
                    ..Readiness::default()
                },
            );
        }
    }

    /// The remote peer resets the connection.
    pub fn peer_reset(&mut self, sock: SockRef) {
        if let Some(s) = self.socks.get_mut(&sock.to_raw()) {
            s.state = SockState::Failed(HostError::ConnectionReset);
            self.push_event(
                sock,
                Readiness {
                    readable: true,
                    error: true,
                    hangup: true,
                    ..Readiness::default()
                },
            );
        }
    }

    /// The peer drained `n` bytes: send space grows back (and writability is reported).
    pub fn peer_drain(&mut self, sock: SockRef, n: usize) {
        if let Some(s) = self.socks.get_mut(&sock.to_raw()) {
            s.send_space += n;
            self.push_event(
                sock,
                Readiness {
                    writable: true,
                    ..Readiness::default()
                },
            );
        }
    }

    /// A datagram from `from` arrives on `sock` (for a connected socket, `from` is
    /// normally its peer; for a ping socket, `data` is an ICMP message).
    pub fn peer_send_to(&mut self, sock: SockRef, from: SocketAddr, data: &[u8]) {
        if let Some(s) = self.socks.get_mut(&sock.to_raw()) {
            s.datagrams_in.push_back((from, data.to_vec()));
            self.push_event(
                sock,
                Readiness {
                    readable: true,
                    ..Readiness::default()
                },
            );
        }
    }

    /// A client at `peer` connects to the listener `listener`.
    pub fn peer_connect(&mut self, listener: SockRef, peer: SocketAddr) {
        if let Some(s) = self.socks.get_mut(&listener.to_raw()) {
            s.backlog.push_back(peer);
            self.push_event(
                listener,
                Readiness {
                    readable: true,
                    ..Readiness::default()
                },
            );
        }
    }
}
