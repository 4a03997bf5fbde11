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
//! Three families of worlds ([`SweepKind`]) share this machinery:
//! - [`SweepOptions::for_seed`] ([`SweepKind::Mixed`]): every fault at random rates,
//!   host failures and peer resets included; a connection may end in a reset.
//! - [`SweepOptions::hostile_link`] ([`SweepKind::HostileLink`]): a healthy host
//!   behind a link that loses, duplicates and reorders frames at low rates and loses
//!   [`Burst`]s of consecutive frames (50 and more).
//! - [`SweepOptions::stalled_peers`] ([`SweepKind::StalledPeers`]): connections whose
//!   ends misbehave on purpose ([`Misbehaviour`]): a guest that stops reading for up
//!   to minutes, a host peer that stops reading, a guest that half-closes and never
//!   reads the reply, a host peer that resets mid-transfer.
//!
//! The last two are *strict* ([`SweepOptions::strict`]): every connection must
//! complete with both byte strings delivered exactly, except the ones whose plan ends
//! them with a reset (which must then reach the guest as one). Their bursts keep the
//! link down for less than half of [`give_up_time`] (the shortest time either end
//! waits before giving up), so no end has cause to give up. While an end is stalled
//! the engine must not spin: at most [`max_stalled_wakeups`] timer wakeups in any
//! whole simulated second.
//!
//! Everything derives from the seed, so a failure replays exactly:
//! [`replay_command`] prints how.

use crate::faults::{self, Direction, HostFaultRates, HostFaults, LinkFaultRates, LinkFaults};
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

/// The shape of the guest link and of the guests' TCP: small, or pasta's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkShape {
    /// MTU 1500 without offloads; guests announce an MSS of 200 to 1460 bytes and
    /// hold up to 70 KB unread.
    Ethernet,
    /// pasta's default 65520-byte MTU with segmentation and checksum offload toward
    /// the guest; guests announce an MSS of 16 to 64 KiB, a window scale of 7 to 10
    /// and hold up to 4 MB unread, and host sockets take up to 4 MB (the shape of the
    /// damaged-link lab test, `cli/tests/bad_link_lab.rs`).
    Jumbo,
}

impl LinkShape {
    /// Jumbo for one seed in three.
    fn pick(r: &mut Rng) -> LinkShape {
        if r.chance(1, 3) {
            LinkShape::Jumbo
        } else {
            LinkShape::Ethernet
        }
    }
}

/// Which family of worlds a sweep's options come from (its replay command names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepKind {
    /// [`SweepOptions::for_seed`]: every fault at random rates.
    Mixed,
    /// [`SweepOptions::hostile_link`]: link faults and bursts, a healthy host.
    HostileLink,
    /// [`SweepOptions::stalled_peers`]: ends that stop reading, half-close or reset.
    StalledPeers,
}

impl SweepKind {
    /// Every kind.
    pub const ALL: [SweepKind; 3] = [
        SweepKind::Mixed,
        SweepKind::HostileLink,
        SweepKind::StalledPeers,
    ];

    /// The name `PASST_SWEEP_KIND` takes.
    pub fn name(self) -> &'static str {
        match self {
            SweepKind::Mixed => "mixed",
            SweepKind::HostileLink => "link",
            SweepKind::StalledPeers => "stall",
        }
    }

    /// The kind named `name` ([`SweepKind::name`]).
    pub fn from_name(name: &str) -> Option<SweepKind> {
        SweepKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The options of `seed` in this family.
    pub fn options(self, seed: u64) -> SweepOptions {
        match self {
            SweepKind::Mixed => SweepOptions::for_seed(seed),
            SweepKind::HostileLink => SweepOptions::hostile_link(seed),
            SweepKind::StalledPeers => SweepOptions::stalled_peers(seed),
        }
    }
}

