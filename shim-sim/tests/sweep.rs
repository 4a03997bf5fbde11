//! Deterministic simulation sweeps (see `passt_shim_sim::sweep`): many seeds, each a
//! safety phase under faults and a liveness phase after them, in three families.
//!
//! Seed counts (all starting at `PASST_SWEEP_BASE`, default 0):
//! - `PASST_SWEEP_SEEDS=N`: the mixed family (default 5000);
//! - `PASST_SWEEP_LINK_SEEDS=N`: the hostile link, bursts included (default 100);
//! - `PASST_SWEEP_STALL_SEEDS=N`: stalled, half-closing and resetting peers
//!   (default 60).
//!
//! A failing seed prints the command that replays it with a trace:
//! `[PASST_SWEEP_KIND=link|stall] PASST_SWEEP_SEED=S cargo test -p passt-shim-sim --test sweep -- replay --nocapture`.

use passt_shim_sim::faults::Direction;
use passt_shim_sim::sweep::{
    replay_command_for, sweep, Burst, Failure, Misbehaviour, Plan, SweepKind, SweepOptions,
    SweepStats,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// Run one seed, turning a panic into a failure that still names the seed.
fn run_seed(seed: u64, options: &SweepOptions) -> Result<SweepStats, String> {
    let kind = options.kind;
    let r = std::panic::catch_unwind(|| sweep(seed, options));
    match r {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(f)) => Err(f.to_string()),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!(
                "sweep seed {seed} panicked: {msg}\nreplay: {}",
                replay_command_for(kind, seed)
            ))
        }
    }
}

/// What a family's seeds did, summed, and how many seeds showed what.
#[derive(Debug, Default)]
struct Totals {
    stats: SweepStats,
    /// Seeds whose burst lost 50 frames or more.
    long_bursts: u64,
    /// Seeds with an end stalled for two minutes or more.
    long_stalls: u64,
}

impl Totals {
    fn add(&mut self, st: &SweepStats) {
        let t = &mut self.stats;
        t.steps += st.steps;
        t.completed += st.completed;
        t.reset += st.reset;
        t.bytes_to_host += st.bytes_to_host;
        t.bytes_to_guest += st.bytes_to_guest;
        t.frames_to_engine += st.frames_to_engine;
        t.frames_to_guest += st.frames_to_guest;
        t.peer_resets += st.peer_resets;
        t.engine_retransmits += st.engine_retransmits;
        t.link_faults.lost += st.link_faults.lost;
        t.link_faults.duplicated += st.link_faults.duplicated;
        t.link_faults.reordered += st.link_faults.reordered;
        t.link_faults.corrupted += st.link_faults.corrupted;
        t.link_faults.burst_lost += st.link_faults.burst_lost;
        t.link_faults.bursts += st.link_faults.bursts;
        t.host_faults.open_emfile += st.host_faults.open_emfile;
        t.host_faults.accept_emfile += st.host_faults.accept_emfile;
        t.host_faults.send_would_block += st.host_faults.send_would_block;
        t.host_faults.send_short += st.host_faults.send_short;
        t.longest_outage = t.longest_outage.max(st.longest_outage);
        t.planned_resets += st.planned_resets;
        t.late_resets += st.late_resets;
        t.stalls += st.stalls;
        t.longest_stall = t.longest_stall.max(st.longest_stall);
        t.max_stalled_wakeups = t.max_stalled_wakeups.max(st.max_stalled_wakeups);
        t.largest_segment_to_guest = t.largest_segment_to_guest.max(st.largest_segment_to_guest);
        t.jumbo_links += st.jumbo_links;
        if st.link_faults.burst_lost >= 50 {
            self.long_bursts += 1;
        }
        if st.longest_stall >= Duration::from_secs(120) {
            self.long_stalls += 1;
        }
    }
}

/// Sweep `count` seeds of `kind` from `PASST_SWEEP_BASE` on every core; fail with the
/// first few failures (each with its replay command).
fn sweep_family(kind: SweepKind, count: u64) -> Totals {
    let base = env_u64("PASST_SWEEP_BASE", 0);
    let next = AtomicU64::new(base);
    let failures = Mutex::new(Vec::new());
    let totals = Mutex::new(Totals::default());
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= base + count {
                    return;
                }
                match run_seed(seed, &kind.options(seed)) {
                    Ok(st) => totals.lock().unwrap().add(&st),
                    Err(f) => failures.lock().unwrap().push((seed, f)),
                }
            });
        }
    });
    let t = totals.into_inner().unwrap();
    eprintln!(
        "swept {} seeds {base}..{} in {:.1} s on {threads} threads: {t:?}",
        kind.name(),
        base + count,
        started.elapsed().as_secs_f64()
    );
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    for (_, f) in failures.iter().take(5) {
        eprintln!("{f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} of {count} {} seeds failed; first: seed {}",
        failures.len(),
        kind.name(),
        failures[0].0
    );
    t
}

