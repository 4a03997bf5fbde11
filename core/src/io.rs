//! The sans-IO boundary: events in, operations out.
//!
//! The shim feeds [`Event`]s to the engine. While handling one, the engine asks the
//! shim to perform effects by calling [`Host::exec`] with an [`Op`], a plain value
//! that borrows the engine's buffers; the shim executes it synchronously and returns an
//! [`OpResult`]. Executing inside the call lets the engine see a partial send or
//! `EAGAIN` at the moment it decides what to ACK, while every effect still passes
//! through one function that a wrapper can record, trace, fault-inject or replay.

use crate::sockref::SockRef;

/// An input to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// One Ethernet frame from the guest: no length prefix, no FCS.
    TapFrame(&'a [u8]),
    /// The guest link came up (passt: a client connected; pasta: the tap is ready).
    TapUp,
    /// The guest link went away (passt: the client disconnected). Per-guest state
    /// (learned MAC and addresses) is forgotten.
    TapDown,
    /// Readiness of a host socket the engine asked the shim to watch.
    Socket {
        /// Which socket.
        sock: SockRef,
        /// What it is ready for.
        readiness: Readiness,
    },
}

/// Socket readiness, as reported by epoll or the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// Data (or a connection, or EOF) can be read.
    pub readable: bool,
    /// Send space is available, or a pending connect finished.
    pub writable: bool,
    /// The peer closed its side (RDHUP/HUP).
    pub hangup: bool,
    /// An error is pending (`SO_ERROR`).
    pub error: bool,
}

/// An effect the engine asks the host to perform.
#[derive(Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// Send one complete Ethernet frame to the guest.
    TapSend(&'a [u8]),
}

/// Why an operation failed, in terms the engine acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostError {
    /// The operation would block (`EAGAIN`); try again on readiness.
    WouldBlock,
    /// No buffer space (`ENOBUFS`, a full tap queue): the frame is lost.
    NoBuffers,
    /// The guest link is gone.
    LinkDown,
    /// Any other error, with the platform's error number for logging.
    Other(i32),
}

/// The outcome of an [`Op`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpResult {
    /// Completed.
    Done,
    /// Failed.
    Err(HostError),
}

/// The executor of operations: real sockets in `shim-linux`, a model in `shim-sim`.
pub trait Host {
    /// Perform `op` now and report the outcome.
    fn exec(&mut self, op: Op<'_>) -> OpResult;
}
