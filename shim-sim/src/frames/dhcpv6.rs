//! `dhcpv6` frames (RFC 8415, RFC 3646) over UDP/IPv6, built and parsed with
//! `passt_core::wire::dhcpv6`.
//!
//! ```text
//! dhcpv6 solicit|request|confirm|renew|rebind|release|decline|info-req xid=N
//!        [client-id=HEX] [server-id=HEX] [ia-na=IAID [addr=ADDR] [t1=N] [t2=N]]
//!        [ia-ta=IAID] [oro=23,24] [elapsed=N] [rapid-commit]
//! dhcpv6 advertise|reply [xid=N] [client-id=HEX] [server-id=HEX] [ia-na=IAID|no-ia-na]
//!        [t1=N] [t2=N] [ia-addr=ADDR] [preferred=N] [valid=N] [ia-status=CODE]
//!        [status=CODE] [dns=ADDR,…|no-dns] [domains=NAME,…|no-domains]
//!        [options-order=1,2,3,…]
//! ```
//! plus the Ethernet and IP fields. Client messages go from [`super::GUEST_LL`] port
//! 546 to ff02::1:2 port 547 (hop limit 1), from [`super::GUEST_MAC`] to
//! 33:33:00:01:00:02. A matched frame must be UDP 547→546 for server messages (546→547
//! for client ones) with a valid checksum, of the named type, with every named field:
//! `ia-addr=` (or `addr=`) is the IAADDR inside the IA_NA, `preferred=`/`valid=` its
//! lifetimes, `ia-status=` a status code inside the IA_NA, `status=` one at the top
//! level (a name such as `not-on-link`, or a number), `options-order=` the codes of the
//! top-level options in order.

use super::ip::{build_udp_v6, parse_udp_v6, IpFields, UdpEnds};
use super::{same, EthFields, GUEST_LL, GUEST_MAC};
use crate::fields::{parse_num_list, Fields};
use passt_core::wire::dhcpv6::{
    self, Dhcpv6Option, IaAddress, IaNa, MessageType, OptionCodes, StatusCode,
};
use passt_core::wire::ethernet::MacAddr;
use std::net::Ipv6Addr;

/// Status names, as in RFC 8415 §21.13 (kebab-case).
const STATUS_NAMES: [(&str, u16); 7] = [
    ("success", 0),
    ("unspec-fail", 1),
    ("no-addrs-avail", 2),
    ("no-binding", 3),
    ("not-on-link", 4),
    ("use-multicast", 5),
    ("no-prefix-avail", 6),
];

/// A present/absent/unnamed expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect<T> {
    /// Not named.
    Any,
    /// Named as absent (`no-X`).
    Absent,
    /// Named.
    Is(T),
}

/// A DHCPv6 frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcpv6Spec {
    /// Message type.
    pub msg_type: MessageType,
    /// Transaction ID (24 bits).
    pub xid: Option<u32>,
    /// Client Identifier.
    pub client_id: Option<Vec<u8>>,
    /// Server Identifier.
    pub server_id: Option<Vec<u8>>,
    /// IA_NA IAID.
    pub ia_na: Expect<u32>,
    /// IA_NA T1.
    pub t1: Option<u32>,
    /// IA_NA T2.
    pub t2: Option<u32>,
    /// Address inside the IA_NA.
    pub addr: Option<Ipv6Addr>,
    /// Its preferred lifetime.
    pub preferred: Option<u32>,
    /// Its valid lifetime.
    pub valid: Option<u32>,
    /// Status code inside the IA_NA.
    pub ia_status: Option<u16>,
    /// Top-level status code.
    pub status: Option<u16>,
    /// IA_TA IAID (client messages).
    pub ia_ta: Option<u32>,
    /// Option Request codes.
    pub oro: Option<Vec<u16>>,
    /// Elapsed Time.
    pub elapsed: Option<u16>,
    /// Rapid Commit.
    pub rapid_commit: bool,
    /// DNS servers (option 23).
    pub dns: Expect<Vec<Ipv6Addr>>,
    /// Domain list (option 24).
    pub domains: Expect<Vec<String>>,
    /// Top-level option codes in order.
    pub order: Option<Vec<u16>>,
    /// Ethernet fields.
    pub eth: EthFields,
    /// IP fields.
    pub ip: IpFields,
}

fn is_server(t: MessageType) -> bool {
    matches!(t, MessageType::Advertise | MessageType::Reply)
}

