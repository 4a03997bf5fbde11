//! What a net device needs from a split virtqueue (virtio 1.2 §2.7) beyond what
//! `virtio-queue`'s [`Queue`] gives: several used elements published with one index
//! store (a frame spanning several receive buffers must appear to the driver whole),
//! the interrupt decision for them, and asking for a kick once the driver's available
//! index passes a given point. Walking descriptor chains is `virtio-queue`'s.

use core::num::Wrapping;
use core::sync::atomic::{fence, Ordering};
use virtio_bindings::virtio_ring::{VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY};
use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemory};

/// `struct virtq_used_elem`: 4 bytes of id, 4 of length.
const USED_ELEM: u64 = 8;
/// Flags and index in front of each ring (avail and used).
const RING_HEADER: u64 = 4;

/// What the driver got wrong about a ring itself (virtio 1.2 §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// A ring outside guest memory.
    Access,
    /// The driver's available index ran more than the queue size ahead of ours
    /// (§2.7.13.3: it made more buffers available than the queue holds).
    AvailIndex,
    /// The queue was used before it was set up.
    NotReady,
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RingError::Access => "virtqueue ring outside guest memory",
            RingError::AvailIndex => "available index more than the queue size ahead",
            RingError::NotReady => "virtqueue used before it was set up",
        })
    }
}

/// The ring's structural failure in `virtio-queue`'s terms, in ours.
fn from_queue(e: virtio_queue::Error) -> RingError {
    match e {
        virtio_queue::Error::InvalidAvailRingIndex => RingError::AvailIndex,
        virtio_queue::Error::QueueNotReady => RingError::NotReady,
        _ => RingError::Access,
    }
}

/// The next available descriptor chain, if any (the walk itself is `virtio-queue`'s;
/// [`crate::chain`] checks what it finds).
pub fn pop<'m, M: GuestMemory>(
    q: &mut Queue,
    mem: &'m M,
) -> Result<Option<DescriptorChain<&'m M>>, RingError> {
    let mut avail = q.iter(mem).map_err(from_queue)?;
    Ok(avail.next())
}

fn at(base: u64, offset: u64) -> Result<GuestAddress, RingError> {
    GuestAddress(base)
        .checked_add(offset)
        .ok_or(RingError::Access)
}

/// `vring_need_event()` (virtio 1.2 §2.7.10): whether moving an index from `old` to
/// `new` crosses `event`.
pub fn need_event(event: u16, new: u16, old: u16) -> bool {
    (Wrapping(new) - Wrapping(event) - Wrapping(1)) < (Wrapping(new) - Wrapping(old))
}

/// Write `entries` (descriptor head, bytes written) into the used ring, then make
/// them visible with one store of the used index (release ordering, §2.7.8).
pub fn publish_used<M: GuestMemory>(
    mem: &M,
    q: &mut Queue,
    entries: &[(u16, u32)],
) -> Result<(), RingError> {
    let size = q.size();
    if size == 0 {
        return Err(RingError::NotReady);
    }
    let mut next = Wrapping(q.next_used());
    for &(head, len) in entries {
        let slot = u64::from(next.0 % size);
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write_slice(&elem, at(q.used_ring(), RING_HEADER + USED_ELEM * slot)?)
            .map_err(|_| RingError::Access)?;
        next += Wrapping(1);
    }
    mem.store(u16::to_le(next.0), at(q.used_ring(), 2)?, Ordering::Release)
        .map_err(|_| RingError::Access)?;
    q.set_next_used(next.0);
    Ok(())
}

/// Whether the driver wants an interrupt for what was published since the used index
/// was `old` (`used_event` with `EVENT_IDX`, else the `NO_INTERRUPT` flag).
pub fn wants_interrupt<M: GuestMemory>(
    mem: &M,
    q: &Queue,
    old: u16,
    event_idx: bool,
) -> Result<bool, RingError> {
    let new = q.next_used();
    if new == old {
        return Ok(false);
    }
    // The used index store must be visible before we read the driver's wish.
    fence(Ordering::SeqCst);
    if event_idx {
        // used_event follows the avail ring's entries.
        let addr = at(q.avail_ring(), RING_HEADER + 2 * u64::from(q.size()))?;
        let event: u16 = mem
            .load(addr, Ordering::Relaxed)
            .map_err(|_| RingError::Access)?;
        Ok(need_event(u16::from_le(event), new, old))
    } else {
        let flags: u16 = mem
            .load(at(q.avail_ring(), 0)?, Ordering::Relaxed)
            .map_err(|_| RingError::Access)?;
        Ok(u16::from_le(flags) & VRING_AVAIL_F_NO_INTERRUPT as u16 == 0)
    }
}

/// Ask the driver to notify us when it makes buffers available past index `seen`
/// (`avail_event` with `EVENT_IDX`, else clearing `NO_NOTIFY`), then look again:
/// `true` when some already are. Unlike [`QueueT::enable_notification`] this does not
/// assume we consumed everything up to the queue's next index: a receive queue puts
/// back the buffers of a frame that did not fit.
pub fn ask_for_kick<M: GuestMemory>(
    mem: &M,
    q: &Queue,
    seen: u16,
    event_idx: bool,
) -> Result<bool, RingError> {
    if event_idx {
        // avail_event follows the used ring's elements.
        let addr = at(q.used_ring(), RING_HEADER + USED_ELEM * u64::from(q.size()))?;
        mem.store(u16::to_le(seen), addr, Ordering::Relaxed)
            .map_err(|_| RingError::Access)?;
    } else {
        mem.store(0u16, at(q.used_ring(), 0)?, Ordering::Relaxed)
            .map_err(|_| RingError::Access)?;
    }
    fence(Ordering::SeqCst);
    let idx = q
        .avail_idx(mem, Ordering::Acquire)
        .map_err(|_| RingError::Access)?;
    Ok(idx.0 != seen)
}

/// Tell the driver not to notify us (no-op with `EVENT_IDX`, where a notification is
/// asked for explicitly each time).
pub fn suppress_kicks<M: GuestMemory>(
    mem: &M,
    q: &Queue,
    event_idx: bool,
) -> Result<(), RingError> {
    if event_idx {
        return Ok(());
    }
    mem.store(
        u16::to_le(VRING_USED_F_NO_NOTIFY as u16),
        at(q.used_ring(), 0)?,
        Ordering::Relaxed,
    )
    .map_err(|_| RingError::Access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_event_is_the_spec_formula() {
        // Interrupt once the index moves past the event (used_event + 1 reached).
        assert!(need_event(5, 6, 5));
        assert!(!need_event(5, 5, 4), "event not yet passed");
        assert!(need_event(5, 9, 3), "passed within a batch");
        assert!(!need_event(10, 9, 3));
        assert!(need_event(u16::MAX, 0, u16::MAX), "across the wrap");
    }
}
