//! The receive queue (virtio 1.2 §5.1.6.3): frames for the guest go into the buffers
//! its driver made available, behind a `virtio_net_hdr`; with `MRG_RXBUF` a frame may
//! take several buffers (`num_buffers`), published together.

use crate::chain::{ChainError, ChainWriter};
use crate::features::Negotiated;
use crate::hdr::{VnetHdr, LEN_MRG};
use crate::ring::{self, RingError};
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemory;

/// Why a frame did not reach the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxError {
    /// Not enough receive buffers right now: nothing was used, the frame can be
    /// offered again once the driver adds some (see [`RxQueue::ask_for_kick`]).
    Full,
    /// Longer than one buffer, and the driver did not accept `MRG_RXBUF`: dropped.
    TooLong,
    /// The driver's buffers are unusable: the front end is broken or hostile.
    Chain(ChainError),
    /// The ring itself is unusable.
    Ring(RingError),
}

impl From<ChainError> for RxError {
    fn from(e: ChainError) -> RxError {
        RxError::Chain(e)
    }
}

impl From<RingError> for RxError {
    fn from(e: RingError) -> RxError {
        RxError::Ring(e)
    }
}

/// The guest's receive queue, as the device fills it.
pub struct RxQueue {
    /// The queue (set up by the transport).
    pub queue: Queue,
    event_idx: bool,
    mergeable: bool,
    /// The used index when the driver was last interrupted.
    signalled_at: u16,
    /// The available index seen when a frame did not fit.
    full_at: Option<u16>,
    /// The buffers one frame took: (head, bytes written). Room for a whole queue.
    used: Vec<(u16, u32)>,
}

impl RxQueue {
    /// The receive side of `queue`, for a driver that accepted `features`.
    pub fn new(queue: Queue, features: Negotiated) -> RxQueue {
        let room = usize::from(queue.max_size());
        RxQueue {
            signalled_at: queue.next_used(),
            queue,
            event_idx: features.event_idx(),
            mergeable: features.mergeable_rx(),
            full_at: None,
            used: Vec::with_capacity(room),
        }
    }

    /// Put one frame for the guest — `hdr`, then `parts` in order — into its receive
    /// buffers and publish them. Nothing is used unless the whole frame fits.
    pub fn deliver<M: GuestMemory>(
        &mut self,
        mem: &M,
        hdr: VnetHdr,
        parts: &[&[u8]],
    ) -> Result<(), RxError> {
        let start = self.queue.next_avail();
        self.used.clear();
        // Assume one buffer; the header is patched if the frame takes more.
        let first_hdr = hdr.to_mrg_bytes(1);
        let mut pending: [&[u8]; 8] = [&[]; 8];
        let n = parts.len().min(pending.len() - 1);
        pending[0] = &first_hdr;
        pending[1..=n].copy_from_slice(&parts[..n]);
        let mut todo = &mut pending[..=n];
        let mut first: Option<ChainWriter<'_, M>> = None;
        while todo.iter().any(|p| !p.is_empty()) {
            let Some(chain) = ring::pop(&mut self.queue, mem)? else {
                // Not enough buffers: give back what was taken (nothing published).
                self.full_at = Some(self.queue.next_avail());
                self.queue.set_next_avail(start);
                return Err(RxError::Full);
            };
            let mut w = ChainWriter::new(mem, chain);
            while let Some(part) = todo.first_mut() {
                let done = w.write(part)?;
                *part = &part[done..];
                if !part.is_empty() {
                    break; // this buffer is full
                }
                todo = &mut todo[1..];
            }
            self.used.push((w.head(), w.written()));
            let more = todo.iter().any(|p| !p.is_empty());
            if more && !self.mergeable {
                self.queue.set_next_avail(start);
                return Err(RxError::TooLong);
            }
            if first.is_none() {
                first = Some(w);
            }
        }
        if self.used.len() > 1 {
            let buffers = u16::try_from(self.used.len()).unwrap_or(u16::MAX);
            if let Some(w) = first.as_mut() {
                w.patch_start(&hdr.to_mrg_bytes(buffers)[..LEN_MRG])?;
            }
        }
        ring::publish_used(mem, &mut self.queue, &self.used)?;
        self.full_at = None;
        Ok(())
    }

    /// Whether the driver wants an interrupt for what was published since the last
    /// one; if so, it counts as given.
    pub fn take_interrupt<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, RingError> {
        let wanted = ring::wants_interrupt(mem, &self.queue, self.signalled_at, self.event_idx)?;
        if wanted {
            self.signalled_at = self.queue.next_used();
        }
        Ok(wanted)
    }

    /// After [`RxError::Full`]: ask the driver to kick us when it adds buffers, and
    /// say whether it already has (the frame can then be offered again at once).
    pub fn ask_for_kick<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, RingError> {
        let seen = self.full_at.unwrap_or_else(|| self.queue.next_avail());
        ring::ask_for_kick(mem, &self.queue, seen, self.event_idx)
    }

    /// Receive buffers are only interesting after [`RxError::Full`]: until then the
    /// driver need not kick us when it adds some.
    pub fn suppress_kicks<M: GuestMemory>(&mut self, mem: &M) -> Result<(), RingError> {
        ring::suppress_kicks(mem, &self.queue, self.event_idx)
    }
}
