//! [`Sim`]: one engine, a virtual clock, the frames the engine sent to the guest, a
//! random generator of the simulator's own, and the record/replay log.
//!
//! Time only moves when the caller says so. Advancing to `T` runs every engine
//! deadline at or before `T` in order — the clock jumps to each one — and then sets the
//! clock to `T`. A bounded number of timer steps per advance turns an engine that keeps
//! asking for immediate timeouts into [`SimError::Livelock`] instead of a hang.

use crate::host::{OwnedOp, SimHost};
use crate::log::{Input, Log};
use crate::rng::Rng;
use crate::storage::SimStorage;
use passt_core::{
    Config, Engine, EngineError, Event, GuestState, HostError, Instant, OpResult, Stats,
};
use std::collections::VecDeque;
use std::fmt;

/// Default bound on timer steps within one advance.
pub const MAX_TIMER_STEPS: usize = 100_000;

/// A frame the engine sent to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    /// When it was sent.
    pub at: Instant,
    /// The Ethernet frame.
    pub frame: Vec<u8>,
}

/// What went wrong while driving the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// The engine kept asking for timeouts: more than the step bound within one advance.
    Livelock {
        /// The clock when the bound was hit.
        at: Instant,
        /// Timer steps taken.
        steps: usize,
    },
    /// Asked to move the clock backwards.
    TimeWentBackwards {
        /// The clock.
        now: Instant,
        /// The requested time.
        to: Instant,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Livelock { at, steps } => write!(
                f,
                "livelock: {steps} timer steps without reaching the target time (clock at {})",
                crate::log::format_time(*at)
            ),
            SimError::TimeWentBackwards { now, to } => write!(
                f,
                "cannot move the clock back from {} to {}",
                crate::log::format_time(*now),
                crate::log::format_time(*to)
            ),
        }
    }
}

impl std::error::Error for SimError {}

/// A simulated guest link around one [`Engine`].
///
/// The engine borrows its memory from the caller, so the storage outlives the
/// simulator: `let mut mem = SimStorage::new(); let mut sim = Sim::new(config, "", &mut mem)?;`
pub struct Sim<'a> {
    engine: Engine<'a>,
    now: Instant,
    host: SimHost,
    outbox: VecDeque<Emitted>,
    rng: Rng,
    log: Log,
    max_timer_steps: usize,
}

/// Seed tweak so the simulator's generator differs from the engine's for the same seed.
const SIM_RNG_SALT: u64 = 0x7061_7373_742d_7369;

