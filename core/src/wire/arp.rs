//! ARP for IPv4 over Ethernet (RFC 826).
//!
//! Only the Ethernet/IPv4 flavour exists on a tap link, so the view always assumes the
//! 28-byte layout (6-byte hardware and 4-byte protocol addresses); [`Repr::parse`]
//! refuses anything else as [`Error::Unsupported`].

use super::ethernet::MacAddr;
use super::{get_u16, put_u16, Error, Result};
use core::net::Ipv4Addr;

/// ARP opcode (RFC 826 "ar$op"; IANA "ARP Operation Codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1: who has `target_protocol_addr`?
    Request,
    /// 2: `source_protocol_addr` is at `source_hardware_addr`.
    Reply,
    /// Any other opcode (RARP, InARP, …).
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

mod field {
    use core::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Hardware type for Ethernet (RFC 826 "ar$hrd"; IANA "Hardware Types").
pub const HTYPE_ETHERNET: u16 = 1;
/// Protocol type for IPv4 (RFC 826 "ar$pro": the EtherType of the protocol).
pub const PTYPE_IPV4: u16 = 0x0800;

/// A view over an ARP packet laid out for Ethernet/IPv4.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking the length; getters may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the 28-byte Ethernet/IPv4 layout fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensure the 28-byte Ethernet/IPv4 layout fits in the buffer (trailing bytes,
    /// such as Ethernet padding, are allowed and ignored).
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type ("ar$hrd").
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type ("ar$pro").
    pub fn protocol_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length ("ar$hln").
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length ("ar$pln").
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Opcode ("ar$op").
    pub fn operation(&self) -> Operation {
        Operation::from(get_u16(self.buffer.as_ref(), field::OPER))
    }