fn status_code(v: &str) -> Result<u16, String> {
    STATUS_NAMES
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, c)| *c)
        .or_else(|| v.parse().ok())
        .ok_or_else(|| format!("unknown status '{v}'"))
}

fn status_name(code: u16) -> String {
    STATUS_NAMES
        .iter()
        .find(|(_, c)| *c == code)
        .map_or_else(|| code.to_string(), |(n, _)| n.to_string())
}

fn u16_list(v: &str, key: &str) -> Result<Vec<u16>, String> {
    parse_num_list(v)
        .and_then(|l| l.into_iter().map(|c| u16::try_from(c).ok()).collect())
        .ok_or_else(|| format!("bad code list '{v}' for {key}"))
}

fn expect<T>(
    f: &mut Fields<'_>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Expect<T>, String> {
    let absent = f.flag(&format!("no-{key}"));
    match (f.raw(key), absent) {
        (Some(_), true) => Err(format!("both {key}= and no-{key}")),
        (Some(v), false) => parse(v).map(Expect::Is),
        (None, true) => Ok(Expect::Absent),
        (None, false) => Ok(Expect::Any),
    }
}

fn u32_field(f: &mut Fields<'_>, key: &str) -> Result<Option<u32>, String> {
    f.num(key)?
        .map(|v| u32::try_from(v).map_err(|_| format!("{key} {v} exceeds 32 bits")))
        .transpose()
}

