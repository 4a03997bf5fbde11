//! The flow table against a `BTreeMap` model: random sequences of inserts, lookups,
//! key changes and removals (how the engine expires a flow), with the table's
//! structural invariants checked after every step.
//!
//! What the model pins down: a flow is found by each of its side keys and by its id
//! until it is removed, never after; no key names two sides; inserts beyond the
//! capacity are refused and nothing else is; a stale `FlowId` (its flow removed, its
//! slot perhaps reused) never resolves to anything.

use passt_core::flow::index_len_for;
use passt_core::flow::{FlowId, FlowKey, FlowTable, InsertError, Pif, Side, Slot};
use passt_core::wire::IpProtocol;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A key from a small universe, so that collisions and duplicates are common.
fn key(k: u8) -> FlowKey {
    let v6 = k & 1 == 1;
    FlowKey {
        pif: if k & 2 == 0 { Pif::Tap } else { Pif::Host },
        protocol: if k & 4 == 0 {
            IpProtocol::Tcp
        } else {
            IpProtocol::Udp
        },
        our_addr: if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1))
        },
        our_port: 80,
        endpoint_addr: if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2))
        },
        endpoint_port: 40_000 + u16::from(k >> 3),
    }
}

/// How many distinct keys the tests draw from.
const KEYS: u8 = 48;

#[derive(Debug, Clone)]
enum Op {
    Insert {
        value: u32,
        keys: [Option<u8>; 2],
    },
    /// Remove the `n`-th id ever issued (live or stale).
    Remove {
        n: usize,
    },
    Lookup {
        key: u8,
    },
    SetKey {
        n: usize,
        side: Side,
        key: Option<u8>,
    },
    /// Change a live flow's value through `get_mut`.
    Update {
        n: usize,
        value: u32,
    },
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Initiator), Just(Side::Target)]
}

fn op() -> impl Strategy<Value = Op> {
    let k = || proptest::option::weighted(0.8, 0..KEYS);
    prop_oneof![
        4 => (any::<u32>(), k(), k()).prop_map(|(value, a, b)| Op::Insert { value, keys: [a, b] }),
        3 => any::<usize>().prop_map(|n| Op::Remove { n }),
        2 => (0..KEYS).prop_map(|key| Op::Lookup { key }),
        2 => (any::<usize>(), side(), k()).prop_map(|(n, side, key)| Op::SetKey { n, side, key }),
        1 => (any::<usize>(), any::<u32>()).prop_map(|(n, value)| Op::Update { n, value }),
    ]
}

/// The model: live flows by id, with their value and side keys.
#[derive(Default)]
struct Model {
    live: BTreeMap<FlowId, (u32, [Option<u8>; 2])>,
    issued: Vec<FlowId>,
}

impl Model {
    fn owner(&self, k: u8) -> Option<(FlowId, Side)> {
        self.live.iter().find_map(|(id, (_, keys))| {
            Side::BOTH
                .into_iter()
                .find(|s| keys[*s as usize] == Some(k))
                .map(|s| (*id, s))
        })
    }

    fn pick(&self, n: usize) -> Option<FlowId> {
        (!self.issued.is_empty()).then(|| self.issued[n % self.issued.len()])
    }
}

