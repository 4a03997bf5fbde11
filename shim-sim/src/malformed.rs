//! Malformed frames, generated from the simulator's generator for `malformed COUNT`.
//!
//! A deliberate mix, every frame defective *by construction* so that any correct engine
//! must drop it (and count the drop) without answering:
//! - random bytes of random length (0–1600), with the EtherType steered away from
//!   ARP/IPv4/IPv6;
//! - Ethernet frames shorter than the 14-byte header;
//! - multicast or all-zero source MACs, carrying otherwise valid ARP requests;
//! - EtherTypes nobody handles (VLAN tags, LLDP, 802.3 lengths, …);
//! - ARP with wrong hardware/protocol types or lengths, truncated, or replies;
//! - IPv4 headers that lie: wrong version, IHL below 5, total length beyond the frame or
//!   shorter than the header, truncated headers, fragments;
//! - IPv6 headers that lie: wrong version, truncated, payload length beyond the frame,
//!   fragment headers, "no next header", extension headers running past the end;
//! - valid IP headers around UDP/TCP/ICMP headers that lie (UDP length, TCP data
//!   offset, truncated ICMP).
//!
//! IPv4 header checksums are always correct, so the checksum is never the only defect.

use crate::rng::Rng;
use passt_core::wire::checksum;

/// EtherTypes the engine does not handle.
const BOGUS_ETHERTYPES: [u16; 10] = [
    0x8100, // 802.1Q VLAN tag
    0x88a8, // 802.1ad QinQ
    0x88cc, // LLDP
    0x0000, // 802.3 length 0
    0x05dc, // 802.3 length 1500
    0x86de, // one off IPv6
    0x0805, // X.25 (one off ARP)
    0x0801, // one off IPv4
    0x9000, // loopback test
    0xffff, // reserved
];

/// `count` malformed frames.
pub fn generate(rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|_| frame(rng)).collect()
}

/// One malformed frame of a randomly chosen kind.
pub fn frame(rng: &mut Rng) -> Vec<u8> {
    match rng.below(9) {
        0 => random_bytes(rng),
        1 => truncated_ethernet(rng),
        2 => bad_source(rng),
        3 => bogus_ethertype(rng),
        4 => bad_arp(rng),
        5 => lying_ipv4(rng),
        6 => lying_ipv6(rng),
        7 => lying_l4_over_ipv4(rng),
        _ => lying_l4_over_ipv6(rng),
    }
}

/// A unicast MAC that is not all-zero (locally administered).
fn unicast_mac(rng: &mut Rng) -> [u8; 6] {
    let mut m = [0u8; 6];
    rng.fill(&mut m);
    m[0] = (m[0] & 0xfc) | 0x02;
    m
}

fn ethernet(rng: &mut Rng, src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let dst = if rng.chance(1, 2) {
        [0xff; 6]
    } else {
        [0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]
    };
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.range(0, 1600);
    let mut f = rng.bytes(len);
    if let Some(t) = f.get_mut(12..14) {
        if matches!(u16::from_be_bytes([t[0], t[1]]), 0x0800 | 0x0806 | 0x86dd) {
            t[0] ^= 0x01; // now 0x0900, 0x0906 or 0x87dd: nobody's protocol
        }
    }
    f
}

fn truncated_ethernet(rng: &mut Rng) -> Vec<u8> {
    let len = rng.range(0, 13);
    rng.bytes(len)
}

/// A valid ARP request payload: who-has 198.51.100.1 tell 198.51.100.2.
fn arp_request(sha: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01];
    p.extend_from_slice(&sha);
    p.extend_from_slice(&[198, 51, 100, 2]);
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&[198, 51, 100, 1]);
    p
}

fn bad_source(rng: &mut Rng) -> Vec<u8> {
    let src = if rng.chance(1, 4) {
        [0; 6]
    } else {
        let mut m = [0u8; 6];
        rng.fill(&mut m);
        m[0] |= 0x01; // group bit: multicast or broadcast
        m
    };
    let payload = arp_request(src);
    ethernet(rng, src, 0x0806, &payload)
}

fn bogus_ethertype(rng: &mut Rng) -> Vec<u8> {
    let t = *rng.pick(&BOGUS_ETHERTYPES).unwrap_or(&0xffff);
    let len = rng.range(0, 200);
    let payload = rng.bytes(len);
    let src = unicast_mac(rng);
    ethernet(rng, src, t, &payload)
}

