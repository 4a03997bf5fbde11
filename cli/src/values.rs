//! Parsers for option arguments: numbers, addresses, MACs, names, paths.
//!
//! Each returns the value or a short reason; [`crate::options`] wraps the reason into a
//! [`crate::CliError`] naming the option. Numbers are strictly decimal digits (no sign,
//! no blanks, no `0x`), so `-m +1500` or `-m ' 1500'` are refused rather than guessed.

use passt_core::config::{MAX_DOMAIN_LEN, MIN_MTU};
use passt_core::fwd::{spec, IfName};
use passt_core::wire::ethernet::MacAddr;
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// A parse failure: why the argument was refused.
pub type Reason = &'static str;

/// Longest UNIX socket path (`sizeof(sun_path)` − 1 for the terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;
/// Smallest `--log-size` (passt-reference §1.2: 5 × max(BUFSIZ, PAGE_SIZE)).
pub const MIN_LOG_SIZE: u64 = 40960;
/// Longest `--hostname` (Linux `HOST_NAME_MAX`).
pub const MAX_HOSTNAME: usize = 64;

/// The argument as UTF-8 text.
pub fn text(v: &OsStr) -> Result<&str, Reason> {
    v.to_str().ok_or("not valid UTF-8")
}

/// A decimal number made of ASCII digits only.
pub fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// `-m`: 0 (don't advertise: `None`) or 68..=65535.
pub fn mtu(s: &str) -> Result<Option<u16>, Reason> {
    const WHY: Reason = "must be 0 (don't advertise) or 68 to 65535";
    match decimal(s).ok_or(WHY)? {
        0 => Ok(None),
        n => u16::try_from(n)
            .ok()
            .filter(|&m| m >= MIN_MTU)
            .map(Some)
            .ok_or(WHY),
    }
}

/// `-n`: a dotted IPv4 netmask (contiguous ones) or a prefix length 0..=32.
pub fn prefix_len_v4(s: &str) -> Result<u8, Reason> {
    if s.contains('.') {
        let mask = u32::from(s.parse::<Ipv4Addr>().map_err(|_| "not a netmask")?);
        let ones = mask.leading_ones();
        // Contiguous: every bit after the leading ones is zero.
        if mask.checked_shl(ones).unwrap_or(0) != 0 {
            return Err("netmask bits are not contiguous");
        }
        return u8::try_from(ones).map_err(|_| "not a netmask");
    }
    decimal(s)
        .filter(|&n| n <= 32)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or("must be a dotted netmask or a prefix length from 0 to 32")
}

/// A MAC address `aa:bb:cc:dd:ee:ff` (one or two hex digits per group).
pub fn mac(s: &str) -> Result<MacAddr, Reason> {
    const WHY: Reason = "not a MAC address like 9a:55:9a:55:9a:55";
    let mut out = [0u8; 6];
    let mut groups = s.split(':');
    for byte in &mut out {
        let g = groups.next().ok_or(WHY)?;
        if g.is_empty() || g.len() > 2 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WHY);
        }
        *byte = u8::from_str_radix(g, 16).map_err(|_| WHY)?;
    }
    if groups.next().is_some() {
        return Err(WHY);
    }
    Ok(MacAddr(out))
}

/// A MAC usable as a link's own address: neither multicast nor all zeroes.
pub fn unicast_mac(s: &str) -> Result<MacAddr, Reason> {
    let m = mac(s)?;
    if !m.is_unicast() {
        return Err("must be a unicast address");
    }
    Ok(m)
}

/// What an address option's value will be used for; decides which addresses make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrUse {
    /// `-a`: handed to the guest as its own address.
    Guest,
    /// `-g`, `-o`, `--dns-forward`, `--map-host-loopback`, `--map-guest-addr`: an
    /// address on the link or the outbound path; loopback is meaningless there.
    Link,
    /// `-D`, `--dns-host`: a server the host reaches (its loopback resolver included).
    Server,
}

/// An IPv4 or IPv6 address fit for `usage`. IPv4-mapped IPv6 addresses are refused
/// everywhere (give the IPv4 form); unspecified, multicast and the IPv4 broadcast
/// address too.
pub fn ip(s: &str, usage: AddrUse) -> Result<IpAddr, Reason> {
    let a: IpAddr = s.parse().map_err(|_| "not an IPv4 or IPv6 address")?;
    if a.is_unspecified() {
        return Err("unspecified address");
    }
    if a.is_multicast() {
        return Err("multicast address");
    }
    let loopback = a.is_loopback();
    match a {
        IpAddr::V4(v4) if v4.is_broadcast() => return Err("broadcast address"),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            return Err("IPv4-mapped IPv6 address (give the IPv4 form)")
        }
        IpAddr::V6(v6) if usage == AddrUse::Guest && is_v4_compatible(v6) => {
            return Err("IPv4-compatible IPv6 address")
        }
        _ => {}
    }
    if loopback && usage != AddrUse::Server {
        return Err("loopback address");
    }
    Ok(a)
}

