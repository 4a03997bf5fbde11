//! Deterministic simulation sweeps: one seed drives a whole world — an engine, the
//! modelled host ([`SimSockets`]), guest TCP endpoints ([`GuestConn`]), a lossy link
//! and a virtual clock — through two phases:
//!
//! 1. **Safety**: connections open in both directions (guest → host, and host → guest
//!    through a forwarded port) and exchange random byte strings while the link loses,
//!    duplicates, reorders and damages frames and the host fails (`EMFILE`, `EAGAIN`,
//!    short writes, peer resets). After every step the checks (`sweep/checks.rs`) hold: the engine's
//!    invariants and capacity, one live host socket per flow, no operation on a
//!    closed socket, every byte the engine sends the guest is the host peer's byte at
//!    that position, every byte the host peer receives is the guest's byte at that
//!    position, and nothing is acknowledged that the other side did not take.
//! 2. **Liveness**: faults heal. Within [`SweepOptions::liveness_bound`] of virtual
//!    time every connection must complete or be closed, the flow table must empty
//!    and every host socket be closed. Then a fresh connection each way must complete
//!    cleanly, exchanging its whole byte strings.
//!
//! Everything derives from the seed, so a failure replays exactly:
//! [`replay_command`] prints how.

use crate::faults::{self, HostFaultRates, HostFaults, LinkFaultRates, LinkFaults};
use crate::guest::{GuestConn, GuestParams, Outcome};
use crate::rng::Rng;
use crate::sockets::{ConnectBehaviour, SimSockets, SockState};
use crate::storage::SimStorage;
use crate::testbed::{default_config, Segment, GUEST_V4, GUEST_V6};
use passt_core::fwd::PortRange;
use passt_core::{Engine, Event, Instant, SockKind, SockRef};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

mod checks;
mod world;

use world::World;

/// What one sweep does; [`SweepOptions::for_seed`] derives varied options from a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOptions {
    /// Flow table capacity (fewer than the connections exercises a full table).
    pub flows: usize,
    /// Connections the guest opens.
    pub outbound: usize,
    /// Connections host peers open to the forwarded port.
    pub inbound: usize,
    /// Most bytes each side of a connection sends.
    pub max_bytes: usize,
    /// Host socket send buffer size.
    pub send_space: usize,
    /// Length of the safety phase (connections start in its first half).
    pub safety_time: Duration,
    /// How long the liveness phase may take to close everything.
    pub liveness_bound: Duration,
    /// Faults on the guest link during the safety phase.
    pub link: LinkFaultRates,
    /// Host failures during the safety phase.
    pub host: HostFaultRates,
    /// Chance (per thousand peer actions) that a host peer resets its connection.
    pub peer_reset: u16,
    /// Chance (per thousand) that a destination the guest connects to refuses;
    /// otherwise its connect completes at once or after a delay.
    pub refuse_connect: u16,
    /// Keep a trace of every event (printed with a failure).
    pub trace: bool,
    /// Make the host misbehave once, after this many eligible operations (for
    /// proving that the checks catch it).
    pub sabotage: Option<(faults::Sabotage, u32)>,
}

impl SweepOptions {
    /// A world without faults: two connections each way.
    pub fn calm() -> SweepOptions {
        SweepOptions {
            flows: 8,
            outbound: 2,
            inbound: 2,
            max_bytes: 6000,
            send_space: 16 * 1024,
            safety_time: Duration::from_secs(2),
            liveness_bound: Duration::from_secs(400),
            link: LinkFaultRates::default(),
            host: HostFaultRates::default(),
            peer_reset: 0,
            refuse_connect: 0,
            trace: false,
            sabotage: None,
        }
    }

