//! Port forwarding rules (`-t/-u/-T/-U` specs) against a port-by-port model.
//!
//! Random specs are rendered to text, parsed by `Spec::parse` and added one after
//! another to a `PortForwards` with `Spec::add_to`. The model reads the same spec
//! the way passt-reference §1.5 describes it — each port forwarded (and where to),
//! or not — and predicts the outcome: the exact port → destination map on success,
//! or which errors are possible (with the table left unchanged) on failure.

use passt_core::fwd::spec::{PortSpan, Spec, SpecError};
use passt_core::fwd::PortForwards;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A port near the interesting places: low ports, the ephemeral boundary, the top.
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        0u16..300,
        49_100u16..49_200,
        65_400u16..=65_535,
        any::<u16>()
    ]
}

fn span_len() -> impl Strategy<Value = u16> {
    prop_oneof![4 => 0u16..20, 1 => 0u16..3000]
}

#[derive(Debug, Clone)]
enum GenItem {
    /// `A[-B][:C[-D]]`; `mismatch` makes the mapped range one port too long.
    Forward {
        first: u16,
        len: u16,
        to: Option<u16>,
        mismatch: bool,
    },
    /// `~A[-B]`.
    Exclude { first: u16, len: u16 },
    /// `B-A` with `B > A`.
    Backwards { low: u16, high: u16 },
}

impl GenItem {
    fn last(first: u16, len: u16) -> u16 {
        first.saturating_add(len)
    }

    fn render(&self) -> String {
        let span = |a: u32, b: u32| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}-{b}")
            }
        };
        match *self {
            GenItem::Forward {
                first,
                len,
                to,
                mismatch,
            } => {
                let last = Self::last(first, len);
                let mut s = span(first.into(), last.into());
                if let Some(to) = to {
                    let to_last = u32::from(to) + u32::from(last - first) + u32::from(mismatch);
                    s += &format!(":{}", span(to.into(), to_last));
                }
                s
            }
            GenItem::Exclude { first, len } => {
                format!("~{}", span(first.into(), Self::last(first, len).into()))
            }
            GenItem::Backwards { low, high } => format!("{high}-{low}"),
        }
    }
}

#[derive(Debug, Clone)]
enum GenBind {
    None,
    Addr(IpAddr, bool),
    Iface,
    Both(IpAddr),
}

impl GenBind {
    fn render(&self) -> String {
        let addr = |a: &IpAddr, brackets: bool| match a {
            IpAddr::V6(v6) if brackets => format!("[{v6}]"),
            a => a.to_string(),
        };
        match self {
            GenBind::None => String::new(),
            GenBind::Addr(a, brackets) => format!("{}/", addr(a, *brackets)),
            GenBind::Iface => "%eth0/".into(),
            GenBind::Both(a) => format!("{}%eth0/", addr(a, true)),
        }
    }

    fn addr(&self) -> Option<IpAddr> {
        match self {
            GenBind::Addr(a, _) | GenBind::Both(a) => Some(*a),
            _ => None,
        }
    }

    fn iface(&self) -> Option<&str> {
        matches!(self, GenBind::Iface | GenBind::Both(_)).then_some("eth0")
    }
}

#[derive(Debug, Clone)]
enum GenSpec {
    None,
    Auto,
    All(GenBind),
    Ranges(GenBind, Vec<GenItem>),
}

impl GenSpec {
    fn render(&self) -> String {
        match self {
            GenSpec::None => "none".into(),
            GenSpec::Auto => "auto".into(),
            GenSpec::All(b) => format!("{}all", b.render()),
            GenSpec::Ranges(b, items) => {
                let list: Vec<String> = items.iter().map(GenItem::render).collect();
                format!("{}{}", b.render(), list.join(","))
            }
        }
    }
}

fn bind() -> impl Strategy<Value = GenBind> {
    let addr = prop_oneof![
        Just(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Just(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2))),
        Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Just(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2))),
    ];
    prop_oneof![
        3 => Just(GenBind::None),
        2 => (addr.clone(), any::<bool>()).prop_map(|(a, b)| GenBind::Addr(a, b)),
        1 => Just(GenBind::Iface),
        1 => addr.prop_map(GenBind::Both),
    ]
}

