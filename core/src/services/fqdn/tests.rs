//! `--fqdn` end to end through the DHCP and DHCPv6 servers: which clients get the
//! Client FQDN option back, and what it holds (RFC 4702, RFC 4704).

use super::*;
use crate::config::{Config, Domain, Mode};
use crate::services::{dhcp, dhcpv6, Reply};
use crate::wire::dhcpv4::{self, OPT_CLIENT_FQDN};
use crate::wire::dhcpv6::{OptionIter, ALL_DHCP_RELAY_AGENTS_AND_SERVERS};
use crate::wire::ethernet::MacAddr;
use core::net::Ipv6Addr;
use std::vec::Vec;

const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
/// `vm1.example.com.` in wire format (RFC 1035 §3.1).
const NAME_WIRE: &[u8] = b"\x03vm1\x07example\x03com\x00";

fn config(fqdn: Option<&str>) -> Config {
    let mut c = crate::config::test_config(Mode::Passt);
    c.dns.fqdn = fqdn.map(|n| Domain::try_from(n).unwrap());
    c
}

/// A DHCPDISCOVER (RFC 2131 §2 layout) from GUEST_MAC with `options` after type 53.
fn discover(options: &[u8]) -> Vec<u8> {
    let mut m = std::vec![0u8; 236];
    m[..3].copy_from_slice(&[1, 1, 6]);
    m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    m[28..34].copy_from_slice(&GUEST_MAC.0);
    m.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 1]);
    m.extend_from_slice(options);
    m.push(255);
    m.resize(300, 0);
    m
}

/// Option 81's data in the OFFER for `request`, if any.
fn offered_fqdn(c: &Config, request: &[u8]) -> Option<Vec<u8>> {
    let mut out = std::vec![0u8; 2048];
    let Reply::Frame(len) = dhcp::respond(c, GUEST_MAC, request, &mut out) else {
        panic!("no OFFER");
    };
    // Ethernet 14 + IPv4 20 + UDP 8.
    let packet = dhcpv4::Packet::new_checked(&out[42..len]).unwrap();
    let found = packet
        .option_iter()
        .map(|o| o.unwrap())
        .find(|o| o.code == OPT_CLIENT_FQDN)
        .map(|o| o.data.to_vec());
    found
}

#[test]
fn dhcp_returns_the_name_to_a_client_that_sent_option_81() {
    let c = config(Some("vm1.example.com"));
    // dhclient's `send fqdn.fqdn "guest.";` with S set (please update A RRs).
    let sent = [
        OPT_CLIENT_FQDN,
        10,
        0x05,
        0,
        0,
        5,
        b'g',
        b'u',
        b'e',
        b's',
        b't',
        0,
    ];
    let got = offered_fqdn(&c, &discover(&sent)).expect("option 81 in the OFFER");
    // E | N | O (the S request overridden), RCODEs 255, the name in wire format.
    let mut want = std::vec![0x0e, 255, 255];
    want.extend_from_slice(NAME_WIRE);
    assert_eq!(got, want);
}

#[test]
fn dhcp_returns_the_name_to_a_client_that_requested_81() {
    let c = config(Some("vm1.example.com."));
    let got = offered_fqdn(&c, &discover(&[55, 3, 1, 3, 81])).expect("requested");
    assert_eq!(got[0], 0x0c, "E and N, nothing to override");
    assert_eq!(&got[3..], NAME_WIRE);
}

#[test]
fn dhcp_sends_no_fqdn_unasked_or_unconfigured() {
    assert_eq!(
        offered_fqdn(&config(Some("vm1.example.com")), &discover(&[])),
        None
    );
    let sent = [OPT_CLIENT_FQDN, 3, 0x01, 0, 0];
    assert_eq!(offered_fqdn(&config(None), &discover(&sent)), None);
}

fn v6_option(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

/// A Solicit with a Client ID, an ORO listing `oro`, and `extra` options.
fn solicit(oro: &[u16], extra: &[u8]) -> Vec<u8> {
    let mut m = std::vec![1, 0x5a, 0xa5, 0x1c];
    m.extend_from_slice(&v6_option(
        1,
        &[0, 3, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
    ));
    let codes: Vec<u8> = oro.iter().flat_map(|c| c.to_be_bytes()).collect();
    m.extend_from_slice(&v6_option(6, &codes));
    m.extend_from_slice(extra);
    m
}

/// Option 39's data in the Advertise for `request`, if any.
fn advertised_fqdn(c: &Config, request: &[u8]) -> Option<Vec<u8>> {
    let mut out = std::vec![0u8; 2048];
    let src: Ipv6Addr = "fe80::5054:ff:fe12:3456".parse().unwrap();
    let reply = dhcpv6::respond(
        c,
        GUEST_MAC,
        src,
        ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
        request,
        &mut out,
    );
    let Reply::Frame(len) = reply else {
        panic!("no Advertise: {reply:?}");
    };
    // Ethernet 14 + IPv6 40 + UDP 8, then type and xid.
    let found = OptionIter::new(&out[62 + 4..len])
        .map(|o| o.unwrap())
        .find(|o| o.code == crate::wire::dhcpv6::OPT_CLIENT_FQDN)
        .map(|o| o.data.to_vec());
    found
}

#[test]
fn dhcpv6_returns_the_name_to_a_client_that_sent_and_requested_39() {
    let c = config(Some("vm1.example.com"));
    // systemd-networkd: S set, its own name.
    let sent = v6_option(39, b"\x01\x05guest\x00");
    let got = advertised_fqdn(&c, &solicit(&[23, 24, 39], &sent)).expect("option 39");
    let mut want = std::vec![0x06]; // N | O
    want.extend_from_slice(NAME_WIRE);
    assert_eq!(got, want);
    // Without S: only N.
    let sent = v6_option(39, b"\x00\x05guest\x00");
    let got = advertised_fqdn(&c, &solicit(&[39], &sent)).unwrap();
    assert_eq!(got[0], 0x04);
}

#[test]
fn dhcpv6_sends_no_fqdn_unless_sent_requested_and_configured() {
    let c = config(Some("vm1.example.com"));
    let sent = v6_option(39, b"\x00\x00");
    assert_eq!(
        advertised_fqdn(&c, &solicit(&[23], &sent)),
        None,
        "not in the ORO"
    );
    assert_eq!(advertised_fqdn(&c, &solicit(&[39], &[])), None, "not sent");
    assert_eq!(advertised_fqdn(&config(None), &solicit(&[39], &sent)), None);
}

#[test]
fn names_that_cannot_be_encoded_give_no_option() {
    let mut out = [0u8; MAX_DATA_LEN];
    assert_eq!(dhcpv4_data("a..b", None, &mut out), None);
    assert_eq!(dhcpv6_data("", &[], &mut out), None);
    let long = "x".repeat(64);
    assert_eq!(
        dhcpv6_data(&long, &[], &mut out),
        None,
        "label over 63 bytes"
    );
}
