//! The driver's side of a split virtqueue (virtio 1.2 §2.7), as a guest kernel keeps
//! it: descriptor table, available and used rings in guest memory, free descriptors,
//! kick suppression. For front-end harnesses and tests that play the guest: the
//! vhost-user relay in the lab, the in-process example, the fuzz targets.

use crate::ring::need_event;
use core::num::Wrapping;
use core::sync::atomic::{fence, Ordering};
use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE, VRING_USED_F_NO_NOTIFY};
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemory};

/// A driver-side failure (guest memory the driver itself laid out is unusable, or it
/// ran out of descriptors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverError(pub String);

impl core::fmt::Display for DriverError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DriverError {}

fn err(e: impl core::fmt::Display) -> DriverError {
    DriverError(e.to_string())
}

/// Where a queue's three parts live in guest memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLayout {
    /// Entries.
    pub size: u16,
    /// Descriptor table (16 bytes per entry).
    pub desc: u64,
    /// Available ring (flags, idx, ring, used_event).
    pub avail: u64,
    /// Used ring (flags, idx, ring, avail_event), page-aligned.
    pub used: u64,
}

impl QueueLayout {
    /// The layout of a `size`-entry queue starting at `base`; its end.
    pub fn at(base: u64, size: u16) -> (QueueLayout, u64) {
        let desc = base;
        let avail = desc + 16 * u64::from(size);
        let used = (avail + 6 + 2 * u64::from(size) + 4095) & !4095;
        let end = used + 6 + 8 * u64::from(size);
        (
            QueueLayout {
                size,
                desc,
                avail,
                used,
            },
            end,
        )
    }

    /// The device's view of this queue, ready (what a VMM's transport would set up
    /// from the driver's registers).
    pub fn device_queue(&self, max_size: u16, event_idx: bool) -> Result<Queue, DriverError> {
        let mut q = Queue::new(max_size).map_err(err)?;
        q.set_size(self.size);
        let split = |a: u64| (Some(a as u32), Some((a >> 32) as u32));
        let (lo, hi) = split(self.desc);
        q.set_desc_table_address(lo, hi);
        let (lo, hi) = split(self.avail);
        q.set_avail_ring_address(lo, hi);
        let (lo, hi) = split(self.used);
        q.set_used_ring_address(lo, hi);
        q.set_event_idx(event_idx);
        q.set_ready(true);
        Ok(q)
    }
}

/// One split virtqueue, driver side.
pub struct DriverQueue {
    /// Where it lives.
    pub layout: QueueLayout,
    /// Whether `used_event`/`avail_event` are in use.
    pub event_idx: bool,
    free: Vec<u16>,
    /// The descriptors of the chain headed by each index (empty when it heads none);
    /// their capacity is kept, so a running queue allocates nothing.
    chains: Vec<Vec<u16>>,
    avail_idx: Wrapping<u16>,
    last_used: Wrapping<u16>,
    kicked_at: Wrapping<u16>,
}

impl DriverQueue {
    /// Lay the queue out at `base` (zeroed), all descriptors free.
    pub fn new<M: GuestMemory>(
        mem: &M,
        base: u64,
        size: u16,
        event_idx: bool,
    ) -> Result<DriverQueue, DriverError> {
        let (layout, end) = QueueLayout::at(base, size);
        mem.write_slice(&vec![0u8; (end - base) as usize], GuestAddress(base))
            .map_err(err)?;
        Ok(DriverQueue {
            layout,
            event_idx,
            free: (0..size).rev().collect(),
            chains: vec![Vec::new(); usize::from(size)],
            avail_idx: Wrapping(0),
            last_used: Wrapping(0),
            kicked_at: Wrapping(0),
        })
    }

    /// Write descriptor `index` as given, well-formed or not.
    pub fn write_desc<M: GuestMemory>(
        &self,
        mem: &M,
        index: u16,
        addr: u64,
        len: u32,
        flags: u16,
        next: u16,
    ) -> Result<(), DriverError> {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        let at = self.layout.desc + 16 * u64::from(index);
        mem.write_slice(&d, GuestAddress(at)).map_err(err)
    }

