//! The seccomp allowlists (passt-reference §9.2): after set-up, the event loop may
//! only make the system calls listed here; anything else kills the process.
//!
//! One list per mode. Both are built from what the event loop does (traced with
//! strace over the lab workloads) and kept within passt's own budget (41 system
//! calls for pasta, 31 for passt on x86_64, log file included); `tests` enforce the budget and
//! `allowlist_names` prints them.

/// A syscall the event loop may make, by name and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    /// Name, as in `syscalls(2)`.
    pub name: &'static str,
    /// Number on this architecture.
    pub nr: i64,
}

macro_rules! syscalls {
    ($($name:ident),* $(,)?) => {
        &[$(Syscall { name: stringify!($name), nr: libc::$name as i64 }),*]
    };
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

/// Calls both programs make in their loops.
#[cfg(target_arch = "x86_64")]
const COMMON: &[Syscall] = syscalls![
    // The loop itself, the guest link, time.
    SYS_epoll_pwait, // rustix's epoll::wait (never plain epoll_wait)
    SYS_epoll_ctl,
    SYS_read,
    SYS_write,
    SYS_clock_gettime,
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
#[cfg(target_arch = "x86_64")]
const PASTA: &[Syscall] = syscalls![
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
#[cfg(target_arch = "x86_64")]
const PASST: &[Syscall] = &[];

/// passt with `--vhost-user`: the front end's requests come with descriptors
/// (memory regions, kick and call eventfds; replies go by `sendmsg`, common), each
/// front end gets epoll sets of its own (`crate::vhost_user::VhostUserLink`), and a
/// memory region is checked against its file's size (`lseek`, also the log file's).
#[cfg(target_arch = "x86_64")]
const PASST_VHOST_USER: &[Syscall] = syscalls![
    SYS_recvmsg,       // requests, with the front end's descriptors
    SYS_epoll_create1, // each front end's epoll sets
    SYS_lseek,         // a memory region must lie within its file
];

/// Only with a log file (`-l`): its rotation repositions and shrinks the file
/// ([`crate::log::FILE_SYSCALLS`]).
#[cfg(target_arch = "x86_64")]
const LOG_FILE: &[Syscall] = syscalls![SYS_lseek, SYS_ftruncate];

/// The allowlist for `profile` on this architecture (empty where unsupported), plus
/// `lseek` and `ftruncate` (`LOG_FILE`) when the process logs to a file.
pub fn allowlist(profile: Profile) -> Vec<Syscall> {
    allowlist_for(profile, crate::log::has_file())
}

/// The allowlist for `profile`, with or without a log file.
pub fn allowlist_for(profile: Profile, log_file: bool) -> Vec<Syscall> {
    #[cfg(target_arch = "x86_64")]
    {
        let extra = match profile {
            Profile::Pasta => PASTA,
            Profile::Passt => PASST,
            Profile::PasstVhostUser => PASST_VHOST_USER,
        };
        let log: &[Syscall] = if log_file { LOG_FILE } else { &[] };
        let mut list: Vec<Syscall> = COMMON.iter().chain(extra).copied().collect();
        list.extend(log.iter().filter(|s| !extra.contains(s)));
        list
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (profile, log_file);
        Vec::new()
    }
}

/// The names on the allowlist, for printing.
pub fn allowlist_names(profile: Profile) -> Vec<&'static str> {
    allowlist(profile).iter().map(|s| s.name).collect()
}

/// `seccomp_data` field offsets (`<linux/seccomp.h>`).
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
/// `AUDIT_ARCH_X86_64`.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
/// System calls of the x32 ABI carry this bit; none is allowed.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// The classic-BPF program: check the architecture, refuse the x32 ABI, allow the
/// listed numbers, kill the process on anything else.
pub fn program(profile: Profile) -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let list = allowlist(profile);
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    let allow = libc::SECCOMP_RET_ALLOW;
    let mut p = Vec::with_capacity(list.len() + 8);
    #[cfg(target_arch = "x86_64")]
    {
        p.push(stmt(BPF_LD | BPF_W | BPF_ABS, DATA_ARCH));
        p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0));
        p.push(stmt(BPF_RET | BPF_K, kill));
    }
    p.push(stmt(BPF_LD | BPF_W | BPF_ABS, DATA_NR));
    p.push(jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
    p.push(stmt(BPF_RET | BPF_K, kill));
    // One comparison per allowed call: jump to the final ALLOW on a match. The
    // distance to it shrinks by one per entry.
    let n = list.len();
    for (i, s) in list.iter().enumerate() {
        let to_allow = (n - i) as u8; // skips the remaining compares and the KILL
        p.push(jump(BPF_JMP | BPF_JEQ | BPF_K, s.nr as u32, to_allow, 0));
    }
    p.push(stmt(BPF_RET | BPF_K, kill));
    p.push(stmt(BPF_RET | BPF_K, allow));
    p
}

