//! The simulated [`Host`]: it performs nothing, records every [`Op`] the engine
//! issues together with the result it handed back, and fails ops on request.

use passt_core::{Host, HostError, Op, OpResult};
use std::collections::VecDeque;

/// An [`Op`] copied out of the engine's buffers, so it outlives the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedOp {
    /// [`Op::TapSend`]: a frame for the guest.
    TapSend(Vec<u8>),
}

impl OwnedOp {
    /// Copy a borrowed op.
    pub fn from_op(op: &Op<'_>) -> OwnedOp {
        match op {
            Op::TapSend(frame) => OwnedOp::TapSend(frame.to_vec()),
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
}

/// A host that records ops and answers [`OpResult::Done`], unless failures were
/// queued with [`SimHost::fail_next`].
#[derive(Debug, Default)]
pub struct SimHost {
    recorded: Vec<RecordedOp>,
    failures: VecDeque<HostError>,
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
            None => OpResult::Done,
        };
        self.recorded.push(RecordedOp {
            op: OwnedOp::from_op(&op),
            result,
        });
        result
    }
}

/// The name of a host error in scripts and logs: `would-block`, `no-buffers`,
/// `link-down` or `errno-N`.
pub fn error_name(e: HostError) -> String {
    match e {
        HostError::WouldBlock => "would-block".into(),
        HostError::NoBuffers => "no-buffers".into(),
        HostError::LinkDown => "link-down".into(),
        HostError::Other(n) => format!("errno-{n}"),
    }
}

/// Parse a name written by [`error_name`].
pub fn parse_error_name(s: &str) -> Option<HostError> {
    match s {
        "would-block" => Some(HostError::WouldBlock),
        "no-buffers" => Some(HostError::NoBuffers),
        "link-down" => Some(HostError::LinkDown),
        _ => s.strip_prefix("errno-")?.parse().ok().map(HostError::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn error_names_round_trip() {
        for e in [
            HostError::WouldBlock,
            HostError::NoBuffers,
            HostError::LinkDown,
            HostError::Other(-5),
        ] {
            assert_eq!(parse_error_name(&error_name(e)), Some(e));
        }
        assert_eq!(parse_error_name("errno-x"), None);
        assert_eq!(parse_error_name("eagain"), None);
    }
}
