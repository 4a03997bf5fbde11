//! Fuzz harness bodies. Each `fn` takes the fuzzer's bytes and must never panic
//! unless it found a bug. The AFL binaries in `src/bin/` (built only with
//! `cargo afl build --features afl`) call them; `tests/corpus.rs` runs them over the
//! committed corpus in plain `cargo test`, so CI exercises every harness.
//!
//! | target | harness | what it checks |
//! |---|---|---|
//! | `fuzz-wire` | [`wire_frame`] | every parser; emit/parse round trips |
//! | `fuzz-engine` | [`engine_frames`] | frame sequences into an engine; invariants |
//! | `fuzz-sim` | [`sim_sweep`] | a whole simulation sweep from a chosen seed and faults |
//! | `fuzz-cli` | [`cli_argv`] | pasta's and passt's command line |
//! | `fuzz-spec` | [`port_specs`] | port specs and the forwarding table they build |
//! | `fuzz-control` | [`control_requests`] | control-socket requests applied to a running engine |
//! | `fuzz-virtqueue` | [`virtqueue_rings`] | the virtio-net device against hostile rings in guest memory |
//! | `fuzz-vhost` | [`vhost_session`] | passt's vhost-user back end against a hostile front end |
//! | `fuzz-tcp` | [`tcp_conversation`] | TCP conversations (handshakes, data at chosen offsets, windows, FIN/RST, host data, closes, timers); byte streams and invariants |
//!
//! Run one for a few minutes (see the README's "Fuzzing" section):
//! ```text
//! cargo install cargo-afl
//! cd fuzz && cargo afl build --release --features afl
//! AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 \
//!   cargo afl fuzz -i corpus/wire -o out/wire -V 600 ../target/release/fuzz-wire
//! ```

mod tcp_conversation;
mod vhost;
mod virtqueue;
pub use tcp_conversation::{
    stream_byte, tcp_conversation, tcp_conversation_traced, ConversationOutcome,
};
pub use vhost::{vhost_session, SessionOutcome};
pub use virtqueue::{virtqueue_rings, RingsOutcome};

use passt_cli::options::Forward;
use passt_cli::{parse_with, Action, ParseEnv};
use passt_core::fwd::spec::{PortSpan, Spec};
use passt_core::fwd::PortForwards;
use passt_core::wire::ethernet::{self, EtherType};
use passt_core::wire::{arp, ipv4, ipv6, tcp, udp, IpProtocol};
use passt_core::Event;
use passt_core::Mode;
use passt_shim_linux::control;
use passt_shim_sim::faults::{HostFaultRates, LinkFaultRates};
use passt_shim_sim::sockets::SockState;
use passt_shim_sim::sweep::{sweep, LinkShape, SweepKind, SweepOptions};
use passt_shim_sim::testbed::{default_config, Testbed};
use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

/// Parse a frame through every layer we understand; wherever a `Repr` parses, emit it
/// again and check that the result parses to the same `Repr` (round-trip stability).
pub fn wire_frame(data: &[u8]) {
    let Ok(eth) = ethernet::Frame::new_checked(data) else {
        return;
    };
    let Ok(eth_repr) = ethernet::Repr::parse(&eth) else {
        return;
    };
    let mut buf = [0u8; ethernet::HEADER_LEN];
    eth_repr.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
    assert_eq!(
        ethernet::Repr::parse(&ethernet::Frame::new_checked(&buf[..]).unwrap()),
        Ok(eth_repr)
    );
    match eth.ethertype() {
        EtherType::Arp => arp_layer(eth.payload()),
        EtherType::Ipv4 => ipv4_layer(eth.payload()),
        EtherType::Ipv6 => ipv6_layer(eth.payload()),
        EtherType::Unknown(_) => {}
    }
}

fn arp_layer(data: &[u8]) {
    let Ok(p) = arp::Packet::new_checked(data) else {
        return;
    };
    let Ok(r) = arp::Repr::parse(&p) else { return };
    let mut buf = vec![0u8; r.buffer_len()];
    r.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
    assert_eq!(
        arp::Repr::parse(&arp::Packet::new_checked(&buf[..]).unwrap()),
        Ok(r)
    );
}

fn ipv4_layer(data: &[u8]) {
    let Ok(p) = ipv4::Packet::new_checked(data) else {
        return;
    };
    let Ok(r) = ipv4::Repr::parse(&p) else { return };
    let mut buf = vec![0u8; r.buffer_len() + r.payload_len];
    r.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
    assert_eq!(
        ipv4::Repr::parse(&ipv4::Packet::new_checked(&buf[..]).unwrap()),
        Ok(r)
    );
    transport_layer(
        r.next_header,
        r.src_addr.into(),
        r.dst_addr.into(),
        p.payload(),
    );
}

