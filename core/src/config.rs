//! Engine configuration: addresses, services and limits, validated once at start.
//!
//! The shim (or the CLI) discovers the host's addresses and fills this in; the engine
//! only reads it. Defaults follow passt (see the project's passt reference §1).

use crate::wire::ethernet::MacAddr;
use core::net::{Ipv4Addr, Ipv6Addr};

/// Most DNS servers advertised per family (passt's limit).
pub const MAX_DNS_SERVERS: usize = 3;
/// Most search domains advertised.
pub const MAX_SEARCH_DOMAINS: usize = 6;
/// Longest search domain, in characters (RFC 1035 §2.3.4: 255 octets on the wire).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Default MTU: 65535 − 14, rounded down to a multiple of 4.
pub const DEFAULT_MTU: u16 = 65520;
/// Smallest MTU accepted (RFC 791 minimum for IPv4).
pub const MIN_MTU: u16 = 68;

/// Which front-end drives the engine; a few defaults differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A network namespace behind a tap device.
    Pasta,
    /// A virtual machine behind qemu's stream socket (or vhost-user).
    Passt,
}

/// The guest's IPv4 configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Config {
    /// Address handed to the guest (by default the host's own).
    pub addr: Ipv4Addr,
    /// Prefix length of the guest's subnet.
    pub prefix_len: u8,
    /// Default gateway the guest is told about; also our source address for DHCP.
    pub gateway: Ipv4Addr,
}

impl Ipv4Config {
    /// The subnet mask for `prefix_len`.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len.min(32)))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// Whether `other` is inside the guest's subnet.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::from(self.netmask());
        u32::from(self.addr) & mask == u32::from(other) & mask
    }
}

/// The guest's IPv6 configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Config {
    /// Global address handed to the guest by DHCPv6 (by default the host's own).
    pub addr: Ipv6Addr,
    /// Prefix length advertised in router advertisements (passt always uses 64).
    pub prefix_len: u8,
    /// Default gateway (may be link-local).
    pub gateway: Ipv6Addr,
    /// Our link-local address on the tap link: source of RAs, NAs and DHCPv6 replies.
    pub our_link_local: Ipv6Addr,
}

/// A DNS search domain.
pub type Domain = heapless::String<MAX_DOMAIN_LEN>;

/// DNS information advertised to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsConfig {
    /// IPv4 name servers (DHCP option 6).
    pub servers_v4: heapless::Vec<Ipv4Addr, MAX_DNS_SERVERS>,
    /// IPv6 name servers (RDNSS, DHCPv6 option 23).
    pub servers_v6: heapless::Vec<Ipv6Addr, MAX_DNS_SERVERS>,
    /// Search domains (DHCP option 119, DNSSL, DHCPv6 option 24).
    pub search: heapless::Vec<Domain, MAX_SEARCH_DOMAINS>,
    /// Advertise `servers_*` through DHCP/RA/DHCPv6.
    pub advertise_servers: bool,
    /// Advertise `search` through DHCP/RA/DHCPv6.
    pub advertise_search: bool,
    /// `--fqdn`: the guest's fully qualified name, returned in the Client FQDN options
    /// of DHCP (81) and DHCPv6 (39) to clients that send or request them.
    pub fqdn: Option<Domain>,
}

/// Which built-in services answer the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    /// DHCPv4 server.
    pub dhcp: bool,
    /// Neighbour Discovery (NA replies and router advertisements).
    pub ndp: bool,
    /// Router advertisements (needs `ndp`).
    pub ra: bool,
    /// DHCPv6 server.
    pub dhcpv6: bool,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            dhcp: true,
            ndp: true,
            ra: true,
            dhcpv6: true,
        }
    }
}

/// Which translators handle the guest's own traffic (`--no-tcp`, `--no-udp`,
/// `--no-icmp` turn one off: its packets are dropped, counted as
/// [`DropReason::Disabled`](crate::DropReason::Disabled)). The built-in services are
/// not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    /// TCP.
    pub tcp: bool,
    /// UDP (other than DHCP and DHCPv6, which are the services').
    pub udp: bool,
    /// ICMP and ICMPv6 echo.
    pub icmp: bool,
}

impl Default for Protocols {
    fn default() -> Self {
        Protocols {
            tcp: true,
            udp: true,
            icmp: true,
        }
    }
}

