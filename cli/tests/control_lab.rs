//! The control socket (`-c`) and `pesto`, with the real binaries in the sealed lab:
//! pasta serves an `ip netns add` namespace as podman runs it, and forwards are added
//! and removed while it runs, as podman 6 does with `pesto --add/--delete`.

mod lab;

use lab::podman::podman_args;
use lab::{output_within, pid_with_arg, wait_exit, Lab, HOST_V4, HOST_V6};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn pasta() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pasta"))
}

fn pesto_bin() -> &'static str {
    env!("CARGO_BIN_EXE_pesto")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Target addresses that exist only inside the served namespace.
const TARGET_V4: &str = "198.51.100.77";
const TARGET_V6: &str = "2001:db8:5::77";

/// pasta with podman's argv plus `-c SOCK`, in the background serving a new
/// namespace; its PID, the namespace and the socket path.
fn start(lab: &mut Lab, report: Option<&Path>) -> (i32, String, PathBuf) {
    let ns = lab.add_netns();
    let sock = lab.dir.join("control.sock");
    let mut cmd = lab.in_host(pasta().to_str().unwrap());
    if let Some(r) = report {
        cmd.env("PASST_ALLOC_REPORT", r);
    }
    // podman's argv (callers.md §1.1), then the control socket as podman 6 adds it.
    cmd.args(podman_args(&[], &ns)).arg("-c");
    cmd.arg(&sock);
    let out = lab::output_to_eof_within(&mut cmd, Duration::from_secs(20));
    assert!(out.status.success(), "pasta: {}", text(&out.stderr));
    assert!(sock.exists(), "control socket bound before readiness");
    let pid = pid_with_arg(pasta(), &format!("/run/netns/{ns}")).expect("pasta running");
    (pid, ns, sock)
}

fn pesto(lab: &Lab, args: &[&str], sock: &Path) -> Output {
    let mut cmd = lab.in_host(pesto_bin());
    cmd.args(args).arg(sock);
    output_within(&mut cmd, Duration::from_secs(20))
}

