//! [`LinuxHost`]: executes the engine's operations with real sockets and the tap.
//!
//! Sockets are named by the engine's [`SockRef`]s: connection sockets are indexed by
//! their flow slot, listeners kept in a map. Every socket is registered with epoll
//! edge-triggered (the engine drains what it can and never relies on being told
//! twice), with the `SockRef` as the event data.

mod guest_link;
mod splice;

pub use guest_link::GuestLink;
use splice::Pipe;

use crate::nssocket::NsSocketFactory;
use crate::sys;
use passt_core::io::{Family, HostError, Interest, Namespace, Op, OpResult, TcpInfo, Transport};
use passt_core::{Host, SockKind, SockRef};
use rustix::event::epoll;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, Shutdown, SocketFlags, SocketType};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// Socket buffer size requested for connection sockets (capped by `net.core.[rw]mem_max`).
/// Large fixed buffers keep the window we mirror to the guest large from the start.
const SOCKET_BUFFER: usize = (i32::MAX / 2) as usize;

/// Listening sockets the map holds without growing (growing allocates; `-t all` on a
/// dual-stack host needs about two per port).
const MAX_LISTENERS_PREALLOCATED: usize = 4096;
/// Largest `TCP_MAXSEG` Linux accepts (`MAX_TCP_WINDOW` in include/net/tcp.h).
const MAX_TCP_MAXSEG: u16 = 32_767;
/// One open socket.
struct Entry {
    fd: OwnedFd,
    /// Address family, to write IPv4 destinations as IPv4-mapped on IPv6 sockets.
    family: Family,
    /// The kernel's current `SO_PEEK_OFF` for this socket, as far as we know.
    peek_offset: Option<usize>,
    registered: bool,
    /// Outgoing pipe, for the source side of a splice.
    pipe: Option<Pipe>,
    /// `SO_SNDBUF`, read once: we set it explicitly, which fixes it (socket(7)).
    sndbuf: Option<usize>,
    /// Opened by the engine in the host namespace for the guest's traffic (not a
    /// listener, not accepted): `-o` and `--outbound-if` apply.
    outbound: bool,
    /// Bound explicitly (by the engine or for `-o`).
    bound: bool,
    /// Data was ever written to it (until then its send queue is empty).
    sent: bool,
}

impl Entry {
    /// Point `SO_PEEK_OFF` at `offset` (unless it is there already).
    fn peek_from(&mut self, offset: usize) -> Result<(), OpResult> {
        if self.peek_offset != Some(offset) {
            let off =
                i32::try_from(offset).map_err(|_| OpResult::Err(HostError::Other(libc::EINVAL)))?;
            sys::set_peek_offset(self.fd.as_fd(), off).map_err(|e| OpResult::Err(io_error(e)))?;
            self.peek_offset = Some(offset);
        }
        Ok(())
    }
}

/// The Linux executor of engine operations.
pub struct LinuxHost<G: GuestLink> {
    epoll: OwnedFd,
    guest: G,
    /// Connection sockets by flow slot and socket side (a spliced flow has two).
    conns: Vec<[Option<Entry>; 2]>,
    guest_ns: Option<NsSocketFactory>,
    /// `-o`, `--outbound-if4/6`, `--freebind`.
    sockets: crate::sockopts::SocketPolicy,
    /// Listening sockets by kind and slot (a TCP and a UDP forward of the same port
    /// have the same slot number).
    listeners: HashMap<(SockKind, u32), Entry>,
    /// The host refused a ping socket and we said so (once per process).
    ping_warned: bool,
    /// Frames that could not be sent to the guest.
    pub tx_dropped: u64,
    /// The most bytes one frame to the guest (or one splice) moved since
    /// [`LinuxHost::take_largest_out`]: tells the event loop bulk from light traffic.
    largest_out: usize,
    /// Datagrams read ahead with `recvmmsg`, served to `RecvFrom` and `Relay`.
    batch: crate::dgram::Batch,
    /// Datagrams to host sockets, held to be sent together at the end of each batch
    /// of guest frames (when [`Self::batch_udp_sends`] asked for it).
    send_queue: crate::dgram::SendQueue,
    /// Whether UDP sends go through [`Self::send_queue`].
    batch_sends: bool,
    /// Datagrams a relay's destination refused (lost).
    pub relay_lost: u64,
    /// `SO_SNDBUF` of a tuned connection socket, once one was asked.
    tuned_sndbuf: Option<usize>,
    /// Spliced sources left with data to move when their `Op::Splice` ran out of
    /// rounds: epoll (edge-triggered) will not report them again, so the event loop
    /// does ([`LinuxHost::take_splice_again`]). Room for every socket is reserved.
    splice_again: Vec<SockRef>,
}

