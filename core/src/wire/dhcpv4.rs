//! DHCPv4 (RFC 2131) over the BOOTP message format (RFC 951, RFC 1542), with the
//! options of RFC 2132 and the domain search option of RFC 3397.
//!
//! [`Packet`] views a whole BOOTP message (the UDP payload). [`Repr`] is a client
//! message (BOOTREQUEST) with the options a server acts on. Replies are written with
//! [`ReplyBuilder`], which appends options in the order the caller chooses and pads
//! the message to the BOOTP minimum.

use super::ethernet::MacAddr;
use super::ndisc::{encoded_name_len, DomainName};
use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::net::Ipv4Addr;

/// UDP port of DHCP servers (RFC 2131 §4.1).
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients (RFC 2131 §4.1).
pub const CLIENT_PORT: u16 = 68;
/// The magic cookie opening the options field (RFC 2131 §3, RFC 2132 §2).
pub const MAGIC_COOKIE: u32 = 0x6382_5363;
/// Length of the fixed BOOTP fields before the magic cookie (RFC 2131 §2).
pub const FIXED_LEN: usize = 236;
/// Length of the fixed fields plus the magic cookie: where options start.
pub const HEADER_LEN: usize = 240;
/// Smallest BOOTP message: 236 fixed bytes and a 64-byte vendor area (RFC 951;
/// RFC 1542 §3.3 asks for at least 300 bytes). Replies are padded to this.
pub const MIN_MESSAGE_LEN: usize = 300;
/// Smallest Maximum DHCP Message Size a client may announce (RFC 2132 §9.10).
pub const MIN_MAX_MESSAGE_SIZE: u16 = 576;
/// The broadcast bit of the flags field (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// Hardware type of Ethernet (RFC 1700, "ARP Hardware Types").
pub const HTYPE_ETHERNET: u8 = 1;

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
/// Option 119: Domain Search (RFC 3397).
pub const OPT_DOMAIN_SEARCH: u8 = 119;
/// Option 121: Classless Static Route (RFC 3442).
pub const OPT_CLASSLESS_ROUTE: u8 = 121;
/// Option 255: End (RFC 2132 §3.2).
pub const OPT_END: u8 = 255;

/// The BOOTP `op` field (RFC 951, RFC 2131 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 1: client to server.
    Request,
    /// 2: server to client.
    Reply,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for OpCode {
    fn from(v: u8) -> Self {
        match v {
            1 => OpCode::Request,
            2 => OpCode::Reply,
            other => OpCode::Unknown(other),
        }
    }
}

impl From<OpCode> for u8 {
    fn from(v: OpCode) -> u8 {
        match v {
            OpCode::Request => 1,
            OpCode::Reply => 2,
            OpCode::Unknown(other) => other,
        }
    }
}

/// DHCP message types, option 53 (RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1: DHCPDISCOVER.
    Discover,
    /// 2: DHCPOFFER.
    Offer,
    /// 3: DHCPREQUEST.
    Request,
    /// 4: DHCPDECLINE.
    Decline,
    /// 5: DHCPACK.
    Ack,
    /// 6: DHCPNAK.
    Nak,
    /// 7: DHCPRELEASE.
    Release,
    /// 8: DHCPINFORM.
    Inform,
    /// Anything else (later RFCs define 9 and up).
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(v: MessageType) -> u8 {
        match v {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(other) => other,
        }
    }
}

mod field {
    use core::ops::{Range, RangeFrom};
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: usize = 4;
    pub const SECS: usize = 8;
    pub const FLAGS: usize = 10;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const SIADDR: Range<usize> = 20..24;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const MAGIC: usize = 236;
    pub const OPTIONS: RangeFrom<usize> = 240..;
}

fn ipv4_at(buf: &[u8], range: core::ops::Range<usize>) -> Ipv4Addr {
    let mut a = [0; 4];
    a.copy_from_slice(&buf[range]);
    Ipv4Addr::from(a)
}