    /// Options chosen from `seed`: sizes, table capacity and fault intensities vary
    /// from calm to hostile.
    pub fn for_seed(seed: u64) -> SweepOptions {
        let mut r = Rng::new(seed ^ 0x5357_4545_505f_4f50);
        let level = r.below(4) as u16; // 0 = calm … 3 = hostile
        let rate = |r: &mut Rng, max: u16| -> u16 {
            if level == 0 {
                0
            } else {
                r.range(0, usize::from(max * level / 3)) as u16
            }
        };
        SweepOptions {
            flows: r.range(2, 10),
            outbound: r.range(1, 4),
            inbound: r.range(0, 3),
            max_bytes: *r.pick(&[0, 100, 3000, 12_000]).unwrap_or(&3000),
            send_space: r.range(500, 40_000),
            safety_time: Duration::from_millis(r.range(300, 3000) as u64),
            liveness_bound: Duration::from_secs(400),
            link: LinkFaultRates {
                loss: rate(&mut r, 150),
                duplicate: rate(&mut r, 100),
                reorder: rate(&mut r, 150),
                corrupt: rate(&mut r, 100),
            },
            host: HostFaultRates {
                open_emfile: rate(&mut r, 200),
                // The connection stays queued and no readiness reports it again: the
                // engine's accept retry must pick it up.
                accept_emfile: rate(&mut r, 300),
                send_would_block: rate(&mut r, 200),
                send_short: rate(&mut r, 300),
            },
            peer_reset: rate(&mut r, 20),
            refuse_connect: r.range(0, 150) as u16,
            trace: false,
            sabotage: None,
        }
    }
}

/// Which phase a sweep was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Faults on; safety checked after every step.
    Safety,
    /// Faults healed; everything must close within the bound.
    Liveness,
    /// A fresh connection each way must complete.
    Fresh,
}

/// What a sweep saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Events processed (frames delivered, timers, peer actions).
    pub steps: u64,
    /// Virtual time at the end.
    pub virtual_time: Duration,
    /// Frames the guest sent (before link faults).
    pub frames_to_engine: u64,
    /// Frames the engine sent.
    pub frames_to_guest: u64,
    /// Guest bytes that reached host peers.
    pub bytes_to_host: u64,
    /// Host bytes that reached the guest.
    pub bytes_to_guest: u64,
    /// Connections that completed with both byte strings delivered.
    pub completed: u64,
    /// Connections that ended with a reset (either side) or were refused.
    pub reset: u64,
    /// Link faults injected.
    pub link_faults: faults::LinkFaultCounts,
    /// Host faults injected.
    pub host_faults: faults::HostFaultCounts,
    /// Peer resets injected.
    pub peer_resets: u64,
    /// Engine retransmissions (timeouts and fast retransmits).
    pub engine_retransmits: u64,
}

/// A failed sweep: which seed, where, and what broke.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The phase.
    pub phase: Phase,
    /// Virtual time of the failure.
    pub at: Duration,
    /// What was violated.
    pub what: String,
    /// The last events (with [`SweepOptions::trace`]).
    pub trace: Vec<String>,
}

/// The command that replays `seed` with a trace.
pub fn replay_command(seed: u64) -> String {
    format!(
        "PASST_SWEEP_SEED={seed} cargo test -p passt-shim-sim --test sweep -- replay --nocapture"
    )
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sweep seed {} failed in the {:?} phase at {:.6} s: {}",
            self.seed,
            self.phase,
            self.at.as_secs_f64(),
            self.what
        )?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay: {}", replay_command(self.seed))
    }
}

