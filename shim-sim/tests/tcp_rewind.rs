//! TCP: acknowledgements for data sent before a retransmission rewind (found by the
//! simulation sweeps).

use passt_core::wire::tcp::TcpFlags;
use passt_core::DropReason;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4};
use std::net::SocketAddr;
use std::time::Duration;

/// The guest's window shrinks below what is in flight, the retransmission timer
/// rewinds and resends only what the window allows, then the guest acknowledges
/// everything it had received before the rewind: that ACK must be taken.
#[test]
fn ack_of_data_sent_before_a_rewind_is_accepted() {
    let mut tb = Testbed::new(default_config(), 16);
    let guest = SocketAddr::new(GUEST_V4.into(), 40_300);
    let remote: SocketAddr = "203.0.113.5:80".parse().unwrap();
    let mut syn = Segment::new(guest, remote, 1000, 0, TcpFlags::SYN);
    syn.mss = Some(1460);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().unwrap();
    let irs = synack.seq.wrapping_add(1);
    tb.guest_send(&Segment::new(guest, remote, 1001, irs, TcpFlags::ACK));
    let sock = tb.host.find_connected(remote).unwrap();
    tb.host.peer_send(sock, &[7u8; 3000]);
    tb.settle();
    let sent: usize = tb.drain_segments().iter().map(|s| s.payload.len()).sum();
    assert_eq!(sent, 3000);
    // The guest got it all, but its ACKs are lost; a window update shrinks its window.
    let mut small = Segment::new(guest, remote, 1001, irs, TcpFlags::ACK);
    small.window = 1000;
    tb.guest_send(&small);
    tb.advance(Duration::from_millis(1100)); // RTO: rewind, resend 1000 bytes
    let resent: usize = tb.drain_segments().iter().map(|s| s.payload.len()).sum();
    assert_eq!(resent, 1000);
    let mut all = Segment::new(guest, remote, 1001, irs.wrapping_add(3000), TcpFlags::ACK);
    all.window = 65_535;
    tb.guest_send(&all);
    assert_eq!(
        tb.engine.stats().drops(DropReason::TcpOutOfWindow),
        0,
        "the ACK was refused"
    );
    assert_eq!(
        tb.host.socket(sock).unwrap().rx.len(),
        0,
        "acknowledged data discarded"
    );
}
