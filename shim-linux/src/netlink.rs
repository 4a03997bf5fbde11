//! A small synchronous rtnetlink client (`NETLINK_ROUTE`), enough for pasta's
//! `--config-net` and for discovering the host's template interface
//! (passt reference §5.1, §8.3).
//!
//! Messages are built and parsed by hand following rtnetlink(7) and
//! netlink(7): a 16-byte `nlmsghdr`, a fixed family header (`ifinfomsg`,
//! `ifaddrmsg` or `rtmsg`), then `rtattr` TLVs aligned to 4 bytes. All values
//! are in host byte order. Parsing never panics and never trusts a length
//! field: malformed messages or attributes are skipped (dumps) or reported as
//! [`io::ErrorKind::InvalidData`].
//!
//! A [`Netlink`] socket talks to the network namespace it was *created* in;
//! create it from inside the target namespace (see
//! [`crate::netns::in_netns`]) and use it from any thread afterwards.
//!
//! # Errors and EEXIST
//!
//! A kernel `NLMSG_ERROR` becomes an [`io::Error`] carrying the errno
//! (`raw_os_error()`), so `EEXIST` shows up as
//! [`io::ErrorKind::AlreadyExists`]. [`Netlink::addr_add`],
//! [`Netlink::route_add`] and [`Netlink::route_add_default`] use
//! `NLM_F_CREATE | NLM_F_EXCL` and therefore fail with EEXIST when the same
//! address or route is already there; the copy helpers
//! ([`Netlink::addr_copy`], [`Netlink::route_copy`]) treat EEXIST as success,
//! like pasta does.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

// ---- constants (linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h, linux/if.h)

const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;

const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTMSG_LEN: usize = 12;
const RTNEXTHOP_LEN: usize = 8;
const RTATTR_HDRLEN: usize = 4;
/// Mask off NLA_F_NESTED / NLA_F_NET_BYTEORDER from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_MULTIPATH: u16 = 9;
const RTA_CACHEINFO: u16 = 12;
const RTA_TABLE: u16 = 15;
const RTA_NH_ID: u16 = 30;

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
const RX_BUF_LEN: usize = 64 * 1024;
const DUMP_RETRIES: usize = 4;

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

fn invalid_input(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn invalid_data(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn ne_u16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([b[0], b[1]]))
}

fn ne_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// An attribute payload holding exactly one `u32`.
fn attr_u32(data: &[u8]) -> Option<u32> {
    if data.len() == 4 {
        ne_u32(data, 0)
    } else {
        None
    }
}

/// An attribute payload holding an address of `family`.
fn attr_ip(family: Family, data: &[u8]) -> Option<IpAddr> {
    match family {
        Family::V4 => <[u8; 4]>::try_from(data)
            .ok()
            .map(|a| Ipv4Addr::from(a).into()),
        Family::V6 => <[u8; 16]>::try_from(data)
            .ok()
            .map(|a| Ipv6Addr::from(a).into()),
    }
}

fn ip_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Rounds up to the 4-byte netlink alignment (`NLMSG_ALIGN`/`RTA_ALIGN`).
fn align4(len: usize) -> Option<usize> {
    len.checked_add(3).map(|l| l & !3)
}

/// One netlink message header (`struct nlmsghdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NlHdr {
    ty: u16,
    flags: u16,
    seq: u32,
}

/// Splits a datagram into messages (header, payload after the header).
/// A length field that is too small or points past the end makes the rest of
/// the datagram invalid (netlink(7), `NLMSG_OK`).
fn parse_messages(buf: &[u8]) -> io::Result<Vec<(NlHdr, &[u8])>> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let len = ne_u32(rest, 0).ok_or_else(|| invalid_data("netlink: short header"))?;
        let len = usize::try_from(len).map_err(|_| invalid_data("netlink: bad length"))?;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(invalid_data("netlink: bad message length"));
        }
        let hdr = NlHdr {
            ty: ne_u16(rest, 4).unwrap_or(0),
            flags: ne_u16(rest, 6).unwrap_or(0),
            seq: ne_u32(rest, 8).unwrap_or(0),
        };
        out.push((hdr, rest.get(NLMSG_HDRLEN..len).unwrap_or_default()));
        let step = align4(len).unwrap_or(len).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
    }
    Ok(out)
}

