//! IPv4 headers (RFC 791).
//!
//! Options are skipped via the IHL, never interpreted. Fragments are recognised and
//! refused (reassembly is not supported). The header checksum is *not* verified by
//! [`Repr::parse`]: passt never validates checksums coming from the guest (a guest
//! with checksum offload may hand over partial sums); [`Packet::verify_checksum`] is
//! there for callers that want it.

use super::checksum;
use super::{get_u16, put_u16, Error, IpProtocol, Result};
use core::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// Largest payload an IPv4 packet without options can carry (65535 − 20).
pub const MAX_PAYLOAD_LEN: usize = u16::MAX as usize - HEADER_LEN;

/// "Don't Fragment" flag bit in the flags/fragment-offset word (RFC 791 §3.1).
const FLAG_DF: u16 = 0x4000;
/// "More Fragments" flag bit.
const FLAG_MF: u16 = 0x2000;
/// Fragment offset, in units of 8 bytes.
const OFFSET_MASK: u16 = 0x1fff;

/// A view over an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking the version and that the header and the total length fit.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validate the length fields (RFC 791 §3.1): version 4, IHL ≥ 5,
    /// IHL·4 ≤ total length ≤ buffer length. Bytes after the total length
    /// (Ethernet padding) are allowed and ignored.
    ///
    /// A buffer shorter than 20 bytes or than the total length is
    /// [`Error::Truncated`]; a wrong version or inconsistent lengths are
    /// [`Error::Malformed`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Malformed);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::Malformed);
        }
        if total_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL · 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated Services Code Point (RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit Congestion Notification bits (RFC 3168).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// "Don't Fragment" flag.
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_DF != 0
    }

    /// "More Fragments" flag.
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buffer.as_ref(), field::FLG_OFF) & OFFSET_MASK) << 3
    }

    /// Whether this packet is a fragment: More Fragments set or a non-zero offset
    /// (RFC 791 §2.3 "Fragmentation").
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        Ipv4Addr::from(a)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        Ipv4Addr::from(a)
    }

    /// Whether the header checksum verifies (RFC 791 §3.1, RFC 1071): the
    /// one's-complement sum over the whole header, options included, is all ones.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The options bytes, uninterpreted (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: bytes from the end of the header to the total length; anything
    /// after the total length (Ethernet padding) is excluded.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version.
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Set the header length in bytes (stored as IHL = `len / 4`).
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = ((len / 4) & 0x0f) as u8;
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ihl;
    }

    /// Set the DSCP.
    pub fn set_dscp(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (v << 2);
    }

    /// Set the ECN bits.
    pub fn set_ecn(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (v & 0x03);
    }

    /// Set the total length.
    pub fn set_total_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT, v);
    }

    /// Clear all flags and the fragment offset.
    pub fn clear_flags(&mut self) {
        put_u16(self.buffer.as_mut(), field::FLG_OFF, 0);
    }

    /// Set or clear "Don't Fragment".
    pub fn set_dont_frag(&mut self, v: bool) {
        self.set_flag(FLAG_DF, v);
    }

    /// Set or clear "More Fragments".
    pub fn set_more_frags(&mut self, v: bool) {
        self.set_flag(FLAG_MF, v);
    }

    /// Set the fragment offset in bytes (rounded down to a multiple of 8).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let raw = get_u16(self.buffer.as_ref(), field::FLG_OFF);
        let raw = (raw & !OFFSET_MASK) | (bytes >> 3);
        put_u16(self.buffer.as_mut(), field::FLG_OFF, raw);
    }

    fn set_flag(&mut self, flag: u16, v: bool) {
        let raw = get_u16(self.buffer.as_ref(), field::FLG_OFF);
        let raw = if v { raw | flag } else { raw & !flag };
        put_u16(self.buffer.as_mut(), field::FLG_OFF, raw);
    }

    /// Set the time to live.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Set the payload protocol.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Compute and store the header checksum over `header_len()` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let len = self.header_len();
        let c = checksum::checksum(&self.buffer.as_ref()[..len]);
        self.set_checksum(c);
    }

    /// Mutable payload (header end to total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// High-level IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub next_header: IpProtocol,
    /// Payload length in bytes (total length minus header length). At most
    /// [`MAX_PAYLOAD_LEN`] when emitting.
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
    /// Identification.
    pub ident: u16,
    /// "Don't Fragment".
    pub dont_frag: bool,
}

