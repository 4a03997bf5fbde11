//! passt's guest link: qemu's stream socket (`-netdev stream`, passt-reference §7.1).
//! Each frame travels as a 4-byte big-endian length followed by the Ethernet frame, in
//! both directions. Frames may span reads; a partial tail is kept for the next read.
//! A length outside 14..=65535 means the stream is corrupt: the client is dropped.
//!
//! Two ways to send: [`GuestLink::send_frame`] (passt's side: a frame the socket cannot
//! take at all is dropped, as passt does; a partly written one is completed, blocking,
//! so the framing survives) and [`QemuStream::queue_frame`] + [`QemuStream::flush`]
//! (the qemu side, as in `passt-tap-relay`: never blocks and never drops, the caller
//! stops producing while [`QemuStream::queued`] is non-zero and keeps reading, so two
//! peers both waiting to write cannot deadlock).

use crate::event_loop::GuestSource;
use crate::host::GuestLink;
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};
use std::io;
use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Shortest frame accepted: an Ethernet header.
pub const MIN_FRAME: usize = 14;
/// Longest frame accepted.
pub const MAX_FRAME: usize = 65_535;
/// Receive buffer: many frames per read.
const RX_BUFFER: usize = 1 << 20;

/// A connected qemu client.
pub struct QemuStream {
    fd: OwnedFd,
    rx: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Framed bytes not yet written (`tx[tx_start..]`), see [`QemuStream::queue_frame`].
    tx: Vec<u8>,
    tx_start: usize,
}

impl QemuStream {
    /// Wrap a connected, non-blocking stream socket.
    pub fn new(fd: OwnedFd) -> QemuStream {
        QemuStream {
            fd,
            rx: vec![0; RX_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            tx: Vec::new(),
            tx_start: 0,
        }
    }

    /// Append one frame, with its length prefix, to the output queue without writing
    /// anything; [`QemuStream::flush`] writes it. Fails with `InvalidInput` (queueing
    /// nothing) when the frame is longer than [`MAX_FRAME`].
    pub fn queue_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if frame.len() > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame too long",
            ));
        }
        if self.tx_start == self.tx.len() {
            self.tx.clear();
            self.tx_start = 0;
        }
        self.tx
            .extend_from_slice(&(frame.len() as u32).to_be_bytes());
        self.tx.extend_from_slice(frame);
        Ok(())
    }

    /// Bytes queued by [`QemuStream::queue_frame`] and not yet written.
    pub fn queued(&self) -> usize {
        self.tx.len() - self.tx_start
    }

    /// Write queued bytes until the queue is empty or the socket is full (then
    /// `Ok(())` with [`QemuStream::queued`] still non-zero: poll for writability and
    /// call again). Never blocks.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.tx_start < self.tx.len() {
            let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
            match rustix::net::send(&self.fd, &self.tx[self.tx_start..], flags) {
                Ok(n) => self.tx_start += n,
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.tx.clear();
        self.tx_start = 0;
        Ok(())
    }

    /// The complete frame at the front of the buffer, if there is one.
    fn buffered_frame(&self) -> io::Result<Option<(usize, usize)>> {
        let have = self.end - self.start;
        if have < 4 {
            return Ok(None);
        }
        let b = &self.rx[self.start..self.start + 4];
        let len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if !(MIN_FRAME..=MAX_FRAME).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("Bad frame size {len} from guest, resetting connection"),
            ));
        }
        if have < 4 + len {
            return Ok(None);
        }
        Ok(Some((self.start + 4, len)))
    }

    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && (self.rx.len() - self.end) < MAX_FRAME + 4 {
            self.rx.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        match rustix::net::recv(&self.fd, &mut self.rx[self.end..], RecvFlags::DONTWAIT) {
            Ok((0, _)) => {
                self.eof = true;
                Ok(0)
            }
            Ok((n, _)) => {
                self.end += n;
                Ok(n)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn write_all_blocking(&self, mut data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            // The usual case: the non-blocking send took the whole frame.
            return Ok(());
        }
        // Once part of a frame is out, the rest must follow or the framing breaks:
        // finish it in blocking mode (bounded by the peer draining its socket). The
        // mode switch, rather than a poll(), keeps to the system calls passt's seccomp
        // allowlist has anyway (ioctl, sendto).
        rustix::io::ioctl_fionbio(&self.fd, false)?;
        let mut result = Ok(());
        while !data.is_empty() {
            match rustix::net::send(&self.fd, data, SendFlags::NOSIGNAL) {
                Ok(n) => data = &data[n..],
                Err(Errno::INTR) => {}
                Err(e) => {
                    result = Err(e.into());
                    break;
                }
            }
        }
        rustix::io::ioctl_fionbio(&self.fd, true)?;
        result
    }
}

impl AsFd for QemuStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl GuestLink for QemuStream {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if frame.len() > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame too long",
            ));
        }
        if self.queued() > 0 {
            // Queued frames go first; this one waits behind them.
            self.queue_frame(frame)?;
            return self.flush();
        }
        let header = (frame.len() as u32).to_be_bytes();
        let iov = [IoSlice::new(&header), IoSlice::new(frame)];
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        let sent =
            rustix::net::sendmsg(&self.fd, &iov, &mut SendAncillaryBuffer::default(), flags)?;
        // A partial write must be completed, or the stream loses its framing.
        if sent < header.len() {
            self.write_all_blocking(&header[sent..])?;
            self.write_all_blocking(frame)
        } else {
            self.write_all_blocking(&frame[sent - header.len()..])
        }
    }
}

