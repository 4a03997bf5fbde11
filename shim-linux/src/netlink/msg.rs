//! rtnetlink messages: the constants of linux/netlink.h, linux/rtnetlink.h,
//! linux/if_addr.h and linux/if.h, request building (`nlmsghdr`, family header,
//! `rtattr` TLVs aligned to 4 bytes, rtnetlink(7)), and the parsers that turn dumped
//! messages into [`LinkInfo`], [`AddrEntry`] and [`Route`] without trusting any
//! length field. The socket that sends and receives them is in the parent module.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/if.h)

pub(super) const NLMSG_HDRLEN: usize = 16;
pub(super) const NLMSG_NOOP: u16 = 1;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NLMSG_OVERRUN: u16 = 4;

pub(super) const NLM_F_REQUEST: u16 = 0x1;
pub(super) const NLM_F_ACK: u16 = 0x4;
pub(super) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(super) const NLM_F_DUMP: u16 = 0x300;
pub(super) const NLM_F_EXCL: u16 = 0x200;
pub(super) const NLM_F_CREATE: u16 = 0x400;

pub(super) const RTM_NEWLINK: u16 = 16;
pub(super) const RTM_GETLINK: u16 = 18;
pub(super) const RTM_NEWADDR: u16 = 20;
pub(super) const RTM_GETADDR: u16 = 22;
pub(super) const RTM_NEWROUTE: u16 = 24;
pub(super) const RTM_GETROUTE: u16 = 26;

pub(super) const IFINFOMSG_LEN: usize = 16;
pub(super) const IFADDRMSG_LEN: usize = 8;
pub(super) const RTMSG_LEN: usize = 12;
pub(super) const RTNEXTHOP_LEN: usize = 8;
pub(super) const RTATTR_HDRLEN: usize = 4;
/// Mask off NLA_F_NESTED / NLA_F_NET_BYTEORDER from an attribute type.
pub(super) const NLA_TYPE_MASK: u16 = 0x3fff;

pub(super) const IFLA_ADDRESS: u16 = 1;
pub(super) const IFLA_IFNAME: u16 = 3;
pub(super) const IFLA_MTU: u16 = 4;
pub(super) const IFLA_TXQLEN: u16 = 13;

pub(super) const IFA_ADDRESS: u16 = 1;
pub(super) const IFA_LOCAL: u16 = 2;
pub(super) const IFA_FLAGS: u16 = 8;

pub(super) const RTA_DST: u16 = 1;
pub(super) const RTA_OIF: u16 = 4;
pub(super) const RTA_GATEWAY: u16 = 5;
pub(super) const RTA_PRIORITY: u16 = 6;
pub(super) const RTA_PREFSRC: u16 = 7;
pub(super) const RTA_MULTIPATH: u16 = 9;
pub(super) const RTA_CACHEINFO: u16 = 12;
pub(super) const RTA_TABLE: u16 = 15;
pub(super) const RTA_NH_ID: u16 = 30;

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `AF_INET6`.
pub const AF_INET6: u8 = 10;

/// Interface flag `IFF_UP` (administratively up).
pub const IFF_UP: u32 = 0x1;
/// Interface flag `IFF_LOOPBACK`.
pub const IFF_LOOPBACK: u32 = 0x8;
/// Interface flag `IFF_NOARP` (no ARP / no IPv6 DAD and ND while set).
pub const IFF_NOARP: u32 = 0x80;
/// Interface flag `IFF_LOWER_UP` (carrier present).
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// Address flag `IFA_F_NODAD`: skip IPv6 duplicate address detection.
pub const IFA_F_NODAD: u32 = 0x02;
/// Address flag `IFA_F_DADFAILED`.
pub const IFA_F_DADFAILED: u32 = 0x08;
/// Address flag `IFA_F_DEPRECATED` (preferred lifetime over).
pub const IFA_F_DEPRECATED: u32 = 0x20;
/// Address flag `IFA_F_TENTATIVE` (DAD still running).
pub const IFA_F_TENTATIVE: u32 = 0x40;
/// Address flag `IFA_F_PERMANENT` (configured, not autoconfigured).
pub const IFA_F_PERMANENT: u32 = 0x80;

