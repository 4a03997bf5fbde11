//! The record/replay log: every input fed to the engine and every op it issued, as
//! text lines, and [`replay`], which feeds the inputs to a fresh engine and checks
//! that the ops come out byte for byte the same.
//!
//! ```text
//! # passt-sim log v1
//! config mode=passt ipv4=198.51.100.2/24 gw=198.51.100.1
//! 0.000000000 link-up
//! 0.000000000 tap< ffffffffffff525400123456080600010800…
//!     tap-send 5254001234569a559a559a55080600010800… -> done
//! 250.125000000 timeout
//! ```
//! An input line is the virtual time in seconds (nine decimals) and the input: `link-up`,
//! `link-down`, `timeout` (the engine's deadline was handled) or `tap< HEX` (a frame
//! from the guest). The indented lines under it are the ops the engine issued while
//! handling it, with the result the host returned (`done` or `err=NAME`, see
//! [`crate::host::error_name`]). `#` lines and the `config` header are ignored by
//! [`replay`].

use crate::hex;
use crate::host::{error_name, parse_error_name, OwnedOp};
use passt_core::io::{Family, Namespace, Spliced, TcpInfo, Transport};
use passt_core::{Config, Engine, Event, Host, Instant, Op, OpResult, SockKind, SockRef};
use std::collections::VecDeque;
use std::fmt;

/// First line of every log.
pub const HEADER: &str = "# passt-sim log v1";

/// One input to the engine, as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// [`Event::TapUp`].
    LinkUp,
    /// [`Event::TapDown`].
    LinkDown,
    /// [`Event::TapFrame`].
    Tap(Vec<u8>),
    /// A call to `Engine::handle_timeout`.
    Timeout,
}

