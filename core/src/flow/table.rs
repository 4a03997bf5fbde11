//! Slot storage and the side index of the flow table.
//!
//! - Slots: a caller-lent slice; free slots form a LIFO list threaded through them.
//! - Index: a caller-lent slice of `u32` buckets, linear probing, SipHash-2-4 keyed per
//!   run; a bucket holds `side_index + 1` (0 = empty), where
//!   `side_index = slot * 2 + side`. Deletion uses backward shift (Knuth, TAOCP vol. 3,
//!   §6.4, Algorithm R), so there are no tombstones and lookups stay short.
//! - The index must always keep free buckets; [`index_len_for`] gives the size that
//!   holds every side of a full table below a 70 % load.

use super::{FlowKey, Side, SipHasher24};
use managed::ManagedSlice;

/// Sentinel for "no next free slot".
const NONE: u32 = u32::MAX;

/// Index size needed for `flow_capacity` flows (two sides each, load ≤ 70 %).
pub const fn index_len_for(flow_capacity: usize) -> usize {
    flow_capacity * 2 * 10 / 7 + 1
}

/// A generation-checked reference to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    /// Slot index.
    pub slot: u32,
    /// Generation of the slot when the flow was created.
    pub generation: u16,
}

#[derive(Debug, Clone)]
enum Entry<V> {
    Free { next: u32 },
    Used(V),
}

/// One slot of flow storage. Callers allocate `N` of these (`Slot::default()`) and
/// lend them to [`FlowTable::new`].
#[derive(Debug, Clone)]
pub struct Slot<V> {
    generation: u16,
    keys: [Option<FlowKey>; 2],
    entry: Entry<V>,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Slot {
            generation: 0,
            keys: [None, None],
            entry: Entry::Free { next: NONE },
        }
    }
}

/// Why a table could not be built from the lent storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableError {
    /// The index is smaller than [`index_len_for`] the slot count.
    IndexTooSmall,
    /// More slots than a `u32` side index can name.
    TooManySlots,
}

/// Why a flow or key could not be inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// Every slot is in use: refuse the new flow (RST, ICMP or drop, counted).
    Full,
    /// Another flow side already has this key.
    DuplicateKey,
    /// The flow id is stale.
    NoSuchFlow,
}

/// Flows of type `V` on caller-lent storage.
pub struct FlowTable<'a, V> {
    slots: ManagedSlice<'a, Slot<V>>,
    index: ManagedSlice<'a, u32>,
    free_head: u32,
    len: usize,
    /// One past the highest slot in use: iteration (the timer scan on every wakeup)
    /// stops here instead of walking all 32 768 slots for a handful of flows. Freed
    /// slots are reused first, so the used ones stay packed at the bottom.
    used_end: u32,
    hash_key: (u64, u64),
}

impl<'a, V> FlowTable<'a, V> {
    /// Build a table over `slots` and `index` (contents are reset), keyed with `hash_key`
    /// (see [`super::key_from_seed`]).
    pub fn new(
        slots: impl Into<ManagedSlice<'a, Slot<V>>>,
        index: impl Into<ManagedSlice<'a, u32>>,
        hash_key: (u64, u64),
    ) -> Result<Self, TableError> {
        let mut slots = slots.into();
        let mut index = index.into();
        if slots.len() >= (u32::MAX / 2) as usize {
            return Err(TableError::TooManySlots);
        }
        if index.len() < index_len_for(slots.len()) {
            return Err(TableError::IndexTooSmall);
        }
        let n = slots.len();
        for (i, s) in slots.iter_mut().enumerate() {
            let next = if i + 1 < n { (i + 1) as u32 } else { NONE };
            *s = Slot {
                generation: s.generation,
                keys: [None, None],
                entry: Entry::Free { next },
            };
        }
        index.iter_mut().for_each(|b| *b = 0);
        Ok(FlowTable {
            slots,
            index,
            free_head: if n == 0 { NONE } else { 0 },
            len: 0,
            used_end: 0,
            hash_key,
        })
    }

    /// Most flows the table can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Flows in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No flow in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every slot is in use.
    pub fn is_full(&self) -> bool {
        self.free_head == NONE
    }

    fn home(&self, key: &FlowKey) -> usize {
        let mut h = SipHasher24::new(self.hash_key.0, self.hash_key.1);
        key.hash_into(&mut h);
        (h.finish() % self.index.len() as u64) as usize
    }

    fn live(&self, id: FlowId) -> Option<&Slot<V>> {
        let s = self.slots.get(id.slot as usize)?;
        match s.entry {
            Entry::Used(_) if s.generation == id.generation => Some(s),
            _ => None,
        }
    }

