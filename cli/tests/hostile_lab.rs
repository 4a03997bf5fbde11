//! Hostile input against the real binary (issue 6): floods of malformed frames from
//! inside the namespace, and invalid command lines. pasta must stay up, keep serving
//! other traffic, and refuse bad input with one clear line.

mod lab;

use lab::{output_within, Lab, HOST_IFNAME, REMOTE_V4};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn pasta() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pasta"))
}

fn netcheck(args: &str) -> String {
    format!("/usr/bin/python3 {} {args}", lab::netcheck().display())
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn twenty_thousand_malformed_frames_leave_tcp_and_udp_working() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("udp-echo-server", REMOTE_V4, 7, &[]);
    lab::open_tun_device();
    let script = format!(
        "{junk} && {tcp} && echo && {udp}",
        junk = netcheck(&format!("raw-junk {HOST_IFNAME} 20000 7")),
        tcp = netcheck(&format!("echo {REMOTE_V4} 7 still-tcp")),
        udp = netcheck(&format!("udp-echo {REMOTE_V4} 7 still-udp")),
    );
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["--config-net", "--", "sh", "-c", &script])
        .current_dir(&lab.dir);
    let out = output_within(&mut cmd, Duration::from_secs(120));
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "pasta or the command failed: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let mut lines = stdout.lines();
    let sent: u32 = lines
        .next()
        .unwrap()
        .strip_prefix("sent ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent > 19_000, "the flood mostly went out: {sent}");
    assert_eq!(lines.next(), Some("still-tcp"));
    assert_eq!(lines.next(), Some("still-udp"));
}

#[test]
fn invalid_command_lines_fail_with_one_line_and_exit_1() {
    let cases: &[(&[&str], &str)] = &[
        (&["-t", "70000"], "70000"),
        (&["-t", "1-2:3-5"], "-t"),
        (&["-t", "1000-2000,~1500-1600,~1550-1650"], "-t"),
        (&["--bogus-option"], "bogus-option"),
        (&["--map-guest-adr", "169.254.1.2"], "map-guest-adr"),
        (&["-a", "not.an.address"], "-a"),
        (&["-m", "50"], "-m"),
        (&["-u", "0:70000"], "-u"),
    ];
    for (args, needle) in cases {
        let mut cmd = std::process::Command::new(pasta());
        cmd.args(*args).args(["--", "true"]);
        let out = output_within(&mut cmd, Duration::from_secs(10));
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: stdout {stdout}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} should name {needle}"
        );
    }
}

#[test]
fn ten_thousand_concurrent_connections_are_held_and_echo() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server-select", REMOTE_V4, 7007, &[]);
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args([
        "--config-net",
        "--",
        "sh",
        "-c",
        &netcheck(&format!("concurrent {REMOTE_V4} 7007 10000")),
    ]);
    cmd.current_dir(&lab.dir);
    let out = output_within(&mut cmd, Duration::from_secs(300));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert_eq!(stdout.trim(), "10000 ok 0 bad");
}

/// Flow table size the SYN-flood test asks for (see `PASST_TEST_FLOWS` in
/// `cli/src/launch.rs`): small enough that a burst fills it at once.
const FLOOD_TABLE: usize = 64;
/// SYNs in the flood: the table's worth, and more that must be refused.
const FLOOD_SYNS: usize = 300;

/// The number after `label` in pasta's debug log, e.g. the counters logged at exit.
fn logged_count(log: &str, label: &str) -> Option<u64> {
    let at = log.rfind(label)? + label.len();
    log[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[test]
fn syn_flood_fills_the_table_refusals_are_resets_and_it_recovers() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server-select", REMOTE_V4, 7, &[]);
    lab::open_tun_device();
    let full = lab.dir.join("table-full");
    let checked = lab.dir.join("host-checked");
    // From an address the namespace does not own, so that its kernel ignores our
    // SYN-ACKs (no RST frees the flows): every flow waits out the handshake timeout.
    let script = format!(
        "{flood} && {refused} && touch {full} && i=0 && \
         while [ ! -e {checked} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done && \
         {recover}",
        flood = netcheck(&format!(
            "syn-flood {HOST_IFNAME} 198.51.100.200 {REMOTE_V4} 7 {FLOOD_SYNS}"
        )),
        refused = netcheck(&format!("refused {REMOTE_V4} 7")),
        recover = netcheck(&format!("until-connects {REMOTE_V4} 7 40")),
        full = full.display(),
        checked = checked.display(),
    );
    let out_path = lab.dir.join("pasta.out");
    let err_path = lab.dir.join("pasta.err");
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.env("PASST_TEST_FLOWS", FLOOD_TABLE.to_string())
        .args([
            "-d",
            "-t",
            "8080",
            "--config-net",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .current_dir(&lab.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("spawn pasta");
    let started = std::time::Instant::now();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    while !full.exists() {
        if started.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the flood did not complete\n{}\n{}",
                read(&out_path),
                read(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The table is full: a host client of the forwarded port is reset, not left
    // hanging and not closed in an orderly way.
    let mut client = lab.in_host("/usr/bin/python3");
    client
        .arg(lab::netcheck())
        .args(["reset-check", lab::HOST_V4, "8080"]);
    let client_out = output_within(&mut client, Duration::from_secs(20));
    std::fs::write(&checked, b"").unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pasta ran over\n{}\n{}", read(&out_path), read(&err_path));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (read(&out_path), read(&err_path));
    assert_eq!(
        String::from_utf8_lossy(&client_out.stdout).trim(),
        "reset",
        "host client of -t 8080 while the table is full\n{stderr}"
    );
    assert!(
        status.success(),
        "pasta stays up through the flood and exits with the command's status: \
         {status:?}\n{stdout}\n{stderr}"
    );
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(format!("sent {FLOOD_SYNS}").as_str()));
    let refused = lines.next().unwrap_or_default();
    assert!(
        refused.starts_with("refused "),
        "a connection from the namespace is refused with RST while full: {refused}"
    );
    let ms: u64 = refused["refused ".len()..].parse().unwrap();
    assert!(ms < 1000, "refused at once, not timed out: {ms} ms");
    // "recovered <refusals> <seconds>": still refused for a while (the flows wait out
    // the 10 s handshake timeout), then a normal connection works again.
    let recovered: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    assert_eq!(recovered.first(), Some(&"recovered"), "{stdout}");
    let retries: u32 = recovered[1].parse().unwrap();
    let secs: f64 = recovered[2].parse().unwrap();
    assert!(retries >= 1, "the table was still full after the checks");
    assert!(
        secs < 15.0,
        "recovered within the handshake timeout: {secs} s"
    );
    // The counters pasta logs at exit (-d): every SYN beyond the table, the
    // namespace's probes and the host client were refused, and counted.
    let counted = logged_count(&stderr, "refused (table full)").expect("stats logged at exit");
    let least = (FLOOD_SYNS - FLOOD_TABLE) as u64 + 1 + 1 + u64::from(retries);
    assert!(
        counted >= least,
        "refusals counted: {counted}, expected at least {least}\n{stderr}"
    );
    assert!(logged_count(&stderr, "Dropped flow-table-full:").is_some_and(|n| n >= least));
    eprintln!(
        "flood of {FLOOD_SYNS} SYNs into {FLOOD_TABLE} flows: namespace refused in {ms} ms, \
         {retries} refusals before recovery after {secs} s, {counted} refusals counted"
    );
}
