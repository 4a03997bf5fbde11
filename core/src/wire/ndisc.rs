//! Neighbor Discovery for IPv6: the messages of RFC 4861 §4.1–§4.4, the options of
//! §4.6, and the DNS options of RFC 8106 (RDNSS §5.1, DNSSL §5.2).
//!
//! A parsed [`Repr`] keeps its options as the raw, structurally validated option
//! area; [`NdiscOptionIter`] decodes them lazily. To build a message, pass a slice of
//! [`NdiscOption`]s to [`Repr::emit_with_options`], which writes the complete ICMPv6
//! message with its checksum and returns its length.
//!
//! This module also holds two helpers shared with DHCPv6: [`Ipv6List`] (RDNSS and
//! DHCPv6 option 23 addresses) and [`DomainList`] with the uncompressed RFC 1035
//! name encoder [`encode_domain_name`] (DNSSL and DHCPv6 option 24).

use super::ethernet::MacAddr;
use super::icmpv6::{Message, Packet};
use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::fmt;
use core::net::Ipv6Addr;

macro_rules! flags {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $flag:ident = $bit:expr,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$fdoc])* pub const $flag: $name = $name($bit);)*

            /// No flag set.
            pub const fn empty() -> $name {
                $name(0)
            }

            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
    };
}

flags! {
    /// The flags byte of a Router Advertisement (RFC 4861 §4.2); unknown bits are kept.
    RouterFlags {
        /// M: addresses are available via DHCPv6.
        MANAGED = 0x80,
        /// O: other configuration is available via DHCPv6.
        OTHER = 0x40,
    }
}

flags! {
    /// The flag bits of a Neighbor Advertisement (RFC 4861 §4.4): the top three bits of
    /// the first byte after the checksum; the reserved bits are dropped.
    NeighborFlags {
        /// R: the sender is a router.
        ROUTER = 0x80,
        /// S: sent in response to a Neighbor Solicitation.
        SOLICITED = 0x40,
        /// O: override an existing cache entry.
        OVERRIDE = 0x20,
    }
}

flags! {
    /// The flags byte of a Prefix Information option (RFC 4861 §4.6.2); unknown bits kept.
    PrefixFlags {
        /// L: the prefix is on-link.
        ON_LINK = 0x80,
        /// A: the prefix may be used for stateless address autoconfiguration.
        AUTONOMOUS = 0x40,
    }
}

/// Mask of the defined Neighbor Advertisement flag bits.
const NA_FLAGS_MASK: u8 = 0xe0;

mod field {
    use core::ops::Range;
    pub const RA_CUR_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const RA_ROUTER_LIFETIME: usize = 6;
    pub const RA_REACHABLE_TIME: usize = 8;
    pub const RA_RETRANS_TIME: usize = 12;
    pub const NA_FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
}

/// Router Solicitation length without options (RFC 4861 §4.1).
pub const RS_LEN: usize = 8;
/// Router Advertisement length without options (RFC 4861 §4.2).
pub const RA_LEN: usize = 16;
/// Neighbor Solicitation length without options (RFC 4861 §4.3).
pub const NS_LEN: usize = 24;
/// Neighbor Advertisement length without options (RFC 4861 §4.4).
pub const NA_LEN: usize = 24;

/// Option type: Source Link-Layer Address (RFC 4861 §4.6.1).
pub const OPT_SOURCE_LLADDR: u8 = 1;
/// Option type: Target Link-Layer Address (RFC 4861 §4.6.1).
pub const OPT_TARGET_LLADDR: u8 = 2;
/// Option type: Prefix Information (RFC 4861 §4.6.2).
pub const OPT_PREFIX_INFO: u8 = 3;
/// Option type: MTU (RFC 4861 §4.6.4).
pub const OPT_MTU: u8 = 5;
/// Option type: Recursive DNS Server (RFC 8106 §5.1).
pub const OPT_RDNSS: u8 = 25;
/// Option type: DNS Search List (RFC 8106 §5.2).
pub const OPT_DNSSL: u8 = 31;

/// Length of a Prefix Information option (RFC 4861 §4.6.2: Length 4).
pub const PREFIX_INFO_LEN: usize = 32;
/// Most addresses one RDNSS option can carry: its Length (1 + 2N) must fit in a byte.
pub const MAX_RDNSS_ADDRS: usize = 127;
/// Longest domain name in text form, without a trailing dot (RFC 1035 §2.3.4: 255
/// octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Contents of a Prefix Information option (RFC 4861 §4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixInfo {
    /// Number of leading prefix bits that are valid (0..=128).
    pub prefix_len: u8,
    /// L and A flags (and any others the sender set).
    pub flags: PrefixFlags,
    /// Seconds the prefix is valid for on-link determination; all ones = infinity.
    pub valid_lifetime: u32,
    /// Seconds addresses generated from the prefix stay preferred; all ones = infinity.
    pub preferred_lifetime: u32,
    /// The prefix (bits after `prefix_len` are sent as given).
    pub prefix: Ipv6Addr,
}

/// A list of IPv6 addresses, either typed or as raw 16-byte wire records.
///
/// Equality compares the addresses, whatever the variant.
#[derive(Debug, Clone, Copy)]
pub enum Ipv6List<'a> {
    /// Typed addresses, e.g. from the configuration.
    Addrs(&'a [Ipv6Addr]),
    /// Addresses back to back as on the wire; a trailing partial address is ignored.
    Wire(&'a [u8]),
}

impl<'a> Ipv6List<'a> {
    /// Number of addresses.
    pub fn len(&self) -> usize {
        match self {
            Ipv6List::Addrs(a) => a.len(),
            Ipv6List::Wire(w) => w.len() / 16,
        }
    }

    /// No address.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The addresses in order.
    pub fn iter(&self) -> Ipv6ListIter<'a> {
        Ipv6ListIter { list: *self, at: 0 }
    }

    /// Bytes the addresses take on the wire.
    pub fn wire_len(&self) -> usize {
        self.len().saturating_mul(16)
    }

    /// Write the addresses back to back into `out`; returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.wire_len();
        let out = out.get_mut(..len).ok_or(Error::Truncated)?;
        for (chunk, addr) in out.chunks_exact_mut(16).zip(self.iter()) {
            chunk.copy_from_slice(&addr.octets());
        }
        Ok(len)
    }
}

impl PartialEq for Ipv6List<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Ipv6List<'_> {}

/// Iterator over an [`Ipv6List`].
#[derive(Debug, Clone)]
pub struct Ipv6ListIter<'a> {
    list: Ipv6List<'a>,
    at: usize,
}

impl Iterator for Ipv6ListIter<'_> {
    type Item = Ipv6Addr;

    fn next(&mut self) -> Option<Ipv6Addr> {
        let addr = match self.list {
            Ipv6List::Addrs(a) => a.get(self.at).copied(),
            Ipv6List::Wire(w) => {
                let start = self.at.checked_mul(16)?;
                let bytes: [u8; 16] = w.get(start..start.checked_add(16)?)?.try_into().ok()?;
                Some(Ipv6Addr::from(bytes))
            }
        }?;
        self.at += 1;
        Some(addr)
    }
}

