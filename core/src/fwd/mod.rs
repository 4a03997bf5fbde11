//! Forwarding rules and address translation between the guest's view and the host's.
//!
//! - [`PortForwards`]: which host ports are forwarded into the guest (`-t`, `-u`) or out
//!   of it (`-T`, `-U`), as ranges with a port delta (`-t 8084:9084`), an optional bind
//!   address and interface.
//! - [`Nat`]: the address mapping of passt-reference §5. The guest shares the host's
//!   addresses, so the host itself is reached through stand-ins: the gateway address
//!   (`--map-host-loopback`) means the host's loopback, and `--map-guest-addr` means the
//!   host's own address. Our link-local address, the router our advertisements
//!   announce, means the host's loopback as the gateway does.

pub mod portset;
pub mod runtime;
pub mod spec;

pub use portset::PortSet;

use crate::config::Config;
use crate::engine::GuestState;
use crate::io::{Family, Namespace};
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Most port ranges per direction and protocol (an exclusion splits a range in two).
pub const MAX_PORT_RANGES: usize = 128;
/// Longest interface name (IFNAMSIZ − 1).
pub const MAX_IFNAME: usize = 15;

/// An interface name for `%IFNAME` binds.
pub type IfName = heapless::String<MAX_IFNAME>;

/// One contiguous range of forwarded ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRange {
    /// First port (inclusive).
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
    /// Added (mod 2^16) to a forwarded port to get the destination port.
    pub delta: u16,
    /// Bind the listening socket to this address only.
    pub bind_addr: Option<IpAddr>,
    /// Bind the listening socket to this interface only (`SO_BINDTODEVICE`).
    pub bind_iface: Option<IfName>,
}

impl PortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    /// Destination port for `port` (which must be in the range).
    pub fn map(&self, port: u16) -> u16 {
        port.wrapping_add(self.delta)
    }

    /// A slot left by a range removed at run time: it contains no port, so nothing
    /// binds or matches it, and the indices of the ranges after it (which name their
    /// listening sockets) stay valid.
    pub const VACANT: PortRange = PortRange {
        first: 1,
        last: 0,
        delta: 0,
        bind_addr: None,
        bind_iface: None,
    };

    /// Whether this is a [`PortRange::VACANT`] slot.
    pub fn is_vacant(&self) -> bool {
        self.first > self.last
    }

    /// Whether `self` and `other` forward a common port on addresses that would
    /// collide (either one a wildcard, or the same address).
    pub fn overlaps(&self, other: &PortRange) -> bool {
        let ports = self.first <= other.last && other.first <= self.last;
        let addrs = match (self.bind_addr, other.bind_addr) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        !self.is_vacant() && !other.is_vacant() && ports && addrs
    }
}

/// The forwarded ports of one direction and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortForwards {
    /// Ranges, in the order given; a port appears in at most one.
    pub ranges: heapless::Vec<PortRange, MAX_PORT_RANGES>,
}

impl PortForwards {
    /// The range forwarding `port`, if any.
    pub fn find(&self, port: u16) -> Option<(usize, &PortRange)> {
        self.ranges
            .iter()
            .enumerate()
            .find(|(_, r)| r.contains(port))
    }

    /// Whether nothing is forwarded.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(PortRange::is_vacant)
    }

    /// Store `range` in the first vacant slot, or at the end; its index, or `None`
    /// when the table is full.
    pub fn place(&mut self, range: PortRange) -> Option<usize> {
        match self.ranges.iter().position(PortRange::is_vacant) {
            Some(i) => {
                self.ranges[i] = range;
                Some(i)
            }
            None => {
                self.ranges.push(range).ok()?;
                Some(self.ranges.len() - 1)
            }
        }
    }

    /// The index of a live range equal to `range` (ports, delta, address, interface).
    pub fn position(&self, range: &PortRange) -> Option<usize> {
        self.ranges
            .iter()
            .position(|r| !r.is_vacant() && r == range)
    }

    /// Empty slot `index` (see [`PortRange::VACANT`]); trailing vacant slots are
    /// dropped.
    pub fn vacate(&mut self, index: usize) {
        if let Some(r) = self.ranges.get_mut(index) {
            *r = PortRange::VACANT;
        }
        while self.ranges.last().is_some_and(PortRange::is_vacant) {
            self.ranges.pop();
        }
    }
}

