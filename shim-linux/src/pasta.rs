//! pasta's life cycle: create or join the namespace, open and configure the tap inside
//! it (a namespace we create also lets its users open ping sockets), bind forwarded
//! ports, then run the event loop until the command exits (or the namespace goes
//! away).
//!
//! Namespace rules this follows: joining the child's user namespace requires a
//! single-threaded process, so it happens first, on the main thread; the main thread
//! then stays in the host network namespace (where our outbound sockets must live) and
//! enters the child's network namespace only on short-lived helper threads
//! ([`in_netns`]) to open the tap and configure it.

use crate::discover::HostTemplate;
use crate::event_loop::{self, Exit, GuestSource, Periodic};
use crate::host::LinuxHost;
use crate::netlink::Netlink;
use crate::netns::{in_netns, NetnsHandle, NsChild, NsCommand, UsernsHandle};
use crate::nsconfig::{self, NsNetConfig};
use crate::nssocket::NsSocketFactory;
use crate::procnet::ListeningPorts;
use crate::tap::Tap;
use passt_core::config::Config;
use passt_core::engine::{Flow, Storage};
use passt_core::flow::{index_len_for, Slot};
use passt_core::fwd::PortSet;
use passt_core::tcp::Direction;
use passt_core::Engine;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Transmit buffer: a full 64 KiB segment plus headers.
const TX_BUFFER: usize = 65_536 + 256;

/// Which namespace pasta serves.
#[derive(Debug, Clone)]
pub enum Target {
    /// Run this command in new user and network namespaces.
    Spawn {
        /// Program and arguments.
        argv: Vec<OsString>,
        /// Hostname inside the namespace.
        hostname: Option<String>,
    },
    /// Join an existing network namespace (`--netns PATH`, or a PID's).
    Attach {
        /// Network namespace file.
        netns: PathBuf,
        /// User namespace file to join first, if any.
        userns: Option<PathBuf>,
    },
}

/// Everything pasta needs to run, decided before any namespace work.
#[derive(Debug, Clone)]
pub struct PastaPlan {
    /// The namespace.
    pub target: Target,
    /// The host's template interfaces.
    pub template: HostTemplate,
    /// Tap interface name inside the namespace.
    pub ns_ifname: String,
    /// Configure addresses, routes and MTU (`--config-net`).
    pub config_net: bool,
    /// What `--config-net` sets.
    pub net: NsNetConfig,
    /// The engine's configuration.
    pub engine: Config,
    /// Flow table capacity.
    pub flows: usize,
    /// Keep running when an attached namespace disappears (`--no-netns-quit`).
    pub no_netns_quit: bool,
    /// Go to the background once ready (attach mode without `-f`).
    pub daemon: bool,
    /// Where to write our PID once ready (`-P`).
    pub pid_file: Option<PathBuf>,
}

/// The readiness point: everything is configured and every forward is bound. Daemonise
/// (the parent exits 0 here) or just record our PID.
pub(crate) fn ready(daemon: bool, pid_file: Option<&std::path::Path>) -> Result<(), StartError> {
    if daemon {
        crate::daemon::daemonize(pid_file).map_err(|e| fail("Failed to daemonise", e))
    } else if let Some(p) = pid_file {
        crate::daemon::write_pid_file(p, std::process::id() as i32)
            .map_err(|e| fail("Failed to write PID file", e))
    } else {
        Ok(())
    }
}

/// A start-up failure, with the message pasta prints before exiting 1.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

fn fail(what: &str, e: impl fmt::Display) -> StartError {
    StartError(format!("{what}: {e}"))
}

