//! Shared helpers for the argv tests (callers_*.rs): parse a command line and
//! expect success or an error, and small value constructors.
#![allow(dead_code)] // each test binary uses a different subset

use passt_cli::options::Forward;
use passt_cli::{parse, Action, Options};
use passt_core::Mode;
use std::net::IpAddr;

pub fn run(mode: Mode, args: &[&str]) -> Options {
    match parse(mode, args) {
        Ok(Action::Run(o)) => *o,
        other => panic!("{args:?}: {other:?}"),
    }
}

pub fn pasta(args: &[&str]) -> Options {
    run(Mode::Pasta, args)
}

pub fn passt(args: &[&str]) -> Options {
    run(Mode::Passt, args)
}

pub fn err(mode: Mode, args: &[&str]) -> String {
    match parse(mode, args) {
        Err(e) => e.to_string(),
        other => panic!("{args:?} parsed: {other:?}"),
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn v4(s: &str) -> Option<std::net::Ipv4Addr> {
    Some(s.parse().unwrap())
}

pub fn v6(s: &str) -> Option<std::net::Ipv6Addr> {
    Some(s.parse().unwrap())
}

/// `(first, last, delta, bind address)` of one forwarded range.
pub type Range = (u16, u16, u16, Option<IpAddr>);

/// Each forwarded range, or `None` if not fixed.
pub fn ranges(f: &Forward) -> Option<Vec<Range>> {
    match f {
        Forward::Ports { forwards, .. } => Some(
            forwards
                .ranges
                .iter()
                .map(|r| (r.first, r.last, r.delta, r.bind_addr))
                .collect(),
        ),
        Forward::None | Forward::Auto => None,
    }
}

pub fn delta(from: u16, to: u16) -> u16 {
    to.wrapping_sub(from)
}
