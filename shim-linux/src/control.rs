//! The control socket (`-c PATH`): forwards added and removed while pasta runs, by
//! our `pesto` client (`doc/control-socket.md` describes the protocol and why it is
//! ours rather than upstream pesto's).
//!
//! A UNIX stream socket, mode 0600. On connection the server sends [`HELLO`]; the
//! client then sends request lines (at most [`MAX_LINE`] bytes each):
//!
//! ```text
//! add t|T|u|U SPEC     delete t|T|u|U SPEC     clear t|T|u|U     show
//! ```
//!
//! and gets, per request, `ok N` (sockets opened / ranges removed) or `error TEXT`,
//! preceded for `show` by one line per forwarded range. SPEC is pasta's `-t` grammar
//! with an explicit port list, plus podman's target address form
//! `HOST/PORTS:TARGET/TPORTS` (a host address is then required, IPv6 ones may be
//! bracketed). A change is all or nothing (`passt_core::fwd::runtime`).
//!
//! Everything runs in the event loop without allocating: one client at a time (a
//! second one is told `error busy` and closed), fixed buffers, a deadline of
//! [`CLIENT_TIMEOUT`] per connection so a stalled client can't hold the socket.

use crate::event_loop::{now, WAKE_TOKEN};
use crate::host::LinuxHost;
use passt_core::fwd::runtime::ChangeError;
use passt_core::fwd::spec::Spec;
use passt_core::fwd::{PortForwards, PortRange};
use passt_core::tcp::Direction;
use passt_core::{Engine, HostError, Instant, Transport};
use rustix::event::epoll;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

