//! Files and sockets only our user may open: passt's UNIX socket (`-s`, also with
//! `--vhost-user`), pasta's control socket (`-c`) and the PID (`-P`), log (`-l`) and
//! capture (`-p`) files. Each is owner-only (0600) from the moment it appears on the
//! file system, and a symbolic link planted at its path is never followed.
//!
//! * Sockets: the mode of a socket file is fixed at `bind()`: Linux gives it the mode
//!   of the socket's own (sockfs) inode minus the umask. We `fchmod()` the still
//!   unbound socket to 0600 rather than set a 0077 umask around `bind()`: the umask is
//!   shared by every thread of the process, and pasta binds its control socket after
//!   its namespace helper thread is running, so a temporary umask would race with
//!   whatever that thread creates; `fchmod()` changes this one socket only. `bind()`
//!   itself never follows a symbolic link (the final component must not exist); the
//!   callers remove a stale *socket* first and refuse anything else at the path.
//! * Files: created with mode 0600 and `O_NOFOLLOW`. Not `O_EXCL`: callers hand us
//!   paths that already exist and expect them reused — QEMU creates the `--pid` file
//!   itself (`g_file_open_tmp`) before it starts passt, and a PID, log or capture file
//!   left by an earlier run is overwritten, as passt does (`O_CREAT | O_TRUNC`, 0600),
//!   keeping the inode (and any label set on it). So an existing file is taken only if it is a regular
//!   file, owned by our effective user and not hard-linked elsewhere (checked with
//!   `fstat()` on the open descriptor, so a swap after the check cannot matter); it is
//!   then set to 0600 and only then emptied. Opened with `O_NONBLOCK`, so a FIFO
//!   planted at the path makes the open fail or be refused instead of blocking.
//!
//! Directories along a path are not checked: a path through a directory another user
//! can write to is as safe as that directory (the sticky `/tmp` keeps others from
//! replacing our files there).

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// The mode of everything created here: read and write for our user only.
pub const MODE: u32 = 0o600;

/// Open `path` for writing (and reading, with `read`) as an empty regular file only
/// our user can open: created with mode 0600, or an existing file of ours reused
/// (set to 0600, then truncated). A symbolic link, a non-regular file, a file owned by
/// another user or one with other hard links is refused.
pub fn create_file(path: &Path, read: bool) -> io::Result<File> {
    let access = if read { OFlags::RDWR } else { OFlags::WRONLY };
    let flags = access | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(MODE)).map_err(|e| {
        if e == Errno::LOOP && is_symlink(path) {
            symlink_refused()
        } else {
            io::Error::from(e)
        }
    })?;
    let st = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(refused("not a regular file"));
    }
    let us = rustix::process::geteuid().as_raw();
    if st.st_uid != us {
        return Err(refused(&format!(
            "owned by another user (uid {}), not us (uid {us})",
            st.st_uid
        )));
    }
    if st.st_nlink > 1 {
        return Err(refused("the file has other hard links"));
    }
    // Tighten a reused file before emptying it: nothing new is written while others
    // could still open it. (A new file already has 0600 minus the umask.)
    if st.st_mode & 0o7777 != MODE {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(MODE))?;
    }
    rustix::fs::ftruncate(&fd, 0)?;
    // Blocking again: O_NONBLOCK was for the open alone (regular files ignore it).
    let fl = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK)?;
    Ok(File::from(fd))
}

/// A UNIX stream socket (close-on-exec) bound at `addr`, its file created with mode
/// 0600 (minus the umask): no other user can `connect()` to it, at any moment. The
/// caller listens. Fails with `EADDRINUSE` if anything, a symbolic link included, is
/// at the path already (see [`remove_stale_socket`]).
pub fn bind_unix_stream(addr: &SocketAddrUnix) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // Before bind(): the socket file takes its mode from this inode (module docs).
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(MODE))?;
    net::bind(&fd, addr)?;
    Ok(fd)
}

