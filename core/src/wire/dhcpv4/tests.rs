use super::*;
use proptest::prelude::*;
use std::string::String;
use std::vec::Vec;

const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

/// Lay out a BOOTREQUEST by hand (offsets from RFC 2131 §2, not from this module),
/// then the magic cookie, `options`, and zero padding to 300 bytes.
fn bootrequest(xid: u32, secs: u16, flags: u16, ciaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
    let mut m = std::vec![0u8; 236];
    m[0] = 1; // op BOOTREQUEST
    m[1] = 1; // htype Ethernet
    m[2] = 6; // hlen
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    m[8..10].copy_from_slice(&secs.to_be_bytes());
    m[10..12].copy_from_slice(&flags.to_be_bytes());
    m[12..16].copy_from_slice(&ciaddr);
    m[28..34].copy_from_slice(&GUEST_MAC.0);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    m.extend_from_slice(options);
    if m.len() < 300 {
        m.resize(300, 0);
    }
    m
}

// Options of a busybox 1.36 `udhcpc` DISCOVER (as sent by Alpine guests), in
// busybox's order.
const UDHCPC_DISCOVER_OPTIONS: &[u8] = &[
    53, 1, 1, // DHCPDISCOVER
    61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id: htype 1 + MAC
    57, 2, 0x02, 0x40, // max message size 576
    55, 7, 1, 3, 6, 12, 15, 28, 42, // PRL
    60, 12, b'u', b'd', b'h', b'c', b'p', b' ', b'1', b'.', b'3', b'6', b'.',
    b'1', // vendor class
    255,  // end
];

// Options of an ISC dhclient 4.4 REQUEST in SELECTING state.
const DHCLIENT_REQUEST_OPTIONS: &[u8] = &[
    53, 1, 3, // DHCPREQUEST
    54, 4, 198, 51, 100, 1, // server identifier
    50, 4, 198, 51, 100, 2, // requested address
    12, 5, b'g', b'u', b'e', b's', b't', // host name
    55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42,  // PRL
    255, // end
];

fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

