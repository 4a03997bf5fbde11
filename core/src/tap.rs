//! Guest-side frame handling: demultiplex a tap frame to the right handler (the
//! built-in services, or the TCP, UDP and ICMP translators), and build the frames we
//! send on our own initiative.

use crate::engine::Engine;
use crate::io::Host;
use crate::services::{self, Reply};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::ethernet::{self, EtherType, MacAddr};
use crate::wire::icmpv6::Message;
use crate::wire::ipv6::Ipv6Drop;
use crate::wire::{arp, ipv4, ipv6, udp, IpProtocol};
use core::net::{IpAddr, Ipv6Addr, SocketAddr};

/// DHCPv4 server port (RFC 2131 §4.1).
const DHCP_SERVER_PORT: u16 = 67;
/// DHCPv6 server port (RFC 8415 §7.2).
const DHCPV6_SERVER_PORT: u16 = 547;

/// Handle one frame from the guest; `checksum_partial`: its sender left the
/// upper-layer checksum for the link to complete, so there is none to verify.
pub(crate) fn receive<H: Host>(
    engine: &mut Engine<'_>,
    now: Instant,
    frame: &[u8],
    checksum_partial: bool,
    host: &mut H,
) {
    if frame.len() > crate::engine::MAX_FRAME_LEN {
        engine.stats.record_drop(DropReason::FrameTooLong);
        return;
    }
    let Ok(eth) = ethernet::Frame::new_checked(frame) else {
        engine.stats.record_drop(DropReason::EthTruncated);
        return;
    };
    let src = eth.src_addr();
    if !src.is_unicast() {
        engine.stats.record_drop(DropReason::EthBadSource);
        return;
    }
    engine.guest.mac = Some(src);
    match eth.ethertype() {
        EtherType::Unknown(_) => engine.stats.record_drop(DropReason::EthUnknownType),
        EtherType::Arp => receive_arp(engine, eth.payload(), host),
        EtherType::Ipv4 => receive_ipv4(engine, now, eth.payload(), host),
        EtherType::Ipv6 => receive_ipv6(engine, now, eth.payload(), checksum_partial, host),
    }
}

fn receive_ipv4<H: Host>(engine: &mut Engine<'_>, now: Instant, bytes: &[u8], host: &mut H) {
    let Ok(packet) = ipv4::Packet::new_checked(bytes) else {
        engine.stats.record_drop(DropReason::Ipv4Malformed);
        return;
    };
    if packet.is_fragment() {
        engine.stats.record_drop(DropReason::Ipv4Fragment);
        return;
    }
    let Ok(ip) = ipv4::Repr::parse(&packet) else {
        engine.stats.record_drop(DropReason::Ipv4Malformed);
        return;
    };
    let (src, dst) = (ip.src_addr, ip.dst_addr);
    if src.is_loopback() || dst.is_loopback() || src.is_multicast() || src.is_broadcast() {
        engine.stats.record_drop(DropReason::BadAddress);
        return;
    }
    if !src.is_unspecified() {
        engine.guest.addr_seen_v4 = Some(src);
    }
    let payload = packet.payload();
    match ip.next_header {
        IpProtocol::Tcp if !engine.config.protocols.tcp => {
            engine.stats.record_drop(DropReason::Disabled)
        }
        IpProtocol::Tcp => {
            crate::tcp::from_guest(engine, now, IpAddr::V4(src), IpAddr::V4(dst), payload, host)
        }
        IpProtocol::Udp => {
            receive_udp(engine, now, IpAddr::V4(src), IpAddr::V4(dst), payload, host)
        }
        IpProtocol::Icmp if !engine.config.protocols.icmp => {
            engine.stats.record_drop(DropReason::Disabled)
        }
        IpProtocol::Icmp => {
            crate::icmp::from_guest(engine, now, IpAddr::V4(src), IpAddr::V4(dst), payload, host)
        }
        _ => engine.stats.record_drop(DropReason::UnsupportedProtocol),
    }
}

fn receive_ipv6<H: Host>(
    engine: &mut Engine<'_>,
    now: Instant,
    bytes: &[u8],
    checksum_partial: bool,
    host: &mut H,
) {
    let parsed = ipv6::Packet::new_checked(bytes)
        .map_err(|_| Ipv6Drop::Malformed)
        .and_then(|p| ipv6::Repr::parse_detailed(&p).map(|r| (p, r)));
    let (packet, ip) = match parsed {
        Ok(pr) => pr,
        Err(reason) => {
            engine.stats.record_drop(match reason {
                Ipv6Drop::Fragment => DropReason::Ipv6Fragment,
                Ipv6Drop::Jumbogram => DropReason::Ipv6Jumbogram,
                Ipv6Drop::NoNextHeader => DropReason::Ipv6NoNextHeader,
                Ipv6Drop::Truncated | Ipv6Drop::Malformed => DropReason::Ipv6Malformed,
            });
            return;
        }
    };
    let (src, dst) = (ip.src_addr, ip.dst_addr);
    if src.is_loopback() || dst.is_loopback() || src.is_multicast() {
        engine.stats.record_drop(DropReason::BadAddress);
        return;
    }
    note_ipv6_source(engine, src);
    let payload = packet.upper_layer(&ip);
    match ip.next_header {
        IpProtocol::Tcp if !engine.config.protocols.tcp => {
            engine.stats.record_drop(DropReason::Disabled)
        }
        IpProtocol::Tcp => {
            crate::tcp::from_guest(engine, now, IpAddr::V6(src), IpAddr::V6(dst), payload, host)
        }
        IpProtocol::Udp => {
            receive_udp(engine, now, IpAddr::V6(src), IpAddr::V6(dst), payload, host)
        }
        IpProtocol::Icmpv6 => receive_icmpv6(engine, now, &ip, payload, checksum_partial, host),
        _ => engine.stats.record_drop(DropReason::UnsupportedProtocol),
    }
}

