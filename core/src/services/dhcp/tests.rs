//! The DHCPv4 server's tests: captured client requests, byte for byte where the
//! reply is fixed, and the options each configuration adds.

use super::*;
use crate::config::{Domain, Mode};
use crate::wire::dhcpv4::{DhcpOption, Packet, FLAG_BROADCAST};
use crate::wire::ethernet::{self, EtherType};
use crate::wire::ip;
use std::vec::Vec;

const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const GUEST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const DNS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 53);

fn config() -> Config {
    let mut c = Config::new(Mode::Passt);
    c.ipv4 = Some(Ipv4Config {
        addr: GUEST,
        prefix_len: 24,
        gateway: GATEWAY,
    });
    c.dns.servers_v4.push(DNS).unwrap();
    c
}

/// A BOOTREQUEST laid out by hand (offsets from RFC 2131 §2): op 1, htype 1,
/// hlen 6, `xid`, `flags`, `ciaddr`, chaddr = GUEST_MAC, the magic cookie, then
/// `options` and zero padding to 300 bytes.
fn bootrequest(xid: u32, flags: u16, ciaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
    let mut m = std::vec![0u8; 236];
    m[0] = 1;
    m[1] = 1;
    m[2] = 6;
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    m[10..12].copy_from_slice(&flags.to_be_bytes());
    m[12..16].copy_from_slice(&ciaddr);
    m[28..34].copy_from_slice(&GUEST_MAC.0);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
    m.extend_from_slice(options);
    m.resize(m.len().max(300), 0);
    m
}

// The options of a busybox 1.36 udhcpc DISCOVER (Alpine guests), in its order.
const UDHCPC_DISCOVER: &[u8] = &[
    53, 1, 1, // DHCPDISCOVER
    61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id: htype 1 + MAC
    57, 2, 0x02, 0x40, // max message size 576
    55, 7, 1, 3, 6, 12, 15, 28, 42, // PRL
    60, 12, b'u', b'd', b'h', b'c', b'p', b' ', b'1', b'.', b'3', b'6', b'.', b'1', 255,
];

// The options of udhcpc's REQUEST in SELECTING state after our OFFER.
const UDHCPC_REQUEST: &[u8] = &[
    53, 1, 3, // DHCPREQUEST
    61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id
    50, 4, 198, 51, 100, 2, // requested address
    54, 4, 198, 51, 100, 1, // server identifier
    57, 2, 0x02, 0x40, // max message size 576
    55, 7, 1, 3, 6, 12, 15, 28, 42, // PRL
    255,
];

/// A decoded reply frame.
struct Decoded {
    eth_dst: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    message: Vec<u8>,
}

/// Check every header and checksum of a reply frame and return its parts.
fn decode(frame: &[u8]) -> Decoded {
    let eth = ethernet::Frame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EtherType::Ipv4);
    assert_eq!(eth.src_addr(), MacAddr::PASST_DEFAULT);
    let ip = ipv4::Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.next_header(), IpProtocol::Udp);
    let udp_bytes = ip.payload();
    let u = udp::Packet::new_checked(udp_bytes).unwrap();
    assert_eq!((u.src_port(), u.dst_port()), (67, 68));
    assert_eq!(usize::from(u.len()), udp_bytes.len());
    assert!(ip::upper_layer_checksum_ok(
        IpAddr::V4(ip.src_addr()),
        IpAddr::V4(ip.dst_addr()),
        IpProtocol::Udp,
        udp_bytes
    ));
    Decoded {
        eth_dst: eth.dst_addr(),
        src: ip.src_addr(),
        dst: ip.dst_addr(),
        ttl: ip.hop_limit(),
        message: u.payload().to_vec(),
    }
}

fn options(message: &[u8]) -> Vec<(u8, Vec<u8>)> {
    Packet::new_checked(message)
        .unwrap()
        .option_iter()
        .map(|o| {
            let DhcpOption { code, data } = o.unwrap();
            (code, data.to_vec())
        })
        .collect()
}

fn answer(c: &Config, request: &[u8]) -> (Reply, Vec<u8>) {
    let mut out = std::vec![0u8; 2048];
    let r = respond(c, GUEST_MAC, request, &mut out);
    match r {
        Reply::Frame(len) => out.truncate(len),
        Reply::Silent(_) => out.clear(),
    }
    (r, out)
}

