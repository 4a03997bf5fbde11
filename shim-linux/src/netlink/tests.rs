use super::*;
use std::net::Ipv6Addr;

/// Appends an rtattr (len, type, payload, padding) to `v`.
fn push_attr(v: &mut Vec<u8>, ty: u16, data: &[u8]) {
    v.extend_from_slice(&((data.len() + 4) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

/// Wraps `payload` in an nlmsghdr.
fn message(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((payload.len() + 16) as u32).to_ne_bytes()); // nlmsg_len
    v.extend_from_slice(&ty.to_ne_bytes()); // nlmsg_type
    v.extend_from_slice(&flags.to_ne_bytes()); // nlmsg_flags
    v.extend_from_slice(&seq.to_ne_bytes()); // nlmsg_seq
    v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    v.extend_from_slice(payload);
    v
}

#[test]
fn request_layout_matches_netlink_7() {
    let mut req = Request::new(RTM_NEWLINK, NLM_F_ACK);
    req.put(&ifinfomsg(7, IFF_UP, IFF_UP));
    req.attr(IFLA_MTU, &65520u32.to_ne_bytes()).unwrap();
    req.attr(IFLA_IFNAME, b"eth0\0").unwrap();
    let bytes = req.finish(42).unwrap().to_vec();
    // 16 header + 16 ifinfomsg + 8 (MTU) + 12 (4 + "eth0\0" padded to 8)
    assert_eq!(bytes.len(), 52);
    assert_eq!(ne_u32(&bytes, 0), Some(52));
    assert_eq!(ne_u16(&bytes, 4), Some(RTM_NEWLINK));
    assert_eq!(ne_u16(&bytes, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
    assert_eq!(ne_u32(&bytes, 8), Some(42));
    assert_eq!(ne_u32(&bytes, 16 + 4), Some(7)); // ifi_index
    let a: Vec<_> = attrs(&bytes[32..]).collect();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0], (IFLA_MTU, &65520u32.to_ne_bytes()[..]));
    assert_eq!(a[1], (IFLA_IFNAME, &b"eth0\0"[..]));
}

#[test]
fn error_and_done_messages_split() {
    let mut buf = message(NLMSG_ERROR, 0, 9, &(-17i32).to_ne_bytes());
    buf.extend(message(NLMSG_DONE, 2, 9, &0i32.to_ne_bytes()));
    let msgs = parse_messages(&buf).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].0.ty, NLMSG_ERROR);
    assert_eq!(ne_u32(msgs[0].1, 0).map(|e| e as i32), Some(-17));
    assert_eq!(
        msgs[1].0,
        NlHdr {
            ty: NLMSG_DONE,
            flags: 2,
            seq: 9
        }
    );
}

