use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;
use std::vec::Vec;

const GUEST4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
const PEER4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

// The SYN of `curl http://198.51.100.2:8080/` from Linux, captured on a veth
// pair with MTU 65535 (tcpdump; Ethernet and IPv4 headers stripped).
const CURL_SYN: [u8; 40] = [
    0xdb, 0x54, // source port 56148
    0x1f, 0x90, // destination port 8080
    0xd6, 0xc8, 0x3b, 0x1a, // seq 3603446554
    0x00, 0x00, 0x00, 0x00, // ack 0
    0xa0, // data offset 10 (40 bytes)
    0x02, // SYN
    0xff, 0xd7, // window 65495
    0x46, 0xa5, // checksum
    0x00, 0x00, // urgent pointer
    0x02, 0x04, 0xff, 0xd7, // MSS 65495
    0x04, 0x02, // SACK permitted
    0x08, 0x0a, 0x2c, 0x2c, 0x7a, 0x00, 0x00, 0x00, 0x00, 0x00, // TS val 741112320 ecr 0
    0x01, // NOP
    0x03, 0x03, 0x07, // window scale 7
];

// The server's SYN-ACK: MSS 65495, SACK permitted, TS, NOP, WS 10.
const SYN_ACK: [u8; 40] = [
    0x1f, 0x90, 0xdb, 0x54, 0xe0, 0x2d, 0xbb, 0xdf, 0xd6, 0xc8, 0x3b, 0x1b, 0xa0, 0x12, 0xff, 0xcb,
    0x2b, 0x92, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x67, 0x7a, 0x17, 0x83,
    0x2c, 0x2c, 0x7a, 0x00, 0x01, 0x03, 0x03, 0x0a,
];

// curl's request segment on another connection: PSH|ACK, NOP NOP TS, 81 bytes.
const GET_HEADER: [u8; 32] = [
    0xdb, 0x50, 0x1f, 0x90, // 56144 -> 8080
    0x7e, 0x07, 0x2b, 0x37, // seq
    0x3e, 0x1d, 0xa4, 0xce, // ack
    0x80, 0x18, // data offset 8, PSH|ACK
    0x00, 0x40, // window 64
    0xf1, 0xe1, // checksum
    0x00, 0x00, // urgent pointer
    0x01, 0x01, 0x08, 0x0a, 0x12, 0xdb, 0x96, 0xc6, 0xb2, 0xc9, 0x4f, 0xd7, // NOP NOP TS
];
const GET_PAYLOAD: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 198.51.100.2:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

// SYN of `curl http://[2001:db8::2]:8081/` (2001:db8::1 -> 2001:db8::2).
const CURL_SYN_V6: [u8; 40] = [
    0xb7, 0x60, 0x1f, 0x91, 0x6e, 0xf3, 0xc8, 0xba, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff, 0xc3,
    0xc0, 0x0d, 0x00, 0x00, 0x02, 0x04, 0xff, 0xc3, 0x04, 0x02, 0x08, 0x0a, 0x9f, 0x93, 0x84, 0x73,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
];

fn get_segment() -> Vec<u8> {
    let mut v = GET_HEADER.to_vec();
    v.extend_from_slice(GET_PAYLOAD);
    v
}

#[test]
fn parse_real_curl_syn() {
    let packet = Packet::new_checked(&CURL_SYN[..]).unwrap();
    assert!(packet.verify_checksum(GUEST4, PEER4));
    assert_eq!(packet.header_len(), 40);
    assert_eq!(packet.flags(), TcpFlags::SYN);
    let options: Vec<_> = packet.options_iter().collect::<Result<_>>().unwrap();
    assert_eq!(
        options,
        [
            TcpOption::MaxSegmentSize(65495),
            TcpOption::SackPermitted,
            TcpOption::Timestamps {
                tsval: 741112320,
                tsecr: 0
            },
            TcpOption::NoOperation,
            TcpOption::WindowScale(7),
        ]
    );
    assert_eq!(
        Repr::parse(&packet).unwrap(),
        Repr {
            src_port: 56148,
            dst_port: 8080,
            flags: TcpFlags::SYN,
            seq_number: 3603446554,
            ack_number: 0,
            window_len: 65495,
            max_seg_size: Some(65495),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((741112320, 0)),
            payload_len: 0,
        }
    );
}

