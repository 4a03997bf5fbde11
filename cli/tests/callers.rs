//! The command lines real callers build (callers.md §1), and the errors they rely on.

use passt_cli::options::{
    mode_from_argv0, AddrPair, Forward, IpVersions, ListOpt, LogLevel, NsTarget, RepairPath,
};
use passt_cli::values::{Id, RunAs};
use passt_cli::{parse, parse_with, Action, CliError, Options, ParseEnv};
use passt_core::fwd::spec::PortSpan;
use passt_core::wire::ethernet::MacAddr;
use passt_core::Mode;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

fn run(mode: Mode, args: &[&str]) -> Options {
    match parse(mode, args) {
        Ok(Action::Run(o)) => *o,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn pasta(args: &[&str]) -> Options {
    run(Mode::Pasta, args)
}

fn passt(args: &[&str]) -> Options {
    run(Mode::Passt, args)
}

fn err(mode: Mode, args: &[&str]) -> String {
    match parse(mode, args) {
        Err(e) => e.to_string(),
        other => panic!("{args:?} parsed: {other:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(s: &str) -> Option<std::net::Ipv4Addr> {
    Some(s.parse().unwrap())
}

fn v6(s: &str) -> Option<std::net::Ipv6Addr> {
    Some(s.parse().unwrap())
}

/// `(first, last, delta, bind address)` of one forwarded range.
type Range = (u16, u16, u16, Option<IpAddr>);

/// Each forwarded range, or `None` if not fixed.
fn ranges(f: &Forward) -> Option<Vec<Range>> {
    match f {
        Forward::Ports { forwards, .. } => Some(
            forwards
                .ranges
                .iter()
                .map(|r| (r.first, r.last, r.delta, r.bind_addr))
                .collect(),
        ),
        Forward::None | Forward::Auto => None,
    }
}

fn delta(from: u16, to: u16) -> u16 {
    to.wrapping_sub(from)
}

const PODMAN_DEFAULT: &[&str] = &[
    "--config-net",
    "--dns-forward",
    "169.254.1.1",
    "-t",
    "none",
    "-u",
    "none",
    "-T",
    "none",
    "-U",
    "none",
    "--no-map-gw",
    "--quiet",
    "--netns",
    "/run/user/1000/netns/x",
    "--map-guest-addr",
    "169.254.1.2",
];

#[test]
fn podman_default_argv() {
    let o = pasta(PODMAN_DEFAULT);
    assert!(o.config_net);
    assert_eq!(o.dns_forward.v4, v4("169.254.1.1"));
    for f in [&o.tcp_ports, &o.udp_ports, &o.tcp_ns, &o.udp_ns] {
        assert_eq!(*f, Forward::None);
    }
    assert!(o.no_map_gw);
    assert_eq!(o.log_level, LogLevel::Warning);
    assert_eq!(
        o.target,
        Some(NsTarget::Netns(PathBuf::from("/run/user/1000/netns/x")))
    );
    assert_eq!(
        o.netns_path(),
        Some(PathBuf::from("/run/user/1000/netns/x"))
    );
    // --netns without --userns: no user namespace to join.
    assert_eq!(o.userns_path(), None);
    assert_eq!(o.map_guest_addr.v4, v4("169.254.1.2"));
    assert!(o.warnings.is_empty());
    // Defaults untouched by podman.
    assert_eq!(o.mtu, Some(65520));
    assert!(!o.dhcp_dns && !o.dhcp_search);
    assert!(!o.foreground);
}

#[test]
fn podman_published_port() {
    // podman run -p 80:60/tcp
    let o = pasta(&[
        "--config-net",
        "-t",
        "80-80:60-60",
        "--dns-forward",
        "169.254.1.1",
        "-u",
        "none",
        "-T",
        "none",
        "-U",
        "none",
        "--no-map-gw",
        "--quiet",
        "--netns",
        "/run/user/1000/netns/x",
        "--map-guest-addr",
        "169.254.1.2",
    ]);
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![(80, 80, delta(80, 60), None)])
    );
    let Forward::Ports {
        forwards,
        best_effort,
    } = &o.tcp_ports
    else {
        unreachable!()
    };
    assert!(!best_effort);
    assert_eq!(forwards.find(80).map(|(_, r)| r.map(80)), Some(60));
    assert_eq!(o.udp_ports, Forward::None);
}

#[test]
fn podman_host_ip_without_brackets() {
    // podman run -p [::1]:8080:8080 → HostIP inserted bare.
    let o = pasta(&[
        "--config-net",
        "-t",
        "::1/8080-8080:8080-8080",
        "-t",
        "127.0.0.1/8080-8080:8080-8080",
    ]);
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![
            (8080, 8080, 0, Some(ip("::1"))),
            (8080, 8080, 0, Some(ip("127.0.0.1")))
        ])
    );
    // Several -p mappings accumulate.
    let o = pasta(&[
        "-t",
        "80-80:80-80",
        "-t",
        "443-443:8443-8443",
        "-u",
        "53-53:53-53",
    ]);
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![(80, 80, 0, None), (443, 443, delta(443, 8443), None)])
    );
    assert_eq!(ranges(&o.udp_ports), Some(vec![(53, 53, 0, None)]));
    // Not given: -T/-U keep pasta's default.
    assert_eq!(o.tcp_ns, Forward::Auto);
}

