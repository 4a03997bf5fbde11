//! AFL target: structure-aware TCP conversations through a whole engine, the byte
//! streams and invariants checked after every step.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        passt_fuzz::tcp_conversation(data);
    });
}
