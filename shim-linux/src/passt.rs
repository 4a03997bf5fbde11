//! passt's life cycle (passt-reference §7.1, callers.md §1.4–1.6): listen on a UNIX
//! stream socket, serve one qemu client at a time over the length-prefixed framing,
//! reset the guest's state when it leaves, and accept the next one — or exit after the
//! first with `--one-off` / `--fd`.

use crate::event_loop::{self, Exit, GuestSource, Periodic};
use crate::host::{GuestLink, LinuxHost};
use crate::pasta::StartError;
use crate::qemu::QemuStream;
use passt_core::config::Config;
use passt_core::engine::{Flow, Storage};
use passt_core::flow::{index_len_for, Slot};
use passt_core::{Engine, Event};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Transmit buffer: a full 64 KiB segment plus headers.
const TX_BUFFER: usize = 65_536 + 256;
/// Highest N probed for `/tmp/passt_N.socket`.
const PROBE_MAX: u32 = 99;

/// Where the guest comes from.
#[derive(Debug)]
pub enum Listen {
    /// A listening UNIX socket at this path.
    Socket {
        /// The listening socket.
        fd: OwnedFd,
        /// Its path (removed on exit).
        path: PathBuf,
    },
    /// An already-connected socket handed over by the parent (`--fd`).
    Connected(OwnedFd),
}

/// Take the already-connected socket our parent passed as descriptor `fd` (`--fd`).
pub fn inherited(fd: i32) -> Result<Listen, StartError> {
    crate::sys::adopt_inherited_fd(fd)
        .map(Listen::Connected)
        .map_err(|e| StartError(format!("Invalid --fd {fd}: {e}")))
}

/// Bind and listen on `path`, or probe `/tmp/passt_1.socket` … `/tmp/passt_99.socket`
/// for a free one. A path is free when nothing answers a connect there.
pub fn listen(path: Option<&Path>) -> Result<Listen, StartError> {
    let candidates: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None => (1..=PROBE_MAX)
            .map(|n| PathBuf::from(format!("/tmp/passt_{n}.socket")))
            .collect(),
    };
    for p in &candidates {
        let addr = SocketAddrUnix::new(p.as_path())
            .map_err(|e| StartError(format!("Invalid socket path {}: {e}", p.display())))?;
        let probe = net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| StartError(format!("socket: {e}")))?;
        match net::connect(&probe, &addr) {
            Err(Errno::NOENT) | Err(Errno::CONNREFUSED) | Err(Errno::ACCESS) => {}
            Ok(()) | Err(_) if path.is_some() => {
                return Err(StartError(format!(
                    "UNIX socket path {} is in use",
                    p.display()
                )));
            }
            _ => continue,
        }
        let _ = std::fs::remove_file(p);
        let fd = net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| StartError(format!("socket: {e}")))?;
        if let Err(e) = net::bind(&fd, &addr) {
            if path.is_some() {
                return Err(StartError(format!(
                    "Failed to bind UNIX socket {}: {e}",
                    p.display()
                )));
            }
            continue;
        }
        net::listen(&fd, 0).map_err(|e| StartError(format!("listen: {e}")))?;
        return Ok(Listen::Socket {
            fd,
            path: p.clone(),
        });
    }
    Err(StartError(
        "No free /tmp/passt_N.socket path (N = 1..99)".into(),
    ))
}

/// Most connections turned away per tick.
const TURN_AWAY_BATCH: usize = 16;

/// One guest at a time (passt-reference §7.1): while one is connected, any further
/// client on the listening socket is accepted and closed at once, its PID logged,
/// instead of being left queued behind the current one. Runs on the event loop's
/// periodic tick, so a second client is turned away within a second.
struct TurnAway<'a>(&'a OwnedFd);

impl Periodic<PasstLink> for TurnAway<'_> {
    fn tick(&mut self, _: &mut Engine<'_>, _: &mut LinuxHost<PasstLink>) -> bool {
        turn_away_extra_clients(self.0);
        false
    }
}

/// Accept and close up to [`TURN_AWAY_BATCH`] pending clients.
fn turn_away_extra_clients(listener: &OwnedFd) {
    for _ in 0..TURN_AWAY_BATCH {
        // Non-blocking listener: EAGAIN means nobody else is waiting.
        let Ok(extra) = net::accept_with(listener, SocketFlags::CLOEXEC) else {
            return;
        };
        match net::sockopt::socket_peercred(&extra) {
            Ok(cred) => eprintln!(
                "passt: discarding connection from PID {}: a guest is already connected",
                cred.pid.as_raw_nonzero()
            ),
            Err(_) => eprintln!("passt: discarding connection: a guest is already connected"),
        }
    }
}