#[test]
fn podman_rootless_netns_pid_file() {
    let mut args = PODMAN_DEFAULT.to_vec();
    args.extend([
        "--pid",
        "/run/user/1000/containers/networks/rootless-netns/rootless-netns-conn.pid",
    ]);
    let o = pasta(&args);
    assert_eq!(
        o.pid_file,
        Some(PathBuf::from(
            "/run/user/1000/containers/networks/rootless-netns/rootless-netns-conn.pid"
        ))
    );
}

#[test]
fn podman_options_then_user_options_last_wins() {
    // containers.conf pasta_options first, then --network=pasta:... options.
    let o = pasta(&[
        "--config-net",
        "--mtu",
        "1500",
        "-a",
        "192.0.2.5",
        "--mtu",
        "9000",
        "-a",
        "198.51.100.5",
        "-4",
        "--netns",
        "x",
    ]);
    assert_eq!(o.mtu, Some(9000));
    assert_eq!(o.address.v4, v4("198.51.100.5"));
    assert_eq!(o.ip_versions, IpVersions::V4Only);
    assert_eq!(o.netns_path(), Some(PathBuf::from("/run/netns/x")));
}

#[test]
fn rootlesskit_argv() {
    let o = pasta(&[
        "--stderr",
        "--ns-ifname=tap0",
        "--mtu=65520",
        "--config-net",
        "--address=10.0.2.100",
        "--netmask=24",
        "--gateway=10.0.2.2",
        "--dns-forward=10.0.2.3",
        "--no-map-gw",
        "--ipv4-only",
        "--tcp-ports=auto",
        "--udp-ports=auto",
        "--userns=/proc/1/ns/user",
        "--netns=/proc/1/ns/net",
    ]);
    assert_eq!(o.ns_ifname.as_deref(), Some("tap0"));
    assert_eq!(o.mtu, Some(65520));
    assert!(o.config_net);
    assert_eq!(
        o.address,
        AddrPair {
            v4: v4("10.0.2.100"),
            v6: None
        }
    );
    assert_eq!(o.prefix_len_v4, Some(24));
    assert_eq!(o.gateway.v4, v4("10.0.2.2"));
    assert_eq!(o.dns_forward.v4, v4("10.0.2.3"));
    assert!(o.no_map_gw);
    assert_eq!(o.ip_versions, IpVersions::V4Only);
    assert_eq!(o.tcp_ports, Forward::Auto);
    assert_eq!(o.udp_ports, Forward::Auto);
    assert_eq!(o.netns_path(), Some(PathBuf::from("/proc/1/ns/net")));
    assert_eq!(o.userns_path(), Some(PathBuf::from("/proc/1/ns/user")));
    assert_eq!(
        o.warnings,
        ["option '--stderr' is deprecated and has no effect"]
    );
}

