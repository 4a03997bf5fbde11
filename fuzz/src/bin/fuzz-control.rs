//! AFL target: control-socket requests (one per line) applied to a running engine.
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::control_requests(data));
}
