//! UDP datagrams and ICMP echo messages as the guest sends and receives them, for the
//! datagram tests: built into frames from the guest, and decoded (every checksum
//! verified) from the frames the engine sends.

use crate::testbed::GUEST_MAC;
use passt_core::wire::ethernet::{self, EtherType, MacAddr};
use passt_core::wire::{checksum, ip, ipv4, ipv6, udp, IpProtocol};
use std::net::{IpAddr, SocketAddr};

/// An Ethernet frame from the guest carrying `message` (an upper-layer message with
/// its checksum already filled) from `src` to `dst`.
pub fn ip_frame(
    our_mac: MacAddr,
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    message: &[u8],
) -> Vec<u8> {
    let (ethertype, ip_len) = match src {
        IpAddr::V4(_) => (EtherType::Ipv4, ipv4::HEADER_LEN),
        IpAddr::V6(_) => (EtherType::Ipv6, ipv6::HEADER_LEN),
    };
    let mut frame = vec![0u8; ethernet::HEADER_LEN + ip_len + message.len()];
    ethernet::Repr {
        src: GUEST_MAC,
        dst: our_mac,
        ethertype,
    }
    .emit(&mut ethernet::Frame::new_unchecked(
        &mut frame[..ethernet::HEADER_LEN],
    ));
    let ip_buf = &mut frame[ethernet::HEADER_LEN..ethernet::HEADER_LEN + ip_len];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4::Repr {
            src_addr: s,
            dst_addr: d,
            next_header: protocol,
            payload_len: message.len(),
            hop_limit: 64,
            ident: 0,
            dont_frag: true,
        }
        .emit(&mut ipv4::Packet::new_unchecked(ip_buf)),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6::Repr {
            src_addr: s,
            dst_addr: d,
            next_header: protocol,
            payload_len: message.len(),
            hop_limit: 64,
            upper_offset: ipv6::HEADER_LEN,
        }
        .emit(&mut ipv6::Packet::new_unchecked(ip_buf)),
        _ => panic!("mixed address families in a test frame"),
    }
    frame[ethernet::HEADER_LEN + ip_len..].copy_from_slice(message);
    frame
}

/// Split a frame into source, destination, protocol and upper-layer message; `None`
/// if it is not IP or its IPv4 header checksum is wrong.
pub fn parse_ip_frame(frame: &[u8]) -> Option<(IpAddr, IpAddr, IpProtocol, &[u8])> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    let payload = &frame[ethernet::HEADER_LEN..];
    match eth.ethertype() {
        EtherType::Ipv4 => {
            let p = ipv4::Packet::new_checked(payload).ok()?;
            if !p.verify_checksum() {
                return None;
            }
            let upper = payload.get(p.header_len()..usize::from(p.total_len()))?;
            Some((
                p.src_addr().into(),
                p.dst_addr().into(),
                p.next_header(),
                upper,
            ))
        }
        EtherType::Ipv6 => {
            let p = ipv6::Packet::new_checked(payload).ok()?;
            let r = ipv6::Repr::parse(&p).ok()?;
            let upper = payload.get(r.upper_offset..r.upper_offset + r.payload_len)?;
            Some((r.src_addr.into(), r.dst_addr.into(), r.next_header, upper))
        }
        _ => None,
    }
}

/// A UDP datagram on the tap link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Udp {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Payload (possibly empty).
    pub payload: Vec<u8>,
}

impl Udp {
    /// A datagram from `src` to `dst`.
    pub fn new(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Udp {
        Udp {
            src,
            dst,
            payload: payload.to_vec(),
        }
    }

    /// Encode as an Ethernet frame from the guest.
    pub fn to_frame(&self, our_mac: MacAddr) -> Vec<u8> {
        let repr = udp::Repr {
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            payload_len: self.payload.len(),
        };
        let mut message = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut udp::Packet::new_unchecked(&mut message[..]),
            self.src.ip(),
            self.dst.ip(),
            &self.payload,
        );
        ip_frame(
            our_mac,
            self.src.ip(),
            self.dst.ip(),
            IpProtocol::Udp,
            &message,
        )
    }

