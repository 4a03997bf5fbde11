//! `ndp` frames (RFC 4861 Neighbor Discovery, RFC 8106 RDNSS/DNSSL) over ICMPv6,
//! built and parsed with `passt_core::wire::{icmpv6, ndisc}`.
//!
//! ```text
//! ndp rs [sll=MAC|no-sll]
//! ndp ra [m] [o] [flags=N] [cur-hop-limit=N] [router-lifetime=N] [reachable=N]
//!        [retrans=N] [prefix=ADDR/LEN] [prefix-flags=la] [valid=N] [preferred=N]
//!        [mtu=N|no-mtu] [rdnss=ADDR,…|no-rdnss] [rdnss-lifetime=N]
//!        [dnssl=NAME,…|no-dnssl] [dnssl-lifetime=N] [sll=MAC|no-sll] [options-order=…]
//! ndp ns target=ADDR [sll=MAC|no-sll]
//! ndp na target=ADDR [flags=rso] [tll=MAC|no-tll]
//! ```
//! plus the Ethernet and IP fields (`src=`, `dst=`, `hop-limit=`…).
//!
//! Sent frames come from the guest: from [`super::GUEST_LL`] and
//! [`super::GUEST_MAC`], hop limit 255; an RS goes to ff02::2, an RA or NA to ff02::1,
//! an NS to the target's solicited-node group. An RS or NS carries the sender's MAC as
//! source link-layer address unless its source is `::` or `no-sll` is given.
//!
//! A matched frame must be a valid ICMPv6 message of that type (checksum, code 0, hop
//! limit 255, well-formed options: RFC 4861 §6.1/§7.1 receiver checks). `m`/`o` check
//! that the flag is set, `flags=` checks the whole byte (RA) or the exact R/S/O set
//! (NA); `prefix=` checks a prefix information option with that prefix and length;
//! `rdnss=`/`dnssl=` the exact server/domain lists; `no-X` that option X is absent;
//! `options-order=` the option types in order.

use super::ip::{build_icmpv6, parse_icmpv6, IpFields};
use super::{same, EthFields, GUEST_LL, GUEST_MAC};
use crate::fields::{parse_num_list, Fields};
use passt_core::wire::ethernet::MacAddr;
use passt_core::wire::icmpv6;
use passt_core::wire::ndisc::{
    self, DomainList, Ipv6List, NdiscOption, NeighborFlags, PrefixFlags, PrefixInfo, RouterFlags,
};
use std::net::Ipv6Addr;

/// Which NDP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdpKind {
    /// Router Solicitation.
    Rs,
    /// Router Advertisement.
    Ra,
    /// Neighbor Solicitation.
    Ns,
    /// Neighbor Advertisement.
    Na,
}

/// An option expectation: given, or explicitly absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt<T> {
    /// Not named.
    Any,
    /// Must be absent (`no-X`).
    Absent,
    /// Must be this.
    Is(T),
}

impl<T> Opt<T> {
    fn get(&self) -> Option<&T> {
        match self {
            Opt::Is(v) => Some(v),
            _ => None,
        }
    }
}

/// An NDP frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdpSpec {
    /// Message type.
    pub kind: NdpKind,
    /// NS/NA target.
    pub target: Option<Ipv6Addr>,
    /// RA `m` flag named.
    pub managed: bool,
    /// RA `o` flag named.
    pub other: bool,
    /// Whole RA flags byte, or NA R/S/O bits.
    pub flags: Option<u8>,
    /// RA current hop limit.
    pub cur_hop_limit: Option<u8>,
    /// RA router lifetime.
    pub router_lifetime: Option<u16>,
    /// RA reachable time.
    pub reachable: Option<u32>,
    /// RA retransmission timer.
    pub retrans: Option<u32>,
    /// Prefix information: prefix and length.
    pub prefix: Opt<(Ipv6Addr, u8)>,
    /// Prefix flags (`la`).
    pub prefix_flags: Option<u8>,
    /// Prefix valid lifetime.
    pub valid: Option<u32>,
    /// Prefix preferred lifetime.
    pub preferred: Option<u32>,
    /// MTU option.
    pub mtu: Opt<u32>,
    /// RDNSS servers.
    pub rdnss: Opt<Vec<Ipv6Addr>>,
    /// RDNSS lifetime.
    pub rdnss_lifetime: Option<u32>,
    /// DNSSL domains.
    pub dnssl: Opt<Vec<String>>,
    /// DNSSL lifetime.
    pub dnssl_lifetime: Option<u32>,
    /// Source link-layer address option.
    pub sll: Opt<MacAddr>,
    /// Target link-layer address option.
    pub tll: Opt<MacAddr>,
    /// Option types in order.
    pub order: Option<Vec<u8>>,
    /// Ethernet fields.
    pub eth: EthFields,
    /// IP fields.
    pub ip: IpFields,
}

