//! Isolation after set-up, before the event loop (passt-reference §9.1, in this order):
//! detach from the mount, IPC and UTS namespaces; `pivot_root` into an empty, read-only
//! tmpfs so no file is reachable; switch to the `--runas` user (root in the initial
//! user namespace becomes `nobody`, passt-reference §1.2); drop every capability
//! (keeping `CAP_NET_BIND_SERVICE` only if we have it); forbid privilege gain and core
//! dumps; then the seccomp allowlist for the mode, applied to every thread.
//!
//! Credentials are per thread for the kernel: [`switch_user`] changes the calling
//! thread's only, so every other thread (pasta's namespace helper) must call it too.
//!
//! Whatever needs the file system afterwards must be opened before: log and pcap
//! files, `/proc/net/tcp*` for `auto`, the attached namespace's directory.

use crate::seccomp::{self, Profile};
use crate::sys;
use rustix::mount::{self, MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::thread::{CapabilitySet, CapabilitySets, UnshareFlags};
use std::io;

/// What [`isolate`] managed; the parts that need privileges degrade to warnings.
#[derive(Debug, Default)]
pub struct Isolated {
    /// The file system is gone (new mount namespace + pivot_root).
    pub no_filesystem: bool,
    /// Why the file-system part was skipped, if it was.
    pub filesystem_skipped: Option<String>,
}

/// The user and group to run as (`--runas`, already resolved to numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// Switch the calling thread to `to`: supplementary groups dropped (`EPERM`, without
/// the right to, tolerated as passt does), then the group, then the user (real,
/// effective and saved IDs: there is no way back). Leaving UID 0 clears the thread's
/// capabilities.
pub fn switch_user(to: RunAs) -> io::Result<()> {
    use rustix::process::{Gid, Uid};
    match rustix::thread::set_thread_groups(&[]) {
        Ok(()) | Err(rustix::io::Errno::PERM) => {}
        Err(e) => {
            return Err(io::Error::other(format!(
                "Can't drop supplementary groups: {e}"
            )))
        }
    }
    rustix::thread::set_thread_gid(Gid::from_raw(to.gid))
        .map_err(|e| io::Error::other(format!("Can't set GID to {}: {e}", to.gid)))?;
    rustix::thread::set_thread_uid(Uid::from_raw(to.uid))
        .map_err(|e| io::Error::other(format!("Can't set UID to {}: {e}", to.uid)))?;
    Ok(())
}

/// Become unprivileged and blind. `own_userns` creates a user namespace first when we
/// are not already inside one we own (passt run by an ordinary user), which gives the
/// rights the mount steps need. `runas` is the user to switch to, if any: before that
/// user namespace is made (it then belongs to that user, as in passt), or else after
/// the file system is gone (which needs the privileges we are about to give up). The
/// seccomp filter and the user switch are not optional: their errors are returned.
pub fn isolate(profile: Profile, own_userns: bool, runas: Option<RunAs>) -> io::Result<Isolated> {
    let mut done = Isolated::default();
    if let (true, Some(to)) = (own_userns, runas) {
        switch_user(to)?;
    }
    match detach_filesystem(own_userns) {
        Ok(()) => done.no_filesystem = true,
        Err(e) => done.filesystem_skipped = Some(e.to_string()),
    }
    if let (false, Some(to)) = (own_userns, runas) {
        // The bounding set can only be emptied while CAP_SETPCAP is still ours.
        clear_bounding_set();
        switch_user(to)?;
    }
    drop_capabilities()?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    rustix::thread::set_no_new_privs(true)?;
    // rustix finds the vDSO lazily on the first clock read (through prctl(PR_GET_AUXV),
    // which the filter refuses): make that first read now.
    let _ = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    seccomp::apply(profile)?;
    Ok(done)
}

fn detach_filesystem(own_userns: bool) -> io::Result<()> {
    if own_userns {
        let uid = rustix::process::getuid().as_raw();
        let gid = rustix::process::getgid().as_raw();
        sys::unshare_namespaces(UnshareFlags::NEWUSER)?;
        // Map ourselves to root in the new namespace (failures leave us unmapped,
        // which only makes the later steps fail: reported as skipped).
        let _ = std::fs::write("/proc/self/setgroups", "deny");
        let _ = std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"));
        let _ = std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"));
    }
    sys::unshare_namespaces(UnshareFlags::NEWNS | UnshareFlags::NEWIPC | UnshareFlags::NEWUTS)?;
    // Nothing we do from here on may propagate back to the host's mounts.
    mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )?;
    // An empty tmpfs that can hold nothing (no inodes, no blocks) becomes the root.
    mount::mount(
        "",
        "/tmp",
        "tmpfs",
        MountFlags::NODEV | MountFlags::NOEXEC | MountFlags::NOSUID | MountFlags::RDONLY,
        Some(c"nr_inodes=2,nr_blocks=0"),
    )?;
    rustix::process::chdir("/tmp")?;
    rustix::process::pivot_root(".", ".")?;
    mount::unmount(".", UnmountFlags::DETACH)?;
    rustix::process::chdir("/")?;
    Ok(())
}

fn drop_capabilities() -> io::Result<()> {
    let current = rustix::thread::capabilities(None)?;
    // Binding ports below 1024 for `auto` forwarding may still need this one.
    let keep = current.effective & CapabilitySet::NET_BIND_SERVICE;
    clear_bounding_set();
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        },
    )?;
    Ok(())
}

/// Clear the bounding set (best effort: it needs CAP_SETPCAP), so nothing we exec could
/// regain capabilities — we exec nothing, but the set costs nothing to empty.
fn clear_bounding_set() {
    for bit in 0..64u32 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if cap != CapabilitySet::NET_BIND_SERVICE {
            let _ = rustix::thread::remove_capability_from_bounding_set(cap);
        }
    }
}
