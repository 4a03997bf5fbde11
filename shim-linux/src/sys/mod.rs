//! The one module of this crate allowed to contain `unsafe` code (with its submodule
//! `child`, the fork into namespaces).
//!
//! Everything here is a thin wrapper over a system call that neither rustix's
//! safe API nor `std` covers:
//!
//! * [`tun_set_iff`] and [`tun_set_offload`]: the `TUNSETIFF` and `TUNSETOFFLOAD`
//!   ioctls on a `/dev/net/tun` descriptor;
//! * socket options and calls rustix lacks: [`set_peek_offset`] (`SO_PEEK_OFF`),
//!   [`set_tcp_maxseg`] (`TCP_MAXSEG`), [`send_queue_len`] (`SIOCOUTQ`) and
//!   [`discard`] (`recv` with `MSG_TRUNC` and no buffer);
//! * [`recv_mmsg`] and [`send_msgs`]: batches of datagrams (`recvmmsg(2)`; one
//!   `sendmmsg(2)` or a `sendmsg(2)` per message, with UDP GSO control messages;
//!   rustix has no `recvmmsg`);
//! * [`GuestIov`]: a TCP peek straight into guest-memory slices (`recvmsg(2)` with
//!   `MSG_PEEK` over an iovec built from `vm-memory` slices);
//! * [`termination_signalfd`]: SIGTERM/SIGINT blocked and read from a `signalfd`;
//! * [`fork_into_namespaces`]: `fork(2)` followed, in the child, by early
//!   closing of close-on-exec descriptors, an optional switch of user, `unshare(2)`, the uid/gid map
//!   writes, a wait on the parent's "go" pipe and `execve(2)`.
//!
//! Each `unsafe` block carries a `// SAFETY:` comment. The child side of the
//! fork runs in a copy of a possibly multi-threaded process, so it may only do
//! async-signal-safe work: it calls raw system calls (rustix's linux_raw
//! backend, plus a few libc wrappers that are plain system calls), uses no
//! allocator, takes no lock, formats nothing and cannot panic. All the data it
//! needs is prepared by the parent in a [`ChildPlan`] before `fork`.

use std::ffi::c_char;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr;

use rustix::ioctl;
use rustix::process::Pid;
use rustix::thread::UnshareFlags;

mod child;
pub(crate) use child::{fork_into_namespaces, CStringArray, ChildPlan, Stage, STATUS_LEN};

/// Size of an interface-name buffer including its NUL terminator (`IFNAMSIZ`).
pub(crate) const IFNAMSIZ: usize = 16;

/// `IFF_TAP` from `<linux/if_tun.h>`: an Ethernet (layer 2) device.
pub(crate) const IFF_TAP: i16 = 0x0002;
/// `IFF_NO_PI` from `<linux/if_tun.h>`: no 4-byte packet-information prefix.
pub(crate) const IFF_NO_PI: i16 = 0x1000;

/// `IFF_VNET_HDR` from `<linux/if_tun.h>`: every frame read or written carries a
/// `struct virtio_net_hdr` in front (segmentation and checksum offload metadata).
pub(crate) const IFF_VNET_HDR: i16 = 0x4000;

/// `TUN_F_CSUM` from `<linux/if_tun.h>`: we take frames with partial checksums.
pub(crate) const TUN_F_CSUM: u32 = 0x01;
/// `TUN_F_TSO4`: we take IPv4 TCP super-frames (needs `TUN_F_CSUM`).
pub(crate) const TUN_F_TSO4: u32 = 0x02;
/// `TUN_F_TSO6`: we take IPv6 TCP super-frames (needs `TUN_F_CSUM`).
pub(crate) const TUN_F_TSO6: u32 = 0x04;
/// `TUN_F_USO4`: we take IPv4 runs of UDP datagrams (Linux 6.2+; the same kernels
/// accept `VIRTIO_NET_HDR_GSO_UDP_L4` frames written to the tap).
pub(crate) const TUN_F_USO4: u32 = 0x20;
/// `TUN_F_USO6`: the same over IPv6.
pub(crate) const TUN_F_USO6: u32 = 0x40;