/// `::a.b.c.d` (RFC 4291 §2.5.5.1, deprecated), excluding `::` and `::1`.
fn is_v4_compatible(a: Ipv6Addr) -> bool {
    let o = a.octets();
    o[..12].iter().all(|&b| b == 0) && u32::from_be_bytes([o[12], o[13], o[14], o[15]]) > 1
}

/// A network interface name (Linux rules, at most 15 bytes).
pub fn ifname(s: &str) -> Result<IfName, Reason> {
    spec::parse_ifname(s).map_err(|_| "not a valid interface name (1 to 15 characters)")
}

/// A DNS domain name (RFC 1035 §2.3.4: labels of 1 to 63 octets, at most 253 in all,
/// one trailing dot allowed). Letters, digits, `-` and `_` only.
pub fn domain(s: &str) -> Result<String, Reason> {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
        return Err("domain name must have 1 to 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("domain labels must have 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("domain names hold letters, digits, '-' and '_' only");
        }
    }
    Ok(name.to_owned())
}

/// `-H`: a host name of at most [`MAX_HOSTNAME`] characters.
pub fn hostname(s: &str) -> Result<String, Reason> {
    if s.len() > MAX_HOSTNAME {
        return Err("host name longer than 64 characters");
    }
    domain(s)
}

/// A user or group, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    /// A numeric UID or GID.
    Num(u32),
    /// A login or group name, looked up at run time.
    Name(String),
}

/// `--runas UID[:GID]` or `LOGIN[:GROUP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The user.
    pub user: Id,
    /// The group; default: the user's primary group.
    pub group: Option<Id>,
}

/// `--runas UID[:GID]` / `LOGIN[:GROUP]`.
pub fn runas(s: &str) -> Result<RunAs, Reason> {
    fn id(s: &str) -> Result<Id, Reason> {
        if s.is_empty() {
            return Err("empty user or group");
        }
        // Numbers as strtol(s, 0) reads them, like passt: 0x… hexadecimal, 0… octal.
        let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"));
        let number = match hex {
            Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(u64::from_str_radix(h, 16).ok())
            }
            _ if s.len() > 1
                && s.starts_with('0')
                && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) =>
            {
                Some(u64::from_str_radix(s, 8).ok())
            }
            _ if s.bytes().all(|b| b.is_ascii_digit()) => Some(decimal(s)),
            _ => None,
        };
        if let Some(n) = number {
            let n = n.and_then(|n| u32::try_from(n).ok());
            return n.map(Id::Num).ok_or("user or group ID out of range");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("user and group names hold no blanks");
        }
        Ok(Id::Name(s.to_owned()))
    }
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    Ok(RunAs {
        user: id(user)?,
        group: group.map(id).transpose()?,
    })
}

/// `--log-size`: bytes, at least [`MIN_LOG_SIZE`].
pub fn log_size(s: &str) -> Result<u64, Reason> {
    match decimal(s) {
        Some(n) if n >= MIN_LOG_SIZE => Ok(n),
        Some(_) => Err("must be at least 40960 bytes"),
        None => Err("not a number of bytes"),
    }
}

/// `-F`: a file descriptor number above 2 (0, 1 and 2 are stdio).
pub fn fd(s: &str) -> Result<i32, Reason> {
    decimal(s)
        .and_then(|n| i32::try_from(n).ok())
        .filter(|&n| n > 2)
        .ok_or("must be a file descriptor number above 2")
}

/// A process ID: digits, at least 1, and within `pid_t`.
pub fn pid(s: &str) -> Option<u32> {
    decimal(s)
        .and_then(|n| i32::try_from(n).ok())
        .filter(|&n| n > 0)
        .and_then(|n| u32::try_from(n).ok())
}

/// A file path: anything but empty.
pub fn path(v: &OsStr) -> Result<PathBuf, Reason> {
    if v.is_empty() {
        return Err("empty path");
    }
    Ok(PathBuf::from(v))
}