/// The warning printed the first time the host refuses a ping socket.
pub const PING_WARNING: &str = "Couldn't open a ping socket: ICMP/ICMPv6 echo requests \
from the guest will be dropped. To allow them, let our group use ping sockets: \
sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"";

fn host_error(e: Errno) -> HostError {
    match e {
        Errno::AGAIN => HostError::WouldBlock,
        Errno::INPROGRESS | Errno::ALREADY => HostError::InProgress,
        Errno::CONNREFUSED => HostError::ConnectionRefused,
        Errno::CONNRESET | Errno::PIPE | Errno::CONNABORTED => HostError::ConnectionReset,
        Errno::HOSTUNREACH => HostError::HostUnreachable,
        Errno::NETUNREACH => HostError::NetworkUnreachable,
        Errno::TIMEDOUT => HostError::TimedOut,
        Errno::ADDRINUSE => HostError::AddrInUse,
        Errno::ADDRNOTAVAIL => HostError::AddrNotAvailable,
        Errno::ACCESS | Errno::PERM => HostError::PermissionDenied,
        Errno::MFILE | Errno::NFILE => HostError::TooManyFiles,
        Errno::NOBUFS | Errno::NOMEM => HostError::NoBuffers,
        other => HostError::Other(other.raw_os_error()),
    }
}

fn io_error(e: io::Error) -> HostError {
    host_error(Errno::from_io_error(&e).unwrap_or(Errno::IO))
}

fn result(r: rustix::io::Result<()>) -> OpResult {
    match r {
        Ok(()) => OpResult::Done,
        Err(e) => OpResult::Err(host_error(e)),
    }
}

fn std_addr(a: net::SocketAddrAny) -> Option<SocketAddr> {
    SocketAddr::try_from(a).ok().map(|sa| match sa {
        // Dual-stack sockets report IPv4 peers as ::ffff:a.b.c.d; the engine wants
        // the plain IPv4 form.
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => SocketAddr::V6(v6),
        },
        v4 => v4,
    })
}

