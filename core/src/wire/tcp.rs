//! TCP segments (RFC 9293) with the options a translator needs: MSS
//! (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323) and SACK-permitted
//! (RFC 2018), plus sequence-number arithmetic (RFC 1982).
//!
//! The view covers exactly one segment: the IP layer decides where it ends, so the
//! payload is everything after the header. [`Repr::parse`] does not verify the
//! checksum (passt never validates guest checksums); [`Packet::verify_checksum`] does.

use super::ip;
use super::{get_u16, get_u32, put_u16, put_u32, Error, IpProtocol, Result};
use core::cmp::Ordering;
use core::fmt;
use core::net::IpAddr;
use core::ops;

/// A TCP sequence number: a `u32` compared by serial-number arithmetic
/// (RFC 1982 §3, RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must
/// be performed modulo 2^32").
///
/// Ordering only means something for numbers less than 2^31 apart: at exactly 2^31
/// the comparison is undefined (RFC 1982 §3.2) and [`PartialOrd::partial_cmp`]
/// returns `None`; it is not transitive across larger spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl ops::Add<usize> for SeqNumber {
    type Output = SeqNumber;
    /// Advance by `rhs` bytes, modulo 2^32.
    fn add(self, rhs: usize) -> SeqNumber {
        // Truncating `rhs` is exact modulo 2^32.
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl ops::AddAssign<usize> for SeqNumber {
    fn add_assign(&mut self, rhs: usize) {
        *self = *self + rhs;
    }
}

impl ops::Sub<usize> for SeqNumber {
    type Output = SeqNumber;
    /// Go back by `rhs` bytes, modulo 2^32.
    fn sub(self, rhs: usize) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs as u32))
    }
}

impl ops::Sub for SeqNumber {
    type Output = i32;
    /// Signed distance from `rhs` to `self` (positive when `self` is after `rhs`).
    fn sub(self, rhs: SeqNumber) -> i32 {
        self.0.wrapping_sub(rhs.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        match *self - *other {
            0 => Some(Ordering::Equal),
            i32::MIN => None,
            d if d < 0 => Some(Ordering::Less),
            _ => Some(Ordering::Greater),
        }
    }
}

impl From<u32> for SeqNumber {
    fn from(v: u32) -> Self {
        SeqNumber(v)
    }
}

impl From<SeqNumber> for u32 {
    fn from(v: SeqNumber) -> u32 {
        v.0
    }
}

/// `a` comes before `b` in sequence space (RFC 1982 §3.2).
pub fn seq_lt(a: SeqNumber, b: SeqNumber) -> bool {
    a < b
}

/// `a` comes before `b` or equals it.
pub fn seq_le(a: SeqNumber, b: SeqNumber) -> bool {
    a <= b
}

/// TCP control bits (RFC 9293 §3.1; ECE and CWR from RFC 3168).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-Echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion Window Reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    const NAMES: [(TcpFlags, &'static str); 8] = [
        (TcpFlags::FIN, "FIN"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::CWR, "CWR"),
    ];

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag in `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag in `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Set the flags in `other`.
    pub fn insert(&mut self, other: TcpFlags) {
        self.0 |= other.0;
    }

    /// Clear the flags in `other`.
    pub fn remove(&mut self, other: TcpFlags) {
        self.0 &= !other.0;
    }
}

impl ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// One TCP option (RFC 9293 §3.2 and the RFCs that define each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Kind 0: End of Option List.
    EndOfList,
    /// Kind 1: No-Operation.
    NoOperation,
    /// Kind 2, length 4: Maximum Segment Size (RFC 9293 §3.7.1).
    MaxSegmentSize(u16),
    /// Kind 3, length 3: Window Scale shift count (RFC 7323 §2).
    WindowScale(u8),
    /// Kind 4, length 2: SACK permitted (RFC 2018 §2).
    SackPermitted,
    /// Kind 8, length 10: Timestamps (RFC 7323 §3).
    Timestamps {
        /// TSval.
        tsval: u32,
        /// TSecr.
        tsecr: u32,
    },
    /// Any other kind, or a known kind with a length it does not define (ignored,
    /// as Linux does); `data` excludes the kind and length bytes.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data.
        data: &'a [u8],
    },
}

