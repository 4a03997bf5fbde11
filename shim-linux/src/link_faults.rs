//! A bad link, for tests: a seeded schedule that loses, duplicates and reorders
//! frames ([`FaultSchedule`]), and [`Faulty`], a guest link that applies one in each
//! direction.
//!
//! The test machines have no `netem` qdisc, so the link is damaged where we own it.
//! The test guests behind passt (`passt-tap-relay`, `passt-vhost-relay`) take a plan
//! with `--faults`; pasta applies one between its tap and the engine when it was
//! built with the `test-link-faults` feature, which only test builds have (the CLI's
//! dev-dependencies turn it on), and [`ENV`] holds a plan.
//!
//! A plan is written `seed=7,loss=10,dup=10,reorder=10,burst=50@4000`: rates in
//! parts per thousand of frames, and `burst=N@K` loses N consecutive frames from
//! frame K on, those of them that come within [`BURST_SPAN`] of the first. Each
//! direction has its own schedule (the same plan, its own random sequence) and its
//! own burst. A frame held back for reordering is overtaken by the next frame in its
//! direction, or released at the end of the loop's turn, so it is never late by more
//! than a batch.

use crate::event_loop::{GuestSource, Received};
use crate::host::GuestLink;
use passt_core::io::TxOffload;
use passt_core::rng::Rng;
use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Environment variable holding pasta's plan (test builds only).
pub const ENV: &str = "PASST_TEST_LINK_FAULTS";

/// Longest a burst lasts, from its first lost frame.
///
/// A burst is an event in time on a real link (a fade, a switch's buffer overflowing).
/// Counted in frames alone, one that starts while the link is quiet — every flow
/// waiting out a retransmission timeout, say — goes on eating each flow's next
/// retransmission, and the waits double: a lab run once lost every frame from its
/// guest for two minutes that way, with a TCP handshake among them.
pub const BURST_SPAN: Duration = Duration::from_millis(200);

/// Largest frame a held or duplicated copy can hold (a 64 KiB super-frame).
const COPY_CAPACITY: usize = 65_536 + 256;

/// What the bad link does to frames, the same in each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Seed of both directions' random choices.
    pub seed: u64,
    /// Frames lost, per thousand.
    pub loss: u16,
    /// Frames delivered twice, per thousand.
    pub duplicate: u16,
    /// Frames overtaken by the next one, per thousand.
    pub reorder: u16,
    /// Consecutive frames lost in one burst (0: no burst).
    pub burst_len: u64,
    /// The first frame of the burst, counting from 0 in each direction.
    pub burst_at: u64,
}

impl FromStr for FaultPlan {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultPlan, String> {
        let mut plan = FaultPlan::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("link faults: '{part}' is not key=value"))?;
            let number = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("link faults: bad number '{v}' in '{part}'"))
            };
            let rate = |v: &str| match number(v)? {
                n @ 0..=1000 => Ok(n as u16),
                _ => Err(format!("link faults: '{part}' is over 1000 per thousand")),
            };
            match key {
                "seed" => plan.seed = number(value)?,
                "loss" => plan.loss = rate(value)?,
                "dup" => plan.duplicate = rate(value)?,
                "reorder" => plan.reorder = rate(value)?,
                "burst" => {
                    let (len, at) = value.split_once('@').unwrap_or((value, "0"));
                    plan.burst_len = number(len)?;
                    plan.burst_at = number(at)?;
                }
                _ => return Err(format!("link faults: unknown key '{key}'")),
            }
        }
        Ok(plan)
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={},loss={},dup={},reorder={},burst={}@{}",
            self.seed, self.loss, self.duplicate, self.reorder, self.burst_len, self.burst_at
        )
    }
}

/// What happens to one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered as sent.
    Deliver,
    /// Never arrives.
    Lose,
    /// Arrives twice in a row.
    Duplicate,
    /// Overtaken by the next frame.
    HoldBack,
}

/// What one direction's schedule did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Frames that met the schedule.
    pub frames: u64,
    /// Frames lost, the burst included.
    pub lost: u64,
    /// Frames the burst lost.
    pub burst: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Frames overtaken.
    pub held_back: u64,
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} frames, {} lost ({} in the burst), {} duplicated, {} reordered",
            self.frames, self.lost, self.burst, self.duplicated, self.held_back
        )
    }
}

/// One direction of the bad link: a fate for every frame, replayable from the plan
/// (and, for the burst's end, the frames' times).
#[derive(Debug, Clone)]
pub struct FaultSchedule {
    plan: FaultPlan,
    rng: Rng,
    counts: FaultCounts,
    /// When the burst lost its first frame.
    burst_began: Option<Instant>,
}

