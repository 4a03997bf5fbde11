//! The engine: the single entry point the shims drive.
//!
//! ```text
//!   shim ──Event──▶ Engine::handle_event ──Op──▶ Host::exec ──OpResult──▶ engine
//!   shim ──now────▶ Engine::handle_timeout       (when Engine::poll_timeout says)
//! ```
//! One engine serves one guest link. It keeps what it learned about the guest (MAC,
//! addresses seen) in [`GuestState`], forgets it when the link goes down, and answers
//! the built-in services through the frame demultiplexer (`tap.rs`).

use crate::config::{Config, ConfigError};
use crate::flow::{FlowId, FlowTable, Slot, TableError};
use crate::io::{Event, Host, Op, OpResult};
use crate::rng::Rng;
use crate::sockref::SockKind;
use crate::stats::Stats;
use crate::time::Instant;
use crate::wire::ethernet::MacAddr;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use managed::ManagedSlice;

/// Largest Ethernet frame on the tap link (the qemu framing caps frames at 65535).
pub const MAX_FRAME_LEN: usize = 65535;

/// Smallest transmit buffer the engine accepts: room for the largest reply a built-in
/// service builds (a DHCPv4 reply with every option is well under 1 KiB).
pub const MIN_TX_BUFFER: usize = 2048;

/// A transmit buffer in which runs of UDP datagrams to the guest
/// ([`Offload::udp_segment_max`](crate::config::Offload::udp_segment_max)) can grow to
/// 64 KiB: the next datagram is read right after the run, so the buffer holds the
/// headers, a run of up to 65 507 bytes and room for one more datagram of any size.
/// With a smaller buffer runs stop short (a buffer of one frame sends each alone).
pub const UDP_RUN_TX_BUFFER: usize = 2 * 65_536 + 256;

/// Lower bound of the unsolicited router advertisement interval (RFC 4861 §6.2.1:
/// MinRtrAdvInterval defaults to 0.33 × MaxRtrAdvInterval).
pub const RA_INTERVAL_MIN: Duration = Duration::from_secs(200);
/// Upper bound of the unsolicited router advertisement interval (RFC 4861 §6.2.1:
/// MaxRtrAdvInterval default 600 s).
pub const RA_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// Most flows with an ACK held back within one batch; more are ACKed at once.
pub const ACK_QUEUE: usize = 256;

/// Memory the caller lends to the engine.
pub struct Storage<'a> {
    /// Scratch space where outgoing frames are built; at least [`MIN_TX_BUFFER`] bytes.
    /// TCP segments to the guest are as large as this allows (up to the MSS), so a
    /// buffer of 64 KiB + headers lets large-MTU links carry full segments.
    pub tx: ManagedSlice<'a, u8>,
    /// Flow slots: their number is the most flows the engine tracks at once.
    pub flows: ManagedSlice<'a, Slot<Flow>>,
    /// Flow index buckets: at least [`crate::flow::index_len_for`] the slot count.
    pub flow_index: ManagedSlice<'a, u32>,
}

/// How many flows of each kind the table holds ([`Engine::flow_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounts {
    /// TCP connections between the guest and a host socket.
    pub tcp: usize,
    /// TCP connections joined socket to socket (pasta's loopback bypass).
    pub spliced: usize,
    /// UDP flows (through the tap or spliced).
    pub udp: usize,
    /// ICMP echo flows.
    pub ping: usize,
    /// Most flows the table can hold.
    pub capacity: usize,
}

impl FlowCounts {
    /// Every flow, whatever its kind.
    pub fn total(&self) -> usize {
        self.tcp + self.spliced + self.udp + self.ping
    }
}

