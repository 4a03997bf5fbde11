//! pasta's loopback bypass (passt-reference §3.10): a connection between the host's
//! loopback and the namespace never crosses the tap. The accepted socket and a socket
//! connected on the other side are joined, and the shim moves the bytes between them
//! with `splice(2)` ([`Op::Splice`]); the engine only tracks connection set-up,
//! half-closes (a FIN read on one side becomes `shutdown(SHUT_WR)` on the other) and
//! teardown.

use super::sock_of;
use crate::engine::{Engine, Flow};
use crate::flow::FlowId;
use crate::io::{Family, Host, HostError, Interest, Namespace, Op, OpResult, Readiness, Transport};
use crate::sockref::{SockKind, SockRef};
use crate::time::Instant;
use core::net::SocketAddr;

/// Index of the socket we connected (to the forwarding target).
pub const TARGET: usize = 0;
/// Index of the socket we accepted (from the client).
pub const ACCEPTED: usize = 1;

/// One spliced connection. Per-socket arrays are indexed by [`TARGET`] / [`ACCEPTED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpliceConn {
    /// The connect toward the target completed.
    pub connected: bool,
    /// We shut down writing toward this socket (the stream into it ended).
    pub shut: [bool; 2],
    /// Data read from this socket waits in the shim for the other side to take it.
    pub pending: [bool; 2],
    /// Readiness we asked for, per socket.
    pub watching: [Interest; 2],
}

/// Both sockets of spliced flow `id`, indexed by [`TARGET`] / [`ACCEPTED`].
pub(crate) fn sockets(id: FlowId) -> [SockRef; 2] {
    [sock(id, TARGET), sock(id, ACCEPTED)]
}

fn sock(id: FlowId, index: usize) -> SockRef {
    if index == ACCEPTED {
        sock_of(id)
    } else {
        SockRef::new(SockKind::TcpConn, 0, id.generation, id.slot)
    }
}

fn watch<H: Host>(c: &mut SpliceConn, id: FlowId, index: usize, interest: Interest, host: &mut H) {
    if c.watching[index] != interest {
        c.watching[index] = interest;
        host.exec(Op::Watch {
            sock: sock(id, index),
            interest,
        });
    }
}

/// Close both sockets (aborting: the peers see a reset) and free the flow.
fn abort<H: Host>(e: &mut Engine<'_>, id: FlowId, host: &mut H) {
    for i in [TARGET, ACCEPTED] {
        host.exec(Op::Close {
            sock: sock(id, i),
            abort: true,
        });
    }
    e.flows.remove(id);
    e.stats.tcp_closed += 1;
}

/// Join the connection just accepted as flow `id` to a new socket connected to `to` in
/// namespace `ns`.
pub(super) fn open<H: Host>(
    e: &mut Engine<'_>,
    now: Instant,
    id: FlowId,
    to: SocketAddr,
    ns: Namespace,
    host: &mut H,
) {
    let _ = now;
    let target = sock(id, TARGET);
    let mut c = SpliceConn {
        connected: false,
        shut: [false; 2],
        pending: [false; 2],
        watching: [Interest::default(); 2],
    };
    if let Some(slot) = e.flows.get_mut(id) {
        *slot = Flow::Splice(c);
    }
    // Opened like any connection (its close is counted as one), and spliced.
    e.stats.tcp_opened += 1;
    e.stats.tcp_spliced += 1;
    let family = Family::of(&to.ip());
    if let OpResult::Err(_) = host.exec(Op::Open {
        sock: target,
        family,
        transport: Transport::Tcp,
        ns,
    }) {
        e.stats
            .record_drop(crate::stats::DropReason::HostSocketFailed);
        abort(e, id, host);
        return;
    }
    match host.exec(Op::Connect {
        sock: target,
        addr: to,
    }) {
        OpResult::Done | OpResult::Len(_) => {
            c.connected = true;
            start(&mut c, id, host);
            pump(e, id, &mut c, [true, true], host);
        }
        OpResult::Err(HostError::InProgress) | OpResult::Err(HostError::WouldBlock) => {
            watch(
                &mut c,
                id,
                TARGET,
                Interest {
                    read: false,
                    write: true,
                },
                host,
            );
        }
        _ => {
            abort(e, id, host);
            return;
        }
    }
    finish(e, id, c, host);
}