#[test]
fn parse_real_syn_ack() {
    let packet = Packet::new_checked(&SYN_ACK[..]).unwrap();
    assert!(packet.verify_checksum(PEER4, GUEST4));
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(repr.ack_number, 3603446555);
    assert_eq!(repr.window_scale, Some(10));
    assert_eq!(repr.timestamp, Some((0x677a1783, 741112320)));
}

#[test]
fn parse_real_v6_syn_checksum() {
    let packet = Packet::new_checked(&CURL_SYN_V6[..]).unwrap();
    assert!(packet.verify_checksum(v6("2001:db8::1"), v6("2001:db8::2")));
    assert!(!packet.verify_checksum(v6("2001:db8::1"), v6("2001:db8::3")));
    assert_eq!(Repr::parse(&packet).unwrap().max_seg_size, Some(65475));
}

#[test]
fn emit_reproduces_real_data_segment() {
    // NOP NOP TS is exactly the layout emit uses, so the bytes (checksum
    // included) must match what Linux sent.
    let seg = get_segment();
    let packet = Packet::new_checked(&seg[..]).unwrap();
    assert!(packet.verify_checksum(GUEST4, PEER4));
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr.flags, TcpFlags::PSH | TcpFlags::ACK);
    assert_eq!(repr.payload_len, 81);
    assert_eq!(packet.payload(), GET_PAYLOAD);
    let mut out = std::vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Packet::new_unchecked(&mut out[..]),
        GUEST4,
        PEER4,
        GET_PAYLOAD,
    );
    assert_eq!(out, seg);
}

#[test]
fn emit_passt_syn_options() {
    // passt's SYN towards the guest: MSS 61440 then NOP + WS 3 (verified layout).
    let repr = Repr {
        src_port: 8080,
        dst_port: 56148,
        flags: TcpFlags::SYN,
        seq_number: 1,
        ack_number: 0,
        window_len: 65535,
        max_seg_size: Some(61440),
        window_scale: Some(3),
        sack_permitted: false,
        timestamp: None,
        payload_len: 0,
    };
    assert_eq!(repr.header_len(), 28);
    let mut out = [0u8; 28];
    repr.emit(&mut Packet::new_unchecked(&mut out[..]), PEER4, GUEST4, &[]);
    assert_eq!(out[20..], [0x02, 0x04, 0xf0, 0x00, 0x01, 0x03, 0x03, 0x03]);
    assert_eq!(out[12], 7 << 4);
    let packet = Packet::new_checked(&out[..]).unwrap();
    assert!(packet.verify_checksum(PEER4, GUEST4));
    assert_eq!(Repr::parse(&packet).unwrap(), repr);
}

