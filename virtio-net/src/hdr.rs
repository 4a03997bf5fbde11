//! The virtio-net header (`struct virtio_net_hdr`, virtio 1.2 §5.1.6) that prefixes
//! every frame on a virtio-net queue and on a tap opened with `IFF_VNET_HDR`:
//! segmentation and checksum offload metadata between the two ends.
//!
//! Its fields are in the device's byte order: little-endian for a virtio 1.0 device
//! (`VIRTIO_F_VERSION_1`), the machine's own for a tap without `TUNSETVNETLE`/`BE`
//! (the legacy convention, `tun16_to_cpu` in drivers/net/tun.c).

use passt_core::io::TxOffload;

/// The byte order of a header's 16-bit fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// The machine's own (a legacy tap).
    Native,
    /// Little-endian (a virtio 1.0 device).
    Little,
}

impl ByteOrder {
    fn get(self, b: [u8; 2]) -> u16 {
        match self {
            ByteOrder::Native => u16::from_ne_bytes(b),
            ByteOrder::Little => u16::from_le_bytes(b),
        }
    }

    fn put(self, v: u16) -> [u8; 2] {
        match self {
            ByteOrder::Native => v.to_ne_bytes(),
            ByteOrder::Little => v.to_le_bytes(),
        }
    }
}

/// Length of `struct virtio_net_hdr` (the tap's default header size).
pub const LEN: usize = 10;
/// Length of `struct virtio_net_hdr_mrg_rxbuf`: the header plus `num_buffers`, what a
/// virtio 1.0 device always uses (virtio 1.2 §5.1.6).
pub const LEN_MRG: usize = 12;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum from `csum_start` to the end is left
/// for the receiver, stored at `csum_start + csum_offset`.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_NONE`.
pub const GSO_NONE: u8 = 0;
/// `VIRTIO_NET_HDR_GSO_TCPV4`: an IPv4 TCP super-frame, to cut at `gso_size`.
pub const GSO_TCPV4: u8 = 1;
/// `VIRTIO_NET_HDR_GSO_TCPV6`: the same over IPv6.
pub const GSO_TCPV6: u8 = 4;
/// `VIRTIO_NET_HDR_GSO_UDP_L4`: a run of UDP datagrams (either IP version) to cut
/// at `gso_size` (virtio 1.2 §5.1.6.2, `VIRTIO_NET_F_HOST_USO`).
pub const GSO_UDP_L4: u8 = 5;

