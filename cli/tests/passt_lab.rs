//! passt end to end in the sealed lab: a "VM" gets a working network.
//!
//! passt runs in the lab's "host" namespace as the unprivileged user `nobody`. The
//! virtual machine is a third namespace, "guest", whose tap device `passt-tap-relay`
//! connects to passt's socket with qemu's stream framing: the guest's kernel does DHCP
//! and NDP against passt's built-in servers and talks TCP to servers in "remote".

#[macro_use]
mod lab;

use lab::guest::{
    expect_success, passt_binary, relay_binary_of, wait_until, Guest, Lease, Passt, Relay,
    RelayKind,
};
use lab::{output_within, Lab, GATEWAY_V4, GATEWAY_V6, HOST_V4, HOST_V6, REMOTE_V4, REMOTE_V6};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

over_both_transports!(
    dhcp_gives_the_guest_the_hosts_address_gateway_and_mtu,
    router_advertisement_carries_the_hosts_prefix_and_the_guest_autoconfigures,
    dhcpv6_offers_the_hosts_address,
    tcp_echo_to_remote_v4_and_v6,
    bulk_64_mib_each_way_is_byte_exact,
    forwarded_port_reaches_a_server_in_the_guest_from_host_loopback_and_remote,
    client_disconnect_and_reconnect_leave_a_working_network,
    one_off_exits_zero_when_the_client_leaves,
    a_second_client_is_turned_away_while_the_first_is_served,
    daemon_parent_exits_once_listening_with_the_childs_pid_in_the_pid_file,
    udp_echo_to_remote_v4_and_v6_through_passt,
    a_burst_of_guest_datagrams_leaves_passt_in_batches,
    a_burst_for_the_vm_arrives_intact_in_runs_where_it_takes_them,
    ping_and_ping6_to_remote_through_passt,
);

/// One lab with passt serving a guest. Fields drop in order: the relay first, the
/// lab (and its servers) last.
struct World {
    relay: Option<Relay>,
    passt: Passt,
    guest: Guest,
    relay_bin: PathBuf,
    lab: Lab,
}

impl World {
    /// A lab, the guest namespace and `passt -f -s SOCKET ARGS…` (with
    /// `--vhost-user` for that transport); `None` when the lab cannot run here
    /// (skipped).
    fn new(kind: RelayKind, passt_args: &[&str]) -> Option<World> {
        let lab = Lab::new()?;
        let relay_bin = relay_binary_of(kind)?;
        let guest = Guest::new(&lab);
        let mut args = passt_args.to_vec();
        if kind == RelayKind::VhostUser {
            args.push("--vhost-user");
        }
        let passt = Passt::start(&lab, &args);
        Some(World {
            relay: None,
            passt,
            guest,
            relay_bin,
            lab,
        })
    }

    /// Plug the guest in (a new relay, so a new tap device).
    fn plug(&mut self) {
        assert!(self.relay.is_none(), "already plugged in");
        self.relay = Some(Relay::start(
            &self.relay_bin,
            &self.guest,
            &self.passt.socket,
        ));
    }

    /// Plug the guest in and configure IPv4 by DHCP.
    fn plug_and_dhcp(&mut self) -> Lease {
        self.plug();
        self.guest.dhcp()
    }

    /// Plug in, DHCP, then IPv6 by hand with the advertised router.
    fn plug_dual_stack(&mut self) {
        self.plug_and_dhcp();
        let ra = self.guest.rdisc6();
        self.guest.configure_v6(HOST_V6, ra.router);
    }

    /// Paths for a held run's marker files in the lab directory: `ready`, `go` and
    /// `sent`, named after `what`.
    fn markers(&self, what: &str) -> [String; 3] {
        ["ready", "go", "sent"].map(|f| {
            let p = self.lab.dir.join(format!("{what}-{f}"));
            p.display().to_string()
        })
    }

