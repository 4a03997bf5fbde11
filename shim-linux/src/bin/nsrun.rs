//! `shim-linux-nsrun [--lo-up] [--hostname NAME] -- COMMAND [ARGS...]`
//!
//! Runs COMMAND in new user + network + UTS namespaces (uid/gid 0 inside,
//! mapped to the caller's), the way pasta does, and exits with its status
//! (128 + signal if it was killed). With `--lo-up` it first joins the child's
//! user and network namespaces itself (possible because this process is
//! single-threaded) and brings `lo` up over netlink before letting the
//! command run. Used by the integration tests to exercise the unprivileged
//! path under `setpriv`.

use std::process::ExitCode;

use passt_shim_linux::{Netlink, NsCommand};

fn run() -> std::io::Result<i32> {
    let mut args = std::env::args_os().skip(1);
    let mut lo_up = false;
    let mut hostname = None;
    let mut command = Vec::new();
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("--lo-up") => lo_up = true,
            Some("--hostname") => hostname = args.next(),
            Some("--") => {
                command.extend(args.by_ref());
                break;
            }
            _ => {
                command.push(a);
                command.extend(args.by_ref());
                break;
            }
        }
    }
    let Some((program, rest)) = command.split_first() else {
        eprintln!("usage: shim-linux-nsrun [--lo-up] [--hostname NAME] -- COMMAND [ARGS...]");
        return Ok(2);
    };
    let mut cmd = NsCommand::new(program);
    cmd.args(rest);
    if let Some(h) = hostname {
        cmd.hostname(h.as_encoded_bytes());
    }
    let mut child = cmd.spawn()?;
    if lo_up {
        child.userns().enter()?;
        child.netns().enter()?;
        let mut nl = Netlink::open()?;
        let lo = nl.link_index("lo")?;
        nl.link_set_up(lo)?;
    }
    child.start()?;
    child.wait()
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => {
            eprintln!("shim-linux-nsrun: {e}");
            ExitCode::from(126)
        }
    }
}
