//! UDP datagrams (RFC 768), checksummed over the IPv4 or IPv6 pseudo-header.
//!
//! The length field bounds the datagram: bytes after it in the buffer are ignored.
//! [`Repr::parse`] does not verify the checksum (passt never validates guest
//! checksums); [`Packet::verify_checksum`] does, for callers that want it.

use super::ip;
use super::{get_u16, put_u16, Error, IpProtocol, Result};
use core::net::IpAddr;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// Largest payload the 16-bit length field can describe (65535 − 8).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

/// A view over a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking the header and the length field.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validate the length (RFC 768 "Length": header plus data, so at least 8):
    /// a buffer shorter than 8 bytes or than the length field is
    /// [`Error::Truncated`]; a length field below 8 is [`Error::Malformed`]
    /// (this includes 0, which only IPv6 jumbograms use, RFC 2675 §4).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field_len = usize::from(self.len());
        if field_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if field_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length field: header plus payload.
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The payload: `len() - 8` bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Whether the checksum verifies for a datagram from `src` to `dst`.
    ///
    /// A zero field means "no checksum" over IPv4 (RFC 768) and is accepted; over
    /// IPv6 a checksum is mandatory and zero fails (RFC 8200 §8.1).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let datagram = &self.buffer.as_ref()[..usize::from(self.len())];
        ip::upper_layer_checksum_ok(src, dst, IpProtocol::Udp, datagram)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    /// Set the length field.
    pub fn set_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Mutable payload (`len() - 8` bytes after the header).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Compute and store the checksum over the pseudo-header for `src`/`dst`, the
    /// header and `len()` bytes. A computed zero is sent as 0xffff, since zero
    /// means "no checksum" (RFC 768) and is forbidden over IPv6 (RFC 8200 §8.1).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let end = usize::from(self.len());
        let c = ip::upper_layer_checksum(src, dst, IpProtocol::Udp, &self.buffer.as_ref()[..end]);
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// High-level UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port (port 0 is not judged here: that is the caller's policy).
    pub dst_port: u16,
    /// Payload length in bytes (at most [`MAX_PAYLOAD_LEN`] when emitting).
    pub payload_len: usize,
}