#[test]
fn sweep_seeds() {
    let count = env_u64("PASST_SWEEP_SEEDS", 5000);
    let t = sweep_family(SweepKind::Mixed, count).stats;
    // The sweep must exercise what it claims to: completions, resets and every fault.
    assert!(t.completed > count && t.reset > 0, "{t:?}");
    assert!(t.bytes_to_host > 0 && t.bytes_to_guest > 0);
    let l = t.link_faults;
    assert!(l.lost > 0 && l.duplicated > 0 && l.reordered > 0 && l.corrupted > 0);
    let h = t.host_faults;
    assert!(h.open_emfile > 0 && h.send_would_block > 0 && h.send_short > 0);
    assert!(t.peer_resets > 0 && t.engine_retransmits > 0);
}

/// A hostile link in front of a healthy host (about 1 % loss, duplication and
/// reordering, a burst of 10 to 500 consecutive losses, the link down for up to
/// 4 s): every connection completes with both byte strings exact (the engine may
/// reset one whose final ACK was lost, once everything was delivered), then the
/// flows drain and fresh connections work.
#[test]
fn hostile_link_seeds() {
    let count = env_u64("PASST_SWEEP_LINK_SEEDS", 100);
    let totals = sweep_family(SweepKind::HostileLink, count);
    let t = &totals.stats;
    let l = t.link_faults;
    assert!(l.lost > 0 && l.duplicated > 0 && l.reordered > 0, "{t:?}");
    assert!(
        l.bursts >= count * 9 / 10 && l.burst_lost >= 50 * count / 2,
        "{t:?}"
    );
    assert!(t.longest_outage >= Duration::from_secs(3), "{t:?}");
    assert_eq!(
        (l.corrupted, t.peer_resets),
        (0, 0),
        "a healthy host: {t:?}"
    );
    assert!(t.engine_retransmits > 0 && t.completed > 0, "{t:?}");
    // Most seeds lose 50 frames or more in a row.
    assert!(totals.long_bursts > count / 2, "{totals:?}");
    // Some run over a jumbo link, where segments go far beyond any Ethernet MSS.
    assert!(
        t.jumbo_links > 0 && t.largest_segment_to_guest > 16_000,
        "{t:?}"
    );
}

/// Ends that misbehave on purpose: guests that stop reading for up to two minutes,
/// host peers that stop reading for up to five, guests that half-close and never
/// read, host peers that reset mid-transfer. The stalled transfers complete
/// byte-exact, the resets reach the guest, the engine gives up on a guest that will
/// never read, the engine does not spin while an end is stalled, and the flows
/// drain.
#[test]
fn stalled_peer_seeds() {
    let count = env_u64("PASST_SWEEP_STALL_SEEDS", 60);
    let totals = sweep_family(SweepKind::StalledPeers, count);
    let t = &totals.stats;
    assert!(
        t.stalls > count / 2 && totals.long_stalls > count / 20,
        "{totals:?}"
    );
    assert!(t.longest_stall >= Duration::from_secs(290), "{t:?}");
    assert!(t.planned_resets > count / 10, "{t:?}");
    assert!(t.completed > count, "{t:?}");
    assert!(t.jumbo_links > 0, "no jumbo link: {t:?}");
}

/// Replay one seed (`PASST_SWEEP_SEED`, default 0) of one family
/// (`PASST_SWEEP_KIND`: `mixed`, the default, `link` or `stall`) with a trace of
/// every event.
#[test]
fn replay() {
    let seed = env_u64("PASST_SWEEP_SEED", 0);
    let kind = std::env::var("PASST_SWEEP_KIND").unwrap_or_else(|_| "mixed".into());
    let kind = SweepKind::from_name(&kind)
        .unwrap_or_else(|| panic!("PASST_SWEEP_KIND={kind}: not mixed, link or stall"));
    let mut options = kind.options(seed);
    options.trace = true;
    eprintln!("seed {seed}: {options:?}");
    match sweep(seed, &options) {
        Ok(stats) => eprintln!("seed {seed} passed: {stats:?}"),
        Err(f) => panic!("{f}"),
    }
}

/// A sweep without faults completes every connection with its whole byte strings.
#[test]
fn calm_world_completes_everything() {
    for seed in 0..20 {
        let stats = sweep(seed, &SweepOptions::calm()).unwrap_or_else(|f| panic!("{f}"));
        // Two connections each way, plus the four fresh ones.
        assert_eq!(
            (stats.completed, stats.reset),
            (8, 0),
            "seed {seed}: {stats:?}"
        );
        assert_eq!(stats.engine_retransmits, 0, "nothing lost, nothing resent");
    }
}

