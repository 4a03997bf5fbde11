//! DHCPv6 option kinds (RFC 8415 §21, RFC 3646): option codes, the raw option
//! iterator, the typed [`Dhcpv6Option`] with its decoder and encoder, and the IA_NA,
//! IA_TA and IAADDR options whose nested options stay raw.

use super::{
    IaAddress, StatusCode, IA_ADDR_FIXED_LEN, IA_NA_FIXED_LEN, IA_TA_FIXED_LEN, MAX_DUID_LEN,
    MIN_DUID_LEN, OPTION_HEADER_LEN,
};
use crate::wire::ndisc::{check_wire_names, DomainList, Ipv6List};
use crate::wire::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::net::Ipv6Addr;

/// Option 1: Client Identifier (RFC 8415 §21.2).
pub const OPT_CLIENTID: u16 = 1;
/// Option 2: Server Identifier (RFC 8415 §21.3).
pub const OPT_SERVERID: u16 = 2;
/// Option 3: Identity Association for Non-temporary Addresses (RFC 8415 §21.4).
pub const OPT_IA_NA: u16 = 3;
/// Option 4: Identity Association for Temporary Addresses (RFC 8415 §21.5).
pub const OPT_IA_TA: u16 = 4;
/// Option 5: IA Address (RFC 8415 §21.6).
pub const OPT_IAADDR: u16 = 5;
/// Option 6: Option Request (RFC 8415 §21.7).
pub const OPT_ORO: u16 = 6;
/// Option 8: Elapsed Time (RFC 8415 §21.9).
pub const OPT_ELAPSED_TIME: u16 = 8;
/// Option 13: Status Code (RFC 8415 §21.13).
pub const OPT_STATUS_CODE: u16 = 13;
/// Option 14: Rapid Commit (RFC 8415 §21.14).
pub const OPT_RAPID_COMMIT: u16 = 14;
/// Option 23: DNS Recursive Name Server (RFC 3646 §3).
pub const OPT_DNS_SERVERS: u16 = 23;
/// Option 24: Domain Search List (RFC 3646 §4).
pub const OPT_DOMAIN_LIST: u16 = 24;
/// Client FQDN (RFC 4704 §4).
pub const OPT_CLIENT_FQDN: u16 = 39;

/// One option as on the wire: code and data (RFC 8415 §21.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Option code.
    pub code: u16,
    /// Option data, without code and length.
    pub data: &'a [u8],
}

/// Iterator over a sequence of options (a message's, or the nested options of an
/// IA_NA, IA_TA or IAADDR). Never panics.
///
/// A header cut short or a length running past the end yields one
/// `Err(Truncated)` and ends the iteration.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionIter<'a> {
    /// Iterate over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        OptionIter { rest: data }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<RawOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.rest;
        if data.is_empty() {
            return None;
        }
        self.rest = &[];
        if data.len() < OPTION_HEADER_LEN {
            return Some(Err(Error::Truncated));
        }
        let code = get_u16(data, 0);
        let len = usize::from(get_u16(data, 2));
        let Some(value) = data.get(OPTION_HEADER_LEN..OPTION_HEADER_LEN + len) else {
            return Some(Err(Error::Truncated));
        };
        self.rest = &data[OPTION_HEADER_LEN + len..];
        Some(Ok(RawOption { code, data: value }))
    }
}

/// Check that `data` is a well-formed sequence of options.
fn check_options(data: &[u8]) -> Result<()> {
    OptionIter::new(data).try_for_each(|o| o.map(|_| ()))
}

/// A list of option codes, typed or as on the wire (ORO, RFC 8415 §21.7).
///
/// Equality compares the codes, whatever the variant.
#[derive(Debug, Clone, Copy)]
pub enum OptionCodes<'a> {
    /// Typed codes.
    Codes(&'a [u16]),
    /// Big-endian 16-bit codes back to back; a trailing odd byte is ignored.
    Wire(&'a [u8]),
}

impl<'a> OptionCodes<'a> {
    /// The codes in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        let (typed, wire): (&'a [u16], &'a [u8]) = match *self {
            OptionCodes::Codes(c) => (c, &[]),
            OptionCodes::Wire(w) => (&[], w),
        };
        typed.iter().copied().chain(
            wire.chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        match self {
            OptionCodes::Codes(c) => c.len(),
            OptionCodes::Wire(w) => w.len() / 2,
        }
    }

    /// No code.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `code` is requested.
    pub fn contains(&self, code: u16) -> bool {
        self.iter().any(|c| c == code)
    }
}

