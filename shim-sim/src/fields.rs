//! `key=value` and bare-flag arguments of a script line, with typed accessors and a
//! check that nothing was left unread (so a typo is an error, not a silent no-op).

use passt_core::wire::ethernet::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The arguments of one line.
#[derive(Debug)]
pub struct Fields<'a> {
    items: Vec<(&'a str, Option<&'a str>)>,
    used: Vec<bool>,
}

impl<'a> Fields<'a> {
    /// Split `tokens` into `key=value` pairs and bare flags.
    pub fn new(tokens: &[&'a str]) -> Fields<'a> {
        let items: Vec<_> = tokens
            .iter()
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (*t, None),
            })
            .collect();
        let used = vec![false; items.len()];
        Fields { items, used }
    }

    /// The raw value of `key=value`, marking it read.
    pub fn raw(&mut self, key: &str) -> Option<&'a str> {
        let mut found = None;
        for (i, (k, v)) in self.items.iter().enumerate() {
            if *k == key && v.is_some() {
                self.used[i] = true;
                found = *v;
            }
        }
        found
    }

    /// Whether the bare flag `key` is present.
    pub fn flag(&mut self, key: &str) -> bool {
        let mut found = false;
        for (i, (k, v)) in self.items.iter().enumerate() {
            if *k == key && v.is_none() {
                self.used[i] = true;
                found = true;
            }
        }
        found
    }

    /// The value of `key`, parsed with `FromStr`.
    pub fn get<T: FromStr>(&mut self, key: &str) -> Result<Option<T>, String> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("bad value '{v}' for {key}")),
        }
    }

    /// A number, in decimal or `0x` hex.
    pub fn num(&mut self, key: &str) -> Result<Option<u64>, String> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_num(v)
                .map(Some)
                .ok_or_else(|| format!("bad number '{v}' for {key}")),
        }
    }

    /// A MAC address.
    pub fn mac(&mut self, key: &str) -> Result<Option<MacAddr>, String> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => parse_mac(v)
                .map(Some)
                .ok_or_else(|| format!("bad MAC '{v}' for {key}")),
        }
    }

    /// An IPv4 address.
    pub fn ipv4(&mut self, key: &str) -> Result<Option<Ipv4Addr>, String> {
        self.get(key)
    }

    /// An IPv6 address.
    pub fn ipv6(&mut self, key: &str) -> Result<Option<Ipv6Addr>, String> {
        self.get(key)
    }

    /// A hex byte string.
    pub fn hex(&mut self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => crate::hex::decode(v)
                .map(Some)
                .map_err(|e| format!("bad hex for {key}: {e}")),
        }
    }

    /// Fields matching `pred` on their key that were not read yet, as `(key, value)`,
    /// marking them read.
    pub fn take_matching(
        &mut self,
        pred: impl Fn(&str) -> bool,
    ) -> Vec<(&'a str, Option<&'a str>)> {
        let mut out = Vec::new();
        for (i, (k, v)) in self.items.iter().enumerate() {
            if !self.used[i] && pred(k) {
                self.used[i] = true;
                out.push((*k, *v));
            }
        }
        out
    }

    /// Fail on the first argument nobody read.
    pub fn finish(&self, what: &str) -> Result<(), String> {
        match self.items.iter().zip(&self.used).find(|(_, u)| !**u) {
            Some(((k, _), _)) => Err(format!("unknown field '{k}' for {what}")),
            None => Ok(()),
        }
    }
}

/// A number in decimal or `0x` hex.
pub fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(mac))
}

/// A comma-separated list of addresses of either family.
pub fn parse_ip_list(s: &str) -> Option<Vec<IpAddr>> {
    s.split(',').map(|a| a.parse().ok()).collect()
}

/// A comma-separated list of numbers.
pub fn parse_num_list(s: &str) -> Option<Vec<u64>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',').map(parse_num).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_typed_and_leftovers_reported() {
        let mut f = Fields::new(&["xid=0x10", "mac=52:54:00:12:34:56", "broadcast", "xd=1"]);
        assert_eq!(f.num("xid").unwrap(), Some(16));
        assert_eq!(
            f.mac("mac").unwrap(),
            Some(MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]))
        );
        assert!(f.flag("broadcast"));
        assert!(!f.flag("rapid-commit"));
        assert_eq!(f.finish("dhcp").unwrap_err(), "unknown field 'xd' for dhcp");
        assert!(Fields::new(&["mac=1:2"]).mac("mac").is_err());
        assert_eq!(parse_mac("52:54:00:12:34:56:00"), None);
        assert_eq!(parse_num_list("1,3,0x06"), Some(vec![1, 3, 6]));
        assert_eq!(
            parse_ip_list("198.51.100.1,2001:db8::1").map(|v| v.len()),
            Some(2)
        );
    }
}
