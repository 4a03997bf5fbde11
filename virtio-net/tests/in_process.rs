//! The engine driven through virtqueues in one process, as a Rust VMM would embed it:
//! guest memory and split queues set up directly (no vhost-user, no qemu), the guest's
//! driver played by `driver::DriverQueue`, the host's sockets by the simulator. Then
//! the device against a hostile driver: every broken chain is an error, none a crash.

use passt_core::io::TxOffload;
use passt_core::wire::tcp::TcpFlags;
use passt_core::{Engine, Event, Host};
use passt_shim_sim::frames::parse_frame;
use passt_shim_sim::offload;
use passt_shim_sim::sockets::SimSockets;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use passt_virtio_net::chain::ChainError;
use passt_virtio_net::driver::DriverQueue;
use passt_virtio_net::hdr::{ByteOrder, VnetHdr, GSO_TCPV4, GSO_TCPV6, LEN_MRG};
use passt_virtio_net::ring::RingError;
use passt_virtio_net::tx::TxError;
use passt_virtio_net::{DeviceHost, Negotiated, VirtioNet, MAX_FRAME, OFFERED};
use std::net::SocketAddr;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const QUEUE: u16 = 256;
const RX_RING: u64 = 0x1000;
const TX_RING: u64 = 0x10_0000;
const RX_BUFS: u64 = 0x20_0000;
const RX_BUF_LEN: u32 = 2048;
const TX_BUFS: u64 = 0x80_0000;
const TX_SLOT: u64 = 0x1_2000;
const MEM: usize = 0x200_0000;

/// The guest: memory, its driver's two queues, and what it posted.
struct Guest {
    mem: GuestMemoryMmap,
    rx: DriverQueue,
    tx: DriverQueue,
    tx_slot: u64,
}

impl Guest {
    fn new(rx_buffers: u16) -> Guest {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM)]).unwrap();
        let rx = DriverQueue::new(&mem, RX_RING, QUEUE, true).unwrap();
        let tx = DriverQueue::new(&mem, TX_RING, QUEUE, true).unwrap();
        let mut g = Guest {
            mem,
            rx,
            tx,
            tx_slot: 0,
        };
        g.post_rx(rx_buffers);
        g
    }

    /// Make `n` more receive buffers available.
    fn post_rx(&mut self, n: u16) {
        for _ in 0..n {
            let i = u64::from(QUEUE - self.rx.free_descriptors() as u16);
            let addr = RX_BUFS + i % u64::from(QUEUE) * u64::from(RX_BUF_LEN);
            self.rx.add(&self.mem, &[(addr, RX_BUF_LEN, true)]).unwrap();
        }
        self.rx.publish(&self.mem).unwrap();
    }

    /// Queue one frame for transmission (a zero virtio-net header in front).
    fn send(&mut self, frame: &[u8]) {
        let addr = TX_BUFS + (self.tx_slot % 64) * TX_SLOT;
        self.tx_slot += 1;
        let mut chain = vec![0u8; LEN_MRG];
        chain.extend_from_slice(frame);
        self.mem.write_slice(&chain, GuestAddress(addr)).unwrap();
        self.tx
            .add(&self.mem, &[(addr, chain.len() as u32, false)])
            .unwrap();
        self.tx.publish(&self.mem).unwrap();
    }

    /// The next frame the device gave us, gathered from as many buffers as its
    /// header says, and the header.
    fn receive(&mut self) -> Option<(VnetHdr, u16, Vec<u8>)> {
        let (head, len) = self.rx.pop_used(&self.mem).unwrap()?;
        let addr = self.rx_addr(head);
        let mut data = vec![0u8; len as usize];
        self.mem.read_slice(&mut data, GuestAddress(addr)).unwrap();
        let hdr = VnetHdr::parse(&data, ByteOrder::Little).unwrap();
        let buffers = u16::from_le_bytes([data[10], data[11]]);
        let mut frame = data[LEN_MRG..].to_vec();
        for _ in 1..buffers {
            let (head, len) = self
                .rx
                .pop_used(&self.mem)
                .unwrap()
                .expect("announced buffer");
            let mut more = vec![0u8; len as usize];
            self.mem
                .read_slice(&mut more, GuestAddress(self.rx_addr(head)))
                .unwrap();
            frame.extend_from_slice(&more);
        }
        Some((hdr, buffers, frame))
    }

    fn rx_addr(&self, head: u16) -> u64 {
        let mut d = [0u8; 8];
        let at = self.rx.layout.desc + 16 * u64::from(head);
        self.mem.read_slice(&mut d, GuestAddress(at)).unwrap();
        u64::from_le_bytes(d)
    }
}

