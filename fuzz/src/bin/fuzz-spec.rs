//! AFL target: port specs (one per line) and the forwarding table they build.
fn main() {
    afl::fuzz!(|data: &[u8]| passt_fuzz::port_specs(data));
}
