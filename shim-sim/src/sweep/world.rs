//! The simulated world of one sweep: event scheduling, the guest link, host peers.

use super::{
    deliver_to_engine, describe, guest_addr, is_conn, live_conn_sockets, pick_behaviour,
    pick_params, remote_addr, Burst, Failure, LinkShape, Misbehaviour, Phase, SweepOptions,
    SweepStats,
};
use crate::faults::{Direction, HostFaultRates, LinkFaults};
use crate::guest::{GuestConn, GuestState, ReadStall};
use crate::rng::Rng;
use crate::sockets::{SimSockets, SockState};
use crate::testbed::Segment;
use passt_core::{DropReason, Engine, Event, Instant, SockKind, SockRef};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

mod verdict;

/// The forwarded port host peers connect to.
pub(crate) const LISTEN_PORT: u16 = 8000;
/// The guest port it is mapped to.
pub(crate) const GUEST_PORT: u16 = 9000;
/// Events one sweep may process before it is declared a livelock.
const MAX_STEPS: u64 = 400_000;
/// Most frames the engine reads from the link in one wakeup.
const ENGINE_BATCH: usize = 64;
/// Trace lines kept for a failure report.
const TRACE_LINES: usize = 400;
/// How long the fresh connections of the last phase may take.
const FRESH_BOUND: Duration = Duration::from_secs(60);

/// What a host peer has done on its current socket.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Peer {
    /// Bytes of `to_guest` sent so far.
    pub sent: usize,
    /// It closed its sending side.
    pub closed: bool,
    /// It reset the connection.
    pub reset: bool,
    /// Bytes of the socket's `tx` it has drained (given back as send space).
    pub drained: usize,
}

/// One connection: the guest end, the host peer, and what each must send.
pub(super) struct Conn {
    /// Opened by the guest (else by a host peer through the forwarded port).
    pub outbound: bool,
    /// When it starts; `None` once started.
    pub start_at: Option<Instant>,
    /// The guest end.
    pub guest: GuestConn,
    /// The peer address the host socket carries.
    pub host_addr: SocketAddr,
    /// What the host peer sends.
    pub to_guest: Vec<u8>,
    /// Host sockets of this connection, oldest first (a refused connect retried by
    /// the guest's SYN gets a new one).
    pub socks: Vec<SockRef>,
    /// The peer's progress on the newest socket.
    pub peer: Peer,
    /// The peer's next action.
    pub peer_at: Option<Instant>,
    /// The engine's ISN toward the guest for the newest attempt.
    pub engine_isn: Option<u32>,
    /// The end of the sequence space the engine has used toward the guest (SYN,
    /// data and FIN) in the newest attempt: what a guest may acknowledge.
    pub engine_max: Option<u32>,
    /// The host's accept was refused (a full flow table).
    pub refused_on_accept: bool,
    /// How much of each socket's received bytes has been checked.
    pub checked_tx: BTreeMap<SockRef, usize>,
    /// What its ends do on purpose.
    pub plan: Option<Misbehaviour>,
    /// When the host peer stopped reading ([`Misbehaviour::HostStopsReading`]).
    pub host_stopped: Option<Instant>,
    /// When it resumes.
    pub host_resume_at: Option<Instant>,
    /// When it resumed.
    pub host_resumed: Option<Instant>,
    /// When the guest end was first seen closed.
    pub closed_at: Option<Instant>,
}

impl Conn {
    /// Whether the host peer is not reading now.
    fn host_stalled(&self) -> bool {
        self.host_stopped.is_some() && self.host_resumed.is_none()
    }
}

