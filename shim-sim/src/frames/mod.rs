//! Frame syntaxes of scripts: each kind both *builds* a frame (for `tap<`) and
//! *matches* one (for `tap>`), checking only the fields the line names plus that the
//! frame parses as that protocol.
//!
//! | kind | example |
//! |---|---|
//! | `hex` | `hex ffffffffffff 525400123456 0806 …` (spaces allowed) |
//! | `frame` | `frame src-mac=9a:55:9a:55:9a:55 dst-mac=… type=0x0806 len=42 [payload=HEX]` |
//! | `arp` | `arp request who-has 198.51.100.1 tell 198.51.100.2 [from MAC]`, `arp reply 198.51.100.1 is-at MAC [to MAC 198.51.100.2]` |
//! | `dhcp` | see [`dhcp`] |
//! | `ndp` | see [`ndp`] |
//! | `dhcpv6` | see [`dhcpv6`] |
//!
//! Every kind except `hex` also takes the Ethernet-level fields `src-mac=`, `dst-mac=`
//! and `len=` (the whole frame's length), which override the builder's defaults and are
//! checked by the matcher; the IP-based kinds also take `src=`, `dst=` and `ttl=` (see
//! [`ip`]).
//!
//! Frames a script sends come from the guest: unless told otherwise, from
//! [`GUEST_MAC`] and, for IPv6, from [`GUEST_LL`].

pub mod arp;
pub mod dhcp;
pub mod dhcpv6;
pub mod ip;
pub mod ndp;

use crate::fields::Fields;
use passt_core::wire::ethernet::{self, EtherType, MacAddr};
use std::fmt::Display;
use std::net::Ipv6Addr;

/// The guest's MAC unless a line says otherwise (qemu's default, as in the reference's
/// wire captures).
pub const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

/// The guest's link-local address unless a line says otherwise (EUI-64 from
/// [`GUEST_MAC`], RFC 4291 appendix A).
pub const GUEST_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5054, 0x00ff, 0xfe12, 0x3456);

/// A parsed frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameSpec {
    /// Exact bytes.
    Hex(Vec<u8>),
    /// Ethernet header fields and an optional payload.
    Frame(EthFields, Option<Vec<u8>>),
    /// ARP over Ethernet.
    Arp(arp::ArpSpec),
    /// DHCPv4 over UDP/IPv4.
    Dhcp(dhcp::DhcpSpec),
    /// Neighbour Discovery over ICMPv6.
    Ndp(ndp::NdpSpec),
    /// DHCPv6 over UDP/IPv6.
    Dhcpv6(dhcpv6::Dhcpv6Spec),
}

/// Ethernet-level fields every high-level kind accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EthFields {
    /// Source MAC.
    pub src: Option<MacAddr>,
    /// Destination MAC.
    pub dst: Option<MacAddr>,
    /// EtherType (only the `frame` kind sets it explicitly).
    pub ethertype: Option<u16>,
    /// Whole frame length.
    pub len: Option<usize>,
}

impl EthFields {
    /// Read `src-mac=`, `dst-mac=` and `len=`.
    pub fn parse(f: &mut Fields<'_>) -> Result<EthFields, String> {
        Ok(EthFields {
            src: f.mac("src-mac")?,
            dst: f.mac("dst-mac")?,
            ethertype: None,
            len: f.num("len")?.map(|l| l as usize),
        })
    }

    /// Prepend an Ethernet header to `payload`, with our fields overriding the defaults.
    pub fn build(&self, src: MacAddr, dst: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let repr = ethernet::Repr {
            src: self.src.unwrap_or(src),
            dst: self.dst.unwrap_or(dst),
            ethertype: EtherType::from(self.ethertype.unwrap_or(ethertype)),
        };
        let mut frame = vec![0u8; ethernet::HEADER_LEN];
        repr.emit(&mut ethernet::Frame::new_unchecked(&mut frame[..]));
        frame.extend_from_slice(payload);
        frame
    }

    /// Check the Ethernet header against our fields and `ethertype`; return the payload.
    pub fn check<'f>(&self, frame: &'f [u8], ethertype: Option<u16>) -> Result<&'f [u8], String> {
        let eth = ethernet::Frame::new_checked(frame)
            .map_err(|_| format!("{}-byte frame has no Ethernet header", frame.len()))?;
        if let Some(len) = self.len {
            same("frame length", len, frame.len())?;
        }
        if let Some(src) = self.src {
            same("src-mac", src, eth.src_addr())?;
        }
        if let Some(dst) = self.dst {
            same("dst-mac", dst, eth.dst_addr())?;
        }
        if let Some(t) = self.ethertype.or(ethertype) {
            let got: u16 = eth.ethertype().into();
            if got != t {
                return Err(format!("ethertype: expected {t:#06x}, got {got:#06x}"));
            }
        }
        Ok(&frame[ethernet::HEADER_LEN..])
    }
}

