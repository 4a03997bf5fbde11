//! `dhcp` frames (RFC 2131/2132) over UDP/IPv4, built and parsed with
//! `passt_core::wire::dhcpv4`.
//!
//! ```text
//! dhcp discover|request|decline|release|inform|bootp xid=N [mac=MAC] [ciaddr=IP]
//!      [requested=IP] [server=IP] [prl=1,3,6] [client-id=HEX] [max-size=N] [broadcast]
//!      [rapid-commit]
//! dhcp offer|ack|nak [xid=N] [yiaddr=IP] [siaddr=IP] [ciaddr=IP] [mac=MAC] [flags=N]
//!      [secs=N] [broadcast] [optN=VALUE|absent]… [options-order=53,1,3,…]
//! ```
//! Client messages (`bootp` is a BOOTREQUEST without option 53) are sent by the guest
//! from `0.0.0.0:68` to `255.255.255.255:67`, from `mac` (default
//! [`super::GUEST_MAC`]) to the broadcast MAC. Any kind can be matched: the frame must
//! be UDP 67→68 for server messages (68→67 for client ones), a BOOTREPLY (BOOTREQUEST),
//! carry option 53 with the named type, and have every field the line names.
//!
//! `optN=VALUE` checks option N's data: hex bytes (`ffffff00`), or dotted IPv4
//! addresses (`198.51.100.1,198.51.100.2`), or `absent`. `options-order=` checks the
//! codes of all options, in order (pad and end excluded). In a match, `requested=`,
//! `server=`, `prl=`, `client-id=`, `max-size=` and `rapid-commit` check options 50,
//! 54, 55, 61, 57 and 80.

use super::ip::{build_udp_v4, parse_udp_v4, IpFields, UdpEnds};
use super::{same, EthFields, GUEST_MAC};
use crate::fields::{parse_num_list, Fields};
use passt_core::wire::dhcpv4::{self, MessageType, OpCode};
use passt_core::wire::ethernet::MacAddr;
use std::net::Ipv4Addr;

/// How an option is expected to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionCheck {
    /// Present with exactly these bytes.
    Is(Vec<u8>),
    /// Not present.
    Absent,
}

/// A DHCP frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpSpec {
    /// Option 53 (`None`: plain BOOTP).
    pub message_type: Option<MessageType>,
    /// `xid`.
    pub xid: Option<u32>,
    /// `chaddr`.
    pub mac: Option<MacAddr>,
    /// `ciaddr`.
    pub ciaddr: Option<Ipv4Addr>,
    /// `yiaddr` (match only).
    pub yiaddr: Option<Ipv4Addr>,
    /// `siaddr` (match only).
    pub siaddr: Option<Ipv4Addr>,
    /// The whole `flags` field (match only).
    pub flags: Option<u16>,
    /// `secs` (match only).
    pub secs: Option<u16>,
    /// The broadcast flag is set.
    pub broadcast: bool,
    /// Option 50.
    pub requested: Option<Ipv4Addr>,
    /// Option 54.
    pub server: Option<Ipv4Addr>,
    /// Option 55.
    pub prl: Option<Vec<u8>>,
    /// Option 61.
    pub client_id: Option<Vec<u8>>,
    /// Option 57.
    pub max_size: Option<u16>,
    /// Option 80.
    pub rapid_commit: bool,
    /// `optN=` checks (match only).
    pub options: Vec<(u8, OptionCheck)>,
    /// `options-order=` (match only).
    pub order: Option<Vec<u8>>,
    /// Ethernet fields.
    pub eth: EthFields,
    /// IP fields.
    pub ip: IpFields,
}

fn is_client(t: Option<MessageType>) -> bool {
    !matches!(
        t,
        Some(MessageType::Offer | MessageType::Ack | MessageType::Nak)
    )
}

fn u8_list(s: &str, what: &str) -> Result<Vec<u8>, String> {
    parse_num_list(s)
        .and_then(|l| l.into_iter().map(|v| u8::try_from(v).ok()).collect())
        .ok_or_else(|| format!("bad code list '{s}' for {what}"))
}

