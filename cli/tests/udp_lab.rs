//! UDP, DNS forwarding and ICMP echo through pasta, end to end in the sealed lab.
//!
//! pasta runs in the lab's "host" namespace as the unprivileged user `nobody`; the
//! command it spawns talks to UDP servers in the "remote" and "host" namespaces, and
//! pings "remote".

mod lab;

use lab::{
    expect_success, netcheck_sh, output_within, pasta, pasta_sh, stdout, Lab, GATEWAY_V4, HOST_V4,
    HOST_V6, REMOTE_V4, REMOTE_V6,
};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn udp_echo_to_remote_v4_and_v6() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("udp-echo-server", REMOTE_V6, 7, &[]);
    let script = format!(
        "{} && echo && {}",
        netcheck_sh(&format!("udp-echo {REMOTE_V4} 7 hello-v4")),
        netcheck_sh(&format!("udp-echo {REMOTE_V6} 7 hello-v6"))
    );
    let out = expect_success(&pasta_sh(&lab, &[], &script));
    assert_eq!(out, "hello-v4\nhello-v6");
}

#[test]
fn zero_length_datagram_round_trip() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("udp-echo-server", REMOTE_V6, 7, &[]);
    let script = format!(
        "{} && {}",
        netcheck_sh(&format!("udp-zero {REMOTE_V4} 7")),
        netcheck_sh(&format!("udp-zero {REMOTE_V6} 7"))
    );
    let out = expect_success(&pasta_sh(&lab, &[], &script));
    assert_eq!(out, "zero ok\nzero ok\n");
}

#[test]
fn dns_forward_reaches_the_dns_host_over_udp_and_tcp() {
    let Some(mut lab) = Lab::new() else { return };
    // The "resolver": any UDP (and TCP) echo on the host namespace's 127.0.0.53:53,
    // where systemd-resolved's stub listens.
    lab.host_server("udp-echo-server", "127.0.0.53", 53);
    lab.host_server("echo-server", "127.0.0.53", 53);
    let script = format!(
        "{} && echo && {}",
        netcheck_sh("udp-echo 169.254.1.1 53 dns-over-udp"),
        netcheck_sh("echo 169.254.1.1 53 dns-over-tcp")
    );
    let out = expect_success(&pasta_sh(
        &lab,
        &["--dns-forward", "169.254.1.1", "--dns-host", "127.0.0.53"],
        &script,
    ));
    assert_eq!(out, "dns-over-udp\ndns-over-tcp");
}

#[test]
fn udp_forwarded_port_reaches_a_server_in_the_namespace() {
    let Some(lab) = Lab::new() else { return };
    // The namespace runs a UDP echo server on 9084; pasta forwards host port 8084 to
    // it. Clients: the host namespace's loopback and the remote namespace, v4 and v6.
    let ready = lab.dir.join("ready-ns-udp");
    let script = format!(
        "READY_FILE={} {} & sleep 20",
        ready.display(),
        netcheck_sh("udp-echo-server :: 9084")
    );
    let mut pasta_child = lab::pasta_with_ns_server(&lab, &["-u", "8084:9084"], &script, &ready);
    for (addr, name) in [("127.0.0.1", "lo4"), ("::1", "lo6"), (HOST_V4, "host4")] {
        let mut c = lab.in_host("/usr/bin/python3");
        c.arg(lab::netcheck())
            .args(["udp-echo", addr, "8084", name]);
        lab::expect_output(c, name);
    }
    for (addr, name) in [(HOST_V4, "remote4"), (HOST_V6, "remote6")] {
        let mut c = lab.in_remote("/usr/bin/python3");
        c.arg(lab::netcheck())
            .args(["udp-echo", addr, "8084", name]);
        lab::expect_output(c, name);
    }
    let mut c = lab.in_remote("/usr/bin/python3");
    c.arg(lab::netcheck()).args(["udp-zero", HOST_V4, "8084"]);
    lab::expect_output(c, "zero ok\n");
    let _ = pasta_child.kill();
    let _ = pasta_child.wait();
}

#[test]
fn ping_and_ping6_to_remote_without_loss() {
    let Some(lab) = Lab::new() else { return };
    lab.allow_ping_sockets();
    let script = format!(
        "ping -c 5 -i 0.2 -W 2 {REMOTE_V4} && ping -6 -c 5 -i 0.2 -W 2 {REMOTE_V6} && \
         ping -c 2 -i 0.2 -W 2 {GATEWAY_V4}"
    );
    let out = expect_success(&pasta_sh(&lab, &[], &script));
    eprintln!("{out}");
    assert_eq!(
        out.matches(" 0% packet loss").count(),
        3,
        "every ping answered:\n{out}"
    );
}

