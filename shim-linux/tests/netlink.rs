//! rtnetlink client against configurations made by `ip` in sealed labs
//! (needs root): reading back addresses and the default route, multipath
//! template choice, and copying a template's addresses and routes to a tap.

mod common;

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use common::{have_root, Lab};
use passt_shim_linux::netlink::{
    DefaultRoute, Family, IFA_F_NODAD, IFF_NOARP, IFF_UP, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE,
};
use passt_shim_linux::{in_netns, Netlink, Tap};
use serde_json::Value;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn netlink_in(lab: &Lab) -> Netlink {
    in_netns(&lab.netns(), Netlink::open)
        .expect("enter lab")
        .expect("netlink socket")
}

/// A "host" lab whose template interface `t0` (one end of a veth pair, both
/// ends up) is configured with `ip`, the way a real host would be.
fn template_lab(tag: &str) -> Lab {
    let lab = Lab::new(tag);
    lab.ip(&["link", "add", "t0", "type", "veth", "peer", "name", "t1"]);
    lab.ip(&["addr", "add", "203.0.113.5/24", "dev", "t0"]);
    lab.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8:1::5/64",
        "dev",
        "t0",
        "nodad",
    ]);
    lab.ip(&["link", "set", "t0", "up"]);
    lab.ip(&["link", "set", "t1", "up"]);
    lab
}

#[test]
fn addr_dump_and_default_route_read_back_what_ip_configured() {
    if !have_root() {
        return;
    }
    let lab = template_lab("tpl");
    lab.ip(&[
        "route",
        "add",
        "default",
        "via",
        "203.0.113.1",
        "metric",
        "100",
    ]);
    lab.ip(&["-6", "route", "add", "default", "via", "2001:db8:1::1"]);
    let mut nl = netlink_in(&lab);
    let t0 = nl.link_index("t0").unwrap();

    let addrs = nl.addr_dump(t0).unwrap();
    let v4 = addrs.iter().find(|a| a.addr == ip("203.0.113.5")).unwrap();
    assert_eq!(
        (v4.prefix_len, v4.scope, v4.ifindex),
        (24, RT_SCOPE_UNIVERSE, t0)
    );
    let v6 = addrs
        .iter()
        .find(|a| a.addr == ip("2001:db8:1::5"))
        .unwrap();
    assert_eq!((v6.prefix_len, v6.scope), (64, RT_SCOPE_UNIVERSE));
    assert_eq!(v6.flags & IFA_F_NODAD, IFA_F_NODAD);
    let ll = addrs
        .iter()
        .find(|a| matches!(a.addr, IpAddr::V6(v) if v.segments()[0] == 0xfe80))
        .expect("kernel-generated link-local address");
    assert_eq!(ll.scope, RT_SCOPE_LINK);
    // The peer's addresses are not reported for t0.
    let t1 = nl.link_index("t1").unwrap();
    assert!(nl
        .addr_dump(t1)
        .unwrap()
        .iter()
        .all(|a| a.addr != ip("203.0.113.5")));

    assert_eq!(
        nl.default_route_iface(Family::V4).unwrap(),
        Some(DefaultRoute {
            ifindex: t0,
            gateway: Some(ip("203.0.113.1"))
        })
    );
    assert_eq!(
        nl.default_route_iface(Family::V6).unwrap(),
        Some(DefaultRoute {
            ifindex: t0,
            gateway: Some(ip("2001:db8:1::1"))
        })
    );

    // A lower-metric default route elsewhere becomes the template.
    lab.ip(&["addr", "add", "198.51.100.5/24", "dev", "t1"]);
    lab.ip(&[
        "route",
        "add",
        "default",
        "via",
        "198.51.100.1",
        "dev",
        "t1",
        "metric",
        "50",
    ]);
    assert_eq!(
        nl.default_route_iface(Family::V4).unwrap(),
        Some(DefaultRoute {
            ifindex: t1,
            gateway: Some(ip("198.51.100.1"))
        })
    );
}

#[test]
fn no_default_route_means_no_template() {
    if !have_root() {
        return;
    }
    let lab = template_lab("nodef");
    let mut nl = netlink_in(&lab);
    assert_eq!(nl.default_route_iface(Family::V4).unwrap(), None);
    assert_eq!(nl.default_route_iface(Family::V6).unwrap(), None);
}

#[test]
fn multipath_default_route_uses_the_heaviest_next_hop() {
    if !have_root() {
        return;
    }
    let lab = template_lab("mpath");
    lab.ip(&[
        "route",
        "add",
        "default",
        "nexthop",
        "via",
        "203.0.113.1",
        "dev",
        "t0",
        "weight",
        "1",
        "nexthop",
        "via",
        "203.0.113.2",
        "dev",
        "t0",
        "weight",
        "5",
    ]);
    let mut nl = netlink_in(&lab);
    let t0 = nl.link_index("t0").unwrap();
    let routes = nl.route_dump(t0, Family::V4).unwrap();
    let def = routes.iter().find(|r| r.dst_len == 0).expect("default");
    assert_eq!(def.nexthops.len(), 2, "{def:?}");
    assert_eq!(
        nl.default_route_iface(Family::V4).unwrap(),
        Some(DefaultRoute {
            ifindex: t0,
            gateway: Some(ip("203.0.113.2"))
        })
    );
}

