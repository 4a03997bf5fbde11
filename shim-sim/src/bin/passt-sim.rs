//! `passt-sim`: run simulator scripts and replay their logs from the command line.
//!
//! ```text
//! passt-sim run FILE.sim [--log OUT.log]   run a script; print or save its log
//! passt-sim replay FILE.log                replay a log on a fresh engine
//! ```

use passt_shim_sim::{config, log, parse_script, replay, run_script};
use std::process::ExitCode;

const USAGE: &str =
    "usage: passt-sim run FILE.sim [--log OUT.log]\n       passt-sim replay FILE.log";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[&str]) -> Result<String, String> {
    match args {
        ["run", file, rest @ ..] => {
            let out_path = match rest {
                [] => None,
                ["--log", out] => Some(*out),
                _ => return Err(USAGE.into()),
            };
            let script = parse_script(file, &read(file)?).map_err(|e| e.to_string())?;
            let outcome = run_script(&script).map_err(|e| e.to_string())?;
            match out_path {
                Some(out) => {
                    std::fs::write(out, &outcome.log).map_err(|e| format!("{out}: {e}"))?;
                    Ok(format!("{file}: ok, log written to {out}"))
                }
                None => Ok(format!("{}{file}: ok", outcome.log)),
            }
        }
        ["replay", file] => {
            let text = read(file)?;
            let header = log::config_lines(&text);
            let tokens: Vec<&str> = header
                .lines()
                .flat_map(|l| l.split_whitespace().skip(1))
                .collect();
            let cfg = config::parse_config(&tokens).map_err(|e| format!("{file}: {e}"))?;
            replay(&cfg, &text).map_err(|d| {
                format!(
                    "{file}:{}: replay diverged: expected `{}`, got `{}`",
                    d.line, d.expected, d.got
                )
            })?;
            Ok(format!("{file}: replay ok"))
        }
        _ => Err(USAGE.into()),
    }
}
