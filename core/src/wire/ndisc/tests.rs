use super::super::icmpv6;
use super::*;
use proptest::prelude::*;
use std::string::ToString;
use std::vec::Vec;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

// Router Solicitation as a Linux guest sends it when its link comes up, from
// fe80::5054:ff:fe12:3456 to ff02::2, hop limit 255. Checksum computed with an
// independent implementation (Python) over the RFC 4443 §2.3 pseudo-header.
const LINUX_RS: [u8; 16] = [
    0x85, 0x00, 0x71, 0xb5, // type 133, code 0, checksum
    0x00, 0x00, 0x00, 0x00, // reserved
    0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // SLLA 52:54:00:12:34:56
];

// Duplicate Address Detection NS from a Linux guest (enhanced_dad=1): source ::,
// destination ff02::1:ff12:3456, no SLLA, and a Nonce option (RFC 7527, type 14)
// this module does not know and must skip.
const DAD_NS: [u8; 32] = [
    0x87, 0x00, 0x15, 0x7a, // type 135, code 0, checksum
    0x00, 0x00, 0x00, 0x00, // reserved
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target fe80::5054:ff:fe12:3456
    0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56, //
    0x0e, 0x01, 0x3a, 0x9c, 0x5e, 0x11, 0x07, 0xd2, // Nonce option
];

// A radvd Router Advertisement (fe80::a8bb:ccff:fedd:eeff → ff02::1) for
// `prefix 2001:db8:1::/64 {}; RDNSS 2001:db8:1::53 {}; AdvLinkMTU 1500;`, options in
// radvd's order: prefix, RDNSS, MTU, source link-layer address.
const RADVD_RA: [u8; 88] = [
    0x86, 0x00, 0x15, 0x77, // type 134, code 0, checksum
    0x40, 0x00, 0x07, 0x08, // cur hop limit 64, flags none, router lifetime 1800
    0x00, 0x00, 0x00, 0x00, // reachable time 0
    0x00, 0x00, 0x00, 0x00, // retrans timer 0
    0x03, 0x04, 0x40, 0xc0, // PIO: len 4, /64, L|A
    0x00, 0x01, 0x51, 0x80, // valid lifetime 86400
    0x00, 0x00, 0x38, 0x40, // preferred lifetime 14400
    0x00, 0x00, 0x00, 0x00, // reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // prefix 2001:db8:1::
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
    0x19, 0x03, 0x00, 0x00, // RDNSS: len 3, reserved
    0x00, 0x00, 0x07, 0x08, // lifetime 1800
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // 2001:db8:1::53
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
    0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, // MTU 1500
    0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // SLLA aa:bb:cc:dd:ee:ff
];

// The RA passt sends (passt reference §6.3), fe80::1 → fe80::5054:ff:fe12:3456:
// hop limit 255, M, lifetime 65535; PIO with the full address; MTU 65520; RDNSS and
// DNSSL with infinite lifetimes; SLLA 9a:55:9a:55:9a:55.
const PASST_RA: [u8; 112] = [
    0x86, 0x00, 0x6d, 0xf0, // type 134, code 0, checksum
    0xff, 0x80, 0xff, 0xff, // cur hop limit 255, M, router lifetime 65535
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reachable, retrans 0
    0x03, 0x04, 0x40, 0xc0, // PIO: /64, L|A
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // valid, preferred: infinity
    0x00, 0x00, 0x00, 0x00, // reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::1234
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, //
    0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xf0, // MTU 65520
    0x19, 0x03, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // RDNSS, lifetime infinity
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::53
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
    0x1f, 0x03, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // DNSSL: len 3, lifetime infinity
    0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "example.com", 3 bytes padding
    0x03, b'c', b'o', b'm', 0x00, 0x00, 0x00, 0x00, //
    0x01, 0x01, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55, // SLLA
];

// passt's answer to an NS for 2001:db8::7: R|S|O, TLLA = our MAC.
const PASST_NA: [u8; 32] = [
    0x88, 0x00, 0x18, 0x23, // type 136, code 0, checksum
    0xe0, 0x00, 0x00, 0x00, // R|S|O, reserved
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // target 2001:db8::7
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, //
    0x02, 0x01, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55, // TLLA
];

