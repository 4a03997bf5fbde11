//! Every harness over its committed corpus (and a few hostile extras), so CI
//! exercises the fuzz targets without AFL.

use std::path::Path;

fn corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {name}");
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn wire_corpus() {
    for (name, data) in corpus("wire") {
        eprintln!("{name}");
        passt_fuzz::wire_frame(&data);
        // Every truncation of a real frame must be handled too.
        for cut in 0..data.len() {
            passt_fuzz::wire_frame(&data[..cut]);
        }
    }
}

#[test]
fn engine_corpus() {
    for (name, data) in corpus("engine") {
        eprintln!("{name}");
        passt_fuzz::engine_frames(&data);
    }
}

#[test]
fn sim_corpus() {
    for (name, data) in corpus("sim") {
        eprintln!("{name}");
        passt_fuzz::sim_sweep(&data);
    }
}

#[test]
fn cli_corpus() {
    for (name, data) in corpus("cli") {
        eprintln!("{name}");
        passt_fuzz::cli_argv(&data);
        // Every argv cut short, and the same argv for the other program.
        for cut in 0..data.len() {
            passt_fuzz::cli_argv(&data[..cut]);
        }
        let mut other = data.clone();
        other[0] ^= 1;
        passt_fuzz::cli_argv(&other);
    }
}

#[test]
fn spec_corpus() {
    for (name, data) in corpus("spec") {
        eprintln!("{name}");
        passt_fuzz::port_specs(&data);
        for cut in 0..data.len() {
            passt_fuzz::port_specs(&data[..cut]);
        }
    }
}

/// The seed corpora hold what the callers really pass: the CLI corpus parses.
#[test]
fn caller_argvs_parse() {
    use passt_cli::parse;
    use passt_core::Mode;
    for (name, data) in corpus("cli") {
        // Only the hand-written callers' argvs must parse: campaign finds (`afl-NNN`)
        // are replayed for panics like every other input.
        if name.contains("bad") || name.contains("wrong") || name.contains("/afl-") {
            continue;
        }
        let mode = if data[0] % 2 == 0 {
            Mode::Pasta
        } else {
            Mode::Passt
        };
        let args: Vec<String> = data[1..]
            .split(|b| *b == 0)
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect();
        assert!(
            parse(mode, &args).is_ok(),
            "{name}: {:?}",
            parse(mode, &args)
        );
    }
}

#[test]
fn control_corpus() {
    for (name, data) in corpus("control") {
        eprintln!("{name}");
        passt_fuzz::control_requests(&data);
    }
}

#[test]
fn virtqueue_seeds_reach_what_they_aim_at() {
    let run = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/virtqueue")
            .join(name);
        passt_fuzz::virtqueue_rings(&std::fs::read(path).unwrap())
    };
    let outcome = |from, to, refused| passt_fuzz::RingsOutcome {
        frames_from_guest: from,
        frames_to_guest: to,
        refused,
    };
    assert_eq!(run("tx-one-frame"), outcome(1, 0, false));
    assert_eq!(run("tx-indirect"), outcome(1, 0, false));
    assert_eq!(run("rx-mergeable"), outcome(0, 2, false));
    assert_eq!(
        run("rx-plain"),
        outcome(0, 1, false),
        "3000 bytes fit no 2 KiB buffer"
    );
    assert_eq!(run("tx-loop"), outcome(0, 0, true));
    assert_eq!(run("tx-hole"), outcome(0, 0, true));
}

#[test]
fn virtqueue_corpus() {
    for (name, data) in corpus("virtqueue") {
        eprintln!("{name}");
        passt_fuzz::virtqueue_rings(&data);
        for cut in 0..data.len() {
            passt_fuzz::virtqueue_rings(&data[..cut]);
        }
    }
}

#[test]
fn vhost_seeds_reach_what_they_aim_at() {
    let run = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/vhost")
            .join(name);
        passt_fuzz::vhost_session(&std::fs::read(path).unwrap())
    };
    let outcome = |from, to, dropped| passt_fuzz::SessionOutcome {
        frames_from_guest: from,
        frames_to_guest: to,
        dropped,
    };
    assert_eq!(run("session"), outcome(1, 2, false), "a frame each way");
    assert_eq!(
        run("early-enable"),
        outcome(1, 0, false),
        "qemu 7.2's order"
    );
    assert_eq!(run("handshake-only"), outcome(0, 0, false));
    assert_eq!(run("mem-table-no-fd"), outcome(0, 0, true));
    assert_eq!(run("legacy-features"), outcome(0, 0, true));
    assert_eq!(run("unknown-request"), outcome(0, 0, true));
}

#[test]
fn vhost_corpus() {
    for (name, data) in corpus("vhost") {
        eprintln!("{name}");
        passt_fuzz::vhost_session(&data);
        for cut in (0..data.len()).step_by(7) {
            passt_fuzz::vhost_session(&data[..cut]);
        }
    }
}

#[test]
fn tcp_corpus() {
    for (name, data) in corpus("tcp") {
        eprintln!("{name}");
        let outcome = passt_fuzz::tcp_conversation(&data);
        eprintln!("  {outcome:?}");
        // Every prefix is a conversation cut short: it must pass the same checks.
        for cut in (0..data.len()).step_by(3) {
            passt_fuzz::tcp_conversation(&data[..cut]);
        }
    }
}

#[test]
fn tcp_seeds_reach_what_they_aim_at() {
    let run = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/tcp")
            .join(name);
        passt_fuzz::tcp_conversation(&std::fs::read(path).unwrap())
    };
    let o = run("v4-handshake-data-fin-both-ways");
    assert_eq!((o.bytes_to_host, o.bytes_to_guest), (100, 64), "{o:?}");
    assert_eq!((o.resets_to_guest, o.flows_after_timeouts), (0, 0), "{o:?}");
    let o = run("v6-inbound-data-both-ways");
    assert_eq!((o.bytes_to_host, o.bytes_to_guest), (300, 256), "{o:?}");
    let o = run("host-refuses-connect");
    assert_eq!((o.segments_to_guest, o.resets_to_guest), (1, 1), "{o:?}");
    let o = run("zero-window-then-persist-probes");
    assert_eq!(o.bytes_to_guest, 255 * 64, "{o:?}");
    assert!(
        o.segments_to_guest > 50,
        "probes and retransmissions: {o:?}"
    );
    let o = run("offload-large-host-data");
    assert_eq!(o.bytes_to_guest, 255 * 64 + 63 + 100 * 64, "{o:?}");
    assert_eq!(
        o.flows_after_timeouts, 0,
        "the guest acknowledged the FIN but kept its side open, then went silent: \
         probed after 60 s (RFC 1122 §4.2.3.6) and freed: {o:?}"
    );
    let o = run("small-host-send-buffer-then-drain");
    assert_eq!(
        o.bytes_to_host, 2100,
        "100 bytes of room, then 500 and 2000 more"
    );
    let o = run("v4-out-of-order-overlap-retransmit-beyond-window");
    assert_eq!(o.bytes_to_host, 700, "{o:?}");
    let o = run("flow-table-full-one-slot");
    assert_eq!(o.conversations, 3);
    assert!(
        o.resets_to_guest >= 1,
        "the second guest SYN refused: {o:?}"
    );
}
