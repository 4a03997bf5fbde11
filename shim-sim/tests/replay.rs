//! Record/replay: a log replays on a fresh engine, and any tampering is reported at the
//! first line that no longer matches.

use passt_shim_sim::{parse_script, replay, run_script, Divergence, Script};

const SCRIPT: &str = "\
config ipv4=198.51.100.2/24 gw=198.51.100.1 ipv6=2001:db8::2/64 gw6=fe80::1 seed=5
+0 link up
+0.5 tap< hex 9a559a559a55 525400123456 08
+199.5 tap> none
+0~+400 tap> ndp ra dst=ff02::1
+200~+600 tap> ndp ra dst=ff02::1
+200~+600 tap> ndp ra dst=ff02::1
+0 link down
+1 tap< hex 0180c200000e 525400123456 88cc 0000
+1 tap> none
";

fn recorded() -> (Script, String) {
    let script = parse_script("replay.sim", SCRIPT).unwrap();
    let log = run_script(&script).unwrap().log;
    (script, log)
}

fn line_of(log: &str, pred: impl Fn(&str) -> bool) -> usize {
    log.lines().position(pred).expect("line present") + 1
}

fn replace_line(log: &str, line: usize, with: &str) -> String {
    log.lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                with.to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

#[test]
fn untouched_log_replays() {
    let (script, log) = recorded();
    assert!(
        log.lines().filter(|l| l.ends_with(" timeout")).count() >= 3,
        "{log}"
    );
    assert_eq!(replay(&script.config, &log), Ok(()));
}

#[test]
fn moved_timeout_is_reported_at_its_line() {
    let (script, log) = recorded();
    let line = line_of(&log, |l| l.ends_with(" timeout"));
    let tampered = replace_line(&log, line, "100.000000000 timeout");
    let d = replay(&script.config, &tampered).unwrap_err();
    assert_eq!(d.line, line);
    assert_eq!(d.expected, "100.000000000 timeout");
    assert!(d.got.ends_with(" timeout"), "{d}");
    assert_ne!(d.got, d.expected);
}

#[test]
fn missing_link_up_is_reported_at_the_first_timeout() {
    let (script, log) = recorded();
    let up = line_of(&log, |l| l.ends_with(" link-up"));
    let tampered = replace_line(&log, up, "# removed");
    let d = replay(&script.config, &tampered).unwrap_err();
    // The first frame brings the link up too, but half a second later, so every RA
    // deadline moves and the first recorded timeout no longer matches.
    assert_eq!(d.line, line_of(&log, |l| l.ends_with(" timeout")));
}

#[test]
fn extra_or_altered_ops_are_reported() {
    let (script, log) = recorded();
    let frame_line = line_of(&log, |l| l.contains(" tap< 0180c2"));
    let mut lines: Vec<&str> = log.lines().collect();
    lines.insert(frame_line, "    tap-send 00 -> done");
    let tampered: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let d = replay(&script.config, &tampered).unwrap_err();
    assert_eq!(
        d,
        Divergence {
            line: frame_line + 1,
            expected: "tap-send 00".into(),
            got: "no op".into(),
        }
    );

    let garbled = replace_line(&log, frame_line, "1.5 tap< zz");
    let d = replay(&script.config, &garbled).unwrap_err();
    assert_eq!((d.line, d.got.as_str()), (frame_line, "1.5 tap< zz"));
}

#[test]
fn a_skipped_deadline_is_a_divergence() {
    let (script, log) = recorded();
    let first_timeout = line_of(&log, |l| l.ends_with(" timeout"));
    let tampered = replace_line(&log, first_timeout, "# dropped");
    let d = replay(&script.config, &tampered).unwrap_err();
    // The fresh engine still fires the deadline; the log no longer has it. Replay
    // notices either at the next recorded timeout or at the op the timeout caused
    // (here the router advertisement it sends), never before the dropped line.
    assert!(
        d.got.ends_with(" timeout") || d.expected.starts_with("tap-send"),
        "{d}"
    );
    assert!(d.line >= first_timeout, "{d}");
}

#[test]
fn altered_op_bytes_are_reported_with_both_versions() {
    // The proxy-ARP reply is an op; flip its last byte in the log.
    let script = parse_script(
        "arp.sim",
        "config ipv4=198.51.100.2/24 gw=198.51.100.1\n\
         +0 tap< arp request who-has 198.51.100.1 tell 198.51.100.2\n\
         +0 tap> arp reply 198.51.100.1 is-at 9a:55:9a:55:9a:55\n",
    )
    .unwrap();
    let log = run_script(&script).unwrap().log;
    let line = line_of(&log, |l| l.starts_with("    tap-send "));
    let original = log.lines().nth(line - 1).unwrap().to_string();
    let tampered_line = original.replace("c6336402 -> done", "c6336403 -> done");
    assert_ne!(original, tampered_line);
    let d = replay(&script.config, &replace_line(&log, line, &tampered_line)).unwrap_err();
    assert_eq!(d.line, line);
    assert!(d.expected.ends_with("c6336403"), "{d}");
    assert!(d.got.ends_with("c6336402"), "{d}");
    assert_eq!(d.got, original.trim_start().trim_end_matches(" -> done"));
}

#[test]
fn recorded_host_errors_are_replayed() {
    let script = parse_script(
        "arp.sim",
        "config ipv4=198.51.100.2/24 gw=198.51.100.1\n\
         +0 host-fail no-buffers\n\
         +0 tap< arp request who-has 198.51.100.1 tell 198.51.100.2\n\
         +0 tap> none\n\
         +0 expect tx-errors=1 frames-out=0\n",
    )
    .unwrap();
    let log = run_script(&script).unwrap().log;
    assert!(log.contains(" -> err=no-buffers\n"), "{log}");
    assert_eq!(replay(&script.config, &log), Ok(()));
}
