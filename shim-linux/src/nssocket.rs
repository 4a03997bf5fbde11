//! Opening sockets inside the guest's network namespace (pasta's `-T` listeners and the
//! far ends of spliced connections).
//!
//! A socket belongs to the network namespace of the thread that creates it; everything
//! else (bind, connect, I/O) works from any thread. So one helper thread enters the
//! namespace once and creates sockets on request; the event loop's thread never leaves
//! the host namespace.

use crate::netns::NetnsHandle;
use rustix::net::{self, AddressFamily, Protocol, SocketFlags, SocketType};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::thread;

type Request = (
    AddressFamily,
    SocketType,
    Option<Protocol>,
    mpsc::SyncSender<io::Result<OwnedFd>>,
);

/// Creates sockets in one network namespace, from a helper thread living there.
#[derive(Debug)]
pub struct NsSocketFactory {
    requests: mpsc::Sender<Request>,
}

impl NsSocketFactory {
    /// Start the helper thread inside `netns`.
    pub fn start(netns: NetnsHandle) -> io::Result<NsSocketFactory> {
        let (tx, rx) = mpsc::channel::<Request>();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<io::Result<()>>(1);
        thread::Builder::new()
            .name("netns-sockets".into())
            .spawn(move || {
                let entered = netns.enter();
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if !ok {
                    return;
                }
                for (af, ty, proto, reply) in rx {
                    let fd = net::socket_with(
                        af,
                        ty,
                        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
                        proto,
                    );
                    let _ = reply.send(fd.map_err(io::Error::from));
                }
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("netns thread died"))??;
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
            .send((af, ty, proto, reply_tx))
            .map_err(|_| io::Error::other("netns thread gone"))?;
        reply_rx
            .recv()
            .map_err(|_| io::Error::other("netns thread gone"))?
    }
}
