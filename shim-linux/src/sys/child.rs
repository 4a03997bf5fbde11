//! `fork(2)` into new namespaces (see the parent module's notes on the child side:
//! async-signal-safe work only, everything prepared in a [`ChildPlan`] before `fork`).

use std::convert::Infallible;
use std::ffi::{c_char, CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr;

use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::{Errno, FdFlags};
use rustix::process::Pid;
use rustix::thread::UnshareFlags;

/// A NUL-terminated array of C strings (`argv`/`envp` for `execve`), built
/// before `fork` so the child only reads it.
pub(crate) struct CStringArray {
    /// Owns the strings the pointers below point into.
    _strings: Vec<CString>,
    /// One pointer per string, then a null pointer.
    ptrs: Vec<*const c_char>,
}

impl CStringArray {
    /// Builds the pointer array over `strings`, keeping them alive.
    pub(crate) fn new(strings: Vec<CString>) -> Self {
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(ptr::null());
        Self {
            _strings: strings,
            ptrs,
        }
    }

    /// Pointer to the first element; the array is null-terminated and every
    /// non-null element is a valid NUL-terminated string while `self` lives.
    fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

/// Step of the child set-up that failed, as reported through the status pipe.
///
/// The numeric values travel over the pipe; see [`crate::netns::ChildStage`]
/// for the public view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stage {
    /// Namespaces created and maps written; waiting for "go". Not an error.
    Ready = 0,
    /// `unshare(2)` failed.
    Unshare = 1,
    /// Writing `/proc/self/setgroups` failed.
    Setgroups = 2,
    /// Writing `/proc/self/uid_map` failed.
    UidMap = 3,
    /// Writing `/proc/self/gid_map` failed.
    GidMap = 4,
    /// `sethostname(2)` failed.
    Hostname = 5,
    /// Reading the "go" pipe failed.
    Go = 6,
    /// Redirecting standard input/output/error failed.
    Stdio = 7,
    /// `execve(2)` failed.
    Exec = 8,
    /// Switching to [`ChildPlan::run_as`] failed.
    SwitchUser = 9,
}

impl Stage {
    /// Decodes a stage byte from the status pipe.
    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Ready,
            1 => Self::Unshare,
            2 => Self::Setgroups,
            3 => Self::UidMap,
            4 => Self::GidMap,
            5 => Self::Hostname,
            6 => Self::Go,
            7 => Self::Stdio,
            8 => Self::Exec,
            9 => Self::SwitchUser,
            _ => return None,
        })
    }
}

/// Size of one status record: stage byte, then the errno as `i32` little-endian.
pub(crate) const STATUS_LEN: usize = 5;

/// Everything the child needs after `fork`, prepared by the parent.
pub(crate) struct ChildPlan<'a> {
    /// Namespaces to create with `unshare(2)`; must include `NEWUSER`.
    pub(crate) unshare: UnshareFlags,
    /// `(uid, gid)` to become before `unshare(2)`, so that the new user namespace
    /// belongs to that user (root starting pasta: passt's `--runas` order).
    pub(crate) run_as: Option<(u32, u32)>,
    /// Content for `/proc/self/uid_map`, e.g. `b"0 1000 1\n"`.
    pub(crate) uid_map: &'a [u8],
    /// Content for `/proc/self/gid_map`.
    pub(crate) gid_map: &'a [u8],
    /// Host name to set in the new UTS namespace, if any.
    pub(crate) hostname: Option<&'a [u8]>,
    /// Replacement standard input, output and error, if any.
    pub(crate) stdio: [Option<BorrowedFd<'a>>; 3],
    /// Read end of the "go" pipe: one byte means exec, EOF means give up.
    pub(crate) go: BorrowedFd<'a>,
    /// Write end of the status pipe (close-on-exec, so EOF means exec worked).
    pub(crate) status: BorrowedFd<'a>,
    /// Absolute or relative path of the program (already resolved via PATH).
    pub(crate) path: &'a CStr,
    /// Argument vector.
    pub(crate) argv: &'a CStringArray,
    /// Environment.
    pub(crate) envp: &'a CStringArray,
}

