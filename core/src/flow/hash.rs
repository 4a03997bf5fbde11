//! SipHash-2-4 (Aumasson & Bernstein), keyed per run so that remote-chosen ports and
//! addresses cannot be crafted into collision chains in the flow index.

/// A SipHash-2-4 hasher over a 128-bit key.
#[derive(Debug, Clone)]
pub struct SipHasher24 {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    length: usize,
}

#[inline]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

impl SipHasher24 {
    /// A hasher keyed with `(k0, k1)`.
    pub fn new(k0: u64, k1: u64) -> Self {
        SipHasher24 {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        sipround(&mut self.v);
        sipround(&mut self.v);
        self.v[0] ^= m;
    }

    /// Feed bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len());
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    /// The 64-bit digest.
    pub fn finish(mut self) -> u64 {
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        self.compress(b);
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            sipround(&mut self.v);
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

/// Expand a 64-bit seed into a 128-bit key (SplitMix64 steps), so that nearby seeds
/// give unrelated keys.
pub fn key_from_seed(seed: u64) -> (u64, u64) {
    fn splitmix(x: &mut u64) -> u64 {
        *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let mut s = seed;
    (splitmix(&mut s), splitmix(&mut s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated)]
    fn matches_std_siphash24() {
        use core::hash::Hasher;
        let (k0, k1) = key_from_seed(42);
        for len in 0..40 {
            let data: std::vec::Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut oracle = std::hash::SipHasher::new_with_keys(k0, k1);
            oracle.write(&data);
            let mut ours = SipHasher24::new(k0, k1);
            // Feed in two uneven pieces: the digest must not depend on the split.
            ours.write(&data[..len / 3]);
            ours.write(&data[len / 3..]);
            assert_eq!(ours.finish(), oracle.finish(), "length {len}");
        }
    }

    #[test]
    fn keys_change_digest() {
        let mut a = SipHasher24::new(1, 2);
        a.write(b"flow");
        let mut b = SipHasher24::new(1, 3);
        b.write(b"flow");
        assert_ne!(a.finish(), b.finish());
        assert_ne!(key_from_seed(0), key_from_seed(1));
    }
}
