//! Namespaces: joining existing ones, running code inside a network
//! namespace, and spawning a command in new user + network namespaces
//! (passt reference §8.1, §8.2).
//!
//! # Model
//!
//! The pasta process itself stays in its original user and network
//! namespaces. [`NsCommand::spawn`] forks a child that creates new user,
//! network and UTS namespaces (optionally IPC and mount too) — first becoming
//! the user of [`NsCommand::run_as`] when given —, maps uid/gid
//! `0 <its uid> 1` with setgroups denied, reports "ready", then blocks until
//! the parent calls [`NsChild::start`]. In between, the parent sets the
//! namespace up: it opens the tap and configures it over netlink from inside
//! the child's network namespace ([`in_netns`]).
//!
//! # Privileges and threads
//!
//! Entering a network namespace needs `CAP_SYS_ADMIN` in the user namespace
//! that owns it. Root in the initial user namespace has that everywhere, so it
//! can simply run a helper thread inside the child's netns ([`in_netns`]).
//! An unprivileged parent must first join the child's user namespace
//! ([`UsernsHandle::enter`]), and the kernel only allows that for a
//! single-threaded process (`setns(2)`: EINVAL otherwise): do it before
//! starting any thread, then enter the netns ([`NetnsHandle::enter`]).

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};

use crate::sys::{self, CStringArray, ChildPlan, Stage, STATUS_LEN};

/// Where named network namespaces live (`ip netns add NAME`).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Opens a namespace file read-only and close-on-exec.
fn open_ns_file(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// An open reference to a network namespace.
#[derive(Debug)]
pub struct NetnsHandle {
    fd: OwnedFd,
}

impl NetnsHandle {
    /// Opens a network namespace given as for pasta's `--netns PATH|NAME`:
    /// a spec without `/` is a name under [`NETNS_RUN_DIR`], anything else a
    /// path (e.g. `/proc/PID/ns/net` or a bind-mounted namespace file).
    pub fn open(spec: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            fd: open_ns_file(&Self::resolve(spec.as_ref()))?,
        })
    }

    /// The path [`NetnsHandle::open`] would open for `spec`.
    pub fn resolve(spec: &Path) -> PathBuf {
        if spec.as_os_str().as_bytes().contains(&b'/') {
            spec.to_path_buf()
        } else {
            Path::new(NETNS_RUN_DIR).join(spec)
        }
    }

    /// Opens the network namespace of process `pid` (`/proc/PID/ns/net`).
    pub fn from_pid(pid: Pid) -> io::Result<Self> {
        Self::open(format!("/proc/{}/ns/net", pid.as_raw_nonzero()))
    }

    /// Opens the network namespace of the calling thread.
    pub fn current() -> io::Result<Self> {
        Self::open("/proc/thread-self/ns/net")
    }

    /// Wraps an already open namespace descriptor.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Moves the *calling thread* into this network namespace, for good
    /// (`setns(fd, CLONE_NEWNET)`). Fails with EINVAL if the descriptor is not
    /// a network namespace and EPERM without `CAP_SYS_ADMIN` over it.
    pub fn enter(&self) -> io::Result<()> {
        Ok(rustix::thread::move_into_link_name_space(
            self.fd.as_fd(),
            Some(LinkNameSpaceType::Network),
        )?)
    }

    /// Checks that this namespace can be entered, from a throw-away thread
    /// (pasta does the same before relying on a `--netns` argument).
    pub fn check(&self) -> io::Result<()> {
        in_netns(self, || ())
    }
}

impl AsFd for NetnsHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// An open reference to a user namespace.
#[derive(Debug)]
pub struct UsernsHandle {
    fd: OwnedFd,
}

