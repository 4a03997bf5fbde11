//! pasta's UDP loopback bypass, `-U` and `auto` UDP forwarding, end to end in the
//! sealed lab with the real binary (as `nobody`), the way podman's tests use them:
//! `socat -u OPEN:file UDP4:127.0.0.1:P,shut-null` into `socat -u UDP4-LISTEN:P,null-eof`,
//! byte-exact, ending with a zero-length datagram (callers.md §2).

mod lab;

use lab::{
    expect_success, netcheck_sh, output_within, pasta, pasta_sh, stdout, Lab, HOST_V4, HOST_V6,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// About 50 KB of varied bytes (podman's "medium.bin" size class) in the lab's
/// directory, readable by everyone.
fn payload(lab: &Lab, name: &str, seed: u32) -> PathBuf {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let data: Vec<u8> = (0..51_200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let path = lab.dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

/// Shell text that waits (at most 10 s) until UDP `ports` are bound in the current
/// namespace, as `ss` shows them.
fn wait_bound_sh(ports: &[u16]) -> String {
    let checks: Vec<String> = ports
        .iter()
        .map(|p| format!("ss -Hlun | grep -q ':{p} '"))
        .collect();
    format!(
        "i=0; until {}; do i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done",
        checks.join(" && ")
    )
}

fn wait_for(path: &Path, limit: Duration, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{what} did not happen");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait (bounded) for a child we started and check it succeeded.
fn wait_child(mut c: Child, limit: Duration, what: &str) {
    let start = Instant::now();
    loop {
        if let Some(status) = c.try_wait().unwrap() {
            assert!(status.success(), "{what}: {status:?}");
            return;
        }
        if start.elapsed() > limit {
            let _ = c.kill();
            let _ = c.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_same(got: &Path, want: &Path) {
    let got_bytes = std::fs::read(got).unwrap_or_else(|e| panic!("{}: {e}", got.display()));
    let want_bytes = std::fs::read(want).unwrap();
    assert_eq!(got_bytes.len(), want_bytes.len(), "{}", got.display());
    assert!(got_bytes == want_bytes, "{} differs", got.display());
}

/// Run `cmd` (a socat client) to completion within 20 s.
fn run_client(mut cmd: Command, what: &str) {
    let out = output_within(&mut cmd, Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{what}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn udp_forwarded_ports_carry_byte_exact_transfers_from_loopback_spliced_and_from_remote() {
    let Some(lab) = Lab::new() else { return };
    let file = payload(&lab, "medium.bin", 1);
    let out = |n: &str| lab.dir.join(n);
    // Listeners in the namespace: host loopback v4/v6 (spliced), remote v4/v6 (tap).
    let listeners: Vec<String> = [
        ("UDP4", 10001, "lo4"),
        ("UDP6", 10002, "lo6"),
        ("UDP4", 10005, "remote4"),
        ("UDP6", 10006, "remote6"),
    ]
    .iter()
    .map(|(proto, port, name)| {
        format!(
            "timeout 30 socat -u {proto}-LISTEN:{port},null-eof CREATE:{} & ",
            out(name).display()
        )
    })
    .collect();
    let ready = out("ready");
    let script = format!(
        "{} {}; touch {}; wait",
        listeners.concat(),
        wait_bound_sh(&[10001, 10002, 10005, 10006]),
        ready.display()
    );
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["-u", "10001,10002,10005,10006", "-U", "none"])
        .args(["--config-net", "--", "sh", "-c", &script])
        .current_dir(&lab.dir);
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    wait_for(&ready, Duration::from_secs(15), "the namespace's listeners");

    let send = |mut c: Command, to: String, what: &str| {
        c.args(["-u", &format!("OPEN:{}", file.display()), &to]);
        run_client(c, what);
    };
    send(
        lab.in_host("socat"),
        "UDP4:127.0.0.1:10001,shut-null".into(),
        "host loopback v4",
    );
    send(
        lab.in_host("socat"),
        "UDP6:[::1]:10002,shut-null".into(),
        "host loopback v6",
    );
    send(
        lab.in_remote("socat"),
        format!("UDP4:{HOST_V4}:10005,shut-null"),
        "remote v4",
    );
    send(
        lab.in_remote("socat"),
        format!("UDP6:[{HOST_V6}]:10006,shut-null"),
        "remote v6",
    );
    // Each listener exits on the zero-length datagram; then the command, then pasta.
    wait_child(child, Duration::from_secs(30), "pasta and its listeners");
    for name in ["lo4", "lo6", "remote4", "remote6"] {
        assert_same(&out(name), &file);
    }
}

#[test]
fn udp_ns_forwards_the_namespaces_loopback_to_the_hosts_byte_exact() {
    let Some(mut lab) = Lab::new() else { return };
    let file = payload(&lab, "medium.bin", 2);
    let (out4, out6) = (lab.dir.join("out4"), lab.dir.join("out6"));
    // Servers on the host namespace's loopback, as root.
    let mut servers = Vec::new();
    for (proto, bind, port, out) in [
        ("UDP4", "127.0.0.1", 10003, &out4),
        ("UDP6", "[::1]", 10004, &out6),
    ] {
        let mut c = lab.in_host("timeout");
        c.args(["30", "socat", "-u"])
            .arg(format!("{proto}-LISTEN:{port},bind={bind},null-eof"))
            .arg(format!("CREATE:{}", out.display()));
        servers.push(c.stdin(Stdio::null()).spawn().unwrap());
    }
    let mut c = lab.in_host("sh");
    c.args(["-c", &wait_bound_sh(&[10003, 10004])]);
    expect_success(&output_within(&mut c, Duration::from_secs(15)));

    let script = format!(
        "socat -u OPEN:{f} UDP4:127.0.0.1:10003,shut-null && \
         socat -u OPEN:{f} UDP6:[::1]:10004,shut-null",
        f = file.display()
    );
    expect_success(&pasta_sh(
        &lab,
        &["-U", "10003,10004", "-u", "none"],
        &script,
    ));
    for s in servers {
        wait_child(s, Duration::from_secs(20), "a host-side listener");
    }
    assert_same(&out4, &file);
    assert_same(&out6, &file);
    // And request/response both ways, with a zero-length round trip, v4 and v6.
    lab.host_server("udp-echo-server", "127.0.0.1", 10007);
    lab.host_server("udp-echo-server", "::1", 10007);
    let script = format!(
        "{} && {} && {}",
        netcheck_sh("udp-echo 127.0.0.1 10007 via-U-v4"),
        netcheck_sh("udp-echo ::1 10007 via-U-v6"),
        netcheck_sh("udp-zero 127.0.0.1 10007")
    );
    let text = expect_success(&pasta_sh(&lab, &["-U", "10007", "-u", "none"], &script));
    assert_eq!(text, "via-U-v4via-U-v6zero ok\n");
}

/// What a one-shot UDP probe of the host namespace's `127.0.0.1:port` sees.
fn probe(lab: &Lab, port: u16) -> String {
    let mut c = lab.in_host("/usr/bin/python3");
    c.arg(lab::netcheck())
        .args(["udp-probe", "127.0.0.1", &port.to_string(), "0.3"]);
    stdout(&output_within(&mut c, Duration::from_secs(5)))
        .trim()
        .to_string()
}

#[test]
fn udp_auto_forwards_a_server_started_later_and_unforwards_it_after_it_exits() {
    let Some(lab) = Lab::new() else { return };
    lab::open_tun_device();
    // pasta's default is `-u auto`: the namespace starts a UDP server 2 s in; it exits
    // 6 s in (after 4 s); the command lives on until 12 s.
    let script = format!(
        "sleep 2; timeout 4 {} ; sleep 6",
        netcheck_sh("udp-echo-server 0.0.0.0 8091")
    );
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["--config-net", "--", "sh", "-c", &script]);
    let started = Instant::now();
    let mut pasta_child = cmd.stdout(Stdio::null()).spawn().unwrap();
    assert_eq!(
        probe(&lab, 8091),
        "refused",
        "nothing forwarded before the server"
    );
    let mut reached = None;
    while started.elapsed() < Duration::from_secs(6) {
        if probe(&lab, 8091) == "reply" {
            reached = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let at = reached.expect("the namespace's UDP server never became reachable from the host");
    assert!(
        at < Duration::from_secs(5),
        "reachable only {at:?} after start, more than 3 s after the server"
    );
    // The server exits 6 s in; within 3 s more the port is no longer bound on the host.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut closed = false;
    while Instant::now() < deadline {
        if probe(&lab, 8091) == "refused" {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        closed,
        "UDP port 8091 still forwarded after its server exited"
    );
    let _ = pasta_child.kill();
    let _ = pasta_child.wait();
}

#[test]
fn udp_ns_auto_forwards_a_host_server_started_later_into_the_namespace() {
    let Some(mut lab) = Lab::new() else { return };
    // pasta's default is also `-U auto`: a UDP server on the host's loopback, started
    // 1 s after pasta, becomes reachable on the namespace's loopback within 3 s.
    let script = format!(
        "i=0; until [ \"$({})\" = reply ]; do i=$((i+1)); [ $i -gt 50 ] && exit 3; \
         sleep 0.1; done; echo reached after $i",
        netcheck_sh("udp-probe 127.0.0.1 8092 0.1")
    );
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["--config-net", "--", "sh", "-c", &script])
        .current_dir(&lab.dir);
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    lab.host_server("udp-echo-server", "127.0.0.1", 8092);
    let served_at = started.elapsed();
    let out = child.wait_with_output().unwrap();
    let text = expect_success(&out);
    let tries: u32 = text
        .trim()
        .strip_prefix("reached after ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(tries >= 3, "reachable before the server existed: {text}");
    let waited = started.elapsed() - served_at;
    assert!(
        waited < Duration::from_secs(4),
        "the host's server was reachable only {waited:?} after it started"
    );
}

#[test]
fn the_udp_splice_path_allocates_nothing_after_start_up() {
    let Some(mut lab) = Lab::new() else { return };
    lab.host_server("udp-echo-server", "127.0.0.1", 10008);
    lab.host_server("udp-echo-server", "::1", 10008);
    let report = lab.dir.join("alloc-splice");
    let script = format!(
        "{} && {} && {} >/dev/null",
        netcheck_sh("udp-zero 127.0.0.1 10008"),
        netcheck_sh("udp-zero ::1 10008"),
        netcheck_sh("udp-rr 127.0.0.1 10008 3000")
    );
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.env("PASST_ALLOC_REPORT", &report)
        .args([
            "-U",
            "10008",
            "-u",
            "none",
            "--config-net",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .current_dir(&lab.dir);
    expect_success(&output_within(&mut cmd, Duration::from_secs(60)));
    let text = std::fs::read_to_string(&report).expect("pasta wrote its allocation report");
    assert_eq!(text.trim(), "allocations_after_init 0");
}
