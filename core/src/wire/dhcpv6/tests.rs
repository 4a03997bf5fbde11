use super::*;
use crate::wire::ndisc::{DomainList, Ipv6List};
use proptest::prelude::*;
use std::vec::Vec;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
    Repr::parse(&Packet::new_checked(bytes)?)
}

const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

// The guest's DUID-LLT: type 1, hw type 1, time 0x2b8c3f10, MAC.
const CLIENT_DUID: [u8; 14] = [
    0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x3f, 0x10, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
];

// A SOLICIT as ISC `dhclient -6` sends it (option set and order as in its
// captures): Client ID, ORO, Elapsed Time, IA_NA with the IAID taken from the MAC
// and T1/T2 3600/5400.
const DHCLIENT_SOLICIT: [u8; 56] = [
    0x01, 0xa1, 0xb2, 0xc3, // SOLICIT, xid a1b2c3
    0x00, 0x01, 0x00, 0x0e, // Client ID, 14 bytes
    0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x3f, 0x10, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x06,
    0x00, 0x08, // ORO, 8 bytes
    0x00, 0x17, 0x00, 0x18, 0x00, 0x27, 0x00, 0x1f, // 23 DNS, 24 domains, 39 FQDN, 31 SNTP
    0x00, 0x08, 0x00, 0x02, 0x00, 0x00, // Elapsed Time 0
    0x00, 0x03, 0x00, 0x0c, // IA_NA, 12 bytes
    0x00, 0x12, 0x34, 0x56, // IAID
    0x00, 0x00, 0x0e, 0x10, // T1 3600
    0x00, 0x00, 0x15, 0x18, // T2 5400
];

// passt's DUID-LLT: time 0x2b8c0000, MAC 9a:55:9a:55:9a:55.
const SERVER_DUID: [u8; 14] = [
    0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x00, 0x00, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55,
];

// The REQUEST that follows: Client ID, Server ID, Elapsed Time, and the IA_NA with
// the advertised address (preferred 7200, valid 7500 as dhclient fills them in).
fn dhclient_request(address: Ipv6Addr) -> Vec<u8> {
    let mut m = std::vec![0x03, 0xd4, 0xe5, 0xf6]; // REQUEST, xid d4e5f6
    m.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
    m.extend_from_slice(&CLIENT_DUID);
    m.extend_from_slice(&[0x00, 0x02, 0x00, 0x0e]);
    m.extend_from_slice(&SERVER_DUID);
    m.extend_from_slice(&[0x00, 0x08, 0x00, 0x02, 0x00, 0x64]); // 1 s
    m.extend_from_slice(&[0x00, 0x03, 0x00, 0x28]); // IA_NA, 40 bytes
    m.extend_from_slice(&[0x00, 0x12, 0x34, 0x56, 0, 0, 0x0e, 0x10, 0, 0, 0x15, 0x18]);
    m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]); // IAADDR, 24 bytes
    m.extend_from_slice(&address.octets());
    m.extend_from_slice(&[0, 0, 0x1c, 0x20, 0, 0, 0x1d, 0x4c]); // 7200, 7500
    m
}

#[test]
fn parse_dhclient_solicit() {
    let p = Packet::new_checked(&DHCLIENT_SOLICIT[..]).unwrap();
    assert_eq!(p.msg_type(), MessageType::Solicit);
    assert_eq!(p.transaction_id(), 0xa1b2c3);
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(
        repr,
        Repr {
            msg_type: MessageType::Solicit,
            transaction_id: 0xa1b2c3,
            client_id: Some(&CLIENT_DUID),
            server_id: None,
            ia_na: Some(IaNa {
                iaid: 0x0012_3456,
                t1: 3600,
                t2: 5400,
                address: None,
            }),
            ia_ta: None,
            oro: Some(OptionCodes::Codes(&[23, 24, 39, 31])),
            elapsed_time: Some(0),
            rapid_commit: false,
        }
    );
    assert!(repr.oro.unwrap().contains(OPT_DNS_SERVERS));
    assert!(!repr.oro.unwrap().contains(OPT_RAPID_COMMIT));
    assert_eq!(p.ia_addresses().count(), 0);
}

