//! Podman's port-forwarding and transfer tests (`505-networking-pasta.bats`, callers.md
//! §2), in the sealed lab: pasta started with podman's argv against an `ip netns add`
//! namespace, servers in the namespace (`socat -u …-LISTEN STDOUT`), clients in the
//! lab's host namespace (`socat -u … {TCP|UDP}{4|6}:ADDR:PORT[,shut-null]`).
//!
//! The forwarding matrix is {single port, range of 3, translated port, translated
//! range, address-bound, interface-bound} × {IPv4, IPv6} × {tap, loopback}, one test
//! per protocol: each case gets its own ports, all cases share one pasta (podman starts
//! one per container; the forwards do not interact). "tap" clients connect to the host's
//! own address (the one pasta copies into the namespace), "loopback" ones to 127.0.0.1
//! or ::1. One byte goes to every forwarded port, and every server must print it.
//!
//! Transfers send 2 KiB and a large file (10 MiB over TCP, 52 KiB in ≤ 8 KiB datagrams
//! over UDP, ended by a zero-length datagram as podman's `shut-null`/`null-eof`) and
//! compare the bytes exactly.

mod lab;

use lab::podman::{daemon_pid, delete_and_time_exit, expect_ready, podman_args, start};
use lab::{output_within, Lab, HOST_IFNAME, HOST_V4, HOST_V6};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    Tcp,
    Udp,
}

#[derive(Clone, Copy, Debug)]
enum Family {
    V4,
    V6,
}

/// Where the host-side client connects: the host's own address or its loopback.
#[derive(Clone, Copy, Debug)]
enum Via {
    Tap,
    Loopback,
}

/// The port-forwarding forms podman's tests exercise.
#[derive(Clone, Copy, Debug)]
enum Form {
    Single,
    Range,
    Translated,
    TranslatedRange,
    AddressBound,
    InterfaceBound,
}

const FORMS: [Form; 6] = [
    Form::Single,
    Form::Range,
    Form::Translated,
    Form::TranslatedRange,
    Form::AddressBound,
    Form::InterfaceBound,
];

/// One forwarding case: its pasta option and the (host port, namespace port) pairs.
struct Case {
    name: String,
    family: Family,
    via: Via,
    option: String,
    ports: Vec<(u16, u16)>,
}

impl Proto {
    fn socat(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Proto::Tcp => "-t",
            Proto::Udp => "-u",
        }
    }
}

impl Family {
    fn digit(self) -> &'static str {
        match self {
            Family::V4 => "4",
            Family::V6 => "6",
        }
    }
}

/// The address a client on the host dials, bare (as podman writes it in `-p`).
fn client_addr(family: Family, via: Via) -> &'static str {
    match (family, via) {
        (Family::V4, Via::Tap) => HOST_V4,
        (Family::V6, Via::Tap) => HOST_V6,
        (Family::V4, Via::Loopback) => "127.0.0.1",
        (Family::V6, Via::Loopback) => "::1",
    }
}

/// `addr` as socat wants it in an address (IPv6 in brackets).
fn socat_host(addr: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    }
}

/// A case's option as podman generates it: `[HOSTIP/]H-H+R-1:C-C+R-1`, or for the
/// interface-bound tests the user's own `ADDR%IFNAME/P:X`.
fn case(proto: Proto, family: Family, via: Via, form: Form, base: u16) -> Case {
    let addr = client_addr(family, via);
    let range = |h: u16, c: u16, n: u16| {
        let spec = format!("{h}-{}:{c}-{}", h + n - 1, c + n - 1);
        (spec, (0..n).map(|i| (h + i, c + i)).collect::<Vec<_>>())
    };
    let (spec, ports) = match form {
        Form::Single => range(base, base, 1),
        Form::Range => range(base, base, 3),
        Form::Translated => range(base, base + 1, 1),
        Form::TranslatedRange => range(base, base + 10, 3),
        Form::AddressBound => {
            let (spec, ports) = range(base, base, 1);
            (format!("{addr}/{spec}"), ports)
        }
        Form::InterfaceBound => {
            let ifname = match via {
                Via::Tap => HOST_IFNAME,
                Via::Loopback => "lo",
            };
            (format!("{addr}%{ifname}/{base}:{base}"), vec![(base, base)])
        }
    };
    Case {
        name: format!("{proto:?}/{family:?}/{via:?}/{form:?}"),
        family,
        via,
        option: spec,
        ports,
    }
}

