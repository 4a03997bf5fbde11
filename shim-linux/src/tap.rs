//! The pasta tap device: one Ethernet frame per `read`/`write` on a
//! `/dev/net/tun` descriptor attached with `IFF_TAP | IFF_NO_PI` (passt reference
//! §7.2), and where the kernel allows it `IFF_VNET_HDR` with `TUNSETOFFLOAD`: every
//! frame then carries a virtio-net header ([`passt_virtio_net::hdr`]), the namespace hands us
//! TCP super-frames of up to 64 KiB with checksums left partial whatever its MTU, and
//! takes the same from us.
//!
//! The device is created in the network namespace of the *calling thread*:
//! open it from a thread already inside the target namespace, e.g. with
//! [`crate::netns::in_netns`]. The returned descriptor keeps working from any
//! thread afterwards.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use passt_core::io::TxOffload;
use rustix::fs::{Mode, OFlags};

use crate::sys;
use passt_virtio_net::hdr::{self as vnet, ByteOrder, VnetHdr};

pub use passt_virtio_net::features::{TSO_MAX_PAYLOAD, USO_MAX_PAYLOAD};

/// An open tap device (layer 2, no packet-information prefix, non-blocking).
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
    /// Frames carry a virtio-net header (`IFF_VNET_HDR`) and the device takes TSO
    /// super-frames and partial checksums from us and gives them to us.
    offload: bool,
    /// The kernel also takes runs of UDP datagrams from us (`GSO_UDP_L4`).
    udp_segmentation: bool,
}

/// Where a frame landed in the read buffer, and what its link said about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Offset of the Ethernet header in the buffer.
    pub start: usize,
    /// Frame length; 0 means the link is gone.
    pub len: usize,
    /// The sender left the TCP/UDP checksum for the link to complete.
    pub checksum_partial: bool,
}

impl Tap {
    /// Opens `/dev/net/tun` (`O_RDWR | O_NONBLOCK | O_CLOEXEC`) and attaches
    /// it to the tap interface `name`, creating the interface if it does not
    /// exist, in the calling thread's network namespace, with segmentation and
    /// checksum offload where the kernel allows it (see [`Tap::offload`]).
    ///
    /// `name` must be shorter than 16 bytes; an empty name or a template such
    /// as `"tap%d"` lets the kernel pick one, see [`Tap::name`]. Needs
    /// `CAP_NET_ADMIN` in the namespace's owning user namespace (or an
    /// existing persistent device owned by the caller).
    pub fn open(name: &str) -> io::Result<Tap> {
        match Tap::open_with(name, true) {
            Ok(tap) => Ok(tap),
            Err(e) => {
                crate::log_debug!("Tap offloads unavailable ({e}); plain frames");
                Tap::open_with(name, false)
            }
        }
    }

