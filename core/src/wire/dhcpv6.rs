//! DHCPv6 (RFC 8415) client/server messages and options, with the DNS options of
//! RFC 3646.
//!
//! [`Packet`] views one message (the UDP payload). [`Repr`] is a client message with
//! the fields a stateful server needs; [`ia_addresses`] walks every address a client
//! put in its IA_NA/IA_TA options. Options are read with [`OptionIter`] (raw) and
//! [`RawOption::typed`]; nested options of IA_NA, IA_TA and IAADDR iterate the same
//! way. Server messages are written with [`Builder`], which nests options and reports
//! overflow as an error.

use super::ethernet::MacAddr;
use super::ndisc::{check_wire_names, DomainList, Ipv6List};
use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::net::Ipv6Addr;

/// UDP port clients listen on (RFC 8415 §7.2).
pub const CLIENT_PORT: u16 = 546;
/// UDP port servers and relay agents listen on (RFC 8415 §7.2).
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers, ff02::1:2 (RFC 8415 §7.1).
pub const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);
/// Message type plus transaction ID (RFC 8415 §8).
pub const HEADER_LEN: usize = 4;
/// Option code plus option length (RFC 8415 §21.1).
pub const OPTION_HEADER_LEN: usize = 4;
/// Longest DUID: a 2-byte type code and at most 128 octets (RFC 8415 §11.1).
pub const MAX_DUID_LEN: usize = 130;
/// Shortest DUID: the type code and at least one octet (RFC 8415 §11.1).
pub const MIN_DUID_LEN: usize = 3;
/// Length of a DUID-LLT for an Ethernet MAC (RFC 8415 §11.2).
pub const DUID_LLT_LEN: usize = 14;
/// DUID type 1: link-layer address plus time (RFC 8415 §11.2).
pub const DUID_TYPE_LLT: u16 = 1;
/// IAID, T1, T2 before an IA_NA's options (RFC 8415 §21.4).
pub const IA_NA_FIXED_LEN: usize = 12;
/// IAID before an IA_TA's options (RFC 8415 §21.5).
pub const IA_TA_FIXED_LEN: usize = 4;
/// Address and two lifetimes before an IAADDR's options (RFC 8415 §21.6).
pub const IA_ADDR_FIXED_LEN: usize = 24;

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

/// DHCPv6 message types (RFC 8415 §7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Solicit,
    /// 2
    Advertise,
    /// 3
    Request,
    /// 4
    Confirm,
    /// 5
    Renew,
    /// 6
    Rebind,
    /// 7
    Reply,
    /// 8
    Release,
    /// 9
    Decline,
    /// 10
    Reconfigure,
    /// 11
    InformationRequest,
    /// 12: relay message, with a different layout (RFC 8415 §9).
    RelayForw,
    /// 13: relay message, with a different layout (RFC 8415 §9).
    RelayRepl,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Solicit,
            2 => MessageType::Advertise,
            3 => MessageType::Request,
            4 => MessageType::Confirm,
            5 => MessageType::Renew,
            6 => MessageType::Rebind,
            7 => MessageType::Reply,
            8 => MessageType::Release,
            9 => MessageType::Decline,
            10 => MessageType::Reconfigure,
            11 => MessageType::InformationRequest,
            12 => MessageType::RelayForw,
            13 => MessageType::RelayRepl,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> u8 {
        match v {
            MessageType::Solicit => 1,
            MessageType::Advertise => 2,
            MessageType::Request => 3,
            MessageType::Confirm => 4,
            MessageType::Renew => 5,
            MessageType::Rebind => 6,
            MessageType::Reply => 7,
            MessageType::Release => 8,
            MessageType::Decline => 9,
            MessageType::Reconfigure => 10,
            MessageType::InformationRequest => 11,
            MessageType::RelayForw => 12,
            MessageType::RelayRepl => 13,
            MessageType::Unknown(other) => other,
        }
    }
}

/// Status codes (RFC 8415 §21.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// 0
    Success,
    /// 1
    UnspecFail,
    /// 2
    NoAddrsAvail,
    /// 3
    NoBinding,
    /// 4: the prefix is not appropriate for the link.
    NotOnLink,
    /// 5
    UseMulticast,
    /// 6
    NoPrefixAvail,
    /// Anything else.
    Unknown(u16),
}

impl From<u16> for StatusCode {
    fn from(v: u16) -> Self {
        match v {
            0 => StatusCode::Success,
            1 => StatusCode::UnspecFail,
            2 => StatusCode::NoAddrsAvail,
            3 => StatusCode::NoBinding,
            4 => StatusCode::NotOnLink,
            5 => StatusCode::UseMulticast,
            6 => StatusCode::NoPrefixAvail,
            other => StatusCode::Unknown(other),
        }
    }
}

impl From<StatusCode> for u16 {
    fn from(v: StatusCode) -> u16 {
        match v {
            StatusCode::Success => 0,
            StatusCode::UnspecFail => 1,
            StatusCode::NoAddrsAvail => 2,
            StatusCode::NoBinding => 3,
            StatusCode::NotOnLink => 4,
            StatusCode::UseMulticast => 5,
            StatusCode::NoPrefixAvail => 6,
            StatusCode::Unknown(other) => other,
        }
    }
}