impl GuestSource for QemuStream {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some((at, len)) = self.buffered_frame()? {
                let Some(dst) = buf.get_mut(..len) else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "frame buffer too small",
                    ));
                };
                dst.copy_from_slice(&self.rx[at..at + len]);
                self.start = at + len;
                if self.start == self.end {
                    self.start = 0;
                    self.end = 0;
                }
                return Ok(len);
            }
            if self.eof {
                return Ok(0);
            }
            self.fill()?;
        }
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.fd.as_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

    fn pair() -> (QemuStream, OwnedFd) {
        let (a, b) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK,
            None,
        )
        .unwrap();
        (QemuStream::new(a), b)
    }

    fn framed(frame: &[u8]) -> Vec<u8> {
        let mut v = (frame.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(frame);
        v
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let (mut s, peer) = pair();
        let f1 = [1u8; 60];
        let f2 = [2u8; 1500];
        let mut wire = framed(&f1);
        wire.extend(framed(&f2));
        let mut buf = [0u8; 70000];
        rustix::net::send(&peer, &wire[..30], SendFlags::empty()).unwrap();
        assert_eq!(
            s.recv_frame(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        rustix::net::send(&peer, &wire[30..100], SendFlags::empty()).unwrap();
        assert_eq!(s.recv_frame(&mut buf).unwrap(), 60);
        assert_eq!(&buf[..60], &f1);
        rustix::net::send(&peer, &wire[100..], SendFlags::empty()).unwrap();
        assert_eq!(s.recv_frame(&mut buf).unwrap(), 1500);
        assert_eq!(&buf[..1500], &f2[..]);
        drop(peer);
        assert_eq!(
            s.recv_frame(&mut buf).unwrap(),
            0,
            "EOF after the peer closes"
        );
    }

    #[test]
    fn bad_length_is_an_error() {
        for len in [0u32, 13, 65536, 0xffff_ffff] {
            let (mut s, peer) = pair();
            rustix::net::send(&peer, &len.to_be_bytes(), SendFlags::empty()).unwrap();
            let err = s.recv_frame(&mut [0u8; 70000]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "length {len}");
        }
    }

    #[test]
    fn queued_frames_never_block_and_arrive_intact_once_the_peer_reads() {
        let (mut s, peer) = pair();
        // Far more than a socket buffer holds: flush must return with bytes queued
        // instead of blocking, and everything must arrive in order afterwards.
        let frames: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 60_000]).collect();
        for f in &frames {
            s.queue_frame(f).unwrap();
            s.flush().unwrap();
        }
        assert!(s.queued() > 0, "the socket cannot have taken 3.8 MB");
        let mut wire = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while s.queued() > 0 {
            match rustix::net::recv(&peer, &mut buf, RecvFlags::DONTWAIT) {
                Ok((n, _)) => wire.extend_from_slice(&buf[..n]),
                Err(Errno::AGAIN) => {}
                Err(e) => panic!("{e}"),
            }
            s.flush().unwrap();
        }
        while let Ok((n, _)) = rustix::net::recv(&peer, &mut buf, RecvFlags::DONTWAIT) {
            wire.extend_from_slice(&buf[..n]);
        }
        let expected: Vec<u8> = frames.iter().flat_map(|f| framed(f)).collect();
        assert!(wire == expected, "stream differs from the queued frames");
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn partly_written_frames_complete_under_passts_seccomp_filter() {
        // In a forked child under passt's filter, send far more than the socket holds
        // while the parent reads slowly: partial writes must be completed with allowed
        // system calls only (no SIGSYS) and the stream must hold only whole frames.
        const FRAMES: usize = 64;
        const LEN: usize = 60_000;
        let (mut s, peer) = pair();
        let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| vec![i as u8; LEN]).collect();
        match crate::sys::fork_daemon().unwrap() {
            None => {
                drop(peer);
                crate::seccomp::testing::apply_or_exit(crate::seccomp::Profile::Passt);
                for f in &frames {
                    match s.send_frame(f) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => std::process::exit(2),
                    }
                }
                std::process::exit(0);
            }
            Some(child) => {
                drop(s);
                rustix::io::ioctl_fionbio(&peer, false).unwrap();
                let mut wire = Vec::new();
                let mut buf = vec![0u8; 4096];
                loop {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                    let (n, _) = rustix::net::recv(&peer, &mut buf, RecvFlags::empty()).unwrap();
                    if n == 0 {
                        break;
                    }
                    wire.extend_from_slice(&buf[..n]);
                }
                let (_, status) =
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
                        .unwrap()
                        .unwrap();
                if crate::seccomp::testing::skipped(&status) {
                    return;
                }
                assert_eq!(status.terminating_signal(), None, "{status:?}");
                assert_eq!(status.exit_status(), Some(0), "{status:?}");
                let mut rest = &wire[..];
                let mut seen = 0;
                while !rest.is_empty() {
                    let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                    assert_eq!(len, LEN, "frame {seen} header");
                    let body = &rest[4..4 + len];
                    assert!(body.iter().all(|&b| b == body[0]), "frame {seen} torn");
                    rest = &rest[4 + len..];
                    seen += 1;
                }
                assert!(seen > 0, "nothing arrived");
            }
        }
    }

    #[test]
    fn sent_frames_carry_the_length_prefix() {
        let (mut s, peer) = pair();
        s.send_frame(&[9u8; 42]).unwrap();
        let mut buf = [0u8; 100];
        let (n, _) = rustix::net::recv(&peer, &mut buf, RecvFlags::empty()).unwrap();
        assert_eq!(n, 46);
        assert_eq!(&buf[..4], &[0, 0, 0, 42]);
        assert_eq!(&buf[4..46], &[9u8; 42]);
    }
}