fn ipv6_layer(data: &[u8]) {
    let Ok(p) = ipv6::Packet::new_checked(data) else {
        return;
    };
    let Ok(r) = ipv6::Repr::parse(&p) else { return };
    let upper = p.upper_layer(&r);
    transport_layer(r.next_header, r.src_addr.into(), r.dst_addr.into(), upper);
}

fn transport_layer(proto: IpProtocol, src: IpAddr, dst: IpAddr, data: &[u8]) {
    match proto {
        IpProtocol::Tcp => {
            let Ok(p) = tcp::Packet::new_checked(data) else {
                return;
            };
            let Ok(r) = tcp::Repr::parse(&p) else { return };
            let payload = p.payload();
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(
                &mut tcp::Packet::new_unchecked(&mut buf[..]),
                src,
                dst,
                payload,
            );
            let again = tcp::Packet::new_checked(&buf[..]).expect("emitted TCP parses");
            assert!(
                again.verify_checksum(src, dst),
                "emitted TCP checksum verifies"
            );
            let mut back = tcp::Repr::parse(&again).expect("emitted TCP parses");
            // Emission lays options out canonically; what they say must survive.
            back.payload_len = r.payload_len;
            assert_eq!(back, r);
        }
        IpProtocol::Udp => {
            let Ok(p) = udp::Packet::new_checked(data) else {
                return;
            };
            let Ok(r) = udp::Repr::parse(&p) else { return };
            let mut buf = vec![0u8; 8 + r.payload_len];
            r.emit(
                &mut udp::Packet::new_unchecked(&mut buf[..]),
                src,
                dst,
                p.payload(),
            );
            let again = udp::Packet::new_checked(&buf[..]).expect("emitted UDP parses");
            assert!(again.verify_checksum(src, dst));
            assert_eq!(udp::Repr::parse(&again), Ok(r));
        }
        _ => {}
    }
}