impl FaultSchedule {
    /// The schedule for one direction of `plan`; the two directions of a link pass
    /// different `direction` numbers so their choices differ.
    pub fn new(plan: FaultPlan, direction: u64) -> FaultSchedule {
        FaultSchedule {
            plan,
            rng: Rng::new(plan.seed ^ direction.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            counts: FaultCounts::default(),
            burst_began: None,
        }
    }

    /// The fate of the next frame, which meets the link at `now`.
    pub fn next_fate(&mut self, now: Instant) -> Fate {
        let index = self.counts.frames;
        self.counts.frames += 1;
        let burst = self.plan.burst_at..self.plan.burst_at.saturating_add(self.plan.burst_len);
        let in_burst = burst.contains(&index)
            && now.duration_since(*self.burst_began.get_or_insert(now)) <= BURST_SPAN;
        if in_burst {
            self.counts.burst += 1;
        }
        // One draw per frame, split into the three rates: the schedule stays the
        // same frame for frame whatever the rates.
        let draw = self.rng.range_inclusive(0, 999) as u16;
        let (loss, dup) = (self.plan.loss, self.plan.duplicate);
        let fate = if in_burst || draw < loss {
            Fate::Lose
        } else if draw < loss + dup {
            Fate::Duplicate
        } else if draw < loss + dup + self.plan.reorder {
            Fate::HoldBack
        } else {
            Fate::Deliver
        };
        match fate {
            Fate::Lose => self.counts.lost += 1,
            Fate::Duplicate => self.counts.duplicated += 1,
            Fate::HoldBack => self.counts.held_back += 1,
            Fate::Deliver => {}
        }
        fate
    }

    /// What the schedule did so far.
    pub fn counts(&self) -> FaultCounts {
        self.counts
    }
}

/// A frame kept for later: held back, or the second copy of a duplicate.
struct Kept {
    bytes: Vec<u8>,
    len: usize,
    checksum_partial: bool,
    offload: Option<TxOffload>,
}

impl Kept {
    fn new() -> Kept {
        Kept {
            bytes: vec![0; COPY_CAPACITY],
            len: 0,
            checksum_partial: false,
            offload: None,
        }
    }

    /// Keep `frame`; false (nothing kept) if it does not fit.
    fn keep(&mut self, frame: &[u8], checksum_partial: bool, offload: Option<&TxOffload>) -> bool {
        let Some(to) = self.bytes.get_mut(..frame.len()) else {
            return false;
        };
        to.copy_from_slice(frame);
        self.len = frame.len();
        self.checksum_partial = checksum_partial;
        self.offload = offload.copied();
        true
    }

    /// Hand the kept frame out into `buf` as if just received.
    fn give(&mut self, buf: &mut [u8]) -> Received {
        let len = self.len.min(buf.len());
        buf[..len].copy_from_slice(&self.bytes[..len]);
        self.len = 0;
        Received {
            start: 0,
            len,
            checksum_partial: self.checksum_partial,
        }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The damage a [`Faulty`] link applies, both directions.
struct Damage {
    to_guest: FaultSchedule,
    from_guest: FaultSchedule,
    /// A frame to the guest waiting to be overtaken.
    held_out: Kept,
    /// A frame from the guest waiting to be overtaken.
    held_in: Kept,
    /// `held_in` was overtaken: hand it out next.
    release_in: bool,
    /// The second copy of a duplicated frame from the guest, handed out next.
    again_in: Kept,
}

/// A guest link that loses, duplicates and reorders frames in both directions as a
/// plan says, or passes everything through unchanged without one. Allocates only
/// when built.
pub struct Faulty<G> {
    inner: G,
    damage: Option<Box<Damage>>,
}

impl<G> Faulty<G> {
    /// Wrap `inner`, damaging its frames as `plan` says (`None`: not at all).
    pub fn new(inner: G, plan: Option<FaultPlan>) -> Faulty<G> {
        let damage = plan.map(|plan| {
            Box::new(Damage {
                to_guest: FaultSchedule::new(plan, 1),
                from_guest: FaultSchedule::new(plan, 2),
                held_out: Kept::new(),
                held_in: Kept::new(),
                release_in: false,
                again_in: Kept::new(),
            })
        });
        Faulty { inner, damage }
    }

    /// Wrap `inner` with the plan in [`ENV`], if it holds one.
    pub fn from_env(inner: G) -> Result<Faulty<G>, String> {
        let plan = match std::env::var(ENV) {
            Ok(text) => Some(text.parse::<FaultPlan>()?),
            Err(_) => None,
        };
        Ok(Faulty::new(inner, plan))
    }

    /// The link itself.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// The link itself, mutably.
    pub fn inner_mut(&mut self) -> &mut G {
        &mut self.inner
    }

    /// What was done to frames (to the guest, from the guest), if anything is.
    pub fn counts(&self) -> Option<(FaultCounts, FaultCounts)> {
        self.damage
            .as_ref()
            .map(|d| (d.to_guest.counts(), d.from_guest.counts()))
    }
}

impl<G: GuestLink> Faulty<G> {
    fn send_as_is(&mut self, frame: &[u8], offload: Option<&TxOffload>) -> io::Result<()> {
        match offload {
            Some(o) => self.inner.send_offload(frame, o),
            None => self.inner.send_frame(frame),
        }
    }

    fn send(&mut self, frame: &[u8], offload: Option<&TxOffload>) -> io::Result<()> {
        let Some(d) = self.damage.as_mut() else {
            return self.send_as_is(frame, offload);
        };
        let fate = d.to_guest.next_fate(Instant::now());
        if fate == Fate::HoldBack && d.held_out.is_empty() && d.held_out.keep(frame, false, offload)
        {
            return Ok(());
        }
        if fate == Fate::Lose {
            return Ok(());
        }
        let r = self.send_as_is(frame, offload);
        if fate == Fate::Duplicate && r.is_ok() {
            let _ = self.send_as_is(frame, offload);
        }
        self.release_held_out();
        r
    }

    /// Send the frame held back for the guest, if any (lost if the link refuses it).
    fn release_held_out(&mut self) {
        let Some(d) = self.damage.as_mut() else {
            return;
        };
        if d.held_out.is_empty() {
            return;
        }
        let copy = &mut d.held_out;
        let frame = &copy.bytes[..copy.len];
        let _ = match &copy.offload {
            Some(o) => self.inner.send_offload(frame, o),
            None => self.inner.send_frame(frame),
        };
        copy.len = 0;
    }
}

impl<G: GuestLink> GuestLink for Faulty<G> {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.send(frame, None)
    }

    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        self.send(frame, Some(offload))
    }

