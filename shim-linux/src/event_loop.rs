//! The single-threaded event loop: epoll over the guest link, the host sockets and
//! (for pasta with a command) the child, feeding the engine and firing its timers.

use crate::host::{GuestLink, LinuxHost};
use crate::log::Level;
use crate::spin::Spin;
pub use crate::tap::Received;
use passt_core::stats::{DropReason, Stats};
use passt_core::{Engine, Event, Instant, Readiness, SockRef};
use rustix::event::epoll;
use rustix::io::Errno;
use rustix::time::{ClockId, Timespec};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// epoll data of the guest link (never a valid `SockRef`: kind byte 0xff).
const GUEST_TOKEN: u64 = u64::MAX;
/// epoll data of the watched child process.
const CHILD_TOKEN: u64 = u64::MAX - 1;
/// epoll data of a descriptor that only wakes the loop for [`Periodic::on_wake`].
pub(crate) const WAKE_TOKEN: u64 = u64::MAX - 2;
/// Longest sleep, so that stop conditions are polled at least once a second.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Most frames read from the guest per wakeup before other sources get a turn.
const GUEST_BATCH: usize = 256;
/// Largest frame on the guest link, its virtio-net header, plus slack.
const FRAME_BUFFER: usize = 65_536 + passt_virtio_net::hdr::LEN_MRG + 256;

/// A frame source: the guest side of the link.
pub trait GuestSource: GuestLink {
    /// Read one frame into `buf`; `Ok(0)` means the link is gone, `WouldBlock` that
    /// nothing is pending.
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Read one frame into `buf`, saying where it starts and whether its sender left
    /// the transport checksum to the link; by default [`GuestSource::recv_frame`]:
    /// at the start of `buf`, checksums complete.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let len = self.recv_frame(buf)?;
        Ok(Received {
            start: 0,
            len,
            checksum_partial: false,
        })
    }

    /// The descriptor to poll for incoming frames, if the link is attached.
    fn poll_fd(&self) -> Option<BorrowedFd<'_>>;

    /// The link holds frames from the guest it read already, which epoll will not
    /// report (a test's bad link keeps some back to reorder them).
    fn frames_pending(&self) -> bool {
        false
    }

    /// The loop finished a turn: deliver what the link deferred (a vhost-user
    /// front end is interrupted once per turn, not per frame).
    fn after_batch(&mut self) {}

    /// What the link finishes for frames to the guest, when the link negotiates it
    /// after start (vhost-user); `None` leaves the engine's configuration alone.
    fn negotiated_offload(&self) -> Option<passt_core::config::Offload> {
        None
    }
}

impl GuestSource for crate::tap::Tap {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_frame(buf)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        self.read(buf)
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The watched child exited; its pidfd became readable.
    ChildExited,
    /// The guest link closed.
    GuestGone,
    /// `should_stop` asked to stop.
    Stopped,
}

/// The monotonic clock as the engine sees it.
pub fn now() -> Instant {
    let t = rustix::time::clock_gettime(ClockId::Monotonic);
    Instant::from_nanos(
        (t.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec as u64),
    )
}

fn readiness(flags: epoll::EventFlags) -> Readiness {
    use epoll::EventFlags as F;
    Readiness {
        readable: flags.intersects(F::IN | F::PRI),
        writable: flags.contains(F::OUT),
        hangup: flags.intersects(F::RDHUP | F::HUP),
        error: flags.contains(F::ERR),
    }
}

/// Work the loop does about once a second, besides the engine's own timers.
pub trait Periodic<G: GuestSource> {
    /// Called at most once per [`TICK`]; returning true ends the loop
    /// ([`Exit::Stopped`]).
    fn tick(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) -> bool;

    /// One of the `wake` descriptors given to [`run`] is readable (inotify, signalfd):
    /// consume what made it so; returning true ends the loop ([`Exit::Stopped`]).
    fn woken(&mut self) -> bool {
        false
    }

