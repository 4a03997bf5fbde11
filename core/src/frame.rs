//! Building frames we send to the guest: Ethernet and IP headers around an upper-layer
//! message that the caller writes at [`upper_offset`].
//!
//! Headers follow passt's choices for frames it originates: TTL / hop limit 255, IPv4
//! identification 0 and DF clear, IPv6 traffic class and flow label 0.

use crate::wire::ethernet::{self, EtherType, MacAddr};
use crate::wire::{ip, ipv4, ipv6, IpProtocol};
use core::net::IpAddr;

/// Hop limit of frames we originate.
pub const HOP_LIMIT: u8 = 255;

/// Offset of the upper-layer message in a frame for `addr`'s family.
pub fn upper_offset(addr: &IpAddr) -> usize {
    ethernet::HEADER_LEN
        + match addr {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        }
}

/// Link-layer ends of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Our MAC.
    pub src: MacAddr,
    /// The guest's MAC (broadcast until learned) or a multicast MAC.
    pub dst: MacAddr,
}

/// Write the Ethernet and IP headers for a `message_len`-byte upper-layer message
/// from `src` to `dst`, fill the upper-layer checksum at `checksum_at` (an offset
/// within the message, or `None`), and return the frame length. The message itself
/// must already be at [`upper_offset`] with its checksum field zeroed. Returns `None`
/// if the frame does not fit `out`, the families differ, or it exceeds IP limits.
pub fn finish(
    out: &mut [u8],
    link: Link,
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    message_len: usize,
    checksum_at: Option<usize>,
) -> Option<usize> {
    let start = upper_offset(&src);
    let total = start.checked_add(message_len)?;
    if out.len() < total || upper_offset(&dst) != start {
        return None;
    }
    let eth = ethernet::Repr {
        src: link.src,
        dst: link.dst,
        ethertype: match src {
            IpAddr::V4(_) => EtherType::Ipv4,
            IpAddr::V6(_) => EtherType::Ipv6,
        },
    };
    eth.emit(&mut ethernet::Frame::new_unchecked(
        &mut out[..ethernet::HEADER_LEN],
    ));
    let ip_buf = &mut out[ethernet::HEADER_LEN..start];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if message_len > ipv4::MAX_PAYLOAD_LEN {
                return None;
            }
            let repr = ipv4::Repr {
                src_addr: s,
                dst_addr: d,
                next_header: protocol,
                payload_len: message_len,
                hop_limit: HOP_LIMIT,
                ident: 0,
                dont_frag: false,
            };
            repr.emit(&mut ipv4::Packet::new_unchecked(ip_buf));
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if message_len > usize::from(u16::MAX) {
                return None;
            }
            let repr = ipv6::Repr {
                src_addr: s,
                dst_addr: d,
                next_header: protocol,
                payload_len: message_len,
                hop_limit: HOP_LIMIT,
                upper_offset: ipv6::HEADER_LEN,
            };
            repr.emit(&mut ipv6::Packet::new_unchecked(ip_buf));
        }
        _ => return None,
    }
    if let Some(at) = checksum_at {
        if at + 2 > message_len {
            return None;
        }
        let message = &mut out[start..total];
        message[at..at + 2].fill(0);
        let mut sum = ip::upper_layer_checksum(src, dst, protocol, message);
        if sum == 0 && protocol == IpProtocol::Udp {
            // RFC 768 / RFC 8200 §8.1: a computed zero is sent as all ones.
            sum = 0xffff;
        }
        message[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    const LINK: Link = Link {
        src: MacAddr::PASST_DEFAULT,
        dst: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
    };

    #[test]
    fn ipv4_frame_with_udp_checksum() {
        let mut out = [0u8; 64];
        let src = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
        let off = upper_offset(&src);
        assert_eq!(off, 34);
        // UDP header 67 → 68, length 10, two payload bytes.
        out[off..off + 10].copy_from_slice(&[0, 67, 0, 68, 0, 10, 0, 0, 0xab, 0xcd]);
        let len = finish(&mut out, LINK, src, dst, IpProtocol::Udp, 10, Some(6)).unwrap();
        assert_eq!(len, 44);
        let ip = ipv4::Packet::new_checked(&out[14..len]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.hop_limit(), 255);
        assert!(!ip.dont_frag());
        assert!(ip::upper_layer_checksum_ok(
            src,
            dst,
            IpProtocol::Udp,
            &out[off..len]
        ));
    }

    #[test]
    fn ipv6_frame_and_limits() {
        let mut out = [0u8; 80];
        let src = IpAddr::V6("fe80::1".parse::<Ipv6Addr>().unwrap());
        let dst = IpAddr::V6("fe80::2".parse::<Ipv6Addr>().unwrap());
        let off = upper_offset(&src);
        out[off..off + 8].copy_from_slice(&[134, 0, 0, 0, 255, 0x80, 0, 0]);
        let len = finish(&mut out, LINK, src, dst, IpProtocol::Icmpv6, 8, Some(2)).unwrap();
        assert_eq!(len, 62);
        assert!(ip::upper_layer_checksum_ok(
            src,
            dst,
            IpProtocol::Icmpv6,
            &out[off..len]
        ));
        // Too small a buffer, and mixed families, are refused rather than panicking.
        assert_eq!(
            finish(&mut out[..40], LINK, src, dst, IpProtocol::Icmpv6, 8, None),
            None
        );
        let v4 = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(
            finish(&mut out, LINK, v4, dst, IpProtocol::Icmpv6, 8, None),
            None
        );
    }
}