/// Address stand-ins seen by the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nat {
    /// Guest-side IPv4 address meaning "the host's 127.0.0.1" (default: the gateway).
    pub map_host_loopback_v4: Option<Ipv4Addr>,
    /// Guest-side IPv6 address meaning "the host's ::1" (default: the gateway).
    pub map_host_loopback_v6: Option<Ipv6Addr>,
    /// Guest-side IPv4 address meaning "the host's own address".
    pub map_guest_addr_v4: Option<Ipv4Addr>,
    /// Guest-side IPv6 address meaning "the host's own address".
    pub map_guest_addr_v6: Option<Ipv6Addr>,
    /// Our link-local address (the default router of a guest configured by our router
    /// advertisements) also means the host's ::1. Set with the default gateway mapping:
    /// a guest routing by SLAAC then reaches the host as one routing by the configured
    /// gateway does, whether or not the host's gateway is itself link-local.
    pub map_our_link_local: bool,
    /// Interface index used as the scope of IPv6 link-local destinations on the host
    /// side (the template interface, passt-reference §5.2); 0 when there is none.
    pub host_link_scope: u32,
}

/// DNS ports redirected by `--dns-forward` (passt-reference §5.2 rule 1): DNS (RFC 1035
/// §4.2) and DNS over TLS (RFC 7858 §3.1).
pub const DNS_PORTS: [u16; 2] = [53, 853];

/// DNS forwarding (`--dns-forward`, `--dns-host`): TCP and UDP traffic from the guest
/// to a "match" address on a DNS port goes to the host's resolver instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsForward {
    /// Guest-side IPv4 address whose DNS traffic is redirected.
    pub match_v4: Option<Ipv4Addr>,
    /// Guest-side IPv6 address whose DNS traffic is redirected.
    pub match_v6: Option<Ipv6Addr>,
    /// Where redirected IPv4 DNS traffic goes (may be a loopback resolver such as
    /// 127.0.0.53: the host socket talks to it directly).
    pub host_v4: Option<Ipv4Addr>,
    /// Where redirected IPv6 DNS traffic goes.
    pub host_v6: Option<Ipv6Addr>,
}

/// Where TCP or UDP traffic the guest sends to `dst` goes on the host (passt-reference
/// §5.2, first match wins): DNS to the `--dns-forward` address goes to `--dns-host`,
/// then the address rules of [`target_addr_from_guest`] apply; the port is unchanged.
pub fn target_from_guest(config: &Config, dst: SocketAddr) -> SocketAddr {
    let dns = &config.dns_forward;
    if DNS_PORTS.contains(&dst.port()) {
        let host = match dst.ip() {
            IpAddr::V4(a) if Some(a) == dns.match_v4 => dns.host_v4.map(IpAddr::V4),
            IpAddr::V6(a) if Some(a) == dns.match_v6 => dns.host_v6.map(IpAddr::V6),
            _ => None,
        };
        if let Some(host) = host {
            return SocketAddr::new(host, dst.port());
        }
    }
    host_sockaddr(config, target_addr_from_guest(config, dst.ip()), dst.port())
}

/// The host-side socket address of `ip`, `port`: an IPv6 link-local address needs a
/// scope before the host's kernel can route it, and gets the template interface
/// ([`Nat::host_link_scope`]).
pub fn host_sockaddr(config: &Config, ip: IpAddr, port: u16) -> SocketAddr {
    match ip {
        IpAddr::V6(a) if a.is_unicast_link_local() => {
            SocketAddr::V6(SocketAddrV6::new(a, port, 0, config.nat.host_link_scope))
        }
        ip => SocketAddr::new(ip, port),
    }
}

/// Where traffic the guest sends to `dst` goes on the host, by address alone
/// (passt-reference §5.2 rules 2–4; ICMP uses this): the host-loopback stand-in
/// becomes loopback, the guest-address stand-in becomes the guest's (= the host's)
/// address, our link-local address becomes loopback when [`Nat::map_our_link_local`]
/// says so, anything else is unchanged.
pub fn target_addr_from_guest(config: &Config, dst: IpAddr) -> IpAddr {
    let nat = &config.nat;
    let our_ll = config.ipv6.as_ref().map(|v6| v6.our_link_local);
    match dst {
        IpAddr::V4(a) if Some(a) == nat.map_host_loopback_v4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if Some(a) == nat.map_host_loopback_v6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(a) if Some(a) == nat.map_guest_addr_v4 => match &config.ipv4 {
            Some(v4) => IpAddr::V4(v4.addr),
            None => IpAddr::V4(a),
        },
        IpAddr::V6(a) if Some(a) == nat.map_guest_addr_v6 => match &config.ipv6 {
            Some(v6) => IpAddr::V6(v6.addr),
            None => IpAddr::V6(a),
        },
        IpAddr::V6(a) if nat.map_our_link_local && Some(a) == our_ll => {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        }
        other => other,
    }
}

