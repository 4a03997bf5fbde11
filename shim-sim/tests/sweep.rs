//! Deterministic simulation sweeps (see `passt_shim_sim::sweep`): many seeds, each a
//! safety phase under faults and a liveness phase after them.
//!
//! `PASST_SWEEP_SEEDS=N` sweeps N seeds (default 5000) starting at
//! `PASST_SWEEP_BASE` (default 0). A failing seed prints the command that replays it
//! with a trace: `PASST_SWEEP_SEED=S cargo test -p passt-shim-sim --test sweep -- replay --nocapture`.

use passt_shim_sim::sweep::{replay_command, sweep, Failure, SweepOptions, SweepStats};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

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
                replay_command(seed)
            ))
        }
    }
}

#[test]
fn sweep_seeds() {
    let base = env_u64("PASST_SWEEP_BASE", 0);
    let count = env_u64("PASST_SWEEP_SEEDS", 5000);
    let next = AtomicU64::new(base);
    let failures = Mutex::new(Vec::new());
    let totals = Mutex::new(SweepStats::default());
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= base + count {
                    return;
                }
                match run_seed(seed, &SweepOptions::for_seed(seed)) {
                    Ok(st) => {
                        let mut t = totals.lock().unwrap();
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
                        t.host_faults.open_emfile += st.host_faults.open_emfile;
                        t.host_faults.accept_emfile += st.host_faults.accept_emfile;
                        t.host_faults.send_would_block += st.host_faults.send_would_block;
                        t.host_faults.send_short += st.host_faults.send_short;
                    }
                    Err(f) => failures.lock().unwrap().push((seed, f)),
                }
            });
        }
    });
    let t = totals.into_inner().unwrap();
    eprintln!(
        "swept seeds {base}..{} in {:.1} s on {threads} threads: {t:?}",
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
        "{} of {count} seeds failed; first: seed {}",
        failures.len(),
        failures[0].0
    );
    // The sweep must exercise what it claims to: completions, resets and every fault.
    assert!(t.completed > count && t.reset > 0, "{t:?}");
    assert!(t.bytes_to_host > 0 && t.bytes_to_guest > 0);
    let l = t.link_faults;
    assert!(l.lost > 0 && l.duplicated > 0 && l.reordered > 0 && l.corrupted > 0);
    let h = t.host_faults;
    assert!(h.open_emfile > 0 && h.send_would_block > 0 && h.send_short > 0);
    assert!(t.peer_resets > 0 && t.engine_retransmits > 0);
}

/// Replay one seed (`PASST_SWEEP_SEED`, default 0) with a trace of every event.
#[test]
fn replay() {
    let seed = env_u64("PASST_SWEEP_SEED", 0);
    let mut options = SweepOptions::for_seed(seed);
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