/// A view over a BOOTP/DHCP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the fixed fields and the magic cookie's place fit.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure at least [`HEADER_LEN`] bytes are present.
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

    /// `op`: request or reply.
    pub fn op(&self) -> OpCode {
        OpCode::from(self.buffer.as_ref()[field::OP])
    }

    /// `htype`: hardware address type.
    pub fn htype(&self) -> u8 {
        self.buffer.as_ref()[field::HTYPE]
    }

    /// `hlen`: hardware address length.
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// `hops`: relay hop count.
    pub fn hops(&self) -> u8 {
        self.buffer.as_ref()[field::HOPS]
    }

    /// `xid`: transaction ID.
    pub fn transaction_id(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::XID)
    }

    /// `secs`: seconds since the client began.
    pub fn secs(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SECS)
    }

    /// `flags`, whole.
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLAGS)
    }

    /// The broadcast bit of `flags`.
    pub fn broadcast(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// `ciaddr`: the client's current address.
    pub fn client_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::CIADDR)
    }

    /// `yiaddr`: the address offered or assigned.
    pub fn your_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::YIADDR)
    }

    /// `siaddr`: next server to use in bootstrap.
    pub fn server_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::SIADDR)
    }

    /// `giaddr`: relay agent address.
    pub fn relay_agent_ip(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), field::GIADDR)
    }

    /// `chaddr`, all 16 bytes.
    pub fn chaddr(&self) -> &[u8] {
        &self.buffer.as_ref()[field::CHADDR]
    }

    /// The first six bytes of `chaddr`: the client's MAC on Ethernet.
    pub fn client_hardware_address(&self) -> MacAddr {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::CHADDR][..6]);
        MacAddr(a)
    }

    /// `sname`: server host name field.
    pub fn sname(&self) -> &[u8] {
        &self.buffer.as_ref()[field::SNAME]
    }

    /// `file`: boot file name field.
    pub fn file(&self) -> &[u8] {
        &self.buffer.as_ref()[field::FILE]
    }

    /// The first four bytes of the options field.
    pub fn magic_cookie(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::MAGIC)
    }

    /// Everything after the magic cookie.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Iterate over the options, with the lifetime of the underlying buffer.
    pub fn option_iter(&self) -> DhcpOptionIter<'a> {
        DhcpOptionIter::new(self.buffer.as_ref().get(field::OPTIONS).unwrap_or(&[]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set `op`.
    pub fn set_op(&mut self, op: OpCode) {
        self.buffer.as_mut()[field::OP] = op.into();
    }

    /// Set `htype`.
    pub fn set_htype(&mut self, v: u8) {
        self.buffer.as_mut()[field::HTYPE] = v;
    }

    /// Set `hlen`.
    pub fn set_hlen(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Set `hops`.
    pub fn set_hops(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOPS] = v;
    }

    /// Set `xid`.
    pub fn set_transaction_id(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::XID, v);
    }

    /// Set `secs`.
    pub fn set_secs(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::SECS, v);
    }

    /// Set `flags`.
    pub fn set_flags(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::FLAGS, v);
    }

    /// Set `ciaddr`.
    pub fn set_client_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::CIADDR].copy_from_slice(&a.octets());
    }

    /// Set `yiaddr`.
    pub fn set_your_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::YIADDR].copy_from_slice(&a.octets());
    }

    /// Set `siaddr`.
    pub fn set_server_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SIADDR].copy_from_slice(&a.octets());
    }

    /// Set `giaddr`.
    pub fn set_relay_agent_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::GIADDR].copy_from_slice(&a.octets());
    }

    /// Set `chaddr` to `mac` followed by ten zero bytes.
    pub fn set_client_hardware_address(&mut self, mac: MacAddr) {
        let chaddr = &mut self.buffer.as_mut()[field::CHADDR];
        chaddr.fill(0);
        chaddr[..6].copy_from_slice(&mac.0);
    }

    /// Zero `sname` and `file`.
    pub fn clear_sname_file(&mut self) {
        self.buffer.as_mut()[field::SNAME.start..field::FILE.end].fill(0);
    }

    /// Set the magic cookie.
    pub fn set_magic_cookie(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::MAGIC, v);
    }

    /// Mutable options field.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS]
    }
}

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

/// A client message (BOOTREQUEST) with the options a server acts on.
///
/// Options appearing more than once count by their first instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Option 53; `None` for plain BOOTP.
    pub message_type: Option<MessageType>,
    /// `xid`.
    pub transaction_id: u32,
    /// The first six bytes of `chaddr`.
    pub client_hardware_address: MacAddr,
    /// `ciaddr`.
    pub client_ip: Ipv4Addr,
    /// The broadcast flag: the client cannot receive unicast before it is configured.
    pub broadcast: bool,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_identifier: Option<Ipv4Addr>,
    /// Option 55: requested option codes, in the client's order.
    pub parameter_request_list: Option<&'a [u8]>,
    /// Option 80 present (RFC 4039).
    pub rapid_commit: bool,
    /// Option 61.
    pub client_identifier: Option<&'a [u8]>,
    /// Option 57.
    pub max_size: Option<u16>,
    /// Option 12.
    pub host_name: Option<&'a [u8]>,
}