/// A run of consecutive losses on the link in the safety phase. It is triggered by
/// traffic rather than by time, so that it hits transfers under way: a burst timed
/// for an idle moment would lose nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// It starts once the link has carried this many frames in its direction (both
    /// directions counted if `direction` is `None`).
    pub after_frames: u64,
    /// Which way it loses frames (`None`: both ways, `frames` each).
    pub direction: Option<Direction>,
    /// How many consecutive frames it loses (cut short if the link heals first).
    pub frames: u32,
    /// It ends after this long even if it has frames left to lose: a link down for
    /// a while, not one that loses the next `frames` however long they take to come.
    pub lasting: Duration,
}

/// Something one end of a connection does on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// The guest application stops reading once `after` bytes arrived, for
    /// `lasting`: its window closes, the engine must probe it and wait.
    GuestStopsReading {
        /// Bytes received before it stops.
        after: usize,
        /// How long it stops.
        lasting: Duration,
    },
    /// The guest sends its data and its FIN at once, never reads the reply (larger
    /// than its receive buffer), and closes its socket after a while: the engine
    /// keeps probing the closed window meanwhile (RFC 9293 §3.8.6.1), then takes the
    /// guest's reset and frees the flow.
    GuestHalfClosesNeverReads,
    /// The host peer stops reading once its socket received `after` bytes, for
    /// `lasting`: the socket's send buffer fills and the engine must close its
    /// window toward the guest, then reopen it.
    HostStopsReading {
        /// Bytes received before it stops.
        after: usize,
        /// How long it stops.
        lasting: Duration,
    },
    /// The host peer resets the connection once it sent `after` of its bytes (before
    /// its last): the guest must get a reset.
    HostResets {
        /// Bytes sent before the reset.
        after: usize,
    },
}

impl Misbehaviour {
    /// How the connection ends by design, if not completed.
    pub fn planned_end(self) -> Option<Outcome> {
        match self {
            Misbehaviour::GuestHalfClosesNeverReads => Some(Outcome::Aborted),
            Misbehaviour::HostResets { .. } => Some(Outcome::Reset),
            _ => None,
        }
    }
}

/// A misbehaviour for one of the connections a sweep plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Which connection: the guest's first, in the order they are planned, then the
    /// host peers'.
    pub conn: usize,
    /// What it does.
    pub what: Misbehaviour,
}

/// The longest a guest in [`SweepOptions::stalled_peers`] stops reading.
pub const GUEST_STALL_MAX: Duration = Duration::from_secs(120);

/// Most engine timer wakeups allowed in one whole simulated second while an end of
/// some connection is stalled, with `conns` connections in the world: each may
/// re-check a window it closed toward the guest, first after
/// [`WINDOW_RECHECK`](passt_core::tcp::WINDOW_RECHECK) and then backing off (eight
/// re-checks reach the one-second ceiling), and a few more wakeups go to persist
/// probes (RFC 9293 §3.8.6.1) and retransmissions, which back off too. A timer that
/// fires more often than that, or stops backing off, shows up here.
pub fn max_stalled_wakeups(conns: usize) -> u32 {
    (conns as u32).saturating_mul(8).saturating_add(10)
}

/// The shortest time either end of a connection waits for a silent link before it
/// gives up with a reset: the engine's handshake timeout and retransmission limit
/// (`passt_core::tcp`), the simulated guest's retransmission limit and keep-alive.
/// The strict sweeps keep their bursts shorter than half of this.
pub fn give_up_time() -> Duration {
    use crate::guest;
    use passt_core::tcp;
    let engine_rtx: Duration = (0..=tcp::MAX_RETRIES).map(tcp::rto).sum();
    let mut rto = guest::RTO_INITIAL;
    let mut guest_rtx = Duration::ZERO;
    for _ in 0..=guest::MAX_RETRIES {
        guest_rtx += rto;
        rto = (rto * 2).min(guest::RTO_MAX);
    }
    let keepalive = guest::KEEPALIVE_IDLE + Duration::from_secs(u64::from(guest::KEEPALIVE_PROBES));
    [tcp::HANDSHAKE_TIMEOUT, engine_rtx, guest_rtx, keepalive]
        .into_iter()
        .min()
        .unwrap_or(Duration::ZERO)
}