fn u32_field(f: &mut Fields<'_>, key: &str) -> Result<Option<u32>, String> {
    f.num(key)?
        .map(|v| u32::try_from(v).map_err(|_| format!("{key} {v} exceeds 32 bits")))
        .transpose()
}

fn opt<T>(
    f: &mut Fields<'_>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Opt<T>, String> {
    let absent = f.flag(&format!("no-{key}"));
    match (f.raw(key), absent) {
        (Some(_), true) => Err(format!("both {key}= and no-{key}")),
        (Some(v), false) => parse(v).map(Opt::Is),
        (None, true) => Ok(Opt::Absent),
        (None, false) => Ok(Opt::Any),
    }
}

fn letters(s: &str, table: &[(char, u8)], what: &str) -> Result<u8, String> {
    let mut bits = 0;
    for c in s.chars() {
        let (_, b) = table
            .iter()
            .find(|(l, _)| *l == c)
            .ok_or_else(|| format!("unknown {what} flag '{c}'"))?;
        bits |= b;
    }
    Ok(bits)
}

impl NdpSpec {
    /// Parse the tokens after `ndp`.
    pub fn parse(t: &[&str]) -> Result<NdpSpec, String> {
        let (kind, rest) = t.split_first().ok_or("ndp needs rs, ra, ns or na")?;
        let kind = match *kind {
            "rs" => NdpKind::Rs,
            "ra" => NdpKind::Ra,
            "ns" => NdpKind::Ns,
            "na" => NdpKind::Na,
            other => return Err(format!("unknown ndp message '{other}'")),
        };
        let mut f = Fields::new(rest);
        let mac = |v: &str| crate::fields::parse_mac(v).ok_or_else(|| format!("bad MAC '{v}'"));
        let flags = match (kind, f.raw("flags")) {
            (_, None) => None,
            (NdpKind::Na, Some(v)) => {
                Some(letters(v, &[('r', 0x80), ('s', 0x40), ('o', 0x20)], "NA")?)
            }
            (_, Some(v)) => Some(
                crate::fields::parse_num(v)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| format!("bad flags '{v}'"))?,
            ),
        };
        let spec = NdpSpec {
            kind,
            target: f.ipv6("target")?,
            managed: f.flag("m"),
            other: f.flag("o"),
            flags,
            cur_hop_limit: f
                .num("cur-hop-limit")?
                .map(|v| u8::try_from(v).map_err(|_| "cur-hop-limit exceeds 255".to_string()))
                .transpose()?,
            router_lifetime: f
                .num("router-lifetime")?
                .map(|v| u16::try_from(v).map_err(|_| "router-lifetime exceeds 65535".to_string()))
                .transpose()?,
            reachable: u32_field(&mut f, "reachable")?,
            retrans: u32_field(&mut f, "retrans")?,
            prefix: opt(&mut f, "prefix", |v| {
                let (a, l) = v.split_once('/').ok_or("prefix needs /LEN")?;
                let a = a.parse().map_err(|_| format!("bad prefix '{a}'"))?;
                let l = l
                    .parse()
                    .ok()
                    .filter(|l| *l <= 128)
                    .ok_or("bad prefix length")?;
                Ok((a, l))
            })?,
            prefix_flags: f
                .raw("prefix-flags")
                .map(|v| letters(v, &[('l', 0x80), ('a', 0x40)], "prefix"))
                .transpose()?,
            valid: u32_field(&mut f, "valid")?,
            preferred: u32_field(&mut f, "preferred")?,
            mtu: opt(&mut f, "mtu", |v| {
                v.parse().map_err(|_| format!("bad MTU '{v}'"))
            })?,
            rdnss: opt(&mut f, "rdnss", |v| {
                v.split(',')
                    .map(|a| a.parse().map_err(|_| format!("bad IPv6 address '{a}'")))
                    .collect()
            })?,
            rdnss_lifetime: u32_field(&mut f, "rdnss-lifetime")?,
            dnssl: opt(&mut f, "dnssl", |v| {
                Ok(v.split(',').map(str::to_string).collect())
            })?,
            dnssl_lifetime: u32_field(&mut f, "dnssl-lifetime")?,
            sll: opt(&mut f, "sll", mac)?,
            tll: opt(&mut f, "tll", mac)?,
            order: f
                .raw("options-order")
                .map(|v| {
                    parse_num_list(v)
                        .and_then(|l| l.into_iter().map(|c| u8::try_from(c).ok()).collect())
                        .ok_or_else(|| format!("bad options-order '{v}'"))
                })
                .transpose()?,
            eth: EthFields::parse(&mut f)?,
            ip: IpFields::parse(&mut f)?,
        };
        f.finish("ndp")?;
        if matches!(kind, NdpKind::Ns | NdpKind::Na) && spec.target.is_none() {
            return Err("ndp ns/na needs target=".into());
        }
        Ok(spec)
    }

    /// Build the frame, as the guest would send it.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        let src_mac = self.eth.src.unwrap_or(GUEST_MAC);
        let (src, dst) = self.ip.v6_addrs(GUEST_LL, Ipv6Addr::UNSPECIFIED)?;
        let target = self.target.unwrap_or(Ipv6Addr::UNSPECIFIED);
        let default_dst = match self.kind {
            NdpKind::Rs => Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2),
            NdpKind::Ra | NdpKind::Na => Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
            NdpKind::Ns => {
                let t = target.octets();
                Ipv6Addr::from([
                    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15],
                ])
            }
        };
        let dst = if self.ip.dst.is_some() {
            dst
        } else {
            default_dst
        };

        let mut options: Vec<NdiscOption<'_>> = Vec::new();
        let sll = match (&self.sll, self.kind) {
            (Opt::Is(m), _) => Some(*m),
            (Opt::Any, NdpKind::Rs | NdpKind::Ns) if !src.is_unspecified() => Some(src_mac),
            _ => None,
        };
        if let Some(m) = sll {
            options.push(NdiscOption::SourceLinkLayerAddr(m));
        }
        if let Some(m) = self.tll.get() {
            options.push(NdiscOption::TargetLinkLayerAddr(*m));
        }
        if let Some((prefix, prefix_len)) = self.prefix.get() {
            options.push(NdiscOption::PrefixInformation(PrefixInfo {
                prefix_len: *prefix_len,
                flags: PrefixFlags(self.prefix_flags.unwrap_or(0xc0)),
                valid_lifetime: self.valid.unwrap_or(u32::MAX),
                preferred_lifetime: self.preferred.unwrap_or(u32::MAX),
                prefix: *prefix,
            }));
        }
        if let Some(m) = self.mtu.get() {
            options.push(NdiscOption::Mtu(*m));
        }
        let servers: Vec<Ipv6Addr> = self.rdnss.get().cloned().unwrap_or_default();
        if !servers.is_empty() {
            options.push(NdiscOption::Rdnss {
                lifetime: self.rdnss_lifetime.unwrap_or(u32::MAX),
                servers: Ipv6List::Addrs(&servers),
            });
        }
        let names: Vec<&str> = self
            .dnssl
            .get()
            .map(|d| d.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if !names.is_empty() {
            options.push(NdiscOption::Dnssl {
                lifetime: self.dnssl_lifetime.unwrap_or(u32::MAX),
                domains: DomainList::Names(&names),
            });
        }

        let repr = match self.kind {
            NdpKind::Rs => ndisc::Repr::RouterSolicit { options: &[] },
            NdpKind::Ra => ndisc::Repr::RouterAdvert {
                cur_hop_limit: self.cur_hop_limit.unwrap_or(64),
                flags: RouterFlags(
                    self.flags.unwrap_or(0)
                        | if self.managed { 0x80 } else { 0 }
                        | if self.other { 0x40 } else { 0 },
                ),
                router_lifetime: self.router_lifetime.unwrap_or(1800),
                reachable_time: self.reachable.unwrap_or(0),
                retrans_time: self.retrans.unwrap_or(0),
                options: &[],
            },
            NdpKind::Ns => ndisc::Repr::NeighborSolicit {
                target_addr: target,
                options: &[],
            },
            NdpKind::Na => ndisc::Repr::NeighborAdvert {
                flags: NeighborFlags(self.flags.unwrap_or(0)),
                target_addr: target,
                options: &[],
            },
        };
        let mut message = vec![0u8; 1500];
        let len = repr
            .emit_with_options(&src, &dst, &options, &mut message)
            .map_err(|e| format!("cannot build the NDP message: {e:?}"))?;
        message.truncate(len);
        let dst_mac = MacAddr::ipv6_multicast(dst);
        let dst_mac = if dst.is_multicast() {
            dst_mac
        } else {
            MacAddr::PASST_DEFAULT
        };
        let ipf = IpFields {
            src: Some(src.into()),
            dst: Some(dst.into()),
            ttl: self.ip.ttl,
        };
        build_icmpv6(
            &self.eth,
            &ipf,
            (src_mac, dst_mac),
            (src, dst),
            255,
            &message,
        )
    }

    /// Check a frame.
    pub fn check(&self, frame: &[u8]) -> Result<(), String> {
        let (src, dst, message) = parse_icmpv6(frame, &self.eth, &self.ip)?;
        let packet = icmpv6::Packet::new_checked(message).map_err(|e| format!("ICMPv6: {e:?}"))?;
        let repr = ndisc::Repr::parse(&packet)
            .map_err(|e| format!("NDP: {e:?} (ICMPv6 type {:?})", packet.msg_type()))?;
        let hop_limit = frame.get(14 + 7).copied().unwrap_or(0);
        repr.check_ip(&src, &dst, hop_limit)
            .map_err(|_| "NDP: fails the RFC 4861 receiver checks (hop limit 255, addresses)")?;
        let got_kind = match repr {
            ndisc::Repr::RouterSolicit { .. } => NdpKind::Rs,
            ndisc::Repr::RouterAdvert { .. } => NdpKind::Ra,
            ndisc::Repr::NeighborSolicit { .. } => NdpKind::Ns,
            ndisc::Repr::NeighborAdvert { .. } => NdpKind::Na,
        };
        if got_kind != self.kind {
            return Err(format!(
                "NDP message: expected {:?}, got {got_kind:?}",
                self.kind
            ));
        }
        match repr {
            ndisc::Repr::RouterAdvert {
                cur_hop_limit,
                flags,
                router_lifetime,
                reachable_time,
                retrans_time,
                ..
            } => {
                if self.managed && !flags.contains(RouterFlags::MANAGED) {
                    return Err(format!("RA M flag: expected set, flags {:#04x}", flags.0));
                }
                if self.other && !flags.contains(RouterFlags::OTHER) {
                    return Err(format!("RA O flag: expected set, flags {:#04x}", flags.0));
                }
                if let Some(want) = self.flags {
                    same(
                        "RA flags",
                        format!("{want:#04x}"),
                        format!("{:#04x}", flags.0),
                    )?;
                }
                let checks = [
                    (
                        "RA cur hop limit",
                        self.cur_hop_limit.map(u32::from),
                        u32::from(cur_hop_limit),
                    ),
                    (
                        "RA router lifetime",
                        self.router_lifetime.map(u32::from),
                        u32::from(router_lifetime),
                    ),
                    ("RA reachable time", self.reachable, reachable_time),
                    ("RA retrans timer", self.retrans, retrans_time),
                ];
                for (what, want, got) in checks {
                    if let Some(want) = want {
                        same(what, want, got)?;
                    }
                }
            }
            ndisc::Repr::NeighborSolicit { target_addr, .. } => {
                if let Some(t) = self.target {
                    same("NS target", t, target_addr)?;
                }
            }
            ndisc::Repr::NeighborAdvert {
                flags, target_addr, ..
            } => {
                if let Some(t) = self.target {
                    same("NA target", t, target_addr)?;
                }
                if let Some(want) = self.flags {
                    same("NA flags", flag_letters(want), flag_letters(flags.0))?;
                }
            }
            ndisc::Repr::RouterSolicit { .. } => {}
        }
        self.check_options(&repr)
    }

    fn check_options(&self, repr: &ndisc::Repr<'_>) -> Result<(), String> {
        let mut options = Vec::new();
        for o in repr.options() {
            options.push(o.map_err(|e| format!("NDP option: {e:?}"))?);
        }
        if let Some(order) = &self.order {
            let got: Vec<u8> = options.iter().map(NdiscOption::kind).collect();
            if *order != got {
                return Err(format!(
                    "NDP options order: expected {order:?}, got {got:?}"
                ));
            }
        }
        let find = |kind: u8| options.iter().find(|o| o.kind() == kind);
        let absent = |what: &str, kind: u8, want: bool| -> Result<(), String> {
            match (want, find(kind)) {
                (true, Some(o)) => Err(format!("{what} option: expected absent, got {o:?}")),
                _ => Ok(()),
            }
        };
        absent(
            "source link-layer address",
            ndisc::OPT_SOURCE_LLADDR,
            self.sll == Opt::Absent,
        )?;
        absent(
            "target link-layer address",
            ndisc::OPT_TARGET_LLADDR,
            self.tll == Opt::Absent,
        )?;
        absent(
            "prefix information",
            ndisc::OPT_PREFIX_INFO,
            self.prefix == Opt::Absent,
        )?;
        absent("MTU", ndisc::OPT_MTU, self.mtu == Opt::Absent)?;
        absent("RDNSS", ndisc::OPT_RDNSS, self.rdnss == Opt::Absent)?;
        absent("DNSSL", ndisc::OPT_DNSSL, self.dnssl == Opt::Absent)?;

        let missing = |what: &str| format!("{what} option: expected present, got none");
        if let Some(want) = self.sll.get() {
            match find(ndisc::OPT_SOURCE_LLADDR) {
                Some(NdiscOption::SourceLinkLayerAddr(m)) => same("SLLAO", *want, *m)?,
                _ => return Err(missing("source link-layer address")),
            }
        }
        if let Some(want) = self.tll.get() {
            match find(ndisc::OPT_TARGET_LLADDR) {
                Some(NdiscOption::TargetLinkLayerAddr(m)) => same("TLLAO", *want, *m)?,
                _ => return Err(missing("target link-layer address")),
            }
        }
        let pio_named =
            self.prefix_flags.is_some() || self.valid.is_some() || self.preferred.is_some();
        if self.prefix.get().is_some() || pio_named {
            let Some(NdiscOption::PrefixInformation(p)) = find(ndisc::OPT_PREFIX_INFO) else {
                return Err(missing("prefix information"));
            };
            if let Some((prefix, len)) = self.prefix.get() {
                same(
                    "prefix",
                    format!("{prefix}/{len}"),
                    format!("{}/{}", p.prefix, p.prefix_len),
                )?;
            }
            if let Some(want) = self.prefix_flags {
                same(
                    "prefix flags",
                    format!("{want:#04x}"),
                    format!("{:#04x}", p.flags.0),
                )?;
            }
            if let Some(want) = self.valid {
                same("prefix valid lifetime", want, p.valid_lifetime)?;
            }
            if let Some(want) = self.preferred {
                same("prefix preferred lifetime", want, p.preferred_lifetime)?;
            }
        }
        if let Some(want) = self.mtu.get() {
            match find(ndisc::OPT_MTU) {
                Some(NdiscOption::Mtu(m)) => same("MTU option", *want, *m)?,
                _ => return Err(missing("MTU")),
            }
        }
        if self.rdnss.get().is_some() || self.rdnss_lifetime.is_some() {
            let Some(NdiscOption::Rdnss { lifetime, servers }) = find(ndisc::OPT_RDNSS) else {
                return Err(missing("RDNSS"));
            };
            if let Some(want) = self.rdnss.get() {
                let got: Vec<String> = servers.iter().map(|a| a.to_string()).collect();
                let want: Vec<String> = want.iter().map(|a| a.to_string()).collect();
                same("RDNSS servers", want.join(","), got.join(","))?;
            }
            if let Some(want) = self.rdnss_lifetime {
                same("RDNSS lifetime", want, *lifetime)?;
            }
        }
        if self.dnssl.get().is_some() || self.dnssl_lifetime.is_some() {
            let Some(NdiscOption::Dnssl { lifetime, domains }) = find(ndisc::OPT_DNSSL) else {
                return Err(missing("DNSSL"));
            };
            if let Some(want) = self.dnssl.get() {
                let got: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
                same("DNSSL domains", want.join(","), got.join(","))?;
            }
            if let Some(want) = self.dnssl_lifetime {
                same("DNSSL lifetime", want, *lifetime)?;
            }
        }
        Ok(())
    }
}