fn bad_arp(rng: &mut Rng) -> Vec<u8> {
    let src = unicast_mac(rng);
    let mut p = arp_request(src);
    match rng.below(6) {
        0 => p[1] = 6,                     // hardware type 6 (IEEE 802)
        1 => p[2] = 0x86,                  // protocol type 0x86dd
        2 => p[4] = 8,                     // hardware address length 8
        3 => p[5] = 16,                    // protocol address length 16
        4 => p.truncate(rng.range(0, 27)), // shorter than 28 bytes
        _ => p[7] = 2,                     // a reply: never answered
    }
    ethernet(rng, src, 0x0806, &p)
}

/// A 20-byte IPv4 header with a correct checksum.
fn ipv4_header(rng: &mut Rng, protocol: u8, total_len: u16) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45; // version 4, IHL 5
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[4..6].copy_from_slice(&(rng.next_u64() as u16).to_be_bytes()); // identification
    h[6] = 0x40; // DF, offset 0
    h[8] = 64; // TTL
    h[9] = protocol;
    h[12..16].copy_from_slice(&[198, 51, 100, 2]);
    h[16..20].copy_from_slice(&[203, 0, 113, rng.byte().max(1)]);
    fix_ipv4_checksum(&mut h);
    h
}

fn fix_ipv4_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let c = checksum::checksum(h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
}

fn lying_ipv4(rng: &mut Rng) -> Vec<u8> {
    let body_len = rng.range(0, 64);
    let body = rng.bytes(body_len);
    let honest_len = (20 + body_len) as u16;
    let mut h = ipv4_header(rng, 17, honest_len);
    let mut p: Vec<u8>;
    match rng.below(6) {
        0 => {
            // Wrong version (anything but 4).
            h[0] = (((rng.below(15) as u8) + 5) % 16) << 4 | 5;
            fix_ipv4_checksum(&mut h);
        }
        1 => {
            // IHL below the 5-word minimum.
            h[0] = 0x40 | rng.below(5) as u8;
            fix_ipv4_checksum(&mut h);
        }
        2 => {
            // Total length beyond the end of the frame.
            let lie = honest_len.saturating_add(1 + rng.below(1000) as u16);
            h[2..4].copy_from_slice(&lie.to_be_bytes());
            fix_ipv4_checksum(&mut h);
        }
        3 => {
            // Total length shorter than the header itself.
            h[2..4].copy_from_slice(&(rng.below(20) as u16).to_be_bytes());
            fix_ipv4_checksum(&mut h);
        }
        4 => {
            // Fragment: MF set, or a non-zero offset.
            let frag = if rng.chance(1, 2) {
                0x2000
            } else {
                1 + rng.below(0x1fff) as u16
            };
            h[6..8].copy_from_slice(&frag.to_be_bytes());
            fix_ipv4_checksum(&mut h);
        }
        _ => {
            // Header cut short.
            p = h[..rng.range(0, 19)].to_vec();
            let src = unicast_mac(rng);
            return ethernet(rng, src, 0x0800, &p);
        }
    }
    p = h.to_vec();
    p.extend_from_slice(&body);
    let src = unicast_mac(rng);
    ethernet(rng, src, 0x0800, &p)
}

/// A 40-byte IPv6 header from the guest's link-local address to 2001:db8::1.
fn ipv6_header(next_header: u8, payload_len: u16) -> [u8; 40] {
    let mut h = [0u8; 40];
    h[0] = 0x60; // version 6
    h[4..6].copy_from_slice(&payload_len.to_be_bytes());
    h[6] = next_header;
    h[7] = 64; // hop limit
    h[8..24].copy_from_slice(&crate::frames::GUEST_LL.octets());
    h[24] = 0x20;
    h[25] = 0x01;
    h[26] = 0x0d;
    h[27] = 0xb8;
    h[39] = 1;
    h
}

