//! `passt-vhost-relay`: a stand-in for qemu *and* the guest's virtio-net driver in
//! tests of `passt --vhost-user`. It opens a tap device inside a network namespace
//! and relays its frames through split virtqueues in shared memory to passt's
//! vhost-user back end, so the namespace's own Linux network stack plays the virtual
//! machine.
//!
//! ```text
//! passt-vhost-relay --netns NAME|PATH [--tap tap0] --socket /tmp/passt_1.socket
//!                   [--queue-size 256] [--rx-buffer-size 4096] [--no-offload]
//!                   [--faults seed=7,loss=10,dup=10,reorder=10,burst=50@4000]
//! ```
//!
//! As qemu does, guest memory is a memfd, here in two regions (one at guest physical
//! address 0, one above a hole at 4 GiB, at a non-zero file offset), and the control
//! requests carry the relay's own virtual addresses. As a guest driver does, it keeps
//! the receive ring full of buffers (mergeable: a frame may span several) and puts
//! each frame from the tap on the transmit ring, one descriptor per frame; kicks and
//! interrupts are suppressed as `EVENT_IDX` says.
//!
//! With offloads (the default) the tap carries a 10-byte native-endian
//! `virtio_net_hdr` (`IFF_VNET_HDR`), which becomes the virtio 1.0 header (12 bytes,
//! little-endian, with `num_buffers`) on the rings and back; the namespace then
//! hands us TCP super-frames with partial checksums, and takes the same from passt,
//! and runs of UDP datagrams (`GUEST_USO4/6`, as a Linux 6.2+ guest driver takes them).
//!
//! Frames are read from the tap straight into the transmit buffer, and a frame that
//! fits one receive buffer is written to the tap straight from it; only a frame
//! spanning several receive buffers is gathered into a local buffer first.
//!
//! `--faults` makes the link a bad one ([`passt_shim_linux::link_faults`]): frames
//! from the tap are lost (their slot reused), duplicated (copied to a second slot) or
//! held back (put on the ring after the next one) before the back end sees them;
//! frames from the back end are lost, written twice or written after the next one.
//!
//! The tap is left down and unconfigured. The relay prints nothing while it runs
//! (with `--faults`, what the link did at exit) and exits 0 when passt closes the
//! connection; a setup failure is one line on stderr and a non-zero status.

use passt_shim_linux::link_faults::{Fate, FaultPlan, FaultSchedule};
use passt_shim_linux::{in_netns, NetnsHandle, Tap};
use passt_virtio_net::driver::DriverQueue;
use passt_virtio_net::hdr::{ByteOrder, VnetHdr, F_NEEDS_CSUM, LEN as TAP_HDR, LEN_MRG as HDR};
use passt_virtio_net::{MAX_FRAME, RX_QUEUE as RX, TX_QUEUE as TX};
use rustix::net::RecvFlags;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use vhost::vhost_user::message::VhostUserHeaderFlag;
use vhost::vhost_user::{
    Frontend, VhostUserFrontend, VhostUserProtocolFeatures, VhostUserVirtioFeatures,
};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_net::VIRTIO_NET_F_MRG_RXBUF;
use virtio_bindings::virtio_ring::VIRTIO_RING_F_EVENT_IDX;
use vm_memory::{
    Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, ReadVolatile, VolatileMemoryError,
    WriteVolatile,
};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

mod layout;

use layout::{Layout, MAX_QUEUE_SIZE, RINGS_BASE, RX_WHOLE_FRAME, TX_SLOT};

const USAGE: &str = "usage: passt-vhost-relay --netns NAME|PATH [--tap NAME] --socket PATH \
                     [--queue-size N] [--rx-buffer-size BYTES] [--no-offload] \
                     [--faults PLAN]";

/// epoll data of the watched descriptors.
const EV_CONTROL: u64 = 0;
const EV_TAP: u64 = 1;
const EV_RX_CALL: u64 = 2;
const EV_TX_CALL: u64 = 3;

const fn bit(n: u32) -> u64 {
    1 << n
}

/// The command line.
struct Args {
    netns: String,
    tap: String,
    socket: String,
    queue_size: u16,
    rx_buffer: u32,
    offload: bool,
    faults: Option<FaultPlan>,
}

