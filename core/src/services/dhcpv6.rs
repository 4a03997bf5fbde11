//! DHCPv6 server (RFC 8415, DNS options of RFC 3646; behaviour per the passt
//! reference §6.4).
//!
//! Like the DHCPv4 server, it has one address to give — the configured one — and no
//! lease state. Solicit gets an Advertise; Request, Renew, Confirm, Rebind (only
//! with our Server Identifier) and Information-request get a Reply carrying that
//! address in an IA_NA with infinite lifetimes, the client's identifier, and DNS
//! servers and search domains when those are advertised. A client asking to keep
//! another address in Request, Renew or Confirm is told NotOnLink
//! (RFC 8415 §18.3.2). Rapid Commit is not offered: the client always goes through
//! Advertise and Request.

use super::{fqdn, Reply};
use crate::config::{Config, Ipv6Config, MAX_SEARCH_DOMAINS};
use crate::frame::{self, Link};
use crate::stats::DropReason;
use crate::wire::dhcpv6::{
    self, Builder, Dhcpv6Option, IaAddress, MessageType, OptionIter, StatusCode,
    ALL_DHCP_RELAY_AGENTS_AND_SERVERS, DUID_LLT_LEN, OPT_CLIENT_FQDN, OPT_IA_TA,
};
use crate::wire::ethernet::MacAddr;
use crate::wire::ndisc::{self, DomainList, Ipv6List};
use crate::wire::{udp, Error, IpProtocol};
use core::net::{IpAddr, Ipv6Addr};

/// T1, T2, preferred and valid lifetime we grant: infinity (RFC 8415 §7.7).
pub const LIFETIME_INFINITE: u32 = u32::MAX;

/// IAID of the IA_NA we send when the client did not send one (as passt does).
pub const DEFAULT_IAID: u32 = 1;

/// Text of the NotOnLink status, as passt sends it (RFC 8415 §21.13: UTF-8, not
/// NUL-terminated).
pub const NOT_ON_LINK_MESSAGE: &str = "Prefix not appropriate for link.";

/// Offset of the DHCPv6 message in a reply frame: Ethernet, IPv6 and UDP headers.
const MESSAGE_OFFSET: usize =
    crate::wire::ethernet::HEADER_LEN + crate::wire::ipv6::HEADER_LEN + udp::HEADER_LEN;

/// Answer one DHCPv6 message from the guest, writing the reply frame — Ethernet,
/// IPv6, UDP and DHCPv6 — into `out`.
///
/// `src` and `dst` come from the IPv6 header; `udp_payload` is exactly the UDP
/// payload; `guest_mac` is the Ethernet destination of the reply, which goes from our
/// link-local address, port 547, to `src`, port 546 (RFC 8415 §7.2).
///
/// Every message is consumed: `Silent(Disabled)` when the DHCPv6 server is off or
/// IPv6 is not configured; `Silent(Dhcpv6Malformed)` for a message that does not
/// parse, lacks a Client Identifier, or comes from the unspecified address;
/// `Silent(Dhcpv6Ignored)` for messages not sent to All_DHCP_Relay_Agents_and_Servers,
/// relay messages, a Server Identifier that is not ours where one is allowed (or any
/// where none is), and types we do not answer (Release, Decline, …).
pub fn respond(
    config: &Config,
    guest_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    udp_payload: &[u8],
    out: &mut [u8],
) -> Reply {
    respond_with_lease(config, guest_mac, src, dst, udp_payload, out).0
}