/// A tracked flow.
#[derive(Debug, Clone, Copy)]
pub enum Flow {
    /// A TCP connection between the guest and a host socket.
    Tcp(crate::tcp::TcpConn),
    /// Two host sockets joined by pasta's loopback bypass.
    Splice(crate::tcp::SpliceConn),
    /// A UDP flow between a guest 4-tuple and a host socket.
    Udp(crate::udp::UdpFlow),
    /// ICMP/ICMPv6 echo between the guest and a ping socket.
    Ping(crate::icmp::PingFlow),
}

impl Flow {
    /// The earliest deadline of the flow's timers, if it has any.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            Flow::Tcp(c) => c.next_deadline(),
            Flow::Splice(_) => None,
            Flow::Udp(f) => f.next_deadline(),
            Flow::Ping(f) => f.next_deadline(),
        }
    }

    /// The one host socket the flow owns (named after the flow's slot), if any: a
    /// spliced flow has two, a UDP flow on a forwarded port none of its own.
    pub fn own_socket(&self) -> Option<crate::sockref::SockRef> {
        match self {
            Flow::Tcp(c) => Some(c.sock),
            Flow::Splice(_) => None,
            Flow::Udp(f) => f.own_socket(),
            Flow::Ping(f) => Some(f.sock),
        }
    }
}

/// A forwarded port that could not be set up by [`Engine::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartError {
    /// The forward's transport: with `direction`, which option (`-t`, `-T`, `-u`).
    pub transport: crate::io::Transport,
    /// Which way the forward points.
    pub direction: crate::tcp::Direction,
    /// The port.
    pub port: u16,
    /// Why.
    pub error: crate::io::HostError,
}

/// What the engine has learned about the guest from its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuestState {
    /// Source MAC of the guest's frames.
    pub mac: Option<MacAddr>,
    /// Last non-zero IPv4 source address the guest used.
    pub addr_seen_v4: Option<Ipv4Addr>,
    /// Last global IPv6 source address the guest used (or was handed by DHCPv6).
    pub addr_seen_v6: Option<Ipv6Addr>,
    /// Last link-local IPv6 source address the guest used.
    pub addr_ll_seen: Option<Ipv6Addr>,
}

/// Why [`Engine::new`] refused to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The transmit buffer is smaller than [`MIN_TX_BUFFER`].
    TxBufferTooSmall,
    /// The flow storage is inconsistent (index too small for the slots).
    FlowTable(TableError),
}

/// The protocol engine for one guest link.
pub struct Engine<'a> {
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) guest: GuestState,
    pub(crate) tx: ManagedSlice<'a, u8>,
    pub(crate) flows: FlowTable<'a, Flow>,
    pub(crate) isn_key: (u64, u64),
    flow_deadline: Option<Instant>,
    /// Flows owing the guest an ACK at the end of this batch.
    pub(crate) ack_queue: heapless::Vec<FlowId, ACK_QUEUE>,
    /// Ports bound by `auto` TCP forwarding, by [`crate::tcp::Direction`].
    pub(crate) auto_bound: [crate::fwd::PortSet; 2],
    /// Listeners with connections left queued, accepted from the timer path.
    pub(crate) accept_retry: crate::tcp::AcceptRetry,
    /// Per inbound TCP range (by index): the guest-side address its connections go
    /// to, for forwards added at run time with one (`-t HOST/P:TARGET/Q`).
    pub(crate) inbound_targets: [Option<core::net::IpAddr>; crate::fwd::MAX_PORT_RANGES],
    /// Per inbound UDP range (by index): the guest-side address its datagrams go to,
    /// for forwards added at run time with one (`-u HOST/P:TARGET/Q`).
    pub(crate) udp_inbound_targets: [Option<core::net::IpAddr>; crate::fwd::MAX_PORT_RANGES],
    /// Ports bound by `auto` UDP forwarding, by [`crate::tcp::Direction`].
    pub(crate) auto_bound_udp: [crate::fwd::PortSet; 2],
    link_up: bool,
    next_ra: Option<Instant>,
    rng: Rng,
}