impl Repr {
    /// Parse a checked packet. Fragments are [`Error::Unsupported`]; callers tell
    /// them apart from other refusals with [`Packet::is_fragment`]. Options are
    /// skipped; the checksum is not verified (see the module docs).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.is_fragment() {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            // check_len guarantees total_len >= header_len.
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            hop_limit: packet.hop_limit(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    /// Length of the emitted header ([`HEADER_LEN`]: no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 20-byte header (no options, DSCP/ECN 0, not a fragment) into the
    /// start of `packet` and fill its checksum. The total length is
    /// `20 + payload_len`, saturated at 65535 if the caller passed a larger payload.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN);
        packet.set_dscp(0);
        packet.set_ecn(0);
        let total = HEADER_LEN.saturating_add(self.payload_len);
        packet.set_total_len(u16::try_from(total).unwrap_or(u16::MAX));
        packet.set_ident(self.ident);
        packet.clear_flags();
        packet.set_dont_frag(self.dont_frag);
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A UDP DNS query (A? example.com) from 198.51.100.1:40001 to 198.51.100.2:53,
    // captured on a veth pair with tcpdump; Ethernet header stripped.
    const DNS_QUERY: [u8; 57] = [
        0x45, // version 4, IHL 5
        0x00, // DSCP/ECN
        0x00, 0x39, // total length 57
        0x29, 0x92, // ident
        0x40, 0x00, // DF, offset 0
        0x40, // TTL 64
        0x11, // UDP
        0xbc, 0xb7, // checksum
        0xc6, 0x33, 0x64, 0x01, // 198.51.100.1
        0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
        // UDP header and DNS query
        0x9c, 0x41, 0x00, 0x35, 0x00, 0x25, 0x23, 0x28, 0x1c, 0x2d, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    // Header of the second fragment of a 1608-byte ICMP echo (ping -s 1600 over a
    // 1500-byte MTU): total length 148, MF clear, offset 185·8 = 1480.
    const FRAG_LAST_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x94, 0xf4, 0xaf, 0x00, 0xb9, 0x40, 0x01, 0x30, 0x96, 0xc6, 0x33, 0x64,
        0x01, 0xc6, 0x33, 0x64, 0x02,
    ];

    // Header of the first fragment of the same echo: total length 1500, MF set, offset 0.
    const FRAG_FIRST_HDR: [u8; 20] = [
        0x45, 0x00, 0x05, 0xdc, 0xf4, 0xaf, 0x20, 0x00, 0x40, 0x01, 0x0c, 0x07, 0xc6, 0x33, 0x64,
        0x01, 0xc6, 0x33, 0x64, 0x02,
    ];

    fn with_payload(header: &[u8], total: usize) -> std::vec::Vec<u8> {
        let mut v = header.to_vec();
        v.resize(total, 0xa5);
        v
    }

    #[test]
    fn parse_real_udp_packet() {
        let packet = Packet::new_checked(&DNS_QUERY[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.checksum(), 0xbcb7);
        assert!(!packet.is_fragment());
        assert_eq!(packet.options(), &[] as &[u8]);
        assert_eq!(packet.payload(), &DNS_QUERY[20..]);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Repr {
                src_addr: Ipv4Addr::new(198, 51, 100, 1),
                dst_addr: Ipv4Addr::new(198, 51, 100, 2),
                next_header: IpProtocol::Udp,
                payload_len: 37,
                hop_limit: 64,
                ident: 0x2992,
                dont_frag: true,
            }
        );
    }

    #[test]
    fn emit_reproduces_real_header() {
        let repr = Repr::parse(&Packet::new_checked(&DNS_QUERY[..]).unwrap()).unwrap();
        let mut out = [0u8; HEADER_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, DNS_QUERY[..HEADER_LEN]);
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut padded = DNS_QUERY.to_vec();
        padded.extend_from_slice(&[0; 7]);
        let packet = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(packet.payload(), &DNS_QUERY[20..]);
        assert_eq!(Repr::parse(&packet).unwrap().payload_len, 37);
    }

    #[test]
    fn options_are_skipped() {
        // DNS_QUERY with a Router Alert option (RFC 2113: 94 04 00 00), IHL 6.
        let mut p = std::vec::Vec::new();
        p.extend_from_slice(&DNS_QUERY[..20]);
        p.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
        p.extend_from_slice(&DNS_QUERY[20..]);
        p[0] = 0x46;
        p[3] = 61;
        let mut packet = Packet::new_unchecked(&mut p[..]);
        packet.fill_checksum();
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(packet.payload(), &DNS_QUERY[20..]);
        assert_eq!(Repr::parse(&packet).unwrap().payload_len, 37);
    }

    #[test]
    fn corrupted_checksum_fails_verification_but_parses() {
        let mut p = DNS_QUERY;
        p[11] ^= 0x01;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert!(!packet.verify_checksum());
        // passt never validates guest checksums: parse still succeeds.
        assert!(Repr::parse(&packet).is_ok());
    }

    #[test]
    fn fill_checksum_restores_real_value() {
        let mut p = DNS_QUERY;
        p[10] = 0x12;
        p[11] = 0x34;
        Packet::new_unchecked(&mut p[..]).fill_checksum();
        assert_eq!(p, DNS_QUERY);
    }

    #[test]
    fn fragments_are_unsupported() {
        let last = with_payload(&FRAG_LAST_HDR, 148);
        let packet = Packet::new_checked(&last[..]).unwrap();
        assert!(packet.verify_checksum());
        assert!(!packet.more_frags());
        assert_eq!(packet.frag_offset(), 1480);
        assert!(packet.is_fragment());
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));