/// Apply the filter for `profile` to every thread. Requires no_new_privs.
pub fn apply(profile: Profile) -> std::io::Result<()> {
    if allowlist(profile).is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "no seccomp allowlist for this architecture",
        ));
    }
    crate::sys::install_seccomp(&program(profile))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn lists_stay_within_passts_budget() {
        // passt's own lists include its log file's calls, so ours must fit with them.
        let names =
            |p, log| -> Vec<&str> { allowlist_for(p, log).iter().map(|s| s.name).collect() };
        let pasta = names(Profile::Pasta, true);
        let passt = names(Profile::Passt, true);
        let vhost = names(Profile::PasstVhostUser, true);
        println!("pasta ({}): {}", pasta.len(), pasta.join(" "));
        println!("passt ({}): {}", passt.len(), passt.join(" "));
        println!("passt --vhost-user ({}): {}", vhost.len(), vhost.join(" "));
        assert!(pasta.len() <= 41, "pasta allows {} syscalls", pasta.len());
        assert!(passt.len() <= 31, "passt allows {} syscalls", passt.len());
        // Upstream's vhost-user profile is its passt list plus what vhost_user.c and
        // tcp_vu.c mark `#syscalls:vu`: mmap and munmap (sendmsg, getsockname and
        // recvmsg are in its passt list already), so 31 + 2.
        assert!(
            vhost.len() <= 33,
            "vhost-user allows {} syscalls",
            vhost.len()
        );
        let (pasta_quiet, passt_quiet) =
            (names(Profile::Pasta, false), names(Profile::Passt, false));
        for list in [&pasta, &passt, &vhost, &pasta_quiet, &passt_quiet] {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "duplicates");
            // Never: new processes, new programs, files, ptrace, mounts.
            for forbidden in [
                "SYS_execve",
                "SYS_clone",
                "SYS_clone3",
                "SYS_fork",
                "SYS_openat",
                "SYS_open",
                "SYS_ptrace",
                "SYS_mount",
            ] {
                assert!(!list.contains(&forbidden), "{forbidden} allowed");
            }
        }
    }

    #[test]
    fn jumps_land_on_allow() {
        let p = program(Profile::Passt);
        let allow = p.len() - 1;
        let first = p
            .iter()
            .position(|i| i.jt != 0 && i.k as i64 == allowlist(Profile::Passt)[0].nr)
            .unwrap();
        for (i, ins) in p
            .iter()
            .enumerate()
            .skip(first)
            .take(allowlist(Profile::Passt).len())
        {
            assert_eq!(i + 1 + ins.jt as usize, allow, "entry {i}");
        }
    }

    #[test]
    fn a_filtered_process_dies_on_a_forbidden_call_and_lives_otherwise() {
        // In a forked child: apply the passt filter, then make an allowed call and
        // a forbidden one (getpid). SIGSYS must end it, after the allowed call worked.
        let (r, w) = rustix::pipe::pipe().unwrap();
        match crate::sys::fork_daemon().unwrap() {
            None => {
                drop(r);
                let _ = rustix::thread::set_no_new_privs(true);
                if apply(Profile::Passt).is_err() {
                    std::process::exit(3);
                }
                let _ = rustix::io::write(&w, b"ok");
                // getppid is a plain system call (not vDSO) and not on the list.
                let _ = rustix::process::getppid();
                std::process::exit(0);
            }
            Some(child) => {
                drop(w);
                let mut buf = [0u8; 2];
                let n = rustix::io::read(&r, &mut buf).unwrap();
                assert_eq!(&buf[..n], b"ok", "allowed write went through");
                let (_, status) =
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
                        .unwrap()
                        .unwrap();
                assert_eq!(
                    status.terminating_signal(),
                    Some(libc::SIGSYS),
                    "{status:?}"
                );
            }
        }
    }
}
