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
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

mod msg;
pub mod sock_diag;
use msg::*;
pub use msg::{
    AddrEntry, DefaultRoute, Family, LinkInfo, NextHop, Route, AF_INET, AF_INET6, IFA_F_DADFAILED,
    IFA_F_DEPRECATED, IFA_F_NODAD, IFA_F_PERMANENT, IFA_F_TENTATIVE, IFF_LOOPBACK, IFF_LOWER_UP,
    IFF_NOARP, IFF_UP, RTN_UNICAST, RTPROT_BOOT, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
};

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
    /// ENETUNREACH/EHOSTUNREACH left at the end are skipped. EINVAL is retried
    /// too, after a short wait when nothing else progresses (a full lab run once
    /// failed pasta's start-up on it; the same test passed on each rerun), and is
    /// returned if it persists for half a second; any other
    /// error is returned. Returns how many routes are in place.
    pub fn route_copy(&mut self, routes: &[Route], from: u32, to: u32) -> io::Result<usize> {
        const EINVAL_ROUNDS: usize = 10;
        let mut pending: Vec<Route> = routes.iter().filter_map(|r| r.moved_to(from, to)).collect();
        let mut installed = 0;
        let mut einval_rounds = 0;
        while !pending.is_empty() {
            let before = pending.len();
            let mut retry = Vec::new();
            let mut invalid = None;
            for route in pending {
                match self.route_add(&route) {
                    Ok(()) => installed += 1,
                    Err(e) if errno_is(&e, libc::EEXIST) => installed += 1,
                    Err(e)
                        if errno_is(&e, libc::ENETUNREACH) || errno_is(&e, libc::EHOSTUNREACH) =>
                    {
                        retry.push(route)
                    }
                    Err(e) if errno_is(&e, libc::EINVAL) => {
                        invalid = Some(e);
                        retry.push(route)
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry.len() == before {
                match invalid {
                    Some(e) if einval_rounds >= EINVAL_ROUNDS => return Err(e),
                    Some(_) => {
                        einval_rounds += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    None => break,
                }
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
mod tests;
