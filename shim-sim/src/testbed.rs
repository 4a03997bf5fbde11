//! A testbed for protocol tests: an [`Engine`] wired to the [`SimSockets`] host model,
//! a virtual clock, and a scripted guest that builds and parses TCP segments (and, with
//! [`crate::datagrams`], UDP datagrams and ICMP echoes).

use crate::sockets::SimSockets;
use passt_core::config::{Config, Ipv4Config, Ipv6Config, Mode};
use passt_core::engine::{Flow, Storage, UDP_RUN_TX_BUFFER};
use passt_core::flow::{index_len_for, Slot};
use passt_core::wire::ethernet::{self, EtherType, MacAddr};
use passt_core::wire::tcp::{self, TcpFlags};
use passt_core::wire::{ipv4, ipv6, IpProtocol};
use passt_core::{Engine, Event, Instant};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The guest's MAC in testbed scenarios.
pub const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
/// The guest's (= the host's) IPv4 address.
pub const GUEST_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The gateway (stands in for the host's loopback).
pub const GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The guest's IPv6 address.
pub const GUEST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
/// Our link-local address on the tap link.
pub const OUR_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// The configuration testbeds start from: passt mode, both families, gateway mapping.
pub fn default_config() -> Config {
    let mut c = Config::new(Mode::Passt);
    c.ipv4 = Some(Ipv4Config {
        addr: GUEST_V4,
        prefix_len: 24,
        gateway: GATEWAY_V4,
    });
    c.ipv6 = Some(Ipv6Config {
        addr: GUEST_V6,
        prefix_len: 64,
        gateway: OUR_LL,
        our_link_local: OUR_LL,
    });
    c.nat.map_host_loopback_v4 = Some(GATEWAY_V4);
    c.nat.map_host_loopback_v6 = Some(OUR_LL);
    c.seed = 1;
    c
}

/// A TCP segment as the guest sends or receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Window field (unscaled).
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// Timestamps option: TSval, TSecr (RFC 7323).
    pub timestamp: Option<(u32, u32)>,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Segment {
    /// A segment with no options or payload.
    pub fn new(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, flags: TcpFlags) -> Segment {
        Segment {
            src,
            dst,
            seq,
            ack,
            flags,
            window: 65535,
            mss: None,
            window_scale: None,
            timestamp: None,
            payload: Vec::new(),
        }
    }

    /// Whether every flag in `f` is set.
    pub fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }

    /// Encode as an Ethernet frame from the guest.
    pub fn to_frame(&self, our_mac: MacAddr) -> Vec<u8> {
        let repr = tcp::Repr {
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            flags: self.flags,
            seq_number: self.seq,
            ack_number: self.ack,
            window_len: self.window,
            max_seg_size: self.mss,
            window_scale: self.window_scale,
            sack_permitted: false,
            timestamp: self.timestamp,
            payload_len: self.payload.len(),
        };
        let tcp_len = repr.buffer_len();
        let ip_len = match self.src.ip() {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        };
        let mut frame = vec![0u8; ethernet::HEADER_LEN + ip_len + tcp_len];
        let (eth_buf, rest) = frame.split_at_mut(ethernet::HEADER_LEN);
        let ethertype = if ip_len == ipv4::HEADER_LEN {
            EtherType::Ipv4
        } else {
            EtherType::Ipv6
        };
        ethernet::Repr {
            src: GUEST_MAC,
            dst: our_mac,
            ethertype,
        }
        .emit(&mut ethernet::Frame::new_unchecked(eth_buf));
        let (ip_buf, tcp_buf) = rest.split_at_mut(ip_len);
        match (self.src.ip(), self.dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => ipv4::Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::Tcp,
                payload_len: tcp_len,
                hop_limit: 64,
                ident: 0,
                dont_frag: true,
            }
            .emit(&mut ipv4::Packet::new_unchecked(ip_buf)),
            (IpAddr::V6(s), IpAddr::V6(d)) => ipv6::Repr {
                src_addr: s,
                dst_addr: d,
                next_header: IpProtocol::Tcp,
                payload_len: tcp_len,
                hop_limit: 64,
                upper_offset: ipv6::HEADER_LEN,
            }
            .emit(&mut ipv6::Packet::new_unchecked(ip_buf)),
            _ => panic!("mixed address families in a test segment"),
        }
        repr.emit(
            &mut tcp::Packet::new_unchecked(tcp_buf),
            self.src.ip(),
            self.dst.ip(),
            &self.payload,
        );
        frame
    }

    /// Decode a frame the engine sent to the guest; `None` if it is not TCP or its
    /// checksums are wrong.
    pub fn from_frame(frame: &[u8]) -> Option<Segment> {
        let eth = ethernet::Frame::new_checked(frame).ok()?;
        let (src, dst, l4): (IpAddr, IpAddr, &[u8]) = match eth.ethertype() {
            EtherType::Ipv4 => {
                let p = ipv4::Packet::new_checked(eth.payload()).ok()?;
                if !p.verify_checksum() || p.next_header() != IpProtocol::Tcp {
                    return None;
                }
                let hl = p.header_len();
                let total = usize::from(p.total_len());
                (
                    p.src_addr().into(),
                    p.dst_addr().into(),
                    eth.payload().get(hl..total)?,
                )
            }
            EtherType::Ipv6 => {
                let p = ipv6::Packet::new_checked(eth.payload()).ok()?;
                let r = ipv6::Repr::parse(&p).ok()?;
                if r.next_header != IpProtocol::Tcp {
                    return None;
                }
                let start = r.upper_offset;
                (
                    r.src_addr.into(),
                    r.dst_addr.into(),
                    eth.payload().get(start..start + r.payload_len)?,
                )
            }
            _ => return None,
        };
        let p = tcp::Packet::new_checked(l4).ok()?;
        if !p.verify_checksum(src, dst) {
            return None;
        }
        let r = tcp::Repr::parse(&p).ok()?;
        Some(Segment {
            src: SocketAddr::new(src, r.src_port),
            dst: SocketAddr::new(dst, r.dst_port),
            seq: r.seq_number,
            ack: r.ack_number,
            flags: r.flags,
            window: r.window_len,
            mss: r.max_seg_size,
            window_scale: r.window_scale,
            timestamp: r.timestamp,
            payload: p.payload().to_vec(),
        })
    }
}

