//! pasta as podman and rootlesskit start it (callers.md §1.1, §1.3), in the sealed lab.
//!
//! pasta runs in the lab's "host" namespace (its outbound sockets and forwarded ports
//! live there) and serves a second namespace made with `ip netns add`, as podman's
//! bind-mounted ones: `ip netns exec HOST pasta … --netns /run/netns/TARGET`.
//! The checks are the ones callers make: the parent exits 0 with nothing printed and
//! both pipes at EOF; the namespace has the address, routes and MTU; pasta quits
//! within a second of `ip netns del`; port conflicts fail with passt's text.

mod lab;

use lab::podman::{
    addresses, daemon_pid, default_gateway, delete_and_time_exit, expect_ready, ip_json,
    podman_args, start, text,
};

use lab::{
    exited, output_to_eof_within, pasta, pid_with_arg, wait_exit, Lab, GATEWAY_V4, GATEWAY_V6,
    HOST_IFNAME, HOST_V4, HOST_V6, REMOTE_V4,
};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn podman_argv_is_exactly_podmans_default() {
    assert_eq!(
        podman_args(&[], "NS").join(" "),
        "--config-net --dns-forward 169.254.1.1 -t none -u none -T none -U none --no-map-gw \
         --quiet --netns /run/netns/NS --map-guest-addr 169.254.1.2"
    );
}

#[test]
fn podman_default_argv_daemonises_silently_configures_the_namespace_and_quits_on_delete() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    let started = Instant::now();
    let out = start(&lab, &podman_args(&[], &ns));
    expect_ready(&out);
    eprintln!(
        "parent returned (pipes at EOF) after {:?}",
        started.elapsed()
    );
    assert_eq!(text(&out.stdout), "", "nothing on stdout");
    assert_eq!(text(&out.stderr), "", "nothing on stderr under --quiet");

    let pid = daemon_pid(&ns);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(
        fields[3],
        pid.to_string(),
        "the daemon leads its own session"
    );

    let (addrs, mtu) = addresses(&ns, HOST_IFNAME);
    assert!(addrs.contains(&format!("{HOST_V4}/24")), "{addrs:?}");
    assert!(addrs.contains(&format!("{HOST_V6}/64")), "{addrs:?}");
    assert_eq!(mtu, 65520);
    assert_eq!(default_gateway(&ns, "-4"), GATEWAY_V4);
    assert_eq!(default_gateway(&ns, "-6"), GATEWAY_V6);
    let links = ip_json(&ns, "link show lo");
    assert!(
        links[0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "UP"),
        "lo is up: {links}"
    );

    // Issue 13's bound: gone within 200 ms of the namespace going (20-60 ms here).
    let took = delete_and_time_exit(&ns, pid);
    eprintln!("pasta exited {took:?} after ip netns del");
    assert!(took < Duration::from_millis(200), "took {took:?}");
}

#[test]
fn podman_port_forward_form_reaches_a_server_in_the_namespace() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    expect_ready(&start(
        &lab,
        &podman_args(&["-t", "8086-8086:8086-8086"], &ns),
    ));
    let pid = daemon_pid(&ns);
    let ready = lab.dir.join("ready-ns-8086");
    let mut server = lab.in_ns(&ns, "/usr/bin/python3");
    server
        .arg(lab::netcheck())
        .args(["echo-server", "::", "8086"]);
    lab.spawn(server, Some(&ready));
    for (mut client, addr) in [
        (lab.in_host("/usr/bin/python3"), "127.0.0.1"),
        (lab.in_host("/usr/bin/python3"), "::1"),
        (lab.in_remote("/usr/bin/python3"), HOST_V4),
        (lab.in_remote("/usr/bin/python3"), HOST_V6),
    ] {
        client
            .arg(lab::netcheck())
            .args(["echo", addr, "8086", "hello"]);
        let out = lab::output_within(&mut client, Duration::from_secs(20));
        assert_eq!(
            text(&out.stdout),
            "hello",
            "via {addr}: {}",
            text(&out.stderr)
        );
    }
    delete_and_time_exit(&ns, pid);
}

#[test]
fn rootlesskit_argv_gives_its_nat_address_gateway_and_interface() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    // rootlesskit's argv (callers.md §1.3), with --netns rather than a PID: we are
    // root and the namespace is ip-netns made. 10.0.2.x exists only inside it.
    let args: Vec<String> = [
        "--stderr",
        "--ns-ifname=tap0",
        "--mtu=65520",
        "--config-net",
        "--address=10.0.2.100",
        "--netmask=24",
        "--gateway=10.0.2.2",
        "--dns-forward=10.0.2.3",
        "--no-map-gw",
        "--tcp-ports=none",
        "--udp-ports=none",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--netns=/run/netns/{ns}")])
    .collect();
    expect_ready(&start(&lab, &args));
    let pid = daemon_pid(&ns);
    let (addrs, mtu) = addresses(&ns, "tap0");
    assert!(addrs.contains(&"10.0.2.100/24".to_string()), "{addrs:?}");
    assert_eq!(mtu, 65520);
    assert_eq!(default_gateway(&ns, "-4"), "10.0.2.2");
    delete_and_time_exit(&ns, pid);
}

