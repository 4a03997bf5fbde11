//! The simulated [`Host`]: it records every [`Op`] the engine issues together with the
//! result it handed back, and fails ops on request.
//!
//! The v1 host model has no remote peers: every socket op succeeds and nothing ever
//! arrives. Concretely: `Send` and `Discard` take everything (`Len(n)`), `Peek` and
//! `Accept` would block, `SendTo` takes the whole datagram, `RecvFrom` would block,
//! `Connect` is in progress forever, `TcpInfo` reports
//! [`SEND_SPACE`] bytes of send space and nothing unacknowledged, every other op
//! (including `TapSend`) is `Done`.

use crate::log::format_op;
use passt_core::io::TcpInfo;
use passt_core::{Host, HostError, Op, OpResult};
use std::collections::VecDeque;

/// Send space the model reports for every TCP socket (Linux's default `wmem`).
pub const SEND_SPACE: u32 = 212_992;

/// An [`Op`] copied out of the engine's buffers, so it outlives the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedOp {
    /// [`Op::TapSend`]: a frame for the guest.
    TapSend(Vec<u8>),
    /// [`Op::TapSendOffload`]: a frame the link finishes (segments, checksum)
    /// before the guest sees it ([`crate::offload::finish`]).
    TapSendOffload(Vec<u8>, passt_core::io::TxOffload),
    /// Any socket op, as its log text (see [`format_op`]).
    Socket(String),
}

impl OwnedOp {
    /// Copy a borrowed op.
    pub fn from_op(op: &Op<'_>) -> OwnedOp {
        match op {
            Op::TapSend(frame) => OwnedOp::TapSend(frame.to_vec()),
            Op::TapSendOffload { frame, offload } => {
                OwnedOp::TapSendOffload(frame.to_vec(), *offload)
            }
            other => OwnedOp::Socket(format_op(other)),
        }
    }
}

/// One op as the engine issued it, and what the host answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedOp {
    /// The operation.
    pub op: OwnedOp,
    /// The result handed back to the engine.
    pub result: OpResult,
    /// Bytes the host wrote into the op's buffer (`Peek`), if any.
    pub data: Option<Vec<u8>>,
}

/// A host that records ops and answers per the model above, unless failures were
/// queued with [`SimHost::fail_next`].
#[derive(Debug, Default)]
pub struct SimHost {
    recorded: Vec<RecordedOp>,
    failures: VecDeque<HostError>,
}

/// The model's answer to `op`.
fn model_result(op: &Op<'_>) -> OpResult {
    match op {
        Op::Send { data, .. } | Op::SendTo { data, .. } => OpResult::Len(data.len()),
        Op::Discard { len, .. } => OpResult::Len(*len),
        Op::Peek { .. }
        | Op::PeekToGuest { .. }
        | Op::Accept { .. }
        | Op::Refuse { .. }
        | Op::Splice { .. }
        | Op::Relay { .. }
        | Op::RecvFrom { .. } => OpResult::Err(HostError::WouldBlock),
        Op::Connect { .. } => OpResult::Err(HostError::InProgress),
        Op::TcpInfo { .. } => OpResult::TcpInfo(TcpInfo {
            send_space: SEND_SPACE,
            unacked: 0,
        }),
        Op::TapSend(_)
        | Op::TapSendOffload { .. }
        | Op::CommitToGuest { .. }
        | Op::Open { .. }
        | Op::Bind { .. }
        | Op::Listen { .. }
        | Op::TakeError { .. }
        | Op::ShutdownWrite { .. }
        | Op::Close { .. }
        | Op::Watch { .. }
        | Op::SetMaxSeg { .. } => OpResult::Done,
    }
}

impl SimHost {
    /// A host that accepts everything.
    pub fn new() -> SimHost {
        SimHost::default()
    }

    /// Make the next `count` ops fail with `error` (after any failures already queued).
    pub fn fail_next(&mut self, error: HostError, count: usize) {
        self.failures.extend(std::iter::repeat_n(error, count));
    }

    /// Failures still queued.
    pub fn pending_failures(&self) -> usize {
        self.failures.len()
    }

