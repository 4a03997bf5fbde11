//! The seccomp allowlists (passt-reference §9.2): after set-up, the event loop may
//! only make the system calls listed here; anything else kills the process.
//!
//! One list per profile ([`Profile`]), written once below by `libc::SYS_*` name and
//! built for the architecture being compiled for: x86_64 and aarch64 ([`Arch`]). The
//! filter itself is rust-vmm's `seccompiler`: a [`seccompiler::SeccompFilter`] with
//! `KillProcess` on a mismatch and `Allow` on a match, compiled to a
//! [`seccompiler::BpfProgram`] for the build's [`seccompiler::TargetArch`] and
//! applied to every thread at once ([`seccompiler::apply_filter_all_threads`], TSYNC).
//! The program first checks the audit architecture (a call through another ABI, such
//! as i386's `int 0x80` on x86_64, is killed), then compares the full 32-bit call
//! number with each allowed one. x86_64's x32 ABI shares the audit architecture but
//! sets bit `0x4000_0000` in every number, so an x32 call never equals an allowed
//! (native) number and is killed too; `tests` prove both on the compiled program and,
//! on x86_64, against the kernel.
//!
//! The lists come from what the event loop does (traced with strace over the lab
//! workloads) and stay within upstream passt's budget on each architecture, log file
//! included. Upstream builds its lists from `#syscalls` annotations (seccomp.sh): on
//! x86_64 passt 31, pasta 41, vhost-user 33; on aarch64, whose asm-generic table has
//! no `epoll_wait` (its `epoll_wait|epoll_pwait` token falls back to `epoll_pwait`,
//! already listed), 30, 40 and 32. Ours, with a log file: pasta 40, passt 30,
//! vhost-user 32 on both (39, 28 and 31 without). Every name below exists on both
//! architectures (a name missing on one fails that build: `libc` has no `SYS_`
//! constant for it); `tests` enforce the budgets and print the lists per architecture.

use std::io;

/// A syscall the event loop may make, by name and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    /// Name, as in `syscalls(2)`.
    pub name: &'static str,
    /// Number on this architecture.
    pub nr: i64,
}

/// The architectures with allowlists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (its native ABI; i386 and x32 calls are refused).
    X86_64,
    /// aarch64 (the asm-generic system call table).
    Aarch64,
}

impl Arch {
    /// Every architecture with allowlists.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The architecture this build is for, if it has allowlists.
    pub const NATIVE: Option<Arch> = if cfg!(target_arch = "x86_64") {
        Some(Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::Aarch64)
    } else {
        None
    };

    /// Its name, as `std::env::consts::ARCH` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}

/// Which program the filter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// pasta: tap, host and namespace sockets, splice pipes, the child.
    Pasta,
    /// passt: the qemu stream socket and host sockets.
    Passt,
    /// passt as a vhost-user back end: control requests carry descriptors
    /// (`recvmsg`), each front end has its own epoll sets (`epoll_create1`), guest
    /// memory is mapped (`mmap`, `munmap`: in the common list).
    PasstVhostUser,
}

impl Profile {
    /// How this profile's process sends a batch of datagrams: one `sendmmsg` where
    /// its list has it, else a `sendmsg` per message.
    pub fn send_call(self) -> crate::dgram::SendCall {
        if entries(self, false).iter().any(|e| e.name == "sendmmsg") {
            crate::dgram::SendCall::Sendmmsg
        } else {
            crate::dgram::SendCall::Sendmsg
        }
    }
}

/// An allowlist entry: the name, and the number where this build has lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    name: &'static str,
    nr: Option<i64>,
}