fn item() -> impl Strategy<Value = GenItem> {
    prop_oneof![
        12 => (port(), span_len(), proptest::option::weighted(0.5, prop_oneof![9 => port(), 1 => Just(0u16)]), proptest::bool::weighted(0.03))
            .prop_map(|(first, len, to, mismatch)| GenItem::Forward { first, len, to, mismatch }),
        5 => (port(), span_len()).prop_map(|(first, len)| GenItem::Exclude { first, len }),
        1 => (0u16..65_535, 1u16..100).prop_map(|(low, d)| GenItem::Backwards { low, high: low.saturating_add(d) }),
    ]
}

fn spec() -> impl Strategy<Value = GenSpec> {
    prop_oneof![
        1 => Just(GenSpec::None),
        1 => Just(GenSpec::Auto),
        1 => bind().prop_map(GenSpec::All),
        10 => (bind(), proptest::collection::vec(item(), 1..7)).prop_map(|(b, i)| GenSpec::Ranges(b, i)),
    ]
}

/// What a spec means, port by port, if it parses.
enum Meaning {
    Nothing,
    NotExpandable,
    /// `(port, destination)` in the order the spec lists them, split into the
    /// contiguous pieces the table will hold (one `Vec` per piece).
    Ports(Vec<Vec<(u16, u16)>>),
}

/// The model of parsing: `Err` with the error the first bad item gives.
fn model_parse(s: &GenSpec) -> Result<(), SpecError> {
    let GenSpec::Ranges(bind, items) = s else {
        return Ok(());
    };
    let _ = bind;
    for item in items {
        match *item {
            GenItem::Backwards { .. } => return Err(SpecError::BadRange),
            GenItem::Forward {
                first,
                len,
                to: Some(to),
                mismatch,
            } => {
                let last = GenItem::last(first, len);
                let to_last = u32::from(to) + u32::from(last - first) + u32::from(mismatch);
                if to_last > 65_535 {
                    return Err(SpecError::BadPort);
                }
                if mismatch {
                    return Err(SpecError::LengthMismatch);
                }
            }
            _ => {}
        }
    }
    let excl: Vec<(u16, u16)> = items
        .iter()
        .filter_map(|i| match *i {
            GenItem::Exclude { first, len } => Some((first, GenItem::last(first, len))),
            _ => None,
        })
        .collect();
    for (n, a) in excl.iter().enumerate() {
        if excl[n + 1..].iter().any(|b| a.0 <= b.1 && b.0 <= a.1) {
            return Err(SpecError::OverlappingExclusions);
        }
    }
    Ok(())
}

/// The model of expansion (for a spec that parsed).
fn model_meaning(s: &GenSpec, ephemeral: Option<PortSpan>) -> Meaning {
    let (items, best_effort): (&[GenItem], bool) = match s {
        GenSpec::None => return Meaning::Nothing,
        GenSpec::Auto => return Meaning::NotExpandable,
        GenSpec::All(_) => (&[], true),
        GenSpec::Ranges(_, items) => (
            items,
            !items.iter().any(|i| matches!(i, GenItem::Forward { .. })),
        ),
    };
    let excluded = |p: u16| {
        p == 0
            || items.iter().any(|i| match *i {
                GenItem::Exclude { first, len } => (first..=GenItem::last(first, len)).contains(&p),
                _ => false,
            })
    };
    // Split a span's surviving ports into contiguous pieces.
    let pieces = |first: u16, last: u16, dest: &dyn Fn(u16) -> u16, skip: &dyn Fn(u16) -> bool| {
        let mut out: Vec<Vec<(u16, u16)>> = Vec::new();
        let mut prev: Option<u16> = None;
        for p in first..=last {
            if skip(p) {
                prev = None;
                continue;
            }
            if prev.is_some_and(|q| q + 1 == p) {
                out.last_mut().expect("open piece").push((p, dest(p)));
            } else {
                out.push(vec![(p, dest(p))]);
            }
            prev = Some(p);
        }
        out
    };
    if best_effort {
        let eph = |p: u16| ephemeral.is_some_and(|e| e.contains(p));
        return Meaning::Ports(pieces(1, 65_535, &|p| p, &|p| excluded(p) || eph(p)));
    }
    let mut all = Vec::new();
    for item in items {
        if let GenItem::Forward { first, len, to, .. } = *item {
            let dest = move |p: u16| to.map_or(p, |t| t + (p - first));
            all.extend(pieces(first, GenItem::last(first, len), &dest, &excluded));
        }
    }
    Meaning::Ports(all)
}

