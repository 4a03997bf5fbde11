//! What the TCP test files share: a scripted guest connection and its handshake.
#![allow(dead_code)] // each test file uses a subset

use passt_core::wire::tcp::TcpFlags;
use passt_shim_sim::testbed::{Segment, Testbed};
use std::net::SocketAddr;

/// The flags the tests' segments carry.
pub const SYN: TcpFlags = TcpFlags::SYN;
pub const ACK: TcpFlags = TcpFlags::ACK;
pub const FIN: TcpFlags = TcpFlags::FIN;
pub const RST: TcpFlags = TcpFlags::RST;

/// A socket address from its text.
pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The guest's initial sequence number in [`connect`].
pub const GUEST_ISN: u32 = 1_000_000;

/// A guest-side connection in progress: addresses and both sequence numbers.
pub struct Conn {
    /// The guest's end.
    pub guest: SocketAddr,
    /// The remote end, as the guest addresses it.
    pub remote: SocketAddr,
    /// Next sequence number the guest sends.
    pub seq: u32,
    /// Next sequence number the guest expects.
    pub ack: u32,
}

impl Conn {
    /// The connection once the guest (which sent its SYN with [`GUEST_ISN`]) has the
    /// engine's SYN-ACK `synack`.
    pub fn after_synack(guest: SocketAddr, remote: SocketAddr, synack: &Segment) -> Conn {
        Conn {
            guest,
            remote,
            seq: GUEST_ISN + 1,
            ack: synack.seq.wrapping_add(1),
        }
    }

    /// The guest's next segment on this connection.
    pub fn seg(&self, flags: TcpFlags, payload: &[u8]) -> Segment {
        let mut s = Segment::new(self.guest, self.remote, self.seq, self.ack, flags);
        s.payload = payload.to_vec();
        s
    }
}

/// Open a connection from the guest to `remote` and complete both handshakes.
pub fn connect(tb: &mut Testbed, guest: SocketAddr, remote: SocketAddr) -> Conn {
    let mut syn = Segment::new(guest, remote, GUEST_ISN, 0, SYN);
    syn.mss = Some(1460);
    syn.window_scale = Some(7);
    tb.guest_send(&syn);
    assert!(
        tb.drain_segments().is_empty(),
        "no SYN-ACK before the host connect completes"
    );
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK after the host connect");
    assert!(synack.has(SYN | ACK), "{synack:?}");
    assert_eq!(synack.ack, GUEST_ISN + 1);
    let c = Conn::after_synack(guest, remote, &synack);
    tb.guest_send(&c.seg(ACK, b""));
    assert!(tb.drain_segments().is_empty());
    c
}

/// The host socket connected to `remote`.
pub fn host_sock(tb: &Testbed, remote: SocketAddr) -> passt_core::SockRef {
    tb.host
        .find_connected(remote)
        .expect("host socket connected to the remote")
}
