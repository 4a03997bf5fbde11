//! The option table: every option of pasta and passt, its names, whether it takes an
//! argument, and the [`Key`] the parser dispatches on.

use crate::getopt::{HasArg, OptDef};
use passt_core::Mode;

/// Every option either program knows (described in [`crate::help::describe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `-d`, `--debug`
    Debug,
    /// `-q`, `--quiet`
    Quiet,
    /// `--trace`
    Trace,
    /// `-f`, `--foreground`
    Foreground,
    /// `-e`, `--stderr`
    Stderr,
    /// `-l`, `--log-file`
    LogFile,
    /// `--log-size`
    LogSize,
    /// `--runas`
    RunAs,
    /// `-h`, `--help`
    Help,
    /// `--version`
    Version,
    /// `-F`, `--fd`
    Fd,
    /// `-p`, `--pcap`
    Pcap,
    /// `-P`, `--pid`
    Pid,
    /// `-m`, `--mtu`
    Mtu,
    /// `-a`, `--address`
    Address,
    /// `-n`, `--netmask`
    Netmask,
    /// `-M`, `--mac-addr`
    MacAddr,
    /// `-g`, `--gateway`
    Gateway,
    /// `-i`, `--interface`
    Interface,
    /// `-o`, `--outbound`
    Outbound,
    /// `--outbound-if4`
    OutboundIf4,
    /// `--outbound-if6`
    OutboundIf6,
    /// `-D`, `--dns`
    Dns,
    /// `-S`, `--search`
    Search,
    /// `-H`, `--hostname`
    Hostname,
    /// `--fqdn`
    Fqdn,
    /// `--dhcp-dns`
    DhcpDns,
    /// `--no-dhcp-dns`
    NoDhcpDns,
    /// `--dhcp-search`
    DhcpSearch,
    /// `--no-dhcp-search`
    NoDhcpSearch,
    /// `--dns-forward`
    DnsForward,
    /// `--dns-host`
    DnsHost,
    /// `--map-host-loopback`
    MapHostLoopback,
    /// `--map-guest-addr`
    MapGuestAddr,
    /// `--no-map-gw`
    NoMapGw,
    /// `--no-tcp`
    NoTcp,
    /// `--no-udp`
    NoUdp,
    /// `--no-icmp`
    NoIcmp,
    /// `--no-dhcp`
    NoDhcp,
    /// `--no-ndp`
    NoNdp,
    /// `--no-dhcpv6`
    NoDhcpv6,
    /// `--no-ra`
    NoRa,
    /// `--freebind`
    Freebind,
    /// `--no-splice`
    NoSplice,
    /// `-4`, `--ipv4-only`
    Ipv4Only,
    /// `-6`, `--ipv6-only`
    Ipv6Only,
    /// `-t`, `--tcp-ports`
    TcpPorts,
    /// `-u`, `--udp-ports`
    UdpPorts,
    /// `-c`
    Control,
    /// `-s`, `--socket`, `--socket-path`
    Socket,
    /// `--vhost-user`
    VhostUser,
    /// `--print-capabilities`
    PrintCapabilities,
    /// `-1`, `--one-off`
    OneOff,
    /// `--repair-path`
    RepairPath,
    /// `-I`, `--ns-ifname`
    NsIfname,
    /// `-T`, `--tcp-ns`
    TcpNs,
    /// `-U`, `--udp-ns`
    UdpNs,
    /// `--userns`
    Userns,
    /// `--netns`
    Netns,
    /// `--netns-only`
    NetnsOnly,
    /// `--no-netns-quit`
    NoNetnsQuit,
    /// `--config-net`
    ConfigNet,
    /// `--no-copy-routes`
    NoCopyRoutes,
    /// `--no-copy-addrs`
    NoCopyAddrs,
    /// `--ns-mac-addr`
    NsMacAddr,
    /// `--host-lo-to-ns-lo`
    HostLoToNsLo,
}

impl Key {
    /// The program an option belongs to, if only one.
    pub fn only_for(self) -> Option<Mode> {
        use Key::*;
        match self {
            Socket | VhostUser | PrintCapabilities | OneOff | RepairPath => Some(Mode::Passt),
            NsIfname | TcpNs | UdpNs | Userns | Netns | NetnsOnly | NoNetnsQuit | ConfigNet
            | NoCopyRoutes | NoCopyAddrs | NsMacAddr | HostLoToNsLo => Some(Mode::Pasta),
            _ => None,
        }
    }
}

/// Shorthand for the table below.
const fn opt(
    longs: &'static [&'static str],
    short: Option<char>,
    arg: HasArg,
    key: Key,
) -> OptDef<Key> {
    OptDef {
        longs,
        short,
        arg,
        key,
    }
}

use HasArg::{No, Required as Req};

