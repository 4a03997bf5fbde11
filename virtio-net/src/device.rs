//! The virtio-net device: a receive and a transmit queue in guest memory on one side,
//! a passt-core engine on the other. Transport-agnostic: the vhost-user back end
//! (shim-linux) drives it, and so can a Rust VMM that owns the queues and the guest
//! memory itself ([`DeviceHost`]).

use crate::features::Negotiated;
use crate::hdr::VnetHdr;
use crate::rx::{RxError, RxQueue};
use crate::tx::{TxError, TxFrame, TxQueue};
use passt_core::io::{Host, HostError, Op, OpResult, TxOffload};
use virtio_queue::Queue;
use vm_memory::GuestMemory;

/// Counters of what crossed the device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// Frames put into the guest's receive queue.
    pub to_guest: u64,
    /// Frames taken from the guest's transmit queue.
    pub from_guest: u64,
    /// Frames for the guest that found too few receive buffers.
    pub rx_full: u64,
    /// Frames for the guest longer than one receive buffer without `MRG_RXBUF`.
    pub rx_too_long: u64,
}

/// One virtio-net device: queue 0 receives, queue 1 transmits (virtio 1.2 §5.1.2).
pub struct VirtioNet {
    /// The receive queue (frames to the guest).
    pub rx: RxQueue,
    /// The transmit queue (frames from the guest).
    pub tx: TxQueue,
    features: Negotiated,
    /// Emptying the transmit queue, its kicks off.
    tx_draining: bool,
    /// What crossed it.
    pub stats: DeviceStats,
}

impl VirtioNet {
    /// A device over the set-up queues `rx` and `tx`, for a driver that accepted
    /// `features`.
    pub fn new(rx: Queue, tx: Queue, features: Negotiated) -> VirtioNet {
        VirtioNet {
            rx: RxQueue::new(rx, features),
            tx: TxQueue::new(tx, features),
            features,
            tx_draining: false,
            stats: DeviceStats::default(),
        }
    }

    /// What the driver accepted.
    pub fn features(&self) -> Negotiated {
        self.features
    }

    /// Give one frame from the engine to the guest: plain, or a TCP segment the guest
    /// finishes as `offload` says (only when [`Negotiated::engine_offload`] allowed
    /// it). [`RxError::Full`] leaves the queue as it was.
    pub fn send<M: GuestMemory>(
        &mut self,
        mem: &M,
        frame: &[u8],
        offload: Option<&TxOffload>,
    ) -> Result<(), RxError> {
        let hdr = offload.map_or_else(VnetHdr::default, |o| VnetHdr::for_offload(frame.len(), o));
        match self.rx.deliver(mem, hdr, &[frame]) {
            Ok(()) => {
                self.stats.to_guest += 1;
                Ok(())
            }
            Err(RxError::Full) => {
                self.stats.rx_full += 1;
                Err(RxError::Full)
            }
            Err(RxError::TooLong) => {
                self.stats.rx_too_long += 1;
                Err(RxError::TooLong)
            }
            Err(e) => Err(e),
        }
    }

    /// Take receive buffers for a TCP segment whose payload (up to `len` bytes) is to
    /// be written into them by someone else, behind `headroom` bytes for its headers;
    /// how much payload fits (maybe less than `len`, never 0: no room is
    /// [`RxError::Full`]). Write it through [`crate::rx::RxQueue::reserved_slices`]
    /// from [`VirtioNet::payload_offset`] on, then [`VirtioNet::commit_segment`].
    pub fn reserve_segment<M: GuestMemory>(
        &mut self,
        mem: &M,
        headroom: usize,
        len: usize,
    ) -> Result<usize, RxError> {
        let front = self.payload_offset(headroom);
        let room = self.rx.reserve(mem, front + len)?;
        if room <= front {
            self.rx.cancel();
            self.stats.rx_full += 1;
            return Err(RxError::Full);
        }
        Ok((room - front).min(len))
    }

    /// Where, in a reserved frame, the payload behind `headroom` bytes of headers
    /// starts (the virtio-net header comes first).
    pub fn payload_offset(&self, headroom: usize) -> usize {
        self.features.header_len() + headroom
    }

    /// Finish the segment reserved by [`VirtioNet::reserve_segment`]: `headers` in
    /// front of the `payload_len` bytes written behind them, finished as `offload`
    /// says; published.
    pub fn commit_segment<M: GuestMemory>(
        &mut self,
        mem: &M,
        headers: &[u8],
        payload_len: usize,
        offload: &TxOffload,
    ) -> Result<(), RxError> {
        let frame_len = headers.len() + payload_len;
        self.rx.write_at(mem, self.features.header_len(), headers)?;
        self.rx
            .commit(mem, VnetHdr::for_offload(frame_len, offload), frame_len)?;
        self.stats.to_guest += 1;
        Ok(())
    }

    /// The next frame the guest queued for transmission, read into `buf` (which holds
    /// the largest frame and its header), its chain given back; `None` once the queue
    /// is empty, when kicks are asked for again. Kicks are off in between: a caller
    /// that stops before `None` must come back without one.
    pub fn next_from_guest<M: GuestMemory>(
        &mut self,
        mem: &M,
        buf: &mut [u8],
    ) -> Result<Option<TxFrame>, TxError> {
        loop {
            if !self.tx_draining {
                self.tx.suppress_kicks(mem)?;
                self.tx_draining = true;
            }
            if let Some(f) = self.tx.next_frame(mem, buf)? {
                self.stats.from_guest += 1;
                return Ok(Some(f));
            }
            self.tx_draining = false;
            // Empty: ask for a kick, unless a frame slipped in meanwhile.
            if !self.tx.ask_for_kick(mem)? {
                return Ok(None);
            }
        }
    }
}

/// A [`Host`] whose guest link is a [`VirtioNet`] in guest memory `mem`: frames for
/// the guest go into the receive queue, every other operation to `inner`. This is how
/// a Rust VMM runs the engine in-process, without vhost-user: it feeds the engine the
/// frames [`VirtioNet::next_from_guest`] yields and passes this as the host.
pub struct DeviceHost<'a, M: GuestMemory, H: Host> {
    /// The device.
    pub device: &'a mut VirtioNet,
    /// The guest's memory.
    pub mem: &'a M,
    /// Sockets and everything else.
    pub inner: &'a mut H,
}

impl<M: GuestMemory, H: Host> Host for DeviceHost<'_, M, H> {
    fn exec(&mut self, op: Op<'_>) -> OpResult {
        let sent = match op {
            Op::TapSend(frame) => self.device.send(self.mem, frame, None),
            Op::TapSendOffload { frame, offload } => {
                self.device.send(self.mem, frame, Some(&offload))
            }
            other => return self.inner.exec(other),
        };
        match sent {
            Ok(()) => OpResult::Done,
            Err(RxError::Full) => OpResult::Err(HostError::WouldBlock),
            Err(_) => OpResult::Err(HostError::Other(0)),
        }
    }
}