/// The device over the guest's queues, and the engine over simulated sockets.
struct Vmm {
    guest: Guest,
    device: VirtioNet,
    tb: Testbed,
    buf: Vec<u8>,
}

impl Vmm {
    fn new(rx_buffers: u16) -> Vmm {
        let features = Negotiated::new(OFFERED).unwrap();
        let guest = Guest::new(rx_buffers);
        let device = VirtioNet::new(
            guest.rx.layout.device_queue(QUEUE, true).unwrap(),
            guest.tx.layout.device_queue(QUEUE, true).unwrap(),
            features,
        );
        let mut config = default_config();
        config.offload = features.engine_offload();
        Vmm {
            guest,
            device,
            tb: Testbed::new(config, 16),
            buf: vec![0u8; MAX_FRAME + LEN_MRG],
        }
    }

    /// What the VMM's event loop does on a transmit kick and on socket readiness.
    fn run(&mut self) {
        let Vmm {
            guest,
            device,
            tb,
            buf,
        } = self;
        let Testbed { engine, host, now } = tb;
        while let Some(f) = device.next_from_guest(&guest.mem, buf).unwrap() {
            let frame = &buf[f.start..f.start + f.len];
            let event = if f.checksum_partial {
                Event::TapFramePartialChecksum(frame)
            } else {
                Event::TapFrame(frame)
            };
            engine.handle_event(*now, event, &mut linked(device, &guest.mem, host));
        }
        settle(engine, *now, &mut linked(device, &guest.mem, host));
    }
}

fn linked<'a>(
    device: &'a mut VirtioNet,
    mem: &'a GuestMemoryMmap,
    host: &'a mut SimSockets,
) -> DeviceHost<'a, GuestMemoryMmap, SimSockets> {
    DeviceHost {
        device,
        mem,
        inner: host,
    }
}

/// Deliver the simulated sockets' readiness until none is left.
fn settle(
    engine: &mut Engine<'static>,
    now: passt_core::Instant,
    host: &mut DeviceHost<'_, GuestMemoryMmap, SimSockets>,
) {
    for _ in 0..1000 {
        let events = host.inner.take_events();
        if events.is_empty() {
            return;
        }
        for (sock, readiness) in events {
            engine.handle_event(now, Event::Socket { sock, readiness }, host);
        }
        engine.flush(now, host);
    }
    panic!("socket events did not settle");
}

/// What the guest's kernel makes of a frame with this header: segments cut at
/// `gso_size`, partial checksums completed (the simulator's model of Linux).
fn guest_kernel_view(hdr: &VnetHdr, frame: &[u8]) -> Vec<Vec<u8>> {
    if !hdr.checksum_partial() {
        return vec![frame.to_vec()];
    }
    let offload = TxOffload {
        l4_offset: hdr.csum_start,
        header_len: hdr.hdr_len,
        mss: if hdr.gso_size > 0 {
            hdr.gso_size
        } else {
            u16::MAX
        },
        ipv6: hdr.gso_type == GSO_TCPV6,
        checksum_partial: true,
        udp: false,
    };
    offload::finish(frame, &offload)
}

fn frame(line: &str) -> Vec<u8> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    parse_frame(&tokens).unwrap().build().unwrap()
}

fn check(line: &str, got: &[u8]) {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    if let Err(e) = parse_frame(&tokens).unwrap().check(got) {
        panic!("{line}: {e}");
    }
}

#[test]
fn arp_and_dhcp_are_answered_through_the_queues() {
    let mut vmm = Vmm::new(64);
    vmm.tb.engine.handle_event(
        vmm.tb.now,
        Event::TapUp,
        &mut linked(&mut vmm.device, &vmm.guest.mem, &mut vmm.tb.host),
    );
    vmm.guest
        .send(&frame("arp request who-has 198.51.100.1 tell 198.51.100.2"));
    vmm.guest.send(&frame(
        "dhcp discover xid=0x3903f326 mac=52:54:00:12:34:56 prl=1,3,6,26 broadcast",
    ));
    vmm.run();
    assert!(
        vmm.device.rx.take_interrupt(&vmm.guest.mem).unwrap(),
        "the driver asked to hear of used buffers"
    );
    assert!(
        !vmm.device.rx.take_interrupt(&vmm.guest.mem).unwrap(),
        "once"
    );
    let (hdr, buffers, arp) = vmm.guest.receive().expect("an ARP reply");
    assert_eq!((hdr, buffers), (VnetHdr::default(), 1));
    check("arp reply 198.51.100.1 is-at 9a:55:9a:55:9a:55", &arp);
    let (_, _, offer) = vmm.guest.receive().expect("a DHCP offer");
    check(
        "dhcp offer xid=0x3903f326 yiaddr=198.51.100.2 opt3=198.51.100.1 opt26=fff0",
        &offer,
    );
    assert!(vmm.guest.receive().is_none());
    assert_eq!(vmm.device.stats.from_guest, 2);
    assert_eq!(vmm.device.stats.to_guest, 2);
}

