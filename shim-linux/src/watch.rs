//! What ends a pasta attached to a namespace, or a passt, besides its guest: the
//! namespace file going away (callers.md §0.2: podman never stops a per-container
//! pasta; it deletes the namespace's bind mount and expects pasta to quit), and
//! SIGTERM or SIGINT (podman's rootless-netns teardown, Cuttlefish's stop).
//!
//! Both are descriptors the event loop polls ([`crate::event_loop::run`]'s `wake`
//! list) and a check it runs when one is ready, or at least once a second.

use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Watches a namespace file: inotify on its directory wakes the loop at once; the
/// loop's once-a-second tick looks too (inotify reports nothing for paths such as
/// `/proc/PID/ns/net`). The directory is held open and the name looked up relative to
/// it, so the watch keeps working once the file system is gone (isolation).
#[derive(Debug)]
pub struct NetnsWatch {
    path: PathBuf,
    dir: OwnedFd,
    name: OsString,
    inotify: Option<OwnedFd>,
}

impl NetnsWatch {
    /// Start watching `path`. Without inotify only the periodic look remains.
    pub fn new(path: &Path) -> io::Result<NetnsWatch> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let dir_fd = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).and_then(|fd| {
            inotify::add_watch(
                &fd,
                dir,
                WatchFlags::DELETE
                    | WatchFlags::MOVED_FROM
                    | WatchFlags::DELETE_SELF
                    | WatchFlags::MOVE_SELF,
            )
            .map(|_| fd)
        });
        let inotify = match inotify {
            Ok(fd) => Some(fd),
            Err(e) => {
                crate::log_debug!(
                    "Can't watch {} with inotify ({e}): checking once a second",
                    dir.display()
                );
                None
            }
        };
        Ok(NetnsWatch {
            path: path.to_path_buf(),
            dir: dir_fd,
            name: name.to_os_string(),
            inotify,
        })
    }

    /// The inotify descriptor, to poll.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.inotify.as_ref().map(|f| f.as_fd())
    }

    /// The inotify descriptor was readable: drain it, and say whether the file is gone
    /// now (looked at only if something in its directory changed).
    pub fn notified(&mut self) -> bool {
        let Some(fd) = &self.inotify else {
            return false;
        };
        let mut buf = [0u8; 4096];
        let mut events = false;
        while let Ok(n) = rustix::io::read(fd, &mut buf) {
            if n == 0 {
                break;
            }
            events = true;
        }
        events && self.gone()
    }

    /// Whether the file (or, for `/proc/PID/ns/net`, the process) is gone.
    pub fn gone(&self) -> bool {
        let gone = rustix::fs::statat(&self.dir, self.name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
            .is_err();
        if gone {
            crate::log_info!("Namespace {} is gone, exiting", self.path.display());
        }
        gone
    }
}

/// SIGTERM and SIGINT, blocked and read from a `signalfd`.
#[derive(Debug)]
pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Block SIGTERM and SIGINT and read them from a descriptor instead. Call once
    /// no more children will be spawned (they would inherit the blocked mask).
    pub fn block_termination() -> io::Result<Signals> {
        crate::sys::termination_signalfd().map(|fd| Signals { fd })
    }

    /// The descriptor, to poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The last termination signal received since the previous call, if any.
    pub fn received(&self) -> Option<i32> {
        // struct signalfd_siginfo: 128 bytes, ssi_signo (u32) first.
        let mut buf = [0u8; 128];
        let mut last = None;
        while let Ok(n) = rustix::io::read(&self.fd, &mut buf) {
            if n < 4 {
                break;
            }
            let signo = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as i32;
            crate::log_info!("Received signal {signo}, exiting");
            last = Some(signo);
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn deleting_the_file_is_reported_through_inotify() {
        let dir = std::env::temp_dir().join(format!("passt-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ns");
        std::fs::write(&file, b"").unwrap();
        let mut w = NetnsWatch::new(&file).unwrap();
        assert!(w.fd().is_some(), "inotify available");
        // Unrelated changes in the directory wake us but don't count.
        std::fs::write(dir.join("other"), b"").unwrap();
        std::fs::remove_file(dir.join("other")).unwrap();
        assert!(!w.notified());
        assert!(!w.gone());
        std::fs::remove_file(&file).unwrap();
        assert!(w.notified(), "the deletion is an inotify event");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_path_inotify_cannot_report_is_seen_by_looking() {
        // /proc/PID/ns/net of a process that exits: procfs sends no inotify events.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let path = PathBuf::from(format!("/proc/{}/ns/net", child.id()));
        let mut w = NetnsWatch::new(&path).unwrap();
        assert!(!w.gone());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!w.notified(), "no inotify event from procfs");
        let start = Instant::now();
        while !w.gone() {
            assert!(start.elapsed() < Duration::from_secs(2), "never noticed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
