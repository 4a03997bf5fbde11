//! The DHCPv4 options codec (RFC 2132 §2): option codes, the options-field iterator,
//! the writer that appends options while keeping room for End, and the domain search
//! encoder of option 119 (RFC 3397).

use super::MIN_MESSAGE_LEN;
use crate::wire::ndisc::{encoded_name_len, DomainName};
use crate::wire::{Error, Result};

/// Option 0: Pad (RFC 2132 §3.1).
pub const OPT_PAD: u8 = 0;
/// Option 1: Subnet Mask (RFC 2132 §3.3).
pub const OPT_SUBNET_MASK: u8 = 1;
/// Option 3: Router (RFC 2132 §3.5).
pub const OPT_ROUTER: u8 = 3;
/// Option 6: Domain Name Server (RFC 2132 §3.8).
pub const OPT_DNS_SERVER: u8 = 6;
/// Option 12: Host Name (RFC 2132 §3.14).
pub const OPT_HOST_NAME: u8 = 12;
/// Option 15: Domain Name (RFC 2132 §3.17).
pub const OPT_DOMAIN_NAME: u8 = 15;
/// Option 26: Interface MTU (RFC 2132 §5.1).
pub const OPT_INTERFACE_MTU: u8 = 26;
/// Option 50: Requested IP Address (RFC 2132 §9.1).
pub const OPT_REQUESTED_IP: u8 = 50;
/// Option 51: IP Address Lease Time (RFC 2132 §9.2).
pub const OPT_LEASE_TIME: u8 = 51;
/// Option 52: Option Overload (RFC 2132 §9.3); this module ignores it.
pub const OPT_OVERLOAD: u8 = 52;
/// Option 53: DHCP Message Type (RFC 2132 §9.6).
pub const OPT_MESSAGE_TYPE: u8 = 53;
/// Option 54: Server Identifier (RFC 2132 §9.7).
pub const OPT_SERVER_ID: u8 = 54;
/// Option 55: Parameter Request List (RFC 2132 §9.8).
pub const OPT_PARAMETER_REQUEST_LIST: u8 = 55;
/// Option 57: Maximum DHCP Message Size (RFC 2132 §9.10).
pub const OPT_MAX_MESSAGE_SIZE: u8 = 57;
/// Option 61: Client-identifier (RFC 2132 §9.14).
pub const OPT_CLIENT_ID: u8 = 61;
/// Option 80: Rapid Commit (RFC 4039 §4).
pub const OPT_RAPID_COMMIT: u8 = 80;
/// Option 81: Client FQDN (RFC 4702 §2).
pub const OPT_CLIENT_FQDN: u8 = 81;
/// Option 119: Domain Search (RFC 3397).
pub const OPT_DOMAIN_SEARCH: u8 = 119;
/// Option 121: Classless Static Route (RFC 3442).
pub const OPT_CLASSLESS_ROUTE: u8 = 121;
/// Option 255: End (RFC 2132 §3.2).
pub const OPT_END: u8 = 255;

/// One option: its code and data (RFC 2132 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// Option code.
    pub code: u8,
    /// Option data, without code and length.
    pub data: &'a [u8],
}

/// Iterator over an options field. Never panics.
///
/// Pad (0) is skipped; End (255) ends the iteration, as does the end of the buffer
/// (a missing End is tolerated). An option whose length runs past the buffer yields
/// one `Err(Malformed)` and ends the iteration. Option Overload (52) is not followed:
/// options in `sname`/`file` are not seen.
#[derive(Debug, Clone)]
pub struct DhcpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> DhcpOptionIter<'a> {
    /// Iterate over `data`, an options field after the magic cookie.
    pub fn new(data: &'a [u8]) -> Self {
        DhcpOptionIter { rest: data }
    }
}

impl<'a> Iterator for DhcpOptionIter<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let data = self.rest;
            let code = *data.first()?;
            match code {
                OPT_PAD => self.rest = &data[1..],
                OPT_END => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    self.rest = &[];
                    let Some(value) = data
                        .get(1)
                        .and_then(|&len| data.get(2..2 + usize::from(len)))
                    else {
                        return Some(Err(Error::Malformed));
                    };
                    let len = value.len();
                    self.rest = &data[2 + len..];
                    return Some(Ok(DhcpOption { code, data: value }));
                }
            }
        }
    }
}

/// Appends options after the cookie, always keeping one byte for End.
pub(super) struct OptionWriter<'b> {
    /// The whole message buffer.
    pub(super) buf: &'b mut [u8],
    /// Bytes written so far, End excluded.
    pub(super) len: usize,
}

