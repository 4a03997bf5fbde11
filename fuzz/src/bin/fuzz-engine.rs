//! AFL target: frame sequences into a whole engine, invariants checked every step.
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::engine_frames(data));
}
