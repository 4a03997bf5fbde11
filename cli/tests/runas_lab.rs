//! `--runas` (passt-reference §1.2, §9.1): pasta started as root in the initial user
//! namespace gives up root after set-up — to `nobody` by default, or to the user named
//! — on every thread, and the namespace keeps working. The command's namespaces
//! belong to that user too (passt switches before it creates them): root inside is
//! that user outside, in `/proc/self/uid_map` and on the files the command creates.

mod lab;

use lab::{netcheck_sh, output_within, Lab, REMOTE_V4};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `(uid, gid)` of `nobody` on this machine.
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"nobody")).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
        })
        .unwrap_or((65534, 65534))
}

/// A thread's real, effective, saved and file-system UIDs, then GIDs.
type ThreadIds = (Vec<u32>, Vec<u32>);

/// The IDs of every thread of `pid`.
fn thread_ids(pid: i32) -> Vec<ThreadIds> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            let ids = |key: &str| -> Vec<u32> {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(|rest| {
                        rest.split_whitespace()
                            .map(|n| n.parse().unwrap())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            (ids("Uid:"), ids("Gid:"))
        })
        .collect()
}

/// What the command saw and left: its `/proc/self/uid_map` and `gid_map`, and the
/// owner (uid, gid) of a file it created, as seen from outside its namespaces.
#[derive(Debug, Default)]
struct CommandSide {
    uid_map: String,
    gid_map: String,
    file_owner: Option<(u32, u32)>,
}

/// Run pasta as root with `opts` until its command is up; return the IDs of all of its
/// threads once they settled (or what they were after 10 s), what the command
/// printed, and what it saw of its user namespace.
fn pasta_as_root(opts: &[&str], expect: (u32, u32)) -> (Vec<ThreadIds>, String, CommandSide) {
    let Some(mut lab) = Lab::new() else {
        return (Vec::new(), String::new(), CommandSide::default());
    };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    lab::open_tun_device();
    lab.allow_ping_sockets();
    let up = lab.dir.join("command-up");
    let checked = lab.dir.join("ids-checked");
    let created = lab.dir.join("created-by-command");
    let script = format!(
        "cat /proc/self/uid_map > {d}/uid_map && cat /proc/self/gid_map > {d}/gid_map && \
         touch {created} && touch {up} && i=0 && while [ ! -e {checked} ] && [ $i -lt 400 ]; do sleep 0.05; \
         i=$((i+1)); done && ping -c 1 -W 2 {REMOTE_V4} >/dev/null && {echo}",
        d = lab.dir.display(),
        created = created.display(),
        up = up.display(),
        checked = checked.display(),
        echo = netcheck_sh(&format!("echo {REMOTE_V4} 7 still-works")),
    );
    let out_path = lab.dir.join("pasta.out");
    let err_path = lab.dir.join("pasta.err");
    let mut cmd = lab.in_host(lab::pasta().to_str().unwrap());
    cmd.args(opts)
        .args(["--config-net", "--", "sh", "-c", &script])
        .current_dir(&lab.dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("spawn pasta");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let start = Instant::now();
    let fail = |child: &mut std::process::Child, why: &str| -> ! {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{why}\n{}\n{}", read(&out_path), read(&err_path));
    };
    while !up.exists() {
        if start.elapsed() > Duration::from_secs(30) || child.try_wait().unwrap().is_some() {
            fail(&mut child, "the command did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = lab::pid_with_arg(lab::pasta(), &script).expect("pasta's PID");
    // The switch comes after set-up, just before the event loop: wait for it.
    let want = |ids: &[ThreadIds]| {
        !ids.is_empty()
            && ids
                .iter()
                .all(|(u, g)| u.iter().all(|&x| x == expect.0) && g.iter().all(|&x| x == expect.1))
    };
    let mut ids = thread_ids(pid);
    while !want(&ids) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        ids = thread_ids(pid);
    }
    std::fs::write(&checked, b"").unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            fail(&mut child, "pasta ran over");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{status:?}\n{}\n{}",
        read(&out_path),
        read(&err_path)
    );
    let side = CommandSide {
        uid_map: read(&lab.dir.join("uid_map")),
        gid_map: read(&lab.dir.join("gid_map")),
        file_owner: std::fs::metadata(&created).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.uid(), m.gid())
        }),
    };
    (ids, read(&out_path), side)
}

/// `/proc/PID/uid_map` (or `gid_map`) as `(inside, outside, count)` lines.
fn map_lines(text: &str) -> Vec<(u32, u32, u32)> {
    text.lines()
        .map(|l| {
            let f: Vec<u32> = l.split_whitespace().map(|n| n.parse().unwrap()).collect();
            (f[0], f[1], f[2])
        })
        .collect()
}

fn check(opts: &[&str], expect: (u32, u32)) {
    let (ids, out, side) = pasta_as_root(opts, expect);
    if ids.is_empty() && out.is_empty() {
        return; // no lab here (skipped)
    }
    assert!(
        ids.len() >= 2,
        "the event loop and the namespace helper thread: {ids:?}"
    );
    for (uids, gids) in &ids {
        assert_eq!(uids, &vec![expect.0; 4], "real, effective, saved, fs UID");
        assert_eq!(gids, &vec![expect.1; 4], "real, effective, saved, fs GID");
    }
    assert_eq!(
        out.trim(),
        "still-works",
        "the namespace still works: ping, then TCP"
    );
    // The command's user namespace belongs to that user: its root is that user here.
    assert_eq!(map_lines(&side.uid_map), vec![(0, expect.0, 1)], "uid_map");
    assert_eq!(map_lines(&side.gid_map), vec![(0, expect.1, 1)], "gid_map");
    assert_eq!(
        side.file_owner,
        Some(expect),
        "a file the command (root inside) created is the user's outside"
    );
    eprintln!("pasta {opts:?}: threads {ids:?}");
}

#[test]
fn root_becomes_nobody_by_default() {
    check(&[], nobody());
}

#[test]
fn runas_nobody_by_name() {
    check(&["--runas", "nobody"], nobody());
}

#[test]
fn runas_numeric_user_and_group() {
    check(&["--runas", "4321:0x10e1"], (4321, 4321));
}

#[test]
fn unknown_user_is_one_line_and_exit_1() {
    let mut cmd = std::process::Command::new(lab::pasta());
    cmd.args(["--runas", "no-such-user-here", "--", "true"]);
    let out = output_within(&mut cmd, Duration::from_secs(10));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(
        stderr.contains("Invalid --runas option: no-such-user-here"),
        "{stderr:?}"
    );
}