/// Forwarded ports, by direction and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forwards {
    /// Host → guest TCP (`-t`).
    pub tcp_in: crate::fwd::PortForwards,
    /// Host → guest UDP (`-u`).
    pub udp_in: crate::fwd::PortForwards,
    /// Guest loopback → host loopback TCP (`-T`, pasta only).
    pub tcp_out: crate::fwd::PortForwards,
    /// Guest loopback → host loopback UDP (`-U`, pasta only).
    pub udp_out: crate::fwd::PortForwards,
    /// `-t auto`: follow the namespace's listening TCP ports (pasta).
    pub tcp_in_auto: bool,
    /// `-T auto`: follow the host's listening TCP ports (pasta).
    pub tcp_out_auto: bool,
    /// `-u auto`: follow the namespace's bound UDP ports and listening TCP ports (pasta).
    pub udp_in_auto: bool,
    /// `-U auto`: follow the host's bound UDP ports and listening TCP ports (pasta).
    pub udp_out_auto: bool,
}

/// What the guest link finishes for us (pasta's tap with `IFF_VNET_HDR`: the
/// namespace's kernel does segmentation and checksums); passt's stream socket has
/// none. Segments the engine sends with an offload go out as
/// [`Op::TapSendOffload`](crate::io::Op::TapSendOffload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offload {
    /// TCP segmentation offload: a segment to the guest may carry up to this many
    /// payload bytes whatever the MTU, and the link cuts it into segments of the
    /// guest's MSS (which is still what we advertise and count with). 0: off, every
    /// segment fits one MSS.
    pub tcp_segment_max: u16,
    /// Data segments to the guest leave their TCP checksum partial (the pseudo-header
    /// sum only): the link completes it, or the guest's kernel takes the frame as
    /// verified.
    pub tcp_checksum: bool,
    /// The link lends its own buffers: TCP payload is peeked from the host socket
    /// straight into them ([`Op::PeekToGuest`](crate::io::Op::PeekToGuest), then
    /// [`Op::CommitToGuest`](crate::io::Op::CommitToGuest)) instead of into the
    /// engine's transmit buffer. Needs `tcp_checksum`: the engine never sees the
    /// payload it would sum.
    pub direct_peek: bool,
    /// UDP segmentation offload: datagrams from one flow's socket to the guest that
    /// follow each other with the same size may leave as one frame carrying up to this
    /// many payload bytes, which the link cuts back into the datagrams. 0: off.
    pub udp_segment_max: u16,
}

impl Offload {
    /// Whether any TCP offload is on (data segments then go out as `TapSendOffload`).
    pub fn any(&self) -> bool {
        self.tcp_segment_max > 0 || self.tcp_checksum
    }
}

/// Everything the engine needs to know, fixed for its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// pasta or passt.
    pub mode: Mode,
    /// Our MAC on the tap link (`-M`).
    pub our_mac: MacAddr,
    /// Link MTU advertised to the guest; `None` means "don't advertise" (`-m 0`).
    pub mtu: Option<u16>,
    /// IPv4, if enabled.
    pub ipv4: Option<Ipv4Config>,
    /// IPv6, if enabled.
    pub ipv6: Option<Ipv6Config>,
    /// DNS servers and search list.
    pub dns: DnsConfig,
    /// Built-in services.
    pub services: Services,
    /// Translated protocols.
    pub protocols: Protocols,
    /// Address stand-ins for the host (`--map-host-loopback`, `--map-guest-addr`).
    pub nat: crate::fwd::Nat,
    /// DNS forwarding (`--dns-forward`, `--dns-host`).
    pub dns_forward: crate::fwd::DnsForward,
    /// Forwarded ports.
    pub forwards: Forwards,
    /// pasta's loopback bypass: connections from the host's loopback to forwarded ports
    /// (and `-T` connections) are spliced socket to socket instead of crossing the tap
    /// (on by default for pasta; `--no-splice` turns it off).
    pub splice: bool,
    /// What the guest link offloads (set by the shim that opened it; default none).
    pub offload: Offload,
    /// Seed for everything that must look random but replay identically: ISNs, hash
    /// keys, RA intervals.
    pub seed: u64,
    /// DUID-LLT time field: seconds since 2000-01-01 UTC when the engine started
    /// (RFC 8415 §11.2). Supplied by the shim, which owns the clock.
    pub duid_time: u32,
}

/// Why a [`Config`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// Neither IPv4 nor IPv6 is enabled.
    NoAddressFamily,
    /// MTU outside 68..=65535 (use `None` for "don't advertise").
    BadMtu,
    /// IPv4 prefix length above 32.
    BadIpv4Prefix,
    /// IPv6 prefix length above 128.
    BadIpv6Prefix,
    /// Guest address unusable (unspecified, loopback, multicast, broadcast).
    BadGuestAddress,
    /// Our MAC is multicast or zero.
    BadMac,
    /// Router advertisements need NDP.
    RaWithoutNdp,
}

