//! Neighbor Discovery options (RFC 4861 §4.6, RFC 8106 §5): option types, the typed
//! [`NdiscOption`] with its decoder and encoder, the structural check of an option
//! area and the lazy [`NdiscOptionIter`].

use super::names::{check_wire_names, DomainList, Ipv6List};
use super::PrefixFlags;
use crate::wire::ethernet::MacAddr;
use crate::wire::{get_u32, put_u32, Error, Result};
use core::net::Ipv6Addr;

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
pub(super) fn split_option(data: &[u8]) -> Result<(&[u8], &[u8])> {
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
