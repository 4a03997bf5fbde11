//! The IPv4/IPv6 and UDP layers under `dhcp`, `dhcpv6` and `ndp` frames, built and
//! parsed with `passt_core::wire::{ipv4, ipv6, udp}`.
//!
//! Every IP-based kind accepts `src=ADDR`, `dst=ADDR` and `ttl=N` (the hop limit for
//! IPv6; `hop-limit=N` works too), which override the builder's defaults and are
//! checked by the matcher. A matched frame must parse at every layer, and its IPv4
//! header checksum and its UDP/ICMPv6 checksum must verify.

use super::{same, EthFields};
use crate::fields::Fields;
use passt_core::wire::ethernet::MacAddr;
use passt_core::wire::{ip, ipv4, ipv6, udp, IpProtocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP-level fields a line may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpFields {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// TTL / hop limit.
    pub ttl: Option<u8>,
}

/// What a matcher learned from the IP and UDP layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'f> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// UDP payload.
    pub payload: &'f [u8],
}

impl IpFields {
    /// Read `src=`, `dst=`, `ttl=`/`hop-limit=`.
    pub fn parse(f: &mut Fields<'_>) -> Result<IpFields, String> {
        let ttl = match (f.num("ttl")?, f.num("hop-limit")?) {
            (Some(t), _) | (None, Some(t)) => {
                Some(u8::try_from(t).map_err(|_| format!("ttl {t} exceeds 255"))?)
            }
            (None, None) => None,
        };
        Ok(IpFields {
            src: f.get("src")?,
            dst: f.get("dst")?,
            ttl,
        })
    }

    fn v4(&self, what: &str, value: Option<IpAddr>, default: Ipv4Addr) -> Result<Ipv4Addr, String> {
        match value {
            None => Ok(default),
            Some(IpAddr::V4(a)) => Ok(a),
            Some(IpAddr::V6(a)) => Err(format!("{what}={a} is not an IPv4 address")),
        }
    }

    fn v6(&self, what: &str, value: Option<IpAddr>, default: Ipv6Addr) -> Result<Ipv6Addr, String> {
        match value {
            None => Ok(default),
            Some(IpAddr::V6(a)) => Ok(a),
            Some(IpAddr::V4(a)) => Err(format!("{what}={a} is not an IPv6 address")),
        }
    }

    /// The addresses for an IPv4 frame, with defaults.
    pub fn v4_addrs(&self, src: Ipv4Addr, dst: Ipv4Addr) -> Result<(Ipv4Addr, Ipv4Addr), String> {
        Ok((
            self.v4("src", self.src, src)?,
            self.v4("dst", self.dst, dst)?,
        ))
    }

    /// The addresses for an IPv6 frame, with defaults.
    pub fn v6_addrs(&self, src: Ipv6Addr, dst: Ipv6Addr) -> Result<(Ipv6Addr, Ipv6Addr), String> {
        Ok((
            self.v6("src", self.src, src)?,
            self.v6("dst", self.dst, dst)?,
        ))
    }

    /// Check the fields the line named.
    pub fn check(&self, src: IpAddr, dst: IpAddr, ttl: u8) -> Result<(), String> {
        if let Some(want) = self.src {
            same("source address", want, src)?;
        }
        if let Some(want) = self.dst {
            same("destination address", want, dst)?;
        }
        if let Some(want) = self.ttl {
            same("TTL/hop limit", want, ttl)?;
        }
        Ok(())
    }
}

/// Ports and default addresses for a UDP frame.
#[derive(Debug, Clone, Copy)]
pub struct UdpEnds<A> {
    /// Default source MAC.
    pub src_mac: MacAddr,
    /// Default destination MAC.
    pub dst_mac: MacAddr,
    /// Default source address.
    pub src: A,
    /// Default destination address.
    pub dst: A,
    /// Default TTL / hop limit.
    pub ttl: u8,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

/// An Ethernet/IPv4/UDP frame around `payload`.
pub fn build_udp_v4(
    eth: &EthFields,
    ipf: &IpFields,
    ends: UdpEnds<Ipv4Addr>,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let (src, dst) = ipf.v4_addrs(ends.src, ends.dst)?;
    let u = udp::Repr {
        src_port: ends.src_port,
        dst_port: ends.dst_port,
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: u.buffer_len(),
        hop_limit: ipf.ttl.unwrap_or(ends.ttl),
        ident: 0,
        dont_frag: false,
    };
    let mut packet = vec![0u8; ip.buffer_len() + u.buffer_len()];
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut packet[..]));
    u.emit(
        &mut udp::Packet::new_unchecked(&mut packet[ipv4::HEADER_LEN..]),
        src.into(),
        dst.into(),
        payload,
    );
    Ok(eth.build(ends.src_mac, ends.dst_mac, 0x0800, &packet))
}

