//! `arp` frames (RFC 826), built and parsed with `passt_core::wire::arp`.
//!
//! ```text
//! arp request who-has TARGET-IP tell SENDER-IP [from SENDER-MAC]
//! arp reply SENDER-IP is-at SENDER-MAC [to TARGET-MAC TARGET-IP]
//! ```
//! A request is broadcast from its sender MAC ([`super::GUEST_MAC`] by default); a
//! reply goes to its target MAC (broadcast without `to`). Matching checks the opcode
//! and every address the line names.

use super::{same, EthFields, GUEST_MAC};
use crate::fields::{parse_mac, Fields};
use passt_core::wire::arp::{self, Operation};
use passt_core::wire::ethernet::MacAddr;
use std::net::Ipv4Addr;

/// An ARP frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpSpec {
    /// Request or reply.
    pub operation: Operation,
    /// Sender hardware address.
    pub sha: Option<MacAddr>,
    /// Sender protocol address.
    pub spa: Ipv4Addr,
    /// Target hardware address.
    pub tha: Option<MacAddr>,
    /// Target protocol address.
    pub tpa: Option<Ipv4Addr>,
    /// Ethernet fields.
    pub eth: EthFields,
}

fn ip(s: Option<&&str>, what: &str) -> Result<Ipv4Addr, String> {
    let s = s.ok_or_else(|| format!("missing {what}"))?;
    s.parse()
        .map_err(|_| format!("bad IPv4 address '{s}' for {what}"))
}

fn mac(s: Option<&&str>, what: &str) -> Result<MacAddr, String> {
    let s = s.ok_or_else(|| format!("missing {what}"))?;
    parse_mac(s).ok_or_else(|| format!("bad MAC '{s}' for {what}"))
}

impl ArpSpec {
    /// Parse the tokens after `arp`.
    pub fn parse(t: &[&str]) -> Result<ArpSpec, String> {
        let word = |i: usize, w: &str| -> Result<(), String> {
            match t.get(i) {
                Some(x) if *x == w => Ok(()),
                Some(x) => Err(format!("expected '{w}', found '{x}'")),
                None => Err(format!("expected '{w}'")),
            }
        };
        let (spec, rest) = match t.first().copied() {
            Some("request") => {
                word(1, "who-has")?;
                let tpa = ip(t.get(2), "who-has address")?;
                word(3, "tell")?;
                let spa = ip(t.get(4), "tell address")?;
                let (sha, n) = match t.get(5) {
                    Some(&"from") => (Some(mac(t.get(6), "from MAC")?), 7),
                    _ => (None, 5),
                };
                let spec = ArpSpec {
                    operation: Operation::Request,
                    sha,
                    spa,
                    tha: None,
                    tpa: Some(tpa),
                    eth: EthFields::default(),
                };
                (spec, &t[n.min(t.len())..])
            }
            Some("reply") => {
                let spa = ip(t.get(1), "reply address")?;
                word(2, "is-at")?;
                let sha = mac(t.get(3), "is-at MAC")?;
                let (tha, tpa, n) = match t.get(4) {
                    Some(&"to") => (
                        Some(mac(t.get(5), "to MAC")?),
                        Some(ip(t.get(6), "to address")?),
                        7,
                    ),
                    _ => (None, None, 4),
                };
                let spec = ArpSpec {
                    operation: Operation::Reply,
                    sha: Some(sha),
                    spa,
                    tha,
                    tpa,
                    eth: EthFields::default(),
                };
                (spec, &t[n.min(t.len())..])
            }
            Some(other) => return Err(format!("unknown arp operation '{other}'")),
            None => return Err("arp needs 'request' or 'reply'".into()),
        };
        let mut f = Fields::new(rest);
        let eth = EthFields::parse(&mut f)?;
        f.finish("arp")?;
        Ok(ArpSpec { eth, ..spec })
    }

    /// Build the frame.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        let sha = self.sha.unwrap_or(GUEST_MAC);
        let tha = self.tha.unwrap_or(MacAddr([0; 6]));
        let repr = arp::Repr {
            operation: self.operation,
            source_hardware_addr: sha,
            source_protocol_addr: self.spa,
            target_hardware_addr: tha,
            target_protocol_addr: self.tpa.unwrap_or(Ipv4Addr::UNSPECIFIED),
        };
        let mut payload = vec![0u8; repr.buffer_len()];
        repr.emit(&mut arp::Packet::new_unchecked(&mut payload[..]));
        let dst = self.tha.unwrap_or(MacAddr::BROADCAST);
        Ok(self.eth.build(sha, dst, 0x0806, &payload))
    }

    /// Check `frame`.
    pub fn check(&self, frame: &[u8]) -> Result<(), String> {
        let payload = self.eth.check(frame, Some(0x0806))?;
        let packet = arp::Packet::new_checked(payload).map_err(|e| format!("ARP: {e:?}"))?;
        let repr = arp::Repr::parse(&packet).map_err(|e| format!("ARP: {e:?}"))?;
        if repr.operation != self.operation {
            return Err(format!(
                "ARP operation: expected {:?}, got {:?}",
                self.operation, repr.operation
            ));
        }
        same("ARP sender IP", self.spa, repr.source_protocol_addr)?;
        if let Some(sha) = self.sha {
            same("ARP sender MAC", sha, repr.source_hardware_addr)?;
        }
        if let Some(tha) = self.tha {
            same("ARP target MAC", tha, repr.target_hardware_addr)?;
        }
        if let Some(tpa) = self.tpa {
            same("ARP target IP", tpa, repr.target_protocol_addr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<ArpSpec, String> {
        ArpSpec::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn request_matches_arping_capture() {
        // The `arping` request from the Ethernet module's tests: broadcast, from
        // 52:54:00:12:34:56, who-has 198.51.100.1 tell 198.51.100.2.
        let captured: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
            0xc6, 0x33, 0x64, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x01,
        ];
        let s = spec("request who-has 198.51.100.1 tell 198.51.100.2").unwrap();
        assert_eq!(s.build().unwrap(), captured);
        assert!(s.check(&captured).is_ok());
        let wrong = spec("request who-has 198.51.100.9 tell 198.51.100.2 len=42").unwrap();
        assert_eq!(
            wrong.check(&captured).unwrap_err(),
            "ARP target IP: expected 198.51.100.9, got 198.51.100.1"
        );
    }

    #[test]
    fn reply_round_trip_and_mismatches() {
        let s = spec(
            "reply 198.51.100.1 is-at 9a:55:9a:55:9a:55 to 52:54:00:12:34:56 198.51.100.2 len=42",
        )
        .unwrap();
        let f = s.build().unwrap();
        assert_eq!(&f[..6], &GUEST_MAC.0, "unicast to the target");
        assert!(s.check(&f).is_ok());
        let req = spec("request who-has 198.51.100.1 tell 198.51.100.2").unwrap();
        assert!(req.check(&f).unwrap_err().contains("operation"));
        assert!(req.check(&f[..30]).unwrap_err().contains("Truncated"));
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            spec("request who 1.2.3.4").unwrap_err(),
            "expected 'who-has', found 'who'"
        );
        assert!(spec("request who-has 1.2.3.4 tell x")
            .unwrap_err()
            .contains("'x'"));
        assert!(spec("reply 1.2.3.4 is-at 52:54")
            .unwrap_err()
            .contains("bad MAC"));
        assert_eq!(spec("probe").unwrap_err(), "unknown arp operation 'probe'");
        assert!(spec("request who-has 1.2.3.4 tell 1.2.3.5 extra")
            .unwrap_err()
            .contains("'extra'"));
    }
}