/// Iterator over `rtattr`s: `(type without flag bits, payload)`. Stops at
/// the first malformed attribute.
#[derive(Clone, Debug)]
struct Attrs<'a> {
    rest: &'a [u8],
}

fn attrs(buf: &[u8]) -> Attrs<'_> {
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
struct Request {
    buf: Vec<u8>,
}

impl Request {
    fn new(ty: u16, flags: u16) -> Self {
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
    fn put(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends one attribute.
    fn attr(&mut self, ty: u16, data: &[u8]) -> io::Result<&mut Self> {
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
    fn finish(&mut self, seq: u32) -> io::Result<&[u8]> {
        let len =
            u32::try_from(self.buf.len()).map_err(|_| invalid_input("netlink request too long"))?;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        Ok(&self.buf)
    }
}

/// `struct ifinfomsg` bytes.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut m = [0u8; IFINFOMSG_LEN];
    // family (AF_UNSPEC), pad, type: zero.
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

// ---- parsed objects

/// What [`Netlink::link_info`] reports about an interface.
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

fn parse_link(payload: &[u8]) -> Option<LinkInfo> {
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

/// One address of an interface, as dumped by [`Netlink::addr_dump`].
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

fn parse_addr(payload: &[u8]) -> Option<AddrEntry> {
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

fn parse_nexthops(family: Family, mut buf: &[u8]) -> Vec<NextHop> {
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
fn retarget_nexthops(buf: &[u8], from: u32, to: u32) -> Option<Vec<u8>> {
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

/// A route, as dumped by [`Netlink::route_dump`]. The decoded fields are for
/// inspection; the raw attributes are kept so the route can be re-installed
/// faithfully elsewhere ([`Route::moved_to`], [`Netlink::route_add`]).
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
    raw_attrs: Vec<(u16, Vec<u8>)>,
}

fn parse_route(payload: &[u8]) -> Option<Route> {
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

    fn rtmsg(&self) -> [u8; RTMSG_LEN] {
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
fn pick_default(routes: &[Route]) -> Option<DefaultRoute> {
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
fn copyable(a: &AddrEntry) -> bool {
    if a.flags & (IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0 {
        return false;
    }
    match a.addr {
        IpAddr::V4(v4) => !v4.is_link_local() && a.scope != RT_SCOPE_HOST,
        IpAddr::V6(v6) => a.scope == RT_SCOPE_UNIVERSE && (v6.segments()[0] & 0xffc0) != 0xfe80,
    }
}

fn errno_is(e: &io::Error, errno: i32) -> bool {
    e.raw_os_error() == Some(errno)
}

// ---- the socket

/// A synchronous `NETLINK_ROUTE` socket bound to the network namespace it was
/// opened in.
#[derive(Debug)]
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
    rx: Vec<u8>,
}

/// A reply message (header fields we use + owned payload).
struct Reply {
    ty: u16,
    payload: Vec<u8>,
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket in the calling thread's network
    /// namespace.
    pub fn open() -> io::Result<Self> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            None, // NETLINK_ROUTE is protocol 0
        )?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        Ok(Self {
            fd,
            seq: 0,
            rx: vec![0u8; RX_BUF_LEN],
        })
    }

    /// Sends `req` and collects the replies to it: until the ACK (or error)
    /// for a plain request, until `NLMSG_DONE` for a dump.
    fn exchange(&mut self, req: &mut Request, dump: bool) -> io::Result<Vec<Reply>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = req.finish(seq)?;
        let sent = rustix::net::send(&self.fd, bytes, SendFlags::empty())?;
        if sent != bytes.len() {
            return Err(io::Error::other("netlink: short send"));
        }
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let (n, full) = loop {
                match rustix::net::recv(&self.fd, &mut self.rx[..], RecvFlags::TRUNC) {
                    Err(rustix::io::Errno::INTR) => continue,
                    r => break r?,
                }
            };
            if full > n {
                return Err(invalid_data("netlink: reply truncated"));
            }
            for (hdr, payload) in parse_messages(self.rx.get(..n).unwrap_or_default())? {
                if hdr.seq != seq {
                    // Leftover of an earlier request we gave up on.
                    continue;
                }
                if hdr.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match hdr.ty {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR => {
                        // struct nlmsgerr: int error (negative errno or 0 =
                        // ACK), then the offending request's header.
                        let err = ne_u32(payload, 0)
                            .ok_or_else(|| invalid_data("netlink: short error"))?
                            as i32;
                        if err != 0 {
                            let errno = err.checked_neg().unwrap_or(libc::EIO);
                            return Err(io::Error::from_raw_os_error(errno));
                        }
                        if !dump {
                            return Ok(out);
                        }
                    }
                    NLMSG_DONE => {
                        // A dump's end; may carry a negative errno.
                        if let Some(err) = ne_u32(payload, 0).map(|e| e as i32) {
                            if err < 0 {
                                let errno = err.checked_neg().unwrap_or(libc::EIO);
                                return Err(io::Error::from_raw_os_error(errno));
                            }
                        }
                        if interrupted {
                            return Err(io::Error::new(
                                io::ErrorKind::Interrupted,
                                "netlink dump interrupted by a concurrent change",
                            ));
                        }
                        return Ok(out);
                    }
                    NLMSG_OVERRUN => return Err(invalid_data("netlink: overrun")),
                    ty => out.push(Reply {
                        ty,
                        payload: payload.to_vec(),
                    }),
                }
            }
        }
    }

    /// Sends a request that expects only an ACK.
    fn request(&mut self, req: &mut Request) -> io::Result<()> {
        self.exchange(req, false).map(drop)
    }

    /// Runs a dump (`NLM_F_DUMP`) of `ty` with family header `hdr`,
    /// retrying if the kernel flags it as interrupted, and returns the
    /// payloads of messages of type `want`.
    fn dump(&mut self, ty: u16, hdr: &[u8], want: u16) -> io::Result<Vec<Vec<u8>>> {
        let mut attempt = 0;
        loop {
            let mut req = Request::new(ty, NLM_F_DUMP);
            req.put(hdr);
            match self.exchange(&mut req, true) {
                Ok(replies) => {
                    return Ok(replies
                        .into_iter()
                        .filter(|r| r.ty == want)
                        .map(|r| r.payload)
                        .collect())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted && attempt < DUMP_RETRIES => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches one link by index or name (`RTM_GETLINK`).
    fn get_link(&mut self, index: u32, name: Option<&str>) -> io::Result<LinkInfo> {
        let mut req = Request::new(RTM_GETLINK, NLM_F_ACK);
        req.put(&ifinfomsg(index, 0, 0));
        if let Some(name) = name {
            if name.is_empty() || name.len() >= 16 || name.contains('\0') {
                return Err(invalid_input("bad interface name"));
            }
            let mut z = name.as_bytes().to_vec();
            z.push(0);
            req.attr(IFLA_IFNAME, &z)?;
        }
        let replies = self.exchange(&mut req, false)?;
        replies
            .iter()
            .filter(|r| r.ty == RTM_NEWLINK)
            .find_map(|r| parse_link(&r.payload))
            .ok_or_else(|| invalid_data("netlink: no link in reply"))
    }

    /// Index of the interface called `name` (ENODEV if there is none).
    pub fn link_index(&mut self, name: &str) -> io::Result<u32> {
        self.get_link(0, Some(name)).map(|l| l.index)
    }

    /// Name, flags, MTU and MAC address of interface `ifindex`.
    pub fn link_info(&mut self, ifindex: u32) -> io::Result<LinkInfo> {
        self.get_link(ifindex, None)
    }

    /// The 6-byte link-layer address of interface `ifindex`.
    pub fn link_mac(&mut self, ifindex: u32) -> io::Result<[u8; 6]> {
        self.link_info(ifindex)?
            .mac
            .ok_or_else(|| invalid_data("interface has no 6-byte link-layer address"))
    }

    /// Sets the `IFF_*` flags selected by `mask` to the values in `flags`.
    pub fn link_set_flags(&mut self, ifindex: u32, flags: u32, mask: u32) -> io::Result<()> {
        let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
        req.put(&ifinfomsg(ifindex, flags & mask, mask));
        self.request(&mut req)
    }

    /// Brings interface `ifindex` up.
    pub fn link_set_up(&mut self, ifindex: u32) -> io::Result<()> {
        self.link_set_flags(ifindex, IFF_UP, IFF_UP)
    }

    /// Sets the MTU of interface `ifindex`.
    pub fn link_set_mtu(&mut self, ifindex: u32, mtu: u32) -> io::Result<()> {
        let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
        req.put(&ifinfomsg(ifindex, 0, 0));
        req.attr(IFLA_MTU, &mtu.to_ne_bytes())?;
        self.request(&mut req)
    }

    /// Sets the transmit queue length (`txqueuelen`, in frames) of interface `ifindex`.
    pub fn link_set_txqlen(&mut self, ifindex: u32, frames: u32) -> io::Result<()> {
        let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
        req.put(&ifinfomsg(ifindex, 0, 0));
        req.attr(IFLA_TXQLEN, &frames.to_ne_bytes())?;
        self.request(&mut req)
    }

    /// Sets the MAC address of interface `ifindex`.
    pub fn link_set_mac(&mut self, ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
        req.put(&ifinfomsg(ifindex, 0, 0));
        req.attr(IFLA_ADDRESS, &mac)?;
        self.request(&mut req)
    }

    /// Adds `addr/prefix_len` to interface `ifindex`, with `IFA_F_NODAD` if
    /// `nodad` (IPv6: usable at once, never "tentative"). Scope is host for
    /// IPv4 loopback, universe otherwise (the kernel derives IPv6 scopes
    /// itself). Fails with EEXIST if the address is already there.
    pub fn addr_add(
        &mut self,
        ifindex: u32,
        addr: IpAddr,
        prefix_len: u8,
        nodad: bool,
    ) -> io::Result<()> {
        let family = Family::of(&addr);
        if prefix_len > family.bits() {
            return Err(invalid_input("prefix length too long for the family"));
        }
        let scope = match addr {
            IpAddr::V4(a) if a.is_loopback() => RT_SCOPE_HOST,
            _ => RT_SCOPE_UNIVERSE,
        };
        let flags = if nodad { IFA_F_NODAD } else { 0 };
        let mut hdr = [0u8; IFADDRMSG_LEN];
        hdr[..4].copy_from_slice(&[family.af(), prefix_len, (flags & 0xff) as u8, scope]);
        hdr[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        let bytes = ip_bytes(&addr);
        let mut req = Request::new(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        req.put(&hdr);
        req.attr(IFA_LOCAL, &bytes)?;
        req.attr(IFA_ADDRESS, &bytes)?;
        req.attr(IFA_FLAGS, &flags.to_ne_bytes())?;
        self.request(&mut req)
    }

    /// All IPv4 and IPv6 addresses of interface `ifindex`, in kernel order.
    pub fn addr_dump(&mut self, ifindex: u32) -> io::Result<Vec<AddrEntry>> {
        let hdr = [0u8; IFADDRMSG_LEN]; // AF_UNSPEC: both families
        let msgs = self.dump(RTM_GETADDR, &hdr, RTM_NEWADDR)?;
        Ok(msgs
            .iter()
            .filter_map(|m| parse_addr(m))
            .filter(|a| a.ifindex == ifindex)
            .collect())
    }

    /// Polls (every 10 ms, at most `timeout`) until interface `ifindex` has
    /// an IPv6 address and none of its addresses is tentative, i.e. duplicate
    /// address detection is over; returns whether that happened in time (on
    /// an interface without IPv6 the whole timeout elapses).
    ///
    /// pasta brings the tap up with `IFF_NOARP`, under which the kernel ends
    /// DAD as soon as it starts it. It starts it only once it has seen the
    /// carrier (link watch, measured at ~0.7 s for a fresh tap), and then
    /// also for the link-local address it generated on link up; waiting here
    /// before clearing `IFF_NOARP` makes the result deterministic.
    pub fn wait_dad(&mut self, ifindex: u32, timeout: std::time::Duration) -> io::Result<bool> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let addrs = self.addr_dump(ifindex)?;
            let settled = addrs.iter().all(|a| a.flags & IFA_F_TENTATIVE == 0);
            if settled && addrs.iter().any(|a| matches!(a.addr, IpAddr::V6(_))) {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(settled);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Adds the addresses pasta copies from a template interface (not
    /// deprecated, not link-local; see [`AddrEntry`]) of `family` to
    /// interface `to`, with `IFA_F_NODAD`. Existing addresses count as
    /// copied. Returns how many were copied.
    pub fn addr_copy(&mut self, addrs: &[AddrEntry], family: Family, to: u32) -> io::Result<usize> {
        let mut copied = 0;
        for a in addrs
            .iter()
            .filter(|a| Family::of(&a.addr) == family && copyable(a))
        {
            match self.addr_add(to, a.addr, a.prefix_len, true) {
                Ok(()) => copied += 1,
                Err(e) if errno_is(&e, libc::EEXIST) => copied += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(copied)
    }

    /// Installs `route` (`RTM_NEWROUTE` with create + exclusive): fails
    /// with EEXIST if it is already there, ENETUNREACH if its gateway is not
    /// reachable yet.
    pub fn route_add(&mut self, route: &Route) -> io::Result<()> {
        let mut req = Request::new(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        req.put(&route.rtmsg());
        for (ty, data) in &route.raw_attrs {
            req.attr(*ty, data)?;
        }
        self.request(&mut req)
    }

    /// Adds a default route via `gateway` out of `ifindex` (main table).
    /// The gateway must be reachable on the link (add the address first);
    /// EEXIST if a default route with the same metric exists.
    pub fn route_add_default(&mut self, ifindex: u32, gateway: IpAddr) -> io::Result<()> {
        self.route_add(&Route::default_via(ifindex, gateway))
    }

    /// All routes of `family` in every table.
    fn route_dump_all(&mut self, family: Family) -> io::Result<Vec<Route>> {
        let mut hdr = [0u8; RTMSG_LEN];
        hdr[0] = family.af();
        let msgs = self.dump(RTM_GETROUTE, &hdr, RTM_NEWROUTE)?;
        Ok(msgs
            .iter()
            .filter_map(|m| parse_route(m))
            .filter(|r| r.family == family)
            .collect())
    }

    /// The main-table routes of `family` that use interface `ifindex`
    /// (as output interface or as one of their next hops).
    pub fn route_dump(&mut self, ifindex: u32, family: Family) -> io::Result<Vec<Route>> {
        Ok(self
            .route_dump_all(family)?
            .into_iter()
            .filter(|r| r.table == RT_TABLE_MAIN && r.uses(ifindex))
            .collect())
    }

    /// Installs copies of `routes` (dumped from interface `from`, possibly in
    /// another namespace) on interface `to`; see [`Route::moved_to`] for what
    /// is rewritten and which routes are skipped. Routes may depend on each
    /// other (a gateway reachable only through another copied route), so the
    /// list is retried while it makes progress; EEXIST counts as installed,
    /// ENETUNREACH/EHOSTUNREACH left at the end are skipped, any other error
    /// is returned. Returns how many routes are in place.
    pub fn route_copy(&mut self, routes: &[Route], from: u32, to: u32) -> io::Result<usize> {
        let mut pending: Vec<Route> = routes.iter().filter_map(|r| r.moved_to(from, to)).collect();
        let mut installed = 0;
        while !pending.is_empty() {
            let before = pending.len();
            let mut retry = Vec::new();
            for route in pending {
                match self.route_add(&route) {
                    Ok(()) => installed += 1,
                    Err(e) if errno_is(&e, libc::EEXIST) => installed += 1,
                    Err(e)
                        if errno_is(&e, libc::ENETUNREACH) || errno_is(&e, libc::EHOSTUNREACH) =>
                    {
                        retry.push(route)
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry.len() == before {
                break;
            }
            pending = retry;
        }
        Ok(installed)
    }

    /// The default route pasta would take its template interface and
    /// gateway from: the lowest-metric main-table default route of `family`,
    /// and for a multipath route its highest-weight next hop.
    pub fn default_route_iface(&mut self, family: Family) -> io::Result<Option<DefaultRoute>> {
        Ok(pick_default(&self.route_dump_all(family)?))
    }
}

impl AsFd for Netlink {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends an rtattr (len, type, payload, padding) to `v`.
    fn push_attr(v: &mut Vec<u8>, ty: u16, data: &[u8]) {
        v.extend_from_slice(&((data.len() + 4) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
    }

    /// Wraps `payload` in an nlmsghdr.
    fn message(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((payload.len() + 16) as u32).to_ne_bytes()); // nlmsg_len
        v.extend_from_slice(&ty.to_ne_bytes()); // nlmsg_type
        v.extend_from_slice(&flags.to_ne_bytes()); // nlmsg_flags
        v.extend_from_slice(&seq.to_ne_bytes()); // nlmsg_seq
        v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn request_layout_matches_netlink_7() {
        let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
        req.put(&ifinfomsg(7, IFF_UP, IFF_UP));
        req.attr(IFLA_MTU, &65520u32.to_ne_bytes()).unwrap();
        req.attr(IFLA_IFNAME, b"eth0\0").unwrap();
        let bytes = req.finish(42).unwrap().to_vec();
        // 16 header + 16 ifinfomsg + 8 (MTU) + 12 (4 + "eth0\0" padded to 8)
        assert_eq!(bytes.len(), 52);
        assert_eq!(ne_u32(&bytes, 0), Some(52));
        assert_eq!(ne_u16(&bytes, 4), Some(RTM_NEWLINK));
        assert_eq!(ne_u16(&bytes, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(ne_u32(&bytes, 8), Some(42));
        assert_eq!(ne_u32(&bytes, 16 + 4), Some(7)); // ifi_index
        let a: Vec<_> = attrs(&bytes[32..]).collect();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], (IFLA_MTU, &65520u32.to_ne_bytes()[..]));
        assert_eq!(a[1], (IFLA_IFNAME, &b"eth0\0"[..]));
    }

    #[test]
    fn error_and_done_messages_split() {
        let mut buf = message(NLMSG_ERROR, 0, 9, &(-17i32).to_ne_bytes());
        buf.extend(message(NLMSG_DONE, 2, 9, &0i32.to_ne_bytes()));
        let msgs = parse_messages(&buf).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].0.ty, NLMSG_ERROR);
        assert_eq!(ne_u32(msgs[0].1, 0).map(|e| e as i32), Some(-17));
        assert_eq!(
            msgs[1].0,
            NlHdr {
                ty: NLMSG_DONE,
                flags: 2,
                seq: 9
            }
        );
    }

    #[test]
    fn bad_message_lengths_are_errors_not_panics() {
        // nlmsg_len smaller than the header.
        let mut buf = message(NLMSG_DONE, 0, 1, &[]);
        buf[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(parse_messages(&buf).is_err());
        // nlmsg_len past the end of the datagram.
        let mut buf = message(NLMSG_DONE, 0, 1, &[0; 4]);
        buf[0..4].copy_from_slice(&100u32.to_ne_bytes());
        assert!(parse_messages(&buf).is_err());
        // Truncated header.
        assert!(parse_messages(&[1, 0, 0]).is_err());
    }

    #[test]
    fn malformed_attributes_stop_iteration() {
        let mut v = Vec::new();
        push_attr(&mut v, IFLA_MTU, &1500u32.to_ne_bytes());
        v.extend_from_slice(&[2, 0, 3, 0]); // rta_len 2 < 4: malformed
        push_attr(&mut v, IFLA_MTU, &9000u32.to_ne_bytes());
        let a: Vec<_> = attrs(&v).collect();
        assert_eq!(a, vec![(IFLA_MTU, &1500u32.to_ne_bytes()[..])]);
        // Length running past the buffer.
        assert_eq!(attrs(&[200, 0, 1, 0, 0, 0]).count(), 0);
    }

    /// An RTM_NEWADDR payload as the kernel sends it for
    /// `2001:db8::2/64 nodad` on ifindex 3.
    fn addr_payload() -> Vec<u8> {
        let mut p = vec![AF_INET6, 64, IFA_F_NODAD as u8, RT_SCOPE_UNIVERSE];
        p.extend_from_slice(&3u32.to_ne_bytes()); // ifa_index
        let a: Ipv6Addr = "2001:db8::2".parse().unwrap();
        push_attr(&mut p, IFA_ADDRESS, &a.octets());
        push_attr(&mut p, 6, &[0; 16]); // IFA_CACHEINFO, ignored
        push_attr(
            &mut p,
            IFA_FLAGS,
            &(IFA_F_NODAD | IFA_F_PERMANENT).to_ne_bytes(),
        );
        p
    }

    #[test]
    fn addr_message_parses() {
        let e = parse_addr(&addr_payload()).unwrap();
        assert_eq!(
            e,
            AddrEntry {
                ifindex: 3,
                addr: "2001:db8::2".parse().unwrap(),
                prefix_len: 64,
                flags: IFA_F_NODAD | IFA_F_PERMANENT,
                scope: RT_SCOPE_UNIVERSE,
            }
        );
        assert!(copyable(&e));
        let ll = AddrEntry {
            addr: "fe80::1".parse().unwrap(),
            scope: RT_SCOPE_LINK,
            ..e
        };
        assert!(!copyable(&ll));
        let deprecated = AddrEntry {
            flags: IFA_F_DEPRECATED,
            ..e
        };
        assert!(!copyable(&deprecated));
    }

    /// An RTM_NEWROUTE payload: IPv4 default route in table main with a
    /// two-hop multipath: via 203.0.113.1 dev 4 weight 1, via 203.0.113.2
    /// dev 4 weight 5; plus a PREFSRC.
    fn multipath_payload() -> Vec<u8> {
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type
        let mut p = vec![AF_INET, 0, 0, 0, 254, RTPROT_BOOT, 0, RTN_UNICAST];
        p.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
        push_attr(&mut p, RTA_TABLE, &254u32.to_ne_bytes());
        push_attr(&mut p, RTA_PREFSRC, &[203, 0, 113, 5]);
        let mut mp = Vec::new();
        for (gw, hops) in [([203, 0, 113, 1], 0u8), ([203, 0, 113, 2], 4u8)] {
            // rtnexthop: len (8 + 8 for the gateway attr), flags, hops, ifindex
            mp.extend_from_slice(&16u16.to_ne_bytes());
            mp.push(0);
            mp.push(hops);
            mp.extend_from_slice(&4u32.to_ne_bytes());
            push_attr(&mut mp, RTA_GATEWAY, &gw);
        }
        push_attr(&mut p, RTA_MULTIPATH, &mp);
        p
    }

    #[test]
    fn multipath_default_route_picks_heaviest_hop() {
        let r = parse_route(&multipath_payload()).unwrap();
        assert_eq!(r.family, Family::V4);
        assert_eq!(r.table, RT_TABLE_MAIN);
        assert_eq!(r.oif, None);
        assert_eq!(r.nexthops.len(), 2);
        assert_eq!(r.nexthops[1].weight, 5);
        let d = pick_default(std::slice::from_ref(&r)).unwrap();
        assert_eq!(
            d,
            DefaultRoute {
                ifindex: 4,
                gateway: Some("203.0.113.2".parse().unwrap()),
            }
        );
    }

    #[test]
    fn lowest_metric_default_wins() {
        let mut a = Route::default_via(2, "198.51.100.1".parse().unwrap());
        a.priority = Some(100);
        let mut b = Route::default_via(3, "203.0.113.1".parse().unwrap());
        b.priority = Some(50);
        let d = pick_default(&[a.clone(), b]).unwrap();
        assert_eq!(d.ifindex, 3);
        // A non-default route is never the template.
        a.dst_len = 24;
        assert_eq!(pick_default(&[a]), None);
    }

    #[test]
    fn moving_a_route_rewrites_interfaces_and_strips_prefsrc() {
        let r = parse_route(&multipath_payload()).unwrap();
        let moved = r.moved_to(4, 9).unwrap();
        assert!(moved.nexthops.iter().all(|h| h.ifindex == 9));
        assert!(!moved.raw_attrs.iter().any(|(t, _)| *t == RTA_PREFSRC));
        let (_, mp) = moved
            .raw_attrs
            .iter()
            .find(|(t, _)| *t == RTA_MULTIPATH)
            .unwrap();
        let hops = parse_nexthops(Family::V4, mp);
        assert_eq!(hops.len(), 2);
        assert!(hops.iter().all(|h| h.ifindex == 9));
        assert_eq!(hops[0].gateway, Some("203.0.113.1".parse().unwrap()));
        // A hop on another interface: not copied.
        assert_eq!(r.moved_to(5, 9), None);
        let single = Route::default_via(4, "203.0.113.1".parse().unwrap());
        assert_eq!(single.moved_to(4, 9).unwrap().oif, Some(9));
        assert_eq!(single.moved_to(3, 9), None);
    }

    #[test]
    fn link_message_parses() {
        let mut p = ifinfomsg(5, IFF_UP | IFF_LOWER_UP, 0).to_vec();
        push_attr(&mut p, IFLA_IFNAME, b"tap0\0");
        push_attr(&mut p, IFLA_MTU, &65520u32.to_ne_bytes());
        push_attr(&mut p, IFLA_ADDRESS, &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        let l = parse_link(&p).unwrap();
        assert_eq!(l.index, 5);
        assert_eq!(l.name, "tap0");
        assert_eq!(l.mtu, Some(65520));
        assert_eq!(l.mac, Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!(l.flags & IFF_UP, IFF_UP);
    }

    #[test]
    fn truncated_inputs_never_panic() {
        let payloads = [addr_payload(), multipath_payload()];
        for p in &payloads {
            for cut in 0..=p.len() {
                let s = &p[..cut];
                let _ = parse_addr(s);
                let _ = parse_route(s);
                let _ = parse_link(s);
                let _ = parse_nexthops(Family::V6, s);
                let _ = retarget_nexthops(s, 4, 9);
                let _ = parse_messages(s);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_messages(&bytes);
            let _ = parse_addr(&bytes);
            let _ = parse_link(&bytes);
            let _ = parse_nexthops(Family::V4, &bytes);
            let _ = retarget_nexthops(&bytes, 1, 2);
            if let Some(r) = parse_route(&bytes) {
                let _ = r.moved_to(1, 2);
                let _ = pick_default(&[r]);
            }
            let _ = attrs(&bytes).count();
        }
    }
}