/// `TUNSETIFF` = `_IOW('T', 202, int)` from `<linux/if_tun.h>`.
const TUNSETIFF: ioctl::Opcode = ioctl::opcode::write::<libc::c_int>(b'T', 202);
/// `TUNSETOFFLOAD` = `_IOW('T', 208, unsigned int)` from `<linux/if_tun.h>`; its
/// argument is the flag word itself, not a pointer.
const TUNSETOFFLOAD: ioctl::Opcode = ioctl::opcode::write::<libc::c_uint>(b'T', 208);

/// Tells the tap behind `fd` which offloads we handle (`TUN_F_*`): the device then
/// offers them to its network stack, which hands us frames that use them.
pub(crate) fn tun_set_offload(fd: BorrowedFd<'_>, flags: u32) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value (`set_offload(tun, arg)` in
    // drivers/net/tun.c), which is what `IntegerSetter` passes; the kernel reads no
    // memory through it.
    let request = unsafe { ioctl::IntegerSetter::<TUNSETOFFLOAD>::new_usize(flags as usize) };
    // SAFETY: `request` describes TUNSETOFFLOAD correctly (see above); `fd` is a
    // live descriptor borrowed for the duration of the call, and on anything but a
    // tun device the kernel fails with ENOTTY/EBADFD.
    unsafe { ioctl::ioctl(fd, request) }?;
    Ok(())
}

/// Attaches the `/dev/net/tun` descriptor `fd` to the interface `name`
/// (created if missing) with `flags`, and returns the NUL-padded name the
/// kernel actually used (relevant for templates such as `tap%d` or "").
pub(crate) fn tun_set_iff(
    fd: BorrowedFd<'_>,
    name: &[u8],
    flags: i16,
) -> io::Result<[u8; IFNAMSIZ]> {
    if name.len() >= IFNAMSIZ || name.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name must be shorter than 16 bytes and contain no NUL",
        ));
    }
    let mut ifr = libc::ifreq {
        ifr_name: [0; IFNAMSIZ],
        ifr_ifru: libc::__c_anonymous_ifr_ifru { ifru_flags: flags },
    };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name) {
        *dst = *src as c_char;
    }
    // SAFETY: TUNSETIFF's argument is a pointer to a `struct ifreq`, which is
    // exactly `libc::ifreq`; the kernel reads it and writes the chosen name
    // back into the same `sizeof(struct ifreq)` bytes, all inside `ifr`, which
    // outlives the call.
    let request = unsafe { ioctl::Updater::<TUNSETIFF, libc::ifreq>::new(&mut ifr) };
    // SAFETY: `request` describes TUNSETIFF correctly (see above); `fd` is a
    // live descriptor borrowed for the duration of the call. On a descriptor
    // that is not a tun device the kernel just fails with ENOTTY/EBADFD.
    unsafe { ioctl::ioctl(fd, request) }?;
    let mut actual = [0u8; IFNAMSIZ];
    for (dst, src) in actual.iter_mut().zip(ifr.ifr_name.iter()) {
        // `c_char` is `i8` on x86_64 and `u8` on aarch64: its byte either way.
        *dst = u8::from_ne_bytes(src.to_ne_bytes());
    }
    Ok(actual)
}

/// Set an `int`-valued socket option.
fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its exact size is passed; the kernel
    // only reads `optlen` bytes from `optval`. `fd` is a valid borrowed descriptor.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Set `SO_PEEK_OFF`: the next `MSG_PEEK` read starts `offset` bytes into the receive
/// queue, and the offset then advances by what was peeked (socket(7)). Works for TCP
/// from Linux 6.9 on.
pub(crate) fn set_peek_offset(fd: BorrowedFd<'_>, offset: i32) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PEEK_OFF, offset)
}