impl<'a> Repr<'a> {
    /// Parse a checked message.
    ///
    /// [`Error::Unsupported`] unless it is a BOOTREQUEST for Ethernet (htype 1, hlen
    /// 6); [`Error::Malformed`] without the magic cookie (RFC 2131 §3), for a
    /// truncated option, or a known option with an impossible length or value:
    /// message type 1 byte, addresses 4, maximum size 2 and at least 576
    /// (RFC 2132 §9.10), client identifier at least 2 (§9.14), parameter list and host
    /// name at least 1 (§9.8, §3.14), rapid commit empty (RFC 4039 §4).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if packet.op() != OpCode::Request || packet.htype() != HTYPE_ETHERNET || packet.hlen() != 6
        {
            return Err(Error::Unsupported);
        }
        if packet.magic_cookie() != MAGIC_COOKIE {
            return Err(Error::Malformed);
        }
        let mut repr = Repr {
            message_type: None,
            transaction_id: packet.transaction_id(),
            client_hardware_address: packet.client_hardware_address(),
            client_ip: packet.client_ip(),
            broadcast: packet.broadcast(),
            requested_ip: None,
            server_identifier: None,
            parameter_request_list: None,
            rapid_commit: false,
            client_identifier: None,
            max_size: None,
            host_name: None,
        };
        let mut seen_rapid_commit = false;
        for opt in packet.option_iter() {
            let DhcpOption { code, data } = opt?;
            match code {
                OPT_MESSAGE_TYPE => {
                    let [t] = data else {
                        return Err(Error::Malformed);
                    };
                    repr.message_type.get_or_insert(MessageType::from(*t));
                }
                OPT_REQUESTED_IP => {
                    let a = ipv4_option(data)?;
                    repr.requested_ip.get_or_insert(a);
                }
                OPT_SERVER_ID => {
                    let a = ipv4_option(data)?;
                    repr.server_identifier.get_or_insert(a);
                }
                OPT_PARAMETER_REQUEST_LIST => {
                    if data.is_empty() {
                        return Err(Error::Malformed);
                    }
                    repr.parameter_request_list.get_or_insert(data);
                }
                OPT_RAPID_COMMIT => {
                    if !data.is_empty() {
                        return Err(Error::Malformed);
                    }
                    seen_rapid_commit = true;
                }
                OPT_CLIENT_ID => {
                    if data.len() < 2 {
                        return Err(Error::Malformed);
                    }
                    repr.client_identifier.get_or_insert(data);
                }
                OPT_MAX_MESSAGE_SIZE => {
                    let [hi, lo] = data else {
                        return Err(Error::Malformed);
                    };
                    let size = u16::from_be_bytes([*hi, *lo]);
                    if size < MIN_MAX_MESSAGE_SIZE {
                        return Err(Error::Malformed);
                    }
                    repr.max_size.get_or_insert(size);
                }
                OPT_HOST_NAME => {
                    if data.is_empty() {
                        return Err(Error::Malformed);
                    }
                    repr.host_name.get_or_insert(data);
                }
                _ => {}
            }
        }
        repr.rapid_commit = seen_rapid_commit;
        Ok(repr)
    }

    /// Bytes the options take: each present option, then End.
    fn options_len(&self) -> usize {
        let var = |o: Option<&[u8]>| o.map_or(0, |d| 2 + d.len().min(255));
        let mut len = 1; // End
        len += if self.message_type.is_some() { 3 } else { 0 };
        len += var(self.client_identifier);
        len += if self.requested_ip.is_some() { 6 } else { 0 };
        len += if self.server_identifier.is_some() {
            6
        } else {
            0
        };
        len += if self.max_size.is_some() { 4 } else { 0 };
        len += var(self.host_name);
        len += var(self.parameter_request_list);
        len += if self.rapid_commit { 2 } else { 0 };
        len
    }

    /// Length of the emitted message: at least [`MIN_MESSAGE_LEN`].
    pub fn buffer_len(&self) -> usize {
        (HEADER_LEN + self.options_len()).max(MIN_MESSAGE_LEN)
    }

    /// Write a BOOTREQUEST into the first [`Repr::buffer_len`] bytes of `packet`:
    /// the fixed fields (hops, secs zero), the cookie, options 53, 61, 50, 54, 57, 12,
    /// 55, 80 as present, End, and zero padding. Variable options longer than 255
    /// bytes are cut to 255.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let len = self.buffer_len();
        let flags = if self.broadcast { FLAG_BROADCAST } else { 0 };
        write_fixed(
            &mut packet.buffer.as_mut()[..len],
            OpCode::Request,
            self.transaction_id,
            flags,
            [
                self.client_ip,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::UNSPECIFIED,
            ],
            self.client_hardware_address,
        );
        let mut w = OptionWriter {
            buf: &mut packet.buffer.as_mut()[..len],
            len: HEADER_LEN,
        };
        // `buffer_len` counted every option below, so none of these can fail.
        let cut = |d: &'a [u8]| &d[..d.len().min(255)];
        if let Some(t) = self.message_type {
            let _ = w.push(OPT_MESSAGE_TYPE, &[t.into()]);
        }
        if let Some(id) = self.client_identifier {
            let _ = w.push(OPT_CLIENT_ID, cut(id));
        }
        if let Some(a) = self.requested_ip {
            let _ = w.push(OPT_REQUESTED_IP, &a.octets());
        }
        if let Some(a) = self.server_identifier {
            let _ = w.push(OPT_SERVER_ID, &a.octets());
        }
        if let Some(size) = self.max_size {
            let _ = w.push(OPT_MAX_MESSAGE_SIZE, &size.to_be_bytes());
        }
        if let Some(name) = self.host_name {
            let _ = w.push(OPT_HOST_NAME, cut(name));
        }
        if let Some(prl) = self.parameter_request_list {
            let _ = w.push(OPT_PARAMETER_REQUEST_LIST, cut(prl));
        }
        if self.rapid_commit {
            let _ = w.push(OPT_RAPID_COMMIT, &[]);
        }
        w.finish();
    }
}

fn ipv4_option(data: &[u8]) -> Result<Ipv4Addr> {
    let a: [u8; 4] = data.try_into().map_err(|_| Error::Malformed)?;
    Ok(Ipv4Addr::from(a))
}