/// Routing table `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;
/// Route origin `RTPROT_BOOT` (what `ip route add` uses by default).
pub const RTPROT_BOOT: u8 = 3;
/// Scope `RT_SCOPE_UNIVERSE` (global).
pub const RT_SCOPE_UNIVERSE: u8 = 0;
/// Scope `RT_SCOPE_LINK`.
pub const RT_SCOPE_LINK: u8 = 253;
/// Scope `RT_SCOPE_HOST`.
pub const RT_SCOPE_HOST: u8 = 254;
/// Route type `RTN_UNICAST`.
pub const RTN_UNICAST: u8 = 1;

/// Bound on receive buffer growth and on dump retries.
pub(super) const RX_BUF_LEN: usize = 64 * 1024;
pub(super) const DUMP_RETRIES: usize = 4;

// ---- small helpers

/// An IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
}

impl Family {
    /// The `AF_*` number.
    pub fn af(self) -> u8 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }

    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family for an `AF_*` number, if it is IPv4 or IPv6.
    pub fn from_af(af: u8) -> Option<Self> {
        match af {
            AF_INET => Some(Family::V4),
            AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }

    /// Address length in bits (the largest valid prefix length).
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

pub(super) fn invalid_input(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

pub(super) fn invalid_data(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

pub(super) fn ne_u16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([b[0], b[1]]))
}

pub(super) fn ne_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// An attribute payload holding exactly one `u32`.
pub(super) fn attr_u32(data: &[u8]) -> Option<u32> {
    if data.len() == 4 {
        ne_u32(data, 0)
    } else {
        None
    }
}

/// An attribute payload holding an address of `family`.
pub(super) fn attr_ip(family: Family, data: &[u8]) -> Option<IpAddr> {
    match family {
        Family::V4 => <[u8; 4]>::try_from(data)
            .ok()
            .map(|a| Ipv4Addr::from(a).into()),
        Family::V6 => <[u8; 16]>::try_from(data)
            .ok()
            .map(|a| Ipv6Addr::from(a).into()),
    }
}

pub(super) fn ip_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Rounds up to the 4-byte netlink alignment (`NLMSG_ALIGN`/`RTA_ALIGN`).
pub(super) fn align4(len: usize) -> Option<usize> {
    len.checked_add(3).map(|l| l & !3)
}

/// One netlink message header (`struct nlmsghdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NlHdr {
    pub(super) ty: u16,
    pub(super) flags: u16,
    pub(super) seq: u32,
}

/// Splits a datagram into messages (header, payload after the header).
/// A length field that is too small or points past the end makes the rest of
/// the datagram invalid (netlink(7), `NLMSG_OK`).
pub(super) fn parse_messages(buf: &[u8]) -> io::Result<Vec<(NlHdr, &[u8])>> {
    messages(buf).collect()
}

/// The messages of a datagram, one by one (no allocation: the event loop's
/// socket scans use it); an error ends the iteration.
pub(super) fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

/// Iterator of [`messages`].
pub(super) struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = io::Result<(NlHdr, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let Some(len) = ne_u32(rest, 0).and_then(|l| usize::try_from(l).ok()) else {
            self.rest = &[];
            return Some(Err(invalid_data("netlink: short header")));
        };
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.rest = &[];
            return Some(Err(invalid_data("netlink: bad message length")));
        }
        let hdr = NlHdr {
            ty: ne_u16(rest, 4).unwrap_or(0),
            flags: ne_u16(rest, 6).unwrap_or(0),
            seq: ne_u32(rest, 8).unwrap_or(0),
        };
        let step = align4(len).unwrap_or(len).min(rest.len());
        self.rest = rest.get(step..).unwrap_or_default();
        Some(Ok((hdr, rest.get(NLMSG_HDRLEN..len).unwrap_or_default())))
    }
}

/// Iterator over `rtattr`s: `(type without flag bits, payload)`. Stops at
/// the first malformed attribute.
#[derive(Clone, Debug)]
pub(super) struct Attrs<'a> {
    rest: &'a [u8],
}

pub(super) fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let len = usize::from(ne_u16(self.rest, 0)?);
        let ty = ne_u16(self.rest, 2)? & NLA_TYPE_MASK;
        if len < RTATTR_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return None;
        }
        let data = self.rest.get(RTATTR_HDRLEN..len)?;
        let step = align4(len).unwrap_or(len).min(self.rest.len());
        self.rest = self.rest.get(step..).unwrap_or_default();
        Some((ty, data))
    }
}

/// A request under construction: header, family header, attributes.
pub(super) struct Request {
    buf: Vec<u8>,
}