/// The same seed gives the same run, event for event.
#[test]
fn sweeps_are_deterministic() {
    let options = SweepOptions::for_seed(7);
    let a = sweep(7, &options).map_err(|f| f.to_string());
    let b = sweep(7, &options).map_err(|f| f.to_string());
    assert_eq!(a, b);
}

fn must_fail(seed: u64, options: &SweepOptions) -> Failure {
    match sweep(seed, options) {
        Ok(s) => panic!("seed {seed} passed: {s:?}"),
        Err(f) => f,
    }
}

/// The failure report names the seed and the command that replays it.
#[test]
fn failure_prints_the_replay_command() {
    let mut options = SweepOptions::calm();
    options.flows = 0; // no flow can ever be tracked: nothing completes
    let f = must_fail(3, &options);
    let text = f.to_string();
    assert!(text.contains("sweep seed 3 failed"), "{text}");
    assert!(
        text.contains("PASST_SWEEP_SEED=3 cargo test -p passt-shim-sim --test sweep -- replay"),
        "{text}"
    );
}

/// Each kind of wrongness the checks claim to catch, caught: a host that misbehaves
/// once, the way an engine bug would look from outside, fails the sweep with the
/// matching complaint.
#[test]
fn checks_catch_a_sabotaged_host() {
    use passt_shim_sim::faults::Sabotage;
    let cases = [
        (Sabotage::DuplicateSend, "not a prefix of the guest's"),
        (Sabotage::AckLie, "acknowledged"),
        (Sabotage::ShiftPeek, "wrong bytes"),
        (Sabotage::IgnoreClose, "open connection sockets for"),
    ];
    for (kind, complaint) in cases {
        let mut options = SweepOptions::calm();
        options.sabotage = Some((kind, 3));
        let f = must_fail(1, &options);
        assert!(f.what.contains(complaint), "{kind:?}: {f}");
        assert_eq!(
            f.phase,
            passt_shim_sim::sweep::Phase::Safety,
            "{kind:?}: {f}"
        );
    }
}

/// Seeds that once stalled: a socket with a few hundred bytes of send space left a
/// window below one unit of our window scale, advertised as 0, and no re-check was
/// scheduled because it was still above the guest's (small) MSS.
#[test]
fn seeds_with_a_window_below_one_scale_unit_complete() {
    for seed in [63_360, 100_377] {
        if let Err(f) = sweep(seed, &SweepOptions::for_seed(seed)) {
            panic!("{f}");
        }
    }
}

/// A guest that keeps its window closed for five minutes, answering every zero
/// window probe, keeps its connection: "as long as the receiving TCP peer continues
/// to send acknowledgments in response to the probe segments, the sending TCP peer
/// MUST allow the connection to stay open" (RFC 9293 §3.8.6.1, MUST-26; RFC 1122
/// §4.2.2.17). The transfer then completes byte-exact. (A failure's replay command
/// replays the seed's own options, not these.)
#[test]
fn guest_zero_window_for_five_minutes() {
    for seed in 0..10 {
        let mut options = SweepKind::StalledPeers.options(seed);
        options.plans = vec![Plan {
            conn: 0,
            what: Misbehaviour::GuestStopsReading {
                after: 1000,
                lasting: Duration::from_secs(300),
            },
        }];
        options.bursts.clear();
        let stats = sweep(seed, &options).unwrap_or_else(|f| panic!("{f}"));
        assert!(stats.longest_stall >= Duration::from_secs(299), "{stats:?}");
    }
}

/// A link that lets a single frame toward the engine through between two outages,
/// the second a minute long, longer than either end waits: the guest gives up, its
/// FIN and its RST lost. Once the link heals every flow must still drain and fresh
/// connections work: after 60 s of silence we probe, the guest's RST ends the flow.
/// (A failure's replay command replays the seed's own options, not these.)
#[test]
fn flows_drain_after_a_minute_long_outage() {
    let mut failed = Vec::new();
    for seed in 0..100 {
        let mut options = SweepKind::HostileLink.options(seed);
        let first = 5 + seed % 20;
        let frames = 20 + (seed % 7) as u32 * 10;
        options.bursts = vec![
            Burst {
                after_frames: first,
                direction: Some(Direction::ToEngine),
                frames,
                lasting: Duration::from_secs(20),
            },
            Burst {
                after_frames: first + u64::from(frames) + 1,
                direction: Some(Direction::ToEngine),
                frames: 100_000,
                lasting: Duration::from_secs(60),
            },
        ];
        // Connections may end any way: the link was down past every give-up time.
        options.strict = false;
        if let Err(f) = sweep(seed, &options) {
            failed.push(f.to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} seeds failed; first: {}",
        failed.len(),
        failed[0]
    );
}
