//! A model of host sockets for driving the engine's socket operations without a kernel.
//!
//! Each socket the engine opens becomes a [`SimSocket`] with byte queues in both
//! directions; the far end ("remote peer") is driven by the test through
//! [`SimSockets`]' methods (`peer_send`, `peer_close`, `peer_reset`, …). Readiness the
//! engine would get from epoll is queued as edge-triggered events and handed out by
//! [`SimSockets::take_events`]. Frames sent to the guest collect in
//! [`SimSockets::frames`].
//!
//! How connects behave is chosen per destination with [`SimSockets::set_behaviour`]:
//! accept at once, accept later, or refuse. Host failures (`EMFILE`, `EAGAIN`, short
//! writes) are injected through [`SimSockets::faults`], off unless a simulation turns
//! them on (see [`crate::faults`]).
//!
//! Datagram sockets (UDP and ping sockets) keep queues of whole datagrams instead:
//! the test injects with [`SimSockets::peer_send_to`] and reads what the engine sent
//! in [`SimSocket::datagrams_out`]. A ping socket behaves like Linux's: it gets an
//! echo identifier of its own when opened, stamps it on every request it sends, and
//! replies carry it; [`SimSockets::forbid_ping`] makes opening one fail as a host with
//! a restrictive `net.ipv4.ping_group_range` does. UDP sockets bound to the same port
//! coexist (the engine binds with `SO_REUSEADDR`) unless the port belongs to another
//! program ([`SimSockets::occupy_udp`]); a UDP socket connected without a bind gets
//! an ephemeral port. Re-arming the watch of a datagram socket with data queued
//! reports it readable again, as `epoll_ctl(EPOLL_CTL_MOD)` does.
//!
//! The test-driven far end is in `sockets/peer.rs`; the model of `Op::Relay` (datagrams
//! moved socket to socket) in `sockets/relay.rs`.

use crate::faults::{HostFaults, Sabotage};
use passt_core::io::{
    Family, HostError, Interest, Namespace, Op, OpResult, Spliced, TcpInfo, Transport,
};
use passt_core::{Host, Readiness, SockRef};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

mod peer;
mod relay;

/// How a connect to some destination behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectBehaviour {
    /// `connect()` returns `EINPROGRESS`; the connection completes on the next
    /// [`SimSockets::complete_connects`].
    Accept,
    /// `connect()` succeeds at once (a local destination).
    AcceptNow,
    /// `connect()` returns `EINPROGRESS`, then fails with `ECONNREFUSED`.
    Refuse,
}

/// Life-cycle of a modelled socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockState {
    /// Created, not connected.
    Open,
    /// Listening.
    Listening,
    /// Connect in progress.
    Connecting,
    /// Connected.
    Connected,
    /// The connect failed, or the peer reset: the error is pending.
    Failed(HostError),
    /// Closed by the engine.
    Closed,
}

/// One modelled socket.
#[derive(Debug, Clone)]
pub struct SimSocket {
    /// Address family.
    pub family: Family,
    /// Transport.
    pub transport: Transport,
    /// State.
    pub state: SockState,
    /// Bound local address.
    pub local: Option<SocketAddr>,
    /// Connected peer.
    pub peer: Option<SocketAddr>,
    /// Data from the peer not yet consumed by the engine.
    pub rx: VecDeque<u8>,
    /// The peer closed its sending side.
    pub rx_eof: bool,
    /// Everything the engine sent (what the peer received).
    pub tx: Vec<u8>,
    /// The engine shut down its sending side.
    pub tx_shutdown: bool,
    /// How much more the engine may send before the send buffer is full.
    pub send_space: usize,
    /// Readiness the engine asked for.
    pub interest: Interest,
    /// Connections waiting to be accepted (listeners only): peer addresses.
    pub backlog: VecDeque<SocketAddr>,
    /// Closed with `abort` (a RST toward the peer).
    pub aborted: bool,
    /// Maximum segment size the engine set.
    pub max_seg: Option<u16>,
    /// The namespace the socket was opened in (accepted sockets: their listener's).
    pub ns: Namespace,
    /// Datagrams queued for the engine to receive: sender and bytes.
    pub datagrams_in: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Datagrams the engine sent: destination (`None` on a connected socket) and
    /// bytes (ping sockets: with the socket's echo identifier stamped in).
    pub datagrams_out: Vec<(Option<SocketAddr>, Vec<u8>)>,
    /// The echo identifier of a ping socket.
    pub ping_id: Option<u16>,
    /// Held by another program: binds to its address fail.
    pub foreign: bool,
}