/// `SYS_read` → `read`, at compile time.
const fn bare(sys: &'static str) -> &'static str {
    match sys.as_bytes() {
        [b'S', b'Y', b'S', b'_', rest @ ..] => match std::str::from_utf8(rest) {
            Ok(name) => name,
            Err(_) => panic!("not UTF-8"),
        },
        _ => panic!("not a SYS_ constant"),
    }
}

/// Entries for `libc::SYS_*` constants: the name, and the number on x86_64 and
/// aarch64 builds (other architectures have no lists, and may lack the constant).
macro_rules! calls {
    ($($sys:ident),* $(,)?) => {
        &[$(Entry {
            name: bare(stringify!($sys)),
            #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
            nr: Some(libc::$sys as i64),
            #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
            nr: None,
        }),*]
    };
}

/// Calls every profile makes in its loop.
const COMMON: &[Entry] = calls![
    // The loop itself, the guest link, time.
    SYS_epoll_pwait, // rustix's epoll::wait (never plain epoll_wait, absent on aarch64)
    SYS_epoll_ctl,
    SYS_read,
    SYS_write,
    SYS_clock_gettime, // the vDSO's fallback
    // Host sockets.
    SYS_socket,
    SYS_bind,
    SYS_listen,
    SYS_accept4,
    SYS_connect,
    SYS_getsockname,
    SYS_getsockopt,
    SYS_setsockopt,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmmsg, // datagrams read in batches (crate::dgram)
    SYS_shutdown,
    SYS_ioctl,
    SYS_fcntl,
    SYS_close,
    // The allocator (buffers grow during start-up and rarely after).
    SYS_mmap,
    SYS_munmap,
    SYS_brk,
    SYS_madvise,
    // Leaving.
    SYS_rt_sigreturn,
    SYS_sigaltstack,
    SYS_exit_group,
];

/// pasta only.
const PASTA: &[Entry] = calls![
    SYS_writev,         // tap frames behind their virtio-net header
    SYS_splice,         // the loopback bypass
    SYS_sendmmsg,       // its UDP side, in batches
    SYS_pipe2,          // its pipes, created on first use
    SYS_futex,          // requests to the namespace helper thread
    SYS_rt_sigprocmask, // the helper thread's exit
    SYS_exit,           // … which ends that thread (passt has no other thread)
    SYS_lseek,          // re-reading /proc/net/tcp* for `auto`
    SYS_newfstatat,     // noticing the attached namespace file is gone
    SYS_wait4,          // reaping the command
    SYS_kill,           // ending the command if we stop first
];

/// passt only.
const PASST: &[Entry] = calls![];

/// passt with `--vhost-user`: the front end's requests come with descriptors
/// (memory regions, kick and call eventfds; replies go by `sendmsg`, common), each
/// front end gets epoll sets of its own (`crate::vhost_user::VhostUserLink`), and a
/// memory region is checked against its file's size (`lseek`, also the log file's).
const PASST_VHOST_USER: &[Entry] = calls![
    SYS_recvmsg,       // requests, with the front end's descriptors
    SYS_epoll_create1, // each front end's epoll sets
    SYS_lseek,         // a memory region must lie within its file
];

/// Only with a log file (`-l`): its rotation repositions and shrinks the file
/// ([`crate::log::FILE_SYSCALLS`]).
const LOG_FILE: &[Entry] = calls![SYS_lseek, SYS_ftruncate];

/// The entries for `profile`, plus `LOG_FILE`'s when logging to a file.
fn entries(profile: Profile, log_file: bool) -> Vec<Entry> {
    let extra = match profile {
        Profile::Pasta => PASTA,
        Profile::Passt => PASST,
        Profile::PasstVhostUser => PASST_VHOST_USER,
    };
    let log: &[Entry] = if log_file { LOG_FILE } else { &[] };
    let mut list: Vec<Entry> = COMMON.iter().chain(extra).copied().collect();
    list.extend(
        log.iter()
            .filter(|s| !extra.iter().any(|e| e.name == s.name)),
    );
    list
}

/// The names on `profile`'s allowlist for `arch` (with or without a log file),
/// whatever this build is for. Both architectures share the names today.
pub fn names_on(arch: Arch, profile: Profile, log_file: bool) -> Vec<&'static str> {
    let _ = arch; // no architecture has a name of its own yet
    entries(profile, log_file).iter().map(|e| e.name).collect()
}