#[test]
fn udhcpc_discover_gets_offer_byte_for_byte() {
    let request = bootrequest(0x5a1c_0de1, 0, [0; 4], UDHCPC_DISCOVER);
    let (r, frame) = answer(&config(), &request);
    assert_eq!(r, Reply::Frame(342), "passt's typical 342-byte reply");
    let d = decode(&frame);
    assert_eq!(d.eth_dst, GUEST_MAC);
    assert_eq!((d.src, d.dst, d.ttl), (GATEWAY, GUEST, 255));
    let m = &d.message;
    assert_eq!(m.len(), 300);
    // Fixed fields: BOOTREPLY, Ethernet, hlen 6, hops 0, xid, secs 0, flags 0,
    // ciaddr 0, yiaddr = guest, siaddr 0, giaddr 0, chaddr, cookie.
    assert_eq!(&m[..4], &[2, 1, 6, 0]);
    assert_eq!(&m[4..8], &0x5a1c_0de1u32.to_be_bytes());
    assert_eq!(&m[8..16], &[0; 8]);
    assert_eq!(&m[16..20], &GUEST.octets());
    assert_eq!(&m[20..28], &[0; 8]);
    assert_eq!(&m[28..34], &GUEST_MAC.0);
    assert!(m[34..236].iter().all(|b| *b == 0));
    assert_eq!(&m[236..240], &[0x63, 0x82, 0x53, 0x63]);
    // Options: 53 first (the PRL lacks it), then the PRL's 1, 3, 6 (12, 15, 28,
    // 42 we do not have), then 26, 51, 54 ascending; End, then zeros.
    #[rustfmt::skip]
    let expected: &[u8] = &[
        53, 1, 2,
        1, 4, 255, 255, 255, 0,
        3, 4, 198, 51, 100, 1,
        6, 4, 198, 51, 100, 53,
        26, 2, 0xff, 0xf0,
        51, 4, 0xff, 0xff, 0xff, 0xff,
        54, 4, 198, 51, 100, 1,
        255,
    ];
    assert_eq!(&m[240..240 + expected.len()], expected);
    assert!(m[240 + expected.len()..].iter().all(|b| *b == 0));
}

#[test]
fn request_gets_ack_and_broadcast_flag_broadcasts() {
    let request = bootrequest(7, FLAG_BROADCAST, [0; 4], UDHCPC_REQUEST);
    let (r, frame) = answer(&config(), &request);
    assert_eq!(r, Reply::Frame(342));
    let d = decode(&frame);
    assert_eq!(d.eth_dst, GUEST_MAC);
    assert_eq!(d.dst, Ipv4Addr::BROADCAST);
    assert_eq!(&d.message[10..12], &FLAG_BROADCAST.to_be_bytes());
    let opts = options(&d.message);
    assert_eq!(opts[0], (53, std::vec![5]));
    let codes: Vec<u8> = opts.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [53, 1, 3, 6, 26, 51, 54]);
}

#[test]
fn prl_order_is_followed_and_53_kept_in_place() {
    // dhclient-style PRL naming 53 itself, with 51 before 1.
    let opts = [53, 1, 1, 55, 5, 54, 51, 1, 53, 3, 255];
    let request = bootrequest(1, 0, [0; 4], &opts);
    let (_, frame) = answer(&config(), &request);
    let codes: Vec<u8> = options(&decode(&frame).message)
        .iter()
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(codes, [54, 51, 1, 53, 3, 6, 26]);
}

#[test]
fn no_prl_puts_53_first_then_ascending() {
    let request = bootrequest(1, 0, [0; 4], &[53, 1, 1, 255]);
    let (_, frame) = answer(&config(), &request);
    let codes: Vec<u8> = options(&decode(&frame).message)
        .iter()
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(codes, [53, 1, 3, 6, 26, 51, 54]);
}

#[test]
fn rapid_commit_discover_gets_ack_with_empty_option_80() {
    let request = bootrequest(1, 0, [0; 4], &[53, 1, 1, 80, 0, 255]);
    let (_, frame) = answer(&config(), &request);
    let opts = options(&decode(&frame).message);
    assert_eq!(opts[0], (53, std::vec![5]));
    assert!(opts.contains(&(80, Vec::new())));
    assert_eq!(opts.last().unwrap().0, 80, "80 ascending after 54");
    // A REQUEST with Rapid Commit is a plain ACK.
    let request = bootrequest(1, 0, [0; 4], &[53, 1, 3, 80, 0, 255]);
    let (_, frame) = answer(&config(), &request);
    assert!(options(&decode(&frame).message)
        .iter()
        .all(|(c, _)| *c != 80));
}