#[test]
fn forbidden_ping_sockets_are_reported_once_and_pasta_keeps_working() {
    let Some(mut lab) = Lab::new() else { return };
    // A fresh namespace's ping_group_range is "1 0": nobody may open ping sockets.
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    let script = format!(
        "ping -c 2 -i 0.2 -W 1 {REMOTE_V4}; ping -6 -c 1 -W 1 {REMOTE_V6}; {}",
        netcheck_sh(&format!("udp-echo {REMOTE_V4} 7 still-working"))
    );
    let out = pasta_sh(&lab, &[], &script);
    let text = expect_success(&out);
    assert!(text.ends_with("still-working"), "{text}");
    let err = stderr(&out);
    assert_eq!(
        err.matches("ping_group_range").count(),
        1,
        "exactly one warning: {err}"
    );
    assert!(err.contains("sysctl -w net.ipv4.ping_group_range=\"0 2147483647\""));
}

/// Request/response rate through pasta against the kernel's own path from the host
/// namespace, in the same run (reported, and checked to be sane).
#[test]
fn udp_request_response_rate_vs_the_direct_path() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    const N: u32 = 5000;
    let direct = {
        let mut c = lab.in_host("/usr/bin/python3");
        c.arg(lab::netcheck())
            .args(["udp-rr", REMOTE_V4, "7", &N.to_string()]);
        let out = output_within(&mut c, Duration::from_secs(60));
        stdout(&out)
    };
    let through = expect_success(&pasta_sh(
        &lab,
        &[],
        &netcheck_sh(&format!("udp-rr {REMOTE_V4} 7 {N}")),
    ));
    eprintln!("UDP request/response, direct: {}", direct.trim());
    eprintln!("UDP request/response, pasta:  {}", through.trim());
    let rate = |s: &str| -> f64 {
        s.split_whitespace()
            .find_map(|w| w.strip_suffix("/s"))
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no rate in {s:?}"))
    };
    let lost = |s: &str| -> u32 {
        s.split_whitespace()
            .rev()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no loss count in {s:?}"))
    };
    assert_eq!(lost(&through), 0, "{through}");
    assert!(rate(&direct) > 0.0);
    assert!(
        rate(&through) > 500.0,
        "pasta's UDP path is far too slow: {through}"
    );
}

/// Run `script` under pasta with the allocation counter on; the count after start-up.
fn allocations_after_start_up(lab: &Lab, opts: &[&str], script: &str, name: &str) -> String {
    let report = lab.dir.join(name);
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.env("PASST_ALLOC_REPORT", &report);
    cmd.args(opts)
        .args(["--config-net", "--", "sh", "-c", script]);
    cmd.current_dir(&lab.dir);
    expect_success(&output_within(&mut cmd, Duration::from_secs(120)));
    std::fs::read_to_string(&report).expect("pasta wrote its allocation report")
}

#[test]
fn udp_dns_and_ping_allocate_nothing_after_start_up() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("udp-echo-server", REMOTE_V6, 7, &[]);
    lab.host_server("udp-echo-server", "127.0.0.53", 53);
    // Many flows (each udp-echo is a new source port), both families, zero-length
    // datagrams, DNS forwarding, a burst of round trips, and echo through ping sockets.
    let mix = format!(
        "for i in 1 2 3 4 5 6 7 8; do {echo4} >/dev/null && {echo6} >/dev/null || exit 1; done; \
         {zero} && {dns} && {rr} && ping -c 3 -i 0.2 -W 2 {REMOTE_V4} >/dev/null && \
         ping -6 -c 3 -i 0.2 -W 2 {REMOTE_V6} >/dev/null",
        echo4 = netcheck_sh(&format!("udp-echo {REMOTE_V4} 7 x")),
        echo6 = netcheck_sh(&format!("udp-echo {REMOTE_V6} 7 y")),
        zero = netcheck_sh(&format!("udp-zero {REMOTE_V4} 7")),
        dns = netcheck_sh("udp-echo 169.254.1.1 53 q"),
        rr = netcheck_sh(&format!("udp-rr {REMOTE_V4} 7 2000")),
    );
    // First with ping sockets forbidden (the warning path), then allowed.
    let forbidden = allocations_after_start_up(
        &lab,
        &[],
        &format!(
            "ping -c 1 -W 1 {REMOTE_V4}; {}",
            netcheck_sh(&format!("udp-zero {REMOTE_V4} 7"))
        ),
        "alloc-forbidden",
    );
    assert_eq!(forbidden.trim(), "allocations_after_init 0");
    lab.allow_ping_sockets();
    let text = allocations_after_start_up(
        &lab,
        &["--dns-forward", "169.254.1.1", "--dns-host", "127.0.0.53"],
        &mix,
        "alloc-mix",
    );
    assert_eq!(text.trim(), "allocations_after_init 0");
}

