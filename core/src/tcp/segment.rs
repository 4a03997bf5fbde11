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
}

impl Header {
    fn len(&self) -> usize {
        HEADER_LEN + self.options.map_or(0, |o| o.len())
    }
}

/// Where the payload of a data segment (no options) goes in the frame for `key`.
pub fn payload_offset(key: &FlowKey) -> usize {
    frame::upper_offset(&key.our_addr) + HEADER_LEN
}

/// Write a segment from our side of `key` (the tap-side flow key: our address and port
/// are the source, the guest's the destination). For data segments the
/// `payload_len` bytes must already be at [`payload_offset`]; segments with options
/// carry no payload. Returns the frame length, or `None` if it does not fit `out`.
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
    if let Some(o) = h.options {
        o.write(&mut tcp[HEADER_LEN..]);
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
            let off = payload_offset(&k);
            out[off..off + 11].copy_from_slice(b"hello world");
            let h = Header {
                seq: 99,
                ack: 7,
                flags: ACK | PSH,
                window: 512,
                options: None,
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
        let off = payload_offset(&k);
        out[off..off + 5].copy_from_slice(b"hello");
        let h = Header {
            seq: u32::MAX - 1,
            ack: 7,
            flags: ACK | PSH,
            window: 512,
            options: None,
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
}
