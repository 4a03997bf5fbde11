//! Who may connect (issue 15): passt's UNIX socket (stream and vhost-user), pasta's
//! control socket and the PID, log and capture files are owner-only from creation, so
//! another local user can neither connect to the sockets nor open the files; and a
//! symbolic link planted at any of these paths is not followed.
//!
//! The binaries run in the sealed lab's "host" namespace as the unprivileged user
//! `nobody` (as the other lab tests run them); "another user" is the numeric uid
//! [`OTHER`], which needs no passwd entry (`setpriv` switches to it from root). The
//! files live in the lab's scratch directory (mode 1777, removed on drop).

mod lab;

use lab::guest::{passt_binary, wait_until};
use lab::{output_within, Lab, Reaped};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

/// The user the binaries run as (`Lab::in_host_unprivileged`).
const NOBODY: u32 = 65534;
/// Another local user, with no passwd entry.
const OTHER: u32 = 4242;

/// `connect PATH` or `open PATH` as seen by some user: prints `ok` or the errno name.
const PROBE: &str = r#"
import errno, socket, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "connect":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        s.close()
    else:
        open(path, "rb").close()
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"#;

/// What `connect()` (`kind` = "connect") or `open()` (`kind` = "open", read-only) of
/// `path` gives user `uid` (in the lab's host namespace): "ok" or an errno name.
fn probe_as(lab: &Lab, uid: u32, kind: &str, path: &Path) -> String {
    let mut cmd = lab.in_host("setpriv");
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
        "--",
        "/usr/bin/python3",
        "-c",
        PROBE,
        kind,
    ])
    .arg(path);
    let out = output_within(&mut cmd, Duration::from_secs(20));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `path` is a socket (`socket`) or a regular file, mode 0600, owned by `uid`.
fn assert_owner_only(path: &Path, socket: bool, uid: u32) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if socket {
        assert!(m.file_type().is_socket(), "{} is a socket", path.display());
    } else {
        assert!(m.file_type().is_file(), "{} is a file", path.display());
    }
    assert_eq!(
        m.mode() & 0o7777,
        0o600,
        "{} mode {:o}",
        path.display(),
        m.mode() & 0o7777
    );
    assert_eq!(m.uid(), uid, "{} owner", path.display());
}

/// The sockets refuse `connect()` and the files refuse `open()` to [`OTHER`] with
/// EACCES, while their owner (`nobody`) gets through: the refusal is the mode's doing.
fn assert_only_the_owner_gets_in(lab: &Lab, sockets: &[&Path], files: &[&Path]) {
    for (kind, paths) in [("connect", sockets), ("open", files)] {
        for p in paths {
            assert_eq!(
                probe_as(lab, OTHER, kind, p),
                "EACCES",
                "{kind} {} as uid {OTHER}",
                p.display()
            );
            assert_eq!(
                probe_as(lab, NOBODY, kind, p),
                "ok",
                "{kind} {} as its owner",
                p.display()
            );
        }
    }
}

