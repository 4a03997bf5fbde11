//! Neighbor Discovery for IPv6: the messages of RFC 4861 §4.1–§4.4, the options of
//! §4.6, and the DNS options of RFC 8106 (RDNSS §5.1, DNSSL §5.2).
//!
//! A parsed [`Repr`] keeps its options as the raw, structurally validated option
//! area; [`NdiscOptionIter`] decodes them lazily. To build a message, pass a slice of
//! [`NdiscOption`]s to [`Repr::emit_with_options`], which writes the complete ICMPv6
//! message with its checksum and returns its length.
//!
//! This module also holds two helpers shared with DHCPv6: [`Ipv6List`] (RDNSS and
//! DHCPv6 option 23 addresses) and [`DomainList`] with the uncompressed RFC 1035
//! name encoder [`encode_domain_name`] (DNSSL and DHCPv6 option 24).
//!
//! The options live in `options.rs` and the shared name/address helpers in `names.rs`;
//! both are re-exported here.

use super::ethernet::MacAddr;
use super::icmpv6::{Message, Packet};
use super::{get_u16, get_u32, put_u16, put_u32, Error, Result};
use core::net::Ipv6Addr;

mod names;
mod options;
pub use names::{
    check_wire_names, encode_domain_name, encoded_name_len, DomainIter, DomainList, DomainName,
    Ipv6List, Ipv6ListIter, Labels, MAX_LABEL_LEN, MAX_NAME_LEN,
};
use options::split_option;
pub use options::{
    check_options, emit_options, NdiscOption, NdiscOptionIter, PrefixInfo, MAX_RDNSS_ADDRS,
    OPT_DNSSL, OPT_MTU, OPT_PREFIX_INFO, OPT_RDNSS, OPT_SOURCE_LLADDR, OPT_TARGET_LLADDR,
    PREFIX_INFO_LEN,
};

