//! Datagram batching for [`crate::host::LinuxHost`]: one `recvmmsg(2)` reads up to
//! [`BATCH`] datagrams of a socket into a preallocated batch, which then answers
//! the engine's `RecvFrom`s one datagram at a time, and `Relay`s send straight out of
//! it with one `sendmmsg(2)` (passt-reference §4.3, §4.4).
//!
//! The batch belongs to one socket at a time. Two rules keep datagrams from being
//! stranded in it:
//! - while another socket's datagrams are held, a socket is served without the batch
//!   (plain `recvfrom`/`sendto`);
//! - datagrams left in the batch when the engine stops draining (its per-event cap)
//!   are reported again by the event loop ([`Batch::held_by`]): epoll cannot, as the
//!   kernel's queue may be empty.
//!
//! A batch that came back short proves the socket's queue was empty at that moment; a
//! later arrival raises a new edge-triggered event, so until the event loop moves on
//! to the next event ([`Batch::new_event`]) the next read of that socket answers
//! "would block" without a system call.

pub use crate::sys::SendCall;
use crate::sys::{self, DgramMeta, Message, Slots, MMSG_MAX};
use passt_core::SockRef;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

/// Datagrams per batch (one `recvmmsg` or `sendmmsg`).
pub const BATCH: usize = MMSG_MAX;

/// Bytes per datagram slot: the largest UDP payload fits.
pub const SLOT: usize = 65_536;

/// What a relay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relayed {
    /// Datagrams taken from the source.
    pub taken: usize,
    /// Of those, datagrams the destination refused (lost, as UDP allows).
    pub lost: usize,
}

/// The preallocated batch.
pub struct Batch {
    buf: Box<[u8]>,
    /// One more slot, for relays while the batch holds another socket's datagrams.
    spare: Box<[u8]>,
    meta: [DgramMeta; MMSG_MAX],
    /// Whose datagrams `meta[next..count]` are.
    owner: Option<SockRef>,
    next: usize,
    count: usize,
    /// The last read of this socket found its queue empty, during this event.
    empty: Option<SockRef>,
    /// `recvmmsg` calls made.
    pub reads: u64,
    /// Relays send runs of equal datagrams as UDP GSO messages ([`gso_works`]).
    pub gso: bool,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    /// A batch of [`BATCH`] slots of [`SLOT`] bytes (2 MiB of address space; pages
    /// are only touched as datagrams fill them).
    pub fn new() -> Batch {
        Batch {
            buf: vec![0u8; MMSG_MAX * SLOT].into_boxed_slice(),
            spare: vec![0u8; SLOT].into_boxed_slice(),
            meta: [DgramMeta::default(); MMSG_MAX],
            owner: None,
            next: 0,
            count: 0,
            empty: None,
            reads: 0,
            gso: false,
        }
    }

    /// The event loop moves on to another event: "queue found empty" no longer holds.
    pub fn new_event(&mut self) {
        self.empty = None;
    }

    /// The socket whose datagrams the batch still holds, if any.
    pub fn held_by(&self) -> Option<SockRef> {
        self.owner.filter(|_| self.next < self.count)
    }

    /// The socket whose datagrams the batch still holds, and how many.
    pub fn held(&self) -> Option<(SockRef, usize)> {
        self.held_by().map(|s| (s, self.count - self.next))
    }

    /// `sock` was closed: its held datagrams go with it.
    pub fn forget(&mut self, sock: SockRef) {
        if self.owner == Some(sock) {
            self.owner = None;
            self.next = 0;
            self.count = 0;
        }
        if self.empty == Some(sock) {
            self.empty = None;
        }
    }

    /// Whether the batch can serve `sock` (holds its datagrams, or nobody's).
    fn usable_for(&self, sock: SockRef) -> bool {
        self.held_by().is_none_or(|o| o == sock)
    }

