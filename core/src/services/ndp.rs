//! Neighbor Discovery responder (RFC 4861; behaviour per the passt reference §6.3).
//!
//! We are the only other node on the tap link and the guest's router, so every
//! Neighbor Solicitation gets a Neighbor Advertisement with our MAC, whatever its
//! target (every destination is reached through us), and a Router Solicitation gets a
//! Router Advertisement for the guest's prefix. Duplicate Address Detection probes
//! stay unanswered so the guest keeps its address; advertisements from the guest are
//! ignored. [`router_advert`] also builds the periodic unsolicited advertisement.

use super::Reply;
use crate::config::{Config, Ipv6Config, MAX_SEARCH_DOMAINS};
use crate::frame::{self, Link};
use crate::stats::DropReason;
use crate::wire::ethernet::MacAddr;
use crate::wire::icmpv6;
use crate::wire::ndisc::{
    self, DomainList, Ipv6List, NdiscOption, NeighborFlags, PrefixFlags, PrefixInfo, RouterFlags,
};
use crate::wire::{Error, IpProtocol};
use core::net::{IpAddr, Ipv6Addr};

/// The all-nodes multicast address, ff02::1 (RFC 4291 §2.7.1): destination of
/// unsolicited router advertisements (RFC 4861 §6.2.4).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Router lifetime we advertise: the largest value (RFC 8319 §4 lifts RFC 4861's
/// 9000 s limit), like passt.
pub const ROUTER_LIFETIME: u16 = u16::MAX;

/// Lifetime of prefixes and DNS information we advertise: infinity (RFC 4861 §4.6.2,
/// RFC 8106 §5.1).
pub const LIFETIME_INFINITE: u32 = u32::MAX;

/// Hop limit an NDP message must arrive with: proof it was not forwarded by a router
/// (RFC 4861 §6.1.1, §7.1.1).
const NDP_HOP_LIMIT: u8 = 255;

/// Answer one Neighbor Discovery message (ICMPv6 types 133–136) from the guest.
///
/// `src`, `dst` and `hop_limit` come from the IPv6 header; `icmp` is the whole ICMPv6
/// message. The reply frame is written into `out`; `guest_mac` is its Ethernet
/// destination (unless it goes to a multicast address).
///
/// Every message is consumed: `Silent(Disabled)` when NDP is off or IPv6 is not
/// configured (or, for a solicitation, when router advertisements are off);
/// `Silent(Icmpv6Malformed)` when it fails RFC 4861's validity checks (checksum, code
/// 0, hop limit 255, option lengths, §6.1.1/§7.1.1); `Silent(Icmpv6Ignored)` for DAD
/// probes, advertisements and redirects from the guest. `checksum_partial`: the
/// guest's link said the sender left the checksum for it to complete (checksum
/// offload), so there is no checksum to verify yet; every other message must carry a
/// valid one.
#[allow(clippy::too_many_arguments)]
pub fn respond(
    config: &Config,
    guest_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    icmp: &[u8],
    checksum_partial: bool,
    out: &mut [u8],
) -> Reply {
    let Some(v6) = config.ipv6.as_ref().filter(|_| config.services.ndp) else {
        return Reply::Silent(DropReason::Disabled);
    };
    let Ok(packet) = icmpv6::Packet::new_checked(icmp) else {
        return Reply::Silent(DropReason::Icmpv6Malformed);
    };
    // RFC 4861 §6.1.1, §7.1.1: a valid ICMP checksum and hop limit 255 (checked in
    // `check_ip`), code 0 and well-formed options (checked by `parse`). A message
    // whose sender left the checksum to the link (`checksum_partial`) has none yet.
    if !checksum_partial && !packet.verify_checksum(&src, &dst) {
        return Reply::Silent(DropReason::Icmpv6Malformed);
    }
    let message = match ndisc::Repr::parse(&packet) {
        Ok(m) => m,
        // A Redirect (or anything else that is not RS/RA/NS/NA) is not ours to answer.
        Err(Error::Unsupported) => return Reply::Silent(DropReason::Icmpv6Ignored),
        Err(_) => return Reply::Silent(DropReason::Icmpv6Malformed),
    };
    if message.check_ip(&src, &dst, hop_limit).is_err() || hop_limit != NDP_HOP_LIMIT {
        return Reply::Silent(DropReason::Icmpv6Malformed);
    }
    match message {
        ndisc::Repr::NeighborSolicit { target_addr, .. } => {
            // RFC 4862 §5.4.3: a probe from the unspecified address is Duplicate
            // Address Detection; answering would make the guest give up its address.
            if src.is_unspecified() {
                return Reply::Silent(DropReason::Icmpv6Ignored);
            }
            neighbor_advert(config, v6, guest_mac, src, target_addr, out)
        }
        ndisc::Repr::RouterSolicit { .. } => {
            if !config.services.ra {
                return Reply::Silent(DropReason::Disabled);
            }
            // RFC 4861 §6.2.6: answer unicast to the soliciting host; a solicitation
            // from the unspecified address is answered to all nodes.
            if src.is_unspecified() {
                router_advert(config, MacAddr::ipv6_multicast(ALL_NODES), ALL_NODES, out)
            } else {
                router_advert(config, guest_mac, src, out)
            }
        }
        ndisc::Repr::RouterAdvert { .. } | ndisc::Repr::NeighborAdvert { .. } => {
            Reply::Silent(DropReason::Icmpv6Ignored)
        }
    }
}