/// Wait (10 s at most) until `path` holds a PID; that PID.
fn pid_in(path: &Path) -> i32 {
    let mut pid = None;
    wait_until(Duration::from_secs(10), || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap_or_else(|| panic!("no PID in {}", path.display()))
}

/// A file of nobody's in the lab directory, with `contents` and `mode`.
fn file_of_nobody(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn passt_owner_only(vhost_user: bool) {
    let Some(lab) = Lab::new() else { return };
    let d = &lab.dir;
    let (sock, pid, log, pcap) = (
        d.join("passt.sock"),
        d.join("passt.pid"),
        d.join("passt.log"),
        d.join("passt.pcap"),
    );
    // A stale PID file left behind, readable by all (as a caller might pre-create it,
    // QEMU does): reused, tightened, rewritten.
    file_of_nobody(&pid, "stale\n", 0o644);
    let mut cmd = lab.in_host_unprivileged(passt_binary());
    cmd.arg("-f")
        .arg("-s")
        .arg(&sock)
        .arg("-P")
        .arg(&pid)
        .arg("-l")
        .arg(&log)
        .arg("-p")
        .arg(&pcap);
    if vhost_user {
        cmd.arg("--vhost-user");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn passt");
    let mut passt = Reaped(child);
    let written = pid_in(&pid);
    assert_eq!(
        Some(written),
        passt.0.id().try_into().ok(),
        "passt's own PID"
    );
    assert!(passt.0.try_wait().unwrap().is_none(), "passt running");

    assert_owner_only(&sock, true, NOBODY);
    for f in [&pid, &log, &pcap] {
        assert_owner_only(f, false, NOBODY);
    }
    assert_only_the_owner_gets_in(&lab, &[&sock], &[&pid, &log, &pcap]);
    assert!(passt.0.try_wait().unwrap().is_none(), "passt still running");
}

#[test]
fn passt_socket_pid_log_and_pcap_are_owner_only() {
    passt_owner_only(false);
}

#[test]
fn passt_vhost_user_socket_is_owner_only() {
    passt_owner_only(true);
}

#[test]
fn pasta_control_socket_pid_log_and_pcap_are_owner_only() {
    let Some(mut lab) = Lab::new() else { return };
    lab::open_tun_device();
    let d = lab.dir.clone();
    let (control, pid, log, pcap, up, done) = (
        d.join("control.sock"),
        d.join("pasta.pid"),
        d.join("pasta.log"),
        d.join("pasta.pcap"),
        d.join("command-up"),
        d.join("done"),
    );
    let script = format!(
        "touch {up} && i=0 && while [ ! -e {done} ] && [ $i -lt 600 ]; do sleep 0.1; \
         i=$((i+1)); done",
        up = up.display(),
        done = done.display()
    );
    let mut cmd = lab.in_host_unprivileged(lab::pasta());
    cmd.arg("-c")
        .arg(&control)
        .arg("-P")
        .arg(&pid)
        .arg("-l")
        .arg(&log)
        .arg("-p")
        .arg(&pcap)
        .args(["--config-net", "--", "sh", "-c", &script]);
    let pasta = lab.spawn(cmd, Some(&up));
    let pasta_pid = pasta.id();
    assert_eq!(pid_in(&pid), pasta_pid as i32, "pasta's own PID");

    assert_owner_only(&control, true, NOBODY);
    for f in [&pid, &log, &pcap] {
        assert_owner_only(f, false, NOBODY);
    }
    assert_only_the_owner_gets_in(&lab, &[&control], &[&pid, &log, &pcap]);
    std::fs::write(&done, "").unwrap();
}

/// What a planted symbolic link points at: an existing file every user may write
/// (following the link would succeed and clobber it) or nothing yet, in a directory
/// every user may write (following it would create the file).
struct Victims {
    existing: PathBuf,
    absent: PathBuf,
}

const PRECIOUS: &str = "precious contents\n";

impl Victims {
    fn new(lab: &Lab) -> Victims {
        let existing = lab.dir.join("victim");
        std::fs::write(&existing, PRECIOUS).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o666)).unwrap();
        Victims {
            existing,
            absent: lab.dir.join("not-to-be-created"),
        }
    }

    fn assert_untouched(&self, what: &str) {
        assert_eq!(
            std::fs::read_to_string(&self.existing).unwrap(),
            PRECIOUS,
            "{what}: the victim's contents"
        );
        let m = std::fs::metadata(&self.existing).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o666, "{what}: the victim's mode");
        assert_eq!(m.uid(), 0, "{what}: the victim's owner");
        assert!(
            std::fs::symlink_metadata(&self.absent).is_err(),
            "{what}: the link's target was created"
        );
    }
}

/// The run failed (status 1) with one line naming `path` and the symbolic link, and
/// the link is still there.
fn assert_refused(out: &Output, path: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: status; stderr: {stderr}"
    );
    let name = path.display().to_string();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&name)).collect();
    assert_eq!(lines.len(), 1, "{what}: one error line: {stderr}");
    assert!(
        lines[0].contains("symbolic link"),
        "{what}: says why: {stderr}"
    );
    assert!(
        std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()),
        "{what}: the link was removed"
    );
}

