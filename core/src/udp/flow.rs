//! The per-flow record of the UDP translator.
//!
//! A UDP flow pairs the guest's 4-tuple (the tap-side [`FlowKey`](crate::flow::FlowKey))
//! with the host socket its datagrams leave through. There are no buffers: datagrams
//! go from the tap frame straight into the socket, and from the socket straight into
//! the frame for the guest.

use crate::sockref::SockRef;
use crate::time::Instant;
use core::net::SocketAddr;
use core::time::Duration;

/// A flow with no traffic in either direction for this long is closed (passt: 180 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Where a flow's datagrams to the host go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPath {
    /// The guest started the flow: a socket of its own, bound to the guest's source
    /// port where possible and connected to the destination. Replies arrive on it.
    Socket(SockRef),
    /// A host peer started the flow on a forwarded port (`-u`): the guest's replies
    /// leave through that port's socket, addressed to the peer.
    Listener {
        /// The forwarded port's socket.
        sock: SockRef,
        /// The peer that sent the first datagram.
        peer: SocketAddr,
    },
    /// pasta's loopback bypass (passt-reference §4.4): datagrams from `peer` on the
    /// forwarded port's socket `listener` go out the flow's own socket `target`, opened
    /// in the other namespace, bound to the peer's port and connected to the target;
    /// replies arriving on `target` leave through `listener`, addressed to `peer`. No
    /// frame crosses the tap.
    Spliced {
        /// The forwarded port's socket (`-u`: the host's; `-U`: the namespace's).
        listener: SockRef,
        /// The peer that sent the first datagram.
        peer: SocketAddr,
        /// The flow's own socket, on the other side.
        target: SockRef,
    },
}

/// One translated UDP flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFlow {
    /// The host side.
    pub path: UdpPath,
    /// Last datagram in either direction.
    pub last_activity: Instant,
}

impl UdpFlow {
    /// When the flow expires unless traffic refreshes it.
    pub fn expires(&self) -> Instant {
        self.last_activity + IDLE_TIMEOUT
    }

    /// The flow's deadline, for the engine's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        Some(self.expires())
    }

    /// The forwarded port's socket the flow's datagrams to the initiating peer leave
    /// through, if any (flows the guest started have none).
    pub fn listener(&self) -> Option<SockRef> {
        match self.path {
            UdpPath::Socket(_) => None,
            UdpPath::Listener { sock, .. } | UdpPath::Spliced { listener: sock, .. } => Some(sock),
        }
    }

    /// The socket the flow owns (closed with it), if any: listeners are shared.
    pub fn own_socket(&self) -> Option<SockRef> {
        match self.path {
            UdpPath::Socket(s) | UdpPath::Spliced { target: s, .. } => Some(s),
            UdpPath::Listener { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockref::SockKind;

    #[test]
    fn deadline_follows_activity() {
        let f = UdpFlow {
            path: UdpPath::Socket(SockRef::new(SockKind::UdpFlow, 1, 0, 3)),
            last_activity: Instant::from_secs(5),
        };
        assert_eq!(f.next_deadline(), Some(Instant::from_secs(185)));
        assert!(f.own_socket().is_some());
        let l = UdpFlow {
            path: UdpPath::Listener {
                sock: SockRef::new(SockKind::UdpListen, 0, 0, 53),
                peer: "203.0.113.1:40000".parse().unwrap(),
            },
            ..f
        };
        assert_eq!(l.own_socket(), None, "a listener outlives its flows");
        let target = SockRef::new(SockKind::UdpFlow, 1, 0, 4);
        let s = UdpFlow {
            path: UdpPath::Spliced {
                listener: SockRef::new(SockKind::UdpListen, 0, 0, 53),
                peer: "127.0.0.1:40000".parse().unwrap(),
                target,
            },
            ..f
        };
        assert_eq!(s.own_socket(), Some(target), "closed with the flow");
    }
}