/// Every forwarding case of one protocol, each on its own block of 20 ports.
fn matrix(proto: Proto, first_port: u16) -> Vec<Case> {
    let mut cases = Vec::new();
    for family in [Family::V4, Family::V6] {
        for via in [Via::Tap, Via::Loopback] {
            for form in FORMS {
                let base = first_port + 20 * cases.len() as u16;
                cases.push(case(proto, family, via, form, base));
            }
        }
    }
    cases
}

/// The lab, the namespace podman would have made, and the daemonised pasta serving it.
struct Podman {
    lab: Lab,
    ns: String,
    pid: i32,
}

impl Podman {
    /// Start pasta with podman's argv plus `user` options (the `-t`/`-u` it generates).
    fn start(user: &[String]) -> Option<Podman> {
        let mut lab = Lab::new()?;
        let ns = lab.add_netns();
        let user: Vec<&str> = user.iter().map(String::as_str).collect();
        expect_ready(&start(&lab, &podman_args(&user, &ns)));
        let pid = daemon_pid(&ns);
        Some(Podman { lab, ns, pid })
    }

    /// `socat -u {proto}{family}-LISTEN:port[,null-eof] STDOUT > out` in the namespace,
    /// bounded in time; returns the output file.
    fn server(&mut self, proto: Proto, family: Family, port: u16) -> PathBuf {
        let out = self
            .lab
            .dir
            .join(format!("out-{}{}-{port}", proto.socat(), family.digit()));
        let null_eof = if proto == Proto::Udp { ",null-eof" } else { "" };
        let script = format!(
            "exec timeout 90 socat -u {}{}-LISTEN:{port}{null_eof} STDOUT > {}",
            proto.socat(),
            family.digit(),
            out.display()
        );
        let mut cmd = self.lab.in_ns(&self.ns, "sh");
        cmd.args(["-c", &script]);
        self.lab.spawn(cmd, None);
        out
    }

