//! Spawning commands in new user + network namespaces: exit status mapping,
//! the parent's set-up window before exec, and the unprivileged path.

mod common;

use std::fs::File;
use std::io::{self, Read};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{have_root, run, skip};
use passt_shim_linux::netns::{ChildSetupError, ChildStage};
use passt_shim_linux::{in_netns, Netlink, NsChild, NsCommand, Tap};
use rustix::pipe::PipeFlags;

const WAIT: Duration = Duration::from_secs(20);

/// Whether an error from `spawn` means user namespaces are unavailable.
fn userns_unavailable(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<ChildSetupError>())
        .is_some_and(|c| c.stage == ChildStage::Unshare)
}

/// Spawns `cmd`, or reports a skip if user namespaces are not available.
fn spawn_or_skip(cmd: &mut NsCommand) -> Option<NsChild> {
    match cmd.spawn() {
        Ok(child) => Some(child),
        Err(e) if userns_unavailable(&e) => {
            skip(&format!("user namespaces unavailable: {e}"));
            None
        }
        Err(e) => panic!("spawn: {e}"),
    }
}

/// Starts `child` and waits for its exit code, killing it after `WAIT`.
fn start_and_wait(child: &mut NsChild) -> i32 {
    child.start().expect("start");
    match child.wait_timeout(WAIT).expect("wait") {
        Some(code) => code,
        None => {
            child.kill().unwrap();
            panic!("child did not exit within {WAIT:?}");
        }
    }
}

fn pipe() -> (File, OwnedFd) {
    let (rd, wr) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC).unwrap();
    (File::from(rd), wr)
}

#[test]
fn exit_code_is_passed_through() {
    let Some(mut child) = spawn_or_skip(NsCommand::new("sh").args(["-c", "exit 3"])) else {
        return;
    };
    assert_eq!(start_and_wait(&mut child), 3);
    // Waiting again returns the recorded status.
    assert_eq!(child.wait().unwrap(), 3);
}

#[test]
fn death_by_signal_maps_to_128_plus_signal() {
    let Some(mut child) = spawn_or_skip(NsCommand::new("sh").args(["-c", "kill -9 $$"])) else {
        return;
    };
    assert_eq!(start_and_wait(&mut child), 137);
}