fn start<H: Host>(c: &mut SpliceConn, id: FlowId, host: &mut H) {
    for i in [TARGET, ACCEPTED] {
        watch(
            c,
            id,
            i,
            Interest {
                read: true,
                write: false,
            },
            host,
        );
    }
}

/// Move what each listed source (`from[i]`: socket i → the other) allows now.
fn pump<H: Host>(
    e: &mut Engine<'_>,
    id: FlowId,
    c: &mut SpliceConn,
    from: [bool; 2],
    host: &mut H,
) -> bool {
    for src in [TARGET, ACCEPTED] {
        let dst = 1 - src;
        if !from[src] || c.shut[dst] {
            continue;
        }
        match host.exec(Op::Splice {
            from: sock(id, src),
            to: sock(id, dst),
        }) {
            OpResult::Spliced(s) => {
                e.stats.tcp_bytes_spliced += s.written as u64;
                c.pending[src] = s.pending > 0;
                let read = c.watching[dst].read;
                watch(
                    c,
                    id,
                    dst,
                    Interest {
                        read,
                        write: s.pending > 0,
                    },
                    host,
                );
                if s.eof {
                    host.exec(Op::ShutdownWrite {
                        sock: sock(id, dst),
                    });
                    c.shut[dst] = true;
                    // Nothing more will come from here: stop reading it.
                    let write = c.watching[src].write;
                    watch(c, id, src, Interest { read: false, write }, host);
                }
            }
            OpResult::Err(HostError::WouldBlock) => {}
            _ => return false,
        }
    }
    true
}

/// Write the record back, or free the flow once both directions are finished.
fn finish<H: Host>(e: &mut Engine<'_>, id: FlowId, c: SpliceConn, host: &mut H) {
    if c.shut == [true, true] {
        for i in [TARGET, ACCEPTED] {
            host.exec(Op::Close {
                sock: sock(id, i),
                abort: false,
            });
        }
        e.flows.remove(id);
        e.stats.tcp_closed += 1;
    } else if let Some(slot) = e.flows.get_mut(id) {
        *slot = Flow::Splice(c);
    }
}

/// Readiness on one socket of a spliced connection (`side` is its `SockRef` side).
pub(super) fn on_socket<H: Host>(
    e: &mut Engine<'_>,
    id: FlowId,
    side: u8,
    r: Readiness,
    host: &mut H,
) {
    let Some(Flow::Splice(mut c)) = e.flows.get(id).copied() else {
        return;
    };
    let me = if side == 0 { TARGET } else { ACCEPTED };
    if r.error
        && !matches!(
            host.exec(Op::TakeError { sock: sock(id, me) }),
            OpResult::Done
        )
    {
        abort(e, id, host);
        return;
    }
    if !c.connected {
        if me != TARGET || !(r.writable || r.hangup || r.error) {
            return;
        }
        if !matches!(
            host.exec(Op::TakeError {
                sock: sock(id, TARGET)
            }),
            OpResult::Done
        ) {
            // Refused or unreachable: the client sees a reset.
            abort(e, id, host);
            return;
        }
        c.connected = true;
        start(&mut c, id, host);
        if !pump(e, id, &mut c, [true, true], host) {
            abort(e, id, host);
            return;
        }
        finish(e, id, c, host);
        return;
    }
    let mut from = [false; 2];
    if r.readable || r.hangup {
        from[me] = true;
    }
    if r.writable {
        // Room on this side: flush what the other side has waiting.
        from[1 - me] = true;
    }
    if !pump(e, id, &mut c, from, host) {
        abort(e, id, host);
        return;
    }
    finish(e, id, c, host);
}
