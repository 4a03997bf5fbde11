//! Fault injection for simulations: host-side failures inside [`SimSockets`] and
//! damage to frames on the guest link.
//!
//! Everything is driven by the simulator's own [`Rng`], so a seed replays the same
//! faults. Both kinds are off by default: a [`SimSockets`] built with
//! [`SimSockets::new`] behaves exactly as without this module.
//!
//! Host faults model what a real kernel does to a busy program:
//! - `EMFILE` from `socket()` (the engine must refuse the guest's connection with a RST)
//!   and from `accept()` (the connection stays queued on the listener);
//! - `EAGAIN` and short writes from `send()` on a socket whose buffer was momentarily
//!   full, followed by writability once it drained (the edge epoll reports).
//!
//! Link faults ([`LinkFaults`]) lose, duplicate, delay (reorder) and damage frames,
//! each with its own rate, and lose *bursts*: a run of consecutive frames in one
//! direction or both ([`LinkFaults::start_burst`]), the link going down for a while
//! as a flapping interface or a saturated queue makes it. [`LinkFaults::heal`] ends
//! every fault at once.
//! Damage differs by direction, because the two receivers differ:
//! - frames *to the guest* get any byte flipped; the guest's TCP verifies checksums
//!   and drops them, as a real stack does;
//! - frames *from the guest* reach an engine that, like passt, trusts the tap link and
//!   verifies no checksum (guests with checksum offload send partial ones). Flipping a
//!   payload byte there would be a lying guest, not a damaged frame, so only fields
//!   whose damage the engine must detect or tolerate are touched: the link header,
//!   IP header fields but the source address, lengths, ports (to 0), the TCP data
//!   offset (below its minimum), the window, the checksum fields, and truncation.
//!
//! [`SimSockets`]: crate::sockets::SimSockets
//! [`SimSockets::new`]: crate::sockets::SimSockets::new

use crate::rng::Rng;
use passt_core::wire::ethernet;

/// Probabilities of host-side failures, in parts per thousand of the operations
/// they apply to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostFaultRates {
    /// `socket()` fails with `EMFILE`.
    pub open_emfile: u16,
    /// `accept()` fails with `EMFILE`; the connection stays in the backlog.
    pub accept_emfile: u16,
    /// `send()` fails with `EAGAIN` although the buffer has room.
    pub send_would_block: u16,
    /// `send()` takes only part of the data.
    pub send_short: u16,
}

/// How many host faults were injected, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostFaultCounts {
    /// `socket()` failures.
    pub open_emfile: u64,
    /// `accept()` failures.
    pub accept_emfile: u64,
    /// `send()` returning `EAGAIN`.
    pub send_would_block: u64,
    /// Short `send()`s.
    pub send_short: u64,
}

/// A deliberately wrong host, for proving that a simulation's checks catch what they
/// claim to: each makes the host model misbehave once, in a way a correct engine
/// cannot hide, as an engine bug would look from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// A `send()` delivers its first byte twice (a stream duplicated in transit).
    DuplicateSend,
    /// A `send()` reports all bytes taken but keeps the last one (the guest would be
    /// acknowledged data the socket never had).
    AckLie,
    /// A peek returns the data one byte further on (what reading at a wrong offset
    /// would send the guest).
    ShiftPeek,
    /// A `close()` is ignored: the socket stays open with no flow (a leak).
    IgnoreClose,
}

/// The host fault generator a [`crate::sockets::SimSockets`] consults on every
/// operation that can fail this way.
#[derive(Debug, Clone)]
pub struct HostFaults {
    /// Current rates; set to [`HostFaultRates::default`] to heal.
    pub rates: HostFaultRates,
    /// What was injected so far.
    pub injected: HostFaultCounts,
    /// Misbehave once, on the `sabotage_after`-th operation it applies to.
    pub sabotage: Option<Sabotage>,
    /// How many eligible operations pass before the sabotage strikes.
    pub sabotage_after: u32,
    rng: Rng,
}

impl Default for HostFaults {
    fn default() -> Self {
        HostFaults::new(0, HostFaultRates::default())
    }
}

