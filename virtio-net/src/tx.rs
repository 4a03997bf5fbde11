//! The transmit queue (virtio 1.2 §5.1.6.2): each chain the driver makes available is
//! one frame behind a `virtio_net_hdr`, read out and returned to the driver at once.

use crate::chain::{self, ChainError};
use crate::features::Negotiated;
use crate::hdr::{ByteOrder, VnetHdr};
use crate::ring::{self, RingError};
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemory;

/// Shortest frame worth handing on: an Ethernet header.
const ETH_HLEN: usize = 14;

/// Why the transmit queue cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// A chain the driver made available is unusable: the front end is broken or
    /// hostile.
    Chain(ChainError),
    /// The ring itself is unusable.
    Ring(RingError),
}

impl From<ChainError> for TxError {
    fn from(e: ChainError) -> TxError {
        TxError::Chain(e)
    }
}

impl From<RingError> for TxError {
    fn from(e: RingError) -> TxError {
        TxError::Ring(e)
    }
}

impl core::fmt::Display for TxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TxError::Chain(e) => e.fmt(f),
            TxError::Ring(e) => e.fmt(f),
        }
    }
}

/// Where a frame landed in the caller's buffer, and what its header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxFrame {
    /// Offset of the Ethernet header (behind the virtio-net header).
    pub start: usize,
    /// Frame length.
    pub len: usize,
    /// The driver left the TCP/UDP checksum for the device (`NEEDS_CSUM`).
    pub checksum_partial: bool,
}

/// The guest's transmit queue, as the device empties it.
pub struct TxQueue {
    /// The queue (set up by the transport).
    pub queue: Queue,
    event_idx: bool,
    hdr_len: usize,
    /// Chains too short to hold a frame, dropped (the driver got them back).
    pub runts: u64,
}

impl TxQueue {
    /// The transmit side of `queue`, for a driver that accepted `features`.
    pub fn new(queue: Queue, features: Negotiated) -> TxQueue {
        TxQueue {
            queue,
            event_idx: features.event_idx(),
            hdr_len: features.header_len(),
            runts: 0,
        }
    }

    /// Read the next frame the driver made available into `buf` (header included;
    /// `buf` holds the largest frame plus the header) and give the chain back. `None`
    /// when there is none.
    pub fn next_frame<M: GuestMemory>(
        &mut self,
        mem: &M,
        buf: &mut [u8],
    ) -> Result<Option<TxFrame>, TxError> {
        loop {
            let Some(chain) = ring::pop(&mut self.queue, mem)? else {
                return Ok(None);
            };
            let head = chain.head_index();
            let len = chain::read_all(mem, chain, buf)?;
            self.queue
                .add_used(mem, head, 0)
                .map_err(|_| ChainError::Malformed { head })?;
            if len < self.hdr_len + ETH_HLEN {
                self.runts += 1;
                continue;
            }
            let hdr = VnetHdr::parse(&buf[..self.hdr_len], ByteOrder::Little).unwrap_or_default();
            return Ok(Some(TxFrame {
                start: self.hdr_len,
                len: len - self.hdr_len,
                checksum_partial: hdr.checksum_partial(),
            }));
        }
    }

    /// Whether the driver wants an interrupt for the chains returned since the last
    /// check (it frees its transmit buffers then).
    pub fn take_interrupt<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, RingError> {
        self.queue
            .needs_notification(mem)
            .map_err(|_| RingError::Access)
    }

    /// Stop kicks while we empty the queue.
    pub fn suppress_kicks<M: GuestMemory>(&mut self, mem: &M) -> Result<(), RingError> {
        ring::suppress_kicks(mem, &self.queue, self.event_idx)
    }

    /// Ask for a kick at the next frame; `true` if one arrived meanwhile (the caller
    /// goes on reading instead of waiting).
    pub fn ask_for_kick<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, RingError> {
        let next = self.queue.next_avail();
        ring::ask_for_kick(mem, &self.queue, next, self.event_idx)
    }
}
