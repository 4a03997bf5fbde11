//! Pasta's loopback bypass for TCP: [`Op::Splice`](passt_core::io::Op::Splice) moves a
//! spliced connection's data socket → pipe → socket with `splice(2)`, never through
//! our memory (passt-reference §5).

use super::{host_error, GuestLink, LinuxHost};
use passt_core::io::{HostError, OpResult, Spliced};
use passt_core::SockRef;
use rustix::io::Errno;
use std::os::fd::OwnedFd;

/// Size asked for the pipes of spliced connections (the kernel may give less).
const PIPE_SIZE: usize = 1 << 20;
/// Most splice rounds per `Op::Splice`, so one busy connection cannot starve others.
const SPLICE_ROUNDS: usize = 16;

/// The pipe carrying a spliced connection's data away from one socket.
pub(super) struct Pipe {
    pub(super) read: OwnedFd,
    pub(super) write: OwnedFd,
    /// Bytes in the pipe not yet delivered.
    pub(super) pending: usize,
    /// The source socket reached end of stream.
    pub(super) eof: bool,
}

impl<G: GuestLink> LinuxHost<G> {
    /// `Op::Splice`: move data `from` → pipe → `to` until one side would block (or a
    /// round limit), delivering what an earlier call left in the pipe first.
    pub(super) fn splice(&mut self, from: SockRef, to: SockRef) -> OpResult {
        if from.slot() != to.slot() || from.side() == to.side() {
            return OpResult::Err(HostError::Other(libc::EINVAL));
        }
        let Some(pair) = self.conns.get_mut(from.slot() as usize) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        let [a, b] = pair;
        let (src, dst) = if from.side() == 0 { (a, b) } else { (b, a) };
        let (Some(src), Some(dst)) = (src.as_mut(), dst.as_mut()) else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        if src.pipe.is_none() {
            let flags = rustix::pipe::PipeFlags::NONBLOCK | rustix::pipe::PipeFlags::CLOEXEC;
            match rustix::pipe::pipe_with(flags) {
                Ok((read, write)) => {
                    let _ = rustix::pipe::fcntl_setpipe_size(&write, PIPE_SIZE);
                    src.pipe = Some(Pipe {
                        read,
                        write,
                        pending: 0,
                        eof: false,
                    });
                }
                Err(e) => return OpResult::Err(host_error(e)),
            }
        }
        let Some(pipe) = src.pipe.as_mut() else {
            return OpResult::Err(HostError::Other(libc::EBADF));
        };
        let flags = rustix::pipe::SpliceFlags::MOVE | rustix::pipe::SpliceFlags::NONBLOCK;
        let mut out = Spliced::default();
        // Whether the source said "nothing more for now" (would block, or end of
        // stream); if the rounds run out first, it must get another turn.
        let mut source_done = false;
        for _ in 0..SPLICE_ROUNDS {
            while pipe.pending > 0 {
                match rustix::pipe::splice(&pipe.read, None, &dst.fd, None, pipe.pending, flags) {
                    Ok(0) => break,
                    Ok(n) => {
                        pipe.pending -= n;
                        out.written += n;
                        dst.sent = true;
                    }
                    Err(Errno::AGAIN) => {
                        out.pending = pipe.pending;
                        return OpResult::Spliced(out);
                    }
                    Err(e) => return OpResult::Err(host_error(e)),
                }
            }
            if pipe.eof {
                source_done = true;
                break;
            }
            match rustix::pipe::splice(&src.fd, None, &pipe.write, None, PIPE_SIZE, flags) {
                Ok(0) => pipe.eof = true,
                Ok(n) => {
                    pipe.pending += n;
                    out.read += n;
                }
                Err(Errno::AGAIN) => {
                    source_done = true;
                    break;
                }
                Err(e) => return OpResult::Err(host_error(e)),
            }
        }
        out.pending = pipe.pending;
        out.eof = pipe.eof && pipe.pending == 0;
        self.largest_out = self.largest_out.max(out.read.max(out.written));
        if !source_done && !self.splice_again.contains(&from) {
            // Edge-triggered epoll reported this source once; what it still holds
            // (and what waits in the pipe) moves on the loop's next turn.
            self.splice_again.push(from);
        }
        if out.read == 0 && out.written == 0 && !out.eof && out.pending == 0 {
            return OpResult::Err(HostError::WouldBlock);
        }
        OpResult::Spliced(out)
    }
}