impl UsernsHandle {
    /// Opens a user namespace file (pasta's `--userns PATH`).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self {
            fd: open_ns_file(path.as_ref())?,
        })
    }

    /// Opens the user namespace of process `pid` (`/proc/PID/ns/user`).
    pub fn from_pid(pid: Pid) -> io::Result<Self> {
        Self::open(format!("/proc/{}/ns/user", pid.as_raw_nonzero()))
    }

    /// Moves the *whole process* into this user namespace
    /// (`setns(fd, CLONE_NEWUSER)`). The kernel refuses (EINVAL) unless the
    /// process is single-threaded, and it needs `CAP_SYS_ADMIN` in the target
    /// namespace, which the owner of a child's namespace has. Join the user
    /// namespace before the network namespace it owns.
    pub fn enter(&self) -> io::Result<()> {
        Ok(rustix::thread::move_into_link_name_space(
            self.fd.as_fd(),
            Some(LinkNameSpaceType::User),
        )?)
    }
}

impl AsFd for UsernsHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Runs `f` on a fresh thread that has first entered the network namespace
/// `ns`, and returns its result. Sockets, tap devices and netlink sockets that
/// `f` creates belong to `ns` and stay usable from any thread afterwards.
///
/// Fails if the thread cannot enter `ns` (see [`NetnsHandle::enter`]); a
/// panic in `f` is propagated to the caller.
pub fn in_netns<T, F>(ns: &NetnsHandle, f: F) -> io::Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("netns".into())
            .spawn_scoped(scope, || {
                ns.enter()?;
                Ok(f())
            })?;
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Which step of the child's set-up failed (see [`ChildSetupError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStage {
    /// `unshare(2)` of the namespaces (EPERM/ENOSPC/EINVAL: user namespaces
    /// unavailable to this user).
    Unshare,
    /// Writing `deny` to `/proc/self/setgroups`.
    Setgroups,
    /// Writing `/proc/self/uid_map`.
    UidMap,
    /// Writing `/proc/self/gid_map`.
    GidMap,
    /// Setting the host name in the new UTS namespace.
    Hostname,
    /// Waiting for the parent's go signal.
    Go,
    /// Redirecting standard input, output or error.
    Stdio,
    /// Executing the program.
    Exec,
    /// Becoming the user of [`NsCommand::run_as`].
    SwitchUser,
}

impl ChildStage {
    fn from_sys(stage: Stage) -> Option<Self> {
        Some(match stage {
            Stage::Ready => return None,
            Stage::Unshare => Self::Unshare,
            Stage::Setgroups => Self::Setgroups,
            Stage::UidMap => Self::UidMap,
            Stage::GidMap => Self::GidMap,
            Stage::Hostname => Self::Hostname,
            Stage::Go => Self::Go,
            Stage::Stdio => Self::Stdio,
            Stage::Exec => Self::Exec,
            Stage::SwitchUser => Self::SwitchUser,
        })
    }
}

/// A failure reported by the child before it could exec. It is carried inside
/// the [`io::Error`] returned by [`NsCommand::spawn`] or [`NsChild::start`]
/// (reach it with `get_ref()` + `downcast_ref`); that error's kind is the
/// kind of `errno`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildSetupError {
    /// The step that failed.
    pub stage: ChildStage,
    /// The `errno` it failed with.
    pub errno: i32,
}

impl ChildSetupError {
    fn into_io(self) -> io::Error {
        io::Error::new(io::Error::from_raw_os_error(self.errno).kind(), self)
    }
}

impl fmt::Display for ChildSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "namespace child failed at {:?}: {}",
            self.stage,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for ChildSetupError {}

/// Maps a wait status to a shell-style exit code: the exit status, or
/// 128 + signal number for a child killed by a signal (what pasta exits with).
pub fn exit_code(status: WaitStatus) -> i32 {
    if let Some(code) = status.exit_status() {
        code
    } else if let Some(sig) = status.terminating_signal() {
        128 + sig
    } else {
        // Stopped/continued are not reported without WUNTRACED/WCONTINUED.
        -1
    }
}

/// Builder for a command run in new user + network namespaces.
///
/// ```no_run
/// # use passt_shim_linux::netns::{NsCommand, in_netns};
/// let mut child = NsCommand::new("sh").args(["-c", "ip link"]).spawn()?;
/// in_netns(child.netns(), || { /* open tap, configure it */ })?;
/// child.start()?;
/// let code = child.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct NsCommand {
    program: OsString,
    args: Vec<OsString>,
    hostname: Option<Vec<u8>>,
    stdio: [Option<OwnedFd>; 3],
    mount: bool,
    ipc: bool,
    run_as: Option<(u32, u32)>,
}

