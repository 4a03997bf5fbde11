//! passt as a vhost-user net back end (`--vhost-user`, passt-reference §7.3): qemu
//! shares the guest's memory and the virtio-net rings live in it, so frames cross
//! between the guest and our sockets with no socket copy in between.
//!
//! One front end at a time, in the single-threaded event loop: its control socket
//! and the two rings' kick descriptors sit in an epoll set of their own, whose
//! descriptor the loop polls like any guest link's. Control requests are handled by
//! the `vhost` crate's [`BackendReqHandler`] over our [`backend::Backend`]; frames
//! move through `passt-virtio-net`'s device.
//!
//! - Frames from the guest: a transmit kick makes the set readable; frames are read
//!   out until the ring is empty, and only then is the kick cleared (so a batch cut
//!   short comes back on the next turn).
//! - Frames to the guest: straight into receive buffers; the guest is interrupted
//!   once per loop turn ([`GuestSource::after_batch`]), as its `used_event` asks.
//!   With no receive buffers the send waits (up to [`RX_WAIT`]) for the guest to add
//!   some, as a full stream socket blocks; after one such timeout frames are dropped
//!   until the guest adds buffers again.

pub mod backend;

use crate::event_loop::{GuestSource, Received};
use crate::host::GuestLink;
use backend::Backend;
use passt_core::config::Offload;
use passt_core::io::TxOffload;
use passt_virtio_net::rx::RxError;
use passt_virtio_net::{VirtioNet, RX_QUEUE, TX_QUEUE};
use rustix::event::epoll;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use vhost::vhost_user::BackendReqHandler;
use vm_memory::GuestMemoryMmap;

/// How long a control request may take to arrive whole.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a frame for the guest waits for receive buffers.
pub const RX_WAIT: Duration = Duration::from_millis(100);

/// epoll data in the link's own set.
const CONTROL: u64 = 0;
/// Kick of ring `index` is `KICK + index`.
const KICK: u64 = 1;

/// A front end connected over vhost-user.
pub struct VhostUserLink {
    handler: BackendReqHandler<Mutex<Backend>>,
    backend: Arc<Mutex<Backend>>,
    /// The control socket and the kicks.
    epoll: OwnedFd,
    /// The receive ring's kick alone, for waiting on receive buffers.
    rx_wait: OwnedFd,
    /// Which kick descriptors are registered ([`Backend::fds_generation`]).
    registered: u64,
    /// This turn's readiness was read ([`VhostUserLink::poll`]).
    polled: bool,
    control_ready: bool,
    /// A transmit kick came; cleared once the ring is found empty.
    tx_kicked: bool,
    /// The kick descriptor was read this round: the next empty ring ends it.
    tx_kick_cleared: bool,
    /// A send timed out waiting for receive buffers; frames are dropped until the
    /// guest adds some.
    rx_stalled: bool,
    /// The control socket (a second descriptor of it: the handler owns the first).
    control: UnixStream,
    /// The front end was dropped (its reason logged then).
    failed: bool,
    /// The segment [`GuestLink::peek_to_guest`] prepared: its headroom and payload.
    peeked: Option<(usize, usize)>,
    /// How long a frame waits for receive buffers ([`RX_WAIT`]).
    rx_wait_for: Duration,
    /// The device ran after the last request.
    running: bool,
}

fn read_eventfd(f: &File) {
    let mut b = [0u8; 8];
    let _ = rustix::io::read(f, &mut b);
}

fn write_eventfd(f: &File) {
    let _ = rustix::io::write(f, &1u64.to_ne_bytes());
}