    fn peek_to_guest(
        &mut self,
        fd: BorrowedFd<'_>,
        len: usize,
        headroom: usize,
    ) -> io::Result<usize> {
        // Refused while damaging: such frames would pass by the schedule (the engine
        // is told not to peek, see negotiated_offload).
        if self.damage.is_some() {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.inner.peek_to_guest(fd, len, headroom)
    }

    fn commit_to_guest(&mut self, headers: &[u8], offload: &TxOffload) -> io::Result<()> {
        self.inner.commit_to_guest(headers, offload)
    }
}

impl<G: GuestSource> GuestSource for Faulty<G> {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf).map(|r| {
            if r.start > 0 {
                buf.copy_within(r.start..r.start + r.len, 0);
            }
            r.len
        })
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let Some(d) = self.damage.as_mut() else {
            return self.inner.recv(buf);
        };
        if !d.again_in.is_empty() {
            return Ok(d.again_in.give(buf));
        }
        if d.release_in {
            d.release_in = false;
            return Ok(d.held_in.give(buf));
        }
        loop {
            let r = match self.inner.recv(buf) {
                Ok(r) => r,
                // Nothing more this turn: the held frame goes now, late but not lost.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !d.held_in.is_empty() => {
                    return Ok(d.held_in.give(buf));
                }
                Err(e) => return Err(e),
            };
            if r.len == 0 {
                return Ok(r);
            }
            let frame = &buf[r.start..r.start + r.len];
            match d.from_guest.next_fate(Instant::now()) {
                Fate::Lose => continue,
                Fate::HoldBack
                    if d.held_in.is_empty() && d.held_in.keep(frame, r.checksum_partial, None) =>
                {
                    continue
                }
                Fate::Duplicate => {
                    d.again_in.keep(frame, r.checksum_partial, None);
                }
                Fate::Deliver | Fate::HoldBack => {}
            }
            d.release_in = !d.held_in.is_empty();
            return Ok(r);
        }
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.poll_fd()
    }

    fn frames_pending(&self) -> bool {
        self.damage
            .as_ref()
            .is_some_and(|d| !d.again_in.is_empty() || !d.held_in.is_empty())
            || self.inner.frames_pending()
    }

    fn after_batch(&mut self) {
        self.release_held_out();
        self.inner.after_batch();
    }

    fn negotiated_offload(&self) -> Option<passt_core::config::Offload> {
        let damaged = self.damage.is_some();
        self.inner
            .negotiated_offload()
            .map(|o| passt_core::config::Offload {
                direct_peek: o.direct_peek && !damaged,
                ..o
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_read_and_print_the_same() {
        let plan: FaultPlan = "seed=7,loss=10,dup=10,reorder=10,burst=50@4000"
            .parse()
            .unwrap();
        assert_eq!(
            plan,
            FaultPlan {
                seed: 7,
                loss: 10,
                duplicate: 10,
                reorder: 10,
                burst_len: 50,
                burst_at: 4000
            }
        );
        assert_eq!(plan.to_string().parse::<FaultPlan>(), Ok(plan));
        assert!("loss=1001".parse::<FaultPlan>().is_err());
        assert!("drop=1".parse::<FaultPlan>().is_err());
        assert!("loss".parse::<FaultPlan>().is_err());
    }

    #[test]
    fn schedules_replay_and_honour_rates_and_the_burst() {
        let plan = FaultPlan {
            seed: 3,
            loss: 10,
            duplicate: 20,
            reorder: 30,
            burst_len: 50,
            burst_at: 1000,
        };
        // A frame every microsecond: the burst's 50 frames are all within its span.
        let start = Instant::now();
        let fates = |direction| {
            let mut s = FaultSchedule::new(plan, direction);
            (0..100_000)
                .map(|i| s.next_fate(start + Duration::from_micros(i)))
                .collect::<Vec<_>>()
        };
        assert_eq!(fates(1), fates(1));
        assert_ne!(fates(1), fates(2));
        let f = fates(1);
        assert!(f[1000..1050].iter().all(|&x| x == Fate::Lose));
        let count = |fate| f.iter().filter(|&&x| x == fate).count();
        assert!((800..1300).contains(&(count(Fate::Lose) - 50)), "loss");
        assert!((1600..2400).contains(&count(Fate::Duplicate)), "dup");
        assert!((2500..3500).contains(&count(Fate::HoldBack)), "reorder");
    }

    /// A burst that begins on a quiet link ends `BURST_SPAN` after its first frame
    /// however few frames it took: the frames after that meet the plain rates again.
    #[test]
    fn a_burst_on_a_quiet_link_ends_after_its_span() {
        let plan = FaultPlan {
            seed: 3,
            burst_len: 50,
            burst_at: 10,
            ..FaultPlan::default()
        };
        let mut s = FaultSchedule::new(plan, 1);
        let start = Instant::now();
        // One frame every 60 ms: four of them fall within the span.
        let fates: Vec<Fate> = (0..60)
            .map(|i| s.next_fate(start + Duration::from_millis(60 * i)))
            .collect();
        let lost: Vec<usize> = (0..60).filter(|&i| fates[i] == Fate::Lose).collect();
        assert_eq!(lost, [10, 11, 12, 13]);
        assert_eq!((s.counts().lost, s.counts().burst), (4, 4));
    }

    /// A link that records what it was sent and hands out numbered frames.
    #[derive(Default)]
    struct Recorder {
        sent: Vec<u8>,
        pending: std::collections::VecDeque<u8>,
    }

    impl GuestLink for Recorder {
        fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
            self.sent.push(frame[0]);
            Ok(())
        }
    }

    impl GuestSource for Recorder {
        fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let b = self.pending.pop_front().ok_or(io::ErrorKind::WouldBlock)?;
            buf[0] = b;
            Ok(1)
        }

        fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
            None
        }
    }

    /// Every frame arrives but the lost ones, duplicates right behind the first
    /// copy, held frames no later than the end of the batch.
    #[test]
    fn faulty_links_apply_the_schedule_both_ways() {
        let plan = FaultPlan {
            seed: 11,
            loss: 100,
            duplicate: 100,
            reorder: 200,
            ..FaultPlan::default()
        };
        let mut link = Faulty::new(Recorder::default(), Some(plan));
        let mut expect = FaultSchedule::new(plan, 1);
        let mut buf = [0u8; 4];
        for batch in 0..50u8 {
            for i in 0..5u8 {
                link.send_frame(&[batch * 5 + i]).unwrap();
            }
            link.after_batch();
            link.inner_mut()
                .pending
                .extend((0..5u8).map(|i| batch * 5 + i));
            let mut got = Vec::new();
            while let Ok(n) = link.recv_frame(&mut buf) {
                assert_eq!(n, 1);
                got.push(buf[0]);
            }
            // Within a batch, each frame is at most one place late.
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert!(sorted.iter().all(|&f| f / 5 == batch));
        }
        let now = Instant::now();
        let fates: Vec<Fate> = (0..250).map(|_| expect.next_fate(now)).collect();
        let survivors = fates.iter().filter(|&&f| f != Fate::Lose).count()
            + fates.iter().filter(|&&f| f == Fate::Duplicate).count();
        assert_eq!(link.inner().sent.len(), survivors);
        let (to_guest, from_guest) = link.counts().unwrap();
        assert_eq!(to_guest.frames, 250);
        assert_eq!(from_guest.frames, 250);
        assert!(to_guest.lost > 0 && to_guest.duplicated > 0 && to_guest.held_back > 0);
    }

    #[test]
    fn without_a_plan_nothing_changes() {
        let mut link = Faulty::new(Recorder::default(), None);
        for i in 0..100u8 {
            link.send_frame(&[i]).unwrap();
        }
        assert_eq!(link.inner().sent, (0..100).collect::<Vec<u8>>());
        assert!(link.counts().is_none());
    }
}
