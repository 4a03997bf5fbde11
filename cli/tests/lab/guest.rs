//! The passt side of the sealed lab: passt in the "host" namespace, and a third
//! namespace, "guest", whose own Linux network stack plays the virtual machine. Its
//! tap device is relayed to passt's UNIX socket by `passt-tap-relay` (qemu's stream
//! framing) or, for `passt --vhost-user`, by `passt-vhost-relay` (qemu and the
//! guest's virtio-net driver: virtqueues in shared memory), so the guest configures
//! itself the way a VM would: DHCP, NDP.
//!
//! ```text
//!  [guest ns] tap0 ══ passt-tap-relay ══ passt.sock ══ passt (nobody) [host ns] ──veth── [remote ns]
//!                  (or passt-vhost-relay)
//! ```

use super::{output_within, run_ok, Lab};
use std::fs::File;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The guest's interface, as the relay creates it.
pub const GUEST_IFNAME: &str = "tap0";

/// How long a helper may take to become ready or to go away.
const SETTLE: Duration = Duration::from_secs(10);

/// The `passt` binary under test.
pub fn passt_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_passt"))
}

/// `over_both_transports!(body, …)`: each test body `fn body(kind: RelayKind)` named
/// runs once per way qemu talks to passt: as `body::stream` (`-netdev stream`, through
/// `passt-tap-relay`) and `body::vhost_user` (`-netdev vhost-user`, through
/// `passt-vhost-relay`). The test file imports `RelayKind`.
#[allow(unused_macros)] // only the passt test binaries use it
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn stream() {
                super::$name(super::RelayKind::Stream)
            }

            #[test]
            fn vhost_user() {
                super::$name(super::RelayKind::VhostUser)
            }
        }
    )*};
}

/// Which relay plays the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayKind {
    /// `passt-tap-relay`: qemu's `-netdev stream` framing on the socket.
    Stream,
    /// `passt-vhost-relay`: a vhost-user front end and virtio-net driver, for
    /// `passt --vhost-user`.
    VhostUser,
}

impl RelayKind {
    /// The binary's name.
    pub fn binary_name(self) -> &'static str {
        match self {
            RelayKind::Stream => "passt-tap-relay",
            RelayKind::VhostUser => "passt-vhost-relay",
        }
    }
}

/// The `passt-tap-relay` binary (see [`relay_binary_of`]).
pub fn relay_binary() -> Option<PathBuf> {
    relay_binary_of(RelayKind::Stream)
}

/// A relay binary: built beside `passt` (same profile) by any build of the
/// workspace's binaries (`cargo test --workspace`, `cargo build`), or `None` after
/// [`super::skip`] when it has not been built. Both take the same command line.
pub fn relay_binary_of(kind: RelayKind) -> Option<PathBuf> {
    let name = kind.binary_name();
    let path = passt_binary().with_file_name(name);
    if path.exists() {
        Some(path)
    } else {
        super::skip(&format!(
            "{} is not built: run `cargo build -p passt-shim-linux --bin {name}` \
             (with the same profile) or the whole workspace's tests",
            path.display()
        ));
        None
    }
}

/// Wait until `done` holds, for at most `limit`; false when it never did.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The "guest" namespace, deleted on drop.
pub struct Guest {
    /// The namespace name (for `ip netns exec` and the relay's `--netns`).
    pub name: String,
    /// Where the udhcpc event script lives.
    script: PathBuf,
}

/// What udhcpc reported for the lease (empty strings for options it did not get).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Our address (`yiaddr`).
    pub ip: String,
    /// Prefix length of the subnet mask.
    pub mask: String,
    /// Routers (option 3).
    pub router: String,
    /// Interface MTU (option 26).
    pub mtu: String,
    /// The DHCP server identifier (option 54).
    pub server_id: String,
}

/// What rdisc6 printed for the Router Advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterAdvert {
    /// The Prefix Information option's prefix field and length.
    pub prefix: (Ipv6Addr, u8),
    /// The MTU option, if any.
    pub mtu: Option<u32>,
    /// The link-local source of the advertisement: the guest's IPv6 router.
    pub router: Ipv6Addr,
}

/// udhcpc's event script: apply the lease with ip(8) as a distribution's script would
/// (address, MTU, default route), and print what was received.
pub const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    echo "lease ip=$ip mask=$mask router=$router mtu=$mtu serverid=$serverid"
    ;;