#[test]
fn bootp_request_gets_ack() {
    let request = bootrequest(9, 0, [0; 4], &[255]);
    let (_, frame) = answer(&config(), &request);
    let d = decode(&frame);
    assert_eq!(d.dst, GUEST);
    assert_eq!(options(&d.message)[0], (53, std::vec![5]));
}

#[test]
fn wrong_requested_address_gets_nak() {
    // INIT-REBOOT: option 50 with a stale address, no server identifier.
    let opts = [53, 1, 3, 50, 4, 198, 51, 100, 77, 255];
    let request = bootrequest(0x1234, 0, [0; 4], &opts);
    let (r, frame) = answer(&config(), &request);
    assert_eq!(r, Reply::Frame(342));
    let d = decode(&frame);
    // RFC 2131 §4.1: broadcast because giaddr is zero; Ethernet to the guest.
    assert_eq!(d.dst, Ipv4Addr::BROADCAST);
    assert_eq!(d.eth_dst, GUEST_MAC);
    assert_eq!(d.src, GATEWAY);
    let m = &d.message;
    assert_eq!(&m[4..8], &0x1234u32.to_be_bytes());
    assert_eq!(
        &m[12..28],
        &[0; 16],
        "ciaddr, yiaddr, siaddr, giaddr all zero"
    );
    assert_eq!(&m[28..34], &GUEST_MAC.0);
    assert_eq!(
        &m[240..250],
        &[53, 1, 6, 54, 4, 198, 51, 100, 1, 255],
        "only 53 = NAK and 54"
    );
    // RENEWING: ciaddr names another address.
    let request = bootrequest(1, 0, [198, 51, 100, 9], &[53, 1, 3, 255]);
    let (_, frame) = answer(&config(), &request);
    assert_eq!(options(&decode(&frame).message)[0], (53, std::vec![6]));
    // RENEWING with the right ciaddr is acknowledged, to the guest's address.
    let request = bootrequest(1, 0, GUEST.octets(), &[53, 1, 3, 255]);
    let (_, frame) = answer(&config(), &request);
    let d = decode(&frame);
    assert_eq!(options(&d.message)[0], (53, std::vec![5]));
    assert_eq!(&d.message[12..16], &GUEST.octets(), "ciaddr echoed");
    assert_eq!(d.dst, GUEST);
}

#[test]
fn request_for_another_server_is_ignored() {
    let opts = [53, 1, 3, 54, 4, 203, 0, 113, 1, 50, 4, 198, 51, 100, 2, 255];
    let request = bootrequest(1, 0, [0; 4], &opts);
    assert_eq!(
        answer(&config(), &request).0,
        Reply::Silent(DropReason::DhcpIgnored)
    );
}

#[test]
fn decline_release_inform_and_replies_are_ignored() {
    let c = config();
    for t in [4u8, 7, 8, 2, 5, 9] {
        let request = bootrequest(1, 0, [0; 4], &[53, 1, t, 255]);
        assert_eq!(
            answer(&c, &request).0,
            Reply::Silent(DropReason::DhcpIgnored),
            "type {t}"
        );
    }
    let mut reply = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    reply[0] = 2; // BOOTREPLY
    assert_eq!(answer(&c, &reply).0, Reply::Silent(DropReason::DhcpIgnored));
}

#[test]
fn malformed_and_disabled() {
    let c = config();
    let good = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    let malformed = Reply::Silent(DropReason::DhcpMalformed);
    assert_eq!(answer(&c, &good[..239]).0, malformed);
    let mut cookie = good.clone();
    cookie[236] = 0;
    assert_eq!(answer(&c, &cookie).0, malformed);
    // Option 53 running past the end of the message.
    let mut truncated = bootrequest(1, 0, [0; 4], &[]);
    truncated.truncate(240);
    truncated.extend_from_slice(&[53, 5, 1]);
    assert_eq!(answer(&c, &truncated).0, malformed);
    let mut off = c.clone();
    off.services.dhcp = false;
    assert_eq!(answer(&off, &good).0, Reply::Silent(DropReason::Disabled));
    let mut v6_only = c.clone();
    v6_only.ipv4 = None;
    assert_eq!(
        answer(&v6_only, &good).0,
        Reply::Silent(DropReason::Disabled)
    );
}