/// Which ports are forwarded so far: port → (bind address, delta).
type Table = BTreeMap<u16, Vec<(Option<IpAddr>, u16)>>;

/// Errors `add_to` may return for `pieces` given what is forwarded already.
fn possible_errors(
    pieces: &[Vec<(u16, u16)>],
    have: &Table,
    bind: Option<IpAddr>,
    ranges: usize,
) -> Vec<SpecError> {
    let mut errs = Vec::new();
    let mut seen = BTreeMap::new();
    for &(p, d) in pieces.iter().flatten() {
        if d == 0 {
            errs.push(SpecError::PortZero);
        }
        let delta = d.wrapping_sub(p);
        let clash_old = have.get(&p).is_some_and(|olds| {
            olds.iter().any(|&(ob, od)| {
                let distinct = matches!((ob, bind), (Some(a), Some(b)) if a != b);
                !(distinct && od == delta)
            })
        });
        if clash_old || seen.insert(p, ()).is_some() {
            errs.push(SpecError::Overlap(p));
        }
    }
    if pieces.is_empty() {
        errs.push(SpecError::NothingForwarded);
    }
    if ranges + pieces.len() > passt_core::fwd::MAX_PORT_RANGES {
        errs.push(SpecError::TooManyRanges);
    }
    errs
}