/// What one sweep does; [`SweepOptions::for_seed`] derives varied options from a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOptions {
    /// The family these options belong to (named in the replay command).
    pub kind: SweepKind,
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
    /// Bursts of consecutive losses in the safety phase.
    pub bursts: Vec<Burst>,
    /// Connections whose guest or host peer misbehaves on purpose.
    pub plans: Vec<Plan>,
    /// The link's and the guests' TCP shape.
    pub shape: LinkShape,
    /// Every connection must complete byte-exact unless its plan ends it with a reset
    /// (which then must reach the guest), or a burst kept the link down for half of
    /// [`give_up_time`]; a stalled end must not make the engine busy.
    pub strict: bool,
}

impl SweepOptions {
    /// A world without faults: two connections each way.
    pub fn calm() -> SweepOptions {
        SweepOptions {
            kind: SweepKind::Mixed,
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
            bursts: Vec::new(),
            plans: Vec::new(),
            shape: LinkShape::Ethernet,
            strict: false,
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
            kind: SweepKind::Mixed,
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
            bursts: Vec::new(),
            plans: Vec::new(),
            shape: LinkShape::Ethernet,
            strict: false,
        }
    }

    /// Options for a hostile link in front of a healthy host, as the lab tests it: low
    /// rates of loss, duplication and reordering (around 1 %), plus a burst of 10 to
    /// 500 consecutive losses (50 most often) one way or both, starting within the
    /// first 30 frames and over within 4 s, while connections each way move up to
    /// 150 kB (1 MB over a [`LinkShape::Jumbo`] link, one seed in three). Strict:
    /// everything must complete.
    pub fn hostile_link(seed: u64) -> SweepOptions {
        let mut r = Rng::new(seed ^ 0x4c49_4e4b_5f42_5552);
        let outbound = r.range(1, 3);
        let inbound = r.range(0, 2);
        let safety_time = Duration::from_millis(r.range(5000, 30_000) as u64);
        let bursts = vec![Burst {
            after_frames: r.range(0, 30) as u64,
            direction: *r
                .pick(&[Some(Direction::ToGuest), Some(Direction::ToEngine), None])
                .unwrap_or(&None),
            frames: *r.pick(&[10, 50, 50, 50, 100, 200, 500]).unwrap_or(&50),
            lasting: Duration::from_millis(r.range(500, 4000) as u64),
        }];
        let options = SweepOptions {
            kind: SweepKind::HostileLink,
            flows: outbound + inbound + 1,
            outbound,
            inbound,
            max_bytes: *r.pick(&[12_000, 50_000, 150_000]).unwrap_or(&50_000),
            send_space: r.range(4000, 64_000),
            safety_time,
            liveness_bound: Duration::from_secs(400),
            link: LinkFaultRates {
                loss: *r.pick(&[0, 5, 10, 10, 20]).unwrap_or(&10),
                duplicate: *r.pick(&[0, 5, 10, 10, 20]).unwrap_or(&10),
                reorder: *r.pick(&[0, 10, 50, 150]).unwrap_or(&10),
                corrupt: 0,
            },
            host: HostFaultRates::default(),
            peer_reset: 0,
            refuse_connect: 0,
            trace: false,
            sabotage: None,
            bursts,
            plans: Vec::new(),
            shape: LinkShape::Ethernet,
            strict: true,
        };
        options.shaped(&mut r, &[200_000, 500_000, 1_000_000])
    }

