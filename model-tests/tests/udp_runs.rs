//! UDP toward the guest with segmentation offload (runs of datagrams the link cuts
//! apart) against the simplest model: every datagram a host peer sent arrives, whole,
//! and in the order that peer sent it — whatever the sizes, the senders' families and
//! how they interleave, and however the engine grouped them into frames.
//!
//! Datagrams arrive on a forwarded port (`-u`, one socket shared by every sender) and
//! on a flow the guest opened (its own connected socket); the simulator's link model
//! cuts offloaded frames the way Linux does (`passt_shim_sim::offload`), and each frame
//! the guest gets must be valid UDP with a correct checksum.

use passt_core::fwd::PortRange;
use passt_core::io::Transport;
use passt_shim_sim::datagrams::Udp;
use passt_shim_sim::testbed::{default_config, Testbed, GUEST_V4, GUEST_V6};
use proptest::prelude::*;
use std::net::SocketAddr;

/// Forwarded port on the host, and the guest's port it leads to.
const FORWARDED: u16 = 5353;
const GUEST_PORT: u16 = 53;

/// Host peers: two IPv4 and one IPv6 sender.
const SENDERS: [&str; 3] = [
    "203.0.113.7:41000",
    "203.0.113.8:41001",
    "[2001:db8:2::7]:41002",
];

fn config() -> passt_core::Config {
    let mut c = default_config();
    c.offload.udp_segment_max = 65_507;
    c.forwards
        .udp_in
        .ranges
        .push(PortRange {
            first: FORWARDED,
            last: FORWARDED,
            delta: GUEST_PORT.wrapping_sub(FORWARDED),
            bind_addr: None,
            bind_iface: None,
        })
        .unwrap();
    c
}

/// A datagram size: mostly a few repeating sizes (so runs form), sometimes anything,
/// empty ones included.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => prop_oneof![Just(1472usize), Just(1200), Just(100)],
        1 => 0usize..3000,
        1 => Just(0usize),
    ]
}

/// Payload `i` of a test: its index in the first bytes, then a pattern of its own.
fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|k| match k {
            0 => (i >> 8) as u8,
            1 => i as u8,
            _ => (i + k) as u8,
        })
        .collect()
}

fn guest_end(peer: SocketAddr, port: u16) -> SocketAddr {
    if peer.is_ipv4() {
        SocketAddr::new(GUEST_V4.into(), port)
    } else {
        SocketAddr::new(GUEST_V6.into(), port)
    }
}

/// What the guest received, per sender, in arrival order.
fn received(tb: &mut Testbed) -> Vec<Udp> {
    std::iter::from_fn(|| tb.next_frame())
        .map(|f| Udp::from_frame(&f).unwrap_or_else(|| panic!("not valid UDP: {f:02x?}")))
        .collect()
}

fn per_sender(datagrams: &[Udp], from: SocketAddr) -> Vec<&Udp> {
    datagrams.iter().filter(|d| d.src == from).collect()
}

proptest! {
    #[test]
    fn a_forwarded_port_delivers_every_senders_datagrams_whole_and_in_order(
        sends in prop::collection::vec((0usize..SENDERS.len(), size()), 1..100),
    ) {
        let mut tb = Testbed::new(config(), 16);
        tb.engine.start(&mut tb.host).unwrap();
        let l = tb
            .host
            .find_bound(Transport::Udp, "[::]:5353".parse().unwrap())
            .unwrap();
        let mut want = Vec::new();
        for (i, &(s, len)) in sends.iter().enumerate() {
            let from: SocketAddr = SENDERS[s].parse().unwrap();
            let p = payload(i, len);
            tb.host.peer_send_to(l, from, &p);
            want.push(Udp::new(from, guest_end(from, GUEST_PORT), &p));
        }
        tb.settle();
        let got = received(&mut tb);
        for s in SENDERS {
            let from: SocketAddr = s.parse().unwrap();
            prop_assert_eq!(per_sender(&got, from), per_sender(&want, from));
        }
        prop_assert_eq!(got.len(), want.len());
        prop_assert_eq!(tb.engine.stats().udp_datagrams_to_guest, want.len() as u64);
    }

    #[test]
    fn a_flow_delivers_the_replies_whole_and_in_order(
        sizes in prop::collection::vec(size(), 1..150),
        v6 in any::<bool>(),
    ) {
        let mut tb = Testbed::new(config(), 16);
        let remote: SocketAddr = if v6 { "[2001:db8:2::1]:5201" } else { "203.0.113.1:5201" }
            .parse()
            .unwrap();
        let me = guest_end(remote, 40_000);
        let hello = Udp::new(me, remote, b"go").to_frame(tb.engine.config().our_mac);
        tb.guest_frame(&hello);
        let sock = tb.host.find_connected(remote).expect("the flow's socket");
        let want: Vec<Udp> = sizes
            .iter()
            .enumerate()
            .map(|(i, &len)| Udp::new(remote, me, &payload(i, len)))
            .collect();
        for d in &want {
            tb.host.peer_send_to(sock, remote, &d.payload);
        }
        tb.settle();
        prop_assert_eq!(received(&mut tb), want);
    }
}