macro_rules! flags {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $flag:ident = $bit:expr,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u8);

        impl $name {
            $($(#[$fdoc])* pub const $flag: $name = $name($bit);)*

            /// No flag set.
            pub const fn empty() -> $name {
                $name(0)
            }

            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
    };
}

flags! {
    /// The flags byte of a Router Advertisement (RFC 4861 §4.2); unknown bits are kept.
    RouterFlags {
        /// M: addresses are available via DHCPv6.
        MANAGED = 0x80,
        /// O: other configuration is available via DHCPv6.
        OTHER = 0x40,
    }
}

flags! {
    /// The flag bits of a Neighbor Advertisement (RFC 4861 §4.4): the top three bits of
    /// the first byte after the checksum; the reserved bits are dropped.
    NeighborFlags {
        /// R: the sender is a router.
        ROUTER = 0x80,
        /// S: sent in response to a Neighbor Solicitation.
        SOLICITED = 0x40,
        /// O: override an existing cache entry.
        OVERRIDE = 0x20,
    }
}

flags! {
    /// The flags byte of a Prefix Information option (RFC 4861 §4.6.2); unknown bits kept.
    PrefixFlags {
        /// L: the prefix is on-link.
        ON_LINK = 0x80,
        /// A: the prefix may be used for stateless address autoconfiguration.
        AUTONOMOUS = 0x40,
    }
}

/// Mask of the defined Neighbor Advertisement flag bits.
const NA_FLAGS_MASK: u8 = 0xe0;

mod field {
    use core::ops::Range;
    pub const RA_CUR_HOP_LIMIT: usize = 4;
    pub const RA_FLAGS: usize = 5;
    pub const RA_ROUTER_LIFETIME: usize = 6;
    pub const RA_REACHABLE_TIME: usize = 8;
    pub const RA_RETRANS_TIME: usize = 12;
    pub const NA_FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
}

/// Router Solicitation length without options (RFC 4861 §4.1).
pub const RS_LEN: usize = 8;
/// Router Advertisement length without options (RFC 4861 §4.2).
pub const RA_LEN: usize = 16;
/// Neighbor Solicitation length without options (RFC 4861 §4.3).
pub const NS_LEN: usize = 24;
/// Neighbor Advertisement length without options (RFC 4861 §4.4).
pub const NA_LEN: usize = 24;

/// A Neighbor Discovery message (RFC 4861 §4.1–§4.4).
///
/// `options` is the raw option area, structurally checked by [`Repr::parse`]; decode it
/// with [`Repr::options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Router Solicitation (RFC 4861 §4.1).
    RouterSolicit {
        /// Option area.
        options: &'a [u8],
    },
    /// Router Advertisement (RFC 4861 §4.2).
    RouterAdvert {
        /// Hop limit hosts should use; 0 = unspecified.
        cur_hop_limit: u8,
        /// M, O and any other flags.
        flags: RouterFlags,
        /// Seconds this router is a default router; 0 = not one.
        router_lifetime: u16,
        /// Milliseconds a neighbor is reachable after confirmation; 0 = unspecified.
        reachable_time: u32,
        /// Milliseconds between retransmitted NS; 0 = unspecified.
        retrans_time: u32,
        /// Option area.
        options: &'a [u8],
    },
    /// Neighbor Solicitation (RFC 4861 §4.3).
    NeighborSolicit {
        /// Address being resolved.
        target_addr: Ipv6Addr,
        /// Option area.
        options: &'a [u8],
    },
    /// Neighbor Advertisement (RFC 4861 §4.4).
    NeighborAdvert {
        /// R, S and O.
        flags: NeighborFlags,
        /// Address whose link-layer address is advertised.
        target_addr: Ipv6Addr,
        /// Option area.
        options: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Parse a checked ICMPv6 message of type 133–136 (the checksum is not verified
    /// here; [`super::icmpv6::Repr::parse`] does that).
    ///
    /// Implements the receiver checks that need only the message (RFC 4861 §6.1.1,
    /// §6.1.2, §7.1.1, §7.1.2): code 0, length at least the fixed part, every option
    /// with non-zero length inside the message, target not multicast. The checks on the
    /// IPv6 header are in [`Repr::check_ip`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if packet.msg_code() != 0 {
            return Err(Error::Malformed);
        }
        let bytes = packet.bytes();
        let fixed = match packet.msg_type() {
            Message::RouterSolicit => RS_LEN,
            Message::RouterAdvert => RA_LEN,
            Message::NeighborSolicit => NS_LEN,
            Message::NeighborAdvert => NA_LEN,
            _ => return Err(Error::Unsupported),
        };
        let options = bytes.get(fixed..).ok_or(Error::Truncated)?;
        check_options(options)?;
        let target = || {
            let mut a = [0; 16];
            a.copy_from_slice(&bytes[field::TARGET]);
            let a = Ipv6Addr::from(a);
            if a.is_multicast() {
                Err(Error::Malformed)
            } else {
                Ok(a)
            }
        };
        Ok(match packet.msg_type() {
            Message::RouterSolicit => Repr::RouterSolicit { options },
            Message::RouterAdvert => Repr::RouterAdvert {
                cur_hop_limit: bytes[field::RA_CUR_HOP_LIMIT],
                flags: RouterFlags(bytes[field::RA_FLAGS]),
                router_lifetime: get_u16(bytes, field::RA_ROUTER_LIFETIME),
                reachable_time: get_u32(bytes, field::RA_REACHABLE_TIME),
                retrans_time: get_u32(bytes, field::RA_RETRANS_TIME),
                options,
            },
            Message::NeighborSolicit => Repr::NeighborSolicit {
                target_addr: target()?,
                options,
            },
            _ => Repr::NeighborAdvert {
                flags: NeighborFlags(bytes[field::NA_FLAGS] & NA_FLAGS_MASK),
                target_addr: target()?,
                options,
            },
        })
    }

    /// The ICMPv6 message type.
    pub fn msg_type(&self) -> Message {
        match self {
            Repr::RouterSolicit { .. } => Message::RouterSolicit,
            Repr::RouterAdvert { .. } => Message::RouterAdvert,
            Repr::NeighborSolicit { .. } => Message::NeighborSolicit,
            Repr::NeighborAdvert { .. } => Message::NeighborAdvert,
        }
    }

    /// Length of the message without options.
    pub fn fixed_len(&self) -> usize {
        match self {
            Repr::RouterSolicit { .. } => RS_LEN,
            Repr::RouterAdvert { .. } => RA_LEN,
            Repr::NeighborSolicit { .. } => NS_LEN,
            Repr::NeighborAdvert { .. } => NA_LEN,
        }
    }

    /// The raw option area.
    pub fn option_bytes(&self) -> &'a [u8] {
        match *self {
            Repr::RouterSolicit { options }
            | Repr::RouterAdvert { options, .. }
            | Repr::NeighborSolicit { options, .. }
            | Repr::NeighborAdvert { options, .. } => options,
        }
    }

    /// Decode the options.
    pub fn options(&self) -> NdiscOptionIter<'a> {
        NdiscOptionIter::new(self.option_bytes())
    }

    /// The first well-formed Source Link-Layer Address option.
    pub fn source_lladdr(&self) -> Option<MacAddr> {
        self.options().find_map(|o| match o {
            Ok(NdiscOption::SourceLinkLayerAddr(mac)) => Some(mac),
            _ => None,
        })
    }

    /// The first well-formed Target Link-Layer Address option.
    pub fn target_lladdr(&self) -> Option<MacAddr> {
        self.options().find_map(|o| match o {
            Ok(NdiscOption::TargetLinkLayerAddr(mac)) => Some(mac),
            _ => None,
        })
    }

    /// Whether the option area holds an option of type `kind`, known or not.
    fn has_option_kind(&self, kind: u8) -> bool {
        let mut rest = self.option_bytes();
        while let Ok((opt, tail)) = split_option(rest) {
            if opt.first() == Some(&kind) {
                return true;
            }
            rest = tail;
        }
        false
    }

    /// The receiver checks that depend on the IPv6 header (RFC 4861 §6.1.1, §6.1.2,
    /// §7.1.1, §7.1.2): hop limit 255; an RS or NS from the unspecified address carries
    /// no Source Link-Layer Address option, and such an NS goes to a solicited-node
    /// multicast address; an RA comes from a link-local address; an NA to a multicast
    /// address has the S flag clear. [`Error::Malformed`] if one fails.
    pub fn check_ip(&self, src: &Ipv6Addr, dst: &Ipv6Addr, hop_limit: u8) -> Result<()> {
        let ok = hop_limit == 255
            && match self {
                Repr::RouterSolicit { .. } => {
                    !src.is_unspecified() || !self.has_option_kind(OPT_SOURCE_LLADDR)
                }
                Repr::RouterAdvert { .. } => src.is_unicast_link_local(),
                Repr::NeighborSolicit { .. } => {
                    !src.is_unspecified()
                        || (is_solicited_node(dst) && !self.has_option_kind(OPT_SOURCE_LLADDR))
                }
                Repr::NeighborAdvert { flags, .. } => {
                    !dst.is_multicast() || !flags.contains(NeighborFlags::SOLICITED)
                }
            };
        if ok {
            Ok(())
        } else {
            Err(Error::Malformed)
        }
    }

    /// Length of the emitted message including the raw option area.
    pub fn buffer_len(&self) -> usize {
        self.fixed_len().saturating_add(self.option_bytes().len())
    }

    /// Write the message and its raw option area into the first
    /// [`Repr::buffer_len`] bytes of `packet`, with code 0, reserved fields zero and
    /// the checksum zero: fill it with [`Packet::fill_checksum`] (or emit through
    /// [`super::icmpv6::Repr::emit`], which does).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_msg_type(self.msg_type());
        packet.set_msg_code(0);
        packet.set_checksum(0);
        // Offsets in `field` count from the start of the message; `body` starts after
        // type, code and checksum.
        const H: usize = super::icmpv6::HEADER_LEN;
        let fixed = self.fixed_len();
        let body = &mut packet.body_mut()[..self.buffer_len() - H];
        body[..fixed - H].fill(0);
        match *self {
            Repr::RouterSolicit { .. } => {}
            Repr::RouterAdvert {
                cur_hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                body[field::RA_CUR_HOP_LIMIT - H] = cur_hop_limit;
                body[field::RA_FLAGS - H] = flags.0;
                put_u16(body, field::RA_ROUTER_LIFETIME - H, router_lifetime);
                put_u32(body, field::RA_REACHABLE_TIME - H, reachable_time);
                put_u32(body, field::RA_RETRANS_TIME - H, retrans_time);
            }
            Repr::NeighborSolicit { target_addr, .. } => {
                body[field::TARGET.start - H..field::TARGET.end - H]
                    .copy_from_slice(&target_addr.octets());
            }
            Repr::NeighborAdvert {
                flags, target_addr, ..
            } => {
                body[field::NA_FLAGS - H] = flags.0 & NA_FLAGS_MASK;
                body[field::TARGET.start - H..field::TARGET.end - H]
                    .copy_from_slice(&target_addr.octets());
            }
        }
        body[fixed - H..].copy_from_slice(self.option_bytes());
    }

    /// Build a complete ICMPv6 message into `buf`: this message (with its raw option
    /// area, usually empty when building), then `options` in order, then the checksum
    /// for `src` → `dst` (RFC 4443 §2.3). Returns the message length.
    ///
    /// Never panics: [`Error::Truncated`] if `buf` is too short, [`Error::Malformed`]
    /// for an option [`NdiscOption::buffer_len`] rejects.
    pub fn emit_with_options(
        &self,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        options: &[NdiscOption<'_>],
        buf: &mut [u8],
    ) -> Result<usize> {
        let base = self.buffer_len();
        let mut len = base;
        for opt in options {
            len = len.checked_add(opt.buffer_len()?).ok_or(Error::Truncated)?;
        }
        let buf = buf.get_mut(..len).ok_or(Error::Truncated)?;
        self.emit(&mut Packet::new_unchecked(&mut buf[..base]));
        emit_options(options, &mut buf[base..])?;
        Packet::new_unchecked(buf).fill_checksum(src, dst);
        Ok(len)
    }
}

/// Whether `addr` is a solicited-node multicast address, ff02::1:ffXX:XXXX
/// (RFC 4291 §2.7.1).
pub fn is_solicited_node(addr: &Ipv6Addr) -> bool {
    let o = addr.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

/// The solicited-node multicast address for `addr` (RFC 4291 §2.7.1).
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

#[cfg(test)]
mod tests;