impl<'a> Engine<'a> {
    /// Validate `config` and build an engine over the lent `storage`. The link starts
    /// down: the shim sends [`Event::TapUp`] when the guest is attached.
    pub fn new(config: Config, storage: Storage<'a>) -> Result<Engine<'a>, EngineError> {
        config.validate().map_err(EngineError::Config)?;
        if storage.tx.len() < MIN_TX_BUFFER {
            return Err(EngineError::TxBufferTooSmall);
        }
        let rng = Rng::new(config.seed ^ 0x5241_5f54_494d_4552);
        let hash_key = crate::flow::key_from_seed(config.seed);
        let flows = FlowTable::new(storage.flows, storage.flow_index, hash_key)
            .map_err(EngineError::FlowTable)?;
        let isn_key = crate::flow::key_from_seed(config.seed ^ 0x4953_4e5f_4b45_5900);
        Ok(Engine {
            config,
            stats: Stats::default(),
            guest: GuestState::default(),
            tx: storage.tx,
            flows,
            isn_key,
            flow_deadline: None,
            ack_queue: heapless::Vec::new(),
            auto_bound: [crate::fwd::PortSet::new(), crate::fwd::PortSet::new()],
            accept_retry: crate::tcp::AcceptRetry::default(),
            inbound_targets: [None; crate::fwd::MAX_PORT_RANGES],
            udp_inbound_targets: [None; crate::fwd::MAX_PORT_RANGES],
            auto_bound_udp: [crate::fwd::PortSet::new(), crate::fwd::PortSet::new()],
            link_up: false,
            next_ra: None,
            rng,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// What the guest link finishes for us, learned only once it is up (a vhost-user
    /// front end negotiates offloads when it connects): segments sent from now on use
    /// `offload` ([`Config::offload`]).
    pub fn set_offload(&mut self, offload: crate::config::Offload) {
        self.config.offload = offload;
    }

    /// Counters, including every drop by reason.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What the engine has learned about the guest.
    pub fn guest(&self) -> &GuestState {
        &self.guest
    }

    /// Flows currently tracked.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Flows currently tracked, by kind, and the table's capacity (one pass over the
    /// table; for status reports, not the data path).
    pub fn flow_counts(&self) -> FlowCounts {
        let mut n = FlowCounts {
            capacity: self.flows.capacity(),
            ..FlowCounts::default()
        };
        for (_, flow) in self.flows.iter() {
            match flow {
                Flow::Tcp(_) => n.tcp += 1,
                Flow::Splice(_) => n.spliced += 1,
                Flow::Udp(_) => n.udp += 1,
                Flow::Ping(_) => n.ping += 1,
            }
        }
        n
    }

    /// Check the engine's structural invariants (flow table consistency, every flow's
    /// socket named after its own slot); used after every step by simulations and
    /// fuzzers.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        self.flows.check_invariants()?;
        for (id, flow) in self.flows.iter() {
            if let Some(sock) = flow.own_socket() {
                if sock.slot() != id.slot || sock.generation() != id.generation {
                    return Err("flow socket names another slot");
                }
            }
        }
        Ok(())
    }

    /// Open the sockets for forwarded ports (`-t`/`-T`, then `-u`/`-U`). Call once, before the
    /// event loop; a port that cannot be bound is an error the caller reports and exits
    /// on. Returns how many sockets were opened.
    pub fn start<H: Host>(&mut self, host: &mut H) -> Result<usize, StartError> {
        let fail = |transport| {
            move |e: crate::tcp::ListenError| StartError {
                transport,
                direction: e.direction,
                port: e.port,
                error: e.error,
            }
        };
        let tcp =
            crate::tcp::start_listeners(self, host).map_err(fail(crate::io::Transport::Tcp))?;
        let udp =
            crate::udp::start_listeners(self, host).map_err(fail(crate::io::Transport::Udp))?;
        Ok(tcp + udp)
    }

    /// `auto` forwarding (pasta's default): make the `direction` listeners match
    /// `listening`, the TCP ports the shim found listening on the other side (the
    /// namespace for inbound, the host for outbound). The shim calls this about once a
    /// second. Returns how many listeners were opened or closed.
    pub fn update_auto_forwards<H: Host>(
        &mut self,
        direction: crate::tcp::Direction,
        listening: &crate::fwd::PortSet,
        host: &mut H,
    ) -> usize {
        crate::tcp::update_auto(self, direction, listening, host)
    }

    /// Ports currently bound by `auto` TCP forwarding in `direction`.
    pub fn auto_ports(&self, direction: crate::tcp::Direction) -> &crate::fwd::PortSet {
        &self.auto_bound[direction as usize]
    }

    /// `auto` UDP forwarding (pasta's default for `-u` and `-U`): make the `direction`
    /// sockets match `bound`, the ports the shim found on the other side — bound,
    /// unconnected UDP sockets and listening TCP sockets (passt-reference §8.4).
    /// Ports we forward the other way are never forwarded back. The shim calls this
    /// about once a second. Returns how many ports were bound or given up.
    pub fn update_auto_udp_forwards<H: Host>(
        &mut self,
        direction: crate::tcp::Direction,
        bound: &crate::fwd::PortSet,
        host: &mut H,
    ) -> usize {
        crate::udp::update_auto(self, direction, bound, host)
    }

    /// Ports currently bound by `auto` UDP forwarding in `direction`.
    pub fn auto_udp_ports(&self, direction: crate::tcp::Direction) -> &crate::fwd::PortSet {
        &self.auto_bound_udp[direction as usize]
    }

    /// Whether the guest link is up.
    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// Handle one input. Never panics, whatever the frame contains.
    pub fn handle_event<H: Host>(&mut self, now: Instant, event: Event<'_>, host: &mut H) {
        match event {
            Event::TapFrame(frame) => self.receive_frame(now, frame, false, host),
            Event::TapFramePartialChecksum(frame) => self.receive_frame(now, frame, true, host),
            Event::TapUp => self.set_link_up(now),
            Event::TapDown => {
                self.link_up = false;
                self.guest = GuestState::default();
                self.next_ra = None;
                self.reset_flows(host);
            }
            Event::Socket { sock, readiness } => match sock.kind() {
                SockKind::TcpListen | SockKind::TcpConn => {
                    crate::tcp::on_socket(self, now, sock, readiness, host)
                }
                SockKind::UdpListen | SockKind::UdpFlow => {
                    crate::udp::on_socket(self, now, sock, readiness, host)
                }
                SockKind::Ping => crate::icmp::on_socket(self, now, sock, readiness, host),
            },
        }
    }

    /// Drop every flow: the guest that owned their other ends is gone (passt: the VM
    /// disconnected). Host sockets are aborted so remote peers see a reset, not a hang.
    fn reset_flows<H: Host>(&mut self, host: &mut H) {
        loop {
            let ids: heapless::Vec<FlowId, 64> =
                self.flows.iter().map(|(id, _)| id).take(64).collect();
            if ids.is_empty() {
                break;
            }
            for id in ids {
                let Some(flow) = self.flows.remove(id) else {
                    continue;
                };
                let socks = match flow {
                    Flow::Splice(_) => crate::tcp::splice::sockets(id).map(Some),
                    other => [other.own_socket(), None],
                };
                for sock in socks.into_iter().flatten() {
                    host.exec(Op::Close { sock, abort: true });
                }
                match flow {
                    Flow::Tcp(_) | Flow::Splice(_) => self.stats.tcp_closed += 1,
                    Flow::Udp(_) => self.stats.udp_closed += 1,
                    Flow::Ping(_) => self.stats.ping_closed += 1,
                }
            }
        }
        self.flow_deadline = None;
    }

    /// End of a batch of events: send what was held back to be coalesced (ACKs for
    /// in-order guest data). Shims call this after each batch (an epoll wakeup).
    pub fn flush<H: Host>(&mut self, now: Instant, host: &mut H) {
        while let Some(id) = self.ack_queue.pop() {
            crate::tcp::flush_ack(self, now, id, host);
        }
    }

    /// When [`Engine::handle_timeout`] must next run, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.next_ra,
            self.flow_deadline,
            self.accept_retry.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout<H: Host>(&mut self, now: Instant, host: &mut H) {
        if let Some(due) = self.next_ra {
            if due <= now {
                crate::tap::send_unsolicited_ra(self, host);
                self.next_ra = Some(now + self.ra_interval());
            }
        }
        if self.flow_deadline.is_some_and(|d| d <= now) {
            self.run_flow_timers(now, host);
        }
        crate::tcp::retry_accepts(self, now, host);
    }

    /// Fire every due flow timer, then recompute the earliest remaining deadline.
    fn run_flow_timers<H: Host>(&mut self, now: Instant, host: &mut H) {
        const BATCH: usize = 64;
        // Each slot is visited at most once per call (a cursor walks the table), so a
        // handler that re-arms a deadline in the past cannot livelock the engine.
        let mut next_slot = 0u32;
        loop {
            let due: heapless::Vec<FlowId, BATCH> = self
                .flows
                .iter()
                .filter(|(id, f)| {
                    id.slot >= next_slot && f.next_deadline().is_some_and(|at| at <= now)
                })
                .map(|(id, _)| id)
                .take(BATCH)
                .collect();
            let Some(last) = due.last() else { break };
            next_slot = last.slot + 1;
            for id in due {
                match self.flows.get(id) {
                    Some(Flow::Tcp(_)) => crate::tcp::on_timer(self, now, id, host),
                    Some(Flow::Udp(_)) => crate::udp::on_timer(self, now, id, host),
                    Some(Flow::Ping(_)) => crate::icmp::on_timer(self, now, id, host),
                    // Spliced connections have no timers.
                    Some(Flow::Splice(_)) | None => {}
                }
            }
        }
        self.flow_deadline = self
            .flows
            .iter()
            .filter_map(|(_, f)| f.next_deadline())
            .min();
    }

    /// A flow timer was armed for `at`.
    pub(crate) fn note_deadline(&mut self, at: Instant) {
        self.flow_deadline = Some(self.flow_deadline.map_or(at, |d| d.min(at)));
    }

    fn set_link_up(&mut self, now: Instant) {
        if self.link_up {
            return;
        }
        self.link_up = true;
        let ra = self.config.services.ra && self.config.services.ndp && self.config.ipv6.is_some();
        // Like passt, the first unsolicited RA waits one full interval: a guest that
        // wants one sooner sends a router solicitation.
        self.next_ra = ra.then(|| now + self.ra_interval());
    }

    fn ra_interval(&mut self) -> Duration {
        let lo = RA_INTERVAL_MIN.as_millis() as u64;
        let hi = RA_INTERVAL_MAX.as_millis() as u64;
        Duration::from_millis(self.rng.range_inclusive(lo, hi))
    }

    /// The link-layer ends of frames to the guest: broadcast until its MAC is learned.
    pub(crate) fn guest_link(&self) -> crate::frame::Link {
        crate::frame::Link {
            src: self.config.our_mac,
            dst: self.guest.mac.unwrap_or(MacAddr::BROADCAST),
        }
    }

    /// Send `len` bytes of the transmit buffer to the guest.
    /// A frame from the guest; `checksum_partial`: its sender left the upper-layer
    /// checksum to the link ([`Event::TapFramePartialChecksum`]).
    fn receive_frame<H: Host>(
        &mut self,
        now: Instant,
        frame: &[u8],
        checksum_partial: bool,
        host: &mut H,
    ) {
        self.stats.frames_in += 1;
        if !self.link_up {
            // A frame proves the link is there (pasta's tap has no "connect").
            self.set_link_up(now);
        }
        crate::tap::receive(self, now, frame, checksum_partial, host);
    }

    pub(crate) fn transmit<H: Host>(&mut self, len: usize, host: &mut H) {
        match host.exec(Op::TapSend(&self.tx[..len])) {
            OpResult::Err(_) => self.stats.tx_errors += 1,
            _ => self.stats.frames_out += 1,
        }
    }

    /// Send the first `len` bytes of the transmit buffer, a TCP segment the link
    /// finishes as `offload` says ([`Op::TapSendOffload`]).
    pub(crate) fn transmit_offload<H: Host>(
        &mut self,
        len: usize,
        offload: crate::io::TxOffload,
        host: &mut H,
    ) {
        let frame = &self.tx[..len];
        match host.exec(Op::TapSendOffload { frame, offload }) {
            OpResult::Err(_) => self.stats.tx_errors += 1,
            _ => self.stats.frames_out += 1,
        }
    }
}

impl Engine<'_> {
    /// Send the frame the last [`Op::PeekToGuest`](crate::io::Op::PeekToGuest)
    /// prepared, with the first `header_len` bytes of the transmit buffer as its
    /// headers.
    pub(crate) fn commit_to_guest<H: Host>(
        &mut self,
        header_len: usize,
        offload: crate::io::TxOffload,
        host: &mut H,
    ) {
        let headers = &self.tx[..header_len];
        match host.exec(Op::CommitToGuest { headers, offload }) {
            OpResult::Err(_) => self.stats.tx_errors += 1,
            _ => self.stats.frames_out += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::io::Readiness;
    use crate::sockref::{SockKind, SockRef};
    use crate::stats::DropReason;
    use std::vec::Vec;

    /// A host that records every frame sent to the guest.
    #[derive(Default)]
    struct Recorder {
        frames: Vec<Vec<u8>>,
    }

    impl Host for Recorder {
        fn exec(&mut self, op: Op<'_>) -> OpResult {
            match op {
                Op::TapSend(f) => self.frames.push(f.to_vec()),
                other => panic!("unexpected op {other:?}"),
            }
            OpResult::Done
        }
    }

    fn config() -> Config {
        crate::config::test_config(Mode::Passt)
    }

    /// Storage for tests: a leaked allocation keeps the lifetimes simple.
    fn storage(tx_len: usize) -> Storage<'static> {
        let slots: Vec<Slot<Flow>> = (0..8).map(|_| Slot::default()).collect();
        Storage {
            tx: Vec::leak(std::vec![0u8; tx_len]).into(),
            flows: Vec::leak(slots).into(),
            flow_index: Vec::leak(std::vec![0u32; crate::flow::index_len_for(8)]).into(),
        }
    }

    fn engine() -> Engine<'static> {
        Engine::new(config(), storage(MIN_TX_BUFFER)).unwrap()
    }

    // arping's request for 198.51.100.1 from 52:54:00:12:34:56 / 198.51.100.2.
    const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc6, 0x33,
        0x64, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x01,
    ];

    #[test]
    fn rejects_small_tx_buffer_and_bad_config() {
        assert!(matches!(
            Engine::new(config(), storage(100)),
            Err(EngineError::TxBufferTooSmall)
        ));
        assert!(matches!(
            Engine::new(Config::new(Mode::Pasta), storage(MIN_TX_BUFFER)),
            Err(EngineError::Config(ConfigError::NoAddressFamily))
        ));
    }

    #[test]
    fn arp_request_is_answered_and_guest_mac_learned() {
        let mut e = engine();
        let mut host = Recorder::default();
        e.handle_event(Instant::ZERO, Event::TapFrame(&ARP_REQUEST), &mut host);
        assert_eq!(host.frames.len(), 1);
        let reply = &host.frames[0];
        assert_eq!(reply.len(), 42);
        assert_eq!(
            &reply[0..6],
            &ARP_REQUEST[6..12],
            "unicast back to the guest"
        );
        assert_eq!(&reply[20..22], &[0, 2], "ARP reply opcode");
        assert_eq!(
            &reply[28..32],
            &[198, 51, 100, 1],
            "sender = the address asked for"
        );
        assert_eq!(
            e.guest().mac,
            Some(MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]))
        );
        assert_eq!(e.stats().frames_out, 1);
        assert_eq!(e.stats().service_replies, 1);
    }

    #[test]
    fn malformed_frames_are_counted_not_answered() {
        let mut e = engine();
        let mut host = Recorder::default();
        e.handle_event(
            Instant::ZERO,
            Event::TapFrame(&ARP_REQUEST[..13]),
            &mut host,
        );
        e.handle_event(
            Instant::ZERO,
            Event::TapFrame(&ARP_REQUEST[..30]),
            &mut host,
        );
        let mut multicast_src = ARP_REQUEST;
        multicast_src[6] = 0x01;
        e.handle_event(Instant::ZERO, Event::TapFrame(&multicast_src), &mut host);
        let mut unknown = ARP_REQUEST;
        unknown[12..14].copy_from_slice(&[0x88, 0xb5]);
        e.handle_event(Instant::ZERO, Event::TapFrame(&unknown), &mut host);
        let big = std::vec![0u8; MAX_FRAME_LEN + 1];
        e.handle_event(Instant::ZERO, Event::TapFrame(&big), &mut host);
        assert!(host.frames.is_empty());
        let s = e.stats();
        assert_eq!(s.drops(DropReason::EthTruncated), 1);
        assert_eq!(s.drops(DropReason::ArpMalformed), 1);
        assert_eq!(s.drops(DropReason::EthBadSource), 1);
        assert_eq!(s.drops(DropReason::EthUnknownType), 1);
        assert_eq!(s.drops(DropReason::FrameTooLong), 1);
        assert_eq!(s.frames_in, 5);
    }

    #[test]
    fn link_down_forgets_the_guest_and_stops_timers() {
        let mut e = engine();
        let mut host = Recorder::default();
        e.handle_event(Instant::ZERO, Event::TapFrame(&ARP_REQUEST), &mut host);
        assert!(e.poll_timeout().is_some());
        e.handle_event(Instant::from_secs(1), Event::TapDown, &mut host);
        assert_eq!(*e.guest(), GuestState::default());
        assert_eq!(e.poll_timeout(), None);
        assert!(!e.link_up());
    }

    #[test]
    fn first_unsolicited_ra_is_scheduled_within_rfc4861_bounds() {
        for seed in 0..50 {
            let mut c = config();
            c.seed = seed;
            let mut e = Engine::new(c, storage(MIN_TX_BUFFER)).unwrap();
            let t0 = Instant::from_secs(10);
            e.handle_event(t0, Event::TapUp, &mut Recorder::default());
            let due = e.poll_timeout().unwrap() - t0;
            assert!(due >= RA_INTERVAL_MIN && due <= RA_INTERVAL_MAX, "{due:?}");
        }
        let mut c = config();
        c.services.ra = false;
        let mut e = Engine::new(c, storage(MIN_TX_BUFFER)).unwrap();
        e.handle_event(Instant::ZERO, Event::TapUp, &mut Recorder::default());
        assert_eq!(e.poll_timeout(), None, "no RA timer with --no-ra");
    }

    #[test]
    fn socket_events_without_flows_are_stale() {
        let mut e = engine();
        let sock = SockRef::new(SockKind::TcpConn, 0, 3, 7);
        let readiness = Readiness {
            readable: true,
            ..Readiness::default()
        };
        e.handle_event(
            Instant::ZERO,
            Event::Socket { sock, readiness },
            &mut Recorder::default(),
        );
        assert_eq!(e.stats().drops(DropReason::StaleSockRef), 1);
    }
}
