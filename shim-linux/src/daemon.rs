//! Daemonising with the readiness contract callers rely on (callers.md §0.1): the
//! parent exits 0 only once we are ready, after writing the PID file; the child starts
//! a new session and points its standard streams at /dev/null, so a caller waiting
//! for EOF on our stdout/stderr (podman's `CombinedOutput`) is released.

use crate::sys;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;

/// Write `pid` and a newline to `path` (created or truncated, mode 0644).
pub fn write_pid_file(path: &Path, pid: i32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    writeln!(f, "{pid}")
}

/// Fork into the background. In the parent this writes the child's PID to `pid_file`
/// and exits with status 0; it returns only in the child, which is then a session
/// leader with stdin/stdout/stderr on /dev/null. Must be called while the process is
/// single-threaded.
pub fn daemonize(pid_file: Option<&Path>) -> io::Result<()> {
    match sys::fork_daemon()? {
        Some(child) => {
            if let Some(p) = pid_file {
                if let Err(e) = write_pid_file(p, child.as_raw_nonzero().get()) {
                    crate::log_err!("Failed to write PID file {}: {e}", p.display());
                    let _ = rustix::process::kill_process(child, rustix::process::Signal::KILL);
                    std::process::exit(1);
                }
            }
            std::process::exit(0);
        }
        None => {
            rustix::process::setsid()?;
            let null = OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")?;
            rustix::stdio::dup2_stdin(null.as_fd())?;
            rustix::stdio::dup2_stdout(null.as_fd())?;
            rustix::stdio::dup2_stderr(null.as_fd())?;
            crate::log::daemonised();
            Ok(())
        }
    }
}