/// A DUID-LLT for an Ethernet MAC (RFC 8415 §11.2): type 1, hardware type 1,
/// `time` (seconds since 2000-01-01 UTC, modulo 2^32), then the MAC.
pub fn duid_llt(time: u32, mac: MacAddr) -> [u8; DUID_LLT_LEN] {
    let mut d = [0u8; DUID_LLT_LEN];
    put_u16(&mut d, 0, DUID_TYPE_LLT);
    put_u16(&mut d, 2, 1);
    put_u32(&mut d, 4, time);
    d[8..].copy_from_slice(&mac.0);
    d
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub const MSG_TYPE: usize = 0;
    pub const XID: Range<usize> = 1..4;
    pub const OPTIONS: RangeFrom<usize> = 4..;
}

/// A view over a DHCPv6 client/server message (not a relay message).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the header fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure the 4-byte header fits.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.buffer.as_ref()[field::MSG_TYPE])
    }

    /// The 24-bit transaction ID.
    pub fn transaction_id(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::XID];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    /// Everything after the header.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Iterate over the top-level options, with the lifetime of the buffer.
    pub fn option_iter(&self) -> OptionIter<'a> {
        OptionIter::new(self.buffer.as_ref().get(field::OPTIONS).unwrap_or(&[]))
    }

    /// Every IAADDR inside the message's IA_NA and IA_TA options; see [`ia_addresses`].
    pub fn ia_addresses(&self) -> IaAddressIter<'a> {
        ia_addresses(self.buffer.as_ref().get(field::OPTIONS).unwrap_or(&[]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the message type.
    pub fn set_msg_type(&mut self, t: MessageType) {
        self.buffer.as_mut()[field::MSG_TYPE] = t.into();
    }

    /// Set the transaction ID (the low 24 bits of `xid`).
    pub fn set_transaction_id(&mut self, xid: u32) {
        self.buffer.as_mut()[field::XID].copy_from_slice(&xid.to_be_bytes()[1..]);
    }

    /// Mutable bytes after the header.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS]
    }
}

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

/// Address and lifetimes of an IAADDR, without nested options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaAddress {
    /// The address.
    pub addr: Ipv6Addr,
    /// Seconds the address stays preferred; all ones = infinity.
    pub preferred_lifetime: u32,
    /// Seconds the address stays valid; all ones = infinity.
    pub valid_lifetime: u32,
}

/// The first IA_NA of a client message, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IaNa {
    /// Identity association ID.
    pub iaid: u32,
    /// T1 the client suggests.
    pub t1: u32,
    /// T2 the client suggests.
    pub t2: u32,
    /// The first IAADDR inside, if any.
    pub address: Option<IaAddress>,
}

/// Iterator over every IAADDR in a message's IA_NA and IA_TA options.
#[derive(Debug, Clone)]
pub struct IaAddressIter<'a> {
    outer: OptionIter<'a>,
    inner: OptionIter<'a>,
}

impl Iterator for IaAddressIter<'_> {
    type Item = IaAddress;

    fn next(&mut self) -> Option<IaAddress> {
        loop {
            for o in self.inner.by_ref() {
                if let Ok(Dhcpv6Option::IaAddr(a)) = o.and_then(|o| o.typed()) {
                    return Some(a.address());
                }
            }
            let nested = match self.outer.next()?.and_then(|o| o.typed()) {
                Ok(Dhcpv6Option::IaNa(ia)) => ia.options,
                Ok(Dhcpv6Option::IaTa(ia)) => ia.options,
                _ => continue,
            };
            self.inner = OptionIter::new(nested);
        }
    }
}

/// Every well-formed IAADDR inside the IA_NA and IA_TA options of `options` (a
/// message's top-level options), in order. A server checks these against the
/// addresses it can assign on the link (RFC 8415 §18.3.2, §18.3.3: NotOnLink).
pub fn ia_addresses(options: &[u8]) -> IaAddressIter<'_> {
    IaAddressIter {
        outer: OptionIter::new(options),
        inner: OptionIter::new(&[]),
    }
}

/// A client message (Solicit, Request, Confirm, Renew, Rebind, Release, Decline,
/// Information-request) with the fields a server needs.
///
/// Options appearing more than once count by their first instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Message type.
    pub msg_type: MessageType,
    /// 24-bit transaction ID.
    pub transaction_id: u32,
    /// Client Identifier (a DUID).
    pub client_id: Option<&'a [u8]>,
    /// Server Identifier (a DUID).
    pub server_id: Option<&'a [u8]>,
    /// The first IA_NA.
    pub ia_na: Option<IaNa>,
    /// IAID of the first IA_TA: present means the client asked for temporary
    /// addresses.
    pub ia_ta: Option<u32>,
    /// Option Request.
    pub oro: Option<OptionCodes<'a>>,
    /// Elapsed Time.
    pub elapsed_time: Option<u16>,
    /// Rapid Commit present.
    pub rapid_commit: bool,
}