/// [`respond`], also returning the address the reply hands to the guest, if it hands
/// one (not for a NotOnLink reply or no reply), so the engine can record it as the
/// guest's address.
pub fn respond_with_lease(
    config: &Config,
    guest_mac: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    udp_payload: &[u8],
    out: &mut [u8],
) -> (Reply, Option<Ipv6Addr>) {
    let silent = |reason| (Reply::Silent(reason), None);
    let Some(v6) = config.ipv6.as_ref().filter(|_| config.services.dhcpv6) else {
        return silent(DropReason::Disabled);
    };
    // RFC 8415 §7.1, §18.4: clients on the link send to All_DHCP_Relay_Agents_and_
    // Servers; we never offer unicast service.
    if dst != ALL_DHCP_RELAY_AGENTS_AND_SERVERS {
        return silent(DropReason::Dhcpv6Ignored);
    }
    // Replies go to the client's (link-local) source address: it needs one.
    if src.is_unspecified() {
        return silent(DropReason::Dhcpv6Malformed);
    }
    let Ok(packet) = dhcpv6::Packet::new_checked(udp_payload) else {
        return silent(DropReason::Dhcpv6Malformed);
    };
    let request = match dhcpv6::Repr::parse(&packet) {
        Ok(r) => r,
        // Relay-forward/-reply: no relays on the tap link.
        Err(Error::Unsupported) => return silent(DropReason::Dhcpv6Ignored),
        Err(_) => return silent(DropReason::Dhcpv6Malformed),
    };
    // passt answers nothing without a Client Identifier (RFC 8415 §16.2–§16.11 require
    // it in every message but Information-request, where it is a SHOULD).
    let Some(client_id) = request.client_id else {
        return silent(DropReason::Dhcpv6Malformed);
    };
    let our_duid = dhcpv6::duid_llt(config.duid_time, config.our_mac);
    let server_id = match request.server_id {
        None => ServerId::Absent,
        Some(id) if id == our_duid => ServerId::Ours,
        Some(_) => ServerId::Other,
    };
    let options = packet.options();
    let kind = match (request.msg_type, server_id) {
        // RFC 8415 §16.2: a Solicit carries no Server Identifier.
        (MessageType::Solicit, ServerId::Absent) => Kind::Advertise,
        // RFC 8415 §16.4, §16.6: Request and Renew name their server.
        (MessageType::Request | MessageType::Renew, ServerId::Ours)
        // RFC 8415 §16.5: a Confirm carries no Server Identifier.
        | (MessageType::Confirm, ServerId::Absent) => match not_on_link(v6, options) {
            Some(ia) => Kind::NotOnLink(ia),
            None => Kind::Reply,
        },
        // RFC 8415 §16.7 has a Rebind carry no Server Identifier; like passt we only
        // answer one that names us.
        (MessageType::Rebind, ServerId::Ours) => Kind::Reply,
        // RFC 8415 §16.12: no IA options; a Server Identifier, if any, must be ours.
        (MessageType::InformationRequest, ServerId::Absent | ServerId::Ours) => {
            if request.ia_na.is_some() || request.ia_ta.is_some() {
                return silent(DropReason::Dhcpv6Ignored);
            }
            Kind::Reply
        }
        _ => return silent(DropReason::Dhcpv6Ignored),
    };
    let Some(buf) = out.get_mut(MESSAGE_OFFSET..) else {
        return silent(DropReason::TxBufferTooSmall);
    };
    let built = match kind {
        Kind::NotOnLink(ia) => {
            build_not_on_link(request.transaction_id, &our_duid, ia, client_id, buf)
        }
        Kind::Advertise | Kind::Reply => {
            let msg_type = if kind == Kind::Advertise {
                MessageType::Advertise
            } else {
                MessageType::Reply
            };
            // `--fqdn`: option 39 for a client that sent and requested it (RFC 4704 §5).
            let mut fqdn = [0u8; fqdn::MAX_DATA_LEN];
            let client_fqdn = OptionIter::new(options)
                .filter_map(|o| o.ok())
                .find(|o| o.code == OPT_CLIENT_FQDN);
            let requested = request.oro.is_some_and(|o| o.contains(OPT_CLIENT_FQDN));
            let fqdn_len = match (&config.dns.fqdn, client_fqdn) {
                (Some(name), Some(c)) if requested => {
                    fqdn::dhcpv6_data(name, c.data, &mut fqdn).unwrap_or(0)
                }
                _ => 0,
            };
            let client = Client {
                iaid: request.ia_na.map_or(DEFAULT_IAID, |ia| ia.iaid),
                id: client_id,
                fqdn: &fqdn[..fqdn_len],
            };
            let header = (msg_type, request.transaction_id);
            build_reply(config, v6, header, &our_duid, client, buf)
        }
    };
    let Ok(message_len) = built else {
        return silent(DropReason::TxBufferTooSmall);
    };
    let reply = finish_frame(config, v6, guest_mac, src, message_len, out);
    let lease = match (reply, kind) {
        (Reply::Frame(_), Kind::Advertise | Kind::Reply) => Some(v6.addr),
        _ => None,
    };
    (reply, lease)
}

