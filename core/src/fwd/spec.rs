//! The port specification grammar of `-t`, `-u`, `-T` and `-U` (passt-reference §1.5,
//! callers §0.4), and its expansion into [`PortForwards`].
//!
//! ```text
//! SPEC   := "none" | "auto" | "all" | BIND "/" "all" | [BIND "/"] ITEMS
//! BIND   := ADDR | "[" ADDR "]" | ADDR "%" IFNAME | "[" ADDR "]" "%" IFNAME | "%" IFNAME
//! ITEMS  := ITEM ("," ITEM)*
//! ITEM   := RANGE [":" RANGE]      (a mapped range has the same length as the original)
//!         | "~" RANGE              (exclusion: anywhere in the list, applies to all ranges)
//! RANGE  := PORT ["-" PORT]        (PORT is decimal 0..=65535; last >= first)
//! ```
//!
//! `ADDR` may be a bare IPv6 address (`::1/8080-8080:8080-8080`, as podman writes it) or a
//! bracketed one (`[::1]/8080`). `BIND "/" "all"` is what libvirt emits for a
//! `<portForward address=…>` without ranges. A spec of exclusions only (`~20000-20010`)
//! means every port from 1 to 65535 except the excluded ones and the host's ephemeral
//! range, like `all`.
//!
//! Which keywords a mode accepts (`auto` is pasta's, `all` passt's), whether `-T`/`-U` may
//! carry a bind address, and how repeated options combine are the command line's
//! business; this module only knows the grammar and how one spec adds to a
//! [`PortForwards`]. Nothing here allocates or panics, whatever the input.

use super::{IfName, PortForwards, PortRange, MAX_IFNAME, MAX_PORT_RANGES};
use core::fmt;
use core::net::IpAddr;

/// Most items (ranges and exclusions) one spec may list.
pub const MAX_SPEC_ITEMS: usize = MAX_PORT_RANGES;

/// Why a port specification was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecError {
    /// The spec, or an item of its comma list, is empty.
    Empty,
    /// A port is not a decimal number from 0 to 65535.
    BadPort,
    /// A range ends before it starts, or a mapped range runs past port 65535.
    BadRange,
    /// A mapped range (`A-B:C-D`) differs in length from the original.
    LengthMismatch,
    /// The bind address before `/` is not an IPv4 or IPv6 address.
    BadAddress,
    /// The interface name after `%` is empty, too long or holds forbidden characters.
    BadInterface,
    /// `none` or `auto` was given a bind address.
    KeywordWithBind,
    /// An exclusion (`~A-B`) carries a `:` mapping.
    MappedExclusion,
    /// Two exclusions of one spec share a port.
    OverlappingExclusions,
    /// More than [`MAX_SPEC_ITEMS`] items in one spec.
    TooManyItems,
    /// `auto` cannot be expanded into fixed ranges: it is re-scanned at run time.
    NotExpandable,
    /// This port is already forwarded (by this spec or an earlier one).
    Overlap(u16),
    /// More than [`MAX_PORT_RANGES`] ranges after splitting around exclusions.
    TooManyRanges,
    /// A forwarded port would be mapped to destination port 0.
    PortZero,
    /// The spec leaves no port to forward.
    NothingForwarded,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Empty => f.write_str("empty port specifier or list item"),
            SpecError::BadPort => f.write_str("port is not a number from 0 to 65535"),
            SpecError::BadRange => f.write_str("port range ends before it starts or past 65535"),
            SpecError::LengthMismatch => {
                f.write_str("mapped range differs in length from the original")
            }
            SpecError::BadAddress => f.write_str("bad bind address"),
            SpecError::BadInterface => f.write_str("bad interface name"),
            SpecError::KeywordWithBind => f.write_str("'none' and 'auto' take no bind address"),
            SpecError::MappedExclusion => f.write_str("an excluded range can't be mapped"),
            SpecError::OverlappingExclusions => f.write_str("overlapping excluded ranges"),
            SpecError::TooManyItems => f.write_str("too many items in one specifier"),
            SpecError::NotExpandable => f.write_str("'auto' has no fixed port ranges"),
            SpecError::Overlap(port) => write!(f, "port {port} is already forwarded"),
            SpecError::TooManyRanges => f.write_str("too many port ranges"),
            SpecError::PortZero => f.write_str("port 0 can't be a destination"),
            SpecError::NothingForwarded => f.write_str("no port left to forward"),
        }
    }
}

/// An inclusive span of ports, `first <= last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortSpan {
    /// First port.
    pub first: u16,
    /// Last port.
    pub last: u16,
}

impl PortSpan {
    /// The span `first..=last`, or `None` if it would be empty.
    pub fn new(first: u16, last: u16) -> Option<PortSpan> {
        (first <= last).then_some(PortSpan { first, last })
    }