impl<'a> Repr<'a> {
    /// Parse a checked message.
    ///
    /// [`Error::Unsupported`] for relay messages (RFC 8415 §9); the error of
    /// [`OptionIter`] for a broken option sequence; [`Error::Malformed`] for a known
    /// option [`RawOption::typed`] rejects, e.g. a Client ID over 130 bytes
    /// (RFC 8415 §11.1).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let msg_type = packet.msg_type();
        if matches!(msg_type, MessageType::RelayForw | MessageType::RelayRepl) {
            return Err(Error::Unsupported);
        }
        let mut repr = Repr {
            msg_type,
            transaction_id: packet.transaction_id(),
            client_id: None,
            server_id: None,
            ia_na: None,
            ia_ta: None,
            oro: None,
            elapsed_time: None,
            rapid_commit: false,
        };
        let mut rapid_commit = false;
        for raw in packet.option_iter() {
            let raw = raw?;
            match raw.typed()? {
                Dhcpv6Option::ClientId(id) => {
                    repr.client_id.get_or_insert(id);
                }
                Dhcpv6Option::ServerId(id) => {
                    repr.server_id.get_or_insert(id);
                }
                Dhcpv6Option::IaNa(ia) => {
                    // Nested IAADDRs must be well-formed too.
                    for o in ia.option_iter() {
                        o?.typed()?;
                    }
                    repr.ia_na.get_or_insert(IaNa {
                        iaid: ia.iaid,
                        t1: ia.t1,
                        t2: ia.t2,
                        address: ia.addresses().next().map(|a| a.address()),
                    });
                }
                Dhcpv6Option::IaTa(ia) => {
                    for o in ia.option_iter() {
                        o?.typed()?;
                    }
                    repr.ia_ta.get_or_insert(ia.iaid);
                }
                Dhcpv6Option::Oro(codes) => {
                    repr.oro.get_or_insert(codes);
                }
                Dhcpv6Option::ElapsedTime(t) => {
                    repr.elapsed_time.get_or_insert(t);
                }
                Dhcpv6Option::RapidCommit => rapid_commit = true,
                _ => {}
            }
        }
        repr.rapid_commit = rapid_commit;
        Ok(repr)
    }

    /// Length of the emitted message. [`Error::Malformed`] if an option is too long
    /// for its 16-bit length.
    pub fn buffer_len(&self) -> Result<usize> {
        let mut len = HEADER_LEN;
        let mut add = |o: Option<Dhcpv6Option<'_>>| -> Result<()> {
            if let Some(o) = o {
                len += o.buffer_len()?;
            }
            Ok(())
        };
        add(self.client_id.map(Dhcpv6Option::ClientId))?;
        add(self.server_id.map(Dhcpv6Option::ServerId))?;
        if let Some(ia) = &self.ia_na {
            let addr_len = ia
                .address
                .map_or(0, |_| OPTION_HEADER_LEN + IA_ADDR_FIXED_LEN);
            len += OPTION_HEADER_LEN + IA_NA_FIXED_LEN + addr_len;
        }
        if self.ia_ta.is_some() {
            len += OPTION_HEADER_LEN + IA_TA_FIXED_LEN;
        }
        let mut add = |o: Option<Dhcpv6Option<'_>>| -> Result<()> {
            if let Some(o) = o {
                len += o.buffer_len()?;
            }
            Ok(())
        };
        add(self.oro.map(Dhcpv6Option::Oro))?;
        add(self.elapsed_time.map(Dhcpv6Option::ElapsedTime))?;
        add(self.rapid_commit.then_some(Dhcpv6Option::RapidCommit))?;
        Ok(len)
    }

    /// Write the message into `buf`: header, then Client ID, Server ID, IA_NA (with
    /// its address as an IAADDR), IA_TA, ORO, Elapsed Time, Rapid Commit as present.
    /// Returns the length, or [`Error::Truncated`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut b = Builder::new(self.msg_type, self.transaction_id, buf)?;
        if let Some(id) = self.client_id {
            b.push(&Dhcpv6Option::ClientId(id))?;
        }
        if let Some(id) = self.server_id {
            b.push(&Dhcpv6Option::ServerId(id))?;
        }
        if let Some(ia) = &self.ia_na {
            b.push_ia_na(ia.iaid, ia.t1, ia.t2, ia.address.as_ref(), None)?;
        }
        if let Some(iaid) = self.ia_ta {
            b.push(&Dhcpv6Option::IaTa(IaTaOption { iaid, options: &[] }))?;
        }
        if let Some(codes) = self.oro {
            b.push(&Dhcpv6Option::Oro(codes))?;
        }
        if let Some(t) = self.elapsed_time {
            b.push(&Dhcpv6Option::ElapsedTime(t))?;
        }
        if self.rapid_commit {
            b.push(&Dhcpv6Option::RapidCommit)?;
        }
        Ok(b.finish())
    }
}

/// An option opened with [`Builder::begin_option`], waiting for its length.
#[derive(Debug)]
#[must_use = "close the option with Builder::end_option"]
pub struct OpenOption {
    start: usize,
}

