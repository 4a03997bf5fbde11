//! Address translation against a model written from passt-reference §5.2 (guest →
//! outside, first match wins) and §5.3 (outside → guest), over random
//! configurations and addresses drawn from a pool where the interesting equalities
//! (loopback, the guest's own address, the stand-ins) happen often.

use passt_core::config::{Config, Ipv4Config, Ipv6Config, Mode};
use passt_core::engine::GuestState;
use passt_core::fwd::{guest_destination, source_for_guest, target_from_guest};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const ASSIGNED4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const GATEWAY4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ASSIGNED6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const OUR_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

fn v4_pool() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        Just(Ipv4Addr::LOCALHOST),
        Just(Ipv4Addr::new(127, 0, 0, 2)),
        Just(Ipv4Addr::UNSPECIFIED),
        Just(ASSIGNED4),
        Just(GATEWAY4),
        Just(Ipv4Addr::new(198, 51, 100, 9)),
        Just(Ipv4Addr::new(203, 0, 113, 5)),
        any::<[u8; 4]>().prop_map(Ipv4Addr::from),
    ]
}

fn v6_pool() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        Just(Ipv6Addr::LOCALHOST),
        Just(Ipv6Addr::UNSPECIFIED),
        Just(ASSIGNED6),
        Just(OUR_LL),
        Just(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 5)),
        Just(Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 9)),
        any::<[u8; 16]>().prop_map(Ipv6Addr::from),
    ]
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4_pool().prop_map(IpAddr::V4),
        v6_pool().prop_map(IpAddr::V6),
        // IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer.
        v4_pool().prop_map(|a| IpAddr::V6(a.to_ipv6_mapped())),
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(v4_pool()),
        proptest::option::of(v6_pool()),
        proptest::option::of(v4_pool()),
        proptest::option::of(v6_pool()),
    )
        .prop_filter_map("at least one family", |(v4, v6, hl4, hl6, ga4, ga6)| {
            let mut c = Config::new(Mode::Pasta);
            c.ipv4 = v4.then_some(Ipv4Config {
                addr: ASSIGNED4,
                prefix_len: 24,
                gateway: GATEWAY4,
            });
            c.ipv6 = v6.then_some(Ipv6Config {
                addr: ASSIGNED6,
                prefix_len: 64,
                gateway: OUR_LL,
                our_link_local: OUR_LL,
            });
            c.nat.map_host_loopback_v4 = hl4;
            c.nat.map_host_loopback_v6 = hl6;
            c.nat.map_guest_addr_v4 = ga4;
            c.nat.map_guest_addr_v6 = ga6;
            (v4 || v6).then_some(c)
        })
}

/// §5.2: where a connection the guest opens to `dst` goes.
fn model_target(c: &Config, dst: IpAddr) -> IpAddr {
    let n = &c.nat;
    match dst {
        IpAddr::V4(a) if Some(a) == n.map_host_loopback_v4 => Ipv4Addr::LOCALHOST.into(),
        IpAddr::V6(a) if Some(a) == n.map_host_loopback_v6 => Ipv6Addr::LOCALHOST.into(),
        IpAddr::V4(a) if Some(a) == n.map_guest_addr_v4 => c.ipv4.map_or(dst, |v4| v4.addr.into()),
        IpAddr::V6(a) if Some(a) == n.map_guest_addr_v6 => c.ipv6.map_or(dst, |v6| v6.addr.into()),
        other => other,
    }
}