    /// Wait (as podman's harness does with `ss -Hln`) until every port is bound.
    fn wait_bound(&self, proto: Proto, ports: &BTreeSet<u16>) {
        let flag = match proto {
            Proto::Tcp => "-Htln",
            Proto::Udp => "-Huln",
        };
        let start = Instant::now();
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &self.ns, "ss", flag])
                .output()
                .expect("ss");
            let bound: BTreeSet<u16> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().nth(3))
                .filter_map(|local| local.rsplit(':').next()?.parse().ok())
                .collect();
            if ports.is_subset(&bound) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "servers not bound: {:?}",
                ports.difference(&bound).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send `file` from the host namespace to `addr:port` as podman's clients do.
    fn client(&self, proto: Proto, family: Family, addr: &str, port: u16, file: &Path) {
        let shut_null = if proto == Proto::Udp {
            ",shut-null"
        } else {
            ""
        };
        let target = format!(
            "{}{}:{}:{port}{shut_null}",
            proto.socat(),
            family.digit(),
            socat_host(addr)
        );
        let mut cmd = self.lab.in_host("timeout");
        cmd.args(["60", "socat", "-u"])
            .arg(format!("OPEN:{}", file.display()))
            .arg(&target);
        let out = output_within(&mut cmd, Duration::from_secs(90));
        assert!(
            out.status.success(),
            "socat to {target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stop: delete the namespace; pasta must follow it.
    fn finish(self) {
        delete_and_time_exit(&self.ns, self.pid);
    }
}

/// Wait until `out` holds `want.len()` bytes (or the deadline), and return its content.
fn received(out: &Path, want: usize, limit: Duration) -> Vec<u8> {
    let start = Instant::now();
    loop {
        let got = std::fs::read(out).unwrap_or_default();
        if got.len() >= want || start.elapsed() > limit {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The forwarding matrix of one protocol: one byte through every forwarded port.
fn forwarding_matrix(proto: Proto, first_port: u16) {
    let cases = matrix(proto, first_port);
    let options: Vec<String> = cases
        .iter()
        .flat_map(|c| [proto.flag().to_string(), c.option.clone()])
        .collect();
    let Some(mut podman) = Podman::start(&options) else {
        return;
    };
    let one_byte = podman.lab.dir.join("one-byte");
    std::fs::write(&one_byte, b"x").unwrap();

    let mut outputs = Vec::new();
    for c in &cases {
        for &(_, ns_port) in &c.ports {
            outputs.push(podman.server(proto, c.family, ns_port));
        }
    }
    let bound: BTreeSet<u16> = cases
        .iter()
        .flat_map(|c| c.ports.iter().map(|p| p.1))
        .collect();
    podman.wait_bound(proto, &bound);

    let mut failures = Vec::new();
    let mut out = outputs.iter();
    for c in &cases {
        let addr = client_addr(c.family, c.via);
        for &(host_port, ns_port) in &c.ports {
            podman.client(proto, c.family, addr, host_port, &one_byte);
            let got = received(out.next().unwrap(), 1, Duration::from_secs(5));
            if got != b"x" {
                failures.push(format!(
                    "{} ({} {}): {addr}:{host_port} → namespace port {ns_port} got {:?}",
                    c.name,
                    proto.flag(),
                    c.option,
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
    eprintln!("{} {proto:?} forwarding cases passed", cases.len());
    podman.finish();
}

#[test]
fn podman_tcp_forwarding_matrix_delivers_a_byte_through_every_form() {
    forwarding_matrix(Proto::Tcp, 20000);
}

#[test]
fn podman_udp_forwarding_matrix_delivers_a_byte_through_every_form() {
    forwarding_matrix(Proto::Udp, 22000);
}

/// A file of `len` pseudo-random bytes (seeded: a failure reproduces).
fn random_file(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let mut state = seed | 1;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            // xorshift64: enough to make every byte position distinct.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Podman's transfer tests for one protocol: {IPv4, IPv6} × {tap, loopback} ×
/// {small, large}, byte-exact.
fn transfers(proto: Proto, first_port: u16, large: usize) {
    let mut cases = Vec::new();
    for family in [Family::V4, Family::V6] {
        for via in [Via::Tap, Via::Loopback] {
            for (size, len) in [("small", 2048), ("large", large)] {
                let port = first_port + cases.len() as u16;
                cases.push((family, via, size, len, port));
            }
        }
    }
    let options: Vec<String> = cases
        .iter()
        .flat_map(|c| [proto.flag().to_string(), format!("{0}-{0}:{0}-{0}", c.4)])
        .collect();
    let Some(mut podman) = Podman::start(&options) else {
        return;
    };
    let mut failures = Vec::new();
    for (i, &(family, via, size, len, port)) in cases.iter().enumerate() {
        let name = format!("{proto:?}/{family:?}/{via:?}/{size}");
        let file = random_file(&podman.lab.dir, &format!("in-{port}"), len, i as u64 + 1);
        let out = podman.server(proto, family, port);
        podman.wait_bound(proto, &BTreeSet::from([port]));
        let started = Instant::now();
        podman.client(proto, family, client_addr(family, via), port, &file);
        let got = received(&out, len, Duration::from_secs(30));
        let sent = std::fs::read(&file).unwrap();
        if got != sent {
            let first_diff = got.iter().zip(&sent).position(|(a, b)| a != b);
            failures.push(format!(
                "{name}: got {} of {len} bytes, first difference at {first_diff:?}",
                got.len()
            ));
        } else {
            eprintln!("{name}: {len} bytes in {:?}", started.elapsed());
        }
    }
    assert!(
        failures.is_empty(),
        "failed transfers:\n{}",
        failures.join("\n")
    );
    podman.finish();
}

#[test]
fn podman_tcp_transfers_are_byte_exact_over_tap_and_loopback() {
    transfers(Proto::Tcp, 24000, 10 << 20);
}

#[test]
fn podman_udp_transfers_are_byte_exact_over_tap_and_loopback() {
    // wmem_default / 4 on a default kernel (212992 / 4), as podman sizes it.
    transfers(Proto::Udp, 24100, 53248);
}
