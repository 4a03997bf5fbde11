//! Building TCP segments for the guest, in place in the engine's transmit buffer.
//!
//! Data segments have a fixed 20-byte header, so the payload can be peeked from the
//! host socket straight into its final position ([`payload_offset`]) before the
//! headers are written around it: one copy from the socket to the frame.

use crate::flow::FlowKey;
use crate::frame::{self, Link};
use crate::wire::{checksum, ip, put_u16, put_u32, IpProtocol};

/// FIN flag (RFC 9293 §3.1).
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// PSH flag.
pub const PSH: u8 = 0x08;
/// ACK flag.
pub const ACK: u8 = 0x10;

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;
/// Offset of the checksum field in the TCP header.
pub const CHECKSUM_AT: usize = 16;

/// How [`write()`] fills the TCP checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// The complete checksum (RFC 9293 §3.1).
    Full,
    /// Only the folded pseudo-header sum, for a link that completes it over the
    /// TCP header and payload (checksum offload, see
    /// [`TxOffload`](crate::io::TxOffload)).
    Partial,
}

/// Options carried by SYN and SYN-ACK segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynOptions {
    /// Maximum segment size we accept (RFC 9293 §3.7.1).
    pub mss: u16,
    /// Our window scale shift, if we offer scaling (RFC 7323 §2.2).
    pub window_scale: Option<u8>,
}

impl SynOptions {
    fn len(&self) -> usize {
        4 + if self.window_scale.is_some() { 4 } else { 0 }
    }

    fn write(&self, out: &mut [u8]) {
        out[0] = 2; // MSS, length 4
        out[1] = 4;
        put_u16(out, 2, self.mss);
        if let Some(ws) = self.window_scale {
            // NOP then window scale (kind 3, length 3): passt's layout.
            out[4..8].copy_from_slice(&[1, 3, 3, ws]);
        }
    }
}

/// The timestamps option (RFC 7323 §3): our clock, and the guest's value we echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamps {
    /// TSval: our timestamp clock.
    pub value: u32,
    /// TSecr: the guest's most recent TSval worth echoing (TS.Recent, §4.3).
    pub echo: u32,
}

/// Bytes the timestamps option takes, with the two NOPs that align it (RFC 7323
/// Appendix A's layout, as Linux sends it).
pub const TIMESTAMPS_LEN: usize = 12;

impl Timestamps {
    fn write(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&[1, 1, 8, 10]);
        put_u32(out, 4, self.value);
        put_u32(out, 8, self.echo);
    }
}

/// The header fields of one segment to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with [`ACK`]).
    pub ack: u32,
    /// Flags.
    pub flags: u8,
    /// Window field, already scaled down.
    pub window: u16,
    /// SYN options, for SYN segments.
    pub options: Option<SynOptions>,
    /// Timestamps, once negotiated (on every segment but RSTs, RFC 7323 §3.2).
    pub timestamps: Option<Timestamps>,
}

impl Header {
    fn len(&self) -> usize {
        HEADER_LEN
            + self.options.map_or(0, |o| o.len())
            + if self.timestamps.is_some() {
                TIMESTAMPS_LEN
            } else {
                0
            }
    }
}

/// Where the payload of a data segment (no SYN options; with the timestamps option
/// if `timestamps`) goes in the frame for `key`.
pub fn payload_offset(key: &FlowKey, timestamps: bool) -> usize {
    frame::upper_offset(&key.our_addr) + HEADER_LEN + if timestamps { TIMESTAMPS_LEN } else { 0 }
}

/// Write a segment from our side of `key` (the tap-side flow key: our address and port
/// are the source, the guest's the destination). For data segments the
/// `payload_len` bytes must already be at [`payload_offset`]; segments with SYN
/// options carry no payload. Returns the frame length, or `None` if it does not fit `out`.
pub fn write(
    out: &mut [u8],
    link: Link,
    key: &FlowKey,
    h: &Header,
    payload_len: usize,
) -> Option<usize> {
    write_with(out, link, key, h, payload_len, Checksum::Full)
}

