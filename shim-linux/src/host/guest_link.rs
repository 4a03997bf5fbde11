//! [`GuestLink`]: where [`super::LinuxHost`] sends frames for the guest (pasta's tap,
//! passt's stream socket or vhost-user queues, and the wrappers that capture or
//! damage frames on the way).

use passt_core::io::TxOffload;
use std::io;
use std::os::fd::BorrowedFd;

/// Where frames for the guest go.
pub trait GuestLink {
    /// Send one Ethernet frame to the guest.
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()>;

    /// Send one frame holding a TCP segment (or a run of UDP datagrams) the link
    /// finishes as `offload` says
    /// ([`Op::TapSendOffload`](passt_core::io::Op::TapSendOffload)). Links without
    /// offloads (the default) refuse: the engine only asks when the shim set
    /// [`passt_core::config::Offload`].
    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        let _ = (frame, offload);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Peek up to `len` bytes from TCP socket `fd` (its peek offset set) into the
    /// link's own buffers, behind `headroom` bytes for the headers
    /// ([`Op::PeekToGuest`](passt_core::io::Op::PeekToGuest)); the bytes peeked. Links
    /// that do not lend buffers refuse (the engine only asks when
    /// [`passt_core::config::Offload::direct_peek`] is on).
    fn peek_to_guest(
        &mut self,
        fd: BorrowedFd<'_>,
        len: usize,
        headroom: usize,
    ) -> io::Result<usize> {
        let _ = (fd, len, headroom);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Send the frame the last [`GuestLink::peek_to_guest`] prepared, behind
    /// `headers`, finished as `offload` says
    /// ([`Op::CommitToGuest`](passt_core::io::Op::CommitToGuest)).
    fn commit_to_guest(&mut self, headers: &[u8], offload: &TxOffload) -> io::Result<()> {
        let _ = (headers, offload);
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl GuestLink for crate::tap::Tap {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.write_frame(frame).map(|_| ())
    }

    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        self.write_offload(frame, offload).map(|_| ())
    }
}