#[test]
fn rootlesskit_pid_form() {
    let o = pasta(&[
        "--stderr",
        "--ns-ifname=tap0",
        "--mtu=65520",
        "--config-net",
        "--tcp-ports=none",
        "--udp-ports=none",
        "--host-lo-to-ns-lo",
        "4242",
    ]);
    assert_eq!(o.target, Some(NsTarget::Pid(4242)));
    assert_eq!(o.netns_path(), Some(PathBuf::from("/proc/4242/ns/net")));
    assert_eq!(o.userns_path(), Some(PathBuf::from("/proc/4242/ns/user")));
    assert!(o.host_lo_to_ns_lo);
    assert_eq!(o.warnings.len(), 2);
    // --netns-only: the PID's user namespace is not joined.
    let o = pasta(&["--netns-only", "4242"]);
    assert_eq!(o.userns_path(), None);
    // --userns overrides the PID's.
    let o = pasta(&["--userns", "/proc/1/ns/user", "4242"]);
    assert_eq!(o.userns_path(), Some(PathBuf::from("/proc/1/ns/user")));
}

#[test]
fn rootlesskit_feature_probes() {
    assert_eq!(parse(Mode::Pasta, ["--version"]), Ok(Action::Version));
    assert_eq!(
        parse(Mode::Pasta, ["--host-lo-to-ns-lo", "--version"]),
        Ok(Action::Version)
    );
    assert_eq!(parse(Mode::Passt, ["--help"]), Ok(Action::Help));
    assert_eq!(parse(Mode::Pasta, ["-h"]), Ok(Action::Help));
    assert_eq!(
        parse(Mode::Passt, ["--print-capabilities"]),
        Ok(Action::PrintCapabilities)
    );
}

#[test]
fn libvirt_passt_argv() {
    let o = passt(&[
        "--one-off",
        "--socket",
        "/run/libvirt/qemu/passt/1-vm-net0.socket",
        "--mac-addr",
        "52:54:00:12:34:56",
        "--pid",
        "/run/libvirt/qemu/passt/1-vm-net0-passt.pid",
        "--mtu",
        "1500",
        "--interface",
        "eth0",
        "--log-file",
        "/var/log/libvirt/qemu/vm-passt.log",
        "--hostname",
        "vm",
        "--fqdn",
        "vm.example.org",
        "--address",
        "192.0.2.10",
        "--netmask",
        "24",
        "--address",
        "2001:db8::10",
        "--tcp-ports",
        "192.0.2.1%eth0/2222:22,~2223",
        "--tcp-ports",
        "8080-8090:9080-9090",
        "--udp-ports",
        "198.51.100.1/all",
    ]);
    assert!(o.one_off);
    assert_eq!(
        o.socket,
        Some(PathBuf::from("/run/libvirt/qemu/passt/1-vm-net0.socket"))
    );
    assert_eq!(
        o.mac_addr,
        Some(MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]))
    );
    assert_eq!(o.mtu, Some(1500));
    assert_eq!(o.interface.as_deref(), Some("eth0"));
    assert_eq!(o.hostname.as_deref(), Some("vm"));
    assert_eq!(o.fqdn.as_deref(), Some("vm.example.org"));
    assert_eq!(
        o.address,
        AddrPair {
            v4: v4("192.0.2.10"),
            v6: v6("2001:db8::10")
        }
    );
    assert_eq!(o.prefix_len_v4, Some(24));
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![
            (2222, 2222, delta(2222, 22), Some(ip("192.0.2.1"))),
            (8080, 8090, 1000, None)
        ])
    );
    let Forward::Ports { forwards, .. } = &o.tcp_ports else {
        unreachable!()
    };
    assert_eq!(forwards.ranges[0].bind_iface.as_deref(), Some("eth0"));
    // `ADDR/all`: every port but the ephemeral range, binding failures tolerated.
    assert_eq!(
        ranges(&o.udp_ports),
        Some(vec![(1, 49151, 0, Some(ip("198.51.100.1")))])
    );
    assert!(matches!(
        o.udp_ports,
        Forward::Ports {
            best_effort: true,
            ..
        }
    ));
    assert_eq!(o.target, None);
    // passt advertises DNS by default.
    assert!(o.dhcp_dns && o.dhcp_search);
}

#[test]
fn libvirt_vhost_user() {
    let o = passt(&[
        "--vhost-user",
        "--one-off",
        "--socket",
        "/run/libvirt/qemu/passt/vm.socket",
        "--pid",
        "/run/vm.pid",
    ]);
    assert!(o.vhost_user && o.one_off);
}

