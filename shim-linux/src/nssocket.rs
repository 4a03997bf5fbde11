//! Opening sockets and `/proc/net` files inside the guest's network namespace (pasta's
//! `-T` listeners, the far ends of spliced connections, `auto` port scanning).
//!
//! A socket belongs to the network namespace of the thread that creates it, and a
//! `/proc/net` file describes the namespace of the thread that opens it; everything
//! after that (bind, connect, I/O, reads) works from any thread. So one helper thread
//! enters the namespace once and serves requests; the event loop's thread never leaves
//! the host namespace. Requests and replies travel over two bounded channels made at
//! start, so a request allocates nothing.

use crate::netns::NetnsHandle;
use rustix::net::{self, AddressFamily, Protocol, SocketFlags, SocketType};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long each side of the warm-up in [`NsSocketFactory::start`] makes the other
/// wait: a channel spins for microseconds before it blocks.
const WARM_UP_WAIT: Duration = Duration::from_millis(1);

/// What the helper thread is asked for.
enum Request {
    /// Create a non-blocking socket.
    Socket(AddressFamily, SocketType, Option<Protocol>),
    /// Open a file whose content depends on the namespace (set-up only: allocates).
    Open(PathBuf),
    /// Switch the helper thread to another user (`--runas`).
    SwitchUser(crate::isolation::RunAs),
    /// Wait this long, then answer (set-up only: see [`NsSocketFactory::start`]).
    Pause(Duration),
}

/// The helper thread's answer.
enum Reply {
    Socket(io::Result<OwnedFd>),
    File(io::Result<File>),
    Done(io::Result<()>),
}

/// Creates sockets and opens files in one network namespace, from a helper thread
/// living there.
pub struct NsSocketFactory {
    requests: mpsc::SyncSender<Request>,
    replies: mpsc::Receiver<Reply>,
}

impl std::fmt::Debug for NsSocketFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NsSocketFactory")
    }
}

fn gone<T>(_: T) -> io::Error {
    io::Error::other("the namespace helper thread is gone")
}

fn out_of_turn() -> io::Error {
    io::Error::other("namespace helper answered out of turn")
}

impl NsSocketFactory {
    /// Start the helper thread inside `netns`.
    pub fn start(netns: NetnsHandle) -> io::Result<NsSocketFactory> {
        let (req_tx, req_rx) = mpsc::sync_channel::<Request>(1);
        let (rep_tx, rep_rx) = mpsc::sync_channel::<Reply>(1);
        let (ready_tx, ready_rx) = mpsc::sync_channel::<io::Result<()>>(1);
        thread::Builder::new()
            .name("netns-helper".into())
            .spawn(move || {
                let entered = netns.enter();
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                for request in req_rx {
                    let reply = match request {
                        Request::Socket(af, ty, proto) => {
                            let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                            Reply::Socket(
                                net::socket_with(af, ty, flags, proto).map_err(io::Error::from),
                            )
                        }
                        Request::Open(path) => Reply::File(File::open(path)),
                        Request::SwitchUser(to) => Reply::Done(crate::isolation::switch_user(to)),
                        Request::Pause(wait) => {
                            thread::sleep(wait);
                            Reply::Done(Ok(()))
                        }
                    };
                    if rep_tx.send(reply).is_err() {
                        return;
                    }
                }
            })?;
        ready_rx.recv().map_err(gone)??;
        let factory = NsSocketFactory {
            requests: req_tx,
            replies: rep_rx,
        };
        // The first receive on a thread that blocks allocates (a thread-local waiter
        // context, the channel's waiter list): get that done now, during set-up, and
        // not on the first spliced connection in the event loop. A receive that finds
        // its message already there doesn't block, and on a busy machine round trips
        // alone may never block (a CI run counted one allocation after start-up), so
        // each side is made to wait once: we for a reply the helper delays, the helper
        // for a request we delay.
        factory.pause(WARM_UP_WAIT)?;
        thread::sleep(WARM_UP_WAIT);
        drop(factory.socket(AddressFamily::INET, SocketType::DGRAM, None)?);
        Ok(factory)
    }

    /// A non-blocking socket created inside the namespace.
    pub fn socket(
        &self,
        af: AddressFamily,
        ty: SocketType,
        proto: Option<Protocol>,
    ) -> io::Result<OwnedFd> {
        match self.ask(Request::Socket(af, ty, proto))? {
            Reply::Socket(r) => r,
            _ => Err(out_of_turn()),
        }
    }

    /// Open `path` from inside the namespace.
    pub fn open_file(&self, path: &Path) -> io::Result<File> {
        match self.ask(Request::Open(path.to_path_buf()))? {
            Reply::File(r) => r,
            _ => Err(out_of_turn()),
        }
    }

    /// Switch the helper thread to the user `to` (credentials are per thread: the
    /// caller switches its own).
    pub fn switch_user(&self, to: crate::isolation::RunAs) -> io::Result<()> {
        self.done(Request::SwitchUser(to))
    }

    /// Have the helper wait `wait` before it answers.
    fn pause(&self, wait: Duration) -> io::Result<()> {
        self.done(Request::Pause(wait))
    }

    /// Send `request` and wait for the helper's reply.
    fn ask(&self, request: Request) -> io::Result<Reply> {
        self.requests.send(request).map_err(gone)?;
        self.replies.recv().map_err(gone)
    }

    /// [`NsSocketFactory::ask`] for a request answered by [`Reply::Done`].
    fn done(&self, request: Request) -> io::Result<()> {
        match self.ask(request)? {
            Reply::Done(r) => r,
            _ => Err(out_of_turn()),
        }
    }
}