/// Length on the wire of `name` encoded without compression (RFC 1035 §3.1).
///
/// The name is text with dot-separated labels and an optional trailing dot. The root
/// name, empty labels, labels over 63 bytes and names over 253 characters are
/// rejected with [`Error::Malformed`].
pub fn encoded_name_len(name: &str) -> Result<usize> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::Malformed);
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(Error::Malformed);
        }
    }
    // One length byte per label replaces each dot, plus the first length byte and the
    // terminating zero.
    Ok(name.len() + 2)
}

/// Encode `name` without compression (RFC 1035 §3.1: length-prefixed labels ending
/// with a zero byte) into `out`; returns the length written.
///
/// Errors: [`Error::Malformed`] for names [`encoded_name_len`] rejects,
/// [`Error::Truncated`] when `out` is too short.
pub fn encode_domain_name(name: &str, out: &mut [u8]) -> Result<usize> {
    let len = encoded_name_len(name)?;
    let out = out.get_mut(..len).ok_or(Error::Truncated)?;
    let mut at = 0;
    for label in name.strip_suffix('.').unwrap_or(name).split('.') {
        // Validated above: 1..=63 bytes, and the labels add up to `len`.
        out[at] = label.len() as u8;
        out[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    out[at] = 0;
    Ok(len)
}

/// Check that `data` is a sequence of uncompressed wire names (RFC 1035 §3.1): every
/// label at most 63 bytes (so no compression pointers), every name terminated and at
/// most 255 bytes. Zero bytes between or after names (root names, padding) are allowed.
pub fn check_wire_names(data: &[u8]) -> Result<()> {
    let mut at = 0;
    while at < data.len() {
        let start = at;
        loop {
            let len = usize::from(*data.get(at).ok_or(Error::Malformed)?);
            at += 1;
            if len == 0 {
                break;
            }
            if len > MAX_LABEL_LEN {
                return Err(Error::Malformed);
            }
            at = at.checked_add(len).ok_or(Error::Malformed)?;
            if at - start > MAX_NAME_LEN + 2 {
                return Err(Error::Malformed);
            }
        }
    }
    Ok(())
}

/// A list of domain names, either as text or as uncompressed wire names.
///
/// Equality compares the names label by label (exact bytes), whatever the variant.
#[derive(Debug, Clone, Copy)]
pub enum DomainList<'a> {
    /// Text names such as `"example.com"` (trailing dot optional).
    Names(&'a [&'a str]),
    /// Uncompressed wire names back to back; zero bytes between them (root names,
    /// DNSSL padding) are skipped, and iteration stops at the first malformed name.
    Wire(&'a [u8]),
}

impl<'a> DomainList<'a> {
    /// The names in order.
    pub fn iter(&self) -> DomainIter<'a> {
        match *self {
            DomainList::Names(n) => DomainIter::Names(n.iter()),
            DomainList::Wire(w) => DomainIter::Wire(w),
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// No name.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Bytes the names take on the wire, uncompressed and unpadded.
    pub fn encoded_len(&self) -> Result<usize> {
        self.iter().try_fold(0usize, |acc, n| {
            acc.checked_add(n.encoded_len()?).ok_or(Error::Malformed)
        })
    }

    /// Write the names uncompressed into `out`; returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let mut at = 0;
        for name in self.iter() {
            let rest = out.get_mut(at..).ok_or(Error::Truncated)?;
            at += name.encode(rest)?;
        }
        Ok(at)
    }
}

impl PartialEq for DomainList<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for DomainList<'_> {}

/// Iterator over a [`DomainList`].
#[derive(Debug, Clone)]
pub enum DomainIter<'a> {
    /// Over text names.
    Names(core::slice::Iter<'a, &'a str>),
    /// Over the remaining wire bytes.
    Wire(&'a [u8]),
}

impl<'a> Iterator for DomainIter<'a> {
    type Item = DomainName<'a>;

    fn next(&mut self) -> Option<DomainName<'a>> {
        match self {
            DomainIter::Names(it) => it.next().map(|n| DomainName::Text(n)),
            DomainIter::Wire(rest) => {
                let data = *rest;
                let start = data.iter().position(|&b| b != 0)?;
                let mut at = start;
                loop {
                    let len = usize::from(*data.get(at)?);
                    if len == 0 {
                        break;
                    }
                    if len > MAX_LABEL_LEN || at - start > MAX_NAME_LEN {
                        *rest = &[];
                        return None;
                    }
                    at += 1 + len;
                }
                let name = data.get(start..=at)?;
                *rest = data.get(at + 1..).unwrap_or(&[]);
                Some(DomainName::Wire(name))
            }
        }
    }
}

/// One domain name from a [`DomainList`].
#[derive(Debug, Clone, Copy)]
pub enum DomainName<'a> {
    /// Text form.
    Text(&'a str),
    /// Uncompressed wire form including the terminating zero byte.
    Wire(&'a [u8]),
}

impl<'a> DomainName<'a> {
    /// The labels, without length bytes or dots.
    pub fn labels(&self) -> Labels<'a> {
        match *self {
            DomainName::Text(t) => {
                let t = t.strip_suffix('.').unwrap_or(t);
                Labels::Text((!t.is_empty()).then_some(t))
            }
            DomainName::Wire(w) => Labels::Wire(w),
        }
    }

    /// Length on the wire, uncompressed.
    pub fn encoded_len(&self) -> Result<usize> {
        match self {
            DomainName::Text(t) => encoded_name_len(t),
            DomainName::Wire(w) => Ok(w.len()),
        }
    }

    /// Write the name uncompressed into `out`; returns the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        match self {
            DomainName::Text(t) => encode_domain_name(t, out),
            DomainName::Wire(w) => {
                out.get_mut(..w.len())
                    .ok_or(Error::Truncated)?
                    .copy_from_slice(w);
                Ok(w.len())
            }
        }
    }
}

impl PartialEq for DomainName<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.labels().eq(other.labels())
    }
}

impl Eq for DomainName<'_> {}

impl fmt::Display for DomainName<'_> {
    /// Dotted text; bytes that are not printable ASCII (and dots inside labels) are
    /// written as `\DDD` (RFC 4343 §2.1 style).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", char::from(b))?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
        }
        Ok(())
    }
}

