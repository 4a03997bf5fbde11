//! The Internet checksum (RFC 1071) with incremental update (RFC 1624).
//!
//! Sums are kept as unfolded `u32`/`u64` partial sums so that pieces (pseudo-header,
//! header, payload chunks of any length and alignment) can be added in any order.
//! [`Accumulator`] tracks whether the bytes fed so far had odd length, so a chunk that
//! starts at an odd offset of the covered data is summed with its bytes swapped
//! (RFC 1071 §2(B): byte-order independence), which keeps the result correct whatever
//! the split points are.

use core::net::{Ipv4Addr, Ipv6Addr};

/// One's-complement sum of `data` as big-endian 16-bit words, unfolded.
/// A trailing odd byte is padded with zero on the right (RFC 1071 §4.1).
pub fn sum(data: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Two 32-bit big-endian words at once: carries accumulate in the top bits.
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Fold an unfolded sum to 16 bits (end-around carry).
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for data whose unfolded sum is `acc`.
pub fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// Checksum of a self-contained buffer (IPv4 header, ICMPv4 message).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Unfolded sum of the IPv4 pseudo-header (RFC 793 §3.1, RFC 768).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u64 {
    sum(&src.octets()) + sum(&dst.octets()) + u64::from(protocol) + u64::from(length)
}

/// Unfolded sum of the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u64 {
    sum(&src.octets())
        + sum(&dst.octets())
        + u64::from(length >> 16)
        + u64::from(length & 0xffff)
        + u64::from(next_header)
}

/// Incrementally update `old_checksum` after one 16-bit word of the covered data
/// changed from `old_word` to `new_word` (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let acc = u64::from(!old_checksum) + u64::from(!old_word) + u64::from(new_word);
    !fold(acc)
}

/// Streaming checksum over chunks of arbitrary length and alignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accumulator {
    acc: u64,
    odd: bool,
}

impl Accumulator {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Accumulator { acc: 0, odd: false }
    }

    /// Start from an unfolded partial sum (e.g. a pseudo-header); must be even-aligned.
    pub const fn with_sum(acc: u64) -> Self {
        Accumulator { acc, odd: false }
    }

    /// Add the next chunk of covered bytes.
    pub fn add(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let s = fold(sum(chunk));
        // A chunk starting at an odd offset has its bytes in the "other" lane:
        // summing it normally and swapping the folded result is equivalent.
        self.acc += u64::from(if self.odd { s.swap_bytes() } else { s });
        self.odd ^= chunk.len() % 2 == 1;
    }

    /// The checksum field value.
    pub fn finish(&self) -> u16 {
        finish(self.acc)
    }

    /// The folded (not complemented) sum so far.
    pub fn folded(&self) -> u16 {
        fold(self.acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 worked example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn real_ipv4_header_verifies() {
        // IPv4 header of a captured ICMP echo, checksum 0xb861 in place.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0);
        let mut zeroed = hdr;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), 0xb861);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(&[0x12])), 0x1200);
        assert_eq!(fold(sum(&[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    proptest! {
        #[test]
        fn accumulator_matches_one_shot(data in proptest::collection::vec(any::<u8>(), 0..300),
                                        cuts in proptest::collection::vec(0usize..300, 0..6)) {
            let mut cuts: std::vec::Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut acc = Accumulator::new();
            let mut start = 0;
            for c in cuts {
                acc.add(&data[start..c]);
                start = c;
            }
            acc.add(&data[start..]);
            prop_assert_eq!(acc.finish(), checksum(&data));
        }

        #[test]
        fn incremental_update_matches_recompute(mut data in proptest::collection::vec(any::<u8>(), 2..64),
                                                idx in 0usize..32, new_word in any::<u16>()) {
            let len = data.len() & !1;
            let at = (idx * 2) % len;
            let before = checksum(&data[..len]);
            let old_word = u16::from_be_bytes([data[at], data[at + 1]]);
            data[at..at + 2].copy_from_slice(&new_word.to_be_bytes());
            let after = checksum(&data[..len]);
            // 0x0000 and 0xffff are the same value in one's complement.
            let upd = update(before, old_word, new_word);
            prop_assert!(upd == after || (upd == 0xffff && after == 0) || (upd == 0 && after == 0xffff));
        }
    }
}