    /// Run netcheck `args` in the guest, holding passt paused from the moment it
    /// creates `ready` until `sent` appears (creating `go` in between), so that what
    /// is sent meanwhile reaches passt as one backlog; then end passt (SIGTERM, which
    /// must succeed). netcheck's stdout and passt's log.
    fn netcheck_held(
        &mut self,
        args: &[&str],
        [ready, go, sent]: [&String; 3],
    ) -> (String, String) {
        let run = self
            .guest
            .cmd("/usr/bin/python3")
            .arg(lab::netcheck())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netcheck");
        lab::wait_for(Path::new(ready));
        self.passt.pause();
        std::fs::write(go, b"").unwrap();
        lab::wait_for(Path::new(sent));
        self.passt.resume();
        let out = expect_success(&run.wait_with_output().unwrap());
        let status = self.passt.terminate(Duration::from_secs(5));
        assert!(status.is_some_and(|s| s.success()), "passt: {status:?}");
        (out, self.passt.log())
    }

    /// Pull the plug: kill the relay, as a VM that goes away.
    fn unplug(&mut self) {
        let relay = self.relay.take().expect("plugged in");
        relay.kill(&self.guest);
    }
}

fn first_64_bits(a: Ipv6Addr) -> Ipv6Addr {
    let s = a.segments();
    Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)
}

fn dhcp_gives_the_guest_the_hosts_address_gateway_and_mtu(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    let lease = w.plug_and_dhcp();
    assert_eq!(
        lease,
        Lease {
            ip: HOST_V4.into(),
            mask: "24".into(),
            router: GATEWAY_V4.into(),
            mtu: "65520".into(),
            server_id: GATEWAY_V4.into(),
        },
        "passt log: {}",
        w.passt.log()
    );
}

fn router_advertisement_carries_the_hosts_prefix_and_the_guest_autoconfigures(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.plug();
    let ra = w.guest.rdisc6();
    let host_prefix = first_64_bits(HOST_V6.parse().unwrap());
    assert_eq!(ra.prefix.1, 64, "{ra:?}");
    assert_eq!(first_64_bits(ra.prefix.0), host_prefix, "{ra:?}");
    assert_eq!(ra.mtu, Some(65520), "{ra:?}");
    assert!(ra.router.is_unicast_link_local(), "{ra:?}");

    // The guest's kernel acts on it: a SLAAC address in the host's /64 and a default
    // route through the advertising router.
    let slaac = wait_until(Duration::from_secs(10), || {
        let out = w.guest.run(
            "ip",
            &["-j", "-6", "addr", "show", "dev", "tap0", "scope", "global"],
            Duration::from_secs(5),
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array().into_iter().flatten().any(|link| {
            link["addr_info"].as_array().into_iter().flatten().any(|a| {
                a["local"]
                    .as_str()
                    .and_then(|s| s.parse::<Ipv6Addr>().ok())
                    .is_some_and(|addr| first_64_bits(addr) == host_prefix)
                    && a["prefixlen"] == 64
            })
        })
    });
    assert!(slaac, "no SLAAC address in {host_prefix}/64");
    let routed = wait_until(Duration::from_secs(10), || {
        let out = w.guest.run(
            "ip",
            &["-6", "route", "show", "default"],
            Duration::from_secs(5),
        );
        String::from_utf8_lossy(&out.stdout).contains(&format!("via {}", ra.router))
    });
    assert!(routed, "no default route via {}", ra.router);
}

fn dhcpv6_offers_the_hosts_address(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.plug();
    let ra = w.guest.rdisc6();
    assert!(ra.router.is_unicast_link_local(), "{ra:?}");
    let offered = w
        .guest
        .netcheck(&["dhcpv6-solicit", lab::guest::GUEST_IFNAME]);
    assert_eq!(offered.trim(), HOST_V6, "passt log: {}", w.passt.log());
}

fn tcp_echo_to_remote_v4_and_v6(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.lab.remote_server("echo-server", REMOTE_V6, 7, &[]);
    w.plug_dual_stack();
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "hello-v4"]),
        "hello-v4"
    );
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V6, "7", "hello-v6"]),
        "hello-v6"
    );
}

