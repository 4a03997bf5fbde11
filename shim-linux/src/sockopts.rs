//! Socket options the command line sets on host sockets (passt-reference §1.2, §3
//! step 6):
//!
//! - `-o/--outbound ADDR`: outbound sockets (connections, UDP flows and ping sockets
//!   the guest's traffic opens) get `ADDR` as their source: an engine bind to the
//!   unspecified address becomes a bind to it, and a socket connecting (or, for ping
//!   sockets, sending its first datagram) unbound is bound to it first.
//! - `--outbound-if4/6 NAME`: outbound sockets to a non-loopback destination are
//!   bound to that interface (`SO_BINDTOIFINDEX`, the index form of
//!   `SO_BINDTODEVICE`), so their traffic leaves through it whatever the routes
//!   prefer. Loopback destinations (pasta's `-T`, the host-loopback stand-in) are
//!   left alone: they would be unreachable through another device.
//! - `--freebind`: `-t`/`-u` listeners may bind an address not configured (yet)
//!   (`IP_FREEBIND`, `IPV6_FREEBIND`).
//!
//! Only sockets the engine opens in the host namespace for the guest's traffic count
//! as outbound: not listeners, not accepted connections, not sockets inside the
//! namespace.

use rustix::net;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::path::Path;

/// What the command line asked for; the default changes nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketPolicy {
    /// `-o` for IPv4.
    pub outbound_v4: Option<Ipv4Addr>,
    /// `-o` for IPv6.
    pub outbound_v6: Option<Ipv6Addr>,
    /// `--outbound-if4`, as an interface index.
    pub outbound_if4: Option<u32>,
    /// `--outbound-if6`, as an interface index.
    pub outbound_if6: Option<u32>,
    /// `--freebind`.
    pub freebind: bool,
}

impl SocketPolicy {
    /// The address to bind when the engine asks for `addr`: for an outbound socket,
    /// the unspecified address of a family with `-o` becomes that address (the port
    /// is kept: UDP flows keep the guest's source port).
    pub fn bind_addr(&self, outbound: bool, addr: SocketAddr) -> SocketAddr {
        if !outbound || !addr.ip().is_unspecified() {
            return addr;
        }
        match self.source_for(addr.ip()) {
            Some(src) => SocketAddr::new(src, addr.port()),
            None => addr,
        }
    }

    /// Before binding a listener: `--freebind`.
    pub fn before_listener_bind(&self, fd: BorrowedFd<'_>, addr: SocketAddr) {
        if self.freebind {
            let _ = match addr {
                SocketAddr::V4(_) => net::sockopt::set_ip_freebind(fd, true),
                SocketAddr::V6(_) => net::sockopt::set_ipv6_freebind(fd, true),
            };
        }
    }

    /// Before an outbound socket connects to `dest`: bind it to `-o`'s address if the
    /// engine left it unbound, and to `--outbound-if4/6`'s interface, unless `dest`
    /// is a loopback address.
    pub fn before_connect(
        &self,
        fd: BorrowedFd<'_>,
        bound: bool,
        dest: SocketAddr,
    ) -> io::Result<()> {
        let ip = canonical(dest.ip());
        if ip.is_loopback() {
            return Ok(());
        }
        if !bound {
            if let Some(src) = self.source_for(ip) {
                let src = match (src, dest.ip()) {
                    // An IPv6 socket reaching an IPv4-mapped destination.
                    (IpAddr::V4(a), IpAddr::V6(_)) => IpAddr::V6(a.to_ipv6_mapped()),
                    (s, _) => s,
                };
                net::bind(fd, &SocketAddr::new(src, 0))?;
            }
        }
        let index = match ip {
            IpAddr::V4(_) => self.outbound_if4,
            IpAddr::V6(_) => self.outbound_if6,
        };
        if let Some(index) = index {
            crate::sys::set_bind_to_ifindex(fd, index)?;
        }
        Ok(())
    }

    fn source_for(&self, like: IpAddr) -> Option<IpAddr> {
        match canonical(like) {
            IpAddr::V4(_) => self.outbound_v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.outbound_v6.map(IpAddr::V6),
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// The index of interface `name` (`/sys/class/net/NAME/ifindex`), read at start-up.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let path = Path::new("/sys/class/net").join(name).join("ifindex");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("interface {name}: {e}")))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::other(format!("interface {name}: bad ifindex")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn outbound_binds_take_the_o_address_and_keep_the_port() {
        let p = SocketPolicy {
            outbound_v4: Some("198.51.100.3".parse().unwrap()),
            ..SocketPolicy::default()
        };
        assert_eq!(
            p.bind_addr(true, sa("0.0.0.0:5353")),
            sa("198.51.100.3:5353")
        );
        assert_eq!(p.bind_addr(false, sa("0.0.0.0:80")), sa("0.0.0.0:80"));
        assert_eq!(
            p.bind_addr(true, sa("[::]:5353")),
            sa("[::]:5353"),
            "no -o for IPv6"
        );
        assert_eq!(
            p.bind_addr(true, sa("127.0.0.1:9")),
            sa("127.0.0.1:9"),
            "explicit addresses stay"
        );
    }

    #[test]
    fn the_loopback_interface_has_an_index() {
        assert_eq!(ifindex("lo").unwrap(), 1);
        assert!(ifindex("no-such-if0").is_err());
    }
}