impl Repr {
    /// Parse a checked datagram. The checksum is not verified.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            // check_len guarantees len() >= 8.
            payload_len: usize::from(packet.len()) - HEADER_LEN,
        })
    }

    /// Length of the whole datagram: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Write ports and length (saturated at 65535) into the header of `packet`,
    /// leaving the checksum field zero — for callers that place the payload in the
    /// buffer themselves and then call [`Packet::fill_checksum`].
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        let len = HEADER_LEN.saturating_add(self.payload_len);
        packet.set_len(u16::try_from(len).unwrap_or(u16::MAX));
        packet.set_checksum(0);
    }

    /// Write the header, copy `payload` after it and fill the checksum for a
    /// datagram from `src` to `dst`. `payload` should be `payload_len` bytes long;
    /// at most `payload_len` bytes of it are copied.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) {
        self.emit_header(packet);
        let n = payload.len().min(self.payload_len);
        packet.buffer.as_mut()[HEADER_LEN..HEADER_LEN + n].copy_from_slice(&payload[..n]);
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    const V4_DST: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
    }

    // A DNS query (id 0x1c2d, RD, A? example.com) from 198.51.100.1:40001 to
    // 198.51.100.2:53, captured on a veth pair; IPv4 header stripped.
    const DNS_V4: [u8; 37] = [
        0x9c, 0x41, // source port 40001
        0x00, 0x35, // destination port 53
        0x00, 0x25, // length 37
        0x23, 0x28, // checksum
        0x1c, 0x2d, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78,
        0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    // The same query from [2001:db8::1]:38221 to [2001:db8::2]:53.
    const DNS_V6: [u8; 37] = [
        0x95, 0x4d, 0x00, 0x35, 0x00, 0x25, 0x23, 0x12, 0x1c, 0x2d, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn parse_real_v4_query() {
        let packet = Packet::new_checked(&DNS_V4[..]).unwrap();
        assert!(packet.verify_checksum(V4_SRC, V4_DST));
        assert!(!packet.verify_checksum(V4_DST, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 3))));
        assert_eq!(
            Repr::parse(&packet).unwrap(),
            Repr {
                src_port: 40001,
                dst_port: 53,
                payload_len: 29,
            }
        );
        assert_eq!(packet.payload(), &DNS_V4[8..]);
    }

    #[test]
    fn parse_real_v6_query() {
        let packet = Packet::new_checked(&DNS_V6[..]).unwrap();
        assert!(packet.verify_checksum(v6("2001:db8::1"), v6("2001:db8::2")));
        assert!(!packet.verify_checksum(v6("2001:db8::1"), v6("2001:db8::3")));
        assert_eq!(Repr::parse(&packet).unwrap().src_port, 38221);
    }

    #[test]
    fn emit_reproduces_real_datagrams() {
        let repr = Repr::parse(&Packet::new_checked(&DNS_V4[..]).unwrap()).unwrap();
        let mut out = [0u8; 37];
        repr.emit(
            &mut Packet::new_unchecked(&mut out[..]),
            V4_SRC,
            V4_DST,
            &DNS_V4[8..],
        );
        assert_eq!(out, DNS_V4);

        let repr = Repr {
            src_port: 38221,
            dst_port: 53,
            payload_len: 29,
        };
        let mut out = [0u8; 37];
        let (s, d) = (v6("2001:db8::1"), v6("2001:db8::2"));
        repr.emit(&mut Packet::new_unchecked(&mut out[..]), s, d, &DNS_V6[8..]);
        assert_eq!(out, DNS_V6);
    }

    #[test]
    fn zero_checksum_means_none_only_over_ipv4() {
        let mut p = DNS_V4;
        p[6] = 0;
        p[7] = 0;
        assert!(Packet::new_checked(&p[..])
            .unwrap()
            .verify_checksum(V4_SRC, V4_DST));
        let mut p = DNS_V6;
        p[6] = 0;
        p[7] = 0;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert!(!packet.verify_checksum(v6("2001:db8::1"), v6("2001:db8::2")));
    }

    #[test]
    fn computed_zero_is_sent_as_all_ones() {
        // Choose a 2-byte payload equal to the checksum of the datagram without it:
        // adding it makes the sum all ones, i.e. a computed checksum of zero.
        for (s, d) in [(V4_SRC, V4_DST), (v6("2001:db8::1"), v6("2001:db8::2"))] {
            let repr = Repr {
                src_port: 40001,
                dst_port: 53,
                payload_len: 2,
            };
            let mut buf = [0u8; 10];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d, &[0, 0]);
            let word = Packet::new_unchecked(&buf[..]).checksum();
            repr.emit(
                &mut Packet::new_unchecked(&mut buf[..]),
                s,
                d,
                &word.to_be_bytes(),
            );
            let packet = Packet::new_checked(&buf[..]).unwrap();
            assert_eq!(packet.checksum(), 0xffff);
            assert!(packet.verify_checksum(s, d));
        }
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut p = DNS_V4.to_vec();
        p.extend_from_slice(&[0xee; 5]);
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(packet.payload(), &DNS_V4[8..]);
        assert!(packet.verify_checksum(V4_SRC, V4_DST));
        assert_eq!(Repr::parse(&packet).unwrap().payload_len, 29);
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            Packet::new_checked(&DNS_V4[..7]).unwrap_err(),
            Error::Truncated
        );
        // The length field claims more than the buffer holds.
        assert_eq!(
            Packet::new_checked(&DNS_V4[..36]).unwrap_err(),
            Error::Truncated
        );
        // A length field shorter than the header.
        let mut p = DNS_V4;
        p[5] = 7;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
        // Jumbogram-style zero length.
        p[5] = 0;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = Repr::parse(&p);
                let _ = (p.payload(), p.verify_checksum(V4_SRC, V4_DST));
            }
        }

        #[test]
        fn mutated_datagram_never_panics(at in 0usize..37, value in any::<u8>(), cut in 0usize..=37) {
            let mut p = DNS_V4;
            p[at] = value;
            if let Ok(packet) = Packet::new_checked(&p[..cut]) {
                let repr = Repr::parse(&packet).unwrap();
                prop_assert_eq!(repr.payload_len, packet.payload().len());
                let _ = packet.verify_checksum(V4_SRC, V4_DST);
            }
        }

        #[test]
        fn round_trip(src_port in any::<u16>(), dst_port in any::<u16>(),
                      payload in proptest::collection::vec(any::<u8>(), 0..100),
                      s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), v4 in any::<bool>()) {
            let (s, d): (IpAddr, IpAddr) = if v4 {
                (Ipv4Addr::new(s[0], s[1], s[2], s[3]).into(), Ipv4Addr::new(d[0], d[1], d[2], d[3]).into())
            } else {
                (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into())
            };
            let repr = Repr { src_port, dst_port, payload_len: payload.len() };
            let mut buf = std::vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d, &payload);
            let packet = Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(packet.verify_checksum(s, d));
            prop_assert_ne!(packet.checksum(), 0);
            prop_assert_eq!(packet.payload(), &payload[..]);
            prop_assert_eq!(Repr::parse(&packet).unwrap(), repr);
        }
    }
}
