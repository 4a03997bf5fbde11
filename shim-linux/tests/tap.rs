//! Tap device + netlink configuration in a sealed lab namespace (needs root).

mod common;

use std::io;
use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{have_root, Lab};
use passt_shim_linux::netlink::{Family, IFA_F_NODAD, IFA_F_TENTATIVE, IFF_NOARP, IFF_UP};
use passt_shim_linux::{in_netns, Netlink, Tap};
use rustix::net::{eth, AddressFamily, SocketFlags, SocketType};
use serde_json::Value;

const V4: &str = "198.51.100.2";
const V4_GW: &str = "198.51.100.1";
const V6: &str = "2001:db8::2";
const V6_GW: &str = "2001:db8::1";
/// A locally administered MAC (the fake guest MAC of the reference).
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Opens tap `name` and a netlink socket inside `lab`.
fn tap_and_netlink(lab: &Lab, name: &str) -> (Tap, Netlink) {
    in_netns(&lab.netns(), || -> io::Result<_> {
        Ok((Tap::open(name)?, Netlink::open()?))
    })
    .expect("enter lab")
    .expect("open tap and netlink in lab")
}

/// What pasta --config-net does (reference §8.3), with explicit addresses:
/// the link comes up with IFF_NOARP so the kernel skips DAD for the
/// link-local address too, and NOARP is cleared once addresses are in.
fn configure(nl: &mut Netlink, ifname: &str) -> u32 {
    let idx = nl.link_index(ifname).unwrap();
    nl.link_set_mac(idx, MAC).unwrap();
    nl.link_set_mtu(idx, 65520).unwrap();
    nl.link_set_flags(idx, IFF_UP | IFF_NOARP, IFF_UP | IFF_NOARP)
        .unwrap();
    nl.addr_add(idx, ip(V4), 24, true).unwrap();
    nl.addr_add(idx, ip(V6), 64, true).unwrap();
    assert!(nl.wait_dad(idx, Duration::from_secs(5)).unwrap());
    nl.link_set_flags(idx, 0, IFF_NOARP).unwrap();
    nl.route_add_default(idx, ip(V4_GW)).unwrap();
    nl.route_add_default(idx, ip(V6_GW)).unwrap();
    let lo = nl.link_index("lo").unwrap();
    nl.link_set_up(lo).unwrap();
    idx
}

fn flags_of(link: &Value) -> Vec<String> {
    link["flags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn tap_appears_in_the_namespace_with_the_requested_name() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("tapname");
    let (tap, _nl) = tap_and_netlink(&lab, "pasta-h4");
    assert_eq!(tap.name(), "pasta-h4");
    let links = lab.ip_json(&["link", "show", "dev", "pasta-h4"]);
    assert_eq!(links[0]["ifname"], "pasta-h4");
    assert_eq!(links[0]["link_type"], "ether");
    // Not visible in our own namespace.
    let here = common::run(std::process::Command::new("ip").args(["link", "show", "pasta-h4"]));
    assert_ne!(here.code, Some(0), "tap leaked into the test's namespace");
    // Down and nothing queued: a read would block.
    let mut buf = [0u8; 2048];
    let e = tap.read_frame(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
}

#[test]
fn kernel_picks_a_name_from_a_template() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("taptpl");
    let (tap, mut nl) = tap_and_netlink(&lab, "h4tap%d");
    assert_eq!(tap.name(), "h4tap0");
    let idx = nl.link_index("h4tap0").unwrap();
    assert_eq!(nl.link_info(idx).unwrap().name, "h4tap0");
}

#[test]
fn netlink_config_matches_what_ip_reports() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("cfg");
    let (_tap, mut nl) = tap_and_netlink(&lab, "pasta0");
    let idx = configure(&mut nl, "pasta0");

    let link = &lab.ip_json(&["addr", "show", "dev", "pasta0"])[0];
    assert_eq!(link["mtu"], 65520);
    assert!(flags_of(link).contains(&"UP".to_string()), "{link}");
    assert!(!flags_of(link).contains(&"NOARP".to_string()), "{link}");
    assert_eq!(link["address"], "52:54:00:12:34:56");
    let addrs = link["addr_info"].as_array().unwrap();
    let v4 = addrs.iter().find(|a| a["local"] == V4).expect("v4 address");
    assert_eq!(v4["family"], "inet");
    assert_eq!(v4["prefixlen"], 24);
    let v6 = addrs.iter().find(|a| a["local"] == V6).expect("v6 address");
    assert_eq!(v6["prefixlen"], 64);
    assert_eq!(v6["nodad"], true, "{v6}");
    for a in addrs {
        assert!(a.get("tentative").is_none(), "tentative address: {a}");
    }

    let r4 = lab.ip_json(&["-4", "route", "show", "default"]);
    assert_eq!(r4[0]["gateway"], V4_GW, "{r4}");
    assert_eq!(r4[0]["dev"], "pasta0");
    let r6 = lab.ip_json(&["-6", "route", "show", "default"]);
    assert_eq!(r6[0]["gateway"], V6_GW, "{r6}");
    assert_eq!(r6[0]["dev"], "pasta0");

    let lo = &lab.ip_json(&["link", "show", "dev", "lo"])[0];
    assert!(flags_of(lo).contains(&"UP".to_string()), "{lo}");

    // Our own readers agree with ip.
    let info = nl.link_info(idx).unwrap();
    assert_eq!(info.mtu, Some(65520));
    assert_eq!(info.flags & IFF_UP, IFF_UP);
    assert_eq!(nl.link_mac(idx).unwrap(), MAC);
    let dumped = nl.addr_dump(idx).unwrap();
    let d6 = dumped.iter().find(|a| a.addr == ip(V6)).unwrap();
    assert_eq!(d6.prefix_len, 64);
    assert_eq!(d6.flags & IFA_F_NODAD, IFA_F_NODAD);
    assert_eq!(d6.flags & IFA_F_TENTATIVE, 0);
    let routes = nl.route_dump(idx, Family::V4).unwrap();
    assert!(routes
        .iter()
        .any(|r| r.dst_len == 0 && r.gateway == Some(ip(V4_GW))));

    // Kernel errors come back as errno.
    let e = nl.addr_add(idx, ip(V4), 24, true).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    let e = nl.route_add_default(idx, ip(V4_GW)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{e}");
    let e = nl.link_index("no-such-if").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
}

/// Frame with the IEEE 802 "local experimental" EtherType 0x88b5 and a marker.
fn test_frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC); // destination: the tap's own MAC
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source: locally administered
    f.extend_from_slice(&[0x88, 0xb5]); // EtherType
    f.extend_from_slice(b"passt-h4 tap write test frame, padded to 60 bytes!");
    f.resize(60, 0);
    f
}

