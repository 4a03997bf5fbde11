//! The sealed lab (DESIGN.md §7): a "host" and a "remote" network namespace joined by
//! a veth pair, documentation addresses only, default routes pointing at "remote".
//! The translator under test runs inside "host" (as an unprivileged user where the
//! test is about rootless behaviour), so every socket it opens lands in the lab.
//! Everything is torn down on drop, including on test failure.
//!
//! ```text
//!  [host ns] lab0 198.51.100.2/24 2001:db8:1::2/64 ──veth── 198.51.100.1 2001:db8:1::1 [remote ns]
//!            default via 198.51.100.1 / 2001:db8:1::1        lo: 203.0.113.1 2001:db8:2::1
//! ```
#![allow(dead_code)] // each test binary uses a different subset

#[macro_use]
pub mod guest;
pub mod podman;
pub mod vm;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The "remote" server address (on the remote namespace's loopback).
pub const REMOTE_V4: &str = "203.0.113.1";
/// The "remote" server IPv6 address.
pub const REMOTE_V6: &str = "2001:db8:2::1";
/// The host namespace's address (what pasta copies into its namespace).
pub const HOST_V4: &str = "198.51.100.2";
/// The host namespace's IPv6 address.
pub const HOST_V6: &str = "2001:db8:1::2";
/// The host namespace's IPv4 gateway (the remote end of the veth).
pub const GATEWAY_V4: &str = "198.51.100.1";
/// The host namespace's IPv6 gateway.
pub const GATEWAY_V6: &str = "2001:db8:1::1";
/// The template interface name in the host namespace.
pub const HOST_IFNAME: &str = "lab0";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Print a skip notice, or fail when `PASST_LAB_REQUIRED=1` (set by CI).
pub fn skip(why: &str) {
    if std::env::var("PASST_LAB_REQUIRED").as_deref() == Ok("1") {
        panic!("lab test cannot run but PASST_LAB_REQUIRED=1: {why}");
    }
    eprintln!("skipped: {why}");
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sealed two-namespace lab.
pub struct Lab {
    /// The "host" namespace name.
    pub host: String,
    /// The "remote" namespace name.
    pub remote: String,
    /// A scratch directory readable and writable by the unprivileged user.
    pub dir: PathBuf,
    children: Vec<Child>,
    /// Namespaces made by [`Lab::add_netns`], deleted on drop if still there.
    extra_ns: Vec<String>,
}

impl Lab {
    /// Build a lab, or return `None` (after [`skip`]) when the machine cannot.
    pub fn new() -> Option<Lab> {
        if !rustix::process::geteuid().is_root() {
            skip("not root: the lab needs `ip netns add`");
            return None;
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("passt-lab-{id}"));
        std::fs::create_dir_all(&dir).expect("lab dir");
        run_ok(Command::new("chmod").arg("1777").arg(&dir));
        let lab = Lab {
            host: format!("plh-{id}"),
            remote: format!("plr-{id}"),
            dir,
            children: Vec::new(),
            extra_ns: Vec::new(),
        };
        let ip = |args: &str| run_ok(Command::new("ip").args(args.split_whitespace()));
        ip(&format!("netns add {}", lab.host));
        ip(&format!("netns add {}", lab.remote));
        ip(&format!(
            "-n {} link add {HOST_IFNAME} type veth peer name peer0 netns {}",
            lab.host, lab.remote
        ));
        let (h, r) = (&lab.host, &lab.remote);
        for cmd in [
            format!("-n {h} link set lo up"),
            format!("-n {r} link set lo up"),
            format!("-n {h} addr add {HOST_V4}/24 dev {HOST_IFNAME}"),
            format!("-n {h} addr add {HOST_V6}/64 dev {HOST_IFNAME} nodad"),
            format!("-n {r} addr add {GATEWAY_V4}/24 dev peer0"),
            format!("-n {r} addr add {GATEWAY_V6}/64 dev peer0 nodad"),
            format!("-n {r} addr add {REMOTE_V4}/32 dev lo"),
            format!("-n {r} addr add {REMOTE_V6}/128 dev lo"),
            format!("-n {h} link set {HOST_IFNAME} up"),
            format!("-n {r} link set peer0 up"),
            format!("-n {h} route add default via {GATEWAY_V4}"),
            format!("-n {h} -6 route add default via {GATEWAY_V6}"),
        ] {
            ip(&cmd);
        }
        Some(lab)
    }

    /// A command run in the "host" namespace as root.
    pub fn in_host(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.host, program]);
        c
    }

    /// A command run in the "host" namespace as the unprivileged user `nobody`.
    pub fn in_host_unprivileged(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.host,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]);
        c.arg(program);
        c
    }

    /// A further, empty namespace (`ip netns add`, as podman's bind-mounted ones),
    /// for a pasta in "host" to serve; its name. Deleted on drop if still there.
    pub fn add_netns(&mut self) -> String {
        let name = format!("{}-t{}", self.host, self.extra_ns.len());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        self.extra_ns.push(name.clone());
        name
    }

    /// A command run in namespace `ns` as root.
    pub fn in_ns(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Let every group of the lab's host namespace open ping sockets, as distributions
    /// do by default (the translators run there as `nobody`). Only the lab is touched.
    pub fn allow_ping_sockets(&self) {
        let out = self
            .in_host("sysctl")
            .args(["-w", "net.ipv4.ping_group_range=0 2147483647"])
            .output()
            .expect("sysctl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A command run in the "remote" namespace.
    pub fn in_remote(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.remote, program]);
        c
    }

    /// Start a background process (killed when the lab is dropped), and wait until
    /// it has created `ready` if given.
    pub fn spawn(&mut self, mut cmd: Command, ready: Option<&Path>) -> &mut Child {
        if let Some(r) = ready {
            cmd.env("READY_FILE", r);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        self.children.push(child);
        if let Some(r) = ready {
            let start = Instant::now();
            while !r.exists() {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "server did not become ready"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.children.last_mut().expect("just pushed")
    }

    /// A Python netcheck server in the remote namespace, ready when this returns.
    pub fn remote_server(&mut self, mode: &str, host: &str, port: u16, extra: &[&str]) {
        self.remote_server_timeout(mode, host, port, extra, None);
    }

    /// [`Lab::remote_server`] whose socket calls give up after `timeout` seconds
    /// (`NETCHECK_TIMEOUT`) instead of netcheck's 60, for peers stalled on purpose.
    pub fn remote_server_timeout(
        &mut self,
        mode: &str,
        host: &str,
        port: u16,
        extra: &[&str],
        timeout: Option<&str>,
    ) {
        let ready = self.dir.join(format!(
            "ready-remote-{mode}-{port}-{}",
            host.replace(':', "_")
        ));
        let mut cmd = self.in_remote("/usr/bin/python3");
        if let Some(t) = timeout {
            cmd.env("NETCHECK_TIMEOUT", t);
        }
        cmd.arg(netcheck())
            .args([mode, host, &port.to_string()])
            .args(extra);
        self.spawn(cmd, Some(&ready));
    }

    /// A Python netcheck server in the host namespace, ready when this returns.
    pub fn host_server(&mut self, mode: &str, host: &str, port: u16) {
        self.host_server_args(mode, host, port, &[]);
    }

    /// [`Lab::host_server`] with extra arguments for the mode.
    pub fn host_server_args(&mut self, mode: &str, host: &str, port: u16, extra: &[&str]) {
        let ready = self.dir.join(format!(
            "ready-host-{mode}-{port}-{}",
            host.replace(':', "_")
        ));
        let mut cmd = self.in_host("/usr/bin/python3");
        cmd.arg(netcheck())
            .args([mode, host, &port.to_string()])
            .args(extra);
        self.spawn(cmd, Some(&ready));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let extra = self
            .extra_ns
            .iter()
            .filter(|ns| Path::new("/run/netns").join(ns).exists());
        for ns in extra.chain([&self.host, &self.remote]) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A child process killed (by PID) when dropped, so a failed check leaves none behind.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// Wait for the process to exit by itself, up to `deadline`; fail the test if it
    /// fails or runs over (`what` names it).
    pub fn wait_success(&mut self, deadline: Instant, what: &str) {
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                assert!(status.success(), "{what} failed: {status:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} still running at its deadline"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Path of the netcheck helper script.
pub fn netcheck() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/netcheck.py")
}

/// `netcheck sha SEED MIB`: what a byte-exact transfer of that seeded stream prints,
/// "<bytes> <sha256>".
pub fn expected_sha(seed: &str, mib: u32) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg(netcheck())
        .args(["sha", seed, &mib.to_string()])
        .output()
        .expect("netcheck sha");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Make `/dev/net/tun` usable by unprivileged users, as distributions ship it.
pub fn open_tun_device() {
    let _ = Command::new("chmod")
        .args(["0666", "/dev/net/tun"])
        .status();
}

/// Run with a deadline; kill and fail if it runs over.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().expect("try_wait") {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{cmd:?} ran over {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run until the process exits **and** both its stdout and stderr reach EOF (as Go's
/// `CombinedOutput`, which podman uses, waits for). Fails if that takes over `limit`:
/// a daemon that kept the pipes open would hang its caller.
pub fn output_to_eof_within(cmd: &mut Command, limit: Duration) -> Output {
    use std::io::Read;
    use std::sync::mpsc;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    for (n, mut pipe) in [
        (
            1,
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        ),
        (2, Box::new(child.stderr.take().unwrap())),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((n, buf));
        });
    }
    let start = Instant::now();
    let (mut stdout, mut stderr) = (None, None);
    while stdout.is_none() || stderr.is_none() {
        let left = limit.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok((1, b)) => stdout = Some(b),
            Ok((_, b)) => stderr = Some(b),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "{cmd:?}: no EOF on {} within {limit:?} (exited: {:?})",
                    if stdout.is_none() { "stdout" } else { "stderr" },
                    child.try_wait()
                );
            }
        }
    }
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Output {
                status,
                stdout: stdout.unwrap_or_default(),
                stderr: stderr.unwrap_or_default(),
            };
        }
        assert!(start.elapsed() < limit, "{cmd:?} ran over {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The process running `program` (its `argv[0]`, a path) whose command line has
/// `needle` as one argument (e.g. a unique namespace path), if any.
pub fn pid_with_arg(program: &Path, needle: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let mut args = cmdline.split(|&b| b == 0);
        let argv0 = args.next()?;
        (argv0 == program.as_os_str().as_encoded_bytes() && args.any(|a| a == needle.as_bytes()))
            .then_some(pid)
    })
}