impl Request {
    pub(super) fn new(ty: u16, flags: u16) -> Self {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&ty.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        Self { buf }
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// Appends a fixed header (e.g. `ifinfomsg`).
    pub(super) fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends one attribute.
    pub(super) fn attr(&mut self, ty: u16, data: &[u8]) -> io::Result<&mut Self> {
        let len = data
            .len()
            .checked_add(RTATTR_HDRLEN)
            .and_then(|l| u16::try_from(l).ok())
            .ok_or_else(|| invalid_input("netlink attribute too long"))?;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        Ok(self)
    }

    /// Writes total length and sequence number; returns the bytes to send.
    pub(super) fn finish(&mut self, seq: u32) -> io::Result<&[u8]> {
        let len =
            u32::try_from(self.buf.len()).map_err(|_| invalid_input("netlink request too long"))?;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        Ok(&self.buf)
    }
}

/// `struct ifinfomsg` bytes.
pub(super) fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut m = [0u8; IFINFOMSG_LEN];
    // family (AF_UNSPEC), pad, type: zero.
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

// ---- parsed objects

/// What [`Netlink::link_info`](super::Netlink::link_info) reports about an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// `IFF_*` flags.
    pub flags: u32,
    /// MTU, if reported.
    pub mtu: Option<u32>,
    /// Link-layer address, if it is a 6-byte (Ethernet) one.
    pub mac: Option<[u8; 6]>,
}

pub(super) fn parse_link(payload: &[u8]) -> Option<LinkInfo> {
    let index = ne_u32(payload, 4)?;
    let flags = ne_u32(payload, 8)?;
    let mut info = LinkInfo {
        index,
        name: String::new(),
        flags,
        mtu: None,
        mac: None,
    };
    for (ty, data) in attrs(payload.get(IFINFOMSG_LEN..)?) {
        match ty {
            IFLA_IFNAME => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                info.name = String::from_utf8_lossy(data.get(..end).unwrap_or_default()).into();
            }
            IFLA_MTU => info.mtu = attr_u32(data),
            IFLA_ADDRESS => info.mac = <[u8; 6]>::try_from(data).ok(),
            _ => {}
        }
    }
    Some(info)
}

/// One address of an interface, as dumped by
/// [`Netlink::addr_dump`](super::Netlink::addr_dump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrEntry {
    /// Interface index.
    pub ifindex: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// `IFA_F_*` flags (the 32-bit `IFA_FLAGS` attribute when present).
    pub flags: u32,
    /// `RT_SCOPE_*` scope.
    pub scope: u8,
}

pub(super) fn parse_addr(payload: &[u8]) -> Option<AddrEntry> {
    let hdr = payload.get(..IFADDRMSG_LEN)?;
    let family = Family::from_af(hdr[0])?;
    let (prefix_len, flags8, scope) = (hdr[1], hdr[2], hdr[3]);
    let ifindex = ne_u32(hdr, 4)?;
    let (mut local, mut address, mut flags) = (None, None, u32::from(flags8));
    for (ty, data) in attrs(payload.get(IFADDRMSG_LEN..)?) {
        match ty {
            IFA_LOCAL => local = attr_ip(family, data),
            IFA_ADDRESS => address = attr_ip(family, data),
            IFA_FLAGS => flags = attr_u32(data).unwrap_or(flags),
            _ => {}
        }
    }
    Some(AddrEntry {
        ifindex,
        addr: local.or(address)?,
        prefix_len,
        flags,
        scope,
    })
}

/// One next hop of a multipath route (`struct rtnexthop` + attributes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// Output interface.
    pub ifindex: u32,
    /// Weight (`rtnh_hops + 1`, as `ip route` shows it).
    pub weight: u16,
    /// `RTNH_F_*` flags.
    pub flags: u8,
    /// Gateway, if any.
    pub gateway: Option<IpAddr>,
}

pub(super) fn parse_nexthops(family: Family, mut buf: &[u8]) -> Vec<NextHop> {
    let mut hops = Vec::new();
    while let Some(len) = ne_u16(buf, 0).map(usize::from) {
        if len < RTNEXTHOP_LEN || len > buf.len() {
            break;
        }
        let (Some(ifindex), Some(&flags), Some(&hops_m1)) =
            (ne_u32(buf, 4), buf.get(2), buf.get(3))
        else {
            break;
        };
        let gateway = attrs(buf.get(RTNEXTHOP_LEN..len).unwrap_or_default())
            .find(|(ty, _)| *ty == RTA_GATEWAY)
            .and_then(|(_, d)| attr_ip(family, d));
        hops.push(NextHop {
            ifindex,
            weight: u16::from(hops_m1) + 1,
            flags,
            gateway,
        });
        let step = align4(len).unwrap_or(len).min(buf.len());
        buf = buf.get(step..).unwrap_or_default();
    }
    hops
}