/// `seconds.nanoseconds` with nine decimals.
pub fn format_time(t: Instant) -> String {
    let ns = t.as_nanos();
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

/// Parse `SECONDS[.FRACTION]` (at most nine decimals) into nanoseconds.
pub fn parse_seconds(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() || frac.len() > 9 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (s.contains('.') && frac.is_empty()) {
        return None;
    }
    let secs: u64 = int.parse().ok()?;
    let mut nanos: u64 = 0;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// The name of a socket in logs: `KIND:SIDE:GENERATION:SLOT`.
pub fn sock_name(s: SockRef) -> String {
    let kind = match s.kind() {
        SockKind::TcpListen => "tcp-listen",
        SockKind::TcpConn => "tcp-conn",
        SockKind::UdpListen => "udp-listen",
        SockKind::UdpFlow => "udp-flow",
        SockKind::Ping => "ping",
    };
    format!("{kind}:{}:{}:{}", s.side(), s.generation(), s.slot())
}

/// The text of one op (without its result): everything the engine decided, so two
/// runs issued the same op exactly when the texts are equal.
pub fn format_op(op: &Op<'_>) -> String {
    let s = sock_name;
    match op {
        Op::TapSend(frame) => format!("tap-send {}", hex::encode(frame)),
        Op::TapSendOffload { frame, offload } => offload_text(frame, offload),
        Op::Open {
            sock,
            family,
            transport,
            ns,
        } => {
            let family = match family {
                Family::V4 => "v4",
                Family::V6 => "v6",
            };
            let transport = match transport {
                Transport::Tcp => "tcp",
                Transport::Udp => "udp",
                Transport::Icmp => "icmp",
                Transport::Icmpv6 => "icmpv6",
            };
            // Host-namespace sockets keep the original text, so older logs replay.
            let ns = match ns {
                Namespace::Host => "",
                Namespace::Guest => " ns=guest",
            };
            format!(
                "open sock={} family={family} transport={transport}{ns}",
                s(*sock)
            )
        }
        Op::Bind {
            sock,
            addr,
            dual_stack,
        } => format!("bind sock={} addr={addr} dual-stack={dual_stack}", s(*sock)),
        Op::Listen { sock, backlog } => format!("listen sock={} backlog={backlog}", s(*sock)),
        Op::Accept { listener, sock } => {
            format!("accept listener={} sock={}", s(*listener), s(*sock))
        }
        Op::Refuse { listener } => format!("refuse listener={}", s(*listener)),
        Op::Connect { sock, addr } => format!("connect sock={} addr={addr}", s(*sock)),
        Op::TakeError { sock } => format!("take-error sock={}", s(*sock)),
        Op::Send { sock, data } => format!("send sock={} data={}", s(*sock), hex::encode(data)),
        Op::Peek { sock, offset, buf } => {
            format!("peek sock={} offset={offset} max={}", s(*sock), buf.len())
        }
        Op::PeekToGuest {
            sock,
            offset,
            len,
            headroom,
        } => format!(
            "peek-to-guest sock={} offset={offset} max={len} headroom={headroom}",
            s(*sock)
        ),
        Op::CommitToGuest { headers, offload } => {
            format!("commit-to-guest {}", offload_text(headers, offload))
        }
        Op::Discard { sock, len } => format!("discard sock={} len={len}", s(*sock)),
        Op::ShutdownWrite { sock } => format!("shutdown-write sock={}", s(*sock)),
        Op::Close { sock, abort } => format!("close sock={} abort={abort}", s(*sock)),
        Op::Watch { sock, interest } => format!(
            "watch sock={} read={} write={}",
            s(*sock),
            interest.read,
            interest.write
        ),
        Op::TcpInfo { sock } => format!("tcp-info sock={}", s(*sock)),
        Op::SetMaxSeg { sock, mss } => format!("set-max-seg sock={} mss={mss}", s(*sock)),
        Op::Splice { from, to } => format!("splice from={} to={}", s(*from), s(*to)),
        Op::Relay {
            from,
            to,
            dest,
            only_from,
            max,
        } => format!(
            "relay from={} to={} dest={} only-from={} max={max}",
            s(*from),
            s(*to),
            dest.map_or_else(|| "-".to_string(), |a| a.to_string()),
            only_from.map_or_else(|| "-".to_string(), |a| a.to_string()),
        ),
        Op::SendTo { sock, data, to } => format!(
            "send-to sock={} to={} data={}",
            s(*sock),
            to.map_or_else(|| "-".to_string(), |a| a.to_string()),
            hex::encode(data)
        ),
        Op::RecvFrom { sock, buf } => format!("recv-from sock={} max={}", s(*sock), buf.len()),
    }
}

/// The text of a recorded op.
pub fn owned_op_text(op: &OwnedOp) -> String {
    match op {
        OwnedOp::TapSend(frame) => format!("tap-send {}", hex::encode(frame)),
        OwnedOp::TapSendOffload(frame, offload) => offload_text(frame, offload),
        OwnedOp::Socket(text) => text.clone(),
    }
}

fn offload_text(frame: &[u8], o: &passt_core::io::TxOffload) -> String {
    format!(
        "tap-send-offload l4={} hdr={} mss={} v6={} partial={} {}",
        o.l4_offset,
        o.header_len,
        o.mss,
        o.ipv6,
        o.checksum_partial,
        hex::encode(frame)
    )
}

fn format_result(r: OpResult, data: Option<&[u8]>) -> String {
    let mut text = match r {
        OpResult::Done => "done".into(),
        OpResult::Len(n) => format!("len={n}"),
        OpResult::Accepted { peer, local } => format!("accepted peer={peer} local={local}"),
        OpResult::TcpInfo(i) => {
            format!("tcp-info send-space={} unacked={}", i.send_space, i.unacked)
        }
        OpResult::Spliced(sp) => format!(
            "spliced read={} written={} pending={} eof={}",
            sp.read, sp.written, sp.pending, sp.eof
        ),
        OpResult::Received { len, from } => format!("received len={len} from={from}"),
        OpResult::Err(e) => format!("err={}", error_name(e)),
    };
    if let Some(d) = data {
        text.push_str(&format!(" data={}", hex::encode(d)));
    }
    text
}

/// Parse a result written by `format_result`.
fn parse_result(s: &str) -> Option<(OpResult, Option<Vec<u8>>)> {
    let words: Vec<&str> = s.split(' ').collect();
    fn value<'w>(w: &'w str, key: &str) -> Option<&'w str> {
        w.strip_prefix(key)?.strip_prefix('=')
    }
    let (result, rest) = match words.as_slice() {
        ["done", rest @ ..] => (OpResult::Done, rest),
        [first, rest @ ..] if first.starts_with("len=") => {
            (OpResult::Len(value(first, "len")?.parse().ok()?), rest)
        }
        [first, rest @ ..] if first.starts_with("err=") => {
            (OpResult::Err(parse_error_name(value(first, "err")?)?), rest)
        }
        ["accepted", peer, local, rest @ ..] => (
            OpResult::Accepted {
                peer: value(peer, "peer")?.parse().ok()?,
                local: value(local, "local")?.parse().ok()?,
            },
            rest,
        ),
        ["received", len, from, rest @ ..] => (
            OpResult::Received {
                len: value(len, "len")?.parse().ok()?,
                from: value(from, "from")?.parse().ok()?,
            },
            rest,
        ),
        ["tcp-info", space, unacked, rest @ ..] => (
            OpResult::TcpInfo(TcpInfo {
                send_space: value(space, "send-space")?.parse().ok()?,
                unacked: value(unacked, "unacked")?.parse().ok()?,
            }),
            rest,
        ),
        ["spliced", read, written, pending, eof, rest @ ..] => (
            OpResult::Spliced(Spliced {
                read: value(read, "read")?.parse().ok()?,
                written: value(written, "written")?.parse().ok()?,
                pending: value(pending, "pending")?.parse().ok()?,
                eof: value(eof, "eof")?.parse().ok()?,
            }),
            rest,
        ),
        _ => return None,
    };
    let data = match rest {
        [] => None,
        [d] => Some(hex::decode(value(d, "data")?).ok()?),
        _ => return None,
    };
    Some((result, data))
}