impl HostFaults {
    /// A generator with `rates`, its choices determined by `seed`.
    pub fn new(seed: u64, rates: HostFaultRates) -> HostFaults {
        HostFaults {
            rates,
            injected: HostFaultCounts::default(),
            sabotage: None,
            sabotage_after: 0,
            rng: Rng::new(seed),
        }
    }

    /// Whether `kind` strikes on this operation (once).
    pub fn sabotage(&mut self, kind: Sabotage) -> bool {
        if self.sabotage != Some(kind) {
            return false;
        }
        if self.sabotage_after > 0 {
            self.sabotage_after -= 1;
            return false;
        }
        self.sabotage = None;
        true
    }

    /// Whether some fault is enabled.
    pub fn active(&self) -> bool {
        self.rates != HostFaultRates::default()
    }

    fn fire(&mut self, per_mille: u16) -> bool {
        per_mille > 0 && self.rng.chance(u64::from(per_mille), 1000)
    }

    /// Whether this `socket()` fails with `EMFILE`.
    pub fn open_fails(&mut self) -> bool {
        let hit = self.fire(self.rates.open_emfile);
        self.injected.open_emfile += u64::from(hit);
        hit
    }

    /// Whether this `accept()` fails with `EMFILE`.
    pub fn accept_fails(&mut self) -> bool {
        let hit = self.fire(self.rates.accept_emfile);
        self.injected.accept_emfile += u64::from(hit);
        hit
    }

    /// How much of a `len`-byte `send()` (`len > 0`) the socket takes when the buffer
    /// has room for all of it: `None` for all of it, `Some(0)` for `EAGAIN`, or a
    /// short count.
    pub fn send_limit(&mut self, len: usize) -> Option<usize> {
        if self.fire(self.rates.send_would_block) {
            self.injected.send_would_block += 1;
            return Some(0);
        }
        if len > 1 && self.fire(self.rates.send_short) {
            self.injected.send_short += 1;
            return Some(self.rng.range(1, len - 1));
        }
        None
    }
}

/// Probabilities of damage to frames on the guest link, in parts per thousand of
/// frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFaultRates {
    /// The frame is lost.
    pub loss: u16,
    /// The frame arrives twice.
    pub duplicate: u16,
    /// The frame is held back, so later frames overtake it.
    pub reorder: u16,
    /// The frame is damaged (see the module documentation for what that means in
    /// each direction).
    pub corrupt: u16,
}

/// Which way a frame travels on the guest link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the guest to the engine.
    ToEngine,
    /// From the engine to the guest.
    ToGuest,
}

/// What the link does with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fate {
    /// The copies that arrive (none if lost), each with its extra delay in
    /// microseconds on top of the link latency.
    pub copies: Vec<(Vec<u8>, u64)>,
}

/// How many frames the link damaged, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFaultCounts {
    /// Frames lost.
    pub lost: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames held back.
    pub reordered: u64,
    /// Frames damaged.
    pub corrupted: u64,
    /// Frames lost in bursts (not counted in `lost`).
    pub burst_lost: u64,
    /// Bursts started.
    pub bursts: u64,
}

/// The guest link's fault generator.
#[derive(Debug, Clone)]
pub struct LinkFaults {
    /// Current rates; set to [`LinkFaultRates::default`] to heal.
    pub rates: LinkFaultRates,
    /// What was done so far.
    pub injected: LinkFaultCounts,
    /// Frames still to lose in the current burst, toward the engine and toward the
    /// guest.
    burst_left: [u32; 2],
    rng: Rng,
}

/// Longest a held-back frame waits, in microseconds.
pub const MAX_REORDER_DELAY_US: u64 = 20_000;

impl LinkFaults {
    /// A generator with `rates`, its choices determined by `seed`.
    pub fn new(seed: u64, rates: LinkFaultRates) -> LinkFaults {
        LinkFaults {
            rates,
            injected: LinkFaultCounts::default(),
            burst_left: [0; 2],
            rng: Rng::new(seed),
        }
    }

    fn fire(&mut self, per_mille: u16) -> bool {
        per_mille > 0 && self.rng.chance(u64::from(per_mille), 1000)
    }

    fn index(direction: Direction) -> usize {
        match direction {
            Direction::ToEngine => 0,
            Direction::ToGuest => 1,
        }
    }