fn run(capacity: usize, hash_key: (u64, u64), ops: &[Op]) -> Result<(), TestCaseError> {
    let mut slots: Vec<Slot<u32>> = (0..capacity).map(|_| Slot::default()).collect();
    let mut index = vec![0u32; index_len_for(capacity)];
    let mut t = FlowTable::new(&mut slots[..], &mut index[..], hash_key).unwrap();
    let mut m = Model::default();
    for op in ops {
        match *op {
            Op::Insert { value, keys } => {
                let expect = if m.live.len() == capacity {
                    Err(InsertError::Full)
                } else if (keys[0].is_some() && keys[0] == keys[1])
                    || keys.iter().flatten().any(|k| m.owner(*k).is_some())
                {
                    Err(InsertError::DuplicateKey)
                } else {
                    Ok(())
                };
                let got = t.insert(value, keys.map(|k| k.map(key)));
                match (got, expect) {
                    (Ok(id), Ok(())) => {
                        prop_assert!((id.slot as usize) < capacity);
                        prop_assert!(!m.issued.contains(&id), "id {id:?} handed out twice");
                        m.live.insert(id, (value, keys));
                        m.issued.push(id);
                    }
                    (got, expect) => prop_assert_eq!(got.map(|_| ()), expect, "{:?}", op),
                }
            }
            Op::Remove { n } => {
                if let Some(id) = m.pick(n) {
                    let expect = m.live.remove(&id).map(|(v, _)| v);
                    prop_assert_eq!(t.remove(id), expect);
                }
            }
            Op::Lookup { key: k } => {
                prop_assert_eq!(t.lookup(&key(k)), m.owner(k));
            }
            Op::SetKey { n, side, key: k } => {
                let Some(id) = m.pick(n) else { continue };
                let expect = match m.live.get(&id) {
                    None => Err(InsertError::NoSuchFlow),
                    Some((_, keys)) if keys[side as usize] == k => Ok(()),
                    Some(_) if k.is_some_and(|k| m.owner(k).is_some()) => {
                        Err(InsertError::DuplicateKey)
                    }
                    Some(_) => Ok(()),
                };
                prop_assert_eq!(t.set_key(id, side, k.map(key)), expect);
                if expect.is_ok() {
                    m.live.get_mut(&id).expect("live").1[side as usize] = k;
                }
            }
            Op::Update { n, value } => {
                let Some(id) = m.pick(n) else { continue };
                match (t.get_mut(id), m.live.get_mut(&id)) {
                    (Some(v), Some(mv)) => {
                        *v = value;
                        mv.0 = value;
                    }
                    (None, None) => {}
                    (got, want) => prop_assert!(false, "get_mut {id:?}: {got:?} vs {want:?}"),
                }
            }
        }
        check(&t, &m, capacity)?;
    }
    // Expire everything, as the engine does when the link goes down.
    for id in m.live.keys().copied().collect::<Vec<_>>() {
        prop_assert!(t.remove(id).is_some());
        m.live.remove(&id);
    }
    check(&t, &m, capacity)?;
    prop_assert!(t.is_empty());
    Ok(())
}

/// The table agrees with the model everywhere, after any step.
fn check(t: &FlowTable<'_, u32>, m: &Model, capacity: usize) -> Result<(), TestCaseError> {
    if let Err(e) = t.check_invariants() {
        prop_assert!(false, "invariant broken: {}", e);
    }
    prop_assert_eq!(t.len(), m.live.len());
    prop_assert_eq!(t.capacity(), capacity);
    prop_assert_eq!(t.is_full(), m.live.len() == capacity);
    let listed: Vec<(FlowId, u32)> = t.iter().map(|(id, v)| (id, *v)).collect();
    let mut want: Vec<(FlowId, u32)> = m.live.iter().map(|(id, (v, _))| (*id, *v)).collect();
    want.sort_by_key(|(id, _)| id.slot);
    prop_assert_eq!(listed, want, "iteration in slot order");
    for (id, (v, keys)) in &m.live {
        prop_assert_eq!(t.get(*id), Some(v));
        prop_assert_eq!(t.id_of_slot(id.slot), Some(*id));
        for s in Side::BOTH {
            let k = keys[s as usize];
            prop_assert_eq!(t.key(*id, s).copied(), k.map(key));
            if let Some(k) = k {
                prop_assert_eq!(t.lookup(&key(k)), Some((*id, s)));
            }
        }
    }
    for id in m.issued.iter().filter(|id| !m.live.contains_key(id)) {
        prop_assert_eq!(t.get(*id), None, "stale id {:?} resolves", id);
        prop_assert_eq!(t.key(*id, Side::Initiator), None);
        prop_assert!(
            t.id_of_slot(id.slot) != Some(*id),
            "stale id {:?} names its slot",
            id
        );
    }
    for k in 0..KEYS {
        prop_assert_eq!(t.lookup(&key(k)), m.owner(k));
    }
    Ok(())
}

proptest! {
    #![proptest_config(passt_model_tests::config(512))]

    #[test]
    fn flow_table_matches_model(
        capacity in prop_oneof![1 => Just(0usize), 8 => 1usize..9, 2 => 9usize..40],
        hash_key in any::<(u64, u64)>(),
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        run(capacity, hash_key, &ops)?;
    }
}

/// A slot reused many times never lets an old id through (generations keep
/// counting, and wrap only after 65 536 reuses).
#[test]
fn one_slot_reused_many_times() {
    let mut slots = [Slot::default()];
    let mut index = vec![0u32; index_len_for(1)];
    let mut t = FlowTable::new(&mut slots[..], &mut index[..], (1, 2)).unwrap();
    let mut old = Vec::new();
    for i in 0..5000u32 {
        let id = t.insert(i, [Some(key((i % 40) as u8)), None]).unwrap();
        assert_eq!(id.slot, 0);
        assert_eq!(t.insert(0, [None, None]), Err(InsertError::Full));
        assert_eq!(t.remove(id), Some(i));
        old.push(id);
    }
    let live = t.insert(7, [None, None]).unwrap();
    assert!(old.iter().all(|id| t.get(*id).is_none() && *id != live));
    assert_eq!(t.get(live), Some(&7));
}