fn option_value(v: &str, key: &str) -> Result<OptionCheck, String> {
    if v == "absent" {
        return Ok(OptionCheck::Absent);
    }
    if v.contains('.') {
        let mut bytes = Vec::new();
        for a in v.split(',') {
            let a: Ipv4Addr = a
                .parse()
                .map_err(|_| format!("bad IPv4 address '{a}' for {key}"))?;
            bytes.extend_from_slice(&a.octets());
        }
        return Ok(OptionCheck::Is(bytes));
    }
    crate::hex::decode(v)
        .map(OptionCheck::Is)
        .map_err(|e| format!("bad value for {key}: {e}"))
}

impl DhcpSpec {
    /// Parse the tokens after `dhcp`.
    pub fn parse(t: &[&str]) -> Result<DhcpSpec, String> {
        let (kind, rest) = t.split_first().ok_or("dhcp needs a message type")?;
        let message_type = match *kind {
            "discover" => Some(MessageType::Discover),
            "offer" => Some(MessageType::Offer),
            "request" => Some(MessageType::Request),
            "decline" => Some(MessageType::Decline),
            "ack" => Some(MessageType::Ack),
            "nak" => Some(MessageType::Nak),
            "release" => Some(MessageType::Release),
            "inform" => Some(MessageType::Inform),
            "bootp" => None,
            other => return Err(format!("unknown dhcp message type '{other}'")),
        };
        let mut f = Fields::new(rest);
        let u16_field = |f: &mut Fields<'_>, key: &str| -> Result<Option<u16>, String> {
            f.num(key)?
                .map(|v| u16::try_from(v).map_err(|_| format!("{key} {v} exceeds 16 bits")))
                .transpose()
        };
        let xid = f
            .num("xid")?
            .map(|v| u32::try_from(v).map_err(|_| format!("xid {v:#x} exceeds 32 bits")))
            .transpose()?;
        let mut options = Vec::new();
        for (k, v) in f.take_matching(|k| k.starts_with("opt") && k[3..].parse::<u8>().is_ok()) {
            let code: u8 = k[3..].parse().map_err(|_| format!("bad option '{k}'"))?;
            let v = v.ok_or_else(|| format!("{k} needs a value"))?;
            options.push((code, option_value(v, k)?));
        }
        let spec = DhcpSpec {
            message_type,
            xid,
            mac: f.mac("mac")?,
            ciaddr: f.ipv4("ciaddr")?,
            yiaddr: f.ipv4("yiaddr")?,
            siaddr: f.ipv4("siaddr")?,
            flags: u16_field(&mut f, "flags")?,
            secs: u16_field(&mut f, "secs")?,
            broadcast: f.flag("broadcast"),
            requested: f.ipv4("requested")?,
            server: f.ipv4("server")?,
            prl: f.raw("prl").map(|v| u8_list(v, "prl")).transpose()?,
            client_id: f.hex("client-id")?,
            max_size: u16_field(&mut f, "max-size")?,
            rapid_commit: f.flag("rapid-commit"),
            options,
            order: f
                .raw("options-order")
                .map(|v| u8_list(v, "options-order"))
                .transpose()?,
            eth: EthFields::parse(&mut f)?,
            ip: IpFields::parse(&mut f)?,
        };
        f.finish("dhcp")?;
        Ok(spec)
    }

    /// Build a client message.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        if !is_client(self.message_type) {
            return Err("dhcp offer/ack/nak can only be matched (tap>), not sent".into());
        }
        let match_only = [
            ("yiaddr", self.yiaddr.is_some()),
            ("siaddr", self.siaddr.is_some()),
            ("flags", self.flags.is_some()),
            ("secs", self.secs.is_some()),
            ("optN", !self.options.is_empty()),
            ("options-order", self.order.is_some()),
        ];
        if let Some((name, _)) = match_only.iter().find(|(_, set)| *set) {
            return Err(format!("{name}= can only be matched, not sent"));
        }
        let xid = self.xid.ok_or("a dhcp frame to send needs xid=")?;
        let mac = self.mac.unwrap_or(GUEST_MAC);
        let repr = dhcpv4::Repr {
            message_type: self.message_type,
            transaction_id: xid,
            client_hardware_address: mac,
            client_ip: self.ciaddr.unwrap_or(Ipv4Addr::UNSPECIFIED),
            broadcast: self.broadcast,
            requested_ip: self.requested,
            server_identifier: self.server,
            parameter_request_list: self.prl.as_deref(),
            rapid_commit: self.rapid_commit,
            client_identifier: self.client_id.as_deref(),
            max_size: self.max_size,
            host_name: None,
        };
        let mut payload = vec![0u8; repr.buffer_len()];
        repr.emit(&mut dhcpv4::Packet::new_unchecked(&mut payload[..]));
        let ends = UdpEnds {
            src_mac: mac,
            dst_mac: MacAddr::BROADCAST,
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::BROADCAST,
            ttl: 64,
            src_port: dhcpv4::CLIENT_PORT,
            dst_port: dhcpv4::SERVER_PORT,
        };
        build_udp_v4(&self.eth, &self.ip, ends, &payload)
    }

    /// Check a frame.
    pub fn check(&self, frame: &[u8]) -> Result<(), String> {
        let d = parse_udp_v4(frame, &self.eth, &self.ip)?;
        let client = is_client(self.message_type);
        let (sport, dport, op) = if client {
            (dhcpv4::CLIENT_PORT, dhcpv4::SERVER_PORT, OpCode::Request)
        } else {
            (dhcpv4::SERVER_PORT, dhcpv4::CLIENT_PORT, OpCode::Reply)
        };
        same("UDP source port", sport, d.src_port)?;
        same("UDP destination port", dport, d.dst_port)?;
        let p = dhcpv4::Packet::new_checked(d.payload).map_err(|e| format!("DHCP: {e:?}"))?;
        if p.op() != op {
            return Err(format!("DHCP op: expected {op:?}, got {:?}", p.op()));
        }
        same("DHCP htype", dhcpv4::HTYPE_ETHERNET, p.htype())?;
        same("DHCP hlen", 6, p.hlen())?;
        same("DHCP magic cookie", dhcpv4::MAGIC_COOKIE, p.magic_cookie())?;
        let mut options: Vec<(u8, &[u8])> = Vec::new();
        for o in p.option_iter() {
            let o = o.map_err(|e| format!("DHCP options: {e:?}"))?;
            options.push((o.code, o.data));
        }
        let find = |code: u8| options.iter().find(|(c, _)| *c == code).map(|(_, d)| *d);
        let want_type = self.message_type.map(|t| vec![u8::from(t)]);
        if find(dhcpv4::OPT_MESSAGE_TYPE).map(<[u8]>::to_vec) != want_type {
            return Err(format!(
                "DHCP message type (option 53): expected {:?}, got {:?}",
                self.message_type,
                find(dhcpv4::OPT_MESSAGE_TYPE)
                    .and_then(|d| d.first())
                    .map(|t| MessageType::from(*t))
            ));
        }
        if let Some(xid) = self.xid {
            same(
                "DHCP xid",
                format!("{xid:#010x}"),
                format!("{:#010x}", p.transaction_id()),
            )?;
        }
        if let Some(mac) = self.mac {
            same("DHCP chaddr", mac, p.client_hardware_address())?;
        }
        let addrs = [
            ("ciaddr", self.ciaddr, p.client_ip()),
            ("yiaddr", self.yiaddr, p.your_ip()),
            ("siaddr", self.siaddr, p.server_ip()),
        ];
        for (name, want, got) in addrs {
            if let Some(want) = want {
                same(&format!("DHCP {name}"), want, got)?;
            }
        }
        if let Some(flags) = self.flags {
            same(
                "DHCP flags",
                format!("{flags:#06x}"),
                format!("{:#06x}", p.flags()),
            )?;
        }
        if self.broadcast && !p.broadcast() {
            return Err("DHCP broadcast flag: expected set, got clear".into());
        }
        if let Some(secs) = self.secs {
            same("DHCP secs", secs, p.secs())?;
        }

        let mut checks: Vec<(u8, OptionCheck)> = self.options.clone();
        let mut named = |code: u8, v: Option<Vec<u8>>| {
            if let Some(v) = v {
                checks.push((code, OptionCheck::Is(v)));
            }
        };
        named(
            dhcpv4::OPT_REQUESTED_IP,
            self.requested.map(|a| a.octets().to_vec()),
        );
        named(
            dhcpv4::OPT_SERVER_ID,
            self.server.map(|a| a.octets().to_vec()),
        );
        named(dhcpv4::OPT_PARAMETER_REQUEST_LIST, self.prl.clone());
        named(dhcpv4::OPT_CLIENT_ID, self.client_id.clone());
        named(
            dhcpv4::OPT_MAX_MESSAGE_SIZE,
            self.max_size.map(|s| s.to_be_bytes().to_vec()),
        );
        named(dhcpv4::OPT_RAPID_COMMIT, self.rapid_commit.then(Vec::new));
        for (code, check) in &checks {
            match (check, find(*code)) {
                (OptionCheck::Absent, None) => {}
                (OptionCheck::Absent, Some(d)) => {
                    return Err(format!(
                        "DHCP option {code}: expected absent, got {}",
                        crate::hex::encode(d)
                    ))
                }
                (OptionCheck::Is(want), got) => same(
                    &format!("DHCP option {code}"),
                    crate::hex::encode(want),
                    got.map_or("absent".into(), crate::hex::encode),
                )?,
            }
        }
        if let Some(order) = &self.order {
            let got: Vec<u8> = options.iter().map(|(c, _)| *c).collect();
            if *order != got {
                return Err(format!(
                    "DHCP options order: expected {order:?}, got {got:?}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<DhcpSpec, String> {
        DhcpSpec::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn discover_matches_itself_and_is_bootp_sized() {
        let s = spec("discover xid=0x12345678 prl=1,3,6 broadcast").unwrap();
        let f = s.build().unwrap();
        // 14 Ethernet + 20 IPv4 + 8 UDP + 300-byte minimum BOOTP message.
        assert_eq!(f.len(), 342);
        assert!(s.check(&f).is_ok(), "{:?}", s.check(&f));
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &GUEST_MAC.0);
        let m = spec("discover xid=0x12345678 opt53=01 opt55=010306 options-order=53,55").unwrap();
        assert!(m.check(&f).is_ok(), "{:?}", m.check(&f));
        let wrong = spec("discover options-order=55,53").unwrap();
        assert!(wrong.check(&f).unwrap_err().contains("order"));
        let req = spec("request").unwrap();
        assert!(req.check(&f).unwrap_err().contains("option 53"));
        let offer = spec("offer").unwrap();
        assert!(offer.check(&f).unwrap_err().contains("UDP source port"));
    }

    /// A DHCPOFFER as passt sends it (reference §6.2), assembled by hand; the IP and
    /// UDP layers come from the (separately tested) builder.
    fn offer() -> Vec<u8> {
        let mut b = vec![
            2, 1, 6, 0, // op BOOTREPLY, htype Ethernet, hlen 6, hops 0
            0x12, 0x34, 0x56, 0x78, // xid
            0, 0, 0x80, 0x00, // secs 0, flags: broadcast
            0, 0, 0, 0, // ciaddr
            198, 51, 100, 2, // yiaddr: the guest's address
            0, 0, 0, 0, // siaddr
            0, 0, 0, 0, // giaddr
            0x52, 0x54, 0x00, 0x12, 0x34, 0x56, // chaddr: the guest's MAC…
        ];
        b.resize(236, 0); // …padded to 16 bytes, then sname and file, all zero
        b.extend_from_slice(&[0x63, 0x82, 0x53, 0x63]); // magic cookie
        b.extend_from_slice(&[53, 1, 2]); // message type OFFER
        b.extend_from_slice(&[1, 4, 255, 255, 255, 0]); // netmask
        b.extend_from_slice(&[3, 4, 198, 51, 100, 1]); // router
        b.extend_from_slice(&[6, 4, 198, 51, 100, 53]); // DNS
        b.extend_from_slice(&[26, 2, 0xff, 0xf0]); // MTU 65520
        b.extend_from_slice(&[51, 4, 0xff, 0xff, 0xff, 0xff]); // lease: infinite
        b.extend_from_slice(&[54, 4, 198, 51, 100, 1]); // server identifier
        b.extend_from_slice(&[255, 0]); // end, one pad byte
        b.resize(300, 0);
        let ends = UdpEnds {
            src_mac: MacAddr::PASST_DEFAULT,
            dst_mac: MacAddr::BROADCAST,
            src: Ipv4Addr::new(198, 51, 100, 1),
            dst: Ipv4Addr::BROADCAST,
            ttl: 255,
            src_port: 67,
            dst_port: 68,
        };
        build_udp_v4(&EthFields::default(), &IpFields::default(), ends, &b).unwrap()
    }

    #[test]
    fn offer_matcher_on_a_hand_assembled_reply() {
        let f = offer();
        assert_eq!(f.len(), 342, "the typical reply frame size");
        let m = spec(
            "offer xid=0x12345678 yiaddr=198.51.100.2 siaddr=0.0.0.0 mac=52:54:00:12:34:56 \
             broadcast secs=0 opt53=02 opt1=255.255.255.0 opt3=198.51.100.1 opt6=198.51.100.53 \
             opt26=fff0 opt51=ffffffff opt54=198.51.100.1 opt80=absent opt119=absent \
             options-order=53,1,3,6,26,51,54 src=198.51.100.1 dst=255.255.255.255 ttl=255 len=342",
        )
        .unwrap();
        assert_eq!(m.check(&f), Ok(()));
        for (line, err) in [
            (
                "ack",
                "DHCP message type (option 53): expected Some(Ack), got Some(Offer)",
            ),
            (
                "offer yiaddr=198.51.100.3",
                "DHCP yiaddr: expected 198.51.100.3, got 198.51.100.2",
            ),
            (
                "offer opt26=05dc",
                "DHCP option 26: expected 05dc, got fff0",
            ),
            (
                "offer opt6=absent",
                "DHCP option 6: expected absent, got c6336435",
            ),
            (
                "offer opt121=00",
                "DHCP option 121: expected 00, got absent",
            ),
            (
                "offer xid=1",
                "DHCP xid: expected 0x00000001, got 0x12345678",
            ),
            ("offer flags=0", "DHCP flags: expected 0x0000, got 0x8000"),
            ("offer ttl=64", "TTL/hop limit: expected 64, got 255"),
        ] {
            assert_eq!(spec(line).unwrap().check(&f).unwrap_err(), err, "{line}");
        }
        assert!(spec("offer options-order=53,3,1,6,26,51,54")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("order"));
        assert!(spec("discover")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("port"));
    }

    #[test]
    fn option_values_and_errors() {
        let s = spec("request xid=1 requested=198.51.100.2 server=198.51.100.1").unwrap();
        let f = s.build().unwrap();
        let m = spec("request opt50=198.51.100.2 opt54=c6336401 opt80=absent").unwrap();
        assert!(m.check(&f).is_ok(), "{:?}", m.check(&f));
        let bad = spec("request opt50=198.51.100.3").unwrap();
        assert_eq!(
            bad.check(&f).unwrap_err(),
            "DHCP option 50: expected c6336403, got c6336402"
        );
        assert!(spec("offer xid=1")
            .unwrap()
            .build()
            .unwrap_err()
            .contains("matched"));
        assert!(spec("discover")
            .unwrap()
            .build()
            .unwrap_err()
            .contains("xid="));
        assert!(spec("discover xid=1 yiaddr=1.2.3.4")
            .unwrap()
            .build()
            .is_err());
        assert!(spec("solicit").unwrap_err().contains("'solicit'"));
        assert!(spec("discover xid=1 prl=1,300")
            .unwrap_err()
            .contains("prl"));
        assert!(spec("discover xid=1 colour=1")
            .unwrap_err()
            .contains("'colour'"));
    }
}
