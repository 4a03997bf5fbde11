//! The control socket (`-c PATH`): forwards added and removed while pasta runs, by
//! our `pesto` client (`doc/control-socket.md` describes the protocol and why it is
//! ours rather than upstream pesto's).
//!
//! A UNIX stream socket, mode 0600. On connection the server sends [`HELLO`]; the
//! client then sends request lines (at most [`MAX_LINE`] bytes each):
//!
//! ```text
//! add t|T|u|U SPEC     delete t|T|u|U SPEC     clear t|T|u|U     show     stats
//! ```
//!
//! and gets, per request, `ok N` (sockets opened / ranges removed) or `error TEXT`,
//! preceded for `show` by one line per forwarded range, for `stats` by one line of
//! flow counts (the soak test samples it every second). SPEC is pasta's `-t` grammar
//! with an explicit port list, plus podman's target address form
//! `HOST/PORTS:TARGET/TPORTS` (a host address is then required, IPv6 ones may be
//! bracketed). A change is all or nothing (`passt_core::fwd::runtime`).
//!
//! Everything runs in the event loop without allocating: one client at a time (a
//! second one is told `error busy` and closed), fixed buffers, a deadline of
//! [`CLIENT_TIMEOUT`] per connection so a stalled client can't hold the socket.

use crate::event_loop::{now, WAKE_TOKEN};
use crate::host::LinuxHost;
use passt_core::fwd::PortForwards;
use passt_core::{Engine, Instant};
use rustix::event::epoll;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// First line the server sends: protocol name and version.
pub const HELLO: &str = "passt-rs-control 1";
/// Longest request line, newline excluded.
pub const MAX_LINE: usize = 512;
/// How long one client connection may last.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

mod requests;
pub use requests::{handle, strip_target, HostDescriptors, Request};

/// The listening control socket and its one client.
pub struct ControlServer {
    listener: UnixListener,
    client: Option<Client>,
    /// Ranges of the request being applied (preallocated: a table is ~5 KiB).
    scratch: Box<PortForwards>,
    /// Our effective user ID, read at bind time: the event loop runs under seccomp,
    /// which does not allow `geteuid()`.
    uid: u32,
}

struct Client {
    stream: UnixStream,
    buf: [u8; MAX_LINE + 1],
    len: usize,
    deadline: Instant,
}

impl ControlServer {
    /// Listen at `path` (a stale socket there is replaced; a symbolic link or any
    /// other file is an error, left in place), mode 0600 from the moment the socket
    /// file exists: only our user can connect
    /// ([`crate::owner_only::bind_unix_stream`]).
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        crate::owner_only::remove_stale_socket(path)?;
        let addr = rustix::net::SocketAddrUnix::new(path)?;
        let fd = crate::owner_only::bind_unix_stream(&addr)?;
        rustix::net::listen(&fd, 128)?;
        let listener = UnixListener::from(fd);
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            listener,
            client: None,
            scratch: Box::default(),
            uid: rustix::process::geteuid().as_raw(),
        })
    }

    /// The descriptor to wake the loop on (new connections).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Something woke the loop: take a new connection, serve the client's requests.
    pub fn poll<G: crate::event_loop::GuestSource>(
        &mut self,
        engine: &mut Engine<'_>,
        host: &mut LinuxHost<G>,
    ) {
        self.accept(host);
        self.serve(engine, host);
    }

    /// End a client that has outlived [`CLIENT_TIMEOUT`]; call about once a second.
    pub fn expire<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        if self.client.as_ref().is_some_and(|c| now() >= c.deadline) {
            crate::log_debug!("Control client timed out");
            self.drop_client(host);
        }
    }

    fn accept<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        // Bounded: level-triggered wakeups bring us back for the rest.
        for _ in 0..8 {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(_) => return,
            };
            if !peer_allowed(&stream, self.uid) {
                crate::log_warn!("Control connection from another user refused");
                continue;
            }
            if self.client.is_some() {
                let _ = (&stream).write_all(b"error busy: another client is connected\n");
                continue;
            }
            let registered = stream.set_nonblocking(true).is_ok()
                && (&stream).write_all(HELLO.as_bytes()).is_ok()
                && (&stream).write_all(b"\n").is_ok()
                && epoll::add(
                    host.epoll(),
                    &stream,
                    epoll::EventData::new_u64(WAKE_TOKEN),
                    epoll::EventFlags::IN | epoll::EventFlags::RDHUP,
                )
                .is_ok();
            if registered {
                self.client = Some(Client {
                    stream,
                    buf: [0; MAX_LINE + 1],
                    len: 0,
                    deadline: now() + CLIENT_TIMEOUT,
                });
            }
        }
    }

    fn serve<G: crate::event_loop::GuestSource>(
        &mut self,
        engine: &mut Engine<'_>,
        host: &mut LinuxHost<G>,
    ) {
        let Some(c) = self.client.as_mut() else {
            return;
        };
        let mut done = false;
        loop {
            if c.len == c.buf.len() {
                let _ = (&c.stream).write_all(b"error request line too long\n");
                done = true;
                break;
            }
            match (&c.stream).read(&mut c.buf[c.len..]) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    done = true;
                    break;
                }
            }
            while let Some(nl) = c.buf[..c.len].iter().position(|&b| b == b'\n') {
                let held = HostDescriptors {
                    sockets: host.open_sockets(),
                    pipes: host.open_pipes(),
                };
                let mut reply = [0u8; 256];
                let mut out = io::Cursor::new(&mut reply[..]);
                match std::str::from_utf8(&c.buf[..nl]) {
                    Ok(line) => {
                        let line = line.trim_end_matches('\r');
                        handle(
                            line,
                            &mut self.scratch,
                            engine,
                            host,
                            Some(held),
                            &mut &c.stream,
                            &mut out,
                        );
                    }
                    Err(_) => {
                        let _ = writeln!(out, "error request is not UTF-8");
                    }
                }
                let n = out.position() as usize;
                if (&c.stream).write_all(&reply[..n]).is_err() {
                    done = true;
                }
                c.buf.copy_within(nl + 1..c.len, 0);
                c.len -= nl + 1;
            }
            if done {
                break;
            }
        }
        if done {
            self.drop_client(host);
        }
    }

    fn drop_client<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        if let Some(c) = self.client.take() {
            let _ = epoll::delete(host.epoll(), &c.stream);
        }
    }
}

/// Only our own user (`us`) or root may change forwards.
fn peer_allowed(stream: &UnixStream, us: u32) -> bool {
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) => {
            let uid = cred.uid.as_raw();
            uid == 0 || uid == us
        }
        Err(_) => false,
    }
}
