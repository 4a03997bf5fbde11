//! The script parser: text → [`Script`] (a configuration and timed [`Step`]s).
//!
//! ```text
//! # ARP: any target is answered with our MAC.
//! config mode=passt ipv4=198.51.100.2/24 gw=198.51.100.1
//! +0 link up
//! +0 tap< arp request who-has 198.51.100.1 tell 198.51.100.2
//! +0 tap> arp reply 198.51.100.1 is-at 9a:55:9a:55:9a:55 to 52:54:00:12:34:56 198.51.100.2
//! +1 tap> none
//! +200~+600 tap> ndp ra dst=ff02::1
//! +0 expect drops total=0
//! ```
//! `#` starts a comment. `config` lines come first (see [`crate::config`]). Every
//! other line starts with a time relative to the previous line, `+SECONDS` (up to nine
//! decimals); a `tap>` line may give a window `+MIN~+MAX` instead, in which the frame
//! must be sent. Then one of:
//! - nothing, or `wait`: just let the time pass;
//! - `link up`, `link down`;
//! - `tap< FRAME`: the guest sends a frame (see [`crate::frames`]);
//! - `tap> FRAME`: the next frame the engine sent must match and must have been sent
//!   at that time (or within the window); `tap> none`: nothing is waiting;
//! - `malformed COUNT [seed=N]`: the guest sends COUNT malformed frames
//!   (see [`crate::malformed`]);
//! - `expect KEY=VALUE…`: check counters — `frames-in=N`, `frames-out=N`,
//!   `service-replies=N`, `tx-errors=N`, `guest-mac=MAC|none`, `link=up|down`; after
//!   the word `drops` (or `drop`) also `total=N` and `REASON=N` (reason names as in
//!   `DropReason::name`, e.g. `eth-truncated`);
//! - `host-fail ERROR [count=N]`: the next N ops fail with ERROR (`would-block`,
//!   `no-buffers`, `link-down`, `errno-N`).

use crate::fields::{parse_mac, Fields};
use crate::frames::{self, FrameSpec};
use crate::log::parse_seconds;
use passt_core::wire::ethernet::MacAddr;
use passt_core::{Config, DropReason, HostError};
use std::fmt;

/// A parsed script.
#[derive(Debug, Clone)]
pub struct Script {
    /// The file name used in messages (e.g. `scripts/arp.sim`).
    pub file: String,
    /// The engine configuration.
    pub config: Config,
    /// The `config` lines, normalised (comments stripped), for the log header.
    pub config_text: String,
    /// The timed steps, in order.
    pub steps: Vec<Step>,
}

/// One timed line.
#[derive(Debug, Clone)]
pub struct Step {
    /// 1-based line number.
    pub line: usize,
    /// The line as written, without its comment.
    pub text: String,
    /// When, relative to the previous step.
    pub time: TimeSpec,
    /// What happens.
    pub action: Action,
}

/// A relative time or window, in nanoseconds after the previous step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpec {
    /// Earliest time.
    pub min: u64,
    /// Latest time (equal to `min` unless a window was given).
    pub max: u64,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Let time pass.
    Wait,
    /// `link up`.
    LinkUp,
    /// `link down`.
    LinkDown,
    /// `tap< FRAME`, already built.
    Send(Vec<u8>),
    /// `tap> FRAME`.
    Expect(Box<FrameSpec>),
    /// `tap> none`.
    ExpectNone,
    /// `malformed COUNT [seed=N]` (without a seed, the simulator's generator is used).
    Malformed {
        /// How many frames.
        count: usize,
        /// Seed of a fresh generator.
        seed: Option<u64>,
    },
    /// `expect …`.
    Check(Vec<StatCheck>),
    /// `host-fail ERROR [count=N]`.
    HostFail {
        /// The error.
        error: HostError,
        /// How many ops fail.
        count: usize,
    },
}

/// One counter check of an `expect` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatCheck {
    /// All drops.
    TotalDrops(u64),
    /// Drops for one reason.
    Drops(DropReason, u64),
    /// Frames received from the guest.
    FramesIn(u64),
    /// Frames sent to the guest.
    FramesOut(u64),
    /// Frames answered by a built-in service.
    ServiceReplies(u64),
    /// Failed sends.
    TxErrors(u64),
    /// The guest MAC the engine learned (`None`: nothing learned).
    GuestMac(Option<MacAddr>),
    /// Whether the link is up.
    Link(bool),
}