impl PartialEq for OptionCodes<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for OptionCodes<'_> {}

/// An IA_NA option (RFC 8415 §21.4) with its nested options still raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaNaOption<'a> {
    /// Identity association ID, chosen by the client.
    pub iaid: u32,
    /// Seconds until the client contacts the server to extend lifetimes.
    pub t1: u32,
    /// Seconds until the client contacts any server.
    pub t2: u32,
    /// Nested options (IAADDR, Status Code).
    pub options: &'a [u8],
}

impl<'a> IaNaOption<'a> {
    /// Iterate over the nested options.
    pub fn option_iter(&self) -> OptionIter<'a> {
        OptionIter::new(self.options)
    }

    /// The well-formed IAADDR options inside.
    pub fn addresses(&self) -> impl Iterator<Item = IaAddrOption<'a>> + 'a {
        nested_addresses(self.options)
    }
}

/// An IA_TA option (RFC 8415 §21.5) with its nested options still raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaTaOption<'a> {
    /// Identity association ID.
    pub iaid: u32,
    /// Nested options (IAADDR, Status Code).
    pub options: &'a [u8],
}

impl<'a> IaTaOption<'a> {
    /// Iterate over the nested options.
    pub fn option_iter(&self) -> OptionIter<'a> {
        OptionIter::new(self.options)
    }

    /// The well-formed IAADDR options inside.
    pub fn addresses(&self) -> impl Iterator<Item = IaAddrOption<'a>> + 'a {
        nested_addresses(self.options)
    }
}

/// An IAADDR option (RFC 8415 §21.6) with its nested options still raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaAddrOption<'a> {
    /// The address.
    pub addr: Ipv6Addr,
    /// Seconds the address stays preferred; all ones = infinity.
    pub preferred_lifetime: u32,
    /// Seconds the address stays valid; all ones = infinity.
    pub valid_lifetime: u32,
    /// Nested options (Status Code).
    pub options: &'a [u8],
}

impl<'a> IaAddrOption<'a> {
    /// Iterate over the nested options.
    pub fn option_iter(&self) -> OptionIter<'a> {
        OptionIter::new(self.options)
    }

    /// Address and lifetimes, without nested options.
    pub fn address(&self) -> IaAddress {
        IaAddress {
            addr: self.addr,
            preferred_lifetime: self.preferred_lifetime,
            valid_lifetime: self.valid_lifetime,
        }
    }
}

fn nested_addresses(options: &[u8]) -> impl Iterator<Item = IaAddrOption<'_>> {
    OptionIter::new(options).filter_map(|o| match o.ok()?.typed().ok()? {
        Dhcpv6Option::IaAddr(a) => Some(a),
        _ => None,
    })
}