impl NsCommand {
    /// A command running `program` (looked up in `PATH` if it has no `/`),
    /// with `argv[0] = program`, in new user, network and UTS namespaces.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            hostname: None,
            stdio: [None, None, None],
            mount: false,
            ipc: false,
            run_as: None,
        }
    }

    /// Appends one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Sets the host name inside the new UTS namespace (pasta uses
    /// `pasta-<host name>`); by default the inherited name is kept.
    pub fn hostname(&mut self, name: impl AsRef<[u8]>) -> &mut Self {
        self.hostname = Some(name.as_ref().to_vec());
        self
    }

    /// Also creates a new mount namespace (private copy of the mount table).
    pub fn mount_ns(&mut self, on: bool) -> &mut Self {
        self.mount = on;
        self
    }

    /// Becomes user `uid` and group `gid` (supplementary groups dropped) before
    /// creating the namespaces, which then belong to that user: root inside them is
    /// `uid` outside. For root starting pasta, as passt switches to its `--runas` user
    /// before it creates its user namespace. Needs the right to change IDs.
    pub fn run_as(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.run_as = Some((uid, gid));
        self
    }

    /// Also creates a new IPC namespace.
    pub fn ipc_ns(&mut self, on: bool) -> &mut Self {
        self.ipc = on;
        self
    }

    /// Standard input for the command (inherited if not set).
    pub fn stdin(&mut self, fd: OwnedFd) -> &mut Self {
        self.stdio[0] = Some(fd);
        self
    }

    /// Standard output for the command (inherited if not set).
    pub fn stdout(&mut self, fd: OwnedFd) -> &mut Self {
        self.stdio[1] = Some(fd);
        self
    }

    /// Standard error for the command (inherited if not set).
    pub fn stderr(&mut self, fd: OwnedFd) -> &mut Self {
        self.stdio[2] = Some(fd);
        self
    }

    /// Forks the child, waits until its namespaces exist and returns it,
    /// held before `exec` until [`NsChild::start`].
    ///
    /// Errors: program not found (NotFound), strings with NUL bytes
    /// (InvalidInput), or a [`ChildSetupError`] (e.g. stage `Unshare` with
    /// EPERM when user namespaces are not available).
    pub fn spawn(&mut self) -> io::Result<NsChild> {
        let path = CString::new(resolve_program(&self.program)?.into_os_string().into_vec())?;
        let mut argv = vec![CString::new(self.program.as_bytes())?];
        for a in &self.args {
            argv.push(CString::new(a.as_bytes())?);
        }
        let mut envp = Vec::new();
        for (k, v) in std::env::vars_os() {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            envp.push(CString::new(kv)?);
        }
        let argv = CStringArray::new(argv);
        let envp = CStringArray::new(envp);
        let (uid, gid) = self.run_as.unwrap_or((
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        ));
        let uid_map = format!("0 {uid} 1\n");
        let gid_map = format!("0 {gid} 1\n");

        let mut unshare = UnshareFlags::NEWUSER | UnshareFlags::NEWNET | UnshareFlags::NEWUTS;
        if self.mount {
            unshare |= UnshareFlags::NEWNS;
        }
        if self.ipc {
            unshare |= UnshareFlags::NEWIPC;
        }

        let (go_rd, go_wr) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let (status_rd, status_wr) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
        let stdio = [
            self.stdio[0].as_ref().map(|f| f.as_fd()),
            self.stdio[1].as_ref().map(|f| f.as_fd()),
            self.stdio[2].as_ref().map(|f| f.as_fd()),
        ];
        let plan = ChildPlan {
            unshare,
            run_as: self.run_as,
            uid_map: uid_map.as_bytes(),
            gid_map: gid_map.as_bytes(),
            hostname: self.hostname.as_deref(),
            stdio,
            go: go_rd.as_fd(),
            status: status_wr.as_fd(),
            path: &path,
            argv: &argv,
            envp: &envp,
        };
        let pid = sys::fork_into_namespaces(&plan)?;
        // Our copies of the child's ends: closing them makes EOF meaningful.
        drop(go_rd);
        drop(status_wr);
        self.stdio = [None, None, None];

        // From here on, every failure must not leave the child behind.
        let opened = match read_status(&status_rd) {
            Ok(Some((Stage::Ready, _))) => {
                UsernsHandle::from_pid(pid).and_then(|user| Ok((NetnsHandle::from_pid(pid)?, user)))
            }
            Ok(Some((stage, errno))) => Err(match ChildStage::from_sys(stage) {
                Some(stage) => ChildSetupError { stage, errno }.into_io(),
                None => io::Error::other("namespace child sent a bad status"),
            }),
            Ok(None) => Err(io::Error::other(
                "namespace child exited before creating its namespaces",
            )),
            Err(e) => Err(e),
        };
        match opened {
            Ok((netns, userns)) => Ok(NsChild {
                pid,
                go: Some(go_wr),
                status: status_rd,
                netns,
                userns,
                code: None,
            }),
            Err(e) => {
                kill_and_reap(pid);
                Err(e)
            }
        }
    }
}