#[test]
fn parse_linux_rs() {
    let (src, dst) = (addr("fe80::5054:ff:fe12:3456"), addr("ff02::2"));
    let p = Packet::new_checked(&LINUX_RS[..]).unwrap();
    assert!(p.verify_checksum(&src, &dst));
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(repr.msg_type(), Message::RouterSolicit);
    assert_eq!(repr.source_lladdr(), Some(GUEST_MAC));
    assert_eq!(repr.target_lladdr(), None);
    assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
    assert_eq!(repr.check_ip(&src, &dst, 64), Err(Error::Malformed));
    // RFC 4861 §6.1.1: from :: there must be no SLLA.
    assert_eq!(
        repr.check_ip(&Ipv6Addr::UNSPECIFIED, &dst, 255),
        Err(Error::Malformed)
    );
    assert_eq!(
        icmpv6::Repr::parse(&src, &dst, &p).unwrap(),
        icmpv6::Repr::Ndisc(repr)
    );
}

#[test]
fn parse_dad_ns_skips_nonce() {
    let (src, dst) = (Ipv6Addr::UNSPECIFIED, addr("ff02::1:ff12:3456"));
    let p = Packet::new_checked(&DAD_NS[..]).unwrap();
    assert!(p.verify_checksum(&src, &dst));
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(
        repr,
        Repr::NeighborSolicit {
            target_addr: addr("fe80::5054:ff:fe12:3456"),
            options: &DAD_NS[24..],
        }
    );
    // The Nonce option is unknown here: skipped, not an error.
    assert_eq!(repr.options().count(), 0);
    assert_eq!(repr.source_lladdr(), None);
    assert!(is_solicited_node(&dst));
    assert_eq!(solicited_node(&addr("fe80::5054:ff:fe12:3456")), dst);
    assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
    // DAD must go to the solicited-node group (RFC 4861 §7.1.1).
    assert_eq!(
        repr.check_ip(&src, &addr("ff02::1"), 255),
        Err(Error::Malformed)
    );
}

#[test]
fn parse_radvd_ra() {
    let (src, dst) = (addr("fe80::a8bb:ccff:fedd:eeff"), addr("ff02::1"));
    let p = Packet::new_checked(&RADVD_RA[..]).unwrap();
    assert!(p.verify_checksum(&src, &dst));
    let repr = Repr::parse(&p).unwrap();
    let Repr::RouterAdvert {
        cur_hop_limit,
        flags,
        router_lifetime,
        reachable_time,
        retrans_time,
        ..
    } = repr
    else {
        panic!("not an RA: {repr:?}");
    };
    assert_eq!(cur_hop_limit, 64);
    assert!(!flags.contains(RouterFlags::MANAGED));
    assert_eq!(
        (router_lifetime, reachable_time, retrans_time),
        (1800, 0, 0)
    );
    let opts: Vec<_> = repr.options().map(|o| o.unwrap()).collect();
    let servers = [addr("2001:db8:1::53")];
    assert_eq!(
        opts,
        [
            NdiscOption::PrefixInformation(PrefixInfo {
                prefix_len: 64,
                flags: PrefixFlags::ON_LINK | PrefixFlags::AUTONOMOUS,
                valid_lifetime: 86400,
                preferred_lifetime: 14400,
                prefix: addr("2001:db8:1::"),
            }),
            NdiscOption::Rdnss {
                lifetime: 1800,
                servers: Ipv6List::Addrs(&servers),
            },
            NdiscOption::Mtu(1500),
            NdiscOption::SourceLinkLayerAddr(MacAddr([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])),
        ]
    );
    assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
    // RFC 4861 §6.1.2: an RA from a global address is invalid.
    assert_eq!(
        repr.check_ip(&addr("2001:db8::1"), &dst, 255),
        Err(Error::Malformed)
    );
}