    /// Every port, 0 to 65535.
    pub const FULL: PortSpan = PortSpan {
        first: 0,
        last: u16::MAX,
    };

    /// How many ports the span holds (1 to 65536; 0 for a malformed `first > last`).
    pub fn len(&self) -> u32 {
        (u32::from(self.last) + 1).saturating_sub(u32::from(self.first))
    }

    /// Whether the span holds no port (only for a malformed `first > last`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `port` is in the span.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// Whether the two spans share a port.
    pub fn overlaps(&self, other: &PortSpan) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for PortSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// One item of a spec's comma list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Item {
    /// Forward `ports`; with `to`, port `ports.first + i` goes to `to + i`.
    Forward {
        /// The ports listened on.
        ports: PortSpan,
        /// First destination port of a `:` mapping (same length as `ports`).
        to: Option<u16>,
    },
    /// Do not forward these ports (`~A-B`), whichever range would include them.
    Exclude(PortSpan),
}

/// One parsed `-t/-u/-T/-U` argument.
// Without `alloc` the item list can't be boxed; a `Spec` is a short-lived parse result,
// so the ~1 KiB inline list is the price of staying allocation-free.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `none`: forward nothing.
    None,
    /// `auto`: forward whatever the other side listens on, re-scanned at run time.
    Auto,
    /// `all` (optionally `BIND/all`): every port except the host's ephemeral range.
    All {
        /// Listen on this address only.
        bind_addr: Option<IpAddr>,
        /// Listen on this interface only.
        bind_iface: Option<IfName>,
    },
    /// An explicit list; with exclusions only, every port except those.
    Ranges {
        /// Listen on this address only.
        bind_addr: Option<IpAddr>,
        /// Listen on this interface only.
        bind_iface: Option<IfName>,
        /// Ranges and exclusions, in the order given.
        items: heapless::Vec<Item, MAX_SPEC_ITEMS>,
    },
}

impl Spec {
    /// Parse one argument of `-t/-u/-T/-U`.
    pub fn parse(s: &str) -> Result<Spec, SpecError> {
        match s {
            "" => return Err(SpecError::Empty),
            "none" => return Ok(Spec::None),
            "auto" => return Ok(Spec::Auto),
            "all" => {
                return Ok(Spec::All {
                    bind_addr: None,
                    bind_iface: None,
                })
            }
            _ => {}
        }
        let (bind_addr, bind_iface, list) = match s.split_once('/') {
            Some((bind, list)) => {
                let (addr, iface) = parse_bind(bind)?;
                (addr, iface, list)
            }
            None => (None, None, s),
        };
        match list {
            "none" | "auto" => return Err(SpecError::KeywordWithBind),
            "all" => {
                return Ok(Spec::All {
                    bind_addr,
                    bind_iface,
                })
            }
            _ => {}
        }
        let mut items = heapless::Vec::new();
        for text in list.split(',') {
            let item = parse_item(text)?;
            items.push(item).map_err(|_| SpecError::TooManyItems)?;
        }
        let excluded = || {
            items.iter().filter_map(|i| match i {
                Item::Exclude(span) => Some(*span),
                Item::Forward { .. } => None,
            })
        };
        for (n, a) in excluded().enumerate() {
            if excluded().skip(n + 1).any(|b| a.overlaps(&b)) {
                return Err(SpecError::OverlappingExclusions);
            }
        }
        Ok(Spec::Ranges {
            bind_addr,
            bind_iface,
            items,
        })
    }

    /// Whether the spec restricts listening to an address or an interface.
    pub fn has_bind(&self) -> bool {
        match self {
            Spec::None | Spec::Auto => false,
            Spec::All {
                bind_addr,
                bind_iface,
            }
            | Spec::Ranges {
                bind_addr,
                bind_iface,
                ..
            } => bind_addr.is_some() || bind_iface.is_some(),
        }
    }

    /// Whether the spec covers "every port but…" (`all`, or exclusions only): a port
    /// that can't be bound is then skipped rather than fatal (passt-reference §1.5).
    pub fn is_best_effort(&self) -> bool {
        match self {
            Spec::All { .. } => true,
            Spec::Ranges { items, .. } => !items.iter().any(|i| matches!(i, Item::Forward { .. })),
            Spec::None | Spec::Auto => false,
        }
    }