#[test]
fn tcp_data_reaches_the_guest_in_super_frames_across_mergeable_buffers() {
    let mut vmm = Vmm::new(200);
    let guest = SocketAddr::new(GUEST_V4.into(), 40000);
    let remote: SocketAddr = "203.0.113.1:80".parse().unwrap();
    let mut syn = Segment::new(guest, remote, 1000, 0, TcpFlags::SYN);
    syn.mss = Some(1460);
    syn.window_scale = Some(7);
    vmm.guest
        .send(&syn.to_frame(vmm.tb.engine.config().our_mac));
    vmm.run();
    vmm.tb.host.complete_connects();
    vmm.run();
    let (_, _, f) = vmm.guest.receive().expect("SYN-ACK");
    let synack = Segment::from_frame(&f).unwrap();
    assert!(synack.has(TcpFlags::SYN | TcpFlags::ACK));
    let ack = Segment::new(guest, remote, 1001, synack.seq + 1, TcpFlags::ACK);
    vmm.guest
        .send(&ack.to_frame(vmm.tb.engine.config().our_mac));
    vmm.run();

    // 100 000 bytes from the host: more than one MSS per frame, more than one
    // 2 KiB receive buffer per frame.
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let sock = vmm.tb.host.find_connected(remote).unwrap();
    vmm.tb.host.peer_send(sock, &data);
    vmm.run();
    let mut got = Vec::new();
    let mut super_frames = 0;
    while let Some((hdr, buffers, f)) = vmm.guest.receive() {
        if hdr.gso_type == GSO_TCPV4 {
            super_frames += 1;
            assert_eq!(hdr.gso_size, 1460, "cut at the guest's MSS");
            assert!(buffers > 1, "{} bytes in {buffers} buffer(s)", f.len());
        }
        for wire in guest_kernel_view(&hdr, &f) {
            let seg = Segment::from_frame(&wire).expect("valid TCP once finished");
            got.extend_from_slice(&seg.payload);
        }
    }
    assert!(super_frames > 0, "segmentation offload used");
    assert_eq!(got, data, "every byte, in order");
}

#[test]
fn a_full_receive_queue_refuses_without_using_buffers_and_asks_for_a_kick() {
    let mut vmm = Vmm::new(2);
    let big = vec![0u8; 10_000];
    let mem = &vmm.guest.mem;
    assert_eq!(
        linked(&mut vmm.device, mem, &mut vmm.tb.host).exec(passt_core::io::Op::TapSend(&big)),
        passt_core::OpResult::Err(passt_core::HostError::WouldBlock)
    );
    assert_eq!(vmm.device.stats.rx_full, 1);
    assert!(!vmm.device.rx.ask_for_kick(mem).unwrap());
    assert!(vmm.guest.receive().is_none(), "nothing published");
    vmm.guest.post_rx(8);
    assert!(
        vmm.guest.rx.needs_kick(&vmm.guest.mem).unwrap(),
        "the driver kicks"
    );
    let mem = &vmm.guest.mem;
    assert_eq!(
        linked(&mut vmm.device, mem, &mut vmm.tb.host).exec(passt_core::io::Op::TapSend(&big)),
        passt_core::OpResult::Done
    );
    let (_, buffers, f) = vmm.guest.receive().unwrap();
    assert_eq!((buffers, f.len()), (5, 10_000));
}

/// The device's verdict on the next transmit chain.
fn next(vmm: &mut Vmm) -> Result<Option<usize>, TxError> {
    vmm.device
        .next_from_guest(&vmm.guest.mem, &mut vmm.buf)
        .map(|f| f.map(|f| f.len))
}