#[test]
fn frame_written_to_the_tap_is_received_by_a_packet_socket() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("txframe");
    let ns = lab.netns();
    let (tap, mut nl) = tap_and_netlink(&lab, "pasta1");
    let idx = nl.link_index("pasta1").unwrap();
    nl.link_set_mac(idx, MAC).unwrap();
    nl.link_set_up(idx).unwrap();
    let sock = in_netns(&ns, || {
        rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(eth::ALL),
        )
    })
    .unwrap()
    .expect("packet socket");
    rustix::net::sockopt::set_socket_timeout(
        &sock,
        rustix::net::sockopt::Timeout::Recv,
        Some(Duration::from_millis(200)),
    )
    .unwrap();

    let frame = test_frame();
    assert_eq!(tap.write_frame(&frame).unwrap(), frame.len());

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    loop {
        assert!(Instant::now() < deadline, "frame never seen on the tap");
        match rustix::net::recv(&sock, &mut buf[..], rustix::net::RecvFlags::empty()) {
            Ok((n, _)) if buf[..n] == frame[..] => break,
            Ok(_) => {}
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(e) => panic!("recv: {e}"),
        }
    }
    let stats = &lab.ip_json(&["-s", "link", "show", "dev", "pasta1"])[0];
    assert!(
        stats["stats64"]["rx"]["packets"].as_u64().unwrap() >= 1,
        "{stats}"
    );
}

#[test]
fn frames_sent_by_the_namespace_are_read_from_the_tap() {
    if !have_root() {
        return;
    }
    let lab = Lab::new("rxframe");
    let ns = lab.netns();
    let (tap, mut nl) = tap_and_netlink(&lab, "pasta2");
    let idx = nl.link_index("pasta2").unwrap();
    nl.link_set_up(idx).unwrap();
    nl.addr_add(idx, ip(V4), 24, true).unwrap();

    // A datagram to an unresolved neighbour makes the kernel ARP for it.
    in_netns(&ns, || {
        let s = UdpSocket::bind((ip(V4), 0)).unwrap();
        s.send_to(b"x", (ip("198.51.100.9"), 9)).unwrap();
    })
    .unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 65536];
    loop {
        assert!(
            Instant::now() < deadline,
            "no ARP request read from the tap"
        );
        match tap.read_frame(&mut buf) {
            Ok(n) => {
                let f = &buf[..n];
                // Ethernet type ARP, opcode request, target IP 198.51.100.9.
                if n >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 1] {
                    assert_eq!(f[38..42], [198, 51, 100, 9]);
                    assert_eq!(f[28..32], [198, 51, 100, 2]);
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("read_frame: {e}"),
        }
    }
}