#[test]
fn command_is_held_until_started() {
    let (mut out, wr) = pipe();
    let Some(mut child) = spawn_or_skip(NsCommand::new("echo").arg("ran").stdout(wr)) else {
        return;
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(child.try_wait().unwrap(), None, "child ran before start");
    assert_eq!(start_and_wait(&mut child), 0);
    let mut s = String::new();
    out.read_to_string(&mut s).unwrap();
    assert_eq!(s, "ran\n");
}

#[test]
fn never_started_child_gives_up_when_waited_for() {
    let Some(mut child) = spawn_or_skip(&mut NsCommand::new("true")) else {
        return;
    };
    assert_eq!(child.try_wait().unwrap(), None, "held child exited");
    // wait() closes the go pipe first: the child exits without exec.
    assert_eq!(child.wait().unwrap(), 125);
}

#[test]
fn exec_failure_is_reported_by_start() {
    // A path with a '/' is taken as is; /etc/passwd is not executable.
    let Some(mut child) = spawn_or_skip(&mut NsCommand::new("/etc/passwd")) else {
        return;
    };
    let e = child.start().unwrap_err();
    let inner = e
        .get_ref()
        .unwrap()
        .downcast_ref::<ChildSetupError>()
        .unwrap();
    assert_eq!(inner.stage, ChildStage::Exec);
    assert_eq!(inner.errno, libc::EACCES);
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
}

#[test]
fn missing_program_fails_before_forking() {
    let e = NsCommand::new("no-such-program-h4").spawn().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

/// The pasta flow as root: the parent opens and configures the tap inside the
/// child's fresh namespace before letting the command run, and the command
/// sees it, as uid 0 with its own host name.
#[test]
fn parent_configures_the_namespace_before_the_command_runs() {
    if !have_root() {
        return;
    }
    let (mut out, wr) = pipe();
    let script = "id -u; uname -n; ip -o link show pasta0; ip -o -4 addr show dev pasta0; \
                  ip -o link show lo";
    let Some(mut child) = spawn_or_skip(
        NsCommand::new("sh")
            .args(["-c", script])
            .hostname("pasta-h4")
            .mount_ns(true)
            .ipc_ns(true)
            .stdout(wr),
    ) else {
        return;
    };
    let (tap, mut nl) = in_netns(child.netns(), || -> io::Result<_> {
        Ok((Tap::open("pasta0")?, Netlink::open()?))
    })
    .unwrap()
    .unwrap();
    let idx = nl.link_index("pasta0").unwrap();
    nl.link_set_mtu(idx, 65520).unwrap();
    nl.link_set_up(idx).unwrap();
    nl.addr_add(idx, "198.51.100.2".parse::<IpAddr>().unwrap(), 24, true)
        .unwrap();
    let lo = nl.link_index("lo").unwrap();
    nl.link_set_up(lo).unwrap();

    assert_eq!(start_and_wait(&mut child), 0);
    drop(tap);
    let mut s = String::new();
    out.read_to_string(&mut s).unwrap();
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "{s}");
    assert_eq!(lines.get(1), Some(&"pasta-h4"), "{s}");
    assert!(s.contains("pasta0:") && s.contains("mtu 65520"), "{s}");
    assert!(s.contains("inet 198.51.100.2/24"), "{s}");
    assert!(s.contains("lo: <LOOPBACK,UP"), "{s}");
    // Our own host name is untouched.
    assert_ne!(rustix::system::uname().nodename().to_bytes(), b"pasta-h4");
}

/// Copies the helper binary somewhere any user can execute it.
struct HelperCopy {
    dir: PathBuf,
    bin: PathBuf,
}

impl HelperCopy {
    fn new() -> io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("h4-nsrun-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        let bin = dir.join("shim-linux-nsrun");
        std::fs::copy(env!("CARGO_BIN_EXE_shim-linux-nsrun"), &bin)?;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { dir, bin })
    }
}

impl Drop for HelperCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the helper as nobody (uid/gid 65534, no groups) through setpriv.
/// Returns `None` (after reporting a skip) when that is not possible here.
fn run_unprivileged(helper: &HelperCopy, args: &[&str]) -> Option<common::Out> {
    if !rustix::process::geteuid().is_root() {
        skip("needs root to switch to an unprivileged user with setpriv");
        return None;
    }
    if run(Command::new("setpriv").arg("--help")).code != Some(0) {
        skip("setpriv not available");
        return None;
    }
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&helper.bin)
        .args(args));
    if out.code == Some(126) && out.stderr.contains("Unshare") {
        skip(&format!(
            "user namespaces unavailable to unprivileged users: {}",
            out.stderr.trim()
        ));
        return None;
    }
    Some(out)
}

#[test]
fn unprivileged_user_is_root_inside_and_can_configure_its_namespace() {
    let helper = HelperCopy::new().unwrap();
    let Some(out) = run_unprivileged(&helper, &["--", "id", "-u"]) else {
        return;
    };
    assert_eq!(out.code, Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "0\n");

    // The helper joins the child's user + network namespaces (it is
    // single-threaded) and brings lo up over netlink before the exec.
    let Some(out) = run_unprivileged(
        &helper,
        &[
            "--lo-up",
            "--",
            "sh",
            "-c",
            "id -u; ip -o link show lo; exit 7",
        ],
    ) else {
        return;
    };
    assert_eq!(out.code, Some(7), "stderr: {}", out.stderr);
    assert!(out.stdout.starts_with("0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("<LOOPBACK,UP"), "{}", out.stdout);

    // And the unprivileged parent still sees signal deaths as 128 + n.
    let Some(out) = run_unprivileged(&helper, &["--", "sh", "-c", "kill -9 $$"]) else {
        return;
    };
    assert_eq!(out.code, Some(137), "stderr: {}", out.stderr);
}