/// First line the server sends: protocol name and version.
pub const HELLO: &str = "passt-rs-control 1";
/// Longest request line, newline excluded.
pub const MAX_LINE: usize = 512;
/// How long one client connection may last.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// One request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// `add t|T SPEC`.
    Add(Transport, Direction, &'a str),
    /// `delete t|T SPEC`.
    Delete(Transport, Direction, &'a str),
    /// `clear t|T`: remove every range.
    Clear(Transport, Direction),
    /// `show`.
    Show,
}

impl<'a> Request<'a> {
    /// Parse a request line (without its newline).
    pub fn parse(line: &'a str) -> Result<Request<'a>, &'static str> {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let verb = words.next().ok_or("empty request")?;
        if verb == "show" {
            return match words.next() {
                None => Ok(Request::Show),
                Some(_) => Err("'show' takes no argument"),
            };
        }
        let option = words.next().ok_or("missing option (t, T, u or U)")?;
        let (transport, direction) = match option {
            "t" => (Transport::Tcp, Direction::Inbound),
            "T" => (Transport::Tcp, Direction::Outbound),
            "u" => (Transport::Udp, Direction::Inbound),
            "U" => (Transport::Udp, Direction::Outbound),
            _ => return Err("unknown option (t, T, u or U)"),
        };
        if verb == "clear" {
            return match words.next() {
                None => Ok(Request::Clear(transport, direction)),
                Some(_) => Err("'clear' takes only the option"),
            };
        }
        let spec = words.next().ok_or("missing port specifier")?;
        if words.next().is_some() {
            return Err("one port specifier per request");
        }
        match verb {
            "add" => Ok(Request::Add(transport, direction, spec)),
            "delete" => Ok(Request::Delete(transport, direction, spec)),
            _ => Err("unknown request (add, delete, clear or show)"),
        }
    }
}

/// Split podman's `HOST/PORTS:TARGET/TPORTS` into pasta's `HOST/PORTS:TPORTS`
/// (written to `buf`) and the target address. A spec with one `/` or none has no
/// target and is returned as is.
pub fn strip_target<'b>(
    spec: &'b str,
    buf: &'b mut [u8; MAX_LINE],
) -> Result<(&'b str, Option<IpAddr>), &'static str> {
    if spec.matches('/').count() < 2 {
        return Ok((spec, None));
    }
    const BAD: &str = "expected HOST/PORTS:TARGET/PORTS";
    let (host, rest) = spec.split_once('/').ok_or(BAD)?;
    let (ports, target) = rest.split_once(':').ok_or(BAD)?;
    let (addr, to_ports) = target.rsplit_once('/').ok_or(BAD)?;
    let addr = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let addr: IpAddr = addr.parse().map_err(|_| "bad target address")?;
    let mut w = io::Cursor::new(&mut buf[..]);
    write!(w, "{host}/{ports}:{to_ports}").map_err(|_| "port specifier too long")?;
    let len = w.position() as usize;
    let text = std::str::from_utf8(&buf[..len]).map_err(|_| BAD)?;
    Ok((text, Some(addr)))
}

/// The listening control socket and its one client.
pub struct ControlServer {
    listener: UnixListener,
    client: Option<Client>,
    /// Ranges of the request being applied (preallocated: a table is ~5 KiB).
    scratch: Box<PortForwards>,
}

struct Client {
    stream: UnixStream,
    buf: [u8; MAX_LINE + 1],
    len: usize,
    deadline: Instant,
}

impl ControlServer {
    /// Listen at `path` (a stale socket there is replaced; any other file is an
    /// error), readable and writable by our user only.
    pub fn bind(path: &Path) -> io::Result<ControlServer> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "file exists and is not a socket",
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            listener,
            client: None,
            scratch: Box::default(),
        })
    }

    /// The descriptor to wake the loop on (new connections).
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Something woke the loop: take a new connection, serve the client's requests.
    pub fn poll<G: crate::event_loop::GuestSource>(
        &mut self,
        engine: &mut Engine<'_>,
        host: &mut LinuxHost<G>,
    ) {
        self.accept(host);
        self.serve(engine, host);
    }

    /// End a client that has outlived [`CLIENT_TIMEOUT`]; call about once a second.
    pub fn expire<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        if self.client.as_ref().is_some_and(|c| now() >= c.deadline) {
            crate::log_debug!("Control client timed out");
            self.drop_client(host);
        }
    }

    fn accept<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        // Bounded: level-triggered wakeups bring us back for the rest.
        for _ in 0..8 {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(_) => return,
            };
            if !peer_allowed(&stream) {
                crate::log_warn!("Control connection from another user refused");
                continue;
            }
            if self.client.is_some() {
                let _ = (&stream).write_all(b"error busy: another client is connected\n");
                continue;
            }
            let registered = stream.set_nonblocking(true).is_ok()
                && (&stream).write_all(HELLO.as_bytes()).is_ok()
                && (&stream).write_all(b"\n").is_ok()
                && epoll::add(
                    host.epoll(),
                    &stream,
                    epoll::EventData::new_u64(WAKE_TOKEN),
                    epoll::EventFlags::IN | epoll::EventFlags::RDHUP,
                )
                .is_ok();
            if registered {
                self.client = Some(Client {
                    stream,
                    buf: [0; MAX_LINE + 1],
                    len: 0,
                    deadline: now() + CLIENT_TIMEOUT,
                });
            }
        }
    }

    fn serve<G: crate::event_loop::GuestSource>(
        &mut self,
        engine: &mut Engine<'_>,
        host: &mut LinuxHost<G>,
    ) {
        let Some(c) = self.client.as_mut() else {
            return;
        };
        let mut done = false;
        loop {
            if c.len == c.buf.len() {
                let _ = (&c.stream).write_all(b"error request line too long\n");
                done = true;
                break;
            }
            match (&c.stream).read(&mut c.buf[c.len..]) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => c.len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    done = true;
                    break;
                }
            }
            while let Some(nl) = c.buf[..c.len].iter().position(|&b| b == b'\n') {
                let mut reply = [0u8; 256];
                let mut out = io::Cursor::new(&mut reply[..]);
                match std::str::from_utf8(&c.buf[..nl]) {
                    Ok(line) => {
                        let line = line.trim_end_matches('\r');
                        handle(line, &mut self.scratch, engine, host, &c.stream, &mut out);
                    }
                    Err(_) => {
                        let _ = writeln!(out, "error request is not UTF-8");
                    }
                }
                let n = out.position() as usize;
                if (&c.stream).write_all(&reply[..n]).is_err() {
                    done = true;
                }
                c.buf.copy_within(nl + 1..c.len, 0);
                c.len -= nl + 1;
            }
            if done {
                break;
            }
        }
        if done {
            self.drop_client(host);
        }
    }

    fn drop_client<G: crate::event_loop::GuestSource>(&mut self, host: &mut LinuxHost<G>) {
        if let Some(c) = self.client.take() {
            let _ = epoll::delete(host.epoll(), &c.stream);
        }
    }
}

/// Only our own user (or root) may change forwards.
fn peer_allowed(stream: &UnixStream) -> bool {
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) => {
            let uid = cred.uid.as_raw();
            uid == 0 || uid == rustix::process::geteuid().as_raw()
        }
        Err(_) => false,
    }
}

/// Apply one request line; the final `ok`/`error` line goes to `out`, `show`'s range
/// lines straight to `stream`.
fn handle<G: crate::event_loop::GuestSource>(
    line: &str,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
    stream: &UnixStream,
    out: &mut io::Cursor<&mut [u8]>,
) {
    let result = match Request::parse(line) {
        Err(e) => Err(e),
        Ok(Request::Show) => {
            show(engine, stream);
            Ok(0)
        }
        Ok(Request::Add(t, d, spec)) => change(true, t, d, spec, scratch, engine, host, out),
        Ok(Request::Delete(t, d, spec)) => change(false, t, d, spec, scratch, engine, host, out),
        Ok(Request::Clear(t, d)) => clear(t, d, scratch, engine, host),
    };
    match result {
        Ok(n) => {
            let _ = writeln!(out, "ok {n}");
        }
        Err(e) => {
            // `change` may already have written the error's text.
            if out.position() == 0 {
                let _ = writeln!(out, "error {e}");
            }
        }
    }
}