fn lying_ipv6(rng: &mut Rng) -> Vec<u8> {
    let body_len = rng.range(8, 64);
    let mut body = rng.bytes(body_len);
    let mut next = 17;
    let mut payload_len = body_len as u16;
    let mut version_lie = false;
    match rng.below(6) {
        0 => version_lie = true,
        1 => {
            // Header cut short.
            let h = ipv6_header(17, 0);
            let cut = h[..rng.range(0, 39)].to_vec();
            let src = unicast_mac(rng);
            return ethernet(rng, src, 0x86dd, &cut);
        }
        2 => payload_len = payload_len.saturating_add(1 + rng.below(1000) as u16),
        3 => {
            // Fragment header (RFC 8200 §4.5): next header UDP, offset 0, M set.
            next = 44;
            body[0] = 17;
            body[1] = 0;
            body[2..4].copy_from_slice(&1u16.to_be_bytes());
        }
        4 => next = 59, // No Next Header with bytes after it
        _ => {
            // Destination Options header whose length runs past the end.
            next = 60;
            body[0] = 17;
            body[1] = (body_len / 8 + 1 + rng.below(8) as usize) as u8;
        }
    }
    let mut h = ipv6_header(next, payload_len);
    if version_lie {
        h[0] = (((rng.below(15) as u8) + 7) % 16) << 4;
    }
    let mut p = h.to_vec();
    p.extend_from_slice(&body);
    let src = unicast_mac(rng);
    ethernet(rng, src, 0x86dd, &p)
}

fn lying_l4_over_ipv4(rng: &mut Rng) -> Vec<u8> {
    let (protocol, l4) = lying_l4(rng, 1);
    let mut p = ipv4_header(rng, protocol, (20 + l4.len()) as u16).to_vec();
    p.extend_from_slice(&l4);
    let src = unicast_mac(rng);
    ethernet(rng, src, 0x0800, &p)
}

fn lying_l4_over_ipv6(rng: &mut Rng) -> Vec<u8> {
    let (protocol, l4) = lying_l4(rng, 58);
    let mut p = ipv6_header(protocol, l4.len() as u16).to_vec();
    p.extend_from_slice(&l4);
    let src = unicast_mac(rng);
    ethernet(rng, src, 0x86dd, &p)
}

/// A transport header that lies about its own length, or an ICMP message too short
/// for its header (`icmp` is the ICMP protocol number of the IP version).
fn lying_l4(rng: &mut Rng, icmp: u8) -> (u8, Vec<u8>) {
    match rng.below(4) {
        0 => {
            // UDP length field below 8.
            let len = 8 + rng.range(0, 32);
            let mut u = rng.bytes(len);
            u[4] = 0;
            u[5] = rng.below(8) as u8;
            (17, u)
        }
        1 => {
            // UDP length field beyond the IP payload.
            let len = 8 + rng.range(0, 32);
            let mut u = rng.bytes(len);
            let lie = (len + 1 + rng.range(0, 500)) as u16;
            u[4..6].copy_from_slice(&lie.to_be_bytes());
            (17, u)
        }
        2 => {
            // TCP data offset below 5 words, or beyond the segment (at most 39 bytes,
            // so an offset of 10..=15 words always overshoots).
            let len = 20 + rng.range(0, 19);
            let mut t = rng.bytes(len);
            let words = if rng.chance(1, 2) {
                rng.range(0, 4)
            } else {
                rng.range(len / 4 + 1, 15)
            };
            t[12] = ((words as u8) << 4) | (t[12] & 0x0f);
            (6, t)
        }
        _ => {
            // ICMP shorter than its 4-byte header... or than an echo's 8 bytes.
            let len = rng.range(0, 3);
            (icmp, rng.bytes(len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_varied() {
        let a = generate(&mut Rng::new(5), 300);
        let b = generate(&mut Rng::new(5), 300);
        assert_eq!(a, b);
        assert_ne!(a, generate(&mut Rng::new(6), 300));
        // Every length class shows up: truncated, small, and large frames.
        assert!(a.iter().any(|f| f.len() < 14));
        assert!(a.iter().any(|f| f.len() > 1000));
        assert!(a.iter().all(|f| f.len() <= 1600));
        // Every EtherType the engine handles shows up, disguised as something broken.
        for t in [0x0800u16, 0x0806, 0x86dd] {
            assert!(a
                .iter()
                .any(|f| f.len() >= 14 && u16::from_be_bytes([f[12], f[13]]) == t));
        }
    }

    #[test]
    fn ipv4_headers_keep_valid_checksums() {
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            let f = lying_ipv4(&mut rng);
            if f.len() >= 34 {
                assert_eq!(
                    checksum::checksum(&f[14..34]),
                    0,
                    "{}",
                    crate::hex::encode(&f)
                );
            }
        }
    }

    #[test]
    fn tcp_offsets_always_lie() {
        let mut rng = Rng::new(11);
        for _ in 0..500 {
            let (proto, l4) = lying_l4(&mut rng, 1);
            if proto == 6 {
                let words = usize::from(l4[12] >> 4);
                assert!(
                    words < 5 || words * 4 > l4.len(),
                    "offset {words} len {}",
                    l4.len()
                );
            }
        }
    }
}