/// Iterator over the labels of a [`DomainName`].
#[derive(Debug, Clone)]
pub enum Labels<'a> {
    /// Remaining text (`None` once exhausted).
    Text(Option<&'a str>),
    /// Remaining wire bytes.
    Wire(&'a [u8]),
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Labels::Text(rest) => {
                let s = (*rest)?;
                match s.split_once('.') {
                    Some((label, tail)) => {
                        *rest = Some(tail);
                        Some(label.as_bytes())
                    }
                    None => {
                        *rest = None;
                        Some(s.as_bytes())
                    }
                }
            }
            Labels::Wire(rest) => {
                let data = *rest;
                let len = usize::from(*data.first()?);
                let label = if len == 0 || len > MAX_LABEL_LEN {
                    None
                } else {
                    data.get(1..1 + len)
                };
                *rest = match label {
                    Some(_) => data.get(1 + len..).unwrap_or(&[]),
                    None => &[],
                };
                label
            }
        }
    }
}

/// One Neighbor Discovery option (RFC 4861 §4.6, RFC 8106 §5).
///
/// Parsing yields `Wire` variants of the lists; building takes either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdiscOption<'a> {
    /// Source Link-Layer Address (type 1, RFC 4861 §4.6.1), Ethernet only.
    SourceLinkLayerAddr(MacAddr),
    /// Target Link-Layer Address (type 2, RFC 4861 §4.6.1), Ethernet only.
    TargetLinkLayerAddr(MacAddr),
    /// Prefix Information (type 3, RFC 4861 §4.6.2).
    PrefixInformation(PrefixInfo),
    /// MTU (type 5, RFC 4861 §4.6.4).
    Mtu(u32),
    /// Recursive DNS Server (type 25, RFC 8106 §5.1).
    Rdnss {
        /// Seconds the servers may be used; all ones = infinity.
        lifetime: u32,
        /// At least one server address.
        servers: Ipv6List<'a>,
    },
    /// DNS Search List (type 31, RFC 8106 §5.2).
    Dnssl {
        /// Seconds the names may be used; all ones = infinity.
        lifetime: u32,
        /// At least one domain name.
        domains: DomainList<'a>,
    },
}

impl<'a> NdiscOption<'a> {
    /// The option type byte.
    pub fn kind(&self) -> u8 {
        match self {
            NdiscOption::SourceLinkLayerAddr(_) => OPT_SOURCE_LLADDR,
            NdiscOption::TargetLinkLayerAddr(_) => OPT_TARGET_LLADDR,
            NdiscOption::PrefixInformation(_) => OPT_PREFIX_INFO,
            NdiscOption::Mtu(_) => OPT_MTU,
            NdiscOption::Rdnss { .. } => OPT_RDNSS,
            NdiscOption::Dnssl { .. } => OPT_DNSSL,
        }
    }

    /// Decode one option; `opt` is the whole option including type and length.
    /// `Ok(None)` for types this module does not know (RFC 4861 §4.6: receivers
    /// silently ignore them).
    fn parse(opt: &'a [u8]) -> Result<Option<NdiscOption<'a>>> {
        let kind = *opt.first().ok_or(Error::Truncated)?;
        let len = opt.len();
        let parsed = match kind {
            OPT_SOURCE_LLADDR | OPT_TARGET_LLADDR => {
                // RFC 2464 §6: on Ethernet the option is exactly 8 bytes.
                if len != 8 {
                    return Err(Error::Unsupported);
                }
                let mut mac = [0; 6];
                mac.copy_from_slice(&opt[2..8]);
                if kind == OPT_SOURCE_LLADDR {
                    NdiscOption::SourceLinkLayerAddr(MacAddr(mac))
                } else {
                    NdiscOption::TargetLinkLayerAddr(MacAddr(mac))
                }
            }
            OPT_PREFIX_INFO => {
                if len != PREFIX_INFO_LEN || opt[2] > 128 {
                    return Err(Error::Malformed);
                }
                let mut prefix = [0; 16];
                prefix.copy_from_slice(&opt[16..32]);
                NdiscOption::PrefixInformation(PrefixInfo {
                    prefix_len: opt[2],
                    flags: PrefixFlags(opt[3]),
                    valid_lifetime: get_u32(opt, 4),
                    preferred_lifetime: get_u32(opt, 8),
                    prefix: Ipv6Addr::from(prefix),
                })
            }
            OPT_MTU => {
                if len != 8 {
                    return Err(Error::Malformed);
                }
                NdiscOption::Mtu(get_u32(opt, 4))
            }
            OPT_RDNSS => {
                // RFC 8106 §5.1: Length is 1 + 2 × (number of addresses), at least 3.
                if len < 24 || (len - 8) % 16 != 0 {
                    return Err(Error::Malformed);
                }
                NdiscOption::Rdnss {
                    lifetime: get_u32(opt, 4),
                    servers: Ipv6List::Wire(&opt[8..]),
                }
            }
            OPT_DNSSL => {
                // RFC 8106 §5.2: Length at least 2; names uncompressed, zero padded.
                if len < 16 {
                    return Err(Error::Malformed);
                }
                let names = &opt[8..];
                check_wire_names(names)?;
                NdiscOption::Dnssl {
                    lifetime: get_u32(opt, 4),
                    domains: DomainList::Wire(names),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(parsed))
    }

    /// Bytes the option takes on the wire, including padding to a multiple of 8.
    ///
    /// [`Error::Malformed`] for an RDNSS without servers or with more than
    /// [`MAX_RDNSS_ADDRS`], a DNSSL without names, with a bad name, or too long for the
    /// one-byte Length field.
    pub fn buffer_len(&self) -> Result<usize> {
        match self {
            NdiscOption::SourceLinkLayerAddr(_)
            | NdiscOption::TargetLinkLayerAddr(_)
            | NdiscOption::Mtu(_) => Ok(8),
            NdiscOption::PrefixInformation(_) => Ok(PREFIX_INFO_LEN),
            NdiscOption::Rdnss { servers, .. } => {
                let n = servers.len();
                if n == 0 || n > MAX_RDNSS_ADDRS {
                    return Err(Error::Malformed);
                }
                Ok(8 + 16 * n)
            }
            NdiscOption::Dnssl { domains, .. } => {
                let names = domains.encoded_len()?;
                if names == 0 {
                    return Err(Error::Malformed);
                }
                let total = names.checked_add(8 + 7).ok_or(Error::Malformed)? & !7;
                if total > 255 * 8 {
                    return Err(Error::Malformed);
                }
                Ok(total)
            }
        }
    }

    /// Write the option at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len()?;
        let out = out.get_mut(..len).ok_or(Error::Truncated)?;
        out.fill(0);
        out[0] = self.kind();
        // `buffer_len` keeps every option at most 255 units of 8 bytes.
        out[1] = (len / 8) as u8;
        match self {
            NdiscOption::SourceLinkLayerAddr(mac) | NdiscOption::TargetLinkLayerAddr(mac) => {
                out[2..8].copy_from_slice(&mac.0);
            }
            NdiscOption::PrefixInformation(p) => {
                out[2] = p.prefix_len;
                out[3] = p.flags.0;
                put_u32(out, 4, p.valid_lifetime);
                put_u32(out, 8, p.preferred_lifetime);
                out[16..32].copy_from_slice(&p.prefix.octets());
            }
            NdiscOption::Mtu(mtu) => put_u32(out, 4, *mtu),
            NdiscOption::Rdnss { lifetime, servers } => {
                put_u32(out, 4, *lifetime);
                servers.encode(&mut out[8..])?;
            }
            NdiscOption::Dnssl { lifetime, domains } => {
                put_u32(out, 4, *lifetime);
                domains.encode(&mut out[8..])?;
            }
        }
        Ok(len)
    }
}

/// Check the option area's structure (RFC 4861 §4.6): every option has a non-zero
/// Length and fits in the area.
pub fn check_options(data: &[u8]) -> Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let (_, tail) = split_option(rest)?;
        rest = tail;
    }
    Ok(())
}