/// How the client identified the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerId {
    /// No Server Identifier option.
    Absent,
    /// Our DUID.
    Ours,
    /// Another server's DUID.
    Other,
}

/// What we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    /// Advertise with our address.
    Advertise,
    /// Reply with our address.
    Reply,
    /// Reply returning this IA with status NotOnLink.
    NotOnLink(ForeignIa<'a>),
}

/// The client's IA holding an address other than ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForeignIa<'a> {
    /// An IA_NA.
    Na(dhcpv6::IaNaOption<'a>),
    /// An IA_TA.
    Ta(dhcpv6::IaTaOption<'a>),
}

/// The first IA (IA_NAs first, then IA_TAs, like passt) holding an address other than
/// the configured one (RFC 8415 §18.3.2, §18.3.3: such a prefix is not appropriate
/// for the link).
fn not_on_link<'a>(v6: &Ipv6Config, options: &'a [u8]) -> Option<ForeignIa<'a>> {
    let typed = || OptionIter::new(options).filter_map(|o| o.ok()?.typed().ok());
    typed()
        .find_map(|o| match o {
            Dhcpv6Option::IaNa(ia) if holds_other_address(ia.addresses(), v6.addr) => {
                Some(ForeignIa::Na(ia))
            }
            _ => None,
        })
        .or_else(|| {
            typed().find_map(|o| match o {
                Dhcpv6Option::IaTa(ia) if holds_other_address(ia.addresses(), v6.addr) => {
                    Some(ForeignIa::Ta(ia))
                }
                _ => None,
            })
        })
}

/// Whether any of `addrs` differs from `ours`.
fn holds_other_address<'a>(
    mut addrs: impl Iterator<Item = dhcpv6::IaAddrOption<'a>>,
    ours: Ipv6Addr,
) -> bool {
    addrs.any(|a| a.addr != ours)
}

/// What a reply carries back to the client.
#[derive(Debug, Clone, Copy)]
struct Client<'a> {
    /// IAID of its IA_NA.
    iaid: u32,
    /// Its Client Identifier.
    id: &'a [u8],
    /// Option 39's data, or empty for none.
    fqdn: &'a [u8],
}

/// Write an Advertise or Reply into `buf`: Server Identifier, IA_NA (the client's
/// IAID, T1 = T2 = infinity) holding our address with infinite lifetimes, the client's
/// identifier, then DNS servers (option 23) and the domain search list (option 24)
/// when advertised — passt's layout — and the Client FQDN (option 39) when returned.
/// Returns the message length.
fn build_reply(
    config: &Config,
    v6: &Ipv6Config,
    (msg_type, xid): (MessageType, u32),
    server_id: &[u8; DUID_LLT_LEN],
    client: Client<'_>,
    buf: &mut [u8],
) -> Result<usize, Error> {
    let (iaid, client_id) = (client.iaid, client.id);
    let mut b = Builder::new(msg_type, xid, buf)?;
    b.push(&Dhcpv6Option::ServerId(server_id))?;
    let address = IaAddress {
        addr: v6.addr,
        preferred_lifetime: LIFETIME_INFINITE,
        valid_lifetime: LIFETIME_INFINITE,
    };
    b.push_ia_na(
        iaid,
        LIFETIME_INFINITE,
        LIFETIME_INFINITE,
        Some(&address),
        None,
    )?;
    b.push(&Dhcpv6Option::ClientId(client_id))?;
    let dns = &config.dns;
    if dns.advertise_servers && !dns.servers_v6.is_empty() {
        b.push(&Dhcpv6Option::DnsServers(Ipv6List::Addrs(&dns.servers_v6)))?;
    }
    // RFC 3646 §4: uncompressed names; ones the encoder rejects are left out.
    let names: heapless::Vec<&str, MAX_SEARCH_DOMAINS> = dns
        .search
        .iter()
        .map(|d| d.as_str())
        .filter(|d| ndisc::encoded_name_len(d).is_ok())
        .collect();
    if dns.advertise_search && !names.is_empty() {
        b.push(&Dhcpv6Option::DomainList(DomainList::Names(&names)))?;
    }
    if !client.fqdn.is_empty() {
        b.push_option(OPT_CLIENT_FQDN, client.fqdn)?;
    }
    Ok(b.finish())
}