/// Run one sweep.
pub fn sweep(seed: u64, options: &SweepOptions) -> Result<SweepStats, Failure> {
    let mut storage = SimStorage::with_flows(options.flows);
    let mut rng = Rng::new(seed);
    let mut config = default_config();
    config.seed = rng.next_u64();
    config.services.ra = false;
    config
        .forwards
        .tcp_in
        .ranges
        .push(PortRange {
            first: world::LISTEN_PORT,
            last: world::LISTEN_PORT,
            delta: world::GUEST_PORT.wrapping_sub(world::LISTEN_PORT),
            bind_addr: None,
            bind_iface: None,
        })
        .map_err(|_| Failure {
            seed,
            phase: Phase::Safety,
            at: Duration::ZERO,
            what: "cannot configure the forwarded port".into(),
            trace: Vec::new(),
        })?;
    let engine = Engine::new(config, storage.lend()).map_err(|e| Failure {
        seed,
        phase: Phase::Safety,
        at: Duration::ZERO,
        what: format!("engine refused the configuration: {e:?}"),
        trace: Vec::new(),
    })?;
    let mut host = SimSockets::new();
    host.tracing = false;
    host.default_send_space = options.send_space.max(1);
    // Faults start with the safety phase, after the listener is up.
    host.faults = HostFaults::new(rng.next_u64(), HostFaultRates::default());
    let link = LinkFaults::new(rng.next_u64(), options.link);
    let mut world = World::new(seed, options, engine, host, link, rng);
    world.run()
}

/// The guest address of the family of `ip`.
fn guest_addr(ip: &IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(GUEST_V4),
        IpAddr::V6(_) => IpAddr::V6(GUEST_V6),
    }
}

/// A remote address for connection `i`: unique, outside the guest's subnet.
fn remote_addr(i: usize, v6: bool, port: u16) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, i as u16 + 1))
    } else {
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i % 250) as u8 + 1))
    };
    SocketAddr::new(ip, port)
}

/// A compact description of a segment for traces.
fn describe(seg: &Segment) -> String {
    let mut flags = String::new();
    for (f, c) in [
        (passt_core::wire::tcp::TcpFlags::SYN, 'S'),
        (passt_core::wire::tcp::TcpFlags::FIN, 'F'),
        (passt_core::wire::tcp::TcpFlags::RST, 'R'),
        (passt_core::wire::tcp::TcpFlags::ACK, '.'),
    ] {
        if seg.has(f) {
            flags.push(c);
        }
    }
    format!(
        "{}→{} [{flags}] seq {} ack {} win {} len {}",
        seg.src,
        seg.dst,
        seg.seq,
        seg.ack,
        seg.window,
        seg.payload.len()
    )
}

/// Whether `sock` names a connection socket (not a listener).
fn is_conn(sock: SockRef) -> bool {
    sock.kind() == SockKind::TcpConn
}

/// Readiness-free helper: deliver one frame to the engine.
fn deliver_to_engine(engine: &mut Engine<'_>, host: &mut SimSockets, now: Instant, frame: &[u8]) {
    engine.handle_event(now, Event::TapFrame(frame), host);
}

/// Whether an outcome counts as a clean completion.
fn completed(g: &GuestConn) -> bool {
    g.outcome() == Some(Outcome::Completed)
}

/// How an outbound destination answers connects.
fn pick_behaviour(rng: &mut Rng, refuse: u16) -> ConnectBehaviour {
    if rng.chance(u64::from(refuse), 1000) {
        ConnectBehaviour::Refuse
    } else if rng.chance(1, 4) {
        ConnectBehaviour::AcceptNow
    } else {
        ConnectBehaviour::Accept
    }
}

/// Guest TCP parameters for one connection.
fn pick_params(rng: &mut Rng) -> GuestParams {
    GuestParams {
        mss: rng.range(200, 1460) as u16,
        wscale: if rng.chance(3, 4) {
            Some(rng.range(0, 7) as u8)
        } else {
            None
        },
        rcv_buf: rng.range(600, 70_000),
        ack_delay: Duration::from_micros(rng.range(0, 40_000) as u64),
        read_delay: Duration::from_micros(rng.range(0, 50_000) as u64),
        close_first: rng.chance(1, 2),
        stall: None,
    }
}

/// Sockets of a state that still belongs to the engine.
fn live(state: SockState) -> bool {
    !matches!(state, SockState::Closed)
}

/// Map every live connection socket to its peer address.
fn live_conn_sockets(host: &SimSockets) -> BTreeMap<SockRef, Option<SocketAddr>> {
    host.sockets()
        .filter(|(r, s)| is_conn(*r) && live(s.state))
        .map(|(r, s)| (r, s.peer))
        .collect()
}