/// The allowlist for `profile` on this architecture (empty where unsupported), plus
/// `lseek` and `ftruncate` (`LOG_FILE`) when the process logs to a file.
pub fn allowlist(profile: Profile) -> Vec<Syscall> {
    allowlist_for(profile, crate::log::has_file())
}

/// The allowlist for `profile` on this architecture, with or without a log file
/// (empty where unsupported).
pub fn allowlist_for(profile: Profile, log_file: bool) -> Vec<Syscall> {
    if Arch::NATIVE.is_none() {
        return Vec::new();
    }
    entries(profile, log_file)
        .iter()
        .filter_map(|e| e.nr.map(|nr| Syscall { name: e.name, nr }))
        .collect()
}

/// The names on the allowlist, for printing.
pub fn allowlist_names(profile: Profile) -> Vec<&'static str> {
    allowlist(profile).iter().map(|s| s.name).collect()
}

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "no seccomp allowlist for this architecture",
    )
}

/// Apply the filter for `profile` to every thread (`Unsupported` on an
/// architecture without lists: the caller then refuses to run unconfined).
pub fn apply(profile: Profile) -> io::Result<()> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return filter::apply(profile);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = profile;
        Err(unsupported())
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod filter;
#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) use filter::testing;

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream passt's x86_64 lists, as seccomp.sh builds them from the `#syscalls`
    /// annotations of its sources (`#syscalls name …` for every profile,
    /// `#syscalls:pasta …` and `#syscalls:vu …` for one; a token `a|b` takes the first
    /// name the architecture knows, `arch:name` counts on that architecture only).
    /// passt's list is in every profile; pasta's and vhost-user's add to it.
    #[rustfmt::skip]
    const UPSTREAM_PASST_X86_64: &[&str] = &[
        "accept", "accept4", "bind", "clock_gettime", "close", "connect", "epoll_ctl",
        "epoll_pwait", "epoll_wait", "exit_group", "fallocate", "fcntl", "ftruncate",
        "getsockopt", "listen", "lseek", "read", "recvfrom", "recvmmsg", "recvmsg",
        "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket",
        "timerfd_create", "timerfd_gettime", "timerfd_settime", "write", "writev",
    ];
    #[rustfmt::skip]
    const UPSTREAM_PASTA_EXTRA: &[&str] = &[
        "clone", "exit", "ioctl", "openat", "pipe2", "rt_sigprocmask", "rt_sigreturn",
        "setns", "splice", "waitid",
    ];
    const UPSTREAM_VU_EXTRA: &[&str] = &["mmap", "munmap"];

    /// Names that x86_64 has and aarch64 (asm-generic `unistd.h`) does not, with what
    /// seccomp.sh takes instead there: upstream's token is `epoll_wait|epoll_pwait`
    /// (the first alternative the architecture knows). Also the old calls that
    /// asm-generic replaced (`open` → `openat`, `fork` → `clone`, …), for the
    /// "never" list below.
    const ABSENT_ON_AARCH64: &[(&str, Option<&str>)] = &[
        ("epoll_wait", Some("epoll_pwait")),
        ("open", None),
        ("fork", None),
        ("vfork", None),
        ("poll", None),
        ("pipe", None),
    ];

    /// Never allowed: new processes, new programs, files, ptrace, mounts, namespaces,
    /// or touching the filter (each checked where the architecture has it).
    #[rustfmt::skip]
    const NEVER: &[&str] = &[
        "execve", "execveat", "clone", "clone3", "fork", "vfork", "openat", "open",
        "ptrace", "mount", "umount2", "pivot_root", "seccomp", "prctl", "setns", "unshare",
    ];

    /// Upstream's list for `profile` on `arch`, derived from its x86_64 list: every
    /// name of it exists in asm-generic's table (checked against `libc`'s aarch64
    /// `SYS_*`) but `epoll_wait`, from passt.c's token `epoll_wait|epoll_pwait`, which
    /// on aarch64 resolves to `epoll_pwait`, listed already; and upstream's
    /// per-architecture tokens name arm, armv6l, armv7l, i686, ppc64, ppc64le and
    /// s390x only, never aarch64. So aarch64 is x86_64 less one: passt 31 → 30,
    /// pasta 41 → 40, vhost-user 33 → 32.
    fn upstream(arch: Arch, profile: Profile) -> Vec<&'static str> {
        let extra: &[&str] = match profile {
            Profile::Pasta => UPSTREAM_PASTA_EXTRA,
            Profile::Passt => &[],
            Profile::PasstVhostUser => UPSTREAM_VU_EXTRA,
        };
        let mut list: Vec<&str> = UPSTREAM_PASST_X86_64.iter().chain(extra).copied().collect();
        if arch == Arch::Aarch64 {
            list = list
                .into_iter()
                .filter_map(|n| match ABSENT_ON_AARCH64.iter().find(|(a, _)| *a == n) {
                    Some((_, instead)) => *instead,
                    None => Some(n),
                })
                .collect();
        }
        list.sort_unstable();
        list.dedup();
        list
    }

    #[test]
    fn upstreams_budgets_per_architecture() {
        let counts = |arch| {
            [Profile::Passt, Profile::Pasta, Profile::PasstVhostUser]
                .map(|p| upstream(arch, p).len())
        };
        assert_eq!(counts(Arch::X86_64), [31, 41, 33]);
        assert_eq!(counts(Arch::Aarch64), [30, 40, 32]);
    }

    #[test]
    fn lists_stay_within_passts_budget() {
        for arch in Arch::ALL {
            for profile in [Profile::Pasta, Profile::Passt, Profile::PasstVhostUser] {
                // passt's own lists include its log file's calls, so ours must fit with them.
                let ours = names_on(arch, profile, true);
                let budget = upstream(arch, profile).len();
                println!(
                    "{} {profile:?}: {} (upstream {budget}; {} without a log file): {}",
                    arch.name(),
                    ours.len(),
                    names_on(arch, profile, false).len(),
                    ours.join(" ")
                );
                assert!(
                    ours.len() <= budget,
                    "{} {profile:?} allows {} syscalls, upstream {budget}",
                    arch.name(),
                    ours.len()
                );
                for log_file in [false, true] {
                    let list = names_on(arch, profile, log_file);
                    let mut sorted = list.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    assert_eq!(sorted.len(), list.len(), "duplicates");
                    for &forbidden in NEVER {
                        let absent = arch == Arch::Aarch64
                            && ABSENT_ON_AARCH64.iter().any(|(n, _)| *n == forbidden);
                        if !absent {
                            assert!(!list.contains(&forbidden), "{forbidden} allowed");
                        }
                    }
                    // Every name must exist on the architecture (the aarch64 build is
                    // the full check: `libc` has no constant for a missing one).
                    if arch == Arch::Aarch64 {
                        for n in &list {
                            assert!(!ABSENT_ON_AARCH64.iter().any(|(a, _)| a == n), "{n}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_log_files_calls_are_the_loggers() {
        let names: Vec<&str> = LOG_FILE.iter().map(|e| e.name).collect();
        assert_eq!(names, crate::log::FILE_SYSCALLS);
    }

    #[test]
    fn every_entry_has_its_number_here() {
        let native = Arch::NATIVE.is_some();
        for profile in [Profile::Pasta, Profile::Passt, Profile::PasstVhostUser] {
            for e in entries(profile, true) {
                assert_eq!(e.nr.is_some(), native, "{}", e.name);
            }
            assert_eq!(
                allowlist_for(profile, true).len(),
                entries(profile, true).len() * usize::from(native)
            );
        }
        // Spot check: epoll_pwait is 281 on x86_64, 22 in asm-generic's table.
        let expected = match Arch::NATIVE {
            Some(Arch::X86_64) => Some(281),
            Some(Arch::Aarch64) => Some(22),
            None => None,
        };
        assert_eq!((COMMON[0].name, COMMON[0].nr), ("epoll_pwait", expected));
    }
}