impl<'a> Sim<'a> {
    /// Start an engine with `config` over `storage`, at time zero, link down.
    /// `config_text` (the `config …` lines it was built from) heads the log so that
    /// the log replays on its own.
    pub fn new(
        config: Config,
        config_text: &str,
        storage: &'a mut SimStorage,
    ) -> Result<Sim<'a>, EngineError> {
        let seed = config.seed;
        let engine = Engine::new(config, storage.lend())?;
        Ok(Sim {
            engine,
            now: Instant::ZERO,
            host: SimHost::new(),
            outbox: VecDeque::new(),
            rng: Rng::new(seed ^ SIM_RNG_SALT),
            log: Log::new(config_text),
            max_timer_steps: MAX_TIMER_STEPS,
        })
    }

    /// Change the bound on timer steps per advance.
    pub fn set_max_timer_steps(&mut self, steps: usize) {
        self.max_timer_steps = steps;
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The engine, for inspection.
    pub fn engine(&self) -> &Engine<'a> {
        &self.engine
    }

    /// The engine's counters.
    pub fn stats(&self) -> &Stats {
        self.engine.stats()
    }

    /// What the engine learned about the guest.
    pub fn guest(&self) -> &GuestState {
        self.engine.guest()
    }

    /// The simulator's random generator.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The log so far.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Frames sent to the guest and not yet taken, oldest first.
    pub fn outbox(&self) -> &VecDeque<Emitted> {
        &self.outbox
    }

    /// Take the oldest frame sent to the guest.
    pub fn pop_frame(&mut self) -> Option<Emitted> {
        self.outbox.pop_front()
    }

    /// Make the next `count` ops fail with `error`.
    pub fn fail_next_ops(&mut self, error: HostError, count: usize) {
        self.host.fail_next(error, count);
    }

    /// Feed one input to the engine at the current time, logging it and its ops.
    pub fn input(&mut self, input: Input) {
        self.log.input(self.now, &input);
        let now = self.now;
        match &input {
            Input::LinkUp => self.engine.handle_event(now, Event::TapUp, &mut self.host),
            Input::LinkDown => self
                .engine
                .handle_event(now, Event::TapDown, &mut self.host),
            Input::Tap(frame) => {
                // A tap frame is a batch of one: flush what the engine held back.
                self.engine
                    .handle_event(now, Event::TapFrame(frame), &mut self.host);
                self.engine.flush(now, &mut self.host);
            }
            Input::Timeout => self.engine.handle_timeout(now, &mut self.host),
        }
        for rec in self.host.take() {
            self.log.op(&rec.op, rec.result, rec.data.as_deref());
            match (rec.op, rec.result) {
                (OwnedOp::TapSend(_) | OwnedOp::TapSendOffload(..), OpResult::Err(_))
                | (OwnedOp::Socket(_), _) => {}
                (OwnedOp::TapSend(frame), _) => self.outbox.push_back(Emitted { at: now, frame }),
                (OwnedOp::TapSendOffload(frame, offload), _) => {
                    for frame in crate::offload::finish(&frame, &offload) {
                        self.outbox.push_back(Emitted { at: now, frame });
                    }
                }
            }
        }
    }

    /// Feed a frame from the guest.
    pub fn tap_frame(&mut self, frame: &[u8]) {
        self.input(Input::Tap(frame.to_vec()));
    }

    /// Bring the guest link up.
    pub fn link_up(&mut self) {
        self.input(Input::LinkUp);
    }

    /// Take the guest link down.
    pub fn link_down(&mut self) {
        self.input(Input::LinkDown);
    }

    /// Run the earliest engine deadline if it is at or before `limit`, jumping the
    /// clock to it (never backwards). Returns whether a deadline ran.
    pub fn step_timer(&mut self, limit: Instant) -> bool {
        match self.engine.poll_timeout() {
            Some(deadline) if deadline <= limit => {
                self.now = self.now.max(deadline);
                self.input(Input::Timeout);
                true
            }
            _ => false,
        }
    }

    /// Run every deadline up to `to` in order, then set the clock to `to`.
    pub fn advance_to(&mut self, to: Instant) -> Result<(), SimError> {
        self.advance_until(to, |_| false).map(|_| ())
    }

    /// Advance by `d`.
    pub fn advance_by(&mut self, d: std::time::Duration) -> Result<(), SimError> {
        self.advance_to(self.now + d)
    }

    /// Like [`Sim::advance_to`], but stop right after the timer step that makes
    /// `stop(self)` true. Returns whether it stopped early (the clock is then at that
    /// deadline, not at `to`).
    pub fn advance_until(
        &mut self,
        to: Instant,
        mut stop: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimError> {
        if to < self.now {
            return Err(SimError::TimeWentBackwards { now: self.now, to });
        }
        let mut steps = 0;
        while self.step_timer(to) {
            steps += 1;
            if stop(self) {
                return Ok(true);
            }
            if steps >= self.max_timer_steps {
                return Err(SimError::Livelock {
                    at: self.now,
                    steps,
                });
            }
        }
        self.now = to;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passt_core::config::Ipv6Config;
    use passt_core::Mode;
    use std::time::Duration;

    fn v6_config() -> Config {
        let mut c = Config::new(Mode::Passt);
        c.ipv6 = Some(Ipv6Config {
            addr: "2001:db8::2".parse().unwrap(),
            prefix_len: 64,
            gateway: "fe80::1".parse().unwrap(),
            our_link_local: "fe80::1".parse().unwrap(),
        });
        c.seed = 3;
        c
    }

    #[test]
    fn clock_jumps_to_each_deadline_in_order() {
        let mut tx = SimStorage::new();
        let mut sim = Sim::new(v6_config(), "", &mut tx).unwrap();
        sim.link_up();
        let mut deadlines = Vec::new();
        let end = Instant::from_secs(3000);
        while let Some(d) = sim.engine().poll_timeout().filter(|d| *d <= end) {
            deadlines.push(d);
            assert!(sim.step_timer(end));
            assert_eq!(sim.now(), d, "the clock sits on the deadline it ran");
        }
        assert!(deadlines.len() >= 4, "RA every 200-600 s: {deadlines:?}");
        assert!(deadlines.windows(2).all(|w| w[0] < w[1]));

        // The same engine driven by one big advance handles the same deadlines.
        let mut tx2 = SimStorage::new();
        let mut sim2 = Sim::new(v6_config(), "", &mut tx2).unwrap();
        sim2.link_up();
        sim2.advance_to(end).unwrap();
        assert_eq!(sim2.now(), end);
        let timeouts: Vec<&String> = sim2
            .log()
            .lines()
            .iter()
            .filter(|l| l.ends_with(" timeout"))
            .collect();
        assert_eq!(timeouts.len(), deadlines.len());
        for (line, d) in timeouts.iter().zip(&deadlines) {
            assert!(line.starts_with(&crate::log::format_time(*d)), "{line}");
        }
    }

    #[test]
    fn no_deadline_before_link_up_and_time_only_moves_forward() {
        let mut tx = SimStorage::new();
        let mut sim = Sim::new(v6_config(), "", &mut tx).unwrap();
        sim.advance_by(Duration::from_secs(10_000)).unwrap();
        assert_eq!(sim.log().lines().len(), 1, "only the header");
        assert_eq!(
            sim.advance_to(Instant::from_secs(1)),
            Err(SimError::TimeWentBackwards {
                now: Instant::from_secs(10_000),
                to: Instant::from_secs(1)
            })
        );
    }

    #[test]
    fn step_bound_reports_livelock() {
        let mut tx = SimStorage::new();
        let mut sim = Sim::new(v6_config(), "", &mut tx).unwrap();
        sim.link_up();
        sim.set_max_timer_steps(2);
        let err = sim.advance_to(Instant::from_secs(100_000)).unwrap_err();
        assert!(matches!(err, SimError::Livelock { steps: 2, .. }), "{err}");
    }

    #[test]
    fn frames_are_logged_and_counted() {
        let mut tx = SimStorage::new();
        let mut sim = Sim::new(v6_config(), "config x", &mut tx).unwrap();
        sim.tap_frame(&[0; 13]);
        assert_eq!(sim.stats().drops(passt_core::DropReason::EthTruncated), 1);
        assert_eq!(
            sim.log().lines(),
            &[
                crate::log::HEADER.to_string(),
                "config x".to_string(),
                "0.000000000 tap< 00000000000000000000000000".to_string()
            ]
        );
    }
}
