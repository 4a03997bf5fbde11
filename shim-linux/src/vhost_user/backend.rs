//! The vhost-user requests a net back end serves (the vhost-user protocol,
//! qemu docs/interop/vhost-user.rst): the device is this trait implementation, the
//! transport (message framing, descriptor passing, replies) is the `vhost` crate's.
//!
//! Guest memory comes as memfd regions (`SET_MEM_TABLE`), mapped shared by
//! `vm-memory`; the rings' addresses come in the front end's own address space and
//! are translated through that table. Once both rings have memory, addresses, a kick
//! descriptor and (with `PROTOCOL_FEATURES`) are enabled, the [`VirtioNet`] device
//! runs; `GET_VRING_BASE` stops it and reports where each ring stopped.

use passt_virtio_net::{features, Negotiated, VirtioNet, MAX_QUEUE_SIZE, RX_QUEUE, TX_QUEUE};
use std::fs::File;
use vhost::vhost_user::message::{
    VhostTransferStateDirection, VhostTransferStatePhase, VhostUserConfigFlags, VhostUserInflight,
    VhostUserLog, VhostUserMemoryRegion, VhostUserShMemConfig, VhostUserSharedMsg,
    VhostUserSingleMemoryRegion, VhostUserVringAddrFlags, VhostUserVringState,
};
use vhost::vhost_user::{
    Backend as BackendChannel, Error, GpuBackend, Result, VhostUserBackendReqHandlerMut,
    VhostUserProtocolFeatures, VhostUserVirtioFeatures,
};
use vhost::VhostUserMemoryRegionBase;
use virtio_queue::{Queue, QueueT};
use vm_memory::{FileOffset, GuestAddress, GuestMemoryMmap};

/// Most memory regions in a table (vhost-user's baseline, as qemu sends).
const MAX_REGIONS: usize = 8;

/// What the front end told us about one ring.
#[derive(Debug, Default)]
struct Ring {
    size: u16,
    /// Descriptor table, available and used ring: the front end's virtual addresses.
    desc: u64,
    avail: u64,
    used: u64,
    /// Where processing starts (`SET_VRING_BASE`), or stopped.
    base: u16,
    kick: Option<File>,
    call: Option<File>,
    enabled: bool,
}

/// Guest memory, and how the front end's addresses map onto it.
struct Memory {
    guest: GuestMemoryMmap,
    /// (front-end virtual address, guest physical address, size) per region.
    regions: Vec<(u64, u64, u64)>,
}

impl Memory {
    /// The guest physical address of front-end virtual address `va`.
    fn gpa(&self, va: u64) -> Option<u64> {
        self.regions.iter().find_map(|&(user, gpa, size)| {
            let off = va.checked_sub(user)?;
            (off < size).then(|| gpa + off)
        })
    }
}

/// A vhost-user net back end's state, serving one front end.
pub struct Backend {
    owned: bool,
    /// Virtio features the front end accepted (transport bits included).
    acked: Option<u64>,
    protocol: VhostUserProtocolFeatures,
    memory: Option<Memory>,
    rings: [Ring; 2],
    device: Option<VirtioNet>,
    /// Bumped by every `SET_VRING_KICK` and `SET_VRING_CALL`: the link refreshes its
    /// descriptors.
    pub(super) fds_generation: u64,
}

fn invalid(why: &'static str) -> Error {
    Error::InvalidOperation(why)
}

impl Backend {
    /// A back end waiting for its front end's first request.
    pub fn new() -> Backend {
        Backend {
            owned: false,
            acked: None,
            protocol: VhostUserProtocolFeatures::empty(),
            memory: None,
            rings: Default::default(),
            device: None,
            fds_generation: 0,
        }
    }

    /// The running device and the memory it lives in, if started.
    pub fn device(&mut self) -> Option<(&mut VirtioNet, &GuestMemoryMmap)> {
        match (&mut self.device, &self.memory) {
            (Some(d), Some(m)) => Some((d, &m.guest)),
            _ => None,
        }
    }

