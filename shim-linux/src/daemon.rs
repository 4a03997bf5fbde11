//! Daemonising with the readiness contract callers rely on (callers.md §0.1): the
//! parent exits 0 only once we are ready, after writing the PID file; the child starts
//! a new session and points its standard streams at /dev/null, so a caller waiting
//! for EOF on our stdout/stderr (podman's `CombinedOutput`) is released.
//!
//! The fork happens first ([`detach`]), while the process has one thread; readiness is
//! reported later over a pipe ([`Detached::ready`]). Forking at the readiness point
//! instead would lose the helper threads started during set-up (the namespace socket
//! helper) in the daemon.

use crate::sys;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The `-P` file: opened at start, before anything else is set up (as passt opens it
/// before dropping privileges), and written once ready.
#[derive(Debug)]
pub struct PidFile(File);

impl PidFile {
    /// Create `path`, or empty an existing file of ours there (QEMU creates it before
    /// starting passt), mode 0600; a symbolic link there is refused
    /// ([`crate::owner_only::create_file`]).
    pub fn create(path: &Path) -> io::Result<PidFile> {
        crate::owner_only::create_file(path, false).map(PidFile)
    }

    /// Write `pid` and a newline, and close the file.
    pub fn write(mut self, pid: i32) -> io::Result<()> {
        writeln!(self.0, "{pid}")
    }
}

/// A daemon child that has not reported readiness yet (see [`detach`]).
#[derive(Debug)]
pub struct Detached {
    /// Write end of the pipe its parent is waiting on.
    report: OwnedFd,
}

/// Go to the background **now**, before any thread exists (helper threads do not
/// survive a fork), and report readiness later with [`Detached::ready`].
///
/// The parent never returns: it waits on a pipe. When the child reports readiness it
/// writes the child's PID to `pid_file` (the child closes its copy) and exits 0; if the child exits first (a
/// start-up error, already printed on the standard error they share) it exits with
/// the child's status. The child, a new session leader, returns here and keeps the
/// standard streams until it is ready.
pub fn detach(pid_file: Option<PidFile>) -> io::Result<Detached> {
    let (read_end, write_end) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    match sys::fork_daemon()? {
        Some(child) => {
            drop(write_end);
            let mut byte = [0u8; 1];
            let got = loop {
                match rustix::io::read(&read_end, &mut byte) {
                    Err(rustix::io::Errno::INTR) => continue,
                    r => break r.unwrap_or(0),
                }
            };
            if got == 0 {
                // The child exited (or crashed) before it was ready.
                let code =
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
                        .ok()
                        .flatten()
                        .and_then(|(_, status)| status.exit_status())
                        .map_or(1, |c| c);
                std::process::exit(if code == 0 { 1 } else { code });
            }
            if let Some(f) = pid_file {
                if let Err(e) = f.write(child.as_raw_nonzero().get()) {
                    crate::log_err!("Failed to write PID file: {e}");
                    let _ = rustix::process::kill_process(child, rustix::process::Signal::KILL);
                    std::process::exit(1);
                }
            }
            std::process::exit(0);
        }
        None => {
            drop(read_end);
            drop(pid_file);
            rustix::process::setsid()?;
            Ok(Detached { report: write_end })
        }
    }
}

impl Detached {
    /// Everything is configured and bound: point the standard streams at /dev/null
    /// (releasing a caller that waits for EOF on them), log to syslog from now on
    /// unless there is a log file, and let the parent write the PID file and exit 0.
    pub fn ready(self) -> io::Result<()> {
        let null = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        rustix::stdio::dup2_stdin(null.as_fd())?;
        rustix::stdio::dup2_stdout(null.as_fd())?;
        rustix::stdio::dup2_stderr(null.as_fd())?;
        crate::log::daemonised();
        rustix::io::write(&self.report, b"r")?;
        Ok(())
    }
}