/// Write the fixed BOOTP fields and the cookie into `buf` (at least [`HEADER_LEN`]).
/// `addrs` is ciaddr, yiaddr, siaddr, giaddr.
fn write_fixed(
    buf: &mut [u8],
    op: OpCode,
    xid: u32,
    flags: u16,
    addrs: [Ipv4Addr; 4],
    mac: MacAddr,
) {
    buf[..HEADER_LEN].fill(0);
    let mut p = Packet::new_unchecked(buf);
    p.set_op(op);
    p.set_htype(HTYPE_ETHERNET);
    p.set_hlen(6);
    p.set_transaction_id(xid);
    p.set_flags(flags);
    p.set_client_ip(addrs[0]);
    p.set_your_ip(addrs[1]);
    p.set_server_ip(addrs[2]);
    p.set_relay_agent_ip(addrs[3]);
    p.set_client_hardware_address(mac);
    p.set_magic_cookie(MAGIC_COOKIE);
}

/// Appends options after the cookie, always keeping one byte for End.
struct OptionWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl OptionWriter<'_> {
    fn push(&mut self, code: u8, data: &[u8]) -> Result<()> {
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
    fn finish(self) -> usize {
        self.buf[self.len] = OPT_END;
        let len = (self.len + 1).max(MIN_MESSAGE_LEN.min(self.buf.len()));
        self.buf[self.len + 1..len].fill(0);
        len
    }
}

/// The fixed fields of a server's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    /// `xid`, copied from the request.
    pub transaction_id: u32,
    /// The broadcast flag, copied from the request (RFC 2131 §4.1).
    pub broadcast: bool,
    /// `ciaddr`, copied from the request for ACKs to DHCPINFORM, else zero.
    pub client_ip: Ipv4Addr,
    /// `yiaddr`: the address offered or assigned.
    pub your_ip: Ipv4Addr,
    /// `siaddr`: next bootstrap server; zero when none.
    pub server_ip: Ipv4Addr,
    /// `giaddr`, copied from the request.
    pub relay_agent_ip: Ipv4Addr,
    /// `chaddr`, copied from the request.
    pub client_hardware_address: MacAddr,
}

/// Writes a BOOTREPLY: the fixed fields, then options in the order they are pushed,
/// then End and zero padding to [`MIN_MESSAGE_LEN`].
///
/// Every push keeps room for End, so [`ReplyBuilder::finish`] cannot fail. To honour a
/// client's Maximum DHCP Message Size, hand in a buffer no longer than that size
/// minus the IP and UDP headers.
#[derive(Debug)]
pub struct ReplyBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> ReplyBuilder<'b> {
    /// Start a reply in `buf`, which must hold at least [`MIN_MESSAGE_LEN`] bytes
    /// ([`Error::Truncated`] otherwise). hops and secs are zero; `sname` and `file` are
    /// empty.
    pub fn new(header: &ReplyHeader, buf: &'b mut [u8]) -> Result<Self> {
        if buf.len() < MIN_MESSAGE_LEN {
            return Err(Error::Truncated);
        }
        let flags = if header.broadcast { FLAG_BROADCAST } else { 0 };
        write_fixed(
            buf,
            OpCode::Reply,
            header.transaction_id,
            flags,
            [
                header.client_ip,
                header.your_ip,
                header.server_ip,
                header.relay_agent_ip,
            ],
            header.client_hardware_address,
        );
        Ok(ReplyBuilder {
            buf,
            len: HEADER_LEN,
        })
    }

    fn writer(&mut self) -> OptionWriter<'_> {
        OptionWriter {
            buf: &mut *self.buf,
            len: self.len,
        }
    }

    /// Append option `code` with `data` (at most 255 bytes). [`Error::Malformed`] for
    /// codes 0 and 255 or longer data, [`Error::Truncated`] when it would not fit with
    /// End after it; nothing is written on error.
    pub fn push_option(&mut self, code: u8, data: &[u8]) -> Result<()> {
        let mut w = self.writer();
        w.push(code, data)?;
        self.len = w.len;
        Ok(())
    }

    /// Append `data` as one or more instances of option `code`, split at 255 bytes
    /// (RFC 3396 §7: the receiver concatenates them). All or nothing.
    pub fn push_long_option(&mut self, code: u8, data: &[u8]) -> Result<()> {
        let start = self.len;
        let mut chunks = data.chunks(255);
        // An empty `data` is still one (empty) option.
        let first = chunks.next().unwrap_or(&[]);
        let result = core::iter::once(first)
            .chain(chunks)
            .try_for_each(|chunk| self.push_option(code, chunk));
        if result.is_err() {
            self.len = start;
        }
        result
    }

    /// Append option 53.
    pub fn push_message_type(&mut self, t: MessageType) -> Result<()> {
        self.push_option(OPT_MESSAGE_TYPE, &[t.into()])
    }

    /// Append an option holding a list of addresses (1, 3, 6, 54…). At most 63
    /// addresses fit in one option.
    pub fn push_addresses(&mut self, code: u8, addrs: &[Ipv4Addr]) -> Result<()> {
        let mut data = [0u8; 252];
        let n = addrs.len().checked_mul(4).ok_or(Error::Malformed)?;
        let data = data.get_mut(..n).ok_or(Error::Malformed)?;
        for (chunk, a) in data.chunks_exact_mut(4).zip(addrs) {
            chunk.copy_from_slice(&a.octets());
        }
        self.push_option(code, data)
    }

    /// Append a 32-bit option (51 lease time…).
    pub fn push_u32(&mut self, code: u8, v: u32) -> Result<()> {
        self.push_option(code, &v.to_be_bytes())
    }

    /// Append a 16-bit option (26 interface MTU…).
    pub fn push_u16(&mut self, code: u8, v: u16) -> Result<()> {
        self.push_option(code, &v.to_be_bytes())
    }

    /// Bytes written so far, End excluded.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no option has been pushed yet.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Write End and padding; returns the message length (at least
    /// [`MIN_MESSAGE_LEN`]).
    pub fn finish(mut self) -> usize {
        self.writer().finish()
    }
}