fn run(specs: &[GenSpec], ephemeral: Option<PortSpan>) -> Result<(), TestCaseError> {
    let mut fwd = PortForwards::default();
    let mut have: Table = BTreeMap::new();
    for g in specs {
        let text = g.render();
        let parsed = Spec::parse(&text);
        match (model_parse(g), &parsed) {
            (Err(want), Err(got)) => {
                prop_assert_eq!(*got, want, "{}", text);
                continue;
            }
            (Ok(()), Ok(spec)) => {
                // The canonical text parses back to the same spec.
                let again = Spec::parse(&spec.to_string());
                prop_assert_eq!(again.as_ref(), Ok(spec), "{}", text);
            }
            (want, got) => prop_assert!(false, "{text}: parse gave {got:?}, model {want:?}"),
        }
        let spec = parsed.expect("checked above");
        let bind = match g {
            GenSpec::All(b) | GenSpec::Ranges(b, _) => b.clone(),
            _ => GenBind::None,
        };
        let before = fwd.clone();
        let result = spec.add_to(&mut fwd, ephemeral);
        match model_meaning(g, ephemeral) {
            Meaning::Nothing => {
                prop_assert_eq!(result, Ok(()));
                prop_assert_eq!(&fwd, &before);
            }
            Meaning::NotExpandable => {
                prop_assert_eq!(result, Err(SpecError::NotExpandable));
                prop_assert_eq!(&fwd, &before);
            }
            Meaning::Ports(pieces) => {
                let errs = possible_errors(&pieces, &have, bind.addr(), before.ranges.len());
                match result {
                    Err(e) => {
                        prop_assert!(
                            errs.iter()
                                .any(|w| std::mem::discriminant(w) == std::mem::discriminant(&e)),
                            "{}: add_to gave {:?}, model allows {:?}",
                            text,
                            e,
                            errs
                        );
                        if let SpecError::Overlap(p) = e {
                            prop_assert!(
                                errs.contains(&SpecError::Overlap(p)),
                                "{}: port {} does not overlap",
                                text,
                                p
                            );
                        }
                        prop_assert_eq!(&fwd, &before, "{}: failed add_to changed the table", text);
                    }
                    Ok(()) => {
                        prop_assert!(
                            errs.is_empty(),
                            "{}: add_to succeeded, model expects {:?}",
                            text,
                            errs
                        );
                        check_added(&text, &before, &fwd, &pieces, &bind)?;
                        for &(p, d) in pieces.iter().flatten() {
                            have.entry(p)
                                .or_default()
                                .push((bind.addr(), d.wrapping_sub(p)));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The ranges `add_to` appended forward exactly the model's ports, as the model's
/// pieces, with the spec's bind address and interface.
fn check_added(
    text: &str,
    before: &PortForwards,
    after: &PortForwards,
    pieces: &[Vec<(u16, u16)>],
    bind: &GenBind,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&after.ranges[..before.ranges.len()], &before.ranges[..]);
    let added = &after.ranges[before.ranges.len()..];
    prop_assert_eq!(added.len(), pieces.len(), "{}: pieces", text);
    for (r, piece) in added.iter().zip(pieces) {
        prop_assert_eq!(
            (r.first, r.last),
            (piece[0].0, piece[piece.len() - 1].0),
            "{}",
            text
        );
        for &(p, d) in piece {
            prop_assert_eq!(r.map(p), d, "{}: port {}", text, p);
            let (_, found) = after.find(p).expect("forwarded port is found");
            prop_assert_eq!(found.map(p), d, "{}: find({})", text, p);
        }
        prop_assert_eq!(r.bind_addr, bind.addr());
        prop_assert_eq!(r.bind_iface.as_deref(), bind.iface());
    }
    Ok(())
}

proptest! {
    #![proptest_config(passt_model_tests::config(256))]

    #[test]
    fn port_specs_match_the_model(
        specs in proptest::collection::vec(spec(), 1..4),
        ephemeral in proptest::option::weighted(0.8, (1u16..65_535, 0u16..20_000)
            .prop_map(|(a, l)| PortSpan { first: a, last: a.saturating_add(l) })),
    ) {
        run(&specs, ephemeral)?;
    }

    /// Whatever the text, parsing and expanding never panic, and a failed expansion
    /// leaves the table alone.
    #[test]
    fn any_text_is_handled(text in "[0-9:,~%/\\[\\]a-f.-]{0,40}") {
        if let Ok(spec) = Spec::parse(&text) {
            let mut fwd = PortForwards::default();
            if spec.add_to(&mut fwd, None).is_err() {
                prop_assert!(fwd.ranges.is_empty());
            }
        }
    }
}

/// Unforwarded ports are not found; the examples of passt-reference §1.5 behave as
/// documented.
#[test]
fn documented_examples() {
    let eph = Some(PortSpan {
        first: 49_152,
        last: 65_535,
    });
    let mut fwd = PortForwards::default();
    Spec::parse("22,80-82:8080-8082,~81")
        .unwrap()
        .add_to(&mut fwd, eph)
        .unwrap();
    let map = |f: &PortForwards, p| f.find(p).map(|(_, r)| r.map(p));
    assert_eq!(map(&fwd, 22), Some(22));
    assert_eq!(map(&fwd, 80), Some(8080));
    assert_eq!(map(&fwd, 81), None, "excluded");
    assert_eq!(map(&fwd, 82), Some(8082));
    assert_eq!(map(&fwd, 23), None);
    let mut all = PortForwards::default();
    Spec::parse("~20000-20010")
        .unwrap()
        .add_to(&mut all, eph)
        .unwrap();
    assert_eq!(map(&all, 0), None);
    assert_eq!(map(&all, 1), Some(1));
    assert_eq!(map(&all, 20_005), None);
    assert_eq!(map(&all, 49_152), None, "ephemeral ports are skipped");
    assert_eq!(map(&all, 49_151), Some(49_151));
}