impl VhostUserLink {
    /// Serve the front end connected on `stream`.
    pub fn new(stream: OwnedFd) -> io::Result<VhostUserLink> {
        let stream = UnixStream::from(stream);
        stream.set_nonblocking(false)?;
        // Requests are read whole, blocking: a front end that stops mid-message is
        // dropped after this long instead of stalling the loop for good.
        stream.set_read_timeout(Some(CONTROL_TIMEOUT))?;
        let backend = Arc::new(Mutex::new(Backend::new()));
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            &stream,
            epoll::EventData::new_u64(CONTROL),
            epoll::EventFlags::IN,
        )?;
        let rx_wait = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let control = stream.try_clone()?;
        Ok(VhostUserLink {
            control,
            handler: BackendReqHandler::from_stream(stream, backend.clone()),
            backend,
            epoll,
            rx_wait,
            registered: 0,
            polled: false,
            control_ready: false,
            tx_kicked: false,
            tx_kick_cleared: false,
            rx_stalled: false,
            failed: false,
            peeked: None,
            rx_wait_for: RX_WAIT,
            running: false,
        })
    }

    /// Shorten the waits (a control request arriving whole, receive buffers
    /// appearing): for tests and fuzzing, where nobody is on the other side to wait
    /// for.
    pub fn set_waits(&mut self, control: Duration, rx_buffers: Duration) -> io::Result<()> {
        self.control
            .set_read_timeout(Some(control.max(Duration::from_micros(1))))?;
        self.rx_wait_for = rx_buffers;
        Ok(())
    }

    fn backend(&self) -> MutexGuard<'_, Backend> {
        // Single-threaded: never contended, never poisoned (nothing panics under it).
        self.backend.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drop the front end: say why once; the link then reads as gone.
    fn fail(&mut self, why: std::fmt::Arguments<'_>) {
        if !self.failed {
            crate::log_err!("vhost-user front end dropped: {why}");
            self.failed = true;
        }
    }

    /// Serve one control request (allocations inside the `vhost` crate are the
    /// control plane's, not the data path's).
    fn control(&mut self) {
        match self.early_vring_enable() {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => return self.fail(format_args!("control socket: {e}")),
        }
        let r = crate::alloc_count::control_plane(|| self.handler.handle_request());
        match r {
            Ok(()) => {
                self.refresh_kicks();
                let running = self.backend().device().is_some();
                if running && !self.running {
                    // Frames queued before the device started got no kick of their own.
                    self.tx_kicked = true;
                }
                self.running = running;
            }
            Err(vhost::vhost_user::Error::Disconnected)
            | Err(vhost::vhost_user::Error::PartialMessage) => {
                self.failed = true; // the front end left: nothing to report
            }
            Err(e) => self.fail(format_args!("request refused: {e}")),
        }
    }

    /// qemu 7.2 enables the rings (`SET_VRING_ENABLE`) when it resets the device,
    /// before it sends `SET_FEATURES`; the `vhost` crate's handler refuses that (it
    /// wants `PROTOCOL_FEATURES` accepted first) and the front end would be dropped.
    /// Until features are accepted, such a request is read here: the header (request,
    /// flags, size: native-endian `u32`s, vhost-user.rst "Header"), the ring state,
    /// and the ack when asked for. `true` when it was one.
    fn early_vring_enable(&mut self) -> io::Result<bool> {
        use std::io::{Read, Write};
        use vhost::vhost_user::message::{
            FrontendReq, VhostUserHeaderFlag, VhostUserU64, VhostUserVringState,
        };
        use vm_memory::ByteValued;
        const HEADER: usize = 12;
        const BODY: usize = std::mem::size_of::<VhostUserVringState>();
        if self.backend().features_accepted() {
            return Ok(false);
        }
        let mut hdr = [0u8; HEADER];
        let peeked = rustix::net::recv(&self.control, &mut hdr, rustix::net::RecvFlags::PEEK)?;
        let word = |i: usize| u32::from_ne_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
        let request = u32::from(FrontendReq::SET_VRING_ENABLE);
        if peeked.0 < HEADER || word(0) != request || word(8) != BODY as u32 {
            return Ok(false);
        }
        let mut msg = [0u8; HEADER + BODY];
        (&self.control).read_exact(&mut msg)?;
        let mut state = VhostUserVringState::default();
        state.as_mut_slice().copy_from_slice(&msg[HEADER..]);
        let (index, num) = (state.index, state.num);
        let (result, reply_ack) = {
            use vhost::vhost_user::VhostUserBackendReqHandlerMut;
            let mut b = self.backend();
            (b.set_vring_enable(index, num != 0), b.reply_ack())
        };
        if reply_ack && word(4) & VhostUserHeaderFlag::NEED_REPLY.bits() != 0 {
            let flags = VhostUserHeaderFlag::REPLY.bits() | 1; // version 1
            let mut reply = [0u8; HEADER + 8];
            for (i, w) in [request, flags, 8].into_iter().enumerate() {
                reply[4 * i..4 * i + 4].copy_from_slice(&w.to_ne_bytes());
            }
            let status = VhostUserU64::new(u64::from(result.is_err()));
            reply[HEADER..].copy_from_slice(status.as_slice());
            (&self.control).write_all(&reply)?;
        }
        Ok(true)
    }

    /// Register the kick descriptors the front end gave since last time.
    fn refresh_kicks(&mut self) {
        let b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
        if b.fds_generation == self.registered {
            return;
        }
        self.registered = b.fds_generation;
        // A descriptor number may have been reused by a new kick: delete, then add.
        for i in [TX_QUEUE, RX_QUEUE] {
            let Some(kick) = b.kick(i) else { continue };
            let _ = epoll::delete(&self.epoll, kick);
            let data = epoll::EventData::new_u64(KICK + i as u64);
            let _ = epoll::add(&self.epoll, kick, data, epoll::EventFlags::IN);
        }
        if let Some(kick) = b.kick(RX_QUEUE) {
            let _ = epoll::delete(&self.rx_wait, kick);
            let data = epoll::EventData::new_u64(KICK);
            let _ = epoll::add(&self.rx_wait, kick, data, epoll::EventFlags::IN);
        }
    }

    /// Read this turn's readiness of the control socket and the kicks.
    fn poll(&mut self) -> io::Result<()> {
        let mut events = [epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        }; 4];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let n = match epoll::wait(&self.epoll, &mut events[..], Some(&zero)) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => 0,
            Err(e) => return Err(e.into()),
        };
        for ev in &events[..n] {
            match ev.data.u64() {
                CONTROL => self.control_ready = true,
                k if k == KICK + TX_QUEUE as u64 => self.tx_kicked = true,
                k if k == KICK + RX_QUEUE as u64 => {
                    // Receive buffers were added: sends may go on.
                    if let Some(kick) = self.backend().kick(RX_QUEUE) {
                        read_eventfd(kick);
                    }
                    self.rx_stalled = false;
                }
                _ => {}
            }
        }
        self.polled = true;
        Ok(())
    }

    /// The next frame from the transmit ring, if the ring has one.
    fn transmit(&mut self, buf: &mut [u8]) -> Option<Received> {
        let mut b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
        let (device, mem) = b.device()?;
        match device.next_from_guest(mem, buf) {
            Ok(Some(f)) => Some(Received {
                start: f.start,
                len: f.len,
                checksum_partial: f.checksum_partial,
            }),
            Ok(None) => None,
            Err(e) => {
                drop(b);
                self.fail(format_args!("transmit ring: {e}"));
                None
            }
        }
    }

    /// Run `f` on the running device; when the receive ring has no room, let the
    /// guest see what it has and wait for its kicks, trying again at each, until
    /// [`RX_WAIT`] in all has passed: a guest that adds buffers a few at a time (as
    /// it takes frames) kicks long before a 64 KiB frame fits, and a frame dropped
    /// then would reach it after frames sent later. After a wait in vain, frames are
    /// refused at once (`ENOBUFS`) until the guest adds buffers.
    fn with_rx_room<R>(
        &mut self,
        mut f: impl FnMut(&mut VirtioNet, &GuestMemoryMmap) -> Result<R, RxError>,
    ) -> io::Result<R> {
        if self.failed {
            return Err(io::ErrorKind::NotConnected.into());
        }
        let mut deadline = None;
        loop {
            let mut b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
            let Some((device, mem)) = b.device() else {
                return Err(io::ErrorKind::NotConnected.into());
            };
            match f(device, mem) {
                Ok(r) => return Ok(r),
                Err(RxError::Full) if !self.rx_stalled => {
                    let now = Instant::now();
                    let deadline = *deadline.get_or_insert(now + self.rx_wait_for);
                    let Some(left) = deadline.checked_duration_since(now) else {
                        self.rx_stalled = true;
                        return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
                    };
                    let more = device.rx.ask_for_kick(mem).unwrap_or(false);
                    drop(b);
                    self.interrupt();
                    if !more {
                        self.wait_for_rx_buffers(left);
                    }
                }
                Err(RxError::Full) => return Err(io::Error::from_raw_os_error(libc::ENOBUFS)),
                Err(RxError::TooLong) => return Err(io::ErrorKind::InvalidInput.into()),
                Err(e) => {
                    drop(b);
                    self.fail(format_args!("receive ring: {e:?}"));
                    return Err(io::ErrorKind::NotConnected.into());
                }
            }
        }
    }

    /// Wait (up to `limit`) for the receive ring's kick.
    fn wait_for_rx_buffers(&mut self, limit: Duration) {
        let mut events = [epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        }; 1];
        let limit = rustix::time::Timespec {
            tv_sec: limit.as_secs() as i64,
            tv_nsec: i64::from(limit.subsec_nanos()),
        };
        if matches!(
            epoll::wait(&self.rx_wait, &mut events[..], Some(&limit)),
            Ok(1)
        ) {
            if let Some(kick) = self.backend().kick(RX_QUEUE) {
                read_eventfd(kick);
            }
        }
    }

    /// Interrupt the guest for each ring whose driver asked to hear of used buffers.
    fn interrupt(&mut self) {
        let mut b = self.backend.lock().unwrap_or_else(|p| p.into_inner());
        let Some((device, mem)) = b.device() else {
            return;
        };
        let rx = device.rx.take_interrupt(mem).unwrap_or(true);
        let tx = device.tx.take_interrupt(mem).unwrap_or(true);
        for (wanted, ring) in [(rx, RX_QUEUE), (tx, TX_QUEUE)] {
            if wanted {
                if let Some(call) = b.call(ring) {
                    write_eventfd(call);
                }
            }
        }
    }
}