    /// Sender hardware address ("ar$sha").
    pub fn source_hardware_addr(&self) -> MacAddr {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SHA]);
        MacAddr(a)
    }

    /// Sender protocol address ("ar$spa").
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::SPA]);
        Ipv4Addr::from(a)
    }

    /// Target hardware address ("ar$tha").
    pub fn target_hardware_addr(&self) -> MacAddr {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::THA]);
        MacAddr(a)
    }

    /// Target protocol address ("ar$tpa").
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buffer.as_ref()[field::TPA]);
        Ipv4Addr::from(a)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::HTYPE, v);
    }

    /// Set the protocol type.
    pub fn set_protocol_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::PTYPE, v);
    }

    /// Set the hardware address length.
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Set the protocol address length.
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    /// Set the opcode.
    pub fn set_operation(&mut self, op: Operation) {
        put_u16(self.buffer.as_mut(), field::OPER, op.into());
    }

    /// Set the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Set the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Set the target hardware address.
    pub fn set_target_hardware_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Set the target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// High-level Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Opcode.
    pub operation: Operation,
    /// Sender MAC.
    pub source_hardware_addr: MacAddr,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC (zero in requests).
    pub target_hardware_addr: MacAddr,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// Parse an Ethernet/IPv4 ARP packet. Other hardware or protocol types, or
    /// address lengths other than 6 and 4 (RFC 826 "Packet format"), are
    /// [`Error::Unsupported`]. Opcodes are not judged here: unknown ones come back as
    /// [`Operation::Unknown`] for the caller to ignore.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET
            || packet.protocol_type() != PTYPE_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Packet length ([`PACKET_LEN`]).
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Write the packet into the first [`PACKET_LEN`] bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr);
        packet.set_source_protocol_addr(self.source_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Captured on a veth pair (tcpdump), Ethernet header stripped: 198.51.100.1
    // (72:de:ff:10:cc:97) asks who has 198.51.100.2.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, // htype Ethernet
        0x08, 0x00, // ptype IPv4
        0x06, 0x04, // hlen 6, plen 4
        0x00, 0x01, // request
        0x72, 0xde, 0xff, 0x10, 0xcc, 0x97, // sha
        0xc6, 0x33, 0x64, 0x01, // spa 198.51.100.1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // tha (unknown)
        0xc6, 0x33, 0x64, 0x02, // tpa 198.51.100.2
    ];

    // The kernel's answer from 198.51.100.2 (c6:c1:0f:40:3c:9e).
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0xc6, 0xc1, 0x0f, 0x40, 0x3c, 0x9e, 0xc6,
        0x33, 0x64, 0x02, 0x72, 0xde, 0xff, 0x10, 0xcc, 0x97, 0xc6, 0x33, 0x64, 0x01,
    ];

    const GUEST: MacAddr = MacAddr([0x72, 0xde, 0xff, 0x10, 0xcc, 0x97]);
    const PEER: MacAddr = MacAddr([0xc6, 0xc1, 0x0f, 0x40, 0x3c, 0x9e]);

    #[test]
    fn parse_real_request() {
        let repr = Repr::parse(&Packet::new_checked(&REQUEST[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Repr {
                operation: Operation::Request,
                source_hardware_addr: GUEST,
                source_protocol_addr: Ipv4Addr::new(198, 51, 100, 1),
                target_hardware_addr: MacAddr([0; 6]),
                target_protocol_addr: Ipv4Addr::new(198, 51, 100, 2),
            }
        );
    }

    #[test]
    fn emit_reproduces_real_reply() {
        let repr = Repr {
            operation: Operation::Reply,
            source_hardware_addr: PEER,
            source_protocol_addr: Ipv4Addr::new(198, 51, 100, 2),
            target_hardware_addr: GUEST,
            target_protocol_addr: Ipv4Addr::new(198, 51, 100, 1),
        };
        let mut out = [0u8; PACKET_LEN];
        repr.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, REPLY);
    }

    #[test]
    fn padding_is_ignored() {
        // An ARP in a minimum-size Ethernet frame carries 18 bytes of padding.
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&REQUEST);
        let repr = Repr::parse(&Packet::new_checked(&padded[..]).unwrap()).unwrap();
        assert_eq!(repr.operation, Operation::Request);
    }

    #[test]
    fn short_packet_is_truncated() {
        assert_eq!(
            Packet::new_checked(&REQUEST[..27]).unwrap_err(),
            Error::Truncated
        );
    }

    #[test]
    fn non_ethernet_ipv4_is_unsupported() {
        for (at, value) in [(1, 6u8), (2, 0x86), (4, 8), (5, 16)] {
            let mut p = REQUEST;
            p[at] = value;
            let packet = Packet::new_checked(&p[..]).unwrap();
            assert_eq!(Repr::parse(&packet), Err(Error::Unsupported), "byte {at}");
        }
    }

    #[test]
    fn unknown_operation_is_kept() {
        let mut p = REQUEST;
        p[7] = 8; // InARP request (RFC 2390)
        let repr = Repr::parse(&Packet::new_checked(&p[..]).unwrap()).unwrap();
        assert_eq!(repr.operation, Operation::Unknown(8));
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = Repr::parse(&p);
            }
        }

        #[test]
        fn mutated_request_never_panics(at in 0usize..28, value in any::<u8>(), cut in 0usize..=28) {
            let mut p = REQUEST;
            p[at] = value;
            if let Ok(packet) = Packet::new_checked(&p[..cut]) {
                let _ = Repr::parse(&packet);
            }
        }

        #[test]
        fn round_trip(op in any::<u16>(), sha in any::<[u8; 6]>(), spa in any::<[u8; 4]>(),
                      tha in any::<[u8; 6]>(), tpa in any::<[u8; 4]>()) {
            let repr = Repr {
                operation: Operation::from(op),
                source_hardware_addr: MacAddr(sha),
                source_protocol_addr: Ipv4Addr::from(spa),
                target_hardware_addr: MacAddr(tha),
                target_protocol_addr: Ipv4Addr::from(tpa),
            };
            let mut buf = [0u8; PACKET_LEN];
            repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
            prop_assert_eq!(Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), repr);
        }
    }
}