    /// Make sure the batch holds datagrams of `sock`, reading a new batch if needed.
    /// `Ok(false)`: the queue is empty.
    fn fill(&mut self, sock: SockRef, fd: BorrowedFd<'_>) -> io::Result<bool> {
        if self.held_by() == Some(sock) {
            return Ok(true);
        }
        if self.empty == Some(sock) {
            return Ok(false);
        }
        self.reads += 1;
        match sys::recv_mmsg(fd, &mut self.buf, SLOT, &mut self.meta) {
            Ok(n) => {
                for m in &mut self.meta[..n] {
                    m.from = plain_v4(m.from);
                }
                self.owner = Some(sock);
                self.next = 0;
                self.count = n;
                if n < MMSG_MAX {
                    self.empty = Some(sock);
                }
                Ok(n > 0)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.empty = Some(sock);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// `RecvFrom`: the next datagram of `sock` into `out`. Returns its full length and
    /// sender; `WouldBlock` when there is none.
    pub fn recv(
        &mut self,
        sock: SockRef,
        fd: BorrowedFd<'_>,
        out: &mut [u8],
    ) -> io::Result<(usize, Option<SocketAddr>)> {
        if !self.usable_for(sock) {
            return recv_one(fd, out);
        }
        if !self.fill(sock, fd)? {
            return Err(would_block());
        }
        let i = self.next;
        self.next += 1;
        let m = self.meta[i];
        let n = m.len.min(out.len()).min(SLOT);
        out[..n].copy_from_slice(&self.buf[i * SLOT..i * SLOT + n]);
        Ok((m.len, m.from))
    }

    /// `Relay`: up to `max` datagrams from `from` (while their sender is `only_from`)
    /// sent on `to`, to `dest` or its connected peer. `WouldBlock` when none was taken.
    pub fn relay(
        &mut self,
        (from, from_fd): (SockRef, BorrowedFd<'_>),
        to_fd: BorrowedFd<'_>,
        dest: Option<SocketAddr>,
        only_from: Option<SocketAddr>,
        max: usize,
    ) -> io::Result<Relayed> {
        let mut done = Relayed::default();
        if !self.usable_for(from) {
            // Another socket's datagrams are held: one by one, without the batch.
            return self.relay_unbatched(from_fd, to_fd, dest, only_from, max);
        }
        while done.taken < max {
            match self.fill(from, from_fd) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if done.taken == 0 => return Err(e),
                Err(_) => break,
            }
            // The run of datagrams at the head that may go.
            let start = self.next;
            let mut end = start;
            while end < self.count
                && end - start < max - done.taken
                && only_from.is_none_or(|p| self.meta[end].from == Some(p))
            {
                end += 1;
            }
            if end == start {
                break;
            }
            let mut lens = [0usize; MMSG_MAX];
            for (l, m) in lens.iter_mut().zip(&self.meta[start..end]) {
                *l = m.len.min(SLOT);
            }
            let mut sent = 0;
            while sent < end - start {
                match send_datagrams(
                    SendCall::Sendmmsg,
                    to_fd,
                    &self.buf,
                    start + sent,
                    &lens[sent..end - start],
                    dest,
                    self.gso,
                ) {
                    Ok(0) => break,
                    Ok(n) => sent += n,
                    Err(_) => {
                        // The destination refused this one (a full buffer): it is
                        // lost; try the rest.
                        done.lost += 1;
                        sent += 1;
                    }
                }
            }
            done.taken += end - start;
            self.next = end;
            if end < self.count {
                break; // the next datagram is someone else's, or over the limit
            }
        }
        if done.taken == 0 {
            return Err(would_block());
        }
        Ok(done)
    }

    /// [`Batch::relay`] with one `recvfrom`/`sendto` per datagram, through the spare
    /// slot: the batch holds another socket's datagrams.
    fn relay_unbatched(
        &mut self,
        from_fd: BorrowedFd<'_>,
        to_fd: BorrowedFd<'_>,
        dest: Option<SocketAddr>,
        only_from: Option<SocketAddr>,
        max: usize,
    ) -> io::Result<Relayed> {
        use rustix::net::{RecvFlags, SendFlags};
        let mut done = Relayed::default();
        let scratch = &mut self.spare[..];
        while done.taken < max {
            // Peek first: a datagram from another sender must stay queued.
            let (_, len, sender) = match rustix::net::recvfrom(
                from_fd,
                &mut scratch[..0],
                RecvFlags::PEEK | RecvFlags::TRUNC | RecvFlags::DONTWAIT,
            ) {
                Ok(r) => r,
                Err(e) if done.taken == 0 => return Err(e.into()),
                Err(_) => break,
            };
            let _ = len;
            let sender = plain_v4(sender.and_then(|a| SocketAddr::try_from(a).ok()));
            if only_from.is_some() && sender != only_from {
                break;
            }
            let (n, _, _) = rustix::net::recvfrom(from_fd, &mut scratch[..], RecvFlags::DONTWAIT)?;
            done.taken += 1;
            let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
            let r = match dest {
                Some(a) => rustix::net::sendto(to_fd, &scratch[..n], flags, &a),
                None => rustix::net::send(to_fd, &scratch[..n], flags),
            };
            if r.is_err() {
                done.lost += 1;
            }
        }
        if done.taken == 0 {
            return Err(would_block());
        }
        Ok(done)
    }
}

/// `EAGAIN`, with its errno (the host maps errors by errno).
fn would_block() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// One datagram without the batch (`recvfrom` with `MSG_TRUNC` for its real length).
fn recv_one(fd: BorrowedFd<'_>, out: &mut [u8]) -> io::Result<(usize, Option<SocketAddr>)> {
    use rustix::net::RecvFlags;
    let (_, len, from) = rustix::net::recvfrom(fd, out, RecvFlags::TRUNC | RecvFlags::DONTWAIT)?;
    Ok((
        len,
        plain_v4(from.and_then(|a| SocketAddr::try_from(a).ok())),
    ))
}

/// Datagrams from the guest held to be sent together ([`SendQueue::call`]): the
/// engine's `SendTo`s of a batch of guest frames to the same socket and destination
/// queue here and go out together when the destination changes, the queue is full,
/// another kind of op runs, or the batch of frames ends
/// ([`crate::host::LinuxHost::flush_datagrams`]).
/// Datagrams of different sockets have no order to keep; of one socket, the queue
/// keeps it.
pub struct SendQueue {
    buf: Box<[u8]>,
    lens: [usize; MMSG_MAX],
    count: usize,
    /// Socket and destination (as the socket takes it) of the queued datagrams.
    to: Option<(SockRef, Option<SocketAddr>)>,
    /// Batches sent (each one `sendmmsg`, or a `sendmsg` per message).
    pub calls: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams the kernel refused (or whose socket closed first): lost, as UDP allows.
    pub lost: u64,
    /// Runs of equal datagrams leave as UDP GSO messages ([`gso_works`]).
    pub gso: bool,
    /// The system call that sends the queue.
    pub call: SendCall,
}

impl Default for SendQueue {
    fn default() -> Self {
        SendQueue::new()
    }
}

impl SendQueue {
    /// An empty queue of [`BATCH`] slots of [`SLOT`] bytes (address space; pages are
    /// touched only as datagrams fill them).
    pub fn new() -> SendQueue {
        SendQueue {
            buf: vec![0u8; MMSG_MAX * SLOT].into_boxed_slice(),
            lens: [0; MMSG_MAX],
            count: 0,
            to: None,
            calls: 0,
            sent: 0,
            lost: 0,
            gso: false,
            call: SendCall::Sendmmsg,
        }
    }

    /// Whether `data` for `sock`/`dest` can join the queue without sending it first.
    pub fn fits(&self, sock: SockRef, dest: Option<SocketAddr>) -> bool {
        self.count == 0 || (self.count < MMSG_MAX && self.to == Some((sock, dest)))
    }

    /// Queue one datagram (the caller made sure it [`fits`](Self::fits), and that it
    /// is at most [`SLOT`] bytes).
    pub fn push(&mut self, sock: SockRef, dest: Option<SocketAddr>, data: &[u8]) {
        debug_assert!(self.fits(sock, dest) && data.len() <= SLOT);
        let at = self.count * SLOT;
        self.buf[at..at + data.len()].copy_from_slice(data);
        self.lens[self.count] = data.len();
        self.count += 1;
        self.to = Some((sock, dest));
    }

    /// The socket whose datagrams are queued, if any.
    pub fn pending(&self) -> Option<SockRef> {
        self.to.map(|(s, _)| s).filter(|_| self.count > 0)
    }

    /// Send what is queued on `fd` (the queued socket's descriptor; `None` if it is
    /// gone): one batch per run of datagrams the kernel takes; a datagram it
    /// refuses is skipped (lost, as a refused `sendto` would be), and a full send
    /// buffer loses the rest.
    pub fn flush(&mut self, fd: Option<BorrowedFd<'_>>) {
        let (count, dest) = (self.count, self.to.and_then(|(_, d)| d));
        self.count = 0;
        let Some(fd) = fd else {
            self.lost += count as u64;
            return;
        };
        let mut first = 0;
        while first < count {
            self.calls += 1;
            let lens = &self.lens[first..count];
            match send_datagrams(self.call, fd, &self.buf, first, lens, dest, self.gso) {
                Ok(n @ 1..) => {
                    self.sent += n as u64;
                    first += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.lost += (count - first) as u64;
                    return;
                }
                // Refused (an ICMP error reported on a connected socket, say).
                Ok(_) | Err(_) => {
                    self.lost += 1;
                    first += 1;
                }
            }
        }
    }
}

/// Most payload bytes of one UDP GSO message: what one IPv4 datagram carries (65 535
/// less the IPv4 and UDP headers).
const GSO_MAX_PAYLOAD: usize = 65_507;

/// Group datagrams of `lens` into [`sys::send_msgs`] messages: with `gso`, each run
/// of equal, nonempty lengths (and one shorter datagram ending it) becomes one UDP GSO
/// message of at most [`GSO_MAX_PAYLOAD`] bytes (udp(7) `UDP_SEGMENT`: the kernel routes
/// and builds the run once and cuts it late); without, one message per datagram.
/// Returns how many of `out` it filled.
fn plan_messages(lens: &[usize], gso: bool, out: &mut [Message; MMSG_MAX]) -> usize {
    let lens = &lens[..lens.len().min(MMSG_MAX)];
    let mut n = 0;
    let mut i = 0;
    while i < lens.len() {
        let size = lens[i];
        let mut count = 1;
        let mut total = size;
        if gso && size > 0 && u16::try_from(size).is_ok() {
            while let Some(&next) = lens.get(i + count) {
                if next == 0 || next > size || total + next > GSO_MAX_PAYLOAD {
                    break;
                }
                count += 1;
                total += next;
                if next < size {
                    break; // a shorter one ends the run
                }
            }
        }
        out[n] = Message {
            count,
            segment: if count > 1 { size as u16 } else { 0 },
        };
        n += 1;
        i += count;
    }
    n
}

/// Send datagrams `first..first + lens.len()` of `buf` (slots of [`SLOT`] bytes) on
/// `fd`, with `gso` runs of equal size as UDP GSO messages. Returns how many datagrams
/// the kernel took (whole messages); an error only when it took none. A path that
/// refuses GSO (a datagram over the path MTU, which GSO cannot fragment; a socket
/// without checksums) gets the same datagrams one message each.
fn send_datagrams(
    call: SendCall,
    fd: BorrowedFd<'_>,
    buf: &[u8],
    first: usize,
    lens: &[usize],
    dest: Option<SocketAddr>,
    gso: bool,
) -> io::Result<usize> {
    let mut msgs = [Message::default(); MMSG_MAX];
    let n = plan_messages(lens, gso, &mut msgs);
    let slots = Slots::new(buf, SLOT, first, lens);
    let sent = match sys::send_msgs(call, fd, &slots, &msgs[..n], dest) {
        Err(e) if msgs[0].segment > 0 && e.kind() != io::ErrorKind::WouldBlock => {
            let n = plan_messages(lens, false, &mut msgs);
            sys::send_msgs(call, fd, &slots, &msgs[..n], dest)?
        }
        other => other?,
    };
    Ok(msgs[..sent].iter().map(|m| m.count).sum())
}

/// Whether this kernel cuts UDP GSO messages as asked: two one-byte datagrams sent as
/// one `UDP_SEGMENT` message over the loopback must arrive as two. A kernel before
/// 4.18 ignores the control message and would deliver them as one datagram (so would
/// an emulator that passes it on in the wrong byte order), which must never happen to
/// a guest's datagrams: then runs go one message per datagram.
pub fn gso_works() -> bool {
    let probe = || -> io::Result<bool> {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let tx = std::net::UdpSocket::bind("127.0.0.1:0")?;
        tx.connect(rx.local_addr()?)?;
        rx.set_nonblocking(true)?;
        let one = [Message {
            count: 2,
            segment: 1,
        }];
        if sys::send_msgs(
            SendCall::Sendmsg,
            tx.as_fd(),
            &Slots::new(b"ab", 1, 0, &[1, 1]),
            &one,
            None,
        )? != 1
        {
            return Ok(false);
        }
        let mut buf = [0u8; 4];
        let mut meta = [DgramMeta::default(); 3];
        let got = sys::recv_mmsg(rx.as_fd(), &mut buf, 1, &mut meta).unwrap_or(0);
        Ok(got == 2 && meta[0].len == 1 && meta[1].len == 1 && buf[..2] == *b"ab")
    };
    probe().unwrap_or(false)
}

/// Senders as the engine names them: IPv4 peers of a dual-stack socket come as
/// IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2); the engine wants plain IPv4.
pub fn plain_v4(a: Option<SocketAddr>) -> Option<SocketAddr> {
    a.map(|sa| match sa {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => SocketAddr::V6(v6),
        },
        v4 => v4,
    })
}

/// Numbered datagrams through a [`SendQueue`], for tests here and under seccomp.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::net::UdpSocket;

    /// A queue holding datagram `i` of `sizes` as `sizes[i]` bytes of value `i`, to be
    /// sent with `call` (and GSO where this kernel does it right).
    pub(crate) fn numbered_queue(sizes: &[usize], call: SendCall) -> SendQueue {
        let mut q = SendQueue::new();
        q.gso = gso_works();
        q.call = call;
        let sock = SockRef::new(passt_core::SockKind::UdpFlow, 0, 0, 1);
        for (i, &n) in sizes.iter().enumerate() {
            q.push(sock, None, &vec![i as u8; n]);
        }
        q
    }

    /// A sending socket connected to a receiving one on the loopback: `(tx, rx)`.
    pub(crate) fn connected_pair() -> (UdpSocket, UdpSocket) {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        (tx, rx)
    }

    /// The sizes of the datagrams queued on `rx`, checking each is the next number.
    pub(crate) fn received_in_order(rx: &UdpSocket) -> Vec<usize> {
        rx.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 65_536];
        let mut got = Vec::new();
        while let Ok(n) = rx.recv(&mut buf) {
            assert!(buf[..n].iter().all(|&b| b == got.len() as u8), "in order");
            got.push(n);
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passt_core::SockKind;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    fn sock(n: u32) -> SockRef {
        SockRef::new(SockKind::UdpFlow, 0, 0, n)
    }

    #[test]
    fn relay_takes_one_senders_run_and_leaves_the_next_sender_queued() {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let out = UdpSocket::bind("127.0.0.1:0").unwrap();
        out.connect(sink.local_addr().unwrap()).unwrap();
        let (s1, s2) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let to = port.local_addr().unwrap();
        for (s, d) in [(&s1, "a1"), (&s1, "a2"), (&s2, "b1"), (&s1, "")] {
            s.send_to(d.as_bytes(), to).unwrap();
        }
        let mut b = Batch::new();
        let from = (sock(1), port.as_fd());
        let p1 = Some(s1.local_addr().unwrap());
        let done = b.relay(from, out.as_fd(), None, p1, 64).unwrap();
        assert_eq!(done, Relayed { taken: 2, lost: 0 });
        assert_eq!(b.held(), Some((sock(1), 2)), "b1 and the empty one wait");
        let e = b.relay(from, out.as_fd(), None, p1, 64).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EAGAIN),
            "an errno the host maps"
        );
        let mut buf = [0u8; 16];
        let (len, sender) = b.recv(sock(1), port.as_fd(), &mut buf).unwrap();
        assert_eq!(
            (&buf[..len], sender),
            (&b"b1"[..], Some(s2.local_addr().unwrap()))
        );
        let done = b.relay(from, out.as_fd(), None, p1, 64).unwrap();
        assert_eq!(done.taken, 1, "the zero-length datagram");
        let e = b.recv(sock(1), port.as_fd(), &mut buf).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
        let mut got = Vec::new();
        sink.set_nonblocking(true).unwrap();
        while let Ok(n) = sink.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        assert_eq!(got, [b"a1".to_vec(), b"a2".to_vec(), Vec::new()]);
    }