/// Iterator over the options area of a TCP header.
///
/// Yields `Err(Error::Malformed)` once and stops when an option's length is below 2
/// or runs past the end (RFC 9293 §3.2: an implementation must handle an illegal
/// option length without crashing). Stops after [`TcpOption::EndOfList`].
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> OptionsIter<'a> {
    /// Iterate over an options area (the bytes between the fixed header and the
    /// data offset).
    pub fn new(options: &'a [u8]) -> Self {
        OptionsIter { rest: options }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&kind, after_kind) = self.rest.split_first()?;
        match kind {
            0 => {
                // Whatever follows End of Option List is padding.
                self.rest = &[];
                return Some(Ok(TcpOption::EndOfList));
            }
            1 => {
                self.rest = after_kind;
                return Some(Ok(TcpOption::NoOperation));
            }
            _ => {}
        }
        let len = match after_kind.first() {
            Some(&len) if len >= 2 && usize::from(len) <= self.rest.len() => usize::from(len),
            _ => {
                self.rest = &[];
                return Some(Err(Error::Malformed));
            }
        };
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        Some(Ok(match (kind, data) {
            (2, &[a, b]) => TcpOption::MaxSegmentSize(u16::from_be_bytes([a, b])),
            (3, &[shift]) => TcpOption::WindowScale(shift),
            (4, &[]) => TcpOption::SackPermitted,
            (8, &[a, b, c, d, e, f, g, h]) => TcpOption::Timestamps {
                tsval: u32::from_be_bytes([a, b, c, d]),
                tsecr: u32::from_be_bytes([e, f, g, h]),
            },
            _ => TcpOption::Unknown { kind, data },
        }))
    }
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ_NUM: usize = 4;
    pub const ACK_NUM: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// Length of the TCP header without options.
pub const HEADER_LEN: usize = 20;

/// Longest TCP header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

/// Largest window scale shift a receiver accepts (RFC 7323 §2.3).
pub const MAX_WINDOW_SCALE: u8 = 14;

/// A view over a TCP segment (header and payload, nothing after).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking the fixed header and the data offset.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Validate lengths (RFC 9293 §3.1 "Data Offset"): a buffer shorter than 20
    /// bytes or than the data offset is [`Error::Truncated`]; a data offset below 5
    /// is [`Error::Malformed`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ_NUM)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK_NUM)
    }

    /// Header length in bytes (data offset · 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// Control bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window field (unscaled).
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WIN_SIZE)
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options area (between the fixed header and the data offset).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Iterate over the options.
    pub fn options_iter(&self) -> OptionsIter<'_> {
        OptionsIter::new(self.options())
    }

    /// The payload: everything after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Whether the checksum verifies over the pseudo-header for `src`/`dst` and the
    /// whole buffer (RFC 9293 §3.1 "Checksum").
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        ip::upper_layer_checksum_ok(src, dst, IpProtocol::Tcp, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    /// Set the sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::SEQ_NUM, v);
    }

    /// Set the acknowledgment number.
    pub fn set_ack_number(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::ACK_NUM, v);
    }

    /// Set the header length in bytes (stored as data offset = `len / 4`; the
    /// reserved bits are cleared).
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFF] = (((len / 4) & 0x0f) as u8) << 4;
    }

    /// Set the control bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Set the window field.
    pub fn set_window_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::WIN_SIZE, v);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Set the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::URGENT, v);
    }

    /// Mutable options area.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }

    /// Compute and store the checksum over the pseudo-header for `src`/`dst` and
    /// the whole buffer (which must hold exactly this segment).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let c = ip::upper_layer_checksum(src, dst, IpProtocol::Tcp, self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// Copy `bytes` to `buf[*at..]` and advance `at`; emit sizes the header first.
