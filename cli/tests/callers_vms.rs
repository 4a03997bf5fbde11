//! The command lines VM managers build for passt and pasta: libvirt, QEMU, muvm,
//! cuttlefish and cloud-hypervisor (callers.md §1).

mod argv;

use argv::*;
use passt_cli::options::{AddrPair, Forward, IpVersions, ListOpt, LogLevel, RepairPath};
use passt_core::wire::ethernet::MacAddr;
use std::path::PathBuf;

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

/// libvirt and qemu's vhost-user back-end convention (qemu docs/interop/vhost-user.rst,
/// "Backend program conventions"): `--print-capabilities` prints a JSON object whose
/// `type` is the device type, and exits 0.
#[test]
fn print_capabilities_names_a_net_back_end() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_passt"))
        .arg("--print-capabilities")
        .output()
        .expect("run passt");
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["type"], "net", "{json}");
}