    #[test]
    fn another_sockets_held_datagrams_are_not_disturbed() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for d in ["x1", "x2"] {
            tx.send_to(d.as_bytes(), a.local_addr().unwrap()).unwrap();
        }
        tx.send_to(b"y1", c.local_addr().unwrap()).unwrap();
        let mut b = Batch::new();
        let mut buf = [0u8; 16];
        b.recv(sock(1), a.as_fd(), &mut buf).unwrap();
        assert_eq!(b.held(), Some((sock(1), 1)));
        // c is relayed without the batch, a's datagram stays held.
        let dest = Some(sink.local_addr().unwrap());
        let done = b
            .relay((sock(2), c.as_fd()), tx.as_fd(), dest, None, 8)
            .unwrap();
        assert_eq!(done.taken, 1);
        assert_eq!(b.held(), Some((sock(1), 1)));
        let (len, _) = b.recv(sock(1), a.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..len], b"x2");
        b.forget(sock(1));
        assert_eq!(b.held(), None);
        let n = sink.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"y1");
    }

    #[test]
    fn datagram_batches_round_trip_with_senders_and_empty_datagrams() {
        use std::net::UdpSocket;
        use std::os::fd::AsFd;
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let slot = 16;
        let mut out = vec![0u8; 3 * slot];
        out[..5].copy_from_slice(b"hello");
        out[2 * slot..2 * slot + 3].copy_from_slice(b"end");
        let one = [Message {
            count: 1,
            segment: 0,
        }; 3];
        let sent = sys::send_msgs(
            SendCall::Sendmmsg,
            tx.as_fd(),
            &Slots::new(&out, slot, 0, &[5, 0, 3]),
            &one,
            Some(to),
        )
        .unwrap();
        assert_eq!(sent, 3);
        let mut buf = vec![0u8; 4 * slot];
        let mut meta = [sys::DgramMeta::default(); 4];
        let got = sys::recv_mmsg(rx.as_fd(), &mut buf, slot, &mut meta).unwrap();
        assert_eq!(got, 3);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(meta[1].len, 0, "a zero-length datagram is one");
        assert_eq!(&buf[2 * slot..2 * slot + 3], b"end");
        assert_eq!(meta[0].from, Some(tx.local_addr().unwrap()));
        let e = sys::recv_mmsg(rx.as_fd(), &mut buf, slot, &mut meta).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let v6 = UdpSocket::bind("[::1]:0").unwrap();
        let v6_to = v6.local_addr().unwrap();
        assert_eq!(
            sys::send_msgs(
                SendCall::Sendmmsg,
                v6.as_fd(),
                &Slots::new(&out, slot, 2, &[3]),
                &one[..1],
                Some(v6_to)
            )
            .unwrap(),
            1
        );
        let got = sys::recv_mmsg(v6.as_fd(), &mut buf, slot, &mut meta).unwrap();
        assert_eq!((got, meta[0].len, meta[0].from), (1, 3, Some(v6_to)));
    }

    #[test]
    fn queued_datagrams_leave_in_one_sendmmsg_in_order() {
        use std::os::fd::AsFd;
        let (tx, rx) = testing::connected_pair();
        let mut q = SendQueue::new();
        assert_eq!(q.pending(), None);
        for d in [&b"one"[..], b"", b"three"] {
            assert!(q.fits(sock(1), None));
            q.push(sock(1), None, d);
        }
        assert_eq!(q.pending(), Some(sock(1)));
        assert!(!q.fits(sock(2), None), "another socket waits for a flush");
        assert!(
            !q.fits(sock(1), Some(rx.local_addr().unwrap())),
            "so does another address"
        );
        q.flush(Some(tx.as_fd()));
        assert_eq!((q.calls, q.sent, q.lost), (1, 3, 0));
        assert_eq!(q.pending(), None);
        let mut buf = [0u8; 16];
        for want in [&b"one"[..], b"", b"three"] {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        // A socket closed before the flush: its datagrams are lost, and counted.
        q.push(sock(1), None, b"late");
        q.flush(None);
        assert_eq!((q.calls, q.sent, q.lost), (1, 3, 1));
        // Full: the 33rd datagram needs a flush first.
        for _ in 0..BATCH {
            q.push(sock(1), None, b"x");
        }
        assert!(!q.fits(sock(1), None));
        q.flush(Some(tx.as_fd()));
        assert_eq!((q.calls, q.sent), (2, 3 + BATCH as u64));
    }

    #[test]
    fn runs_of_equal_datagrams_become_one_gso_message_each() {
        let mut out = [Message::default(); MMSG_MAX];
        let plan = |lens: &[usize], gso: bool, out: &mut [Message; MMSG_MAX]| {
            let n = plan_messages(lens, gso, out);
            out[..n]
                .iter()
                .map(|m| (m.count, m.segment))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            plan(&[1472, 1472, 1472, 100, 1472, 0, 0, 9], true, &mut out),
            [(4, 1472), (1, 0), (1, 0), (1, 0), (1, 0)],
            "a shorter datagram ends a run; empty ones go alone"
        );
        assert_eq!(
            plan(&[10, 20, 20], true, &mut out),
            [(1, 0), (2, 20)],
            "a longer one starts a new run"
        );
        assert_eq!(
            plan(&[30_000; 3], true, &mut out),
            [(2, 30_000), (1, 0)],
            "one message stays within one IPv4 datagram"
        );
        assert_eq!(plan(&[5, 5], false, &mut out), [(1, 0), (1, 0)]);
    }

    /// Datagrams of `sizes` queued on `tx` and sent with each [`SendCall`] in turn (with
    /// GSO where this kernel does it right) arrive at `rx` whole and in order.
    fn every_call_delivers(tx: &UdpSocket, rx: &UdpSocket, sizes: &[usize]) {
        for call in [SendCall::Sendmmsg, SendCall::Sendmsg] {
            let mut q = testing::numbered_queue(sizes, call);
            q.flush(Some(tx.as_fd()));
            assert_eq!((q.sent, q.lost), (sizes.len() as u64, 0), "{call:?}");
            assert_eq!(testing::received_in_order(rx), sizes, "{call:?}");
        }
    }

    #[test]
    fn a_gso_batch_arrives_as_the_datagrams_that_were_queued() {
        let (tx, rx) = testing::connected_pair();
        every_call_delivers(&tx, &rx, &[1472, 1472, 1472, 1472, 700, 1472, 1472, 0, 3]);
    }

    #[test]
    fn a_socket_that_refuses_gso_still_sends_every_datagram() {
        let (tx, rx) = testing::connected_pair();
        // Without UDP checksums the kernel refuses GSO (EINVAL, udp_send_skb()).
        sys::set_udp_no_check(tx.as_fd()).unwrap();
        every_call_delivers(&tx, &rx, &[1000; 6]);
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn this_kernel_cuts_gso_messages_as_asked() {
        // Under qemu-user across byte orders the probe says no (the control message
        // reaches the kernel byte-swapped), which is what it is there for.
        assert!(gso_works(), "Linux 4.18 and later cut UDP GSO messages");
    }
}