/// Run pasta; returns the exit status to use (the command's, or 0 when attached).
pub fn run(plan: PastaPlan) -> Result<i32, StartError> {
    let (netns, mut child) = match &plan.target {
        Target::Spawn { argv, hostname } => {
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| StartError("no command to run".into()))?;
            let mut cmd = NsCommand::new(program);
            cmd.args(args);
            if let Some(h) = hostname {
                cmd.hostname(h.as_bytes());
            }
            let child = cmd
                .spawn()
                .map_err(|e| fail("Failed to create namespaces", e))?;
            child
                .userns()
                .enter()
                .map_err(|e| fail("Failed to join the user namespace", e))?;
            let ns = NetnsHandle::from_pid(child.pid())
                .map_err(|e| fail("Failed to open the network namespace", e))?;
            (ns, Some(child))
        }
        Target::Attach { netns, userns } => {
            if let Some(u) = userns {
                UsernsHandle::open(u).and_then(|h| h.enter()).map_err(|e| {
                    fail(&format!("Failed to join user namespace {}", u.display()), e)
                })?;
            }
            let ns = NetnsHandle::open(netns)
                .map_err(|e| fail(&format!("Failed to open namespace {}", netns.display()), e))?;
            (ns, None)
        }
    };

    let tap = {
        let name = plan.ns_ifname.clone();
        let template = plan.template.clone();
        let net = plan.net.clone();
        let config_net = plan.config_net;
        let spawned = matches!(plan.target, Target::Spawn { .. });
        in_netns(&netns, move || -> io::Result<Tap> {
            if spawned {
                allow_ping_sockets();
            }
            let tap = Tap::open(&name)?;
            let mut nl = Netlink::open()?;
            if config_net {
                nsconfig::configure(&mut nl, tap.name(), &template, &net)?;
            } else {
                nsconfig::basic_setup(&mut nl, tap.name(), net.mac)?;
            }
            Ok(tap)
        })
        .and_then(|r| r)
        .map_err(|e| fail("Failed to set up the tap device", e))?
    };

    let slots: Vec<Slot<Flow>> = (0..plan.flows).map(|_| Slot::default()).collect();
    let mut tx = vec![0u8; TX_BUFFER];
    let mut index = vec![0u32; index_len_for(plan.flows)];
    let mut slots = slots;
    let storage = Storage {
        tx: (&mut tx[..]).into(),
        flows: (&mut slots[..]).into(),
        flow_index: (&mut index[..]).into(),
    };
    let mut engine = Engine::new(plan.engine.clone(), storage)
        .map_err(|e| fail("Invalid configuration", format!("{e:?}")))?;
    let mut host =
        LinuxHost::new(tap, plan.flows).map_err(|e| fail("Failed to set up the event loop", e))?;
    // Sockets inside the namespace (-T listeners, spliced connections) come from a
    // helper thread living there.
    let ns_for_sockets = match &plan.target {
        Target::Spawn { .. } => child.as_ref().map(|c| NetnsHandle::from_pid(c.pid())),
        Target::Attach { netns, .. } => Some(NetnsHandle::open(netns)),
    };
    let mut periodic = PastaPeriodic::default();
    if let Some(handle) = ns_for_sockets {
        let factory = handle
            .and_then(NsSocketFactory::start)
            .map_err(|e| fail("Failed to reach the namespace for its sockets", e))?;
        // `-t auto` follows the namespace's listening ports, `-T auto` the host's.
        if plan.engine.forwards.tcp_in_auto {
            let files = THREAD_NET_TCP
                .iter()
                .filter_map(|p| factory.open_file(Path::new(p)).ok())
                .collect();
            periodic.scanners[Direction::Inbound as usize] = Some(ListeningPorts::new(files));
        }
        host.set_guest_namespace(factory);
    }
    if plan.engine.forwards.tcp_out_auto {
        let files = PROC_NET_TCP
            .iter()
            .filter_map(|p| std::fs::File::open(p).ok())
            .collect();
        periodic.scanners[Direction::Outbound as usize] = Some(ListeningPorts::new(files));
    }
    if let Err(e) = engine.start(&mut host) {
        return Err(bind_failure(&e));
    }
    // Ports found listening now are bound before we report readiness.
    periodic.scan(&mut engine, &mut host);

    let pidfd = match child.as_mut() {
        Some(c) => {
            c.start()
                .map_err(|e| fail("Failed to start the command", e))?;
            Some(
                rustix::process::pidfd_open(c.pid(), rustix::process::PidfdFlags::empty())
                    .map_err(|e| fail("pidfd_open", e))?,
            )
        }
        None => None,
    };

    // A spawned command keeps its terminal: only an attached pasta goes to the background.
    ready(plan.daemon && child.is_none(), plan.pid_file.as_deref())?;

    let watch = match (&plan.target, plan.no_netns_quit) {
        (Target::Attach { netns, .. }, false) => Some(netns.clone()),
        _ => None,
    };
    periodic.netns_file = match watch {
        Some(path) => Some(
            NetnsWatch::new(&path).map_err(|e| fail("Failed to watch the namespace file", e))?,
        ),
        None => None,
    };
    // No more files, privileges or new system calls from here on.
    let isolated = crate::isolation::isolate(crate::seccomp::Profile::Pasta, false)
        .map_err(|e| fail("Failed to isolate", e))?;
    if let Some(why) = isolated.filesystem_skipped {
        eprintln!("Couldn't detach from the file system ({why}); continuing with it");
    }
    let exit = event_loop::run(
        &mut engine,
        &mut host,
        pidfd.as_ref().map(|p| p.as_fd()),
        &mut periodic,
    )
    .map_err(|e| fail("Event loop failed", e))?;
    crate::alloc_count::write_report();
    match (exit, child.as_mut()) {
        (Exit::ChildExited, Some(c)) | (Exit::GuestGone, Some(c)) | (Exit::Stopped, Some(c)) => {
            let _ = c.kill_if_running();
            c.wait().map_err(|e| fail("waitpid", e))
        }
        (_, None) => Ok(0),
    }
}

