//! `-o/--outbound`, `--outbound-if4` and `--freebind` with the real pasta in the sealed
//! lab: what the remote side sees, and which addresses a forward can bind.

mod lab;

use lab::{
    expect_success, netcheck_sh, output_within, pasta_sh, pid_with_arg, wait_exit, Lab,
    HOST_IFNAME, REMOTE_V4,
};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn pasta() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pasta"))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The address a TCP connection from inside pasta's namespace to the remote comes
/// from, as the remote sees it.
fn source_seen(lab: &Lab, opts: &[&str]) -> String {
    let out = pasta_sh(lab, opts, &netcheck_sh(&format!("peer {REMOTE_V4} 8097 x")));
    expect_success(&out).trim().to_string()
}

#[test]
fn outbound_address_is_the_source_the_remote_sees() {
    let Some(mut lab) = Lab::new() else { return };
    ip(&[
        "-n",
        &lab.host,
        "addr",
        "add",
        "198.51.100.3/24",
        "dev",
        HOST_IFNAME,
    ]);
    lab.remote_server("peer-server", "0.0.0.0", 8097, &[]);
    assert_eq!(source_seen(&lab, &[]), "198.51.100.2 1");
    assert_eq!(source_seen(&lab, &["-o", "198.51.100.3"]), "198.51.100.3 1");
    assert_eq!(
        source_seen(&lab, &["--outbound", "198.51.100.3", "-o", "2001:db8:1::2"]),
        "198.51.100.3 1",
        "one address per family"
    );
}

#[test]
fn outbound_address_also_sources_udp_and_ping() {
    let Some(mut lab) = Lab::new() else { return };
    lab.allow_ping_sockets();
    ip(&[
        "-n",
        &lab.host,
        "addr",
        "add",
        "198.51.100.3/24",
        "dev",
        HOST_IFNAME,
    ]);
    // The remote can't answer the host's own address: only traffic from the -o
    // address gets replies.
    ip(&[
        "-n",
        &lab.remote,
        "route",
        "add",
        "prohibit",
        "198.51.100.2/32",
    ]);
    lab.remote_server("udp-echo-server", REMOTE_V4, 8101, &[]);
    let script = format!(
        "{} && echo && ping -c 1 -W 2 {REMOTE_V4} >/dev/null && echo pinged",
        netcheck_sh(&format!("udp-echo {REMOTE_V4} 8101 datagram"))
    );
    let with = pasta_sh(&lab, &["-o", "198.51.100.3"], &script);
    assert_eq!(expect_success(&with), "datagram\npinged\n");
    // Last: the echo server's reply to 198.51.100.2 fails, which ends it.
    let without = pasta_sh(&lab, &[], &script);
    assert!(
        !without.status.success(),
        "replies to 198.51.100.2 are prohibited"
    );
}

#[test]
fn outbound_if4_sends_through_that_interface_whatever_the_routes_prefer() {
    let Some(mut lab) = Lab::new() else { return };
    // A second link to the remote, 203.0.113.64/28, with a worse default route.
    let (h, r) = (lab.host.clone(), lab.remote.clone());
    ip(&[
        "-n", &h, "link", "add", "lab1", "type", "veth", "peer", "name", "peer1", "netns", &r,
    ]);
    ip(&["-n", &h, "addr", "add", "203.0.113.66/28", "dev", "lab1"]);
    ip(&["-n", &r, "addr", "add", "203.0.113.65/28", "dev", "peer1"]);
    ip(&["-n", &h, "link", "set", "lab1", "up"]);
    ip(&["-n", &r, "link", "set", "peer1", "up"]);
    ip(&[
        "-n",
        &h,
        "route",
        "add",
        "default",
        "via",
        "203.0.113.65",
        "dev",
        "lab1",
        "metric",
        "500",
    ]);
    lab.remote_server("peer-server", "0.0.0.0", 8097, &[]);
    // `-i` only picks the template: traffic follows the best route, through lab0.
    assert_eq!(source_seen(&lab, &["-i", "lab1"]), "198.51.100.2 1");
    assert_eq!(
        source_seen(&lab, &["--outbound-if4", "lab1"]),
        "203.0.113.66 1"
    );
    // Connections to the host's loopback through the gateway stand-in are not bound.
    lab.host_server("echo-server", "127.0.0.1", 8098);
    let out = pasta_sh(
        &lab,
        &["--outbound-if4", "lab1"],
        &netcheck_sh("echo 203.0.113.65 8098 loop"),
    );
    assert_eq!(expect_success(&out), "loop");

    let bad = pasta_sh(&lab, &["--outbound-if4", "nosuch0"], "true");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("nosuch0") && err.lines().count() == 1, "{err}");
}

