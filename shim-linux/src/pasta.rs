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
use crate::netlink::sock_diag::TcpListeners;
use crate::netlink::Netlink;
use crate::netns::{in_netns, NetnsHandle, NsChild, NsCommand, UsernsHandle};
use crate::nsconfig::{self, NsNetConfig};
use crate::nssocket::NsSocketFactory;
use crate::pcap::{PcapWriter, Tapped};
use crate::procnet::{ListeningPorts, Table};
use crate::tap::Tap;
use crate::watch::{NetnsWatch, Signals};
use passt_core::config::Config;
use passt_core::engine::{Flow, Storage};
use passt_core::flow::{index_len_for, Slot};
use passt_core::fwd::PortSet;
use passt_core::tcp::Direction;
use passt_core::Engine;
use rustix::net::netlink::SOCK_DIAG;
use rustix::net::{AddressFamily, SocketType};
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Transmit buffer: a full 64 KiB segment plus headers, and room for the tap's UDP
/// segmentation offload to gather 64 KiB runs of datagrams.
const TX_BUFFER: usize = passt_core::engine::UDP_RUN_TX_BUFFER;

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
#[derive(Debug)]
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
    /// Switch to this user after set-up (`--runas`, or root's default `nobody`).
    pub runas: Option<crate::isolation::RunAs>,
    /// Keep running when an attached namespace disappears (`--no-netns-quit`).
    pub no_netns_quit: bool,
    /// Go to the background once ready (attach mode without `-f`).
    pub daemon: bool,
    /// Where to write our PID once ready (`-P`), opened at start.
    pub pid_file: Option<crate::daemon::PidFile>,
    /// Capture the tap's frames to this file (`-p`).
    pub pcap: Option<PathBuf>,
    /// The `-t`/`-T`/`-u`/`-U` arguments as given, to name the one behind a port that
    /// can't be bound.
    pub specs: ForwardSpecs,
    /// `-c`: serve the control socket here (forwards changed at run time).
    pub control: Option<PathBuf>,
    /// `-o`, `--outbound-if4/6`, `--freebind`.
    pub sockets: crate::sockopts::SocketPolicy,
    /// `-F`: a tap descriptor opened by our parent, attached to the interface named
    /// `ns_ifname` in the namespace, used instead of opening one.
    pub tap_fd: Option<i32>,
}

/// The port-forwarding arguments as the user gave them, for error messages.
#[derive(Debug, Clone, Default)]
pub struct ForwardSpecs {
    /// `-t`/`--tcp-ports`, in order.
    pub tcp_in: Vec<String>,
    /// `-T`/`--tcp-ns`, in order.
    pub tcp_out: Vec<String>,
    /// `-u`/`--udp-ports`, in order.
    pub udp_in: Vec<String>,
    /// `-U`/`--udp-ns`, in order.
    pub udp_out: Vec<String>,
}