/// Engine, host, guest and link of one sweep.
pub(super) struct World<'s, 'o> {
    pub seed: u64,
    pub options: &'o SweepOptions,
    pub engine: Engine<'s>,
    pub host: SimSockets,
    pub link: LinkFaults,
    pub rng: Rng,
    pub now: Instant,
    pub phase: Phase,
    pub conns: Vec<Conn>,
    /// (guest address, remote address) → connection.
    pub by_tuple: BTreeMap<(SocketAddr, SocketAddr), usize>,
    /// Host peer address → connection.
    pub by_host_addr: BTreeMap<SocketAddr, usize>,
    pub listener: Option<SockRef>,
    /// Frames on the wire: (arrival µs, sequence) → (direction, bytes).
    in_flight: BTreeMap<(u64, u64), (Direction, Vec<u8>)>,
    frame_seq: u64,
    latency_us: u64,
    connect_at: Option<Instant>,
    pub stats: SweepStats,
    trace: Option<VecDeque<String>>,
    /// Bursts not started yet.
    bursts: Vec<Burst>,
    /// Frames the link carried so far, toward the engine and toward the guest.
    link_frames: [u64; 2],
    /// When the burst under way lost its first frame.
    outage_from: Option<Instant>,
    /// When the bursts under way are cut short ([`Burst::lasting`]).
    burst_until: Option<Instant>,
    /// Engine timer wakeups per whole simulated second.
    wakeups: BTreeMap<u64, u32>,
}

impl<'s, 'o> World<'s, 'o> {
    pub fn new(
        seed: u64,
        options: &'o SweepOptions,
        engine: Engine<'s>,
        host: SimSockets,
        link: LinkFaults,
        mut rng: Rng,
    ) -> World<'s, 'o> {
        let latency_us = rng.range(20, 2000) as u64;
        World {
            seed,
            options,
            engine,
            host,
            link,
            rng,
            now: Instant::ZERO,
            phase: Phase::Safety,
            conns: Vec::new(),
            by_tuple: BTreeMap::new(),
            by_host_addr: BTreeMap::new(),
            listener: None,
            in_flight: BTreeMap::new(),
            frame_seq: 0,
            latency_us,
            connect_at: None,
            stats: SweepStats {
                jumbo_links: u64::from(options.shape == LinkShape::Jumbo),
                ..SweepStats::default()
            },
            trace: options.trace.then(VecDeque::new),
            bursts: Vec::new(),
            link_frames: [0; 2],
            outage_from: None,
            burst_until: None,
            wakeups: BTreeMap::new(),
        }
    }