#[test]
fn build_passt_ra() {
    let (src, dst) = (addr("fe80::1"), addr("fe80::5054:ff:fe12:3456"));
    let servers = [addr("2001:db8::53")];
    let domains = ["example.com"];
    let ra = Repr::RouterAdvert {
        cur_hop_limit: 255,
        flags: RouterFlags::MANAGED,
        router_lifetime: 65535,
        reachable_time: 0,
        retrans_time: 0,
        options: &[],
    };
    let options = [
        NdiscOption::PrefixInformation(PrefixInfo {
            prefix_len: 64,
            flags: PrefixFlags::ON_LINK | PrefixFlags::AUTONOMOUS,
            valid_lifetime: u32::MAX,
            preferred_lifetime: u32::MAX,
            prefix: addr("2001:db8::1234"),
        }),
        NdiscOption::Mtu(65520),
        NdiscOption::Rdnss {
            lifetime: u32::MAX,
            servers: Ipv6List::Addrs(&servers),
        },
        NdiscOption::Dnssl {
            lifetime: u32::MAX,
            domains: DomainList::Names(&domains),
        },
        NdiscOption::SourceLinkLayerAddr(MacAddr::PASST_DEFAULT),
    ];
    let mut buf = [0xaa; 200];
    let n = ra
        .emit_with_options(&src, &dst, &options, &mut buf)
        .unwrap();
    assert_eq!(&buf[..n], &PASST_RA[..]);
    // Too short a buffer is an error, not a panic.
    assert_eq!(
        ra.emit_with_options(&src, &dst, &options, &mut buf[..111]),
        Err(Error::Truncated)
    );
    // And it parses back to the same options.
    let parsed = parse(&PASST_RA).unwrap();
    let back: Vec<_> = parsed.options().map(|o| o.unwrap()).collect();
    assert_eq!(back, options);
    let Some(Ok(NdiscOption::Dnssl { domains, .. })) = parsed.options().nth(3) else {
        panic!("no DNSSL");
    };
    let names: Vec<_> = domains.iter().map(|d| d.to_string()).collect();
    assert_eq!(names, ["example.com"]);
}

#[test]
fn build_passt_na() {
    let (src, dst) = (addr("fe80::1"), addr("fe80::5054:ff:fe12:3456"));
    let na = Repr::NeighborAdvert {
        flags: NeighborFlags::ROUTER | NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
        target_addr: addr("2001:db8::7"),
        options: &[],
    };
    let mut buf = [0; 64];
    let n = na
        .emit_with_options(
            &src,
            &dst,
            &[NdiscOption::TargetLinkLayerAddr(MacAddr::PASST_DEFAULT)],
            &mut buf,
        )
        .unwrap();
    assert_eq!(&buf[..n], &PASST_NA[..]);
    let parsed = parse(&PASST_NA).unwrap();
    assert_eq!(parsed.target_lladdr(), Some(MacAddr::PASST_DEFAULT));
    assert_eq!(parsed.check_ip(&src, &dst, 255), Ok(()));
    // RFC 4861 §7.1.2: S must be clear on an NA to a multicast address.
    assert_eq!(
        parsed.check_ip(&src, &addr("ff02::1"), 255),
        Err(Error::Malformed)
    );
}

#[test]
fn repr_emit_matches_capture() {
    let (src, dst) = (addr("fe80::a8bb:ccff:fedd:eeff"), addr("ff02::1"));
    let repr = parse(&RADVD_RA).unwrap();
    let mut out = [0xee; 88];
    icmpv6::Repr::Ndisc(repr).emit(&src, &dst, &mut Packet::new_unchecked(&mut out[..]));
    assert_eq!(out, RADVD_RA);
}

#[test]
fn zero_length_option_is_malformed() {
    let mut bytes = LINUX_RS;
    bytes[9] = 0;
    assert_eq!(parse(&bytes), Err(Error::Malformed));
    let mut it = NdiscOptionIter::new(&bytes[8..]);
    assert_eq!(it.next(), Some(Err(Error::Malformed)));
    assert_eq!(it.next(), None);
}

#[test]
fn option_past_the_end_is_truncated() {
    let mut bytes = LINUX_RS;
    bytes[9] = 2;
    assert_eq!(parse(&bytes), Err(Error::Truncated));
    // A lone trailing byte cannot hold an option header either.
    assert_eq!(parse(&LINUX_RS[..9]), Err(Error::Truncated));
}

#[test]
fn bad_known_option_is_reported_and_skipped() {
    // MTU option with length 2 then a valid SLLA.
    let opts = [
        5, 2, 0, 0, 0, 0, 5, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0, //
        1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
    ];
    let got: Vec<_> = NdiscOptionIter::new(&opts).collect();
    assert_eq!(
        got,
        [
            Err(Error::Malformed),
            Ok(NdiscOption::SourceLinkLayerAddr(GUEST_MAC))
        ]
    );
    // RDNSS with an even length (4) is malformed (RFC 8106 §5.1).
    let rdnss = [25u8, 4, 0, 0, 0, 0, 0, 0]
        .iter()
        .chain(&[0u8; 24])
        .copied();
    let rdnss: Vec<u8> = rdnss.collect();
    assert_eq!(
        NdiscOptionIter::new(&rdnss).next(),
        Some(Err(Error::Malformed))
    );
    // A DNSSL name using a compression pointer is malformed (RFC 8106 §5.2).
    let dnssl = [31u8, 2, 0, 0, 0, 0, 0, 1, 0xc0, 0x0c, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        NdiscOptionIter::new(&dnssl).next(),
        Some(Err(Error::Malformed))
    );
}

