//! IPv6 headers and the extension-header chain (RFC 8200).
//!
//! [`Repr::parse`] walks the extension headers (RFC 8200 §4) to the upper-layer
//! header. Hop-by-Hop Options, Routing and Destination Options headers are skipped by
//! their length; a Fragment header, "No Next Header" and jumbograms are refused.
//!
//! # Telling refusals apart
//! [`Repr::parse`] follows the wire idiom and returns an [`Error`]: fragments,
//! "No Next Header" and jumbograms are all [`Error::Unsupported`]. A caller that
//! counts them separately calls [`Repr::parse_detailed`] (or
//! [`walk_ext_headers_detailed`]) instead, which returns the same results with an
//! [`Ipv6Drop`] naming the exact reason; `Error::from(drop)` gives back the plain error.
//!
//! Unlike passt, which drops frames whose payload length does not match the frame
//! exactly, bytes after the payload length (Ethernet padding) are accepted and ignored.

use super::{get_u16, put_u16, Error, IpProtocol, Result};
use core::net::Ipv6Addr;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

/// The most extension headers [`walk_ext_headers`] skips before giving up. RFC 8200
/// §4.1 recommends a chain of at most one of each kind (with Destination Options
/// twice); eight leaves room for that and bounds the work per packet.
pub const MAX_EXT_HEADERS: usize = 8;

/// Why an IPv6 packet was refused, detailed enough for per-reason drop counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv6Drop {
    /// The buffer, or the payload, is shorter than a length field claims.
    Truncated,
    /// Bad version, misplaced Hop-by-Hop header, or too long an extension chain.
    Malformed,
    /// A Fragment header (RFC 8200 §4.5): reassembly is not supported.
    Fragment,
    /// A jumbogram (RFC 2675: payload length 0 with a Hop-by-Hop header).
    Jumbogram,
    /// "No Next Header" (RFC 8200 §4.7): nothing to deliver.
    NoNextHeader,
}

impl From<Ipv6Drop> for Error {
    fn from(d: Ipv6Drop) -> Error {
        match d {
            Ipv6Drop::Truncated => Error::Truncated,
            Ipv6Drop::Malformed => Error::Malformed,
            Ipv6Drop::Fragment | Ipv6Drop::Jumbogram | Ipv6Drop::NoNextHeader => Error::Unsupported,
        }
    }
}

/// Map a length-check error onto [`Ipv6Drop`] (only these two arise from it).
fn drop_from_error(e: Error) -> Ipv6Drop {
    match e {
        Error::Truncated => Ipv6Drop::Truncated,
        _ => Ipv6Drop::Malformed,
    }
}

/// Walk the extension-header chain that starts with `next_header` at the start of
/// `bytes` (the IPv6 payload) and return the upper-layer protocol and the offset of
/// its header within `bytes`. See [`walk_ext_headers_detailed`] for the rules; this
/// is the same walk with the reason folded into an [`Error`].
pub fn walk_ext_headers(next_header: IpProtocol, bytes: &[u8]) -> Result<(IpProtocol, usize)> {
    walk_ext_headers_detailed(next_header, bytes).map_err(Error::from)
}

