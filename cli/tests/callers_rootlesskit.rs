//! The command lines rootlesskit builds for pasta, and its feature probes
//! (callers.md §1).

mod argv;

use argv::*;
use passt_cli::options::{AddrPair, Forward, IpVersions, NsTarget};
use passt_cli::{parse, Action};
use passt_core::Mode;
use std::path::PathBuf;

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