    /// Lose the next `drops` frames travelling in `direction` (`None`: the next
    /// `drops` frames each way), on top of any burst already under way.
    pub fn start_burst(&mut self, direction: Option<Direction>, drops: u32) {
        self.injected.bursts += 1;
        for d in [Direction::ToEngine, Direction::ToGuest] {
            if direction.is_none_or(|x| x == d) {
                let left = &mut self.burst_left[Self::index(d)];
                *left = left.saturating_add(drops);
            }
        }
    }

    /// Whether a burst is still losing frames in some direction.
    pub fn in_burst(&self) -> bool {
        self.burst_left.iter().any(|n| *n > 0)
    }

    /// Cut every burst under way short (the rates stay).
    pub fn cut_bursts(&mut self) {
        self.burst_left = [0; 2];
    }

    /// End every fault: rates to zero, bursts cut short. The link is clean from now
    /// on.
    pub fn heal(&mut self) {
        self.rates = LinkFaultRates::default();
        self.cut_bursts();
    }

    /// Decide what happens to `frame` travelling in `direction`.
    pub fn apply(&mut self, frame: Vec<u8>, direction: Direction) -> Fate {
        let left = &mut self.burst_left[Self::index(direction)];
        if *left > 0 {
            *left -= 1;
            self.injected.burst_lost += 1;
            return Fate { copies: Vec::new() };
        }
        if self.fire(self.rates.loss) {
            self.injected.lost += 1;
            return Fate { copies: Vec::new() };
        }
        let mut frame = frame;
        if self.fire(self.rates.corrupt) {
            self.injected.corrupted += 1;
            match direction {
                Direction::ToGuest => flip_any_byte(&mut frame, &mut self.rng),
                Direction::ToEngine => damage_guest_frame(&mut frame, &mut self.rng),
            }
        }
        let mut delay = || {
            if self.rng.chance(u64::from(self.rates.reorder), 1000) {
                self.injected.reordered += 1;
                self.rng.below(MAX_REORDER_DELAY_US)
            } else {
                0
            }
        };
        let first = delay();
        let mut copies = vec![(frame.clone(), first)];
        if self.fire(self.rates.duplicate) {
            self.injected.duplicated += 1;
            let second = self.rng.below(MAX_REORDER_DELAY_US / 4);
            copies.push((frame, second));
        }
        Fate { copies }
    }
}

/// XOR one byte anywhere in the frame with a non-zero value.
fn flip_any_byte(frame: &mut [u8], rng: &mut Rng) {
    if frame.is_empty() {
        return;
    }
    let at = rng.below(frame.len() as u64) as usize;
    frame[at] ^= rng.range(1, 255) as u8;
}