#[test]
fn qemu_netdev_passt_argv() {
    let o = passt(&[
        "--quiet",
        "--mtu",
        "65520",
        "--address",
        "10.0.2.15",
        "--netmask",
        "255.255.255.0",
        "--mac-addr",
        "9a:55:9a:55:9a:56",
        "--gateway",
        "10.0.2.2",
        "--interface",
        "eth0",
        "--outbound",
        "192.0.2.7",
        "--outbound-if4",
        "eth0",
        "--outbound-if6",
        "eth1",
        "--dns",
        "10.0.2.3",
        "--fqdn",
        "guest.example.org",
        "--no-dhcp-dns",
        "--no-dhcp-search",
        "--map-host-loopback",
        "10.0.2.2",
        "--map-guest-addr",
        "10.0.2.4",
        "--dns-forward",
        "10.0.2.3",
        "--dns-host",
        "127.0.0.53",
        "--no-icmp",
        "--no-dhcp",
        "--no-ndp",
        "--no-dhcpv6",
        "--no-ra",
        "--freebind",
        "--ipv4-only",
        "--search",
        "example.org example.com",
        "--tcp-ports",
        "80,443",
        "--udp-ports",
        "53",
        "--pid",
        "/tmp/qemu-passt-1234.pid",
        "--fd",
        "3",
    ]);
    assert_eq!(o.log_level, LogLevel::Warning);
    assert_eq!(o.prefix_len_v4, Some(24));
    assert_eq!(o.outbound.v4, v4("192.0.2.7"));
    assert_eq!(o.outbound_if4.as_deref(), Some("eth0"));
    assert_eq!(o.outbound_if6.as_deref(), Some("eth1"));
    assert_eq!(o.dns, ListOpt::Given(vec![ip("10.0.2.3")]));
    assert!(!o.dhcp_dns && !o.dhcp_search);
    assert_eq!(o.map_host_loopback.v4, v4("10.0.2.2"));
    assert_eq!(o.map_guest_addr.v4, v4("10.0.2.4"));
    assert_eq!(o.dns_host.v4, v4("127.0.0.53"));
    assert!(o.no_icmp && o.no_dhcp && o.no_ndp && o.no_dhcpv6 && o.no_ra && o.freebind);
    assert!(!o.no_tcp && !o.no_udp);
    assert_eq!(
        o.search,
        ListOpt::Given(vec!["example.org".into(), "example.com".into()])
    );
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![(80, 80, 0, None), (443, 443, 0, None)])
    );
    assert_eq!(o.fd, Some(3));
    // --fd implies --one-off: quit when qemu closes the socket.
    assert!(o.one_off);
    // The vhost-user flavour.
    let o = passt(&[
        "--vhost-user",
        "--quiet",
        "--ipv6-only",
        "--pid",
        "/tmp/p",
        "--fd",
        "3",
    ]);
    assert!(o.vhost_user);
    assert_eq!(o.ip_versions, IpVersions::V6Only);
}

#[test]
fn muvm_argv() {
    let o = passt(&[
        "-q",
        "-f",
        "--fd",
        "7",
        "-t",
        "127.0.0.1/3000-3001:3000-3001",
        "-u",
        "127.0.0.1/5353-5353:5353-5353",
    ]);
    assert!(o.foreground && o.one_off);
    assert_eq!(o.fd, Some(7));
    assert_eq!(
        ranges(&o.tcp_ports),
        Some(vec![(3000, 3001, 0, Some(ip("127.0.0.1")))])
    );
    assert_eq!(
        ranges(&o.udp_ports),
        Some(vec![(5353, 5353, 0, Some(ip("127.0.0.1")))])
    );
}