/// Walk the extension-header chain (RFC 8200 §4) starting with `next_header` at the
/// start of `bytes` (the IPv6 payload, without the fixed header).
///
/// - Hop-by-Hop Options (0), Routing (43) and Destination Options (60) are skipped
///   by `(Hdr Ext Len + 1) · 8` bytes (RFC 8200 §4.3, §4.4, §4.6); each must fit in
///   `bytes` ([`Ipv6Drop::Truncated`]). Their contents are not interpreted.
/// - Hop-by-Hop anywhere but first is [`Ipv6Drop::Malformed`] (RFC 8200 §4.3: it
///   must immediately follow the IPv6 header).
/// - Fragment (44) is [`Ipv6Drop::Fragment`], No Next Header (59) is
///   [`Ipv6Drop::NoNextHeader`].
/// - More than [`MAX_EXT_HEADERS`] skippable headers is [`Ipv6Drop::Malformed`].
/// - Anything else ends the walk: it is returned as the upper-layer protocol with
///   its offset (which may equal `bytes.len()` for an empty upper layer).
pub fn walk_ext_headers_detailed(
    next_header: IpProtocol,
    bytes: &[u8],
) -> core::result::Result<(IpProtocol, usize), Ipv6Drop> {
    let mut next_header = next_header;
    let mut offset = 0usize;
    let mut seen = 0usize;
    loop {
        match next_header {
            IpProtocol::HopByHop if seen > 0 => return Err(Ipv6Drop::Malformed),
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                if seen == MAX_EXT_HEADERS {
                    return Err(Ipv6Drop::Malformed);
                }
                seen += 1;
                // Every one of these starts with Next Header and Hdr Ext Len.
                let (nh, ext_len) = match bytes.get(offset..).and_then(|b| b.get(..2)) {
                    Some(&[nh, ext_len]) => (nh, ext_len),
                    _ => return Err(Ipv6Drop::Truncated),
                };
                let len = (usize::from(ext_len) + 1) * 8;
                let end = offset.checked_add(len).ok_or(Ipv6Drop::Truncated)?;
                if end > bytes.len() {
                    return Err(Ipv6Drop::Truncated);
                }
                next_header = IpProtocol::from(nh);
                offset = end;
            }
            IpProtocol::Ipv6Frag => return Err(Ipv6Drop::Fragment),
            IpProtocol::Ipv6NoNxt => return Err(Ipv6Drop::NoNextHeader),
            upper => return Ok((upper, offset)),
        }
    }
}

/// A view over an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking the version and that the header and payload length fit.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validate the fixed header (RFC 8200 §3): at least 40 bytes
    /// ([`Error::Truncated`]), version 6 ([`Error::Malformed`]), and
    /// `40 + payload_len` within the buffer ([`Error::Truncated`]). Trailing bytes
    /// after the payload are allowed and ignored.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 6 {
            return Err(Error::Malformed);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version (6 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_TC_FLOW] >> 4
    }

    /// Traffic class (DSCP and ECN, RFC 8200 §7).
    pub fn traffic_class(&self) -> u8 {
        let b = self.buffer.as_ref();
        (b[0] << 4) | (b[1] >> 4)
    }

    /// Flow label (20 bits, RFC 6437).
    pub fn flow_label(&self) -> u32 {
        let b = self.buffer.as_ref();
        (u32::from(b[1] & 0x0f) << 16) | u32::from(get_u16(b, 2))
    }

    /// Payload length: everything after the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Next Header of the fixed header (an extension header or the upper layer).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        Ipv6Addr::from(a)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        Ipv6Addr::from(a)
    }

    /// The payload (extension headers and upper layer): `payload_len` bytes after
    /// the fixed header; trailing bytes are excluded.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }

    /// The upper-layer message located by `repr` (from [`Repr::parse`] on this
    /// packet). Never panics: a `repr` that does not fit this buffer gives `&[]`.
    pub fn upper_layer(&self, repr: &Repr) -> &[u8] {
        let end = repr.upper_offset.saturating_add(repr.payload_len);
        self.buffer
            .as_ref()
            .get(repr.upper_offset..end)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version.
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[0];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Set the traffic class.
    pub fn set_traffic_class(&mut self, v: u8) {
        let b = self.buffer.as_mut();
        b[0] = (b[0] & 0xf0) | (v >> 4);
        b[1] = (b[1] & 0x0f) | (v << 4);
    }

    /// Set the flow label (the low 20 bits of `v`).
    pub fn set_flow_label(&mut self, v: u32) {
        let b = self.buffer.as_mut();
        b[1] = (b[1] & 0xf0) | ((v >> 16) & 0x0f) as u8;
        put_u16(b, 2, v as u16);
    }

    /// Set the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, v);
    }

    /// Set the Next Header of the fixed header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = p.into();
    }

    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Mutable payload (`payload_len` bytes after the fixed header).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// High-level IPv6 header, with the extension-header chain already walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Upper-layer protocol (after the extension headers).
    pub next_header: IpProtocol,
    /// Upper-layer length: the payload length minus the extension headers.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header
    /// (40 plus the extension headers). [`Repr::emit`] ignores it: emitted packets
    /// have no extension headers.
    pub upper_offset: usize,
}