/// Build a Router Advertisement (RFC 4861 §4.2) from our link-local address to
/// `dst_ip`, in an Ethernet frame to `dst_mac`: used for solicited answers and for the
/// periodic unsolicited advertisement to [`ALL_NODES`] (RFC 4861 §6.2.4).
///
/// Fields as passt sends them: current hop limit 255, M set (addresses via DHCPv6),
/// O clear, router lifetime 65535 s, reachable time and retransmission timer
/// unspecified. Options: Prefix Information for the guest's prefix (on-link and
/// autonomous, infinite lifetimes, the prefix field carrying the full configured
/// address as passt does), our Source Link-Layer Address, the MTU if one is set, and
/// when DNS is advertised an RDNSS option, followed by a DNSSL option only when RDNSS
/// is present (RFC 8106 §5).
///
/// `Silent(Disabled)` when NDP or router advertisements are off or IPv6 is not
/// configured; `Silent(TxBufferTooSmall)` when `out` cannot hold the frame.
pub fn router_advert(config: &Config, dst_mac: MacAddr, dst_ip: Ipv6Addr, out: &mut [u8]) -> Reply {
    let Some(v6) = config
        .ipv6
        .as_ref()
        .filter(|_| config.services.ndp && config.services.ra)
    else {
        return Reply::Silent(DropReason::Disabled);
    };
    let dns = &config.dns;
    // Names the encoder accepts; others (root, over-long labels) are left out.
    let names: heapless::Vec<&str, MAX_SEARCH_DOMAINS> = dns
        .search
        .iter()
        .map(|d| d.as_str())
        .filter(|d| ndisc::encoded_name_len(d).is_ok())
        .collect();
    let mut options: heapless::Vec<NdiscOption<'_>, 5> = heapless::Vec::new();
    // Five slots for at most five options: the pushes cannot fail.
    let _ = options.push(NdiscOption::PrefixInformation(PrefixInfo {
        prefix_len: v6.prefix_len,
        flags: PrefixFlags::ON_LINK | PrefixFlags::AUTONOMOUS,
        valid_lifetime: LIFETIME_INFINITE,
        preferred_lifetime: LIFETIME_INFINITE,
        prefix: v6.addr,
    }));
    let _ = options.push(NdiscOption::SourceLinkLayerAddr(config.our_mac));
    if let Some(mtu) = config.mtu {
        let _ = options.push(NdiscOption::Mtu(u32::from(mtu)));
    }
    let rdnss = dns.advertise_servers && !dns.servers_v6.is_empty();
    if rdnss {
        let _ = options.push(NdiscOption::Rdnss {
            lifetime: LIFETIME_INFINITE,
            servers: Ipv6List::Addrs(&dns.servers_v6),
        });
    }
    if rdnss && dns.advertise_search && !names.is_empty() {
        let _ = options.push(NdiscOption::Dnssl {
            lifetime: LIFETIME_INFINITE,
            domains: DomainList::Names(&names),
        });
    }
    let advert = ndisc::Repr::RouterAdvert {
        cur_hop_limit: frame::HOP_LIMIT,
        flags: RouterFlags::MANAGED,
        router_lifetime: ROUTER_LIFETIME,
        reachable_time: 0,
        retrans_time: 0,
        options: &[],
    };
    let link = Link {
        src: config.our_mac,
        dst: dst_mac,
    };
    emit(v6, link, dst_ip, &advert, &options, out)
}

