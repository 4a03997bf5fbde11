//! Property-based models of passt-core, in `tests/`:
//! - `flow_table.rs`: the flow table against a `BTreeMap` model;
//! - `forwarding.rs`: port specs and the forwarding table against a port-by-port
//!   model; `nat.rs`: address translation against passt-reference §5;
//! - `byte_stream.rs`: a byte string sent either way through the engine arrives
//!   exactly, in order, whatever the segmentation, loss, duplication and
//!   reordering on the guest link.
//!
//! This library holds the [`Rig`] those tests drive the engine with: an engine on
//! owned storage, the modelled host, and a virtual clock.

use passt_core::{Config, Engine, Event, Instant};
use passt_shim_sim::sockets::SimSockets;
use passt_shim_sim::testbed::Segment;
use passt_shim_sim::SimStorage;
use proptest::test_runner::{Config as ProptestConfig, RngSeed};
use std::time::Duration;

/// The property-test configuration: `cases` cases from a fixed seed, so CI runs
/// the same cases every time; set `PROPTEST_RNG_SEED=N` to explore others and
/// `PROPTEST_CASES=N` for more.
pub fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x0070_6173_7374);
    }
    c
}

/// An engine on borrowed storage, the host model, and a virtual clock.
pub struct Rig<'s> {
    /// The engine under test.
    pub engine: Engine<'s>,
    /// The modelled host.
    pub host: SimSockets,
    /// Virtual time.
    pub now: Instant,
}

impl<'s> Rig<'s> {
    /// An engine over `config` on `storage`, its link up.
    pub fn new(storage: &'s mut SimStorage, config: Config) -> Rig<'s> {
        let engine = Engine::new(config, storage.lend()).expect("valid test configuration");
        let mut rig = Rig {
            engine,
            host: SimSockets::new(),
            now: Instant::ZERO,
        };
        rig.host.tracing = false;
        rig.engine
            .handle_event(rig.now, Event::TapUp, &mut rig.host);
        rig
    }

    /// Feed a segment from the guest, then deliver the socket readiness it caused.
    pub fn send(&mut self, seg: &Segment) {
        let frame = seg.to_frame(self.engine.config().our_mac);
        self.engine
            .handle_event(self.now, Event::TapFrame(&frame), &mut self.host);
        self.settle();
    }

    /// End the batch (held-back ACKs go out, as after an epoll wakeup), then deliver
    /// queued socket readiness until none is left; check the invariants.
    pub fn settle(&mut self) {
        self.engine.flush(self.now, &mut self.host);
        for _ in 0..1000 {
            let events = self.host.take_events();
            if events.is_empty() {
                break;
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
        assert!(
            self.host.take_events().is_empty(),
            "socket events did not settle"
        );
        self.check();
    }

    /// Advance virtual time by `d`, firing the timers due on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.engine.handle_timeout(self.now, &mut self.host);
            self.settle();
        }
        self.now = end;
    }

    /// Advance to the engine's next timer (at most `limit` ahead).
    pub fn advance_to_timer(&mut self, limit: Duration) {
        let d = self
            .engine
            .poll_timeout()
            .map_or(limit, |t| t.saturating_since(self.now).min(limit));
        self.advance(d.max(Duration::from_millis(1)));
    }

    /// TCP segments the engine sent the guest since the last call.
    pub fn segments(&mut self) -> Vec<Segment> {
        self.host
            .frames
            .drain(..)
            .filter_map(|f| Segment::from_frame(&f))
            .collect()
    }

    /// Panic if the engine's invariants are broken or it used a closed socket.
    pub fn check(&self) {
        if let Err(e) = self.engine.check_invariants() {
            panic!("engine invariant broken: {e}");
        }
        assert!(self.host.misuse.is_empty(), "{:?}", self.host.misuse);
    }
}
