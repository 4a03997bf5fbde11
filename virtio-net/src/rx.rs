//! The receive queue (virtio 1.2 §5.1.6.3): frames for the guest go into the buffers
//! its driver made available, behind a `virtio_net_hdr`; with `MRG_RXBUF` a frame may
//! take several buffers (`num_buffers`), published together.
//!
//! A frame is written in three steps, so that its bytes can come from anywhere — the
//! engine's buffer ([`RxQueue::deliver`]) or a socket peeked straight into guest
//! memory by the shim: [`RxQueue::reserve`] takes buffers, the frame is written into
//! them ([`RxQueue::write_at`], or the shim's own `recvmsg` over
//! [`RxQueue::reserved_slices`]), and [`RxQueue::commit`] writes the header and
//! publishes exactly the buffers the frame used, giving the rest back.

use crate::chain::{self, ChainError};
use crate::features::Negotiated;
use crate::hdr::{VnetHdr, LEN_MRG};
use crate::ring::{self, RingError};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemory, VolatileSlice};

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
    /// The available index before the reservation in progress, if one is.
    reserved_from: Option<u16>,
    /// Reserved chains: (head, room).
    chains: Vec<(u16, usize)>,
    /// Their buffers, in order: (guest address, length).
    buffers: Vec<(GuestAddress, u32)>,
    /// Used entries of the frame being published.
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
            reserved_from: None,
            chains: Vec::with_capacity(room),
            // A chain holds at most a queue's worth of descriptors; a frame rarely
            // needs more than a few chains: this room covers every normal case, and
            // more only grows it once.
            buffers: Vec::with_capacity(4 * room),
            used: Vec::with_capacity(room),
        }
    }

    /// Take receive buffers for a frame of up to `need` bytes, header included (one
    /// chain without `MRG_RXBUF`, else as many as it takes or the ring has); their
    /// room, which may be less than `need`. [`RxError::Full`] (nothing taken) when
    /// the ring has no buffer. A reservation not committed is given back by the next.
    pub fn reserve<M: GuestMemory>(&mut self, mem: &M, need: usize) -> Result<usize, RxError> {
        self.cancel();
        let start = self.queue.next_avail();
        self.reserved_from = Some(start);
        let mut room = 0;
        while room < need && (self.mergeable || self.chains.is_empty()) {
            let chain = match ring::pop(&mut self.queue, mem) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    self.cancel();
                    return Err(e.into());
                }
            };
            let head = chain.head_index();
            match chain::writable_buffers(mem, chain, &mut self.buffers) {
                Ok(n) => {
                    self.chains.push((head, n));
                    room += n;
                }
                Err(e) => {
                    self.cancel();
                    return Err(e.into());
                }
            }
        }
        if room < LEN_MRG {
            self.full_at = Some(self.queue.next_avail());
            self.cancel();
            return Err(RxError::Full);
        }
        Ok(room)
    }

    /// Give back the buffers of a reservation not committed.
    pub fn cancel(&mut self) {
        if let Some(start) = self.reserved_from.take() {
            self.queue.set_next_avail(start);
        }
        self.chains.clear();
        self.buffers.clear();
    }

    /// The reserved buffers from byte `skip` of the frame (header included), at most
    /// `len` bytes, as slices of guest memory: where a socket may be read straight
    /// into. Stops early at the end of the reservation.
    pub fn reserved_slices<'m, M: GuestMemory>(
        &self,
        mem: &'m M,
        mut skip: usize,
        mut len: usize,
        mut each: impl FnMut(VolatileSlice<'m, vm_memory::bitmap::BS<'m, M::Bitmap>>),
    ) -> Result<(), RxError> {
        for &(addr, size) in &self.buffers {
            let size = size as usize;
            if skip >= size {
                skip -= size;
                continue;
            }
            let n = (size - skip).min(len);
            let at = addr.checked_add(skip as u64).ok_or(RingError::Access)?;
            let slices = mem
                .get_slices(at, n, vm_memory::Permissions::Write)
                .map_err(|_| RingError::Access)?;
            for s in slices {
                each(s.map_err(|_| RingError::Access)?);
            }
            skip = 0;
            len -= n;
            if len == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Write `data` at byte `at` of the reserved frame (header included); how much
    /// fit.
    pub fn write_at<M: GuestMemory>(
        &self,
        mem: &M,
        at: usize,
        data: &[u8],
    ) -> Result<usize, RxError> {
        let mut done = 0;
        let mut skip = at;
        for &(addr, size) in &self.buffers {
            if done == data.len() {
                break;
            }
            let size = size as usize;
            if skip >= size {
                skip -= size;
                continue;
            }
            let n = (size - skip).min(data.len() - done);
            let to = addr.checked_add(skip as u64).ok_or(RingError::Access)?;
            mem.write_slice(&data[done..done + n], to)
                .map_err(|_| RingError::Access)?;
            done += n;
            skip = 0;
        }
        Ok(done)
    }

    /// Finish the reserved frame: `frame_len` bytes are in place behind the header
    /// room; write the header (`hdr`, with the number of buffers used) and publish
    /// those buffers, giving back any chain the frame did not reach.
    pub fn commit<M: GuestMemory>(
        &mut self,
        mem: &M,
        hdr: VnetHdr,
        frame_len: usize,
    ) -> Result<(), RxError> {
        let Some(start) = self.reserved_from else {
            return Err(RxError::Full);
        };
        let mut left = LEN_MRG + frame_len;
        self.used.clear();
        for &(head, room) in &self.chains {
            if left == 0 {
                break;
            }
            let n = room.min(left);
            self.used.push((head, n as u32));
            left -= n;
        }
        if left > 0 {
            self.cancel();
            return Err(if self.mergeable {
                RxError::Full
            } else {
                RxError::TooLong
            });
        }
        let buffers = u16::try_from(self.used.len()).unwrap_or(u16::MAX);
        self.write_at(mem, 0, &hdr.to_mrg_bytes(buffers))?;
        // Chains the frame did not reach go back: they were taken last.
        self.queue.set_next_avail(start.wrapping_add(buffers));
        self.reserved_from = None;
        self.chains.clear();
        self.buffers.clear();
        ring::publish_used(mem, &mut self.queue, &self.used)?;
        self.full_at = None;
        Ok(())
    }

    /// Put one frame for the guest — `hdr`, then `parts` in order — into its receive
    /// buffers and publish them. Nothing is used unless the whole frame fits.
    pub fn deliver<M: GuestMemory>(
        &mut self,
        mem: &M,
        hdr: VnetHdr,
        parts: &[&[u8]],
    ) -> Result<(), RxError> {
        let frame_len: usize = parts.iter().map(|p| p.len()).sum();
        let room = self.reserve(mem, LEN_MRG + frame_len)?;
        if room < LEN_MRG + frame_len {
            let why = if self.mergeable {
                self.full_at = Some(self.queue.next_avail());
                RxError::Full
            } else {
                RxError::TooLong
            };
            self.cancel();
            return Err(why);
        }
        let mut at = LEN_MRG;
        for part in parts {
            at += self.write_at(mem, at, part)?;
        }
        self.commit(mem, hdr, frame_len)
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