#[test]
fn emit_round_trips_solicit() {
    // Repr emits in its own fixed order; compare the option set, then round-trip.
    let repr = parse(&DHCLIENT_SOLICIT).unwrap();
    let mut buf = [0u8; 128];
    let n = repr.emit(&mut buf).unwrap();
    assert_eq!(n, DHCLIENT_SOLICIT.len());
    assert_eq!(Ok(n), repr.buffer_len());
    assert_eq!(parse(&buf[..n]).unwrap(), repr);
    assert_eq!(repr.emit(&mut buf[..n - 1]), Err(Error::Truncated));
}

#[test]
fn request_addresses() {
    let msg = dhclient_request(addr("2001:db8::1234"));
    let repr = parse(&msg).unwrap();
    assert_eq!(repr.msg_type, MessageType::Request);
    assert_eq!(repr.server_id, Some(&SERVER_DUID[..]));
    assert_eq!(repr.elapsed_time, Some(100));
    let ia = repr.ia_na.unwrap();
    assert_eq!(
        ia.address,
        Some(IaAddress {
            addr: addr("2001:db8::1234"),
            preferred_lifetime: 7200,
            valid_lifetime: 7500,
        })
    );
    let all: Vec<_> = ia_addresses(Packet::new_checked(&msg[..]).unwrap().options())
        .map(|a| a.addr)
        .collect();
    assert_eq!(all, [addr("2001:db8::1234")]);
}

#[test]
fn confirm_with_ia_na_and_ia_ta_addresses() {
    // CONFIRM carrying an IA_NA with two addresses and an IA_TA with one: the
    // helper sees all three, the Repr summarises the first of each.
    let mut m = std::vec![0x04, 0, 0, 9];
    m.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
    m.extend_from_slice(&CLIENT_DUID);
    m.extend_from_slice(&[0x00, 0x03, 0x00, 12 + 28 + 28]);
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    for a in ["2001:db8::1", "2001:db8::2"] {
        m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]);
        m.extend_from_slice(&addr(a).octets());
        m.extend_from_slice(&[0; 8]);
    }
    m.extend_from_slice(&[0x00, 0x04, 0x00, 4 + 28]);
    m.extend_from_slice(&[0, 0, 0, 2]);
    m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]);
    m.extend_from_slice(&addr("2001:db8::3").octets());
    m.extend_from_slice(&[0; 8]);
    let p = Packet::new_checked(&m[..]).unwrap();
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(repr.ia_ta, Some(2));
    assert_eq!(
        repr.ia_na.unwrap().address.unwrap().addr,
        addr("2001:db8::1")
    );
    let all: Vec<_> = p.ia_addresses().map(|a| a.addr).collect();
    assert_eq!(
        all,
        [
            addr("2001:db8::1"),
            addr("2001:db8::2"),
            addr("2001:db8::3")
        ]
    );
}

#[test]
fn duid_limits() {
    // RFC 8415 §11.1: at most 128 octets after the 2-byte type code.
    let mut m = std::vec![0x01, 0, 0, 1, 0x00, 0x01, 0x00, 130];
    m.extend_from_slice(&[7; 130]);
    assert!(parse(&m).unwrap().client_id.is_some());
    let mut m = std::vec![0x01, 0, 0, 1, 0x00, 0x01, 0x00, 131];
    m.extend_from_slice(&[7; 131]);
    assert_eq!(parse(&m), Err(Error::Malformed));
    let m = [0x01, 0, 0, 1, 0x00, 0x02, 0x00, 0x02, 0x00, 0x01];
    assert_eq!(parse(&m), Err(Error::Malformed));
}