    /// Decode a bucket to `(slot, side)`.
    fn bucket(&self, i: usize) -> Option<(usize, Side)> {
        match self.index[i] {
            0 => None,
            b => {
                let sidx = (b - 1) as usize;
                let side = if sidx % 2 == 0 {
                    Side::Initiator
                } else {
                    Side::Target
                };
                Some((sidx / 2, side))
            }
        }
    }

    fn bucket_key(&self, i: usize) -> Option<&FlowKey> {
        let (slot, side) = self.bucket(i)?;
        self.slots[slot].keys[side as usize].as_ref()
    }

    fn find_bucket(&self, key: &FlowKey) -> Option<usize> {
        let n = self.index.len();
        let mut i = self.home(key);
        // The index always has empty buckets (load ≤ 70 %), so this terminates; the
        // bound is a belt-and-braces guard.
        for _ in 0..n {
            match self.bucket_key(i) {
                None if self.index[i] == 0 => return None,
                Some(k) if k == key => return Some(i),
                _ => i = (i + 1) % n,
            }
        }
        None
    }

    fn index_insert(&mut self, key: &FlowKey, slot: usize, side: Side) {
        let n = self.index.len();
        let mut i = self.home(key);
        while self.index[i] != 0 {
            i = (i + 1) % n;
        }
        self.index[i] = (slot * 2 + side as usize) as u32 + 1;
    }