    /// Take the ops recorded since the last call.
    pub fn take(&mut self) -> Vec<RecordedOp> {
        std::mem::take(&mut self.recorded)
    }
}

impl Host for SimHost {
    fn exec(&mut self, op: Op<'_>) -> OpResult {
        let result = match self.failures.pop_front() {
            Some(e) => OpResult::Err(e),
            None => model_result(&op),
        };
        self.recorded.push(RecordedOp {
            op: OwnedOp::from_op(&op),
            result,
            data: None,
        });
        result
    }
}

/// The name of a host error in scripts and logs (`would-block`, `no-buffers`, …,
/// `errno-N`).
pub fn error_name(e: HostError) -> String {
    let name = match e {
        HostError::WouldBlock => "would-block",
        HostError::InProgress => "in-progress",
        HostError::ConnectionRefused => "connection-refused",
        HostError::ConnectionReset => "connection-reset",
        HostError::HostUnreachable => "host-unreachable",
        HostError::NetworkUnreachable => "network-unreachable",
        HostError::TimedOut => "timed-out",
        HostError::AddrInUse => "addr-in-use",
        HostError::AddrNotAvailable => "addr-not-available",
        HostError::PermissionDenied => "permission-denied",
        HostError::TooManyFiles => "too-many-files",
        HostError::NoBuffers => "no-buffers",
        HostError::LinkDown => "link-down",
        HostError::Other(n) => return format!("errno-{n}"),
    };
    name.to_string()
}

/// Every named (non-`Other`) host error, for parsing.
const NAMED_ERRORS: [HostError; 13] = [
    HostError::WouldBlock,
    HostError::InProgress,
    HostError::ConnectionRefused,
    HostError::ConnectionReset,
    HostError::HostUnreachable,
    HostError::NetworkUnreachable,
    HostError::TimedOut,
    HostError::AddrInUse,
    HostError::AddrNotAvailable,
    HostError::PermissionDenied,
    HostError::TooManyFiles,
    HostError::NoBuffers,
    HostError::LinkDown,
];

/// Parse a name written by [`error_name`].
pub fn parse_error_name(s: &str) -> Option<HostError> {
    if let Some(e) = NAMED_ERRORS.iter().find(|e| error_name(**e) == s) {
        return Some(*e);
    }
    s.strip_prefix("errno-")?.parse().ok().map(HostError::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use passt_core::{SockKind, SockRef};

    #[test]
    fn records_and_fails_on_request() {
        let mut h = SimHost::new();
        assert_eq!(h.exec(Op::TapSend(&[1, 2])), OpResult::Done);
        h.fail_next(HostError::NoBuffers, 1);
        assert_eq!(
            h.exec(Op::TapSend(&[3])),
            OpResult::Err(HostError::NoBuffers)
        );
        assert_eq!(h.exec(Op::TapSend(&[4])), OpResult::Done);
        let ops = h.take();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].op, OwnedOp::TapSend(vec![3]));
        assert_eq!(ops[1].result, OpResult::Err(HostError::NoBuffers));
        assert!(h.take().is_empty());
    }

    #[test]
    fn socket_model_has_no_peers() {
        let mut h = SimHost::new();
        let sock = SockRef::new(SockKind::TcpConn, 0, 1, 2);
        assert_eq!(
            h.exec(Op::Send {
                sock,
                data: &[0; 10]
            }),
            OpResult::Len(10)
        );
        let mut buf = [0u8; 8];
        assert_eq!(
            h.exec(Op::Peek {
                sock,
                offset: 0,
                buf: &mut buf
            }),
            OpResult::Err(HostError::WouldBlock)
        );
        let ops = h.take();
        assert_eq!(
            ops[0].op,
            OwnedOp::Socket("send sock=tcp-conn:0:1:2 data=00000000000000000000".into())
        );
    }

    #[test]
    fn error_names_round_trip() {
        for e in NAMED_ERRORS.iter().copied().chain([HostError::Other(-5)]) {
            assert_eq!(parse_error_name(&error_name(e)), Some(e));
        }
        assert_eq!(parse_error_name("errno-x"), None);
        assert_eq!(parse_error_name("eagain"), None);
    }
}