/// `netcheck timed MODE…` in `cmd`: the reply and the seconds it took.
fn timed(mut cmd: Command, args: &[&str]) -> (String, f64) {
    cmd.arg(lab::netcheck()).arg("timed").args(args);
    let out = output_within(&mut cmd, Duration::from_secs(120));
    let reply = expect_success(&out).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let secs = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no timing on stderr: {stderr}"));
    (reply, secs)
}

fn bulk_64_mib_each_way_is_byte_exact(kind: RelayKind) {
    const MIB: u32 = 64;
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.lab.remote_server("sink-server", REMOTE_V4, 9000, &[]);
    w.lab.remote_server(
        "source-server",
        REMOTE_V4,
        9001,
        &["down", &MIB.to_string()],
    );
    w.plug_and_dhcp();
    let mib = MIB.to_string();
    let (up, up_s) = timed(
        w.guest.cmd("/usr/bin/python3"),
        &["upload", REMOTE_V4, "9000", "up", &mib],
    );
    let (down, down_s) = timed(
        w.guest.cmd("/usr/bin/python3"),
        &["download", REMOTE_V4, "9001"],
    );
    assert_eq!(
        up,
        lab::expected_sha("up", MIB),
        "upload hash at the remote"
    );
    assert_eq!(
        down,
        lab::expected_sha("down", MIB),
        "download hash in the guest"
    );

    // The same transfers on the kernel's own path (host namespace → remote), for the
    // throughput comparison printed below.
    let (_, direct_up_s) = timed(
        w.lab.in_host("/usr/bin/python3"),
        &["upload", REMOTE_V4, "9000", "up", &mib],
    );
    let (_, direct_down_s) = timed(
        w.lab.in_host("/usr/bin/python3"),
        &["download", REMOTE_V4, "9001"],
    );
    let mbit = |s: f64| f64::from(MIB) * 8.0 * 1.048_576 / s;
    eprintln!(
        "throughput ({MIB} MiB): guest→remote {:.0} Mbit/s, remote→guest {:.0} Mbit/s \
         through passt and the relay; direct host→remote {:.0} Mbit/s, remote→host {:.0} Mbit/s",
        mbit(up_s),
        mbit(down_s),
        mbit(direct_up_s),
        mbit(direct_down_s)
    );
}

fn forwarded_port_reaches_a_server_in_the_guest_from_host_loopback_and_remote(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &["-t", "8085"]) else {
        return;
    };
    w.plug_dual_stack();
    let ready = w.lab.dir.join("ready-guest-peer-server");
    let mut server = w.guest.cmd("/usr/bin/python3");
    server
        .arg(lab::netcheck())
        .args(["peer-server", "::", "8085"]);
    w.lab.spawn(server, Some(&ready));

    // The guest's server answers with the address it sees the client at: host
    // loopback shows up as the gateway (passt-reference §5.3), remote clients as
    // themselves.
    let cases: [(Command, &str, Option<&str>, String); 4] = [
        (
            w.lab.in_host("/usr/bin/python3"),
            "127.0.0.1",
            None,
            format!("{GATEWAY_V4} 3"),
        ),
        (
            w.lab.in_host("/usr/bin/python3"),
            "::1",
            None,
            format!("{GATEWAY_V6} 3"),
        ),
        (
            w.lab.in_remote("/usr/bin/python3"),
            HOST_V4,
            Some(REMOTE_V4),
            format!("{REMOTE_V4} 3"),
        ),
        (
            w.lab.in_remote("/usr/bin/python3"),
            HOST_V6,
            Some(REMOTE_V6),
            format!("{REMOTE_V6} 3"),
        ),
    ];
    for (mut cmd, to, from, expect) in cases {
        cmd.arg(lab::netcheck()).args(["peer", to, "8085", "abc"]);
        if let Some(src) = from {
            cmd.arg(src);
        }
        let out = output_within(&mut cmd, Duration::from_secs(30));
        assert_eq!(
            expect_success(&out),
            expect,
            "client to {to} from {from:?}; passt log: {}",
            w.passt.log()
        );
    }
}