/// Set `SO_BINDTOIFINDEX` (socket(7), Linux 5.0): route the socket's traffic through
/// interface `index` only.
pub(crate) fn set_bind_to_ifindex(fd: BorrowedFd<'_>, index: u32) -> io::Result<()> {
    let index =
        libc::c_int::try_from(index).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_BINDTOIFINDEX, index)
}

/// Set `TCP_MAXSEG`, the segment size the kernel uses toward the peer (tcp(7)).
pub(crate) fn set_tcp_maxseg(fd: BorrowedFd<'_>, mss: u16) -> io::Result<()> {
    setsockopt_int(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_MAXSEG,
        libc::c_int::from(mss),
    )
}

/// `SIOCOUTQ`: bytes in the socket's send queue not yet acknowledged by the peer.
pub(crate) fn send_queue_len(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut value: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one `int` through the pointer, which points at `value`
    // for the duration of the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCOUTQ,
            &mut value as *mut libc::c_int,
        )
    };
    if rc == 0 {
        Ok(usize::try_from(value).unwrap_or(0))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Drop `len` bytes from the front of a TCP socket's receive queue without copying
/// them (`recv(2)` with `MSG_TRUNC` and a null buffer, tcp(7)). Returns the count.
pub(crate) fn discard(fd: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    // SAFETY: with MSG_TRUNC on a TCP socket the kernel discards the data and never
    // writes through the (null) buffer pointer.
    let rc = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            ptr::null_mut(),
            len,
            libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// Most guest buffers one [`GuestIov::peek`] fills (a 64 KiB segment over 1 KiB
/// buffers, with room to spare).
pub(crate) const PEEK_IOV_MAX: usize = 128;

/// Guest-memory buffers for one [`GuestIov::peek`]: pointers taken from `vm-memory`
/// slices that stay borrowed (`'a`) as long as this exists.
pub(crate) struct GuestIov<'a> {
    iov: [libc::iovec; PEEK_IOV_MAX],
    len: usize,
    _slices: std::marker::PhantomData<&'a mut [u8]>,
}

impl<'a> GuestIov<'a> {
    /// No buffers yet.
    pub(crate) fn new() -> GuestIov<'a> {
        GuestIov {
            iov: [libc::iovec {
                iov_base: ptr::null_mut(),
                iov_len: 0,
            }; PEEK_IOV_MAX],
            len: 0,
            _slices: std::marker::PhantomData,
        }
    }

    /// Add `slice` as the next buffer; `false` (nothing added) once
    /// [`PEEK_IOV_MAX`] are there.
    pub(crate) fn push<B: vm_memory::bitmap::BitmapSlice>(
        &mut self,
        slice: vm_memory::VolatileSlice<'a, B>,
    ) -> bool {
        let Some(v) = self.iov.get_mut(self.len) else {
            return false;
        };
        // The kernel writes through this pointer; no Rust reference to the memory
        // is made, and `'a` keeps the mapping in place.
        v.iov_base = slice.ptr_guard_mut().as_ptr().cast();
        v.iov_len = slice.len();
        self.len += 1;
        true
    }

    /// Peek (`MSG_PEEK | MSG_DONTWAIT`, from the socket's `SO_PEEK_OFF`) into the
    /// buffers, in order; the bytes peeked.
    pub(crate) fn peek(&mut self, fd: BorrowedFd<'_>) -> io::Result<usize> {
        // SAFETY: msghdr is plain data; all zeroes (no name, no control) is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = self.iov.as_mut_ptr();
        msg.msg_iovlen = self.len as _;
        // SAFETY: the first `len` iovecs each cover a `VolatileSlice` of guest memory
        // borrowed for `'a` (mapped, writable, `iov_len` bytes); the kernel writes at
        // most that much into each, and `msg` points at nothing else.
        let rc = unsafe {
            libc::recvmsg(
                fd.as_raw_fd(),
                &mut msg,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        usize::try_from(rc).map_err(|_| io::Error::last_os_error())
    }
}

/// Most datagrams [`recv_mmsg`] and [`send_msgs`] handle per call.
pub(crate) const MMSG_MAX: usize = 32;

/// One datagram of a [`recv_mmsg`] batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DgramMeta {
    /// Its full length (more than the slot means it was truncated).
    pub len: usize,
    /// Its sender.
    pub from: Option<std::net::SocketAddr>,
}

fn sockaddr_to_std(ss: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which is smaller
            // than sockaddr_storage and has weaker alignment.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(sin6.sin6_port)))
        }
        _ => None,
    }
}

