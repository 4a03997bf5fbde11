//! AFL target: passt's vhost-user back end against a hostile front end.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        passt_fuzz::vhost_session(data);
    });
}