fn format_input(at: Instant, input: &Input) -> String {
    let t = format_time(at);
    match input {
        Input::LinkUp => format!("{t} link-up"),
        Input::LinkDown => format!("{t} link-down"),
        Input::Timeout => format!("{t} timeout"),
        Input::Tap(frame) => format!("{t} tap< {}", hex::encode(frame)),
    }
}

/// A log being written.
#[derive(Debug, Clone, Default)]
pub struct Log {
    lines: Vec<String>,
}

impl Log {
    /// A log for an engine started with the configuration written as `config_text`
    /// (`config …` lines, kept so the log can be replayed on its own).
    pub fn new(config_text: &str) -> Log {
        let mut lines = vec![HEADER.to_string()];
        lines.extend(config_text.lines().map(str::to_string));
        Log { lines }
    }

    /// Record an input.
    pub fn input(&mut self, at: Instant, input: &Input) {
        self.lines.push(format_input(at, input));
    }

    /// Record an op, its result and any bytes the host handed back with it.
    pub fn op(&mut self, op: &OwnedOp, result: OpResult, data: Option<&[u8]>) {
        self.lines.push(format!(
            "    {} -> {}",
            owned_op_text(op),
            format_result(result, data)
        ));
    }

    /// The lines written so far.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The whole log, one line per entry, newline-terminated.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// The `config …` lines of a log's header, for rebuilding its configuration.
pub fn config_lines(log: &str) -> String {
    log.lines()
        .filter(|l| l.starts_with("config ") || *l == "config")
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Where a replay first disagreed with the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 1-based line of the log.
    pub line: usize,
    /// What the log says.
    pub expected: String,
    /// What the engine did.
    pub got: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "log line {}: expected `{}`, got `{}`",
            self.line, self.expected, self.got
        )
    }
}

impl std::error::Error for Divergence {}