esac
"#;

impl Guest {
    /// Create the "guest" namespace next to `lab`'s (loopback up, nothing else).
    pub fn new(lab: &Lab) -> Guest {
        let name = lab.host.replacen("plh-", "plg-", 1);
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let guest = Guest {
            script: lab.dir.join("udhcpc-event.sh"),
            name,
        };
        guest.ip("link set lo up");
        std::fs::write(&guest.script, UDHCPC_SCRIPT).expect("udhcpc script");
        run_ok(Command::new("chmod").arg("0755").arg(&guest.script));
        guest
    }

    /// A command run inside the guest namespace (as root).
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Run `ip ARGS` inside the guest; fail the test if it fails.
    pub fn ip(&self, args: &str) {
        run_ok(
            Command::new("ip")
                .args(["-n", &self.name])
                .args(args.split_whitespace()),
        );
    }

    /// Run `program args…` in the guest within `limit`; the output, whatever the status.
    pub fn run(&self, program: &str, args: &[&str], limit: Duration) -> Output {
        output_within(self.cmd(program).args(args), limit)
    }

    /// A netcheck client in the guest; its stdout, failing the test unless it succeeds.
    pub fn netcheck(&self, args: &[&str]) -> String {
        let mut c = self.cmd("/usr/bin/python3");
        c.arg(super::netcheck()).args(args);
        expect_success(&output_within(&mut c, Duration::from_secs(120)))
    }