/// A decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` (with `0x80` for ECN).
    pub gso_type: u8,
    /// Length of the headers (Ethernet through TCP).
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where the partial checksum's coverage starts (from the Ethernet header).
    pub csum_start: u16,
    /// Where, from `csum_start`, the checksum field is.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Decode the first [`LEN`] bytes of `b` in byte order `order`; `None` if
    /// shorter.
    pub fn parse(b: &[u8], order: ByteOrder) -> Option<VnetHdr> {
        let b: &[u8; LEN] = b.get(..LEN)?.try_into().ok()?;
        let u16_at = |i: usize| order.get([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    /// Encode in byte order `order`.
    pub fn to_bytes(self, order: ByteOrder) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&order.put(self.hdr_len));
        b[4..6].copy_from_slice(&order.put(self.gso_size));
        b[6..8].copy_from_slice(&order.put(self.csum_start));
        b[8..10].copy_from_slice(&order.put(self.csum_offset));
        b
    }

    /// Encode as a virtio 1.0 device does, with `num_buffers` (little-endian).
    pub fn to_mrg_bytes(self, num_buffers: u16) -> [u8; LEN_MRG] {
        let mut b = [0u8; LEN_MRG];
        b[..LEN].copy_from_slice(&self.to_bytes(ByteOrder::Little));
        b[LEN..].copy_from_slice(&num_buffers.to_le_bytes());
        b
    }

    /// Whether the frame's transport checksum was left for us to complete.
    pub fn checksum_partial(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    /// The header for a frame of `frame_len` bytes the engine sent with `offload`: a
    /// TCP super-frame (payload longer than the MSS) is marked for segmentation at the
    /// MSS, a run of UDP datagrams for cutting at the datagram size, and a partial
    /// checksum for completion.
    pub fn for_offload(frame_len: usize, offload: &TxOffload) -> VnetHdr {
        let payload = frame_len.saturating_sub(usize::from(offload.header_len));
        let segmented = offload.mss > 0 && payload > usize::from(offload.mss);
        // The checksum field: 16 bytes into a TCP header (RFC 9293 §3.1), 6 into a
        // UDP header (RFC 768).
        let checksum_at = if offload.udp { 6 } else { 16 };
        let (flags, csum_start, csum_offset) = if offload.checksum_partial {
            (F_NEEDS_CSUM, offload.l4_offset, checksum_at)
        } else {
            (0, 0, 0)
        };
        VnetHdr {
            flags,
            gso_type: match (segmented, offload.udp, offload.ipv6) {
                (false, _, _) => GSO_NONE,
                (true, true, _) => GSO_UDP_L4,
                (true, false, false) => GSO_TCPV4,
                (true, false, true) => GSO_TCPV6,
            },
            hdr_len: offload.header_len,
            gso_size: if segmented { offload.mss } else { 0 },
            csum_start,
            csum_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offload(ipv6: bool) -> TxOffload {
        TxOffload {
            l4_offset: if ipv6 { 54 } else { 34 },
            header_len: if ipv6 { 74 } else { 54 },
            mss: 1460,
            ipv6,
            checksum_partial: true,
            udp: false,
        }
    }

    #[test]
    fn round_trip() {
        let h = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6,
            hdr_len: 86,
            gso_size: 1428,
            csum_start: 54,
            csum_offset: 16,
        };
        for order in [ByteOrder::Native, ByteOrder::Little] {
            assert_eq!(VnetHdr::parse(&h.to_bytes(order), order), Some(h));
        }
        assert_eq!(VnetHdr::parse(&[0; LEN - 1], ByteOrder::Native), None);
        let mrg = h.to_mrg_bytes(3);
        assert_eq!(
            &mrg[2..4],
            &86u16.to_le_bytes(),
            "virtio 1.0 is little-endian"
        );
        assert_eq!(&mrg[LEN..], &[3, 0]);
        assert!(h.checksum_partial());
        assert!(!VnetHdr::default().checksum_partial());
    }

    #[test]
    fn a_super_frame_is_cut_at_the_mss_and_a_short_one_is_not() {
        let big = VnetHdr::for_offload(54 + 64_000, &offload(false));
        assert_eq!(
            (big.gso_type, big.gso_size, big.hdr_len),
            (GSO_TCPV4, 1460, 54)
        );
        assert_eq!(
            (big.flags, big.csum_start, big.csum_offset),
            (F_NEEDS_CSUM, 34, 16)
        );
        let v6 = VnetHdr::for_offload(74 + 1441 * 2, &offload(true));
        assert_eq!((v6.gso_type, v6.gso_size), (GSO_TCPV6, 1460));
        let one = VnetHdr::for_offload(54 + 1460, &offload(false));
        assert_eq!((one.gso_type, one.gso_size), (GSO_NONE, 0));
        assert!(one.checksum_partial(), "still left to the link");
        let full = VnetHdr::for_offload(
            54 + 100,
            &TxOffload {
                checksum_partial: false,
                udp: false,
                ..offload(false)
            },
        );
        assert_eq!(
            full,
            VnetHdr {
                hdr_len: 54,
                ..VnetHdr::default()
            }
        );
    }

    #[test]
    fn a_run_of_udp_datagrams_is_cut_at_the_datagram_size() {
        let udp = TxOffload {
            header_len: 42,
            mss: 1472,
            udp: true,
            ..offload(false)
        };
        let run = VnetHdr::for_offload(42 + 3 * 1472, &udp);
        assert_eq!(
            (run.gso_type, run.gso_size, run.hdr_len),
            (GSO_UDP_L4, 1472, 42)
        );
        assert_eq!(
            (run.flags, run.csum_start, run.csum_offset),
            (F_NEEDS_CSUM, 34, 6),
            "UDP's checksum field"
        );
        let one = VnetHdr::for_offload(42 + 1472, &udp);
        assert_eq!((one.gso_type, one.gso_size), (GSO_NONE, 0));
    }
}