impl Dhcpv6Spec {
    /// Parse the tokens after `dhcpv6`.
    pub fn parse(t: &[&str]) -> Result<Dhcpv6Spec, String> {
        let (kind, rest) = t.split_first().ok_or("dhcpv6 needs a message type")?;
        let msg_type = match *kind {
            "solicit" => MessageType::Solicit,
            "advertise" => MessageType::Advertise,
            "request" => MessageType::Request,
            "confirm" => MessageType::Confirm,
            "renew" => MessageType::Renew,
            "rebind" => MessageType::Rebind,
            "reply" => MessageType::Reply,
            "release" => MessageType::Release,
            "decline" => MessageType::Decline,
            "info-req" => MessageType::InformationRequest,
            other => return Err(format!("unknown dhcpv6 message type '{other}'")),
        };
        let mut f = Fields::new(rest);
        let xid = match f.num("xid")? {
            Some(x) if x > 0xff_ffff => return Err(format!("xid {x:#x} exceeds 24 bits")),
            x => x.map(|x| x as u32),
        };
        let addr = match (f.ipv6("addr")?, f.ipv6("ia-addr")?) {
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
            (Some(_), Some(_)) => return Err("give addr= or ia-addr=, not both".into()),
        };
        let spec = Dhcpv6Spec {
            msg_type,
            xid,
            client_id: f.hex("client-id")?,
            server_id: f.hex("server-id")?,
            ia_na: expect(&mut f, "ia-na", |v| {
                crate::fields::parse_num(v)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("bad IAID '{v}'"))
            })?,
            t1: u32_field(&mut f, "t1")?,
            t2: u32_field(&mut f, "t2")?,
            addr,
            preferred: u32_field(&mut f, "preferred")?,
            valid: u32_field(&mut f, "valid")?,
            ia_status: f.raw("ia-status").map(status_code).transpose()?,
            status: f.raw("status").map(status_code).transpose()?,
            ia_ta: u32_field(&mut f, "ia-ta")?,
            oro: f.raw("oro").map(|v| u16_list(v, "oro")).transpose()?,
            elapsed: f
                .num("elapsed")?
                .map(|v| u16::try_from(v).map_err(|_| format!("elapsed {v} exceeds 16 bits")))
                .transpose()?,
            rapid_commit: f.flag("rapid-commit"),
            dns: expect(&mut f, "dns", |v| {
                v.split(',')
                    .map(|a| a.parse().map_err(|_| format!("bad IPv6 address '{a}'")))
                    .collect()
            })?,
            domains: expect(&mut f, "domains", |v| {
                Ok(v.split(',').map(str::to_string).collect())
            })?,
            order: f
                .raw("options-order")
                .map(|v| u16_list(v, "options-order"))
                .transpose()?,
            eth: EthFields::parse(&mut f)?,
            ip: IpFields::parse(&mut f)?,
        };
        f.finish("dhcpv6")?;
        Ok(spec)
    }

    /// Build a client message.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        if is_server(self.msg_type) {
            return Err("dhcpv6 advertise/reply can only be matched (tap>), not sent".into());
        }
        let match_only = [
            (
                "preferred/valid",
                self.preferred.is_some() || self.valid.is_some(),
            ),
            ("status", self.status.is_some() || self.ia_status.is_some()),
            ("dns", self.dns != Expect::Any),
            ("domains", self.domains != Expect::Any),
            ("options-order", self.order.is_some()),
        ];
        if let Some((name, _)) = match_only.iter().find(|(_, set)| *set) {
            return Err(format!("{name} can only be matched, not sent"));
        }
        let xid = self.xid.ok_or("a dhcpv6 frame to send needs xid=")?;
        let ia_na = match self.ia_na {
            Expect::Is(iaid) => Some(IaNa {
                iaid,
                t1: self.t1.unwrap_or(0),
                t2: self.t2.unwrap_or(0),
                address: self.addr.map(|addr| IaAddress {
                    addr,
                    preferred_lifetime: 0,
                    valid_lifetime: 0,
                }),
            }),
            _ if self.addr.is_some() => return Err("addr= needs ia-na=".into()),
            _ => None,
        };
        let repr = dhcpv6::Repr {
            msg_type: self.msg_type,
            transaction_id: xid,
            client_id: self.client_id.as_deref(),
            server_id: self.server_id.as_deref(),
            ia_na,
            ia_ta: self.ia_ta,
            oro: self.oro.as_deref().map(OptionCodes::Codes),
            elapsed_time: self.elapsed,
            rapid_commit: self.rapid_commit,
        };
        let mut payload = vec![0u8; repr.buffer_len().map_err(|e| format!("DHCPv6: {e:?}"))?];
        let len = repr
            .emit(&mut payload)
            .map_err(|e| format!("cannot build the DHCPv6 message: {e:?}"))?;
        payload.truncate(len);
        let ends = UdpEnds {
            src_mac: GUEST_MAC,
            dst_mac: MacAddr::ipv6_multicast(dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS),
            src: GUEST_LL,
            dst: dhcpv6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
            ttl: 1,
            src_port: dhcpv6::CLIENT_PORT,
            dst_port: dhcpv6::SERVER_PORT,
        };
        build_udp_v6(&self.eth, &self.ip, ends, &payload)
    }

    /// Check a frame.
    pub fn check(&self, frame: &[u8]) -> Result<(), String> {
        let d = parse_udp_v6(frame, &self.eth, &self.ip)?;
        let (sport, dport) = if is_server(self.msg_type) {
            (dhcpv6::SERVER_PORT, dhcpv6::CLIENT_PORT)
        } else {
            (dhcpv6::CLIENT_PORT, dhcpv6::SERVER_PORT)
        };
        same("UDP source port", sport, d.src_port)?;
        same("UDP destination port", dport, d.dst_port)?;
        let p = dhcpv6::Packet::new_checked(d.payload).map_err(|e| format!("DHCPv6: {e:?}"))?;
        if p.msg_type() != self.msg_type {
            return Err(format!(
                "DHCPv6 message type: expected {:?}, got {:?}",
                self.msg_type,
                p.msg_type()
            ));
        }
        if let Some(xid) = self.xid {
            same(
                "DHCPv6 xid",
                format!("{xid:#08x}"),
                format!("{:#08x}", p.transaction_id()),
            )?;
        }
        let mut options = Vec::new();
        for raw in p.option_iter() {
            let raw = raw.map_err(|e| format!("DHCPv6 options: {e:?}"))?;
            let typed = raw
                .typed()
                .map_err(|e| format!("DHCPv6 option {}: {e:?}", raw.code))?;
            options.push((raw.code, typed));
        }
        if let Some(order) = &self.order {
            let got: Vec<u16> = options.iter().map(|(c, _)| *c).collect();
            if *order != got {
                return Err(format!(
                    "DHCPv6 options order: expected {order:?}, got {got:?}"
                ));
            }
        }
        let find = |code: u16| options.iter().find(|(c, _)| *c == code).map(|(_, o)| o);
        let hex = crate::hex::encode;
        if let Some(want) = &self.client_id {
            match find(dhcpv6::OPT_CLIENTID) {
                Some(Dhcpv6Option::ClientId(id)) => same("client ID", hex(want), hex(id))?,
                _ => return Err("client ID: expected present, got none".into()),
            }
        }
        if let Some(want) = &self.server_id {
            match find(dhcpv6::OPT_SERVERID) {
                Some(Dhcpv6Option::ServerId(id)) => same("server ID", hex(want), hex(id))?,
                _ => return Err("server ID: expected present, got none".into()),
            }
        }
        if let Some(want) = self.status {
            match find(dhcpv6::OPT_STATUS_CODE) {
                Some(Dhcpv6Option::StatusCode { code, .. }) => {
                    same("status", status_name(want), status_name(u16::from(*code)))?
                }
                _ => return Err(format!("status: expected {}, got none", status_name(want))),
            }
        }
        self.check_ia_na(find(dhcpv6::OPT_IA_NA))?;
        match (&self.dns, find(dhcpv6::OPT_DNS_SERVERS)) {
            (Expect::Any, _) | (Expect::Absent, None) => {}
            (Expect::Absent, Some(o)) => {
                return Err(format!("DNS servers: expected none, got {o:?}"))
            }
            (Expect::Is(want), Some(Dhcpv6Option::DnsServers(list))) => {
                let got: Vec<String> = list.iter().map(|a| a.to_string()).collect();
                let want: Vec<String> = want.iter().map(|a| a.to_string()).collect();
                same("DNS servers", want.join(","), got.join(","))?;
            }
            (Expect::Is(_), _) => return Err("DNS servers: expected present, got none".into()),
        }
        match (&self.domains, find(dhcpv6::OPT_DOMAIN_LIST)) {
            (Expect::Any, _) | (Expect::Absent, None) => {}
            (Expect::Absent, Some(o)) => {
                return Err(format!("domain list: expected none, got {o:?}"))
            }
            (Expect::Is(want), Some(Dhcpv6Option::DomainList(list))) => {
                let got: Vec<String> = list.iter().map(|d| d.to_string()).collect();
                same("domain list", want.join(","), got.join(","))?;
            }
            (Expect::Is(_), _) => return Err("domain list: expected present, got none".into()),
        }
        Ok(())
    }

    fn check_ia_na(&self, ia: Option<&Dhcpv6Option<'_>>) -> Result<(), String> {
        let named = self.ia_na != Expect::Any
            || self.t1.is_some()
            || self.t2.is_some()
            || self.addr.is_some()
            || self.preferred.is_some()
            || self.valid.is_some()
            || self.ia_status.is_some();
        if !named {
            return Ok(());
        }
        let ia = match (ia, &self.ia_na) {
            (None, Expect::Absent) => return Ok(()),
            (Some(_), Expect::Absent) => return Err("IA_NA: expected none, got one".into()),
            (Some(Dhcpv6Option::IaNa(ia)), _) => ia,
            _ => return Err("IA_NA: expected present, got none".into()),
        };
        if let Expect::Is(iaid) = self.ia_na {
            same("IA_NA IAID", iaid, ia.iaid)?;
        }
        if let Some(t1) = self.t1 {
            same("IA_NA T1", t1, ia.t1)?;
        }
        if let Some(t2) = self.t2 {
            same("IA_NA T2", t2, ia.t2)?;
        }
        let mut addr = None;
        let mut status = None;
        for o in ia.option_iter() {
            let o = o
                .and_then(|o| o.typed())
                .map_err(|e| format!("IA_NA options: {e:?}"))?;
            match o {
                Dhcpv6Option::IaAddr(a) if addr.is_none() => addr = Some(a),
                Dhcpv6Option::StatusCode { code, .. } if status.is_none() => status = Some(code),
                _ => {}
            }
        }
        if self.addr.is_some() || self.preferred.is_some() || self.valid.is_some() {
            let a = addr.ok_or("IA_NA address: expected present, got none")?;
            if let Some(want) = self.addr {
                same("IA_NA address", want, a.addr)?;
            }
            if let Some(want) = self.preferred {
                same("IAADDR preferred lifetime", want, a.preferred_lifetime)?;
            }
            if let Some(want) = self.valid {
                same("IAADDR valid lifetime", want, a.valid_lifetime)?;
            }
        }
        if let Some(want) = self.ia_status {
            let got = status.map_or("none".to_string(), |c: StatusCode| {
                status_name(u16::from(c))
            });
            same("IA_NA status", status_name(want), got)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<Dhcpv6Spec, String> {
        Dhcpv6Spec::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn solicit_round_trip() {
        let s = spec(
            "solicit xid=0xabcdef client-id=000100012b3c4d5e525400123456 ia-na=7 oro=23,24 \
             elapsed=0",
        )
        .unwrap();
        let f = s.build().unwrap();
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 1, 0, 2]);
        assert!(s.check(&f).is_ok(), "{:?}", s.check(&f));
        let order = spec("solicit options-order=1,3,6,8 no-dns").unwrap();
        assert!(order.check(&f).is_ok(), "{:?}", order.check(&f));
        assert!(spec("solicit ia-na=8")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("IAID"));
        assert!(spec("solicit no-ia-na").unwrap().check(&f).is_err());
        assert!(spec("request")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("Solicit"));
        assert!(spec("reply")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("port"));
    }

    /// A DHCPv6 REPLY as passt sends it (reference §6.4), assembled by hand; the IP
    /// and UDP layers come from the (separately tested) builder.
    fn reply() -> Vec<u8> {
        let mut m = vec![7, 0xab, 0xcd, 0xef]; // REPLY, xid abcdef
        m.extend_from_slice(&[0, 1, 0, 14]); // Client ID, 14 bytes: DUID-LLT
        m.extend_from_slice(&[
            0, 1, 0, 1, 0x2b, 0x3c, 0x4d, 0x5e, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        ]);
        m.extend_from_slice(&[0, 2, 0, 14]); // Server ID: DUID-LLT, time 0, our MAC
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]);
        m.extend_from_slice(&[0, 3, 0, 40]); // IA_NA, 12 + 28 bytes
        m.extend_from_slice(&[0, 0, 0, 7]); // IAID 7
        m.extend_from_slice(&[0xff; 8]); // T1, T2 infinite
        m.extend_from_slice(&[0, 5, 0, 24]); // IAADDR, 24 bytes
        m.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        m.extend_from_slice(&[0xff; 8]); // preferred, valid infinite
        m.extend_from_slice(&[0, 23, 0, 16]); // DNS servers
        m.extend_from_slice(&"2001:db8::53".parse::<Ipv6Addr>().unwrap().octets());
        m.extend_from_slice(&[0, 24, 0, 13]); // domain list: example.com
        m.extend_from_slice(b"\x07example\x03com\x00");
        let ends = UdpEnds {
            src_mac: MacAddr::PASST_DEFAULT,
            dst_mac: GUEST_MAC,
            src: "fe80::1".parse().unwrap(),
            dst: GUEST_LL,
            ttl: 255,
            src_port: 547,
            dst_port: 546,
        };
        build_udp_v6(&EthFields::default(), &IpFields::default(), ends, &m).unwrap()
    }

    #[test]
    fn reply_matcher_on_a_hand_assembled_reply() {
        let f = reply();
        let m = spec(
            "reply xid=0xabcdef client-id=000100012b3c4d5e525400123456 \
             server-id=00010001000000009a559a559a55 ia-na=7 t1=4294967295 t2=4294967295 \
             ia-addr=2001:db8::2 preferred=4294967295 valid=4294967295 dns=2001:db8::53 \
             domains=example.com options-order=1,2,3,23,24 src=fe80::1 \
             dst=fe80::5054:ff:fe12:3456",
        )
        .unwrap();
        assert_eq!(m.check(&f), Ok(()));
        for (line, err) in [
            ("advertise", "DHCPv6 message type: expected Advertise, got Reply"),
            ("reply ia-addr=2001:db8::3", "IA_NA address: expected 2001:db8::3, got 2001:db8::2"),
            ("reply ia-status=not-on-link", "IA_NA status: expected not-on-link, got none"),
            ("reply status=success", "status: expected success, got none"),
            ("reply no-dns", "DNS servers: expected none, got DnsServers(Wire([32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 83]))"),
            ("reply domains=example.org", "domain list: expected example.org, got example.com"),
            ("reply xid=1", "DHCPv6 xid: expected 0x000001, got 0xabcdef"),
        ] {
            assert_eq!(spec(line).unwrap().check(&f).unwrap_err(), err, "{line}");
        }
    }

    #[test]
    fn syntax_and_build_errors() {
        assert!(spec("reply xid=1")
            .unwrap()
            .build()
            .unwrap_err()
            .contains("matched"));
        assert!(spec("solicit")
            .unwrap()
            .build()
            .unwrap_err()
            .contains("xid="));
        assert!(spec("solicit xid=1 addr=2001:db8::2")
            .unwrap()
            .build()
            .is_err());
        assert!(spec("solicit xid=0x1000000")
            .unwrap_err()
            .contains("24 bits"));
        assert!(spec("reply status=bogus").unwrap_err().contains("'bogus'"));
        assert!(spec("reply dns=2001:db8::1 no-dns")
            .unwrap_err()
            .contains("both"));
        assert!(spec("hello").unwrap_err().contains("'hello'"));
        assert_eq!(status_code("not-on-link"), Ok(4));
        assert_eq!(status_name(4), "not-on-link");
        assert_eq!(status_name(99), "99");
    }
}