/// Whether `pid` has exited (gone, or a zombie nobody reaped yet).
pub fn exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "PID (comm) STATE ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Wait up to `limit` for `pid` to exit; how long it took.
pub fn wait_exit(pid: i32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if exited(pid) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The `pasta` binary under test.
pub fn pasta() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pasta"))
}

/// Run `sh -c script` under pasta (unprivileged, `--config-net`) in the lab's host
/// namespace, with extra pasta options.
pub fn pasta_sh(lab: &Lab, opts: &[&str], script: &str) -> Output {
    open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(opts)
        .args(["--config-net", "--", "sh", "-c", script]);
    cmd.current_dir(&lab.dir);
    output_within(&mut cmd, Duration::from_secs(120))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn expect_success(o: &Output) -> String {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

pub fn netcheck_sh(args: &str) -> String {
    format!("/usr/bin/python3 {} {args}", netcheck().display())
}

/// From a translator's `-d` log, the line "UDP to the host: N datagrams in M batches,
/// L lost" (written at exit), as (N, M).
pub fn datagrams_and_batches(log: &str) -> (usize, usize) {
    let line = log
        .lines()
        .find(|l| l.contains("UDP to the host:"))
        .unwrap_or_else(|| panic!("no datagram statistics in:\n{log}"));
    eprintln!("{line}");
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |after: &str| -> usize {
        let at = words.iter().position(|w| *w == after).expect(line);
        words[at - 1].parse().expect(line)
    };
    (number("datagrams"), number("batches,"))
}

/// From a translator's `-d` exit statistics, N of "datagrams to the guest … (in runs
/// N)": the runs of UDP datagrams handed to the guest as one offloaded frame.
pub fn runs_to_guest(log: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("datagrams to the guest"))
        .unwrap_or_else(|| panic!("no statistics in:\n{log}"));
    eprintln!("{line}");
    line.split("(in runs ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no run count in: {line}"))
}

/// Wait (up to 20 s) for a test's marker file.
pub fn wait_for(path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Start pasta (unprivileged, `--config-net`, with `opts`) around `sh -c script`, whose
/// server in the namespace creates `ready` once it listens; wait (10 s at most) until it
/// does. The caller ends the returned pasta.
pub fn pasta_with_ns_server(lab: &Lab, opts: &[&str], script: &str, ready: &Path) -> Child {
    open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(opts)
        .args(["--config-net", "--", "sh", "-c", script]);
    let child = cmd.stdout(Stdio::null()).spawn().expect("spawn pasta");
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server in the namespace did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Run `cmd` (20 s at most) and check that it printed exactly `expect`.
pub fn expect_output(mut cmd: Command, expect: &str) {
    let out = output_within(&mut cmd, Duration::from_secs(20));
    assert_eq!(
        stdout(&out),
        expect,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