/// Exit code of a child that gave up because the parent closed the go pipe.
const EXIT_ABANDONED: i32 = 125;
/// Exit code of a child whose set-up failed (the reason went to the pipe).
const EXIT_SETUP_FAILED: i32 = 127;

/// Forks a child that runs `plan` (see the module docs) and returns its pid.
///
/// The child writes a [`Stage::Ready`] record to `plan.status` once its
/// namespaces exist, then blocks until the parent writes a byte to the other
/// end of `plan.go`, then execs. On any failure it writes a record with the
/// stage and errno and exits with status 127.
pub(crate) fn fork_into_namespaces(plan: &ChildPlan<'_>) -> io::Result<Pid> {
    // SAFETY: `fork` itself is always safe to call; the hazard is what the
    // child does next in a copy of a possibly multi-threaded process. The
    // child only runs `child_after_fork`, which is async-signal-safe (see the
    // module docs) and never returns.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => child_after_fork(plan),
        pid => Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork returned a bad pid")),
    }
}

/// Child side of [`fork_into_namespaces`]. Never returns.
fn child_after_fork(plan: &ChildPlan<'_>) -> ! {
    let code = match child_setup(plan) {
        Ok(never) => match never {},
        Err((Stage::Go, 0)) => EXIT_ABANDONED,
        Err((stage, errno)) => {
            report(plan.status, stage, errno);
            EXIT_SETUP_FAILED
        }
    };
    // SAFETY: `_exit` ends the process immediately without running atexit
    // handlers or unwinding, which is what a forked child must do.
    unsafe { libc::_exit(code) }
}

/// Writes one status record; errors are ignored (the parent sees EOF).
fn report(status: BorrowedFd<'_>, stage: Stage, errno: i32) {
    let e = errno.to_le_bytes();
    let record: [u8; STATUS_LEN] = [stage as u8, e[0], e[1], e[2], e[3]];
    let _ = rustix::io::write(status, &record);
}

/// Writes `data` to an existing file in one `write(2)` (procfs map files
/// require a single write).
fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    let fd = rustix::fs::open(path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())?;
    let n = rustix::io::write(&fd, data)?;
    if n == data.len() {
        Ok(())
    } else {
        Err(Errno::IO)
    }
}

/// The fallible part of the child: returns only on failure.
fn child_setup(plan: &ChildPlan<'_>) -> Result<Infallible, (Stage, i32)> {
    let err = |stage: Stage| move |e: Errno| (stage, e.raw_os_error());

    let raw = |fd: Option<BorrowedFd<'_>>| fd.map(|f| f.as_raw_fd());
    close_cloexec_fds(&[
        Some(plan.go.as_raw_fd()),
        Some(plan.status.as_raw_fd()),
        raw(plan.stdio[0]),
        raw(plan.stdio[1]),
        raw(plan.stdio[2]),
    ]);

    if let Some((uid, gid)) = plan.run_as {
        crate::netns::become_user(uid, gid).map_err(err(Stage::SwitchUser))?;
    }
    // SAFETY: `unshare_unsafe` is unsafe because unsharing CLONE_FILES or
    // CLONE_FS could invalidate assumptions of other threads about shared
    // descriptor tables; this child is single-threaded and `plan.unshare`
    // only ever holds namespace flags (NEWUSER, NEWNET, NEWUTS, ...).
    unsafe { rustix::thread::unshare_unsafe(plan.unshare) }.map_err(err(Stage::Unshare))?;
    // user_namespaces(7): an unprivileged process must deny setgroups before
    // it may write gid_map; uid_map may then map its own uid only.
    write_file(c"/proc/self/setgroups", b"deny").map_err(err(Stage::Setgroups))?;
    write_file(c"/proc/self/uid_map", plan.uid_map).map_err(err(Stage::UidMap))?;
    write_file(c"/proc/self/gid_map", plan.gid_map).map_err(err(Stage::GidMap))?;
    if let Some(name) = plan.hostname {
        rustix::system::sethostname(name).map_err(err(Stage::Hostname))?;
    }

    report(plan.status, Stage::Ready, 0);
    let mut byte = [0u8; 1];
    loop {
        match rustix::io::read(plan.go, &mut byte) {
            Ok(0) => return Err((Stage::Go, 0)),
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(e) => return Err((Stage::Go, e.raw_os_error())),
        }
    }

    for (target, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            redirect(*fd, target).map_err(err(Stage::Stdio))?;
        }
    }

    // SAFETY: the set is initialised by `sigemptyset` before use, and both
    // calls are async-signal-safe system-call wrappers. Rust's runtime sets
    // SIGPIPE to SIG_IGN, and an ignored disposition would survive execve, so
    // it is reset; the blocked-signal mask would survive too, so it is cleared.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, set.as_ptr(), ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }

    // SAFETY: `path` is a valid C string and `argv`/`envp` are null-terminated
    // arrays of valid C strings (`CStringArray` invariant), all borrowed from
    // the parent's memory image, which this child still has.
    unsafe { libc::execve(plan.path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr()) };
    Err((
        Stage::Exec,
        io::Error::last_os_error().raw_os_error().unwrap_or(0),
    ))
}

