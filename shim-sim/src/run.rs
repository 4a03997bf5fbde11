//! The script executor: drives a [`Sim`] through a [`Script`]'s steps and checks its
//! expectations. A failure names the file, the line and what was seen.

use crate::log::format_time;
use crate::malformed;
use crate::parse::{Action, Script, StatCheck, Step};
use crate::rng::Rng;
use crate::sim::{Emitted, Sim};
use crate::storage::SimStorage;
use passt_core::wire::ethernet;
use passt_core::{Instant, Stats};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// A failed script step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The script's file name.
    pub file: String,
    /// 1-based line (0 when the engine could not even start).
    pub line: usize,
    /// The script line as written.
    pub text: String,
    /// What went wrong.
    pub msg: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.msg)?;
        if !self.text.is_empty() {
            write!(f, "\n    at: {}", self.text)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

/// The result of a successful run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The record/replay log.
    pub log: String,
    /// The engine's counters at the end.
    pub stats: Stats,
}

/// Run `script` on a fresh engine.
pub fn run_script(script: &Script) -> Result<Outcome, ScriptError> {
    let mut storage = SimStorage::new();
    let mut sim =
        Sim::new(script.config.clone(), &script.config_text, &mut storage).map_err(|e| {
            ScriptError {
                file: script.file.clone(),
                line: 0,
                text: String::new(),
                msg: format!("the engine refused the configuration: {e:?}"),
            }
        })?;
    for step in &script.steps {
        run_step(&mut sim, step).map_err(|msg| ScriptError {
            file: script.file.clone(),
            line: step.line,
            text: step.text.clone(),
            msg,
        })?;
    }
    if let Some(last) = script.steps.last() {
        if !sim.outbox().is_empty() {
            let n = sim.outbox().len();
            let first = sim.pop_frame().map(|e| describe(&e)).unwrap_or_default();
            return Err(ScriptError {
                file: script.file.clone(),
                line: last.line,
                text: last.text.clone(),
                msg: format!("{n} frame(s) sent and never checked by the end; first: {first}"),
            });
        }
    }
    Ok(Outcome {
        log: sim.log().text(),
        stats: sim.stats().clone(),
    })
}

/// Parse and run a script file; `display` names it in messages.
pub fn run_file(path: &Path, display: &str) -> Result<Outcome, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let script = crate::parse::parse_script(display, &text)?;
    Ok(run_script(&script)?)
}

/// One line about a frame the engine sent: time, addresses, type, length and bytes.
pub fn describe(e: &Emitted) -> String {
    let hex = crate::hex::encode(&e.frame);
    match ethernet::Frame::new_checked(&e.frame[..]) {
        Ok(f) => format!(
            "at {} {} -> {} type {:#06x}, {} bytes: {hex}",
            format_time(e.at),
            f.src_addr(),
            f.dst_addr(),
            u16::from(f.ethertype()),
            e.frame.len()
        ),
        Err(_) => format!("at {} {} bytes: {hex}", format_time(e.at), e.frame.len()),
    }
}

fn run_step(sim: &mut Sim<'_>, step: &Step) -> Result<(), String> {
    let start = sim.now();
    let earliest = start + Duration::from_nanos(step.time.min);
    let latest = start + Duration::from_nanos(step.time.max);
    let advance = |sim: &mut Sim<'_>, to: Instant| sim.advance_to(to).map_err(|e| e.to_string());
    match &step.action {
        Action::Expect(spec) => {
            advance(sim, earliest)?;
            if sim.outbox().is_empty() {
                sim.advance_until(latest, |s| !s.outbox().is_empty())
                    .map_err(|e| e.to_string())?;
            }
            let Some(emitted) = sim.pop_frame() else {
                return Err(if latest == earliest {
                    "expected a frame, but none was sent".into()
                } else {
                    format!(
                        "expected a frame by {}, but none was sent",
                        format_time(latest)
                    )
                });
            };
            if emitted.at < earliest || emitted.at > latest {
                let when = if latest == earliest {
                    format_time(earliest)
                } else {
                    format!("{}..{}", format_time(earliest), format_time(latest))
                };
                return Err(format!(
                    "frame sent at the wrong time (expected at {when}): {}",
                    describe(&emitted)
                ));
            }
            spec.check(&emitted.frame)
                .map_err(|m| format!("{m}\n    frame: {}", describe(&emitted)))?;
        }
        Action::ExpectNone => {
            advance(sim, latest)?;
            if let Some(e) = sim.pop_frame() {
                return Err(format!("expected no frame, got {}", describe(&e)));
            }
        }
        other => {
            advance(sim, earliest)?;
            match other {
                Action::Wait | Action::Expect(_) | Action::ExpectNone => {}
                Action::LinkUp => sim.link_up(),
                Action::LinkDown => sim.link_down(),
                Action::Send(frame) => sim.tap_frame(frame),
                Action::Malformed { count, seed } => {
                    let frames = match seed {
                        Some(s) => malformed::generate(&mut Rng::new(*s), *count),
                        None => malformed::generate(sim.rng(), *count),
                    };
                    for f in frames {
                        sim.tap_frame(&f);
                    }
                }
                Action::Check(checks) => {
                    for c in checks {
                        check(sim, c)?;
                    }
                }
                Action::HostFail { error, count } => sim.fail_next_ops(*error, *count),
            }
        }
    }
    Ok(())
}