    /// The kick descriptor of ring `index`, if it has one.
    pub fn kick(&self, index: usize) -> Option<&File> {
        self.rings.get(index)?.kick.as_ref()
    }

    /// The interrupt ("call") descriptor of ring `index`, if it has one.
    pub fn call(&self, index: usize) -> Option<&File> {
        self.rings.get(index)?.call.as_ref()
    }

    fn ring(&mut self, index: u32) -> Result<&mut Ring> {
        self.rings
            .get_mut(index as usize)
            .ok_or(invalid("no such virtqueue"))
    }

    /// Rings stop where the device got to; it starts again from there.
    fn stop(&mut self) {
        if let Some(d) = self.device.take() {
            self.rings[RX_QUEUE].base = d.rx.queue.next_avail();
            self.rings[TX_QUEUE].base = d.tx.queue.next_avail();
        }
    }

    /// Start the device if everything it needs is there.
    fn try_start(&mut self) -> Result<()> {
        if self.device.is_some() {
            return Ok(());
        }
        let (Some(acked), Some(memory)) = (self.acked, &self.memory) else {
            return Ok(());
        };
        let ready = |r: &Ring| r.size > 0 && r.desc != 0 && r.kick.is_some() && r.enabled;
        if !self.rings.iter().all(ready) {
            return Ok(());
        }
        let virtio = acked & !VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();
        let negotiated = Negotiated::new(virtio).map_err(|_| invalid("feature set"))?;
        let queue = |r: &Ring| -> Result<Queue> {
            let mut q = Queue::new(MAX_QUEUE_SIZE).map_err(|_| invalid("queue"))?;
            q.set_size(r.size);
            let gpa = |va| {
                memory
                    .gpa(va)
                    .ok_or(invalid("ring address not in guest memory"))
            };
            let split = |a: u64| (Some(a as u32), Some((a >> 32) as u32));
            let (lo, hi) = split(gpa(r.desc)?);
            q.set_desc_table_address(lo, hi);
            let (lo, hi) = split(gpa(r.avail)?);
            q.set_avail_ring_address(lo, hi);
            let (lo, hi) = split(gpa(r.used)?);
            q.set_used_ring_address(lo, hi);
            q.set_event_idx(negotiated.event_idx());
            q.set_next_avail(r.base);
            q.set_next_used(r.base);
            q.set_ready(true);
            if !q.is_valid(&memory.guest) {
                return Err(invalid("ring outside guest memory"));
            }
            Ok(q)
        };
        let rx = queue(&self.rings[RX_QUEUE])?;
        let tx = queue(&self.rings[TX_QUEUE])?;
        self.device = Some(VirtioNet::new(rx, tx, negotiated));
        Ok(())
    }

    /// Whether the front end accepted our virtio features yet (`SET_FEATURES`).
    pub fn features_accepted(&self) -> bool {
        self.acked.is_some()
    }

    /// Whether requests flagged `NEED_REPLY` get an ack (`REPLY_ACK` accepted).
    pub fn reply_ack(&self) -> bool {
        self.protocol.contains(VhostUserProtocolFeatures::REPLY_ACK)
    }

    fn protocol_acked(&self) -> bool {
        self.acked
            .is_some_and(|f| f & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits() != 0)
    }
}

impl Default for Backend {
    fn default() -> Backend {
        Backend::new()
    }
}

/// The size of a region's file (its end, found with `lseek`, the offset put back:
/// the file description is shared with the front end).
fn file_size(file: &File) -> u64 {
    use rustix::fs::{seek, SeekFrom};
    let Ok(was) = seek(file, SeekFrom::Current(0)) else {
        return 0;
    };
    let size = seek(file, SeekFrom::End(0)).unwrap_or(0);
    let _ = seek(file, SeekFrom::Start(was));
    size
}

/// Requests a net device has no use for.
const UNSUPPORTED: Error = Error::InvalidOperation("not supported by this back end");

