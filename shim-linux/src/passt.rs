//! passt's life cycle (passt-reference §7.1, callers.md §1.4–1.6): listen on a UNIX
//! stream socket, serve one qemu client at a time over the length-prefixed framing,
//! reset the guest's state when it leaves, and accept the next one — or exit after the
//! first with `--one-off` / `--fd`.

use crate::event_loop::Received;
use crate::event_loop::{self, Exit, GuestSource, Periodic};
use crate::host::{GuestLink, LinuxHost};
use crate::pasta::ForwardSpecs;
use crate::pasta::StartError;
use crate::pcap::Tapped;
use crate::qemu::QemuStream;
use crate::vhost_user::VhostUserLink;
use crate::watch::Signals;
use passt_core::config::Config;
use passt_core::config::Offload;
use passt_core::engine::{Flow, Storage};
use passt_core::flow::{index_len_for, Slot};
use passt_core::io::TxOffload;
use passt_core::{Engine, Event};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Transmit buffer: room for a run of UDP datagrams to a vhost-user guest that takes
/// them (and so for a full 64 KiB segment plus headers).
const TX_BUFFER: usize = passt_core::engine::UDP_RUN_TX_BUFFER;
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
/// for a free one. A path is free when nothing is there, or a socket nothing answers a
/// connect on (stale, from an earlier run: removed first). The socket file is created
/// with mode 0600 ([`crate::owner_only::bind_unix_stream`]): only our user can
/// connect. A symbolic link or any other file at the path is never followed nor
/// removed: an explicit path is then an error, a probed one is skipped.
pub fn listen(path: Option<&Path>) -> Result<Listen, StartError> {
    use crate::owner_only::{self, AtPath};
    let candidates: Vec<PathBuf> = match path {
        Some(p) => vec![p.to_path_buf()],
        None => (1..=PROBE_MAX)
            .map(|n| PathBuf::from(format!("/tmp/passt_{n}.socket")))
            .collect(),
    };
    let explicit = path.is_some();
    for p in &candidates {
        let addr = SocketAddrUnix::new(p.as_path())
            .map_err(|e| StartError(format!("Invalid socket path {}: {e}", p.display())))?;
        let refuse = |why: &dyn std::fmt::Display| {
            StartError(format!("UNIX socket path {}: {why}", p.display()))
        };
        match owner_only::at_path(p) {
            Ok(AtPath::Nothing) => {}
            Ok(AtPath::Socket) => {
                let probe = net::socket_with(
                    AddressFamily::UNIX,
                    SocketType::STREAM,
                    SocketFlags::CLOEXEC,
                    None,
                )
                .map_err(|e| StartError(format!("socket: {e}")))?;
                match net::connect(&probe, &addr) {
                    Err(Errno::NOENT) | Err(Errno::CONNREFUSED) | Err(Errno::ACCESS) => {}
                    Ok(()) | Err(_) if explicit => {
                        return Err(StartError(format!(
                            "UNIX socket path {} is in use",
                            p.display()
                        )));
                    }
                    _ => continue,
                }
                // Stale. (Another user's socket in the sticky /tmp can't be removed:
                // the bind below then fails.)
                let _ = owner_only::remove_stale_socket(p);
            }
            Ok(AtPath::Symlink) if explicit => return Err(refuse(&owner_only::symlink_refused())),
            Ok(AtPath::Other) if explicit => {
                return Err(refuse(&"file exists and is not a socket"))
            }
            Err(e) if explicit => return Err(refuse(&e)),
            Ok(AtPath::Symlink) | Ok(AtPath::Other) | Err(_) => continue,
        }
        let fd = match owner_only::bind_unix_stream(&addr) {
            Ok(fd) => fd,
            Err(e) if explicit => {
                return Err(StartError(format!(
                    "Failed to bind UNIX socket {}: {e}",
                    p.display()
                )));
            }
            Err(_) => continue,
        };
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

// One guest at a time (passt-reference §7.1): while one is connected, any further
// client on the listening socket is accepted and closed at once, its PID logged,
// instead of being left queued behind the current one. Runs on the event loop's
// periodic tick ([`PasstPeriodic`]), so a second client is turned away within a second.

/// Accept and close up to [`TURN_AWAY_BATCH`] pending clients.
fn turn_away_extra_clients(listener: &OwnedFd) {
    for _ in 0..TURN_AWAY_BATCH {
        // Non-blocking listener: EAGAIN means nobody else is waiting.
        let Ok(extra) = net::accept_with(listener, SocketFlags::CLOEXEC) else {
            return;
        };
        match net::sockopt::socket_peercred(&extra) {
            Ok(cred) => crate::log_warn!(
                "discarding connection from PID {}: a guest is already connected",
                cred.pid.as_raw_nonzero()
            ),
            Err(_) => crate::log_warn!("discarding connection: a guest is already connected"),
        }
    }
}

/// How qemu talks to us.
pub enum Client {
    /// `-netdev stream`: length-prefixed frames on the socket.
    Stream(QemuStream),
    /// `-netdev vhost-user`: virtqueues in shared guest memory.
    VhostUser(Box<VhostUserLink>),
}

/// The guest link of passt: the current client, if any.
#[derive(Default)]
pub struct PasstLink {
    client: Option<Client>,
}

impl GuestLink for PasstLink {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        match &mut self.client {
            Some(Client::Stream(c)) => c.send_frame(frame),
            Some(Client::VhostUser(c)) => c.send_frame(frame),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        match &mut self.client {
            Some(Client::VhostUser(c)) => c.send_offload(frame, offload),
            Some(Client::Stream(_)) => Err(io::ErrorKind::Unsupported.into()),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    fn peek_to_guest(
        &mut self,
        fd: BorrowedFd<'_>,
        len: usize,
        headroom: usize,
    ) -> io::Result<usize> {
        match &mut self.client {
            Some(Client::VhostUser(c)) => c.peek_to_guest(fd, len, headroom),
            Some(Client::Stream(_)) => Err(io::ErrorKind::Unsupported.into()),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    fn commit_to_guest(&mut self, headers: &[u8], offload: &TxOffload) -> io::Result<()> {
        match &mut self.client {
            Some(Client::VhostUser(c)) => c.commit_to_guest(headers, offload),
            Some(Client::Stream(_)) => Err(io::ErrorKind::Unsupported.into()),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }
}

impl GuestSource for PasstLink {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.client {
            Some(Client::Stream(c)) => c.recv_frame(buf),
            Some(Client::VhostUser(c)) => c.recv_frame(buf),
            None => Ok(0),
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        match &mut self.client {
            Some(Client::VhostUser(c)) => c.recv(buf),
            _ => {
                let len = self.recv_frame(buf)?;
                Ok(Received {
                    start: 0,
                    len,
                    checksum_partial: false,
                })
            }
        }
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.client {
            Some(Client::Stream(c)) => Some(c.as_fd()),
            Some(Client::VhostUser(c)) => c.poll_fd(),
            None => None,
        }
    }

    fn after_batch(&mut self) {
        if let Some(Client::VhostUser(c)) = &mut self.client {
            c.after_batch();
        }
    }

    fn negotiated_offload(&self) -> Option<Offload> {
        match &self.client {
            Some(Client::VhostUser(c)) => c.negotiated_offload(),
            _ => None,
        }
    }
}

/// What passt needs to run.
pub struct PasstPlan {
    /// The engine's configuration.
    pub engine: Config,
    /// Flow table capacity.
    pub flows: usize,
    /// Switch to this user after set-up (`--runas`, or root's default `nobody`).
    pub runas: Option<crate::isolation::RunAs>,
    /// Exit when the first client leaves.
    pub one_off: bool,
    /// Go to the background once listening (without `-f`).
    pub daemon: bool,
    /// Where to write our PID once ready (`-P`), opened at start.
    pub pid_file: Option<crate::daemon::PidFile>,
    /// Capture the guest's frames to this file (`-p`).
    pub pcap: Option<PathBuf>,
    /// The `-t` arguments as given, to name the one behind a port that can't be bound.
    pub specs: ForwardSpecs,
    /// `-o`, `--outbound-if4/6`, `--freebind`.
    pub sockets: crate::sockopts::SocketPolicy,
    /// Serve clients as a vhost-user back end (`--vhost-user`) instead of over the
    /// stream socket.
    pub vhost_user: bool,
}

/// The event loop's extra work while a guest is connected: turn other clients away
/// (on the tick) and notice SIGTERM/SIGINT (woken by the signalfd).
struct PasstPeriodic<'a> {
    listener: Option<&'a OwnedFd>,
    signals: &'a Signals,
    signalled: bool,
}

impl Periodic<Tapped<PasstLink>> for PasstPeriodic<'_> {
    fn tick(&mut self, _: &mut Engine<'_>, _: &mut LinuxHost<Tapped<PasstLink>>) -> bool {
        if let Some(l) = self.listener {
            turn_away_extra_clients(l);
        }
        false
    }

    fn woken(&mut self) -> bool {
        self.signalled |= self.signals.received().is_some();
        self.signalled
    }
}

/// Serve clients until `--one-off` (or `--fd`) ends it after the first, or SIGTERM or
/// SIGINT; returns the exit status.
pub fn run(mut plan: PasstPlan, listen: Listen) -> Result<i32, StartError> {
    // Into the background (without -f or --fd): fork now, while we have one thread,
    // and tell the waiting parent once listening.
    let detached = if plan.daemon {
        Some(
            crate::daemon::detach(plan.pid_file.take())
                .map_err(|e| StartError(format!("Failed to daemonise: {e}")))?,
        )
    } else {
        None
    };
    // SIGTERM/SIGINT end passt cleanly. Blocked before any thread exists (threads
    // inherit the mask; one that doesn't block them would take the default action).
    let signals = Signals::block_termination().map_err(|e| StartError(format!("signalfd: {e}")))?;
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
    let pcap = crate::pasta::open_pcap(plan.pcap.as_deref())?;
    let mut host = LinuxHost::new(Tapped::new(PasstLink::default(), pcap), plan.flows)
        .map_err(|e| StartError(format!("epoll: {e}")))?;
    host.set_socket_policy(plan.sockets);
    // The filter applied once set-up is done.
    let profile = if plan.vhost_user {
        crate::seccomp::Profile::PasstVhostUser
    } else {
        crate::seccomp::Profile::Passt
    };
    host.batch_udp_sends(profile.send_call());
    match engine.start(&mut host) {
        Ok(n) => crate::log_debug!("Listening on {n} socket(s) for forwarded ports"),
        Err(e) => return Err(crate::pasta::bind_failure(&e, &plan.specs)),
    }
    let (listener, one_off, pending) = match listen {
        Listen::Socket { fd, .. } => (Some(fd), plan.one_off, None),
        Listen::Connected(fd) => (None, true, Some(fd)),
    };
    // Waiting for a guest: the listener or a signal, whichever comes first. The epoll
    // set is made now, while epoll_create is still allowed.
    let accept_wait = match &listener {
        Some(l) => {
            Some(AcceptWait::new(l, &signals).map_err(|e| StartError(format!("epoll: {e}")))?)
        }
        None => None,
    };
    crate::pasta::ready(detached, plan.pid_file.take())?;
    // No more files, privileges or new system calls from here on. passt runs as an
    // ordinary user: a user namespace of its own gives it the rights to drop the rest.
    let isolated = crate::isolation::isolate(profile, true, plan.runas)
        .map_err(|e| StartError(format!("Failed to isolate: {e}")))?;
    if let Some(why) = isolated.filesystem_skipped {
        crate::log_warn!("Couldn't detach from the file system ({why}); continuing with it");
    }
    let code = serve(
        &mut engine,
        &mut host,
        Clients {
            listener: listener.as_ref(),
            accept_wait: accept_wait.as_ref(),
            pending,
            one_off,
            vhost_user: plan.vhost_user,
        },
        &signals,
    );
    crate::alloc_count::write_report();
    event_loop::log_stats(engine.stats(), &engine.flow_counts());
    host.log_datagram_stats();
    // The socket file stays: without a file system we cannot unlink it, and the next
    // start probes and replaces a stale one.
    code
}

/// An epoll set of the listening socket and the signalfd, to wait for the next guest
/// without `poll` (not on the seccomp allowlist).
struct AcceptWait {
    epoll: OwnedFd,
}

/// epoll data of the listener in [`AcceptWait`] (the signalfd gets 1).
const LISTENER_TOKEN: u64 = 0;

impl AcceptWait {
    fn new(listener: &OwnedFd, signals: &Signals) -> io::Result<AcceptWait> {
        use rustix::event::epoll;
        let e = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        // Non-blocking from now on: [`turn_away_extra_clients`] relies on it too.
        rustix::io::ioctl_fionbio(listener, true)?;
        epoll::add(
            &e,
            listener,
            epoll::EventData::new_u64(LISTENER_TOKEN),
            epoll::EventFlags::IN,
        )?;
        epoll::add(
            &e,
            signals.fd(),
            epoll::EventData::new_u64(1),
            epoll::EventFlags::IN,
        )?;
        Ok(AcceptWait { epoll: e })
    }

    /// Block until a client is waiting (`true`) or a termination signal came (`false`).
    fn wait(&self, signals: &Signals) -> Result<bool, StartError> {
        use rustix::event::epoll;
        let mut events = [epoll::Event {
            flags: epoll::EventFlags::empty(),
            data: epoll::EventData::new_u64(0),
        }; 2];
        loop {
            let n = match epoll::wait(&self.epoll, &mut events[..], None) {
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(StartError(format!("epoll_wait: {e}"))),
            };
            if signals.received().is_some() {
                return Ok(false);
            }
            if events[..n].iter().any(|e| e.data.u64() == LISTENER_TOKEN) {
                return Ok(true);
            }
        }
    }
}

/// Where clients come from and how they are served.
struct Clients<'a> {
    listener: Option<&'a OwnedFd>,
    accept_wait: Option<&'a AcceptWait>,
    /// A client already connected (`--fd`).
    pending: Option<OwnedFd>,
    one_off: bool,
    vhost_user: bool,
}

/// The link for a client just accepted on `fd`.
fn client(fd: OwnedFd, vhost_user: bool) -> Result<Client, StartError> {
    if vhost_user {
        crate::log_info!("Accepted vhost-user front end");
        let link = VhostUserLink::new(fd).map_err(|e| StartError(format!("vhost-user: {e}")))?;
        return Ok(Client::VhostUser(Box::new(link)));
    }
    rustix::io::ioctl_fionbio(&fd, true).map_err(|e| StartError(format!("fionbio: {e}")))?;
    let _ = net::sockopt::set_socket_send_buffer_size(&fd, (i32::MAX / 2) as usize);
    let _ = net::sockopt::set_socket_recv_buffer_size(&fd, (i32::MAX / 2) as usize);
    crate::log_info!("Accepted connection from the guest");
    Ok(Client::Stream(QemuStream::new(fd)))
}

/// Accept clients and run the event loop for each, until `one_off` ends it after the
/// first, or a termination signal.
fn serve(
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<Tapped<PasstLink>>,
    clients: Clients<'_>,
    signals: &Signals,
) -> Result<i32, StartError> {
    let Clients {
        listener,
        accept_wait,
        mut pending,
        one_off,
        vhost_user,
    } = clients;
    loop {
        let fd = match pending.take() {
            Some(fd) => fd,
            None => {
                let (Some(fd), Some(wait)) = (listener, accept_wait) else {
                    return Ok(0);
                };
                if !wait.wait(signals)? {
                    return Ok(0);
                }
                match net::accept_with(fd, SocketFlags::CLOEXEC) {
                    Ok(c) => c,
                    Err(Errno::INTR) | Err(Errno::AGAIN) => continue,
                    Err(e) => return Err(StartError(format!("accept: {e}"))),
                }
            }
        };
        host.guest_mut().inner_mut().client = Some(client(fd, vhost_user)?);
        let mut periodic = PasstPeriodic {
            listener,
            signals,
            signalled: false,
        };
        let exit = event_loop::run(engine, host, None, &[signals.fd()], &mut periodic);
        engine.handle_event(event_loop::now(), Event::TapDown, host);
        host.guest_mut().inner_mut().client = None;
        if vhost_user {
            // The next front end negotiates its own offloads.
            engine.set_offload(Offload::default());
        }
        match exit {
            Ok(Exit::GuestGone) => crate::log_info!("Client connection closed"),
            Ok(Exit::ChildExited) | Ok(Exit::Stopped) => {}
            Err(e) => crate::log_err!("Client dropped: {e}"),
        }
        if one_off || periodic.signalled {
            return Ok(0);
        }
    }
}