fn pesto_ok(lab: &Lab, args: &[&str], sock: &Path) -> String {
    let out = pesto(lab, args, sock);
    assert!(
        out.status.success(),
        "pesto {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `netcheck MODE ARGS…` from the remote namespace; its stdout.
fn from_remote(lab: &Lab, args: &[&str]) -> String {
    let mut c = lab.in_remote("/usr/bin/python3");
    c.arg(lab::netcheck()).args(args);
    text(&output_within(&mut c, Duration::from_secs(30)).stdout)
}

fn from_host(lab: &Lab, args: &[&str]) -> String {
    let mut c = lab.in_host("/usr/bin/python3");
    c.arg(lab::netcheck()).args(args);
    text(&output_within(&mut c, Duration::from_secs(30)).stdout)
}

fn ns_server(lab: &mut Lab, ns: &str, host: &str, port: u16) {
    let ready = lab.dir.join(format!("ready-ns-{port}"));
    let mut server = lab.in_ns(ns, "/usr/bin/python3");
    server
        .arg(lab::netcheck())
        .args(["echo-server", host, &port.to_string()]);
    lab.spawn(server, Some(&ready));
}

fn assert_alive(pid: i32) {
    assert!(!lab::exited(pid), "pasta still running");
}

#[test]
fn a_forward_added_at_run_time_carries_connections_and_delete_closes_its_port() {
    let Some(mut lab) = Lab::new() else { return };
    let report = lab.dir.join("alloc-report");
    let (pid, ns, sock) = start(&mut lab, Some(&report));
    ns_server(&mut lab, &ns, "::", 8090);
    assert!(from_remote(&lab, &["refused", HOST_V4, "8090"]).starts_with("refused"));

    pesto_ok(&lab, &["--add", "-t", "8090"], &sock);
    for addr in [HOST_V4, HOST_V6] {
        assert_eq!(from_remote(&lab, &["echo", addr, "8090", "hello"]), "hello");
    }
    assert_eq!(
        from_host(&lab, &["echo", "127.0.0.1", "8090", "spliced"]),
        "spliced",
        "the loopback bypass serves run-time forwards too"
    );
    let shown = pesto_ok(&lab, &["--show"], &sock);
    assert!(shown.contains("-t 8090:8090"), "{shown}");

    // A connection made before the delete keeps working after it.
    let go_on = lab.dir.join("go-on");
    let mut held = lab.in_remote("/usr/bin/python3");
    held.arg(lab::netcheck())
        .args(["echo-twice", HOST_V4, "8090"])
        .arg(&go_on)
        .stdout(Stdio::piped());
    let mut held = held.spawn().expect("spawn");
    let mut first = [0u8; 4];
    std::io::Read::read_exact(held.stdout.as_mut().unwrap(), &mut first).unwrap();
    assert_eq!(&first, b"one\n");

    pesto_ok(&lab, &["--delete", "-t", "8090"], &sock);
    assert!(
        from_remote(&lab, &["refused", HOST_V4, "8090"]).starts_with("refused"),
        "port closed after --delete"
    );
    std::fs::write(&go_on, "").unwrap();
    let rest = held.wait_with_output().expect("wait");
    assert_eq!(
        text(&rest.stdout),
        "two\n",
        "established connection survived"
    );
    assert!(!pesto_ok(&lab, &["-s"], &sock).contains("8090"));
    assert_alive(pid);

    Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap();
    assert!(wait_exit(pid, Duration::from_secs(5)).is_some());
    let text = std::fs::read_to_string(&report).expect("allocation report");
    assert_eq!(text.trim(), "allocations_after_init 0");
}

#[test]
fn podmans_target_address_form_reaches_that_address_in_the_namespace() {
    let Some(mut lab) = Lab::new() else { return };
    let (pid, ns, sock) = start(&mut lab, None);
    for addr in [format!("{TARGET_V4}/32"), format!("{TARGET_V6}/128")] {
        let ip = lab
            .in_ns(&ns, "ip")
            .args(["addr", "add", &addr, "dev", "lo", "nodad"])
            .status()
            .unwrap();
        assert!(ip.success());
    }
    // Listening on the target addresses only: reaching them proves where the forward
    // goes. Podman's pair for `-p 18091:8091` on a dual-stack network: one rule per
    // family, the IPv6 one bracketed.
    ns_server(&mut lab, &ns, TARGET_V4, 8091);
    ns_server(&mut lab, &ns, TARGET_V6, 8092);
    let v4 = format!("0.0.0.0/18091:{TARGET_V4}/8091");
    let v6 = format!("[::]/18091:[{TARGET_V6}]/8092");
    pesto_ok(&lab, &["--add", "-t", &v4, "-t", &v6], &sock);
    for (addr, word) in [(HOST_V4, "tap"), (HOST_V6, "tap6")] {
        assert_eq!(from_remote(&lab, &["echo", addr, "18091", word]), word);
    }
    for (addr, word) in [("127.0.0.1", "splice"), ("::1", "splice6")] {
        assert_eq!(from_host(&lab, &["echo", addr, "18091", word]), word);
    }
    pesto_ok(&lab, &["--delete", "-t", &v4, "-t", &v6], &sock);
    for addr in [HOST_V4, HOST_V6] {
        assert!(from_remote(&lab, &["refused", addr, "18091"]).starts_with("refused"));
    }

    // The same for UDP (`-p 18093:8093/udp`): datagrams reach the target, through
    // the tap and spliced from the host's loopback.
    ns_udp_server(&mut lab, &ns, TARGET_V4, 8093);
    ns_udp_server(&mut lab, &ns, TARGET_V6, 8093);
    let u4 = format!("0.0.0.0/18093:{TARGET_V4}/8093");
    let u6 = format!("[::]/18093:[{TARGET_V6}]/8093");
    pesto_ok(&lab, &["--add", "-u", &u4, "-u", &u6], &sock);
    for (addr, word) in [(HOST_V4, "utap"), (HOST_V6, "utap6")] {
        assert_eq!(from_remote(&lab, &["udp-echo", addr, "18093", word]), word);
    }
    for (addr, word) in [("127.0.0.1", "usplice"), ("::1", "usplice6")] {
        assert_eq!(from_host(&lab, &["udp-echo", addr, "18093", word]), word);
    }
    pesto_ok(&lab, &["--delete", "-u", &u4, "-u", &u6], &sock);
    assert_ne!(udp_probe(&lab, false, HOST_V4, 18093), "reply");
    assert_alive(pid);
}

#[test]
fn a_busy_port_and_bad_requests_get_errors_and_pasta_keeps_running() {
    let Some(mut lab) = Lab::new() else { return };
    let (pid, ns, sock) = start(&mut lab, None);
    lab.host_server("echo-server", "0.0.0.0", 8092);
    ns_server(&mut lab, &ns, "::", 8093);

    let busy = pesto(&lab, &["--add", "-t", "8093", "-t", "8092"], &sock);
    assert_eq!(busy.status.code(), Some(1));
    let err = text(&busy.stderr);
    assert!(
        err.contains("8092") && err.contains("Address already in use"),
        "{err}"
    );
    // The first spec of that invocation went through; the busy one left nothing.
    let shown = pesto_ok(&lab, &["-s"], &sock);
    assert!(shown.contains("8093") && !shown.contains("8092"), "{shown}");

    for bad in [
        &["--add", "-t", "99999"][..],
        &["--add", "-t", "auto"],
        &["--delete", "-t", "8094"],
        &["--delete", "-u", "5353"],
    ] {
        let out = pesto(&lab, bad, &sock);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?} explains itself");
    }
    // Raw garbage on the socket: an error line back, and the server carries on.
    let script = "import socket,sys\n\
        s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rb')\n\
        f.readline(); s.sendall(b'frobnicate\\n\\xff\\xfe\\n' + b'x'*2000)\n\
        print(f.readline().decode().strip()); print(f.readline().decode().strip())\n\
        print(f.readline().decode().strip())";
    let mut raw = lab.in_host("/usr/bin/python3");
    raw.args(["-c", script]).arg(&sock);
    let out = text(&output_within(&mut raw, Duration::from_secs(20)).stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines.iter().all(|l| l.starts_with("error")), "{out}");

    // A client that connects and says nothing is dropped; others are served after it.
    let mut idle = lab.in_host("/usr/bin/python3");
    idle.args([
        "-c",
        "import socket,sys,time\n\
         s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(8)",
    ])
    .arg(&sock)
    .stdout(Stdio::null());
    let mut idle = idle.spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    let waited = std::time::Instant::now();
    pesto_ok(&lab, &["--add", "-t", "8095"], &sock);
    eprintln!("pesto behind an idle client took {:?}", waited.elapsed());
    let _ = idle.kill();
    let _ = idle.wait();

    assert_eq!(
        from_remote(&lab, &["echo", HOST_V4, "8093", "still"]),
        "still"
    );
    assert_alive(pid);
}

#[test]
fn an_outbound_forward_added_at_run_time_reaches_the_hosts_loopback() {
    let Some(mut lab) = Lab::new() else { return };
    let (pid, ns, sock) = start(&mut lab, None);
    lab.host_server("echo-server", "127.0.0.1", 8096);
    let from_ns = |lab: &Lab, args: &[&str]| {
        let mut c = lab.in_ns(&ns, "/usr/bin/python3");
        c.arg(lab::netcheck()).args(args);
        text(&output_within(&mut c, Duration::from_secs(30)).stdout)
    };
    assert!(from_ns(&lab, &["refused", "127.0.0.1", "8096"]).starts_with("refused"));
    pesto_ok(&lab, &["--add", "-T", "8096"], &sock);
    assert_eq!(from_ns(&lab, &["echo", "127.0.0.1", "8096", "out"]), "out");
    assert!(pesto_ok(&lab, &["-s"], &sock).contains("-T 8096:8096"));
    pesto_ok(&lab, &["-C", "SPLICE"], &sock);
    assert!(from_ns(&lab, &["refused", "127.0.0.1", "8096"]).starts_with("refused"));
    assert_alive(pid);
}

fn ns_udp_server(lab: &mut Lab, ns: &str, host: &str, port: u16) {
    let ready = lab.dir.join(format!("ready-ns-udp-{port}"));
    let mut server = lab.in_ns(ns, "/usr/bin/python3");
    server
        .arg(lab::netcheck())
        .args(["udp-echo-server", host, &port.to_string()]);
    lab.spawn(server, Some(&ready));
}

/// A one-shot UDP probe: "reply", "refused" (nothing bound there) or "silent".
fn udp_probe(lab: &Lab, from_host: bool, addr: &str, port: u16) -> String {
    let mut c = if from_host {
        lab.in_host("/usr/bin/python3")
    } else {
        lab.in_remote("/usr/bin/python3")
    };
    c.arg(lab::netcheck())
        .args(["udp-probe", addr, &port.to_string(), "0.5"]);
    text(&output_within(&mut c, Duration::from_secs(10)).stdout)
        .trim()
        .to_string()
}

#[test]
fn a_udp_forward_added_at_run_time_echoes_and_delete_silences_it() {
    let Some(mut lab) = Lab::new() else { return };
    let report = lab.dir.join("alloc-report");
    let (pid, ns, sock) = start(&mut lab, Some(&report));
    ns_udp_server(&mut lab, &ns, "::", 5390);
    assert_ne!(udp_probe(&lab, false, HOST_V4, 15390), "reply");

    pesto_ok(&lab, &["--add", "-u", "15390:5390"], &sock);
    for addr in [HOST_V4, HOST_V6] {
        assert_eq!(
            from_remote(&lab, &["udp-echo", addr, "15390", "dgram"]),
            "dgram",
            "from the remote to {addr}, through the tap"
        );
    }
    for addr in ["127.0.0.1", "::1"] {
        assert_eq!(
            from_host(&lab, &["udp-echo", addr, "15390", "lo"]),
            "lo",
            "from the host's {addr}, spliced"
        );
    }
    let shown = pesto_ok(&lab, &["--show"], &sock);
    assert!(shown.contains("-u 15390:5390"), "{shown}");

    pesto_ok(&lab, &["--delete", "-u", "15390:5390"], &sock);
    for (from_host, addr) in [(false, HOST_V4), (false, HOST_V6), (true, "127.0.0.1")] {
        assert_ne!(
            udp_probe(&lab, from_host, addr, 15390),
            "reply",
            "no answer on {addr} after --delete"
        );
    }
    assert!(!pesto_ok(&lab, &["-s"], &sock).contains("15390"));

    // A busy host port: the client hears why, the table stays as it was.
    lab.host_server("udp-echo-server", "0.0.0.0", 15391);
    let busy = pesto(&lab, &["--add", "-u", "15391"], &sock);
    assert_eq!(busy.status.code(), Some(1));
    let err = text(&busy.stderr);
    assert!(
        err.contains("15391") && err.contains("Address already in use"),
        "{err}"
    );
    assert!(!pesto_ok(&lab, &["-s"], &sock).contains("15391"));

    // -U: the namespace's loopback to a server on the host's, then cleared.
    lab.host_server("udp-echo-server", "127.0.0.1", 15392);
    let from_ns = |lab: &Lab, args: &[&str]| {
        let mut c = lab.in_ns(&ns, "/usr/bin/python3");
        c.arg(lab::netcheck()).args(args);
        text(&output_within(&mut c, Duration::from_secs(30)).stdout)
    };
    pesto_ok(&lab, &["--add", "-U", "15392"], &sock);
    assert_eq!(
        from_ns(&lab, &["udp-echo", "127.0.0.1", "15392", "out"]),
        "out"
    );
    pesto_ok(&lab, &["-C", "SPLICE"], &sock);
    assert_ne!(
        from_ns(&lab, &["udp-probe", "127.0.0.1", "15392", "0.5"]).trim(),
        "reply"
    );
    assert_alive(pid);

    Command::new("ip")
        .args(["netns", "del", &ns])
        .status()
        .unwrap();
    assert!(wait_exit(pid, Duration::from_secs(5)).is_some());
    let text = std::fs::read_to_string(&report).expect("allocation report");
    assert_eq!(text.trim(), "allocations_after_init 0");
}

/// A rootless pasta (in the user namespace it made, seccomp on) refuses a connection
/// from a user it can't map — root outside — and goes on serving its own user's pesto.
/// The peer check must not need a system call the filter forbids: it used to call
/// `geteuid()` for such a peer, and the kernel killed pasta with SIGSYS.
#[test]
fn a_rootless_pasta_refuses_an_unmapped_peer_and_serves_its_own_user() {
    let Some(lab) = Lab::new() else { return };
    lab::open_tun_device();
    let sock = lab.dir.join("control.sock");
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.arg("-c")
        .arg(&sock)
        .args(["--config-net", "--", "sleep", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut running = lab::Reaped(cmd.spawn().expect("spawn pasta"));
    let start = std::time::Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no control socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // We are root outside pasta's user namespace: an unmapped user there.
    let mut stranger = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
    stranger
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stranger, &mut reply);
    assert!(reply.is_empty(), "refused: {}", text(&reply));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        running.0.try_wait().expect("try_wait").is_none(),
        "pasta still running after a refused peer"
    );
    let mut client = lab.in_host_unprivileged(Path::new(pesto_bin()));
    client.args(["--add", "-t", "8097"]).arg(&sock);
    let out = output_within(&mut client, Duration::from_secs(20));
    assert!(out.status.success(), "pesto: {}", text(&out.stderr));
    let mut client = lab.in_host_unprivileged(Path::new(pesto_bin()));
    client.arg("-s").arg(&sock);
    let out = output_within(&mut client, Duration::from_secs(20));
    assert!(
        text(&out.stdout).contains("-t 8097:8097"),
        "{}",
        text(&out.stdout)
    );
}