    /// A wake descriptor is readable, with the engine at hand (the control socket
    /// changes forwards); by default [`Periodic::woken`].
    fn on_wake(&mut self, _engine: &mut Engine<'_>, _host: &mut LinuxHost<G>) -> bool {
        self.woken()
    }
}

/// Nothing periodic.
impl<G: GuestSource> Periodic<G> for () {
    fn tick(&mut self, _: &mut Engine<'_>, _: &mut LinuxHost<G>) -> bool {
        false
    }
}

/// How often [`Periodic::tick`] runs.
pub const TICK: Duration = Duration::from_secs(1);

/// Run until the child exits (when `child` is given), the guest link closes, or
/// `periodic` asks to stop (from its tick, or when one of the `wake` descriptors is
/// readable).
pub fn run<G: GuestSource>(
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
    child: Option<BorrowedFd<'_>>,
    wake: &[BorrowedFd<'_>],
    periodic: &mut impl Periodic<G>,
) -> io::Result<Exit> {
    let epoll_fd = host.epoll().try_clone_to_owned()?;
    let Some(guest_fd) = host.guest_mut().poll_fd() else {
        return Ok(Exit::GuestGone);
    };
    epoll::add(
        &epoll_fd,
        guest_fd,
        epoll::EventData::new_u64(GUEST_TOKEN),
        epoll::EventFlags::IN,
    )?;
    if let Some(pidfd) = child {
        epoll::add(
            &epoll_fd,
            pidfd,
            epoll::EventData::new_u64(CHILD_TOKEN),
            epoll::EventFlags::IN,
        )?;
    }
    for fd in wake {
        epoll::add(
            &epoll_fd,
            fd,
            epoll::EventData::new_u64(WAKE_TOKEN),
            epoll::EventFlags::IN,
        )?;
    }
    let exit = serve(engine, host, &epoll_fd, periodic);
    // Leave the epoll set as we found it: passt runs the loop once per guest.
    for fd in wake {
        let _ = epoll::delete(&epoll_fd, fd);
    }
    if let Some(pidfd) = child {
        let _ = epoll::delete(&epoll_fd, pidfd);
    }
    if let Some(guest_fd) = host.guest_mut().poll_fd() {
        let _ = epoll::delete(&epoll_fd, guest_fd);
    }
    exit
}

/// The loop proper, once everything is registered.
fn serve<G: GuestSource>(
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
    epoll_fd: &OwnedFd,
    periodic: &mut impl Periodic<G>,
) -> io::Result<Exit> {
    engine.handle_event(now(), Event::TapUp, host);
    let mut drops = DropWatch::new(engine.stats());
    let mut timeouts = TimeoutWatch(engine.stats().tcp_timeouts);
    let mut events: Vec<epoll::Event> = Vec::with_capacity(64);
    let mut frame = vec![0u8; FRAME_BUFFER];
    let mut splice_again = host.splice_again_list();
    let mut last_tick = now();
    let mut spin = Spin::new(last_tick);
    // Everything the loop needs exists now: from here on it must not allocate.
    crate::alloc_count::mark_initialised();
    loop {
        let t = now();
        if t - last_tick >= TICK {
            last_tick = t;
            if periodic.tick(engine, host) {
                return Ok(Exit::Stopped);
            }
        }
        let next_tick = (last_tick + TICK) - t;
        let sleep = engine
            .poll_timeout()
            .map_or(MAX_SLEEP, |d| (d - t).min(MAX_SLEEP))
            .min(next_tick);
        // Datagrams read ahead and not yet taken, or a spliced connection waiting for
        // another turn: only a look at what else is ready.
        let sleep = if host.held_datagrams().is_some()
            || host.splice_pending()
            || host.guest_mut().frames_pending()
        {
            Duration::ZERO
        } else {
            // Shortly after light traffic: only a look, no sleep (crate::spin).
            spin.timeout(t, sleep)
        };
        let timeout = Timespec {
            tv_sec: sleep.as_secs() as i64,
            tv_nsec: i64::from(sleep.subsec_nanos()),
        };
        events.clear();
        match epoll::wait(
            epoll_fd,
            rustix::buffer::spare_capacity(&mut events),
            Some(&timeout),
        ) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        for ev in events.iter() {
            let flags = ev.flags;
            let data = ev.data.u64();
            let t = now();
            host.new_event();
            match data {
                GUEST_TOKEN => {
                    if flags.intersects(epoll::EventFlags::HUP | epoll::EventFlags::ERR) {
                        return Ok(Exit::GuestGone);
                    }
                    let read = read_guest(engine, host, t, &mut frame, &mut spin, &mut drops)?;
                    if let Some(exit) = read {
                        return Ok(exit);
                    }
                }
                CHILD_TOKEN => return Ok(Exit::ChildExited),
                WAKE_TOKEN => {
                    if periodic.on_wake(engine, host) {
                        return Ok(Exit::Stopped);
                    }
                }
                raw => match SockRef::from_raw(raw) {
                    Some(sock) => engine.handle_event(
                        t,
                        Event::Socket {
                            sock,
                            readiness: readiness(flags),
                        },
                        host,
                    ),
                    None => continue,
                },
            }
        }
        // Frames the link read and kept back (a test's bad link reordering them): they
        // will not be reported by epoll.
        if host.guest_mut().frames_pending() {
            let read = read_guest(engine, host, now(), &mut frame, &mut spin, &mut drops)?;
            if let Some(exit) = read {
                return Ok(exit);
            }
        }
        let t = now();
        // Whatever runs next (held datagrams, flush, timers) is a new event as far as
        // "this socket's queue was found empty" goes.
        host.new_event();
        if let Some(held) = host.held_datagrams() {
            // The engine stopped draining a socket whose datagrams the host had read
            // ahead: epoll will not report them again (the kernel's queue may be
            // empty), so we do.
            let readiness = Readiness {
                readable: true,
                ..Readiness::default()
            };
            engine.handle_event(
                t,
                Event::Socket {
                    sock: held.0,
                    readiness,
                },
                host,
            );
            if host.held_datagrams() == Some(held) {
                // Not one was taken (a socket the engine no longer reads): drop them
                // rather than spin.
                host.discard_held();
            }
        }
        // Spliced connections that stopped at their round limit with data left: their
        // sockets will not be reported again, so report them readable (one turn each
        // per loop, so no connection starves the others).
        host.take_splice_again(&mut splice_again);
        for &sock in &splice_again {
            let readiness = Readiness {
                readable: true,
                ..Readiness::default()
            };
            engine.handle_event(t, Event::Socket { sock, readiness }, host);
        }
        engine.flush(t, host);
        if let Some(o) = host.guest_mut().negotiated_offload() {
            if o != engine.config().offload {
                engine.set_offload(o);
            }
        }
        if engine.poll_timeout().is_some_and(|d| d <= t) {
            engine.handle_timeout(t, host);
            timeouts.check(engine.stats());
        }
        // Last: the batch includes what the timers sent.
        host.flush_datagrams();
        host.guest_mut().after_batch();
        spin.frame(host.take_largest_out());
        spin.wakeup_done(events.len(), now());
    }
}

/// Hand the engine up to [`GUEST_BATCH`] frames from the guest; `Some` when the link
/// went away.
fn read_guest<G: GuestSource>(
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
    t: Instant,
    frame: &mut [u8],
    spin: &mut Spin,
    drops: &mut DropWatch,
) -> io::Result<Option<Exit>> {
    for _ in 0..GUEST_BATCH {
        match host.guest_mut().recv(frame) {
            Ok(r) if r.len == 0 => return Ok(Some(Exit::GuestGone)),
            Ok(r) => {
                spin.frame(r.len);
                let f = &frame[r.start..r.start + r.len];
                let event = if r.checksum_partial {
                    Event::TapFramePartialChecksum(f)
                } else {
                    Event::TapFrame(f)
                };
                engine.handle_event(t, event, host);
                drops.check(engine.stats());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                // A corrupt stream (bad frame length): drop the client.
                crate::log_err!("Guest link: {e}");
                return Ok(Some(Exit::GuestGone));
            }
            Err(e) => return Err(e),
        }
    }
    host.flush_datagrams();
    Ok(None)
}

/// Reports TCP connections the engine gave up on because the guest stopped answering
/// (at `-d`): which one, what went unanswered, and how its windows stood.
struct TimeoutWatch(u64);

impl TimeoutWatch {
    fn check(&mut self, stats: &Stats) {
        let (Some(t), n) = (stats.last_tcp_timeout, stats.tcp_timeouts) else {
            return;
        };
        if n == self.0 {
            return;
        }
        let more = n - self.0 - 1;
        self.0 = n;
        crate::log_ratelimit!(
            Level::Debug,
            "TCP: gave up on guest {} <-> {}: {} {} unanswered (guest window {}, in flight {}, \
             our window {}){}",
            t.guest,
            t.remote,
            t.tries,
            t.unanswered.name(),
            t.guest_window,
            t.in_flight,
            t.window_to_guest,
            if more > 0 { " and on others" } else { "" }
        );
    }
}

/// Reports inputs the engine dropped, per reason and rate-limited: a guest sending
/// something we don't handle shows up in the log (`-d`) without flooding it.
struct DropWatch {
    seen: [u64; DropReason::COUNT],
    total: u64,
}

impl DropWatch {
    fn new(stats: &Stats) -> DropWatch {
        let mut seen = [0; DropReason::COUNT];
        for r in DropReason::ALL {
            seen[*r as usize] = stats.drops(*r);
        }
        DropWatch {
            seen,
            total: stats.total_drops(),
        }
    }

    fn check(&mut self, stats: &Stats) {
        let total = stats.total_drops();
        if total == self.total {
            return;
        }
        self.total = total;
        for r in DropReason::ALL {
            let n = stats.drops(*r);
            if n != self.seen[*r as usize] {
                crate::log_ratelimit!(
                    Level::Debug,
                    "Dropped a frame from the guest: {} ({} so far)",
                    r.name(),
                    n
                );
                self.seen[*r as usize] = n;
            }
        }
    }
}

/// Log the engine's counters (at `-d`) when the loop ends, and the flows still open
/// then (`open`): every flow opened is either closed or among them.
pub fn log_stats(stats: &Stats, open: &passt_core::FlowCounts) {
    if !crate::log::enabled(Level::Debug) {
        return;
    }
    crate::log_debug!(
        "Frames from the guest {}, to the guest {}, answered by services {}, send errors {}; \
         TCP connections opened {}, closed {}, reset {}, timed out {}, \
         refused (table full) {}, accept failures {}; retransmits {} (fast {}), \
         out-of-order segments from the guest {}; UDP flows opened {}, closed {}, \
         datagrams to the host {}, datagrams to the guest {} (in runs {})",
        stats.frames_in,
        stats.frames_out,
        stats.service_replies,
        stats.tx_errors,
        stats.tcp_opened,
        stats.tcp_closed,
        stats.tcp_resets_sent,
        stats.tcp_timeouts,
        stats.tcp_refused,
        stats.tcp_accept_failures,
        stats.tcp_retransmits,
        stats.tcp_fast_retransmits,
        stats.tcp_out_of_order,
        stats.udp_opened,
        stats.udp_closed,
        stats.udp_datagrams_to_host,
        stats.udp_datagrams_to_guest,
        stats.udp_runs_to_guest
    );
    crate::log_debug!(
        "Flows open at exit: TCP {} (spliced {}), UDP {}, ICMP echo {}; \
         ICMP echo flows opened {}, closed {}",
        open.tcp + open.spliced,
        open.spliced,
        open.udp,
        open.ping,
        stats.ping_opened,
        stats.ping_closed
    );
    for (r, n) in stats.nonzero_drops() {
        crate::log_debug!("Dropped {}: {n}", r.name());
    }
}