/// Damage a frame from the guest in a field whose damage cannot turn it into a
/// different, valid segment of an existing connection (see the module
/// documentation).
fn damage_guest_frame(frame: &mut Vec<u8>, rng: &mut Rng) {
    const ETH: usize = ethernet::HEADER_LEN;
    let ip_version = frame.get(ETH).map(|b| b >> 4);
    let ip_len = match ip_version {
        Some(4) => 20,
        Some(6) => 40,
        _ => {
            flip_any_byte(frame, rng);
            return;
        }
    };
    let tcp = ETH + ip_len;
    if frame.len() < tcp + 20 {
        flip_any_byte(frame, rng);
        return;
    }
    let flip = |frame: &mut Vec<u8>, at: usize, rng: &mut Rng| {
        frame[at] ^= rng.range(1, 255) as u8;
    };
    match rng.below(8) {
        // Link header: MACs and ethertype.
        0 => flip(frame, rng.below(ETH as u64) as usize, rng),
        // IP header fields other than the version, the header length, the source
        // address (a changed source opens a second flow to the same remote, which
        // the host peer could not tell from the guest's) and, for IPv6, the next
        // header (its damage would start an extension-header chain).
        1 => {
            let fields: &[usize] = if ip_version == Some(4) {
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19]
            } else {
                &[1, 2, 3, 4, 5, 7, 24, 31, 39]
            };
            let at = ETH + *rng.pick(fields).unwrap_or(&1);
            flip(frame, at, rng);
        }
        // A port becomes 0.
        2 => {
            let at = tcp + if rng.chance(1, 2) { 0 } else { 2 };
            frame[at] = 0;
            frame[at + 1] = 0;
        }
        // Data offset below the 5-word minimum.
        3 => frame[tcp + 12] = (rng.below(5) as u8) << 4 | (frame[tcp + 12] & 0x0f),
        // The window.
        4 => flip(frame, tcp + 14 + rng.below(2) as usize, rng),
        // The TCP checksum or urgent pointer (unverified, unused without URG).
        5 => flip(frame, tcp + 16 + rng.below(4) as usize, rng),
        // Truncated inside the headers.
        6 => frame.truncate(rng.range(0, tcp + 19)),
        // Trailing garbage beyond the IP packet (Ethernet padding).
        _ => {
            let extra = rng.range(1, 64);
            let junk = rng.bytes(extra);
            frame.extend_from_slice(&junk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_deterministic() {
        let mut h = HostFaults::default();
        assert!(!h.active());
        for _ in 0..1000 {
            assert!(!h.open_fails());
            assert!(!h.accept_fails());
            assert_eq!(h.send_limit(100), None);
        }
        let rates = LinkFaultRates {
            loss: 100,
            duplicate: 100,
            reorder: 100,
            corrupt: 100,
        };
        let run = |seed| {
            let mut l = LinkFaults::new(seed, rates);
            (0..200)
                .map(|i| l.apply(vec![i as u8; 80], Direction::ToGuest))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn a_burst_loses_exactly_its_frames_in_its_direction_until_healed() {
        let mut l = LinkFaults::new(1, LinkFaultRates::default());
        l.start_burst(Some(Direction::ToGuest), 50);
        assert!(l.in_burst());
        for _ in 0..10 {
            let f = l.apply(vec![1; 60], Direction::ToEngine);
            assert_eq!(f.copies.len(), 1, "the other direction is untouched");
        }
        for i in 0..50 {
            let f = l.apply(vec![1; 60], Direction::ToGuest);
            assert!(f.copies.is_empty(), "frame {i} of the burst arrived");
        }
        assert!(!l.in_burst());
        assert_eq!(l.apply(vec![1; 60], Direction::ToGuest).copies.len(), 1);
        assert_eq!((l.injected.burst_lost, l.injected.lost), (50, 0));

        l.start_burst(Some(Direction::ToEngine), 5);
        l.cut_bursts();
        assert_eq!(l.apply(vec![1; 60], Direction::ToEngine).copies.len(), 1);

        l.start_burst(None, 200);
        assert!(l.apply(vec![1; 60], Direction::ToEngine).copies.is_empty());
        assert!(l.apply(vec![1; 60], Direction::ToGuest).copies.is_empty());
        l.heal();
        assert!(!l.in_burst());
        assert_eq!(l.apply(vec![1; 60], Direction::ToGuest).copies.len(), 1);
        assert_eq!(l.injected.bursts, 3);
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let mut h = HostFaults::new(
            1,
            HostFaultRates {
                send_short: 500,
                ..HostFaultRates::default()
            },
        );
        let short = (0..2000)
            .filter_map(|_| h.send_limit(10))
            .inspect(|n| assert!((1..10).contains(n)))
            .count();
        assert!((800..1200).contains(&short), "{short}");
        assert_eq!(h.injected.send_short, short as u64);
    }

    #[test]
    fn guest_frame_damage_stays_out_of_sequence_numbers_and_payload() {
        // An IPv4 TCP frame: 14 + 20 + 20 header bytes, then a payload of 0xaa.
        let mut frame = vec![0u8; 54 + 32];
        frame[14] = 0x45;
        frame[14 + 20 + 12] = 0x50;
        frame[54..].fill(0xaa);
        let mut rng = Rng::new(3);
        for _ in 0..5000 {
            let mut f = frame.clone();
            damage_guest_frame(&mut f, &mut rng);
            if f.len() < 54 {
                continue; // truncated inside the headers: the engine drops it
            }
            assert_eq!(f[38..46], frame[38..46], "sequence numbers untouched");
            assert_eq!(f[47], 0, "flags untouched");
            assert_eq!(f[54..86], frame[54..], "payload untouched");
        }
    }
}