impl SimSocket {
    /// A datagram socket (UDP or ping), as opposed to a TCP one.
    pub fn is_datagram(&self) -> bool {
        self.transport != Transport::Tcp
    }
}

/// The modelled host: sockets, their peers, and the frames sent to the guest.
#[derive(Debug, Default)]
pub struct SimSockets {
    socks: BTreeMap<u64, SimSocket>,
    /// The sockets ever given each local address by a bind or an occupy (an index for the
    /// address-in-use check, so binding thousands of ports stays linear).
    bound_to: BTreeMap<SocketAddr, Vec<u64>>,
    behaviours: BTreeMap<SocketAddr, ConnectBehaviour>,
    events: VecDeque<(SockRef, Readiness)>,
    /// Frames the engine sent to the guest, oldest first (an offloaded frame as the
    /// segments the link makes of it, [`crate::offload::finish`]).
    pub frames: VecDeque<Vec<u8>>,
    /// [`Op::TapSendOffload`]s executed: frames the engine wrote to the link.
    pub offloaded_frames: u64,
    /// Default send buffer size for new sockets.
    pub default_send_space: usize,
    /// Every op executed, as text (for debugging failing tests).
    pub trace: Vec<String>,
    /// Opening a ping socket fails with `EACCES` (ping sockets not allowed).
    pub forbid_ping: bool,
    /// Echo identifiers handed out to ping sockets so far.
    ping_ids: u16,
    /// Ephemeral ports handed out to unbound UDP sockets so far.
    ephemeral: u16,
    /// Whether ops are recorded in [`SimSockets::trace`] (on by default; long
    /// simulations turn it off).
    pub tracing: bool,
    /// Host failures to inject (none by default).
    pub faults: HostFaults,
    /// Operations the engine issued on a socket it had already closed (a stale
    /// `SockRef` reaching the host), and frames it wrote whose IP length field
    /// disagrees with their size ([`crate::offload::length_mismatch`]), as text.
    /// Always empty for a correct engine.
    pub misuse: Vec<String>,
    /// Closed sockets whose name was later reused (by an accept or open), oldest
    /// first, so a closed connection stays observable.
    pub retired: Vec<SimSocket>,
    /// Clients whose queued connection the engine refused ([`Op::Refuse`]: accepted
    /// and reset at once), oldest first.
    pub refused: Vec<SocketAddr>,
    /// What the last [`Op::PeekToGuest`] put in the (modelled) link's buffer: its
    /// headroom and payload, until [`Op::CommitToGuest`].
    staged: Option<(usize, Vec<u8>)>,
}

impl SimSockets {
    /// Record a frame to the guest whose IP header misstates its length as misuse.
    fn check_lengths(&mut self, frame: &[u8]) {
        if let Some((claimed, actual)) = crate::offload::length_mismatch(frame) {
            self.misuse.push(format!(
                "a frame to the guest whose IP header claims {claimed} bytes holds {actual}"
            ));
        }
    }

    /// A host with 256 KiB send buffers whose connects all succeed asynchronously.
    pub fn new() -> SimSockets {
        SimSockets {
            default_send_space: 256 * 1024,
            tracing: true,
            ..SimSockets::default()
        }
    }

