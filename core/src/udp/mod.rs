//! The tap-side UDP translator (passt-reference §4.1–§4.3; RFC 768).
//!
//! A flow per guest 4-tuple:
//! - guest → host: the first datagram of a 4-tuple opens a host socket bound to the
//!   guest's source port where the host allows it (an ephemeral port otherwise) and
//!   connected to the destination (after NAT, [`crate::fwd::target_from_guest`]:
//!   DNS forwarding, the host-loopback and guest-address stand-ins). Payloads go from
//!   the frame straight into the socket; replies come back on it.
//! - host → guest: a forwarded port (`-u`) is a socket bound on the host; the first
//!   datagram from a sender opens a flow whose replies leave through that same socket,
//!   addressed to the sender.
//! - pasta's loopback bypass (`splice`): a sender on the host's loopback (`-u`) or on
//!   the namespace's (`-U`) is joined socket to socket with the other side.
//!
//! Zero-length datagrams are datagrams like any other, in both directions. A flow idle
//! for [`IDLE_TIMEOUT`] in both directions is closed. Readiness is edge-triggered: a
//! socket is drained until it would block, at most [`MAX_DATAGRAMS_PER_EVENT`] at a
//! time, after which the engine re-arms the socket's watch so the rest is reported
//! again instead of starving everything else.

pub mod flow;
mod guest;
mod host;
mod listen;
mod runtime;
mod splice;

pub use flow::{UdpFlow, UdpPath, IDLE_TIMEOUT};
pub(crate) use guest::{from_guest, Datagram};
pub(crate) use host::{on_socket, on_timer};
pub(crate) use listen::{start_listeners, update_auto};
pub(crate) use runtime::{add_ranges, close_range};

use crate::engine::{Engine, Flow};
use crate::flow::{FlowId, FlowKey, InsertError, Pif, Side};
use crate::frame::{self, Link};
use crate::io::{Host, Op, TxOffload};
use crate::sockref::{SockKind, SockRef};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{checksum, ip, put_u16, udp, IpProtocol};
use core::net::IpAddr;

/// Most datagrams read from one socket per readiness event.
pub const MAX_DATAGRAMS_PER_EVENT: usize = 64;

/// Offset of the checksum field in the UDP header (RFC 768).
const CHECKSUM_AT: usize = 6;

/// Largest UDP payload a frame for `addr`'s family can carry: the 16-bit IPv4 total
/// length (RFC 791) or the 16-bit UDP length (RFC 768) bound it.
pub fn max_payload(addr: &IpAddr) -> usize {
    match addr {
        IpAddr::V4(_) => usize::from(u16::MAX) - crate::wire::ipv4::HEADER_LEN - udp::HEADER_LEN,
        IpAddr::V6(_) => udp::MAX_PAYLOAD_LEN,
    }
}

/// Where the payload of a datagram to the guest on `key` goes in the frame.
pub fn payload_offset(key: &FlowKey) -> usize {
    frame::upper_offset(&key.our_addr) + udp::HEADER_LEN
}

/// Write the UDP header of a `payload_len`-byte message from our side of `key`, its
/// checksum field set to `checksum`; returns the UDP length, or `None` if it does not
/// fit `out` or 16 bits.
fn write_header(out: &mut [u8], key: &FlowKey, payload_len: usize, checksum: u16) -> Option<usize> {
    let start = frame::upper_offset(&key.our_addr);
    let len = udp::HEADER_LEN.checked_add(payload_len)?;
    let header = out.get_mut(start..start + udp::HEADER_LEN)?;
    put_u16(header, 0, key.our_port);
    put_u16(header, 2, key.endpoint_port);
    put_u16(header, 4, u16::try_from(len).ok()?);
    put_u16(header, CHECKSUM_AT, checksum);
    Some(len)
}

/// Write a datagram from our side of the tap-side `key` to the guest: its
/// `payload_len` bytes must already be at [`payload_offset`]. Returns the frame length,
/// or `None` if it does not fit `out` or IP's limits.
pub fn write_datagram(
    out: &mut [u8],
    link: Link,
    key: &FlowKey,
    payload_len: usize,
) -> Option<usize> {
    let len = write_header(out, key, payload_len, 0)?;
    // RFC 768: the checksum covers the pseudo-header; `finish` computes it (and sends
    // a computed zero as all ones).
    frame::finish(
        out,
        link,
        key.our_addr,
        key.endpoint_addr,
        IpProtocol::Udp,
        len,
        Some(CHECKSUM_AT),
    )
}

