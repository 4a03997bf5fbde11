//! pasta's spliced path under stress: many transfers each way (`-t` host loopback →
//! namespace, `-T` namespace loopback → host), IPv4 and IPv6, sizes from 1 byte to
//! 64 MiB, four at a time, the sender closing right after its last write and every
//! other receiver slow to read (small buffer, a pause, small reads). Every transfer must
//! arrive byte-exact: the two sides' (length, SHA-256) lists are compared.
//!
//! `PASST_SPLICE_STRESS_REPS` sets the transfers per direction and family (default
//! 128, so 512 in all).

mod lab;

use lab::{pasta_with_ns_server, Lab, Reaped};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the whole exchange may take.
const LIMIT: Duration = Duration::from_secs(600);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/splice_stress.py")
}

/// The result file's lines, sorted (transfers finish in any order).
fn sorted_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Check that every sent transfer arrived exactly once and intact; the bytes moved.
fn compare(sent: &Path, received: &Path, expected: usize, what: &str) -> u64 {
    let sent = sorted_lines(sent);
    let received = sorted_lines(received);
    assert_eq!(sent.len(), expected, "{what}: transfers sent");
    let missing: Vec<&String> = sent.iter().filter(|l| !received.contains(l)).collect();
    let unexpected: Vec<&String> = received.iter().filter(|l| !sent.contains(l)).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty() && sent.len() == received.len(),
        "{what}: {} transfers differ; sent but not received intact: {missing:?}; \
         received but never sent: {unexpected:?}",
        missing.len().max(unexpected.len())
    );
    sent.iter()
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn spliced_transfers_arrive_byte_exact_both_ways() {
    let Some(lab) = Lab::new() else { return };
    let reps: usize = std::env::var("PASST_SPLICE_STRESS_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let start = Instant::now();
    let py = |args: String| format!("/usr/bin/python3 {} {args}", script().display());
    let dir = lab.dir.clone();
    let file = |name: &str| dir.join(name).display().to_string();

    // -T's receiver: the host's loopback, both families on one dual-stack socket.
    let ready_host = lab.dir.join("ready-host");
    let mut host_recv = lab.in_host("/usr/bin/python3");
    host_recv
        .arg(script())
        .args(["recv", "::", "10003", &(2 * reps).to_string()])
        .arg(file("T-received"))
        .env("READY_FILE", &ready_host)
        .stdin(Stdio::null());
    let mut host_recv = Reaped(host_recv.spawn().expect("spawn receiver"));
    while !ready_host.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no host receiver"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // In the namespace: -t's receiver, and -T's senders once it listens.
    let ready_ns = lab.dir.join("ready-ns");
    let ns_script = format!(
        "READY_FILE={ready} {recv} & r=$!; {send4} && {send6}; s=$?; wait $r; w=$?; \
         [ $s = 0 ] && [ $w = 0 ]",
        ready = ready_ns.display(),
        recv = py(format!("recv :: 10002 {} {}", 2 * reps, file("t-received"))),
        send4 = py(format!("send 127.0.0.1 10003 0 {reps} {}", file("T-sent"))),
        send6 = py(format!("send ::1 10003 {reps} {reps} {}", file("T-sent"))),
    );
    let opts = ["-t", "10002", "-T", "10003", "-u", "none", "-U", "none"];
    let mut pasta = Reaped(pasta_with_ns_server(&lab, &opts, &ns_script, &ready_ns));

    // -t's senders, on the host's loopback.
    for (host, first) in [("127.0.0.1", 0), ("::1", reps)] {
        let mut send = Command::new("ip");
        send.args(["netns", "exec", &lab.host, "/usr/bin/python3"])
            .arg(script())
            .args(["send", host, "10002", &first.to_string(), &reps.to_string()])
            .arg(file("t-sent"))
            .stdin(Stdio::null());
        Reaped(send.spawn().expect("spawn sender")).wait_success(start + LIMIT, "-t sender");
    }
    pasta.wait_success(start + LIMIT, "pasta and the namespace's side");
    host_recv.wait_success(start + LIMIT, "-T receiver");

    let t = compare(
        &lab.dir.join("t-sent"),
        &lab.dir.join("t-received"),
        2 * reps,
        "-t (host loopback → namespace)",
    );
    let big_t = compare(
        &lab.dir.join("T-sent"),
        &lab.dir.join("T-received"),
        2 * reps,
        "-T (namespace loopback → host)",
    );
    eprintln!(
        "spliced stress: {} transfers byte-exact ({} each way, v4 and v6), {} MiB in {:.1?}",
        4 * reps,
        2 * reps,
        (t + big_t) >> 20,
        start.elapsed()
    );
}
