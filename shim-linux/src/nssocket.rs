//! Opening sockets and `/proc/net` files inside the guest's network namespace (pasta's
//! `-T` listeners, the far ends of spliced connections, `auto` port scanning).
//!
//! A socket belongs to the network namespace of the thread that creates it, and a
//! `/proc/net` file describes the namespace of the thread that opens it; everything
//! after that (bind, connect, I/O, reads) works from any thread. So one helper thread
//! enters the namespace once and serves requests; the event loop's thread never leaves
//! the host namespace.

use crate::netns::NetnsHandle;
use rustix::net::{self, AddressFamily, Protocol, SocketFlags, SocketType};
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

/// What the helper thread is asked for.
enum Request {
    /// Create a non-blocking socket.
    Socket(
        AddressFamily,
        SocketType,
        Option<Protocol>,
        mpsc::SyncSender<io::Result<OwnedFd>>,
    ),
    /// Open a file whose content depends on the namespace.
    Open(PathBuf, mpsc::SyncSender<io::Result<File>>),
}

/// Creates sockets and opens files in one network namespace, from a helper thread
/// living there.
#[derive(Debug)]
pub struct NsSocketFactory {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Request::Socket(..) => f.write_str("Socket"),
            Request::Open(p, _) => write!(f, "Open({})", p.display()),
        }
    }
}

fn gone<T>(_: T) -> io::Error {
    io::Error::other("the namespace helper thread is gone")
}

impl NsSocketFactory {
    /// Start the helper thread inside `netns`.
    pub fn start(netns: NetnsHandle) -> io::Result<NsSocketFactory> {
        let (tx, rx) = mpsc::channel::<Request>();
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
                for request in rx {
                    match request {
                        Request::Socket(af, ty, proto, reply) => {
                            let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
                            let _ = reply.send(
                                net::socket_with(af, ty, flags, proto).map_err(io::Error::from),
                            );
                        }
                        Request::Open(path, reply) => {
                            let _ = reply.send(File::open(path));
                        }
                    }
                }
            })?;
        ready_rx.recv().map_err(gone)??;
        Ok(NsSocketFactory { requests: tx })
    }

    /// A non-blocking socket created inside the namespace.
    pub fn socket(
        &self,
        af: AddressFamily,
        ty: SocketType,
        proto: Option<Protocol>,
    ) -> io::Result<OwnedFd> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.requests
            .send(Request::Socket(af, ty, proto, reply_tx))
            .map_err(gone)?;
        reply_rx.recv().map_err(gone)?
    }

    /// Open `path` from inside the namespace.
    pub fn open_file(&self, path: &Path) -> io::Result<File> {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.requests
            .send(Request::Open(path.to_path_buf(), reply_tx))
            .map_err(gone)?;
        reply_rx.recv().map_err(gone)?
    }
}