/// Add or remove the ranges of `spec`.
#[allow(clippy::too_many_arguments)]
fn change<G: crate::event_loop::GuestSource>(
    add: bool,
    transport: Transport,
    direction: Direction,
    spec: &str,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
    out: &mut io::Cursor<&mut [u8]>,
) -> Result<usize, &'static str> {
    let mut buf = [0u8; MAX_LINE];
    let (spec_text, target) = strip_target(spec, &mut buf)?;
    let parsed = match Spec::parse(spec_text) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "error bad port specifier '{spec}': {e}");
            return Err("bad port specifier");
        }
    };
    if !matches!(parsed, Spec::Ranges { .. }) || parsed.is_best_effort() {
        return Err("only explicit port lists can change at run time");
    }
    scratch.ranges.clear();
    if let Err(e) = parsed.add_to(scratch, None) {
        let _ = writeln!(out, "error bad port specifier '{spec}': {e}");
        return Err("bad port specifier");
    }
    let option = option_letter(transport, direction);
    let result = if add {
        engine.add_forwards(transport, direction, scratch, target, host)
    } else {
        engine.remove_forwards(transport, direction, scratch, host)
    };
    match result {
        Ok(n) => {
            let verb = if add { "Added" } else { "Removed" };
            crate::log_info!("{verb} forward '-{option} {spec}' (control socket)");
            Ok(n)
        }
        Err(ChangeError::Bind(e)) => {
            let _ = writeln!(
                out,
                "error Failed to bind port {} ({}) for option '-{option} {spec}'",
                e.port,
                error_text(e.error)
            );
            crate::log_warn!(
                "Control: can't add '-{option} {spec}': port {} {}",
                e.port,
                error_text(e.error)
            );
            Err("bind failed")
        }
        Err(ChangeError::TableFull) => Err("too many forwarded ranges"),
        Err(ChangeError::NotFound(r)) => {
            let _ = write!(out, "error not forwarded: ");
            let _ = write_range(out, &r, None);
            let _ = writeln!(out);
            Err("not forwarded")
        }
        Err(ChangeError::Unsupported) => Err("these forwards can't change at run time"),
    }
}

/// Remove every range of `transport`/`direction`.
fn clear<G: crate::event_loop::GuestSource>(
    transport: Transport,
    direction: Direction,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut LinuxHost<G>,
) -> Result<usize, &'static str> {
    scratch.ranges.clear();
    if let Some((table, _)) = engine.forwards(transport, direction) {
        for r in table.ranges.iter().filter(|r| !r.is_vacant()) {
            let _ = scratch.ranges.push(r.clone());
        }
    }
    match engine.remove_forwards(transport, direction, scratch, host) {
        Ok(n) => {
            let option = option_letter(transport, direction);
            crate::log_info!("Cleared the '-{option}' forwards (control socket)");
            Ok(n)
        }
        Err(_) => Err("these forwards can't change at run time"),
    }
}

fn option_letter(transport: Transport, direction: Direction) -> char {
    match (transport, direction) {
        (Transport::Udp, Direction::Inbound) => 'u',
        (Transport::Udp, Direction::Outbound) => 'U',
        (_, Direction::Inbound) => 't',
        (_, Direction::Outbound) => 'T',
    }
}

/// `show`: one line per forwarded range, `-t`'s, `-T`'s, `-u`'s then `-U`'s.
fn show(engine: &Engine<'_>, stream: &UnixStream) {
    let tables = [Transport::Tcp, Transport::Udp]
        .into_iter()
        .flat_map(|t| [(t, Direction::Inbound), (t, Direction::Outbound)]);
    for (transport, direction) in tables {
        let Some((table, targets)) = engine.forwards(transport, direction) else {
            continue;
        };
        for (i, r) in table.ranges.iter().enumerate() {
            if r.is_vacant() {
                continue;
            }
            let mut line = [0u8; 160];
            let mut w = io::Cursor::new(&mut line[..]);
            let _ = write!(w, "-{} ", option_letter(transport, direction));
            let _ = write_range(&mut w, r, targets.get(i).copied().flatten());
            let _ = writeln!(w);
            let n = w.position() as usize;
            let _ = (&*stream).write_all(&line[..n]);
        }
    }
}

