//! Domain names and address lists in the wire forms Neighbor Discovery shares with
//! DHCPv4 and DHCPv6: [`Ipv6List`] (RDNSS, RFC 8106 §5.1; DHCPv6 option 23) and
//! [`DomainList`] with the uncompressed RFC 1035 §3.1 name encoder (DNSSL, RFC 8106
//! §5.2; DHCPv6 option 24; the names DHCPv4 option 119 compresses).

use crate::wire::{Error, Result};
use core::fmt;
use core::net::Ipv6Addr;

/// Longest domain name in text form, without a trailing dot (RFC 1035 §2.3.4: 255
/// octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

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