#[test]
fn busy_port_fails_start_up_with_exit_1_and_passts_message() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    let ready = lab.dir.join("ready-busy");
    let mut holder = lab.in_host("/usr/bin/python3");
    holder
        .arg(lab::netcheck())
        .args(["echo-server", "0.0.0.0", "8087"]);
    lab.spawn(holder, Some(&ready));
    let out = start(&lab, &podman_args(&["-t", "8087-8087:8087-8087"], &ns));
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "Failed to bind port 8087 (Address already in use) for option \
         '-t 8087-8087:8087-8087', exiting\n"
    );
    assert_eq!(text(&out.stdout), "");
    assert!(
        pid_with_arg(pasta(), &format!("/run/netns/{ns}")).is_none(),
        "nothing left running"
    );
}

#[test]
fn pcap_of_a_tcp_session_shows_the_handshake_to_tcpdump() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    let pcap = lab.dir.join("capture.pcap");
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let pcap_arg = pcap.to_str().unwrap();
    expect_ready(&start(&lab, &podman_args(&["--pcap", pcap_arg], &ns)));
    let pid = daemon_pid(&ns);
    let mut client = lab.in_ns(&ns, "/usr/bin/python3");
    client
        .arg(lab::netcheck())
        .args(["echo", REMOTE_V4, "7", "captured"]);
    let out = lab::output_within(&mut client, Duration::from_secs(20));
    assert_eq!(text(&out.stdout), "captured", "{}", text(&out.stderr));
    delete_and_time_exit(&ns, pid);

    let mode = std::fs::metadata(&pcap).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dump = Command::new("tcpdump")
        .args(["-nn", "-r", pcap_arg, "tcp port 7"])
        .output()
        .expect("tcpdump");
    let lines = text(&dump.stdout);
    assert!(dump.status.success(), "tcpdump: {}", text(&dump.stderr));
    let syn = lines
        .lines()
        .find(|l| l.contains(&format!(" > {REMOTE_V4}.7: Flags [S],")))
        .unwrap_or_else(|| panic!("no SYN from the guest in:\n{lines}"));
    let guest = syn.split_whitespace().nth(2).unwrap(); // "198.51.100.2.PORT"
    assert!(guest.starts_with(&format!("{HOST_V4}.")), "{syn}");
    assert!(
        lines
            .lines()
            .any(|l| l.contains(&format!("{REMOTE_V4}.7 > {guest}: Flags [S.],"))),
        "no SYN-ACK to {guest} in:\n{lines}"
    );
    assert!(
        lines.contains("length 8"),
        "the 8-byte payload both ways:\n{lines}"
    );
}

#[test]
fn log_file_gets_header_and_lines_and_stays_within_log_size() {
    let Some(mut lab) = Lab::new() else { return };
    let ns = lab.add_netns();
    let log: PathBuf = lab.dir.join("pasta.log");
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let size = 40_960u64;
    let args = podman_args(
        &[
            "--trace",
            "--log-file",
            log.to_str().unwrap(),
            "--log-size",
            &size.to_string(),
        ],
        &ns,
    );
    let out = start(&lab, &args);
    expect_ready(&out);
    assert_eq!(text(&out.stderr), "", "with -l, lines go to the file");
    let pid = daemon_pid(&ns);
    let mut client = lab.in_ns(&ns, "/usr/bin/python3");
    client
        .arg(lab::netcheck())
        .args(["concurrent", REMOTE_V4, "7", "200"]);
    let out = lab::output_within(&mut client, Duration::from_secs(60));
    assert_eq!(text(&out.stdout).trim(), "200 ok 0 bad");
    delete_and_time_exit(&ns, pid);

    let len = std::fs::metadata(&log).unwrap().len();
    assert!(len <= size, "log is {len} bytes, over --log-size {size}");
    let content = std::fs::read_to_string(&log).unwrap();
    let mut lines = content.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(&format!("pasta {}: ", env!("CARGO_PKG_VERSION"))),
        "{header}"
    );
    assert!(
        header.contains(" - log truncated at "),
        "200 connections at --trace overflow 40 KiB: {header}"
    );
    let mut count = 0;
    for l in lines {
        let (stamp, _) = l.split_once(": ").unwrap_or_else(|| panic!("{l:?}"));
        let (s, frac) = stamp.split_once('.').unwrap_or_else(|| panic!("{l:?}"));
        assert!(s.parse::<u64>().is_ok() && frac.len() == 4, "{l:?}");
        count += 1;
    }
    assert!(count > 100, "{count} lines");
    assert!(
        content.contains("tap in: ") && content.contains("tap out: "),
        "per-frame trace lines"
    );
    assert!(
        content.contains("is gone, exiting"),
        "the exit is logged:\n{}",
        &content[content.len().saturating_sub(500)..]
    );
}