fn client_disconnect_and_reconnect_leave_a_working_network(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.plug_and_dhcp();
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "first"]),
        "first"
    );
    w.unplug();
    std::thread::sleep(Duration::from_millis(200));
    assert!(w.passt.running(), "passt exited: {}", w.passt.log());

    // A new "VM" (new relay, new tap, no configuration) is served from scratch.
    let lease = w.plug_and_dhcp();
    assert_eq!(lease.ip, HOST_V4);
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "second"]),
        "second"
    );
}

fn one_off_exits_zero_when_the_client_leaves(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &["--one-off"]) else {
        return;
    };
    let lease = w.plug_and_dhcp();
    assert_eq!(lease.ip, HOST_V4, "served before the client left");
    assert!(w.passt.running());
    w.unplug();
    let status = w.passt.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "passt --one-off: {status:?}; log: {}",
        w.passt.log()
    );
}

#[test]
fn bad_frame_length_drops_only_that_client() {
    let Some(mut w) = World::new(RelayKind::Stream, &[]) else {
        return;
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);

    // A raw client announces a 5-byte frame (shorter than an Ethernet header).
    let script = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
                  s.connect(sys.argv[1])\n\
                  s.sendall(bytes([0, 0, 0, 5]))\n\
                  s.settimeout(10)\n\
                  print('closed' if s.recv(65536) == b'' else 'open')\n";
    let mut raw = w.lab.in_host("/usr/bin/python3");
    raw.args(["-c", script]).arg(&w.passt.socket);
    let out = output_within(&mut raw, Duration::from_secs(20));
    assert_eq!(expect_success(&out).trim(), "closed");
    assert!(w.passt.running(), "passt exited: {}", w.passt.log());
    assert!(
        w.passt.log().contains("Bad frame size 5"),
        "reason logged: {}",
        w.passt.log()
    );

    // The next client gets full service.
    let lease = w.plug_and_dhcp();
    assert_eq!(lease.ip, HOST_V4);
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "still-up"]),
        "still-up"
    );
}

/// A daemonised passt, known only by the PID in its PID file: terminated on drop.
struct Daemon(i32);

impl Daemon {
    fn alive(&self) -> bool {
        // Gone, or a zombie waiting for whoever adopted it.
        std::fs::read_to_string(format!("/proc/{}/stat", self.0))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(false)
    }

