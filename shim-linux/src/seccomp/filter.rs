//! The filter itself, on rust-vmm's `seccompiler` (which builds filters for x86_64,
//! aarch64 and riscv64 only, so this module exists only where we have lists).

use super::*;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use std::collections::BTreeMap;

/// seccompiler's name for `arch`.
fn target(arch: Arch) -> TargetArch {
    match arch {
        Arch::X86_64 => TargetArch::x86_64,
        Arch::Aarch64 => TargetArch::aarch64,
    }
}

/// `seccompiler`'s error as an `io::Error` of the kind of the `errno` inside, if
/// any (the original stays reachable through `get_ref`).
fn to_io(e: seccompiler::Error) -> io::Error {
    let kind = match &e {
        seccompiler::Error::Seccomp(os) | seccompiler::Error::Prctl(os) => os.kind(),
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

/// The program for `list` on `arch`: its architecture check, then one comparison
/// per allowed number (KillProcess for anything else).
fn compile(arch: Arch, list: &[Syscall]) -> io::Result<BpfProgram> {
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        list.iter().map(|s| (s.nr, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        target(arch),
    )
    .map_err(|e| to_io(e.into()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| to_io(e.into()))
}

/// The seccomp-BPF program for `profile` on this architecture (`Unsupported`
/// where there is no allowlist).
pub fn program(profile: Profile) -> io::Result<BpfProgram> {
    let arch = Arch::NATIVE.ok_or_else(unsupported)?;
    compile(arch, &allowlist(profile))
}

/// Apply the filter for `profile` to every thread (`Unsupported` on an
/// architecture without lists: the caller then refuses to run unconfined).
/// seccompiler sets no_new_privs first, which [`crate::isolation`] has done already.
pub(super) fn apply(profile: Profile) -> io::Result<()> {
    let program = program(profile)?;
    seccompiler::apply_filter_all_threads(&program).map_err(to_io)
}

/// Forked test children apply a filter and report back by exit status.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use rustix::process::WaitStatus;

    /// Exit status base of a child whose kernel refused the filter outright:
    /// `REFUSED + errno` (ENOSYS: no `seccomp(2)`, as under qemu-user; EINVAL: no
    /// filter mode).
    const REFUSED: i32 = 100;

    /// In a forked child: apply `profile`'s filter, or exit (see [`skipped`]).
    pub(crate) fn apply_or_exit(profile: Profile) {
        let _ = rustix::thread::set_no_new_privs(true);
        if let Err(e) = apply(profile) {
            let refused = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<seccompiler::Error>());
            match refused {
                Some(seccompiler::Error::Seccomp(os))
                    if matches!(os.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) =>
                {
                    std::process::exit(REFUSED + os.raw_os_error().unwrap_or(0));
                }
                _ => std::process::exit(3),
            }
        }
    }

    /// Whether the child's `status` says its kernel refused seccomp outright. That
    /// is a skip (printed, with the reason) only on an emulated architecture: on
    /// x86_64, where the tests run natively, it fails the test.
    pub(crate) fn skipped(status: &WaitStatus) -> bool {
        let errno = match status.exit_status() {
            Some(code) if code == REFUSED + libc::ENOSYS || code == REFUSED + libc::EINVAL => {
                code - REFUSED
            }
            _ => return false,
        };
        let why = io::Error::from_raw_os_error(errno);
        if cfg!(target_arch = "x86_64") {
            panic!("the kernel refused seccomp(2) on x86_64: {why}");
        }
        println!(
            "skipped: seccomp(2) refused ({why}): qemu-user cannot install a filter on \
             the process it emulates"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seccompiler::sock_filter;

    /// `AUDIT_ARCH_*` (`<linux/audit.h>`): `EM_*` | `__AUDIT_ARCH_64BIT` | `__AUDIT_ARCH_LE`.
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    const AUDIT_ARCH_AARCH64: u32 = 183 | 0x8000_0000 | 0x4000_0000;
    /// i386 (`int 0x80` on x86_64): `EM_386` | `__AUDIT_ARCH_LE`.
    const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
    /// `__X32_SYSCALL_BIT`: set in the number of every x32 ABI call.
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;

    fn audit_arch(arch: Arch) -> u32 {
        match arch {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// Runs a seccomp-BPF `program` on a call (`seccomp_data`'s `nr` and `arch`; the
    /// programs load nothing else) and returns its verdict. Knows the instructions
    /// seccompiler emits for rule-less filters.
    fn run(program: &[sock_filter], arch: u32, nr: u32) -> u32 {
        use libc::{BPF_ABS, BPF_JA, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = &program[pc];
            let code = u32::from(i.code);
            pc += 1;
            if code == BPF_LD | BPF_W | BPF_ABS {
                acc = match i.k {
                    0 => nr,
                    4 => arch,
                    k => panic!("load at offset {k}"),
                };
            } else if code == BPF_JMP | BPF_JEQ | BPF_K {
                pc += usize::from(if acc == i.k { i.jt } else { i.jf });
            } else if code == BPF_JMP | BPF_JA {
                pc += i.k as usize;
            } else if code == BPF_RET | BPF_K {
                return i.k;
            } else {
                panic!("unexpected instruction {code:#x} at {}", pc - 1);
            }
        }
    }

    /// The program for `profile` on `arch`, with made-up numbers (their names' index)
    /// where this build is for another architecture.
    fn program_on(arch: Arch, profile: Profile) -> (BpfProgram, Vec<Syscall>) {
        let list: Vec<Syscall> = if Arch::NATIVE == Some(arch) {
            allowlist_for(profile, true)
        } else {
            let names = names_on(arch, profile, true);
            names
                .into_iter()
                .zip(0..)
                .map(|(name, nr)| Syscall { name, nr })
                .collect()
        };
        (compile(arch, &list).unwrap(), list)
    }

    #[test]
    fn the_program_allows_the_list_and_kills_the_rest() {
        let kill = libc::SECCOMP_RET_KILL_PROCESS;
        let allow = libc::SECCOMP_RET_ALLOW;
        for arch in Arch::ALL {
            for profile in [Profile::Pasta, Profile::Passt, Profile::PasstVhostUser] {
                let (program, list) = program_on(arch, profile);
                let native = audit_arch(arch);
                let allowed = |nr: u32| list.iter().any(|s| s.nr == i64::from(nr));
                for s in &list {
                    assert_eq!(run(&program, native, s.nr as u32), allow, "{}", s.name);
                    // The same number through another ABI: the wrong audit
                    // architecture (i386 on x86_64; x86_64 on aarch64) is killed.
                    for other in [AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64] {
                        if other != native {
                            assert_eq!(run(&program, other, s.nr as u32), kill, "{}", s.name);
                        }
                    }
                    // x32 (x86_64's audit architecture, numbers with the x32 bit): no
                    // allowed number has the bit, so none can match.
                    assert_eq!(s.nr as u32 & X32_SYSCALL_BIT, 0, "{}", s.name);
                    let x32 = X32_SYSCALL_BIT | s.nr as u32;
                    assert_eq!(run(&program, native, x32), kill, "x32 {}", s.name);
                }
                for nr in (0..600).filter(|&nr| !allowed(nr)) {
                    assert_eq!(run(&program, native, nr), kill, "{nr}");
                }
                assert_eq!(run(&program, native, u32::MAX), kill);
            }
        }
    }

    /// In a forked child under passt's filter: write "ok", make `forbidden` call, write
    /// "alive". What reached the parent, and how the child ended.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn filtered_child(
        forbidden: impl FnOnce(&rustix::fd::OwnedFd),
    ) -> (Vec<u8>, rustix::process::WaitStatus) {
        let (r, w) = rustix::pipe::pipe().unwrap();
        match crate::sys::fork_daemon().unwrap() {
            None => {
                drop(r);
                testing::apply_or_exit(Profile::Passt);
                let _ = rustix::io::write(&w, b"ok");
                forbidden(&w);
                let _ = rustix::io::write(&w, b"alive");
                std::process::exit(0);
            }
            Some(child) => {
                drop(w);
                let mut seen = Vec::new();
                let mut buf = [0u8; 16];
                while let Ok(n @ 1..) = rustix::io::read(&r, &mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                }
                let (_, status) =
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
                        .unwrap()
                        .unwrap();
                (seen, status)
            }
        }
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn a_filtered_process_dies_on_a_forbidden_call_and_lives_otherwise() {
        // getppid is a plain system call (not vDSO) and not on the list: SIGSYS must
        // end the child, after the allowed write worked.
        let (seen, status) = filtered_child(|_| {
            let _ = rustix::process::getppid();
        });
        if testing::skipped(&status) {
            return;
        }
        assert_eq!(seen, b"ok", "allowed write went through, nothing after");
        assert_eq!(
            status.terminating_signal(),
            Some(libc::SIGSYS),
            "{status:?}"
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn an_x32_call_is_killed_though_its_number_is_allowed() {
        // write(2) through the x32 ABI (x86_64's number with the x32 bit): without the
        // filter the kernel would run it or say ENOSYS (x32 disabled); under it, the
        // number matches nothing allowed and SIGSYS ends the child before any byte.
        let (seen, status) = filtered_child(|w| {
            let _ = crate::sys::write_via_x32_abi(w, b"x32");
        });
        assert!(!testing::skipped(&status));
        assert_eq!(seen, b"ok", "only the native write went through");
        assert_eq!(
            status.terminating_signal(),
            Some(libc::SIGSYS),
            "{status:?}"
        );
    }

    #[test]
    fn each_profiles_datagram_batches_go_out_under_its_own_filter() {
        // Under each profile's filter, a batch of guest datagrams (a GSO run and odd
        // sizes) sent the way that process sends them must arrive whole: passt's list
        // has no sendmmsg, so a sendmmsg there would be SIGSYS.
        use crate::dgram::testing::{connected_pair, numbered_queue, received_in_order};
        use std::os::fd::AsFd;
        let sizes = [1400, 1400, 1400, 1400, 90, 0, 7];
        for profile in [Profile::Pasta, Profile::Passt, Profile::PasstVhostUser] {
            let (tx, rx) = connected_pair();
            let mut q = numbered_queue(&sizes, profile.send_call());
            let status = match crate::sys::fork_daemon().unwrap() {
                None => {
                    testing::apply_or_exit(profile);
                    q.flush(Some(tx.as_fd()));
                    std::process::exit(if q.sent == sizes.len() as u64 { 0 } else { 2 });
                }
                Some(child) => {
                    rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
                        .unwrap()
                        .unwrap()
                        .1
                }
            };
            if testing::skipped(&status) {
                return;
            }
            assert_eq!(status.exit_status(), Some(0), "{profile:?}: {status:?}");
            assert_eq!(received_in_order(&rx), sizes, "{profile:?}");
        }
    }
}