impl VhostUserBackendReqHandlerMut for Backend {
    fn set_owner(&mut self) -> Result<()> {
        if self.owned {
            return Err(invalid("already owned"));
        }
        self.owned = true;
        Ok(())
    }

    fn reset_owner(&mut self) -> Result<()> {
        self.stop();
        *self = Backend::new();
        Ok(())
    }

    fn reset_device(&mut self) -> Result<()> {
        self.reset_owner()
    }

    fn get_features(&mut self) -> Result<u64> {
        Ok(features::OFFERED | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits())
    }

    fn set_features(&mut self, bits: u64) -> Result<()> {
        let virtio = bits & !VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();
        Negotiated::new(virtio).map_err(|_| invalid("features not offered, or a legacy driver"))?;
        if self.device.is_some() && self.acked != Some(bits) {
            return Err(invalid("features changed while running"));
        }
        self.acked = Some(bits);
        if !self.protocol_acked() {
            // Without PROTOCOL_FEATURES a ring is enabled as soon as it starts.
            for r in &mut self.rings {
                r.enabled = true;
            }
        }
        self.try_start()
    }

    fn set_mem_table(
        &mut self,
        ctx: &[VhostUserMemoryRegion],
        files: Vec<File>,
        _postcopy_listening: Option<bool>,
    ) -> Result<Option<Vec<VhostUserMemoryRegionBase>>> {
        if ctx.is_empty() || ctx.len() > MAX_REGIONS || ctx.len() != files.len() {
            return Err(Error::InvalidParam);
        }
        let mut ranges = Vec::with_capacity(ctx.len());
        let mut regions = Vec::with_capacity(ctx.len());
        for (r, file) in ctx.iter().zip(files) {
            // A region past the end of its file maps, but touching it raises SIGBUS:
            // refuse it instead.
            let end = r.mmap_offset.checked_add(r.memory_size);
            if r.memory_size == 0 || end.is_none_or(|e| e > file_size(&file)) {
                return Err(invalid("memory region outside its file"));
            }
            let size = usize::try_from(r.memory_size).map_err(|_| Error::InvalidParam)?;
            ranges.push((
                GuestAddress(r.guest_phys_addr),
                size,
                Some(FileOffset::new(file, r.mmap_offset)),
            ));
            regions.push((r.user_addr, r.guest_phys_addr, r.memory_size));
        }
        // vm-memory maps each region MAP_SHARED and checks they do not overlap.
        let guest = GuestMemoryMmap::from_ranges_with_files(ranges)
            .map_err(|_| invalid("guest memory regions"))?;
        let running = self.device.is_some();
        self.stop();
        self.memory = Some(Memory { guest, regions });
        if running {
            self.try_start()?;
        }
        Ok(None)
    }

    fn set_vring_num(&mut self, index: u32, num: u32) -> Result<()> {
        let size = u16::try_from(num).map_err(|_| Error::InvalidParam)?;
        if size == 0 || size > MAX_QUEUE_SIZE || !size.is_power_of_two() {
            return Err(Error::InvalidParam);
        }
        self.ring(index)?.size = size;
        Ok(())
    }

    fn set_vring_addr(
        &mut self,
        index: u32,
        _flags: VhostUserVringAddrFlags,
        descriptor: u64,
        used: u64,
        available: u64,
        _log: u64,
    ) -> Result<()> {
        let r = self.ring(index)?;
        (r.desc, r.avail, r.used) = (descriptor, available, used);
        Ok(())
    }

    fn set_vring_base(&mut self, index: u32, base: u32) -> Result<()> {
        self.ring(index)?.base = u16::try_from(base).map_err(|_| Error::InvalidParam)?;
        Ok(())
    }

    fn get_vring_base(&mut self, index: u32) -> Result<VhostUserVringState> {
        self.ring(index)?;
        self.stop();
        let r = self.ring(index)?;
        // The ring is stopped until its next SET_VRING_KICK.
        r.kick = None;
        r.enabled = false;
        Ok(VhostUserVringState::new(index, u32::from(r.base)))
    }

