//! TCP over a guest link with offloads (pasta's tap with `IFF_VNET_HDR`): the engine
//! writes super-frames of many MSS with partial checksums, the modelled link cuts
//! them at the guest's MSS and completes the checksums as Linux does
//! (`passt_shim_sim::offload`), and super-frames from the guest reach the host whole.

use passt_core::config::{Config, Offload};
use passt_core::wire::tcp::TcpFlags;
use passt_shim_sim::testbed::{default_config, Segment, Testbed, GUEST_V4, GUEST_V6};
use std::net::{IpAddr, SocketAddr};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const PSH: TcpFlags = TcpFlags::PSH;
const GUEST_ISN: u32 = 7_000_000;
/// The guest's MSS at MTU 1500 over IPv4 (1500 − 20 − 20).
const GUEST_MSS: u16 = 1460;

/// pasta's configuration at `-m 1500` on a tap with offloads.
fn offload_config() -> Config {
    let mut c = default_config();
    c.mtu = Some(1500);
    c.offload = Offload {
        tcp_segment_max: 65_495,
        tcp_checksum: true,
        direct_peek: false,
        udp_segment_max: 0,
    };
    c
}

/// Open a guest connection to `remote` and return (next guest seq, next expected seq).
fn connect(tb: &mut Testbed, guest: SocketAddr, remote: SocketAddr) -> (u32, u32) {
    let mut syn = Segment::new(guest, remote, GUEST_ISN, 0, SYN);
    syn.mss = Some(GUEST_MSS);
    syn.window_scale = Some(7);
    tb.guest_send(&syn);
    tb.complete_connects();
    let synack = tb.next_segment().expect("SYN-ACK");
    let mtu_mss = if guest.is_ipv4() { 1460 } else { 1440 };
    assert_eq!(
        synack.mss,
        Some(mtu_mss),
        "we advertise the MTU's MSS, not the TSO size"
    );
    let (seq, ack) = (GUEST_ISN + 1, synack.seq.wrapping_add(1));
    tb.guest_send(&Segment::new(guest, remote, seq, ack, ACK));
    (seq, ack)
}

/// Host data of `len` bytes reaches the guest over `config`'s link: returns the
/// segments the guest got and how many frames the engine wrote to the link.
fn download(config: Config, guest_addr: IpAddr, len: usize) -> (Vec<Segment>, Vec<u8>, u64) {
    let mut tb = Testbed::new(config, 16);
    let remote: SocketAddr = match guest_addr {
        IpAddr::V4(_) => "203.0.113.5:80".parse().unwrap(),
        IpAddr::V6(_) => "[2001:db8:1::5]:80".parse().unwrap(),
    };
    connect(&mut tb, SocketAddr::new(guest_addr, 40000), remote);
    let sock = tb.host.find_connected(remote).expect("host socket");
    let data: Vec<u8> = (0..len as u32).map(|i| (i * 7 + i / 251) as u8).collect();
    tb.host.peer_send(sock, &data);
    tb.settle();
    // `next_segment` panics on a frame whose checksums do not verify.
    let segs = tb.drain_segments();
    (segs, data, tb.host.offloaded_frames)
}

#[test]
fn host_data_leaves_in_super_frames_the_link_cuts_at_the_guests_mss() {
    for (addr, mss) in [(IpAddr::V4(GUEST_V4), 1460), (IpAddr::V6(GUEST_V6), 1440)] {
        let (segs, data, written) = download(offload_config(), addr, 300_000);
        let got: Vec<u8> = segs.iter().flat_map(|s| s.payload.clone()).collect();
        assert_eq!(got.len(), data.len(), "{addr}");
        assert!(got == data, "{addr}: the bytes arrive in order");
        assert!(
            segs.iter().all(|s| s.payload.len() <= mss),
            "{addr}: no segment on the wire exceeds the MSS"
        );
        assert!(
            segs.len() >= data.len() / mss,
            "{addr}: {} segments",
            segs.len()
        );
        // 300 000 bytes in 64 KiB super-frames: 5, not ~200 MSS-sized writes.
        assert!(
            (5..=6).contains(&written),
            "{addr}: {written} frames written to the link"
        );
        let psh = segs.iter().filter(|s| s.has(PSH)).count();
        assert_eq!(
            psh, written as usize,
            "{addr}: PSH only on each super-frame's last segment"
        );
    }
}

#[test]
fn a_link_lending_its_buffers_gets_the_payload_peeked_straight_in() {
    let mut config = offload_config();
    config.offload.direct_peek = true;
    for addr in [IpAddr::V4(GUEST_V4), IpAddr::V6(GUEST_V6)] {
        let mut tb = Testbed::new(config.clone(), 16);
        let remote: SocketAddr = match addr {
            IpAddr::V4(_) => "203.0.113.5:80".parse().unwrap(),
            IpAddr::V6(_) => "[2001:db8:1::5]:80".parse().unwrap(),
        };
        connect(&mut tb, SocketAddr::new(addr, 40000), remote);
        let sock = tb.host.find_connected(remote).expect("host socket");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 + i / 7) as u8).collect();
        tb.host.peer_send(sock, &data);
        tb.host.trace.clear();
        tb.settle();
        let segs = tb.drain_segments();
        let got: Vec<u8> = segs.iter().flat_map(|s| s.payload.clone()).collect();
        assert!(got == data, "{addr}: every byte, in order");
        let ops = |prefix: &str| {
            tb.host
                .trace
                .iter()
                .filter(|t| t.starts_with(prefix))
                .count()
        };
        assert_eq!(ops("Peek("), 0, "{addr}: nothing peeked into the engine");
        assert!(ops("PeekToGuest") >= 4, "{addr}: {:?}", tb.host.trace);
        assert_eq!(
            ops("CommitToGuest"),
            tb.host.offloaded_frames as usize,
            "{addr}: each peek committed"
        );
        assert!(tb.host.misuse.is_empty(), "{:?}", tb.host.misuse);
    }
}

#[test]
fn without_offloads_every_frame_is_one_mss_with_a_full_checksum() {
    let mut config = offload_config();
    config.offload = Offload::default();
    // Under one pump's worth of MSS-sized segments (64), which the guest gets at once.
    let (segs, data, written) = download(config, IpAddr::V4(GUEST_V4), 60_000);
    assert_eq!(written, 0, "plain TapSend only");
    assert!(segs.iter().all(|s| s.payload.len() <= 1460));
    let got: Vec<u8> = segs.iter().flat_map(|s| s.payload.clone()).collect();
    assert!(got == data);
}

#[test]
fn a_super_frame_from_the_guest_reaches_the_host_whole_and_is_acked() {
    let mut tb = Testbed::new(offload_config(), 16);
    let guest: SocketAddr = SocketAddr::new(GUEST_V4.into(), 40001);
    let remote: SocketAddr = "203.0.113.5:80".parse().unwrap();
    let (seq, ack) = connect(&mut tb, guest, remote);
    // What the namespace's TCP hands a tap with TSO at MTU 1500: 60 000 bytes in one
    // frame (the link, not the guest, would have cut it).
    let payload: Vec<u8> = (0..60_000u32).map(|i| (i % 253) as u8).collect();
    let mut seg = Segment::new(guest, remote, seq, ack, ACK | PSH);
    seg.payload = payload.clone();
    tb.guest_send(&seg);
    let sock = tb.host.find_connected(remote).expect("host socket");
    assert!(
        tb.host.socket(sock).unwrap().tx == payload,
        "all of it, in order"
    );
    let acks = tb.drain_segments();
    let last = acks.last().expect("an ACK");
    assert_eq!(last.ack, seq + 60_000);
}