fn routes_json(lab: &Lab, family: &str) -> Vec<Value> {
    lab.ip_json(&[family, "route", "show", "table", "main"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has_route(routes: &[Value], dst: &str, gateway: Option<&str>, dev: &str) -> bool {
    routes
        .iter()
        .any(|r| r["dst"] == dst && r["dev"] == dev && gateway.is_none_or(|g| r["gateway"] == g))
}

#[test]
fn template_addresses_and_routes_are_copied_to_a_tap() {
    if !have_root() {
        return;
    }
    let host = template_lab("host");
    host.ip(&["route", "add", "default", "via", "203.0.113.1"]);
    // 198.51.100.0/26 goes via .129, reachable only through the /25 route:
    // the copy has to install the /25 first, whatever the dump order.
    host.ip(&["route", "add", "198.51.100.128/25", "dev", "t0"]);
    host.ip(&["route", "add", "198.51.100.0/26", "via", "198.51.100.129"]);
    // A preferred source is specific to the host; the copy drops it.
    host.ip(&[
        "route",
        "add",
        "198.51.100.64/26",
        "dev",
        "t0",
        "src",
        "203.0.113.5",
    ]);
    host.ip(&["-6", "route", "add", "default", "via", "2001:db8:1::1"]);
    host.ip(&[
        "-6",
        "route",
        "add",
        "2001:db8:2::/48",
        "via",
        "2001:db8:1::fe",
    ]);
    // A route through the other interface must not be copied.
    host.ip(&["addr", "add", "198.51.100.250/32", "dev", "t1"]);
    host.ip(&["route", "add", "203.0.113.128/25", "dev", "t1"]);

    let mut hnl = netlink_in(&host);
    let t0 = hnl.link_index("t0").unwrap();
    let addrs = hnl.addr_dump(t0).unwrap();
    let r4 = hnl.route_dump(t0, Family::V4).unwrap();
    let r6 = hnl.route_dump(t0, Family::V6).unwrap();
    assert!(r4.iter().all(|r| r.uses(t0)));

    let guest = Lab::new("guest");
    let (_tap, mut gnl) = in_netns(&guest.netns(), || -> io::Result<_> {
        Ok((Tap::open("eth0")?, Netlink::open()?))
    })
    .unwrap()
    .unwrap();
    let tap = gnl.link_index("eth0").unwrap();
    gnl.link_set_mtu(tap, 65520).unwrap();
    gnl.link_set_flags(tap, IFF_UP | IFF_NOARP, IFF_UP | IFF_NOARP)
        .unwrap();
    assert_eq!(gnl.addr_copy(&addrs, Family::V4, tap).unwrap(), 1);
    assert_eq!(gnl.addr_copy(&addrs, Family::V6, tap).unwrap(), 1);
    assert!(gnl.wait_dad(tap, Duration::from_secs(5)).unwrap());
    gnl.link_set_flags(tap, 0, IFF_NOARP).unwrap();
    let n4 = gnl.route_copy(&r4, t0, tap).unwrap();
    let n6 = gnl.route_copy(&r6, t0, tap).unwrap();
    // Prefix routes (EEXIST after the address copy) count as in place.
    assert!(n4 >= 5, "{n4} IPv4 routes in place");
    assert!(n6 >= 3, "{n6} IPv6 routes in place");

    let a = &guest.ip_json(&["addr", "show", "dev", "eth0"])[0]["addr_info"];
    let locals: Vec<&str> = a
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["local"].as_str())
        .collect();
    assert!(locals.contains(&"203.0.113.5"), "{a}");
    assert!(locals.contains(&"2001:db8:1::5"), "{a}");
    for x in a.as_array().unwrap() {
        assert!(x.get("tentative").is_none(), "tentative: {x}");
    }

    let g4 = routes_json(&guest, "-4");
    assert!(
        has_route(&g4, "default", Some("203.0.113.1"), "eth0"),
        "{g4:?}"
    );
    assert!(has_route(&g4, "198.51.100.128/25", None, "eth0"), "{g4:?}");
    assert!(
        has_route(&g4, "198.51.100.0/26", Some("198.51.100.129"), "eth0"),
        "{g4:?}"
    );
    assert!(!g4.iter().any(|r| r["dst"] == "203.0.113.128/25"), "{g4:?}");
    let with_src = g4.iter().find(|r| r["dst"] == "198.51.100.64/26");
    let with_src = with_src.unwrap_or_else(|| panic!("{g4:?}"));
    assert_eq!(with_src["dev"], "eth0");
    assert!(with_src.get("prefsrc").is_none(), "{with_src}");
    let g6 = routes_json(&guest, "-6");
    assert!(
        has_route(&g6, "default", Some("2001:db8:1::1"), "eth0"),
        "{g6:?}"
    );
    assert!(
        has_route(&g6, "2001:db8:2::/48", Some("2001:db8:1::fe"), "eth0"),
        "{g6:?}"
    );
}