#[test]
fn cuttlefish_and_cloud_hypervisor_argv() {
    let o = passt(&[
        "--vhost-user",
        "--foreground",
        "-s",
        "/tmp/cf/passt.sock",
        "--repair-path",
        "none",
        "-4",
        "-a",
        "192.0.2.2",
        "-n",
        "24",
        "-g",
        "192.0.2.1",
        "--map-host-loopback",
        "192.0.2.1",
        "-D",
        "198.51.100.53",
    ]);
    assert_eq!(o.repair_path, Some(RepairPath::Disabled));
    assert_eq!(o.socket, Some(PathBuf::from("/tmp/cf/passt.sock")));
    assert_eq!(o.dns, ListOpt::Given(vec![ip("198.51.100.53")]));
    let o = passt(&[
        "--vhost-user",
        "--foreground",
        "--socket",
        "/tmp/ch.sock",
        "--quiet",
    ]);
    assert!(o.vhost_user && o.foreground);
    assert_eq!(o.repair_path, None);
    let o = passt(&["--repair-path", "/tmp/ch.sock.repair"]);
    assert_eq!(
        o.repair_path,
        Some(RepairPath::Path(PathBuf::from("/tmp/ch.sock.repair")))
    );
}

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
fn wrong_program() {
    assert_eq!(
        err(Mode::Passt, &["--netns", "x"]),
        "option '--netns' is for pasta only"
    );
    assert_eq!(
        err(Mode::Passt, &["-I", "tap0"]),
        "option '--ns-ifname' is for pasta only"
    );
    assert_eq!(
        err(Mode::Passt, &["-T", "80"]),
        "option '--tcp-ns' is for pasta only"
    );
    assert_eq!(
        err(Mode::Pasta, &["-s", "/tmp/s"]),
        "option '--socket' is for passt only"
    );
    assert_eq!(
        err(Mode::Pasta, &["-1"]),
        "option '--one-off' is for passt only"
    );
    assert_eq!(
        err(Mode::Pasta, &["--print-capabilities"]),
        "option '--print-capabilities' is for passt only"
    );
    assert_eq!(
        err(Mode::Passt, &["sh"]),
        "unexpected non-option argument 'sh'"
    );
}

#[test]
fn bad_input_errors_name_the_option() {
    let cases: &[(Mode, &[&str], &str)] = &[
        (
            Mode::Pasta,
            &["-t", "70000"],
            "Invalid port specifier 70000 for option '-t': port is not a number from 0 to 65535",
        ),
        (
            Mode::Pasta,
            &["--tcp-ports=70000"],
            "Invalid port specifier 70000 for option '-t': port is not a number from 0 to 65535",
        ),
        (
            Mode::Pasta,
            &["-u", "1-2:3-5"],
            "Invalid port specifier 1-2:3-5 for option '-u': mapped range differs in length from the original",
        ),
        (
            Mode::Pasta,
            &["-t", "~20-30,~25-40"],
            "Invalid port specifier ~20-30,~25-40 for option '-t': overlapping excluded ranges",
        ),
        (
            Mode::Pasta,
            &["--map-guest-adr", "169.254.1.2"],
            "unrecognized option '--map-guest-adr'",
        ),
        (Mode::Pasta, &["-x"], "invalid option -- 'x'"),
        (Mode::Pasta, &["-t"], "option requires an argument -- 't'"),
        (Mode::Pasta, &["--netns"], "option '--netns' requires an argument"),
        (Mode::Pasta, &["--quiet=1"], "option '--quiet' doesn't allow an argument"),
        (
            Mode::Pasta,
            &["-a", "300.1.1.1"],
            "Invalid address 300.1.1.1 for option '-a': not an IPv4 or IPv6 address",
        ),
        (
            Mode::Pasta,
            &["-a", "127.0.0.1"],
            "Invalid address 127.0.0.1 for option '-a': loopback address",
        ),
        (
            Mode::Pasta,
            &["-g", "ff02::1"],
            "Invalid address ff02::1 for option '-g': multicast address",
        ),
        (
            Mode::Pasta,
            &["--dns-forward", "nope"],
            "Invalid address nope for option '--dns-forward': not an IPv4 or IPv6 address",
        ),
        (
            Mode::Pasta,
            &["-m", "50"],
            "Invalid MTU 50 for option '-m': must be 0 (don't advertise) or 68 to 65535",
        ),
        (
            Mode::Pasta,
            &["-n", "33"],
            "Invalid netmask 33 for option '-n': must be a dotted netmask or a prefix length from 0 to 32",
        ),
        (
            Mode::Pasta,
            &["--ns-mac-addr", "01:00:5e:00:00:01"],
            "Invalid MAC address 01:00:5e:00:00:01 for option '--ns-mac-addr': must be a unicast address",
        ),
        (
            Mode::Pasta,
            &["-I", "averyveryverylongname"],
            "Invalid interface averyveryverylongname for option '-I': not a valid interface name (1 to 15 characters)",
        ),
        (
            Mode::Passt,
            &["-F", "1"],
            "Invalid file descriptor 1 for option '-F': must be a file descriptor number above 2",
        ),
        (
            Mode::Pasta,
            &["--log-size", "1024"],
            "Invalid log size 1024 for option '--log-size': must be at least 40960 bytes",
        ),
        (
            Mode::Passt,
            &["-t", "auto"],
            "Invalid port specifier auto for option '-t': 'auto' is for pasta only",
        ),
        (
            Mode::Pasta,
            &["-t", "all"],
            "Invalid port specifier all for option '-t': 'all' is for passt only",
        ),
        (
            Mode::Pasta,
            &["-T", "::1/80"],
            "Invalid port specifier ::1/80 for option '-T': no address or interface for namespace-side forwarding",
        ),
        (
            Mode::Pasta,
            &["-t", "none", "-t", "80"],
            "Invalid port specifier 80 for option '-t': conflicts with an earlier 'none', 'auto' or 'all'",
        ),
        (
            Mode::Pasta,
            &["-t", "80", "-t", "none"],
            "Invalid port specifier none for option '-t': can't follow other port specifiers",
        ),
        (
            Mode::Pasta,
            &["-t", "80", "-t", "79-81"],
            "Invalid port specifier 79-81 for option '-t': port 80 is already forwarded",
        ),
        (
            Mode::Pasta,
            &["--no-tcp", "-t", "80"],
            "option '-t' can't be combined with --no-tcp",
        ),
        (
            Mode::Pasta,
            &["-U", "53", "--no-udp"],
            "option '-U' can't be combined with --no-udp",
        ),
    ];
    for (mode, args, want) in cases {
        assert_eq!(err(*mode, args), *want, "{args:?}");
    }
}

