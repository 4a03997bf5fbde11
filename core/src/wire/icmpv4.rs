//! ICMPv4 messages (RFC 792).
//!
//! Only what the translator needs is modelled: echo request and reply (proxied
//! through ping sockets) and destination unreachable; every other type parses as
//! [`Repr::Other`]. The checksum is not verified by [`Repr::parse`] (passt never
//! validates checksums from the guest); [`Packet::verify_checksum`] is available.

use super::checksum;
use super::{get_u16, put_u16, Error, Result};

/// ICMPv4 message types (RFC 792; IANA "ICMP Type Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// 0: echo reply.
    EchoReply,
    /// 3: destination unreachable.
    DstUnreachable,
    /// 5: redirect.
    Redirect,
    /// 8: echo request.
    EchoRequest,
    /// 11: time exceeded.
    TimeExceeded,
    /// 12: parameter problem.
    ParamProblem,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Message::EchoReply,
            3 => Message::DstUnreachable,
            5 => Message::Redirect,
            8 => Message::EchoRequest,
            11 => Message::TimeExceeded,
            12 => Message::ParamProblem,
            other => Message::Unknown(other),
        }
    }
}

impl From<Message> for u8 {
    fn from(v: Message) -> u8 {
        match v {
            Message::EchoReply => 0,
            Message::DstUnreachable => 3,
            Message::Redirect => 5,
            Message::EchoRequest => 8,
            Message::TimeExceeded => 11,
            Message::ParamProblem => 12,
            Message::Unknown(other) => other,
        }
    }
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const REST: core::ops::Range<usize> = 4..8;
}

/// Length of the ICMPv4 header: type, code, checksum and the 4-byte
/// type-specific word (identifier/sequence for echoes, unused for errors).
pub const HEADER_LEN: usize = 8;

/// A view over an ICMPv4 message (the whole IPv4 payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the 8-byte header fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure the 8-byte header fits (every RFC 792 message has one).
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
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (meaningful for echo request/reply only).
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request/reply only).
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// Everything after the 8-byte header: echo data, or the excerpt of the
    /// offending datagram in error messages.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Whether the checksum over the whole buffer verifies (RFC 792: the
    /// one's-complement sum of the message, starting with the type, is all ones).
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the message type.
    pub fn set_msg_type(&mut self, m: Message) {
        self.buffer.as_mut()[field::TYPE] = m.into();
    }

    /// Set the message code.
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    /// Set the echo identifier.
    pub fn set_echo_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    /// Set the echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_SEQNO, v);
    }

    /// Zero the 4-byte type-specific word ("unused" in error messages).
    pub fn clear_rest_of_header(&mut self) {
        self.buffer.as_mut()[field::REST].fill(0);
    }

    /// Mutable data after the header.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// High-level ICMPv4 message; borrows its data from the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Echo request (type 8, RFC 792 "Echo or Echo Reply Message").
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data to be echoed.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echoed data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3, RFC 792 "Destination Unreachable Message").
    /// The 4-byte word after the checksum is not modelled (RFC 1191's next-hop MTU
    /// for code 4 is not kept): it is ignored on parse and emitted as zero.
    DstUnreachable {
        /// Code (0 net, 1 host, 2 protocol, 3 port, 4 fragmentation needed, …).
        code: u8,
        /// The offending datagram's IP header and leading payload bytes.
        data: &'a [u8],
    },
    /// Any other message, reduced to its type and code.
    Other {
        /// Raw message type.
        msg_type: u8,
        /// Raw code.
        code: u8,
    },
}