    fn set_vring_kick(&mut self, index: u8, fd: Option<File>) -> Result<()> {
        let protocol = self.protocol_acked();
        let r = self.ring(u32::from(index))?;
        r.kick = fd;
        if !protocol {
            r.enabled = true;
        }
        self.fds_generation += 1;
        self.try_start()
    }

    fn set_vring_call(&mut self, index: u8, fd: Option<File>) -> Result<()> {
        self.ring(u32::from(index))?.call = fd;
        self.fds_generation += 1;
        Ok(())
    }

    fn set_vring_err(&mut self, index: u8, _fd: Option<File>) -> Result<()> {
        self.ring(u32::from(index))?;
        Ok(())
    }

    fn get_protocol_features(&mut self) -> Result<VhostUserProtocolFeatures> {
        Ok(VhostUserProtocolFeatures::REPLY_ACK)
    }

    fn set_protocol_features(&mut self, bits: u64) -> Result<()> {
        self.protocol = VhostUserProtocolFeatures::from_bits(bits)
            .filter(|p| VhostUserProtocolFeatures::REPLY_ACK.contains(*p))
            .ok_or(invalid("protocol features not offered"))?;
        Ok(())
    }

    fn get_queue_num(&mut self) -> Result<u64> {
        Ok(2)
    }

    fn set_vring_enable(&mut self, index: u32, enable: bool) -> Result<()> {
        // Taken even before SET_FEATURES: qemu 7.2 enables the rings at device reset,
        // ahead of the features (the link reads that request itself, see
        // `VhostUserLink::early_vring_enable`).
        self.ring(index)?.enabled = enable;
        if enable {
            self.try_start()
        } else {
            self.stop();
            Ok(())
        }
    }

    fn get_config(&mut self, _: u32, _: u32, _: VhostUserConfigFlags) -> Result<Vec<u8>> {
        Err(UNSUPPORTED)
    }

    fn set_config(&mut self, _: u32, _: &[u8], _: VhostUserConfigFlags) -> Result<()> {
        Err(UNSUPPORTED)
    }

    fn set_backend_req_fd(&mut self, _: BackendChannel) {}

    fn set_gpu_socket(&mut self, _: GpuBackend) -> Result<()> {
        Err(UNSUPPORTED)
    }

    fn get_shared_object(&mut self, _: VhostUserSharedMsg) -> Result<File> {
        Err(UNSUPPORTED)
    }

    fn get_inflight_fd(&mut self, _: &VhostUserInflight) -> Result<(VhostUserInflight, File)> {
        Err(UNSUPPORTED)
    }

    fn set_inflight_fd(&mut self, _: &VhostUserInflight, _: File) -> Result<()> {
        Err(UNSUPPORTED)
    }

    fn get_max_mem_slots(&mut self) -> Result<u64> {
        Err(UNSUPPORTED)
    }

    fn add_mem_region(
        &mut self,
        _: &VhostUserSingleMemoryRegion,
        _: File,
        _: Option<bool>,
    ) -> Result<Option<VhostUserMemoryRegionBase>> {
        Err(UNSUPPORTED)
    }

    fn remove_mem_region(&mut self, _: &VhostUserSingleMemoryRegion) -> Result<()> {
        Err(UNSUPPORTED)
    }

    fn set_device_state_fd(
        &mut self,
        _: VhostTransferStateDirection,
        _: VhostTransferStatePhase,
        _: File,
    ) -> Result<Option<File>> {
        Err(UNSUPPORTED)
    }

    fn check_device_state(&mut self) -> Result<()> {
        Err(UNSUPPORTED)
    }

    fn get_shmem_config(&mut self) -> Result<VhostUserShMemConfig> {
        Err(UNSUPPORTED)
    }

    fn set_log_base(&mut self, _: &VhostUserLog, _: File) -> Result<()> {
        Err(UNSUPPORTED)
    }
}