/// Rewrites the `rtnh_ifindex` of every next hop in a copy of an
/// `RTA_MULTIPATH` payload; `None` if a hop's interface is not `from`.
pub(super) fn retarget_nexthops(buf: &[u8], from: u32, to: u32) -> Option<Vec<u8>> {
    let mut out = buf.to_vec();
    let mut at = 0usize;
    while let Some(len) = ne_u16(&out, at).map(usize::from) {
        let end = at.checked_add(len)?;
        if len < RTNEXTHOP_LEN || end > out.len() {
            return None;
        }
        if ne_u32(&out, at + 4)? != from {
            return None;
        }
        out.get_mut(at + 4..at + 8)?
            .copy_from_slice(&to.to_ne_bytes());
        at = align4(end)?;
    }
    Some(out)
}

/// A route, as dumped by [`Netlink::route_dump`](super::Netlink::route_dump). The
/// decoded fields are for inspection; the raw attributes are kept so the route can be
/// re-installed faithfully elsewhere ([`Route::moved_to`],
/// [`Netlink::route_add`](super::Netlink::route_add)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Address family.
    pub family: Family,
    /// Destination prefix length (0: default route).
    pub dst_len: u8,
    /// Source prefix length.
    pub src_len: u8,
    /// TOS selector.
    pub tos: u8,
    /// Routing table (`RTA_TABLE`, else `rtm_table`).
    pub table: u32,
    /// `RTPROT_*` origin.
    pub protocol: u8,
    /// `RT_SCOPE_*` scope.
    pub scope: u8,
    /// `RTN_*` type.
    pub kind: u8,
    /// `RTM_F_*` flags.
    pub flags: u32,
    /// Destination (`None` for a default route).
    pub dst: Option<IpAddr>,
    /// Gateway of a single-path route.
    pub gateway: Option<IpAddr>,
    /// Output interface of a single-path route.
    pub oif: Option<u32>,
    /// Metric (`RTA_PRIORITY`).
    pub priority: Option<u32>,
    /// Next hops of a multipath route (empty otherwise).
    pub nexthops: Vec<NextHop>,
    /// The `rtm_table` byte as received.
    rtm_table: u8,
    /// All attributes as received, `(type, payload)`.
    pub(super) raw_attrs: Vec<(u16, Vec<u8>)>,
}

pub(super) fn parse_route(payload: &[u8]) -> Option<Route> {
    let hdr = payload.get(..RTMSG_LEN)?;
    let family = Family::from_af(hdr[0])?;
    let mut route = Route {
        family,
        dst_len: hdr[1],
        src_len: hdr[2],
        tos: hdr[3],
        table: u32::from(hdr[4]),
        protocol: hdr[5],
        scope: hdr[6],
        kind: hdr[7],
        flags: ne_u32(hdr, 8)?,
        dst: None,
        gateway: None,
        oif: None,
        priority: None,
        nexthops: Vec::new(),
        rtm_table: hdr[4],
        raw_attrs: Vec::new(),
    };
    for (ty, data) in attrs(payload.get(RTMSG_LEN..)?) {
        match ty {
            RTA_DST => route.dst = attr_ip(family, data),
            RTA_GATEWAY => route.gateway = attr_ip(family, data),
            RTA_OIF => route.oif = attr_u32(data),
            RTA_PRIORITY => route.priority = attr_u32(data),
            RTA_TABLE => route.table = attr_u32(data).unwrap_or(route.table),
            RTA_MULTIPATH => route.nexthops = parse_nexthops(family, data),
            _ => {}
        }
        route.raw_attrs.push((ty, data.to_vec()));
    }
    Some(route)
}

impl Route {
    /// Whether the route sends anything through interface `ifindex`.
    pub fn uses(&self, ifindex: u32) -> bool {
        self.oif == Some(ifindex) || self.nexthops.iter().any(|h| h.ifindex == ifindex)
    }

