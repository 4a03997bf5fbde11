//! Option syntax and semantics shared by every caller (callers.md §1): operands,
//! option forms, last-wins, defaults, DNS, address mappings, namespaces.

mod argv;

use argv::*;
use passt_cli::options::{
    mode_from_argv0, AddrPair, Forward, IpVersions, ListOpt, LogLevel, NsTarget,
};
use passt_cli::values::{Id, RunAs};
use passt_cli::{parse, parse_with, Action, ParseEnv};
use passt_core::fwd::spec::PortSpan;
use passt_core::wire::ethernet::MacAddr;
use passt_core::Mode;
use std::ffi::OsString;
use std::path::PathBuf;

#[test]
fn pasta_stops_at_the_first_operand() {
    let o = pasta(&["-t", "80", "sh", "-c", "ls"]);
    assert_eq!(
        o.target,
        Some(NsTarget::Spawn(vec!["sh".into(), "-c".into(), "ls".into()]))
    );
    assert_eq!(ranges(&o.tcp_ports), Some(vec![(80, 80, 0, None)]));
    let o = pasta(&["--config-net", "--", "sh", "-c", "x"]);
    assert!(o.config_net);
    assert_eq!(
        o.target,
        Some(NsTarget::Spawn(vec!["sh".into(), "-c".into(), "x".into()]))
    );
    // No operand: the user's shell.
    assert_eq!(
        pasta(&["--config-net"]).target,
        Some(NsTarget::Spawn(vec![]))
    );
    // A PID only when it is the single operand.
    assert_eq!(
        pasta(&["1234", "x"]).target,
        Some(NsTarget::Spawn(vec!["1234".into(), "x".into()]))
    );
    assert_eq!(pasta(&["--", "1234"]).target, Some(NsTarget::Pid(1234)));
    assert_eq!(err(Mode::Pasta, &["0"]), "Invalid PID 0");
}

#[test]
fn command_words_need_not_be_utf8() {
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![b'x', 0xff]);
    let args = vec![
        OsString::from("--config-net"),
        OsString::from("cat"),
        bad.clone(),
    ];
    let Ok(Action::Run(o)) = parse(Mode::Pasta, args) else {
        panic!()
    };
    assert_eq!(o.target, Some(NsTarget::Spawn(vec!["cat".into(), bad])));
}

#[test]
fn option_forms() {
    let o = pasta(&["-46", "-t80", "--udp-ports=81", "-qf", "--mtu", "1500"]);
    assert_eq!(o.ip_versions, IpVersions::V6Only);
    assert_eq!(ranges(&o.tcp_ports), Some(vec![(80, 80, 0, None)]));
    assert_eq!(ranges(&o.udp_ports), Some(vec![(81, 81, 0, None)]));
    assert_eq!(o.log_level, LogLevel::Warning);
    assert!(o.foreground);
    assert_eq!(o.mtu, Some(1500));
    // Abbreviated long options, as getopt_long allows.
    let o = pasta(&["--netm", "16", "--conf"]);
    assert_eq!(o.prefix_len_v4, Some(16));
    assert!(o.config_net);
    assert_eq!(
        err(Mode::Pasta, &["--dhcp"]),
        "option '--dhcp' is ambiguous; possibilities: '--dhcp-dns' '--dhcp-search'"
    );
}

#[test]
fn last_wins_for_scalars() {
    let o = pasta(&[
        "--ns-mac-addr",
        "02:00:00:00:00:01",
        "--ns-mac-addr",
        "02:00:00:00:00:02",
    ]);
    assert_eq!(o.ns_mac_addr, Some(MacAddr([2, 0, 0, 0, 0, 2])));
    let o = pasta(&["-a", "192.0.2.1", "-a", "2001:db8::1", "-a", "192.0.2.2"]);
    assert_eq!(
        o.address,
        AddrPair {
            v4: v4("192.0.2.2"),
            v6: v6("2001:db8::1")
        }
    );
    let o = pasta(&["-4", "-6", "-4"]);
    assert_eq!(o.ip_versions, IpVersions::V4Only);
    let o = pasta(&["-m", "0"]);
    assert_eq!(o.mtu, None);
    let o = pasta(&["-n", "255.255.0.0", "-n", "8"]);
    assert_eq!(o.prefix_len_v4, Some(8));
    let o = pasta(&["--runas", "1000:1000", "--runas", "nobody"]);
    assert_eq!(
        o.runas,
        Some(RunAs {
            user: Id::Name("nobody".into()),
            group: None
        })
    );
    let o = pasta(&["--dhcp-dns", "--no-dhcp-dns", "--dhcp-search"]);
    assert!(!o.dhcp_dns && o.dhcp_search);
}