    /// Decode a frame the engine sent; `None` if it is not UDP, its length fields
    /// disagree, or a checksum is wrong.
    pub fn from_frame(frame: &[u8]) -> Option<Udp> {
        let (src, dst, protocol, upper) = parse_ip_frame(frame)?;
        if protocol != IpProtocol::Udp {
            return None;
        }
        let p = udp::Packet::new_checked(upper).ok()?;
        if usize::from(p.len()) != upper.len() || p.checksum() == 0 || !p.verify_checksum(src, dst)
        {
            return None;
        }
        Some(Udp {
            src: SocketAddr::new(src, p.src_port()),
            dst: SocketAddr::new(dst, p.dst_port()),
            payload: p.payload().to_vec(),
        })
    }
}

/// An ICMP (IPv4) or ICMPv6 echo request or reply on the tap link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// A reply (else a request).
    pub reply: bool,
    /// Identifier.
    pub ident: u16,
    /// Sequence number.
    pub seq: u16,
    /// Data.
    pub data: Vec<u8>,
}

impl Echo {
    /// An echo request from `src` to `dst`.
    pub fn request(src: IpAddr, dst: IpAddr, ident: u16, seq: u16, data: &[u8]) -> Echo {
        Echo {
            src,
            dst,
            reply: false,
            ident,
            seq,
            data: data.to_vec(),
        }
    }

    fn protocol(&self) -> IpProtocol {
        match self.src {
            IpAddr::V4(_) => IpProtocol::Icmp,
            IpAddr::V6(_) => IpProtocol::Icmpv6,
        }
    }

    /// The ICMP message (header and data), checksum filled.
    pub fn message(&self) -> Vec<u8> {
        let ty = match (self.src, self.reply) {
            (IpAddr::V4(_), false) => 8,
            (IpAddr::V4(_), true) => 0,
            (IpAddr::V6(_), false) => 128,
            (IpAddr::V6(_), true) => 129,
        };
        let mut m = vec![ty, 0, 0, 0];
        m.extend_from_slice(&self.ident.to_be_bytes());
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.data);
        let sum = match self.src {
            IpAddr::V4(_) => checksum::checksum(&m),
            IpAddr::V6(_) => ip::upper_layer_checksum(self.src, self.dst, IpProtocol::Icmpv6, &m),
        };
        m[2..4].copy_from_slice(&sum.to_be_bytes());
        m
    }

    /// Encode as an Ethernet frame from the guest.
    pub fn to_frame(&self, our_mac: MacAddr) -> Vec<u8> {
        ip_frame(
            our_mac,
            self.src,
            self.dst,
            self.protocol(),
            &self.message(),
        )
    }

    /// Decode a frame the engine sent; `None` if it is not an echo message or its
    /// checksum is wrong.
    pub fn from_frame(frame: &[u8]) -> Option<Echo> {
        let (src, dst, protocol, m) = parse_ip_frame(frame)?;
        if m.len() < 8 || m[1] != 0 {
            return None;
        }
        let (ok, reply) = match protocol {
            IpProtocol::Icmp => (checksum::checksum(m) == 0, m[0] == 0),
            IpProtocol::Icmpv6 => (
                ip::upper_layer_checksum_ok(src, dst, protocol, m),
                m[0] == 129,
            ),
            _ => return None,
        };
        let request = matches!(m[0], 8 | 128);
        if !ok || !(reply || request) {
            return None;
        }
        Some(Echo {
            src,
            dst,
            reply,
            ident: u16::from_be_bytes([m[4], m[5]]),
            seq: u16::from_be_bytes([m[6], m[7]]),
            data: m[8..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_and_echo_round_trip_through_frames() {
        let mac = MacAddr::PASST_DEFAULT;
        let d = Udp::new(
            "198.51.100.2:40000".parse().unwrap(),
            "203.0.113.1:53".parse().unwrap(),
            b"",
        );
        assert_eq!(Udp::from_frame(&d.to_frame(mac)), Some(d));
        let mut e = Echo::request(
            "2001:db8::2".parse().unwrap(),
            "2001:db8:2::1".parse().unwrap(),
            7,
            1,
            b"ping",
        );
        let frame = e.to_frame(mac);
        assert_eq!(Echo::from_frame(&frame), Some(e.clone()));
        e.reply = true;
        assert!(Echo::from_frame(&e.to_frame(mac)).unwrap().reply);
    }
}