/// A decoded option.
///
/// Parsing yields the `Wire` variants of lists and raw nested options; building
/// accepts either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dhcpv6Option<'a> {
    /// Client Identifier: a DUID (RFC 8415 §21.2).
    ClientId(&'a [u8]),
    /// Server Identifier: a DUID (RFC 8415 §21.3).
    ServerId(&'a [u8]),
    /// IA_NA (RFC 8415 §21.4).
    IaNa(IaNaOption<'a>),
    /// IA_TA (RFC 8415 §21.5).
    IaTa(IaTaOption<'a>),
    /// IAADDR (RFC 8415 §21.6).
    IaAddr(IaAddrOption<'a>),
    /// Option Request (RFC 8415 §21.7).
    Oro(OptionCodes<'a>),
    /// Elapsed Time in hundredths of a second (RFC 8415 §21.9).
    ElapsedTime(u16),
    /// Status Code with a UTF-8 message (RFC 8415 §21.13).
    StatusCode {
        /// The status.
        code: StatusCode,
        /// Human-readable text, not NUL-terminated.
        message: &'a [u8],
    },
    /// Rapid Commit (RFC 8415 §21.14).
    RapidCommit,
    /// DNS Recursive Name Servers (RFC 3646 §3).
    DnsServers(Ipv6List<'a>),
    /// Domain Search List, uncompressed names (RFC 3646 §4, RFC 8415 §10).
    DomainList(DomainList<'a>),
    /// Any other option.
    Unknown(RawOption<'a>),
}

impl<'a> RawOption<'a> {
    /// Decode this option; [`Error::Malformed`] when its length or content is
    /// impossible for its code (a DUID outside 3..=130 bytes, an IA_NA shorter than 12
    /// bytes, nested options that do not parse, an odd ORO…).
    pub fn typed(&self) -> Result<Dhcpv6Option<'a>> {
        let d = self.data;
        let bad = Err(Error::Malformed);
        Ok(match self.code {
            OPT_CLIENTID | OPT_SERVERID => {
                // RFC 8415 §11.1: type code plus 1..=128 octets.
                if !(MIN_DUID_LEN..=MAX_DUID_LEN).contains(&d.len()) {
                    return bad;
                }
                if self.code == OPT_CLIENTID {
                    Dhcpv6Option::ClientId(d)
                } else {
                    Dhcpv6Option::ServerId(d)
                }
            }
            OPT_IA_NA => {
                let options = d.get(IA_NA_FIXED_LEN..).ok_or(Error::Malformed)?;
                check_options(options).map_err(|_| Error::Malformed)?;
                Dhcpv6Option::IaNa(IaNaOption {
                    iaid: get_u32(d, 0),
                    t1: get_u32(d, 4),
                    t2: get_u32(d, 8),
                    options,
                })
            }
            OPT_IA_TA => {
                let options = d.get(IA_TA_FIXED_LEN..).ok_or(Error::Malformed)?;
                check_options(options).map_err(|_| Error::Malformed)?;
                Dhcpv6Option::IaTa(IaTaOption {
                    iaid: get_u32(d, 0),
                    options,
                })
            }
            OPT_IAADDR => {
                let options = d.get(IA_ADDR_FIXED_LEN..).ok_or(Error::Malformed)?;
                check_options(options).map_err(|_| Error::Malformed)?;
                let mut a = [0; 16];
                a.copy_from_slice(&d[..16]);
                Dhcpv6Option::IaAddr(IaAddrOption {
                    addr: Ipv6Addr::from(a),
                    preferred_lifetime: get_u32(d, 16),
                    valid_lifetime: get_u32(d, 20),
                    options,
                })
            }
            OPT_ORO => {
                if d.len() % 2 != 0 {
                    return bad;
                }
                Dhcpv6Option::Oro(OptionCodes::Wire(d))
            }
            OPT_ELAPSED_TIME => {
                let [hi, lo] = d else {
                    return bad;
                };
                Dhcpv6Option::ElapsedTime(u16::from_be_bytes([*hi, *lo]))
            }
            OPT_STATUS_CODE => {
                if d.len() < 2 {
                    return bad;
                }
                Dhcpv6Option::StatusCode {
                    code: StatusCode::from(get_u16(d, 0)),
                    message: &d[2..],
                }
            }
            OPT_RAPID_COMMIT => {
                if !d.is_empty() {
                    return bad;
                }
                Dhcpv6Option::RapidCommit
            }
            OPT_DNS_SERVERS => {
                if d.len() % 16 != 0 {
                    return bad;
                }
                Dhcpv6Option::DnsServers(Ipv6List::Wire(d))
            }
            OPT_DOMAIN_LIST => {
                check_wire_names(d)?;
                Dhcpv6Option::DomainList(DomainList::Wire(d))
            }
            _ => Dhcpv6Option::Unknown(*self),
        })
    }
}

impl Dhcpv6Option<'_> {
    /// The option code.
    pub fn code(&self) -> u16 {
        match self {
            Dhcpv6Option::ClientId(_) => OPT_CLIENTID,
            Dhcpv6Option::ServerId(_) => OPT_SERVERID,
            Dhcpv6Option::IaNa(_) => OPT_IA_NA,
            Dhcpv6Option::IaTa(_) => OPT_IA_TA,
            Dhcpv6Option::IaAddr(_) => OPT_IAADDR,
            Dhcpv6Option::Oro(_) => OPT_ORO,
            Dhcpv6Option::ElapsedTime(_) => OPT_ELAPSED_TIME,
            Dhcpv6Option::StatusCode { .. } => OPT_STATUS_CODE,
            Dhcpv6Option::RapidCommit => OPT_RAPID_COMMIT,
            Dhcpv6Option::DnsServers(_) => OPT_DNS_SERVERS,
            Dhcpv6Option::DomainList(_) => OPT_DOMAIN_LIST,
            Dhcpv6Option::Unknown(raw) => raw.code,
        }
    }

    /// Length of the option data (without code and length).
    fn data_len(&self) -> Result<usize> {
        Ok(match self {
            Dhcpv6Option::ClientId(d) | Dhcpv6Option::ServerId(d) => d.len(),
            Dhcpv6Option::IaNa(ia) => IA_NA_FIXED_LEN + ia.options.len(),
            Dhcpv6Option::IaTa(ia) => IA_TA_FIXED_LEN + ia.options.len(),
            Dhcpv6Option::IaAddr(a) => IA_ADDR_FIXED_LEN + a.options.len(),
            Dhcpv6Option::Oro(c) => c.len() * 2,
            Dhcpv6Option::ElapsedTime(_) => 2,
            Dhcpv6Option::StatusCode { message, .. } => 2 + message.len(),
            Dhcpv6Option::RapidCommit => 0,
            Dhcpv6Option::DnsServers(l) => l.wire_len(),
            Dhcpv6Option::DomainList(l) => l.encoded_len()?,
            Dhcpv6Option::Unknown(raw) => raw.data.len(),
        })
    }

    /// Bytes the option takes on the wire, header included. [`Error::Malformed`] when
    /// its data would not fit the 16-bit length or a domain name is invalid.
    pub fn buffer_len(&self) -> Result<usize> {
        let len = self.data_len()?;
        if len > usize::from(u16::MAX) {
            return Err(Error::Malformed);
        }
        Ok(OPTION_HEADER_LEN + len)
    }

    /// Write the option at the start of `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len()?;
        let out = out.get_mut(..len).ok_or(Error::Truncated)?;
        put_u16(out, 0, self.code());
        // `buffer_len` checked that the data length fits in 16 bits.
        put_u16(out, 2, (len - OPTION_HEADER_LEN) as u16);
        let d = &mut out[OPTION_HEADER_LEN..];
        match self {
            Dhcpv6Option::ClientId(id) | Dhcpv6Option::ServerId(id) => d.copy_from_slice(id),
            Dhcpv6Option::IaNa(ia) => {
                put_u32(d, 0, ia.iaid);
                put_u32(d, 4, ia.t1);
                put_u32(d, 8, ia.t2);
                d[IA_NA_FIXED_LEN..].copy_from_slice(ia.options);
            }
            Dhcpv6Option::IaTa(ia) => {
                put_u32(d, 0, ia.iaid);
                d[IA_TA_FIXED_LEN..].copy_from_slice(ia.options);
            }
            Dhcpv6Option::IaAddr(a) => {
                d[..16].copy_from_slice(&a.addr.octets());
                put_u32(d, 16, a.preferred_lifetime);
                put_u32(d, 20, a.valid_lifetime);
                d[IA_ADDR_FIXED_LEN..].copy_from_slice(a.options);
            }
            Dhcpv6Option::Oro(codes) => {
                for (chunk, c) in d.chunks_exact_mut(2).zip(codes.iter()) {
                    chunk.copy_from_slice(&c.to_be_bytes());
                }
            }
            Dhcpv6Option::ElapsedTime(t) => put_u16(d, 0, *t),
            Dhcpv6Option::StatusCode { code, message } => {
                put_u16(d, 0, (*code).into());
                d[2..].copy_from_slice(message);
            }
            Dhcpv6Option::RapidCommit => {}
            Dhcpv6Option::DnsServers(l) => {
                l.encode(d)?;
            }
            Dhcpv6Option::DomainList(l) => {
                l.encode(d)?;
            }
            Dhcpv6Option::Unknown(raw) => d.copy_from_slice(raw.data),
        }
        Ok(len)
    }
}