/// Closes, now, every close-on-exec descriptor above 2 that is not in `keep`.
///
/// `execve` would close them anyway; doing it before the (possibly long) wait
/// for "go" means a held child does not keep copies of unrelated descriptors
/// of the parent alive, such as pipes whose EOF another thread of the parent
/// is waiting for. Descriptors without close-on-exec are deliberately left
/// for the command to inherit.
fn close_cloexec_fds(keep: &[Option<RawFd>]) {
    let Ok(dir) = rustix::fs::open(
        c"/proc/self/fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let dir_fd = dir.as_raw_fd();
    let mut buf = [MaybeUninit::<u8>::uninit(); 1024];
    let mut entries = RawDir::new(&dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let Some(fd) = parse_fd(entry.file_name().to_bytes()) else {
            continue;
        };
        if fd <= 2 || fd == dir_fd || keep.contains(&Some(fd)) {
            continue;
        }
        // SAFETY: `fd` was listed in /proc/self/fd and only this loop closes
        // descriptors, so it is open for the duration of the borrow.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed).is_ok_and(|f| f.contains(FdFlags::CLOEXEC)) {
            // SAFETY: in this forked child nothing but `child_setup` runs,
            // and it only uses the descriptors in `keep` and those it opens
            // itself; the `OwnedFd`s copied from the parent are never dropped
            // (the child leaves through `_exit` or `execve`), so no double
            // close can happen.
            unsafe { rustix::io::close(fd) };
        }
    }
}

/// Parses a decimal descriptor number from a /proc/self/fd entry name.
fn parse_fd(name: &[u8]) -> Option<RawFd> {
    if name.is_empty() {
        return None;
    }
    let mut fd: RawFd = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        fd = fd.checked_mul(10)?.checked_add(RawFd::from(b - b'0'))?;
    }
    Some(fd)
}

/// Makes `fd` the standard descriptor number `target` (0, 1 or 2), without
/// close-on-exec.
fn redirect(fd: BorrowedFd<'_>, target: usize) -> Result<(), Errno> {
    if usize::try_from(fd.as_raw_fd()).ok() == Some(target) {
        // dup2 onto itself is a no-op that would keep FD_CLOEXEC.
        return rustix::io::fcntl_setfd(fd, FdFlags::empty());
    }
    match target {
        0 => rustix::stdio::dup2_stdin(fd),
        1 => rustix::stdio::dup2_stdout(fd),
        _ => rustix::stdio::dup2_stderr(fd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_names_parse_as_decimal() {
        assert_eq!(parse_fd(b"0"), Some(0));
        assert_eq!(parse_fd(b"1023"), Some(1023));
        assert_eq!(parse_fd(b"."), None);
        assert_eq!(parse_fd(b""), None);
        assert_eq!(parse_fd(b"99999999999"), None);
    }

    #[test]
    fn stage_bytes_round_trip() {
        for v in 0..=9u8 {
            assert_eq!(Stage::from_u8(v).map(|s| s as u8), Some(v));
        }
        assert_eq!(Stage::from_u8(10), None);
    }
}