/// Encode a domain search list for option 119 (RFC 3397 §2): names in RFC 1035 §3.1
/// form, with RFC 1035 §4.1.4 compression pointers whose offsets count from the start
/// of the (concatenated) option data. Each name reuses the longest suffix already
/// written. Returns the length written; push it with
/// [`ReplyBuilder::push_long_option`], which splits it into options of at most 255
/// bytes as RFC 3396 requires.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    /// Lay out a BOOTREQUEST by hand (offsets from RFC 2131 §2, not from this module),
    /// then the magic cookie, `options`, and zero padding to 300 bytes.
    fn bootrequest(xid: u32, secs: u16, flags: u16, ciaddr: [u8; 4], options: &[u8]) -> Vec<u8> {
        let mut m = std::vec![0u8; 236];
        m[0] = 1; // op BOOTREQUEST
        m[1] = 1; // htype Ethernet
        m[2] = 6; // hlen
        m[4..8].copy_from_slice(&xid.to_be_bytes());
        m[8..10].copy_from_slice(&secs.to_be_bytes());
        m[10..12].copy_from_slice(&flags.to_be_bytes());
        m[12..16].copy_from_slice(&ciaddr);
        m[28..34].copy_from_slice(&GUEST_MAC.0);
        m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]);
        m.extend_from_slice(options);
        if m.len() < 300 {
            m.resize(300, 0);
        }
        m
    }

    // Options of a busybox 1.36 `udhcpc` DISCOVER (as sent by Alpine guests), in
    // busybox's order.
    const UDHCPC_DISCOVER_OPTIONS: &[u8] = &[
        53, 1, 1, // DHCPDISCOVER
        61, 7, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // client id: htype 1 + MAC
        57, 2, 0x02, 0x40, // max message size 576
        55, 7, 1, 3, 6, 12, 15, 28, 42, // PRL
        60, 12, b'u', b'd', b'h', b'c', b'p', b' ', b'1', b'.', b'3', b'6', b'.',
        b'1', // vendor class
        255,  // end
    ];

    // Options of an ISC dhclient 4.4 REQUEST in SELECTING state.
    const DHCLIENT_REQUEST_OPTIONS: &[u8] = &[
        53, 1, 3, // DHCPREQUEST
        54, 4, 198, 51, 100, 1, // server identifier
        50, 4, 198, 51, 100, 2, // requested address
        12, 5, b'g', b'u', b'e', b's', b't', // host name
        55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42,  // PRL
        255, // end
    ];

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    #[test]
    fn parse_udhcpc_discover() {
        let msg = bootrequest(0x5a1c_0de1, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS);
        assert_eq!(msg.len(), 300);
        let p = Packet::new_checked(&msg[..]).unwrap();
        assert_eq!(p.op(), OpCode::Request);
        assert_eq!(p.magic_cookie(), MAGIC_COOKIE);
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Repr {
                message_type: Some(MessageType::Discover),
                transaction_id: 0x5a1c_0de1,
                client_hardware_address: GUEST_MAC,
                client_ip: Ipv4Addr::UNSPECIFIED,
                broadcast: false,
                requested_ip: None,
                server_identifier: None,
                parameter_request_list: Some(&[1, 3, 6, 12, 15, 28, 42]),
                rapid_commit: false,
                client_identifier: Some(&[1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
                max_size: Some(576),
                host_name: None,
            }
        );
        // The iterator sees the vendor class this Repr does not keep.
        let vendor = p.option_iter().find_map(|o| match o {
            Ok(DhcpOption { code: 60, data }) => Some(data),
            _ => None,
        });
        assert_eq!(vendor, Some(&b"udhcp 1.36.1"[..]));
    }

    #[test]
    fn parse_dhclient_request() {
        let msg = bootrequest(
            0x3903_f326,
            3,
            FLAG_BROADCAST,
            [0; 4],
            DHCLIENT_REQUEST_OPTIONS,
        );
        let repr = parse(&msg).unwrap();
        assert_eq!(repr.message_type, Some(MessageType::Request));
        assert_eq!(repr.transaction_id, 0x3903_f326);
        assert!(repr.broadcast);
        assert_eq!(repr.requested_ip, Some(Ipv4Addr::new(198, 51, 100, 2)));
        assert_eq!(repr.server_identifier, Some(Ipv4Addr::new(198, 51, 100, 1)));
        assert_eq!(repr.host_name, Some(&b"guest"[..]));
        assert_eq!(repr.parameter_request_list.unwrap().len(), 13);
        assert_eq!(repr.client_identifier, None);
        assert!(!repr.rapid_commit);
    }

    #[test]
    fn rapid_commit_and_bootp() {
        let msg = bootrequest(1, 0, 0, [0; 4], &[53, 1, 1, 80, 0, 255]);
        assert!(parse(&msg).unwrap().rapid_commit);
        // RFC 4039 §4: Rapid Commit carries no data.
        let msg = bootrequest(1, 0, 0, [0; 4], &[53, 1, 1, 80, 1, 0, 255]);
        assert_eq!(parse(&msg), Err(Error::Malformed));
        // Plain BOOTP: no option 53.
        let msg = bootrequest(1, 0, 0, [198, 51, 100, 9], &[255]);
        let repr = parse(&msg).unwrap();
        assert_eq!(repr.message_type, None);
        assert_eq!(repr.client_ip, Ipv4Addr::new(198, 51, 100, 9));
    }

    #[test]
    fn rejects_bad_messages() {
        let good = bootrequest(1, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS);
        assert_eq!(parse(&good[..239]), Err(Error::Truncated));
        let mut reply = good.clone();
        reply[0] = 2;
        assert_eq!(parse(&reply), Err(Error::Unsupported));
        let mut token_ring = good.clone();
        token_ring[1] = 6;
        assert_eq!(parse(&token_ring), Err(Error::Unsupported));
        let mut cookie = good.clone();
        cookie[239] = 0;
        assert_eq!(parse(&cookie), Err(Error::Malformed));
        // Maximum message size below 576 (RFC 2132 §9.10).
        let msg = bootrequest(1, 0, 0, [0; 4], &[57, 2, 0x01, 0xff, 255]);
        assert_eq!(parse(&msg), Err(Error::Malformed));
        // Requested address of 3 bytes.
        let msg = bootrequest(1, 0, 0, [0; 4], &[50, 3, 1, 2, 3, 255]);
        assert_eq!(parse(&msg), Err(Error::Malformed));
        // An option running off the end of the message.
        let mut msg = bootrequest(1, 0, 0, [0; 4], &[]);
        msg.truncate(240);
        msg.extend_from_slice(&[55, 4, 1, 3]);
        assert_eq!(parse(&msg), Err(Error::Malformed));
        // A code byte with no length byte.
        msg.truncate(240);
        msg.push(12);
        assert_eq!(parse(&msg), Err(Error::Malformed));
    }

    #[test]
    fn option_iterator_rules() {
        // Pad skipped, End stops (what follows is ignored), first instance wins.
        let opts = [0, 0, 53, 1, 3, 0, 53, 1, 1, 255, 53, 0xff, 0xff];
        let got: Vec<_> = DhcpOptionIter::new(&opts).collect();
        assert_eq!(
            got,
            [
                Ok(DhcpOption {
                    code: 53,
                    data: &[3]
                }),
                Ok(DhcpOption {
                    code: 53,
                    data: &[1]
                }),
            ]
        );
        let msg = bootrequest(1, 0, 0, [0; 4], &opts);
        assert_eq!(
            parse(&msg).unwrap().message_type,
            Some(MessageType::Request)
        );
        // Missing End: the end of the buffer ends the options.
        let got: Vec<_> = DhcpOptionIter::new(&[1, 4, 255, 255, 255, 0]).collect();
        assert_eq!(
            got,
            [Ok(DhcpOption {
                code: 1,
                data: &[255, 255, 255, 0]
            })]
        );
        let mut it = DhcpOptionIter::new(&[3, 8, 1, 2]);
        assert_eq!(it.next(), Some(Err(Error::Malformed)));
        assert_eq!(it.next(), None);
    }

    fn offer_header() -> ReplyHeader {
        ReplyHeader {
            transaction_id: 0x5a1c_0de1,
            broadcast: false,
            client_ip: Ipv4Addr::UNSPECIFIED,
            your_ip: Ipv4Addr::new(198, 51, 100, 2),
            server_ip: Ipv4Addr::UNSPECIFIED,
            relay_agent_ip: Ipv4Addr::UNSPECIFIED,
            client_hardware_address: GUEST_MAC,
        }
    }

    #[test]
    fn build_passt_offer() {
        // passt reference §6.2: DISCOVER with PRL → 53=02 1=ffffff00 3=gw 6=dns
        // 26=fff0 51=ffffffff 54=gw.
        let gw = Ipv4Addr::new(198, 51, 100, 1);
        let mut buf = [0xaau8; 576];
        let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
        assert!(b.is_empty());
        b.push_message_type(MessageType::Offer).unwrap();
        b.push_addresses(OPT_SUBNET_MASK, &[Ipv4Addr::new(255, 255, 255, 0)])
            .unwrap();
        b.push_addresses(OPT_ROUTER, &[gw]).unwrap();
        b.push_addresses(OPT_DNS_SERVER, &[Ipv4Addr::new(198, 51, 100, 53)])
            .unwrap();
        b.push_u16(OPT_INTERFACE_MTU, 65520).unwrap();
        b.push_u32(OPT_LEASE_TIME, u32::MAX).unwrap();
        b.push_addresses(OPT_SERVER_ID, &[gw]).unwrap();
        assert_eq!(b.len(), 240 + 3 + 6 * 4 + 4 + 6);
        let n = b.finish();
        assert_eq!(n, MIN_MESSAGE_LEN);
        let m = &buf[..n];
        // Fixed fields, by RFC 2131 §2 offsets.
        assert_eq!(&m[..4], &[2, 1, 6, 0]);
        assert_eq!(&m[4..8], &[0x5a, 0x1c, 0x0d, 0xe1]);
        assert_eq!(&m[8..16], &[0; 8]); // secs, flags, ciaddr
        assert_eq!(&m[16..20], &[198, 51, 100, 2]); // yiaddr
        assert_eq!(&m[20..28], &[0; 8]); // siaddr, giaddr
        assert_eq!(
            &m[28..44],
            &[0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(m[44..236].iter().all(|&b| b == 0)); // sname, file
        assert_eq!(&m[236..240], &[0x63, 0x82, 0x53, 0x63]);
        let expected_options: &[u8] = &[
            53, 1, 2, //
            1, 4, 255, 255, 255, 0, //
            3, 4, 198, 51, 100, 1, //
            6, 4, 198, 51, 100, 53, //
            26, 2, 0xff, 0xf0, //
            51, 4, 0xff, 0xff, 0xff, 0xff, //
            54, 4, 198, 51, 100, 1, //
            255,
        ];
        assert_eq!(&m[240..240 + expected_options.len()], expected_options);
        assert!(m[240 + expected_options.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn builder_refuses_politely() {
        let mut small = [0u8; 299];
        assert_eq!(
            ReplyBuilder::new(&offer_header(), &mut small).unwrap_err(),
            Error::Truncated
        );
        let mut buf = [0u8; 300];
        let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
        assert_eq!(b.push_option(OPT_PAD, &[]), Err(Error::Malformed));
        assert_eq!(b.push_option(OPT_END, &[]), Err(Error::Malformed));
        assert_eq!(b.push_option(43, &[0; 256]), Err(Error::Malformed));
        // 60 bytes of room: 57 data + 2 header would leave none for End.
        assert_eq!(b.push_option(43, &[7; 58]), Err(Error::Truncated));
        assert_eq!(b.len(), 240);
        b.push_option(43, &[7; 57]).unwrap();
        assert_eq!(b.push_option(44, &[]), Err(Error::Truncated));
        assert_eq!(b.finish(), 300);
        assert_eq!(buf[299], OPT_END);
        // A long option that does not fit leaves nothing behind.
        let mut buf = [0u8; 600];
        let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
        assert_eq!(
            b.push_long_option(OPT_DOMAIN_SEARCH, &[1; 400]),
            Err(Error::Truncated)
        );
        assert_eq!(b.len(), 240);
    }

    #[test]
    fn long_option_is_split() {
        let data: Vec<u8> = (0..300u16).map(|i| i as u8).collect();
        let mut buf = [0u8; 1000];
        let mut b = ReplyBuilder::new(&offer_header(), &mut buf).unwrap();
        b.push_long_option(OPT_DOMAIN_SEARCH, &data).unwrap();
        let n = b.finish();
        let p = Packet::new_checked(&buf[..n]).unwrap();
        let parts: Vec<_> = p.option_iter().map(|o| o.unwrap()).collect();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].code, parts[0].data.len()), (119, 255));
        assert_eq!((parts[1].code, parts[1].data.len()), (119, 45));
        let joined: Vec<u8> = parts.iter().flat_map(|o| o.data.iter().copied()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn domain_search_rfc3397_example() {
        // RFC 3397 §3: "eng.apple.com." and "marketing.apple.com.".
        let mut out = [0u8; 64];
        let n =
            encode_domain_search(&["eng.apple.com.", "marketing.apple.com."], &mut out).unwrap();
        let expected: &[u8] = &[
            3, b'e', b'n', b'g', 5, b'a', b'p', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
            9, b'm', b'a', b'r', b'k', b'e', b't', b'i', b'n', b'g', 0xc0, 0x04,
        ];
        assert_eq!(&out[..n], expected);
    }

    #[test]
    fn domain_search_compression() {
        let mut out = [0u8; 64];
        let n = encode_domain_search(&["example.com", "sub.example.com"], &mut out).unwrap();
        assert_eq!(&out[..n], b"\x07example\x03com\x00\x03sub\xc0\x00");
        // Case-insensitive suffix match (RFC 1035 §2.3.3), a duplicate becomes a
        // lone pointer, and a suffix may start inside an earlier name.
        let n =
            encode_domain_search(&["a.Example.COM", "example.com", "other.com"], &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"\x01a\x07Example\x03COM\x00\xc0\x02\x05other\xc0\x0a"
        );
        // Nothing in common: no pointers.
        let n = encode_domain_search(&["a.b", "c.d"], &mut out).unwrap();
        assert_eq!(&out[..n], b"\x01a\x01b\x00\x01c\x01d\x00");
        assert_eq!(encode_domain_search::<&str>(&[], &mut out), Ok(0));
    }

    #[test]
    fn domain_search_errors() {
        let mut out = [0u8; 300];
        let long = "a".repeat(64);
        assert_eq!(
            encode_domain_search(&[long.as_str()], &mut out),
            Err(Error::Malformed)
        );
        assert_eq!(
            encode_domain_search(&["a..b"], &mut out),
            Err(Error::Malformed)
        );
        assert_eq!(encode_domain_search(&[""], &mut out), Err(Error::Malformed));
        let name = std::format!("{}.com", "b".repeat(250));
        assert_eq!(
            encode_domain_search(&[name.as_str()], &mut out),
            Err(Error::Malformed)
        );
        assert_eq!(
            encode_domain_search(&["example.com", "sub.example.com"], &mut out[..17]),
            Err(Error::Truncated)
        );
        // Works with owned strings too (the configuration holds heapless Strings).
        let owned = [String::from("example.org")];
        assert_eq!(encode_domain_search(&owned, &mut out), Ok(13));
    }

    /// Decode a compressed name list (test-only; follows pointers backwards only).
    fn decode_search(data: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        let mut at = 0;
        while at < data.len() {
            let mut name = String::new();
            let mut cur = at;
            let mut jumped = false;
            loop {
                let len = data[cur];
                if len & 0xc0 == 0xc0 {
                    let ptr = usize::from(u16::from_be_bytes([len & 0x3f, data[cur + 1]]));
                    assert!(ptr < cur, "pointer must go backwards");
                    if !jumped {
                        at = cur + 2;
                        jumped = true;
                    }
                    cur = ptr;
                    continue;
                }
                if len == 0 {
                    if !jumped {
                        at = cur + 1;
                    }
                    break;
                }
                if !name.is_empty() {
                    name.push('.');
                }
                let l = usize::from(len);
                name.push_str(core::str::from_utf8(&data[cur + 1..cur + 1 + l]).unwrap());
                cur += 1 + l;
            }
            names.push(name);
        }
        names
    }

    fn arb_name() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof!["[a-c]{1,3}", "[a-z0-9]{1,63}"], 1..5)
            .prop_map(|l| l.join("."))
            .prop_filter("fits 253", |n| n.len() <= 253)
    }

    /// message type, xid, MAC, ciaddr, broadcast, requested, server id, PRL,
    /// rapid commit, client id, max size, host name.
    type ReprParts = (
        Option<u8>,
        u32,
        [u8; 6],
        [u8; 4],
        bool,
        Option<[u8; 4]>,
        Option<[u8; 4]>,
        Option<Vec<u8>>,
        bool,
        Option<Vec<u8>>,
        Option<u16>,
        Option<Vec<u8>>,
    );

    fn arb_repr_parts() -> impl Strategy<Value = ReprParts> {
        (
            proptest::option::of(any::<u8>()),
            any::<u32>(),
            any::<[u8; 6]>(),
            any::<[u8; 4]>(),
            any::<bool>(),
            proptest::option::of(any::<[u8; 4]>()),
            proptest::option::of(any::<[u8; 4]>()),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 2..40)),
            proptest::option::of(576u16..),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
        )
    }

    fn valid_message() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(bootrequest(7, 0, 0, [0; 4], UDHCPC_DISCOVER_OPTIONS)),
            Just(bootrequest(
                8,
                1,
                FLAG_BROADCAST,
                [0; 4],
                DHCLIENT_REQUEST_OPTIONS
            )),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400),
                              fix_header in any::<bool>()) {
            let mut data = data;
            if fix_header && data.len() >= HEADER_LEN {
                data[..3].copy_from_slice(&[1, 1, 6]);
                data[236..240].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            }
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = Repr::parse(&p);
                let _ = p.option_iter().count();
                let _ = (p.client_hardware_address(), p.chaddr(), p.sname(), p.file(), p.options());
            }
        }

        #[test]
        fn mutated_messages_never_panic(msg in valid_message(),
                                        flips in proptest::collection::vec((240usize..300, any::<u8>()), 1..8),
                                        cut in 0usize..300) {
            let mut msg = msg;
            for (at, v) in flips {
                msg[at] = v;
            }
            let _ = parse(&msg);
            let _ = parse(&msg[..cut]);
        }

        #[test]
        fn round_trip(parts in arb_repr_parts()) {
            let (mt, xid, mac, ci, bc, req, sid, prl, rc, cid, max, host) = parts;
            let repr = Repr {
                message_type: mt.map(MessageType::from),
                transaction_id: xid,
                client_hardware_address: MacAddr(mac),
                client_ip: Ipv4Addr::from(ci),
                broadcast: bc,
                requested_ip: req.map(Ipv4Addr::from),
                server_identifier: sid.map(Ipv4Addr::from),
                parameter_request_list: prl.as_deref(),
                rapid_commit: rc,
                client_identifier: cid.as_deref(),
                max_size: max,
                host_name: host.as_deref(),
            };
            let mut buf = std::vec![0xa5u8; repr.buffer_len()];
            prop_assert!(buf.len() >= MIN_MESSAGE_LEN);
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(parse(&buf).unwrap(), repr);
        }

        #[test]
        fn domain_search_decodes_back(names in proptest::collection::vec(arb_name(), 0..7)) {
            let mut out = [0u8; 7 * 256];
            let n = encode_domain_search(&names, &mut out).unwrap();
            let plain: usize = names.iter().map(|s| s.len() + 2).sum();
            prop_assert!(n <= plain);
            prop_assert_eq!(decode_search(&out[..n]), names);
        }
    }
}