impl<'a> Repr<'a> {
    /// Parse a checked message. Codes of echo messages are not judged (RFC 792 says
    /// 0; receivers accept any). The checksum is not verified.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let buf: &'a [u8] = T::as_ref(packet.buffer);
        let data = &buf[HEADER_LEN..];
        Ok(match packet.msg_type() {
            Message::EchoRequest => Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Message::EchoReply => Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            Message::DstUnreachable => Repr::DstUnreachable {
                code: packet.msg_code(),
                data,
            },
            other => Repr::Other {
                msg_type: other.into(),
                code: packet.msg_code(),
            },
        })
    }

    /// Length of the emitted message: header plus data.
    pub const fn buffer_len(&self) -> usize {
        match self {
            Repr::EchoRequest { data, .. }
            | Repr::EchoReply { data, .. }
            | Repr::DstUnreachable { data, .. } => HEADER_LEN + data.len(),
            Repr::Other { .. } => HEADER_LEN,
        }
    }

    /// Write the message into the first [`Repr::buffer_len`] bytes of `packet` and
    /// fill the checksum over exactly those bytes. [`Repr::Other`] is written with a
    /// zero type-specific word and no data.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.clear_rest_of_header();
        let data: &[u8] = match *self {
            Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let m = if matches!(self, Repr::EchoRequest { .. }) {
                    Message::EchoRequest
                } else {
                    Message::EchoReply
                };
                packet.set_msg_type(m);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
                data
            }
            Repr::DstUnreachable { code, data } => {
                packet.set_msg_type(Message::DstUnreachable);
                packet.set_msg_code(code);
                data
            }
            Repr::Other { msg_type, code } => {
                packet.set_msg_type(Message::from(msg_type));
                packet.set_msg_code(code);
                &[]
            }
        };
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.set_checksum(0);
        let c = checksum::checksum(&packet.buffer.as_ref()[..self.buffer_len()]);
        packet.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // `ping -c1 198.51.100.2` on a veth pair (tcpdump; Ethernet and IPv4 headers
    // stripped): echo request id 0x1d63 seq 1 with 56 bytes of data (8-byte
    // timestamp then 0x10..0x37).
    const ECHO_REQUEST: [u8; 64] = [
        0x08, 0x00, // type 8, code 0
        0xb9, 0x75, // checksum
        0x1d, 0x63, 0x00, 0x01, // ident, seq
        0x2e, 0xb9, 0x0b, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x27, 0x2f, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
        0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c,
        0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];

    // The kernel's echo reply to it.
    const ECHO_REPLY: [u8; 64] = [
        0x00, 0x00, 0xc1, 0x75, 0x1d, 0x63, 0x00, 0x01, 0x2e, 0xb9, 0x0b, 0x6b, 0x00, 0x00, 0x00,
        0x00, 0x27, 0x2f, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
        0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
        0x34, 0x35, 0x36, 0x37,
    ];

    // Port unreachable the kernel sent for a UDP DNS query to a closed port 53; it
    // quotes the whole 57-byte datagram.
    const PORT_UNREACHABLE: [u8; 65] = [
        0x03, 0x03, // type 3, code 3 (port unreachable)
        0x51, 0x9e, // checksum
        0x00, 0x00, 0x00, 0x00, // unused
        0x45, 0x00, 0x00, 0x39, 0x29, 0x92, 0x40, 0x00, 0x40, 0x11, 0xbc, 0xb7, 0xc6, 0x33, 0x64,
        0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0x41, 0x00, 0x35, 0x00, 0x25, 0x23, 0x28, 0x1c, 0x2d,
        0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn parse_real_echo_request() {
        let packet = Packet::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.msg_type(), Message::EchoRequest);
        assert_eq!(
            Repr::parse(&packet).unwrap(),
            Repr::EchoRequest {
                ident: 0x1d63,
                seq_no: 1,
                data: &ECHO_REQUEST[8..],
            }
        );
    }

    #[test]
    fn emit_reproduces_real_echo_reply() {
        let repr = Repr::EchoReply {
            ident: 0x1d63,
            seq_no: 1,
            data: &ECHO_REQUEST[8..],
        };
        assert_eq!(repr.buffer_len(), 64);
        let mut out = [0xffu8; 64];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, ECHO_REPLY);
    }

    #[test]
    fn parse_and_emit_real_port_unreachable() {
        let packet = Packet::new_checked(&PORT_UNREACHABLE[..]).unwrap();
        assert!(packet.verify_checksum());
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Repr::DstUnreachable {
                code: 3,
                data: &PORT_UNREACHABLE[8..],
            }
        );
        let mut out = [0u8; 65];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, PORT_UNREACHABLE);
    }

    #[test]
    fn other_types_keep_type_and_code() {
        let mut p = PORT_UNREACHABLE;
        p[0] = 11; // time exceeded, code 3 (reassembly)
        let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Repr::Other {
                msg_type: 11,
                code: 3
            }
        );
        assert_eq!(repr.buffer_len(), HEADER_LEN);
    }

    #[test]
    fn checksum_detects_corruption_and_fill_repairs_it() {
        let mut p = ECHO_REQUEST;
        p[20] ^= 0x40;
        assert!(!Packet::new_checked(&p[..]).unwrap().verify_checksum());
        // Parsing does not verify checksums.
        assert!(Repr::parse(&Packet::new_checked(&p[..]).unwrap()).is_ok());
        p[20] ^= 0x40;
        p[2] = 0;
        p[3] = 0;
        Packet::new_unchecked(&mut p[..]).fill_checksum();
        assert_eq!(p, ECHO_REQUEST);
    }

    #[test]
    fn emit_checksums_only_the_message() {
        // A buffer longer than the message: the trailing bytes must not be summed.
        let repr = Repr::EchoRequest {
            ident: 0x1d63,
            seq_no: 1,
            data: &ECHO_REQUEST[8..],
        };
        let mut out = [0xaau8; 80];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out[..64], ECHO_REQUEST);
    }

    #[test]
    fn short_message_is_truncated() {
        assert_eq!(
            Packet::new_checked(&ECHO_REQUEST[..7]).unwrap_err(),
            Error::Truncated
        );
        // A header alone is a valid echo with no data.
        let repr = Repr::parse(&Packet::new_checked(&ECHO_REQUEST[..8]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Repr::EchoRequest {
                ident: 0x1d63,
                seq_no: 1,
                data: &[],
            }
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (Repr::parse(&p), p.verify_checksum(), p.data());
            }
        }

        #[test]
        fn mutated_echo_never_panics(at in 0usize..64, value in any::<u8>(), cut in 0usize..=64) {
            let mut p = ECHO_REQUEST;
            p[at] = value;
            if let Ok(packet) = Packet::new_checked(&p[..cut]) {
                let _ = Repr::parse(&packet);
            }
        }

        #[test]
        fn round_trip(kind in 0u8..4, a in any::<u16>(), b in any::<u16>(), code in any::<u8>(),
                      t in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let repr = match kind {
                0 => Repr::EchoRequest { ident: a, seq_no: b, data: &data },
                1 => Repr::EchoReply { ident: a, seq_no: b, data: &data },
                2 => Repr::DstUnreachable { code, data: &data },
                // Types 0, 3 and 8 parse as their own variants, not as Other.
                _ => Repr::Other { msg_type: if matches!(t, 0 | 3 | 8) { 13 } else { t }, code },
            };
            let mut buf = std::vec![0u8; repr.buffer_len()];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let packet = Packet::new_checked(&buf[..]).unwrap();
            prop_assert!(packet.verify_checksum());
            prop_assert_eq!(Repr::parse(&packet).unwrap(), repr);
        }
    }
}