/// The forked child's switch to [`NsCommand::run_as`]'s user, before `unshare(2)`:
/// supplementary groups dropped, then the group, then the user (real, effective and
/// saved: leaving root clears every capability). Raw system calls only, no
/// allocation: it runs between `fork` and `execve` of a multi-threaded process.
pub(crate) fn become_user(uid: u32, gid: u32) -> Result<(), Errno> {
    use rustix::process::{DumpableBehavior, Gid, Uid};
    rustix::thread::set_thread_groups(&[])?;
    rustix::thread::set_thread_gid(Gid::from_raw(gid))?;
    rustix::thread::set_thread_uid(Uid::from_raw(uid))?;
    // Leaving root made us non-dumpable, which makes /proc/self/* root's: we could
    // not write our own maps. Every ID is the new user's now, with no capability:
    // we are what `execve` would make of us anyway.
    rustix::process::set_dumpable_behavior(DumpableBehavior::Dumpable)
}

/// SIGKILLs and reaps `pid`, ignoring errors (it may be gone already).
fn kill_and_reap(pid: Pid) {
    let _ = rustix::process::kill_process(pid, Signal::KILL);
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Err(Errno::INTR) => continue,
            _ => return,
        }
    }
}

/// Reads one status record, or `None` on EOF (child exec'd or died).
fn read_status(fd: &OwnedFd) -> io::Result<Option<(Stage, i32)>> {
    let mut buf = [0u8; STATUS_LEN];
    let mut have = 0;
    while have < STATUS_LEN {
        let rest = buf.get_mut(have..).unwrap_or_default();
        match rustix::io::read(fd, rest) {
            Ok(0) if have == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::other("short status record from child")),
            Ok(n) => have += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let [stage, e0, e1, e2, e3] = buf;
    let stage =
        Stage::from_u8(stage).ok_or_else(|| io::Error::other("bad status record from child"))?;
    Ok(Some((stage, i32::from_le_bytes([e0, e1, e2, e3]))))
}

/// Looks `program` up in `PATH` (default `/usr/local/bin:/usr/bin:/bin`) unless
/// it contains a `/`, like `execvp`, but before forking.
fn resolve_program(program: &OsStr) -> io::Result<PathBuf> {
    if program.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty program"));
    }
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: not found in PATH", program.to_string_lossy()),
    ))
}

/// A child created by [`NsCommand::spawn`]: its namespaces exist, and it
/// waits for [`NsChild::start`] before executing the command.
///
/// Dropping an `NsChild` that has not been waited for kills it with SIGKILL
/// and reaps it.
#[derive(Debug)]
pub struct NsChild {
    pid: Pid,
    /// Write end of the go pipe; `None` once started.
    go: Option<OwnedFd>,
    /// Read end of the status pipe.
    status: OwnedFd,
    /// The child's network namespace.
    netns: NetnsHandle,
    /// The child's user namespace.
    userns: UsernsHandle,
    /// Exit code once reaped.
    code: Option<i32>,
}

impl NsChild {
    /// The child's process id.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The child's new network namespace.
    pub fn netns(&self) -> &NetnsHandle {
        &self.netns
    }

