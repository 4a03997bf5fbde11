//! Helpers shared by the IP-based wire modules: the upper-layer checksum over
//! either pseudo-header.

use super::checksum::{self, Accumulator};
use super::IpProtocol;
use core::net::IpAddr;

/// Unfolded sum of the pseudo-header for an upper-layer message of `length` bytes
/// from `src` to `dst` (IPv4: RFC 768 and RFC 9293 §3.1; IPv6: RFC 8200 §8.1).
///
/// IPv4 carries a 16-bit length: only its low 16 bits are summed (no real IPv4
/// packet has more). Mixing address families is a caller bug; both addresses are
/// then taken in their IPv4-mapped IPv6 form, which is deterministic and never
/// panics but matches no packet on the wire.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: IpProtocol, length: usize) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            checksum::pseudo_header_v4(s, d, protocol.into(), length as u16)
        }
        (s, d) => checksum::pseudo_header_v6(
            to_ipv6(s),
            to_ipv6(d),
            protocol.into(),
            u32::try_from(length).unwrap_or(u32::MAX),
        ),
    }
}

/// `addr` as IPv6 (IPv4 addresses in their IPv4-mapped form, RFC 4291 §2.5.5.2).
pub fn to_ipv6(addr: IpAddr) -> core::net::Ipv6Addr {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The checksum field value for an upper-layer message (`message` with its own
/// checksum field zeroed) under the pseudo-header for `src`, `dst`, `protocol` and
/// `message.len()`.
pub fn upper_layer_checksum(src: IpAddr, dst: IpAddr, protocol: IpProtocol, message: &[u8]) -> u16 {
    let mut acc = Accumulator::with_sum(pseudo_header(src, dst, protocol, message.len()));
    acc.add(message);
    acc.finish()
}

/// Whether `message` (checksum field in place) verifies under the pseudo-header:
/// the one's-complement sum over everything must be all ones (RFC 1071 §1).
pub fn upper_layer_checksum_ok(
    src: IpAddr,
    dst: IpAddr,
    protocol: IpProtocol,
    message: &[u8],
) -> bool {
    upper_layer_checksum(src, dst, protocol, message) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn v4_pseudo_header_matches_manual_sum() {
        let s = Ipv4Addr::new(198, 51, 100, 1);
        let d = Ipv4Addr::new(198, 51, 100, 2);
        // c633 + 6401 + c633 + 6402 + 0011 + 0025
        let manual = 0xc633 + 0x6401 + 0xc633 + 0x6402 + 17 + 37;
        assert_eq!(
            pseudo_header(s.into(), d.into(), IpProtocol::Udp, 37),
            manual
        );
    }

    #[test]
    fn v6_pseudo_header_uses_32_bit_length() {
        let s: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let base = pseudo_header(s.into(), d.into(), IpProtocol::Tcp, 0);
        assert_eq!(
            pseudo_header(s.into(), d.into(), IpProtocol::Tcp, 0x1_0002),
            base + 1 + 2
        );
    }

    #[test]
    fn mixed_families_do_not_panic() {
        let s = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let d: IpAddr = "2001:db8::2".parse().unwrap();
        let _ = upper_layer_checksum(s, d, IpProtocol::Udp, &[1, 2, 3]);
    }
}