/// `Ok` if equal, else a mismatch message naming `what`.
pub fn same<T: PartialEq + Display>(what: &str, expected: T, got: T) -> Result<(), String> {
    if expected == got {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected}, got {got}"))
    }
}

/// Parse the tokens after `tap<` or `tap>` (the first is the kind).
pub fn parse_frame(tokens: &[&str]) -> Result<FrameSpec, String> {
    let Some((kind, rest)) = tokens.split_first() else {
        return Err("missing frame".into());
    };
    match *kind {
        "hex" => Ok(FrameSpec::Hex(crate::hex::decode(&rest.concat())?)),
        "frame" => {
            let mut f = Fields::new(rest);
            let mut eth = EthFields::parse(&mut f)?;
            eth.ethertype = f
                .num("type")?
                .map(|t| u16::try_from(t).map_err(|_| format!("type {t:#x} exceeds 16 bits")))
                .transpose()?;
            let payload = f.hex("payload")?;
            f.finish("frame")?;
            Ok(FrameSpec::Frame(eth, payload))
        }
        "arp" => arp::ArpSpec::parse(rest).map(FrameSpec::Arp),
        "dhcp" => dhcp::DhcpSpec::parse(rest).map(FrameSpec::Dhcp),
        "ndp" => ndp::NdpSpec::parse(rest).map(FrameSpec::Ndp),
        "dhcpv6" => dhcpv6::Dhcpv6Spec::parse(rest).map(FrameSpec::Dhcpv6),
        other => Err(format!("unknown frame kind '{other}'")),
    }
}

impl FrameSpec {
    /// The frame's bytes, as the guest would send it.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        match self {
            FrameSpec::Hex(bytes) => Ok(bytes.clone()),
            FrameSpec::Frame(eth, payload) => {
                let payload = payload.as_deref().unwrap_or(&[]);
                Ok(eth.build(GUEST_MAC, MacAddr::BROADCAST, 0x88b5, payload))
            }
            FrameSpec::Arp(s) => s.build(),
            FrameSpec::Dhcp(s) => s.build(),
            FrameSpec::Ndp(s) => s.build(),
            FrameSpec::Dhcpv6(s) => s.build(),
        }
    }

    /// Check `frame` against the description: `Err` says what differs.
    pub fn check(&self, frame: &[u8]) -> Result<(), String> {
        match self {
            FrameSpec::Hex(bytes) => {
                if bytes[..] == frame[..] {
                    return Ok(());
                }
                let at = bytes.iter().zip(frame).position(|(a, b)| a != b);
                Err(match at {
                    Some(i) => format!("bytes differ at offset {i}"),
                    None => format!("length: expected {}, got {}", bytes.len(), frame.len()),
                })
            }
            FrameSpec::Frame(eth, payload) => {
                let got = eth.check(frame, None)?;
                match payload {
                    Some(p) if p[..] != got[..] => Err("payload differs".into()),
                    _ => Ok(()),
                }
            }
            FrameSpec::Arp(s) => s.check(frame),
            FrameSpec::Dhcp(s) => s.check(frame),
            FrameSpec::Ndp(s) => s.check(frame),
            FrameSpec::Dhcpv6(s) => s.check(frame),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<FrameSpec, String> {
        parse_frame(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn hex_and_generic_frames() {
        let f = spec("hex ffff ffff ffff 5254 0012 3456 0806").unwrap();
        let bytes = f.build().unwrap();
        assert_eq!(bytes.len(), 14);
        assert!(f.check(&bytes).is_ok());
        assert!(f.check(&bytes[..13]).unwrap_err().contains("length"));

        let g = spec("frame src-mac=52:54:00:12:34:56 type=0x0806 len=14").unwrap();
        assert!(g.check(&bytes).is_ok());
        let other = spec("frame dst-mac=9a:55:9a:55:9a:55").unwrap();
        assert_eq!(
            other.check(&bytes).unwrap_err(),
            "dst-mac: expected 9a:55:9a:55:9a:55, got ff:ff:ff:ff:ff:ff"
        );
        assert!(spec("frame type=0x10000").unwrap_err().contains("16 bits"));
        let built = spec("frame src-mac=02:00:00:00:00:01 type=0x0800 payload=4500")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(&built[6..], &[2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0x00]);
    }

    #[test]
    fn unknown_kinds_and_fields_are_errors() {
        assert_eq!(spec("arq").unwrap_err(), "unknown frame kind 'arq'");
        assert_eq!(
            spec("frame colour=red").unwrap_err(),
            "unknown field 'colour' for frame"
        );
        assert!(spec("hex 0g").is_err());
    }
}