/// A parsed log entry.
enum Entry {
    Input(Instant, Input),
    Op(String, OpResult, Option<Vec<u8>>),
}

fn parse_line(line: &str) -> Option<Entry> {
    if let Some(op) = line.strip_prefix("    ") {
        let (text, result) = op.rsplit_once(" -> ")?;
        let (result, data) = parse_result(result)?;
        return Some(Entry::Op(text.to_string(), result, data));
    }
    let (time, rest) = line.split_once(' ')?;
    let at = Instant::from_nanos(parse_seconds(time)?);
    let input = match rest {
        "link-up" => Input::LinkUp,
        "link-down" => Input::LinkDown,
        "timeout" => Input::Timeout,
        _ => Input::Tap(hex::decode(rest.strip_prefix("tap< ")?).ok()?),
    };
    Some(Entry::Input(at, input))
}

/// A host answering from the log: it returns the recorded results (and peeked
/// bytes) in order.
struct ReplayHost<'l> {
    results: VecDeque<(OpResult, Option<&'l [u8]>)>,
    got: Vec<String>,
}

impl Host for ReplayHost<'_> {
    fn exec(&mut self, mut op: Op<'_>) -> OpResult {
        self.got.push(format_op(&op));
        let (result, data) = self.results.pop_front().unwrap_or((OpResult::Done, None));
        if let (Op::Peek { buf, .. } | Op::RecvFrom { buf, .. }, Some(data)) = (&mut op, data) {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
        }
        result
    }
}