    /// Add the ports this spec forwards to `fwd`, splitting ranges around exclusions.
    ///
    /// `ephemeral` is the host's ephemeral port range, skipped by `all` and by
    /// exclusion-only specs (passt-reference §1.5). Port 0 is never forwarded. On error
    /// `fwd` is left unchanged. A port already in `fwd` is an [`SpecError::Overlap`],
    /// except when both ranges bind distinct explicit addresses with the same mapping
    /// (`-t 127.0.0.1/80 -t ::1/80`): those are different sockets with one meaning.
    pub fn add_to(
        &self,
        fwd: &mut PortForwards,
        ephemeral: Option<PortSpan>,
    ) -> Result<(), SpecError> {
        let (bind_addr, bind_iface, items): (_, _, &[Item]) = match self {
            Spec::None => return Ok(()),
            Spec::Auto => return Err(SpecError::NotExpandable),
            Spec::All {
                bind_addr,
                bind_iface,
            } => (bind_addr, bind_iface, &[]),
            Spec::Ranges {
                bind_addr,
                bind_iface,
                items,
            } => (bind_addr, bind_iface, items),
        };
        let mut out = fwd.clone();
        let before = out.ranges.len();
        let template = PortRange {
            first: 0,
            last: 0,
            delta: 0,
            bind_addr: *bind_addr,
            bind_iface: bind_iface.clone(),
        };
        if self.is_best_effort() {
            let all = PortSpan {
                first: 1,
                last: u16::MAX,
            };
            add_split(&mut out, &template, all, 0, items, ephemeral)?;
        } else {
            for item in items {
                let Item::Forward { ports, to } = *item else {
                    continue;
                };
                if ports.first > ports.last {
                    return Err(SpecError::BadRange);
                }
                let delta = match to {
                    Some(to) => {
                        to.checked_add(ports.last - ports.first)
                            .ok_or(SpecError::BadRange)?;
                        to.wrapping_sub(ports.first)
                    }
                    None => 0,
                };
                add_split(&mut out, &template, ports, delta, items, None)?;
            }
        }
        if out.ranges.len() == before {
            return Err(SpecError::NothingForwarded);
        }
        *fwd = out;
        Ok(())
    }
}

/// Add `span` (mapped by `delta`) minus every exclusion in `items`, minus `also`, minus
/// port 0, as one or more ranges shaped like `template`.
fn add_split(
    out: &mut PortForwards,
    template: &PortRange,
    span: PortSpan,
    delta: u16,
    items: &[Item],
    also: Option<PortSpan>,
) -> Result<(), SpecError> {
    let holes = || {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Exclude(s) => Some(*s),
                Item::Forward { .. } => None,
            })
            .chain(also)
            .chain(Some(PortSpan { first: 0, last: 0 }))
    };
    let mut cur = span.first;
    loop {
        if cur > span.last {
            return Ok(());
        }
        // Inside a hole: skip past its end (the furthest one, as holes may overlap).
        if let Some(end) = holes().filter(|h| h.contains(cur)).map(|h| h.last).max() {
            match end.checked_add(1) {
                Some(next) => {
                    cur = next;
                    continue;
                }
                None => return Ok(()),
            }
        }
        // Outside every hole: the piece runs up to the next hole or the span's end.
        let last = holes()
            .filter(|h| h.first > cur && h.first <= span.last)
            .map(|h| h.first - 1)
            .min()
            .unwrap_or(span.last);
        let piece = PortRange {
            first: cur,
            last,
            delta,
            ..template.clone()
        };
        push_range(out, piece)?;
        match last.checked_add(1) {
            Some(next) => cur = next,
            None => return Ok(()),
        }
    }
}

/// Append `new`, refusing a destination port 0 and ports already forwarded.
fn push_range(out: &mut PortForwards, new: PortRange) -> Result<(), SpecError> {
    let span = PortSpan {
        first: new.first,
        last: new.last,
    };
    // Port p goes to p + delta (mod 2^16): 0 is reached from 65536 - delta.
    if new.delta != 0 && span.contains(0u16.wrapping_sub(new.delta)) {
        return Err(SpecError::PortZero);
    }
    for old in &out.ranges {
        let other = PortSpan {
            first: old.first,
            last: old.last,
        };
        if !span.overlaps(&other) {
            continue;
        }
        let distinct_binds = matches!((old.bind_addr, new.bind_addr), (Some(a), Some(b)) if a != b);
        if !(distinct_binds && old.delta == new.delta) {
            return Err(SpecError::Overlap(span.first.max(other.first)));
        }
    }
    out.ranges.push(new).map_err(|_| SpecError::TooManyRanges)
}

