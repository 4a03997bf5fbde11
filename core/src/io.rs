//! The sans-IO boundary: events in, operations out.
//!
//! The shim feeds [`Event`]s to the engine. While handling one, the engine asks the
//! shim to perform effects by calling [`Host::exec`] with an [`Op`], a plain value
//! that borrows the engine's buffers; the shim executes it synchronously and returns an
//! [`OpResult`]. Executing inside the call lets the engine see a partial send or
//! `EAGAIN` at the moment it decides what to ACK, while every effect still passes
//! through one function that a wrapper can record, trace, fault-inject or replay.

use crate::sockref::SockRef;
use core::net::SocketAddr;

/// An input to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// One Ethernet frame from the guest: no length prefix, no FCS.
    TapFrame(&'a [u8]),
    /// One Ethernet frame from the guest whose sender left its TCP/UDP checksum for
    /// the link to complete (virtio-net `NEEDS_CSUM`: pasta's tap with checksum
    /// offload hands over the namespace's frames that way). Handled like
    /// [`Event::TapFrame`], except that the upper-layer checksum is taken as valid
    /// instead of verified: it was never computed. Only frames whose sender said so
    /// may come this way; every other frame is checked where the engine checks.
    TapFramePartialChecksum(&'a [u8]),
    /// The guest link came up (passt: a client connected; pasta: the tap is ready).
    TapUp,
    /// The guest link went away (passt: the client disconnected). Per-guest state
    /// (learned MAC and addresses) is forgotten.
    TapDown,
    /// Readiness of a host socket the engine asked the shim to watch.
    Socket {
        /// Which socket.
        sock: SockRef,
        /// What it is ready for.
        readiness: Readiness,
    },
}

/// Socket readiness, as reported by epoll or the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Data (or a connection, or EOF) can be read.
    pub readable: bool,
    /// Send space is available, or a pending connect finished.
    pub writable: bool,
    /// The peer closed its side (RDHUP/HUP).
    pub hangup: bool,
    /// An error is pending (`SO_ERROR`).
    pub error: bool,
}

/// Address family of a host socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// AF_INET.
    V4,
    /// AF_INET6.
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &core::net::IpAddr) -> Family {
        match addr {
            core::net::IpAddr::V4(_) => Family::V4,
            core::net::IpAddr::V6(_) => Family::V6,
        }
    }
}

/// Transport of a host socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// SOCK_STREAM / IPPROTO_TCP.
    Tcp,
    /// SOCK_DGRAM / IPPROTO_UDP.
    Udp,
    /// An ICMP "ping socket": SOCK_DGRAM / IPPROTO_ICMP (family V4). The kernel
    /// assigns the echo identifier (the socket's "port") and fills the checksum.
    Icmp,
    /// An ICMPv6 ping socket: SOCK_DGRAM / IPPROTO_ICMPV6 (family V6).
    Icmpv6,
}

/// Which network namespace a socket is opened in. pasta has two: the host's (where
/// outbound connections and `-t` listeners live) and the guest's (its `-T` listeners,
/// and the far ends of spliced connections). passt only has the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// The namespace the shim runs in.
    Host,
    /// The guest's network namespace (pasta only).
    Guest,
}

/// What one [`Op::Splice`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spliced {
    /// Bytes taken from the source socket.
    pub read: usize,
    /// Bytes delivered to the destination socket.
    pub written: usize,
    /// Bytes read but not yet delivered (held in the shim's pipe until the
    /// destination has room; report writability of the destination to resume).
    pub pending: usize,
    /// The source reached end of stream and nothing of it is pending.
    pub eof: bool,
}

/// Which readiness the engine wants reported for a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    /// Report readability (data, EOF, a pending connection).
    pub read: bool,
    /// Report writability (send space, connect completion).
    pub write: bool,
}

