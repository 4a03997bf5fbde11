//! Brief busy-polling after light traffic: the event loop looks for more work without
//! sleeping for a few tens of microseconds after a wakeup that carried only small
//! frames.
//!
//! In a request/response exchange every frame otherwise costs a sleep in
//! `epoll_pwait` and a wakeup (a context switch) on each of its two hops through us,
//! and on a 2-core machine that scheduling, not our work, sets the rate: measured
//! with `bench/run` (TCP RR ~68k → ~95k transactions/s, CRR ~27k → ~32k, UDP RR
//! ~74k → ~104k, README "Where the time goes"). After bulk traffic either way (a
//! frame larger than [`MAX_FRAME`] from or to the guest, or a splice that moved as
//! much) the loop does not spin: there, spinning took the CPU the other parties
//! needed (upload at MTU 1500 halved when it did; a UDP download at 1472-byte
//! datagrams ran at 0.95 Gbit/s spinning, 1.25–1.32 without). An idle link costs
//! nothing: spinning only follows events, and ends [`WINDOW`] after the last one.

use core::time::Duration;
use passt_core::Instant;

/// How long to keep looking after the last event that was not bulk traffic.
pub const WINDOW: Duration = Duration::from_micros(50);
/// A frame longer than this (bytes) is bulk traffic.
pub const MAX_FRAME: usize = 1024;

/// When the event loop may sleep again.
#[derive(Debug, Clone, Copy)]
pub struct Spin {
    until: Instant,
    bulk: bool,
}

impl Spin {
    /// No spinning until the first event.
    pub fn new(now: Instant) -> Spin {
        Spin {
            until: now,
            bulk: false,
        }
    }

    /// A frame of `len` bytes went to or came from the guest in this wakeup (or a
    /// splice moved `len` bytes).
    pub fn frame(&mut self, len: usize) {
        self.bulk |= len > MAX_FRAME;
    }

    /// A wakeup that delivered `events` events ended at `now`.
    pub fn wakeup_done(&mut self, events: usize, now: Instant) {
        if events > 0 {
            self.until = if self.bulk { now } else { now + WINDOW };
        }
        self.bulk = false;
    }

    /// How long the next wait may sleep, given the `sleep` the loop wants.
    pub fn timeout(&self, now: Instant, sleep: Duration) -> Duration {
        if now < self.until {
            Duration::ZERO
        } else {
            sleep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: u64) -> Instant {
        Instant::from_nanos(1_000_000_000 + us * 1000)
    }

    const SLEEP: Duration = Duration::from_millis(900);

    #[test]
    fn small_frames_keep_the_loop_awake_for_the_window_only() {
        let mut s = Spin::new(at(0));
        assert_eq!(s.timeout(at(0), SLEEP), SLEEP, "idle: sleeps");
        s.frame(66);
        s.wakeup_done(1, at(10));
        assert_eq!(s.timeout(at(10), SLEEP), Duration::ZERO);
        assert_eq!(s.timeout(at(59), SLEEP), Duration::ZERO);
        assert_eq!(s.timeout(at(60), SLEEP), SLEEP, "window over: sleeps");
    }

    #[test]
    fn socket_events_alone_count_as_light() {
        let mut s = Spin::new(at(0));
        s.wakeup_done(2, at(5));
        assert_eq!(s.timeout(at(20), SLEEP), Duration::ZERO);
    }

    #[test]
    fn a_bulk_frame_ends_the_spinning_at_once() {
        let mut s = Spin::new(at(0));
        s.frame(66);
        s.wakeup_done(1, at(10));
        s.frame(66);
        s.frame(65_000);
        s.wakeup_done(1, at(20));
        assert_eq!(s.timeout(at(21), SLEEP), SLEEP);
        // The next light wakeup spins again.
        s.frame(66);
        s.wakeup_done(1, at(30));
        assert_eq!(s.timeout(at(31), SLEEP), Duration::ZERO);
    }

    #[test]
    fn an_empty_wait_does_not_extend_the_window() {
        let mut s = Spin::new(at(0));
        s.wakeup_done(1, at(0));
        s.wakeup_done(0, at(40));
        assert_eq!(s.timeout(at(50), SLEEP), SLEEP);
    }
}