/// How a connection from host peer `peer` appears to the guest: the source address the
/// guest sees (passt-reference §5.3), or `None` when no guest-usable source exists.
/// A peer the guest could not tell from itself — loopback, unspecified, the assigned
/// address or the address the guest was *seen* using (`guest`) — appears as our
/// address on the link (the gateway; IPv6: our link-local address) unless a mapping
/// option names another stand-in.
pub fn source_for_guest(config: &Config, guest: &GuestState, peer: IpAddr) -> Option<IpAddr> {
    let nat = &config.nat;
    match peer {
        IpAddr::V4(a) => {
            let v4 = config.ipv4.as_ref()?;
            if a == Ipv4Addr::LOCALHOST {
                return nat
                    .map_host_loopback_v4
                    .or(Some(v4.gateway))
                    .map(IpAddr::V4);
            }
            if a == v4.addr {
                return nat.map_guest_addr_v4.or(Some(v4.gateway)).map(IpAddr::V4);
            }
            if a.is_loopback() || a.is_unspecified() || Some(a) == guest.addr_seen_v4 {
                return Some(IpAddr::V4(v4.gateway));
            }
            Some(IpAddr::V4(a))
        }
        IpAddr::V6(a) => {
            if let Some(mapped) = a.to_ipv4_mapped() {
                return source_for_guest(config, guest, IpAddr::V4(mapped));
            }
            let v6 = config.ipv6.as_ref()?;
            if a == Ipv6Addr::LOCALHOST {
                return nat
                    .map_host_loopback_v6
                    .or(Some(v6.our_link_local))
                    .map(IpAddr::V6);
            }
            if a == v6.addr {
                return nat
                    .map_guest_addr_v6
                    .or(Some(v6.our_link_local))
                    .map(IpAddr::V6);
            }
            if a.is_unspecified() || Some(a) == guest.addr_seen_v6 {
                return Some(IpAddr::V6(v6.our_link_local));
            }
            Some(IpAddr::V6(a))
        }
    }
}

/// The guest address a connection from the host is delivered to, for the family of
/// `source` (the address the guest will see as the peer).
pub fn guest_destination(config: &Config, guest: &GuestState, source: IpAddr) -> Option<IpAddr> {
    match source {
        IpAddr::V4(_) => guest
            .addr_seen_v4
            .or(config.ipv4.as_ref().map(|c| c.addr))
            .map(IpAddr::V4),
        IpAddr::V6(s) => {
            let link_local = s.is_unicast_link_local();
            let seen = if link_local {
                guest.addr_ll_seen
            } else {
                guest.addr_seen_v6
            };
            seen.or(if link_local {
                None
            } else {
                config.ipv6.as_ref().map(|c| c.addr)
            })
            .map(IpAddr::V6)
        }
    }
}

