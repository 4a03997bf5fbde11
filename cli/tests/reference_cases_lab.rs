//! The reference implementation's own pasta test cases, in their set-up: pasta attached
//! by PID to a namespace an unprivileged user made (`pasta -f -t 10002 -T 10003 -u 10002
//! -U 10003 -P PIDFILE PID`), the namespace configuring itself — DHCP for IPv4 and the
//! MTU, SLAAC from our router advertisements for IPv6, no `--config-net`.
//!
//! The namespace's IPv6 default route is then via our link-local address, and traffic
//! to it must reach the host as traffic to the gateway does.

mod lab;

use lab::{expect_success, open_tun_device, output_within, pasta, Lab, Reaped};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long set-up steps may take.
const SETTLE: Duration = Duration::from_secs(15);

/// A namespace held by an unprivileged process, with pasta attached to it by PID.
struct Attached {
    holder: Child,
    pid: i32,
    /// The namespace's interface (named after the host's template).
    ifname: String,
}

impl Attached {
    /// Make the namespace, attach pasta with the reference suite's options, bring the
    /// interface up and let it configure itself: DHCP, then SLAAC.
    fn start(lab: &mut Lab) -> Attached {
        open_tun_device();
        let ready = lab.dir.join("ns-ready");
        let mut holder = lab.in_host("setpriv");
        holder
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["unshare", "--user", "--map-root-user", "--net", "sh", "-c"])
            .arg(format!("touch {} && exec sleep 600", ready.display()));
        let holder = holder.stdin(Stdio::null()).spawn().expect("spawn holder");
        // `ip netns exec`, setpriv and unshare exec in place and sh execs sleep: the
        // holder's PID is the namespaces' process.
        let pid = holder.id() as i32;
        wait_for(|| ready.exists(), "the namespace");
        let mut ns = Attached {
            holder,
            pid,
            ifname: String::new(),
        };