/// Every option of both programs, in `--help` order. Options of the other program are
/// recognised (so abbreviations resolve the same in both) and then refused.
pub static OPTIONS: &[OptDef<Key>] = &[
    opt(&["debug"], Some('d'), No, Key::Debug),
    opt(&["trace"], None, No, Key::Trace),
    opt(&["quiet"], Some('q'), No, Key::Quiet),
    opt(&["foreground"], Some('f'), No, Key::Foreground),
    opt(&["stderr"], Some('e'), No, Key::Stderr),
    opt(&["log-file"], Some('l'), Req, Key::LogFile),
    opt(&["log-size"], None, Req, Key::LogSize),
    opt(&["runas"], None, Req, Key::RunAs),
    opt(&["help"], Some('h'), No, Key::Help),
    opt(&["version"], None, No, Key::Version),
    opt(&["socket", "socket-path"], Some('s'), Req, Key::Socket),
    opt(&["vhost-user"], None, No, Key::VhostUser),
    opt(&["print-capabilities"], None, No, Key::PrintCapabilities),
    opt(&["repair-path"], None, Req, Key::RepairPath),
    opt(&["fd"], Some('F'), Req, Key::Fd),
    opt(&["one-off"], Some('1'), No, Key::OneOff),
    opt(&[], Some('c'), Req, Key::Control),
    opt(&["ns-ifname"], Some('I'), Req, Key::NsIfname),
    opt(&["pcap"], Some('p'), Req, Key::Pcap),
    opt(&["pid"], Some('P'), Req, Key::Pid),
    opt(&["mtu"], Some('m'), Req, Key::Mtu),
    opt(&["address"], Some('a'), Req, Key::Address),
    opt(&["netmask"], Some('n'), Req, Key::Netmask),
    opt(&["mac-addr"], Some('M'), Req, Key::MacAddr),
    opt(&["gateway"], Some('g'), Req, Key::Gateway),
    opt(&["interface"], Some('i'), Req, Key::Interface),
    opt(&["outbound"], Some('o'), Req, Key::Outbound),
    opt(&["outbound-if4"], None, Req, Key::OutboundIf4),
    opt(&["outbound-if6"], None, Req, Key::OutboundIf6),
    opt(&["dns"], Some('D'), Req, Key::Dns),
    opt(&["search"], Some('S'), Req, Key::Search),
    opt(&["hostname"], Some('H'), Req, Key::Hostname),
    opt(&["fqdn"], None, Req, Key::Fqdn),
    opt(&["dhcp-dns"], None, No, Key::DhcpDns),
    opt(&["no-dhcp-dns"], None, No, Key::NoDhcpDns),
    opt(&["dhcp-search"], None, No, Key::DhcpSearch),
    opt(&["no-dhcp-search"], None, No, Key::NoDhcpSearch),
    opt(&["dns-forward"], None, Req, Key::DnsForward),
    opt(&["dns-host"], None, Req, Key::DnsHost),
    opt(&["map-host-loopback"], None, Req, Key::MapHostLoopback),
    opt(&["map-guest-addr"], None, Req, Key::MapGuestAddr),
    opt(&["no-map-gw"], None, No, Key::NoMapGw),
    opt(&["no-tcp"], None, No, Key::NoTcp),
    opt(&["no-udp"], None, No, Key::NoUdp),
    opt(&["no-icmp"], None, No, Key::NoIcmp),
    opt(&["no-dhcp"], None, No, Key::NoDhcp),
    opt(&["no-ndp"], None, No, Key::NoNdp),
    opt(&["no-dhcpv6"], None, No, Key::NoDhcpv6),
    opt(&["no-ra"], None, No, Key::NoRa),
    opt(&["freebind"], None, No, Key::Freebind),
    opt(&["no-splice"], None, No, Key::NoSplice),
    opt(&["ipv4-only"], Some('4'), No, Key::Ipv4Only),
    opt(&["ipv6-only"], Some('6'), No, Key::Ipv6Only),
    opt(&["tcp-ports"], Some('t'), Req, Key::TcpPorts),
    opt(&["udp-ports"], Some('u'), Req, Key::UdpPorts),
    opt(&["tcp-ns"], Some('T'), Req, Key::TcpNs),
    opt(&["udp-ns"], Some('U'), Req, Key::UdpNs),
    opt(&["userns"], None, Req, Key::Userns),
    opt(&["netns"], None, Req, Key::Netns),
    opt(&["netns-only"], None, No, Key::NetnsOnly),
    opt(&["no-netns-quit"], None, No, Key::NoNetnsQuit),
    opt(&["config-net"], None, No, Key::ConfigNet),
    opt(&["no-copy-routes"], None, No, Key::NoCopyRoutes),
    opt(&["no-copy-addrs"], None, No, Key::NoCopyAddrs),
    opt(&["ns-mac-addr"], None, Req, Key::NsMacAddr),
    opt(&["host-lo-to-ns-lo"], None, No, Key::HostLoToNsLo),
];