/// An Ethernet/IPv6/UDP frame around `payload`.
pub fn build_udp_v6(
    eth: &EthFields,
    ipf: &IpFields,
    ends: UdpEnds<Ipv6Addr>,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    let (src, dst) = ipf.v6_addrs(ends.src, ends.dst)?;
    let u = udp::Repr {
        src_port: ends.src_port,
        dst_port: ends.dst_port,
        payload_len: payload.len(),
    };
    let mut packet = ipv6_packet(ipf, src, dst, ends.ttl, IpProtocol::Udp, u.buffer_len());
    u.emit(
        &mut udp::Packet::new_unchecked(&mut packet[ipv6::HEADER_LEN..]),
        src.into(),
        dst.into(),
        payload,
    );
    Ok(eth.build(ends.src_mac, ends.dst_mac, 0x86dd, &packet))
}

fn ipv6_packet(
    ipf: &IpFields,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    next_header: IpProtocol,
    payload_len: usize,
) -> Vec<u8> {
    let ip = ipv6::Repr {
        src_addr: src,
        dst_addr: dst,
        next_header,
        payload_len,
        hop_limit: ipf.ttl.unwrap_or(hop_limit),
        upper_offset: ipv6::HEADER_LEN,
    };
    let mut packet = vec![0u8; ip.buffer_len() + payload_len];
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut packet[..]));
    packet
}

/// An Ethernet/IPv6/ICMPv6 frame around `message` (whose checksum field, bytes 2–3,
/// is filled here). `src`/`dst`/`hop_limit` are defaults the line may override.
pub fn build_icmpv6(
    eth: &EthFields,
    ipf: &IpFields,
    macs: (MacAddr, MacAddr),
    addrs: (Ipv6Addr, Ipv6Addr),
    hop_limit: u8,
    message: &[u8],
) -> Result<Vec<u8>, String> {
    let (src, dst) = ipf.v6_addrs(addrs.0, addrs.1)?;
    let mut packet = ipv6_packet(ipf, src, dst, hop_limit, IpProtocol::Icmpv6, message.len());
    let icmp = &mut packet[ipv6::HEADER_LEN..];
    icmp.copy_from_slice(message);
    if icmp.len() >= 4 {
        icmp[2] = 0;
        icmp[3] = 0;
        let c = ip::upper_layer_checksum(src.into(), dst.into(), IpProtocol::Icmpv6, icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
    }
    Ok(eth.build(macs.0, macs.1, 0x86dd, &packet))
}

/// Parse an Ethernet/IPv4/UDP frame, checking the Ethernet and IP fields the line
/// named and every checksum.
pub fn parse_udp_v4<'f>(
    frame: &'f [u8],
    eth: &EthFields,
    ipf: &IpFields,
) -> Result<Datagram<'f>, String> {
    let payload = eth.check(frame, Some(0x0800))?;
    let packet = ipv4::Packet::new_checked(payload).map_err(|e| format!("IPv4: {e:?}"))?;
    let repr = ipv4::Repr::parse(&packet).map_err(|e| format!("IPv4: {e:?}"))?;
    if !packet.verify_checksum() {
        return Err("IPv4 header checksum does not verify".into());
    }
    same(
        "IP protocol",
        u8::from(IpProtocol::Udp),
        u8::from(repr.next_header),
    )?;
    ipf.check(repr.src_addr.into(), repr.dst_addr.into(), repr.hop_limit)?;
    // new_checked guarantees header_len <= total_len <= payload.len().
    let upper = &payload[packet.header_len()..usize::from(packet.total_len())];
    parse_udp(upper, repr.src_addr.into(), repr.dst_addr.into())
}

/// Parse an Ethernet/IPv6/UDP frame, as [`parse_udp_v4`].
pub fn parse_udp_v6<'f>(
    frame: &'f [u8],
    eth: &EthFields,
    ipf: &IpFields,
) -> Result<Datagram<'f>, String> {
    let (src, dst, upper) = parse_ipv6(frame, eth, ipf, IpProtocol::Udp)?;
    parse_udp(upper, src.into(), dst.into())
}