#[test]
fn rejects_broken_messages() {
    assert_eq!(parse(&DHCLIENT_SOLICIT[..3]), Err(Error::Truncated));
    // Cut inside the IA_NA: its length runs past the end.
    assert_eq!(parse(&DHCLIENT_SOLICIT[..55]), Err(Error::Truncated));
    // Cut inside an option header.
    assert_eq!(parse(&DHCLIENT_SOLICIT[..6]), Err(Error::Truncated));
    // IA_NA shorter than IAID + T1 + T2.
    let m = [
        0x01, 0, 0, 1, 0x00, 0x03, 0x00, 0x08, 0, 0, 0, 1, 0, 0, 0, 0,
    ];
    assert_eq!(parse(&m), Err(Error::Malformed));
    // IAADDR inside an IA_NA that is too short.
    let mut m = std::vec![0x03, 0, 0, 1, 0x00, 0x03, 0x00, 12 + 8];
    m.extend_from_slice(&[0; 12]);
    m.extend_from_slice(&[0x00, 0x05, 0x00, 0x04, 0, 0, 0, 0]);
    assert_eq!(parse(&m), Err(Error::Malformed));
    // Elapsed Time of 3 bytes, Rapid Commit with data, odd ORO.
    for bad in [
        &[0x01, 0, 0, 1, 0x00, 0x08, 0x00, 0x03, 0, 0, 0][..],
        &[0x01, 0, 0, 1, 0x00, 0x0e, 0x00, 0x01, 0][..],
        &[0x01, 0, 0, 1, 0x00, 0x06, 0x00, 0x03, 0, 23, 0][..],
    ] {
        assert_eq!(parse(bad), Err(Error::Malformed), "{bad:?}");
    }
    // Relay messages have another layout.
    assert_eq!(parse(&[12, 0, 0, 0]), Err(Error::Unsupported));
}

#[test]
fn duid_llt_layout() {
    assert_eq!(duid_llt(0x2b8c_0000, MacAddr::PASST_DEFAULT), SERVER_DUID);
    assert_eq!(duid_llt(0x2b8c_3f10, GUEST_MAC), CLIENT_DUID);
}

#[test]
fn build_passt_advertise() {
    // passt reference §6.4: Server ID, IA_NA (client's IAID, T1=T2=infinity) with
    // the assigned address, Client ID echoed, DNS servers, domain list.
    let solicit = parse(&DHCLIENT_SOLICIT).unwrap();
    let dns = [addr("2001:db8::53")];
    let domains = ["example.com"];
    let mut buf = [0xaau8; 256];
    let mut b = Builder::new(MessageType::Advertise, solicit.transaction_id, &mut buf).unwrap();
    b.push(&Dhcpv6Option::ServerId(&duid_llt(
        0x2b8c_0000,
        MacAddr::PASST_DEFAULT,
    )))
    .unwrap();
    let address = IaAddress {
        addr: addr("2001:db8::1234"),
        preferred_lifetime: u32::MAX,
        valid_lifetime: u32::MAX,
    };
    let iaid = solicit.ia_na.map_or(1, |ia| ia.iaid);
    b.push_ia_na(iaid, u32::MAX, u32::MAX, Some(&address), None)
        .unwrap();
    b.push(&Dhcpv6Option::ClientId(solicit.client_id.unwrap()))
        .unwrap();
    b.push(&Dhcpv6Option::DnsServers(Ipv6List::Addrs(&dns)))
        .unwrap();
    b.push(&Dhcpv6Option::DomainList(DomainList::Names(&domains)))
        .unwrap();
    let n = b.finish();
    let mut expected = std::vec![0x02, 0xa1, 0xb2, 0xc3];
    expected.extend_from_slice(&[0x00, 0x02, 0x00, 0x0e]);
    expected.extend_from_slice(&SERVER_DUID);
    expected.extend_from_slice(&[0x00, 0x03, 0x00, 0x28]); // IA_NA, 12 + 28
    expected.extend_from_slice(&[0x00, 0x12, 0x34, 0x56]);
    expected.extend_from_slice(&[0xff; 8]);
    expected.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]); // IAADDR
    expected.extend_from_slice(&addr("2001:db8::1234").octets());
    expected.extend_from_slice(&[0xff; 8]);
    expected.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
    expected.extend_from_slice(&CLIENT_DUID);
    expected.extend_from_slice(&[0x00, 0x17, 0x00, 0x10]);
    expected.extend_from_slice(&addr("2001:db8::53").octets());
    expected.extend_from_slice(&[0x00, 0x18, 0x00, 0x0d]);
    expected.extend_from_slice(b"\x07example\x03com\x00");
    assert_eq!(&buf[..n], &expected[..]);

    // What a client makes of it.
    let p = Packet::new_checked(&buf[..n]).unwrap();
    let typed: Vec<_> = p
        .option_iter()
        .map(|o| o.unwrap().typed().unwrap())
        .collect();
    assert_eq!(typed[3], Dhcpv6Option::DnsServers(Ipv6List::Addrs(&dns)));
    assert_eq!(
        typed[4],
        Dhcpv6Option::DomainList(DomainList::Names(&domains))
    );
    let Dhcpv6Option::IaNa(ia) = typed[1] else {
        panic!("no IA_NA");
    };
    assert_eq!(
        ia.addresses().map(|a| a.address()).collect::<Vec<_>>(),
        [address]
    );
}

