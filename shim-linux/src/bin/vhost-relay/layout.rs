//! Where the relay's "guest" memory puts everything, laid out as qemu does for a VM with
//! more than 3 GiB: two regions of one memfd, the rings and receive buffers low, the
//! transmit slots above a hole at 4 GiB.

use super::{ctx, Result};
use passt_virtio_net::hdr::LEN_MRG as HDR;
use passt_virtio_net::MAX_FRAME;
use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
use std::fs::File;
use vm_memory::{FileOffset, GuestAddress, GuestMemoryMmap};

/// Guest physical address of the second memory region (above a hole, as a VM with
/// more than 3 GiB has its RAM).
pub(super) const HIGH_GPA: u64 = 1 << 32;
/// Region sizes are multiples of this (qemu's RAM blocks are huge-page aligned).
pub(super) const REGION_ALIGN: u64 = 2 << 20;
/// Where the rings start in region 0 (page 0 left alone, as a guest would).
pub(super) const RINGS_BASE: u64 = 0x1_0000;
/// The largest queue a virtio device may have in qemu (`VIRTQUEUE_MAX_SIZE`).
pub(super) const MAX_QUEUE_SIZE: u16 = 1024;
/// Where the receive buffers start in region 0, after both rings (1024 entries each
/// take under 40 KiB).
pub(super) const RX_BUFS_BASE: u64 = 1 << 20;
/// A transmit slot: the 12-byte header and the largest frame, in whole pages.
pub(super) const TX_SLOT: u64 = ((HDR + MAX_FRAME) as u64 + 4095) & !4095;
/// The smallest receive buffer that holds a whole frame behind its header (when the
/// back end does not take `MRG_RXBUF`).
pub(super) const RX_WHOLE_FRAME: u32 = (HDR + MAX_FRAME) as u32;

/// Where everything lives in guest memory.
pub(super) struct Layout {
    /// Size of region 0 (GPA 0, file offset 0): rings and receive buffers.
    pub(super) low: u64,
    /// Size of region 1 (GPA 4 GiB, file offset `low`): transmit slots.
    pub(super) high: u64,
    /// Receive buffer size.
    pub(super) rx_buffer: u32,
}

impl Layout {
    pub(super) fn new(queue_size: u16, rx_buffer: u32) -> Layout {
        let round = |n: u64| n.div_ceil(REGION_ALIGN) * REGION_ALIGN;
        let n = u64::from(queue_size);
        Layout {
            low: round(RX_BUFS_BASE + n * u64::from(rx_buffer)),
            high: round(n * TX_SLOT),
            rx_buffer,
        }
    }

    /// The guest address of receive buffer `i`.
    pub(super) fn rx_buffer(&self, i: u16) -> u64 {
        RX_BUFS_BASE + u64::from(i) * u64::from(self.rx_buffer)
    }

    /// The guest address of transmit slot `i`.
    pub(super) fn tx_slot(i: u16) -> u64 {
        HIGH_GPA + u64::from(i) * TX_SLOT
    }

    /// Guest memory as qemu makes it: a memfd, mapped shared in two regions.
    pub(super) fn memory(&self) -> Result<GuestMemoryMmap> {
        let fd = memfd_create("passt-vhost-relay-guest", MemfdFlags::CLOEXEC)
            .map_err(ctx("memfd_create"))?;
        ftruncate(&fd, self.low + self.high).map_err(ctx("ftruncate"))?;
        let file = File::from(fd);
        let low = FileOffset::new(file.try_clone().map_err(ctx("dup"))?, 0);
        let high = FileOffset::new(file, self.low);
        GuestMemoryMmap::<()>::from_ranges_with_files([
            (GuestAddress(0), self.low as usize, Some(low)),
            (GuestAddress(HIGH_GPA), self.high as usize, Some(high)),
        ])
        .map_err(ctx("guest memory"))
    }
}
