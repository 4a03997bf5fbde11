//! Control requests: parsing a request line and applying it to the engine through any
//! [`Host`] (the Linux host in pasta, the modelled one in tests and fuzzing).

use super::MAX_LINE;
use passt_core::fwd::runtime::ChangeError;
use passt_core::fwd::spec::Spec;
use passt_core::fwd::{PortForwards, PortRange};
use passt_core::tcp::Direction;
use passt_core::{Engine, Host, HostError, Transport};
use std::io::{self, Write};
use std::net::IpAddr;

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
    /// `stats`: flows in the table by kind, and the flow counters.
    Stats,
}

impl<'a> Request<'a> {
    /// Parse a request line (without its newline).
    pub fn parse(line: &'a str) -> Result<Request<'a>, &'static str> {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let verb = words.next().ok_or("empty request")?;
        if verb == "show" || verb == "stats" {
            return match (words.next(), verb) {
                (None, "show") => Ok(Request::Show),
                (None, _) => Ok(Request::Stats),
                (Some(_), _) => Err("'show' and 'stats' take no argument"),
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
            _ => Err("unknown request (add, delete, clear, show or stats)"),
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

/// Descriptors the host holds for flows and forwards (reported by `stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostDescriptors {
    /// Open sockets: connections and listeners.
    pub sockets: usize,
    /// Open pipes of spliced connections (two descriptors each).
    pub pipes: usize,
}

/// Apply one request line to `engine`: the final `ok`/`error` line goes to `out`,
/// `show`'s range lines and `stats`' line to `listing`. `held` is what the host holds
/// open, when it knows (reported by `stats`). Nothing here allocates.
pub fn handle<H: Host>(
    line: &str,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut H,
    held: Option<HostDescriptors>,
    listing: &mut impl Write,
    out: &mut io::Cursor<&mut [u8]>,
) {
    let result = match Request::parse(line) {
        Err(e) => Err(e),
        Ok(Request::Show) => {
            show(engine, listing);
            Ok(0)
        }
        Ok(Request::Stats) => {
            stats(engine, held, listing);
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
    end_line(out);
}

/// Make the reply in `out` one whole line: a reply that did not fit (an error quoting
/// a long request) is cut at a character boundary and ends in `…` and a newline, so the
/// client still reads one line beginning with `ok` or `error`.
fn end_line(out: &mut io::Cursor<&mut [u8]>) {
    const MORE: &[u8] = "…\n".as_bytes();
    let n = out.position() as usize;
    let reply = out.get_ref();
    if reply[..n].ends_with(b"\n") || reply.len() < MORE.len() {
        return;
    }
    let text = &reply[..n.min(reply.len() - MORE.len())];
    let cut = match std::str::from_utf8(text) {
        Ok(whole) => whole.len(),
        Err(e) => e.valid_up_to(),
    };
    out.set_position(cut as u64);
    let _ = out.write_all(MORE);
}

/// Add or remove the ranges of `spec`.
#[allow(clippy::too_many_arguments)]
fn change<H: Host>(
    add: bool,
    transport: Transport,
    direction: Direction,
    spec: &str,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut H,
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
fn clear<H: Host>(
    transport: Transport,
    direction: Direction,
    scratch: &mut PortForwards,
    engine: &mut Engine<'_>,
    host: &mut H,
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
fn show(engine: &Engine<'_>, listing: &mut impl Write) {
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
            let _ = listing.write_all(&line[..n]);
        }
    }
}

/// `stats`: one line of name/value pairs — flows in the table (all, then by kind), the
/// table's capacity, the host's open sockets and pipes when known, and the flows
/// opened and closed so far:
///
/// ```text
/// flows 3 capacity 65536 tcp 1 spliced 0 udp 2 ping 0 sockets 9 pipes 0 tcp-opened 40 …
/// ```
fn stats(engine: &Engine<'_>, held: Option<HostDescriptors>, listing: &mut impl Write) {
    let n = engine.flow_counts();
    let s = engine.stats();
    let mut line = [0u8; 384];
    let mut w = io::Cursor::new(&mut line[..]);
    let _ = write!(
        w,
        "flows {} capacity {} tcp {} spliced {} udp {} ping {}",
        n.total(),
        n.capacity,
        n.tcp,
        n.spliced,
        n.udp,
        n.ping
    );
    if let Some(h) = held {
        let _ = write!(w, " sockets {} pipes {}", h.sockets, h.pipes);
    }
    let _ = writeln!(
        w,
        " tcp-opened {} tcp-closed {} udp-opened {} udp-closed {} ping-opened {} ping-closed {}",
        s.tcp_opened, s.tcp_closed, s.udp_opened, s.udp_closed, s.ping_opened, s.ping_closed
    );
    let len = w.position() as usize;
    let _ = listing.write_all(&line[..len]);
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
        assert_eq!(Request::parse("stats"), Ok(Request::Stats));
        assert!(Request::parse("stats t").is_err());
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
    fn a_reply_too_long_for_its_buffer_is_cut_to_one_line() {
        let mut reply = [0u8; 32];
        let mut out = io::Cursor::new(&mut reply[..]);
        let _ = writeln!(out, "error bad port specifier 'ééééééééééééééé'");
        end_line(&mut out);
        let n = out.position() as usize;
        let text = std::str::from_utf8(&reply[..n]).expect("cut at a character boundary");
        assert_eq!(text, "error bad port specifier 'é…\n");

        let mut reply = [0u8; 32];
        let mut out = io::Cursor::new(&mut reply[..]);
        let _ = writeln!(out, "ok 2");
        end_line(&mut out);
        assert_eq!(&reply[..5], b"ok 2\n", "a reply that fits is left alone");
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