/// A script error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// Parse a script; `file` names it in error messages.
pub fn parse_script(file: &str, text: &str) -> Result<Script, ParseError> {
    let err = |line: usize, msg: String| ParseError {
        file: file.to_string(),
        line,
        msg,
    };
    let mut config_lines: Vec<(usize, String)> = Vec::new();
    let mut steps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let text = raw.split('#').next().unwrap_or("").trim();
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let Some(first) = tokens.first() else {
            continue;
        };
        if *first == "config" {
            if !steps.is_empty() {
                return Err(err(
                    line,
                    "config lines must come before the first event".into(),
                ));
            }
            config_lines.push((line, tokens[1..].join(" ")));
            continue;
        }
        let time = parse_time(first).map_err(|m| err(line, m))?;
        let action = parse_action(&tokens[1..]).map_err(|m| err(line, m))?;
        if time.min != time.max && !matches!(action, Action::Expect(_) | Action::ExpectNone) {
            return Err(err(
                line,
                "a time window is only allowed on tap> lines".into(),
            ));
        }
        steps.push(Step {
            line,
            text: text.to_string(),
            time,
            action,
        });
    }
    let tokens: Vec<&str> = config_lines
        .iter()
        .flat_map(|(_, l)| l.split_whitespace())
        .collect();
    let config = crate::config::parse_config(&tokens).map_err(|msg| {
        // Point at the line holding the key the message quotes, else the last one.
        let quoted = msg.split('\'').nth(1).unwrap_or("\u{0}");
        let line = config_lines
            .iter()
            .find(|(_, l)| {
                l.split_whitespace()
                    .any(|t| t.split('=').next() == Some(quoted))
            })
            .or(config_lines.last())
            .map_or(1, |(n, _)| *n);
        err(line, msg)
    })?;
    let config_text = config_lines
        .iter()
        .map(|(_, l)| format!("config {l}\n"))
        .collect();
    Ok(Script {
        file: file.to_string(),
        config,
        config_text,
        steps,
    })
}

/// `+SECONDS` or `+MIN~+MAX`.
fn parse_time(s: &str) -> Result<TimeSpec, String> {
    let one = |t: &str| -> Result<u64, String> {
        t.strip_prefix('+')
            .and_then(parse_seconds)
            .ok_or_else(|| format!("expected a relative time like +0.5, found '{t}'"))
    };
    match s.split_once('~') {
        Some((a, b)) => {
            let (min, max) = (one(a)?, one(b)?);
            if max < min {
                return Err(format!("empty time window '{s}'"));
            }
            Ok(TimeSpec { min, max })
        }
        None => {
            let t = one(s)?;
            Ok(TimeSpec { min: t, max: t })
        }
    }
}

fn parse_action(t: &[&str]) -> Result<Action, String> {
    let Some((verb, rest)) = t.split_first() else {
        return Ok(Action::Wait);
    };
    match *verb {
        "wait" if rest.is_empty() => Ok(Action::Wait),
        "link" => match rest {
            ["up"] => Ok(Action::LinkUp),
            ["down"] => Ok(Action::LinkDown),
            _ => Err("expected 'link up' or 'link down'".into()),
        },
        "tap<" => {
            let spec = frames::parse_frame(rest)?;
            spec.build().map(Action::Send)
        }
        "tap>" => match rest {
            ["none"] => Ok(Action::ExpectNone),
            _ => frames::parse_frame(rest).map(|s| Action::Expect(Box::new(s))),
        },
        "malformed" => {
            let (count, rest) = rest.split_first().ok_or("malformed needs a count")?;
            let count = count
                .parse()
                .map_err(|_| format!("bad count '{count}' for malformed"))?;
            let mut f = Fields::new(rest);
            let seed = f.num("seed")?;
            f.finish("malformed")?;
            Ok(Action::Malformed { count, seed })
        }
        "expect" => parse_expect(rest).map(Action::Check),
        "host-fail" => {
            let (name, rest) = rest.split_first().ok_or("host-fail needs an error")?;
            let error = crate::host::parse_error_name(name)
                .ok_or_else(|| format!("unknown host error '{name}'"))?;
            let mut f = Fields::new(rest);
            let count = f.num("count")?.unwrap_or(1) as usize;
            f.finish("host-fail")?;
            Ok(Action::HostFail { error, count })
        }
        other => Err(format!("unknown action '{other}'")),
    }
}

