//! The `config` lines at the top of a script, mapped onto [`passt_core::Config`].
//!
//! ```text
//! config mode=passt ipv4=198.51.100.2/24 gw=198.51.100.1
//! config ipv6=2001:db8::2/64 gw6=fe80::1 ll6=fe80::1
//! config dns=198.51.100.53,2001:db8::53 search=example.com mtu=65520 seed=7
//! config mac=9a:55:9a:55:9a:55 no-dhcp no-ndp no-ra no-dhcpv6 dhcp-dns dhcp-search
//! config duid-time=1234
//! ```
//! Starts from `Config::new(mode)` (so passt's defaults hold for anything left out) and
//! applies the keys in any order, over as many `config` lines as convenient:
//! - `mode=passt|pasta` (default passt); `seed=N`; `duid-time=N`; `mac=MAC` (ours).
//! - `ipv4=ADDR/LEN` with `gw=ADDR`; `ipv6=ADDR/LEN` with `gw6=ADDR` and `ll6=ADDR` (our
//!   link-local; defaults to `gw6` when that is link-local).
//! - `dns=LIST` (both families, comma-separated); `search=LIST`.
//! - `mtu=N` (`mtu=0`: don't advertise).
//! - `no-dhcp`, `no-ndp` (implies `no-ra`), `no-ra`, `no-dhcpv6`.
//! - `dhcp-dns`/`no-dhcp-dns`, `dhcp-search`/`no-dhcp-search`: advertise DNS servers /
//!   search domains (the defaults depend on the mode, as in passt).

