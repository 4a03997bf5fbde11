//! AFL target: a whole simulation sweep from a fuzzer-chosen seed and fault options.
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::sim_sweep(data));
}