/// What the kernel knows about a TCP connection, as far as the engine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// Payload bytes the socket would accept right now without blocking (send buffer
    /// space left). The window we advertise to the guest mirrors this, so the guest
    /// never sends what the host cannot take.
    pub send_space: u32,
    /// Bytes written to the socket and not yet acknowledged by the peer.
    pub unacked: u32,
}

/// How the link finishes a frame sent with [`Op::TapSendOffload`] (the fields of a
/// virtio-net header, `struct virtio_net_hdr`): a TCP segment, or a run of UDP
/// datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOffload {
    /// Offset of the TCP (or UDP) header in the frame.
    pub l4_offset: u16,
    /// Length of all headers, Ethernet through TCP or UDP (the payload starts here).
    pub header_len: u16,
    /// Payload bytes per segment on the wire (the guest's MSS): a longer payload is
    /// cut into segments of this size, each with copies of the headers.
    pub mss: u16,
    /// The segment travels over IPv6 (else IPv4).
    pub ipv6: bool,
    /// The TCP checksum field holds only the folded pseudo-header sum (RFC 1071 sum
    /// over the pseudo-header of RFC 9293 §3.1, not complemented): the link completes
    /// it over the TCP header and payload.
    pub checksum_partial: bool,
    /// The frame is UDP, not TCP: its payload is a run of datagrams of `mss` bytes
    /// (the last may be shorter) that the link cuts apart, each with a copy of the
    /// headers (UDP segmentation offload, virtio's `GSO_UDP_L4`); a partial checksum
    /// is UDP's (RFC 768), its pseudo-header sum taken with the whole run's length.
    pub udp: bool,
}

