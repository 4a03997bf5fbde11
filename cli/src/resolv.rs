//! Reading the host's resolver configuration (`/etc/resolv.conf`): name servers and
//! search domains, which the guest is told about (passt-reference §1.2, §5.2).

use std::net::IpAddr;

/// What resolv.conf says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolv {
    /// `nameserver` lines, in order (a `%zone` suffix stripped).
    pub nameservers: Vec<IpAddr>,
    /// The last `search` (or `domain`) line's domains.
    pub search: Vec<String>,
}

/// Parse resolv.conf text; unknown lines and malformed addresses are skipped.
pub fn parse(text: &str) -> Resolv {
    let mut r = Resolv::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(a) = words.next().and_then(|w| w.split('%').next()?.parse().ok()) {
                    r.nameservers.push(a);
                }
            }
            Some("search") | Some("domain") => {
                r.search = words
                    .map(|w| w.trim_end_matches('.').to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
            }
            _ => {}
        }
    }
    r
}

/// Read `/etc/resolv.conf`; a missing file means no servers and no search list.
pub fn read_host() -> Resolv {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|t| parse(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_zones_search_and_comments() {
        let r = parse(
            "# generated\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\n\
             search example.com. lab.example  # trailing\noptions edns0\n",
        );
        assert_eq!(
            r.nameservers,
            vec![
                "127.0.0.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
        assert_eq!(r.search, vec!["example.com", "lab.example"]);
        assert_eq!(parse(""), Resolv::default());
    }
}