    /// Record an event in the trace, if tracing.
    pub fn note(&mut self, what: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            if t.len() == TRACE_LINES {
                t.pop_front();
            }
            let at = self.now.as_nanos() as f64 / 1e9;
            t.push_back(format!("{at:.6} {}", what()));
        }
    }

    /// A failure at the current time.
    pub fn fail(&self, what: String) -> Failure {
        Failure {
            seed: self.seed,
            kind: self.options.kind,
            phase: self.phase,
            at: self.elapsed(),
            what,
            trace: self
                .trace
                .as_ref()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now.as_nanos())
    }

    /// A burst that lost frames ended at `at` (or the link healed under it).
    fn end_outage(&mut self, at: Instant) {
        if let Some(from) = self.outage_from.take() {
            let lasted = Duration::from_nanos(at.as_nanos().saturating_sub(from.as_nanos()));
            self.note(|| format!("burst over after {lasted:?}"));
            self.stats.longest_outage = self.stats.longest_outage.max(lasted);
        }
    }

    /// Run both phases and the fresh-connection check.
    pub fn run(&mut self) -> Result<SweepStats, Failure> {
        self.engine
            .handle_event(self.now, Event::TapUp, &mut self.host);
        if let Err(e) = self.engine.start(&mut self.host) {
            return Err(self.fail(format!("forwarded port did not start: {e:?}")));
        }
        self.listener = self
            .host
            .sockets()
            .find(|(r, _)| r.kind() == SockKind::TcpListen)
            .map(|(r, _)| r);
        self.host.faults.rates = self.options.host;
        if let Some((kind, after)) = self.options.sabotage {
            self.host.faults.sabotage = Some(kind);
            self.host.faults.sabotage_after = after;
        }
        self.plan();
        self.bursts = self.options.bursts.clone();

        let safety_end = self.now + self.options.safety_time;
        self.run_until(safety_end, |_| false)?;

        self.phase = Phase::Liveness;
        self.host.faults.rates = HostFaultRates::default();
        self.link.heal();
        self.bursts.clear();
        let healed = self
            .burst_until
            .take()
            .map_or(self.now, |t| t.min(self.now));
        self.end_outage(healed);
        self.note(|| "faults healed".into());
        let bound = self.now + self.options.liveness_bound;
        if !self.run_until(bound, |w| w.all_closed())? {
            return Err(self.fail(format!(
                "not everything closed within {:?}: {}",
                self.options.liveness_bound,
                self.stuck()
            )));
        }

        self.phase = Phase::Fresh;
        self.fresh()?;
        self.finish()
    }

    /// Plan the safety phase's connections.
    fn plan(&mut self) {
        let window = self.options.safety_time.as_micros() as u64 / 2 + 1;
        for _ in 0..self.options.outbound {
            let at = self.now + Duration::from_micros(self.rng.below(window));
            self.add_conn(true, false, at, None);
        }
        for _ in 0..self.options.inbound {
            let at = self.now + Duration::from_micros(self.rng.below(window));
            self.add_conn(false, false, at, None);
        }
        for i in 0..self.conns.len() {
            if let Some(m) = self.options.plan_for(i) {
                self.misbehave(i, m);
            }
        }
    }

    /// Give connection `i` its misbehaviour, with byte strings long enough for it to
    /// matter (a window that really closes, a reset before the peer's last byte).
    fn misbehave(&mut self, i: usize, m: Misbehaviour) {
        let send_space = self.options.send_space;
        let rng = &mut self.rng;
        let c = &mut self.conns[i];
        c.plan = Some(m);
        let mut params = c.guest.params();
        params.rcv_buf = params.rcv_buf.min(16_000);
        let grow = |v: &mut Vec<u8>, at_least: usize, rng: &mut Rng| {
            if v.len() < at_least {
                let more = rng.bytes(at_least - v.len());
                v.extend_from_slice(&more);
            }
        };
        match m {
            Misbehaviour::GuestStopsReading { after, lasting } => {
                params.stall = Some(ReadStall {
                    after,
                    lasting: Some(lasting),
                    closes_after: None,
                });
                let want = after + params.rcv_buf + rng.range(1, 3000);
                grow(&mut c.to_guest, want, rng);
            }
            Misbehaviour::GuestHalfClosesNeverReads => {
                params.close_first = true;
                // Longer than the engine's retry budget (about 2 minutes), so that
                // only answered probes keep the flow alive until then.
                let closes_after = Duration::from_secs(rng.range(10, 300) as u64);
                params.stall = Some(ReadStall {
                    after: 0,
                    lasting: None,
                    closes_after: Some(closes_after),
                });
                let want = params.rcv_buf + rng.range(1, 3000);
                grow(&mut c.to_guest, want, rng);
            }
            Misbehaviour::HostStopsReading { after, .. } => {
                let want = after + send_space + rng.range(1, 5000);
                grow(&mut c.guest.send, want, rng);
            }
            Misbehaviour::HostResets { after } => {
                let want = after + rng.range(1, 5000);
                grow(&mut c.to_guest, want, rng);
            }
        }
        let g = &c.guest;
        c.guest = GuestConn::listen(g.local, g.remote, g.iss, params, g.send.clone());
    }

    /// Add a connection starting at `at`, of the family asked for (or a random one).
    fn add_conn(&mut self, outbound: bool, fresh: bool, at: Instant, v6: Option<bool>) -> usize {
        let i = self.conns.len();
        let random_family = self.rng.chance(1, 2);
        let v6 = v6.unwrap_or(random_family);
        let max = self.options.max_bytes;
        let len_out = self.rng.range(0, max);
        let len_in = self.rng.range(0, max);
        let to_host = self.rng.bytes(len_out);
        let to_guest = self.rng.bytes(len_in);
        let params = pick_params(&mut self.rng, self.options.shape);
        let iss = self.rng.next_u64() as u32;
        let (guest, host_addr) = if outbound {
            let remote = remote_addr(i, v6, 10_000 + i as u16);
            let local = SocketAddr::new(guest_addr(&remote.ip()), 40_000 + i as u16);
            let behaviour = if fresh {
                crate::sockets::ConnectBehaviour::Accept
            } else {
                pick_behaviour(&mut self.rng, self.options.refuse_connect)
            };
            self.host.set_behaviour(remote, behaviour);
            let g = GuestConn::listen(local, remote, iss, params, to_host);
            (g, remote)
        } else {
            let peer = remote_addr(i, v6, 20_000 + i as u16);
            let local = SocketAddr::new(guest_addr(&peer.ip()), GUEST_PORT);
            (GuestConn::listen(local, peer, iss, params, to_host), peer)
        };
        self.by_tuple.insert((guest.local, guest.remote), i);
        self.by_host_addr.insert(host_addr, i);
        self.conns.push(Conn {
            outbound,
            start_at: Some(at),
            guest,
            host_addr,
            to_guest,
            socks: Vec::new(),
            peer: Peer::default(),
            peer_at: None,
            engine_isn: None,
            engine_max: None,
            refused_on_accept: false,
            checked_tx: BTreeMap::new(),
            plan: None,
            host_stopped: None,
            host_resume_at: None,
            host_resumed: None,
            closed_at: None,
        });
        i
    }

    /// Process events until `done` holds (checked between events) or virtual time
    /// reaches `deadline`. Returns whether `done` held.
    fn run_until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&World<'_, '_>) -> bool,
    ) -> Result<bool, Failure> {
        loop {
            if done(self) {
                return Ok(true);
            }
            let Some(next) = self.next_event() else {
                self.now = self.now.max(deadline);
                return Ok(done(self));
            };
            if next > deadline {
                self.now = deadline;
                return Ok(done(self));
            }
            self.now = self.now.max(next);
            self.step()?;
            self.stats.steps += 1;
            if self.stats.steps > MAX_STEPS {
                return Err(self.fail(format!("more than {MAX_STEPS} events: livelock")));
            }
        }
    }

    fn next_event(&self) -> Option<Instant> {
        let frames = self
            .in_flight
            .keys()
            .next()
            .map(|(us, _)| Instant::from_nanos(us * 1000));
        let conns = self.conns.iter().flat_map(|c| {
            [c.start_at, c.peer_at, c.guest.deadline()]
                .into_iter()
                .flatten()
        });
        [frames, self.engine.poll_timeout(), self.connect_at]
            .into_iter()
            .flatten()
            .chain(conns)
            .min()
    }

    /// Handle one event due now.
    fn step(&mut self) -> Result<(), Failure> {
        let now_us = self.now.as_nanos() / 1000;
        if let Some((&(at, n), _)) = self.in_flight.iter().next() {
            if at <= now_us {
                let (dir, frame) = self.in_flight.remove(&(at, n)).expect("listed");
                return match dir {
                    Direction::ToEngine => {
                        // The engine reads every frame waiting on the link in one
                        // wakeup (up to a batch), then flushes.
                        let mut batch = vec![frame];
                        while let Some((&key, (Direction::ToEngine, _))) =
                            self.in_flight.iter().next()
                        {
                            if key.0 > now_us || batch.len() == ENGINE_BATCH {
                                break;
                            }
                            let (_, f) = self.in_flight.remove(&key).expect("listed");
                            batch.push(f);
                        }
                        self.arrive_at_engine(&batch)
                    }
                    Direction::ToGuest => self.arrive_at_guest(&frame),
                };
            }
        }
        if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
            self.note(|| "engine timers".into());
            let second = self.now.as_nanos() / 1_000_000_000;
            *self.wakeups.entry(second).or_default() += 1;
            self.engine.handle_timeout(self.now, &mut self.host);
            return self.after_engine();
        }
        if self.connect_at.is_some_and(|t| t <= self.now) {
            self.connect_at = None;
            self.note(|| "host connects complete".into());
            self.host.complete_connects();
            return self.after_engine();
        }
        for i in 0..self.conns.len() {
            if self.conns[i].start_at.is_some_and(|t| t <= self.now) {
                self.conns[i].start_at = None;
                return self.start(i);
            }
            if self.conns[i].peer_at.is_some_and(|t| t <= self.now) {
                self.conns[i].peer_at = None;
                return self.peer_act(i);
            }
            if self.conns[i]
                .guest
                .deadline()
                .is_some_and(|t| t <= self.now)
            {
                let mut out = Vec::new();
                self.conns[i].guest.on_timer(self.now, &mut out);
                self.guest_send(out);
                self.note_closed(i);
                return Ok(());
            }
        }
        Err(self.fail("an event was due but none ran".into()))
    }

    /// Start connection `i`.
    fn start(&mut self, i: usize) -> Result<(), Failure> {
        let c = &mut self.conns[i];
        if c.outbound {
            let (local, remote) = (c.guest.local, c.guest.remote);
            let mut out = Vec::new();
            c.guest = GuestConn::connect(
                local,
                remote,
                c.guest.iss,
                c.guest.params(),
                c.guest.send.clone(),
                self.now,
                &mut out,
            );
            self.note(|| format!("conn {i}: guest connects to {remote}"));
            self.guest_send(out);
            Ok(())
        } else {
            let (Some(listener), addr) = (self.listener, c.host_addr) else {
                return Err(self.fail("no listener for the forwarded port".into()));
            };
            self.note(|| format!("conn {i}: peer {addr} connects to the forwarded port"));
            self.host.peer_connect(listener, addr);
            self.after_engine()
        }
    }

    /// Remember when the guest end of connection `i` closed.
    fn note_closed(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if c.closed_at.is_none() && c.guest.is_closed() {
            c.closed_at = Some(self.now);
        }
    }

    /// The host peer of connection `i` acts on its newest socket.
    fn peer_act(&mut self, i: usize) -> Result<(), Failure> {
        let Some(&sock) = self.conns[i].socks.last() else {
            return Ok(());
        };
        let Some(s) = self.host.socket(sock) else {
            return Ok(());
        };
        let (state, tx_len) = (s.state, s.tx.len());
        match state {
            SockState::Connected => {}
            SockState::Connecting | SockState::Open => {
                self.schedule_peer(i);
                return Ok(());
            }
            _ => return Ok(()),
        }
        let reset_chance = if self.phase == Phase::Safety {
            u64::from(self.options.peer_reset)
        } else {
            0
        };
        let now = self.now;
        let c = &mut self.conns[i];
        // A planned reset waits for the guest to have heard of the connection (an
        // inbound one's SYN may still be lost): only then can it reach the guest.
        let planned_reset = matches!(c.plan, Some(Misbehaviour::HostResets { after })
            if c.peer.sent >= after && c.guest.state != GuestState::Listen);
        if planned_reset || self.rng.chance(reset_chance, 1000) {
            c.peer.reset = true;
            self.stats.peer_resets += 1;
            self.host.peer_reset(sock);
            self.note(|| format!("conn {i}: peer resets"));
            return self.after_engine();
        }
        if let Some(Misbehaviour::HostStopsReading { after, lasting }) = c.plan {
            if c.host_stopped.is_none() && tx_len >= after {
                c.host_stopped = Some(now);
                c.host_resume_at = Some(now + lasting);
                self.note(|| format!("conn {i}: peer stops reading for {lasting:?}"));
            }
        }
        let c = &mut self.conns[i];
        if c.host_resume_at.is_some_and(|t| t <= now) {
            c.host_resume_at = None;
            c.host_resumed = Some(now);
            self.note(|| format!("conn {i}: peer reads again"));
        }
        let c = &mut self.conns[i];
        if tx_len > c.peer.drained && !c.host_stalled() {
            self.host.peer_drain(sock, tx_len - c.peer.drained);
            c.peer.drained = tx_len;
        }
        // Until then it holds back the rest of its bytes and its FIN.
        let holding =
            matches!(c.plan, Some(Misbehaviour::HostResets { after }) if c.peer.sent >= after);
        if holding {
            self.schedule_peer(i);
            return self.after_engine();
        }
        if c.peer.sent < c.to_guest.len() {
            let n = self.rng.range(1, 3000).min(c.to_guest.len() - c.peer.sent);
            let from = c.peer.sent;
            self.host.peer_send(sock, &c.to_guest[from..from + n]);
            c.peer.sent += n;
            self.note(|| format!("conn {i}: peer sends {n} bytes at {from}"));
        } else if !c.peer.closed {
            c.peer.closed = true;
            self.host.peer_close(sock);
            self.note(|| format!("conn {i}: peer closes"));
        }
        // More to send or to close: act again soon. Otherwise sleep until the stall
        // ends, or until data arrives (`wake_idle_peers`).
        let c = &self.conns[i];
        if !c.peer.closed || c.peer.sent < c.to_guest.len() {
            self.schedule_peer(i);
        } else if c.host_stalled() {
            self.conns[i].peer_at = c.host_resume_at;
        }
        self.after_engine()
    }

    /// Wake host peers that sleep with nothing to do once their socket received data.
    fn wake_idle_peers(&mut self) {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            if c.peer_at.is_some() || c.start_at.is_some() || c.host_stalled() {
                continue;
            }
            let Some(s) = c.socks.last().and_then(|s| self.host.socket(*s)) else {
                continue;
            };
            if s.state == SockState::Connected && s.tx.len() > c.peer.drained {
                self.schedule_peer(i);
            }
        }
    }

    fn schedule_peer(&mut self, i: usize) {
        let d = Duration::from_micros(self.rng.range(100, 30_000) as u64);
        self.conns[i].peer_at = Some(self.now + d);
    }

    /// Put segments from the guest on the wire.
    pub fn guest_send(&mut self, segs: Vec<Segment>) {
        let mac = self.engine.config().our_mac;
        for seg in segs {
            self.note(|| format!("guest sends {}", describe(&seg)));
            self.stats.frames_to_engine += 1;
            self.transmit(seg.to_frame(mac), Direction::ToEngine);
        }
    }

    /// Start the bursts whose trigger the link's traffic reached.
    fn start_bursts(&mut self) {
        let [to_engine, to_guest] = self.link_frames;
        let mut i = 0;
        while i < self.bursts.len() {
            let b = self.bursts[i];
            let carried = match b.direction {
                Some(Direction::ToEngine) => to_engine,
                Some(Direction::ToGuest) => to_guest,
                None => to_engine + to_guest,
            };
            if carried >= b.after_frames {
                self.bursts.swap_remove(i);
                self.note(|| {
                    format!(
                        "burst: the next {} frames {:?} are lost",
                        b.frames, b.direction
                    )
                });
                self.link.start_burst(b.direction, b.frames);
                let until = self.now + b.lasting;
                self.burst_until = Some(self.burst_until.map_or(until, |t| t.max(until)));
            } else {
                i += 1;
            }
        }
    }

    fn transmit(&mut self, frame: Vec<u8>, dir: Direction) {
        if let Some(until) = self.burst_until.filter(|t| *t <= self.now) {
            self.burst_until = None;
            self.link.cut_bursts();
            self.end_outage(until);
        }
        self.start_bursts();
        self.link_frames[match dir {
            Direction::ToEngine => 0,
            Direction::ToGuest => 1,
        }] += 1;
        let burst_lost = self.link.injected.burst_lost;
        let fate = self.link.apply(frame, dir);
        if fate.copies.is_empty() {
            self.note(|| format!("{dir:?}: frame lost"));
        }
        if self.link.injected.burst_lost > burst_lost && self.outage_from.is_none() {
            self.outage_from = Some(self.now);
        }
        if !self.link.in_burst() {
            self.end_outage(self.now);
        }
        let base = self.now.as_nanos() / 1000 + self.latency_us;
        for (bytes, extra) in fate.copies {
            self.frame_seq += 1;
            self.in_flight
                .insert((base + extra, self.frame_seq), (dir, bytes));
        }
    }

    fn arrive_at_engine(&mut self, batch: &[Vec<u8>]) -> Result<(), Failure> {
        for frame in batch {
            let refused = self.engine.stats().drops(DropReason::TcpOutOfWindow);
            deliver_to_engine(&mut self.engine, &mut self.host, self.now, frame);
            if self.engine.stats().drops(DropReason::TcpOutOfWindow) > refused {
                self.check_refused_ack(frame)?;
            }
        }
        self.after_engine()
    }

    fn arrive_at_guest(&mut self, frame: &[u8]) -> Result<(), Failure> {
        let Some(seg) = Segment::from_frame(frame) else {
            self.note(|| "guest drops a damaged or non-TCP frame".into());
            return Ok(());
        };
        if guest_addr(&seg.dst.ip()) != seg.dst.ip() {
            self.note(|| format!("guest ignores {} (not its address)", describe(&seg)));
            return Ok(());
        }
        self.note(|| format!("guest gets {}", describe(&seg)));
        self.stats.largest_segment_to_guest =
            self.stats.largest_segment_to_guest.max(seg.payload.len());
        let mut out = Vec::new();
        match self.by_tuple.get(&(seg.dst, seg.src)) {
            Some(&i) if self.conns[i].start_at.is_none() => {
                self.conns[i]
                    .guest
                    .on_segment(&seg, self.now, &mut self.rng, &mut out);
                self.note_closed(i);
            }
            _ => out.extend(GuestConn::reset_for(&seg)),
        }
        self.guest_send(out);
        Ok(())
    }

    /// After the engine ran: deliver readiness until quiet, then check everything and
    /// put the engine's frames on the wire.
    pub fn after_engine(&mut self) -> Result<(), Failure> {
        // The end of a batch, as after an epoll wakeup: held-back ACKs go out.
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
        if !self.host.take_events().is_empty() {
            return Err(self.fail("socket events did not settle: livelock".into()));
        }
        if self
            .host
            .sockets()
            .any(|(_, s)| s.state == SockState::Connecting)
            && self.connect_at.is_none()
        {
            let d = Duration::from_micros(self.rng.range(0, 30_000) as u64);
            self.connect_at = Some(self.now + d);
        }
        self.refresh_sockets();
        self.wake_idle_peers();
        let frames: Vec<Vec<u8>> = self.host.frames.drain(..).collect();
        for frame in frames {
            self.stats.frames_to_guest += 1;
            if let Some(seg) = Segment::from_frame(&frame) {
                self.note(|| format!("engine sends {}", describe(&seg)));
                self.check_emitted(&seg)?;
            }
            self.transmit(frame, Direction::ToGuest);
        }
        self.check_state()
    }

    /// Attach host sockets the engine opened or accepted to their connections.
    fn refresh_sockets(&mut self) {
        for (sock, peer) in live_conn_sockets(&self.host) {
            let Some(&i) = peer.as_ref().and_then(|p| self.by_host_addr.get(p)) else {
                continue; // a stray connect (a damaged SYN named another address)
            };
            if !self.conns[i].socks.contains(&sock) {
                self.attach(i, sock);
            }
        }
        // Inbound connections accepted and closed at once, or refused.
        let backlog: Vec<SocketAddr> = self
            .listener
            .and_then(|l| self.host.socket(l))
            .map(|l| l.backlog.iter().copied().collect())
            .unwrap_or_default();
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            if c.outbound || c.start_at.is_some() || !c.socks.is_empty() || c.refused_on_accept {
                continue;
            }
            if backlog.contains(&c.host_addr) {
                continue;
            }
            let addr = c.host_addr;
            let found = self
                .host
                .sockets()
                .find(|(r, s)| is_conn(*r) && s.peer == Some(addr))
                .map(|(r, _)| r);
            match found {
                Some(sock) => self.attach(i, sock),
                None => {
                    let refused = self.host.refused.contains(&addr)
                        || self.host.retired.iter().any(|s| s.peer == Some(addr));
                    self.conns[i].refused_on_accept = refused;
                }
            }
        }
    }

    fn attach(&mut self, i: usize, sock: SockRef) {
        let c = &mut self.conns[i];
        c.socks.push(sock);
        c.peer = Peer::default();
        c.engine_isn = None;
        c.engine_max = None;
        self.note(|| format!("conn {i}: host socket {:x}", sock.to_raw()));
        self.schedule_peer(i);
    }
}