impl GuestLink for VhostUserLink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.with_rx_room(|device, mem| device.send(mem, frame, None))
    }

    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        self.with_rx_room(|device, mem| device.send(mem, frame, Some(offload)))
    }

    fn peek_to_guest(
        &mut self,
        fd: BorrowedFd<'_>,
        len: usize,
        headroom: usize,
    ) -> io::Result<usize> {
        self.peeked = None;
        let mut peeked = Err(io::Error::from(io::ErrorKind::WouldBlock));
        self.with_rx_room(|device, mem| {
            let fits = device.reserve_segment(mem, headroom, len)?;
            let mut iov = crate::sys::GuestIov::new();
            let from = device.payload_offset(headroom);
            device.rx.reserved_slices(mem, from, fits, |s| {
                iov.push(s);
            })?;
            peeked = iov.peek(fd);
            if peeked.is_err() {
                device.rx.cancel();
            }
            Ok(())
        })?;
        let n = peeked?;
        self.peeked = Some((headroom, n));
        Ok(n)
    }

    fn commit_to_guest(&mut self, headers: &[u8], offload: &TxOffload) -> io::Result<()> {
        let Some((headroom, n)) = self.peeked.take() else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        if headers.len() != headroom {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        self.with_rx_room(|device, mem| device.commit_segment(mem, headers, n, offload))
    }
}