/// Feed the inputs recorded in `log` to a fresh engine built from `config` and check
/// that it issues exactly the recorded ops, and handles its deadlines exactly when the
/// log says. Returns the first divergence.
pub fn replay(config: &Config, log: &str) -> Result<(), Divergence> {
    let mut entries: Vec<(usize, &str, Entry)> = Vec::new();
    for (i, line) in log.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') || line.starts_with("config") {
            continue;
        }
        let Some(entry) = parse_line(line) else {
            return Err(Divergence {
                line: i + 1,
                expected: "an input or op line".into(),
                got: line.into(),
            });
        };
        entries.push((i + 1, line, entry));
    }
    let end_line = log.lines().count() + 1;

    let mut storage = crate::storage::SimStorage::new();
    let mut engine = Engine::new(config.clone(), storage.lend()).map_err(|e| Divergence {
        line: 1,
        expected: "an engine".into(),
        got: format!("{e:?}"),
    })?;

    let mut last_at = Instant::ZERO;
    let mut i = 0;
    while i < entries.len() {
        let (line, text, Entry::Input(at, input)) = &entries[i] else {
            return Err(Divergence {
                line: entries[i].0,
                expected: entries[i].1.into(),
                got: "no op (the engine was not handling an input)".into(),
            });
        };
        // The ops recorded for this input.
        let mut j = i + 1;
        let mut expected = Vec::new();
        while let Some((l, _, Entry::Op(op, result, data))) = entries.get(j) {
            expected.push((*l, op.as_str(), *result, data.as_deref()));
            j += 1;
        }
        let next_line = entries.get(j).map_or(end_line, |e| e.0);

        // The simulator handles a deadline as soon as the clock reaches it, and never
        // earlier than the previous input: exactly then, and nothing may be skipped.
        let due = engine.poll_timeout().map(|d| d.max(last_at));
        let due_text = |d: Option<Instant>| match d {
            Some(d) => format!("{} timeout", format_time(d)),
            None => "no deadline".into(),
        };
        let diverged = match input {
            Input::Timeout => due != Some(*at),
            _ => due.is_some_and(|d| d <= *at),
        };
        if diverged {
            return Err(Divergence {
                line: *line,
                expected: (*text).into(),
                got: due_text(due),
            });
        }
        last_at = *at;

        let mut host = ReplayHost {
            results: expected.iter().map(|e| (e.2, e.3)).collect(),
            got: Vec::new(),
        };
        match input {
            Input::LinkUp => engine.handle_event(*at, Event::TapUp, &mut host),
            Input::LinkDown => engine.handle_event(*at, Event::TapDown, &mut host),
            Input::Tap(frame) => {
                // A tap frame is a batch of one: the sim flushes after it, as replay must.
                engine.handle_event(*at, Event::TapFrame(frame), &mut host);
                engine.flush(*at, &mut host);
            }
            Input::Timeout => engine.handle_timeout(*at, &mut host),
        }

        for k in 0..expected.len().max(host.got.len()) {
            let want = expected.get(k);
            let got = host.got.get(k);
            if want.map(|w| w.1) != got.map(String::as_str) {
                return Err(Divergence {
                    line: want.map_or(next_line, |w| w.0),
                    expected: want.map_or("no more ops".into(), |w| w.1.to_string()),
                    got: got.cloned().unwrap_or_else(|| "no op".into()),
                });
            }
        }
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_round_trips() {
        let t = Instant::from_nanos(250_125_000_007);
        assert_eq!(format_time(t), "250.125000007");
        assert_eq!(parse_seconds("250.125000007"), Some(250_125_000_007));
        assert_eq!(parse_seconds("0.5"), Some(500_000_000));
        assert_eq!(parse_seconds("3"), Some(3_000_000_000));
        for bad in [
            "",
            ".5",
            "1.",
            "1.0000000001",
            "-1",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn results_round_trip() {
        let results = [
            (OpResult::Done, None),
            (OpResult::Len(7), Some(vec![1u8, 2, 3])),
            (OpResult::Len(0), None),
            (
                OpResult::Accepted {
                    peer: "[2001:db8::1]:40000".parse().unwrap(),
                    local: "198.51.100.2:80".parse().unwrap(),
                },
                None,
            ),
            (
                OpResult::TcpInfo(TcpInfo {
                    send_space: 5,
                    unacked: 6,
                }),
                None,
            ),
            (OpResult::Err(passt_core::HostError::Other(99)), None),
            (
                OpResult::Received {
                    len: 0,
                    from: "[2001:db8::1]:53".parse().unwrap(),
                },
                Some(vec![]),
            ),
            (
                OpResult::Received {
                    len: 3,
                    from: "203.0.113.1:53".parse().unwrap(),
                },
                Some(vec![1, 2, 3]),
            ),
        ];
        for (r, d) in results {
            let text = format_result(r, d.as_deref());
            assert_eq!(parse_result(&text), Some((r, d)), "{text}");
        }
        assert_eq!(parse_result("len=x"), None);
        assert_eq!(parse_result("done data=0"), None);
    }

    #[test]
    fn lines_parse_back() {
        let mut log = Log::new("config mode=passt");
        log.input(Instant::from_secs(2), &Input::Tap(vec![0xab, 0xcd]));
        log.op(&OwnedOp::TapSend(vec![1]), OpResult::Done, None);
        log.op(
            &OwnedOp::TapSend(vec![2]),
            OpResult::Err(passt_core::HostError::NoBuffers),
            None,
        );
        let text = log.text();
        assert_eq!(
            text,
            "# passt-sim log v1\nconfig mode=passt\n2.000000000 tap< abcd\n    \
             tap-send 01 -> done\n    tap-send 02 -> err=no-buffers\n"
        );
        assert_eq!(config_lines(&text), "config mode=passt\n");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            matches!(parse_line(lines[2]), Some(Entry::Input(_, Input::Tap(f))) if f == [0xab, 0xcd])
        );
        assert!(matches!(
            parse_line(lines[4]),
            Some(Entry::Op(
                _,
                OpResult::Err(passt_core::HostError::NoBuffers),
                None
            ))
        ));
        assert!(parse_line("1.0 tap< zz").is_none());
        assert!(parse_line("    tap-send 01 -> done trailing").is_none());
        assert!(parse_line("    tap-send 01 -> maybe").is_none());
    }
}
