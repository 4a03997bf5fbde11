//! DHCPv4 server (RFC 2131, options of RFC 2132; behaviour per the passt reference
//! §6.2).
//!
//! There is exactly one address to hand out — the configured one — so the server
//! keeps no lease state: DISCOVER gets an OFFER (or, with Rapid Commit, an ACK,
//! RFC 4039 §3), REQUEST an ACK, and a plain BOOTP request (no option 53) an ACK too.
//! Unlike passt, a REQUEST naming another address gets a DHCPNAK (RFC 2131 §4.3.2), so
//! a guest that moved between hosts drops its stale lease at once instead of keeping
//! an address nobody routes; a REQUEST for another server is ignored.
//!
//! Option order follows passt: option 53 first unless the client's Parameter Request
//! List names it, then the PRL's order, then every remaining option ascending.

use super::{fqdn, Reply};
use crate::config::{Config, Ipv4Config, MAX_DNS_SERVERS, MAX_SEARCH_DOMAINS};
use crate::frame::{self, Link};
use crate::stats::DropReason;
use crate::wire::dhcpv4::{
    self, MessageType, ReplyBuilder, ReplyHeader, MIN_MESSAGE_LEN, OPT_CLASSLESS_ROUTE,
    OPT_CLIENT_FQDN, OPT_DNS_SERVER, OPT_DOMAIN_SEARCH, OPT_INTERFACE_MTU, OPT_LEASE_TIME,
    OPT_MESSAGE_TYPE, OPT_RAPID_COMMIT, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK,
};
use crate::wire::ethernet::MacAddr;
use crate::wire::{ipv4, udp, Error, IpProtocol};
use core::net::{IpAddr, Ipv4Addr};

/// Lease time we grant: infinite (RFC 2131 §3.3, RFC 2132 §9.2).
pub const LEASE_INFINITE: u32 = u32::MAX;

/// Largest DHCP message we send when the client did not announce a Maximum DHCP
/// Message Size: a 576-byte IP datagram, the size every client must accept
/// (RFC 2131 §2), less the IPv4 and UDP headers.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 576 - IP_UDP_LEN;

/// IPv4 header plus UDP header: what Maximum DHCP Message Size counts beyond the
/// message itself (RFC 2132 §9.10).
const IP_UDP_LEN: usize = ipv4::HEADER_LEN + udp::HEADER_LEN;

/// Offset of the DHCP message in a reply frame.
const MESSAGE_OFFSET: usize = crate::wire::ethernet::HEADER_LEN + IP_UDP_LEN;

/// Most encoded bytes the domain search list can take: every name at its longest.
const MAX_SEARCH_LEN: usize = MAX_SEARCH_DOMAINS * (crate::config::MAX_DOMAIN_LEN + 2);

/// Most server options in one reply: 1, 3, 6, 26, 51, 53, 54, 80, 81, 119, 121.
const MAX_OPTIONS: usize = 11;

/// What we answer to a client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// DHCPOFFER to a DISCOVER.
    Offer,
    /// DHCPACK; `rapid_commit` adds an empty option 80 (RFC 4039 §4).
    Ack { rapid_commit: bool },
    /// DHCPNAK: the client asked for an address it cannot have.
    Nak,
}