impl<G: GuestLink> LinuxHost<G> {
    /// A host sending guest frames through `guest`, with room for `flows` connection
    /// sockets (the engine's flow capacity).
    pub fn new(guest: G, flows: usize) -> io::Result<LinuxHost<G>> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        Ok(LinuxHost {
            epoll,
            guest,
            conns: (0..flows).map(|_| [None, None]).collect(),
            guest_ns: None,
            sockets: crate::sockopts::SocketPolicy::default(),
            listeners: HashMap::with_capacity(MAX_LISTENERS_PREALLOCATED),
            ping_warned: false,
            tx_dropped: 0,
            batch: crate::dgram::Batch::new(),
            send_queue: crate::dgram::SendQueue::new(),
            batch_sends: false,
            relay_lost: 0,
            tuned_sndbuf: None,
            largest_out: 0,
            splice_again: Vec::with_capacity(2 * flows),
        })
    }

    /// Whether a spliced connection waits for another turn ([`Op::Splice`] stopped at
    /// its round limit with data still to move).
    pub fn splice_pending(&self) -> bool {
        !self.splice_again.is_empty()
    }

    /// An empty list with the room [`LinuxHost::take_splice_again`] needs: made
    /// before the event loop starts, it never grows.
    pub fn splice_again_list(&self) -> Vec<SockRef> {
        Vec::with_capacity(self.splice_again.capacity())
    }

    /// Move the spliced sources waiting for another turn into `into` (emptied first;
    /// made by [`LinuxHost::splice_again_list`], so that neither list ever grows).
    /// The caller reports each readable to the engine.
    pub fn take_splice_again(&mut self, into: &mut Vec<SockRef>) {
        into.clear();
        std::mem::swap(into, &mut self.splice_again);
    }

    /// The most bytes one frame toward the guest, or one splice, moved since the last
    /// call (crate::spin: bulk traffic either way ends the event loop's spinning).
    pub fn take_largest_out(&mut self) -> usize {
        std::mem::take(&mut self.largest_out)
    }

    /// The epoll descriptor every socket is registered with.
    pub fn epoll(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }

    /// Apply the command line's socket options (`-o`, `--outbound-if4/6`,
    /// `--freebind`) to the sockets opened from now on.
    pub fn set_socket_policy(&mut self, policy: crate::sockopts::SocketPolicy) {
        self.sockets = policy;
    }

    /// Open [`Namespace::Guest`] sockets through `factory` (pasta).
    pub fn set_guest_namespace(&mut self, factory: NsSocketFactory) {
        self.guest_ns = Some(factory);
    }

    /// The helper opening [`Namespace::Guest`] sockets, if there is one.
    pub fn guest_namespace(&self) -> Option<&NsSocketFactory> {
        self.guest_ns.as_ref()
    }

    /// The guest link.
    pub fn guest_mut(&mut self) -> &mut G {
        &mut self.guest
    }

    /// Send UDP datagrams from the guest in batches ([`crate::dgram::SendQueue`]) with
    /// `call` (which the process's seccomp list must allow) rather than one `sendto`
    /// each, runs of equal datagrams as UDP GSO messages where the kernel cuts them
    /// right ([`crate::dgram::gso_works`]).
    pub fn batch_udp_sends(&mut self, call: crate::dgram::SendCall) {
        self.batch_sends = true;
        let gso = crate::dgram::gso_works();
        self.send_queue.call = call;
        self.send_queue.gso = gso;
        self.batch.gso = gso;
        if !gso {
            crate::log_debug!("UDP GSO unavailable: datagrams to the host leave one by one");
        }
    }

    /// Send the datagrams queued for the host ([`crate::dgram::SendQueue`]): at the end
    /// of each batch of guest frames, and before any op other than a send.
    pub fn flush_datagrams(&mut self) {
        if let Some(sock) = self.send_queue.pending() {
            let fd = entry_ref(&self.conns, &self.listeners, sock).map(|e| e.fd.as_fd());
            self.send_queue.flush(fd);
        }
    }

    /// Log (at debug level) how datagrams went to the host: how many, in how many
    /// `sendmmsg` calls, how many were lost.
    pub fn log_datagram_stats(&self) {
        if !self.batch_sends {
            return;
        }
        let q = &self.send_queue;
        crate::log_debug!(
            "UDP to the host: {} datagrams in {} batches, {} lost",
            q.sent,
            q.calls,
            q.lost
        );
    }

    /// Open sockets (connections and listeners).
    pub fn open_sockets(&self) -> usize {
        self.conns.iter().flatten().flatten().count() + self.listeners.len()
    }

    /// Open pipes of spliced connections (two descriptors each; one per direction
    /// that has moved data).
    pub fn open_pipes(&self) -> usize {
        let conns = self.conns.iter().flatten().flatten();
        conns.filter(|e| e.pipe.is_some()).count()
    }

    fn entry(&mut self, sock: SockRef) -> Option<&mut Entry> {
        entry_in(&mut self.conns, &mut self.listeners, sock)
    }

    fn insert(&mut self, sock: SockRef, fd: OwnedFd, family: Family, outbound: bool) -> OpResult {
        let entry = Entry {
            fd,
            family,
            peek_offset: None,
            registered: false,
            pipe: None,
            sndbuf: None,
            outbound,
            bound: false,
            sent: false,
        };
        match sock.kind() {
            SockKind::TcpListen | SockKind::UdpListen => {
                self.listeners.insert((sock.kind(), sock.slot()), entry);
            }
            _ => match self.conns.get_mut(sock.slot() as usize) {
                Some(slot) => slot[usize::from(sock.side())] = Some(entry),
                None => return OpResult::Err(HostError::TooManyFiles),
            },
        }
        OpResult::Done
    }

    fn remove(&mut self, sock: SockRef) -> Option<Entry> {
        match sock.kind() {
            SockKind::TcpListen | SockKind::UdpListen => {
                self.listeners.remove(&(sock.kind(), sock.slot()))
            }
            _ => self.conns.get_mut(sock.slot() as usize)?[usize::from(sock.side())].take(),
        }
    }

    fn open(
        &mut self,
        sock: SockRef,
        family: Family,
        transport: Transport,
        ns: Namespace,
    ) -> OpResult {
        let af = match family {
            Family::V4 => AddressFamily::INET,
            Family::V6 => AddressFamily::INET6,
        };
        let (ty, proto) = match transport {
            Transport::Tcp => (SocketType::STREAM, net::ipproto::TCP),
            Transport::Udp => (SocketType::DGRAM, net::ipproto::UDP),
            // Ping sockets (icmp(7), "ping_group_range").
            Transport::Icmp => (SocketType::DGRAM, net::ipproto::ICMP),
            Transport::Icmpv6 => (SocketType::DGRAM, net::ipproto::ICMPV6),
        };
        let fd = match (ns, &self.guest_ns) {
            (Namespace::Host, _) => net::socket_with(
                af,
                ty,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                Some(proto),
            )
            .map_err(host_error),
            (Namespace::Guest, Some(f)) => f.socket(af, ty, Some(proto)).map_err(io_error),
            (Namespace::Guest, None) => Err(HostError::Other(libc::EOPNOTSUPP)),
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                let ping = matches!(transport, Transport::Icmp | Transport::Icmpv6);
                if ping && e == HostError::PermissionDenied && !self.ping_warned {
                    self.ping_warned = true;
                    crate::log_warn!("{PING_WARNING}");
                }
                return OpResult::Err(e);
            }
        };
        if sock.kind() == SockKind::TcpConn {
            tune_connection(&fd);
        }
        let listener = matches!(sock.kind(), SockKind::TcpListen | SockKind::UdpListen);
        self.insert(sock, fd, family, ns == Namespace::Host && !listener)
    }

    /// Whether a ping socket was refused (and the warning printed).
    pub fn ping_refused(&self) -> bool {
        self.ping_warned
    }

    fn send_to(&mut self, sock: SockRef, data: &[u8], to: Option<SocketAddr>) -> OpResult {
        let policy = self.sockets;
        let Some(e) = entry_in(&mut self.conns, &mut self.listeners, sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        // Outbound sockets that are never connected (ping sockets) get `-o` and
        // `--outbound-if` on their first datagram.
        if let (true, false, Some(dest)) = (e.outbound, e.bound, to) {
            if let Err(err) = policy.before_connect(e.fd.as_fd(), false, dest) {
                return OpResult::Err(io_error(err));
            }
            e.bound = true;
        }
        // UDP datagrams wait for the end of the batch of guest frames: one batch for
        // the lot (ping sockets send at once: echo requests come one at a time).
        let udp = matches!(sock.kind(), SockKind::UdpFlow | SockKind::UdpListen);
        if udp && self.batch_sends && data.len() <= crate::dgram::SLOT {
            let dest = to.map(|a| socket_addr_for(e.family, a));
            if !self.send_queue.fits(sock, dest) {
                self.flush_datagrams();
            }
            self.send_queue.push(sock, dest, data);
            return OpResult::Len(data.len());
        }
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        let r = match to {
            None => net::send(&e.fd, data, flags),
            Some(addr) => net::sendto(&e.fd, data, flags, &socket_addr_for(e.family, addr)),
        };
        match r {
            Ok(n) => OpResult::Len(n),
            Err(err) => OpResult::Err(host_error(err)),
        }
    }

    fn recv_from(&mut self, sock: SockRef, buf: &mut [u8]) -> OpResult {
        let Some(e) = entry_ref(&self.conns, &self.listeners, sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        match self.batch.recv(sock, e.fd.as_fd(), buf) {
            Ok((len, from)) => {
                let unspecified = match e.family {
                    Family::V4 => SocketAddr::from(([0, 0, 0, 0], 0)),
                    Family::V6 => SocketAddr::from(([0u16; 8], 0)),
                };
                OpResult::Received {
                    len,
                    from: from.unwrap_or(unspecified),
                }
            }
            Err(err) => OpResult::Err(io_error(err)),
        }
    }

    /// `Op::Relay`: datagrams socket to socket through the batch.
    fn relay(
        &mut self,
        from: SockRef,
        to: SockRef,
        dest: Option<SocketAddr>,
        only_from: Option<SocketAddr>,
        max: usize,
    ) -> OpResult {
        let (Some(src), Some(dst)) = (
            entry_ref(&self.conns, &self.listeners, from),
            entry_ref(&self.conns, &self.listeners, to),
        ) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        let dest = dest.map(|a| socket_addr_for(dst.family, a));
        match self
            .batch
            .relay((from, src.fd.as_fd()), dst.fd.as_fd(), dest, only_from, max)
        {
            Ok(done) => {
                self.relay_lost += done.lost as u64;
                OpResult::Len(done.taken)
            }
            Err(err) => OpResult::Err(io_error(err)),
        }
    }

    /// The event loop moves on to its next event (see [`crate::dgram`]).
    pub fn new_event(&mut self) {
        self.batch.new_event();
    }

    /// A socket whose datagrams were read ahead and not yet taken by the engine: the
    /// event loop reports it readable again.
    /// Returns the socket and how many of its datagrams are held.
    pub fn held_datagrams(&self) -> Option<(SockRef, usize)> {
        self.batch.held()
    }

    /// Drop the datagrams read ahead (the engine does not take them).
    pub fn discard_held(&mut self) {
        if let Some(sock) = self.batch.held_by() {
            self.batch.forget(sock);
        }
    }

    fn watch(&mut self, sock: SockRef, interest: Interest) -> OpResult {
        let epoll = self.epoll.as_fd();
        let Some(e) = entry_in(&mut self.conns, &mut self.listeners, sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        let mut flags = epoll::EventFlags::ET | epoll::EventFlags::RDHUP;
        if interest.read {
            flags |= epoll::EventFlags::IN;
        }
        if interest.write {
            flags |= epoll::EventFlags::OUT;
        }
        let data = epoll::EventData::new_u64(sock.to_raw());
        let r = if e.registered {
            epoll::modify(epoll, &e.fd, data, flags)
        } else {
            epoll::add(epoll, &e.fd, data, flags)
        };
        if r.is_ok() {
            e.registered = true;
        }
        result(r)
    }

    fn accept(&mut self, listener: SockRef, sock: SockRef) -> OpResult {
        let Some(l) = self.entry(listener) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        let family = l.family;
        let (fd, peer) =
            match net::acceptfrom_with(&l.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
                Ok((fd, Some(peer))) => (fd, peer),
                Ok((_, None)) => return OpResult::Err(HostError::Other(libc::EINVAL)),
                Err(e) => return OpResult::Err(host_error(e)),
            };
        let local = net::getsockname(&fd).ok().and_then(std_addr);
        let (Some(peer), Some(local)) = (std_addr(peer), local) else {
            return OpResult::Err(HostError::Other(libc::EAFNOSUPPORT));
        };
        tune_connection(&fd);
        match self.insert(sock, fd, family, false) {
            OpResult::Done => OpResult::Accepted { peer, local },
            other => other,
        }
    }

    /// `Op::Refuse`: accept one pending connection and close it with zero linger, so
    /// the kernel resets it (the client sees `ECONNRESET`, not an orderly FIN).
    fn refuse(&mut self, listener: SockRef) -> OpResult {
        let Some(l) = self.entry(listener) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        match net::accept_with(&l.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC) {
            Ok(fd) => {
                let _ = net::sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
                drop(fd);
                OpResult::Done
            }
            Err(e) => OpResult::Err(host_error(e)),
        }
    }

    fn peek(&mut self, sock: SockRef, offset: usize, buf: &mut [u8]) -> OpResult {
        let Some(e) = self.entry(sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        if let Err(r) = e.peek_from(offset) {
            return r;
        }
        match net::recv(&e.fd, buf, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((n, _)) => {
                e.peek_offset = Some(offset + n);
                OpResult::Len(n)
            }
            Err(err) => OpResult::Err(host_error(err)),
        }
    }

    /// `Op::PeekToGuest`: the peek goes straight into the link's buffers.
    fn peek_to_guest(
        &mut self,
        sock: SockRef,
        offset: usize,
        len: usize,
        headroom: usize,
    ) -> OpResult {
        let Some(e) = entry_in(&mut self.conns, &mut self.listeners, sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        if let Err(r) = e.peek_from(offset) {
            return r;
        }
        match self.guest.peek_to_guest(e.fd.as_fd(), len, headroom) {
            Ok(n) => {
                e.peek_offset = Some(offset + n);
                self.largest_out = self.largest_out.max(n);
                OpResult::Len(n)
            }
            Err(err) => OpResult::Err(io_error(err)),
        }
    }

    fn discard(&mut self, sock: SockRef, len: usize) -> OpResult {
        let Some(e) = self.entry(sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        match sys::discard(e.fd.as_fd(), len) {
            Ok(n) => {
                // The kernel moves the peek offset back by what was consumed.
                e.peek_offset = e.peek_offset.map(|o| o.saturating_sub(n));
                OpResult::Len(n)
            }
            Err(err) => OpResult::Err(io_error(err)),
        }
    }

    fn tcp_info(&mut self, sock: SockRef) -> OpResult {
        let tuned = self.tuned_sndbuf;
        let Some(e) = self.entry(sock) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        // Every connection socket got the same SO_SNDBUF request (`tune_connection`),
        // so the kernel's answer for one is its answer for all: asked once.
        let sndbuf = match e.sndbuf.or(tuned) {
            Some(b) => b,
            None => {
                let b = net::sockopt::socket_send_buffer_size(&e.fd).unwrap_or(0);
                e.sndbuf = Some(b);
                b
            }
        };
        // Nothing written yet (a connect just completed): nothing queued to ask about.
        let queued = if e.sent {
            sys::send_queue_len(e.fd.as_fd()).unwrap_or(0)
        } else {
            0
        };
        if tuned.is_none() && sndbuf > 0 {
            self.tuned_sndbuf = Some(sndbuf);
        }
        // SO_SNDBUF reports twice the payload budget (the kernel doubles it to cover
        // bookkeeping overhead, socket(7)).
        let space = (sndbuf / 2).saturating_sub(queued);
        OpResult::TcpInfo(TcpInfo {
            send_space: u32::try_from(space).unwrap_or(u32::MAX),
            unacked: u32::try_from(queued).unwrap_or(u32::MAX),
        })
    }
}

/// `addr` in the form a socket of `family` takes: IPv4 destinations of an IPv6
/// (dual-stack) socket as IPv4-mapped addresses (RFC 4291 §2.5.5.2).
fn socket_addr_for(family: Family, addr: SocketAddr) -> SocketAddr {
    match (family, addr) {
        (Family::V6, SocketAddr::V4(v4)) => {
            SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
        }
        _ => addr,
    }
}

fn entry_ref<'t>(
    conns: &'t [[Option<Entry>; 2]],
    listeners: &'t HashMap<(SockKind, u32), Entry>,
    sock: SockRef,
) -> Option<&'t Entry> {
    match sock.kind() {
        SockKind::TcpListen | SockKind::UdpListen => listeners.get(&(sock.kind(), sock.slot())),
        _ => conns.get(sock.slot() as usize)?[usize::from(sock.side())].as_ref(),
    }
}

fn entry_in<'t>(
    conns: &'t mut [[Option<Entry>; 2]],
    listeners: &'t mut HashMap<(SockKind, u32), Entry>,
    sock: SockRef,
) -> Option<&'t mut Entry> {
    match sock.kind() {
        SockKind::TcpListen | SockKind::UdpListen => listeners.get_mut(&(sock.kind(), sock.slot())),
        _ => conns.get_mut(sock.slot() as usize)?[usize::from(sock.side())].as_mut(),
    }
}

/// Buffer sizes and options for connection sockets: big fixed buffers (like passt),
/// and `SO_PEEK_OFF` turned on so peeks can start past data already sent.
fn tune_connection(fd: &OwnedFd) {
    let _ = net::sockopt::set_socket_send_buffer_size(fd, SOCKET_BUFFER);
    let _ = net::sockopt::set_socket_recv_buffer_size(fd, SOCKET_BUFFER);
}

impl<G: GuestLink> Host for LinuxHost<G> {
    fn exec(&mut self, op: Op<'_>) -> OpResult {
        // Queued datagrams go out before anything else touches the sockets (a close,
        // a read of the reply): only more datagrams may join them.
        if !matches!(op, Op::SendTo { .. } | Op::TapSend(_)) {
            self.flush_datagrams();
        }
        match op {
            Op::TapSend(frame) => {
                self.largest_out = self.largest_out.max(frame.len());
                match self.guest.send_frame(frame) {
                    Ok(()) => OpResult::Done,
                    Err(e) => {
                        self.tx_dropped += 1;
                        OpResult::Err(io_error(e))
                    }
                }
            }
            Op::TapSendOffload { frame, offload } => {
                self.largest_out = self.largest_out.max(frame.len());
                match self.guest.send_offload(frame, &offload) {
                    Ok(()) => OpResult::Done,
                    Err(e) => {
                        self.tx_dropped += 1;
                        OpResult::Err(io_error(e))
                    }
                }
            }
            Op::Open {
                sock,
                family,
                transport,
                ns,
            } => self.open(sock, family, transport, ns),
            Op::Splice { from, to } => self.splice(from, to),
            Op::Bind {
                sock,
                addr,
                dual_stack,
            } => {
                let policy = self.sockets;
                let listener = matches!(sock.kind(), SockKind::TcpListen | SockKind::UdpListen);
                let Some(e) = self.entry(sock) else {
                    return OpResult::Err(HostError::Other(libc::EBADF));
                };
                let _ = net::sockopt::set_socket_reuseaddr(&e.fd, true);
                if addr.is_ipv6() {
                    let _ = net::sockopt::set_ipv6_v6only(&e.fd, !dual_stack);
                }
                if listener {
                    policy.before_listener_bind(e.fd.as_fd(), addr);
                }
                e.bound = true;
                result(net::bind(&e.fd, &policy.bind_addr(e.outbound, addr)))
            }
            Op::Listen { sock, backlog } => match self.entry(sock) {
                Some(e) => result(net::listen(&e.fd, i32::try_from(backlog).unwrap_or(128))),
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
            Op::Accept { listener, sock } => self.accept(listener, sock),
            Op::Refuse { listener } => self.refuse(listener),
            Op::Connect { sock, addr } => {
                let policy = self.sockets;
                match self.entry(sock) {
                    Some(e) => {
                        if e.outbound {
                            if let Err(err) = policy.before_connect(e.fd.as_fd(), e.bound, addr) {
                                return OpResult::Err(io_error(err));
                            }
                            e.bound = true;
                        }
                        result(net::connect(&e.fd, &addr))
                    }
                    None => OpResult::Err(HostError::Other(libc::EBADF)),
                }
            }
            Op::TakeError { sock } => match self.entry(sock) {
                Some(e) => match net::sockopt::socket_error(&e.fd) {
                    Ok(Ok(())) => OpResult::Done,
                    Ok(Err(errno)) | Err(errno) => OpResult::Err(host_error(errno)),
                },
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
            Op::Send { sock, data } => match self.entry(sock) {
                Some(e) => {
                    match net::send(&e.fd, data, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
                        Ok(n) => {
                            e.sent |= n > 0;
                            OpResult::Len(n)
                        }
                        Err(err) => OpResult::Err(host_error(err)),
                    }
                }
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
            Op::Peek { sock, offset, buf } => self.peek(sock, offset, buf),
            Op::PeekToGuest {
                sock,
                offset,
                len,
                headroom,
            } => self.peek_to_guest(sock, offset, len, headroom),
            Op::CommitToGuest { headers, offload } => {
                match self.guest.commit_to_guest(headers, &offload) {
                    Ok(()) => OpResult::Done,
                    Err(e) => {
                        self.tx_dropped += 1;
                        OpResult::Err(io_error(e))
                    }
                }
            }
            Op::Discard { sock, len } => self.discard(sock, len),
            Op::ShutdownWrite { sock } => match self.entry(sock) {
                Some(e) => result(net::shutdown(&e.fd, Shutdown::Write)),
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
            Op::Close { sock, abort } => match self.remove(sock) {
                Some(e) => {
                    self.batch.forget(sock);
                    if abort {
                        // Zero linger: close sends a RST instead of a FIN.
                        let _ = net::sockopt::set_socket_linger(&e.fd, Some(Duration::ZERO));
                    }
                    drop(e); // closing also removes it from epoll
                    OpResult::Done
                }
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
            Op::Watch { sock, interest } => self.watch(sock, interest),
            Op::TcpInfo { sock } => self.tcp_info(sock),
            Op::SendTo { sock, data, to } => self.send_to(sock, data, to),
            Op::RecvFrom { sock, buf } => self.recv_from(sock, buf),
            Op::Relay {
                from,
                to,
                dest,
                only_from,
                max,
            } => self.relay(from, to, dest, only_from, max),
            // Linux refuses a TCP_MAXSEG above MAX_TCP_WINDOW (the MSS of a 65520-byte
            // MTU is one): say so without the system call.
            Op::SetMaxSeg { mss, .. } if mss > MAX_TCP_MAXSEG => {
                OpResult::Err(HostError::Other(libc::EINVAL))
            }
            Op::SetMaxSeg { sock, mss } => match self.entry(sock) {
                Some(e) => match sys::set_tcp_maxseg(e.fd.as_fd(), mss) {
                    Ok(()) => OpResult::Done,
                    Err(err) => OpResult::Err(io_error(err)),
                },
                None => OpResult::Err(HostError::Other(libc::EBADF)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guest link that takes every frame.
    struct Sink;

    impl GuestLink for Sink {
        fn send_frame(&mut self, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_largest_frame_toward_the_guest_is_reported_once() {
        let mut host = LinuxHost::new(Sink, 4).unwrap();
        assert_eq!(host.take_largest_out(), 0);
        for len in [60, 1514, 90] {
            host.exec(Op::TapSend(&[0u8; 2048][..len]));
        }
        assert_eq!(host.take_largest_out(), 1514, "bulk, for the spin");
        assert_eq!(host.take_largest_out(), 0, "taken");
    }
}