#[test]
fn log_levels() {
    assert_eq!(pasta(&[]).log_level, LogLevel::Info);
    assert_eq!(pasta(&["-q", "-d"]).log_level, LogLevel::Debug);
    assert_eq!(pasta(&["-d", "-q"]).log_level, LogLevel::Warning);
    assert_eq!(pasta(&["--trace", "-q"]).log_level, LogLevel::Warning);
    assert_eq!(pasta(&["--trace", "-d"]).log_level, LogLevel::Trace);
    assert_eq!(pasta(&["-d", "--trace"]).log_level, LogLevel::Trace);
    let o = pasta(&["-l", "/tmp/p.log", "--log-size", "65536"]);
    assert_eq!(o.log_file, Some(PathBuf::from("/tmp/p.log")));
    assert_eq!(o.log_size, 65536);
    assert_eq!(pasta(&[]).log_size, 1 << 20);
}

#[test]
fn every_deprecated_option_is_accepted() {
    let o = pasta(&[
        "-e",
        "--stderr",
        "--config-net",
        "--no-copy-routes",
        "--no-copy-addrs",
        "--host-lo-to-ns-lo",
    ]);
    assert_eq!(
        o.warnings,
        [
            "option '--stderr' is deprecated and has no effect",
            "option '--no-copy-routes' is deprecated and has no effect",
            "option '--no-copy-addrs' is deprecated and has no effect",
            "option '--host-lo-to-ns-lo' is deprecated",
        ]
    );
    let o = passt(&["-e"]);
    assert_eq!(o.warnings.len(), 1);
}

#[test]
fn mode_defaults() {
    let o = pasta(&[]);
    for f in [&o.tcp_ports, &o.udp_ports, &o.tcp_ns, &o.udp_ns] {
        assert_eq!(*f, Forward::Auto);
    }
    assert!(!o.dhcp_dns && !o.dhcp_search);
    let o = passt(&[]);
    for f in [&o.tcp_ports, &o.udp_ports] {
        assert_eq!(*f, Forward::None);
    }
    assert!(o.dhcp_dns && o.dhcp_search);
    assert_eq!(o.target, None);
    assert_eq!(o.mac_addr, None);
    assert_eq!(o.dns, ListOpt::FromHost);
}

#[test]
fn dns_and_search_lists() {
    let o = pasta(&[
        "-D",
        "192.0.2.53",
        "-D",
        "2001:db8::53",
        "-D",
        "198.51.100.53",
    ]);
    assert_eq!(
        o.dns,
        ListOpt::Given(vec![
            ip("192.0.2.53"),
            ip("2001:db8::53"),
            ip("198.51.100.53")
        ])
    );
    assert_eq!(
        pasta(&["-D", "192.0.2.53", "-D", "none"]).dns,
        ListOpt::Disabled
    );
    assert_eq!(
        pasta(&["-D", "none", "-D", "192.0.2.53"]).dns,
        ListOpt::Given(vec![ip("192.0.2.53")])
    );
    assert_eq!(
        err(
            Mode::Pasta,
            &[
                "-D",
                "192.0.2.1",
                "-D",
                "192.0.2.2",
                "-D",
                "192.0.2.3",
                "-D",
                "192.0.2.4"
            ]
        ),
        "Invalid address 192.0.2.4 for option '-D': at most 3 name servers per IP version"
    );
    assert_eq!(pasta(&["-S", "none"]).search, ListOpt::Disabled);
    assert_eq!(
        pasta(&["-S", "a.example", "-S", "b.example"]).search,
        ListOpt::Given(vec!["a.example".into(), "b.example".into()])
    );
    assert!(err(Mode::Pasta, &["-S", "a b c d e f g"]).contains("at most 6"));
}

#[test]
fn address_mappings() {
    let o = pasta(&["--map-host-loopback", "none"]);
    assert!(o.no_map_gw);
    assert!(o.map_host_loopback.is_empty());
    let o = pasta(&[
        "--map-host-loopback",
        "192.0.2.1",
        "--map-host-loopback",
        "2001:db8::1",
    ]);
    assert_eq!(o.map_host_loopback.v4, v4("192.0.2.1"));
    assert_eq!(o.map_host_loopback.v6, v6("2001:db8::1"));
    assert!(!o.no_map_gw);
    let o = pasta(&[
        "--map-guest-addr",
        "169.254.1.2",
        "--map-guest-addr",
        "none",
    ]);
    assert!(o.map_guest_addr.is_empty());
    // Newer podman also maps an IPv6 stand-in.
    let o = pasta(&[
        "--map-guest-addr",
        "169.254.1.2",
        "--map-guest-addr",
        "fc00::2",
    ]);
    assert_eq!(o.map_guest_addr.v6, v6("fc00::2"));
}