fn put_option(buf: &mut [u8], at: &mut usize, bytes: &[u8]) {
    buf[*at..*at + bytes.len()].copy_from_slice(bytes);
    *at += bytes.len();
}

/// High-level TCP segment header with the options this implementation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack_number: u32,
    /// Window field, unscaled.
    pub window_len: u16,
    /// MSS option.
    pub max_seg_size: Option<u16>,
    /// Window scale option, clamped to [`MAX_WINDOW_SCALE`] on parse.
    pub window_scale: Option<u8>,
    /// SACK-permitted option present.
    pub sack_permitted: bool,
    /// Timestamps option: (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// Payload length in bytes.
    pub payload_len: usize,
}

impl Repr {
    /// Parse a checked segment. Options are read whatever the flags (whether an
    /// MSS or window scale on a non-SYN segment means anything is the caller's
    /// call); a repeated option's last occurrence wins; unknown options (SACK
    /// blocks included) are skipped. A malformed option length is
    /// [`Error::Malformed`]. A window scale above 14 is read as 14 (RFC 7323 §2.3).
    /// The checksum is not verified; the urgent pointer is ignored.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        let mut repr = Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags: packet.flags(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            window_len: packet.window_len(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            timestamp: None,
            payload_len: packet.payload().len(),
        };
        for option in packet.options_iter() {
            match option? {
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(ws) => repr.window_scale = Some(ws.min(MAX_WINDOW_SCALE)),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::Timestamps { tsval, tsecr } => repr.timestamp = Some((tsval, tsecr)),
                TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(repr)
    }

    /// Header length with the options [`Repr::emit`] writes.
    pub const fn header_len(&self) -> usize {
        let mut len = HEADER_LEN;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        if self.sack_permitted {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += 12;
        }
        // Each block above is already a multiple of 4; keep the rule explicit.
        (len + 3) & !3
    }

    /// Whole segment length: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Write the header and options into the first [`Repr::header_len`] bytes of
    /// `packet`, with a zero checksum and urgent pointer. Options are laid out as
    /// passt does: MSS (4 bytes), NOP + window scale (4), NOP NOP + SACK-permitted
    /// (4), NOP NOP + timestamps (12), then End-of-List padding to a multiple of 4.
    pub fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let header_len = self.header_len();
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        packet.set_header_len(header_len);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_at(0);

        let buf = packet.buffer.as_mut();
        let mut at = HEADER_LEN;
        if let Some(mss) = self.max_seg_size {
            let [hi, lo] = mss.to_be_bytes();
            put_option(buf, &mut at, &[2, 4, hi, lo]);
        }
        if let Some(shift) = self.window_scale {
            put_option(buf, &mut at, &[1, 3, 3, shift]);
        }
        if self.sack_permitted {
            put_option(buf, &mut at, &[1, 1, 4, 2]);
        }
        if let Some((tsval, tsecr)) = self.timestamp {
            put_option(buf, &mut at, &[1, 1, 8, 10]);
            put_option(buf, &mut at, &tsval.to_be_bytes());
            put_option(buf, &mut at, &tsecr.to_be_bytes());
        }
        while at < header_len {
            put_option(buf, &mut at, &[0]);
        }
    }

    /// Write the header, copy `payload` after it and fill the checksum for a
    /// segment from `src` to `dst`, computed over exactly [`Repr::buffer_len`]
    /// bytes. `payload` should be `payload_len` bytes long; at most `payload_len`
    /// bytes of it are copied.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) {
        self.emit_header(packet);
        let header_len = self.header_len();
        let n = payload.len().min(self.payload_len);
        let buf = packet.buffer.as_mut();
        buf[header_len..header_len + n].copy_from_slice(&payload[..n]);
        let segment = &buf[..self.buffer_len()];
        let c = ip::upper_layer_checksum(src, dst, IpProtocol::Tcp, segment);
        packet.set_checksum(c);
    }
}

#[cfg(test)]
mod tests;