fn parse_args() -> Option<Args> {
    let mut netns = None;
    let mut tap = "tap0".to_string();
    let mut socket = None;
    let mut queue_size = 256u16;
    let mut rx_buffer = 4096u32;
    let mut offload = true;
    let mut faults = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--netns" => netns = Some(args.next()?),
            "--tap" => tap = args.next()?,
            "--socket" => socket = Some(args.next()?),
            "--queue-size" => queue_size = args.next()?.parse().ok()?,
            "--rx-buffer-size" => rx_buffer = args.next()?.parse().ok()?,
            "--no-offload" => offload = false,
            "--faults" => faults = Some(args.next()?.parse().ok()?),
            _ => return None,
        }
    }
    if !queue_size.is_power_of_two()
        || queue_size > MAX_QUEUE_SIZE
        || !(HDR as u32..=RX_WHOLE_FRAME).contains(&rx_buffer)
    {
        return None;
    }
    Some(Args {
        netns: netns?,
        tap,
        socket: socket?,
        queue_size,
        rx_buffer,
        offload,
        faults,
    })
}

fn main() -> ExitCode {
    let Some(args) = parse_args() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = Relay::setup(&args).and_then(|mut r| {
        let result = r.run();
        if let Some(d) = &r.damage {
            eprintln!(
                "passt-vhost-relay: link faults: to the guest {}; from the guest {}",
                d.to_guest.counts(),
                d.from_guest.counts()
            );
        }
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passt-vhost-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A failure, with what was being done.
type Result<T> = std::result::Result<T, String>;

fn ctx<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// The kind of an I/O error from a volatile (guest memory) read or write.
fn io_kind(e: &VolatileMemoryError) -> Option<io::ErrorKind> {
    match e {
        VolatileMemoryError::IOError(e) => Some(e.kind()),
        _ => None,
    }
}

/// A frame from the receive ring, ready for the tap (kept while the tap has no
/// room, `EAGAIN`).
enum ToTap {
    /// Straight from its one receive buffer: guest address and length of the tap's
    /// header (rewritten in place) and the frame.
    Direct(u64, usize),
    /// The tap's header (the first `.1` bytes of `.0`), then the relay's gather
    /// buffer.
    Gathered([u8; TAP_HDR], usize),
}

/// What `--faults` does to the link, and the frames it holds back.
struct Damage {
    to_guest: FaultSchedule,
    from_guest: FaultSchedule,
    /// A frame from the tap waiting to be overtaken: (transmit slot, length).
    held_tx: Option<(u16, u32)>,
    /// A frame for the tap waiting to be overtaken, with the tap's header.
    held_rx: Option<Vec<u8>>,
}

/// The relay: guest memory, the driver's two queues, the tap.
struct Relay {
    mem: GuestMemoryMmap,
    layout: Layout,
    tap: Tap,
    /// The tap carries a virtio-net header (`IFF_VNET_HDR`).
    offload: bool,
    /// The back end took `MRG_RXBUF`.
    mergeable: bool,
    rx: DriverQueue,
    tx: DriverQueue,
    kick: [EventFd; 2],
    call: [EventFd; 2],
    /// Kept for `Frontend`'s lifetime: dropping it closes the connection.
    _frontend: Frontend,
    /// A handle on the same socket, to notice the back end closing it.
    control: UnixStream,
    epoll: Epoll,
    /// Receive buffer of each posted chain, by head.
    rx_buffer_of: Vec<Option<u16>>,
    /// Transmit slot of each posted chain, by head.
    tx_slot_of: Vec<Option<u16>>,
    /// Transmit slots not on the ring.
    tx_free: Vec<u16>,
    /// Used receive buffers of the frame being written: (buffer, length).
    frame: Vec<(u16, u32)>,
    /// Frames spanning several receive buffers are gathered here.
    gather: Vec<u8>,
    /// A frame the tap had no room for yet.
    pending: Option<ToTap>,
    /// What the tap is watched for now.
    tap_interest: EventSet,
    /// The bad link `--faults` asked for.
    damage: Option<Damage>,
}

impl Relay {
    /// Open the tap, connect, negotiate as qemu does, and fill the receive ring.
    fn setup(args: &Args) -> Result<Relay> {
        let ns = NetnsHandle::open(&args.netns).map_err(ctx("network namespace"))?;
        let name = args.tap.clone();
        let offload = args.offload;
        let tap = in_netns(&ns, move || Tap::open_with(&name, offload))
            .map_err(ctx("entering the namespace"))?
            .map_err(ctx("tap device"))?;

        // Frontend only lends out a raw descriptor: connect ourselves and keep a
        // second handle on the socket to watch.
        let stream = UnixStream::connect(&args.socket).map_err(ctx("connect"))?;
        let control = stream.try_clone().map_err(ctx("dup"))?;
        let mut fe = Frontend::from_stream(stream, 2);

        // qemu's order: vhost_user_backend_init, vhost_dev_init, then vhost_dev_start.
        let offered = fe.get_features().map_err(ctx("GET_FEATURES"))?;
        let protocol_bit = VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();
        if offered & protocol_bit != 0 {
            let pf = fe
                .get_protocol_features()
                .map_err(ctx("GET_PROTOCOL_FEATURES"))?;
            let take = pf & VhostUserProtocolFeatures::REPLY_ACK;
            fe.set_protocol_features(take)
                .map_err(ctx("SET_PROTOCOL_FEATURES"))?;
            if take.contains(VhostUserProtocolFeatures::REPLY_ACK) {
                // Every request then gets its answer: a refusal surfaces here.
                fe.set_hdr_flags(VhostUserHeaderFlag::NEED_REPLY);
            }
        }
        fe.set_owner().map_err(ctx("SET_OWNER"))?;
        let offered = fe.get_features().map_err(ctx("GET_FEATURES"))?;
        if offered & bit(VIRTIO_F_VERSION_1) == 0 {
            return Err("the back end does not offer VIRTIO_F_VERSION_1".into());
        }
        let mut wanted = bit(VIRTIO_F_VERSION_1)
            | bit(VIRTIO_NET_F_MRG_RXBUF)
            | bit(VIRTIO_RING_F_EVENT_IDX)
            | protocol_bit;
        if args.offload {
            wanted |= passt_virtio_net::features::OFFLOADS;
        }
        let acked = offered & wanted;
        fe.set_features(acked).map_err(ctx("SET_FEATURES"))?;
        let event_idx = acked & bit(VIRTIO_RING_F_EVENT_IDX) != 0;
        let mergeable = acked & bit(VIRTIO_NET_F_MRG_RXBUF) != 0;

        let rx_buffer = if mergeable {
            args.rx_buffer
        } else {
            RX_WHOLE_FRAME
        };
        let layout = Layout::new(args.queue_size, rx_buffer);
        let mem = layout.memory()?;
        let size = args.queue_size;
        let rx = DriverQueue::new(&mem, RINGS_BASE, size, event_idx).map_err(ctx("RX ring"))?;
        let (_, rx_end) = passt_virtio_net::driver::QueueLayout::at(RINGS_BASE, size);
        let tx_base = (rx_end + 4095) & !4095;
        let tx = DriverQueue::new(&mem, tx_base, size, event_idx).map_err(ctx("TX ring"))?;

        let regions = mem
            .iter()
            .map(VhostUserMemoryRegionInfo::from_guest_region)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(ctx("memory regions"))?;
        fe.set_mem_table(&regions).map_err(ctx("SET_MEM_TABLE"))?;

        let eventfd = || EventFd::new(EFD_NONBLOCK).map_err(ctx("eventfd"));
        let kick = [eventfd()?, eventfd()?];
        let call = [eventfd()?, eventfd()?];
        // qemu passes its own virtual addresses of the rings.
        let hva = |gpa: u64| -> Result<u64> {
            Ok(mem
                .get_host_address(GuestAddress(gpa))
                .map_err(ctx("ring address"))? as u64)
        };
        for (i, q) in [(RX, &rx), (TX, &tx)] {
            fe.set_vring_num(i, size).map_err(ctx("SET_VRING_NUM"))?;
            fe.set_vring_base(i, 0).map_err(ctx("SET_VRING_BASE"))?;
            let config = VringConfigData {
                queue_max_size: size,
                queue_size: size,
                flags: 0,
                desc_table_addr: hva(q.layout.desc)?,
                used_ring_addr: hva(q.layout.used)?,
                avail_ring_addr: hva(q.layout.avail)?,
                log_addr: None,
            };
            fe.set_vring_addr(i, &config)
                .map_err(ctx("SET_VRING_ADDR"))?;
            fe.set_vring_kick(i, &kick[i])
                .map_err(ctx("SET_VRING_KICK"))?;
            fe.set_vring_call(i, &call[i])
                .map_err(ctx("SET_VRING_CALL"))?;
        }
        if acked & protocol_bit != 0 {
            for i in [RX, TX] {
                fe.set_vring_enable(i, true)
                    .map_err(ctx("SET_VRING_ENABLE"))?;
            }
        }

        let epoll = Epoll::new().map_err(ctx("epoll"))?;
        let watch = |fd: i32, events: EventSet, data: u64| {
            epoll
                .ctl(ControlOperation::Add, fd, EpollEvent::new(events, data))
                .map_err(ctx("epoll_ctl"))
        };
        watch(
            control.as_raw_fd(),
            EventSet::IN | EventSet::READ_HANG_UP,
            EV_CONTROL,
        )?;
        watch(tap.as_raw_fd(), EventSet::IN, EV_TAP)?;
        watch(call[RX].as_raw_fd(), EventSet::IN, EV_RX_CALL)?;
        watch(call[TX].as_raw_fd(), EventSet::IN, EV_TX_CALL)?;

        let n = usize::from(size);
        let mut relay = Relay {
            mem,
            layout,
            tap,
            offload: args.offload,
            mergeable,
            rx,
            tx,
            kick,
            call,
            _frontend: fe,
            control,
            epoll,
            rx_buffer_of: vec![None; n],
            tx_slot_of: vec![None; n],
            tx_free: (0..size).rev().collect(),
            frame: Vec::with_capacity(n),
            gather: Vec::with_capacity(MAX_FRAME + HDR),
            pending: None,
            tap_interest: EventSet::IN,
            damage: args.faults.map(|plan| Damage {
                to_guest: FaultSchedule::new(plan, 1),
                from_guest: FaultSchedule::new(plan, 2),
                held_tx: None,
                held_rx: None,
            }),
        };
        for i in 0..size {
            relay.post_rx(i)?;
        }
        relay.publish_rx()?;
        Ok(relay)
    }

    /// Relay until the back end closes the connection.
    fn run(&mut self) -> Result<()> {
        let mut events = [EpollEvent::default(); 8];
        loop {
            self.update_tap_interest()?;
            let n = match self.epoll.wait(-1, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("epoll_wait: {e}")),
            };
            for ev in &events[..n] {
                match ev.data() {
                    EV_CONTROL if self.back_end_gone()? => return Ok(()),
                    EV_TAP => {
                        let set = ev.event_set();
                        if set.intersects(EventSet::ERROR | EventSet::HANG_UP) {
                            return Err("tap device: error or hang-up".into());
                        }
                        if set.contains(EventSet::OUT) {
                            self.rx_to_tap()?;
                        }
                        if set.contains(EventSet::IN) {
                            self.tap_to_tx()?;
                        }
                    }
                    EV_RX_CALL => {
                        let _ = self.call[RX].read();
                        self.rx_to_tap()?;
                    }
                    EV_TX_CALL => {
                        let _ = self.call[TX].read();
                        self.reclaim_tx()?;
                    }
                    _ => {}
                }
            }
        }
    }

    /// The control socket is readable: the back end closed it (nothing else may
    /// come unasked on it).
    fn back_end_gone(&self) -> Result<bool> {
        let mut b = [0u8; 1];
        match rustix::net::recv(&self.control, &mut b, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((0, _)) => Ok(true),
            Ok(_) => Err("unexpected message from the back end".into()),
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => Ok(false),
            Err(_) => Ok(true), // reset
        }
    }

    /// Watch the tap for frames while transmit slots are free, and for room while a
    /// received frame waits for it.
    fn update_tap_interest(&mut self) -> Result<()> {
        let mut want = EventSet::empty();
        if !self.tx_free.is_empty() && self.tx.free_descriptors() > 0 {
            want |= EventSet::IN;
        }
        if self.pending.is_some() {
            want |= EventSet::OUT;
        }
        if want != self.tap_interest {
            self.epoll
                .ctl(
                    ControlOperation::Modify,
                    self.tap.as_raw_fd(),
                    EpollEvent::new(want, EV_TAP),
                )
                .map_err(ctx("epoll_ctl"))?;
            self.tap_interest = want;
        }
        Ok(())
    }

    // ---- tap → transmit ring ----

    /// Move frames from the tap onto the transmit ring until the tap is empty or the
    /// ring full.
    fn tap_to_tx(&mut self) -> Result<()> {
        loop {
            if self.tx_free.is_empty() || self.tx.free_descriptors() == 0 {
                // Full: take back what the back end is done with, else wait for it.
                self.reclaim_tx()?;
                if self.tx_free.is_empty() || self.tx.free_descriptors() == 0 {
                    return self.release_held_tx();
                }
            }
            let Some(&slot) = self.tx_free.last() else {
                return Ok(());
            };
            let base = Layout::tx_slot(slot);
            // The tap's header (if any) lands just in front of the frame, which
            // starts where the ring's 12-byte header ends.
            let read_at = if self.offload {
                base + (HDR - TAP_HDR) as u64
            } else {
                base + HDR as u64
            };
            let room = (base + TX_SLOT - read_at) as usize;
            let mut slice = self
                .mem
                .get_slice(GuestAddress(read_at), room)
                .map_err(ctx("transmit slot"))?;
            let n = match self.tap.as_fd().read_volatile(&mut slice) {
                Ok(n) => n,
                Err(e) => match io_kind(&e) {
                    Some(io::ErrorKind::WouldBlock) => return self.release_held_tx(),
                    Some(io::ErrorKind::Interrupted) => continue,
                    _ => return Err(format!("tap read: {e}")),
                },
            };
            if self.offload && n < TAP_HDR {
                continue; // shorter than its header: nothing to send
            }
            let frame_len = if self.offload {
                let mut h = [0u8; TAP_HDR];
                self.mem
                    .read_slice(&mut h, GuestAddress(read_at))
                    .map_err(ctx("transmit slot"))?;
                let mut hdr = VnetHdr::parse(&h, ByteOrder::Native).unwrap_or_default();
                // The tap marks frames it checked DATA_VALID; a driver must not set
                // that on transmit (virtio 1.2 §5.1.6.2.1).
                hdr.flags &= F_NEEDS_CSUM;
                self.mem
                    .write_slice(&hdr.to_mrg_bytes(0), GuestAddress(base))
                    .map_err(ctx("transmit slot"))?;
                n - TAP_HDR
            } else {
                self.mem
                    .write_slice(&[0u8; HDR], GuestAddress(base))
                    .map_err(ctx("transmit slot"))?;
                n
            };
            let len = (HDR + frame_len) as u32;
            let fate = self.fate_of_next_guest_frame();
            if fate == Fate::Lose {
                continue; // the slot stays free: the next frame overwrites this one
            }
            self.tx_free.pop();
            if let Some(d) = self.damage.as_mut().filter(|d| d.held_tx.is_none()) {
                if fate == Fate::HoldBack {
                    d.held_tx = Some((slot, len));
                    continue;
                }
            }
            self.put_tx(slot, len)?;
            if fate == Fate::Duplicate {
                self.duplicate_tx(base, len)?;
            }
            self.release_held_tx()?;
        }
    }

    /// Put the frame in transmit slot `slot` (taken off the free list) on the ring.
    fn put_tx(&mut self, slot: u16, len: u32) -> Result<()> {
        let base = Layout::tx_slot(slot);
        let head = self
            .tx
            .add(&self.mem, &[(base, len, false)])
            .map_err(ctx("TX ring"))?;
        self.tx_slot_of[usize::from(head)] = Some(slot);
        self.tx.publish(&self.mem).map_err(ctx("TX ring"))?;
        if self.tx.needs_kick(&self.mem).map_err(ctx("TX ring"))? {
            self.kick[TX].write(1).map_err(ctx("kick"))?;
        }
        Ok(())
    }

    /// The fate `--faults` gives the next frame from the tap.
    fn fate_of_next_guest_frame(&mut self) -> Fate {
        self.damage.as_mut().map_or(Fate::Deliver, |d| {
            d.from_guest.next_fate(std::time::Instant::now())
        })
    }

    /// Put a copy of the frame at `base` on the ring too, if a slot is free (else
    /// the copy is lost).
    fn duplicate_tx(&mut self, base: u64, len: u32) -> Result<()> {
        let Some(&slot) = self.tx_free.last() else {
            return Ok(());
        };
        if self.tx.free_descriptors() == 0 {
            return Ok(());
        }
        let mut copy = vec![0u8; len as usize];
        self.mem
            .read_slice(&mut copy, GuestAddress(base))
            .map_err(ctx("transmit slot"))?;
        self.mem
            .write_slice(&copy, GuestAddress(Layout::tx_slot(slot)))
            .map_err(ctx("transmit slot"))?;
        self.tx_free.pop();
        self.put_tx(slot, len)
    }

    /// Put the frame held back on the ring, once a descriptor is free.
    fn release_held_tx(&mut self) -> Result<()> {
        if self.tx.free_descriptors() == 0 {
            return Ok(());
        }
        match self.damage.as_mut().and_then(|d| d.held_tx.take()) {
            Some((slot, len)) => self.put_tx(slot, len),
            None => Ok(()),
        }
    }

    /// Take back the transmit slots the back end is done with. Interrupts for them
    /// are wanted only while the ring is full (a frame waits for a slot); otherwise
    /// slots are taken back when the tap brings the next frame, as a driver that
    /// frees transmit buffers lazily does.
    fn reclaim_tx(&mut self) -> Result<()> {
        loop {
            while let Some((head, _)) = self.tx.pop_used(&self.mem).map_err(ctx("TX ring"))? {
                let slot = self
                    .tx_slot_of
                    .get_mut(usize::from(head))
                    .and_then(Option::take)
                    .ok_or_else(|| {
                        format!("the back end used TX chain {head}, never made available")
                    })?;
                self.tx_free.push(slot);
            }
            if !self.tx_free.is_empty() && self.tx.free_descriptors() > 0 {
                self.release_held_tx()?;
                return self
                    .tx
                    .disable_interrupts(&self.mem)
                    .map_err(ctx("TX ring"));
            }
            if !self
                .tx
                .enable_interrupts(&self.mem)
                .map_err(ctx("TX ring"))?
            {
                return Ok(());
            }
        }
    }

    // ---- receive ring → tap ----

    /// Make receive buffer `i` available (published by [`Relay::publish_rx`]).
    fn post_rx(&mut self, i: u16) -> Result<()> {
        let addr = self.layout.rx_buffer(i);
        let head = self
            .rx
            .add(&self.mem, &[(addr, self.layout.rx_buffer, true)])
            .map_err(ctx("RX ring"))?;
        self.rx_buffer_of[usize::from(head)] = Some(i);
        Ok(())
    }

    /// Publish the posted receive buffers, kicking the back end if it asked.
    fn publish_rx(&mut self) -> Result<()> {
        self.rx.publish(&self.mem).map_err(ctx("RX ring"))?;
        if self.rx.needs_kick(&self.mem).map_err(ctx("RX ring"))? {
            self.kick[RX].write(1).map_err(ctx("kick"))?;
        }
        Ok(())
    }

    /// The next used receive buffer: (buffer, length).
    fn pop_rx(&mut self) -> Result<Option<(u16, u32)>> {
        let Some((head, len)) = self.rx.pop_used(&self.mem).map_err(ctx("RX ring"))? else {
            return Ok(None);
        };
        let buffer = self
            .rx_buffer_of
            .get_mut(usize::from(head))
            .and_then(Option::take)
            .ok_or_else(|| format!("the back end used RX chain {head}, never made available"))?;
        if len > self.layout.rx_buffer {
            return Err(format!(
                "the back end wrote {len} bytes into a {}-byte RX buffer",
                self.layout.rx_buffer
            ));
        }
        Ok(Some((buffer, len)))
    }

    /// Write the frames the back end put in the receive ring to the tap.
    fn rx_to_tap(&mut self) -> Result<()> {
        loop {
            if let Some(p) = self.pending.take() {
                if !self.write_frame(p)? {
                    return Ok(()); // still no room: wait for the tap
                }
            }
            let Some(first) = self.pop_rx()? else {
                if self
                    .rx
                    .enable_interrupts(&self.mem)
                    .map_err(ctx("RX ring"))?
                {
                    continue;
                }
                self.release_held_rx();
                return Ok(());
            };
            let (buffer, len) = first;
            let addr = self.layout.rx_buffer(buffer);
            if (len as usize) < HDR {
                return Err(format!("the back end wrote a {len}-byte frame"));
            }
            let mut h = [0u8; HDR];
            self.mem
                .read_slice(&mut h, GuestAddress(addr))
                .map_err(ctx("RX buffer"))?;
            let buffers = if self.mergeable {
                u16::from_le_bytes([h[TAP_HDR], h[TAP_HDR + 1]])
            } else {
                1
            };
            if buffers == 0 {
                return Err("the back end sent a frame in 0 buffers".into());
            }
            self.frame.clear();
            self.frame.push(first);
            for k in 1..buffers {
                let more = self.pop_rx()?.ok_or_else(|| {
                    format!("the back end announced {buffers} RX buffers but published {k}")
                })?;
                self.frame.push(more);
            }
            let hdr = VnetHdr::parse(&h, ByteOrder::Little).unwrap_or_default();
            let p = if buffers == 1 {
                // Straight from the buffer: the tap's header goes in place, right in
                // front of the frame.
                let (start, hdr_len) = if self.offload {
                    let at = addr + (HDR - TAP_HDR) as u64;
                    self.mem
                        .write_slice(&hdr.to_bytes(ByteOrder::Native), GuestAddress(at))
                        .map_err(ctx("RX buffer"))?;
                    (at, TAP_HDR)
                } else {
                    (addr + HDR as u64, 0)
                };
                ToTap::Direct(start, len as usize - HDR + hdr_len)
            } else {
                self.gather.clear();
                for (i, &(b, len)) in self.frame.iter().enumerate() {
                    let skip = if i == 0 { HDR } else { 0 };
                    let at = self.layout.rx_buffer(b) + skip as u64;
                    self.mem
                        .write_volatile_to(GuestAddress(at), &mut self.gather, len as usize - skip)
                        .map_err(ctx("RX buffer"))?;
                }
                let hdr_len = if self.offload { TAP_HDR } else { 0 };
                ToTap::Gathered(hdr.to_bytes(ByteOrder::Native), hdr_len)
            };
            let fate = self.damage.as_mut().map_or(Fate::Deliver, |d| {
                d.to_guest.next_fate(std::time::Instant::now())
            });
            let hold =
                fate == Fate::HoldBack && self.damage.as_ref().is_some_and(|d| d.held_rx.is_none());
            if fate == Fate::Lose || hold {
                if hold {
                    let copy = self.copy_out(&p)?;
                    if let Some(d) = self.damage.as_mut() {
                        d.held_rx = Some(copy);
                    }
                }
                self.recycle_rx()?;
                continue;
            }
            let again = match fate {
                Fate::Duplicate => Some(self.copy_out(&p)?),
                _ => None,
            };
            if !self.write_frame(p)? {
                return Ok(());
            }
            if let Some(copy) = again {
                let _ = rustix::io::write(&self.tap, &copy);
            }
            self.release_held_rx();
        }
    }

    /// The bytes of a frame for the tap (its header included), for a copy.
    fn copy_out(&self, p: &ToTap) -> Result<Vec<u8>> {
        Ok(match p {
            ToTap::Direct(at, len) => {
                let mut v = vec![0u8; *len];
                self.mem
                    .read_slice(&mut v, GuestAddress(*at))
                    .map_err(ctx("RX buffer"))?;
                v
            }
            ToTap::Gathered(hdr, hdr_len) => [&hdr[..*hdr_len], &self.gather[..]].concat(),
        })
    }

    /// Write the frame held back to the tap (lost if the tap has no room).
    fn release_held_rx(&mut self) {
        if let Some(copy) = self.damage.as_mut().and_then(|d| d.held_rx.take()) {
            let _ = rustix::io::write(&self.tap, &copy);
        }
    }

    /// Write a frame to the tap and give its buffers back to the ring; `false` (the
    /// frame kept for later) when the tap has no room now.
    fn write_frame(&mut self, p: ToTap) -> Result<bool> {
        let written = match p {
            ToTap::Direct(at, len) => {
                let slice = self
                    .mem
                    .get_slice(GuestAddress(at), len)
                    .map_err(ctx("RX buffer"))?;
                self.tap
                    .as_fd()
                    .write_volatile(&slice)
                    .map_err(|e| match e {
                        VolatileMemoryError::IOError(e) => e,
                        e => io::Error::other(e),
                    })
            }
            ToTap::Gathered(hdr, hdr_len) => rustix::io::writev(
                &self.tap,
                &[IoSlice::new(&hdr[..hdr_len]), IoSlice::new(&self.gather)],
            )
            .map_err(io::Error::from),
        };
        match written {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending = Some(p);
                return Ok(false);
            }
            // EIO while the guest has its tap down, or a frame the tap refuses: lost,
            // as on a wire.
            Ok(_) | Err(_) => {}
        }
        self.recycle_rx()?;
        Ok(true)
    }

    /// Give the receive buffers of the frame just handled back to the ring.
    fn recycle_rx(&mut self) -> Result<()> {
        for k in 0..self.frame.len() {
            let (buffer, _) = self.frame[k];
            self.post_rx(buffer)?;
        }
        self.frame.clear();
        self.publish_rx()
    }
}