    /// Options whose connections misbehave on purpose ([`Misbehaviour`]): most get a
    /// plan — a guest that stops reading for 2 s to 2 minutes, a host peer that stops
    /// reading for 2 s to 5 minutes, a guest that half-closes and never reads, a host
    /// peer that resets mid-transfer — over a mildly lossy link, sometimes with a
    /// burst. Strict.
    ///
    /// A guest stops for at most [`GUEST_STALL_MAX`]: the engine gives up on a
    /// zero window that lasts longer (see the `guest_zero_window_for_five_minutes`
    /// test).
    pub fn stalled_peers(seed: u64) -> SweepOptions {
        let mut r = Rng::new(seed ^ 0x5354_414c_4c5f_5045);
        let outbound = r.range(1, 3);
        let inbound = r.range(0, 2);
        let safety_time = Duration::from_millis(r.range(500, 3000) as u64);
        let mut plans = Vec::new();
        let guest_lasting = |r: &mut Rng| {
            let max = GUEST_STALL_MAX.as_secs();
            Duration::from_secs(*r.pick(&[2, 20, 60, 60, max]).unwrap_or(&60))
        };
        let host_lasting =
            |r: &mut Rng| Duration::from_secs(*r.pick(&[2, 20, 60, 60, 150, 300]).unwrap_or(&60));
        for conn in 0..outbound + inbound {
            let what = match r.below(6) {
                0 => continue,
                1 => Misbehaviour::GuestStopsReading {
                    after: r.range(0, 5000),
                    lasting: guest_lasting(&mut r),
                },
                2 => Misbehaviour::GuestHalfClosesNeverReads,
                3 => Misbehaviour::HostStopsReading {
                    after: r.range(0, 5000),
                    lasting: host_lasting(&mut r),
                },
                4 => Misbehaviour::HostResets {
                    after: r.range(0, 5000),
                },
                _ => Misbehaviour::GuestStopsReading {
                    after: r.range(0, 5000),
                    lasting: guest_lasting(&mut r),
                },
            };
            plans.push(Plan { conn, what });
        }
        let bursts = if r.chance(1, 3) {
            vec![Burst {
                after_frames: r.range(0, 40) as u64,
                direction: None,
                frames: *r.pick(&[10, 50, 100]).unwrap_or(&50),
                lasting: Duration::from_millis(r.range(500, 4000) as u64),
            }]
        } else {
            Vec::new()
        };
        let options = SweepOptions {
            kind: SweepKind::StalledPeers,
            flows: outbound + inbound + 1,
            outbound,
            inbound,
            max_bytes: *r.pick(&[3000, 12_000, 40_000]).unwrap_or(&12_000),
            send_space: r.range(2000, 40_000),
            safety_time,
            liveness_bound: Duration::from_secs(400),
            link: LinkFaultRates {
                loss: r.range(0, 10) as u16,
                duplicate: r.range(0, 10) as u16,
                reorder: r.range(0, 50) as u16,
                corrupt: 0,
            },
            host: HostFaultRates::default(),
            peer_reset: 0,
            refuse_connect: 0,
            trace: false,
            sabotage: None,
            bursts,
            plans,
            shape: LinkShape::Ethernet,
            strict: true,
        };
        options.shaped(&mut r, &[40_000, 200_000, 1_000_000])
    }

    /// These options over a link of a shape drawn from `r` ([`LinkShape::pick`]): a
    /// jumbo one moves one of `jumbo_bytes` per connection and end, and its host
    /// sockets take 200 kB to 4 MB. Drawn after everything else, so that the
    /// Ethernet seeds stay what they were.
    fn shaped(mut self, r: &mut Rng, jumbo_bytes: &[usize]) -> SweepOptions {
        self.shape = LinkShape::pick(r);
        if self.shape == LinkShape::Jumbo {
            self.max_bytes = *r.pick(jumbo_bytes).unwrap_or(&self.max_bytes);
            self.send_space = r.range(200_000, 4_000_000);
        }
        self
    }

    /// The misbehaviour planned for connection `conn`, if any.
    pub fn plan_for(&self, conn: usize) -> Option<Misbehaviour> {
        self.plans.iter().find(|p| p.conn == conn).map(|p| p.what)
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
    /// The longest time a burst kept losing frames (from its first loss to its last).
    pub longest_outage: Duration,
    /// Connections that ended in a reset by design ([`Misbehaviour::planned_end`]).
    pub planned_resets: u64,
    /// Connections of a strict sweep that the engine reset after both byte strings
    /// were delivered, each end's FIN included: the engine's last ACK was lost and
    /// the flow was gone when the guest retransmitted its FIN (the engine keeps no
    /// TIME-WAIT, RFC 9293 §3.6). No data is lost.
    pub late_resets: u64,
    /// Ends that stopped reading (guests and host peers).
    pub stalls: u64,
    /// The longest time an end stopped reading.
    pub longest_stall: Duration,
    /// The most engine timer wakeups in one whole simulated second while some end was
    /// stalled.
    pub max_stalled_wakeups: u32,
    /// The most TCP payload the guest received in one segment.
    pub largest_segment_to_guest: usize,
    /// Worlds run over a [`LinkShape::Jumbo`] link (1 for one sweep; summed over many).
    pub jumbo_links: u64,
}

/// A failed sweep: which seed, where, and what broke.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The family of its options.
    pub kind: SweepKind,
    /// The phase.
    pub phase: Phase,
    /// Virtual time of the failure.
    pub at: Duration,
    /// What was violated.
    pub what: String,
    /// The last events (with [`SweepOptions::trace`]).
    pub trace: Vec<String>,
}

