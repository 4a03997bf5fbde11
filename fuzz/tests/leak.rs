//! AFL runs a harness over millions of inputs in one process (persistent mode), so a
//! harness must give back everything an input took. (Its own test binary: the
//! resident set of a process running other tests in parallel would say nothing.)

/// Resident set size of this process, in bytes (Linux).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn testbed_harnesses_do_not_leak_per_input() {
    // One warm-up round, then 2000 inputs: a testbed leaked per input (70 KB of
    // transmit buffer alone, the pages it touched resident) grew the process by
    // 36 MB here, and AFL's fuzz-engine to an out-of-memory kill at 23 GB; owned
    // storage leaves it flat (4 KB).
    passt_fuzz::engine_frames(&[]);
    passt_fuzz::control_requests(b"");
    passt_fuzz::tcp_conversation(&[]);
    let before = rss();
    for _ in 0..1000 {
        passt_fuzz::engine_frames(&[]);
        passt_fuzz::control_requests(b"");
        passt_fuzz::tcp_conversation(&[]);
    }
    let grown = rss().saturating_sub(before);
    assert!(
        grown < 8 << 20,
        "grew by {} KB over 3000 inputs",
        grown >> 10
    );
}