#[test]
fn build_not_on_link() {
    let mut buf = [0u8; 128];
    let mut b = Builder::new(MessageType::Reply, 0xd4e5f6, &mut buf).unwrap();
    let msg = "Prefix not appropriate for link.";
    b.push_ia_na(0x0012_3456, 0, 0, None, Some((StatusCode::NotOnLink, msg)))
        .unwrap();
    let n = b.finish();
    let mut expected = std::vec![0x07, 0xd4, 0xe5, 0xf6];
    expected.extend_from_slice(&[0x00, 0x03, 0x00, 12 + 4 + 2 + 32]);
    expected.extend_from_slice(&[0x00, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(&[0x00, 0x0d, 0x00, 34, 0x00, 0x04]);
    expected.extend_from_slice(msg.as_bytes());
    assert_eq!(&buf[..n], &expected[..]);
    let p = Packet::new_checked(&buf[..n]).unwrap();
    let Dhcpv6Option::IaNa(ia) = p.option_iter().next().unwrap().unwrap().typed().unwrap() else {
        panic!("no IA_NA");
    };
    let status = ia.option_iter().next().unwrap().unwrap().typed().unwrap();
    assert_eq!(
        status,
        Dhcpv6Option::StatusCode {
            code: StatusCode::NotOnLink,
            message: msg.as_bytes()
        }
    );
}

#[test]
fn builder_overflow_is_an_error() {
    let mut buf = [0u8; 40];
    let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
    let address = IaAddress {
        addr: Ipv6Addr::LOCALHOST,
        preferred_lifetime: 1,
        valid_lifetime: 2,
    };
    // 4 + 16 + 28 = 48 bytes needed, 40 available: nothing is written.
    assert_eq!(
        b.push_ia_na(1, 2, 3, Some(&address), None),
        Err(Error::Truncated)
    );
    assert!(b.is_empty());
    b.push_option(OPT_RAPID_COMMIT, &[]).unwrap();
    assert_eq!(b.len(), 8);
    assert_eq!(b.push_option(0x1234, &[0; 40]), Err(Error::Truncated));
    assert_eq!(b.finish(), 8);
    assert!(Builder::new(MessageType::Reply, 1, &mut [0u8; 3]).is_err());
    // A label over 63 bytes is refused, not truncated.
    let mut buf = [0u8; 200];
    let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
    let long = "x".repeat(64);
    let names = [long.as_str()];
    assert_eq!(
        b.push(&Dhcpv6Option::DomainList(DomainList::Names(&names))),
        Err(Error::Malformed)
    );
    assert!(b.is_empty());
}

#[test]
fn nested_begin_end() {
    let mut buf = [0u8; 64];
    let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
    let ta = b.begin_option(OPT_IA_TA).unwrap();
    b.push_bytes(&7u32.to_be_bytes()).unwrap();
    b.push_status_code(StatusCode::NoAddrsAvail, "").unwrap();
    b.end_option(ta).unwrap();
    let n = b.finish();
    assert_eq!(
        &buf[..n],
        &[7, 0, 0, 1, 0, 4, 0, 10, 0, 0, 0, 7, 0, 13, 0, 2, 0, 2]
    );
}

fn arb_ia_address() -> impl Strategy<Value = IaAddress> {
    (any::<[u8; 16]>(), any::<u32>(), any::<u32>()).prop_map(|(a, p, v)| IaAddress {
        addr: Ipv6Addr::from(a),
        preferred_lifetime: p,
        valid_lifetime: v,
    })
}

/// msg type, xid, client id, server id, IA_NA, IA_TA, ORO, elapsed, rapid commit.
type ReprParts = (
    u8,
    u32,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<(u32, u32, u32, Option<IaAddress>)>,
    Option<u32>,
    Option<Vec<u16>>,
    Option<u16>,
    bool,
);

fn arb_repr_parts() -> impl Strategy<Value = ReprParts> {
    (
        prop_oneof![1u8..12, 14u8..=255],
        0u32..0x100_0000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 3..=130)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 3..=130)),
        proptest::option::of((
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(arb_ia_address()),
        )),
        proptest::option::of(any::<u32>()),
        proptest::option::of(proptest::collection::vec(any::<u16>(), 0..10)),
        proptest::option::of(any::<u16>()),
        any::<bool>(),
    )
}

fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(DHCLIENT_SOLICIT.to_vec()),
        arb_ia_address().prop_map(|a| dhclient_request(a.addr)),
    ]
}

fn walk(options: &[u8], depth: usize) {
    for o in OptionIter::new(options) {
        let Ok(o) = o else { continue };
        match o.typed() {
            Ok(Dhcpv6Option::IaNa(ia)) if depth < 3 => walk(ia.options, depth + 1),
            Ok(Dhcpv6Option::IaTa(ia)) if depth < 3 => walk(ia.options, depth + 1),
            Ok(Dhcpv6Option::IaAddr(a)) if depth < 3 => walk(a.options, depth + 1),
            Ok(Dhcpv6Option::DomainList(l)) => {
                let _ = l.iter().count();
            }
            Ok(Dhcpv6Option::DnsServers(l)) => {
                let _ = l.iter().count();
            }
            _ => {}
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = Packet::new_checked(&data[..]) {
            let _ = Repr::parse(&p);
            let _ = p.ia_addresses().count();
            walk(p.options(), 0);
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
        for m in [&msg[..], &msg[..cut]] {
            if let Ok(p) = Packet::new_checked(m) {
                let _ = Repr::parse(&p);
                let _ = p.ia_addresses().count();
                walk(p.options(), 0);
            }
        }
    }

    #[test]
    fn round_trip(parts in arb_repr_parts()) {
        let (mt, xid, cid, sid, ia, ta, oro, et, rc) = parts;
        let repr = Repr {
            msg_type: MessageType::from(mt),
            transaction_id: xid,
            client_id: cid.as_deref(),
            server_id: sid.as_deref(),
            ia_na: ia.map(|(iaid, t1, t2, address)| IaNa { iaid, t1, t2, address }),
            ia_ta: ta,
            oro: oro.as_deref().map(OptionCodes::Codes),
            elapsed_time: et,
            rapid_commit: rc,
        };
        let len = repr.buffer_len().unwrap();
        let mut buf = std::vec![0u8; len];
        prop_assert_eq!(repr.emit(&mut buf), Ok(len));
        prop_assert_eq!(parse(&buf).unwrap(), repr);
    }

    #[test]
    fn builder_never_panics(size in 0usize..120,
                            ops in proptest::collection::vec((0u8..5, any::<u16>(), 0usize..80), 0..8)) {
        let mut buf = std::vec![0u8; size];
        let Ok(mut b) = Builder::new(MessageType::Reply, 7, &mut buf) else {
            prop_assert!(size < HEADER_LEN);
            return Ok(());
        };
        let data = [0x5au8; 80];
        for (op, code, len) in ops {
            let before = b.len();
            let r = match op {
                0 => b.push_option(code, &data[..len]),
                1 => b.push_status_code(StatusCode::from(code), "no"),
                2 => b.push_ia_na(1, 2, 3, Some(&IaAddress {
                    addr: Ipv6Addr::LOCALHOST, preferred_lifetime: 4, valid_lifetime: 5,
                }), None),
                3 => b.push(&Dhcpv6Option::Oro(OptionCodes::Codes(&[23, 24]))),
                _ => b.push(&Dhcpv6Option::ElapsedTime(code)),
            };
            // All or nothing.
            if r.is_ok() {
                prop_assert!(b.len() > before);
            } else {
                prop_assert_eq!(r, Err(Error::Truncated));
                prop_assert_eq!(b.len(), before);
            }
            prop_assert!(b.len() <= size);
        }
        let n = b.finish();
        // Whatever was written is a well-formed option sequence.
        prop_assert!(OptionIter::new(&buf[HEADER_LEN..n]).all(|o| o.is_ok()));
    }
}