#[test]
fn wrong_code_or_short_message_rejected() {
    let mut bytes = DAD_NS;
    bytes[1] = 1;
    assert_eq!(parse(&bytes), Err(Error::Malformed));
    assert_eq!(parse(&DAD_NS[..20]), Err(Error::Truncated));
    // Multicast target (RFC 4861 §7.1.1).
    let mut bytes = DAD_NS;
    bytes[8] = 0xff;
    assert_eq!(parse(&bytes), Err(Error::Malformed));
    // Not an ND message.
    assert_eq!(parse(&[128, 0, 0, 0, 0, 0, 0, 0]), Err(Error::Unsupported));
}

#[test]
fn domain_name_limits() {
    let mut out = [0u8; 300];
    assert_eq!(encode_domain_name("example.com.", &mut out), Ok(13));
    assert_eq!(&out[..13], b"\x07example\x03com\x00");
    let label63 = "a".repeat(63);
    let label64 = "a".repeat(64);
    assert_eq!(encode_domain_name(&label63, &mut out), Ok(65));
    assert_eq!(
        encode_domain_name(&label64, &mut out),
        Err(Error::Malformed)
    );
    // 253 characters: the longest name (255 bytes on the wire).
    let long = std::format!("{0}.{0}.{0}.{1}", label63, "b".repeat(61));
    assert_eq!(long.len(), 253);
    assert_eq!(encode_domain_name(&long, &mut out), Ok(255));
    let too_long = std::format!("{long}b");
    assert_eq!(
        encode_domain_name(&too_long, &mut out),
        Err(Error::Malformed)
    );
    for bad in ["", ".", "a..b", ".a"] {
        assert_eq!(
            encode_domain_name(bad, &mut out),
            Err(Error::Malformed),
            "{bad:?}"
        );
    }
    assert_eq!(
        encode_domain_name("example.com", &mut out[..12]),
        Err(Error::Truncated)
    );
    // Emitting a DNSSL with a bad name fails cleanly.
    let bad = [label64.as_str()];
    let opt = NdiscOption::Dnssl {
        lifetime: 1,
        domains: DomainList::Names(&bad),
    };
    assert_eq!(opt.emit(&mut out), Err(Error::Malformed));
    // Empty lists cannot be sent (RFC 8106 §5.1, §5.2 minimum lengths).
    let none: [Ipv6Addr; 0] = [];
    let opt = NdiscOption::Rdnss {
        lifetime: 1,
        servers: Ipv6List::Addrs(&none),
    };
    assert_eq!(opt.buffer_len(), Err(Error::Malformed));
}

fn arb_label() -> impl Strategy<Value = std::string::String> {
    "[a-z0-9-]{1,63}"
}

fn arb_name() -> impl Strategy<Value = std::string::String> {
    proptest::collection::vec(arb_label(), 1..5)
        .prop_map(|l| l.join("."))
        .prop_filter("fits 253", |n| n.len() <= MAX_NAME_LEN)
}

fn arb_option_parts() -> impl Strategy<Value = (u8, [u8; 6], u8, u8, u32, u32, [u8; 16])> {
    (
        0u8..6,
        any::<[u8; 6]>(),
        0u8..=128,
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<[u8; 16]>(),
    )
}

fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..4,
        any::<[u8; 16]>(),
        proptest::collection::vec(arb_option_parts(), 0..5),
        proptest::collection::vec(arb_name(), 1..3),
    )
        .prop_map(|(kind, target, opts, names)| {
            let mut target = target;
            target[0] = 0x20; // not multicast
            let target = Ipv6Addr::from(target);
            let repr = match kind {
                0 => Repr::RouterSolicit { options: &[] },
                1 => Repr::RouterAdvert {
                    cur_hop_limit: 64,
                    flags: RouterFlags::OTHER,
                    router_lifetime: 9000,
                    reachable_time: 1,
                    retrans_time: 2,
                    options: &[],
                },
                2 => Repr::NeighborSolicit {
                    target_addr: target,
                    options: &[],
                },
                _ => Repr::NeighborAdvert {
                    flags: NeighborFlags::SOLICITED,
                    target_addr: target,
                    options: &[],
                },
            };
            let servers = [target, Ipv6Addr::LOCALHOST];
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let options: Vec<NdiscOption<'_>> = opts
                .iter()
                .map(|&(k, mac, plen, fl, a, b, pfx)| match k {
                    0 => NdiscOption::SourceLinkLayerAddr(MacAddr(mac)),
                    1 => NdiscOption::TargetLinkLayerAddr(MacAddr(mac)),
                    2 => NdiscOption::PrefixInformation(PrefixInfo {
                        prefix_len: plen,
                        flags: PrefixFlags(fl),
                        valid_lifetime: a,
                        preferred_lifetime: b,
                        prefix: Ipv6Addr::from(pfx),
                    }),
                    3 => NdiscOption::Mtu(a),
                    4 => NdiscOption::Rdnss {
                        lifetime: a,
                        servers: Ipv6List::Addrs(&servers[..1 + usize::from(fl % 2)]),
                    },
                    _ => NdiscOption::Dnssl {
                        lifetime: b,
                        domains: DomainList::Names(&names),
                    },
                })
                .collect();
            let mut buf = std::vec![0u8; 4096];
            let n = repr
                .emit_with_options(&Ipv6Addr::LOCALHOST, &target, &options, &mut buf)
                .unwrap();
            // The options parse back to exactly what was written.
            let parsed = Repr::parse(&Packet::new_checked(&buf[..n]).unwrap()).unwrap();
            let back: Vec<_> = parsed.options().map(|o| o.unwrap()).collect();
            assert_eq!(back, options);
            buf.truncate(n);
            buf
        })
}

proptest! {
    #[test]
    fn parse_never_panics(kind in 133u8..=136, code in prop_oneof![Just(0u8), any::<u8>()],
                          rest in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut data = std::vec![kind, code, 0, 0];
        data.extend_from_slice(&rest);
        if let Ok(repr) = parse(&data) {
            for o in repr.options() {
                let _ = o;
            }
            let _ = (repr.source_lladdr(), repr.target_lladdr());
            let _ = repr.check_ip(&Ipv6Addr::UNSPECIFIED, &Ipv6Addr::LOCALHOST, 255);
            // What parses re-emits byte for byte (minus the reserved bits).
            let mut out = std::vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut out[..]));
            prop_assert_eq!(parse(&out).unwrap(), repr);
        }
    }

    #[test]
    fn option_iter_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let items: Vec<_> = NdiscOptionIter::new(&data).collect();
        for item in &items {
            if let Ok(NdiscOption::Dnssl { domains, .. }) = item {
                for d in domains.iter() {
                    let _ = d.to_string();
                }
            }
            if let Ok(NdiscOption::Rdnss { servers, .. }) = item {
                prop_assert_eq!(servers.iter().count(), servers.len());
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(msg in valid_message(),
                                    flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                                    cut in any::<usize>()) {
        let mut msg = msg;
        for (at, v) in flips {
            let i = at % msg.len();
            msg[i] = v;
        }
        let cut = cut % (msg.len() + 1);
        if let Ok(repr) = parse(&msg[..cut]) {
            let _ = repr.options().count();
        }
        if let Ok(repr) = parse(&msg) {
            let _ = repr.options().count();
        }
    }

    #[test]
    fn round_trip(msg in valid_message()) {
        let repr = parse(&msg).unwrap();
        let mut out = std::vec![0u8; repr.buffer_len()];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        // Same bytes except the checksum, which `emit` leaves at zero.
        prop_assert_eq!(&out[4..], &msg[4..]);
        prop_assert_eq!(parse(&out).unwrap(), repr);
    }

    #[test]
    fn domain_lists_round_trip(names in proptest::collection::vec(arb_name(), 0..6)) {
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let text = DomainList::Names(&names);
        let mut buf = [0u8; 6 * 256];
        let n = text.encode(&mut buf).unwrap();
        prop_assert_eq!(n, text.encoded_len().unwrap());
        prop_assert!(check_wire_names(&buf[..n]).is_ok());
        let wire = DomainList::Wire(&buf[..n]);
        prop_assert_eq!(wire, text);
        let shown: Vec<_> = wire.iter().map(|d| d.to_string()).collect();
        prop_assert_eq!(shown, names);
    }
}