impl OptionWriter<'_> {
    /// Append option `code` with `data`; the errors are those of
    /// [`ReplyBuilder::push_option`](super::ReplyBuilder::push_option).
    pub(super) fn push(&mut self, code: u8, data: &[u8]) -> Result<()> {
        if code == OPT_PAD || code == OPT_END {
            return Err(Error::Malformed);
        }
        let dlen = u8::try_from(data.len()).map_err(|_| Error::Malformed)?;
        let end = self.len + 2 + data.len();
        // One byte must stay free for End.
        if end >= self.buf.len() {
            return Err(Error::Truncated);
        }
        self.buf[self.len] = code;
        self.buf[self.len + 1] = dlen;
        self.buf[self.len + 2..end].copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    /// Write End and zero-pad to [`MIN_MESSAGE_LEN`] (as far as the buffer allows).
    pub(super) fn finish(self) -> usize {
        self.buf[self.len] = OPT_END;
        let len = (self.len + 1).max(MIN_MESSAGE_LEN.min(self.buf.len()));
        self.buf[self.len + 1..len].fill(0);
        len
    }
}

/// Encode a domain search list for option 119 (RFC 3397 §2): names in RFC 1035 §3.1
/// form, with RFC 1035 §4.1.4 compression pointers whose offsets count from the start
/// of the (concatenated) option data. Each name reuses the longest suffix already
/// written. Returns the length written; push it with
/// [`ReplyBuilder::push_long_option`](super::ReplyBuilder::push_long_option), which
/// splits it into options of at most 255 bytes as RFC 3396 requires.
///
/// Errors: [`Error::Malformed`] for a name [`encoded_name_len`] rejects (empty label,
/// label over 63, name over 253 characters), [`Error::Truncated`] when `out` is too
/// short.
pub fn encode_domain_search<S: AsRef<str>>(names: &[S], out: &mut [u8]) -> Result<usize> {
    let mut len = 0;
    for name in names {
        let name = name.as_ref();
        encoded_name_len(name)?;
        let name = name.strip_suffix('.').unwrap_or(name);
        // Suffixes from the longest (the whole name) down: find the first one already
        // present. `prefix` is the text before it, written as plain labels.
        let mut prefix = name;
        let mut target = None;
        let mut suffix = Some(name);
        while let Some(s) = suffix {
            if let Some(at) = find_name(&out[..len], s) {
                target = Some(at);
                prefix = &name[..name.len() - s.len()];
                break;
            }
            suffix = s.split_once('.').map(|(_, tail)| tail);
        }
        let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
        let plain = if prefix.is_empty() {
            0
        } else {
            prefix.len() + 1
        };
        let tail = if target.is_some() { 2 } else { 1 };
        let end = len + plain + tail;
        let dst = out.get_mut(len..end).ok_or(Error::Truncated)?;
        let mut at = 0;
        if !prefix.is_empty() {
            for label in prefix.split('.') {
                // Validated by `encoded_name_len`: 1..=63 bytes.
                dst[at] = label.len() as u8;
                dst[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
                at += 1 + label.len();
            }
        }
        match target {
            // `find_name` only returns offsets that fit in 14 bits.
            Some(ptr) => dst[at..].copy_from_slice(&(0xc000 | ptr as u16).to_be_bytes()),
            None => dst[at] = 0,
        }
        len = end;
    }
    Ok(len)
}

/// Most pointers followed while comparing a name (our own output points only
/// backwards, so this only guards against mistakes).
const MAX_POINTER_HOPS: usize = 64;

/// Offset of a label start in `data` (a sequence of possibly compressed names) where
/// the name equals `name` (ASCII case-insensitively, RFC 1035 §2.3.3), if any.
fn find_name(data: &[u8], name: &str) -> Option<usize> {
    let mut at = 0;
    while at < data.len() {
        let len = data[at];
        if len & 0xc0 == 0xc0 {
            at += 2; // a pointer ends the name
            continue;
        }
        if len != 0 && at < 0x4000 && name_at_eq(data, at, name) {
            return Some(at);
        }
        at += 1 + usize::from(len);
    }
    None
}

/// Whether the (possibly compressed) name at `at` in `data` equals `name`.
fn name_at_eq(data: &[u8], mut at: usize, name: &str) -> bool {
    let mut hops = 0;
    let mut labels = DomainName::Text(name).labels();
    loop {
        let Some(&len) = data.get(at) else {
            return false;
        };
        if len & 0xc0 == 0xc0 {
            let Some(&lo) = data.get(at + 1) else {
                return false;
            };
            hops += 1;
            if hops > MAX_POINTER_HOPS {
                return false;
            }
            at = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
            continue;
        }
        let len = usize::from(len);
        match labels.next() {
            None => return len == 0,
            Some(label) => {
                let Some(wire) = data.get(at + 1..at + 1 + len) else {
                    return false;
                };
                if len == 0 || !wire.eq_ignore_ascii_case(label) {
                    return false;
                }
                at += 1 + len;
            }
        }
    }
}