/// Feed a sequence of frames (each prefixed with a 2-byte big-endian word: bits 0–13
/// the length, bit 14 "checksum left partial by the link", bit 15 of the first word
/// "the link has pasta's tap offloads") into a whole engine with a modelled host,
/// checking its invariants after every step and letting virtual time pass between
/// frames.
pub fn engine_frames(data: &[u8]) {
    let mut config = default_config();
    // Bit 15 of the first length: a link with pasta's tap offloads (TSO super-frames
    // and runs of UDP datagrams to the guest, partial checksums both ways).
    if data.first().is_some_and(|b| b & 0x80 != 0) {
        config.offload.tcp_segment_max = 65_000;
        config.offload.tcp_checksum = true;
        config.offload.udp_segment_max = 65_507;
    }
    let mut tb = Testbed::new(config, 8);
    let mut rest = data;
    let mut steps = 0;
    while rest.len() >= 2 && steps < 256 {
        let word = u16::from_be_bytes([rest[0], rest[1]]);
        // Bit 14: the link says this frame's checksum is unfinished. The rest: length.
        let partial = word & 0x4000 != 0;
        let len = usize::from(word & 0x3fff);
        rest = &rest[2..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        let event = if partial {
            Event::TapFramePartialChecksum(frame)
        } else {
            Event::TapFrame(frame)
        };
        tb.engine.handle_event(tb.now, event, &mut tb.host);
        tb.engine.flush(tb.now, &mut tb.host);
        tb.settle();
        tb.host.complete_connects();
        tb.settle();
        tb.check();
        // Let the low bits of the length pick how much time passes: exercises timers.
        tb.advance(Duration::from_millis(u64::from(len as u8) * 40));
        tb.host.frames.clear();
        steps += 1;
    }
}

/// The sweep a fuzzer's bytes choose: the seed (8 bytes), then one byte per knob —
/// flow capacity, connections each way, sizes, buffer, safety time, and the rate of
/// every fault, then the `accept()` failure rate and the link's shape (a jumbo link for
/// one value in four), knobs added later. Missing bytes read as zero.
pub fn sweep_input(data: &[u8]) -> (u64, SweepOptions) {
    let mut seed = [0u8; 8];
    for (d, s) in seed.iter_mut().zip(data) {
        *d = *s;
    }
    let mut knobs = data.iter().skip(8).copied().chain(std::iter::repeat(0));
    let mut next = || knobs.next().unwrap_or(0);
    let per_mille = |b: u8| u16::from(b);
    let mut options = SweepOptions {
        kind: SweepKind::Mixed,
        flows: 1 + usize::from(next() % 12),
        outbound: usize::from(next() % 5),
        inbound: usize::from(next() % 4),
        max_bytes: [0, 100, 3000, 12_000][usize::from(next() % 4)],
        send_space: 500 + usize::from(next()) * 150,
        safety_time: Duration::from_millis(100 + u64::from(next()) * 10),
        liveness_bound: Duration::from_secs(400),
        link: LinkFaultRates {
            loss: per_mille(next()),
            duplicate: per_mille(next()),
            reorder: per_mille(next()),
            corrupt: per_mille(next()),
        },
        host: HostFaultRates {
            open_emfile: per_mille(next()),
            // Read last (below), so inputs written before it was a knob keep meaning.
            accept_emfile: 0,
            send_would_block: per_mille(next()),
            send_short: per_mille(next()),
        },
        peer_reset: per_mille(next() % 50),
        refuse_connect: per_mille(next()),
        trace: false,
        sabotage: None,
        bursts: Vec::new(),
        plans: Vec::new(),
        shape: LinkShape::Ethernet,
        strict: false,
    };
    options.host.accept_emfile = per_mille(next());
    if next() % 4 == 3 {
        options.shape = LinkShape::Jumbo;
    }
    (u64::from_le_bytes(seed), options)
}

/// A whole simulation sweep (see `passt_shim_sim::sweep`) with the seed and fault
/// options the input chooses ([`sweep_input`]): any safety or liveness violation is
/// a crash, reported with the command that replays its seed.
pub fn sim_sweep(data: &[u8]) {
    let (seed, options) = sweep_input(data);
    if let Err(f) = sweep(seed, &options) {
        panic!("{f}\noptions: {options:?}");
    }
}

/// pasta's or passt's command line: the first byte picks the program (even: pasta),
/// the rest is argv split at NUL bytes. Parsing never panics; an error is one
/// non-empty line; every fixed forwarding table it builds is well formed.
pub fn cli_argv(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mode = if which % 2 == 0 {
        Mode::Pasta
    } else {
        Mode::Passt
    };
    let args: Vec<OsString> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(|b| *b == 0)
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect()
    };
    let env = ParseEnv {
        ephemeral: PortSpan {
            first: 32_768,
            last: 60_999,
        },
    };
    // Errors are one line whatever the arguments hold (control characters are shown
    // escaped).
    let breaks = |b: &u8| *b == b'\n' || *b == b'\r';
    match parse_with(mode, args, &env) {
        Err(e) => {
            let line = e.to_string();
            assert!(!line.is_empty(), "empty error message");
            assert!(
                !line.bytes().any(|b| breaks(&b)),
                "error is not one line: {line:?}"
            );
        }
        Ok(Action::Run(o)) => {
            for f in [&o.tcp_ports, &o.udp_ports, &o.tcp_ns, &o.udp_ns] {
                if let Forward::Ports { forwards, .. } = f {
                    check_forwards(forwards);
                }
            }
        }
        Ok(_) => {}
    }
}

/// Port specs, one per line (at most 8), parsed and added in turn to one table:
/// parsing never panics, a spec's canonical text parses back to it, a failed
/// addition leaves the table unchanged, and the table stays well formed.
pub fn port_specs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ephemeral = Some(PortSpan {
        first: 49_152,
        last: 65_535,
    });
    let mut fwd = PortForwards::default();
    for line in text.split('\n').take(8) {
        let Ok(spec) = Spec::parse(line) else {
            continue;
        };
        let canonical = spec.to_string();
        assert_eq!(
            Spec::parse(&canonical).as_ref(),
            Ok(&spec),
            "{line:?} → {canonical:?}"
        );
        let before = fwd.clone();
        if spec.add_to(&mut fwd, ephemeral).is_err() {
            assert_eq!(fwd, before, "{line:?}: a failed spec changed the table");
        }
        check_forwards(&fwd);
    }
}

/// A forwarding table is well formed: every range is ordinary (first ≤ last, no
/// port 0, no destination 0), and two ranges share a port only when they bind
/// different explicit addresses and map it alike.
fn check_forwards(fwd: &PortForwards) {
    for (i, r) in fwd.ranges.iter().enumerate() {
        assert!(r.first <= r.last && r.first > 0, "bad range {r:?}");
        assert!(
            !r.contains(0u16.wrapping_sub(r.delta)) || r.delta == 0,
            "{r:?} maps a port to 0"
        );
        for o in &fwd.ranges[..i] {
            if r.first <= o.last && o.first <= r.last {
                let distinct = matches!((o.bind_addr, r.bind_addr), (Some(a), Some(b)) if a != b);
                assert!(distinct && o.delta == r.delta, "{o:?} and {r:?} overlap");
            }
        }
    }
}

