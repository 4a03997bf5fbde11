//! Feature negotiation (virtio 1.2 §2.2, §5.1.3): what the device offers, and what an
//! accepted set means for the queues and for the engine's offloads.

use passt_core::config::Offload;
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_net::{
    VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
    VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6, VIRTIO_NET_F_HOST_TSO4,
    VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_MRG_RXBUF,
};
use virtio_bindings::virtio_ring::{VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC};

/// Largest TCP payload in one super-frame handed to the guest: the IPv4 total length
/// is 16 bits (RFC 791 §3.1), so 65535 − 20 (IPv4) − 20 (TCP); IPv6 fits as well.
pub const TSO_MAX_PAYLOAD: u16 = 65_495;

/// Most payload bytes of one run of UDP datagrams handed to the guest (cut apart by
/// `GSO_UDP_L4`): what one IPv4 datagram carries (65 535 less the IPv4 and UDP headers).
pub const USO_MAX_PAYLOAD: u16 = 65_507;

const fn bit(n: u32) -> u64 {
    1 << n
}

/// The offloads among [`OFFERED`]: partial checksums, TCP super-frames and UDP runs,
/// both ways. A driver that handles them all (Linux 6.2+) accepts exactly these.
pub const OFFLOADS: u64 = bit(VIRTIO_NET_F_CSUM)
    | bit(VIRTIO_NET_F_GUEST_CSUM)
    | bit(VIRTIO_NET_F_HOST_TSO4)
    | bit(VIRTIO_NET_F_HOST_TSO6)
    | bit(VIRTIO_NET_F_GUEST_TSO4)
    | bit(VIRTIO_NET_F_GUEST_TSO6)
    | bit(VIRTIO_NET_F_GUEST_USO4)
    | bit(VIRTIO_NET_F_GUEST_USO6);

/// The features the device offers. `VIRTIO_F_VERSION_1` is required (a legacy
/// driver is refused, as upstream passt does); the rest are taken if the driver
/// accepts them:
/// - `MRG_RXBUF`: a frame to the guest may span several receive buffers;
/// - `EVENT_IDX`, `INDIRECT_DESC`: notification suppression and indirect tables;
/// - `CSUM`, `HOST_TSO4/6`: the guest may send partial checksums and TCP super-frames;
/// - `GUEST_CSUM`, `GUEST_TSO4/6`: we may send it the same;
/// - `GUEST_USO4/6`: we may send it runs of UDP datagrams as one frame (Linux 6.2+
///   drivers take them; a front end that does not know the bits never passes them on).
pub const OFFERED: u64 = bit(VIRTIO_F_VERSION_1)
    | bit(VIRTIO_NET_F_MRG_RXBUF)
    | bit(VIRTIO_RING_F_EVENT_IDX)
    | bit(VIRTIO_RING_F_INDIRECT_DESC)
    | OFFLOADS;

/// Why a driver's feature set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureError {
    /// Bits we never offered.
    NotOffered(u64),
    /// No `VIRTIO_F_VERSION_1`: a legacy driver.
    Legacy,
}

impl core::fmt::Display for FeatureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FeatureError::NotOffered(bits) => write!(f, "features {bits:#x} were not offered"),
            FeatureError::Legacy => {
                f.write_str("legacy (pre-virtio 1.0) drivers are not supported")
            }
        }
    }
}

/// A feature set the driver accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated(u64);

impl Negotiated {
    /// Check the driver's accepted bits (`virtio_bits`, without transport bits such
    /// as vhost-user's `PROTOCOL_FEATURES`) against what we offered.
    pub fn new(virtio_bits: u64) -> Result<Negotiated, FeatureError> {
        let extra = virtio_bits & !OFFERED;
        if extra != 0 {
            return Err(FeatureError::NotOffered(extra));
        }
        if virtio_bits & bit(VIRTIO_F_VERSION_1) == 0 {
            return Err(FeatureError::Legacy);
        }
        Ok(Negotiated(virtio_bits))
    }

    /// The accepted bits.
    pub fn bits(self) -> u64 {
        self.0
    }

    fn has(self, n: u32) -> bool {
        self.0 & bit(n) != 0
    }