/// Write a Reply returning the client's IA `ia` with status NotOnLink
/// (RFC 8415 §18.3.2): Server Identifier, the IA (IAID, and T1/T2 for an IA_NA, as
/// the client sent them) holding only the status, then the client's identifier.
fn build_not_on_link(
    xid: u32,
    server_id: &[u8; DUID_LLT_LEN],
    ia: ForeignIa<'_>,
    client_id: &[u8],
    buf: &mut [u8],
) -> Result<usize, Error> {
    let mut b = Builder::new(MessageType::Reply, xid, buf)?;
    b.push(&Dhcpv6Option::ServerId(server_id))?;
    let status = (StatusCode::NotOnLink, NOT_ON_LINK_MESSAGE);
    match ia {
        ForeignIa::Na(na) => b.push_ia_na(na.iaid, na.t1, na.t2, None, Some(status))?,
        ForeignIa::Ta(ta) => {
            let open = b.begin_option(OPT_IA_TA)?;
            b.push_bytes(&ta.iaid.to_be_bytes())?;
            b.push_status_code(status.0, status.1)?;
            b.end_option(open)?;
        }
    }
    b.push(&Dhcpv6Option::ClientId(client_id))?;
    Ok(b.finish())
}

/// Put the UDP, IPv6 and Ethernet headers around the `message_len`-byte message at
/// [`MESSAGE_OFFSET`] of `out`.
fn finish_frame(
    config: &Config,
    v6: &Ipv6Config,
    guest_mac: MacAddr,
    dst: Ipv6Addr,
    message_len: usize,
    out: &mut [u8],
) -> Reply {
    let src = IpAddr::V6(v6.our_link_local);
    let udp_start = frame::upper_offset(&src);
    let udp_repr = udp::Repr {
        src_port: dhcpv6::SERVER_PORT,
        dst_port: dhcpv6::CLIENT_PORT,
        payload_len: message_len,
    };
    udp_repr.emit_header(&mut udp::Packet::new_unchecked(
        &mut out[udp_start..MESSAGE_OFFSET],
    ));
    let link = Link {
        src: config.our_mac,
        dst: guest_mac,
    };
    match frame::finish(
        out,
        link,
        src,
        IpAddr::V6(dst),
        IpProtocol::Udp,
        udp_repr.buffer_len(),
        Some(6),
    ) {
        Some(len) => Reply::Frame(len),
        None => Reply::Silent(DropReason::TxBufferTooSmall),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Domain, Mode};
    use crate::wire::dhcpv6::{OPT_CLIENTID, OPT_IA_NA, OPT_SERVERID, OPT_STATUS_CODE};
    use crate::wire::ethernet::{self, EtherType};
    use crate::wire::{ip, ipv6};
    use std::vec::Vec;

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const DUID_TIME: u32 = 0x2e5a_7c11;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn guest_ll() -> Ipv6Addr {
        addr("fe80::5054:ff:fe12:3456")
    }

    fn config() -> Config {
        let mut c = Config::new(Mode::Passt);
        c.ipv6 = Some(Ipv6Config {
            addr: addr("2001:db8::2"),
            prefix_len: 64,
            gateway: addr("fe80::1"),
            our_link_local: addr("fe80::1"),
        });
        c.duid_time = DUID_TIME;
        c
    }

    /// Our DUID-LLT on the wire: type 1, hardware type 1, time, MAC.
    fn our_duid() -> Vec<u8> {
        let mut d = std::vec![0, 1, 0, 1];
        d.extend_from_slice(&DUID_TIME.to_be_bytes());
        d.extend_from_slice(&MacAddr::PASST_DEFAULT.0);
        d
    }

    // The client's DUID-LL (type 3, hardware type 1, MAC), as systemd-networkd sends.
    const CLIENT_DUID: [u8; 10] = [0, 3, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    fn option(code: u16, data: &[u8]) -> Vec<u8> {
        let mut o = code.to_be_bytes().to_vec();
        o.extend_from_slice(&(data.len() as u16).to_be_bytes());
        o.extend_from_slice(data);
        o
    }

    /// IA_NA: IAID, T1, T2, then `nested`.
    fn ia_na(iaid: u32, nested: &[u8]) -> Vec<u8> {
        let mut d = iaid.to_be_bytes().to_vec();
        d.extend_from_slice(&[0; 8]);
        d.extend_from_slice(nested);
        option(OPT_IA_NA, &d)
    }

    /// IAADDR: address, preferred and valid lifetimes.
    fn ia_addr(a: Ipv6Addr) -> Vec<u8> {
        let mut d = a.octets().to_vec();
        d.extend_from_slice(&[0, 0, 0x1c, 0x20, 0, 0, 0x1d, 0x4c]);
        option(5, &d)
    }

    /// A client message: type, 24-bit xid 0x5aa51c, Client ID, then `rest`.
    fn message(msg_type: u8, rest: &[&[u8]]) -> Vec<u8> {
        let mut m = std::vec![msg_type, 0x5a, 0xa5, 0x1c];
        m.extend_from_slice(&option(OPT_CLIENTID, &CLIENT_DUID));
        for part in rest {
            m.extend_from_slice(part);
        }
        m
    }

    /// A systemd-networkd Solicit: Client ID, IA_NA (IAID 0x12345678, no address),
    /// ORO (23, 24), Elapsed Time 0.
    fn solicit() -> Vec<u8> {
        message(
            1,
            &[
                &ia_na(0x1234_5678, &[]),
                &option(6, &[0, 23, 0, 24]),
                &option(8, &[0, 0]),
            ],
        )
    }

    struct Decoded {
        eth_dst: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        message: Vec<u8>,
    }

    /// Check headers, ports and checksum of a reply frame.
    fn decode(frame: &[u8]) -> Decoded {
        let eth = ethernet::Frame::new_checked(frame).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv6);
        let p = ipv6::Packet::new_checked(eth.payload()).unwrap();
        let r = ipv6::Repr::parse(&p).unwrap();
        assert_eq!(r.next_header, IpProtocol::Udp);
        assert_eq!(r.hop_limit, 255);
        let l4 = p.upper_layer(&r);
        let u = udp::Packet::new_checked(l4).unwrap();
        assert_eq!((u.src_port(), u.dst_port()), (547, 546));
        assert_eq!(usize::from(u.len()), l4.len());
        assert!(ip::upper_layer_checksum_ok(
            IpAddr::V6(r.src_addr),
            IpAddr::V6(r.dst_addr),
            IpProtocol::Udp,
            l4
        ));
        Decoded {
            eth_dst: eth.dst_addr(),
            src: r.src_addr,
            dst: r.dst_addr,
            message: u.payload().to_vec(),
        }
    }

    fn answer(c: &Config, msg: &[u8]) -> (Reply, Option<Ipv6Addr>, Vec<u8>) {
        let mut out = std::vec![0u8; 2048];
        let (r, lease) = respond_with_lease(
            c,
            GUEST_MAC,
            guest_ll(),
            ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            msg,
            &mut out,
        );
        match r {
            Reply::Frame(len) => out.truncate(len),
            Reply::Silent(_) => out.clear(),
        }
        (r, lease, out)
    }

    /// What we send for the default configuration, after the 4-byte header: Server
    /// ID, IA_NA (`iaid`) with our address, the client's ID.
    fn expected_options(iaid: u32) -> Vec<u8> {
        let mut e = option(OPT_SERVERID, &our_duid());
        let mut ia = iaid.to_be_bytes().to_vec();
        ia.extend_from_slice(&[0xff; 8]); // T1, T2
        let mut a = addr("2001:db8::2").octets().to_vec();
        a.extend_from_slice(&[0xff; 8]); // preferred, valid
        ia.extend_from_slice(&option(5, &a));
        e.extend_from_slice(&option(OPT_IA_NA, &ia));
        e.extend_from_slice(&option(OPT_CLIENTID, &CLIENT_DUID));
        e
    }

    #[test]
    fn solicit_gets_advertise_byte_for_byte() {
        let (r, lease, frame) = answer(&config(), &solicit());
        assert!(matches!(r, Reply::Frame(_)));
        assert_eq!(lease, Some(addr("2001:db8::2")));
        let d = decode(&frame);
        assert_eq!(d.eth_dst, GUEST_MAC);
        assert_eq!((d.src, d.dst), (addr("fe80::1"), guest_ll()));
        let mut expected = std::vec![2, 0x5a, 0xa5, 0x1c]; // ADVERTISE, xid echoed
        expected.extend_from_slice(&expected_options(0x1234_5678));
        assert_eq!(d.message, expected);
    }

    #[test]
    fn request_renew_rebind_with_our_server_id_get_reply() {
        let sid = option(OPT_SERVERID, &our_duid());
        let with_addr = ia_na(7, &ia_addr(addr("2001:db8::2")));
        for t in [3u8, 5, 6] {
            let msg = message(t, &[&sid, &with_addr]);
            let (_, lease, frame) = answer(&config(), &msg);
            let m = decode(&frame).message;
            let mut expected = std::vec![7, 0x5a, 0xa5, 0x1c]; // REPLY
            expected.extend_from_slice(&expected_options(7));
            assert_eq!(m, expected, "type {t}");
            assert_eq!(lease, Some(addr("2001:db8::2")));
        }
        // Without a server ID, or with another server's, they are ignored.
        let other = option(OPT_SERVERID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 9]);
        for t in [3u8, 5, 6] {
            for sid in [&[][..], &other[..]] {
                let (r, lease, _) = answer(&config(), &message(t, &[sid]));
                assert_eq!(r, Reply::Silent(DropReason::Dhcpv6Ignored), "type {t}");
                assert_eq!(lease, None);
            }
        }
    }

    #[test]
    fn confirm_and_information_request_get_reply() {
        let ok = ia_na(7, &ia_addr(addr("2001:db8::2")));
        let (r, _, frame) = answer(&config(), &message(4, &[&ok]));
        assert!(matches!(r, Reply::Frame(_)));
        assert_eq!(decode(&frame).message[0], 7);
        // Information-request: passt's reply carries the IA_NA too (IAID 1).
        let (_, _, frame) = answer(&config(), &message(11, &[&option(6, &[0, 23])]));
        let mut expected = std::vec![7, 0x5a, 0xa5, 0x1c];
        expected.extend_from_slice(&expected_options(DEFAULT_IAID));
        assert_eq!(decode(&frame).message, expected);
        // …with our server ID too, but not with IA options or another's server ID.
        let sid = option(OPT_SERVERID, &our_duid());
        assert!(matches!(
            answer(&config(), &message(11, &[&sid])).0,
            Reply::Frame(_)
        ));
        let ignored = Reply::Silent(DropReason::Dhcpv6Ignored);
        assert_eq!(answer(&config(), &message(11, &[&ok])).0, ignored);
        let other = option(OPT_SERVERID, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 9]);
        assert_eq!(answer(&config(), &message(11, &[&other])).0, ignored);
        // Confirm and Solicit must not name a server.
        assert_eq!(answer(&config(), &message(4, &[&sid, &ok])).0, ignored);
        assert_eq!(answer(&config(), &message(1, &[&sid])).0, ignored);
    }

    #[test]
    fn foreign_address_gets_not_on_link() {
        let sid = option(OPT_SERVERID, &our_duid());
        let stale = ia_na(0x99, &ia_addr(addr("2001:db8:1::2")));
        let (r, lease, frame) = answer(&config(), &message(3, &[&sid, &stale]));
        assert!(matches!(r, Reply::Frame(_)));
        assert_eq!(lease, None, "no address handed out");
        let m = decode(&frame).message;
        let mut status = (u16::from(StatusCode::NotOnLink)).to_be_bytes().to_vec();
        status.extend_from_slice(NOT_ON_LINK_MESSAGE.as_bytes());
        let mut ia = 0x99u32.to_be_bytes().to_vec();
        ia.extend_from_slice(&[0; 8]); // the client's T1, T2
        ia.extend_from_slice(&option(OPT_STATUS_CODE, &status));
        let mut expected = std::vec![7, 0x5a, 0xa5, 0x1c];
        expected.extend_from_slice(&option(OPT_SERVERID, &our_duid()));
        expected.extend_from_slice(&option(OPT_IA_NA, &ia));
        expected.extend_from_slice(&option(OPT_CLIENTID, &CLIENT_DUID));
        assert_eq!(m, expected);
        // IA_TA in a Confirm: returned with its IAID and the status.
        let mut ta = 0x42u32.to_be_bytes().to_vec();
        ta.extend_from_slice(&ia_addr(addr("2001:db8:1::7")));
        let (_, _, frame) = answer(&config(), &message(4, &[&option(OPT_IA_TA, &ta)]));
        let m = decode(&frame).message;
        let mut ta_back = 0x42u32.to_be_bytes().to_vec();
        ta_back.extend_from_slice(&option(OPT_STATUS_CODE, &status));
        let tail = option(OPT_IA_TA, &ta_back);
        assert_eq!(&m[4 + 18..4 + 18 + tail.len()], &tail[..]);
    }

    #[test]
    fn dns_options_follow_configuration() {
        let mut c = config();
        c.dns.servers_v6.push(addr("2001:db8::53")).unwrap();
        c.dns
            .search
            .push(Domain::try_from("example.com").unwrap())
            .unwrap();
        let (_, _, frame) = answer(&c, &solicit());
        let m = decode(&frame).message;
        let mut tail = option(23, &addr("2001:db8::53").octets());
        tail.extend_from_slice(&option(24, b"\x07example\x03com\x00"));
        assert!(m.ends_with(&tail), "{m:02x?}");
        assert_eq!(m.len(), 4 + expected_options(0).len() + tail.len());
        c.dns.advertise_servers = false;
        let (_, _, frame) = answer(&c, &solicit());
        assert!(decode(&frame)
            .message
            .ends_with(&option(24, b"\x07example\x03com\x00")));
        c.dns.advertise_search = false;
        let (_, _, frame) = answer(&c, &solicit());
        assert_eq!(decode(&frame).message.len(), 4 + expected_options(0).len());
    }

    #[test]
    fn unanswered_messages() {
        let c = config();
        let ignored = Reply::Silent(DropReason::Dhcpv6Ignored);
        let malformed = Reply::Silent(DropReason::Dhcpv6Malformed);
        let sid = option(OPT_SERVERID, &our_duid());
        // Release, Decline, Advertise, Reply, Reconfigure.
        for t in [8u8, 9, 2, 7, 10] {
            assert_eq!(answer(&c, &message(t, &[&sid])).0, ignored, "type {t}");
        }
        // Relay-forward.
        assert_eq!(answer(&c, &message(12, &[])).0, ignored);
        // No Client ID.
        assert_eq!(answer(&c, &[1, 0, 0, 1]).0, malformed);
        // Truncated header, option running past the end.
        assert_eq!(answer(&c, &[1, 0, 0]).0, malformed);
        let mut cut = solicit();
        cut.truncate(cut.len() - 1);
        assert_eq!(answer(&c, &cut).0, malformed);
        // Unicast destination and unspecified source.
        let mut out = [0u8; 2048];
        let r = respond(
            &c,
            GUEST_MAC,
            guest_ll(),
            addr("fe80::1"),
            &solicit(),
            &mut out,
        );
        assert_eq!(r, ignored);
        let r = respond(
            &c,
            GUEST_MAC,
            Ipv6Addr::UNSPECIFIED,
            ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            &solicit(),
            &mut out,
        );
        assert_eq!(r, malformed);
        // Disabled.
        let mut off = c.clone();
        off.services.dhcpv6 = false;
        assert_eq!(
            answer(&off, &solicit()).0,
            Reply::Silent(DropReason::Disabled)
        );
        let mut v4_only = c.clone();
        v4_only.ipv6 = None;
        assert_eq!(
            answer(&v4_only, &solicit()).0,
            Reply::Silent(DropReason::Disabled)
        );
    }

    #[test]
    fn short_buffer_is_refused() {
        let full = answer(&config(), &solicit()).2.len();
        for n in [0, 30, MESSAGE_OFFSET, full - 1] {
            let mut out = std::vec![0u8; n];
            let r = respond(
                &config(),
                GUEST_MAC,
                guest_ll(),
                ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
                &solicit(),
                &mut out,
            );
            assert_eq!(r, Reply::Silent(DropReason::TxBufferTooSmall), "{n}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(
            msg_type in 0u8..16,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut msg = message(msg_type, &[]);
            msg.extend_from_slice(&tail);
            let (r, _, frame) = answer(&config(), &msg);
            if let Reply::Frame(_) = r {
                decode(&frame);
            }
        }
    }
}