    fn terminate(&self) -> bool {
        let pid = rustix::process::Pid::from_raw(self.0).expect("positive PID");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        wait_until(Duration::from_secs(5), || !self.alive())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.alive() && !self.terminate() {
            if let Some(pid) = rustix::process::Pid::from_raw(self.0) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

fn daemon_parent_exits_once_listening_with_the_childs_pid_in_the_pid_file(kind: RelayKind) {
    let Some(lab) = Lab::new() else { return };
    let Some(relay_bin) = relay_binary_of(kind) else {
        return;
    };
    let guest = Guest::new(&lab);
    let socket = lab.dir.join("passt.sock");
    let pid_file = lab.dir.join("passt.pid");
    let mut cmd = lab.in_host_unprivileged(passt_binary());
    cmd.arg("-s").arg(&socket).arg("-P").arg(&pid_file);
    if kind == RelayKind::VhostUser {
        cmd.arg("--vhost-user");
    }
    let out = output_within(&mut cmd, Duration::from_secs(10));
    expect_success(&out);
    // Both hold at the moment the parent has exited, not merely eventually.
    assert!(
        socket.exists(),
        "socket not listening when the parent exited"
    );
    let text = std::fs::read_to_string(&pid_file).expect("PID file written");
    let daemon = Daemon(text.trim().parse().expect("a PID"));
    assert!(daemon.alive(), "PID {} is not running", daemon.0);
    // The same file as the passt binary (compared by inode: the daemon may already
    // have moved into its own mount namespace, where its path reads differently).
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::metadata(format!("/proc/{}/exe", daemon.0)).expect("exe");
    let bin = std::fs::metadata(passt_binary()).unwrap();
    assert_eq!(
        (exe.dev(), exe.ino()),
        (bin.dev(), bin.ino()),
        "the PID is passt's"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.0)).unwrap();
    assert!(
        status.lines().any(|l| l.starts_with("Uid:\t65534\t")),
        "runs as nobody: {status}"
    );

    // The daemon serves a guest.
    let relay = Relay::start(&relay_bin, &guest, &socket);
    assert_eq!(guest.dhcp().ip, HOST_V4);
    drop(relay);

    assert!(daemon.terminate(), "the daemon survived SIGTERM");
}

fn a_second_client_is_turned_away_while_the_first_is_served(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.plug_and_dhcp();

    // Another "qemu" connects to the same socket: closed at once (passt-reference
    // §7.1), not left waiting in the queue behind the first.
    let script = "import socket, sys, time\n\
                  s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
                  s.connect(sys.argv[1])\n\
                  start = time.monotonic()\n\
                  s.settimeout(10)\n\
                  gone = s.recv(65536) == b''\n\
                  print('closed' if gone else 'open', round(time.monotonic() - start, 1))\n";
    let mut second = w.lab.in_host("/usr/bin/python3");
    second.args(["-c", script]).arg(&w.passt.socket);
    let out = expect_success(&output_within(&mut second, Duration::from_secs(20)));
    let (state, secs) = out.trim().split_once(' ').expect("state and time");
    assert_eq!(state, "closed", "{out}");
    assert!(
        secs.parse::<f64>().unwrap() < 3.0,
        "turned away after {secs} s"
    );
    assert!(
        w.passt.log().contains("discarding connection"),
        "logged: {}",
        w.passt.log()
    );

    // The first guest never noticed.
    assert!(w.relay.as_mut().unwrap().running());
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "unharmed"]),
        "unharmed"
    );
}

#[test]
fn a_qemu_vm_boots_gets_a_lease_and_reaches_the_remote() {
    let kernel = match lab::vm::find_vm_parts() {
        Ok(k) => k,
        Err(why) => return lab::skip(&why),
    };
    // As libvirt runs it: one client, then exit.
    let Some(w) = World::new(RelayKind::Stream, &["--one-off"]) else {
        return;
    };
    let mut w = w;
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let initramfs = w.lab.dir.join("initramfs.cpio");
    lab::vm::write_initramfs(&kernel, &initramfs, REMOTE_V4);
    let mut qemu = lab::vm::qemu(&w.lab, &kernel, &initramfs);
    qemu.arg("-netdev")
        .arg(format!(
            "stream,id=n0,server=off,addr.type=unix,addr.path={}",
            w.passt.socket.display()
        ))
        .args(["-device", "virtio-net-pci,netdev=n0"]);
    let out = output_within(&mut qemu, Duration::from_secs(120));
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let context = format!(
        "console:\n{console}\nqemu stderr: {}\npasst log: {}",
        String::from_utf8_lossy(&out.stderr),
        w.passt.log()
    );
    lab::vm::assert_booted_and_reached_the_remote(&console, &context);
    let status = w.passt.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "passt --one-off after the VM powered off: {status:?}; {context}"
    );
}

fn udp_echo_to_remote_v4_and_v6_through_passt(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    w.lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    w.lab.remote_server("udp-echo-server", REMOTE_V6, 7, &[]);
    w.plug_dual_stack();
    assert_eq!(
        w.guest.netcheck(&["udp-echo", REMOTE_V4, "7", "udp-v4"]),
        "udp-v4"
    );
    assert_eq!(
        w.guest.netcheck(&["udp-echo", REMOTE_V6, "7", "udp-v6"]),
        "udp-v6"
    );
}