    /// The same route on interface `to` instead of `from`, for copying a
    /// template interface's routes to the tap (passt reference §8.3): the
    /// output interface and every next hop's interface are rewritten, and the
    /// preferred source (`RTA_PREFSRC`, an address of the template that the
    /// tap may not have), nexthop object id (`RTA_NH_ID`, meaningless in
    /// another namespace) and cache info are dropped. `None` if the route
    /// uses an interface other than `from`, or has no interface at all.
    pub fn moved_to(&self, from: u32, to: u32) -> Option<Route> {
        if self.oif.is_some_and(|o| o != from) || (self.oif.is_none() && self.nexthops.is_empty()) {
            return None;
        }
        let mut moved = self.clone();
        moved.raw_attrs.clear();
        for (ty, data) in &self.raw_attrs {
            match *ty {
                RTA_PREFSRC | RTA_NH_ID | RTA_CACHEINFO => {}
                RTA_OIF => moved.raw_attrs.push((RTA_OIF, to.to_ne_bytes().to_vec())),
                RTA_MULTIPATH => {
                    let hops = retarget_nexthops(data, from, to)?;
                    moved.raw_attrs.push((RTA_MULTIPATH, hops));
                }
                _ => moved.raw_attrs.push((*ty, data.clone())),
            }
        }
        moved.oif = self.oif.map(|_| to);
        for hop in &mut moved.nexthops {
            hop.ifindex = to;
        }
        Some(moved)
    }

    /// A default route via `gateway` out of `ifindex` in the main table.
    pub fn default_via(ifindex: u32, gateway: IpAddr) -> Route {
        let family = Family::of(&gateway);
        Route {
            family,
            dst_len: 0,
            src_len: 0,
            tos: 0,
            table: RT_TABLE_MAIN,
            protocol: RTPROT_BOOT,
            scope: RT_SCOPE_UNIVERSE,
            kind: RTN_UNICAST,
            flags: 0,
            dst: None,
            gateway: Some(gateway),
            oif: Some(ifindex),
            priority: None,
            nexthops: Vec::new(),
            rtm_table: RT_TABLE_MAIN as u8,
            raw_attrs: vec![
                (RTA_OIF, ifindex.to_ne_bytes().to_vec()),
                (RTA_GATEWAY, ip_bytes(&gateway)),
            ],
        }
    }

    pub(super) fn rtmsg(&self) -> [u8; RTMSG_LEN] {
        let mut m = [0u8; RTMSG_LEN];
        m[..8].copy_from_slice(&[
            self.family.af(),
            self.dst_len,
            self.src_len,
            self.tos,
            self.rtm_table,
            self.protocol,
            self.scope,
            self.kind,
        ]);
        m[8..12].copy_from_slice(&self.flags.to_ne_bytes());
        m
    }
}

/// The interface and gateway of the default route (template discovery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultRoute {
    /// Output interface.
    pub ifindex: u32,
    /// Gateway (`None` for a default route straight out of a device).
    pub gateway: Option<IpAddr>,
}

/// Picks the template from dumped routes: among main-table unicast default
/// routes the one with the lowest metric (the first of equals), and for a
/// multipath route its highest-weight next hop (the first of equals).
pub(super) fn pick_default(routes: &[Route]) -> Option<DefaultRoute> {
    let best = routes
        .iter()
        .filter(|r| r.table == RT_TABLE_MAIN && r.dst_len == 0 && r.kind == RTN_UNICAST)
        .filter(|r| r.oif.is_some() || !r.nexthops.is_empty())
        .min_by_key(|r| r.priority.unwrap_or(0))?;
    if let Some(first) = best.nexthops.first() {
        let hop = best
            .nexthops
            .iter()
            .fold(first, |b, h| if h.weight > b.weight { h } else { b });
        return Some(DefaultRoute {
            ifindex: hop.ifindex,
            gateway: hop.gateway,
        });
    }
    Some(DefaultRoute {
        ifindex: best.oif?,
        gateway: best.gateway,
    })
}

/// Whether pasta copies this template address to the tap: not deprecated,
/// not tentative or DAD-failed, not link-local (IPv6: global scope only).
pub(super) fn copyable(a: &AddrEntry) -> bool {
    if a.flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0 {
        return false;
    }
    match a.addr {
        IpAddr::V4(v4) => !v4.is_link_local() && a.scope != RT_SCOPE_HOST,
        IpAddr::V6(v6) => a.scope == RT_SCOPE_UNIVERSE && (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}

pub(super) fn errno_is(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}