/// The readiness point: everything is configured and every forward is bound. A
/// detached daemon tells its waiting parent (which writes the PID file and exits 0);
/// otherwise we just record our PID.
pub(crate) fn ready(
    detached: Option<crate::daemon::Detached>,
    pid_file: Option<crate::daemon::PidFile>,
) -> Result<(), StartError> {
    if let Some(d) = detached {
        d.ready().map_err(|e| fail("Failed to daemonise", e))
    } else if let Some(f) = pid_file {
        f.write(std::process::id() as i32)
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

/// The tap behind the bad link [`crate::link_faults::ENV`] describes, if it does.
#[cfg(feature = "test-link-faults")]
fn faulty(tap: Tap) -> Result<crate::link_faults::Faulty<Tap>, StartError> {
    let link = crate::link_faults::Faulty::from_env(tap)
        .map_err(|e| fail("Invalid test link faults", e))?;
    if let Ok(plan) = std::env::var(crate::link_faults::ENV) {
        crate::log_warn!("Test build: damaging frames on the tap link ({plan})");
    }
    Ok(link)
}

/// Run pasta; returns the exit status to use (the command's, or 0 when attached).
pub fn run(mut plan: PastaPlan) -> Result<i32, StartError> {
    // An attached pasta goes to the background: fork now, while we have one thread,
    // and tell the waiting parent once ready.
    let detached = match (&plan.target, plan.daemon) {
        (Target::Attach { .. }, true) => Some(
            crate::daemon::detach(plan.pid_file.take())
                .map_err(|e| fail("Failed to daemonise", e))?,
        ),
        _ => None,
    };
    // An attached pasta exits cleanly on SIGTERM/SIGINT. Blocked first of all: threads
    // (the namespace helpers) inherit the mask, and a thread that doesn't block them
    // would take the default action for the whole process.
    let signals = match plan.target {
        Target::Attach { .. } => {
            Some(Signals::block_termination().map_err(|e| fail("Failed to set up signals", e))?)
        }
        Target::Spawn { .. } => None,
    };
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
            // Root gives the command's namespaces to the user it switches to (passt
            // switches before creating them): root in there is that user out here.
            let root = rustix::process::geteuid().is_root();
            if let (true, Some(to)) = (root, plan.runas) {
                cmd.run_as(to.uid, to.gid);
            }
            let child = cmd
                .spawn()
                .map_err(|e| fail("Failed to create namespaces", e))?;
            // Root already has every right over the child's namespaces (its user
            // namespace is a child of ours). Staying outside it when we are to switch
            // users keeps the IDs we switch to mapped: in there only root is.
            if !(root && plan.runas.is_some()) {
                child
                    .userns()
                    .enter()
                    .map_err(|e| fail("Failed to join the user namespace", e))?;
            }
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

    let given_tap = match plan.tap_fd {
        Some(fd) => Some(
            crate::sys::adopt_inherited_fd(fd)
                .and_then(|fd| Tap::from_fd(fd, &plan.ns_ifname))
                .map_err(|e| fail(&format!("Invalid tap descriptor {fd}"), e))?,
        ),
        None => None,
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
            let tap = match given_tap {
                Some(t) => t,
                None => Tap::open(&name)
                    .map_err(|e| io::Error::new(e.kind(), format!("creating {name}: {e}")))?,
            };
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
    // The tap's offloads decide how large the segments the engine writes may be.
    let mut engine_config = plan.engine.clone();
    engine_config.offload = tap.engine_offload();
    crate::log_debug!("Tap offloads: {:?}", engine_config.offload);
    let mut engine = Engine::new(engine_config, storage)
        .map_err(|e| fail("Invalid configuration", format!("{e:?}")))?;
    let pcap = open_pcap(plan.pcap.as_deref())?;
    // Test builds only: a bad link between the tap and the engine.
    #[cfg(feature = "test-link-faults")]
    let tap = faulty(tap)?;
    let mut host = LinuxHost::new(Tapped::new(tap, pcap), plan.flows)
        .map_err(|e| fail("Failed to set up the event loop", e))?;
    host.set_socket_policy(plan.sockets);
    host.batch_udp_sends(crate::seccomp::Profile::Pasta.send_call());
    // Sockets inside the namespace (-T listeners, spliced connections) come from a
    // helper thread living there.
    let ns_for_sockets = match &plan.target {
        Target::Spawn { .. } => child.as_ref().map(|c| NetnsHandle::from_pid(c.pid())),
        Target::Attach { netns, .. } => Some(NetnsHandle::open(netns)),
    };
    let mut periodic = PastaPeriodic {
        signals,
        ..PastaPeriodic::default()
    };
    if let Some(handle) = ns_for_sockets {
        let factory = handle
            .and_then(NsSocketFactory::start)
            .map_err(|e| fail("Failed to reach the namespace for its sockets", e))?;
        // `-t`/`-u auto` follow the namespace's ports, `-T`/`-U auto` the host's.
        let f = plan.engine.forwards.clone();
        for (on, slot) in [(f.tcp_in_auto, TCP_IN), (f.udp_in_auto, UDP_IN)] {
            if on {
                let diag =
                    factory.socket(AddressFamily::NETLINK, SocketType::DGRAM, Some(SOCK_DIAG));
                periodic.scanners[slot] = Some(port_scanner(slot, diag.ok(), |name| {
                    factory.open_file(Path::new(&format!("/proc/thread-self/net/{name}")))
                }));
            }
        }
        host.set_guest_namespace(factory);
    }
    let f = plan.engine.forwards.clone();
    for (on, slot) in [(f.tcp_out_auto, TCP_OUT), (f.udp_out_auto, UDP_OUT)] {
        if on {
            let diag = TcpListeners::socket_here();
            periodic.scanners[slot] = Some(port_scanner(slot, diag.ok(), |name| {
                std::fs::File::open(format!("/proc/net/{name}"))
            }));
        }
    }
    match engine.start(&mut host) {
        Ok(n) => crate::log_debug!("Listening on {n} socket(s) for forwarded ports"),
        Err(e) => return Err(bind_failure(&e, &plan.specs)),
    }
    // Ports found listening now are bound before we report readiness.
    periodic.scan(&mut engine, &mut host);
    // The control socket exists once we are ready: podman runs pesto right after.
    if let Some(path) = &plan.control {
        let server = crate::control::ControlServer::bind(path).map_err(|e| {
            fail(
                &format!("Failed to bind control socket {}", path.display()),
                e,
            )
        })?;
        crate::log_info!("Control socket: {}", path.display());
        periodic.control = Some(server);
    }

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

    // An attached pasta quits when its namespace file goes away (podman deletes the
    // bind mount when the container stops); watched from before the readiness point
    // (the daemon inherits the watch across the fork). A spawned command keeps the
    // default signal actions: it has its own terminal and exit status.
    periodic.netns_file = match (&plan.target, plan.no_netns_quit) {
        (Target::Attach { netns, .. }, false) => Some(
            NetnsWatch::new(netns).map_err(|e| fail("Failed to watch the namespace file", e))?,
        ),
        _ => None,
    };

    // A spawned command keeps its terminal: only an attached pasta goes to the background.
    ready(detached, plan.pid_file.take())?;

    // No more files, privileges or new system calls from here on.
    if let (Some(to), Some(helper)) = (plan.runas, host.guest_namespace()) {
        helper
            .switch_user(to)
            .map_err(|e| fail("Failed to isolate the namespace helper", e))?;
    }
    let isolated = crate::isolation::isolate(crate::seccomp::Profile::Pasta, false, plan.runas)
        .map_err(|e| fail("Failed to isolate", e))?;
    if let Some(why) = isolated.filesystem_skipped {
        crate::log_warn!("Couldn't detach from the file system ({why}); continuing with it");
    }
    let wake: Vec<_> = periodic
        .netns_file
        .as_ref()
        .and_then(|w| w.fd())
        .into_iter()
        .chain(periodic.signals.as_ref().map(|s| s.fd()))
        .chain(periodic.control.as_ref().map(|c| c.fd()))
        .map(|fd| fd.try_clone_to_owned())
        .collect::<io::Result<_>>()
        .map_err(|e| fail("Failed to set up the event loop", e))?;
    let wake: Vec<_> = wake.iter().map(|fd| fd.as_fd()).collect();
    let exit = event_loop::run(
        &mut engine,
        &mut host,
        pidfd.as_ref().map(|p| p.as_fd()),
        &wake,
        &mut periodic,
    )
    .map_err(|e| fail("Event loop failed", e))?;
    crate::alloc_count::write_report();
    event_loop::log_stats(engine.stats(), &engine.flow_counts());
    host.log_datagram_stats();
    #[cfg(feature = "test-link-faults")]
    if let Some((to_guest, from_guest)) = host.guest_mut().inner().counts() {
        crate::log_info!("Link faults: to the guest {to_guest}; from the guest {from_guest}");
    }
    match (exit, child.as_mut()) {
        // The tap is pasta's one client (`--fd` implies `--one-off`, and pasta's own
        // tap has no other): when it goes, pasta fails as passt's does (die(): "…
        // exiting", status 1), taking a spawned command with it.
        (Exit::GuestGone, c) => {
            crate::log_err!("Disconnect event on tap device, exiting");
            if let Some(c) = c {
                let _ = c.kill_if_running();
                let _ = c.wait();
            }
            Ok(1)
        }
        (Exit::ChildExited, Some(c)) | (Exit::Stopped, Some(c)) => {
            let _ = c.kill_if_running();
            c.wait().map_err(|e| fail("waitpid", e))
        }
        (_, None) => Ok(0),
    }
}

/// `/proc/net` tables `auto` forwarding reads (under `/proc/net` for the host; under
/// `/proc/thread-self/net` from the namespace helper thread, as `/proc/net` links to
/// `/proc/self/net`, which follows the thread-group leader). TCP scans read the first
/// two; UDP scans all four, as passt also forwards the UDP port of a TCP listener
/// (iperf3's data port).
const PROC_TABLES: [(&str, Table); 4] = [
    ("tcp", Table::Tcp),
    ("tcp6", Table::Tcp),
    ("udp", Table::Udp),
    ("udp6", Table::Udp),
];

/// The port scanner for `slot`: TCP listeners from the namespace's sock_diag socket
/// `diag` if there is one (else from its `/proc/net/tcp*`), UDP sockets (for the UDP
/// slots) from its `/proc/net/udp*`; `open` opens a table of that namespace by name.
fn port_scanner(
    slot: usize,
    diag: Option<OwnedFd>,
    open: impl Fn(&str) -> std::io::Result<std::fs::File>,
) -> ListeningPorts {
    let udp = slot == UDP_IN || slot == UDP_OUT;
    let files = PROC_TABLES
        .iter()
        .filter(|(_, t)| {
            if *t == Table::Tcp {
                diag.is_none()
            } else {
                udp
            }
        })
        .filter_map(|(name, t)| open(name).ok().map(|f| (f, *t)))
        .collect();
    ListeningPorts::new(files, diag.map(TcpListeners::new))
}

/// Scanner slots of [`PastaPeriodic`].
const TCP_IN: usize = 0;
const TCP_OUT: usize = 1;
const UDP_IN: usize = 2;
const UDP_OUT: usize = 3;

/// pasta's once-a-second work: `auto` port scans, and noticing that an attached
/// namespace is gone.
#[derive(Default)]
struct PastaPeriodic {
    /// Port scanners of the other side, by [`TCP_IN`], [`TCP_OUT`], [`UDP_IN`],
    /// [`UDP_OUT`].
    scanners: [Option<ListeningPorts>; 4],
    /// The attached namespace's file: exit once it is deleted (podman removes the bind
    /// mount when the container stops).
    netns_file: Option<NetnsWatch>,
    /// SIGTERM/SIGINT, for an attached pasta: exit cleanly.
    signals: Option<Signals>,
    /// `-c`: the control socket.
    control: Option<crate::control::ControlServer>,
    found: Box<PortSet>,
}

impl PastaPeriodic {
    fn scan<G: GuestSource>(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) {
        for (slot, direction) in [
            (TCP_IN, Direction::Inbound),
            (TCP_OUT, Direction::Outbound),
            (UDP_IN, Direction::Inbound),
            (UDP_OUT, Direction::Outbound),
        ] {
            if let Some(s) = &mut self.scanners[slot] {
                if s.scan(&mut self.found).is_ok() {
                    if slot == TCP_IN || slot == TCP_OUT {
                        engine.update_auto_forwards(direction, &self.found, host);
                    } else {
                        engine.update_auto_udp_forwards(direction, &self.found, host);
                    }
                }
            }
        }
    }
}

impl<G: GuestSource> Periodic<G> for PastaPeriodic {
    fn tick(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) -> bool {
        self.scan(engine, host);
        if let Some(c) = &mut self.control {
            c.expire(host);
        }
        self.netns_file.as_ref().is_some_and(|w| w.gone())
    }

    fn on_wake(&mut self, engine: &mut Engine<'_>, host: &mut LinuxHost<G>) -> bool {
        if let Some(c) = &mut self.control {
            c.poll(engine, host);
        }
        <Self as Periodic<G>>::woken(self)
    }

    fn woken(&mut self) -> bool {
        let signalled = self.signals.as_ref().and_then(|s| s.received()).is_some();
        let gone = self.netns_file.as_mut().is_some_and(|w| w.notified());
        signalled || gone
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

/// Open the `--pcap` file, if asked for.
pub(crate) fn open_pcap(path: Option<&Path>) -> Result<Option<PcapWriter>, StartError> {
    match path {
        Some(p) => {
            let w = PcapWriter::create(p)
                .map_err(|e| fail(&format!("Couldn't open pcap file {}", p.display()), e))?;
            crate::log_info!("Saving packet capture to {}", p.display());
            Ok(Some(w))
        }
        None => Ok(None),
    }
}

/// passt's message for a forwarded port that can't be bound, naming the argument (of
/// `specs`, as given) that covers the port: `Failed to bind port 8080 (Address already
/// in use) for option '-t 8080', exiting`. Podman matches "PORT.*ddress already in use".
pub fn bind_failure(e: &passt_core::StartError, specs: &ForwardSpecs) -> StartError {
    use passt_core::tcp::Direction;
    let text = io::Error::from_raw_os_error(errno_of(e.error)).to_string();
    // std appends " (os error N)"; passt prints strerror() alone.
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let (option, given) = match (e.transport, e.direction) {
        (passt_core::Transport::Udp, Direction::Inbound) => ('u', &specs.udp_in),
        (passt_core::Transport::Udp, Direction::Outbound) => ('U', &specs.udp_out),
        (_, Direction::Inbound) => ('t', &specs.tcp_in),
        (_, Direction::Outbound) => ('T', &specs.tcp_out),
    };
    let port = e.port;
    StartError(match given.iter().find(|s| spec_covers(s, port)) {
        Some(s) => {
            format!("Failed to bind port {port} ({text}) for option '-{option} {s}', exiting")
        }
        None => format!("Failed to bind port {port} ({text}) for option '-{option}', exiting"),
    })
}

/// Whether the port-forwarding argument `spec` forwards `port`.
fn spec_covers(spec: &str, port: u16) -> bool {
    let mut fwd = passt_core::fwd::PortForwards::default();
    passt_core::fwd::spec::Spec::parse(spec)
        .and_then(|s| s.add_to(&mut fwd, None))
        .is_ok()
        && fwd.find(port).is_some()
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

#[cfg(test)]
mod tests {
    use super::*;
    use passt_core::tcp::Direction;
    use passt_core::{HostError, Transport};

    fn err(port: u16, transport: Transport, direction: Direction, error: HostError) -> String {
        let specs = ForwardSpecs {
            tcp_in: vec!["none".into(), "8080-8081:80-81".into(), "9000".into()],
            tcp_out: vec!["5201".into()],
            udp_in: vec!["::1/53".into()],
            udp_out: Vec::new(),
        };
        bind_failure(
            &passt_core::StartError {
                transport,
                direction,
                port,
                error,
            },
            &specs,
        )
        .0
    }

    #[test]
    fn bind_failure_names_the_port_the_error_and_the_option_as_given() {
        use Direction::{Inbound, Outbound};
        use Transport::{Tcp, Udp};
        assert_eq!(
            err(8081, Tcp, Inbound, HostError::AddrInUse),
            "Failed to bind port 8081 (Address already in use) for option '-t 8080-8081:80-81', exiting"
        );
        assert_eq!(
            err(9000, Tcp, Inbound, HostError::PermissionDenied),
            "Failed to bind port 9000 (Permission denied) for option '-t 9000', exiting"
        );
        assert_eq!(
            err(5201, Tcp, Outbound, HostError::AddrInUse),
            "Failed to bind port 5201 (Address already in use) for option '-T 5201', exiting"
        );
        assert_eq!(
            err(53, Udp, Inbound, HostError::AddrInUse),
            "Failed to bind port 53 (Address already in use) for option '-u ::1/53', exiting"
        );
        assert_eq!(
            err(7, Udp, Outbound, HostError::AddrInUse),
            "Failed to bind port 7 (Address already in use) for option '-U', exiting"
        );
    }
}