use crate::fields::{parse_ip_list, Fields};
use passt_core::config::{Domain, Ipv4Config, Ipv6Config};
use passt_core::{Config, Mode};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Build a [`Config`] from the tokens of every `config` line (without the word
/// `config`). Errors name the offending key.
pub fn parse_config(tokens: &[&str]) -> Result<Config, String> {
    let mut f = Fields::new(tokens);
    let mode = match f.raw("mode") {
        None | Some("passt") => Mode::Passt,
        Some("pasta") => Mode::Pasta,
        Some(other) => return Err(format!("unknown mode '{other}' (passt or pasta)")),
    };
    let mut c = Config::new(mode);
    if let Some(seed) = f.num("seed")? {
        c.seed = seed;
    }
    if let Some(t) = f.num("duid-time")? {
        c.duid_time = u32::try_from(t).map_err(|_| format!("duid-time {t} exceeds 32 bits"))?;
    }
    if let Some(mac) = f.mac("mac")? {
        c.our_mac = mac;
    }
    if let Some(mtu) = f.num("mtu")? {
        c.mtu = match mtu {
            0 => None,
            m => Some(u16::try_from(m).map_err(|_| format!("mtu {m} exceeds 65535"))?),
        };
    }

    let gw = f.ipv4("gw")?;
    match f.raw("ipv4") {
        Some(v) => {
            let (addr, prefix_len) = split_prefix::<Ipv4Addr>(v, 32)?;
            let gateway = gw.ok_or("ipv4= needs gw=")?;
            c.ipv4 = Some(Ipv4Config {
                addr,
                prefix_len,
                gateway,
            });
        }
        None if gw.is_some() => return Err("gw= without ipv4=".into()),
        None => {}
    }

    let gw6 = f.ipv6("gw6")?;
    let ll6 = f.ipv6("ll6")?;
    match f.raw("ipv6") {
        Some(v) => {
            let (addr, prefix_len) = split_prefix::<Ipv6Addr>(v, 128)?;
            let gateway = gw6.ok_or("ipv6= needs gw6=")?;
            let our_link_local = match ll6 {
                Some(ll) => ll,
                None if gateway.is_unicast_link_local() => gateway,
                None => return Err("ipv6= with a global gw6= needs ll6=".into()),
            };
            c.ipv6 = Some(Ipv6Config {
                addr,
                prefix_len,
                gateway,
                our_link_local,
            });
        }
        None if gw6.is_some() || ll6.is_some() => {
            return Err("gw6=/ll6= without ipv6=".into());
        }
        None => {}
    }

    if let Some(v) = f.raw("dns") {
        let list = parse_ip_list(v).ok_or_else(|| format!("bad address list '{v}' for dns"))?;
        for a in list {
            let full = match a {
                IpAddr::V4(a) => c.dns.servers_v4.push(a).is_err(),
                IpAddr::V6(a) => c.dns.servers_v6.push(a).is_err(),
            };
            if full {
                return Err(format!(
                    "more than {} DNS servers of one family",
                    passt_core::config::MAX_DNS_SERVERS
                ));
            }
        }
    }
    if let Some(v) = f.raw("search") {
        for d in v.split(',') {
            let domain = Domain::try_from(d).map_err(|_| format!("search domain too long: {d}"))?;
            c.dns
                .search
                .push(domain)
                .map_err(|_| "too many search domains".to_string())?;
        }
    }

    if f.flag("no-dhcp") {
        c.services.dhcp = false;
    }
    if f.flag("no-ndp") {
        c.services.ndp = false;
        c.services.ra = false;
    }
    if f.flag("no-ra") {
        c.services.ra = false;
    }
    if f.flag("no-dhcpv6") {
        c.services.dhcpv6 = false;
    }
    if f.flag("dhcp-dns") {
        c.dns.advertise_servers = true;
    }
    if f.flag("no-dhcp-dns") {
        c.dns.advertise_servers = false;
    }
    if f.flag("dhcp-search") {
        c.dns.advertise_search = true;
    }
    if f.flag("no-dhcp-search") {
        c.dns.advertise_search = false;
    }
    f.finish("config")?;
    c.validate()
        .map_err(|e| format!("invalid configuration: {e:?}"))?;
    Ok(c)
}

fn split_prefix<A: std::str::FromStr>(v: &str, max: u8) -> Result<(A, u8), String> {
    let (a, len) = v
        .split_once('/')
        .ok_or_else(|| format!("'{v}' needs a /prefix-length"))?;
    let addr = a.parse().map_err(|_| format!("bad address '{a}'"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|l| *l <= max)
        .ok_or_else(|| format!("bad prefix length '{len}'"))?;
    Ok((addr, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, String> {
        parse_config(&s.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn full_example() {
        let c = parse(
            "mode=pasta ipv4=198.51.100.2/24 gw=198.51.100.1 ipv6=2001:db8::2/64 gw6=fe80::1 \
             dns=198.51.100.53,2001:db8::53 search=example.com,example.org mtu=1500 seed=9 \
             mac=9a:55:9a:55:9a:56 no-dhcpv6 dhcp-dns duid-time=77",
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Pasta);
        let v4 = c.ipv4.unwrap();
        assert_eq!(v4.addr, Ipv4Addr::new(198, 51, 100, 2));
        assert_eq!(
            (v4.prefix_len, v4.gateway),
            (24, Ipv4Addr::new(198, 51, 100, 1))
        );
        let v6 = c.ipv6.unwrap();
        assert_eq!(v6.our_link_local, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c.dns.servers_v4.len(), 1);
        assert_eq!(c.dns.servers_v6.len(), 1);
        assert_eq!(c.dns.search.len(), 2);
        assert!(c.dns.advertise_servers && !c.dns.advertise_search);
        assert_eq!((c.mtu, c.seed, c.duid_time), (Some(1500), 9, 77));
        assert!(!c.services.dhcpv6 && c.services.dhcp);
        assert_eq!(c.our_mac.0[5], 0x56);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse("ipv4=198.51.100.2/24").unwrap_err().contains("gw="));
        assert!(parse("ipv4=198.51.100.2 gw=198.51.100.1")
            .unwrap_err()
            .contains("prefix"));
        assert!(parse("mode=qemu").unwrap_err().contains("qemu"));
        assert!(parse("ipv4=198.51.100.2/24 gw=198.51.100.1 colour=blue")
            .unwrap_err()
            .contains("'colour'"));
        assert!(parse("seed=1").unwrap_err().contains("NoAddressFamily"));
        let c = parse("ipv4=198.51.100.2/24 gw=198.51.100.1 mtu=0 no-ndp").unwrap();
        assert_eq!(c.mtu, None);
        assert!(!c.services.ra && !c.services.ndp);
    }
}