/// A range in the request grammar: `[HOST/]FIRST[-LAST]:TO[-TOLAST]`, with the target
/// address when there is one.
fn write_range(w: &mut impl Write, r: &PortRange, to: Option<IpAddr>) -> io::Result<()> {
    match r.bind_addr {
        Some(IpAddr::V6(a)) => write!(w, "[{a}]/")?,
        Some(a) => write!(w, "{a}/")?,
        None => {}
    }
    let (to_first, to_last) = (r.map(r.first), r.map(r.last));
    if r.first == r.last {
        write!(w, "{}:", r.first)?;
    } else {
        write!(w, "{}-{}:", r.first, r.last)?;
    }
    match to {
        Some(IpAddr::V6(a)) => write!(w, "[{a}]/")?,
        Some(a) => write!(w, "{a}/")?,
        None => {}
    }
    if to_first == to_last {
        write!(w, "{to_first}")
    } else {
        write!(w, "{to_first}-{to_last}")
    }
}

/// strerror() text for the bind errors a user meets, without allocating.
fn error_text(e: HostError) -> &'static str {
    match e {
        HostError::AddrInUse => "Address already in use",
        HostError::AddrNotAvailable => "Cannot assign requested address",
        HostError::PermissionDenied => "Permission denied",
        HostError::TooManyFiles => "Too many open files",
        _ => "Input/output error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_with_their_option_and_spec() {
        assert_eq!(
            Request::parse("add t 0.0.0.0/8080:10.88.0.5/80"),
            Ok(Request::Add(
                Transport::Tcp,
                Direction::Inbound,
                "0.0.0.0/8080:10.88.0.5/80"
            ))
        );
        assert_eq!(
            Request::parse("delete T 5201"),
            Ok(Request::Delete(Transport::Tcp, Direction::Outbound, "5201"))
        );
        assert_eq!(Request::parse("show"), Ok(Request::Show));
        assert_eq!(
            Request::parse("clear T"),
            Ok(Request::Clear(Transport::Tcp, Direction::Outbound))
        );
        assert!(Request::parse("clear t 80").is_err());
        assert!(Request::parse("").is_err());
        assert!(Request::parse("add x 80").is_err());
        assert!(Request::parse("add t").is_err());
        assert!(Request::parse("add t 80 81").is_err());
        assert!(Request::parse("frobnicate t 80").is_err());
    }

    #[test]
    fn podmans_target_address_form_splits_into_pastas_spec_and_the_address() {
        let mut buf = [0u8; MAX_LINE];
        assert_eq!(
            strip_target("0.0.0.0/8080:10.88.0.5/80", &mut buf),
            Ok(("0.0.0.0/8080:80", Some("10.88.0.5".parse().unwrap())))
        );
        let mut buf = [0u8; MAX_LINE];
        assert_eq!(
            strip_target("[::]/8080-8081:[fd00::5]/80-81", &mut buf),
            Ok(("[::]/8080-8081:80-81", Some("fd00::5".parse().unwrap())))
        );
        let mut buf = [0u8; MAX_LINE];
        assert_eq!(
            strip_target("[::]/8080:fd00::5/80", &mut buf),
            Ok(("[::]/8080:80", Some("fd00::5".parse().unwrap())))
        );
        let mut buf = [0u8; MAX_LINE];
        assert_eq!(strip_target("::1/8080", &mut buf), Ok(("::1/8080", None)));
        let mut buf = [0u8; MAX_LINE];
        assert!(strip_target("0.0.0.0/8080:bogus/80", &mut buf).is_err());
        // The rebuilt spec is one pasta's parser takes.
        let mut buf = [0u8; MAX_LINE];
        let (spec, _) = strip_target("[::]/8080:fd00::5/80", &mut buf).unwrap();
        assert!(Spec::parse(spec).is_ok());
    }

    proptest::proptest! {
        /// A control client is local but untrusted: no request line panics the
        /// parsers, and what they accept stays within the line.
        #[test]
        fn any_request_line_parses_or_is_refused_without_panicking(line in ".{0,600}") {
            if let Ok(Request::Add(_, _, spec) | Request::Delete(_, _, spec)) =
                Request::parse(&line)
            {
                let mut buf = [0u8; MAX_LINE];
                if let Ok((text, _)) = strip_target(spec, &mut buf) {
                    proptest::prop_assert!(text.len() <= spec.len());
                    let _ = Spec::parse(text);
                }
            }
        }
    }

    #[test]
    fn ranges_print_in_the_request_grammar() {
        let r = PortRange {
            first: 8080,
            last: 8081,
            delta: 80u16.wrapping_sub(8080),
            bind_addr: Some("::".parse().unwrap()),
            bind_iface: None,
        };
        let mut v = Vec::new();
        write_range(&mut v, &r, Some("fd00::5".parse().unwrap())).unwrap();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "[::]/8080-8081:[fd00::5]/80-81"
        );
    }
}