fn std_to_sockaddr(addr: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid (AF_UNSPEC) value.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        std::net::SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in fits in sockaddr_storage with compatible alignment.
            let sin = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        std::net::SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// `recvmmsg(2)` without blocking: up to `meta.len()` (at most [`MMSG_MAX`]) datagrams,
/// datagram `i` into `buf[i * slot..(i + 1) * slot]` and its length and sender into
/// `meta[i]`. Returns how many arrived (zero-length datagrams count).
pub(crate) fn recv_mmsg(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    slot: usize,
    meta: &mut [DgramMeta],
) -> io::Result<usize> {
    let n = meta.len().min(MMSG_MAX).min(buf.len() / slot.max(1));
    // SAFETY: these C structs are plain data, valid when zeroed.
    let mut names: [libc::sockaddr_storage; MMSG_MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MMSG_MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut iovs: [libc::iovec; MMSG_MAX] = unsafe { std::mem::zeroed() };
    for (i, chunk) in buf.chunks_exact_mut(slot).take(n).enumerate() {
        iovs[i] = libc::iovec {
            iov_base: chunk.as_mut_ptr().cast(),
            iov_len: slot,
        };
        hdrs[i].msg_hdr.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
        hdrs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
        hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `n` headers point at `n` disjoint, live slots of `buf` and at
    // their own name storage, all of which outlive the call; the kernel writes at
    // most `iov_len` bytes per slot and `msg_namelen` bytes per name.
    let rc = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            // `int` in glibc, `unsigned int` in musl.
            (libc::MSG_DONTWAIT | libc::MSG_TRUNC) as _,
            ptr::null_mut(),
        )
    };
    let got = usize::try_from(rc).map_err(|_| io::Error::last_os_error())?;
    for i in 0..got {
        meta[i] = DgramMeta {
            len: hdrs[i].msg_len as usize,
            from: sockaddr_to_std(&names[i]),
        };
    }
    Ok(got)
}

/// The system call that sends a batch of datagrams ([`crate::dgram::SendQueue`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SendCall {
    /// One `sendmmsg(2)` for the batch.
    #[default]
    Sendmmsg,
    /// One `sendmsg(2)` per message, for a seccomp list without `sendmmsg` (passt's,
    /// held to upstream's budget). A run of equal datagrams is still one message.
    Sendmsg,
}

/// One message of a [`send_msgs`] call: the next `count` datagrams, sent as one UDP
/// GSO message (`UDP_SEGMENT`, the kernel cuts it into `segment`-byte datagrams)
/// when `segment` is nonzero, else `count` is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Message {
    /// Datagrams in the message.
    pub count: usize,
    /// Size of each datagram but the last (which may be shorter); 0: no GSO.
    pub segment: u16,
}

/// A control message carrying `UDP_SEGMENT` (udp(7)): a `cmsghdr` followed by the
/// 16-bit segment size, padded to `CMSG_SPACE(2)`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SegmentCmsg {
    hdr: libc::cmsghdr,
    segment: u16,
    _pad: [u8; 6],
}

// The kernel reads `CMSG_SPACE(2)` bytes of control data.
// SAFETY: CMSG_SPACE only computes a length.
const _: () =
    assert!(std::mem::size_of::<SegmentCmsg>() >= unsafe { libc::CMSG_SPACE(2) } as usize);