#[test]
fn hostile_transmit_chains_are_errors_never_crashes() {
    use virtio_bindings::virtio_ring::{VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT};
    const NEXT: u16 = VRING_DESC_F_NEXT as u16;
    let buf = TX_BUFS;

    // Two descriptors pointing at each other.
    let mut vmm = Vmm::new(0);
    let ids = vmm.guest.tx.reserve(2);
    vmm.guest
        .tx
        .write_desc(&vmm.guest.mem, ids[0], buf, 50, NEXT, ids[1])
        .unwrap();
    vmm.guest
        .tx
        .write_desc(&vmm.guest.mem, ids[1], buf, 50, NEXT, ids[0])
        .unwrap();
    vmm.guest.tx.push_head(&vmm.guest.mem, ids[0]).unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    assert!(matches!(
        next(&mut vmm),
        Err(TxError::Chain(ChainError::Malformed { .. }))
    ));

    // A `next` past the table.
    let mut vmm = Vmm::new(0);
    let ids = vmm.guest.tx.reserve(1);
    vmm.guest
        .tx
        .write_desc(&vmm.guest.mem, ids[0], buf, 100, NEXT, 5000)
        .unwrap();
    vmm.guest.tx.push_head(&vmm.guest.mem, ids[0]).unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    assert!(matches!(
        next(&mut vmm),
        Err(TxError::Chain(ChainError::Malformed { .. }))
    ));

    // Buffers outside guest memory: past its end, and straddling it.
    for (addr, len) in [
        (MEM as u64 + 0x1000, 64),
        (MEM as u64 - 16, 64),
        (u64::MAX - 10, 64),
    ] {
        let mut vmm = Vmm::new(0);
        vmm.guest
            .tx
            .add(&vmm.guest.mem, &[(addr, len, false)])
            .unwrap();
        vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
        assert!(
            matches!(
                next(&mut vmm),
                Err(TxError::Chain(ChainError::OutsideMemory { .. }))
            ),
            "{addr:#x}"
        );
    }

    // A device-writable buffer on the transmit queue.
    let mut vmm = Vmm::new(0);
    vmm.guest
        .tx
        .add(&vmm.guest.mem, &[(buf, 100, true)])
        .unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    assert!(matches!(
        next(&mut vmm),
        Err(TxError::Chain(ChainError::WrongDirection { .. }))
    ));

    // An indirect table holding another indirect descriptor.
    let mut vmm = Vmm::new(0);
    let table = TX_BUFS + 0x1000;
    let indirect = VRING_DESC_F_INDIRECT as u16;
    vmm.guest
        .mem
        .write_slice(&[0u8; 16], GuestAddress(table))
        .unwrap();
    let mut nested = [0u8; 16];
    nested[..8].copy_from_slice(&table.to_le_bytes());
    nested[8..12].copy_from_slice(&16u32.to_le_bytes());
    nested[12..14].copy_from_slice(&indirect.to_le_bytes());
    vmm.guest
        .mem
        .write_slice(&nested, GuestAddress(table))
        .unwrap();
    let ids = vmm.guest.tx.reserve(1);
    vmm.guest
        .tx
        .write_desc(&vmm.guest.mem, ids[0], table, 16, indirect, 0)
        .unwrap();
    vmm.guest.tx.push_head(&vmm.guest.mem, ids[0]).unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    assert!(matches!(
        next(&mut vmm),
        Err(TxError::Chain(ChainError::Malformed { .. }))
    ));

    // A chain longer than the largest frame.
    let mut vmm = Vmm::new(0);
    vmm.guest
        .tx
        .add(
            &vmm.guest.mem,
            &[(buf, 40_000, false), (buf, 40_000, false)],
        )
        .unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    assert!(matches!(
        next(&mut vmm),
        Err(TxError::Chain(ChainError::TooLong { .. }))
    ));

    // An available index far ahead of the queue.
    let mut vmm = Vmm::new(0);
    vmm.guest.tx.store_avail_idx(&vmm.guest.mem, 3000).unwrap();
    assert_eq!(next(&mut vmm), Err(TxError::Ring(RingError::AvailIndex)));

    // Empty and runt chains are dropped, counted and given back; then a good frame.
    let mut vmm = Vmm::new(0);
    vmm.guest
        .tx
        .add(&vmm.guest.mem, &[(buf, 0, false)])
        .unwrap();
    vmm.guest
        .tx
        .add(&vmm.guest.mem, &[(buf, 20, false)])
        .unwrap();
    vmm.guest.tx.publish(&vmm.guest.mem).unwrap();
    vmm.guest.send(&[0xffu8; 60]);
    assert_eq!(next(&mut vmm), Ok(Some(60)));
    assert_eq!(vmm.device.tx.runts, 2);
}