fn parse_expect(t: &[&str]) -> Result<Vec<StatCheck>, String> {
    let mut checks = Vec::new();
    let mut drops = false;
    for tok in t {
        if matches!(*tok, "drops" | "drop") {
            drops = true;
            continue;
        }
        let (k, v) = tok
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, found '{tok}'"))?;
        let num = || {
            v.parse::<u64>()
                .map_err(|_| format!("bad count '{v}' for {k}"))
        };
        let reason = DropReason::ALL.iter().find(|r| r.name() == k);
        let check = match (k, reason) {
            ("total", _) if drops => StatCheck::TotalDrops(num()?),
            (_, Some(r)) if drops => StatCheck::Drops(*r, num()?),
            ("frames-in", _) => StatCheck::FramesIn(num()?),
            ("frames-out", _) => StatCheck::FramesOut(num()?),
            ("service-replies", _) => StatCheck::ServiceReplies(num()?),
            ("tx-errors", _) => StatCheck::TxErrors(num()?),
            ("guest-mac", _) if v == "none" => StatCheck::GuestMac(None),
            ("guest-mac", _) => StatCheck::GuestMac(Some(
                parse_mac(v).ok_or_else(|| format!("bad MAC '{v}' for guest-mac"))?,
            )),
            ("link", _) => StatCheck::Link(match v {
                "up" => true,
                "down" => false,
                _ => return Err(format!("bad link state '{v}' (up or down)")),
            }),
            _ if drops => return Err(format!("unknown drop reason '{k}'")),
            _ => return Err(format!("unknown counter '{k}'")),
        };
        checks.push(check);
    }
    if checks.is_empty() {
        return Err("expect needs KEY=VALUE checks".into());
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "config ipv4=198.51.100.2/24 gw=198.51.100.1\n";

    fn parse(body: &str) -> Result<Script, ParseError> {
        parse_script("scripts/t.sim", &format!("{CONFIG}{body}"))
    }

    #[test]
    fn errors_carry_file_and_line() {
        let e = parse("# comment\n\n+0 tap< arq request\n").unwrap_err();
        assert_eq!(e.to_string(), "scripts/t.sim:4: unknown frame kind 'arq'");
        let e = parse("+0 link up\n0 link down\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.msg.contains("relative time"), "{e}");
        let e = parse("+0 link sideways\n").unwrap_err();
        assert_eq!(
            (e.line, e.msg.as_str()),
            (2, "expected 'link up' or 'link down'")
        );
        let e = parse("+0 expect drops eth-truncatd=1\n").unwrap_err();
        assert_eq!(e.msg, "unknown drop reason 'eth-truncatd'");
        let e = parse("+1~+0.5 tap> none\n").unwrap_err();
        assert!(e.msg.contains("empty time window"), "{e}");
        let e = parse("+0~+1 link up\n").unwrap_err();
        assert!(e.msg.contains("window"), "{e}");
        let e = parse("+0 link up\nconfig mtu=1500\n").unwrap_err();
        assert_eq!(e.line, 3);
        let e = parse_script(
            "s.sim",
            "config ipv4=198.51.100.2/24 gw=198.51.100.1\nconfig mtu=9000 colour=blue\n",
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "s.sim:2: unknown field 'colour' for config");
    }

    #[test]
    fn steps_and_times() {
        let s = parse(
            "+0 link up   # bring it up\n+0.25 tap< hex 00\n+0 tap> none\n+200~+600 tap> hex 00\n\
             +1\n+2 wait\n+0 malformed 10 seed=3\n+0 expect drops total=2 eth-truncated=1\n\
             +0 expect frames-out=0 guest-mac=none link=up\n+0 host-fail no-buffers count=2\n",
        )
        .unwrap();
        assert_eq!(s.config_text, CONFIG);
        assert_eq!(s.steps.len(), 10);
        assert_eq!(s.steps[0].text, "+0 link up");
        assert!(matches!(s.steps[0].action, Action::LinkUp));
        assert_eq!(
            s.steps[1].time,
            TimeSpec {
                min: 250_000_000,
                max: 250_000_000
            }
        );
        assert!(matches!(&s.steps[1].action, Action::Send(f) if f == &[0]));
        assert!(matches!(s.steps[2].action, Action::ExpectNone));
        assert_eq!(
            s.steps[3].time,
            TimeSpec {
                min: 200_000_000_000,
                max: 600_000_000_000
            }
        );
        assert!(matches!(s.steps[4].action, Action::Wait));
        assert!(matches!(s.steps[5].action, Action::Wait));
        assert!(matches!(
            s.steps[6].action,
            Action::Malformed {
                count: 10,
                seed: Some(3)
            }
        ));
        assert!(matches!(&s.steps[7].action, Action::Check(c) if c == &[
            StatCheck::TotalDrops(2),
            StatCheck::Drops(DropReason::EthTruncated, 1)
        ]));
        assert!(matches!(&s.steps[8].action, Action::Check(c) if c.len() == 3));
        assert!(matches!(
            s.steps[9].action,
            Action::HostFail {
                error: HostError::NoBuffers,
                count: 2
            }
        ));
    }
}
