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
use super::{put_u16, put_u32, Error, Result};
use core::net::Ipv6Addr;

mod options;
pub use options::{
    Dhcpv6Option, IaAddrOption, IaNaOption, IaTaOption, OptionCodes, OptionIter, RawOption,
};
pub use options::{
    OPT_CLIENTID, OPT_CLIENT_FQDN, OPT_DNS_SERVERS, OPT_DOMAIN_LIST, OPT_ELAPSED_TIME, OPT_IAADDR,
    OPT_IA_NA, OPT_IA_TA, OPT_ORO, OPT_RAPID_COMMIT, OPT_SERVERID, OPT_STATUS_CODE,
};

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
mod tests;