#[test]
fn bad_message_lengths_are_errors_not_panics() {
    // nlmsg_len smaller than the header.
    let mut buf = message(NLMSG_DONE, 0, 1, &[]);
    buf[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(parse_messages(&buf).is_err());
    // nlmsg_len past the end of the datagram.
    let mut buf = message(NLMSG_DONE, 0, 1, &[0; 4]);
    buf[0..4].copy_from_slice(&100u32.to_ne_bytes());
    assert!(parse_messages(&buf).is_err());
    // Truncated header.
    assert!(parse_messages(&[1, 0, 0]).is_err());
}

#[test]
fn malformed_attributes_stop_iteration() {
    let mut v = Vec::new();
    push_attr(&mut v, IFLA_MTU, &1500u32.to_ne_bytes());
    v.extend_from_slice(&[2, 0, 3, 0]); // rta_len 2 < 4: malformed
    push_attr(&mut v, IFLA_MTU, &9000u32.to_ne_bytes());
    let a: Vec<_> = attrs(&v).collect();
    assert_eq!(a, vec![(IFLA_MTU, &1500u32.to_ne_bytes()[..])]);
    // Length running past the buffer.
    assert_eq!(attrs(&[200, 0, 1, 0, 0, 0]).count(), 0);
}

/// An RTM_NEWADDR payload as the kernel sends it for
/// `2001:db8::2/64 nodad` on ifindex 3.
fn addr_payload() -> Vec<u8> {
    let mut p = vec![AF_INET6, 64, IFA_F_NODAD as u8, RT_SCOPE_UNIVERSE];
    p.extend_from_slice(&3u32.to_ne_bytes()); // ifa_index
    let a: Ipv6Addr = "2001:db8::2".parse().unwrap();
    push_attr(&mut p, IFA_ADDRESS, &a.octets());
    push_attr(&mut p, 6, &[0; 16]); // IFA_CACHEINFO, ignored
    push_attr(
        &mut p,
        IFA_FLAGS,
        &(IFA_F_NODAD | IFA_F_PERMANENT).to_ne_bytes(),
    );
    p
}

#[test]
fn addr_message_parses() {
    let e = parse_addr(&addr_payload()).unwrap();
    assert_eq!(
        e,
        AddrEntry {
            ifindex: 3,
            addr: "2001:db8::2".parse().unwrap(),
            prefix_len: 64,
            flags: IFA_F_NODAD | IFA_F_PERMANENT,
            scope: RT_SCOPE_UNIVERSE,
        }
    );
    assert!(copyable(&e));
    let ll = AddrEntry {
        addr: "fe80::1".parse().unwrap(),
        scope: RT_SCOPE_LINK,
        ..e
    };
    assert!(!copyable(&ll));
    let deprecated = AddrEntry {
        flags: IFA_F_DEPRECATED,
        ..e
    };
    assert!(!copyable(&deprecated));
}

/// An RTM_NEWROUTE payload: IPv4 default route in table main with a
/// two-hop multipath: via 203.0.113.1 dev 4 weight 1, via 203.0.113.2
/// dev 4 weight 5; plus a PREFSRC.
fn multipath_payload() -> Vec<u8> {
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type
    let mut p = vec![AF_INET, 0, 0, 0, 254, RTPROT_BOOT, 0, RTN_UNICAST];
    p.extend_from_slice(&0u32.to_ne_bytes()); // rtm_flags
    push_attr(&mut p, RTA_TABLE, &254u32.to_ne_bytes());
    push_attr(&mut p, RTA_PREFSRC, &[203, 0, 113, 5]);
    let mut mp = Vec::new();
    for (gw, hops) in [([203, 0, 113, 1], 0u8), ([203, 0, 113, 2], 4u8)] {
        // rtnexthop: len (8 + 8 for the gateway attr), flags, hops, ifindex
        mp.extend_from_slice(&16u16.to_ne_bytes());
        mp.push(0);
        mp.push(hops);
        mp.extend_from_slice(&4u32.to_ne_bytes());
        push_attr(&mut mp, RTA_GATEWAY, &gw);
    }
    push_attr(&mut p, RTA_MULTIPATH, &mp);
    p
}

#[test]
fn multipath_default_route_picks_heaviest_hop() {
    let r = parse_route(&multipath_payload()).unwrap();
    assert_eq!(r.family, Family::V4);
    assert_eq!(r.table, RT_TABLE_MAIN);
    assert_eq!(r.oif, None);
    assert_eq!(r.nexthops.len(), 2);
    assert_eq!(r.nexthops[1].weight, 5);
    let d = pick_default(std::slice::from_ref(&r)).unwrap();
    assert_eq!(
        d,
        DefaultRoute {
            ifindex: 4,
            gateway: Some("203.0.113.2".parse().unwrap()),
        }
    );
}

#[test]
fn lowest_metric_default_wins() {
    let mut a = Route::default_via(2, "198.51.100.1".parse().unwrap());
    a.priority = Some(100);
    let mut b = Route::default_via(3, "203.0.113.1".parse().unwrap());
    b.priority = Some(50);
    let d = pick_default(&[a.clone(), b]).unwrap();
    assert_eq!(d.ifindex, 3);
    // A non-default route is never the template.
    a.dst_len = 24;
    assert_eq!(pick_default(&[a]), None);
}

#[test]
fn moving_a_route_rewrites_interfaces_and_strips_prefsrc() {
    let r = parse_route(&multipath_payload()).unwrap();
    let moved = r.moved_to(4, 9).unwrap();
    assert!(moved.nexthops.iter().all(|h| h.ifindex == 9));
    assert!(!moved.raw_attrs.iter().any(|(t, _)| *t == RTA_PREFSRC));
    let (_, mp) = moved
        .raw_attrs
        .iter()
        .find(|(t, _)| *t == RTA_MULTIPATH)
        .unwrap();
    let hops = parse_nexthops(Family::V4, mp);
    assert_eq!(hops.len(), 2);
    assert!(hops.iter().all(|h| h.ifindex == 9));
    assert_eq!(hops[0].gateway, Some("203.0.113.1".parse().unwrap()));
    // A hop on another interface: not copied.
    assert_eq!(r.moved_to(5, 9), None);
    let single = Route::default_via(4, "203.0.113.1".parse().unwrap());
    assert_eq!(single.moved_to(4, 9).unwrap().oif, Some(9));
    assert_eq!(single.moved_to(3, 9), None);
}

#[test]
fn link_message_parses() {
    let mut p = ifinfomsg(5, IFF_UP | IFF_LOWER_UP, 0).to_vec();
    push_attr(&mut p, IFLA_IFNAME, b"tap0\0");
    push_attr(&mut p, IFLA_MTU, &65520u32.to_ne_bytes());
    push_attr(&mut p, IFLA_ADDRESS, &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let l = parse_link(&p).unwrap();
    assert_eq!(l.index, 5);
    assert_eq!(l.name, "tap0");
    assert_eq!(l.mtu, Some(65520));
    assert_eq!(l.mac, Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
    assert_eq!(l.flags & IFF_UP, IFF_UP);
}

#[test]
fn truncated_inputs_never_panic() {
    let payloads = [addr_payload(), multipath_payload()];
    for p in &payloads {
        for cut in 0..=p.len() {
            let s = &p[..cut];
            let _ = parse_addr(s);
            let _ = parse_route(s);
            let _ = parse_link(s);
            let _ = parse_nexthops(Family::V6, s);
            let _ = retarget_nexthops(s, 4, 9);
            let _ = parse_messages(s);
        }
    }
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = parse_messages(&bytes);
        let _ = parse_addr(&bytes);
        let _ = parse_link(&bytes);
        let _ = parse_nexthops(Family::V4, &bytes);
        let _ = retarget_nexthops(&bytes, 1, 2);
        if let Some(r) = parse_route(&bytes) {
            let _ = r.moved_to(1, 2);
            let _ = pick_default(&[r]);
        }
        let _ = attrs(&bytes).count();
    }
}