impl Config {
    /// A configuration with passt's defaults and no address family; fill in at least one.
    pub fn new(mode: Mode) -> Config {
        Config {
            mode,
            our_mac: MacAddr::PASST_DEFAULT,
            mtu: Some(DEFAULT_MTU),
            ipv4: None,
            ipv6: None,
            dns: DnsConfig {
                advertise_servers: mode == Mode::Passt,
                advertise_search: mode == Mode::Passt,
                ..DnsConfig::default()
            },
            services: Services::default(),
            protocols: Protocols::default(),
            nat: crate::fwd::Nat::default(),
            dns_forward: crate::fwd::DnsForward::default(),
            forwards: Forwards::default(),
            splice: mode == Mode::Pasta,
            offload: Offload::default(),
            seed: 0,
            duid_time: 0,
        }
    }

    /// Check the configuration once, before the engine starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ipv4.is_none() && self.ipv6.is_none() {
            return Err(ConfigError::NoAddressFamily);
        }
        if let Some(mtu) = self.mtu {
            if mtu < MIN_MTU {
                return Err(ConfigError::BadMtu);
            }
        }
        if !self.our_mac.is_unicast() {
            return Err(ConfigError::BadMac);
        }
        if let Some(v4) = &self.ipv4 {
            if v4.prefix_len > 32 {
                return Err(ConfigError::BadIpv4Prefix);
            }
            let a = v4.addr;
            if a.is_unspecified() || a.is_loopback() || a.is_multicast() || a.is_broadcast() {
                return Err(ConfigError::BadGuestAddress);
            }
        }
        if let Some(v6) = &self.ipv6 {
            if v6.prefix_len > 128 {
                return Err(ConfigError::BadIpv6Prefix);
            }
            let a = v6.addr;
            if a.is_unspecified() || a.is_loopback() || a.is_multicast() {
                return Err(ConfigError::BadGuestAddress);
            }
        }
        if self.services.ra && !self.services.ndp {
            return Err(ConfigError::RaWithoutNdp);
        }
        Ok(())
    }
}

/// A dual-stack configuration on documentation addresses, for unit tests: the guest
/// is 198.51.100.2/24 via 198.51.100.1 and 2001:db8::2/64 via fe80::1 (also ours).
#[cfg(test)]
pub(crate) fn test_config(mode: Mode) -> Config {
    let mut c = Config::new(mode);
    c.ipv4 = Some(Ipv4Config {
        addr: Ipv4Addr::new(198, 51, 100, 2),
        prefix_len: 24,
        gateway: Ipv4Addr::new(198, 51, 100, 1),
    });
    c.ipv6 = Some(Ipv6Config {
        addr: "2001:db8::2".parse().unwrap(),
        prefix_len: 64,
        gateway: "fe80::1".parse().unwrap(),
        our_link_local: "fe80::1".parse().unwrap(),
    });
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4() -> Ipv4Config {
        Ipv4Config {
            addr: Ipv4Addr::new(198, 51, 100, 2),
            prefix_len: 24,
            gateway: Ipv4Addr::new(198, 51, 100, 1),
        }
    }

    #[test]
    fn netmask_and_contains() {
        assert_eq!(v4().netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert!(v4().contains(Ipv4Addr::new(198, 51, 100, 200)));
        assert!(!v4().contains(Ipv4Addr::new(198, 51, 101, 1)));
        let host = Ipv4Config {
            prefix_len: 0,
            ..v4()
        };
        assert_eq!(host.netmask(), Ipv4Addr::UNSPECIFIED);
        let full = Ipv4Config {
            prefix_len: 32,
            ..v4()
        };
        assert_eq!(full.netmask(), Ipv4Addr::BROADCAST);
    }

    #[test]
    fn validation() {
        let mut c = Config::new(Mode::Passt);
        assert_eq!(c.validate(), Err(ConfigError::NoAddressFamily));
        c.ipv4 = Some(v4());
        assert_eq!(c.validate(), Ok(()));
        c.mtu = Some(67);
        assert_eq!(c.validate(), Err(ConfigError::BadMtu));
        c.mtu = None;
        c.ipv4 = Some(Ipv4Config {
            addr: Ipv4Addr::LOCALHOST,
            ..v4()
        });
        assert_eq!(c.validate(), Err(ConfigError::BadGuestAddress));
    }

    #[test]
    fn mode_defaults_for_dns_advertising() {
        assert!(Config::new(Mode::Passt).dns.advertise_servers);
        assert!(!Config::new(Mode::Pasta).dns.advertise_servers);
    }
}