/// [`write()`], with the TCP checksum filled as `checksum` says.
pub fn write_with(
    out: &mut [u8],
    link: Link,
    key: &FlowKey,
    h: &Header,
    payload_len: usize,
    checksum: Checksum,
) -> Option<usize> {
    let start = frame::upper_offset(&key.our_addr);
    let hlen = h.len();
    if h.options.is_some() && payload_len != 0 {
        return None;
    }
    let message_len = hlen + payload_len;
    if out.len() < start + message_len {
        return None;
    }
    let tcp = &mut out[start..start + hlen];
    put_u16(tcp, 0, key.our_port);
    put_u16(tcp, 2, key.endpoint_port);
    put_u32(tcp, 4, h.seq);
    put_u32(tcp, 8, h.ack);
    tcp[12] = ((hlen / 4) as u8) << 4;
    tcp[13] = h.flags;
    put_u16(tcp, 14, h.window);
    put_u16(tcp, 18, 0);
    let mut at = HEADER_LEN;
    if let Some(o) = h.options {
        o.write(&mut tcp[at..]);
        at += o.len();
    }
    if let Some(t) = h.timestamps {
        t.write(&mut tcp[at..]);
    }
    let full = checksum == Checksum::Full;
    let len = frame::finish(
        out,
        link,
        key.our_addr,
        key.endpoint_addr,
        IpProtocol::Tcp,
        message_len,
        full.then_some(CHECKSUM_AT),
    )?;
    if !full {
        // What a sender with checksum offload leaves in the field (Linux's
        // `tcp_v4_send_check`): the pseudo-header sum, folded, not complemented.
        let pseudo = ip::pseudo_header(
            key.our_addr,
            key.endpoint_addr,
            IpProtocol::Tcp,
            message_len,
        );
        put_u16(&mut out[start..], CHECKSUM_AT, checksum::fold(pseudo));
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Pif;
    use crate::wire::ethernet::MacAddr;
    use crate::wire::ip;
    use core::net::{IpAddr, Ipv4Addr};

    fn key() -> FlowKey {
        FlowKey {
            pif: Pif::Tap,
            protocol: IpProtocol::Tcp,
            our_addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            our_port: 80,
            endpoint_addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            endpoint_port: 40000,
        }
    }

    const LINK: Link = Link {
        src: MacAddr::PASST_DEFAULT,
        dst: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
    };

    #[test]
    fn syn_ack_has_passt_option_layout() {
        let mut out = [0u8; 128];
        let h = Header {
            seq: 1000,
            ack: 2001,
            flags: SYN | ACK,
            window: 65535,
            options: Some(SynOptions {
                mss: 61440,
                window_scale: Some(3),
            }),
            timestamps: None,
        };
        let len = write(&mut out, LINK, &key(), &h, 0).unwrap();
        assert_eq!(len, 14 + 20 + 28);
        let tcp = &out[34..len];
        assert_eq!(tcp[12] >> 4, 7, "data offset: 28 bytes");
        assert_eq!(
            &tcp[20..28],
            &[0x02, 0x04, 0xf0, 0x00, 0x01, 0x03, 0x03, 0x03]
        );
        let k = key();
        assert!(ip::upper_layer_checksum_ok(
            k.our_addr,
            k.endpoint_addr,
            IpProtocol::Tcp,
            tcp
        ));
    }

    /// What a link with checksum offload does to a partial checksum (virtio-net
    /// `NEEDS_CSUM`, Linux's `skb_checksum_help`): sum from the TCP header to the end
    /// with the field as written, and store the complement there.
    fn complete(tcp: &mut [u8]) {
        let sum = checksum::checksum(tcp);
        tcp[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn partial_checksum_is_what_the_link_completes() {
        for k in [key(), key_v6()] {
            let mut out = [0u8; 256];
            let off = payload_offset(&k, false);
            out[off..off + 11].copy_from_slice(b"hello world");
            let h = Header {
                seq: 99,
                ack: 7,
                flags: ACK | PSH,
                window: 512,
                options: None,
                timestamps: None,
            };
            let len = write_with(&mut out, LINK, &k, &h, 11, Checksum::Partial).unwrap();
            let start = off - HEADER_LEN;
            let tcp = &mut out[start..len];
            assert!(
                !ip::upper_layer_checksum_ok(k.our_addr, k.endpoint_addr, IpProtocol::Tcp, tcp),
                "not complete as written"
            );
            complete(tcp);
            assert!(ip::upper_layer_checksum_ok(
                k.our_addr,
                k.endpoint_addr,
                IpProtocol::Tcp,
                tcp
            ));
        }
    }

    fn key_v6() -> FlowKey {
        FlowKey {
            our_addr: "2001:db8::1".parse().unwrap(),
            endpoint_addr: "2001:db8::2".parse().unwrap(),
            ..key()
        }
    }

    #[test]
    fn data_segment_wraps_payload_in_place() {
        let mut out = [0u8; 128];
        let k = key();
        let off = payload_offset(&k, false);
        out[off..off + 5].copy_from_slice(b"hello");
        let h = Header {
            seq: u32::MAX - 1,
            ack: 7,
            flags: ACK | PSH,
            window: 512,
            options: None,
            timestamps: None,
        };
        let len = write(&mut out, LINK, &k, &h, 5).unwrap();
        assert_eq!(len, off + 5);
        assert_eq!(&out[off..len], b"hello");
        assert!(ip::upper_layer_checksum_ok(
            k.our_addr,
            k.endpoint_addr,
            IpProtocol::Tcp,
            &out[34..len]
        ));
        assert_eq!(
            write(&mut out[..off + 4], LINK, &k, &h, 5),
            None,
            "too small"
        );
    }

    /// Timestamps go after the SYN options (NOP NOP TS) and before a data segment's
    /// payload, which then starts 12 bytes later; the wire parser reads them back.
    #[test]
    fn timestamps_precede_the_payload_and_parse_back() {
        let k = key();
        let mut out = [0u8; 128];
        let off = payload_offset(&k, true);
        assert_eq!(off, payload_offset(&k, false) + TIMESTAMPS_LEN);
        out[off..off + 3].copy_from_slice(b"abc");
        let stamps = Some(Timestamps {
            value: 0x0102_0304,
            echo: 0x0a0b_0c0d,
        });
        let h = Header {
            seq: 5,
            ack: 6,
            flags: ACK | PSH,
            window: 100,
            options: None,
            timestamps: stamps,
        };
        let len = write(&mut out, LINK, &k, &h, 3).unwrap();
        assert_eq!(&out[off..len], b"abc");
        let packet = crate::wire::tcp::Packet::new_checked(&out[34..len]).unwrap();
        let repr = crate::wire::tcp::Repr::parse(&packet).unwrap();
        assert_eq!(repr.timestamp, Some((0x0102_0304, 0x0a0b_0c0d)));
        assert!(ip::upper_layer_checksum_ok(
            k.our_addr,
            k.endpoint_addr,
            IpProtocol::Tcp,
            &out[34..len]
        ));
        let syn = Header {
            flags: SYN | ACK,
            options: Some(SynOptions {
                mss: 1460,
                window_scale: Some(7),
            }),
            ..h
        };
        let len = write(&mut out, LINK, &k, &syn, 0).unwrap();
        let packet = crate::wire::tcp::Packet::new_checked(&out[34..len]).unwrap();
        assert_eq!(packet.header_len(), 20 + 8 + 12);
        let repr = crate::wire::tcp::Repr::parse(&packet).unwrap();
        assert_eq!(
            (repr.max_seg_size, repr.window_scale, repr.timestamp),
            (Some(1460), Some(7), Some((0x0102_0304, 0x0a0b_0c0d)))
        );
    }
}