impl Repr {
    /// Parse a packet and walk its extension headers; see the module docs for which
    /// refusals are [`Error::Unsupported`]. Use [`Repr::parse_detailed`] to tell
    /// them apart.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        Self::parse_detailed(packet).map_err(Error::from)
    }

    /// [`Repr::parse`] with the exact refusal reason.
    ///
    /// A payload length of 0 with a Hop-by-Hop header is a jumbogram (RFC 2675 §3)
    /// and refused; otherwise the chain is walked by [`walk_ext_headers_detailed`]
    /// within the `payload_len` bytes.
    pub fn parse_detailed<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
    ) -> core::result::Result<Repr, Ipv6Drop> {
        packet.check_len().map_err(drop_from_error)?;
        if packet.payload_len() == 0 && packet.next_header() == IpProtocol::HopByHop {
            return Err(Ipv6Drop::Jumbogram);
        }
        let payload = packet.payload();
        let (next_header, offset) = walk_ext_headers_detailed(packet.next_header(), payload)?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header,
            // The walk keeps offset <= payload.len().
            payload_len: payload.len() - offset,
            hop_limit: packet.hop_limit(),
            upper_offset: HEADER_LEN + offset,
        })
    }

    /// Length of the emitted header ([`HEADER_LEN`]: no extension headers).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write a 40-byte header with no extension headers into the start of `packet`:
    /// traffic class 0, flow label 0 (set it afterwards if wanted), Next Header
    /// `next_header`, payload length `payload_len` (saturated at 65535).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(6);
        packet.set_traffic_class(0);
        packet.set_flow_label(0);
        packet.set_payload_len(u16::try_from(self.payload_len).unwrap_or(u16::MAX));
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    // A TCP SYN from `curl http://[2001:db8::2]:8081/`, captured on a veth pair with
    // tcpdump (Ethernet header stripped).
    const SYN: [u8; 80] = [
        0x60, 0x06, 0x3c, 0x70, // version 6, traffic class 0, flow label 0x63c70
        0x00, 0x28, // payload length 40
        0x06, // next header TCP
        0x40, // hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, // 2001:db8::2
        // TCP SYN with MSS, SACK permitted, timestamps, NOP, WS 10
        0xb7, 0x60, 0x1f, 0x91, 0x6e, 0xf3, 0xc8, 0xba, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff,
        0xc3, 0xc0, 0x0d, 0x00, 0x00, 0x02, 0x04, 0xff, 0xc3, 0x04, 0x02, 0x08, 0x0a, 0x9f, 0x93,
        0x84, 0x73, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    // An MLDv2 report the kernel sent when an address was added: Hop-by-Hop header
    // with a Router Alert option (RFC 2711), then ICMPv6 type 143.
    const MLD_REPORT: [u8; 116] = [
        0x60, 0x00, 0x00, 0x00, // version 6, no traffic class or flow label
        0x00, 0x4c, // payload length 76
        0x00, // next header: Hop-by-Hop
        0x01, // hop limit 1
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x70, 0xde, 0xff, 0xff, 0xfe, 0x10, 0xcc,
        0x97, // fe80::70de:ffff:fe10:cc97
        0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x16, // ff02::16
        0x3a, 0x00, // HBH: next header ICMPv6, length (0+1)·8
        0x05, 0x02, 0x00, 0x00, // Router Alert: MLD
        0x01, 0x00, // PadN, 0 bytes
        // ICMPv6 MLDv2 report, 3 records
        0x8f, 0x00, 0x64, 0x0c, 0x00, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x99, 0x04, 0x00,
        0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff,
        0x10, 0xcc, 0x97, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01,
    ];

    // Fixed header and Fragment header of the second fragment of a 1608-byte ICMPv6
    // echo over a 1500-byte MTU (ping6 -s 1600); 160 bytes of data follow.
    const FRAG_HDRS: [u8; 48] = [
        0x60, 0x02, 0x37, 0x71, 0x00, 0xa8, // payload length 168
        0x2c, // next header: Fragment
        0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x99, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x02, // 2001:db8::99 -> 2001:db8::2
        0x3a, 0x00, // Fragment: next header ICMPv6, reserved
        0x05, 0xa8, // offset 181·8 = 1448, M clear
        0x30, 0xda, 0x6b, 0x1f, // identification
    ];

    fn fragment() -> Vec<u8> {
        let mut v = FRAG_HDRS.to_vec();
        v.extend((0xa0..=0xffu8).chain(0x00..0x40u8));
        v
    }

    /// SYN with `ext` (a chain of extension headers, the first one named by
    /// `first`) inserted in front of the TCP header.
    fn syn_with_ext(first: u8, ext: &[u8]) -> Vec<u8> {
        let mut v = SYN[..40].to_vec();
        v.extend_from_slice(ext);
        v.extend_from_slice(&SYN[40..]);
        let len = (v.len() - 40) as u16;
        let mut packet = Packet::new_unchecked(&mut v[..]);
        packet.set_payload_len(len);
        packet.set_next_header(IpProtocol::from(first));
        v
    }

    #[test]
    fn parse_real_syn() {
        let packet = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0);
        assert_eq!(packet.flow_label(), 0x63c70);
        assert_eq!(packet.payload_len(), 40);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Repr {
                src_addr: "2001:db8::1".parse().unwrap(),
                dst_addr: "2001:db8::2".parse().unwrap(),
                next_header: IpProtocol::Tcp,
                payload_len: 40,
                hop_limit: 64,
                upper_offset: 40,
            }
        );
        assert_eq!(packet.upper_layer(&repr), &SYN[40..]);
    }

    #[test]
    fn emit_reproduces_real_header() {
        let repr = Repr::parse(&Packet::new_checked(&SYN[..]).unwrap()).unwrap();
        let mut out = [0u8; HEADER_LEN];
        let mut packet = Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut packet);
        assert_eq!(packet.flow_label(), 0);
        packet.set_flow_label(0x63c70);
        assert_eq!(out, SYN[..HEADER_LEN]);
    }

    #[test]
    fn traffic_class_and_flow_label_are_independent() {
        let mut h = [0u8; HEADER_LEN];
        let mut packet = Packet::new_unchecked(&mut h[..]);
        packet.set_version(6);
        packet.set_flow_label(0xfffff);
        packet.set_traffic_class(0xb8);
        assert_eq!(packet.flow_label(), 0xfffff);
        assert_eq!(packet.traffic_class(), 0xb8);
        assert_eq!(packet.version(), 6);
        packet.set_flow_label(0x1_23456); // only 20 bits are kept
        assert_eq!(packet.flow_label(), 0x23456);
        assert_eq!(packet.traffic_class(), 0xb8);
    }

    #[test]
    fn hop_by_hop_router_alert_is_skipped() {
        let packet = Packet::new_checked(&MLD_REPORT[..]).unwrap();
        assert_eq!(packet.next_header(), IpProtocol::HopByHop);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Icmpv6);
        assert_eq!(repr.upper_offset, 48);
        assert_eq!(repr.payload_len, 68);
        assert_eq!(repr.hop_limit, 1);
        assert_eq!(packet.upper_layer(&repr)[0], 143); // MLDv2 report
        assert_eq!(
            walk_ext_headers(IpProtocol::HopByHop, packet.payload()),
            Ok((IpProtocol::Icmpv6, 8))
        );
    }

    #[test]
    fn chain_of_destination_options_and_routing() {
        // Destination Options (16 bytes: next Routing, len 1, PadN 12), then a
        // Routing header (8 bytes: next TCP, len 0, type 4 segments left 0).
        let ext = [
            43, 1, 0x01, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
            6, 0, 4, 0, 0, 0, 0, 0,
        ];
        let p = syn_with_ext(60, &ext);
        let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
        assert_eq!(repr.next_header, IpProtocol::Tcp);
        assert_eq!(repr.upper_offset, 40 + 24);
        assert_eq!(repr.payload_len, 40);
    }

    #[test]
    fn fragment_is_refused_distinguishably() {
        let p = fragment();
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Fragment));
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
    }

    #[test]
    fn fragment_behind_hop_by_hop_is_refused() {
        let ext = [44, 0, 0x01, 4, 0, 0, 0, 0];
        let p = syn_with_ext(0, &ext);
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Fragment));
    }

    #[test]
    fn no_next_header_is_refused() {
        let mut p = SYN;
        p[6] = 59;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::NoNextHeader));
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
    }

    #[test]
    fn jumbogram_is_refused() {
        // RFC 2675 §2: payload length 0, Hop-by-Hop with a Jumbo Payload option
        // (type 0xc2, length 4, 32-bit length 70000).
        let ext = [6, 0, 0xc2, 4, 0x00, 0x01, 0x11, 0x70];
        let mut p = syn_with_ext(0, &ext);
        p[4] = 0;
        p[5] = 0;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Jumbogram));
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
    }

    #[test]
    fn misplaced_hop_by_hop_is_malformed() {
        let ext = [0, 0, 0x01, 4, 0, 0, 0, 0, 6, 0, 0x01, 4, 0, 0, 0, 0];
        let p = syn_with_ext(60, &ext);
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Malformed));
    }

    #[test]
    fn too_many_extension_headers_is_malformed() {
        let mut ext = Vec::new();
        for _ in 0..MAX_EXT_HEADERS {
            ext.extend_from_slice(&[60, 0, 0x01, 4, 0, 0, 0, 0]);
        }
        let last = ext.len() - 8;
        ext[last] = 6;
        // Exactly the limit is fine…
        let p = syn_with_ext(60, &ext);
        let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
        assert_eq!(repr.upper_offset, 40 + 8 * MAX_EXT_HEADERS);
        // …one more is not.
        ext[last] = 60;
        ext.extend_from_slice(&[6, 0, 0x01, 4, 0, 0, 0, 0]);
        let p = syn_with_ext(60, &ext);
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Malformed));
    }

    #[test]
    fn extension_header_past_payload_is_truncated() {
        // The Hop-by-Hop header claims 16 bytes but the payload length only covers 8.
        let mut p = MLD_REPORT;
        p[5] = 8;
        p[41] = 1;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse_detailed(&packet), Err(Ipv6Drop::Truncated));
        // A payload too short for even the first two bytes of the header.
        let mut p = MLD_REPORT;
        p[5] = 1;
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Err(Error::Truncated));
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            Packet::new_checked(&SYN[..39]).unwrap_err(),
            Error::Truncated
        );
        // Payload length larger than the buffer (a lying header).
        assert_eq!(
            Packet::new_checked(&SYN[..79]).unwrap_err(),
            Error::Truncated
        );
        let mut p = SYN;
        p[0] = 0x40;
        assert_eq!(Packet::new_checked(&p[..]).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn padding_after_payload_is_ignored() {
        let mut p = SYN.to_vec();
        p.extend_from_slice(&[0; 6]);
        let packet = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(packet.payload(), &SYN[40..]);
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(repr.payload_len, 40);
        assert_eq!(packet.upper_layer(&repr), &SYN[40..]);
    }

    #[test]
    fn empty_upper_layer() {
        let mut p = SYN;
        p[5] = 0;
        let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
        assert_eq!((repr.next_header, repr.payload_len), (IpProtocol::Tcp, 0));
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..160)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                if let Ok(repr) = Repr::parse(&p) {
                    prop_assert_eq!(p.upper_layer(&repr).len(), repr.payload_len);
                }
            }
        }

        #[test]
        fn walk_never_panics(nh in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok((_, offset)) = walk_ext_headers(IpProtocol::from(nh), &data) {
                prop_assert!(offset <= data.len());
            }
        }

        #[test]
        fn mutated_mld_never_panics(at in 0usize..116, value in any::<u8>(), cut in 0usize..=116) {
            let mut p = MLD_REPORT;
            p[at] = value;
            if let Ok(packet) = Packet::new_checked(&p[..cut]) {
                if let Ok(repr) = Repr::parse(&packet) {
                    prop_assert!(repr.upper_offset + repr.payload_len <= cut);
                    prop_assert_eq!(packet.upper_layer(&repr).len(), repr.payload_len);
                }
            }
        }

        #[test]
        fn round_trip(src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(),
                      proto in any::<u8>().prop_filter("upper layer", |p| !matches!(p, 0 | 43 | 44 | 59 | 60)),
                      payload_len in 0usize..200, hop_limit in any::<u8>()) {
            let repr = Repr {
                src_addr: Ipv6Addr::from(src),
                dst_addr: Ipv6Addr::from(dst),
                next_header: IpProtocol::from(proto),
                payload_len,
                hop_limit,
                upper_offset: HEADER_LEN,
            };
            let mut buf = std::vec![0u8; repr.buffer_len() + payload_len];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), repr);
        }
    }
}