    fn blank(&self, family: Family, transport: Transport) -> SimSocket {
        SimSocket {
            family,
            transport,
            state: SockState::Open,
            local: None,
            peer: None,
            rx: VecDeque::new(),
            rx_eof: false,
            tx: Vec::new(),
            tx_shutdown: false,
            send_space: self.default_send_space,
            interest: Interest::default(),
            backlog: VecDeque::new(),
            aborted: false,
            max_seg: None,
            ns: Namespace::Host,
            datagrams_in: VecDeque::new(),
            datagrams_out: Vec::new(),
            ping_id: None,
            foreign: false,
        }
    }

    /// The modelled socket named `sock`.
    pub fn socket(&self, sock: SockRef) -> Option<&SimSocket> {
        self.socks.get(&sock.to_raw())
    }

    /// Mutable access to a modelled socket.
    pub fn socket_mut(&mut self, sock: SockRef) -> Option<&mut SimSocket> {
        self.socks.get_mut(&sock.to_raw())
    }

    /// Every socket, with its name.
    pub fn sockets(&self) -> impl Iterator<Item = (SockRef, &SimSocket)> {
        self.socks
            .iter()
            .filter_map(|(raw, s)| SockRef::from_raw(*raw).map(|r| (r, s)))
    }

    /// The socket connected to `peer`, if any (not closed).
    pub fn find_connected(&self, peer: SocketAddr) -> Option<SockRef> {
        self.sockets()
            .find(|(_, s)| {
                s.peer == Some(peer)
                    && s.state != SockState::Closed
                    && s.state != SockState::Listening
            })
            .map(|(r, _)| r)
    }

    /// Sockets that are not closed.
    pub fn open_count(&self) -> usize {
        self.socks
            .values()
            .filter(|s| s.state != SockState::Closed)
            .count()
    }

    fn push_event(&mut self, sock: SockRef, r: Readiness) {
        self.events.push_back((sock, r));
    }

    /// Readiness events accumulated since the last call.
    pub fn take_events(&mut self) -> Vec<(SockRef, Readiness)> {
        let mut events: Vec<_> = self.events.drain(..).collect();
        // epoll computes the mask when it reports: an error already read and cleared
        // (a read that found it) is no longer there.
        for (sock, r) in &mut events {
            let pending = self
                .socks
                .get(&sock.to_raw())
                .is_some_and(|s| matches!(s.state, SockState::Failed(_)));
            r.error &= pending;
        }
        events
    }

    /// The open (not closed) datagram socket of `transport` bound to `addr`.
    pub fn find_bound(&self, transport: Transport, addr: SocketAddr) -> Option<SockRef> {
        self.sockets()
            .find(|(_, s)| {
                s.transport == transport
                    && s.local == Some(addr)
                    && s.state != SockState::Closed
                    && !s.foreign
            })
            .map(|(r, _)| r)
    }

    /// Open (not closed) sockets of `transport`.
    pub fn open_of(&self, transport: Transport) -> Vec<SockRef> {
        self.sockets()
            .filter(|(_, s)| s.transport == transport && s.state != SockState::Closed)
            .filter(|(_, s)| !s.foreign)
            .map(|(r, _)| r)
            .collect()
    }