#[test]
fn dns_mtu_and_search_follow_configuration() {
    let mut c = config();
    c.mtu = None;
    c.dns.advertise_servers = false;
    let request = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    let (_, frame) = answer(&c, &request);
    let codes: Vec<u8> = options(&decode(&frame).message)
        .iter()
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(codes, [53, 1, 3, 51, 54]);

    let mut c = config();
    c.dns
        .search
        .push(Domain::try_from("example.com").unwrap())
        .unwrap();
    c.dns
        .search
        .push(Domain::try_from("lab.example.com").unwrap())
        .unwrap();
    let (_, frame) = answer(&c, &request);
    let opts = options(&decode(&frame).message);
    // RFC 3397: "example.com" in full, then "lab" and a pointer to offset 0.
    #[rustfmt::skip]
    let search: &[u8] = &[
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0,
        3, b'l', b'a', b'b', 0xc0, 0,
    ];
    assert!(opts.contains(&(119, search.to_vec())));
    c.dns.advertise_search = false;
    let (_, frame) = answer(&c, &request);
    assert!(options(&decode(&frame).message)
        .iter()
        .all(|(c, _)| *c != 119));
}

#[test]
fn gateway_outside_subnet_adds_classless_routes() {
    let mut c = config();
    c.ipv4 = Some(Ipv4Config {
        addr: GUEST,
        prefix_len: 24,
        gateway: Ipv4Addr::new(203, 0, 113, 1),
    });
    let request = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    let (_, frame) = answer(&c, &request);
    let opts = options(&decode(&frame).message);
    // 203.0.113.1/32 via 0.0.0.0, then 0.0.0.0/0 via 203.0.113.1.
    let routes = std::vec![32, 203, 0, 113, 1, 0, 0, 0, 0, 0, 203, 0, 113, 1];
    assert_eq!(opts.last().unwrap(), &(121, routes));
}

#[test]
fn long_search_list_is_cut_to_the_message_size() {
    let mut c = config();
    // Six names of 60+ characters each: far more than 548 bytes can hold.
    for i in 0..6u8 {
        let mut name = std::string::String::new();
        for _ in 0..4 {
            name.push_str(&"x".repeat(14));
            name.push((b'a' + i) as char);
            name.push('.');
        }
        name.push_str("test");
        c.dns
            .search
            .push(Domain::try_from(name.as_str()).unwrap())
            .unwrap();
    }
    let request = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    let (r, frame) = answer(&c, &request);
    let Reply::Frame(len) = r else { panic!() };
    let d = decode(&frame);
    assert!(d.message.len() <= DEFAULT_MAX_MESSAGE_LEN, "{len}");
    let opts = options(&d.message);
    let search = &opts.iter().find(|(c, _)| *c == 119).unwrap().1;
    assert!(search.len() > 150, "as many names as fit were kept");
    // Past 300 bytes, passt's extra pad byte follows End.
    let m = &d.message;
    let end = m.len() - 2;
    assert_eq!(&m[end..], &[255, 0]);
    // A client announcing a larger maximum gets every name.
    let mut big = UDHCPC_DISCOVER.to_vec();
    big[14..16].copy_from_slice(&1500u16.to_be_bytes());
    let request = bootrequest(1, 0, [0; 4], &big);
    let (_, frame) = answer(&c, &request);
    let opts = options(&decode(&frame).message);
    let longer = &opts.iter().find(|(c, _)| *c == 119).unwrap().1;
    assert!(longer.len() > search.len());
}

#[test]
fn short_buffer_is_refused_not_panicking() {
    let request = bootrequest(1, 0, [0; 4], UDHCPC_DISCOVER);
    for n in [0, 10, 42, 341] {
        let mut out = std::vec![0u8; n];
        assert_eq!(
            respond(&config(), GUEST_MAC, &request, &mut out),
            Reply::Silent(DropReason::TxBufferTooSmall),
            "{n}"
        );
    }
    let mut out = [0u8; 342];
    assert_eq!(
        respond(&config(), GUEST_MAC, &request, &mut out),
        Reply::Frame(342)
    );
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
        let mut out = [0u8; 2048];
        let _ = respond(&config(), GUEST_MAC, &bytes, &mut out);
    }

    #[test]
    fn any_option_tail_never_panics(
        tail in proptest::collection::vec(proptest::num::u8::ANY, 0..400)
    ) {
        let request = bootrequest(1, 0, [0; 4], &tail);
        let mut out = [0u8; 2048];
        if let Reply::Frame(len) = respond(&config(), GUEST_MAC, &request, &mut out) {
            decode(&out[..len]);
        }
    }
}