#[test]
fn exclusions_use_the_hosts_ephemeral_range() {
    let env = ParseEnv {
        ephemeral: PortSpan::new(32768, 60999).unwrap(),
    };
    let Ok(Action::Run(o)) = parse_with(Mode::Pasta, ["-t", "~20000-20010"], &env) else {
        panic!()
    };
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![
            (1, 19999, 0, None),
            (20011, 32767, 0, None),
            (61000, 65535, 0, None)
        ])
    );
    assert!(matches!(
        o.tcp_ports,
        Forward::Ports {
            best_effort: true,
            ..
        }
    ));
    let o = passt(&["-t", "all"]);
    assert_eq!(ranges(&o.tcp_ports), Some(vec![(1, 49151, 0, None)]));
}

#[test]
fn namespace_options() {
    let o = pasta(&["--netns", "ctr1"]);
    assert_eq!(
        o.target,
        Some(NsTarget::Netns(PathBuf::from("/run/netns/ctr1")))
    );
    let o = pasta(&[
        "--netns",
        "/var/run/netns/ctr1",
        "--userns",
        "/proc/9/ns/user",
    ]);
    assert_eq!(o.userns_path(), Some(PathBuf::from("/proc/9/ns/user")));
    let o = pasta(&["--netns", "ctr1", "--netns", "ctr2", "--no-netns-quit"]);
    assert_eq!(o.netns_path(), Some(PathBuf::from("/run/netns/ctr2")));
    assert!(o.no_netns_quit);
    assert_eq!(
        err(Mode::Pasta, &["--netns", "x", "1234"]),
        "option '--netns' can't be combined with a PID or command"
    );
    assert_eq!(
        err(Mode::Pasta, &["--netns", "x", "sh"]),
        "option '--netns' can't be combined with a PID or command"
    );
    assert_eq!(
        err(Mode::Pasta, &["--userns", "/proc/1/ns/user", "sh"]),
        "option '--userns' requires --netns or a PID"
    );
}

#[test]
fn disabled_protocols_drop_default_forwarding() {
    let o = pasta(&["--no-tcp"]);
    assert_eq!(o.tcp_ports, Forward::None);
    assert_eq!(o.tcp_ns, Forward::None);
    assert_eq!(o.udp_ports, Forward::Auto);
    // Explicit `none` is compatible with --no-udp.
    let o = pasta(&["-u", "none", "--no-udp"]);
    assert_eq!(o.udp_ports, Forward::None);
}

#[test]
fn misc_values() {
    let o = pasta(&[
        "-P",
        "/tmp/pasta.pid",
        "-p",
        "/tmp/x.pcap",
        "-F",
        "5",
        "-c",
        "/tmp/ctl.sock",
        "-H",
        "box",
        "-M",
        "02:11:22:33:44:55",
        "-o",
        "2001:db8::7",
        "-i",
        "eth0",
        "--freebind",
        "--no-splice",
    ]);
    assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/pasta.pid")));
    assert_eq!(o.pcap, Some(PathBuf::from("/tmp/x.pcap")));
    assert_eq!(o.fd, Some(5));
    assert_eq!(o.control_socket, Some(PathBuf::from("/tmp/ctl.sock")));
    assert_eq!(o.hostname.as_deref(), Some("box"));
    assert_eq!(o.mac_addr, Some(MacAddr([2, 0x11, 0x22, 0x33, 0x44, 0x55])));
    assert_eq!(o.outbound.v6, v6("2001:db8::7"));
    assert!(o.freebind && o.no_splice);
    assert_eq!(
        err(Mode::Passt, &["-s", &"x".repeat(108)]),
        format!(
            "Invalid path {} for option '-s': longer than a UNIX socket path may be (107 bytes)",
            "x".repeat(108)
        )
    );
}

#[test]
fn program_from_argv0() {
    assert_eq!(
        mode_from_argv0("/usr/bin/pasta".as_ref()),
        Some(Mode::Pasta)
    );
    assert_eq!(mode_from_argv0("pasta.avx2".as_ref()), Some(Mode::Pasta));
    assert_eq!(
        mode_from_argv0("/usr/bin/passt".as_ref()),
        Some(Mode::Passt)
    );
    assert_eq!(mode_from_argv0("./passt.avx2".as_ref()), Some(Mode::Passt));
    assert_eq!(mode_from_argv0("/usr/bin/slirp4netns".as_ref()), None);
    assert_eq!(mode_from_argv0("/opt/pasta/bin/x".as_ref()), None);
}
