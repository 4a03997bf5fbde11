use super::*;
use core::net::{Ipv4Addr, Ipv6Addr};
use proptest::prelude::*;

fn fwd(ports: (u16, u16), to: Option<u16>) -> Item {
    Item::Forward {
        ports: PortSpan::new(ports.0, ports.1).unwrap(),
        to,
    }
}

fn excl(first: u16, last: u16) -> Item {
    Item::Exclude(PortSpan::new(first, last).unwrap())
}

fn items(spec: &Spec) -> &[Item] {
    match spec {
        Spec::Ranges { items, .. } => items,
        other => panic!("not a list: {other:?}"),
    }
}

/// `(first, last, delta)` of every range, for compact assertions.
fn ranges(f: &PortForwards) -> std::vec::Vec<(u16, u16, u16)> {
    f.ranges
        .iter()
        .map(|r| (r.first, r.last, r.delta))
        .collect()
}

fn expand(s: &str) -> Result<PortForwards, SpecError> {
    let mut f = PortForwards::default();
    Spec::parse(s)?.add_to(&mut f, PortSpan::new(49152, 65535))?;
    Ok(f)
}

#[test]
fn keywords() {
    assert_eq!(Spec::parse("none"), Ok(Spec::None));
    assert_eq!(Spec::parse("auto"), Ok(Spec::Auto));
    assert_eq!(
        Spec::parse("all"),
        Ok(Spec::All {
            bind_addr: None,
            bind_iface: None
        })
    );
    assert_eq!(Spec::parse("None"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse(""), Err(SpecError::Empty));
}

#[test]
fn single_ports_and_lists() {
    let s = Spec::parse("22,80-82,443").unwrap();
    assert_eq!(
        items(&s),
        &[
            fwd((22, 22), None),
            fwd((80, 82), None),
            fwd((443, 443), None)
        ]
    );
    assert!(!s.has_bind() && !s.is_best_effort());
}

#[test]
fn podman_range_mapping() {
    // podman -p 80:60/tcp → "-t 80-80:60-60"
    let s = Spec::parse("80-80:60-60").unwrap();
    assert_eq!(items(&s), &[fwd((80, 80), Some(60))]);
    assert_eq!(
        ranges(&expand("80-80:60-60").unwrap()),
        [(80, 80, 60u16.wrapping_sub(80))]
    );
    let f = expand("8080-8082:9080-9082").unwrap();
    assert_eq!(f.find(8081).map(|(_, r)| r.map(8081)), Some(9081));
}

#[test]
fn bare_and_bracketed_ipv6_bind() {
    // podman inserts host IPs without brackets.
    let s = Spec::parse("::1/8080-8080:8080-8080").unwrap();
    let Spec::Ranges {
        bind_addr,
        bind_iface,
        ..
    } = &s
    else {
        panic!()
    };
    assert_eq!(*bind_addr, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert!(bind_iface.is_none());
    assert_eq!(items(&s), &[fwd((8080, 8080), Some(8080))]);
    assert_eq!(Spec::parse("[::1]/8080-8080:8080-8080"), Ok(s));
}

#[test]
fn address_and_interface_binds() {
    let s = Spec::parse("192.0.2.1%eth0/22").unwrap();
    let Spec::Ranges {
        bind_addr,
        bind_iface,
        ..
    } = &s
    else {
        panic!()
    };
    assert_eq!(*bind_addr, Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
    assert_eq!(bind_iface.as_deref(), Some("eth0"));

    let s = Spec::parse("%lo/80").unwrap();
    assert!(matches!(&s, Spec::Ranges { bind_addr: None, bind_iface: Some(i), .. } if i == "lo"));
    let s = Spec::parse("[fe80::1]%eth0/53").unwrap();
    assert!(
        matches!(&s, Spec::Ranges { bind_addr: Some(IpAddr::V6(_)), bind_iface: Some(i), .. } if i == "eth0")
    );
    // A link-local address with a scope is the same syntax as ADDR%IFNAME.
    assert!(Spec::parse("fe80::1%eth0/53").unwrap().has_bind());
    // libvirt: ADDR%DEV/all
    assert!(matches!(
        Spec::parse("198.51.100.1%eth0/all"),
        Ok(Spec::All {
            bind_addr: Some(_),
            bind_iface: Some(_)
        })
    ));
}

#[test]
fn bad_binds() {
    assert_eq!(Spec::parse("/80"), Err(SpecError::BadAddress));
    assert_eq!(Spec::parse("1.2.3/80"), Err(SpecError::BadAddress));
    assert_eq!(Spec::parse("[::1/80"), Err(SpecError::BadAddress));
    assert_eq!(Spec::parse("[]/80"), Err(SpecError::BadAddress));
    assert_eq!(Spec::parse("[::1]x/80"), Err(SpecError::BadAddress));
    assert_eq!(Spec::parse("%/80"), Err(SpecError::BadInterface));
    assert_eq!(
        Spec::parse("%averyveryverylongname/80"),
        Err(SpecError::BadInterface)
    );
    assert_eq!(Spec::parse("%a:b/80"), Err(SpecError::BadInterface));
    assert_eq!(Spec::parse("::1/none"), Err(SpecError::KeywordWithBind));
    assert_eq!(Spec::parse("%lo/auto"), Err(SpecError::KeywordWithBind));
}

#[test]
fn bad_ports_and_ranges() {
    assert_eq!(Spec::parse("70000"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("65536"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("65535").map(|s| items(&s).len()), Ok(1));
    assert_eq!(Spec::parse("-1"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("+1"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse(" 80"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("80-"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("1-2-3"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("90-80"), Err(SpecError::BadRange));
    assert_eq!(Spec::parse("1-2:3-5"), Err(SpecError::LengthMismatch));
    assert_eq!(
        Spec::parse("8080-8090:9080"),
        Err(SpecError::LengthMismatch)
    );
    assert_eq!(Spec::parse("80:"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("80:81:82"), Err(SpecError::BadPort));
    assert_eq!(Spec::parse("80,,81"), Err(SpecError::Empty));
    assert_eq!(Spec::parse("80,"), Err(SpecError::Empty));
    assert_eq!(Spec::parse("~80:90"), Err(SpecError::MappedExclusion));
    assert_eq!(
        Spec::parse("00080").map(|s| items(&s)[0]),
        Ok(fwd((80, 80), None))
    );
}

#[test]
fn exclusions_anywhere_apply_to_all_ranges() {
    let s = Spec::parse("~85,80-90,100-110,~105-106").unwrap();
    assert_eq!(items(&s)[0], excl(85, 85));
    let f = expand("~85,80-90,100-110,~105-106").unwrap();
    assert_eq!(
        ranges(&f),
        [(80, 84, 0), (86, 90, 0), (100, 104, 0), (107, 110, 0)]
    );
    // Mapped ranges keep their delta across the split.
    let f = expand("1000-1009:2000-2009,~1005").unwrap();
    assert_eq!(ranges(&f), [(1000, 1004, 1000), (1006, 1009, 1000)]);
}

#[test]
fn overlapping_exclusions_rejected() {
    assert_eq!(
        Spec::parse("~20-30,~25-40"),
        Err(SpecError::OverlappingExclusions)
    );
    assert_eq!(
        Spec::parse("~20,1-100,~20"),
        Err(SpecError::OverlappingExclusions)
    );
    assert!(Spec::parse("~20-30,~31-40").is_ok());
}

#[test]
fn exclusion_only_means_all_but_ephemeral() {
    let s = Spec::parse("~20000-20010").unwrap();
    assert!(s.is_best_effort());
    let f = expand("~20000-20010").unwrap();
    assert_eq!(ranges(&f), [(1, 19999, 0), (20011, 49151, 0)]);
    // Without an ephemeral range, everything up to 65535.
    let mut f = PortForwards::default();
    s.add_to(&mut f, None).unwrap();
    assert_eq!(ranges(&f), [(1, 19999, 0), (20011, 65535, 0)]);
    // An exclusion overlapping the ephemeral range is fine.
    let f = expand("~49000-50000").unwrap();
    assert_eq!(ranges(&f), [(1, 48999, 0)]);
}

#[test]
fn all_expands_like_an_empty_exclusion_list() {
    let f = expand("all").unwrap();
    assert_eq!(ranges(&f), [(1, 49151, 0)]);
    let mut f = PortForwards::default();
    Spec::parse("198.51.100.1/all")
        .unwrap()
        .add_to(&mut f, None)
        .unwrap();
    assert_eq!(ranges(&f), [(1, 65535, 0)]);
    assert_eq!(
        f.ranges[0].bind_addr,
        Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)))
    );
}

#[test]
fn port_zero_is_never_forwarded() {
    assert_eq!(ranges(&expand("0-3").unwrap()), [(1, 3, 0)]);
    assert_eq!(expand("0"), Err(SpecError::NothingForwarded));
    assert_eq!(expand("5:0"), Err(SpecError::PortZero));
    assert_eq!(expand("80,~80"), Err(SpecError::NothingForwarded));
    assert_eq!(
        expand("65535:65535").map(|f| ranges(&f)),
        Ok(vec![(65535, 65535, 0)])
    );
}

#[test]
fn overlaps_are_errors_and_leave_forwards_untouched() {
    assert_eq!(expand("80-90,85"), Err(SpecError::Overlap(85)));
    let mut f = PortForwards::default();
    Spec::parse("80-90").unwrap().add_to(&mut f, None).unwrap();
    let before = f.clone();
    assert_eq!(
        Spec::parse("100,85-95").unwrap().add_to(&mut f, None),
        Err(SpecError::Overlap(85))
    );
    assert_eq!(f, before);
    // Same port on two explicit addresses with the same mapping: two sockets, allowed.
    let mut f = PortForwards::default();
    for s in ["127.0.0.1/80-80:8080-8080", "::1/80-80:8080-8080"] {
        Spec::parse(s).unwrap().add_to(&mut f, None).unwrap();
    }
    assert_eq!(f.ranges.len(), 2);
    // …but not with different mappings, nor unbound against bound.
    assert_eq!(
        Spec::parse("192.0.2.1/80:81").unwrap().add_to(&mut f, None),
        Err(SpecError::Overlap(80))
    );
    assert_eq!(
        Spec::parse("80").unwrap().add_to(&mut f, None),
        Err(SpecError::Overlap(80))
    );
}

#[test]
fn too_many_ranges_and_items() {
    // 129 disjoint single ports: one item too many.
    let mut s = std::string::String::new();
    for p in 1..=MAX_SPEC_ITEMS + 1 {
        if p > 1 {
            s.push(',');
        }
        s.push_str(&std::format!("{}", p * 2));
    }
    assert_eq!(Spec::parse(&s), Err(SpecError::TooManyItems));
    // 64 exclusions split the full range into 65 pieces; twice that overflows.
    let mut f = PortForwards::default();
    let mut ex = std::string::String::new();
    for p in 0..64u32 {
        if p > 0 {
            ex.push(',');
        }
        ex.push_str(&std::format!("~{}", 100 + p * 2));
    }
    let first = std::format!("198.51.100.1/{ex}");
    Spec::parse(&first).unwrap().add_to(&mut f, None).unwrap();
    assert_eq!(f.ranges.len(), 65);
    let before = f.clone();
    let bound = std::format!("192.0.2.1/{ex}");
    assert_eq!(
        Spec::parse(&bound).unwrap().add_to(&mut f, None),
        Err(SpecError::TooManyRanges)
    );
    assert_eq!(f, before);
}

#[test]
fn none_adds_nothing_and_auto_is_not_expandable() {
    let mut f = PortForwards::default();
    assert_eq!(Spec::None.add_to(&mut f, None), Ok(()));
    assert!(f.is_empty());
    assert_eq!(
        Spec::Auto.add_to(&mut f, None),
        Err(SpecError::NotExpandable)
    );
}

#[test]
fn canonical_text() {
    for (input, canonical) in [
        ("none", "none"),
        ("80-80:60-60", "80-80:60-60"),
        ("22:2222", "22-22:2222-2222"),
        ("::1/8080", "[::1]/8080"),
        ("%lo/80,~81", "%lo/80,~81"),
        ("fe80::1%eth0/1-3", "[fe80::1]%eth0/1-3"),
        ("192.0.2.1/all", "192.0.2.1/all"),
    ] {
        assert_eq!(
            std::format!("{}", Spec::parse(input).unwrap()),
            canonical,
            "{input}"
        );
    }
}

#[test]
fn ifname_rules() {
    assert_eq!(parse_ifname("eth0").as_deref(), Ok("eth0"));
    assert_eq!(parse_ifname("fifteen-chars-x").map(|n| n.len()), Ok(15));
    for bad in [
        "",
        ".",
        "..",
        "sixteen-chars-xx",
        "a/b",
        "a b",
        "a:1",
        "a\tb",
    ] {
        assert_eq!(parse_ifname(bad), Err(SpecError::BadInterface), "{bad:?}");
    }
}

fn span() -> impl Strategy<Value = PortSpan> {
    prop_oneof![
        // Anywhere, any width.
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| PortSpan {
            first: a.min(b),
            last: a.max(b),
        }),
        // Narrow spans in a small window, so items interleave without always clashing.
        (0u16..400, 0u16..20).prop_map(|(a, w)| PortSpan {
            first: a,
            last: a + w,
        }),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (span(), any::<u16>()).prop_map(|(ports, to)| {
            // Clamp the target so the mapped range stays within 0..=65535.
            let room = u16::MAX - (ports.last - ports.first);
            Item::Forward {
                ports,
                to: Some(to.min(room)),
            }
        }),
        span().prop_map(|ports| Item::Forward { ports, to: None }),
        span().prop_map(Item::Exclude),
    ]
}

fn bind() -> impl Strategy<Value = (Option<IpAddr>, Option<IfName>)> {
    let addr = prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|o| Some(IpAddr::from(o))),
        any::<[u8; 16]>().prop_map(|o| Some(IpAddr::from(o))),
    ];
    let iface = prop_oneof![
        Just(None),
        "[a-z0-9_.-]{1,15}"
            .prop_filter("not . or ..", |s| s != "." && s != "..")
            .prop_map(|s| Some(IfName::try_from(s.as_str()).unwrap())),
    ];
    (addr, iface)
}

fn spec() -> impl Strategy<Value = Spec> {
    let ranges = (bind(), proptest::collection::vec(item(), 1..8)).prop_map(
        |((bind_addr, bind_iface), list)| {
            // Keep exclusions pairwise disjoint, as the grammar requires.
            let mut items = heapless::Vec::new();
            for i in list {
                let clash = match i {
                    Item::Exclude(s) => items
                        .iter()
                        .any(|o| matches!(o, Item::Exclude(e) if e.overlaps(&s))),
                    Item::Forward { .. } => false,
                };
                if !clash {
                    items.push(i).unwrap();
                }
            }
            Spec::Ranges {
                bind_addr,
                bind_iface,
                items,
            }
        },
    );
    prop_oneof![
        Just(Spec::None),
        Just(Spec::Auto),
        bind().prop_map(|(bind_addr, bind_iface)| Spec::All {
            bind_addr,
            bind_iface
        }),
        ranges,
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,64}") {
        let _ = Spec::parse(&s);
    }

    #[test]
    fn parse_and_expand_never_panic_on_grammar_soup(
        s in "[0-9,:~%/\\[\\]a-f.-]{0,48}",
        eph in proptest::option::of(span()),
    ) {
        if let Ok(spec) = Spec::parse(&s) {
            let mut f = PortForwards::default();
            let _ = spec.add_to(&mut f, eph);
            let _ = std::format!("{spec}");
        }
    }

    #[test]
    fn display_round_trips(spec in spec()) {
        let text = std::format!("{spec}");
        prop_assert_eq!(Spec::parse(&text), Ok(spec), "{}", text);
    }

    #[test]
    fn expansion_matches_the_items(spec in spec(), eph in proptest::option::of(span())) {
        let mut f = PortForwards::default();
        let Ok(()) = spec.add_to(&mut f, eph) else { return Ok(()); };
        let list: &[Item] = match &spec {
            Spec::Ranges { items, .. } => items,
            _ => &[],
        };
        let excluded = |p: u16| list.iter().any(|i| matches!(i, Item::Exclude(s) if s.contains(p)));
        let best_effort = spec.is_best_effort();
        // Probe every boundary (±1) the spec or the ephemeral range mentions.
        let mut probes = std::vec![0u16, 1, u16::MAX];
        for s in list.iter().map(|i| match i { Item::Forward { ports, .. } => *ports, Item::Exclude(s) => *s }).chain(eph) {
            probes.extend([s.first, s.last, s.first.wrapping_sub(1), s.last.wrapping_add(1)]);
        }
        for p in probes {
            let wanted = p != 0 && !excluded(p) && if best_effort {
                !eph.is_some_and(|e| e.contains(p))
            } else {
                list.iter().any(|i| matches!(i, Item::Forward { ports, .. } if ports.contains(p)))
            };
            let found = f.find(p);
            prop_assert_eq!(found.is_some(), wanted, "port {}", p);
            if let (Some((_, r)), false) = (found, best_effort) {
                let Some(Item::Forward { ports, to }) = list.iter().find(|i| matches!(i, Item::Forward { ports, .. } if ports.contains(p))) else { unreachable!() };
                let dst = to.map_or(p, |t| t + (p - ports.first));
                prop_assert_eq!(r.map(p), dst);
            }
        }
        // Ranges are disjoint (one bind address per spec here).
        for (n, a) in f.ranges.iter().enumerate() {
            for b in f.ranges.iter().skip(n + 1) {
                prop_assert!(a.last < b.first || b.last < a.first);
            }
        }
    }
}
