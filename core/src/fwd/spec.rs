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
mod tests;
