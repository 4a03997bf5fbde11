//! passt's vhost-user back end against a hostile front end: control requests (with
//! memfd or eventfd descriptors attached) through the `vhost` crate's parser into our
//! request handler, guest memory patched behind the back end's back, and the data
//! path driven both ways. Whatever comes, the back end refuses or drops the front
//! end: it never panics, hangs, or touches memory outside the guest's.
//!
//! Input: a sequence of ops, each a tag byte and its operands:
//! - `0 fds len_hi len_lo bytes…`: a request — a 12-byte header (request, flags,
//!   size) and its body — whose `size` field is set to the body actually given, so
//!   the parser never waits for bytes that will not come; `fds & 3` descriptors go
//!   with it, eventfds when `fds & 4`, else memfds of guest memory;
//! - `1 off(3) len bytes…`: write into guest memory (the memfd) at `off`;
//! - `2`: let the back end run: control requests, then frames from the guest;
//! - `3 len_hi len_lo`: give the guest a frame of that length.

use passt_shim_linux::event_loop::GuestSource;
use passt_shim_linux::host::GuestLink;
use passt_shim_linux::vhost_user::VhostUserLink;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Guest memory (one memfd, shared by every region a request names).
pub const GUEST_MEMORY: u64 = 1 << 20;
/// Length of a vhost-user message header.
pub const HEADER: usize = 12;

/// How far a run got (for tests checking that seeds reach what they aim at).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionOutcome {
    /// Frames the back end took from the guest.
    pub frames_from_guest: usize,
    /// Frames the back end gave the guest.
    pub frames_to_guest: usize,
    /// The back end dropped the front end.
    pub dropped: bool,
}

fn memfd() -> Option<File> {
    let fd = rustix::fs::memfd_create("fuzz-guest", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
    rustix::fs::ftruncate(&fd, GUEST_MEMORY).ok()?;
    Some(File::from(fd))
}

fn eventfd() -> Option<OwnedFd> {
    rustix::event::eventfd(
        0,
        rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
    )
    .ok()
}

/// Send `msg` on `sock` with `fds` attached.
fn send_with_fds(sock: &UnixStream, msg: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) -> bool {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return false;
    }
    let iov = [std::io::IoSlice::new(msg)];
    sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL).is_ok_and(|n| n == msg.len())
}

/// Run one front-end session against the back end.
pub fn vhost_session(data: &[u8]) -> SessionOutcome {
    let mut out = SessionOutcome::default();
    let Ok((ours, theirs)) = UnixStream::pair() else {
        return out;
    };
    let Some(memory) = memfd() else { return out };
    let Ok(mut link) = VhostUserLink::new(OwnedFd::from(ours)) else {
        return out;
    };
    if link
        .set_waits(Duration::from_millis(1), Duration::ZERO)
        .is_err()
    {
        return out;
    }
    let _ = theirs.set_nonblocking(true);
    let mut buf = vec![0u8; 70_000];
    let frame = vec![0xa5u8; 70_000];
    let mut ops = data;
    while let Some((&tag, rest)) = ops.split_first() {
        ops = rest;
        match tag % 4 {
            0 => {
                let [fds, hi, lo, rest @ ..] = ops else {
                    break;
                };
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
                let (body, rest) = rest.split_at(len);
                ops = rest;
                if body.len() < HEADER {
                    continue;
                }
                let mut msg = body.to_vec();
                let size = (body.len() - HEADER) as u32;
                msg[8..HEADER].copy_from_slice(&size.to_ne_bytes());
                let count = usize::from(fds & 3);
                let files: Vec<OwnedFd> = (0..count)
                    .filter_map(|_| {
                        if fds & 4 != 0 {
                            eventfd()
                        } else {
                            memory.try_clone().ok().map(OwnedFd::from)
                        }
                    })
                    .collect();
                let borrowed: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
                if !send_with_fds(&theirs, &msg, &borrowed) {
                    break;
                }
            }
            1 => {
                let [a, b, c, len, rest @ ..] = ops else {
                    break;
                };
                let n = usize::from(*len).min(rest.len());
                let at = u64::from(u32::from_be_bytes([0, *a, *b, *c])) % GUEST_MEMORY;
                let _ = memory.write_at(&rest[..n], at);
                ops = &rest[n..];
            }
            2 => {
                for _ in 0..64 {
                    match link.recv(&mut buf) {
                        Ok(r) if r.len == 0 => {
                            out.dropped = true;
                            return out;
                        }
                        Ok(_) => out.frames_from_guest += 1,
                        Err(_) => break,
                    }
                }
                link.after_batch();
                // The front end reads its replies (else the socket would fill up).
                let mut sink = [0u8; 4096];
                while (&theirs).read(&mut sink).is_ok_and(|n| n > 0) {}
            }
            _ => {
                let [hi, lo, rest @ ..] = ops else {
                    break;
                };
                ops = rest;
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(frame.len());
                if link.send_frame(&frame[..len]).is_ok() {
                    out.frames_to_guest += 1;
                }
            }
        }
    }
    out
}