/// `rso`-style letters for NA flag bits.
fn flag_letters(bits: u8) -> String {
    let mut s = String::new();
    for (c, b) in [('r', 0x80), ('s', 0x40), ('o', 0x20)] {
        if bits & b != 0 {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> Result<NdpSpec, String> {
        NdpSpec::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn rs_like_linux() {
        // A Linux RS: from the link-local address to ff02::2, hop limit 255, with the
        // source link-layer address option: 8 + 8 bytes of ICMPv6.
        let f = spec("rs").unwrap().build().unwrap();
        assert_eq!(f.len(), 14 + 40 + 16);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 2]);
        assert_eq!(f[14 + 7], 255);
        let m = spec("rs sll=52:54:00:12:34:56 dst=ff02::2 options-order=1").unwrap();
        assert!(m.check(&f).is_ok(), "{:?}", m.check(&f));
        assert!(spec("rs no-sll")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("absent"));
        assert!(spec("ra")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("expected Ra"));
    }

    #[test]
    fn ra_fields_round_trip() {
        let s = spec(
            "ra m prefix=2001:db8::2/64 prefix-flags=la mtu=65520 rdnss=2001:db8::53 \
             dnssl=example.com sll=9a:55:9a:55:9a:55 router-lifetime=65535 src=fe80::1",
        )
        .unwrap();
        let f = s.build().unwrap();
        assert!(s.check(&f).is_ok(), "{:?}", s.check(&f));
        let order =
            spec("ra options-order=1,3,5,25,31 valid=4294967295 preferred=4294967295").unwrap();
        assert!(order.check(&f).is_ok(), "{:?}", order.check(&f));
        assert_eq!(
            spec("ra mtu=1500").unwrap().check(&f).unwrap_err(),
            "MTU option: expected 1500, got 65520"
        );
        assert!(spec("ra no-rdnss").unwrap().check(&f).is_err());
        assert!(spec("ra o")
            .unwrap()
            .check(&f)
            .unwrap_err()
            .contains("O flag"));
        assert!(spec("ra dnssl=example.org").unwrap().check(&f).is_err());
    }

    #[test]
    fn ns_and_na() {
        let ns = spec("ns target=fe80::1").unwrap().build().unwrap();
        assert_eq!(
            &ns[0..6],
            &[0x33, 0x33, 0xff, 0, 0, 1],
            "solicited-node group"
        );
        assert!(spec("ns target=fe80::1 sll=52:54:00:12:34:56")
            .unwrap()
            .check(&ns)
            .is_ok());
        let dad = spec("ns target=2001:db8::2 src=::").unwrap();
        let f = dad.build().unwrap();
        assert!(spec("ns target=2001:db8::2 no-sll src=::")
            .unwrap()
            .check(&f)
            .is_ok());

        let na =
            spec("na target=fe80::1 flags=so tll=9a:55:9a:55:9a:55 dst=fe80::5054:ff:fe12:3456")
                .unwrap();
        let f = na.build().unwrap();
        assert!(na.check(&f).is_ok(), "{:?}", na.check(&f));
        assert_eq!(
            spec("na target=fe80::1 flags=rso")
                .unwrap()
                .check(&f)
                .unwrap_err(),
            "NA flags: expected rso, got so"
        );
        assert!(spec("na").unwrap_err().contains("target="));
        assert!(spec("na target=fe80::1 flags=x")
            .unwrap_err()
            .contains("'x'"));
        assert!(spec("rx").unwrap_err().contains("'rx'"));
    }
}