    /// The child's new user namespace.
    pub fn userns(&self) -> &UsernsHandle {
        &self.userns
    }

    /// Lets the child execute its command, and waits until `execve` has
    /// succeeded (`Ok`) or failed (a [`ChildSetupError`] at stage `Exec`;
    /// the child is reaped). `Ok` is also returned if the child was killed
    /// meanwhile: [`NsChild::wait`] tells. Calling it twice fails with
    /// InvalidInput.
    pub fn start(&mut self) -> io::Result<()> {
        let go = self
            .go
            .take()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "child already started"))?;
        loop {
            match rustix::io::write(&go, b"g") {
                Ok(_) => break,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        drop(go);
        match read_status(&self.status)? {
            None => Ok(()),
            Some((stage, errno)) => {
                self.reap_quietly();
                Err(match ChildStage::from_sys(stage) {
                    Some(stage) => ChildSetupError { stage, errno }.into_io(),
                    None => io::Error::other("namespace child sent a bad status"),
                })
            }
        }
    }

    /// Waits for the child to exit and returns its [`exit_code`]. A child
    /// that was never started gives up (exit code 125) once the go pipe is
    /// closed, which this does first.
    pub fn wait(&mut self) -> io::Result<i32> {
        if let Some(code) = self.code {
            return Ok(code);
        }
        self.go = None;
        loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::empty()) {
                Ok(Some((_, status))) => return Ok(self.record(status)),
                Ok(None) => continue,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Returns the child's exit code if it has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<i32>> {
        if let Some(code) = self.code {
            return Ok(Some(code));
        }
        match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG)? {
            Some((_, status)) => Ok(Some(self.record(status))),
            None => Ok(None),
        }
    }

    /// Waits at most `timeout` for the child to exit (polling every 5 ms).
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<i32>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.try_wait()? {
                return Ok(Some(code));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIGKILL to the child (no-op once it has been reaped here; do
    /// not reap it elsewhere, e.g. with `waitpid(-1)`, or the pid may be
    /// reused by the time this runs).
    pub fn kill(&mut self) -> io::Result<()> {
        if self.code.is_some() {
            return Ok(());
        }
        Ok(rustix::process::kill_process(self.pid, Signal::KILL)?)
    }

    fn record(&mut self, status: WaitStatus) -> i32 {
        let code = exit_code(status);
        self.code = Some(code);
        code
    }

    fn reap_quietly(&mut self) {
        if self.code.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        self.reap_quietly();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_spec_without_slash_is_a_name_under_run_netns() {
        assert_eq!(
            NetnsHandle::resolve(Path::new("lab1")),
            PathBuf::from("/run/netns/lab1")
        );
        assert_eq!(
            NetnsHandle::resolve(Path::new("/proc/1/ns/net")),
            PathBuf::from("/proc/1/ns/net")
        );
        assert_eq!(NetnsHandle::resolve(Path::new("./x")), PathBuf::from("./x"));
    }

    #[test]
    fn program_lookup_uses_path_and_keeps_explicit_paths() {
        let sh = resolve_program(OsStr::new("sh")).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        assert_eq!(
            resolve_program(OsStr::new("./x")).unwrap(),
            PathBuf::from("./x")
        );
        let e = resolve_program(OsStr::new("no-such-program-h4")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn current_netns_can_be_opened_and_checked() {
        let ns = NetnsHandle::current().unwrap();
        // Entering our own namespace needs CAP_SYS_ADMIN; without it the
        // check must fail cleanly rather than panic.
        let r = ns.check();
        if rustix::process::geteuid().is_root() {
            r.unwrap();
        }
    }

    #[test]
    fn child_setup_error_carries_stage_and_errno() {
        let e = ChildSetupError {
            stage: ChildStage::Unshare,
            errno: libc::EPERM,
        }
        .into_io();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let inner = e
            .get_ref()
            .unwrap()
            .downcast_ref::<ChildSetupError>()
            .unwrap();
        assert_eq!(inner.stage, ChildStage::Unshare);
        assert!(e.to_string().contains("Unshare"), "{e}");
    }
}