#[test]
fn freebind_lets_a_forward_bind_an_address_configured_later() {
    let Some(mut lab) = Lab::new() else { return };
    const LATER: &str = "198.51.100.99";
    let spec = format!("{LATER}/8099");
    let run = |lab: &mut Lab, extra: &[&str]| {
        let ns = lab.add_netns();
        let mut cmd = lab.in_host(pasta().to_str().unwrap());
        cmd.args([
            "--config-net",
            "-q",
            "-t",
            &spec,
            "-u",
            "none",
            "-T",
            "none",
        ])
        .args(["-U", "none"])
        .args(extra)
        .args(["--netns", &format!("/run/netns/{ns}")]);
        (
            ns,
            lab::output_to_eof_within(&mut cmd, Duration::from_secs(20)),
        )
    };
    let (_, refused) = run(&mut lab, &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Cannot assign requested address"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let (ns, started) = run(&mut lab, &["--freebind"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let pid = pid_with_arg(pasta(), &format!("/run/netns/{ns}")).expect("pasta running");
    let ready = lab.dir.join("ready-freebind");
    let mut server = lab.in_ns(&ns, "/usr/bin/python3");
    server
        .arg(lab::netcheck())
        .args(["echo-server", "::", "8099"]);
    lab.spawn(server, Some(&ready));
    ip(&[
        "-n",
        &lab.host,
        "addr",
        "add",
        &format!("{LATER}/24"),
        "dev",
        HOST_IFNAME,
    ]);
    let mut client = lab.in_remote("/usr/bin/python3");
    client
        .arg(lab::netcheck())
        .args(["echo", LATER, "8099", "late"]);
    let out = output_within(&mut client, Duration::from_secs(20));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "late");
    ip(&["netns", "del", &ns]);
    assert!(wait_exit(pid, Duration::from_secs(5)).is_some());
}

/// A command that runs pasta in the lab's host namespace with `--fd` on a tap its
/// caller opened: a persistent `tapfd0` in `ns`, attached by a Python process inside
/// the namespace, which then execs pasta with the descriptor (plus `extra`).
fn pasta_on_given_tap(lab: &Lab, ns: &str, extra: &[&str]) -> Command {
    ip(&["-n", ns, "tuntap", "add", "dev", "tapfd0", "mode", "tap"]);
    let script = "import fcntl, os, struct, sys\n\
        fd = os.open('/dev/net/tun', os.O_RDWR)\n\
        fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', b'tapfd0', 0x0002 | 0x1000))\n\
        os.set_inheritable(fd, True)\n\
        args = sys.argv[1:]\n\
        args[args.index('FD')] = str(fd)\n\
        os.execvp(args[0], args)";
    let netns = format!("/run/netns/{ns}");
    let mut cmd = lab.in_ns(ns, "/usr/bin/python3");
    cmd.args(["-c", script, "ip", "netns", "exec", &lab.host])
        .arg(pasta())
        .args(["--fd", "FD", "-I", "tapfd0", "--config-net", "-q"])
        .args(["-t", "none", "-u", "none", "-T", "none", "-U", "none"])
        .args(extra)
        .args(["--netns", &netns]);
    cmd
}

/// pasta `--fd`: a tap our caller opened and attached in the namespace.
#[test]
fn pasta_serves_a_tap_descriptor_its_caller_opened() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    lab.remote_server("echo-server", "0.0.0.0", 8100, &[]);
    let netns = format!("/run/netns/{ns}");
    let mut cmd = pasta_on_given_tap(&lab, &ns, &[]);
    let out = lab::output_to_eof_within(&mut cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = pid_with_arg(pasta(), &netns).expect("pasta running");
    let mut client = lab.in_ns(&ns, "/usr/bin/python3");
    client
        .arg(lab::netcheck())
        .args(["echo", REMOTE_V4, "8100", "through the given tap"]);
    let got = output_within(&mut client, Duration::from_secs(20));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        "through the given tap",
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    ip(&["netns", "del", &ns]);
    assert!(wait_exit(pid, Duration::from_secs(5)).is_some());
}

/// `--fd` implies `--one-off` (passt-reference §1): with a tap descriptor, pasta's
/// one client is that tap, so pasta exits when it goes away, as passt's does
/// ("Disconnect event on /dev/net/tun device, exiting", status 1), even when the
/// namespace stays (`--no-netns-quit`).
#[test]
fn pasta_with_a_tap_descriptor_exits_when_the_tap_goes_away() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    lab.remote_server("echo-server", "0.0.0.0", 8101, &[]);
    let mut cmd = pasta_on_given_tap(&lab, &ns, &["-f", "--no-netns-quit"]);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pasta");
    // Serving: a connection from the namespace through the given tap works.
    let started = std::time::Instant::now();
    loop {
        let mut client = lab.in_ns(&ns, "/usr/bin/python3");
        client
            .arg(lab::netcheck())
            .args(["echo", REMOTE_V4, "8101", "up"]);
        if output_within(&mut client, Duration::from_secs(20)).stdout == b"up" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "pasta never served the tap"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(child.try_wait().unwrap().is_none(), "pasta running");

    ip(&["-n", &ns, "link", "del", "tapfd0"]);
    let gone = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if gone.elapsed() > Duration::from_secs(3) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pasta still running 3 s after its tap was deleted");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    eprintln!(
        "pasta exited {:?} after the tap was deleted",
        gone.elapsed()
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "as passt's die(): {err}");
    assert!(err.contains("tap device, exiting"), "says why: {err}");
    assert!(
        Path::new(&format!("/run/netns/{ns}")).exists(),
        "the namespace is still there: the tap, not the namespace, ended it"
    );
}