    fn index_remove(&mut self, mut hole: usize) {
        let n = self.index.len();
        self.index[hole] = 0;
        let mut j = hole;
        loop {
            j = (j + 1) % n;
            let Some(key) = self.bucket_key(j).copied() else {
                return;
            };
            let home = self.home(&key);
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.index[hole] = self.index[j];
                self.index[j] = 0;
                hole = j;
            }
        }
    }

    /// Insert a flow with the given side keys. Keys may be added later with
    /// [`FlowTable::set_key`] (e.g. once the target side is known).
    pub fn insert(&mut self, value: V, keys: [Option<FlowKey>; 2]) -> Result<FlowId, InsertError> {
        if self.free_head == NONE {
            return Err(InsertError::Full);
        }
        if let [Some(a), Some(b)] = &keys {
            if a == b {
                return Err(InsertError::DuplicateKey);
            }
        }
        if keys.iter().flatten().any(|k| self.find_bucket(k).is_some()) {
            return Err(InsertError::DuplicateKey);
        }
        let slot = self.free_head as usize;
        let s = &mut self.slots[slot];
        self.free_head = match s.entry {
            Entry::Free { next } => next,
            Entry::Used(_) => NONE, // unreachable by construction; keeps the table usable
        };
        s.entry = Entry::Used(value);
        s.keys = keys;
        let generation = s.generation;
        for side in Side::BOTH {
            if let Some(k) = keys[side as usize] {
                self.index_insert(&k, slot, side);
            }
        }
        self.len += 1;
        self.used_end = self.used_end.max(slot as u32 + 1);
        Ok(FlowId {
            slot: slot as u32,
            generation,
        })
    }

    /// Set, replace or clear the key of one side.
    pub fn set_key(
        &mut self,
        id: FlowId,
        side: Side,
        key: Option<FlowKey>,
    ) -> Result<(), InsertError> {
        let old = self.live(id).ok_or(InsertError::NoSuchFlow)?.keys[side as usize];
        if old == key {
            return Ok(());
        }
        if let Some(k) = &key {
            if self.find_bucket(k).is_some() {
                return Err(InsertError::DuplicateKey);
            }
        }
        if let Some(o) = old {
            if let Some(b) = self.find_bucket(&o) {
                self.index_remove(b);
            }
        }
        let slot = id.slot as usize;
        self.slots[slot].keys[side as usize] = key;
        if let Some(k) = key {
            self.index_insert(&k, slot, side);
        }
        Ok(())
    }

    /// Remove a flow, freeing its slot and bumping the slot's generation.
    pub fn remove(&mut self, id: FlowId) -> Option<V> {
        let keys = self.live(id)?.keys;
        for k in keys.iter().flatten() {
            if let Some(b) = self.find_bucket(k) {
                self.index_remove(b);
            }
        }
        let slot = id.slot as usize;
        let s = &mut self.slots[slot];
        s.keys = [None, None];
        s.generation = s.generation.wrapping_add(1);
        let old = core::mem::replace(
            &mut s.entry,
            Entry::Free {
                next: self.free_head,
            },
        );
        self.free_head = slot as u32;
        self.len -= 1;
        while self.used_end > 0
            && matches!(
                self.slots[self.used_end as usize - 1].entry,
                Entry::Free { .. }
            )
        {
            self.used_end -= 1;
        }
        match old {
            Entry::Used(v) => Some(v),
            Entry::Free { .. } => None,
        }
    }

    /// The flow `id`, if it is still live.
    pub fn get(&self, id: FlowId) -> Option<&V> {
        match &self.live(id)?.entry {
            Entry::Used(v) => Some(v),
            Entry::Free { .. } => None,
        }
    }

    /// The flow `id`, mutably, if it is still live.
    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut V> {
        let s = self.slots.get_mut(id.slot as usize)?;
        match &mut s.entry {
            Entry::Used(v) if s.generation == id.generation => Some(v),
            _ => None,
        }
    }

    /// The live flow in `slot`, whatever its generation (used to resolve a `SockRef`
    /// and then compare generations).
    pub fn id_of_slot(&self, slot: u32) -> Option<FlowId> {
        let s = self.slots.get(slot as usize)?;
        match s.entry {
            Entry::Used(_) => Some(FlowId {
                slot,
                generation: s.generation,
            }),
            Entry::Free { .. } => None,
        }
    }

    /// The key of one side of a live flow.
    pub fn key(&self, id: FlowId, side: Side) -> Option<&FlowKey> {
        self.live(id)?.keys[side as usize].as_ref()
    }

    /// Find the flow side with this key.
    pub fn lookup(&self, key: &FlowKey) -> Option<(FlowId, Side)> {
        let b = self.find_bucket(key)?;
        let (slot, side) = self.bucket(b)?;
        Some((
            FlowId {
                slot: slot as u32,
                generation: self.slots[slot].generation,
            },
            side,
        ))
    }

    /// Every live flow, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (FlowId, &V)> + '_ {
        self.slots[..self.used_end as usize]
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.entry {
                Entry::Used(v) => Some((
                    FlowId {
                        slot: i as u32,
                        generation: s.generation,
                    },
                    v,
                )),
                Entry::Free { .. } => None,
            })
    }

    /// Check every structural invariant; used by simulations and fuzzers after each
    /// step. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let mut used = 0;
        let mut keyed = 0;
        for (i, s) in self.slots.iter().enumerate() {
            match s.entry {
                Entry::Used(_) => {
                    used += 1;
                    if i >= self.used_end as usize {
                        return Err("a used slot beyond the scanned end");
                    }
                    for side in Side::BOTH {
                        if let Some(k) = &s.keys[side as usize] {
                            keyed += 1;
                            let b = self.find_bucket(k).ok_or("side key not in index")?;
                            if self.bucket(b) != Some((i, side)) {
                                return Err("index bucket names another side");
                            }
                        }
                    }
                }
                Entry::Free { .. } => {
                    if s.keys != [None, None] {
                        return Err("free slot keeps keys");
                    }
                }
            }
        }
        if used != self.len {
            return Err("len disagrees with used slots");
        }
        let buckets = self.index.iter().filter(|b| **b != 0).count();
        if buckets != keyed {
            return Err("index holds stale buckets");
        }
        let mut free = 0;
        let mut at = self.free_head;
        while at != NONE {
            free += 1;
            if free > self.slots.len() {
                return Err("free list has a cycle");
            }
            match self.slots.get(at as usize).map(|s| &s.entry) {
                Some(Entry::Free { next }) => at = *next,
                _ => return Err("free list reaches a used slot"),
            }
        }
        if free + used != self.slots.len() {
            return Err("free list misses slots");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Pif;
    use crate::wire::IpProtocol;
    use core::net::{IpAddr, Ipv4Addr};

    fn key(port: u16) -> FlowKey {
        FlowKey {
            pif: Pif::Tap,
            protocol: IpProtocol::Tcp,
            our_addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            our_port: 80,
            endpoint_addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2)),
            endpoint_port: port,
        }
    }

    /// Iteration covers exactly the live flows while the scanned end follows the
    /// highest used slot down as flows leave, wherever they sit.
    #[test]
    fn iteration_follows_the_highest_used_slot() {
        let mut slots: [Slot<u32>; 64] = core::array::from_fn(|_| Slot::default());
        let mut index = [0u32; 256];
        let mut t = FlowTable::new(&mut slots[..], &mut index[..], (1, 2)).unwrap();
        let ids: [FlowId; 40] = core::array::from_fn(|i| {
            t.insert(i as u32, [Some(key(1000 + i as u16)), None])
                .unwrap()
        });
        assert_eq!(t.used_end, 40);
        for id in &ids[10..] {
            t.remove(*id);
        }
        assert_eq!(t.used_end, 10, "shrinks to the highest live slot");
        t.remove(ids[3]);
        assert_eq!(t.used_end, 10, "a hole below does not move it");
        let live: heapless::Vec<u32, 64> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(&live[..], &[0, 1, 2, 4, 5, 6, 7, 8, 9]);
        // The hole is reused first: the end stays put.
        t.insert(99, [Some(key(3000)), None]).unwrap();
        assert_eq!(t.used_end, 10);
        for id in &ids[..10] {
            t.remove(*id);
        }
        t.check_invariants().unwrap();
        assert_eq!(t.iter().count(), 1);
    }

    #[test]
    fn insert_lookup_remove() {
        let mut slots = [Slot::default(), Slot::default()];
        let mut index = [0u32; 8];
        let mut t = FlowTable::new(&mut slots[..], &mut index[..], (1, 2)).unwrap();
        let a = t.insert(10, [Some(key(1000)), None]).unwrap();
        let b = t.insert(20, [Some(key(2000)), Some(key(2001))]).unwrap();
        assert_eq!(t.lookup(&key(1000)), Some((a, Side::Initiator)));
        assert_eq!(t.lookup(&key(2001)), Some((b, Side::Target)));
        assert_eq!(
            t.insert(30, [Some(key(3000)), None]),
            Err(InsertError::Full)
        );
        assert_eq!(t.remove(a), Some(10));
        assert_eq!(t.lookup(&key(1000)), None);
        assert_eq!(t.get(a), None, "stale id must not resolve");
        let c = t.insert(30, [Some(key(3000)), None]).unwrap();
        assert_eq!(c.slot, a.slot);
        assert_ne!(c.generation, a.generation);
        t.check_invariants().unwrap();
    }

    #[test]
    fn duplicate_keys_refused() {
        let mut slots = [Slot::default(), Slot::default()];
        let mut index = [0u32; 8];
        let mut t = FlowTable::new(&mut slots[..], &mut index[..], (1, 2)).unwrap();
        t.insert(1, [Some(key(1)), None]).unwrap();
        assert_eq!(
            t.insert(2, [Some(key(1)), None]),
            Err(InsertError::DuplicateKey)
        );
        assert_eq!(
            t.insert(2, [Some(key(2)), Some(key(2))]),
            Err(InsertError::DuplicateKey)
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn undersized_index_rejected() {
        let mut slots = [Slot::<u32>::default(), Slot::default()];
        let mut index = [0u32; 4];
        assert!(matches!(
            FlowTable::new(&mut slots[..], &mut index[..], (0, 0)),
            Err(TableError::IndexTooSmall)
        ));
    }

    #[test]
    fn set_key_moves_index_entry() {
        let mut slots = [Slot::default()];
        let mut index = [0u32; 3];
        let mut t = FlowTable::new(&mut slots[..], &mut index[..], (1, 2)).unwrap();
        let a = t.insert(1, [Some(key(1)), None]).unwrap();
        t.set_key(a, Side::Target, Some(key(9))).unwrap();
        assert_eq!(t.lookup(&key(9)), Some((a, Side::Target)));
        t.set_key(a, Side::Target, None).unwrap();
        assert_eq!(t.lookup(&key(9)), None);
        t.check_invariants().unwrap();
    }

    #[test]
    fn churn_keeps_invariants_under_collisions() {
        // A tiny index forces long probe chains and wraparound in backward shift.
        const N: usize = 16;
        let mut slots: std::vec::Vec<Slot<u32>> = (0..N).map(|_| Slot::default()).collect();
        let mut index = std::vec![0u32; index_len_for(N)];
        let mut t = FlowTable::new(&mut slots[..], &mut index[..], (7, 7)).unwrap();
        let mut live: std::vec::Vec<(FlowId, u16)> = std::vec::Vec::new();
        let mut x: u32 = 12345;
        for step in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if (x >> 16) % 3 != 0 && !t.is_full() {
                let p = (step % 60000) as u16;
                if let Ok(id) = t.insert(step, [Some(key(p)), Some(key(p ^ 0x8000))]) {
                    live.push((id, p));
                }
            } else if !live.is_empty() {
                let (id, p) = live.swap_remove((x as usize >> 8) % live.len());
                assert!(t.remove(id).is_some());
                assert_eq!(t.lookup(&key(p)), None);
            }
            for (id, p) in &live {
                assert_eq!(t.lookup(&key(*p)), Some((*id, Side::Initiator)));
            }
            t.check_invariants().unwrap();
        }
    }
}