/// Datagrams the VM sends back to back leave passt in batches (a run of equal ones
/// as one UDP GSO message, by `sendmsg`: passt's seccomp list has no `sendmmsg`), and
/// every one is echoed back. passt is paused (SIGSTOP, by PID) while the burst queues
/// up, so it reaches passt as one backlog whatever the timing.
fn a_burst_of_guest_datagrams_leaves_passt_in_batches(kind: RelayKind) {
    const BURST: usize = 128;
    let Some(mut w) = World::new(kind, &["-d"]) else {
        return;
    };
    w.lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    w.plug_and_dhcp();
    let [ready, go, sent] = w.markers("burst");
    let n = BURST.to_string();
    // The burst waits 10 s at most for its echoes.
    let (out, log) = w.netcheck_held(
        &["udp-burst", REMOTE_V4, "7", &n, &ready, &go, &sent],
        [&ready, &go, &sent],
    );
    assert_eq!(out.trim(), format!("{BURST} of {BURST} echoed"));
    let (datagrams, batches) = lab::datagrams_and_batches(&log);
    assert_eq!(datagrams, BURST + 1, "the first round trip, then the burst");
    assert!(batches * 4 <= datagrams, "batches of 4 or more: {batches}");
}

/// Datagrams of one size queued for the VM reach it intact; a vhost-user guest that
/// takes UDP segmentation offload (`GUEST_USO4/6`, as the relay's emulated Linux
/// driver does) gets them as runs its side cuts apart, qemu's stream socket (no
/// offloads) one frame each. passt is paused while the remote's burst queues up on
/// the flow's socket, so it drains them as one backlog.
fn a_burst_for_the_vm_arrives_intact_in_runs_where_it_takes_them(kind: RelayKind) {
    // As udp_lab's test for pasta: 80 datagrams of 1200 bytes fit the sockets'
    // default buffers, and need at least two runs of 54.
    const BURST: usize = 80;
    const SIZE: usize = 1200;
    let Some(mut w) = World::new(kind, &["-d"]) else {
        return;
    };
    let [ready, go, sent] = w.markers("down");
    let (n, size) = (BURST.to_string(), SIZE.to_string());
    w.lab
        .remote_server("udp-burst-server", REMOTE_V4, 9, &[&n, &size, &go, &sent]);
    w.plug_and_dhcp();
    // The receiver counts for 10 s at most.
    let (out, log) = w.netcheck_held(
        &["udp-burst-receive", REMOTE_V4, "9", &n, &size, &ready],
        [&ready, &go, &sent],
    );
    assert_eq!(out.trim(), format!("{BURST} of {BURST} intact"));
    let runs = lab::runs_to_guest(&log);
    match kind {
        RelayKind::VhostUser => assert!((2..=10).contains(&runs), "{runs} runs for {BURST}"),
        RelayKind::Stream => assert_eq!(runs, 0, "no offloads over the stream socket"),
    }
}

fn ping_and_ping6_to_remote_through_passt(kind: RelayKind) {
    let Some(mut w) = World::new(kind, &[]) else {
        return;
    };
    // passt (as nobody) answers echoes through ping sockets in its own namespace.
    w.lab.allow_ping_sockets();
    w.plug_dual_stack();
    for (ping, addr) in [(&["-4"][..], REMOTE_V4), (&["-6"][..], REMOTE_V6)] {
        let mut args: Vec<&str> = ping.to_vec();
        args.extend(["-c", "3", "-i", "0.2", "-W", "2", addr]);
        let out = w.guest.run("ping", &args, Duration::from_secs(15));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ping {args:?}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(" 0% packet loss"), "{text}");
    }
}

#[test]
fn vhost_user_without_offloads_and_with_a_small_ring() {
    let Some(mut w) = World::new(RelayKind::VhostUser, &[]) else {
        return;
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.relay = Some(Relay::start_with(
        &w.relay_bin,
        &w.guest,
        &w.passt.socket,
        &["--no-offload", "--queue-size", "64"],
    ));
    assert_eq!(w.guest.dhcp().ip, HOST_V4, "passt log: {}", w.passt.log());
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "plain-frames"]),
        "plain-frames"
    );
}