#[test]
fn every_deprecated_option_is_accepted() {
    let Some(mut lab) = Lab::new() else { return };
    // rootlesskit's feature probe.
    let probe = Command::new(pasta())
        .args(["--host-lo-to-ns-lo", "--version"])
        .output()
        .unwrap();
    assert!(probe.status.success());
    for opt in [
        "-e",
        "--stderr",
        "--no-copy-routes",
        "--no-copy-addrs",
        "--host-lo-to-ns-lo",
    ] {
        let ns = lab.add_netns();
        expect_ready(&start(&lab, &podman_args(&[opt], &ns)));
        let pid = daemon_pid(&ns);
        let (addrs, _) = addresses(&ns, HOST_IFNAME);
        assert!(addrs.contains(&format!("{HOST_V4}/24")), "{opt}: {addrs:?}");
        delete_and_time_exit(&ns, pid);
    }
}

#[test]
fn sigterm_and_sigint_end_a_foreground_pasta_with_status_0_and_no_netns_quit_holds() {
    let Some(mut lab) = Lab::new() else { return };
    for (signal, extra) in [
        (rustix::process::Signal::TERM, "--no-netns-quit"),
        (rustix::process::Signal::INT, "-f"),
    ] {
        let ns = lab.add_netns();
        let pid_file = lab.dir.join(format!("{ns}.pid"));
        let mut cmd = lab.in_host(pasta().to_str().unwrap());
        cmd.args(podman_args(
            &["-f", extra, "--pid", pid_file.to_str().unwrap()],
            &ns,
        ));
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::fs::read_to_string(&pid_file).map_or(true, |s| s.trim().is_empty()) {
            assert!(start.elapsed() < Duration::from_secs(20), "never ready");
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            pid as u32,
            child.id(),
            "-f: the PID file names pasta itself"
        );
        if extra == "--no-netns-quit" {
            Command::new("ip")
                .args(["netns", "del", &ns])
                .status()
                .unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            assert!(!exited(pid), "--no-netns-quit: still running");
        }
        let sent = Instant::now();
        rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), signal)
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(5),
                "{signal:?} ignored"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(status.code(), Some(0), "{signal:?}: {status:?}");
        assert!(sent.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn passt_exits_0_on_sigterm_while_waiting_for_a_client() {
    let Some(lab) = Lab::new() else { return };
    let sock = lab.dir.join("passt.socket");
    let mut cmd = lab.in_host(env!("CARGO_BIN_EXE_passt"));
    cmd.args(["-f", "-q", "-s", sock.to_str().unwrap()]);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The socket exists once bound; give passt a moment to reach its accept wait.
    std::thread::sleep(Duration::from_millis(200));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "SIGTERM ignored");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(0));
    assert!(sent.elapsed() < Duration::from_secs(1));
}

#[test]
fn rootless_pasta_attached_to_a_pid_configures_it_and_quits_when_it_exits() {
    let Some(lab) = Lab::new() else { return };
    lab::open_tun_device();
    // The "container": user and network namespaces made by an unprivileged user.
    let ready = lab.dir.join("ns-ready");
    let mut holder = Command::new("ip");
    holder.args([
        "netns",
        "exec",
        &lab.host,
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
    ]);
    holder.args([
        "--clear-groups",
        "--",
        "unshare",
        "--user",
        "--map-root-user",
        "--net",
    ]);
    holder
        .args(["sh", "-c"])
        .arg(format!("touch {} && exec sleep 30", ready.display()));
    let mut holder = holder.stdin(std::process::Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let pid = loop {
        // `ip netns exec` and setpriv exec in place; unshare forks nothing without
        // --fork, and sh execs sleep: the holder's PID is the namespaces' process.
        if ready.exists() {
            break holder.id() as i32;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no namespace");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["--config-net", "--quiet", "-t", "none", "-u", "none"])
        .arg(pid.to_string());
    let out = output_to_eof_within(&mut cmd, Duration::from_secs(20));
    expect_ready(&out);
    assert_eq!(text(&out.stderr), "");
    let nsenter = Command::new("nsenter")
        .args([
            "-t",
            &pid.to_string(),
            "-n",
            "ip",
            "-j",
            "addr",
            "show",
            HOST_IFNAME,
        ])
        .output()
        .unwrap();
    let addrs: serde_json::Value = serde_json::from_slice(&nsenter.stdout).unwrap();
    let text_addrs = addrs.to_string();
    assert!(text_addrs.contains(HOST_V4), "{text_addrs}");
    let daemon = pid_with_arg(pasta(), &pid.to_string()).expect("pasta in the background");
    assert_ne!(daemon, pid);

    holder.kill().unwrap();
    holder.wait().unwrap();
    // /proc/PID/ns/net can't be watched with inotify: a pidfd of the target wakes
    // pasta when it exits (the once-a-second look alone took about a second).
    let took = wait_exit(daemon, Duration::from_secs(5)).expect("pasta outlived its target");
    eprintln!("rootless pasta exited {took:?} after its target process");
    assert!(took < Duration::from_millis(200), "took {took:?}");
}