/// Datagrams in slots of `slot` bytes: datagram `i` is `buf[(first + i) * slot..]`,
/// `lens[i]` bytes of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slots<'a> {
    pub buf: &'a [u8],
    pub slot: usize,
    pub first: usize,
    pub lens: &'a [usize],
}

impl<'a> Slots<'a> {
    /// `lens.len()` datagrams in slots of `slot` bytes of `buf`, from slot `first`.
    pub(crate) fn new(buf: &'a [u8], slot: usize, first: usize, lens: &'a [usize]) -> Self {
        Slots {
            buf,
            slot,
            first,
            lens,
        }
    }
}

/// Send without blocking, with `call`: the datagrams of `slots` (at most [`MMSG_MAX`]),
/// grouped into `msgs` (their counts add up to at most `slots.lens.len()`), each
/// message to `dest` (or the connected peer). Returns how many messages the kernel
/// took; an error only when it took none.
pub(crate) fn send_msgs(
    call: SendCall,
    fd: BorrowedFd<'_>,
    slots: &Slots<'_>,
    msgs: &[Message],
    dest: Option<std::net::SocketAddr>,
) -> io::Result<usize> {
    let Slots {
        buf,
        slot,
        first,
        lens,
    } = *slots;
    let (mut name, namelen) = match dest {
        Some(a) => std_to_sockaddr(a),
        // SAFETY: plain data, valid when zeroed.
        None => (unsafe { std::mem::zeroed() }, 0),
    };
    // SAFETY: plain data, valid when zeroed.
    let mut hdrs: [libc::mmsghdr; MMSG_MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut iovs: [libc::iovec; MMSG_MAX] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut cmsgs: [SegmentCmsg; MMSG_MAX] = unsafe { std::mem::zeroed() };
    let lens = &lens[..lens.len().min(MMSG_MAX)];
    let mut dgram = 0;
    let mut n = 0;
    for (m, msg) in msgs.iter().take(MMSG_MAX).enumerate() {
        let count = msg.count.max(1);
        if dgram + count > lens.len() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        for i in dgram..dgram + count {
            let start = (first + i) * slot;
            let Some(data) = buf.get(start..start + lens[i].min(slot)) else {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            };
            iovs[i] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
        }
        let hdr = &mut hdrs[m].msg_hdr;
        if dest.is_some() {
            hdr.msg_name = (&mut name as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = namelen;
        }
        hdr.msg_iov = &mut iovs[dgram];
        hdr.msg_iovlen = count as _;
        if msg.segment > 0 {
            let c = &mut cmsgs[m];
            c.hdr.cmsg_level = libc::SOL_UDP;
            c.hdr.cmsg_type = libc::UDP_SEGMENT;
            // SAFETY: CMSG_LEN only computes a length.
            c.hdr.cmsg_len = unsafe { libc::CMSG_LEN(2) } as _;
            c.segment = msg.segment;
            hdr.msg_control = (c as *mut SegmentCmsg).cast();
            // SAFETY: as above.
            hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
        }
        dgram += count;
        n = m + 1;
    }
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    if call == SendCall::Sendmsg {
        for (m, hdr) in hdrs[..n].iter().enumerate() {
            // SAFETY: the header points at live, in-bounds slices of `buf` (checked
            // above), at `name` and at its own control message, all outliving the
            // call; sendmsg only reads them.
            if unsafe { libc::sendmsg(fd.as_raw_fd(), &hdr.msg_hdr, flags) } < 0 {
                return match m {
                    0 => Err(io::Error::last_os_error()),
                    taken => Ok(taken),
                };
            }
        }
        return Ok(n);
    }
    // SAFETY: the first `n` headers point at live, in-bounds slices of `buf` (checked
    // above), at `name` and at their own control message, all outliving the call;
    // sendmmsg only reads them (and writes each header's `msg_len`).
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            // `int` in glibc, `unsigned int` in musl.
            flags as _,
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// `SO_NO_CHECK` (socket(7)): UDP without checksums, which the kernel refuses to
/// combine with GSO; tests use it to see [`send_msgs`]'s callers fall back.
#[cfg(test)]
pub(crate) fn set_udp_no_check(fd: BorrowedFd<'_>) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_NO_CHECK, 1)
}

/// `fork(2)` for daemonising: returns `Some(child)` in the parent, `None` in the child.
/// Callers must be single-threaded (the child continues with a copy of the process).
pub(crate) fn fork_daemon() -> io::Result<Option<Pid>> {
    // SAFETY: called only while the process has a single thread (documented contract
    // of `daemon::detach`), so the child inherits no locked mutexes or half-done
    // work of other threads and may keep running ordinary Rust code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Pid::from_raw(pid)),
    }
}

/// Take ownership of descriptor `fd`, inherited from our parent (`--fd`), after
/// checking that it is open.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if fd < 3 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptor must be above 2",
        ));
    }
    // SAFETY: F_GETFD only reads the descriptor flags; an invalid number gives EBADF.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open (checked above) and, by the `--fd` contract with
    // our parent, ours alone: nothing else in this process refers to it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Detach this thread from namespaces it shares (`unshare(2)`) with the given flags.
