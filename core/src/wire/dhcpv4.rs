//! DHCPv4 (RFC 2131) over the BOOTP message format (RFC 951, RFC 1542), with the
//! options of RFC 2132 and the domain search option of RFC 3397.
//!
//! [`Packet`] views a whole BOOTP message (the UDP payload). [`Repr`] is a client
//! message (BOOTREQUEST) with the options a server acts on. Replies are written with
//! [`ReplyBuilder`], which appends options in the order the caller chooses and pads
//! the message to the BOOTP minimum.

use super::ethernet::MacAddr;
use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::net::Ipv4Addr;

mod options;
use options::OptionWriter;
pub use options::{encode_domain_search, DhcpOption, DhcpOptionIter};
pub use options::{
    OPT_CLASSLESS_ROUTE, OPT_CLIENT_FQDN, OPT_CLIENT_ID, OPT_DNS_SERVER, OPT_DOMAIN_NAME,
    OPT_DOMAIN_SEARCH, OPT_END, OPT_HOST_NAME, OPT_INTERFACE_MTU, OPT_LEASE_TIME,
    OPT_MAX_MESSAGE_SIZE, OPT_MESSAGE_TYPE, OPT_OVERLOAD, OPT_PAD, OPT_PARAMETER_REQUEST_LIST,
    OPT_RAPID_COMMIT, OPT_REQUESTED_IP, OPT_ROUTER, OPT_SERVER_ID, OPT_SUBNET_MASK,
};

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

#[cfg(test)]
mod tests;