/// Parse the part before `/`: an address, an interface, or both.
fn parse_bind(s: &str) -> Result<(Option<IpAddr>, Option<IfName>), SpecError> {
    let (addr, iface) = if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or(SpecError::BadAddress)?;
        if addr.is_empty() {
            return Err(SpecError::BadAddress);
        }
        let iface = match after {
            "" => None,
            _ => Some(after.strip_prefix('%').ok_or(SpecError::BadAddress)?),
        };
        (addr, iface)
    } else {
        match s.split_once('%') {
            Some((addr, iface)) => (addr, Some(iface)),
            None => (s, None),
        }
    };
    let addr = match addr {
        "" => None,
        a => Some(a.parse::<IpAddr>().map_err(|_| SpecError::BadAddress)?),
    };
    let iface = iface.map(parse_ifname).transpose()?;
    if addr.is_none() && iface.is_none() {
        return Err(SpecError::BadAddress);
    }
    Ok((addr, iface))
}

/// Validate a network interface name the way Linux does (`dev_valid_name`): 1 to
/// [`MAX_IFNAME`] bytes, not `.` or `..`, and no `/`, `:`, whitespace or control
/// characters.
pub fn parse_ifname(s: &str) -> Result<IfName, SpecError> {
    if s.is_empty() || s.len() > MAX_IFNAME || s == "." || s == ".." {
        return Err(SpecError::BadInterface);
    }
    if s.chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(SpecError::BadInterface);
    }
    let mut name = IfName::new();
    name.push_str(s).map_err(|_| SpecError::BadInterface)?;
    Ok(name)
}

/// Parse one comma-list item.
fn parse_item(s: &str) -> Result<Item, SpecError> {
    if s.is_empty() {
        return Err(SpecError::Empty);
    }
    if let Some(rest) = s.strip_prefix('~') {
        if rest.contains(':') {
            return Err(SpecError::MappedExclusion);
        }
        return parse_span(rest).map(Item::Exclude);
    }
    let (orig, mapped) = match s.split_once(':') {
        Some((orig, mapped)) => (orig, Some(mapped)),
        None => (s, None),
    };
    let ports = parse_span(orig)?;
    let to = match mapped {
        None => None,
        Some(m) => {
            let target = parse_span(m)?;
            if target.len() != ports.len() {
                return Err(SpecError::LengthMismatch);
            }
            Some(target.first)
        }
    };
    Ok(Item::Forward { ports, to })
}

/// Parse `PORT` or `PORT-PORT`.
fn parse_span(s: &str) -> Result<PortSpan, SpecError> {
    let (first, last) = match s.split_once('-') {
        Some((a, b)) => (parse_port(a)?, parse_port(b)?),
        None => {
            let p = parse_port(s)?;
            (p, p)
        }
    };
    PortSpan::new(first, last).ok_or(SpecError::BadRange)
}

/// Parse a decimal port number: digits only (no sign, no blanks), at most 65535.
fn parse_port(s: &str) -> Result<u16, SpecError> {
    if s.is_empty() {
        return Err(SpecError::BadPort);
    }
    s.bytes().try_fold(0u16, |acc, b| {
        if !b.is_ascii_digit() {
            return Err(SpecError::BadPort);
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u16::from(b - b'0')))
            .ok_or(SpecError::BadPort)
    })
}

/// Writes `[v6]` with brackets (the canonical form; bare v6 parses too).
fn fmt_bind(
    f: &mut fmt::Formatter<'_>,
    addr: &Option<IpAddr>,
    iface: &Option<IfName>,
) -> fmt::Result {
    match addr {
        Some(IpAddr::V4(a)) => write!(f, "{a}")?,
        Some(IpAddr::V6(a)) => write!(f, "[{a}]")?,
        None => {}
    }
    if let Some(i) = iface {
        write!(f, "%{i}")?;
    }
    if addr.is_some() || iface.is_some() {
        f.write_str("/")?;
    }
    Ok(())
}

/// The canonical text of a spec; parsing it gives the same [`Spec`] back.
impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::None => f.write_str("none"),
            Spec::Auto => f.write_str("auto"),
            Spec::All {
                bind_addr,
                bind_iface,
            } => {
                fmt_bind(f, bind_addr, bind_iface)?;
                f.write_str("all")
            }
            Spec::Ranges {
                bind_addr,
                bind_iface,
                items,
            } => {
                fmt_bind(f, bind_addr, bind_iface)?;
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        f.write_str(",")?;
                    }
                    match item {
                        Item::Exclude(span) => write!(f, "~{span}")?,
                        Item::Forward { ports, to: None } => write!(f, "{ports}")?,
                        Item::Forward {
                            ports,
                            to: Some(to),
                        } => {
                            // Always the two-sided form, so a one-port mapping stays one.
                            let end = to.saturating_add(ports.last.saturating_sub(ports.first));
                            write!(f, "{}-{}:{}-{}", ports.first, ports.last, to, end)?
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert!(
            matches!(&s, Spec::Ranges { bind_addr: None, bind_iface: Some(i), .. } if i == "lo")
        );
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
}
