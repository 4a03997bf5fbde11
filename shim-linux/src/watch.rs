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

/// Watches a namespace file: inotify on its directory wakes the loop at once; for
/// `/proc/PID/ns/net`, which inotify cannot report, a pidfd of the process does
/// (readable once it exits); the loop's once-a-second tick looks too. The directory is
/// held open and the name looked up relative to it, so the watch keeps working once
/// the file system is gone (isolation).
#[derive(Debug)]
pub struct NetnsWatch {
    path: PathBuf,
    dir: OwnedFd,
    name: OsString,
    /// inotify on the directory, or an epoll set holding only the pidfd of the process
    /// whose namespace it is: a look with a zero timeout tells whether that process
    /// exited (the loop calls [`NetnsWatch::notified`] for any of its wake descriptors,
    /// and seccomp allows `epoll_pwait`, not `poll`).
    wake: Option<OwnedFd>,
    /// The pidfd inside `wake`, kept open.
    pidfd: Option<OwnedFd>,
}

/// An epoll set watching `pidfd` for readability (its process's exit).
fn exit_watch(pidfd: &OwnedFd) -> rustix::io::Result<OwnedFd> {
    use rustix::event::epoll;
    let set = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    epoll::add(
        &set,
        pidfd,
        epoll::EventData::new_u64(0),
        epoll::EventFlags::IN,
    )?;
    Ok(set)
}

/// The PID of a `/proc/PID/ns/...` path.
fn proc_pid(path: &Path) -> Option<rustix::process::Pid> {
    let mut parts = path.strip_prefix("/proc").ok()?.components();
    let pid = parts.next()?.as_os_str().to_str()?.parse().ok()?;
    (parts.next()?.as_os_str() == "ns").then_some(())?;
    rustix::process::Pid::from_raw(pid)
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
        // A process's exit: pidfd_open(2), Linux 5.3.
        let pidfd = proc_pid(path).and_then(|pid| {
            rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
        });
        let wake = match &pidfd {
            Some(pidfd) => exit_watch(pidfd),
            None => inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).and_then(|fd| {
                inotify::add_watch(
                    &fd,
                    dir,
                    WatchFlags::DELETE
                        | WatchFlags::MOVED_FROM
                        | WatchFlags::DELETE_SELF
                        | WatchFlags::MOVE_SELF,
                )
                .map(|_| fd)
            }),
        };
        let wake = match wake {
            Ok(fd) => Some(fd),
            Err(e) => {
                crate::log_debug!(
                    "Can't watch {} ({e}): checking once a second",
                    path.display()
                );
                None
            }
        };
        Ok(NetnsWatch {
            path: path.to_path_buf(),
            dir: dir_fd,
            name: name.to_os_string(),
            wake,
            pidfd,
        })
    }

    /// The inotify descriptor or pidfd, to poll.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|f| f.as_fd())
    }

    /// One of the loop's wake descriptors was readable (maybe this one): say whether
    /// the namespace is gone now. For a process: whether its pidfd reports its exit
    /// (reaped or not). For a file: whether it was deleted (looked at only if something
    /// in its directory changed; the inotify queue is drained).
    pub fn notified(&mut self) -> bool {
        use rustix::event::epoll;
        let Some(fd) = &self.wake else {
            return false;
        };
        if self.pidfd.is_some() {
            let mut ready = [epoll::Event {
                flags: epoll::EventFlags::empty(),
                data: epoll::EventData::new_u64(0),
            }; 1];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let exited = matches!(epoll::wait(fd, &mut ready[..], Some(&zero)), Ok(1..));
            if exited {
                crate::log_info!("Namespace {} is gone, exiting", self.path.display());
            }
            return exited;
        }
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

    /// Whether the file (or, for `/proc/PID/ns/net`, the process) is gone. The link
    /// itself is looked at, not followed: following it needs ptrace access to the
    /// process, which an isolated pasta may not have.
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
        assert!(!w.notified(), "running");
        child.kill().unwrap();
        child.wait().unwrap();
        let start = Instant::now();
        while !w.gone() {
            assert!(start.elapsed() < Duration::from_secs(2), "never noticed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_process_that_exits_wakes_the_loop_before_it_is_reaped() {
        // Attached by PID: the pidfd becomes readable when the process exits, and
        // its namespace link leads nowhere from then on, reaped or not.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let path = PathBuf::from(format!("/proc/{}/ns/net", child.id()));
        let mut w = NetnsWatch::new(&path).unwrap();
        let fd = w
            .fd()
            .expect("the pidfd's set")
            .try_clone_to_owned()
            .unwrap();
        let readable = |ms: i64| {
            let mut p = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let t = rustix::event::Timespec {
                tv_sec: ms / 1000,
                tv_nsec: ms % 1000 * 1_000_000,
            };
            rustix::event::poll(&mut p, Some(&t)).unwrap() == 1
        };
        assert!(!readable(0), "running");
        assert!(!w.notified());
        child.kill().unwrap();
        assert!(readable(2000), "the exit made the pidfd readable");
        assert!(w.notified(), "noticed while a zombie");
        assert!(w.notified(), "and again: the exit stays reported");
        child.wait().unwrap();
        assert!(w.gone());
    }
}