#[test]
fn podman_retry_grep_matches_an_unknown_map_guest_addr() {
    // Podman looks for this prefix to detect a pasta without --map-guest-addr; an
    // option that *starts* with it but is unknown still produces the same text.
    let e = err(Mode::Pasta, &["--map-guest-addr-v2", "169.254.1.2"]);
    assert!(e.contains("unrecognized option '--map-guest-addr"), "{e}");
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
fn error_order_follows_the_three_passes() {
    // Pass 1 reports syntax errors before pass 2 looks at port specs…
    assert_eq!(
        err(Mode::Pasta, &["-t", "70000", "--bogus"]),
        "unrecognized option '--bogus'"
    );
    assert!(err(Mode::Pasta, &["-t", "70000", "-m", "50"]).contains("'-m'"));
    // …and -t/-u before -T/-U.
    assert!(err(Mode::Pasta, &["-T", "70000", "-t", "70001"]).contains("'-t'"));
    // --version ends parsing where it stands.
    assert_eq!(
        parse(Mode::Pasta, ["--version", "--bogus"]),
        Ok(Action::Version)
    );
    assert_eq!(
        parse(Mode::Pasta, ["-t", "70000", "--version"]),
        Ok(Action::Version)
    );
    assert_eq!(
        err(Mode::Pasta, &["--bogus", "--version"]),
        "unrecognized option '--bogus'"
    );
    assert!(err(Mode::Pasta, &["-m", "50", "--version"]).contains("MTU"));
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

#[test]
fn errors_are_one_line() {
    for args in [&["--dhcp"][..], &["-t", "1-2:3-5"], &["--netns", "x", "1"]] {
        let e: CliError = parse(Mode::Pasta, args).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// Words from the option table and plausible (and implausible) values.
    fn word() -> impl Strategy<Value = String> {
        let names: Vec<String> = passt_cli::options::OPTIONS
            .iter()
            .flat_map(|d| {
                d.longs
                    .iter()
                    .map(|l| format!("--{l}"))
                    .chain(d.short.map(|c| format!("-{c}")))
            })
            .collect();
        prop_oneof![
            proptest::sample::select(names),
            proptest::sample::select(vec![
                "--",
                "-",
                "none",
                "auto",
                "all",
                "80",
                "70000",
                "1-2:3-4",
                "::1/80",
                "%lo/22",
                "~1-1000",
                "192.0.2.1",
                "2001:db8::1",
                "0",
                "65520",
                "24",
                "sh",
                "1234",
            ])
            .prop_map(String::from),
            "\\PC{0,12}",
            "-[a-zA-Z0-9]{1,4}",
            "--[a-z-]{1,12}(=[a-z0-9:/.]{0,6})?",
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(words in proptest::collection::vec(word(), 0..12), pasta in any::<bool>()) {
            let mode = if pasta { Mode::Pasta } else { Mode::Passt };
            if let Err(e) = parse(mode, &words) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }
}