/// Remember the guest's IPv6 source addresses: link-local and global apart.
fn note_ipv6_source(engine: &mut Engine<'_>, src: Ipv6Addr) {
    if src.is_unspecified() {
        return;
    }
    if src.is_unicast_link_local() {
        engine.guest.addr_ll_seen = Some(src);
    } else {
        engine.guest.addr_seen_v6 = Some(src);
    }
}

fn receive_udp<H: Host>(
    engine: &mut Engine<'_>,
    now: Instant,
    src: IpAddr,
    dst: IpAddr,
    bytes: &[u8],
    host: &mut H,
) {
    let Ok(packet) = udp::Packet::new_checked(bytes) else {
        engine.stats.record_drop(DropReason::UdpMalformed);
        return;
    };
    // The built-in servers want the UDP length to match the IP payload exactly, as
    // passt checks; anything else is a damaged request.
    let exact = usize::from(packet.len()) == bytes.len();
    let guest_mac = engine.guest.mac.unwrap_or(MacAddr::BROADCAST);
    match (src, dst, packet.dst_port()) {
        // Every IPv4 datagram to port 67 is the DHCP server's, answered or not.
        (IpAddr::V4(_), IpAddr::V4(_), DHCP_SERVER_PORT) => {
            let reply = if exact {
                services::dhcp::respond(&engine.config, guest_mac, packet.payload(), &mut engine.tx)
            } else {
                Reply::Silent(DropReason::DhcpMalformed)
            };
            finish_service(engine, reply, host);
        }
        // Every IPv6 datagram to port 547 is the DHCPv6 server's.
        (IpAddr::V6(s), IpAddr::V6(d), DHCPV6_SERVER_PORT) => {
            let (reply, lease) = if exact {
                services::dhcpv6::respond_with_lease(
                    &engine.config,
                    guest_mac,
                    s,
                    d,
                    packet.payload(),
                    &mut engine.tx,
                )
            } else {
                (Reply::Silent(DropReason::Dhcpv6Malformed), None)
            };
            if let Some(addr) = lease {
                // The guest will use the address it was just handed.
                engine.guest.addr_seen_v6 = Some(addr);
            }
            finish_service(engine, reply, host);
        }
        _ if !engine.config.protocols.udp => engine.stats.record_drop(DropReason::Disabled),
        // Everything else is the guest's own traffic: the UDP translator's.
        _ => crate::udp::from_guest(
            engine,
            now,
            crate::udp::Datagram {
                src: SocketAddr::new(src, packet.src_port()),
                dst: SocketAddr::new(dst, packet.dst_port()),
                payload: packet.payload(),
            },
            host,
        ),
    }
}

/// ICMPv6: Neighbor Discovery (types 133–136) goes to the NDP responder, echo
/// requests to the ICMP translator.
fn receive_icmpv6<H: Host>(
    engine: &mut Engine<'_>,
    now: Instant,
    ip: &ipv6::Repr,
    bytes: &[u8],
    checksum_partial: bool,
    host: &mut H,
) {
    match bytes.first().copied().map(Message::from) {
        Some(
            Message::RouterSolicit
            | Message::RouterAdvert
            | Message::NeighborSolicit
            | Message::NeighborAdvert,
        ) => {
            let guest_mac = engine.guest.mac.unwrap_or(MacAddr::BROADCAST);
            let reply = services::ndp::respond(
                &engine.config,
                guest_mac,
                ip.src_addr,
                ip.dst_addr,
                ip.hop_limit,
                bytes,
                checksum_partial,
                &mut engine.tx,
            );
            finish_service(engine, reply, host);
        }
        Some(_) if !engine.config.protocols.icmp => engine.stats.record_drop(DropReason::Disabled),
        Some(_) => crate::icmp::from_guest(
            engine,
            now,
            IpAddr::V6(ip.src_addr),
            IpAddr::V6(ip.dst_addr),
            bytes,
            host,
        ),
        None => engine.stats.record_drop(DropReason::Icmpv6Malformed),
    }
}

fn receive_arp<H: Host>(engine: &mut Engine<'_>, payload: &[u8], host: &mut H) {
    let parsed = arp::Packet::new_checked(payload).and_then(|p| arp::Repr::parse(&p));
    let Ok(request) = parsed else {
        engine.stats.record_drop(DropReason::ArpMalformed);
        return;
    };
    let reply = services::arp::respond(&engine.config, &request, &mut engine.tx);
    finish_service(engine, reply, host);
}

/// Send a service's reply, or count why it stayed silent.
fn finish_service<H: Host>(engine: &mut Engine<'_>, reply: Reply, host: &mut H) {
    match reply {
        Reply::Frame(len) => {
            engine.stats.service_replies += 1;
            engine.transmit(len, host);
        }
        Reply::Silent(reason) => engine.stats.record_drop(reason),
    }
}

/// Send an unsolicited router advertisement to all nodes (RFC 4861 §6.2.4), at
/// the multicast MAC for ff02::1 (RFC 2464 §7).
pub(crate) fn send_unsolicited_ra<H: Host>(engine: &mut Engine<'_>, host: &mut H) {
    let dst = services::ndp::ALL_NODES;
    let mac = MacAddr::ipv6_multicast(dst);
    // Nothing came in, so a silent outcome (RA disabled) is not a drop.
    if let Reply::Frame(len) =
        services::ndp::router_advert(&engine.config, mac, dst, &mut engine.tx)
    {
        engine.transmit(len, host);
    }
}