    /// Chain free descriptors over `segments` (guest address, length, device-writable)
    /// and make it available (visible after [`DriverQueue::publish`]); its head.
    pub fn add<M: GuestMemory>(
        &mut self,
        mem: &M,
        segments: &[(u64, u32, bool)],
    ) -> Result<u16, DriverError> {
        if segments.is_empty() || segments.len() > self.free.len() {
            return Err(DriverError("no free descriptors".into()));
        }
        let head = self
            .free
            .pop()
            .ok_or(DriverError("no free descriptors".into()))?;
        let mut ids = core::mem::take(&mut self.chains[usize::from(head)]);
        ids.clear();
        ids.push(head);
        ids.extend((1..segments.len()).filter_map(|_| self.free.pop()));
        let written = self.write_chain(mem, &ids, segments);
        self.chains[usize::from(head)] = ids;
        written?;
        self.push_head(mem, head)?;
        Ok(head)
    }

    fn write_chain<M: GuestMemory>(
        &self,
        mem: &M,
        ids: &[u16],
        segments: &[(u64, u32, bool)],
    ) -> Result<(), DriverError> {
        for (i, &(addr, len, writable)) in segments.iter().enumerate() {
            let mut flags = if writable {
                VRING_DESC_F_WRITE as u16
            } else {
                0
            };
            let next = match ids.get(i + 1) {
                Some(&n) => {
                    flags |= VRING_DESC_F_NEXT as u16;
                    n
                }
                None => 0,
            };
            self.write_desc(mem, ids[i], addr, len, flags, next)?;
        }
        Ok(())
    }

    /// Put `head` in the available ring as is (for hand-made, possibly malformed
    /// chains); visible after [`DriverQueue::publish`].
    pub fn push_head<M: GuestMemory>(&mut self, mem: &M, head: u16) -> Result<(), DriverError> {
        let slot = u64::from(self.avail_idx.0 % self.layout.size);
        let at = self.layout.avail + 4 + 2 * slot;
        mem.write_obj(head.to_le(), GuestAddress(at)).map_err(err)?;
        self.avail_idx += Wrapping(1);
        Ok(())
    }

    /// Make every added chain visible to the device (available index, release).
    pub fn publish<M: GuestMemory>(&self, mem: &M) -> Result<(), DriverError> {
        self.store_avail_idx(mem, self.avail_idx.0)
    }

    /// Store any available index (for tests of a hostile driver).
    pub fn store_avail_idx<M: GuestMemory>(&self, mem: &M, idx: u16) -> Result<(), DriverError> {
        mem.store(
            idx.to_le(),
            GuestAddress(self.layout.avail + 2),
            Ordering::Release,
        )
        .map_err(err)
    }

    /// Whether the device wants a kick for what was published since the last one.
    pub fn needs_kick<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, DriverError> {
        fence(Ordering::SeqCst);
        let (new, old) = (self.avail_idx, self.kicked_at);
        self.kicked_at = new;
        if self.event_idx {
            let at = self.layout.used + 4 + 8 * u64::from(self.layout.size);
            let event: u16 = mem.load(GuestAddress(at), Ordering::Relaxed).map_err(err)?;
            Ok(need_event(u16::from_le(event), new.0, old.0))
        } else {
            let flags: u16 = mem
                .load(GuestAddress(self.layout.used), Ordering::Relaxed)
                .map_err(err)?;
            Ok(u16::from_le(flags) & VRING_USED_F_NO_NOTIFY as u16 == 0)
        }
    }

    /// The next used element (head, bytes written), freeing its descriptors.
    /// Interrupts stay as they were: see [`DriverQueue::enable_interrupts`].
    pub fn pop_used<M: GuestMemory>(&mut self, mem: &M) -> Result<Option<(u16, u32)>, DriverError> {
        let idx: u16 = mem
            .load(GuestAddress(self.layout.used + 2), Ordering::Acquire)
            .map_err(err)?;
        if Wrapping(u16::from_le(idx)) == self.last_used {
            return Ok(None);
        }
        let slot = u64::from(self.last_used.0 % self.layout.size);
        let mut elem = [0u8; 8];
        mem.read_slice(&mut elem, GuestAddress(self.layout.used + 4 + 8 * slot))
            .map_err(err)?;
        self.last_used += Wrapping(1);
        let head = u32::from_le_bytes([elem[0], elem[1], elem[2], elem[3]]) as u16;
        let len = u32::from_le_bytes([elem[4], elem[5], elem[6], elem[7]]);
        if let Some(ids) = self.chains.get_mut(usize::from(head)) {
            self.free.append(ids);
        }
        Ok(Some((head, len)))
    }

