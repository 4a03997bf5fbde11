//! Runs every `scripts/*.sim`: the script's own expectations must hold, running it must
//! reproduce its committed `scripts/NAME.log` exactly, and replaying that committed log
//! on a fresh engine must reproduce the same ops.
//!
//! `PASST_SIM_BLESS=1 cargo test -p passt-shim-sim --test scripts` rewrites the logs
//! of the scripts that pass (for intentional behaviour changes; review the diff).
//! A failure names the script line (`scripts/arp.sim:7: …`) or the log line.

use passt_shim_sim::{parse_script, replay, run_script};
use std::path::{Path, PathBuf};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

fn blessing() -> bool {
    std::env::var_os("PASST_SIM_BLESS").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Run one script and compare/replay its log; `Err` is a ready-to-print report.
fn check_script(name: &str) -> Result<(), String> {
    let display = format!("scripts/{name}.sim");
    let text = std::fs::read_to_string(scripts_dir().join(format!("{name}.sim")))
        .map_err(|e| format!("{display}: {e}"))?;
    let script = parse_script(&display, &text).map_err(|e| e.to_string())?;
    let outcome = run_script(&script).map_err(|e| e.to_string())?;

    let log_display = format!("scripts/{name}.log");
    let log_path = scripts_dir().join(format!("{name}.log"));
    if blessing() {
        std::fs::write(&log_path, &outcome.log).map_err(|e| format!("{log_display}: {e}"))?;
    }
    let committed = std::fs::read_to_string(&log_path).map_err(|e| {
        format!("{log_display}: {e} (record it with PASST_SIM_BLESS=1 cargo test -p passt-shim-sim --test scripts)")
    })?;
    if committed != outcome.log {
        let mut old = committed.lines();
        let mut new = outcome.log.lines();
        let mut line = 1;
        loop {
            match (old.next(), new.next()) {
                (a, b) if a == b && a.is_some() => line += 1,
                (a, b) => {
                    return Err(format!(
                        "{log_display}:{line}: running {display} no longer reproduces the committed log\n    \
                         committed: {}\n    now:       {}\n(if intended: PASST_SIM_BLESS=1 cargo test -p passt-shim-sim --test scripts)",
                        a.unwrap_or("<end of log>"),
                        b.unwrap_or("<end of log>")
                    ));
                }
            }
        }
    }
    replay(&script.config, &committed).map_err(|d| {
        format!(
            "{log_display}:{}: replay diverged: expected `{}`, got `{}`",
            d.line, d.expected, d.got
        )
    })
}

macro_rules! scripts {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                if let Err(report) = check_script($name) {
                    panic!("{report}");
                }
            }
        )*

        const LISTED: &[&str] = &[$($name),*];
    };
}

scripts! {
    framework => "framework",
    arp => "arp",
    malformed => "malformed",
    dhcp_dora => "dhcp-dora",
    dhcp_nak => "dhcp-nak",
    ndp_rs_ra => "ndp-rs-ra",
    ndp_rs_ra_minimal => "ndp-rs-ra-minimal",
    ndp_ns_na => "ndp-ns-na",
    ndp_no_ra => "ndp-no-ra",
    ndp_periodic_ra => "ndp-periodic-ra",
    dhcpv6 => "dhcpv6",
}

#[test]
fn every_script_is_listed() {
    let mut found: Vec<String> = std::fs::read_dir(scripts_dir())
        .expect("scripts directory")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "sim").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = LISTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "add new scripts to the scripts! list in tests/scripts.rs"
    );
}
