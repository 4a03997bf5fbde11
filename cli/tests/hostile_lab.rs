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