    /// Ask for no interrupts (`VRING_AVAIL_F_NO_INTERRUPT`; with `EVENT_IDX` a
    /// `used_event` already passed does the same). Linux's `virtqueue_disable_cb()`.
    pub fn disable_interrupts<M: GuestMemory>(&mut self, mem: &M) -> Result<(), DriverError> {
        if self.event_idx {
            return Ok(());
        }
        let no_interrupt = virtio_bindings::virtio_ring::VRING_AVAIL_F_NO_INTERRUPT as u16;
        mem.store(
            no_interrupt.to_le(),
            GuestAddress(self.layout.avail),
            Ordering::Relaxed,
        )
        .map_err(err)
    }

    /// Ask for an interrupt when the device next uses a buffer (`used_event` with
    /// `EVENT_IDX`, else clearing `VRING_AVAIL_F_NO_INTERRUPT`), then look again:
    /// `true` when used buffers are already waiting (the caller pops them instead of
    /// waiting for an interrupt that may never come). Linux's
    /// `virtqueue_enable_cb()`.
    pub fn enable_interrupts<M: GuestMemory>(&mut self, mem: &M) -> Result<bool, DriverError> {
        if self.event_idx {
            let at = self.layout.avail + 4 + 2 * u64::from(self.layout.size);
            mem.store(
                self.last_used.0.to_le(),
                GuestAddress(at),
                Ordering::Relaxed,
            )
            .map_err(err)?;
        } else {
            mem.store(0u16, GuestAddress(self.layout.avail), Ordering::Relaxed)
                .map_err(err)?;
        }
        // The wish must be visible before we look at the used index, or a buffer
        // used in between would go unannounced.
        fence(Ordering::SeqCst);
        self.has_used(mem)
    }

    /// Whether the device used buffers we have not popped yet.
    pub fn has_used<M: GuestMemory>(&self, mem: &M) -> Result<bool, DriverError> {
        let idx: u16 = mem
            .load(GuestAddress(self.layout.used + 2), Ordering::Acquire)
            .map_err(err)?;
        Ok(Wrapping(u16::from_le(idx)) != self.last_used)
    }

    /// Descriptors not in any chain.
    pub fn free_descriptors(&self) -> usize {
        self.free.len()
    }

    /// Take `n` descriptors out of the free list for a hand-made chain (returned to
    /// the list when the device uses its head, the first).
    pub fn reserve(&mut self, n: usize) -> Vec<u16> {
        let ids: Vec<u16> = (0..n).filter_map(|_| self.free.pop()).collect();
        if let Some(&head) = ids.first() {
            self.chains[usize::from(head)] = ids.clone();
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring;
    use vm_memory::GuestMemoryMmap;

    fn used_event(mem: &GuestMemoryMmap, q: &DriverQueue) -> u16 {
        let at = q.layout.avail + 4 + 2 * u64::from(q.layout.size);
        // Rings are little-endian whatever the CPU (virtio 1.x §2.4).
        u16::from_le(mem.read_obj(GuestAddress(at)).unwrap())
    }

    #[test]
    fn interrupts_are_asked_for_at_the_next_used_buffer_and_waiting_ones_reported() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap();
        let mut q = DriverQueue::new(&mem, 0x1000, 8, true).unwrap();
        let mut device = q.layout.device_queue(8, true).unwrap();
        let a = q.add(&mem, &[(0x8000, 64, true)]).unwrap();
        let b = q
            .add(&mem, &[(0x9000, 64, true), (0xa000, 64, true)])
            .unwrap();
        q.publish(&mem).unwrap();
        assert_eq!(q.free_descriptors(), 5);
        assert!(!q.enable_interrupts(&mem).unwrap(), "nothing used yet");

        ring::publish_used(&mem, &mut device, &[(a, 10), (b, 20)]).unwrap();
        assert!(q.enable_interrupts(&mem).unwrap(), "two used buffers wait");
        assert_eq!(q.pop_used(&mem).unwrap(), Some((a, 10)));
        assert_eq!(q.pop_used(&mem).unwrap(), Some((b, 20)));
        assert_eq!(q.pop_used(&mem).unwrap(), None);
        assert_eq!(q.free_descriptors(), 8, "both chains' descriptors are back");
        assert!(!q.enable_interrupts(&mem).unwrap());
        assert_eq!(used_event(&mem, &q), 2, "interrupt at the next one");
    }
}