        let first = with_payload(&FRAG_FIRST_HDR, 1500);
        let packet = Packet::new_checked(&first[..]).unwrap();
        assert!(packet.verify_checksum());
        assert!(packet.more_frags());
        assert!(!packet.dont_frag());
        assert_eq!(packet.frag_offset(), 0);
        assert!(packet.is_fragment());
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
    }

    #[test]
    fn length_errors() {
        // Shorter than a header.
        assert_eq!(
            Packet::new_checked(&DNS_QUERY[..19]).unwrap_err(),
            Error::Truncated
        );
        // Total length claims more than the buffer holds.
        assert_eq!(
            Packet::new_checked(&DNS_QUERY[..56]).unwrap_err(),
            Error::Truncated
        );
        // Wrong version.
        let mut p = DNS_QUERY;
        p[0] = 0x65;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
        // IHL below 5.
        let mut p = DNS_QUERY;
        p[0] = 0x44;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
        // Total length shorter than the header.
        let mut p = DNS_QUERY;
        p[3] = 19;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
        // IHL larger than the total length (15·4 = 60 > 57).
        let mut p = DNS_QUERY;
        p[0] = 0x4f;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn setters_round_trip() {
        let mut p = DNS_QUERY;
        let mut packet = Packet::new_unchecked(&mut p[..]);
        packet.set_dscp(46);
        packet.set_ecn(2);
        packet.set_more_frags(true);
        packet.set_frag_offset(2960);
        packet.set_dont_frag(false);
        assert_eq!((packet.dscp(), packet.ecn()), (46, 2));
        assert!(packet.more_frags() && !packet.dont_frag());
        assert_eq!(packet.frag_offset(), 2960);
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = Repr::parse(&p);
                let _ = (p.payload(), p.options(), p.verify_checksum(), p.is_fragment());
            }
        }

        #[test]
        fn mutated_packet_never_panics(at in 0usize..57, value in any::<u8>(), cut in 0usize..=57) {
            let mut p = DNS_QUERY;
            p[at] = value;
            if let Ok(packet) = Packet::new_checked(&p[..cut]) {
                if let Ok(repr) = Repr::parse(&packet) {
                    prop_assert_eq!(repr.payload_len, packet.payload().len());
                }
            }
        }

        #[test]
        fn round_trip(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), proto in any::<u8>(),
                      payload_len in 0usize..200, hop_limit in any::<u8>(), ident in any::<u16>(),
                      dont_frag in any::<bool>()) {
            let repr = Repr {
                src_addr: Ipv4Addr::from(src),
                dst_addr: Ipv4Addr::from(dst),
                next_header: IpProtocol::from(proto),
                payload_len,
                hop_limit,
                ident,
                dont_frag,
            };
            let mut buf = std::vec![0u8; repr.buffer_len() + payload_len];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let packet = Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(packet.verify_checksum());
            prop_assert_eq!(Repr::parse(&packet).unwrap(), repr);
        }
    }
}
