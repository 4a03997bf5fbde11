//! AFL target: the virtio-net device against hostile descriptor tables and rings.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        passt_fuzz::virtqueue_rings(data);
    });
}