/// Write the headers of a run of `payload_len` bytes of datagrams (already at
/// [`payload_offset`], each `segment` bytes but the last) from our side of `key`, for
/// a link that cuts them apart ([`TxOffload::udp`]): the UDP length covers the whole
/// run and the checksum field holds the folded, uncomplemented pseudo-header sum over
/// that length, which the link adjusts for each datagram and completes (as Linux's
/// `udp4_hwcsum` leaves it for `__udp_gso_segment`). Returns the frame length and
/// the offload, or `None` if the run does not fit `out` or IP's limits.
pub fn write_datagram_run(
    out: &mut [u8],
    link: Link,
    key: &FlowKey,
    segment: usize,
    payload_len: usize,
) -> Option<(usize, TxOffload)> {
    let start = frame::upper_offset(&key.our_addr);
    let len = udp::HEADER_LEN.checked_add(payload_len)?;
    let pseudo = ip::pseudo_header(key.our_addr, key.endpoint_addr, IpProtocol::Udp, len);
    write_header(out, key, payload_len, checksum::fold(pseudo))?;
    let frame_len = frame::finish(
        out,
        link,
        key.our_addr,
        key.endpoint_addr,
        IpProtocol::Udp,
        len,
        None,
    )?;
    let offload = TxOffload {
        l4_offset: u16::try_from(start).ok()?,
        header_len: u16::try_from(start + udp::HEADER_LEN).ok()?,
        mss: u16::try_from(segment).ok()?,
        ipv6: key.our_addr.is_ipv6(),
        checksum_partial: true,
        udp: true,
    };
    Some((frame_len, offload))
}

/// The socket handle of flow `id`'s own socket.
fn sock_of(id: FlowId) -> SockRef {
    SockRef::new(
        SockKind::UdpFlow,
        Side::Target as u8,
        id.generation,
        id.slot,
    )
}

/// The tap-side key of a flow and a copy of its record.
fn load(e: &Engine<'_>, id: FlowId) -> Option<(FlowKey, UdpFlow)> {
    let Some(Flow::Udp(f)) = e.flows.get(id) else {
        return None;
    };
    let key = Side::BOTH
        .iter()
        .find_map(|s| e.flows.key(id, *s).filter(|k| k.pif == Pif::Tap))?;
    Some((*key, *f))
}

/// Take a flow slot for `key` (its record is filled in once its socket is open): a
/// full table refuses politely — the datagram is lost, and counted.
fn reserve(e: &mut Engine<'_>, now: Instant, key: FlowKey) -> Option<FlowId> {
    let placeholder = UdpFlow {
        path: UdpPath::Socket(sock_of(FlowId {
            slot: 0,
            generation: 0,
        })),
        last_activity: now,
    };
    match e.flows.insert(Flow::Udp(placeholder), [Some(key), None]) {
        Ok(id) => Some(id),
        Err(InsertError::Full) => {
            e.stats.record_drop(DropReason::FlowTableFull);
            None
        }
        Err(_) => {
            e.stats.record_drop(DropReason::BadAddress);
            None
        }
    }
}

/// Write a flow record back and fold its deadline into the engine's.
fn store(e: &mut Engine<'_>, id: FlowId, f: UdpFlow) {
    if let Some(at) = f.next_deadline() {
        e.note_deadline(at);
    }
    if let Some(Flow::Udp(slot)) = e.flows.get_mut(id) {
        *slot = f;
    }
}

/// Close a flow's own socket and free its slot.
fn destroy<H: Host>(e: &mut Engine<'_>, id: FlowId, f: &UdpFlow, host: &mut H) {
    if let Some(sock) = f.own_socket() {
        host.exec(Op::Close { sock, abort: false });
    }
    e.flows.remove(id);
    e.stats.udp_closed += 1;
}

/// Frame the `len`-byte payload already at [`payload_offset`] of `key` and send it to
/// the guest.
fn to_guest<H: Host>(e: &mut Engine<'_>, key: &FlowKey, len: usize, host: &mut H) {
    let link = e.guest_link();
    match write_datagram(&mut e.tx, link, key, len) {
        Some(frame_len) => {
            e.stats.udp_datagrams_to_guest += 1;
            e.transmit(frame_len, host);
        }
        None => e.stats.record_drop(DropReason::DatagramTooBig),
    }
}