/// §5.3: the source address the guest sees for a host peer at `peer`; `None` when
/// the family is off. Sources equal to the guest's assigned or *observed* address
/// are not guest-accessible: a stand-in replaces them.
fn model_source(c: &Config, g: &GuestState, peer: IpAddr) -> Option<IpAddr> {
    let n = &c.nat;
    let peer = match peer {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    match peer {
        IpAddr::V4(a) => {
            let v4 = c.ipv4?;
            Some(IpAddr::V4(match a {
                Ipv4Addr::LOCALHOST if n.map_host_loopback_v4.is_some() => n.map_host_loopback_v4?,
                a if a == v4.addr && n.map_guest_addr_v4.is_some() => n.map_guest_addr_v4?,
                // Not reachable as itself from the guest: the gateway stands in.
                a if a.is_loopback()
                    || a.is_unspecified()
                    || a == v4.addr
                    || Some(a) == g.addr_seen_v4 =>
                {
                    v4.gateway
                }
                a => a,
            }))
        }
        IpAddr::V6(a) => {
            let v6 = c.ipv6?;
            Some(IpAddr::V6(match a {
                Ipv6Addr::LOCALHOST if n.map_host_loopback_v6.is_some() => n.map_host_loopback_v6?,
                a if a == v6.addr && n.map_guest_addr_v6.is_some() => n.map_guest_addr_v6?,
                a if a.is_loopback()
                    || a.is_unspecified()
                    || a == v6.addr
                    || Some(a) == g.addr_seen_v6 =>
                {
                    v6.our_link_local
                }
                a => a,
            }))
        }
    }
}

/// §5.3: the guest address such a connection is delivered to.
fn model_destination(c: &Config, g: &GuestState, source: IpAddr) -> Option<IpAddr> {
    match source {
        IpAddr::V4(_) => g.addr_seen_v4.or(c.ipv4.map(|v| v.addr)).map(IpAddr::V4),
        IpAddr::V6(s) if s.is_unicast_link_local() => g.addr_ll_seen.map(IpAddr::V6),
        IpAddr::V6(_) => g.addr_seen_v6.or(c.ipv6.map(|v| v.addr)).map(IpAddr::V6),
    }
}

fn guest_state() -> impl Strategy<Value = GuestState> {
    (
        proptest::option::of(v4_pool()),
        proptest::option::of(v6_pool()),
        proptest::option::of(Just(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2))),
    )
        .prop_map(|(s4, s6, ll)| GuestState {
            mac: None,
            addr_seen_v4: s4,
            addr_seen_v6: s6,
            addr_ll_seen: ll,
        })
}

proptest! {
    #![proptest_config(passt_model_tests::config(2048))]

    #[test]
    fn guest_to_host_matches_the_model(c in config(), dst in addr(), port in 1u16..) {
        let got = target_from_guest(&c, SocketAddr::new(dst, port));
        prop_assert_eq!(got, SocketAddr::new(model_target(&c, dst), port));
    }

    #[test]
    fn host_to_guest_matches_the_model(c in config(), g in guest_state(), peer in addr()) {
        let source = source_for_guest(&c, &g, peer);
        prop_assert_eq!(source, model_source(&c, &g, peer), "source for {}", peer);
        if let Some(s) = source {
            prop_assert_eq!(guest_destination(&c, &g, s), model_destination(&c, &g, s));
        }
    }

    /// A host peer the guest sees as itself can be reached back: the guest connecting
    /// to the source it saw reaches the same host address — for real remote
    /// addresses, and for 127.0.0.1 / ::1 through the host-loopback stand-in.
    #[test]
    fn what_the_guest_sees_leads_back(c in config(), peer in addr()) {
        let Some(seen) = source_for_guest(&c, &GuestState::default(), peer) else {
            return Ok(());
        };
        let n = &c.nat;
        let stand_ins = [
            n.map_host_loopback_v4.map(IpAddr::V4),
            n.map_host_loopback_v6.map(IpAddr::V6),
            n.map_guest_addr_v4.map(IpAddr::V4),
            n.map_guest_addr_v6.map(IpAddr::V6),
        ];
        let back = target_from_guest(&c, SocketAddr::new(seen, 1)).ip();
        if seen == peer && !stand_ins.contains(&Some(peer)) {
            prop_assert_eq!(back, peer, "a real remote is reached as itself");
        }
        let loopback: IpAddr = match peer {
            IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        };
        let first_match = match seen {
            IpAddr::V4(s) => Some(s) == n.map_host_loopback_v4,
            IpAddr::V6(s) => Some(s) == n.map_host_loopback_v6,
        };
        if peer == loopback && first_match {
            prop_assert_eq!(back, loopback, "host loopback through its stand-in");
        }
    }
}