/// Answer one DHCP message from the guest (`udp_payload`: the BOOTP message, exactly
/// the UDP payload), writing the reply frame — Ethernet, IPv4, UDP and DHCP — into
/// `out`. `guest_mac` is the Ethernet destination of the reply.
///
/// Every message is consumed: `Silent(Disabled)` when the DHCP server is off or IPv4
/// is not configured, `Silent(DhcpMalformed)` for a message that does not parse,
/// `Silent(DhcpIgnored)` for messages we do not answer (DECLINE, RELEASE, INFORM,
/// replies, non-Ethernet hardware, a REQUEST addressed to another server).
pub fn respond(config: &Config, guest_mac: MacAddr, udp_payload: &[u8], out: &mut [u8]) -> Reply {
    let Some(v4) = config.ipv4.as_ref().filter(|_| config.services.dhcp) else {
        return Reply::Silent(DropReason::Disabled);
    };
    let packet = match dhcpv4::Packet::new_checked(udp_payload) {
        Ok(p) => p,
        Err(_) => return Reply::Silent(DropReason::DhcpMalformed),
    };
    let request = match dhcpv4::Repr::parse(&packet) {
        Ok(r) => r,
        // A BOOTREPLY, or a hardware type other than Ethernet: not for us to answer.
        Err(Error::Unsupported) => return Reply::Silent(DropReason::DhcpIgnored),
        Err(_) => return Reply::Silent(DropReason::DhcpMalformed),
    };
    let answer = match decide(v4, &request) {
        Ok(a) => a,
        Err(reason) => return Reply::Silent(reason),
    };
    let header = match answer {
        // RFC 2131 §4.3.2, table 3: a NAK carries no addresses but giaddr.
        Answer::Nak => ReplyHeader {
            transaction_id: request.transaction_id,
            broadcast: request.broadcast,
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: Ipv4Addr::UNSPECIFIED,
            server_ip: Ipv4Addr::UNSPECIFIED,
            relay_agent_ip: packet.relay_agent_ip(),
            client_hardware_address: request.client_hardware_address,
        },
        // Like passt, ciaddr and giaddr are echoed and siaddr stays zero (no next
        // bootstrap server).
        Answer::Offer | Answer::Ack { .. } => ReplyHeader {
            transaction_id: request.transaction_id,
            broadcast: request.broadcast,
            client_ip: request.client_ip,
            your_ip: v4.addr,
            server_ip: Ipv4Addr::UNSPECIFIED,
            relay_agent_ip: packet.relay_agent_ip(),
            client_hardware_address: request.client_hardware_address,
        },
    };
    // RFC 2131 §4.1: with giaddr zero, a NAK is broadcast; other replies are
    // broadcast when the client set the broadcast bit, else unicast to yiaddr.
    let dst_ip = if answer == Answer::Nak || request.broadcast {
        Ipv4Addr::BROADCAST
    } else {
        v4.addr
    };
    let Some(room) = out.len().checked_sub(MESSAGE_OFFSET) else {
        return Reply::Silent(DropReason::TxBufferTooSmall);
    };
    // RFC 2132 §9.10: never exceed the client's Maximum DHCP Message Size.
    let limit = request
        .max_size
        .map_or(DEFAULT_MAX_MESSAGE_LEN, |m| {
            usize::from(m).saturating_sub(IP_UDP_LEN)
        })
        .max(DEFAULT_MAX_MESSAGE_LEN)
        .min(room);
    if limit < MIN_MESSAGE_LEN {
        return Reply::Silent(DropReason::TxBufferTooSmall);
    }
    // `--fqdn`: option 81 for a client that sent or requested it (RFC 4702 §4).
    let mut fqdn = [0u8; fqdn::MAX_DATA_LEN];
    let client_fqdn = packet
        .option_iter()
        .filter_map(|o| o.ok())
        .find(|o| o.code == OPT_CLIENT_FQDN)
        .map(|o| o.data);
    let asked = request
        .parameter_request_list
        .is_some_and(|prl| prl.contains(&OPT_CLIENT_FQDN));
    let fqdn_len = match &config.dns.fqdn {
        Some(name) if client_fqdn.is_some() || asked => {
            fqdn::dhcpv4_data(name, client_fqdn, &mut fqdn).unwrap_or(0)
        }
        _ => 0,
    };
    let message = &mut out[MESSAGE_OFFSET..MESSAGE_OFFSET + limit];
    let extra = Extra {
        fqdn: &fqdn[..fqdn_len],
    };
    let Some(message_len) = build_message(config, v4, &request, answer, &header, extra, message)
    else {
        return Reply::Silent(DropReason::TxBufferTooSmall);
    };
    let udp_len = udp::HEADER_LEN + message_len;
    let udp_repr = udp::Repr {
        src_port: dhcpv4::SERVER_PORT,
        dst_port: dhcpv4::CLIENT_PORT,
        payload_len: message_len,
    };
    let udp_start = frame::upper_offset(&IpAddr::V4(v4.gateway));
    udp_repr.emit_header(&mut udp::Packet::new_unchecked(
        &mut out[udp_start..udp_start + udp::HEADER_LEN],
    ));
    let link = Link {
        src: config.our_mac,
        dst: guest_mac,
    };
    match frame::finish(
        out,
        link,
        IpAddr::V4(v4.gateway),
        IpAddr::V4(dst_ip),
        IpProtocol::Udp,
        udp_len,
        Some(6),
    ) {
        Some(len) => Reply::Frame(len),
        None => Reply::Silent(DropReason::TxBufferTooSmall),
    }
}