#[test]
fn parse_udhcpc_discover() {
    let msg = bootrequest(0x5a1c_0de1, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS);
    assert_eq!(msg.len(), 300);
    let p = Packet::new_checked(&msg[..]).unwrap();
    assert_eq!(p.op(), OpCode::Request);
    assert_eq!(p.magic_cookie(), MAGIC_COOKIE);
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(
        repr,
        Repr {
            message_type: Some(MessageType::Discover),
            transaction_id: 0x5a1c_0de1,
            client_hardware_address: GUEST_MAC,
            client_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: false,
            requested_ip: None,
            server_identifier: None,
            parameter_request_list: Some(&[1, 3, 6, 12, 15, 28, 42]),
            rapid_commit: false,
            client_identifier: Some(&[1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            max_size: Some(576),
            host_name: None,
        }
    );
    // The iterator sees the vendor class this Repr does not keep.
    let vendor = p.option_iter().find_map(|o| match o {
        Ok(DhcpOption { code: 60, data }) => Some(data),
        _ => None,
    });
    assert_eq!(vendor, Some(&b"udhcp 1.36.1"[..]));
}

#[test]
fn parse_dhclient_request() {
    let msg = bootrequest(
        0x3903_f326,
        3,
        FLAG_BROADCAST,
        [0; 4],
        DHCLIENT_REQUEST_OPTIONS,
    );
    let repr = parse(&msg).unwrap();
    assert_eq!(repr.message_type, Some(MessageType::Request));
    assert_eq!(repr.transaction_id, 0x3903_f326);
    assert!(repr.broadcast);
    assert_eq!(repr.requested_ip, Some(Ipv4Addr::new(198, 51, 100, 2)));
    assert_eq!(repr.server_identifier, Some(Ipv4Addr::new(198, 51, 100, 1)));
    assert_eq!(repr.host_name, Some(&b"guest"[..]));
    assert_eq!(repr.parameter_request_list.unwrap().len(), 13);
    assert_eq!(repr.client_identifier, None);
    assert!(!repr.rapid_commit);
}

#[test]
fn rapid_commit_and_bootp() {
    let msg = bootrequest(1, 0, 0, [0; 4], &[53, 1, 1, 80, 0, 255]);
    assert!(parse(&msg).unwrap().rapid_commit);
    // RFC 4039 §4: Rapid Commit carries no data.
    let msg = bootrequest(1, 0, 0, [0; 4], &[53, 1, 1, 80, 1, 0, 255]);
    assert_eq!(parse(&msg), Err(Error::Malformed));
    // Plain BOOTP: no option 53.
    let msg = bootrequest(1, 0, 0, [198, 51, 100, 9], &[255]);
    let repr = parse(&msg).unwrap();
    assert_eq!(repr.message_type, None);
    assert_eq!(repr.client_ip, Ipv4Addr::new(198, 51, 100, 9));
}

#[test]
fn rejects_bad_messages() {
    let good = bootrequest(1, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS);
    assert_eq!(parse(&good[..239]), Err(Error::Truncated));
    let mut reply = good.clone();
    reply[0] = 2;
    assert_eq!(parse(&reply), Err(Error::Unsupported));
    let mut token_ring = good.clone();
    token_ring[1] = 6;
    assert_eq!(parse(&token_ring), Err(Error::Unsupported));
    let mut cookie = good.clone();
    cookie[239] = 0;
    assert_eq!(parse(&cookie), Err(Error::Malformed));
    // Maximum message size below 576 (RFC 2132 §9.10).
    let msg = bootrequest(1, 0, 0, [0; 4], &[57, 2, 0x01, 0xff, 255]);
    assert_eq!(parse(&msg), Err(Error::Malformed));
    // Requested address of 3 bytes.
    let msg = bootrequest(1, 0, 0, [0; 4], &[50, 3, 1, 2, 3, 255]);
    assert_eq!(parse(&msg), Err(Error::Malformed));
    // An option running off the end of the message.
    let mut msg = bootrequest(1, 0, 0, [0; 4], &[]);
    msg.truncate(240);
    msg.extend_from_slice(&[55, 4, 1, 3]);
    assert_eq!(parse(&msg), Err(Error::Malformed));
    // A code byte with no length byte.
    msg.truncate(240);
    msg.push(12);
    assert_eq!(parse(&msg), Err(Error::Malformed));
}

#[test]
fn option_iterator_rules() {
    // Pad skipped, End stops (what follows is ignored), first instance wins.
    let opts = [0, 0, 53, 1, 3, 0, 53, 1, 1, 255, 53, 0xff, 0xff];
    let got: Vec<_> = DhcpOptionIter::new(&opts).collect();
    assert_eq!(
        got,
        [
            Ok(DhcpOption {
                code: 53,
                data: &[3]
            }),
            Ok(DhcpOption {
                code: 53,
                data: &[1]
            }),
        ]
    );
    let msg = bootrequest(1, 0, 0, [0; 4], &opts);
    assert_eq!(
        parse(&msg).unwrap().message_type,
        Some(MessageType::Request)
    );
    // Missing End: the end of the buffer ends the options.
    let got: Vec<_> = DhcpOptionIter::new(&[1, 4, 255, 255, 255, 0]).collect();
    assert_eq!(
        got,
        [Ok(DhcpOption {
            code: 1,
            data: &[255, 255, 255, 0]
        })]
    );
    let mut it = DhcpOptionIter::new(&[3, 8, 1, 2]);
    assert_eq!(it.next(), Some(Err(Error::Malformed)));
    assert_eq!(it.next(), None);
}

fn offer_header() -> ReplyHeader {
    ReplyHeader {
        transaction_id: 0x5a1c_0de1,
        broadcast: false,
        client_ip: Ipv4Addr::UNSPECIFIED,
        your_ip: Ipv4Addr::new(198, 51, 100, 2),
        server_ip: Ipv4Addr::UNSPECIFIED,
        relay_agent_ip: Ipv4Addr::UNSPECIFIED,
        client_hardware_address: GUEST_MAC,
    }
}

#[test]
fn build_passt_offer() {
    // passt reference §6.2: DISCOVER with PRL → 53=02 1=ffffff00 3=gw 6=dns
    // 26=fff0 51=ffffffff 54=gw.
    let gw = Ipv4Addr::new(198, 51, 100, 1);
    let mut buf = [0xaau8; 576];
    let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
    assert!(b.is_empty());
    b.push_message_type(MessageType::Offer).unwrap();
    b.push_addresses(OPT_SUBNET_MASK, &[Ipv4Addr::new(255, 255, 255, 0)])
        .unwrap();
    b.push_addresses(OPT_ROUTER, &[gw]).unwrap();
    b.push_addresses(OPT_DNS_SERVER, &[Ipv4Addr::new(198, 51, 100, 53)])
        .unwrap();
    b.push_u16(OPT_INTERFACE_MTU, 65520).unwrap();
    b.push_u32(OPT_LEASE_TIME, u32::MAX).unwrap();
    b.push_addresses(OPT_SERVER_ID, &[gw]).unwrap();
    assert_eq!(b.len(), 240 + 3 + 6 * 4 + 4 + 6);
    let n = b.finish();
    assert_eq!(n, MIN_MESSAGE_LEN);
    let m = &buf[..n];
    // Fixed fields, by RFC 2131 §2 offsets.
    assert_eq!(&m[..4], &[2, 1, 6, 0]);
    assert_eq!(&m[4..8], &[0x5a, 0x1c, 0x0d, 0xe1]);
    assert_eq!(&m[8..16], &[0; 8]); // secs, flags, ciaddr
    assert_eq!(&m[16..20], &[198, 51, 100, 2]); // yiaddr
    assert_eq!(&m[20..28], &[0; 8]); // siaddr, giaddr
    assert_eq!(
        &m[28..44],
        &[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(m[44..236].iter().all(|&b| b == 0)); // sname, file
    assert_eq!(&m[236..240], &[0x63, 0x82, 0x53, 0x63]);
    let expected_options: &[u8] = &[
        53, 1, 2, //
        1, 4, 255, 255, 255, 0, //
        3, 4, 198, 51, 100, 1, //
        6, 4, 198, 51, 100, 53, //
        26, 2, 0xff, 0xf0, //
        51, 4, 0xff, 0xff, 0xff, 0xff, //
        54, 4, 198, 51, 100, 1, //
        255,
    ];
    assert_eq!(&m[240..240 + expected_options.len()], expected_options);
    assert!(m[240 + expected_options.len()..].iter().all(|&b| b == 0));
}

#[test]
fn builder_refuses_politely() {
    let mut small = [0u8; 299];
    assert_eq!(
        ReplyBuilder::new(&offer_header(), &mut small).unwrap_err(),
        Error::Truncated
    );
    let mut buf = [0u8; 300];
    let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
    assert_eq!(b.push_option(OPT_PAD, &[]), Err(Error::Malformed));
    assert_eq!(b.push_option(OPT_END, &[]), Err(Error::Malformed));
    assert_eq!(b.push_option(43, &[0; 256]), Err(Error::Malformed));
    // 60 bytes of room: 57 data + 2 header would leave none for End.
    assert_eq!(b.push_option(43, &[7; 58]), Err(Error::Truncated));
    assert_eq!(b.len(), 240);
    b.push_option(43, &[7; 57]).unwrap();
    assert_eq!(b.push_option(44, &[]), Err(Error::Truncated));
    assert_eq!(b.finish(), 300);
    assert_eq!(buf[299], OPT_END);
    // A long option that does not fit leaves nothing behind.
    let mut buf = [0u8; 600];
    let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
    assert_eq!(
        b.push_long_option(OPT_DOMAIN_SEARCH, &[1; 400]),
        Err(Error::Truncated)
    );
    assert_eq!(b.len(), 240);
}

#[test]
fn long_option_is_split() {
    let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
    let mut buf = [0u8; 1000];
    let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
    b.push_long_option(OPT_DOMAIN_SEARCH, &data).unwrap();
    let n = b.finish();
    let p = Packet::new_checked(&buf[..n]).unwrap();
    let parts: Vec<_> = p.option_iter().map(|o| o.unwrap()).collect();
    assert_eq!(parts.len(), 2);
    assert_eq!((parts[0].code, parts[0].data.len()), (119, 255));
    assert_eq!((parts[1].code, parts[1].data.len()), (119, 45));
    let joined: Vec<u8> = parts.iter().flat_map(|o| o.data.iter().copied()).collect();
    assert_eq!(joined, data);
}

#[test]
fn domain_search_rfc3397_example() {
    // RFC 3397 §3: "eng.apple.com." and "marketing.apple.com.".
    let mut out = [0u8; 64];
    let n = encode_domain_search(&["eng.apple.com.", "marketing.apple.com."], &mut out).unwrap();
    let expected: &[u8] = &[
        3, b'e', b'n', b'g', 5, b'a', b'p', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
        9, b'm', b'a', b'r', b'k', b'e', b't', b'i', b'n', b'g', 0xc0, 0x04,
    ];
    assert_eq!(&out[..n], expected);
}

#[test]
fn domain_search_compression() {
    let mut out = [0u8; 64];
    let n = encode_domain_search(&["example.com", "sub.example.com"], &mut out).unwrap();
    assert_eq!(&out[..n], b"\x07example\x03com\x00\x03sub\xc0\x00");
    // Case-insensitive suffix match (RFC 1035 §2.3.3), a duplicate becomes a
    // lone pointer, and a suffix may start inside an earlier name.
    let n = encode_domain_search(&["a.Example.COM", "example.com", "other.com"], &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"\x01a\x07Example\x03COM\x00\xc0\x02\x05other\xc0\x0a"
    );
    // Nothing in common: no pointers.
    let n = encode_domain_search(&["a.b", "c.d"], &mut out).unwrap();
    assert_eq!(&out[..n], b"\x01a\x01b\x00\x01c\x01d\x00");
    assert_eq!(encode_domain_search::<&str>(&[], &mut out), Ok(0));
}

#[test]
fn domain_search_errors() {
    let mut out = [0u8; 300];
    let long = "a".repeat(64);
    assert_eq!(
        encode_domain_search(&[long.as_str()], &mut out),
        Err(Error::Malformed)
    );
    assert_eq!(
        encode_domain_search(&["a..b"], &mut out),
        Err(Error::Malformed)
    );
    assert_eq!(encode_domain_search(&[""], &mut out), Err(Error::Malformed));
    let name = std::format!("{}.com", "b".repeat(250));
    assert_eq!(
        encode_domain_search(&[name.as_str()], &mut out),
        Err(Error::Malformed)
    );
    assert_eq!(
        encode_domain_search(&["example.com", "sub.example.com"], &mut out[..17]),
        Err(Error::Truncated)
    );
    // Works with owned strings too (the configuration holds heapless Strings).
    let owned = [String::from("example.org")];
    assert_eq!(encode_domain_search(&owned, &mut out), Ok(13));
}

/// Decode a compressed name list (test-only; follows pointers backwards only).
fn decode_search(data: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let mut name = String::new();
        let mut cur = at;
        let mut jumped = false;
        loop {
            let len = data[cur];
            if len & 0xc0 == 0xc0 {
                let ptr = usize::from(u16::from_be_bytes([len & 0x3f, data[cur + 1]]));
                assert!(ptr < cur, "pointer must go backwards");
                if !jumped {
                    at = cur + 2;
                    jumped = true;
                }
                cur = ptr;
                continue;
            }
            if len == 0 {
                if !jumped {
                    at = cur + 1;
                }
                break;
            }
            if !name.is_empty() {
                name.push('.');
            }
            let l = usize::from(len);
            name.push_str(core::str::from_utf8(&data[cur + 1..cur + 1 + l]).unwrap());
            cur += 1 + l;
        }
        names.push(name);
    }
    names
}

fn arb_name() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof!["[a-c]{1,3}", "[a-z0-9]{1,63}"], 1..5)
        .prop_map(|l| l.join("."))
        .prop_filter("fits 253", |n| n.len() <= 253)
}

/// message type, xid, MAC, ciaddr, broadcast, requested, server id, PRL,
/// rapid commit, client id, max size, host name.
type ReprParts = (
    Option<u8>,
    u32,
    [u8; 6],
    [u8; 4],
    bool,
    Option<[u8; 4]>,
    Option<[u8; 4]>,
    Option<Vec<u8>>,
    bool,
    Option<Vec<u8>>,
    Option<u16>,
    Option<Vec<u8>>,
);

fn arb_repr_parts() -> impl Strategy<Value = ReprParts> {
    (
        proptest::option::of(any::<u8>()),
        any::<u32>(),
        any::<[u8; 6]>(),
        any::<[u8; 4]>(),
        any::<bool>(),
        proptest::option::of(any::<[u8; 4]>()),
        proptest::option::of(any::<[u8; 4]>()),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
        any::<bool>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 2..40)),
        proptest::option::of(576u16..),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
    )
}

fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(bootrequest(7, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS)),
        Just(bootrequest(
            8,
            1,
            FLAG_BROADCAST,
            [0; 4],
            DHCLIENT_REQUEST_OPTIONS
        )),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400),
                          fix_header in any::<bool>()) {
        let mut data = data;
        if fix_header && data.len() >= HEADER_LEN {
            data[..3].copy_from_slice(&[1, 1, 6]);
            data[236..240].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        }
        if let Ok(p) = Packet::new_checked(&data[..]) {
            let _ = Repr::parse(&p);
            let _ = p.option_iter().count();
            let _ = (p.client_hardware_address(), p.chaddr(), p.sname(), p.file(), p.options());
        }
    }

    #[test]
    fn mutated_messages_never_panic(msg in valid_message(),
                                    flips in proptest::collection::vec((240usize..300, any::<u8>()), 1..8),
                                    cut in 0usize..300) {
        let mut msg = msg;
        for (at, v) in flips {
            msg[at] = v;
        }
        let _ = parse(&msg);
        let _ = parse(&msg[..cut]);
    }

    #[test]
    fn round_trip(parts in arb_repr_parts()) {
        let (mt, xid, mac, ci, bc, req, sid, prl, rc, cid, max, host) = parts;
        let repr = Repr {
            message_type: mt.map(MessageType::from),
            transaction_id: xid,
            client_hardware_address: MacAddr(mac),
            client_ip: Ipv4Addr::from(ci),
            broadcast: bc,
            requested_ip: req.map(Ipv4Addr::from),
            server_identifier: sid.map(Ipv4Addr::from),
            parameter_request_list: prl.as_deref(),
            rapid_commit: rc,
            client_identifier: cid.as_deref(),
            max_size: max,
            host_name: host.as_deref(),
        };
        let mut buf = std::vec![0xa5u8; repr.buffer_len()];
        prop_assert!(buf.len() >= MIN_MESSAGE_LEN);
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        prop_assert_eq!(parse(&buf).unwrap(), repr);
    }

    #[test]
    fn domain_search_decodes_back(names in proptest::collection::vec(arb_name(), 0..7)) {
        let mut out = [0u8; 7 * 256];
        let n = encode_domain_search(&names, &mut out).unwrap();
        let plain: usize = names.iter().map(|s| s.len() + 2).sum();
        prop_assert!(n <= plain);
        prop_assert_eq!(decode_search(&out[..n]), names);
    }
}
