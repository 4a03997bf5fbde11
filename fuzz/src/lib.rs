//! Fuzz harness bodies. Each `fn` takes the fuzzer's bytes and must never panic
//! unless it found a bug. The AFL binaries in `src/bin/` (built only with
//! `cargo afl build --features afl`) call them; `tests/corpus.rs` runs them over the
//! committed corpus in plain `cargo test`, so CI exercises every harness.
//!
//! Run one for a few minutes (see the README's "Fuzzing" section):
//! ```text
//! cargo install cargo-afl
//! cd fuzz && cargo afl build --release --features afl
//! AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 \
//!   cargo afl fuzz -i corpus/wire -o out/wire -V 600 ../target/release/fuzz-wire
//! ```

use passt_core::wire::ethernet::{self, EtherType};
use passt_core::wire::{arp, ipv4, ipv6, tcp, udp, IpProtocol};
use passt_core::Event;
use passt_shim_sim::testbed::{default_config, Testbed};
use std::net::IpAddr;
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

/// Feed a sequence of frames (each prefixed with a 2-byte big-endian length) into a
/// whole engine with a modelled host, checking its invariants after every step and
/// letting virtual time pass between frames.
pub fn engine_frames(data: &[u8]) {
    let mut tb = Testbed::new(default_config(), 8);
    let mut rest = data;
    let mut steps = 0;
    while rest.len() >= 2 && steps < 256 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        tb.engine
            .handle_event(tb.now, Event::TapFrame(frame), &mut tb.host);
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