#[test]
fn emit_all_options_layout() {
    let repr = Repr {
        src_port: 1,
        dst_port: 2,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        seq_number: 0,
        ack_number: 0,
        window_len: 0,
        max_seg_size: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((0x01020304, 0x05060708)),
        payload_len: 0,
    };
    assert_eq!(repr.header_len(), 44);
    let mut out = [0xffu8; 44];
    repr.emit_header(&mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(
        out[20..],
        [
            2, 4, 0x05, 0xb4, // MSS 1460
            1, 3, 3, 7, // NOP, WS 7
            1, 1, 4, 2, // NOP NOP SACK-permitted
            1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, // NOP NOP TS
        ]
    );
}

#[test]
fn emit_checksums_only_the_segment() {
    let seg = get_segment();
    let repr = Repr::parse(&Packet::new_checked(&seg[..]).unwrap()).unwrap();
    let mut out = std::vec![0x5au8; repr.buffer_len() + 9];
    repr.emit(
        &mut Packet::new_unchecked(&mut out[..]),
        GUEST4,
        PEER4,
        GET_PAYLOAD,
    );
    assert_eq!(out[..seg.len()], seg[..]);
}

#[test]
fn options_edge_cases() {
    // Unknown kind skipped by length; a SACK block (kind 5) too.
    let opts = [0x1e, 4, 0xaa, 0xbb, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    let got: Vec<_> = OptionsIter::new(&opts).collect();
    assert_eq!(
        got,
        [
            Ok(TcpOption::Unknown {
                kind: 0x1e,
                data: &[0xaa, 0xbb][..]
            }),
            Ok(TcpOption::Unknown {
                kind: 5,
                data: &[0, 0, 0, 1, 0, 0, 0, 2][..]
            }),
        ]
    );
    // Everything after End of Option List is ignored, even garbage.
    let got: Vec<_> = OptionsIter::new(&[1, 0, 0xff, 0xff]).collect();
    assert_eq!(got, [Ok(TcpOption::NoOperation), Ok(TcpOption::EndOfList)]);
    // Length below 2, past the end, or missing: malformed, then the iterator stops.
    for bad in [&[2, 1, 0, 0][..], &[2, 0], &[2, 5, 0, 0], &[8]] {
        let got: Vec<_> = OptionsIter::new(bad).collect();
        assert_eq!(got, [Err(Error::Malformed)], "{bad:?}");
    }
    // A known kind with a length it does not define is skipped, not trusted.
    let got: Vec<_> = OptionsIter::new(&[2, 3, 0x05, 1, 0, 0, 0]).collect();
    assert_eq!(
        got[0],
        Ok(TcpOption::Unknown {
            kind: 2,
            data: &[0x05][..]
        })
    );
}

#[test]
fn malformed_option_fails_parse() {
    let mut p = CURL_SYN;
    p[21] = 40; // MSS claims 40 bytes, past the end of the options
    let packet = Packet::new_checked(&p[..]).unwrap();
    assert_eq!(Repr::parse(&packet), Err(Error::Malformed));
}

#[test]
fn window_scale_is_clamped() {
    let mut p = CURL_SYN;
    p[39] = 15;
    let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
    assert_eq!(repr.window_scale, Some(MAX_WINDOW_SCALE));
}

#[test]
fn length_errors() {
    assert_eq!(
        Packet::new_checked(&CURL_SYN[..19]).unwrap_err(),
        Error::Truncated
    );
    // Data offset 10 but only 39 bytes: a lying header.
    assert_eq!(
        Packet::new_checked(&CURL_SYN[..39]).unwrap_err(),
        Error::Truncated
    );
    let mut p = CURL_SYN;
    p[12] = 4 << 4;
    assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
}

#[test]
fn corrupted_segment_fails_checksum_but_parses() {
    let mut seg = get_segment();
    seg[40] ^= 0x20;
    let packet = Packet::new_checked(&seg[..]).unwrap();
    assert!(!packet.verify_checksum(GUEST4, PEER4));
    assert!(Repr::parse(&packet).is_ok());
    seg[40] ^= 0x20;
    seg[16] = 0;
    seg[17] = 0;
    Packet::new_unchecked(&mut seg[..]).fill_checksum(GUEST4, PEER4);
    assert_eq!(seg, get_segment());
}

#[test]
fn flags_helpers() {
    let mut f = TcpFlags::SYN | TcpFlags::ACK;
    assert!(f.contains(TcpFlags::SYN));
    assert!(f.contains(TcpFlags::SYN | TcpFlags::ACK));
    assert!(!f.contains(TcpFlags::SYN | TcpFlags::FIN));
    assert!(f.intersects(TcpFlags::FIN | TcpFlags::ACK));
    f.remove(TcpFlags::SYN);
    f.insert(TcpFlags::FIN);
    assert_eq!(f, TcpFlags::FIN | TcpFlags::ACK);
    assert_eq!(std::format!("{f:?}"), "FIN|ACK");
    assert_eq!(std::format!("{:?}", TcpFlags::empty()), "(none)");
    assert_eq!((TcpFlags::ECE | TcpFlags::CWR).bits(), 0xc0);
}

#[test]
fn seq_number_wraparound() {
    let a = SeqNumber(0xffff_fff0);
    let b = a + 0x20;
    assert_eq!(b, SeqNumber(0x10));
    assert_eq!(b - a, 0x20);
    assert_eq!(a - b, -0x20);
    assert_eq!(b - 0x20usize, a);
    assert!(seq_lt(a, b));
    assert!(!seq_lt(b, a));
    assert!(a < b);
    assert!(b > a);
    assert!(seq_le(a, a));
    let mut c = a;
    c += 16;
    assert_eq!(c, SeqNumber(0));
    // usize arguments wrap modulo 2^32 too (a 32-bit usize cannot hold 2^32).
    #[cfg(target_pointer_width = "64")]
    assert_eq!(SeqNumber(5) + (1usize << 32), SeqNumber(5));
    assert_eq!(SeqNumber(5) + usize::MAX, SeqNumber(4));
}

#[test]
fn seq_number_half_space_is_undefined() {
    // RFC 1982 §3.2: numbers exactly 2^31 apart are not comparable.
    let a = SeqNumber(0);
    let b = SeqNumber(0x8000_0000);
    assert_eq!(a.partial_cmp(&b), None);
    assert!(!seq_lt(a, b) && !seq_lt(b, a));
    assert!(!seq_le(a, b) && !seq_le(b, a));
    // One less than half the space is still "after".
    assert!(SeqNumber(0x7fff_ffff) > a);
    assert!(SeqNumber(0x8000_0001) < a);
}

proptest! {
    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = Packet::new_checked(&data[..]) {
            let _ = Repr::parse(&p);
            let _ = (p.payload(), p.verify_checksum(GUEST4, PEER4));
            for _ in p.options_iter() {}
        }
    }

    #[test]
    fn options_iter_never_panics(data in proptest::collection::vec(any::<u8>(), 0..40)) {
        // Terminates: every step consumes at least one byte or ends the walk.
        prop_assert!(OptionsIter::new(&data).count() <= data.len());
    }

    #[test]
    fn mutated_syn_never_panics(at in 0usize..40, value in any::<u8>(), cut in 0usize..=40) {
        let mut p = CURL_SYN;
        p[at] = value;
        if let Ok(packet) = Packet::new_checked(&p[..cut]) {
            if let Ok(repr) = Repr::parse(&packet) {
                prop_assert_eq!(repr.payload_len, cut - packet.header_len());
            }
        }
    }

    #[test]
    fn round_trip(src_port in any::<u16>(), dst_port in any::<u16>(), flags in any::<u8>(),
                  seq in any::<u32>(), ack in any::<u32>(), win in any::<u16>(),
                  mss in proptest::option::of(any::<u16>()),
                  ws in proptest::option::of(0u8..=MAX_WINDOW_SCALE),
                  sack in any::<bool>(),
                  ts in proptest::option::of(any::<(u32, u32)>()),
                  payload in proptest::collection::vec(any::<u8>(), 0..64),
                  v4 in any::<bool>()) {
        let (s, d) = if v4 { (GUEST4, PEER4) } else { (v6("2001:db8::1"), v6("2001:db8::2")) };
        let repr = Repr {
            src_port, dst_port, flags: TcpFlags(flags), seq_number: seq, ack_number: ack,
            window_len: win, max_seg_size: mss, window_scale: ws, sack_permitted: sack,
            timestamp: ts, payload_len: payload.len(),
        };
        prop_assert!(repr.header_len() <= MAX_HEADER_LEN);
        let mut buf = std::vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d, &payload);
        let packet = Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(packet.verify_checksum(s, d));
        prop_assert_eq!(packet.payload(), &payload[..]);
        prop_assert_eq!(Repr::parse(&packet).unwrap(), repr);
    }

    #[test]
    fn seq_add_sub_inverse(a in any::<u32>(), n in 0usize..0x8000_0000) {
        let a = SeqNumber(a);
        let b = a + n;
        prop_assert_eq!(b - n, a);
        prop_assert_eq!((b - a) as i64, n as i64);
        if n > 0 {
            prop_assert!(seq_lt(a, b));
            prop_assert!(!seq_lt(b, a));
        }
    }
}