/// Parse an Ethernet/IPv6/ICMPv6 frame, checking the fields the line named and the
/// ICMPv6 checksum (RFC 4443 §2.3); returns the addresses, hop limit and message.
pub fn parse_icmpv6<'f>(
    frame: &'f [u8],
    eth: &EthFields,
    ipf: &IpFields,
) -> Result<(Ipv6Addr, Ipv6Addr, &'f [u8]), String> {
    let (src, dst, message) = parse_ipv6(frame, eth, ipf, IpProtocol::Icmpv6)?;
    if !ip::upper_layer_checksum_ok(src.into(), dst.into(), IpProtocol::Icmpv6, message) {
        return Err("ICMPv6 checksum does not verify".into());
    }
    Ok((src, dst, message))
}

fn parse_ipv6<'f>(
    frame: &'f [u8],
    eth: &EthFields,
    ipf: &IpFields,
    protocol: IpProtocol,
) -> Result<(Ipv6Addr, Ipv6Addr, &'f [u8]), String> {
    let payload = eth.check(frame, Some(0x86dd))?;
    let packet = ipv6::Packet::new_checked(payload).map_err(|e| format!("IPv6: {e:?}"))?;
    let repr = ipv6::Repr::parse(&packet).map_err(|e| format!("IPv6: {e:?}"))?;
    same(
        "IPv6 next header",
        u8::from(protocol),
        u8::from(repr.next_header),
    )?;
    ipf.check(repr.src_addr.into(), repr.dst_addr.into(), repr.hop_limit)?;
    let upper = payload
        .get(repr.upper_offset..repr.upper_offset + repr.payload_len)
        .ok_or("IPv6: upper layer out of bounds")?;
    Ok((repr.src_addr, repr.dst_addr, upper))
}

fn parse_udp(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<Datagram<'_>, String> {
    let packet = udp::Packet::new_checked(bytes).map_err(|e| format!("UDP: {e:?}"))?;
    let repr = udp::Repr::parse(&packet).map_err(|e| format!("UDP: {e:?}"))?;
    if !packet.verify_checksum(src, dst) {
        return Err("UDP checksum does not verify".into());
    }
    Ok(Datagram {
        src,
        dst,
        src_port: repr.src_port,
        dst_port: repr.dst_port,
        // new_checked guarantees 8 <= len <= bytes.len().
        payload: &bytes[udp::HEADER_LEN..usize::from(packet.len())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::GUEST_MAC;

    fn ends_v4() -> UdpEnds<Ipv4Addr> {
        UdpEnds {
            src_mac: GUEST_MAC,
            dst_mac: MacAddr::BROADCAST,
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::BROADCAST,
            ttl: 64,
            src_port: 68,
            dst_port: 67,
        }
    }

    #[test]
    fn udp_v4_round_trip_and_checksums() {
        let eth = EthFields::default();
        let f = build_udp_v4(&eth, &IpFields::default(), ends_v4(), b"hello").unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 5);
        let d = parse_udp_v4(&f, &eth, &IpFields::default()).unwrap();
        assert_eq!((d.src_port, d.dst_port, d.payload), (68, 67, &b"hello"[..]));
        let named = IpFields {
            dst: Some(Ipv4Addr::new(198, 51, 100, 2).into()),
            ..IpFields::default()
        };
        assert_eq!(
            parse_udp_v4(&f, &eth, &named).unwrap_err(),
            "destination address: expected 198.51.100.2, got 255.255.255.255"
        );
        let mut bad = f.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            parse_udp_v4(&bad, &eth, &IpFields::default()).unwrap_err(),
            "UDP checksum does not verify"
        );
        bad = f.clone();
        bad[22] ^= 1; // TTL
        assert!(parse_udp_v4(&bad, &eth, &IpFields::default())
            .unwrap_err()
            .contains("IPv4 header checksum"));
    }

    #[test]
    fn icmpv6_checksum_filled_and_checked() {
        let eth = EthFields::default();
        let rs = [133, 0, 0, 0, 0, 0, 0, 0];
        let f = build_icmpv6(
            &eth,
            &IpFields::default(),
            (GUEST_MAC, MacAddr([0x33, 0x33, 0, 0, 0, 2])),
            (crate::frames::GUEST_LL, "ff02::2".parse().unwrap()),
            255,
            &rs,
        )
        .unwrap();
        let (_, dst, msg) = parse_icmpv6(&f, &eth, &IpFields::default()).unwrap();
        assert_eq!(dst, "ff02::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(msg[0], 133);
        let mut bad = f.clone();
        bad[14 + 40 + 4] ^= 0x80;
        assert!(parse_icmpv6(&bad, &eth, &IpFields::default()).is_err());
        assert!(parse_udp_v6(&f, &eth, &IpFields::default())
            .unwrap_err()
            .contains("next header"));
    }
}
