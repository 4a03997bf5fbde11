//! Host template discovery (passt-reference §5.1): which host interface the guest's
//! configuration is copied from, per address family, with its address, gateway,
//! link-local address, and the addresses and routes `--config-net` copies.

use crate::netlink::{
    AddrEntry, Family, Netlink, Route, IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TENTATIVE,
    RT_SCOPE_LINK, RT_SCOPE_UNIVERSE,
};
use std::io;
use std::net::{IpAddr, Ipv6Addr};

/// What one address family of the host looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyTemplate {
    /// Template interface index (in the host namespace).
    pub ifindex: u32,
    /// Template interface name.
    pub ifname: String,
    /// The address handed to the guest: the longest-prefix usable address.
    pub addr: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
    /// Default gateway on the template interface, if any.
    pub gateway: Option<IpAddr>,
    /// The interface's IPv6 link-local address (IPv6 only).
    pub link_local: Option<Ipv6Addr>,
    /// Every address of the family on the interface.
    pub addrs: Vec<AddrEntry>,
    /// The interface's routes of the family (main table).
    pub routes: Vec<Route>,
}

/// Both families of the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostTemplate {
    /// IPv4, if the host has a usable IPv4 interface.
    pub v4: Option<FamilyTemplate>,
    /// IPv6, if the host has a usable global IPv6 address.
    pub v6: Option<FamilyTemplate>,
}

fn usable(a: &AddrEntry) -> bool {
    a.flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
}

/// Discover one family. `iface` forces the template interface (`-i`, `--outbound-if*`);
/// otherwise the interface of the lowest-metric default route is used.
pub fn discover_family(
    nl: &mut Netlink,
    family: Family,
    iface: Option<&str>,
) -> io::Result<Option<FamilyTemplate>> {
    let (ifindex, gateway) = match iface {
        Some(name) => {
            let idx = nl.link_index(name)?;
            let gw = nl
                .route_dump(idx, family)?
                .iter()
                .find(|r| r.dst_len == 0)
                .and_then(|r| {
                    r.gateway
                        .or_else(|| r.nexthops.iter().find_map(|h| h.gateway))
                });
            (idx, gw)
        }
        None => match nl.default_route_iface(family)? {
            Some(d) => (d.ifindex, d.gateway),
            None => return Ok(None),
        },
    };
    let all = nl.addr_dump(ifindex)?;
    let addrs: Vec<AddrEntry> = all
        .into_iter()
        .filter(|a| Family::of(&a.addr) == family)
        .collect();
    let best = addrs
        .iter()
        .filter(|a| usable(a) && a.scope == RT_SCOPE_UNIVERSE)
        .max_by_key(|a| a.prefix_len);
    let Some(best) = best else { return Ok(None) };
    let link_local = addrs.iter().find_map(|a| match a.addr {
        IpAddr::V6(v6) if a.scope == RT_SCOPE_LINK || v6.is_unicast_link_local() => Some(v6),
        _ => None,
    });
    let routes = nl.route_dump(ifindex, family)?;
    let ifname = nl.link_info(ifindex)?.name;
    Ok(Some(FamilyTemplate {
        ifindex,
        ifname,
        addr: best.addr,
        prefix_len: best.prefix_len,
        gateway,
        link_local,
        addrs: addrs.clone(),
        routes,
    }))
}

/// Discover the enabled families.
pub fn discover(
    nl: &mut Netlink,
    iface: Option<&str>,
    ipv4: bool,
    ipv6: bool,
) -> io::Result<HostTemplate> {
    Ok(HostTemplate {
        v4: if ipv4 {
            discover_family(nl, Family::V4, iface)?
        } else {
            None
        },
        v6: if ipv6 {
            discover_family(nl, Family::V6, iface)?
        } else {
            None
        },
    })
}
