//! Listening TCP ports of a network namespace from `NETLINK_SOCK_DIAG`
//! (sock_diag(7)), for `auto` forwarding.
//!
//! `/proc/net/tcp` makes the kernel walk its whole established-connection hash (262 144
//! buckets on a 24 GiB machine, every namespace's connections in it) on each read:
//! about 20 ms per file here, and `auto` reads them every second. A dump asking for
//! `TCP_LISTEN` sockets only walks the listening hash. The socket is opened once in the
//! namespace it describes and asked again on every scan, into a fixed buffer: no
//! allocation in the event loop.

use super::msg::{
    messages, ne_u32, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_REQUEST,
};
use passt_core::fwd::PortSet;
use rustix::net::{AddressFamily, RecvFlags, SendFlags};
use std::io;
use std::os::fd::OwnedFd;

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCP_LISTEN` (include/net/tcp_states.h).
const TCP_LISTEN: u8 = 10;
/// `struct inet_diag_req_v2`: family, protocol, extensions, pad, states, then a
/// 48-byte `inet_diag_sockid`.
const REQUEST_LEN: usize = 8 + 48;
/// `struct inet_diag_msg` up to and including the source port of its socket id.
const MSG_SPORT_AT: usize = 4;
/// Receive buffer: sock_diag sends up to about 32 KiB per datagram.
const BUFFER: usize = 64 * 1024;
/// Datagrams read per dump at most (each holds a couple of hundred listeners), so a
/// misbehaving kernel cannot keep the event loop here.
const MAX_DATAGRAMS: usize = 1024;

/// A `NETLINK_SOCK_DIAG` socket of one namespace and its receive buffer.
pub struct TcpListeners {
    fd: OwnedFd,
    buf: Box<[u8]>,
    seq: u32,
}

impl TcpListeners {
    /// Use `fd`, a `NETLINK_SOCK_DIAG` datagram socket opened in the namespace to
    /// describe (see [`TcpListeners::socket_here`]).
    pub fn new(fd: OwnedFd) -> TcpListeners {
        TcpListeners {
            fd,
            buf: vec![0u8; BUFFER].into_boxed_slice(),
            seq: 0,
        }
    }

    /// Open a `NETLINK_SOCK_DIAG` socket in the calling thread's namespace,
    /// non-blocking: the kernel answers a dump as it is asked and read, so a receive
    /// that would wait means something is wrong, and the event loop must not wait.
    pub fn socket_here() -> io::Result<OwnedFd> {
        Ok(rustix::net::socket_with(
            AddressFamily::NETLINK,
            rustix::net::SocketType::DGRAM,
            rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK,
            Some(rustix::net::netlink::SOCK_DIAG),
        )?)
    }

    /// Add the ports of every listening TCP socket, IPv4 and IPv6, to `out`.
    pub fn scan(&mut self, out: &mut PortSet) -> io::Result<()> {
        for family in [AddressFamily::INET, AddressFamily::INET6] {
            self.dump(family, out)?;
        }
        Ok(())
    }

    fn dump(&mut self, family: AddressFamily, out: &mut PortSet) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let request = request(family, self.seq);
        rustix::net::send(&self.fd, &request, SendFlags::empty())?;
        for _ in 0..MAX_DATAGRAMS {
            let (n, _) = loop {
                match rustix::net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                    Err(rustix::io::Errno::INTR) => continue,
                    r => break r?,
                }
            };
            if parse(&self.buf[..n.min(BUFFER)], self.seq, out)? {
                return Ok(());
            }
        }
        Err(io::Error::other("sock_diag: dump did not end"))
    }
}

/// The dump request for listening TCP sockets of `family` (sock_diag(7),
/// `inet_diag_req_v2` with `idiag_states` = `1 << TCP_LISTEN`).
fn request(family: AddressFamily, seq: u32) -> [u8; NLMSG_HDRLEN + REQUEST_LEN] {
    let mut m = [0u8; NLMSG_HDRLEN + REQUEST_LEN];
    m[0..4].copy_from_slice(&((NLMSG_HDRLEN + REQUEST_LEN) as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    let r = &mut m[NLMSG_HDRLEN..];
    r[0] = family.as_raw() as u8;
    r[1] = 6; // IPPROTO_TCP
    r[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    m
}

/// Add the listeners in one datagram of the dump answering `seq` to `out`; whether
/// the dump ended.
fn parse(datagram: &[u8], seq: u32, out: &mut PortSet) -> io::Result<bool> {
    for m in messages(datagram) {
        let (hdr, payload) = m?;
        if hdr.seq != seq {
            continue; // left over from a dump we gave up on
        }
        match hdr.ty {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let err = ne_u32(payload, 0).map_or(0, |e| e as i32);
                return Err(io::Error::from_raw_os_error(err.checked_neg().unwrap_or(5)));
            }
            SOCK_DIAG_BY_FAMILY => {
                let state = payload.get(1).copied();
                let port = payload
                    .get(MSG_SPORT_AT..MSG_SPORT_AT + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]));
                if let (Some(TCP_LISTEN), Some(port)) = (state, port) {
                    if port != 0 {
                        out.insert(port);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `inet_diag_msg` message for a socket in `state` on `port`.
    fn diag_msg(seq: u32, state: u8, port: u16) -> Vec<u8> {
        let mut payload = vec![0u8; 72];
        payload[0] = 2;
        payload[1] = state;
        payload[4..6].copy_from_slice(&port.to_be_bytes());
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&payload);
        m
    }

    fn done(seq: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m
    }

    #[test]
    fn listeners_of_this_dump_only() {
        let mut d = diag_msg(7, TCP_LISTEN, 8080);
        d.extend(diag_msg(7, 1, 443)); // established: not a listener
        d.extend(diag_msg(6, TCP_LISTEN, 22)); // an older dump's
        d.extend(diag_msg(7, TCP_LISTEN, 0));
        let mut s = PortSet::new();
        assert!(!parse(&d, 7, &mut s).unwrap());
        assert!(parse(&done(7), 7, &mut s).unwrap());
        assert_eq!(s.iter().collect::<Vec<_>>(), [8080]);
        // A length pointing past the end is an error, not a panic.
        let mut bad = diag_msg(7, TCP_LISTEN, 1);
        bad[0] = 0xff;
        assert!(parse(&bad, 7, &mut s).is_err());
    }

    /// Against this namespace's kernel: a listener shows up, a bound but not
    /// listening socket does not.
    #[test]
    fn scan_finds_a_listener_of_this_namespace() {
        let Ok(fd) = TcpListeners::socket_here() else {
            return; // no sock_diag here (module missing): procfs serves instead
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bound = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut scanner = TcpListeners::new(fd);
        let mut s = PortSet::new();
        scanner.scan(&mut s).unwrap();
        assert!(
            s.contains(port),
            "{port} not among {:?}",
            s.iter().collect::<Vec<_>>()
        );
        assert!(!s.contains(bound.local_addr().unwrap().port()));
        drop(listener);
        let mut s = PortSet::new();
        scanner.scan(&mut s).unwrap();
        assert!(!s.contains(port), "gone once closed");
    }
}