/// The guest link of passt: the current client, if any.
#[derive(Default)]
pub struct PasstLink {
    client: Option<QemuStream>,
}

impl GuestLink for PasstLink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        match &mut self.client {
            Some(c) => c.send_frame(frame),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

impl GuestSource for PasstLink {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.client {
            Some(c) => c.recv_frame(buf),
            None => Ok(0),
        }
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.client.as_ref().map(|c| c.as_fd())
    }
}

/// What passt needs to run.
pub struct PasstPlan {
    /// The engine's configuration.
    pub engine: Config,
    /// Flow table capacity.
    pub flows: usize,
    /// Exit when the first client leaves.
    pub one_off: bool,
    /// Print "accepted connection" and similar notices on stderr.
    pub verbose: bool,
    /// Go to the background once listening (without `-f`).
    pub daemon: bool,
    /// Where to write our PID once ready (`-P`).
    pub pid_file: Option<PathBuf>,
}

/// Serve clients until `--one-off` ends it; returns the exit status.
pub fn run(plan: PasstPlan, listen: Listen) -> Result<i32, StartError> {
    let mut slots: Vec<Slot<Flow>> = (0..plan.flows).map(|_| Slot::default()).collect();
    let mut tx = vec![0u8; TX_BUFFER];
    let mut index = vec![0u32; index_len_for(plan.flows)];
    let storage = Storage {
        tx: (&mut tx[..]).into(),
        flows: (&mut slots[..]).into(),
        flow_index: (&mut index[..]).into(),
    };
    let mut engine = Engine::new(plan.engine.clone(), storage)
        .map_err(|e| StartError(format!("Invalid configuration: {e:?}")))?;
    let mut host = LinuxHost::new(PasstLink::default(), plan.flows)
        .map_err(|e| StartError(format!("epoll: {e}")))?;
    if let Err(e) = engine.start(&mut host) {
        return Err(crate::pasta::bind_failure(&e));
    }
    crate::pasta::ready(plan.daemon, plan.pid_file.as_deref())?;
    // No more files, privileges or new system calls from here on. passt runs as an
    // ordinary user: a user namespace of its own gives it the rights to drop the rest.
    let isolated = crate::isolation::isolate(crate::seccomp::Profile::Passt, true)
        .map_err(|e| StartError(format!("Failed to isolate: {e}")))?;
    if let Some(why) = isolated.filesystem_skipped {
        eprintln!("Couldn't detach from the file system ({why}); continuing with it");
    }
    let (listener, one_off, mut pending) = match listen {
        Listen::Socket { fd, path } => (Some((fd, path)), plan.one_off, None),
        Listen::Connected(fd) => (None, true, Some(fd)),
    };
    loop {
        let client = match pending.take() {
            Some(fd) => fd,
            None => {
                let Some((fd, _)) = &listener else {
                    return Ok(0);
                };
                // Wait for the next guest in a blocking accept(); while a guest is
                // served the listener is non-blocking, for [`TurnAway`]. (Toggling
                // the mode keeps to the seccomp allowlist: no poll needed.)
                let fionbio = |on| {
                    rustix::io::ioctl_fionbio(fd, on)
                        .map_err(|e| StartError(format!("fionbio: {e}")))
                };
                fionbio(false)?;
                let accepted = net::accept_with(fd, SocketFlags::CLOEXEC);
                fionbio(true)?;
                match accepted {
                    Ok(c) => c,
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(StartError(format!("accept: {e}"))),
                }
            }
        };
        rustix::io::ioctl_fionbio(&client, true)
            .map_err(|e| StartError(format!("fionbio: {e}")))?;
        let _ = net::sockopt::set_socket_send_buffer_size(&client, (i32::MAX / 2) as usize);
        let _ = net::sockopt::set_socket_recv_buffer_size(&client, (i32::MAX / 2) as usize);
        if plan.verbose {
            eprintln!("passt: accepted connection from the guest");
        }
        host.guest_mut().client = Some(QemuStream::new(client));
        let exit = match &listener {
            Some((fd, _)) => event_loop::run(&mut engine, &mut host, None, &mut TurnAway(fd)),
            None => event_loop::run(&mut engine, &mut host, None, &mut ()),
        };
        engine.handle_event(event_loop::now(), Event::TapDown, &mut host);
        host.guest_mut().client = None;
        match exit {
            Ok(Exit::GuestGone) | Ok(Exit::ChildExited) | Ok(Exit::Stopped) => {}
            Err(e) => eprintln!("passt: client dropped: {e}"),
        }
        if one_off {
            crate::alloc_count::write_report();
            // The socket file stays: without a file system we cannot unlink it, and
            // the next start probes and replaces a stale one.
            return Ok(0);
        }
    }
}
