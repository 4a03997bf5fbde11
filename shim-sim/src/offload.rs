//! The guest link's offloads, modelled the way Linux finishes a frame written to a tap
//! with a virtio-net header ([`Op::TapSendOffload`](passt_core::Op::TapSendOffload)):
//! segmentation at the MSS (`tcp_gso_segment`: the sequence number advances, FIN and
//! PSH stay on the last segment, IP lengths and the IPv4 header checksum are
//! rewritten) and completion of a partial TCP checksum (`skb_checksum_help`); a run of
//! UDP datagrams (`GSO_UDP_L4`) is cut at the datagram size the same way
//! (`__udp_gso_segment`: each datagram's UDP length and checksum rewritten).
//!
//! The tests see exactly the frames a namespace behind pasta's tap would receive.

use passt_core::io::TxOffload;
use passt_core::wire::{checksum, ipv4, ipv6};

/// TCP flags kept on the last segment only (Linux `tcp_gso_segment`).
const LAST_ONLY: u8 = 0x01 | 0x08; // FIN, PSH
/// Offset of the checksum field in the TCP header.
const TCP_CHECKSUM_AT: usize = 16;
/// Offset of the checksum field in the UDP header.
const UDP_CHECKSUM_AT: usize = 6;

/// The frames the guest receives for one offloaded `frame`: one per `offload.mss`
/// bytes of payload (one for a shorter payload), each with a complete checksum.
/// A frame too short for the headers `offload` describes comes back unchanged.
pub fn finish(frame: &[u8], offload: &TxOffload) -> Vec<Vec<u8>> {
    let l4 = usize::from(offload.l4_offset);
    let hdr = usize::from(offload.header_len);
    let mss = usize::from(offload.mss).max(1);
    let l4_min = if offload.udp { 8 } else { 20 };
    if frame.len() < hdr || hdr < l4 + l4_min || l4 < 14 {
        return vec![frame.to_vec()];
    }
    let payload = &frame[hdr..];
    let count = payload.len().div_ceil(mss).max(1);
    let seq0 = u32::from_be_bytes([frame[l4 + 4], frame[l4 + 5], frame[l4 + 6], frame[l4 + 7]]);
    (0..count)
        .map(|i| {
            let chunk = payload
                .get(i * mss..((i + 1) * mss).min(payload.len()))
                .unwrap_or(&[]);
            let mut seg = Vec::with_capacity(hdr + chunk.len());
            seg.extend_from_slice(&frame[..hdr]);
            seg.extend_from_slice(chunk);
            if offload.udp {
                let udp_len = (seg.len() - l4) as u16;
                seg[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
            } else {
                let seq = seq0.wrapping_add((i * mss) as u32);
                seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
                if i + 1 < count {
                    seg[l4 + 13] &= !LAST_ONLY;
                }
            }
            let ip_len = seg.len() - 14;
            if offload.ipv6 {
                let payload_len = (ip_len - ipv6::HEADER_LEN) as u16;
                seg[18..20].copy_from_slice(&payload_len.to_be_bytes());
            } else {
                let mut ip = ipv4::Packet::new_unchecked(&mut seg[14..l4]);
                ip.set_total_len(ip_len as u16);
                ip.fill_checksum();
            }
            let l4_len = seg.len() - l4;
            let (at, protocol) = if offload.udp {
                (l4 + UDP_CHECKSUM_AT, passt_core::wire::IpProtocol::Udp)
            } else {
                (l4 + TCP_CHECKSUM_AT, passt_core::wire::IpProtocol::Tcp)
            };
            let field = if offload.checksum_partial {
                // The field holds the pseudo-header sum for the whole payload: swap
                // the length in it for this segment's (one's-complement arithmetic,
                // as `tcp_gso_segment` does), then sum over header and payload.
                let written = u16::from_be_bytes([seg[at], seg[at + 1]]);
                let old_len = (frame.len() - l4) as u16;
                checksum::fold(u64::from(written) + u64::from(!old_len) + l4_len as u64)
            } else {
                // A complete checksum: recomputed from scratch for each segment.
                let (src, dst) = addresses(&seg, offload.ipv6);
                checksum::fold(passt_core::wire::ip::pseudo_header(
                    src, dst, protocol, l4_len,
                ))
            };
            seg[at..at + 2].copy_from_slice(&field.to_be_bytes());
            let mut sum = checksum::checksum(&seg[l4..]);
            if offload.udp && sum == 0 {
                sum = 0xffff; // RFC 768: a computed zero is sent as all ones
            }
            seg[at..at + 2].copy_from_slice(&sum.to_be_bytes());
            seg
        })
        .collect()
}

/// Where `frame`'s IP header and its size disagree: the length it claims and the one
/// it has, for an IPv4 or IPv6 frame whose IP length field does not describe the
/// rest of the frame. A real link's receiver cannot take such a frame as sent
/// (Linux's IP input drops it, or trims it and loses the tail), so an engine must
/// never write one.
pub fn length_mismatch(frame: &[u8]) -> Option<(usize, usize)> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let (claimed, fixed) = match ethertype {
        0x0800 => (u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]), 0),
        0x86dd => (
            u16::from_be_bytes([*frame.get(18)?, *frame.get(19)?]),
            ipv6::HEADER_LEN,
        ),
        _ => return None,
    };
    let claimed = usize::from(claimed) + fixed;
    let actual = frame.len() - 14;
    (claimed != actual).then_some((claimed, actual))
}

fn addresses(seg: &[u8], v6: bool) -> (core::net::IpAddr, core::net::IpAddr) {
    if v6 {
        let s: [u8; 16] = seg[22..38].try_into().unwrap_or_default();
        let d: [u8; 16] = seg[38..54].try_into().unwrap_or_default();
        (s.into(), d.into())
    } else {
        let s: [u8; 4] = seg[26..30].try_into().unwrap_or_default();
        let d: [u8; 4] = seg[30..34].try_into().unwrap_or_default();
        (s.into(), d.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testbed::{Segment, GUEST_V4, GUEST_V6};
    use passt_core::wire::ethernet::MacAddr;
    use passt_core::wire::tcp::TcpFlags;

    fn frame(v6: bool, payload: usize) -> Vec<u8> {
        let (guest, remote): (core::net::IpAddr, core::net::IpAddr) = if v6 {
            (GUEST_V6.into(), "2001:db8:2::1".parse().unwrap())
        } else {
            (GUEST_V4.into(), "203.0.113.1".parse().unwrap())
        };
        let mut seg = Segment::new(
            (guest, 40000).into(),
            (remote, 80).into(),
            1,
            1,
            TcpFlags::ACK,
        );
        seg.payload = vec![7; payload];
        seg.to_frame(MacAddr([2, 0, 0, 0, 0, 1]))
    }

    #[test]
    fn frames_whose_ip_length_misstates_their_size_are_found() {
        for v6 in [false, true] {
            let mut f = frame(v6, 100);
            assert_eq!(length_mismatch(&f), None, "a well-formed frame (v6 {v6})");
            f.extend_from_slice(&[0; 4]);
            let (claimed, actual) = length_mismatch(&f).expect("a frame with a longer tail");
            assert_eq!(actual, claimed + 4);
            f.truncate(f.len() - 8);
            let (claimed, actual) = length_mismatch(&f).expect("a frame cut short");
            assert_eq!(claimed, actual + 4);
        }
        // Not IP: nothing to check.
        let mut arp = frame(false, 0);
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        arp.push(0);
        assert_eq!(length_mismatch(&arp), None);
    }
}