/// What is at a path where we are about to bind a socket (without following a
/// symbolic link there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtPath {
    /// Nothing: free to bind.
    Nothing,
    /// A socket (perhaps stale, perhaps in use).
    Socket,
    /// A symbolic link: never followed, never removed.
    Symlink,
    /// Any other kind of file: left alone.
    Other,
}

/// Look at `path` without following a symbolic link.
pub fn at_path(path: &Path) -> io::Result<AtPath> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(AtPath::Nothing),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_socket() => Ok(AtPath::Socket),
        Ok(m) if m.file_type().is_symlink() => Ok(AtPath::Symlink),
        Ok(_) => Ok(AtPath::Other),
    }
}

/// Remove a stale socket at `path` so that a new one can be bound there; nothing there
/// is fine too. A symbolic link or any other file is refused and left in place.
/// (`unlink()` never follows a symbolic link, so a link swapped in after the check is
/// removed itself, not its target; `bind()` then creates a fresh socket.)
pub fn remove_stale_socket(path: &Path) -> io::Result<()> {
    match at_path(path)? {
        AtPath::Nothing => Ok(()),
        AtPath::Socket => match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        AtPath::Symlink => Err(symlink_refused()),
        AtPath::Other => Err(refused("file exists and is not a socket")),
    }
}

/// The error for a symbolic link at one of our paths.
pub fn symlink_refused() -> io::Error {
    refused("a symbolic link is there, not followed")
}

fn refused(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why.to_string())
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("passt-owner-only-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_0600_and_ours() {
        let dir = scratch("new");
        let p = dir.join("f");
        let mut f = create_file(&p, false).unwrap();
        f.write_all(b"x").unwrap();
        assert_eq!(mode(&p), 0o600);
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.uid(), rustix::process::geteuid().as_raw());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_existing_file_of_ours_is_tightened_then_emptied() {
        let dir = scratch("existing");
        let p = dir.join("f");
        std::fs::write(&p, "stale contents").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = create_file(&p, true).unwrap();
        assert_eq!(mode(&p), 0o600);
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "", "truncated");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symlink_is_not_followed_and_its_target_untouched() {
        let dir = scratch("symlink");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = dir.join("f");
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let e = create_file(&p, false).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A dangling link is not followed either (O_CREAT would create its target).
        let dangling = dir.join("g");
        std::os::unix::fs::symlink(dir.join("would-be-created"), &dangling).unwrap();
        assert!(create_file(&dangling, false).is_err());
        assert!(!dir.join("would-be-created").exists());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(mode(&victim), 0o644);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_fifo_a_directory_and_a_hard_link_are_refused() {
        let dir = scratch("special");
        let fifo = dir.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert!(create_file(&fifo, true).is_err(), "FIFO, read-write");
        assert!(create_file(&fifo, false).is_err(), "FIFO, write-only");
        assert!(create_file(&dir, false).is_err(), "directory");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::hard_link(&victim, dir.join("link")).unwrap();
        assert!(create_file(&dir.join("link"), false).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_socket_is_bound_0600() {
        let dir = scratch("socket");
        let p = dir.join("s");
        // Without the fchmod the file would be 0777 minus the umask (0755 with the
        // usual 022). The umask is not changed here: tests run in parallel threads.
        let _fd = bind_unix_stream(&SocketAddrUnix::new(p.as_path()).unwrap()).unwrap();
        assert_eq!(mode(&p), 0o600);
        assert_eq!(at_path(&p).unwrap(), AtPath::Socket);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_a_stale_socket_is_removed() {
        let dir = scratch("stale");
        let sock = dir.join("s");
        drop(bind_unix_stream(&SocketAddrUnix::new(sock.as_path()).unwrap()).unwrap());
        remove_stale_socket(&sock).unwrap();
        assert_eq!(at_path(&sock).unwrap(), AtPath::Nothing);
        remove_stale_socket(&sock).unwrap();

        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.join("l");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(remove_stale_socket(&link).is_err());
        assert!(remove_stale_socket(&victim).is_err());
        assert_eq!(at_path(&link).unwrap(), AtPath::Symlink);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // bind() on the link fails rather than follow it.
        let e = bind_unix_stream(&SocketAddrUnix::new(link.as_path()).unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