/// Choose the answer to a parsed client message, or the reason to stay silent.
fn decide(v4: &Ipv4Config, request: &dhcpv4::Repr<'_>) -> Result<Answer, DropReason> {
    match request.message_type {
        Some(MessageType::Discover) => Ok(if request.rapid_commit {
            // RFC 4039 §3: answer a Rapid Commit DISCOVER with an ACK at once.
            Answer::Ack { rapid_commit: true }
        } else {
            Answer::Offer
        }),
        Some(MessageType::Request) => {
            // RFC 2131 §4.3.2: a REQUEST whose server identifier names another
            // server means the client chose that server's offer: keep quiet.
            if request.server_identifier.is_some_and(|s| s != v4.gateway) {
                return Err(DropReason::DhcpIgnored);
            }
            // RFC 2131 §4.3.2: the requested address (option 50 in SELECTING and
            // INIT-REBOOT, ciaddr in RENEWING and REBINDING) must be the one we
            // assign, else DHCPNAK.
            let wrong_option = request.requested_ip.is_some_and(|a| a != v4.addr);
            let wrong_ciaddr = !request.client_ip.is_unspecified() && request.client_ip != v4.addr;
            Ok(if wrong_option || wrong_ciaddr {
                Answer::Nak
            } else {
                Answer::Ack {
                    rapid_commit: false,
                }
            })
        }
        // Plain BOOTP (RFC 951): no message type; answered like a REQUEST.
        None => Ok(Answer::Ack {
            rapid_commit: false,
        }),
        // DECLINE and RELEASE need no answer with a single fixed address; INFORM and
        // anything else is not answered (like passt).
        Some(_) => Err(DropReason::DhcpIgnored),
    }
}

/// Option data decided from the request before the message is built.
#[derive(Debug, Clone, Copy)]
struct Extra<'a> {
    /// Option 81's data, or empty for none.
    fqdn: &'a [u8],
}

/// The options we put in a reply, ascending by code, with their data.
struct ServerOptions<'a> {
    list: heapless::Vec<(u8, &'a [u8]), MAX_OPTIONS>,
}

impl<'a> ServerOptions<'a> {
    fn push(&mut self, code: u8, data: &'a [u8]) {
        // MAX_OPTIONS counts every option `build_message` can add.
        let _ = self.list.push((code, data));
    }

    /// Bytes the options take in a message, as single options of at most 255 bytes.
    fn wire_len(&self) -> usize {
        self.list
            .iter()
            .map(|(_, d)| long_option_len(d.len()))
            .sum()
    }
}

/// Bytes an option of `data_len` bytes takes when split into instances of at most
/// 255 bytes (RFC 3396 §7).
fn long_option_len(data_len: usize) -> usize {
    data_len + 2 * data_len.div_ceil(255).max(1)
}

/// Write the DHCP message for `answer` into `buf` (its length is the most we may
/// send); returns its length, or `None` if even the fixed options do not fit.
///
/// The options end like passt's: End, one pad byte, then zeros up to the BOOTP
/// minimum of 300 bytes (RFC 1542 §3.3).
fn build_message(
    config: &Config,
    v4: &Ipv4Config,
    request: &dhcpv4::Repr<'_>,
    answer: Answer,
    header: &ReplyHeader,
    extra: Extra<'_>,
    buf: &mut [u8],
) -> Option<usize> {
    // Keep one byte for the pad byte after End, when the buffer allows it.
    let build_len = if buf.len() > MIN_MESSAGE_LEN {
        buf.len() - 1
    } else {
        buf.len()
    };
    let (options_end, len) = write_options(
        config,
        v4,
        request,
        answer,
        header,
        extra,
        &mut buf[..build_len],
    )?;
    // `finish` pads to 300 bytes; past that, passt still adds one pad byte after End.
    if options_end + 2 > len && len < buf.len() {
        buf[len] = 0;
        return Some(len + 1);
    }
    Some(len)
}