/// Plant a link at `path` to each victim in turn and run `run(path)`; it must be
/// refused with the victims untouched.
fn for_each_planted_link(lab: &Lab, path: &Path, what: &str, run: impl Fn() -> Output) {
    let victims = Victims::new(lab);
    for target in [&victims.existing, &victims.absent] {
        let _ = std::fs::remove_file(path);
        std::os::unix::fs::symlink(target, path).unwrap();
        let what = format!("{what} -> {}", target.display());
        let out = run();
        assert_refused(&out, path, &what);
        victims.assert_untouched(&what);
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn passt_follows_no_symlink_at_its_socket_pid_log_or_pcap_path() {
    let Some(lab) = Lab::new() else { return };
    let d = &lab.dir;
    let (sock, pid, log, pcap) = (
        d.join("passt.sock"),
        d.join("passt.pid"),
        d.join("passt.log"),
        d.join("passt.pcap"),
    );
    let run = |extra: &[&str]| {
        let mut cmd = lab.in_host_unprivileged(passt_binary());
        cmd.args(["-f", "-q", "--one-off"]).args(extra);
        output_within(&mut cmd, Duration::from_secs(20))
    };
    let s = |p: &PathBuf| p.to_str().unwrap().to_string();
    let (sock_s, pid_s, log_s, pcap_s) = (s(&sock), s(&pid), s(&log), s(&pcap));
    for (path, what, args) in [
        (&sock, "-s", vec!["-s", &sock_s]),
        (
            &sock,
            "--vhost-user -s",
            vec!["--vhost-user", "-s", &sock_s],
        ),
        (&pid, "-P", vec!["-s", &sock_s, "-P", &pid_s]),
        (&log, "-l", vec!["-s", &sock_s, "-l", &log_s]),
        (&pcap, "-p", vec!["-s", &sock_s, "-p", &pcap_s]),
    ] {
        let what = format!("passt {what}");
        for_each_planted_link(&lab, path, &what, || run(&args));
    }
}

#[test]
fn pasta_follows_no_symlink_at_its_control_pid_log_or_pcap_path() {
    let Some(lab) = Lab::new() else { return };
    lab::open_tun_device();
    let d = &lab.dir;
    let (control, pid, log, pcap) = (
        d.join("control.sock"),
        d.join("pasta.pid"),
        d.join("pasta.log"),
        d.join("pasta.pcap"),
    );
    let run = |opt: &str, path: &Path| {
        let mut cmd = lab.in_host_unprivileged(lab::pasta());
        cmd.arg(opt)
            .arg(path)
            .args(["-q", "--config-net", "--", "true"]);
        output_within(&mut cmd, Duration::from_secs(60))
    };
    for (opt, path) in [("-c", &control), ("-P", &pid), ("-l", &log), ("-p", &pcap)] {
        let what = format!("pasta {opt}");
        for_each_planted_link(&lab, path, &what, || run(opt, path));
    }
}

/// The probe itself: a socket and a file made by root, mode 0600, refuse `nobody` and
/// uid 4242 alike, and a mode-0666 file is open to them (so EACCES above comes from
/// the mode, not from the probe or the lab directory).
#[test]
fn the_probe_sees_modes() {
    let Some(lab) = Lab::new() else { return };
    let open = lab.dir.join("open-to-all");
    std::fs::write(&open, "").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let closed = lab.dir.join("closed");
    std::fs::write(&closed, "").unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let sock = lab.dir.join("open.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    for uid in [NOBODY, OTHER] {
        assert_eq!(probe_as(&lab, uid, "open", &open), "ok");
        assert_eq!(probe_as(&lab, uid, "open", &closed), "EACCES");
        assert_eq!(probe_as(&lab, uid, "connect", &sock), "ok");
    }
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(probe_as(&lab, OTHER, "connect", &sock), "EACCES");
    drop(listener);
}