/// `reason=N …` for every non-zero drop counter, or `none`.
fn drop_summary(stats: &Stats) -> String {
    let drops: Vec<String> = stats
        .nonzero_drops()
        .map(|(r, n)| format!("{}={n}", r.name()))
        .collect();
    if drops.is_empty() {
        "none".into()
    } else {
        drops.join(" ")
    }
}

fn check(sim: &Sim<'_>, c: &StatCheck) -> Result<(), String> {
    let stats = sim.stats();
    let count = |what: String, want: u64, got: u64| {
        if want == got {
            Ok(())
        } else {
            Err(format!(
                "{what}: expected {want}, got {got} (drops: {})",
                drop_summary(stats)
            ))
        }
    };
    match c {
        StatCheck::TotalDrops(n) => count("total drops".into(), *n, stats.total_drops()),
        StatCheck::Drops(r, n) => count(format!("drops {}", r.name()), *n, stats.drops(*r)),
        StatCheck::FramesIn(n) => count("frames-in".into(), *n, stats.frames_in),
        StatCheck::FramesOut(n) => count("frames-out".into(), *n, stats.frames_out),
        StatCheck::ServiceReplies(n) => count("service-replies".into(), *n, stats.service_replies),
        StatCheck::TxErrors(n) => count("tx-errors".into(), *n, stats.tx_errors),
        StatCheck::GuestMac(want) => {
            let got = sim.guest().mac;
            if *want == got {
                Ok(())
            } else {
                let show =
                    |m: Option<ethernet::MacAddr>| m.map_or("none".into(), |m| m.to_string());
                Err(format!(
                    "guest-mac: expected {}, got {}",
                    show(*want),
                    show(got)
                ))
            }
        }
        StatCheck::Link(up) => {
            if sim.engine().link_up() == *up {
                Ok(())
            } else {
                Err(format!(
                    "link: expected {}",
                    if *up { "up" } else { "down" }
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_script;

    const CONFIG: &str = "config ipv4=198.51.100.2/24 gw=198.51.100.1 ipv6=2001:db8::2/64 \
                          gw6=fe80::1 seed=1\n";

    fn run(body: &str) -> Result<Outcome, ScriptError> {
        let script = parse_script("t.sim", &format!("{CONFIG}{body}")).unwrap();
        run_script(&script)
    }

    #[test]
    fn drop_counters_and_failures_name_the_line() {
        let ok = run("+0 tap< hex 00112233445566778899aabbcc\n\
                      +0 tap< hex 0300000000010300000000020806\n\
                      +0 expect drops total=2 eth-truncated=1 eth-bad-source=1\n\
                      +0 expect frames-in=2 frames-out=0 guest-mac=none link=up\n\
                      +1 tap> none\n");
        let out = ok.unwrap();
        assert_eq!(out.stats.total_drops(), 2);
        assert!(out
            .log
            .contains("0.000000000 tap< 00112233445566778899aabbcc\n"));

        let e =
            run("+0 tap< hex 00112233445566778899aabbcc\n+0 expect drops total=5\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(
            e.msg,
            "total drops: expected 5, got 1 (drops: eth-truncated=1)"
        );
        assert!(e.to_string().starts_with("t.sim:3: total drops"));
        assert!(e.to_string().ends_with("at: +0 expect drops total=5"));
    }

    #[test]
    fn expecting_a_frame_that_never_comes() {
        let e = run("+0 link up\n+0 tap> hex 00\n").unwrap_err();
        assert_eq!(
            (e.line, e.msg.as_str()),
            (3, "expected a frame, but none was sent")
        );
    }

    #[test]
    fn malformed_frames_are_all_dropped_and_logged() {
        let out = run("+0 malformed 200 seed=4\n+0 expect drops total=200 frames-out=0\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out.log.lines().filter(|l| l.contains(" tap< ")).count(),
            200
        );
    }

    #[test]
    fn time_accumulates_across_lines() {
        let out = run("+1.5 link up\n+0.25\n+2 wait\n+0 tap< hex 00\n").unwrap();
        assert!(out.log.contains("1.500000000 link-up\n"), "{}", out.log);
        assert!(out.log.contains("3.750000000 tap< 00\n"), "{}", out.log);
    }
}