/// Write the fixed fields and options into `buf`; returns where End is and the
/// message length.
fn write_options(
    config: &Config,
    v4: &Ipv4Config,
    request: &dhcpv4::Repr<'_>,
    answer: Answer,
    header: &ReplyHeader,
    extra: Extra<'_>,
    buf: &mut [u8],
) -> Option<(usize, usize)> {
    let build_len = buf.len();
    let mut builder = ReplyBuilder::new(header, buf).ok()?;
    let gateway = v4.gateway.octets();
    if answer == Answer::Nak {
        // RFC 2131 §4.3.2, table 3: only the message type and the server identifier.
        builder.push_message_type(MessageType::Nak).ok()?;
        builder.push_option(OPT_SERVER_ID, &gateway).ok()?;
        return Some((builder.len(), builder.finish()));
    }
    let message_type = [u8::from(match answer {
        Answer::Offer => MessageType::Offer,
        _ => MessageType::Ack,
    })];
    let netmask = v4.netmask().octets();
    let lease = LEASE_INFINITE.to_be_bytes();
    let mut dns = [0u8; 4 * MAX_DNS_SERVERS];
    let mut dns_len = 0;
    if config.dns.advertise_servers {
        for (chunk, server) in dns.chunks_exact_mut(4).zip(&config.dns.servers_v4) {
            chunk.copy_from_slice(&server.octets());
            dns_len += 4;
        }
    }
    let mtu = config.mtu.map(u16::to_be_bytes);
    // RFC 3442: when the gateway is outside the guest's subnet, a host route to it
    // (gw/32 via 0.0.0.0, i.e. on-link) and the default route through it. Clients
    // that ask for option 121 ignore option 3 (RFC 3442 §DHCP Client Behavior), so
    // the default route is repeated here.
    let mut routes = [0u8; 14];
    routes[0] = 32;
    routes[1..5].copy_from_slice(&gateway);
    // routes[5..9]: router 0.0.0.0; routes[9]: width 0 (default route).
    routes[10..14].copy_from_slice(&gateway);

    let mut search = [0u8; MAX_SEARCH_LEN];
    let mut options = ServerOptions {
        list: heapless::Vec::new(),
    };
    options.push(OPT_SUBNET_MASK, &netmask);
    options.push(OPT_ROUTER, &gateway);
    if dns_len > 0 {
        options.push(OPT_DNS_SERVER, &dns[..dns_len]);
    }
    if let Some(mtu) = &mtu {
        options.push(OPT_INTERFACE_MTU, mtu);
    }
    options.push(OPT_LEASE_TIME, &lease);
    options.push(OPT_MESSAGE_TYPE, &message_type);
    options.push(OPT_SERVER_ID, &gateway);
    if answer == (Answer::Ack { rapid_commit: true }) {
        options.push(OPT_RAPID_COMMIT, &[]);
    }
    if !extra.fqdn.is_empty() {
        options.push(OPT_CLIENT_FQDN, extra.fqdn);
    }
    // Option 119 takes what room the others leave: as many domains as fit.
    let fixed_len = options.wire_len()
        + if v4.contains(v4.gateway) {
            0
        } else {
            long_option_len(routes.len())
        };
    let room = build_len
        .saturating_sub(dhcpv4::HEADER_LEN + 1)
        .saturating_sub(fixed_len);
    let search_len = if config.dns.advertise_search {
        encode_search(config, room, &mut search)
    } else {
        0
    };
    if search_len > 0 {
        options.push(OPT_DOMAIN_SEARCH, &search[..search_len]);
    }
    if !v4.contains(v4.gateway) {
        options.push(OPT_CLASSLESS_ROUTE, &routes);
    }

    // Order (passt's, for clients such as wattcp32 and mTCP that expect option 53
    // first): 53 unless the PRL names it, then the PRL's order, then the rest
    // ascending. RFC 2131 §4.3.1 lets the server order options freely.
    let prl = request.parameter_request_list.unwrap_or(&[]);
    let mut sent = [false; MAX_OPTIONS];
    let mut put = |builder: &mut ReplyBuilder<'_>, code: u8| -> Option<()> {
        let i = options.list.iter().position(|(c, _)| *c == code)?;
        if !sent[i] {
            sent[i] = true;
            builder.push_long_option(code, options.list[i].1).ok()?;
        }
        Some(())
    };
    if !prl.contains(&OPT_MESSAGE_TYPE) {
        put(&mut builder, OPT_MESSAGE_TYPE)?;
    }
    for &code in prl {
        // Options we do not have are skipped, not errors.
        if options.list.iter().any(|(c, _)| *c == code) {
            put(&mut builder, code)?;
        }
    }
    let codes: heapless::Vec<u8, MAX_OPTIONS> = options.list.iter().map(|(c, _)| *c).collect();
    for code in codes {
        put(&mut builder, code)?;
    }
    Some((builder.len(), builder.finish()))
}

/// Encode the search list for option 119 (RFC 3397, with compression) into `out`,
/// keeping as many leading domains as fit in `room` bytes of option space. Names
/// that cannot be encoded are left out. Returns the data length (0: no option).
fn encode_search(config: &Config, room: usize, out: &mut [u8]) -> usize {
    let names: heapless::Vec<&str, MAX_SEARCH_DOMAINS> = config
        .dns
        .search
        .iter()
        .map(|d| d.as_str())
        .filter(|d| crate::wire::ndisc::encoded_name_len(d).is_ok())
        .collect();
    for count in (1..=names.len()).rev() {
        if let Ok(len) = dhcpv4::encode_domain_search(&names[..count], out) {
            if long_option_len(len) <= room {
                return len;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests;