/// Only namespace flags are meaningful here (see [`crate::isolation`]).
pub(crate) fn unshare_namespaces(flags: UnshareFlags) -> io::Result<()> {
    // SAFETY: `unshare_unsafe` is unsafe because unsharing CLONE_FILES or CLONE_FS
    // behind the back of other threads' open-file assumptions can break Rust's I/O
    // safety. Callers pass only namespace flags (mount, IPC, UTS, user), which leave
    // descriptors and memory untouched.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}

/// `write(2)` through the x32 ABI: x86_64's number with `__X32_SYSCALL_BIT` set (the
/// seccomp tests check that the filter kills it).
#[cfg(all(test, target_arch = "x86_64"))]
pub(crate) fn write_via_x32_abi(fd: impl std::os::fd::AsFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: write(2)'s arguments: an open descriptor (borrowed for the call) and a
    // live buffer of `bytes.len()` bytes, which the kernel only reads.
    let rc = unsafe {
        libc::syscall(
            0x4000_0000 | libc::SYS_write,
            fd.as_fd().as_raw_fd(),
            bytes.as_ptr(),
            bytes.len(),
        )
    };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

/// The system allocator, counting every allocation and reallocation in
/// [`crate::alloc_count`]. Installed as the binaries' global allocator.
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counter is a relaxed atomic that never affects the memory handed out.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        crate::alloc_count::count();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this type.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        crate::alloc_count::count();
        // SAFETY: forwarded unchanged.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        crate::alloc_count::count();
        // SAFETY: forwarded unchanged; `ptr` came from `System` through this type.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

/// Block SIGTERM and SIGINT in the calling thread (and in threads and children it
/// creates afterwards) and return a non-blocking, close-on-exec `signalfd` that
/// reads them instead, so the event loop can exit cleanly on either.
pub(crate) fn termination_signalfd() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole set it points at; sigaddset then only
    // sets bits of that initialised set, with valid signal numbers.
    let set = unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        set
    };
    // SAFETY: `set` is initialised and outlives the call; the old mask is not asked
    // for (null pointer, allowed).
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: -1 asks for a new descriptor; `set` is initialised and only read.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created by signalfd and nothing else refers to it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_has_the_kernel_layout() {
        // struct ifreq on LP64: 16-byte name + 24-byte union (struct ifmap).
        assert_eq!(std::mem::size_of::<libc::ifreq>(), 40);
        assert_eq!(TUNSETIFF, 0x4004_54ca);
    }

    #[test]
    fn overlong_tap_name_is_rejected_before_the_ioctl() {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(
            c"/dev/null",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        use std::os::fd::AsFd;
        let e = tun_set_iff(fd.as_fd(), b"0123456789abcdef", IFF_TAP).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = tun_set_iff(fd.as_fd(), b"a\0b", IFF_TAP).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