/// Control-socket request lines (at most 16) applied, as pasta's control socket
/// applies them, to a running pasta engine over modelled sockets on which a few ports
/// are already taken: nothing panics, every request gets exactly one final `ok N` or
/// `error …` line, a refused request changes neither the forwarding tables nor the
/// open sockets, the engine's invariants hold after each request, and clearing every
/// table at the end closes every listener the requests opened.
pub fn control_requests(data: &[u8]) {
    let mut config = default_config();
    config.mode = Mode::Pasta;
    config.splice = true;
    let mut tb = Testbed::new(config, 16);
    for ip in [IpAddr::from([0u8; 4]), IpAddr::from([0u8; 16])] {
        for port in [9000, 9001] {
            tb.host.occupy(std::net::SocketAddr::new(ip, port));
        }
        tb.host.occupy_udp(std::net::SocketAddr::new(ip, 9002));
    }
    tb.engine.start(&mut tb.host).expect("no forwards to bind");
    let at_start = open_sockets(&tb);
    let mut scratch = Box::<PortForwards>::default();
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n').take(16) {
        let tables_before = forward_tables(&tb);
        let sockets_before = open_sockets(&tb);
        let mut listing = Vec::new();
        let mut reply = [0u8; 256];
        let mut out = std::io::Cursor::new(&mut reply[..]);
        control::handle(
            line,
            &mut scratch,
            &mut tb.engine,
            &mut tb.host,
            Some(control::HostDescriptors {
                sockets: sockets_before.len(),
                pipes: 0,
            }),
            &mut listing,
            &mut out,
        );
        let n = out.position() as usize;
        let reply = std::str::from_utf8(&reply[..n]).expect("replies are UTF-8");
        let final_line = reply
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("{line:?}: reply {reply:?} is not one line"));
        let last = final_line.rsplit('\n').next().unwrap_or_default();
        assert!(
            last.starts_with("ok ") || last.starts_with("error "),
            "{line:?}: final reply line {last:?}"
        );
        if last.starts_with("error ") {
            assert_eq!(
                forward_tables(&tb),
                tables_before,
                "{line:?}: refused but the tables changed"
            );
            assert_eq!(
                open_sockets(&tb),
                sockets_before,
                "{line:?}: refused but sockets changed"
            );
        }
        tb.check();
    }
    for option in ["t", "T", "u", "U"] {
        let mut listing = Vec::new();
        let mut reply = [0u8; 256];
        let mut out = std::io::Cursor::new(&mut reply[..]);
        let clear = format!("clear {option}");
        control::handle(
            &clear,
            &mut scratch,
            &mut tb.engine,
            &mut tb.host,
            None,
            &mut listing,
            &mut out,
        );
        tb.check();
    }
    let listeners = |s: &[OpenSocket]| -> Vec<u64> {
        s.iter()
            .filter(|o| o.state == SockState::Listening || o.udp_bound)
            .map(|o| o.sock)
            .collect()
    };
    assert_eq!(
        listeners(&open_sockets(&tb)),
        listeners(&at_start),
        "clearing every table left listeners open"
    );
}

/// One open modelled socket, as the control harness compares them: its name, state,
/// addresses, and whether it is a bound UDP socket (a forward's).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenSocket {
    sock: u64,
    state: SockState,
    local: Option<std::net::SocketAddr>,
    peer: Option<std::net::SocketAddr>,
    udp_bound: bool,
}

/// Every open (not closed) modelled socket, in name order. Plain values, not text: a
/// forward of tens of thousands of ports is compared after every request.
fn open_sockets(tb: &Testbed) -> Vec<OpenSocket> {
    let mut v: Vec<_> = tb
        .host
        .sockets()
        .filter(|(_, s)| s.state != SockState::Closed)
        .map(|(r, s)| OpenSocket {
            sock: r.to_raw(),
            state: s.state,
            local: s.local,
            peer: s.peer,
            udp_bound: s.transport == passt_core::Transport::Udp
                && s.peer.is_none()
                && s.local.is_some(),
        })
        .collect();
    v.sort_by_key(|s| s.sock);
    v
}

/// The four forwarding tables as text (vacant slots included).
fn forward_tables(tb: &Testbed) -> String {
    use passt_core::tcp::Direction;
    use passt_core::Transport;
    let mut text = String::new();
    for t in [Transport::Tcp, Transport::Udp] {
        for d in [Direction::Inbound, Direction::Outbound] {
            text += &format!("{:?}\n", tb.engine.forwards(t, d));
        }
    }
    text
}
