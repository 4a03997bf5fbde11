//! AFL target: every wire parser, with round-trip checks.
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::wire_frame(data));
}