/// Where the sockets of one forwarded port are bound (the same for TCP listeners and
/// UDP forwarding sockets), and in which namespace: inbound binds `bind_addr`, or one
/// dual-stack wildcard socket when both families are enabled (else one per family,
/// passt-reference §1.5); outbound binds the namespace's 127.0.0.1 and ::1. Each entry
/// is (family, address, dual-stack).
pub(crate) fn port_binds(
    config: &Config,
    direction: crate::tcp::Direction,
    bind_addr: Option<IpAddr>,
) -> (heapless::Vec<(Family, IpAddr, bool), 2>, Namespace) {
    use crate::tcp::Direction;
    let v4 = config.ipv4.is_some();
    let v6 = config.ipv6.is_some();
    let mut binds = heapless::Vec::new();
    match (direction, bind_addr) {
        (Direction::Outbound, _) => {
            if v4 {
                let _ = binds.push((Family::V4, IpAddr::V4(Ipv4Addr::LOCALHOST), false));
            }
            if v6 {
                let _ = binds.push((Family::V6, IpAddr::V6(Ipv6Addr::LOCALHOST), false));
            }
        }
        (Direction::Inbound, Some(a)) => {
            let _ = binds.push((Family::of(&a), a, false));
        }
        (Direction::Inbound, None) if v6 => {
            let _ = binds.push((Family::V6, IpAddr::V6(Ipv6Addr::UNSPECIFIED), v4));
        }
        (Direction::Inbound, None) => {
            let _ = binds.push((Family::V4, IpAddr::V4(Ipv4Addr::UNSPECIFIED), false));
        }
    }
    let ns = match direction {
        Direction::Inbound => Namespace::Host,
        Direction::Outbound => Namespace::Guest,
    };
    (binds, ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;

    fn config() -> Config {
        let mut c = crate::config::test_config(Mode::Pasta);
        c.nat.map_host_loopback_v4 = Some(Ipv4Addr::new(198, 51, 100, 1));
        c.nat.map_host_loopback_v6 = Some("fe80::1".parse().unwrap());
        c.nat.map_guest_addr_v4 = Some(Ipv4Addr::new(169, 254, 1, 2));
        c
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn gateway_reaches_host_loopback() {
        let c = config();
        assert_eq!(
            target_from_guest(&c, sa("198.51.100.1:22")),
            sa("127.0.0.1:22")
        );
        assert_eq!(target_from_guest(&c, sa("[fe80::1]:22")), sa("[::1]:22"));
    }

    #[test]
    fn guest_addr_stand_in_reaches_host_address() {
        let c = config();
        assert_eq!(
            target_from_guest(&c, sa("169.254.1.2:80")),
            sa("198.51.100.2:80")
        );
    }

    #[test]
    fn other_destinations_unchanged() {
        let c = config();
        assert_eq!(
            target_from_guest(&c, sa("203.0.113.9:443")),
            sa("203.0.113.9:443")
        );
        let mut no_map = c.clone();
        no_map.nat = Nat::default();
        assert_eq!(
            target_from_guest(&no_map, sa("198.51.100.1:22")),
            sa("198.51.100.1:22")
        );
    }

    #[test]
    fn dns_to_the_forward_address_reaches_the_dns_host() {
        let mut c = config();
        c.dns_forward = DnsForward {
            match_v4: Some(Ipv4Addr::new(169, 254, 1, 1)),
            match_v6: Some("fd00::53".parse().unwrap()),
            host_v4: Some(Ipv4Addr::new(127, 0, 0, 53)),
            host_v6: Some("2001:db8::53".parse().unwrap()),
        };
        assert_eq!(
            target_from_guest(&c, sa("169.254.1.1:53")),
            sa("127.0.0.53:53")
        );
        assert_eq!(
            target_from_guest(&c, sa("169.254.1.1:853")),
            sa("127.0.0.53:853")
        );
        assert_eq!(
            target_from_guest(&c, sa("[fd00::53]:53")),
            sa("[2001:db8::53]:53")
        );
        // Other ports, and other addresses, are not DNS.
        assert_eq!(
            target_from_guest(&c, sa("169.254.1.1:80")),
            sa("169.254.1.1:80")
        );
        assert_eq!(
            target_from_guest(&c, sa("203.0.113.9:53")),
            sa("203.0.113.9:53")
        );
        // DNS to the gateway still means the host's loopback unless it is the match.
        assert_eq!(
            target_from_guest(&c, sa("198.51.100.1:53")),
            sa("127.0.0.1:53")
        );
        c.dns_forward.match_v4 = Some(Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(
            target_from_guest(&c, sa("198.51.100.1:53")),
            sa("127.0.0.53:53"),
            "the forward rule comes first"
        );
        assert_eq!(
            target_addr_from_guest(&c, "198.51.100.1".parse().unwrap()),
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "address-only mapping (ICMP) knows no DNS rule"
        );
    }

    #[test]
    fn sources_seen_by_guest() {
        let c = config();
        let g = GuestState::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            source_for_guest(&c, &g, ip("127.0.0.1")),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(source_for_guest(&c, &g, ip("::1")), Some(ip("fe80::1")));
        assert_eq!(
            source_for_guest(&c, &g, ip("::ffff:127.0.0.1")),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            source_for_guest(&c, &g, ip("198.51.100.2")),
            Some(ip("169.254.1.2"))
        );
        assert_eq!(
            source_for_guest(&c, &g, ip("127.0.0.2")),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            source_for_guest(&c, &g, ip("203.0.113.5")),
            Some(ip("203.0.113.5"))
        );
        // The guest uses addresses of its own choosing: a peer at one of them would
        // look like the guest itself, so our address stands in (§5.3).
        let seen = GuestState {
            addr_seen_v4: Some("198.51.100.77".parse().unwrap()),
            addr_seen_v6: Some("2001:db8::77".parse().unwrap()),
            ..GuestState::default()
        };
        assert_eq!(
            source_for_guest(&c, &seen, ip("198.51.100.77")),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            source_for_guest(&c, &seen, ip("::ffff:198.51.100.77")),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            source_for_guest(&c, &seen, ip("2001:db8::77")),
            Some(ip("fe80::1"))
        );
        assert_eq!(
            source_for_guest(&c, &g, ip("198.51.100.77")),
            Some(ip("198.51.100.77")),
            "an address nobody on the link uses is itself"
        );
    }

    #[test]
    fn port_ranges_map_with_delta() {
        let r = PortRange {
            first: 8084,
            last: 8086,
            delta: 1000,
            bind_addr: None,
            bind_iface: None,
        };
        assert!(r.contains(8085) && !r.contains(8087));
        assert_eq!(r.map(8084), 9084);
        let mut f = PortForwards::default();
        f.ranges.push(r).unwrap();
        assert_eq!(f.find(8086).map(|(i, _)| i), Some(0));
        assert!(f.find(80).is_none());
    }
}