    /// Whether the guest has its tap device (the relay creates it, and it goes away
    /// with the relay).
    pub fn has_tap(&self) -> bool {
        Command::new("ip")
            .args(["-n", &self.name, "link", "show", GUEST_IFNAME])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Bring the tap up and run busybox udhcpc on it (asking for the MTU option); the
    /// event script applies the lease. Fails the test without a lease.
    pub fn dhcp(&self) -> Lease {
        self.ip(&format!("link set {GUEST_IFNAME} up"));
        let out = self.run(
            "busybox",
            &[
                "udhcpc",
                "-i",
                GUEST_IFNAME,
                "-f",
                "-q",
                "-n",
                "-t",
                "5",
                "-T",
                "1",
                "-O",
                "mtu",
                "-s",
                self.script.to_str().expect("utf-8 path"),
            ],
            Duration::from_secs(20),
        );
        let text = expect_success(&out);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("lease "))
            .unwrap_or_else(|| panic!("no lease in udhcpc's output: {text}"));
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_default()
                .to_string()
        };
        Lease {
            ip: field("ip"),
            mask: field("mask"),
            router: field("router"),
            mtu: field("mtu"),
            server_id: field("serverid"),
        }
    }

    /// Wait for the tap's link-local address to finish Duplicate Address Detection
    /// (rdisc6 cannot send from a tentative one), then solicit a Router Advertisement.
    pub fn rdisc6(&self) -> RouterAdvert {
        self.ip(&format!("link set {GUEST_IFNAME} up"));
        let ll_ready = wait_until(SETTLE, || {
            let out = self.run(
                "ip",
                &["-6", "addr", "show", "dev", GUEST_IFNAME, "scope", "link"],
                SETTLE,
            );
            let text = String::from_utf8_lossy(&out.stdout);
            text.contains("fe80::") && !text.contains("tentative")
        });
        assert!(ll_ready, "the guest's link-local address stayed tentative");
        let out = self.run(
            "rdisc6",
            &["-1", "-n", "-r", "3", "-w", "1000", GUEST_IFNAME],
            SETTLE,
        );
        let text = expect_success(&out);
        let value = |label: &str| {
            text.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim() == label).then(|| v.trim().to_string())
                })
                .unwrap_or_else(|| panic!("no {label} in rdisc6's output: {text}"))
        };
        let prefix = value("Prefix");
        let (addr, len) = prefix.split_once('/').expect("prefix/len");
        let mtu = text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "MTU").then(|| v.split_whitespace().next()?.parse().ok())?
        });
        let router = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("from "))
            .unwrap_or_else(|| panic!("no source in rdisc6's output: {text}"));
        RouterAdvert {
            prefix: (addr.parse().expect("prefix"), len.parse().expect("length")),
            mtu,
            router: router.trim().parse().expect("router address"),
        }
    }

    /// IPv6 by hand, as a guest without a DHCPv6 client would: the host's address on
    /// the tap, default route via the advertising router.
    pub fn configure_v6(&self, addr: &str, router: Ipv6Addr) {
        self.ip(&format!("-6 addr add {addr}/64 dev {GUEST_IFNAME} nodad"));
        self.ip(&format!(
            "-6 route replace default via {router} dev {GUEST_IFNAME}"
        ));
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A running relay, `passt-tap-relay` or `passt-vhost-relay` (as root: it opens
/// `/dev/net/tun` inside the guest).
pub struct Relay {
    child: Child,
}

impl Relay {
    /// Connect the guest to passt's socket; returns once the guest has its tap.
    pub fn start(relay: &Path, guest: &Guest, socket: &Path) -> Relay {
        Relay::start_with(relay, guest, socket, &[])
    }

    /// [`Relay::start`] with extra arguments for the relay (`passt-vhost-relay`'s
    /// `--no-offload`, `--queue-size N`…).
    pub fn start_with(relay: &Path, guest: &Guest, socket: &Path, extra: &[&str]) -> Relay {
        Relay::spawn(relay, guest, socket, extra, Stdio::inherit())
    }

    /// [`Relay::start_with`], the relay's stderr going to `log` (what `--faults`
    /// did is printed there at exit).
    pub fn start_logged(
        relay: &Path,
        guest: &Guest,
        socket: &Path,
        extra: &[&str],
        log: &Path,
    ) -> Relay {
        let log = File::create(log).expect("relay log");
        Relay::spawn(relay, guest, socket, extra, log.into())
    }

    fn spawn(relay: &Path, guest: &Guest, socket: &Path, extra: &[&str], stderr: Stdio) -> Relay {
        let child = Command::new(relay)
            .args(["--netns", &guest.name, "--tap", GUEST_IFNAME, "--socket"])
            .arg(socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", relay.display()));
        let mut relay = Relay { child };
        let up = wait_until(SETTLE, || {
            guest.has_tap() || relay.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            up && guest.has_tap(),
            "the relay did not create the guest's tap"
        );
        relay
    }

    /// Whether the relay is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the relay to exit by itself (passt closed the socket).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        status
    }

    /// Kill the relay (SIGKILL, by PID) as a crashing VM would go away; returns once
    /// its tap has gone from the guest.
    pub fn kill(mut self, guest: &Guest) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert!(
            wait_until(SETTLE, || !guest.has_tap()),
            "the guest's tap outlived the relay"
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// passt in the lab's "host" namespace as the unprivileged user, in the foreground,
/// listening on a socket in the lab directory. Killed (by PID) on drop.
pub struct Passt {
    child: Child,
    /// The UNIX socket path (`-s`).
    pub socket: PathBuf,
    log: PathBuf,
}

impl Passt {
    /// Start `passt -f -s <lab dir>/passt.sock ARGS…`; returns once the socket exists.
    pub fn start(lab: &Lab, args: &[&str]) -> Passt {
        Passt::start_with_env(lab, args, &[])
    }

    /// [`Passt::start`] with extra environment variables (`PASST_ALLOC_REPORT`).
    pub fn start_with_env(lab: &Lab, args: &[&str], env: &[(&str, &Path)]) -> Passt {
        let socket = lab.dir.join("passt.sock");
        let log = lab.dir.join("passt.log");
        let mut cmd = lab.in_host_unprivileged(passt_binary());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.arg("-f")
            .arg("-s")
            .arg(&socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("passt log"));
        let child = cmd.spawn().expect("spawn passt");
        let mut passt = Passt { child, socket, log };
        let ready = wait_until(SETTLE, || {
            passt.socket.exists() || passt.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            ready && passt.running(),
            "passt did not start listening: {}",
            passt.log()
        );
        passt
    }

    /// What passt wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether passt is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Stop passt (SIGSTOP, by PID) until [`Passt::resume`]: what the guest sends
    /// meanwhile queues up and reaches passt as one backlog.
    pub fn pause(&self) {
        self.signal(rustix::process::Signal::STOP);
    }

    /// Let a paused passt go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(rustix::process::Signal::CONT);
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, sig).expect("signal passt");
    }

    /// End passt as a service manager does (SIGTERM, by PID) and wait for it to go;
    /// its exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        self.wait_exit(limit)
    }

    /// Wait for passt to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        status
    }
}

impl Drop for Passt {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command's stdout, failing the test (with both streams) unless it succeeded.
pub fn expect_success(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