impl GuestSource for VhostUserLink {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.recv(buf)?;
        buf.copy_within(r.start..r.start + r.len, 0);
        Ok(r.len)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            if self.failed {
                return Ok(Received::default()); // gone
            }
            if self.control_ready {
                // One request, then look again: more may be queued, and it may have
                // brought new kick descriptors.
                self.control_ready = false;
                self.polled = false;
                self.control();
                continue;
            }
            if self.tx_kicked {
                if let Some(r) = self.transmit(buf) {
                    return Ok(r);
                }
                if self.failed {
                    continue;
                }
                if !self.tx_kick_cleared {
                    // Empty: clear the kick, then look once more (a frame queued
                    // between the two would otherwise wait for the next kick).
                    if let Some(kick) = self.backend().kick(TX_QUEUE) {
                        read_eventfd(kick);
                    }
                    self.tx_kick_cleared = true;
                    continue;
                }
                self.tx_kicked = false;
                self.tx_kick_cleared = false;
            }
            if self.polled {
                // Everything this turn brought is done.
                self.polled = false;
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.poll()?;
        }
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.epoll.as_fd())
    }

    fn after_batch(&mut self) {
        self.interrupt();
    }

    fn negotiated_offload(&self) -> Option<Offload> {
        let mut b = self.backend();
        b.device().map(|(d, _)| {
            let offload = d.features().engine_offload();
            Offload {
                // TCP payload goes straight from the socket into receive buffers
                // whenever the guest takes partial checksums.
                direct_peek: offload.tcp_checksum,
                ..offload
            }
        })
    }
}