/// A Neighbor Advertisement (RFC 4861 §7.2.4) for `target` to the soliciting `dst`:
/// flags R (we are a router), S (solicited) and O (override), and our MAC in a Target
/// Link-Layer Address option.
fn neighbor_advert(
    config: &Config,
    v6: &Ipv6Config,
    guest_mac: MacAddr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    out: &mut [u8],
) -> Reply {
    let advert = ndisc::Repr::NeighborAdvert {
        flags: NeighborFlags::ROUTER | NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
        target_addr: target,
        options: &[],
    };
    let options = [NdiscOption::TargetLinkLayerAddr(config.our_mac)];
    let link = Link {
        src: config.our_mac,
        dst: guest_mac,
    };
    emit(v6, link, dst, &advert, &options, out)
}

/// Write `message` with `options` from our link-local address to `dst` as a complete
/// frame (hop limit 255, RFC 4861 §7.1.2) into `out`.
fn emit(
    v6: &Ipv6Config,
    link: Link,
    dst: Ipv6Addr,
    message: &ndisc::Repr<'_>,
    options: &[NdiscOption<'_>],
    out: &mut [u8],
) -> Reply {
    let src = v6.our_link_local;
    let start = frame::upper_offset(&IpAddr::V6(src));
    let Some(buf) = out.get_mut(start..) else {
        return Reply::Silent(DropReason::TxBufferTooSmall);
    };
    let len = match message.emit_with_options(&src, &dst, options, buf) {
        Ok(len) => len,
        // The options are built from a validated configuration, so only a short
        // buffer can fail here.
        Err(_) => return Reply::Silent(DropReason::TxBufferTooSmall),
    };
    match frame::finish(
        out,
        link,
        IpAddr::V6(src),
        IpAddr::V6(dst),
        IpProtocol::Icmpv6,
        len,
        None,
    ) {
        Some(total) => Reply::Frame(total),
        None => Reply::Silent(DropReason::TxBufferTooSmall),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Domain, Ipv6Config, Mode};
    use crate::wire::ethernet::{self, EtherType};
    use crate::wire::icmpv6::Message;
    use crate::wire::{ip, ipv6};
    use std::vec::Vec;

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn config() -> Config {
        let mut c = Config::new(Mode::Passt);
        c.ipv6 = Some(Ipv6Config {
            addr: addr("2001:db8::2"),
            prefix_len: 64,
            gateway: addr("fe80::1"),
            our_link_local: addr("fe80::1"),
        });
        c
    }

    /// Fill the ICMPv6 checksum of `msg` for `src` → `dst`.
    fn checksummed(src: Ipv6Addr, dst: Ipv6Addr, mut msg: Vec<u8>) -> Vec<u8> {
        icmpv6::Packet::new_unchecked(&mut msg[..]).fill_checksum(&src, &dst);
        msg
    }

    /// A Neighbor Solicitation as Linux sends it to resolve `target`: type 135,
    /// code 0, checksum, 4 reserved bytes, the target, then a Source Link-Layer
    /// Address option (type 1, length 1, the guest's MAC).
    fn ns(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
        let mut m = std::vec![135, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&target.octets());
        if !src.is_unspecified() {
            m.extend_from_slice(&[1, 1]);
            m.extend_from_slice(&GUEST_MAC.0);
        }
        checksummed(src, dst, m)
    }

    /// A Router Solicitation: type 133, code 0, checksum, 4 reserved bytes, and the
    /// Source Link-Layer Address option unless sent from the unspecified address.
    fn rs(src: Ipv6Addr) -> Vec<u8> {
        let mut m = std::vec![133, 0, 0, 0, 0, 0, 0, 0];
        if !src.is_unspecified() {
            m.extend_from_slice(&[1, 1]);
            m.extend_from_slice(&GUEST_MAC.0);
        }
        checksummed(src, addr("ff02::2"), m)
    }

    struct Decoded {
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        icmp: Vec<u8>,
    }

    /// Check the headers and the ICMPv6 checksum of a reply frame.
    fn decode(frame: &[u8]) -> Decoded {
        let eth = ethernet::Frame::new_checked(frame).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv6);
        assert_eq!(eth.src_addr(), MacAddr::PASST_DEFAULT);
        let p = ipv6::Packet::new_checked(eth.payload()).unwrap();
        let r = ipv6::Repr::parse(&p).unwrap();
        assert_eq!(r.next_header, IpProtocol::Icmpv6);
        assert_eq!(r.hop_limit, 255, "RFC 4861 §7.1.2");
        assert_eq!(r.payload_len + 54, frame.len());
        let icmp = p.upper_layer(&r).to_vec();
        assert!(ip::upper_layer_checksum_ok(
            IpAddr::V6(r.src_addr),
            IpAddr::V6(r.dst_addr),
            IpProtocol::Icmpv6,
            &icmp
        ));
        Decoded {
            eth_dst: eth.dst_addr(),
            src: r.src_addr,
            dst: r.dst_addr,
            icmp,
        }
    }

    fn answer(c: &Config, src: Ipv6Addr, dst: Ipv6Addr, hop: u8, msg: &[u8]) -> (Reply, Vec<u8>) {
        let mut out = std::vec![0u8; 2048];
        let r = respond(c, GUEST_MAC, src, dst, hop, msg, false, &mut out);
        match r {
            Reply::Frame(len) => out.truncate(len),
            Reply::Silent(_) => out.clear(),
        }
        (r, out)
    }

    #[test]
    fn ns_for_any_target_gets_na_byte_for_byte() {
        let guest = addr("fe80::5054:ff:fe12:3456");
        let target = addr("2001:db8::99");
        let dst = ndisc::solicited_node(&target);
        let (r, frame) = answer(&config(), guest, dst, 255, &ns(guest, dst, target));
        assert_eq!(r, Reply::Frame(14 + 40 + 32));
        let d = decode(&frame);
        assert_eq!(d.eth_dst, GUEST_MAC);
        assert_eq!((d.src, d.dst), (addr("fe80::1"), guest));
        let mut expected = std::vec![136, 0];
        expected.extend_from_slice(&d.icmp[2..4]); // checksum, verified in `decode`
        expected.extend_from_slice(&[0xe0, 0, 0, 0]); // R | S | O
        expected.extend_from_slice(&target.octets());
        expected.extend_from_slice(&[2, 1]); // Target Link-Layer Address, 8 bytes
        expected.extend_from_slice(&MacAddr::PASST_DEFAULT.0);
        assert_eq!(d.icmp, expected);
    }

    #[test]
    fn dad_probe_is_not_answered() {
        let target = addr("2001:db8::2");
        let dst = ndisc::solicited_node(&target);
        let probe = ns(Ipv6Addr::UNSPECIFIED, dst, target);
        let (r, _) = answer(&config(), Ipv6Addr::UNSPECIFIED, dst, 255, &probe);
        assert_eq!(r, Reply::Silent(DropReason::Icmpv6Ignored));
    }

    #[test]
    fn rs_gets_ra_byte_for_byte() {
        let mut c = config();
        c.dns.servers_v6.push(addr("2001:db8::53")).unwrap();
        c.dns
            .search
            .push(Domain::try_from("example.com").unwrap())
            .unwrap();
        let guest = addr("fe80::5054:ff:fe12:3456");
        let (r, frame) = answer(&c, guest, addr("ff02::2"), 255, &rs(guest));
        // RA 16 + PIO 32 + SLLAO 8 + MTU 8 + RDNSS 24 + DNSSL 24.
        assert_eq!(r, Reply::Frame(54 + 112));
        let d = decode(&frame);
        assert_eq!(d.eth_dst, GUEST_MAC);
        assert_eq!((d.src, d.dst), (addr("fe80::1"), guest));
        #[rustfmt::skip]
        let mut expected: Vec<u8> = std::vec![
            134, 0, d.icmp[2], d.icmp[3],
            255, 0x80, 0xff, 0xff,      // cur hop limit, M, router lifetime 65535
            0, 0, 0, 0, 0, 0, 0, 0,     // reachable time, retrans timer
            3, 4, 64, 0xc0,             // PIO: /64, L | A
            0xff, 0xff, 0xff, 0xff,     // valid lifetime
            0xff, 0xff, 0xff, 0xff,     // preferred lifetime
            0, 0, 0, 0,                 // reserved
        ];
        expected.extend_from_slice(&addr("2001:db8::2").octets()); // full address
        expected.extend_from_slice(&[1, 1]);
        expected.extend_from_slice(&MacAddr::PASST_DEFAULT.0);
        expected.extend_from_slice(&[5, 1, 0, 0, 0, 0, 0xff, 0xf0]); // MTU 65520
        expected.extend_from_slice(&[25, 3, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&addr("2001:db8::53").octets());
        expected.extend_from_slice(&[31, 3, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(b"\x07example\x03com\x00\x00\x00\x00");
        assert_eq!(d.icmp, expected);
    }

    #[test]
    fn rs_from_unspecified_is_answered_to_all_nodes() {
        let (r, frame) = answer(
            &config(),
            Ipv6Addr::UNSPECIFIED,
            addr("ff02::2"),
            255,
            &rs(Ipv6Addr::UNSPECIFIED),
        );
        assert!(matches!(r, Reply::Frame(_)));
        let d = decode(&frame);
        assert_eq!(d.dst, ALL_NODES);
        assert_eq!(d.eth_dst, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    }

    #[test]
    fn ra_options_follow_configuration() {
        let codes = |c: &Config| -> Vec<u8> {
            let mut out = [0u8; 2048];
            let Reply::Frame(len) = router_advert(c, GUEST_MAC, ALL_NODES, &mut out) else {
                panic!("no RA");
            };
            let d = decode(&out[..len]);
            let p = icmpv6::Packet::new_checked(&d.icmp[..]).unwrap();
            let ra = ndisc::Repr::parse(&p).unwrap();
            ra.options().map(|o| o.unwrap().kind()).collect()
        };
        let mut c = config();
        assert_eq!(codes(&c), [3, 1, 5], "no DNS configured");
        c.mtu = None;
        assert_eq!(codes(&c), [3, 1]);
        c.dns
            .search
            .push(Domain::try_from("example.com").unwrap())
            .unwrap();
        assert_eq!(codes(&c), [3, 1], "DNSSL only with RDNSS");
        c.dns.servers_v6.push(addr("2001:db8::53")).unwrap();
        c.dns.servers_v6.push(addr("2001:db8::54")).unwrap();
        assert_eq!(codes(&c), [3, 1, 25, 31]);
        c.dns.advertise_search = false;
        assert_eq!(codes(&c), [3, 1, 25]);
        c.dns.advertise_servers = false;
        c.dns.advertise_search = true;
        assert_eq!(codes(&c), [3, 1]);
        c.services.ra = false;
        let mut out = [0u8; 2048];
        assert_eq!(
            router_advert(&c, GUEST_MAC, ALL_NODES, &mut out),
            Reply::Silent(DropReason::Disabled)
        );
    }

    #[test]
    fn invalid_ndp_is_malformed() {
        let c = config();
        let guest = addr("fe80::5054:ff:fe12:3456");
        let target = addr("fe80::1");
        let dst = ndisc::solicited_node(&target);
        let good = ns(guest, dst, target);
        let malformed = Reply::Silent(DropReason::Icmpv6Malformed);
        // RFC 4861 §7.1.1: hop limit must be 255 (not forwarded by a router).
        assert_eq!(answer(&c, guest, dst, 64, &good).0, malformed);
        // Bad checksum.
        let mut bad_sum = good.clone();
        bad_sum[2] ^= 1;
        assert_eq!(answer(&c, guest, dst, 255, &bad_sum).0, malformed);
        // The same message from a link that left the checksum to us is answered: it
        // has no checksum to check yet (and only such a message skips the check).
        let mut out = vec![0u8; 2048];
        let partial = respond(&c, GUEST_MAC, guest, dst, 255, &bad_sum, true, &mut out);
        assert!(matches!(partial, Reply::Frame(_)), "{partial:?}");
        // Code 1.
        let mut code = good.clone();
        code[1] = 1;
        let code = checksummed(guest, dst, code);
        assert_eq!(answer(&c, guest, dst, 255, &code).0, malformed);
        // Option with length 0 (RFC 4861 §4.6).
        let mut zero = good.clone();
        zero[25] = 0;
        let zero = checksummed(guest, dst, zero);
        assert_eq!(answer(&c, guest, dst, 255, &zero).0, malformed);
        // Truncated below the NS fixed part, multicast target.
        let short = checksummed(guest, dst, good[..20].to_vec());
        assert_eq!(answer(&c, guest, dst, 255, &short).0, malformed);
        let multicast = ns(guest, dst, addr("ff02::1"));
        assert_eq!(answer(&c, guest, dst, 255, &multicast).0, malformed);
        assert_eq!(answer(&c, guest, dst, 255, &good[..3]).0, malformed);
    }

    #[test]
    fn advertisements_and_redirects_from_the_guest_are_ignored() {
        let c = config();
        let guest = addr("fe80::5054:ff:fe12:3456");
        let ignored = Reply::Silent(DropReason::Icmpv6Ignored);
        // Unsolicited NA to all nodes: flags O, target, no options.
        let mut na = std::vec![136, 0, 0, 0, 0x20, 0, 0, 0];
        na.extend_from_slice(&guest.octets());
        let na = checksummed(guest, ALL_NODES, na);
        assert_eq!(answer(&c, guest, ALL_NODES, 255, &na).0, ignored);
        // RA: hop limit 64, no flags, lifetime 1800, no options.
        let ra = checksummed(
            guest,
            ALL_NODES,
            std::vec![134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(answer(&c, guest, ALL_NODES, 255, &ra).0, ignored);
        // Redirect: reserved, target, destination.
        let mut redirect = std::vec![u8::from(Message::Redirect), 0, 0, 0, 0, 0, 0, 0];
        redirect.extend_from_slice(&[0; 32]);
        let redirect = checksummed(guest, ALL_NODES, redirect);
        assert_eq!(answer(&c, guest, ALL_NODES, 255, &redirect).0, ignored);
    }

    #[test]
    fn disabled_services_consume_silently() {
        let guest = addr("fe80::5054:ff:fe12:3456");
        let mut c = config();
        c.services.ra = false;
        let (r, _) = answer(&c, guest, addr("ff02::2"), 255, &rs(guest));
        assert_eq!(r, Reply::Silent(DropReason::Disabled));
        let target = addr("fe80::1");
        let dst = ndisc::solicited_node(&target);
        let (r, _) = answer(&c, guest, dst, 255, &ns(guest, dst, target));
        assert!(
            matches!(r, Reply::Frame(_)),
            "NA still answered with --no-ra"
        );
        c.services.ndp = false;
        let (r, _) = answer(&c, guest, dst, 255, &ns(guest, dst, target));
        assert_eq!(r, Reply::Silent(DropReason::Disabled));
        let mut v4_only = config();
        v4_only.ipv6 = None;
        let (r, _) = answer(&v4_only, guest, dst, 255, &ns(guest, dst, target));
        assert_eq!(r, Reply::Silent(DropReason::Disabled));
    }

    #[test]
    fn short_buffer_is_refused() {
        let guest = addr("fe80::5054:ff:fe12:3456");
        let target = addr("fe80::1");
        let dst = ndisc::solicited_node(&target);
        let msg = ns(guest, dst, target);
        for n in [0, 20, 54, 85] {
            let mut out = std::vec![0u8; n];
            assert_eq!(
                respond(&config(), GUEST_MAC, guest, dst, 255, &msg, false, &mut out),
                Reply::Silent(DropReason::TxBufferTooSmall)
            );
        }
        let mut out = [0u8; 86];
        assert_eq!(
            respond(&config(), GUEST_MAC, guest, dst, 255, &msg, false, &mut out),
            Reply::Frame(86)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            kind in 133u8..=137,
            unspecified in proptest::bool::ANY,
        ) {
            let src = if unspecified { Ipv6Addr::UNSPECIFIED } else { addr("fe80::2") };
            let dst = addr("ff02::1:ff00:1");
            let mut msg = std::vec![kind, 0, 0, 0];
            msg.extend_from_slice(&body);
            let msg = checksummed(src, dst, msg);
            let mut out = [0u8; 2048];
            if let Reply::Frame(len) = respond(&config(), GUEST_MAC, src, dst, 255, &msg, false, &mut out) {
                decode(&out[..len]);
            }
        }
    }
}