/// Frame the run of `run.bytes` payload bytes at [`payload_offset`] of `key` and send
/// it to the guest: one datagram as it is, more as one frame the link cuts apart.
fn run_to_guest<H: Host>(e: &mut Engine<'_>, key: &FlowKey, run: &Run, host: &mut H) {
    match run.count {
        0 => return,
        1 => return to_guest(e, key, run.bytes, host),
        _ => {}
    }
    let link = e.guest_link();
    match write_datagram_run(&mut e.tx, link, key, run.segment, run.bytes) {
        Some((frame_len, offload)) => {
            e.stats.udp_datagrams_to_guest += run.count as u64;
            e.stats.udp_runs_to_guest += 1;
            e.transmit_offload(frame_len, offload, host);
        }
        None => e.stats.record_drop(DropReason::DatagramTooBig),
    }
}

/// Datagrams of one flow read back to back into the transmit buffer, to leave as one
/// frame (UDP segmentation offload, [`crate::config::Offload::udp_segment_max`]).
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    /// Size of the first datagram: every one but the last has it.
    segment: usize,
    /// Datagrams in the run.
    count: usize,
    /// Their payload bytes, back to back.
    bytes: usize,
}

/// Most datagrams one offloaded frame carries (Linux's `UDP_MAX_SEGMENTS`).
const MAX_RUN: usize = 64;

impl Run {
    /// Whether a next datagram of `len` bytes may join the run.
    fn takes(&self, len: usize, max_bytes: usize) -> bool {
        self.count > 0
            && len > 0
            && len <= self.segment
            && self.bytes + len <= max_bytes
            && self.count < MAX_RUN
    }

    /// Add a `len`-byte datagram (the first of a run, or one it [`takes`](Self::takes)).
    fn add(&mut self, len: usize) {
        if self.count == 0 {
            self.segment = len;
        }
        self.count += 1;
        self.bytes += len;
    }

    /// Whether nothing more can join, having just added a `last`-byte datagram and
    /// with `room` bytes left after the run for the next read of up to `max_read`
    /// (always, with runs off: `max_bytes` 0).
    fn closed(&self, last: usize, max_bytes: usize, room: usize, max_read: usize) -> bool {
        self.segment == 0
            || last < self.segment
            || self.bytes + self.segment > max_bytes
            || self.count >= MAX_RUN
            || room < max_read
    }
}

/// Whether `a` can be a flow's unicast end on the tap link.
pub(crate) fn is_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || v4.is_loopback())
        }
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast() || v6.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ethernet::MacAddr;
    use crate::wire::ip;
    use core::net::Ipv4Addr;

    const LINK: Link = Link {
        src: MacAddr::PASST_DEFAULT,
        dst: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
    };

    fn key() -> FlowKey {
        FlowKey {
            pif: Pif::Tap,
            protocol: IpProtocol::Udp,
            our_addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            our_port: 53,
            endpoint_addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            endpoint_port: 40000,
        }
    }

    #[test]
    fn datagram_wraps_payload_in_place() {
        let mut out = [0u8; 128];
        let k = key();
        let off = payload_offset(&k);
        assert_eq!(off, 42);
        out[off..off + 3].copy_from_slice(b"dns");
        let len = write_datagram(&mut out, LINK, &k, 3).unwrap();
        assert_eq!(len, 45);
        let udp = &out[34..len];
        assert_eq!(&udp[..6], &[0, 53, 0x9c, 0x40, 0, 11]);
        assert!(ip::upper_layer_checksum_ok(
            k.our_addr,
            k.endpoint_addr,
            IpProtocol::Udp,
            udp
        ));
        assert_eq!(&out[off..len], b"dns");
    }

    #[test]
    fn zero_length_datagram_is_just_a_header() {
        let mut out = [0u8; 64];
        let len = write_datagram(&mut out, LINK, &key(), 0).unwrap();
        assert_eq!(len, 42);
        assert_eq!(&out[38..40], &[0, 8], "UDP length 8: header only");
        assert_eq!(write_datagram(&mut out[..40], LINK, &key(), 0), None);
    }

    #[test]
    fn payload_limits_follow_the_length_fields() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(core::net::Ipv6Addr::LOCALHOST);
        assert_eq!(max_payload(&v4), 65507);
        assert_eq!(max_payload(&v6), 65527);
    }
}