#[test]
fn vhost_user_data_path_allocates_nothing() {
    let Some(lab) = Lab::new() else { return };
    let Some(relay_bin) = relay_binary_of(RelayKind::VhostUser) else {
        return;
    };
    let guest = Guest::new(&lab);
    let report = lab.dir.join("alloc-report");
    let passt = Passt::start_with_env(
        &lab,
        &["--vhost-user", "--one-off"],
        &[("PASST_ALLOC_REPORT", &report)],
    );
    let mut w = World {
        relay: None,
        passt,
        guest,
        relay_bin,
        lab,
    };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.lab.remote_server("sink-server", REMOTE_V4, 9000, &[]);
    w.lab
        .remote_server("source-server", REMOTE_V4, 9001, &["down", "16"]);
    w.lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    w.plug_and_dhcp();
    for _ in 0..20 {
        assert_eq!(w.guest.netcheck(&["echo", REMOTE_V4, "7", "x"]), "x");
    }
    w.guest.netcheck(&["upload", REMOTE_V4, "9000", "up", "16"]);
    w.guest.netcheck(&["download", REMOTE_V4, "9001"]);
    assert_eq!(w.guest.netcheck(&["udp-echo", REMOTE_V4, "7", "u"]), "u");
    w.unplug();
    let status = w.passt.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let text = std::fs::read_to_string(&report).expect("passt wrote its report");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("allocations_after_init 0"), "{text}");
    let control = lines
        .next()
        .and_then(|l| l.strip_prefix("control_plane_allocations "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        control.is_some_and(|n| n > 0),
        "the front end's set-up requests counted apart: {text}"
    );
}

/// As qemu's `-netdev vhost-user` launchers (and libkrun) start passt: one end of a
/// connection handed over as a descriptor (`--fd`), no socket path of passt's own.
#[test]
fn vhost_user_over_an_inherited_descriptor() {
    let Some(mut lab) = Lab::new() else { return };
    let Some(relay_bin) = relay_binary_of(RelayKind::VhostUser) else {
        return;
    };
    let guest = Guest::new(&lab);
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    // The launcher accepts the front end's connection on a path and runs passt (as
    // nobody) with the accepted socket as its --fd.
    let launcher = "import os, socket, subprocess, sys\n\
                    path, passt = sys.argv[1], sys.argv[2:]\n\
                    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n\
                    l.bind(path)\n\
                    l.listen(1)\n\
                    open(os.environ['READY_FILE'], 'w').close()\n\
                    c, _ = l.accept()\n\
                    p = subprocess.Popen(passt + ['--fd', str(c.fileno())], pass_fds=[c.fileno()])\n\
                    c.close()\n\
                    sys.exit(p.wait())\n";
    let socket = lab.dir.join("launcher.sock");
    let ready = lab.dir.join("launcher-ready");
    let mut cmd = lab.in_host("/usr/bin/python3");
    cmd.args(["-c", launcher])
        .arg(&socket)
        .args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ])
        .arg(passt_binary())
        .args(["--vhost-user", "-f", "-q"]);
    let launcher = lab.spawn(cmd, Some(&ready)).id();
    let relay = Relay::start(&relay_bin, &guest, &socket);
    assert_eq!(guest.dhcp().ip, HOST_V4);
    assert_eq!(guest.netcheck(&["echo", REMOTE_V4, "7", "by-fd"]), "by-fd");
    // --fd means one front end: passt ends with it, and so does its launcher (which
    // exits with passt's status: 0, checked through /proc being gone for both).
    relay.kill(&guest);
    let launcher = i32::try_from(launcher).unwrap();
    let gone = lab::wait_exit(launcher, Duration::from_secs(10));
    assert!(gone.is_some(), "passt outlived its only front end");
}