    /// [`Tap::open`] with offloads (`IFF_VNET_HDR` + `TUNSETOFFLOAD` for checksums
    /// and TSO over IPv4 and IPv6) or without; fails if they were asked for and the
    /// kernel refuses them.
    pub fn open_with(name: &str, offload: bool) -> io::Result<Tap> {
        let fd = rustix::fs::open(
            "/dev/net/tun",
            OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut flags = sys::IFF_TAP | sys::IFF_NO_PI;
        if offload {
            flags |= sys::IFF_VNET_HDR;
        }
        let raw = sys::tun_set_iff(fd.as_fd(), name.as_bytes(), flags)?;
        let mut udp_segmentation = false;
        if offload {
            let features = sys::TUN_F_CSUM | sys::TUN_F_TSO4 | sys::TUN_F_TSO6;
            // A kernel that knows the UDP offload flags also takes UDP runs written to
            // the tap; asked for and dropped again, as the engine wants single
            // datagrams from the namespace.
            let uso = sys::TUN_F_USO4 | sys::TUN_F_USO6;
            udp_segmentation = sys::tun_set_offload(fd.as_fd(), features | uso).is_ok();
            sys::tun_set_offload(fd.as_fd(), features)?;
        }
        let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let name = String::from_utf8_lossy(raw.get(..len).unwrap_or_default()).into_owned();
        Ok(Tap {
            fd,
            name,
            offload,
            udp_segmentation,
        })
    }

    /// Adopts a tap descriptor someone else opened and attached (pasta's `--fd`),
    /// naming it `name` (the interface to configure); it is made non-blocking. Its
    /// frames are taken as plain (`IFF_NO_PI`, no virtio-net header), as passt's
    /// pasta expects of such a descriptor: no offloads.
    pub fn from_fd(fd: OwnedFd, name: &str) -> io::Result<Tap> {
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
        Ok(Tap {
            fd,
            name: name.to_string(),
            offload: false,
            udp_segmentation: false,
        })
    }

    /// The interface name the kernel attached this descriptor to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether frames carry a virtio-net header: the namespace may then send us TCP
    /// super-frames with partial checksums, and [`Tap::write_offload`] works.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// What the engine may hand this device: TCP segments of up to
    /// [`TSO_MAX_PAYLOAD`] bytes with partial checksums when offloads are on, and
    /// runs of UDP datagrams of up to [`USO_MAX_PAYLOAD`] bytes where the kernel
    /// takes them; none otherwise.
    pub fn engine_offload(&self) -> passt_core::config::Offload {
        passt_core::config::Offload {
            tcp_segment_max: if self.offload { TSO_MAX_PAYLOAD } else { 0 },
            tcp_checksum: self.offload,
            direct_peek: false,
            udp_segment_max: if self.udp_segmentation {
                USO_MAX_PAYLOAD
            } else {
                0
            },
        }
    }

    /// Reads one frame into `buf` (behind its virtio-net header, which is decoded:
    /// see [`Received`]). A frame longer than `buf` is truncated by the kernel.
    /// Fails with [`io::ErrorKind::WouldBlock`] when no frame is queued.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<Received> {
        let n = rustix::io::read(&self.fd, &mut *buf)?;
        if !self.offload {
            return Ok(Received {
                start: 0,
                len: n,
                checksum_partial: false,
            });
        }
        let hdr = VnetHdr::parse(&buf[..n], ByteOrder::Native).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "frame shorter than its header")
        })?;
        Ok(Received {
            start: vnet::LEN,
            len: n - vnet::LEN,
            checksum_partial: hdr.checksum_partial(),
        })
    }

    /// Reads one frame into the start of `buf` and returns its length (the
    /// virtio-net header, if any, is dropped).
    pub fn read_frame(&self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.read(buf)?;
        buf.copy_within(r.start..r.start + r.len, 0);
        Ok(r.len)
    }

    /// Writes one complete Ethernet frame (no FCS) and returns the number of
    /// frame bytes accepted. Fails with [`io::ErrorKind::WouldBlock`] when the
    /// device cannot take it now, and with EIO while the interface is down.
    pub fn write_frame(&self, frame: &[u8]) -> io::Result<usize> {
        if !self.offload {
            return Ok(rustix::io::write(&self.fd, frame)?);
        }
        self.write_with(VnetHdr::default(), frame)
    }

    /// Writes one frame holding a TCP segment that the namespace's kernel finishes
    /// as `offload` says (segments it at the MSS, completes its checksum). Fails
    /// with [`io::ErrorKind::Unsupported`] on a device without offloads.
    pub fn write_offload(&self, frame: &[u8], offload: &TxOffload) -> io::Result<usize> {
        if !self.offload {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.write_with(VnetHdr::for_offload(frame.len(), offload), frame)
    }

    fn write_with(&self, hdr: VnetHdr, frame: &[u8]) -> io::Result<usize> {
        let hdr = hdr.to_bytes(ByteOrder::Native);
        let n = rustix::io::writev(&self.fd, &[IoSlice::new(&hdr), IoSlice::new(frame)])?;
        Ok(n.saturating_sub(vnet::LEN))
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