/// A UNIX socket path: non-empty and short enough for `sun_path`.
pub fn socket_path(v: &OsStr) -> Result<PathBuf, Reason> {
    if v.len() > MAX_SOCKET_PATH {
        return Err("longer than a UNIX socket path may be (107 bytes)");
    }
    path(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_are_strict() {
        assert_eq!(decimal("0042"), Some(42));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x10",
            "1e3",
            "18446744073709551616",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        assert_eq!(decimal("18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn mtu_values() {
        assert_eq!(mtu("0"), Ok(None));
        assert_eq!(mtu("68"), Ok(Some(68)));
        assert_eq!(mtu("65520"), Ok(Some(65520)));
        assert_eq!(mtu("65535"), Ok(Some(65535)));
        for bad in ["50", "67", "65536", "1500x", ""] {
            assert!(mtu(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn netmask_as_bits_or_dotted() {
        assert_eq!(prefix_len_v4("24"), Ok(24));
        assert_eq!(prefix_len_v4("0"), Ok(0));
        assert_eq!(prefix_len_v4("32"), Ok(32));
        assert_eq!(prefix_len_v4("255.255.255.0"), Ok(24));
        assert_eq!(prefix_len_v4("255.255.240.0"), Ok(20));
        assert_eq!(prefix_len_v4("255.255.255.255"), Ok(32));
        assert_eq!(prefix_len_v4("0.0.0.0"), Ok(0));
        assert!(prefix_len_v4("33").is_err());
        assert!(prefix_len_v4("255.0.255.0").is_err());
        assert!(prefix_len_v4("255.255.256.0").is_err());
    }

    #[test]
    fn macs() {
        assert_eq!(
            mac("9a:55:9a:55:9a:55"),
            Ok(MacAddr([0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55]))
        );
        assert_eq!(mac("2:0:0:0:0:a"), Ok(MacAddr([2, 0, 0, 0, 0, 0x0a])));
        for bad in [
            "",
            "9a:55:9a:55:9a",
            "9a:55:9a:55:9a:55:00",
            "9a-55-9a-55-9a-55",
            "9a:55:9a:55:9a:555",
            "9a:55:9a:55:9a:5g",
            "9a:55:9a:55::55",
        ] {
            assert!(mac(bad).is_err(), "{bad:?}");
        }
        assert!(unicast_mac("01:00:5e:00:00:01").is_err());
        assert!(unicast_mac("00:00:00:00:00:00").is_err());
        assert!(unicast_mac("02:00:00:00:00:01").is_ok());
    }

    #[test]
    fn addresses_by_use() {
        assert_eq!(
            ip("10.0.2.100", AddrUse::Guest),
            Ok("10.0.2.100".parse().unwrap())
        );
        assert!(ip("2001:db8::2", AddrUse::Guest).is_ok());
        assert_eq!(ip("127.0.0.1", AddrUse::Guest), Err("loopback address"));
        assert_eq!(ip("::1", AddrUse::Link), Err("loopback address"));
        assert!(ip("127.0.0.53", AddrUse::Server).is_ok());
        assert_eq!(ip("0.0.0.0", AddrUse::Server), Err("unspecified address"));
        assert_eq!(ip("224.0.0.1", AddrUse::Link), Err("multicast address"));
        assert_eq!(
            ip("255.255.255.255", AddrUse::Link),
            Err("broadcast address")
        );
        assert!(ip("::ffff:192.0.2.1", AddrUse::Server).is_err());
        assert!(ip("::192.0.2.1", AddrUse::Guest).is_err());
        assert!(ip("1.2.3", AddrUse::Link).is_err());
        assert!(ip("[::1]", AddrUse::Server).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(domain("example.org."), Ok("example.org".to_owned()));
        assert!(domain("a..b").is_err());
        assert!(domain("a b").is_err());
        assert!(domain(&"a".repeat(64)).is_err());
        assert!(hostname(&"a".repeat(65)).is_err());
        assert!(hostname("vm-1").is_ok());
        assert_eq!(ifname("tap0").as_deref(), Ok("tap0"));
        assert!(ifname("averyveryverylongname").is_err());
    }

    #[test]
    fn runas_forms() {
        assert_eq!(
            runas("1000:100"),
            Ok(RunAs {
                user: Id::Num(1000),
                group: Some(Id::Num(100))
            })
        );
        assert_eq!(
            runas("nobody"),
            Ok(RunAs {
                user: Id::Name("nobody".into()),
                group: None
            })
        );
        assert!(runas("").is_err());
        assert!(runas("a:").is_err());
        assert!(runas("4294967296").is_err());
        assert!(runas("0x100000000").is_err());
        assert_eq!(runas("0x3e8").map(|r| r.user), Ok(Id::Num(1000)));
        assert_eq!(runas("010").map(|r| r.user), Ok(Id::Num(8)));
        assert_eq!(runas("0").map(|r| r.user), Ok(Id::Num(0)));
    }

    #[test]
    fn small_numbers_and_paths() {
        assert_eq!(log_size("40960"), Ok(40960));
        assert!(log_size("40959").is_err());
        assert_eq!(fd("3"), Ok(3));
        assert!(fd("2").is_err());
        assert!(fd("2147483648").is_err());
        assert_eq!(pid("1"), Some(1));
        assert_eq!(pid("0"), None);
        assert_eq!(pid("2147483648"), None);
        assert!(path(OsStr::new("")).is_err());
        assert!(socket_path(OsStr::new(&"x".repeat(107))).is_ok());
        assert!(socket_path(OsStr::new(&"x".repeat(108))).is_err());
    }

    proptest! {
        #[test]
        fn value_parsers_never_panic(s in "\\PC{0,40}") {
            let _ = decimal(&s);
            let _ = mtu(&s);
            let _ = prefix_len_v4(&s);
            let _ = mac(&s);
            let _ = ip(&s, AddrUse::Guest);
            let _ = domain(&s);
            let _ = runas(&s);
            let _ = ifname(&s);
        }

        #[test]
        fn mac_round_trips(b in any::<[u8; 6]>()) {
            prop_assert_eq!(mac(&MacAddr(b).to_string()), Ok(MacAddr(b)));
        }

        #[test]
        fn dotted_masks_match_prefixes(bits in 0u32..=32) {
            let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - bits).unwrap_or(0));
            prop_assert_eq!(prefix_len_v4(&mask.to_string()), Ok(bits as u8));
        }
    }
}