/// An effect the engine asks the host to perform.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Send one complete Ethernet frame to the guest.
    TapSend(&'a [u8]),
    /// Send one Ethernet frame carrying a TCP segment that uses the link's offloads
    /// ([`crate::config::Offload`], only when the shim enabled them): its payload may
    /// exceed the guest's MSS (the link cuts it into `offload.mss`-byte segments, as
    /// TCP segmentation offload does), and its checksum may be left partial.
    TapSendOffload {
        /// The frame: Ethernet, IP and TCP headers, then the payload.
        frame: &'a [u8],
        /// How the link is to finish it.
        offload: TxOffload,
    },
    /// Create a non-blocking socket and name it `sock`. No readiness is reported until
    /// [`Op::Watch`].
    Open {
        /// Name for the new socket.
        sock: SockRef,
        /// Address family.
        family: Family,
        /// Transport.
        transport: Transport,
        /// Namespace to open it in.
        ns: Namespace,
    },
    /// Bind `sock` to `addr` (`SO_REUSEADDR` set for listeners). `dual_stack` asks an
    /// IPv6 wildcard bind to accept IPv4 too (`IPV6_V6ONLY` off).
    Bind {
        /// Socket.
        sock: SockRef,
        /// Local address.
        addr: SocketAddr,
        /// Clear `IPV6_V6ONLY`.
        dual_stack: bool,
    },
    /// Start listening.
    Listen {
        /// Socket.
        sock: SockRef,
        /// Backlog.
        backlog: u32,
    },
    /// Accept one pending connection from `listener`, naming it `sock`.
    /// Result: [`OpResult::Accepted`], `Err(WouldBlock)` when none is pending, or the
    /// accept error: with `TooManyFiles` or `NoBuffers` the connection stays queued
    /// and, the listener being edge-triggered, no new readiness is reported for it
    /// (the engine retries on its own).
    Accept {
        /// Listening socket.
        listener: SockRef,
        /// Name for the accepted socket.
        sock: SockRef,
    },
    /// Accept one pending connection from `listener` and reset it at once (zero
    /// linger, then close: the client sees `ECONNRESET`), for a connection the engine
    /// cannot track. The socket is never named, so no `SockRef` is spent on it.
    /// Result: `Done` (one connection refused), `Err(WouldBlock)` when none is
    /// pending, or the accept error (`TooManyFiles`, `NoBuffers`…: the connection stays
    /// queued).
    Refuse {
        /// Listening socket.
        listener: SockRef,
    },
    /// Start a non-blocking connect. Result: `Done` (connected at once),
    /// `Err(InProgress)` (completion reported as writability), or the error.
    Connect {
        /// Socket.
        sock: SockRef,
        /// Destination.
        addr: SocketAddr,
    },
    /// Fetch and clear the pending socket error (`SO_ERROR`): `Done` if none.
    TakeError {
        /// Socket.
        sock: SockRef,
    },
    /// Send stream data. Result: `Len(n)` accepted (possibly short) or an error.
    Send {
        /// Socket.
        sock: SockRef,
        /// Bytes to send.
        data: &'a [u8],
    },
    /// Copy received stream data starting `offset` bytes into the receive queue,
    /// without consuming it. Result: `Len(n)` with n > 0, `Len(0)` at end of stream
    /// (the peer closed and nothing lies beyond `offset`), or `Err(WouldBlock)`.
    Peek {
        /// Socket.
        sock: SockRef,
        /// Bytes to skip (already sent to the guest, not yet acknowledged).
        offset: usize,
        /// Where to copy.
        buf: &'a mut [u8],
    },
    /// [`Op::Peek`] straight into the guest link's own receive buffers, behind
    /// `headroom` bytes kept for the frame's headers: the payload never passes through
    /// the engine (a link that lends buffers, such as vhost-user's receive ring, with
    /// [`crate::config::Offload::direct_peek`]). Result: as for `Peek`, plus
    /// `Err(NoBuffers)` when the link has no room. Nothing reaches the guest until
    /// [`Op::CommitToGuest`]; another `PeekToGuest` first drops what was peeked.
    PeekToGuest {
        /// Socket.
        sock: SockRef,
        /// Bytes to skip (already sent to the guest, not yet acknowledged).
        offset: usize,
        /// Most bytes to peek.
        len: usize,
        /// Room left in front for the headers.
        headroom: usize,
    },
    /// Send the frame the last [`Op::PeekToGuest`] prepared: `headers` (exactly its
    /// `headroom`) then the peeked payload, a TCP segment the link finishes as
    /// `offload` says (its checksum is always left partial: the engine never saw the
    /// payload). Result: `Done`, or an error (the frame is lost).
    CommitToGuest {
        /// Ethernet, IP and TCP headers.
        headers: &'a [u8],
        /// How the link is to finish the segment.
        offload: TxOffload,
    },
    /// Consume `len` bytes from the front of the receive queue (the guest acknowledged
    /// them). Result: `Len(n)`.
    Discard {
        /// Socket.
        sock: SockRef,
        /// Bytes to drop.
        len: usize,
    },
    /// Shut down the sending direction (our FIN to the peer).
    ShutdownWrite {
        /// Socket.
        sock: SockRef,
    },
    /// Close the socket; with `abort`, make the kernel send a RST (zero linger).
    Close {
        /// Socket.
        sock: SockRef,
        /// Reset instead of a graceful close.
        abort: bool,
    },
    /// Set which readiness to report for `sock`.
    Watch {
        /// Socket.
        sock: SockRef,
        /// Readiness wanted.
        interest: Interest,
    },
    /// Query send-side state of a TCP socket. Result: [`OpResult::TcpInfo`].
    TcpInfo {
        /// Socket.
        sock: SockRef,
    },
    /// Move stream data from `from` to `to` without it passing through the engine
    /// (pasta's loopback bypass: `splice(2)` through a pipe), as much as both sides allow
    /// right now. Result: [`OpResult::Spliced`].
    Splice {
        /// Source socket.
        from: SockRef,
        /// Destination socket.
        to: SockRef,
    },
    /// Send one datagram (UDP payload, or a whole ICMP echo message on a ping socket).
    /// A zero-length `data` is a zero-length datagram. Result: `Len(n)` or an error
    /// (`WouldBlock` when the send buffer is full: the datagram is lost).
    SendTo {
        /// Socket.
        sock: SockRef,
        /// The datagram.
        data: &'a [u8],
        /// Destination; `None` on a connected socket.
        to: Option<SocketAddr>,
    },
    /// Receive one datagram into `buf`. Result: [`OpResult::Received`] (also for a
    /// zero-length datagram), `Err(WouldBlock)` when the queue is empty, or a pending
    /// socket error (an ICMP error reported on a connected socket).
    RecvFrom {
        /// Socket.
        sock: SockRef,
        /// Where to copy the datagram.
        buf: &'a mut [u8],
    },
    /// Move datagrams from socket `from` to socket `to` without them passing through the
    /// engine (pasta's UDP loopback bypass; the Linux shim batches with `recvmmsg` and
    /// `sendmmsg`). Takes, in order, the datagrams at the head of `from`'s receive queue
    /// — with `only_from`, only while their sender is that address, leaving the first
    /// datagram from anyone else queued — at most `max` of them, and sends each, zero-length
    /// ones included, on `to`: to `dest`, or to `to`'s connected peer when `None`. A
    /// datagram `to` refuses is lost, as UDP allows. Result: `Len(n)`, the datagrams
    /// taken (n ≥ 1), `Err(WouldBlock)` when none was ready, or the error of either
    /// socket that makes relaying impossible (a socket that is gone).
    Relay {
        /// Source socket.
        from: SockRef,
        /// Destination socket.
        to: SockRef,
        /// Destination address; `None` on a connected `to`.
        dest: Option<SocketAddr>,
        /// Take only datagrams from this sender.
        only_from: Option<SocketAddr>,
        /// Most datagrams to take.
        max: usize,
    },
    /// Set the maximum segment size the kernel uses toward the peer (`TCP_MAXSEG`),
    /// mirroring the guest's MSS.
    SetMaxSeg {
        /// Socket.
        sock: SockRef,
        /// Segment size.
        mss: u16,
    },
}