/// Notices that a namespace file disappeared, without needing the file system after
/// isolation: the directory is held open and the name looked up relative to it.
struct NetnsWatch {
    dir: std::os::fd::OwnedFd,
    name: std::ffi::OsString,
}

impl NetnsWatch {
    fn new(path: &Path) -> io::Result<NetnsWatch> {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let dir = rustix::fs::open(
            parent,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(NetnsWatch {
            dir,
            name: name.to_os_string(),
        })
    }

    /// The file (or, for `/proc/PID/ns/net`, the process) is gone.
    fn gone(&self) -> bool {
        rustix::fs::statat(
            &self.dir,
            self.name.as_os_str(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .is_err()
    }
}

/// `/proc/net` files listing TCP sockets, per family.
const PROC_NET_TCP: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];
/// The same files as seen by the calling *thread*: `/proc/net` links to
/// `/proc/self/net`, which follows the thread-group leader, not a helper thread that
/// entered another namespace.
const THREAD_NET_TCP: [&str; 2] = ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"];

/// pasta's once-a-second work: `auto` port scans, and noticing that an attached
/// namespace is gone.
#[derive(Default)]
struct PastaPeriodic {
    /// Listening-port scanners by [`Direction`] (the other side's `/proc/net/tcp*`).
    scanners: [Option<ListeningPorts>; 2],
    /// The attached namespace's file: exit once it is deleted (podman removes the bind
    /// mount when the container stops).
    netns_file: Option<NetnsWatch>,
    found: Box<PortSet>,
}

impl PastaPeriodic {
    fn scan<G: GuestSource>(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) {
        for direction in [Direction::Inbound, Direction::Outbound] {
            if let Some(s) = &mut self.scanners[direction as usize] {
                if s.scan(&mut self.found).is_ok() {
                    engine.update_auto_forwards(direction, &self.found, host);
                }
            }
        }
    }
}

impl<G: GuestSource> Periodic<G> for PastaPeriodic {
    fn tick(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) -> bool {
        self.scan(engine, host);
        self.netns_file.as_ref().is_some_and(|w| w.gone())
    }
}

/// Let every group use ping sockets in a namespace we created, so the command can
/// `ping` without privileges (passt does the same). Our user namespace maps only
/// group 0, where the full range is refused (`EINVAL`): fall back to "0 0".
/// Failures are harmless (ping then needs raw sockets) and ignored.
fn allow_ping_sockets() {
    const PATH: &str = "/proc/sys/net/ipv4/ping_group_range";
    if std::fs::write(PATH, "0 2147483647").is_err() {
        let _ = std::fs::write(PATH, "0 0");
    }
}

/// passt's message for a forwarded port that cannot be bound (podman matches
/// "PORT.*ddress already in use").
pub(crate) fn bind_failure(e: &passt_core::StartError) -> StartError {
    use passt_core::tcp::Direction;
    let text = io::Error::from_raw_os_error(errno_of(e.error));
    let option = match (e.transport, e.direction) {
        (passt_core::Transport::Udp, Direction::Inbound) => 'u',
        (passt_core::Transport::Udp, Direction::Outbound) => 'U',
        (_, Direction::Inbound) => 't',
        (_, Direction::Outbound) => 'T',
    };
    StartError(format!(
        "Failed to bind port {} ({text}) for option '-{option}', exiting",
        e.port
    ))
}

/// The platform errno behind a `HostError`, for messages.
fn errno_of(e: passt_core::HostError) -> i32 {
    use passt_core::HostError as H;
    match e {
        H::AddrInUse => libc::EADDRINUSE,
        H::AddrNotAvailable => libc::EADDRNOTAVAIL,
        H::PermissionDenied => libc::EACCES,
        H::TooManyFiles => libc::EMFILE,
        H::Other(n) => n,
        _ => libc::EIO,
    }
}

trait KillIfRunning {
    fn kill_if_running(&mut self) -> io::Result<()>;
}

impl KillIfRunning for NsChild {
    fn kill_if_running(&mut self) -> io::Result<()> {
        match self.try_wait()? {
            Some(_) => Ok(()),
            None => self.kill(),
        }
    }
}