    /// Frames to the guest may span several receive buffers (`num_buffers`).
    pub fn mergeable_rx(self) -> bool {
        self.has(VIRTIO_NET_F_MRG_RXBUF)
    }

    /// Both rings use `used_event`/`avail_event` (virtio 1.2 §2.7.10).
    pub fn event_idx(self) -> bool {
        self.has(VIRTIO_RING_F_EVENT_IDX)
    }

    /// Length of the header in front of every frame: with `VERSION_1` it always has
    /// `num_buffers` (virtio 1.2 §5.1.6).
    pub fn header_len(self) -> usize {
        crate::hdr::LEN_MRG
    }

    /// What the engine may hand the guest: partial checksums with `GUEST_CSUM`, TCP
    /// super-frames when the guest also takes TSO for both IPv4 and IPv6, runs of UDP
    /// datagrams when it takes USO for both (the engine has one limit for both
    /// families). Both need partial checksums (virtio 1.2 §5.1.6.4.1: a GSO frame has
    /// `NEEDS_CSUM`).
    pub fn engine_offload(self) -> Offload {
        let csum = self.has(VIRTIO_NET_F_GUEST_CSUM);
        let both = |v4, v6| csum && self.has(v4) && self.has(v6);
        let tso = both(VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6);
        let uso = both(VIRTIO_NET_F_GUEST_USO4, VIRTIO_NET_F_GUEST_USO6);
        Offload {
            tcp_segment_max: if tso { TSO_MAX_PAYLOAD } else { 0 },
            tcp_checksum: csum,
            direct_peek: false,
            udp_segment_max: if uso { USO_MAX_PAYLOAD } else { 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_modern_driver_with_every_offload_gets_super_frames_and_partial_checksums() {
        let n = Negotiated::new(OFFERED).unwrap();
        assert!(n.mergeable_rx() && n.event_idx());
        assert_eq!(n.header_len(), 12);
        assert_eq!(
            n.engine_offload(),
            Offload {
                tcp_segment_max: TSO_MAX_PAYLOAD,
                tcp_checksum: true,
                direct_peek: false,
                udp_segment_max: USO_MAX_PAYLOAD,
            }
        );
    }

    #[test]
    fn offloads_follow_what_the_guest_takes() {
        let v1 = bit(VIRTIO_F_VERSION_1);
        let plain = Negotiated::new(v1).unwrap();
        assert_eq!(plain.engine_offload(), Offload::default());
        let csum = Negotiated::new(v1 | bit(VIRTIO_NET_F_GUEST_CSUM)).unwrap();
        assert_eq!(
            csum.engine_offload(),
            Offload {
                tcp_segment_max: 0,
                tcp_checksum: true,
                direct_peek: false,
                udp_segment_max: 0,
            }
        );
        let tso4_only = v1 | bit(VIRTIO_NET_F_GUEST_CSUM) | bit(VIRTIO_NET_F_GUEST_TSO4);
        assert_eq!(
            Negotiated::new(tso4_only)
                .unwrap()
                .engine_offload()
                .tcp_segment_max,
            0
        );
        let uso = bit(VIRTIO_NET_F_GUEST_USO4) | bit(VIRTIO_NET_F_GUEST_USO6);
        let runs = |bits| {
            Negotiated::new(v1 | bits)
                .unwrap()
                .engine_offload()
                .udp_segment_max
        };
        assert_eq!(runs(bit(VIRTIO_NET_F_GUEST_CSUM) | uso), USO_MAX_PAYLOAD);
        assert_eq!(runs(uso), 0, "no runs without partial checksums");
        assert_eq!(
            runs(bit(VIRTIO_NET_F_GUEST_CSUM) | bit(VIRTIO_NET_F_GUEST_USO4)),
            0,
            "nor for one family only"
        );
    }

    #[test]
    fn legacy_drivers_and_unoffered_bits_are_refused() {
        assert_eq!(Negotiated::new(0), Err(FeatureError::Legacy));
        let ring_reset = bit(virtio_bindings::virtio_config::VIRTIO_F_RING_RESET);
        assert_eq!(
            Negotiated::new(OFFERED | ring_reset),
            Err(FeatureError::NotOffered(ring_reset))
        );
    }
}