/// Why an operation failed, in terms the engine acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostError {
    /// The operation would block (`EAGAIN`); try again on readiness.
    WouldBlock,
    /// A connect is in progress (`EINPROGRESS`).
    InProgress,
    /// `ECONNREFUSED`.
    ConnectionRefused,
    /// `ECONNRESET` / `EPIPE`: the peer reset the connection.
    ConnectionReset,
    /// `EHOSTUNREACH`.
    HostUnreachable,
    /// `ENETUNREACH`.
    NetworkUnreachable,
    /// `ETIMEDOUT`.
    TimedOut,
    /// `EADDRINUSE`.
    AddrInUse,
    /// `EADDRNOTAVAIL`.
    AddrNotAvailable,
    /// `EACCES` / `EPERM`.
    PermissionDenied,
    /// `EMFILE` / `ENFILE`: out of descriptors.
    TooManyFiles,
    /// No buffer space (`ENOBUFS`, a full tap queue): the frame is lost.
    NoBuffers,
    /// The guest link is gone.
    LinkDown,
    /// Any other error, with the platform's error number for logging.
    Other(i32),
}

/// The outcome of an [`Op`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpResult {
    /// Completed.
    Done,
    /// Completed, moving this many bytes.
    Len(usize),
    /// A connection was accepted.
    Accepted {
        /// The remote end.
        peer: SocketAddr,
        /// Our end.
        local: SocketAddr,
    },
    /// TCP state, for [`Op::TcpInfo`].
    TcpInfo(TcpInfo),
    /// What a splice moved, for [`Op::Splice`].
    Spliced(Spliced),
    /// A datagram was received, for [`Op::RecvFrom`].
    Received {
        /// The datagram's full length. More than the buffer's length means it was
        /// truncated (only the buffer's worth was copied).
        len: usize,
        /// The sender.
        from: SocketAddr,
    },
    /// Failed.
    Err(HostError),
}

/// The executor of operations: real sockets in `shim-linux`, a model in `shim-sim`.
pub trait Host {
    /// Perform `op` now and report the outcome.
    fn exec(&mut self, op: Op<'_>) -> OpResult;
}