/// Writes a DHCPv6 message: header, then options in the order they are pushed.
/// Nested options go between [`Builder::begin_option`] and [`Builder::end_option`].
/// Every push is all-or-nothing and reports overflow as [`Error::Truncated`].
#[derive(Debug)]
pub struct Builder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Builder<'b> {
    /// Start a message of type `msg_type` with transaction ID `transaction_id` (low 24
    /// bits) in `buf`.
    pub fn new(msg_type: MessageType, transaction_id: u32, buf: &'b mut [u8]) -> Result<Self> {
        let header = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        let mut p = Packet::new_unchecked(header);
        p.set_msg_type(msg_type);
        p.set_transaction_id(transaction_id);
        Ok(Builder {
            buf,
            len: HEADER_LEN,
        })
    }

    /// Append option `code` with `data`.
    pub fn push_option(&mut self, code: u16, data: &[u8]) -> Result<()> {
        self.push(&Dhcpv6Option::Unknown(RawOption { code, data }))
    }

    /// Append a typed option.
    pub fn push(&mut self, opt: &Dhcpv6Option<'_>) -> Result<()> {
        let rest = self.buf.get_mut(self.len..).ok_or(Error::Truncated)?;
        self.len += opt.emit(rest)?;
        Ok(())
    }

    /// Write the header of option `code`; its length is filled in by
    /// [`Builder::end_option`]. Options pushed in between are nested inside it.
    pub fn begin_option(&mut self, code: u16) -> Result<OpenOption> {
        let start = self.len;
        let header = self
            .buf
            .get_mut(start..start + OPTION_HEADER_LEN)
            .ok_or(Error::Truncated)?;
        put_u16(header, 0, code);
        put_u16(header, 2, 0);
        self.len += OPTION_HEADER_LEN;
        Ok(OpenOption { start })
    }

    /// Append raw bytes inside an open option (fixed fields such as an IAID).
    pub fn push_bytes(&mut self, data: &[u8]) -> Result<()> {
        let end = self.len.checked_add(data.len()).ok_or(Error::Truncated)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::Truncated)?
            .copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    /// Close `open`, writing its length. [`Error::Malformed`] if the contents exceed
    /// 65535 bytes.
    pub fn end_option(&mut self, open: OpenOption) -> Result<()> {
        let data_len = self
            .len
            .checked_sub(open.start + OPTION_HEADER_LEN)
            .ok_or(Error::Malformed)?;
        let data_len = u16::try_from(data_len).map_err(|_| Error::Malformed)?;
        let header = self
            .buf
            .get_mut(open.start..open.start + OPTION_HEADER_LEN)
            .ok_or(Error::Malformed)?;
        put_u16(header, 2, data_len);
        Ok(())
    }

    /// Append a Status Code option (RFC 8415 §21.13).
    pub fn push_status_code(&mut self, code: StatusCode, message: &str) -> Result<()> {
        self.push(&Dhcpv6Option::StatusCode {
            code,
            message: message.as_bytes(),
        })
    }

    /// Append an IA_NA (RFC 8415 §21.4) holding `address` as an IAADDR (§21.6) and
    /// `status` as a Status Code (§21.13), each if given. All or nothing.
    pub fn push_ia_na(
        &mut self,
        iaid: u32,
        t1: u32,
        t2: u32,
        address: Option<&IaAddress>,
        status: Option<(StatusCode, &str)>,
    ) -> Result<()> {
        let start = self.len;
        let result = self.try_push_ia_na(iaid, t1, t2, address, status);
        if result.is_err() {
            self.len = start;
        }
        result
    }

    fn try_push_ia_na(
        &mut self,
        iaid: u32,
        t1: u32,
        t2: u32,
        address: Option<&IaAddress>,
        status: Option<(StatusCode, &str)>,
    ) -> Result<()> {
        let ia = self.begin_option(OPT_IA_NA)?;
        let mut fixed = [0u8; IA_NA_FIXED_LEN];
        put_u32(&mut fixed, 0, iaid);
        put_u32(&mut fixed, 4, t1);
        put_u32(&mut fixed, 8, t2);
        self.push_bytes(&fixed)?;
        if let Some(a) = address {
            self.push(&Dhcpv6Option::IaAddr(IaAddrOption {
                addr: a.addr,
                preferred_lifetime: a.preferred_lifetime,
                valid_lifetime: a.valid_lifetime,
                options: &[],
            }))?;
        }
        if let Some((code, message)) = status {
            self.push_status_code(code, message)?;
        }
        self.end_option(ia)
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no option has been written yet.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// The message length.
    pub fn finish(self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn addr(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    // The guest's DUID-LLT: type 1, hw type 1, time 0x2b8c3f10, MAC.
    const CLIENT_DUID: [u8; 14] = [
        0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x3f, 0x10, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    ];

    // A SOLICIT as ISC `dhclient -6` sends it (option set and order as in its
    // captures): Client ID, ORO, Elapsed Time, IA_NA with the IAID taken from the MAC
    // and T1/T2 3600/5400.
    const DHCLIENT_SOLICIT: [u8; 56] = [
        0x01, 0xa1, 0xb2, 0xc3, // SOLICIT, xid a1b2c3
        0x00, 0x01, 0x00, 0x0e, // Client ID, 14 bytes
        0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x3f, 0x10, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00,
        0x06, 0x00, 0x08, // ORO, 8 bytes
        0x00, 0x17, 0x00, 0x18, 0x00, 0x27, 0x00,
        0x1f, // 23 DNS, 24 domains, 39 FQDN, 31 SNTP
        0x00, 0x08, 0x00, 0x02, 0x00, 0x00, // Elapsed Time 0
        0x00, 0x03, 0x00, 0x0c, // IA_NA, 12 bytes
        0x00, 0x12, 0x34, 0x56, // IAID
        0x00, 0x00, 0x0e, 0x10, // T1 3600
        0x00, 0x00, 0x15, 0x18, // T2 5400
    ];

    // passt's DUID-LLT: time 0x2b8c0000, MAC 9a:55:9a:55:9a:55.
    const SERVER_DUID: [u8; 14] = [
        0x00, 0x01, 0x00, 0x01, 0x2b, 0x8c, 0x00, 0x00, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55,
    ];

    // The REQUEST that follows: Client ID, Server ID, Elapsed Time, and the IA_NA with
    // the advertised address (preferred 7200, valid 7500 as dhclient fills them in).
    fn dhclient_request(address: Ipv6Addr) -> Vec<u8> {
        let mut m = std::vec![0x03, 0xd4, 0xe5, 0xf6]; // REQUEST, xid d4e5f6
        m.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
        m.extend_from_slice(&CLIENT_DUID);
        m.extend_from_slice(&[0x00, 0x02, 0x00, 0x0e]);
        m.extend_from_slice(&SERVER_DUID);
        m.extend_from_slice(&[0x00, 0x08, 0x00, 0x02, 0x00, 0x64]); // 1 s
        m.extend_from_slice(&[0x00, 0x03, 0x00, 0x28]); // IA_NA, 40 bytes
        m.extend_from_slice(&[0x00, 0x12, 0x34, 0x56, 0, 0, 0x0e, 0x10, 0, 0, 0x15, 0x18]);
        m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]); // IAADDR, 24 bytes
        m.extend_from_slice(&address.octets());
        m.extend_from_slice(&[0, 0, 0x1c, 0x20, 0, 0, 0x1d, 0x4c]); // 7200, 7500
        m
    }

    #[test]
    fn parse_dhclient_solicit() {
        let p = Packet::new_checked(&DHCLIENT_SOLICIT[..]).unwrap();
        assert_eq!(p.msg_type(), MessageType::Solicit);
        assert_eq!(p.transaction_id(), 0xa1b2c3);
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Repr {
                msg_type: MessageType::Solicit,
                transaction_id: 0xa1b2c3,
                client_id: Some(&CLIENT_DUID),
                server_id: None,
                ia_na: Some(IaNa {
                    iaid: 0x0012_3456,
                    t1: 3600,
                    t2: 5400,
                    address: None,
                }),
                ia_ta: None,
                oro: Some(OptionCodes::Codes(&[23, 24, 39, 31])),
                elapsed_time: Some(0),
                rapid_commit: false,
            }
        );
        assert!(repr.oro.unwrap().contains(OPT_DNS_SERVERS));
        assert!(!repr.oro.unwrap().contains(OPT_RAPID_COMMIT));
        assert_eq!(p.ia_addresses().count(), 0);
    }

    #[test]
    fn emit_round_trips_solicit() {
        // Repr emits in its own fixed order; compare the option set, then round-trip.
        let repr = parse(&DHCLIENT_SOLICIT).unwrap();
        let mut buf = [0u8; 128];
        let n = repr.emit(&mut buf).unwrap();
        assert_eq!(n, DHCLIENT_SOLICIT.len());
        assert_eq!(Ok(n), repr.buffer_len());
        assert_eq!(parse(&buf[..n]).unwrap(), repr);
        assert_eq!(repr.emit(&mut buf[..n - 1]), Err(Error::Truncated));
    }

    #[test]
    fn request_addresses() {
        let msg = dhclient_request(addr("2001:db8::1234"));
        let repr = parse(&msg).unwrap();
        assert_eq!(repr.msg_type, MessageType::Request);
        assert_eq!(repr.server_id, Some(&SERVER_DUID[..]));
        assert_eq!(repr.elapsed_time, Some(100));
        let ia = repr.ia_na.unwrap();
        assert_eq!(
            ia.address,
            Some(IaAddress {
                addr: addr("2001:db8::1234"),
                preferred_lifetime: 7200,
                valid_lifetime: 7500,
            })
        );
        let all: Vec<_> = ia_addresses(Packet::new_checked(&msg[..]).unwrap().options())
            .map(|a| a.addr)
            .collect();
        assert_eq!(all, [addr("2001:db8::1234")]);
    }

    #[test]
    fn confirm_with_ia_na_and_ia_ta_addresses() {
        // CONFIRM carrying an IA_NA with two addresses and an IA_TA with one: the
        // helper sees all three, the Repr summarises the first of each.
        let mut m = std::vec![0x04, 0, 0, 9];
        m.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
        m.extend_from_slice(&CLIENT_DUID);
        m.extend_from_slice(&[0x00, 0x03, 0x00, 12 + 28 + 28]);
        m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        for a in ["2001:db8::1", "2001:db8::2"] {
            m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]);
            m.extend_from_slice(&addr(a).octets());
            m.extend_from_slice(&[0; 8]);
        }
        m.extend_from_slice(&[0x00, 0x04, 0x00, 4 + 28]);
        m.extend_from_slice(&[0, 0, 0, 2]);
        m.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]);
        m.extend_from_slice(&addr("2001:db8::3").octets());
        m.extend_from_slice(&[0; 8]);
        let p = Packet::new_checked(&m[..]).unwrap();
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(repr.ia_ta, Some(2));
        assert_eq!(
            repr.ia_na.unwrap().address.unwrap().addr,
            addr("2001:db8::1")
        );
        let all: Vec<_> = p.ia_addresses().map(|a| a.addr).collect();
        assert_eq!(
            all,
            [
                addr("2001:db8::1"),
                addr("2001:db8::2"),
                addr("2001:db8::3")
            ]
        );
    }

    #[test]
    fn duid_limits() {
        // RFC 8415 §11.1: at most 128 octets after the 2-byte type code.
        let mut m = std::vec![0x01, 0, 0, 1, 0x00, 0x01, 0x00, 130];
        m.extend_from_slice(&[7; 130]);
        assert!(parse(&m).unwrap().client_id.is_some());
        let mut m = std::vec![0x01, 0, 0, 1, 0x00, 0x01, 0x00, 131];
        m.extend_from_slice(&[7; 131]);
        assert_eq!(parse(&m), Err(Error::Malformed));
        let m = [0x01, 0, 0, 1, 0x00, 0x02, 0x00, 0x02, 0x00, 0x01];
        assert_eq!(parse(&m), Err(Error::Malformed));
    }

    #[test]
    fn rejects_broken_messages() {
        assert_eq!(parse(&DHCLIENT_SOLICIT[..3]), Err(Error::Truncated));
        // Cut inside the IA_NA: its length runs past the end.
        assert_eq!(parse(&DHCLIENT_SOLICIT[..55]), Err(Error::Truncated));
        // Cut inside an option header.
        assert_eq!(parse(&DHCLIENT_SOLICIT[..6]), Err(Error::Truncated));
        // IA_NA shorter than IAID + T1 + T2.
        let m = [
            0x01, 0, 0, 1, 0x00, 0x03, 0x00, 0x08, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        assert_eq!(parse(&m), Err(Error::Malformed));
        // IAADDR inside an IA_NA that is too short.
        let mut m = std::vec![0x03, 0, 0, 1, 0x00, 0x03, 0x00, 12 + 8];
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(&[0x00, 0x05, 0x00, 0x04, 0, 0, 0, 0]);
        assert_eq!(parse(&m), Err(Error::Malformed));
        // Elapsed Time of 3 bytes, Rapid Commit with data, odd ORO.
        for bad in [
            &[0x01, 0, 0, 1, 0x00, 0x08, 0x00, 0x03, 0, 0, 0][..],
            &[0x01, 0, 0, 1, 0x00, 0x0e, 0x00, 0x01, 0][..],
            &[0x01, 0, 0, 1, 0x00, 0x06, 0x00, 0x03, 0, 23, 0][..],
        ] {
            assert_eq!(parse(bad), Err(Error::Malformed), "{bad:?}");
        }
        // Relay messages have another layout.
        assert_eq!(parse(&[12, 0, 0, 0]), Err(Error::Unsupported));
    }

    #[test]
    fn duid_llt_layout() {
        assert_eq!(duid_llt(0x2b8c_0000, MacAddr::PASST_DEFAULT), SERVER_DUID);
        assert_eq!(duid_llt(0x2b8c_3f10, GUEST_MAC), CLIENT_DUID);
    }

    #[test]
    fn build_passt_advertise() {
        // passt reference §6.4: Server ID, IA_NA (client's IAID, T1=T2=infinity) with
        // the assigned address, Client ID echoed, DNS servers, domain list.
        let solicit = parse(&DHCLIENT_SOLICIT).unwrap();
        let dns = [addr("2001:db8::53")];
        let domains = ["example.com"];
        let mut buf = [0xaau8; 256];
        let mut b = Builder::new(MessageType::Advertise, solicit.transaction_id, &mut buf).unwrap();
        b.push(&Dhcpv6Option::ServerId(&duid_llt(
            0x2b8c_0000,
            MacAddr::PASST_DEFAULT,
        )))
        .unwrap();
        let address = IaAddress {
            addr: addr("2001:db8::1234"),
            preferred_lifetime: u32::MAX,
            valid_lifetime: u32::MAX,
        };
        let iaid = solicit.ia_na.map_or(1, |ia| ia.iaid);
        b.push_ia_na(iaid, u32::MAX, u32::MAX, Some(&address), None)
            .unwrap();
        b.push(&Dhcpv6Option::ClientId(solicit.client_id.unwrap()))
            .unwrap();
        b.push(&Dhcpv6Option::DnsServers(Ipv6List::Addrs(&dns)))
            .unwrap();
        b.push(&Dhcpv6Option::DomainList(DomainList::Names(&domains)))
            .unwrap();
        let n = b.finish();
        let mut expected = std::vec![0x02, 0xa1, 0xb2, 0xc3];
        expected.extend_from_slice(&[0x00, 0x02, 0x00, 0x0e]);
        expected.extend_from_slice(&SERVER_DUID);
        expected.extend_from_slice(&[0x00, 0x03, 0x00, 0x28]); // IA_NA, 12 + 28
        expected.extend_from_slice(&[0x00, 0x12, 0x34, 0x56]);
        expected.extend_from_slice(&[0xff; 8]);
        expected.extend_from_slice(&[0x00, 0x05, 0x00, 0x18]); // IAADDR
        expected.extend_from_slice(&addr("2001:db8::1234").octets());
        expected.extend_from_slice(&[0xff; 8]);
        expected.extend_from_slice(&[0x00, 0x01, 0x00, 0x0e]);
        expected.extend_from_slice(&CLIENT_DUID);
        expected.extend_from_slice(&[0x00, 0x17, 0x00, 0x10]);
        expected.extend_from_slice(&addr("2001:db8::53").octets());
        expected.extend_from_slice(&[0x00, 0x18, 0x00, 0x0d]);
        expected.extend_from_slice(b"\x07example\x03com\x00");
        assert_eq!(&buf[..n], &expected[..]);

        // What a client makes of it.
        let p = Packet::new_checked(&buf[..n]).unwrap();
        let typed: Vec<_> = p
            .option_iter()
            .map(|o| o.unwrap().typed().unwrap())
            .collect();
        assert_eq!(typed[3], Dhcpv6Option::DnsServers(Ipv6List::Addrs(&dns)));
        assert_eq!(
            typed[4],
            Dhcpv6Option::DomainList(DomainList::Names(&domains))
        );
        let Dhcpv6Option::IaNa(ia) = typed[1] else {
            panic!("no IA_NA");
        };
        assert_eq!(
            ia.addresses().map(|a| a.address()).collect::<Vec<_>>(),
            [address]
        );
    }

    #[test]
    fn build_not_on_link() {
        let mut buf = [0u8; 128];
        let mut b = Builder::new(MessageType::Reply, 0xd4e5f6, &mut buf).unwrap();
        let msg = "Prefix not appropriate for link.";
        b.push_ia_na(0x0012_3456, 0, 0, None, Some((StatusCode::NotOnLink, msg)))
            .unwrap();
        let n = b.finish();
        let mut expected = std::vec![0x07, 0xd4, 0xe5, 0xf6];
        expected.extend_from_slice(&[0x00, 0x03, 0x00, 12 + 4 + 2 + 32]);
        expected.extend_from_slice(&[0x00, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0x00, 0x0d, 0x00, 34, 0x00, 0x04]);
        expected.extend_from_slice(msg.as_bytes());
        assert_eq!(&buf[..n], &expected[..]);
        let p = Packet::new_checked(&buf[..n]).unwrap();
        let Dhcpv6Option::IaNa(ia) = p.option_iter().next().unwrap().unwrap().typed().unwrap()
        else {
            panic!("no IA_NA");
        };
        let status = ia.option_iter().next().unwrap().unwrap().typed().unwrap();
        assert_eq!(
            status,
            Dhcpv6Option::StatusCode {
                code: StatusCode::NotOnLink,
                message: msg.as_bytes()
            }
        );
    }

    #[test]
    fn builder_overflow_is_an_error() {
        let mut buf = [0u8; 40];
        let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
        let address = IaAddress {
            addr: Ipv6Addr::LOCALHOST,
            preferred_lifetime: 1,
            valid_lifetime: 2,
        };
        // 4 + 16 + 28 = 48 bytes needed, 40 available: nothing is written.
        assert_eq!(
            b.push_ia_na(1, 2, 3, Some(&address), None),
            Err(Error::Truncated)
        );
        assert!(b.is_empty());
        b.push_option(OPT_RAPID_COMMIT, &[]).unwrap();
        assert_eq!(b.len(), 8);
        assert_eq!(b.push_option(0x1234, &[0; 40]), Err(Error::Truncated));
        assert_eq!(b.finish(), 8);
        assert!(Builder::new(MessageType::Reply, 1, &mut [0u8; 3]).is_err());
        // A label over 63 bytes is refused, not truncated.
        let mut buf = [0u8; 200];
        let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
        let long = "x".repeat(64);
        let names = [long.as_str()];
        assert_eq!(
            b.push(&Dhcpv6Option::DomainList(DomainList::Names(&names))),
            Err(Error::Malformed)
        );
        assert!(b.is_empty());
    }

    #[test]
    fn nested_begin_end() {
        let mut buf = [0u8; 64];
        let mut b = Builder::new(MessageType::Reply, 1, &mut buf).unwrap();
        let ta = b.begin_option(OPT_IA_TA).unwrap();
        b.push_bytes(&7u32.to_be_bytes()).unwrap();
        b.push_status_code(StatusCode::NoAddrsAvail, "").unwrap();
        b.end_option(ta).unwrap();
        let n = b.finish();
        assert_eq!(
            &buf[..n],
            &[7, 0, 0, 1, 0, 4, 0, 10, 0, 0, 0, 7, 0, 13, 0, 2, 0, 2]
        );
    }

    fn arb_ia_address() -> impl Strategy<Value = IaAddress> {
        (any::<[u8; 16]>(), any::<u32>(), any::<u32>()).prop_map(|(a, p, v)| IaAddress {
            addr: Ipv6Addr::from(a),
            preferred_lifetime: p,
            valid_lifetime: v,
        })
    }

    /// msg type, xid, client id, server id, IA_NA, IA_TA, ORO, elapsed, rapid commit.
    type ReprParts = (
        u8,
        u32,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<(u32, u32, u32, Option<IaAddress>)>,
        Option<u32>,
        Option<Vec<u16>>,
        Option<u16>,
        bool,
    );

    fn arb_repr_parts() -> impl Strategy<Value = ReprParts> {
        (
            prop_oneof![1u8..12, 14u8..=255],
            0u32..0x100_0000,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 3..=130)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 3..=130)),
            proptest::option::of((
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                proptest::option::of(arb_ia_address()),
            )),
            proptest::option::of(any::<u32>()),
            proptest::option::of(proptest::collection::vec(any::<u16>(), 0..10)),
            proptest::option::of(any::<u16>()),
            any::<bool>(),
        )
    }

    fn valid_message() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(DHCLIENT_SOLICIT.to_vec()),
            arb_ia_address().prop_map(|a| dhclient_request(a.addr)),
        ]
    }

    fn walk(options: &[u8], depth: usize) {
        for o in OptionIter::new(options) {
            let Ok(o) = o else { continue };
            match o.typed() {
                Ok(Dhcpv6Option::IaNa(ia)) if depth < 3 => walk(ia.options, depth + 1),
                Ok(Dhcpv6Option::IaTa(ia)) if depth < 3 => walk(ia.options, depth + 1),
                Ok(Dhcpv6Option::IaAddr(a)) if depth < 3 => walk(a.options, depth + 1),
                Ok(Dhcpv6Option::DomainList(l)) => {
                    let _ = l.iter().count();
                }
                Ok(Dhcpv6Option::DnsServers(l)) => {
                    let _ = l.iter().count();
                }
                _ => {}
            }
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = Repr::parse(&p);
                let _ = p.ia_addresses().count();
                walk(p.options(), 0);
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
            for m in [&msg[..], &msg[..cut]] {
                if let Ok(p) = Packet::new_checked(m) {
                    let _ = Repr::parse(&p);
                    let _ = p.ia_addresses().count();
                    walk(p.options(), 0);
                }
            }
        }

        #[test]
        fn round_trip(parts in arb_repr_parts()) {
            let (mt, xid, cid, sid, ia, ta, oro, et, rc) = parts;
            let repr = Repr {
                msg_type: MessageType::from(mt),
                transaction_id: xid,
                client_id: cid.as_deref(),
                server_id: sid.as_deref(),
                ia_na: ia.map(|(iaid, t1, t2, address)| IaNa { iaid, t1, t2, address }),
                ia_ta: ta,
                oro: oro.as_deref().map(OptionCodes::Codes),
                elapsed_time: et,
                rapid_commit: rc,
            };
            let len = repr.buffer_len().unwrap();
            let mut buf = std::vec![0u8; len];
            prop_assert_eq!(repr.emit(&mut buf), Ok(len));
            prop_assert_eq!(parse(&buf).unwrap(), repr);
        }

        #[test]
        fn builder_never_panics(size in 0usize..120,
                                ops in proptest::collection::vec((0u8..5, any::<u16>(), 0usize..80), 0..8)) {
            let mut buf = std::vec![0u8; size];
            let Ok(mut b) = Builder::new(MessageType::Reply, 7, &mut buf) else {
                prop_assert!(size < HEADER_LEN);
                return Ok(());
            };
            let data = [0x5au8; 80];
            for (op, code, len) in ops {
                let before = b.len();
                let r = match op {
                    0 => b.push_option(code, &data[..len]),
                    1 => b.push_status_code(StatusCode::from(code), "no"),
                    2 => b.push_ia_na(1, 2, 3, Some(&IaAddress {
                        addr: Ipv6Addr::LOCALHOST, preferred_lifetime: 4, valid_lifetime: 5,
                    }), None),
                    3 => b.push(&Dhcpv6Option::Oro(OptionCodes::Codes(&[23, 24]))),
                    _ => b.push(&Dhcpv6Option::ElapsedTime(code)),
                };
                // All or nothing.
                if r.is_ok() {
                    prop_assert!(b.len() > before);
                } else {
                    prop_assert_eq!(r, Err(Error::Truncated));
                    prop_assert_eq!(b.len(), before);
                }
                prop_assert!(b.len() <= size);
            }
            let n = b.finish();
            // Whatever was written is a well-formed option sequence.
            prop_assert!(OptionIter::new(&buf[HEADER_LEN..n]).all(|o| o.is_ok()));
        }
    }
}