/// An engine, its host model, and a virtual clock.
pub struct Testbed {
    /// The engine under test.
    pub engine: Engine<'static>,
    /// The modelled host.
    pub host: SimSockets,
    /// Virtual time.
    pub now: Instant,
}

impl Testbed {
    /// A testbed over `config` with room for `flows` flows.
    pub fn new(config: Config, flows: usize) -> Testbed {
        // Owned, not leaked: fuzz harnesses build a testbed per input in one long-lived
        // process (AFL's persistent mode), where 130 KB leaked per input adds up to an
        // out-of-memory kill within minutes.
        let slots: Vec<Slot<Flow>> = (0..flows).map(|_| Slot::default()).collect();
        let storage = Storage {
            tx: vec![0u8; UDP_RUN_TX_BUFFER].into(),
            flows: slots.into(),
            flow_index: vec![0u32; index_len_for(flows)].into(),
        };
        let engine = Engine::new(config, storage).expect("valid testbed configuration");
        Testbed {
            engine,
            host: SimSockets::new(),
            now: Instant::ZERO,
        }
    }

    /// Feed a segment from the guest, then deliver any socket readiness it caused.
    pub fn guest_send(&mut self, seg: &Segment) {
        let frame = seg.to_frame(self.engine.config().our_mac);
        self.engine
            .handle_event(self.now, Event::TapFrame(&frame), &mut self.host);
        self.engine.flush(self.now, &mut self.host);
        self.settle();
        self.check();
    }

    /// Feed any frame from the guest, then deliver the socket readiness it caused.
    pub fn guest_frame(&mut self, frame: &[u8]) {
        self.engine
            .handle_event(self.now, Event::TapFrame(frame), &mut self.host);
        self.settle();
        self.check();
    }

    /// Deliver queued socket readiness until none is left (bounded).
    pub fn settle(&mut self) {
        for _ in 0..1000 {
            let events = self.host.take_events();
            if events.is_empty() {
                return;
            }
            for (sock, readiness) in events {
                self.engine.handle_event(
                    self.now,
                    Event::Socket { sock, readiness },
                    &mut self.host,
                );
            }
            self.engine.flush(self.now, &mut self.host);
        }
        panic!("socket events did not settle: livelock");
    }

    /// Complete pending host connects and deliver the resulting events.
    pub fn complete_connects(&mut self) {
        self.host.complete_connects();
        self.settle();
        self.check();
    }

    /// Advance virtual time by `d`, firing every timer due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        for _ in 0..100_000 {
            match self.engine.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.engine.handle_timeout(self.now, &mut self.host);
                    self.settle();
                }
                _ => break,
            }
        }
        self.now = end;
        self.check();
    }

    /// Panic if the engine's invariants are broken.
    pub fn check(&self) {
        if let Err(e) = self.engine.check_invariants() {
            panic!("engine invariant broken: {e}");
        }
    }

    /// The next frame sent to the guest, decoded as TCP.
    pub fn next_segment(&mut self) -> Option<Segment> {
        let f = self.host.frames.pop_front()?;
        Some(
            Segment::from_frame(&f)
                .unwrap_or_else(|| panic!("frame to guest is not valid TCP: {f:02x?}")),
        )
    }

    /// The next frame sent to the guest, undecoded.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        self.host.frames.pop_front()
    }

    /// Every frame sent to the guest so far, decoded as TCP.
    pub fn drain_segments(&mut self) -> Vec<Segment> {
        std::iter::from_fn(|| self.next_segment()).collect()
    }
}
