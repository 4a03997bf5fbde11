//! The pasta tap device: one Ethernet frame per `read`/`write` on a
//! `/dev/net/tun` descriptor attached with `IFF_TAP | IFF_NO_PI`
//! (passt reference §7.2).
//!
//! The device is created in the network namespace of the *calling thread*:
//! open it from a thread already inside the target namespace, e.g. with
//! [`crate::netns::in_netns`]. The returned descriptor keeps working from any
//! thread afterwards.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use rustix::fs::{Mode, OFlags};

use crate::sys;

/// An open tap device (layer 2, no packet-information prefix, non-blocking).
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
}

impl Tap {
    /// Opens `/dev/net/tun` (`O_RDWR | O_NONBLOCK | O_CLOEXEC`) and attaches
    /// it to the tap interface `name`, creating the interface if it does not
    /// exist, in the calling thread's network namespace.
    ///
    /// `name` must be shorter than 16 bytes; an empty name or a template such
    /// as `"tap%d"` lets the kernel pick one, see [`Tap::name`]. Needs
    /// `CAP_NET_ADMIN` in the namespace's owning user namespace (or an
    /// existing persistent device owned by the caller).
    pub fn open(name: &str) -> io::Result<Tap> {
        let fd = rustix::fs::open(
            "/dev/net/tun",
            OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let raw = sys::tun_set_iff(fd.as_fd(), name.as_bytes(), sys::IFF_TAP | sys::IFF_NO_PI)?;
        let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let name = String::from_utf8_lossy(raw.get(..len).unwrap_or_default()).into_owned();
        Ok(Tap { fd, name })
    }

    /// Adopts a tap descriptor someone else opened and attached (pasta's `--fd`),
    /// naming it `name` (the interface to configure); it is made non-blocking.
    pub fn from_fd(fd: OwnedFd, name: &str) -> io::Result<Tap> {
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
        Ok(Tap {
            fd,
            name: name.to_string(),
        })
    }

    /// The interface name the kernel attached this descriptor to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one frame into `buf` and returns its length. A frame longer
    /// than `buf` is truncated by the kernel. Fails with
    /// [`io::ErrorKind::WouldBlock`] when no frame is queued.
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.fd, buf)?)
    }

    /// Writes one complete Ethernet frame (no FCS) and returns the number of
    /// bytes accepted. Fails with [`io::ErrorKind::WouldBlock`] when the
    /// device cannot take it now, and with EIO while the interface is down.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(&self.fd, frame)?)
    }

    /// Gives up the wrapper and returns the descriptor.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
