//! A set of TCP/UDP ports as a fixed 8 KiB bitmap: what `auto` forwarding found
//! listening, and which ports it has bound.

/// A set of ports 0..=65535.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet {
    bits: [u64; 1024],
}

impl core::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet { bits: [0; 1024] }
    }
}

impl PortSet {
    /// The empty set.
    pub const fn new() -> PortSet {
        PortSet { bits: [0; 1024] }
    }

    /// Add `port`.
    pub fn insert(&mut self, port: u16) {
        self.bits[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    /// Remove `port`.
    pub fn remove(&mut self, port: u16) {
        self.bits[usize::from(port >> 6)] &= !(1 << (port & 63));
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// The ports, ascending (empty words skipped whole: cheap on a sparse set).
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, w)| {
            let mut rest = *w;
            core::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let b = rest.trailing_zeros() as u16;
                    rest &= rest - 1;
                    (i as u16) << 6 | b
                })
            })
        })
    }

    /// The ports in either set.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::new();
        for (o, (a, b)) in out.bits.iter_mut().zip(self.bits.iter().zip(&other.bits)) {
            *o = a | b;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_iterate() {
        let mut s = PortSet::new();
        assert!(s.is_empty());
        for p in [0, 1, 63, 64, 8080, 65535] {
            s.insert(p);
        }
        assert!(s.contains(8080) && s.contains(65535) && !s.contains(8081));
        s.remove(63);
        assert_eq!(
            s.iter().collect::<std::vec::Vec<_>>(),
            [0, 1, 64, 8080, 65535]
        );
        let mut t = PortSet::new();
        t.insert(2);
        t.insert(8080);
        assert_eq!(
            s.union(&t).iter().collect::<std::vec::Vec<_>>(),
            [0, 1, 2, 64, 8080, 65535]
        );
    }
}