        let pidfile = lab.dir.join("pasta.pid");
        let mut cmd = lab.in_host_unprivileged(pasta());
        cmd.args([
            "-f", "-t", "10002", "-T", "10003", "-u", "10002", "-U", "10003",
        ])
        .arg("-P")
        .arg(&pidfile)
        .arg(pid.to_string());
        lab.spawn(cmd, None);
        // Ready once the PID is in the file: pasta opens it at start (as passt does,
        // 0600, no symbolic link followed) and writes it when the tap is up.
        let start = std::time::Instant::now();
        while std::fs::read_to_string(&pidfile).map_or(true, |p| p.trim().is_empty()) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "pasta wrote no PID file"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }

        let links = ns.json(&["ip", "-j", "link", "show"]);
        ns.ifname = links
            .as_array()
            .expect("links")
            .iter()
            .find(|l| l["link_type"] == "ether")
            .and_then(|l| l["ifname"].as_str())
            .expect("pasta's interface in the namespace")
            .to_string();
        ns.run_ok(&["ip", "link", "set", "dev", &ns.ifname, "up"]);

        let script = lab.dir.join("udhcpc-event.sh");
        std::fs::write(&script, lab::guest::UDHCPC_SCRIPT).expect("udhcpc script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let script = script.to_str().expect("utf-8 path").to_string();
        ns.run_ok(&[
            "busybox", "udhcpc", "-i", &ns.ifname, "-f", "-q", "-n", "-t", "5", "-T", "1", "-O",
            "mtu", "-s", &script,
        ]);
        let mtu = ns.json(&["ip", "-j", "link", "show", &ns.ifname])[0]["mtu"].clone();
        assert_eq!(mtu, 65520, "DHCP sets the MTU");
        wait_for(|| ns.gateway6().is_some(), "a default route from our RA");
        ns
    }

    /// `nsenter` into the namespace (as its root, the unprivileged user outside).
    fn cmd(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid.to_string(), "-U", "-n", "--"])
            .args(argv);
        c
    }

    fn run_ok(&self, argv: &[&str]) -> String {
        expect_success(&output_within(&mut self.cmd(argv), Duration::from_secs(60)))
    }

    fn json(&self, argv: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.run_ok(argv)).expect("ip -j output")
    }

    /// The IPv6 default router, if the namespace has one yet.
    fn gateway6(&self) -> Option<String> {
        let routes = self.json(&["ip", "-j", "-6", "route", "show"]);
        routes
            .as_array()?
            .iter()
            .find(|r| r["dst"] == "default")
            .and_then(|r| r["gateway"].as_str())
            .map(str::to_string)
    }

    /// The IPv4 default router.
    fn gateway4(&self) -> String {
        let routes = self.json(&["ip", "-j", "-4", "route", "show"]);
        routes
            .as_array()
            .and_then(|r| r.iter().find(|r| r["dst"] == "default"))
            .and_then(|r| r["gateway"].as_str())
            .expect("IPv4 default route from DHCP")
            .to_string()
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < SETTLE, "no {what} within {SETTLE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file of `len` pseudo-random bytes in the lab directory, world-readable.
fn test_file(lab: &Lab, name: &str, len: usize) -> PathBuf {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let path = lab.dir.join(name);
    std::fs::write(&path, data).expect("test file");
    path
}

/// A socat receiver in the lab's host namespace writing to `out`; started, and given
/// a moment to bind, before the namespace sends.
fn host_receiver(lab: &Lab, listen: &str, out: &Path) -> Reaped {
    let child = lab
        .in_host("socat")
        .args(["-u", listen])
        .arg(format!("OPEN:{},create,trunc", out.display()))
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn socat");
    std::thread::sleep(Duration::from_millis(300));
    Reaped(child)
}

/// Send `file` from the namespace to `target` (a socat address) and check that the
/// host's receiver wrote exactly it.
fn transfer(lab: &Lab, ns: &Attached, listen: &str, target: &str, file: &Path) {
    let out = lab.dir.join("received");
    let _ = std::fs::remove_file(&out);
    let mut receiver = host_receiver(lab, listen, &out);
    let source = format!("OPEN:{}", file.display());
    let sent = output_within(
        &mut ns.cmd(&["socat", "-u", &source, target]),
        Duration::from_secs(60),
    );
    expect_success(&sent);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = receiver.0.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            panic!("the host's receiver for {target} never finished");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "receiver for {target}: {status:?}");
    let want = std::fs::read(file).expect("sent file");
    let got = std::fs::read(&out).unwrap_or_default();
    assert!(
        got == want,
        "{target}: {} of {} bytes arrived, {}",
        got.len(),
        want.len(),
        if want.starts_with(&got) {
            "a prefix"
        } else {
            "different"
        }
    );
}

#[test]
fn tcp_and_udp_to_the_link_local_router_reach_the_host() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = Attached::start(&mut lab);
    let gw6 = ns.gateway6().expect("IPv6 default router");
    assert!(gw6.starts_with("fe80:"), "SLAAC routes via {gw6}");
    let router = format!("[{gw6}%{}]:10003", ns.ifname);

    let big = test_file(&lab, "big.bin", 16 << 20);
    let small = test_file(&lab, "small.bin", 4096);
    let medium = test_file(&lab, "medium.bin", 96 << 10);
    for file in [&big, &small] {
        transfer(
            &lab,
            &ns,
            "TCP6-LISTEN:10003",
            &format!("TCP6:{router}"),
            file,
        );
    }
    transfer(
        &lab,
        &ns,
        "UDP6-LISTEN:10003,null-eof",
        &format!("UDP6:{router},shut-null"),
        &medium,
    );

    // The IPv4 router from DHCP, for comparison: the reference suite runs both.
    let gw4 = ns.gateway4();
    transfer(
        &lab,
        &ns,
        "TCP4-LISTEN:10003",
        &format!("TCP4:{gw4}:10003"),
        &big,
    );
    transfer(
        &lab,
        &ns,
        "UDP4-LISTEN:10003,null-eof",
        &format!("UDP4:{gw4}:10003,shut-null"),
        &medium,
    );
}
