//! The command lines podman builds for pasta (callers.md §1), and the error text its
//! retry logic greps for.

mod argv;

use argv::*;
use passt_cli::options::{Forward, IpVersions, LogLevel, NsTarget};
use passt_core::Mode;
use std::path::PathBuf;

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
fn podman_retry_grep_matches_an_unknown_map_guest_addr() {
    // Podman looks for this prefix to detect a pasta without --map-guest-addr; an
    // option that *starts* with it but is unknown still produces the same text.
    let e = err(Mode::Pasta, &["--map-guest-addr-v2", "169.254.1.2"]);
    assert!(e.contains("unrecognized option '--map-guest-addr"), "{e}");
}