/// Datagrams the guest sends back to back leave pasta in batches (`sendmmsg`), all of
/// them, in order per socket. pasta is held stopped (SIGSTOP, by PID) while the burst
/// queues up in its tap, so the burst reaches it as one backlog whatever the timing.
#[test]
fn a_burst_of_guest_datagrams_leaves_in_batches() {
    // Within what the echo server's socket buffer holds at once (~200 KiB of 64-byte
    // datagrams at their kernel truesize): more, and the server itself drops some.
    const BURST: usize = 128;
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    let [ready, go, sent] = ["ready", "go", "sent"].map(|f| lab.dir.join(format!("burst-{f}")));
    let script = netcheck_sh(&format!(
        "udp-burst {REMOTE_V4} 7 {BURST} {} {} {}",
        ready.display(),
        go.display(),
        sent.display()
    ));
    let out = held_while_queueing(&lab, &script, [&ready, &go, &sent]);
    let text = expect_success(&out);
    let (datagrams, batches) = lab::datagrams_and_batches(&stderr(&out));
    assert_eq!(text.trim(), format!("{BURST} of {BURST} echoed"));
    assert_eq!(datagrams, BURST + 1, "the first round trip, then the burst");
    assert!(batches * 4 <= datagrams, "batches of 4 or more: {batches}");
}

/// Datagrams of one size queued for the namespace reach it as runs the tap cuts apart
/// (UDP segmentation offload, where the kernel takes it: Linux 6.2+), every one intact.
/// pasta is held stopped (SIGSTOP, by PID) while the remote's burst queues up on the
/// flow's socket, so it drains them as one backlog.
#[test]
fn a_burst_for_the_namespace_leaves_in_runs_and_arrives_intact() {
    // 1200-byte datagrams: 54 fit one 64 KiB run. 80 of them (~2.3 KiB each at their
    // kernel truesize) fit the default 208 KiB socket buffers of the flow's socket
    // and of the receiver; more, and those drop some.
    const BURST: usize = 80;
    const SIZE: usize = 1200;
    let Some(mut lab) = Lab::new() else { return };
    let [ready, go, sent] = ["ready", "go", "sent"].map(|f| lab.dir.join(format!("down-{f}")));
    lab.remote_server(
        "udp-burst-server",
        REMOTE_V4,
        9,
        &[
            &BURST.to_string(),
            &SIZE.to_string(),
            &go.display().to_string(),
            &sent.display().to_string(),
        ],
    );
    let script = netcheck_sh(&format!(
        "udp-burst-receive {REMOTE_V4} 9 {BURST} {SIZE} {}",
        ready.display()
    ));
    let out = held_while_queueing(&lab, &script, [&ready, &go, &sent]);
    let text = expect_success(&out);
    let log = stderr(&out);
    assert_eq!(text.trim(), format!("{BURST} of {BURST} intact"), "{log}");
    let runs = lab::runs_to_guest(&log);
    // At most 64 datagrams per socket event, 54 per run: 80 need at least two.
    assert!((2..=10).contains(&runs), "{runs} runs for {BURST}");
}

/// Run `script` under pasta (`-d --config-net`) and hold pasta stopped (SIGSTOP, by
/// PID) from the moment the script creates `ready` until `sent` appears, creating `go`
/// in between: whatever is sent then queues up and reaches pasta as one backlog.
fn held_while_queueing(lab: &Lab, script: &str, [ready, go, sent]: [&Path; 3]) -> Output {
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["-d", "--config-net", "--", "sh", "-c", script])
        .current_dir(&lab.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("start pasta");
    let pid = rustix::process::Pid::from_child(&child);
    lab::wait_for(ready);
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    std::fs::write(go, b"").unwrap();
    lab::wait_for(sent);
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    child.wait_with_output().unwrap()
}