    fn exec_inner(&mut self, op: Op<'_>) -> OpResult {
        match op {
            Op::TapSend(frame) => {
                self.check_lengths(frame);
                self.frames.push_back(frame.to_vec());
                OpResult::Done
            }
            Op::TapSendOffload { frame, offload } => {
                self.check_lengths(frame);
                self.offloaded_frames += 1;
                self.frames.extend(crate::offload::finish(frame, &offload));
                OpResult::Done
            }
            Op::Open {
                sock,
                family,
                transport,
                ns,
            } => {
                if self.faults.open_fails() {
                    return OpResult::Err(HostError::TooManyFiles);
                }
                let ping = matches!(transport, Transport::Icmp | Transport::Icmpv6);
                if ping && self.forbid_ping {
                    return OpResult::Err(HostError::PermissionDenied);
                }
                let mut s = self.blank(family, transport);
                s.ns = ns;
                if ping {
                    self.ping_ids = self.ping_ids.wrapping_add(1);
                    s.ping_id = Some(0x4000 + self.ping_ids);
                }
                self.install(sock, s);
                OpResult::Done
            }
            Op::Bind { sock, addr, .. } => {
                let Some((transport, ns)) =
                    self.socks.get(&sock.to_raw()).map(|s| (s.transport, s.ns))
                else {
                    return OpResult::Err(HostError::Other(9));
                };
                // Engine UDP sockets share ports (SO_REUSEADDR); a port held by another
                // program, or a TCP port bound or listened on in the same namespace, is
                // refused. Connections accepted on a port don't hold it: with
                // SO_REUSEADDR (set on our listeners) Linux lets a new listener bind
                // while they last.
                let holders = self.bound_to.get(&addr).map(Vec::as_slice);
                let in_use = holders.unwrap_or_default().iter().any(|raw| {
                    self.socks.get(raw).is_some_and(|s| {
                        s.local == Some(addr)
                            && s.state != SockState::Closed
                            && s.ns == ns
                            && s.transport == transport
                            && ((transport == Transport::Tcp && s.peer.is_none()) || s.foreign)
                    })
                });
                match self.socks.get_mut(&sock.to_raw()) {
                    _ if in_use => OpResult::Err(HostError::AddrInUse),
                    Some(s) => {
                        s.local = Some(addr);
                        self.note_bound(addr, sock.to_raw());
                        OpResult::Done
                    }
                    None => OpResult::Err(HostError::Other(9)),
                }
            }
            Op::Listen { sock, .. } => match self.socks.get_mut(&sock.to_raw()) {
                Some(s) => {
                    s.state = SockState::Listening;
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::Accept { listener, sock } => {
                let Some(l) = self.socks.get_mut(&listener.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                if l.backlog.is_empty() {
                    return OpResult::Err(HostError::WouldBlock);
                }
                if self.faults.accept_fails() {
                    // The connection stays queued; no new readiness (edge-triggered).
                    return OpResult::Err(HostError::TooManyFiles);
                }
                let l = self
                    .socks
                    .get_mut(&listener.to_raw())
                    .expect("looked up above");
                let Some(peer) = l.backlog.pop_front() else {
                    return OpResult::Err(HostError::WouldBlock);
                };
                let local = l
                    .local
                    .unwrap_or_else(|| "0.0.0.0:0".parse().expect("literal"));
                let (family, ns) = (l.family, l.ns);
                let mut s = self.blank(family, Transport::Tcp);
                s.ns = ns;
                s.state = SockState::Connected;
                s.peer = Some(peer);
                s.local = Some(local);
                self.install(sock, s);
                OpResult::Accepted { peer, local }
            }
            Op::Refuse { listener } => {
                let Some(l) = self.socks.get(&listener.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                if l.backlog.is_empty() {
                    return OpResult::Err(HostError::WouldBlock);
                }
                if self.faults.accept_fails() {
                    return OpResult::Err(HostError::TooManyFiles);
                }
                let l = self
                    .socks
                    .get_mut(&listener.to_raw())
                    .expect("looked up above");
                match l.backlog.pop_front() {
                    Some(peer) => {
                        self.refused.push(peer);
                        OpResult::Done
                    }
                    None => OpResult::Err(HostError::WouldBlock),
                }
            }
            Op::Connect { sock, addr } => {
                let behaviour = self
                    .behaviours
                    .get(&addr)
                    .copied()
                    .unwrap_or(ConnectBehaviour::Accept);
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                s.peer = Some(addr);
                if s.is_datagram() {
                    // A datagram connect only sets the default destination (and binds
                    // an ephemeral port if there is none yet).
                    if s.local.is_none() {
                        self.ephemeral = self.ephemeral.wrapping_add(1);
                        let any: std::net::IpAddr = match s.family {
                            Family::V4 => std::net::Ipv4Addr::UNSPECIFIED.into(),
                            Family::V6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
                        };
                        s.local = Some(SocketAddr::new(any, 49152 + self.ephemeral % 16384));
                    }
                    s.state = SockState::Connected;
                    return OpResult::Done;
                }
                if behaviour == ConnectBehaviour::AcceptNow {
                    s.state = SockState::Connected;
                    OpResult::Done
                } else {
                    s.state = SockState::Connecting;
                    OpResult::Err(HostError::InProgress)
                }
            }
            Op::TakeError { sock } => match self.socks.get(&sock.to_raw()).map(|s| s.state) {
                Some(SockState::Failed(e)) => OpResult::Err(e),
                Some(_) => OpResult::Done,
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::Send { sock, data } => {
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                match s.state {
                    SockState::Failed(e) => return OpResult::Err(e),
                    SockState::Connected if !s.tx_shutdown => {}
                    _ => return OpResult::Err(HostError::ConnectionReset),
                }
                if s.send_space == 0 {
                    return OpResult::Err(HostError::WouldBlock);
                }
                let mut n = data.len().min(s.send_space);
                if n > 0 {
                    if let Some(limit) = self.faults.send_limit(n) {
                        // The buffer was momentarily full: the kernel reports
                        // writability once it drained.
                        n = limit;
                        self.events.push_back((
                            sock,
                            Readiness {
                                writable: true,
                                ..Readiness::default()
                            },
                        ));
                        if n == 0 {
                            return OpResult::Err(HostError::WouldBlock);
                        }
                    }
                }
                let duplicate = self.faults.sabotage(Sabotage::DuplicateSend);
                let lie = n > 1 && self.faults.sabotage(Sabotage::AckLie);
                let s = self.socks.get_mut(&sock.to_raw()).expect("looked up above");
                if duplicate {
                    s.tx.push(data[0]);
                }
                s.tx.extend_from_slice(&data[..n - usize::from(lie)]);
                s.send_space -= n;
                OpResult::Len(n)
            }
            Op::Peek { sock, offset, buf } => {
                let shift = usize::from(
                    self.socks
                        .get(&sock.to_raw())
                        .is_some_and(|s| s.rx.len() > offset + 1)
                        && self.faults.sabotage(Sabotage::ShiftPeek),
                );
                let offset = offset + shift;
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                if offset >= s.rx.len() {
                    // As Linux's tcp_recvmsg: with nothing (more) to read, the pending
                    // error is reported, once, and cleared (sock_error()); the socket is
                    // then dead: end of stream, sends refused.
                    if let SockState::Failed(e) = s.state {
                        s.state = SockState::Connected;
                        s.rx_eof = true;
                        s.tx_shutdown = true;
                        return OpResult::Err(e);
                    }
                    return if s.rx_eof {
                        OpResult::Len(0)
                    } else {
                        OpResult::Err(HostError::WouldBlock)
                    };
                }
                let n = buf.len().min(s.rx.len() - offset);
                for (i, b) in s.rx.iter().skip(offset).take(n).enumerate() {
                    buf[i] = *b;
                }
                OpResult::Len(n)
            }
            Op::PeekToGuest {
                sock,
                offset,
                len,
                headroom,
            } => {
                // The link's buffer, modelled: what a lending link would hold until
                // the commit.
                let mut buf = vec![0u8; len];
                let r = self.exec_inner(Op::Peek {
                    sock,
                    offset,
                    buf: &mut buf,
                });
                self.staged = match r {
                    OpResult::Len(n) => Some((headroom, buf[..n].to_vec())),
                    _ => None,
                };
                r
            }
            Op::CommitToGuest { headers, offload } => match self.staged.take() {
                Some((headroom, payload)) if headroom == headers.len() => {
                    let mut frame = headers.to_vec();
                    frame.extend_from_slice(&payload);
                    self.check_lengths(&frame);
                    self.offloaded_frames += 1;
                    self.frames.extend(crate::offload::finish(&frame, &offload));
                    OpResult::Done
                }
                staged => {
                    self.misuse.push(format!(
                        "commit of {} header bytes with {:?} staged",
                        headers.len(),
                        staged.map(|(h, p)| (h, p.len()))
                    ));
                    OpResult::Err(HostError::Other(22))
                }
            },
            Op::Discard { sock, len } => {
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                let n = len.min(s.rx.len());
                s.rx.drain(..n);
                OpResult::Len(n)
            }
            Op::ShutdownWrite { sock } => match self.socks.get_mut(&sock.to_raw()) {
                Some(s) => {
                    s.tx_shutdown = true;
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::Close { sock, .. }
                if self.socks.contains_key(&sock.to_raw())
                    && self.faults.sabotage(Sabotage::IgnoreClose) =>
            {
                OpResult::Done
            }
            Op::Close { sock, abort } => match self.socks.get_mut(&sock.to_raw()) {
                Some(s) => {
                    s.state = SockState::Closed;
                    s.aborted = abort;
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::Watch { sock, interest } => match self.socks.get_mut(&sock.to_raw()) {
                Some(s) => {
                    s.interest = interest;
                    if s.is_datagram() && interest.read && !s.datagrams_in.is_empty() {
                        self.push_event(
                            sock,
                            Readiness {
                                readable: true,
                                ..Readiness::default()
                            },
                        );
                    }
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::SendTo { sock, data, to } => {
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                if !s.is_datagram() || s.state == SockState::Closed {
                    return OpResult::Err(HostError::Other(95)); // EOPNOTSUPP
                }
                if to.is_none() && s.state != SockState::Connected {
                    return OpResult::Err(HostError::Other(89)); // EDESTADDRREQ
                }
                let mut data = data.to_vec();
                if let Some(id) = s.ping_id {
                    // Linux ping sockets take only echo requests, and stamp their id.
                    let request = match s.transport {
                        Transport::Icmp => 8,
                        _ => 128,
                    };
                    if data.len() < 8 || data[0] != request || data[1] != 0 {
                        return OpResult::Err(HostError::Other(22)); // EINVAL
                    }
                    data[4..6].copy_from_slice(&id.to_be_bytes());
                }
                s.datagrams_out.push((to, data));
                OpResult::Len(s.datagrams_out.last().map_or(0, |d| d.1.len()))
            }
            Op::RecvFrom { sock, buf } => {
                let Some(s) = self.socks.get_mut(&sock.to_raw()) else {
                    return OpResult::Err(HostError::Other(9));
                };
                let Some((from, data)) = s.datagrams_in.pop_front() else {
                    return OpResult::Err(HostError::WouldBlock);
                };
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                OpResult::Received {
                    len: data.len(),
                    from,
                }
            }
            Op::TcpInfo { sock } => match self.socks.get(&sock.to_raw()) {
                Some(s) => OpResult::TcpInfo(TcpInfo {
                    send_space: u32::try_from(s.send_space).unwrap_or(u32::MAX),
                    unacked: 0,
                }),
                None => OpResult::Err(HostError::Other(9)),
            },
            Op::Splice { from, to } => self.splice(from, to),
            Op::Relay {
                from,
                to,
                dest,
                only_from,
                max,
            } => self.relay(from, to, dest, only_from, max),
            Op::SetMaxSeg { sock, mss } => match self.socks.get_mut(&sock.to_raw()) {
                Some(s) => {
                    s.max_seg = Some(mss);
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(9)),
            },
        }
    }
}

impl SimSockets {
    /// Store a new socket under `sock`, keeping a closed predecessor of that name in
    /// [`SimSockets::retired`].
    fn install(&mut self, sock: SockRef, s: SimSocket) {
        if let Some(old) = self.socks.insert(sock.to_raw(), s) {
            if old.state == SockState::Closed {
                self.retired.push(old);
            }
        }
    }

    /// Record that socket `raw` took local address `addr`.
    fn note_bound(&mut self, addr: SocketAddr, raw: u64) {
        let holders = self.bound_to.entry(addr).or_default();
        if !holders.contains(&raw) {
            holders.push(raw);
        }
    }

    /// The socket an op acts on, if the op needs an existing one.
    fn target(op: &Op<'_>) -> Option<SockRef> {
        match *op {
            Op::Bind { sock, .. }
            | Op::Listen { sock, .. }
            | Op::Connect { sock, .. }
            | Op::TakeError { sock }
            | Op::Send { sock, .. }
            | Op::Peek { sock, .. }
            | Op::PeekToGuest { sock, .. }
            | Op::Discard { sock, .. }
            | Op::ShutdownWrite { sock }
            | Op::Close { sock, .. }
            | Op::Watch { sock, .. }
            | Op::TcpInfo { sock }
            | Op::SendTo { sock, .. }
            | Op::RecvFrom { sock, .. }
            | Op::SetMaxSeg { sock, .. } => Some(sock),
            Op::Accept { listener, .. } | Op::Refuse { listener } => Some(listener),
            Op::Splice { from, .. } | Op::Relay { from, .. } => Some(from),
            Op::TapSend(_)
            | Op::TapSendOffload { .. }
            | Op::CommitToGuest { .. }
            | Op::Open { .. } => None,
        }
    }

    /// The splice model: move what the destination has room for; what is left stays
    /// in the source and counts as pending; EOF once the source is drained and closed.
    fn splice(&mut self, from: SockRef, to: SockRef) -> OpResult {
        let room = match self.socks.get(&to.to_raw()) {
            Some(d) if d.state == SockState::Connected && !d.tx_shutdown => d.send_space,
            Some(_) => return OpResult::Err(HostError::ConnectionReset),
            None => return OpResult::Err(HostError::Other(9)),
        };
        let Some(src) = self.socks.get_mut(&from.to_raw()) else {
            return OpResult::Err(HostError::Other(9));
        };
        if let SockState::Failed(e) = src.state {
            return OpResult::Err(e);
        }
        let n = room.min(src.rx.len());
        let moved: Vec<u8> = src.rx.drain(..n).collect();
        let pending = src.rx.len();
        let eof = src.rx_eof && pending == 0;
        if n == 0 && pending == 0 && !eof {
            return OpResult::Err(HostError::WouldBlock);
        }
        let dst = self.socks.get_mut(&to.to_raw()).expect("checked above");
        dst.tx.extend_from_slice(&moved);
        dst.send_space -= n;
        OpResult::Spliced(Spliced {
            read: n,
            written: n,
            pending,
            eof,
        })
    }
}

impl Host for SimSockets {
    fn exec(&mut self, op: Op<'_>) -> OpResult {
        if let Some(sock) = Self::target(&op) {
            if self.socket(sock).map(|s| s.state) == Some(SockState::Closed) {
                self.misuse.push(format!("{op:?} on a closed socket"));
            }
        }
        if !self.tracing {
            return self.exec_inner(op);
        }
        let desc = match &op {
            Op::TapSend(f) => format!("TapSend({} bytes)", f.len()),
            Op::TapSendOffload { frame, offload } => {
                format!("TapSendOffload({} bytes, mss {})", frame.len(), offload.mss)
            }
            Op::Send { sock, data } => format!("Send({:x}, {} bytes)", sock.to_raw(), data.len()),
            Op::Peek { sock, offset, buf } => format!(
                "Peek({:x}, off {offset}, {} bytes)",
                sock.to_raw(),
                buf.len()
            ),
            other => format!("{other:?}"),
        };
        let r = self.exec_inner(op);
        self.trace.push(format!("{desc} -> {r:?}"));
        r
    }
}