/// Split the first option off `data`: `(option, rest)`.
fn split_option(data: &[u8]) -> Result<(&[u8], &[u8])> {
    let units = *data.get(1).ok_or(Error::Truncated)?;
    if units == 0 {
        // RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an
        // option with length zero."
        return Err(Error::Malformed);
    }
    let len = usize::from(units) * 8;
    if len > data.len() {
        return Err(Error::Truncated);
    }
    Ok(data.split_at(len))
}

/// Iterator over an option area. Never panics.
///
/// Yields `Ok` for each known, well-formed option and skips unknown types
/// (RFC 4861 §4.6). A known option with a bad length or content yields one `Err` and
/// iteration continues after it; a structural error (zero Length, option past the end)
/// yields one `Err` and ends the iteration.
#[derive(Debug, Clone)]
pub struct NdiscOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> NdiscOptionIter<'a> {
    /// Iterate over `data`, an option area.
    pub fn new(data: &'a [u8]) -> Self {
        NdiscOptionIter { rest: data }
    }
}

impl<'a> Iterator for NdiscOptionIter<'a> {
    type Item = Result<NdiscOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (opt, tail) = match split_option(self.rest) {
                Ok(split) => split,
                Err(e) => {
                    self.rest = &[];
                    return Some(Err(e));
                }
            };
            self.rest = tail;
            match NdiscOption::parse(opt) {
                Ok(Some(o)) => return Some(Ok(o)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

/// Write `options` back to back into `out`; returns the length written.
pub fn emit_options(options: &[NdiscOption<'_>], out: &mut [u8]) -> Result<usize> {
    let mut at = 0;
    for opt in options {
        let rest = out.get_mut(at..).ok_or(Error::Truncated)?;
        at += opt.emit(rest)?;
    }
    Ok(at)
}

/// A Neighbor Discovery message (RFC 4861 §4.1–§4.4).
///
/// `options` is the raw option area, structurally checked by [`Repr::parse`]; decode it
/// with [`Repr::options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Router Solicitation (RFC 4861 §4.1).
    RouterSolicit {
        /// Option area.
        options: &'a [u8],
    },
    /// Router Advertisement (RFC 4861 §4.2).
    RouterAdvert {
        /// Hop limit hosts should use; 0 = unspecified.
        cur_hop_limit: u8,
        /// M, O and any other flags.
        flags: RouterFlags,
        /// Seconds this router is a default router; 0 = not one.
        router_lifetime: u16,
        /// Milliseconds a neighbor is reachable after confirmation; 0 = unspecified.
        reachable_time: u32,
        /// Milliseconds between retransmitted NS; 0 = unspecified.
        retrans_time: u32,
        /// Option area.
        options: &'a [u8],
    },
    /// Neighbor Solicitation (RFC 4861 §4.3).
    NeighborSolicit {
        /// Address being resolved.
        target_addr: Ipv6Addr,
        /// Option area.
        options: &'a [u8],
    },
    /// Neighbor Advertisement (RFC 4861 §4.4).
    NeighborAdvert {
        /// R, S and O.
        flags: NeighborFlags,
        /// Address whose link-layer address is advertised.
        target_addr: Ipv6Addr,
        /// Option area.
        options: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Parse a checked ICMPv6 message of type 133–136 (the checksum is not verified
    /// here; [`super::icmpv6::Repr::parse`] does that).
    ///
    /// Implements the receiver checks that need only the message (RFC 4861 §6.1.1,
    /// §6.1.2, §7.1.1, §7.1.2): code 0, length at least the fixed part, every option
    /// with non-zero length inside the message, target not multicast. The checks on the
    /// IPv6 header are in [`Repr::check_ip`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if packet.msg_code() != 0 {
            return Err(Error::Malformed);
        }
        let bytes = packet.bytes();
        let fixed = match packet.msg_type() {
            Message::RouterSolicit => RS_LEN,
            Message::RouterAdvert => RA_LEN,
            Message::NeighborSolicit => NS_LEN,
            Message::NeighborAdvert => NA_LEN,
            _ => return Err(Error::Unsupported),
        };
        let options = bytes.get(fixed..).ok_or(Error::Truncated)?;
        check_options(options)?;
        let target = || {
            let mut a = [0; 16];
            a.copy_from_slice(&bytes[field::TARGET]);
            let a = Ipv6Addr::from(a);
            if a.is_multicast() {
                Err(Error::Malformed)
            } else {
                Ok(a)
            }
        };
        Ok(match packet.msg_type() {
            Message::RouterSolicit => Repr::RouterSolicit { options },
            Message::RouterAdvert => Repr::RouterAdvert {
                cur_hop_limit: bytes[field::RA_CUR_HOP_LIMIT],
                flags: RouterFlags(bytes[field::RA_FLAGS]),
                router_lifetime: get_u16(bytes, field::RA_ROUTER_LIFETIME),
                reachable_time: get_u32(bytes, field::RA_REACHABLE_TIME),
                retrans_time: get_u32(bytes, field::RA_RETRANS_TIME),
                options,
            },
            Message::NeighborSolicit => Repr::NeighborSolicit {
                target_addr: target()?,
                options,
            },
            _ => Repr::NeighborAdvert {
                flags: NeighborFlags(bytes[field::NA_FLAGS] & NA_FLAGS_MASK),
                target_addr: target()?,
                options,
            },
        })
    }

    /// The ICMPv6 message type.
    pub fn msg_type(&self) -> Message {
        match self {
            Repr::RouterSolicit { .. } => Message::RouterSolicit,
            Repr::RouterAdvert { .. } => Message::RouterAdvert,
            Repr::NeighborSolicit { .. } => Message::NeighborSolicit,
            Repr::NeighborAdvert { .. } => Message::NeighborAdvert,
        }
    }

    /// Length of the message without options.
    pub fn fixed_len(&self) -> usize {
        match self {
            Repr::RouterSolicit { .. } => RS_LEN,
            Repr::RouterAdvert { .. } => RA_LEN,
            Repr::NeighborSolicit { .. } => NS_LEN,
            Repr::NeighborAdvert { .. } => NA_LEN,
        }
    }

    /// The raw option area.
    pub fn option_bytes(&self) -> &'a [u8] {
        match *self {
            Repr::RouterSolicit { options }
            | Repr::RouterAdvert { options, .. }
            | Repr::NeighborSolicit { options, .. }
            | Repr::NeighborAdvert { options, .. } => options,
        }
    }

    /// Decode the options.
    pub fn options(&self) -> NdiscOptionIter<'a> {
        NdiscOptionIter::new(self.option_bytes())
    }

    /// The first well-formed Source Link-Layer Address option.
    pub fn source_lladdr(&self) -> Option<MacAddr> {
        self.options().find_map(|o| match o {
            Ok(NdiscOption::SourceLinkLayerAddr(mac)) => Some(mac),
            _ => None,
        })
    }

    /// The first well-formed Target Link-Layer Address option.
    pub fn target_lladdr(&self) -> Option<MacAddr> {
        self.options().find_map(|o| match o {
            Ok(NdiscOption::TargetLinkLayerAddr(mac)) => Some(mac),
            _ => None,
        })
    }

    /// Whether the option area holds an option of type `kind`, known or not.
    fn has_option_kind(&self, kind: u8) -> bool {
        let mut rest = self.option_bytes();
        while let Ok((opt, tail)) = split_option(rest) {
            if opt.first() == Some(&kind) {
                return true;
            }
            rest = tail;
        }
        false
    }

    /// The receiver checks that depend on the IPv6 header (RFC 4861 §6.1.1, §6.1.2,
    /// §7.1.1, §7.1.2): hop limit 255; an RS or NS from the unspecified address carries
    /// no Source Link-Layer Address option, and such an NS goes to a solicited-node
    /// multicast address; an RA comes from a link-local address; an NA to a multicast
    /// address has the S flag clear. [`Error::Malformed`] if one fails.
    pub fn check_ip(&self, src: &Ipv6Addr, dst: &Ipv6Addr, hop_limit: u8) -> Result<()> {
        let ok = hop_limit == 255
            && match self {
                Repr::RouterSolicit { .. } => {
                    !src.is_unspecified() || !self.has_option_kind(OPT_SOURCE_LLADDR)
                }
                Repr::RouterAdvert { .. } => src.is_unicast_link_local(),
                Repr::NeighborSolicit { .. } => {
                    !src.is_unspecified()
                        || (is_solicited_node(dst) && !self.has_option_kind(OPT_SOURCE_LLADDR))
                }
                Repr::NeighborAdvert { flags, .. } => {
                    !dst.is_multicast() || !flags.contains(NeighborFlags::SOLICITED)
                }
            };
        if ok {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }

    /// Length of the emitted message including the raw option area.
    pub fn buffer_len(&self) -> usize {
        self.fixed_len().saturating_add(self.option_bytes().len())
    }

    /// Write the message and its raw option area into the first
    /// [`Repr::buffer_len`] bytes of `packet`, with code 0, reserved fields zero and
    /// the checksum zero: fill it with [`Packet::fill_checksum`] (or emit through
    /// [`super::icmpv6::Repr::emit`], which does).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_msg_type(self.msg_type());
        packet.set_msg_code(0);
        packet.set_checksum(0);
        // Offsets in `field` count from the start of the message; `body` starts after
        // type, code and checksum.
        const H: usize = super::icmpv6::HEADER_LEN;
        let fixed = self.fixed_len();
        let body = &mut packet.body_mut()[..self.buffer_len() - H];
        body[..fixed - H].fill(0);
        match *self {
            Repr::RouterSolicit { .. } => {}
            Repr::RouterAdvert {
                cur_hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                body[field::RA_CUR_HOP_LIMIT - H] = cur_hop_limit;
                body[field::RA_FLAGS - H] = flags.0;
                put_u16(body, field::RA_ROUTER_LIFETIME - H, router_lifetime);
                put_u32(body, field::RA_REACHABLE_TIME - H, reachable_time);
                put_u32(body, field::RA_RETRANS_TIME - H, retrans_time);
            }
            Repr::NeighborSolicit { target_addr, .. } => {
                body[field::TARGET.start - H..field::TARGET.end - H]
                    .copy_from_slice(&target_addr.octets());
            }
            Repr::NeighborAdvert {
                flags, target_addr, ..
            } => {
                body[field::NA_FLAGS - H] = flags.0 & NA_FLAGS_MASK;
                body[field::TARGET.start - H..field::TARGET.end - H]
                    .copy_from_slice(&target_addr.octets());
            }
        }
        body[fixed - H..].copy_from_slice(self.option_bytes());
    }

    /// Build a complete ICMPv6 message into `buf`: this message (with its raw option
    /// area, usually empty when building), then `options` in order, then the checksum
    /// for `src` → `dst` (RFC 4443 §2.3). Returns the message length.
    ///
    /// Never panics: [`Error::Truncated`] if `buf` is too short, [`Error::Malformed`]
    /// for an option [`NdiscOption::buffer_len`] rejects.
    pub fn emit_with_options(
        &self,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        options: &[NdiscOption<'_>],
        buf: &mut [u8],
    ) -> Result<usize> {
        let base = self.buffer_len();
        let mut len = base;
        for opt in options {
            len = len.checked_add(opt.buffer_len()?).ok_or(Error::Truncated)?;
        }
        let buf = buf.get_mut(..len).ok_or(Error::Truncated)?;
        self.emit(&mut Packet::new_unchecked(&mut buf[..base]));
        emit_options(options, &mut buf[base..])?;
        Packet::new_unchecked(buf).fill_checksum(src, dst);
        Ok(len)
    }
}

/// Whether `addr` is a solicited-node multicast address, ff02::1:ffXX:XXXX
/// (RFC 4291 §2.7.1).
pub fn is_solicited_node(addr: &Ipv6Addr) -> bool {
    let o = addr.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

/// The solicited-node multicast address for `addr` (RFC 4291 §2.7.1).
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

#[cfg(test)]
mod tests {
    use super::super::icmpv6;
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    // Router Solicitation as a Linux guest sends it when its link comes up, from
    // fe80::5054:ff:fe12:3456 to ff02::2, hop limit 255. Checksum computed with an
    // independent implementation (Python) over the RFC 4443 §2.3 pseudo-header.
    const LINUX_RS: [u8; 16] = [
        0x85, 0x00, 0x71, 0xb5, // type 133, code 0, checksum
        0x00, 0x00, 0x00, 0x00, // reserved
        0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // SLLA 52:54:00:12:34:56
    ];

    // Duplicate Address Detection NS from a Linux guest (enhanced_dad=1): source ::,
    // destination ff02::1:ff12:3456, no SLLA, and a Nonce option (RFC 7527, type 14)
    // this module does not know and must skip.
    const DAD_NS: [u8; 32] = [
        0x87, 0x00, 0x15, 0x7a, // type 135, code 0, checksum
        0x00, 0x00, 0x00, 0x00, // reserved
        0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target fe80::5054:ff:fe12:3456
        0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56, //
        0x0e, 0x01, 0x3a, 0x9c, 0x5e, 0x11, 0x07, 0xd2, // Nonce option
    ];

    // A radvd Router Advertisement (fe80::a8bb:ccff:fedd:eeff → ff02::1) for
    // `prefix 2001:db8:1::/64 {}; RDNSS 2001:db8:1::53 {}; AdvLinkMTU 1500;`, options in
    // radvd's order: prefix, RDNSS, MTU, source link-layer address.
    const RADVD_RA: [u8; 88] = [
        0x86, 0x00, 0x15, 0x77, // type 134, code 0, checksum
        0x40, 0x00, 0x07, 0x08, // cur hop limit 64, flags none, router lifetime 1800
        0x00, 0x00, 0x00, 0x00, // reachable time 0
        0x00, 0x00, 0x00, 0x00, // retrans timer 0
        0x03, 0x04, 0x40, 0xc0, // PIO: len 4, /64, L|A
        0x00, 0x01, 0x51, 0x80, // valid lifetime 86400
        0x00, 0x00, 0x38, 0x40, // preferred lifetime 14400
        0x00, 0x00, 0x00, 0x00, // reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // prefix 2001:db8:1::
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x19, 0x03, 0x00, 0x00, // RDNSS: len 3, reserved
        0x00, 0x00, 0x07, 0x08, // lifetime 1800
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, // 2001:db8:1::53
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
        0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, // MTU 1500
        0x01, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, // SLLA aa:bb:cc:dd:ee:ff
    ];

    // The RA passt sends (passt reference §6.3), fe80::1 → fe80::5054:ff:fe12:3456:
    // hop limit 255, M, lifetime 65535; PIO with the full address; MTU 65520; RDNSS and
    // DNSSL with infinite lifetimes; SLLA 9a:55:9a:55:9a:55.
    const PASST_RA: [u8; 112] = [
        0x86, 0x00, 0x6d, 0xf0, // type 134, code 0, checksum
        0xff, 0x80, 0xff, 0xff, // cur hop limit 255, M, router lifetime 65535
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // reachable, retrans 0
        0x03, 0x04, 0x40, 0xc0, // PIO: /64, L|A
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // valid, preferred: infinity
        0x00, 0x00, 0x00, 0x00, // reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::1234
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, //
        0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xf0, // MTU 65520
        0x19, 0x03, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // RDNSS, lifetime infinity
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::53
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, //
        0x1f, 0x03, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, // DNSSL: len 3, lifetime infinity
        0x07, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // "example.com", 3 bytes padding
        0x03, b'c', b'o', b'm', 0x00, 0x00, 0x00, 0x00, //
        0x01, 0x01, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55, // SLLA
    ];

    // passt's answer to an NS for 2001:db8::7: R|S|O, TLLA = our MAC.
    const PASST_NA: [u8; 32] = [
        0x88, 0x00, 0x18, 0x23, // type 136, code 0, checksum
        0xe0, 0x00, 0x00, 0x00, // R|S|O, reserved
        0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // target 2001:db8::7
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, //
        0x02, 0x01, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55, // TLLA
    ];

    #[test]
    fn parse_linux_rs() {
        let (src, dst) = (addr("fe80::5054:ff:fe12:3456"), addr("ff02::2"));
        let p = Packet::new_checked(&LINUX_RS[..]).unwrap();
        assert!(p.verify_checksum(&src, &dst));
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(repr.msg_type(), Message::RouterSolicit);
        assert_eq!(repr.source_lladdr(), Some(GUEST_MAC));
        assert_eq!(repr.target_lladdr(), None);
        assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
        assert_eq!(repr.check_ip(&src, &dst, 64), Err(Error::Malformed));
        // RFC 4861 §6.1.1: from :: there must be no SLLA.
        assert_eq!(
            repr.check_ip(&Ipv6Addr::UNSPECIFIED, &dst, 255),
            Err(Error::Malformed)
        );
        assert_eq!(
            icmpv6::Repr::parse(&src, &dst, &p).unwrap(),
            icmpv6::Repr::Ndisc(repr)
        );
    }

    #[test]
    fn parse_dad_ns_skips_nonce() {
        let (src, dst) = (Ipv6Addr::UNSPECIFIED, addr("ff02::1:ff12:3456"));
        let p = Packet::new_checked(&DAD_NS[..]).unwrap();
        assert!(p.verify_checksum(&src, &dst));
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Repr::NeighborSolicit {
                target_addr: addr("fe80::5054:ff:fe12:3456"),
                options: &DAD_NS[24..],
            }
        );
        // The Nonce option is unknown here: skipped, not an error.
        assert_eq!(repr.options().count(), 0);
        assert_eq!(repr.source_lladdr(), None);
        assert!(is_solicited_node(&dst));
        assert_eq!(solicited_node(&addr("fe80::5054:ff:fe12:3456")), dst);
        assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
        // DAD must go to the solicited-node group (RFC 4861 §7.1.1).
        assert_eq!(
            repr.check_ip(&src, &addr("ff02::1"), 255),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn parse_radvd_ra() {
        let (src, dst) = (addr("fe80::a8bb:ccff:fedd:eeff"), addr("ff02::1"));
        let p = Packet::new_checked(&RADVD_RA[..]).unwrap();
        assert!(p.verify_checksum(&src, &dst));
        let repr = Repr::parse(&p).unwrap();
        let Repr::RouterAdvert {
            cur_hop_limit,
            flags,
            router_lifetime,
            reachable_time,
            retrans_time,
            ..
        } = repr
        else {
            panic!("not an RA: {repr:?}");
        };
        assert_eq!(cur_hop_limit, 64);
        assert!(!flags.contains(RouterFlags::MANAGED));
        assert_eq!(
            (router_lifetime, reachable_time, retrans_time),
            (1800, 0, 0)
        );
        let opts: Vec<_> = repr.options().map(|o| o.unwrap()).collect();
        let servers = [addr("2001:db8:1::53")];
        assert_eq!(
            opts,
            [
                NdiscOption::PrefixInformation(PrefixInfo {
                    prefix_len: 64,
                    flags: PrefixFlags::ON_LINK | PrefixFlags::AUTONOMOUS,
                    valid_lifetime: 86400,
                    preferred_lifetime: 14400,
                    prefix: addr("2001:db8:1::"),
                }),
                NdiscOption::Rdnss {
                    lifetime: 1800,
                    servers: Ipv6List::Addrs(&servers),
                },
                NdiscOption::Mtu(1500),
                NdiscOption::SourceLinkLayerAddr(MacAddr([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])),
            ]
        );
        assert_eq!(repr.check_ip(&src, &dst, 255), Ok(()));
        // RFC 4861 §6.1.2: an RA from a global address is invalid.
        assert_eq!(
            repr.check_ip(&addr("2001:db8::1"), &dst, 255),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn build_passt_ra() {
        let (src, dst) = (addr("fe80::1"), addr("fe80::5054:ff:fe12:3456"));
        let servers = [addr("2001:db8::53")];
        let domains = ["example.com"];
        let ra = Repr::RouterAdvert {
            cur_hop_limit: 255,
            flags: RouterFlags::MANAGED,
            router_lifetime: 65535,
            reachable_time: 0,
            retrans_time: 0,
            options: &[],
        };
        let options = [
            NdiscOption::PrefixInformation(PrefixInfo {
                prefix_len: 64,
                flags: PrefixFlags::ON_LINK | PrefixFlags::AUTONOMOUS,
                valid_lifetime: u32::MAX,
                preferred_lifetime: u32::MAX,
                prefix: addr("2001:db8::1234"),
            }),
            NdiscOption::Mtu(65520),
            NdiscOption::Rdnss {
                lifetime: u32::MAX,
                servers: Ipv6List::Addrs(&servers),
            },
            NdiscOption::Dnssl {
                lifetime: u32::MAX,
                domains: DomainList::Names(&domains),
            },
            NdiscOption::SourceLinkLayerAddr(MacAddr::PASST_DEFAULT),
        ];
        let mut buf = [0xaa; 200];
        let n = ra
            .emit_with_options(&src, &dst, &options, &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &PASST_RA[..]);
        // Too short a buffer is an error, not a panic.
        assert_eq!(
            ra.emit_with_options(&src, &dst, &options, &mut buf[..111]),
            Err(Error::Truncated)
        );
        // And it parses back to the same options.
        let parsed = parse(&PASST_RA).unwrap();
        let back: Vec<_> = parsed.options().map(|o| o.unwrap()).collect();
        assert_eq!(back, options);
        let Some(Ok(NdiscOption::Dnssl { domains, .. })) = parsed.options().nth(3) else {
            panic!("no DNSSL");
        };
        let names: Vec<_> = domains.iter().map(|d| d.to_string()).collect();
        assert_eq!(names, ["example.com"]);
    }

    #[test]
    fn build_passt_na() {
        let (src, dst) = (addr("fe80::1"), addr("fe80::5054:ff:fe12:3456"));
        let na = Repr::NeighborAdvert {
            flags: NeighborFlags::ROUTER | NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE,
            target_addr: addr("2001:db8::7"),
            options: &[],
        };
        let mut buf = [0; 64];
        let n = na
            .emit_with_options(
                &src,
                &dst,
                &[NdiscOption::TargetLinkLayerAddr(MacAddr::PASST_DEFAULT)],
                &mut buf,
            )
            .unwrap();
        assert_eq!(&buf[..n], &PASST_NA[..]);
        let parsed = parse(&PASST_NA).unwrap();
        assert_eq!(parsed.target_lladdr(), Some(MacAddr::PASST_DEFAULT));
        assert_eq!(parsed.check_ip(&src, &dst, 255), Ok(()));
        // RFC 4861 §7.1.2: S must be clear on an NA to a multicast address.
        assert_eq!(
            parsed.check_ip(&src, &addr("ff02::1"), 255),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn repr_emit_matches_capture() {
        let (src, dst) = (addr("fe80::a8bb:ccff:fedd:eeff"), addr("ff02::1"));
        let repr = parse(&RADVD_RA).unwrap();
        let mut out = [0xee; 88];
        icmpv6::Repr::Ndisc(repr).emit(&src, &dst, &mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, RADVD_RA);
    }

    #[test]
    fn zero_length_option_is_malformed() {
        let mut bytes = LINUX_RS;
        bytes[9] = 0;
        assert_eq!(parse(&bytes), Err(Error::Malformed));
        let mut it = NdiscOptionIter::new(&bytes[8..]);
        assert_eq!(it.next(), Some(Err(Error::Malformed)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn option_past_the_end_is_truncated() {
        let mut bytes = LINUX_RS;
        bytes[9] = 2;
        assert_eq!(parse(&bytes), Err(Error::Truncated));
        // A lone trailing byte cannot hold an option header either.
        assert_eq!(parse(&LINUX_RS[..9]), Err(Error::Truncated));
    }

    #[test]
    fn bad_known_option_is_reported_and_skipped() {
        // MTU option with length 2 then a valid SLLA.
        let opts = [
            5, 2, 0, 0, 0, 0, 5, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0, //
            1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        ];
        let got: Vec<_> = NdiscOptionIter::new(&opts).collect();
        assert_eq!(
            got,
            [
                Err(Error::Malformed),
                Ok(NdiscOption::SourceLinkLayerAddr(GUEST_MAC))
            ]
        );
        // RDNSS with an even length (4) is malformed (RFC 8106 §5.1).
        let rdnss = [25u8, 4, 0, 0, 0, 0, 0, 0]
            .iter()
            .chain(&[0u8; 24])
            .copied();
        let rdnss: Vec<u8> = rdnss.collect();
        assert_eq!(
            NdiscOptionIter::new(&rdnss).next(),
            Some(Err(Error::Malformed))
        );
        // A DNSSL name using a compression pointer is malformed (RFC 8106 §5.2).
        let dnssl = [31u8, 2, 0, 0, 0, 0, 0, 1, 0xc0, 0x0c, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            NdiscOptionIter::new(&dnssl).next(),
            Some(Err(Error::Malformed))
        );
    }

    #[test]
    fn wrong_code_or_short_message_rejected() {
        let mut bytes = DAD_NS;
        bytes[1] = 1;
        assert_eq!(parse(&bytes), Err(Error::Malformed));
        assert_eq!(parse(&DAD_NS[..20]), Err(Error::Truncated));
        // Multicast target (RFC 4861 §7.1.1).
        let mut bytes = DAD_NS;
        bytes[8] = 0xff;
        assert_eq!(parse(&bytes), Err(Error::Malformed));
        // Not an ND message.
        assert_eq!(parse(&[128, 0, 0, 0, 0, 0, 0, 0]), Err(Error::Unsupported));
    }

    #[test]
    fn domain_name_limits() {
        let mut out = [0u8; 300];
        assert_eq!(encode_domain_name("example.com.", &mut out), Ok(13));
        assert_eq!(&out[..13], b"\x07example\x03com\x00");
        let label63 = "a".repeat(63);
        let label64 = "a".repeat(64);
        assert_eq!(encode_domain_name(&label63, &mut out), Ok(65));
        assert_eq!(
            encode_domain_name(&label64, &mut out),
            Err(Error::Malformed)
        );
        // 253 characters: the longest name (255 bytes on the wire).
        let long = std::format!("{0}.{0}.{0}.{1}", label63, "b".repeat(61));
        assert_eq!(long.len(), 253);
        assert_eq!(encode_domain_name(&long, &mut out), Ok(255));
        let too_long = std::format!("{long}b");
        assert_eq!(
            encode_domain_name(&too_long, &mut out),
            Err(Error::Malformed)
        );
        for bad in ["", ".", "a..b", ".a"] {
            assert_eq!(
                encode_domain_name(bad, &mut out),
                Err(Error::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            encode_domain_name("example.com", &mut out[..12]),
            Err(Error::Truncated)
        );
        // Emitting a DNSSL with a bad name fails cleanly.
        let bad = [label64.as_str()];
        let opt = NdiscOption::Dnssl {
            lifetime: 1,
            domains: DomainList::Names(&bad),
        };
        assert_eq!(opt.emit(&mut out), Err(Error::Malformed));
        // Empty lists cannot be sent (RFC 8106 §5.1, §5.2 minimum lengths).
        let none: [Ipv6Addr; 0] = [];
        let opt = NdiscOption::Rdnss {
            lifetime: 1,
            servers: Ipv6List::Addrs(&none),
        };
        assert_eq!(opt.buffer_len(), Err(Error::Malformed));
    }

    fn arb_label() -> impl Strategy<Value = std::string::String> {
        "[a-z0-9-]{1,63}"
    }

    fn arb_name() -> impl Strategy<Value = std::string::String> {
        proptest::collection::vec(arb_label(), 1..5)
            .prop_map(|l| l.join("."))
            .prop_filter("fits 253", |n| n.len() <= MAX_NAME_LEN)
    }

    fn arb_option_parts() -> impl Strategy<Value = (u8, [u8; 6], u8, u8, u32, u32, [u8; 16])> {
        (
            0u8..6,
            any::<[u8; 6]>(),
            0u8..=128,
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
            any::<[u8; 16]>(),
        )
    }

    fn valid_message() -> impl Strategy<Value = Vec<u8>> {
        (
            0u8..4,
            any::<[u8; 16]>(),
            proptest::collection::vec(arb_option_parts(), 0..5),
            proptest::collection::vec(arb_name(), 1..3),
        )
            .prop_map(|(kind, target, opts, names)| {
                let mut target = target;
                target[0] = 0x20; // not multicast
                let target = Ipv6Addr::from(target);
                let repr = match kind {
                    0 => Repr::RouterSolicit { options: &[] },
                    1 => Repr::RouterAdvert {
                        cur_hop_limit: 64,
                        flags: RouterFlags::OTHER,
                        router_lifetime: 9000,
                        reachable_time: 1,
                        retrans_time: 2,
                        options: &[],
                    },
                    2 => Repr::NeighborSolicit {
                        target_addr: target,
                        options: &[],
                    },
                    _ => Repr::NeighborAdvert {
                        flags: NeighborFlags::SOLICITED,
                        target_addr: target,
                        options: &[],
                    },
                };
                let servers = [target, Ipv6Addr::LOCALHOST];
                let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
                let options: Vec<NdiscOption<'_>> = opts
                    .iter()
                    .map(|&(k, mac, plen, fl, a, b, pfx)| match k {
                        0 => NdiscOption::SourceLinkLayerAddr(MacAddr(mac)),
                        1 => NdiscOption::TargetLinkLayerAddr(MacAddr(mac)),
                        2 => NdiscOption::PrefixInformation(PrefixInfo {
                            prefix_len: plen,
                            flags: PrefixFlags(fl),
                            valid_lifetime: a,
                            preferred_lifetime: b,
                            prefix: Ipv6Addr::from(pfx),
                        }),
                        3 => NdiscOption::Mtu(a),
                        4 => NdiscOption::Rdnss {
                            lifetime: a,
                            servers: Ipv6List::Addrs(&servers[..1 + usize::from(fl % 2)]),
                        },
                        _ => NdiscOption::Dnssl {
                            lifetime: b,
                            domains: DomainList::Names(&names),
                        },
                    })
                    .collect();
                let mut buf = std::vec![0u8; 4096];
                let n = repr
                    .emit_with_options(&Ipv6Addr::LOCALHOST, &target, &options, &mut buf)
                    .unwrap();
                // The options parse back to exactly what was written.
                let parsed = Repr::parse(&Packet::new_checked(&buf[..n]).unwrap()).unwrap();
                let back: Vec<_> = parsed.options().map(|o| o.unwrap()).collect();
                assert_eq!(back, options);
                buf.truncate(n);
                buf
            })
    }

    proptest! {
        #[test]
        fn parse_never_panics(kind in 133u8..=136, code in prop_oneof![Just(0u8), any::<u8>()],
                              rest in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut data = std::vec![kind, code, 0, 0];
            data.extend_from_slice(&rest);
            if let Ok(repr) = parse(&data) {
                for o in repr.options() {
                    let _ = o;
                }
                let _ = (repr.source_lladdr(), repr.target_lladdr());
                let _ = repr.check_ip(&Ipv6Addr::UNSPECIFIED, &Ipv6Addr::LOCALHOST, 255);
                // What parses re-emits byte for byte (minus the reserved bits).
                let mut out = std::vec![0u8; repr.buffer_len()];
                repr.emit(&mut Packet::new_unchecked(&mut out[..]));
                prop_assert_eq!(parse(&out).unwrap(), repr);
            }
        }

        #[test]
        fn option_iter_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let items: Vec<_> = NdiscOptionIter::new(&data).collect();
            for item in &items {
                if let Ok(NdiscOption::Dnssl { domains, .. }) = item {
                    for d in domains.iter() {
                        let _ = d.to_string();
                    }
                }
                if let Ok(NdiscOption::Rdnss { servers, .. }) = item {
                    prop_assert_eq!(servers.iter().count(), servers.len());
                }
            }
        }

        #[test]
        fn mutated_messages_never_panic(msg in valid_message(),
                                        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
                                        cut in any::<usize>()) {
            let mut msg = msg;
            for (at, v) in flips {
                let i = at % msg.len();
                msg[i] = v;
            }
            let cut = cut % (msg.len() + 1);
            if let Ok(repr) = parse(&msg[..cut]) {
                let _ = repr.options().count();
            }
            if let Ok(repr) = parse(&msg) {
                let _ = repr.options().count();
            }
        }

        #[test]
        fn round_trip(msg in valid_message()) {
            let repr = parse(&msg).unwrap();
            let mut out = std::vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut out[..]));
            // Same bytes except the checksum, which `emit` leaves at zero.
            prop_assert_eq!(&out[4..], &msg[4..]);
            prop_assert_eq!(parse(&out).unwrap(), repr);
        }

        #[test]
        fn domain_lists_round_trip(names in proptest::collection::vec(arb_name(), 0..6)) {
            let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let text = DomainList::Names(&names);
            let mut buf = [0u8; 6 * 256];
            let n = text.encode(&mut buf).unwrap();
            prop_assert_eq!(n, text.encoded_len().unwrap());
            prop_assert!(check_wire_names(&buf[..n]).is_ok());
            let wire = DomainList::Wire(&buf[..n]);
            prop_assert_eq!(wire, text);
            let shown: Vec<_> = wire.iter().map(|d| d.to_string()).collect();
            prop_assert_eq!(shown, names);
        }
    }
}