/// The command that replays `seed` of the mixed family with a trace.
pub fn replay_command(seed: u64) -> String {
    replay_command_for(SweepKind::Mixed, seed)
}

/// The command that replays `seed` of the `kind` family with a trace.
pub fn replay_command_for(kind: SweepKind, seed: u64) -> String {
    let kind = match kind {
        SweepKind::Mixed => String::new(),
        k => format!("PASST_SWEEP_KIND={} ", k.name()),
    };
    format!(
        "{kind}PASST_SWEEP_SEED={seed} cargo test -p passt-shim-sim --test sweep -- replay --nocapture"
    )
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SweepKind::Mixed => "",
            SweepKind::HostileLink => "hostile-link ",
            SweepKind::StalledPeers => "stalled-peer ",
        };
        writeln!(
            f,
            "{kind}sweep seed {} failed in the {:?} phase at {:.6} s: {}",
            self.seed,
            self.phase,
            self.at.as_secs_f64(),
            self.what
        )?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(f, "replay: {}", replay_command_for(self.kind, self.seed))
    }
}

/// Run one sweep.
pub fn sweep(seed: u64, options: &SweepOptions) -> Result<SweepStats, Failure> {
    let mut storage = SimStorage::with_flows(options.flows);
    let mut rng = Rng::new(seed);
    let mut config = default_config();
    config.seed = rng.next_u64();
    config.services.ra = false;
    if options.shape == LinkShape::Jumbo {
        config.mtu = Some(65520);
        config.offload.tcp_segment_max = 65495;
        config.offload.tcp_checksum = true;
    }
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
            kind: options.kind,
            phase: Phase::Safety,
            at: Duration::ZERO,
            what: "cannot configure the forwarded port".into(),
            trace: Vec::new(),
        })?;
    let engine = Engine::new(config, storage.lend()).map_err(|e| Failure {
        seed,
        kind: options.kind,
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

/// Guest TCP parameters for one connection over a link of `shape`.
fn pick_params(rng: &mut Rng, shape: LinkShape) -> GuestParams {
    if shape == LinkShape::Jumbo {
        return GuestParams {
            mss: rng.range(16_000, 65_460) as u16,
            wscale: Some(rng.range(7, 10) as u8),
            rcv_buf: rng.range(200_000, 4_000_000),
            ack_delay: Duration::from_micros(rng.range(0, 40_000) as u64),
            read_delay: Duration::from_micros(rng.range(0, 50_000) as u64),
            close_first: rng.chance(1, 2),
            stall: None,
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The strict families may demand that everything completes only because their
    /// bursts end before any end has cause to give up.
    #[test]
    fn strict_bursts_stay_shorter_than_half_the_give_up_time() {
        assert!(
            give_up_time() >= Duration::from_secs(8),
            "{:?}",
            give_up_time()
        );
        for seed in 0..500 {
            for kind in [SweepKind::HostileLink, SweepKind::StalledPeers] {
                let o = kind.options(seed);
                assert!(o.strict);
                for b in &o.bursts {
                    assert!(b.lasting * 2 < give_up_time(), "{kind:?} {seed}: {b:?}");
                }
                for p in &o.plans {
                    if let Misbehaviour::GuestStopsReading { lasting, .. } = p.what {
                        assert!(lasting <= GUEST_STALL_MAX);
                    }
                }
            }
        }
    }
}
