//! pasta's and passt's options (passt-reference §1): the table, the resulting
//! [`Options`], and [`parse`], which turns argv into them.
//!
//! Parsing is pure: nothing is bound, opened or looked up. It follows the three passes of
//! passt-reference §1.1 only as far as they decide *which error is reported first*:
//! pass 1 goes through the words in order (syntax errors, every option except the
//! ones below, and the operands); pass 2 takes `-t`, `-u` and `-D`; pass 3 `-T` and
//! `-U`. So `pasta -t 70000 --bogus` complains about `--bogus`, as pasta does, and
//! `--version` wins over anything after it. Binding the forwarded ports between the
//! passes is the run-time's job.
//!
//! Repeating an option: the last one wins, except `-t/-u/-T/-U/-D/-S`, which
//! accumulate. Address options keep one IPv4 and one IPv6 value.

use crate::error::CliError;
use crate::getopt::{Getopt, HasArg, OptDef};
use crate::values::{self, AddrUse, Reason, RunAs};
use passt_core::config::{DEFAULT_MTU, MAX_DNS_SERVERS, MAX_SEARCH_DOMAINS};
use passt_core::fwd::spec::{PortSpan, Spec};
use passt_core::fwd::{IfName, PortForwards};
use passt_core::wire::ethernet::MacAddr;
use passt_core::Mode;
use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Default `--log-size`: 1 MiB.
pub const DEFAULT_LOG_SIZE: u64 = 1 << 20;
/// Ephemeral port range assumed when the host's can't be read (passt-reference §1.5).
pub const DEFAULT_EPHEMERAL: PortSpan = PortSpan {
    first: 49152,
    last: 65535,
};

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

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run with these settings.
    Run(Box<Options>),
    /// `-h`/`--help`: print [`crate::help::help_text`] to stdout, exit 0.
    Help,
    /// `--version`: print [`crate::help::version_text`] to stdout, exit 0.
    Version,
    /// `--print-capabilities` (passt): print the vhost-user capabilities, exit 0.
    PrintCapabilities,
}

/// How much to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `-q`: warnings and errors only.
    Warning,
    /// The default.
    Info,
    /// `-d`.
    Debug,
    /// `--trace`: debug plus per-packet and per-flow messages.
    Trace,
}

/// `-4` / `-6` (last wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersions {
    /// Both, where the host has them (the default).
    Both,
    /// `-4`.
    V4Only,
    /// `-6`.
    V6Only,
}

/// One IPv4 and one IPv6 value of an address option; each family's last one wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddrPair {
    /// The IPv4 value.
    pub v4: Option<Ipv4Addr>,
    /// The IPv6 value.
    pub v6: Option<Ipv6Addr>,
}

impl AddrPair {
    /// Record `a` for its family.
    pub fn set(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(a) => self.v4 = Some(a),
            IpAddr::V6(a) => self.v6 = Some(a),
        }
    }

    /// Whether neither family has a value.
    pub fn is_empty(&self) -> bool {
        self.v4.is_none() && self.v6.is_none()
    }
}

/// A list option that can also be switched off (`-D none`, `-S none`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListOpt<T> {
    /// Not given: use what the host has.
    FromHost,
    /// `none`.
    Disabled,
    /// These values, in the order given.
    Given(Vec<T>),
}

/// `--repair-path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairPath {
    /// `none`: no TCP_REPAIR helper socket.
    Disabled,
    /// Listen for `passt-repair` here.
    Path(PathBuf),
}

/// Port forwarding of one direction and protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Nothing forwarded.
    None,
    /// pasta's `auto`: follow the other side's listening sockets, re-scanned at run time.
    Auto,
    /// Fixed ranges.
    Ports {
        /// The ranges, already split around exclusions.
        forwards: Box<PortForwards>,
        /// Every spec was `all` or exclusions only: a port that can't be bound is
        /// skipped, unless none can be (passt-reference §1.5). Otherwise any bind
        /// failure is fatal.
        best_effort: bool,
    },
}

/// Which network namespace pasta attaches to (passt-reference §1.1, §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsTarget {
    /// Create a namespace and run this command in it; empty: the user's shell.
    Spawn(Vec<OsString>),
    /// Join the namespaces of this process.
    Pid(u32),
    /// `--netns`: join this network namespace (a `NAME` became `/run/netns/NAME`).
    Netns(PathBuf),
}

/// The settings the command line asked for, before any host discovery. `None` (or
/// [`ListOpt::FromHost`]) means "not given": the run-time fills in the default it
/// derives from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// pasta or passt.
    pub mode: Mode,

    /// `-q`, `-d`, `--trace`.
    pub log_level: LogLevel,
    /// `-l`: log only to this file.
    pub log_file: Option<PathBuf>,
    /// `--log-size`, in bytes.
    pub log_size: u64,
    /// `-f`: don't daemonise.
    pub foreground: bool,
    /// `--runas`: drop to this user.
    pub runas: Option<RunAs>,
    /// `-P`: write the PID here.
    pub pid_file: Option<PathBuf>,
    /// `-p`: capture tap-side frames here.
    pub pcap: Option<PathBuf>,
    /// `-F`: a pre-opened connected socket (passt) or tap device (pasta).
    pub fd: Option<i32>,
    /// `-1`, or implied by `-F`: quit when the client goes away.
    pub one_off: bool,
    /// `-c`: control socket for dynamic forwarding (recorded only).
    pub control_socket: Option<PathBuf>,

    /// `-m`: MTU; `None` for `-m 0` (don't advertise, don't set).
    pub mtu: Option<u16>,
    /// `-a`: the guest's addresses.
    pub address: AddrPair,
    /// `-n`: IPv4 prefix length.
    pub prefix_len_v4: Option<u8>,
    /// `-M`: our MAC on the tap link.
    pub mac_addr: Option<MacAddr>,
    /// `-g`: the guest's default gateways.
    pub gateway: AddrPair,
    /// `-i`: template interface for both families.
    pub interface: Option<IfName>,
    /// `-o`: source addresses for outbound sockets.
    pub outbound: AddrPair,
    /// `--outbound-if4`: bind outbound IPv4 sockets to this interface.
    pub outbound_if4: Option<IfName>,
    /// `--outbound-if6`: bind outbound IPv6 sockets to this interface.
    pub outbound_if6: Option<IfName>,
    /// `-4`, `-6`.
    pub ip_versions: IpVersions,
    /// `-H`: host name handed to the guest.
    pub hostname: Option<String>,
    /// `--fqdn`: fully qualified name handed to the guest.
    pub fqdn: Option<String>,

    /// `-D`: name servers to advertise.
    pub dns: ListOpt<IpAddr>,
    /// `-S`: search domains to advertise.
    pub search: ListOpt<String>,
    /// `--dhcp-dns` / `--no-dhcp-dns`: advertise name servers (pasta: off, passt: on).
    pub dhcp_dns: bool,
    /// `--dhcp-search` / `--no-dhcp-search`: advertise the search list (pasta: off,
    /// passt: on).
    pub dhcp_search: bool,
    /// `--dns-forward`: guest-side addresses whose DNS traffic goes to `dns_host`.
    pub dns_forward: AddrPair,
    /// `--dns-host`: where forwarded DNS goes.
    pub dns_host: AddrPair,

    /// `--map-host-loopback`: guest-side addresses meaning the host's loopback.
    pub map_host_loopback: AddrPair,
    /// `--no-map-gw` or `--map-host-loopback none`: no default (gateway) mapping for
    /// a family left unset in `map_host_loopback`.
    pub no_map_gw: bool,
    /// `--map-guest-addr`: guest-side addresses meaning the host's own address.
    pub map_guest_addr: AddrPair,

    /// `--no-tcp`.
    pub no_tcp: bool,
    /// `--no-udp`.
    pub no_udp: bool,
    /// `--no-icmp`.
    pub no_icmp: bool,
    /// `--no-dhcp`.
    pub no_dhcp: bool,
    /// `--no-ndp`.
    pub no_ndp: bool,
    /// `--no-dhcpv6`.
    pub no_dhcpv6: bool,
    /// `--no-ra` (pasta's `--config-net` forces it at run time).
    pub no_ra: bool,
    /// `--freebind`.
    pub freebind: bool,
    /// `--no-splice`.
    pub no_splice: bool,

    /// `-t`: TCP from the host (init namespace) into the guest.
    pub tcp_ports: Forward,
    /// `-u`: UDP from the host into the guest.
    pub udp_ports: Forward,
    /// `-T`: TCP from the namespace to the host (pasta).
    pub tcp_ns: Forward,
    /// `-U`: UDP from the namespace to the host (pasta).
    pub udp_ns: Forward,

    /// `-s`: passt's UNIX socket; default: the first free `/tmp/passt_N.socket`.
    pub socket: Option<PathBuf>,
    /// `--vhost-user`.
    pub vhost_user: bool,
    /// `--repair-path`.
    pub repair_path: Option<RepairPath>,

    /// `-I`: tap name in the namespace.
    pub ns_ifname: Option<IfName>,
    /// pasta: which namespace; `None` for passt.
    pub target: Option<NsTarget>,
    /// `--userns`: user namespace to join.
    pub userns: Option<PathBuf>,
    /// `--netns-only`: don't join or create a user namespace.
    pub netns_only: bool,
    /// `--no-netns-quit`.
    pub no_netns_quit: bool,
    /// `--config-net`.
    pub config_net: bool,
    /// `--ns-mac-addr`: MAC of the tap in the namespace.
    pub ns_mac_addr: Option<MacAddr>,
    /// `--host-lo-to-ns-lo` (deprecated): spliced host-loopback connections go to the
    /// namespace's loopback.
    pub host_lo_to_ns_lo: bool,

    /// Deprecation notices to log once logging is set up.
    pub warnings: Vec<String>,
}

impl Options {
    /// The settings with nothing given, for `mode`.
    pub fn defaults(mode: Mode) -> Options {
        let fwd = match mode {
            Mode::Pasta => Forward::Auto,
            Mode::Passt => Forward::None,
        };
        Options {
            mode,
            log_level: LogLevel::Info,
            log_file: None,
            log_size: DEFAULT_LOG_SIZE,
            foreground: false,
            runas: None,
            pid_file: None,
            pcap: None,
            fd: None,
            one_off: false,
            control_socket: None,
            mtu: Some(DEFAULT_MTU),
            address: AddrPair::default(),
            prefix_len_v4: None,
            mac_addr: None,
            gateway: AddrPair::default(),
            interface: None,
            outbound: AddrPair::default(),
            outbound_if4: None,
            outbound_if6: None,
            ip_versions: IpVersions::Both,
            hostname: None,
            fqdn: None,
            dns: ListOpt::FromHost,
            search: ListOpt::FromHost,
            dhcp_dns: mode == Mode::Passt,
            dhcp_search: mode == Mode::Passt,
            dns_forward: AddrPair::default(),
            dns_host: AddrPair::default(),
            map_host_loopback: AddrPair::default(),
            no_map_gw: false,
            map_guest_addr: AddrPair::default(),
            no_tcp: false,
            no_udp: false,
            no_icmp: false,
            no_dhcp: false,
            no_ndp: false,
            no_dhcpv6: false,
            no_ra: false,
            freebind: false,
            no_splice: false,
            tcp_ports: fwd.clone(),
            udp_ports: fwd.clone(),
            tcp_ns: fwd.clone(),
            udp_ns: fwd,
            socket: None,
            vhost_user: false,
            repair_path: None,
            ns_ifname: None,
            target: match mode {
                Mode::Pasta => Some(NsTarget::Spawn(Vec::new())),
                Mode::Passt => None,
            },
            userns: None,
            netns_only: false,
            no_netns_quit: false,
            config_net: false,
            ns_mac_addr: None,
            host_lo_to_ns_lo: false,
            warnings: Vec::new(),
        }
    }

    /// The network namespace pasta joins (`None`: it creates one, or passt).
    pub fn netns_path(&self) -> Option<PathBuf> {
        match self.target.as_ref()? {
            NsTarget::Netns(p) => Some(p.clone()),
            NsTarget::Pid(pid) => Some(PathBuf::from(format!("/proc/{pid}/ns/net"))),
            NsTarget::Spawn(_) => None,
        }
    }

    /// The user namespace pasta joins: `--userns`, else the PID's, unless
    /// `--netns-only`. `--netns` without `--userns` joins none (passt-reference §1.4).
    pub fn userns_path(&self) -> Option<PathBuf> {
        if self.netns_only {
            return None;
        }
        match self.target.as_ref()? {
            NsTarget::Pid(pid) => Some(
                self.userns
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("/proc/{pid}/ns/user"))),
            ),
            NsTarget::Netns(_) => self.userns.clone(),
            NsTarget::Spawn(_) => None,
        }
    }
}

/// Inputs the parser needs from the host; reading them is the caller's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseEnv {
    /// The host's ephemeral ports (`/proc/sys/net/ipv4/ip_local_port_range`), skipped
    /// by `all` and exclusion-only port specs.
    pub ephemeral: PortSpan,
}

impl Default for ParseEnv {
    fn default() -> Self {
        ParseEnv {
            ephemeral: DEFAULT_EPHEMERAL,
        }
    }
}

/// The program `argv[0]` names: its file name contains `pasta` or `passt`.
pub fn mode_from_argv0(argv0: &OsStr) -> Option<Mode> {
    let name = Path::new(argv0).file_name()?.to_string_lossy();
    if name.contains("pasta") {
        Some(Mode::Pasta)
    } else if name.contains("passt") {
        Some(Mode::Passt)
    } else {
        None
    }
}

/// Parse the words after `argv[0]` for `mode`, with the default [`ParseEnv`].
pub fn parse<I, S>(mode: Mode, args: I) -> Result<Action, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parse_with(mode, args, &ParseEnv::default())
}

/// Parse the words after `argv[0]` for `mode`.
pub fn parse_with<I, S>(mode: Mode, args: I, env: &ParseEnv) -> Result<Action, CliError>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let words: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut o = Options::defaults(mode);
    let mut later: Vec<Arg<'_>> = Vec::new();
    let mut netns = None;
    let mut getopt = Getopt::new(OPTIONS, &words);
    for found in getopt.by_ref() {
        let found = found?;
        let def = found.def;
        if let Some(only_for) = def.key.only_for() {
            if only_for != mode {
                return Err(CliError::WrongMode {
                    option: long_name(def),
                    only_for,
                });
            }
        }
        let arg = Arg {
            def,
            value: found.value.unwrap_or_default(),
        };
        match def.key {
            Key::Help => return Ok(Action::Help),
            Key::Version => return Ok(Action::Version),
            Key::PrintCapabilities => return Ok(Action::PrintCapabilities),
            Key::TcpPorts | Key::UdpPorts | Key::Dns | Key::TcpNs | Key::UdpNs => later.push(arg),
            Key::Netns => netns = Some(arg.with(values::path, "path").map(netns_path)?),
            _ => apply(&mut o, &arg)?,
        }
    }
    resolve_target(&mut o, getopt.rest(), netns)?;

    let mut given = Given::default();
    let pass2 = |k: Key| matches!(k, Key::TcpPorts | Key::UdpPorts | Key::Dns);
    for arg in later.iter().filter(|a| pass2(a.def.key)) {
        apply_later(&mut o, &mut given, arg, env)?;
    }
    for arg in later.iter().filter(|a| !pass2(a.def.key)) {
        apply_later(&mut o, &mut given, arg, env)?;
    }
    finish(&mut o, &given)?;
    Ok(Action::Run(Box::new(o)))
}

/// An option and its argument (empty for flags).
struct Arg<'a> {
    def: &'static OptDef<Key>,
    value: &'a OsStr,
}

impl<'a> Arg<'a> {
    /// The error for a refused argument.
    fn invalid(&self, what: &'static str, reason: impl Into<String>) -> CliError {
        CliError::InvalidValue {
            option: self.def.display_name(),
            what,
            value: self.value.to_string_lossy().into_owned(),
            reason: reason.into(),
        }
    }

    /// The argument as text.
    fn text(&self, what: &'static str) -> Result<&'a str, CliError> {
        values::text(self.value).map_err(|r| self.invalid(what, r))
    }

    /// Parse the argument's text with `f`.
    fn parse<T>(
        &self,
        f: impl FnOnce(&'a str) -> Result<T, Reason>,
        what: &'static str,
    ) -> Result<T, CliError> {
        f(self.text(what)?).map_err(|r| self.invalid(what, r))
    }

    /// Parse the raw argument with `f` (paths).
    fn with<T>(
        &self,
        f: impl FnOnce(&'a OsStr) -> Result<T, Reason>,
        what: &'static str,
    ) -> Result<T, CliError> {
        f(self.value).map_err(|r| self.invalid(what, r))
    }

    /// An address for `usage`.
    fn ip(&self, usage: AddrUse) -> Result<IpAddr, CliError> {
        self.parse(|s| values::ip(s, usage), "address")
    }
}

/// `--long` if the option has a long name, else `-x`: how mode errors name it.
fn long_name(def: &OptDef<Key>) -> String {
    match (def.longs.first(), def.short) {
        (Some(l), _) => format!("--{l}"),
        (None, Some(c)) => format!("-{c}"),
        (None, None) => String::from("?"),
    }
}

/// `--netns NAME` (no `/`) means `/run/netns/NAME`.
fn netns_path(p: PathBuf) -> PathBuf {
    if p.as_os_str().as_encoded_bytes().contains(&b'/') {
        p
    } else {
        Path::new("/run/netns").join(p)
    }
}

/// Record a deprecation notice once.
fn warn(o: &mut Options, text: String) {
    if !o.warnings.contains(&text) {
        o.warnings.push(text);
    }
}

/// Pass 1: every option but the deferred ones.
fn apply(o: &mut Options, arg: &Arg<'_>) -> Result<(), CliError> {
    match arg.def.key {
        Key::Debug => o.log_level = o.log_level.max(LogLevel::Debug),
        Key::Trace => o.log_level = LogLevel::Trace,
        Key::Quiet => o.log_level = LogLevel::Warning,
        Key::Foreground => o.foreground = true,
        Key::Stderr => warn(
            o,
            String::from("option '--stderr' is deprecated and has no effect"),
        ),
        Key::LogFile => o.log_file = Some(arg.with(values::path, "path")?),
        Key::LogSize => o.log_size = arg.parse(values::log_size, "log size")?,
        Key::RunAs => o.runas = Some(arg.parse(values::runas, "user")?),
        Key::Fd => {
            o.fd = Some(arg.parse(values::fd, "file descriptor")?);
            o.one_off = true;
        }
        Key::Pcap => o.pcap = Some(arg.with(values::path, "path")?),
        Key::Pid => o.pid_file = Some(arg.with(values::path, "path")?),
        Key::Control => o.control_socket = Some(arg.with(values::socket_path, "path")?),
        Key::Mtu => o.mtu = arg.parse(values::mtu, "MTU")?,
        Key::Address => o.address.set(arg.ip(AddrUse::Guest)?),
        Key::Netmask => o.prefix_len_v4 = Some(arg.parse(values::prefix_len_v4, "netmask")?),
        Key::MacAddr => o.mac_addr = Some(arg.parse(values::unicast_mac, "MAC address")?),
        Key::Gateway => o.gateway.set(arg.ip(AddrUse::Link)?),
        Key::Interface => o.interface = Some(arg.parse(values::ifname, "interface")?),
        Key::Outbound => o.outbound.set(arg.ip(AddrUse::Link)?),
        Key::OutboundIf4 => o.outbound_if4 = Some(arg.parse(values::ifname, "interface")?),
        Key::OutboundIf6 => o.outbound_if6 = Some(arg.parse(values::ifname, "interface")?),
        Key::Search => apply_search(o, arg)?,
        Key::Hostname => o.hostname = Some(arg.parse(values::hostname, "host name")?),
        Key::Fqdn => o.fqdn = Some(arg.parse(values::domain, "domain name")?),
        Key::DhcpDns => o.dhcp_dns = true,
        Key::NoDhcpDns => o.dhcp_dns = false,
        Key::DhcpSearch => o.dhcp_search = true,
        Key::NoDhcpSearch => o.dhcp_search = false,
        Key::DnsForward => o.dns_forward.set(arg.ip(AddrUse::Link)?),
        Key::DnsHost => o.dns_host.set(arg.ip(AddrUse::Server)?),
        Key::MapHostLoopback => match arg.text("address")? {
            "none" => {
                o.map_host_loopback = AddrPair::default();
                o.no_map_gw = true;
            }
            _ => o.map_host_loopback.set(arg.ip(AddrUse::Link)?),
        },
        Key::MapGuestAddr => match arg.text("address")? {
            "none" => o.map_guest_addr = AddrPair::default(),
            _ => o.map_guest_addr.set(arg.ip(AddrUse::Link)?),
        },
        Key::NoMapGw => o.no_map_gw = true,
        Key::NoTcp => o.no_tcp = true,
        Key::NoUdp => o.no_udp = true,
        Key::NoIcmp => o.no_icmp = true,
        Key::NoDhcp => o.no_dhcp = true,
        Key::NoNdp => o.no_ndp = true,
        Key::NoDhcpv6 => o.no_dhcpv6 = true,
        Key::NoRa => o.no_ra = true,
        Key::Freebind => o.freebind = true,
        Key::NoSplice => o.no_splice = true,
        Key::Ipv4Only => o.ip_versions = IpVersions::V4Only,
        Key::Ipv6Only => o.ip_versions = IpVersions::V6Only,
        Key::Socket => o.socket = Some(arg.with(values::socket_path, "path")?),
        Key::VhostUser => o.vhost_user = true,
        Key::OneOff => o.one_off = true,
        Key::RepairPath => {
            o.repair_path = Some(match arg.value.to_str() {
                Some("none") => RepairPath::Disabled,
                _ => RepairPath::Path(arg.with(values::socket_path, "path")?),
            })
        }
        Key::NsIfname => o.ns_ifname = Some(arg.parse(values::ifname, "interface")?),
        Key::Userns => o.userns = Some(arg.with(values::path, "path")?),
        Key::NetnsOnly => o.netns_only = true,
        Key::NoNetnsQuit => o.no_netns_quit = true,
        Key::ConfigNet => o.config_net = true,
        Key::NoCopyRoutes | Key::NoCopyAddrs => {
            let name = long_name(arg.def);
            warn(
                o,
                format!("option '{name}' is deprecated and has no effect"),
            );
        }
        Key::NsMacAddr => o.ns_mac_addr = Some(arg.parse(values::unicast_mac, "MAC address")?),
        Key::HostLoToNsLo => {
            o.host_lo_to_ns_lo = true;
            warn(o, String::from("option '--host-lo-to-ns-lo' is deprecated"));
        }
        // Handled by the caller: they end parsing or are deferred.
        Key::Help
        | Key::Version
        | Key::PrintCapabilities
        | Key::Netns
        | Key::Dns
        | Key::TcpPorts
        | Key::UdpPorts
        | Key::TcpNs
        | Key::UdpNs => {}
    }
    Ok(())
}

/// `-S none` or one or more blank-separated domains (qemu passes `--search "a b"`).
fn apply_search(o: &mut Options, arg: &Arg<'_>) -> Result<(), CliError> {
    const WHAT: &str = "search domain";
    let text = arg.text(WHAT)?;
    if text == "none" {
        o.search = ListOpt::Disabled;
        return Ok(());
    }
    let mut list = match std::mem::replace(&mut o.search, ListOpt::Disabled) {
        ListOpt::Given(list) => list,
        ListOpt::FromHost | ListOpt::Disabled => Vec::new(),
    };
    let mut any = false;
    for word in text.split_whitespace() {
        list.push(values::domain(word).map_err(|r| arg.invalid(WHAT, r))?);
        any = true;
    }
    if !any {
        return Err(arg.invalid(WHAT, "empty"));
    }
    if list.len() > MAX_SEARCH_DOMAINS {
        return Err(arg.invalid(WHAT, "at most 6 search domains"));
    }
    o.search = ListOpt::Given(list);
    Ok(())
}

/// Which forwarding options were given, and whether by a keyword.
#[derive(Debug, Default)]
struct Given {
    /// Per direction: `None` not given; `Some(true)` a keyword (none/auto/all);
    /// `Some(false)` explicit ranges.
    by_keyword: [Option<bool>; 4],
}

/// Index of a forwarding option in [`Given`].
fn fwd_index(key: Key) -> usize {
    match key {
        Key::TcpPorts => 0,
        Key::UdpPorts => 1,
        Key::TcpNs => 2,
        _ => 3,
    }
}

/// The forwarding setting of a `-t/-u/-T/-U` key.
fn forward_mut(o: &mut Options, key: Key) -> &mut Forward {
    match key {
        Key::TcpPorts => &mut o.tcp_ports,
        Key::UdpPorts => &mut o.udp_ports,
        Key::TcpNs => &mut o.tcp_ns,
        _ => &mut o.udp_ns,
    }
}

/// Passes 2 and 3: `-t`, `-u`, `-D`, then `-T`, `-U`.
fn apply_later(
    o: &mut Options,
    given: &mut Given,
    arg: &Arg<'_>,
    env: &ParseEnv,
) -> Result<(), CliError> {
    const WHAT: &str = "port specifier";
    let key = arg.def.key;
    if key == Key::Dns {
        return apply_dns(o, arg);
    }
    let spec = Spec::parse(arg.text(WHAT)?).map_err(|e| arg.invalid(WHAT, e.to_string()))?;
    let ns_side = matches!(key, Key::TcpNs | Key::UdpNs);
    match (&spec, o.mode) {
        (Spec::Auto, Mode::Passt) => return Err(arg.invalid(WHAT, "'auto' is for pasta only")),
        (Spec::All { .. }, Mode::Pasta) => return Err(arg.invalid(WHAT, "'all' is for passt only")),
        _ if ns_side && spec.has_bind() => {
            return Err(arg.invalid(
                WHAT,
                "no address or interface for namespace-side forwarding",
            ))
        }
        _ => {}
    }
    let keyword = matches!(spec, Spec::None | Spec::Auto | Spec::All { .. });
    let slot = &mut given.by_keyword[fwd_index(key)];
    match *slot {
        Some(true) => {
            return Err(arg.invalid(WHAT, "conflicts with an earlier 'none', 'auto' or 'all'"))
        }
        Some(false) if keyword => {
            return Err(arg.invalid(WHAT, "can't follow other port specifiers"))
        }
        _ => {}
    }
    *slot = Some(keyword);
    let target = forward_mut(o, key);
    match spec {
        Spec::None => *target = Forward::None,
        Spec::Auto => *target = Forward::Auto,
        Spec::All { .. } | Spec::Ranges { .. } => {
            let (mut forwards, mut best_effort) = match std::mem::replace(target, Forward::None) {
                Forward::Ports {
                    forwards,
                    best_effort,
                } => (forwards, best_effort),
                Forward::None | Forward::Auto => (Box::default(), true),
            };
            spec.add_to(&mut forwards, Some(env.ephemeral))
                .map_err(|e| arg.invalid(WHAT, e.to_string()))?;
            best_effort &= spec.is_best_effort();
            *target = Forward::Ports {
                forwards,
                best_effort,
            };
        }
    }
    Ok(())
}

/// `-D none` or one more name server (at most three per IP version).
fn apply_dns(o: &mut Options, arg: &Arg<'_>) -> Result<(), CliError> {
    if arg.text("address")? == "none" {
        o.dns = ListOpt::Disabled;
        return Ok(());
    }
    let addr = arg.ip(AddrUse::Server)?;
    let mut list = match std::mem::replace(&mut o.dns, ListOpt::Disabled) {
        ListOpt::Given(list) => list,
        ListOpt::FromHost | ListOpt::Disabled => Vec::new(),
    };
    list.push(addr);
    let same_family = list
        .iter()
        .filter(|a| a.is_ipv4() == addr.is_ipv4())
        .count();
    if same_family > MAX_DNS_SERVERS {
        return Err(arg.invalid("address", "at most 3 name servers per IP version"));
    }
    o.dns = ListOpt::Given(list);
    Ok(())
}

/// pasta's operands: a PID, a command, or nothing; passt takes none.
fn resolve_target(
    o: &mut Options,
    operands: &[OsString],
    netns: Option<PathBuf>,
) -> Result<(), CliError> {
    if o.mode == Mode::Passt {
        return match operands.first() {
            Some(w) => Err(CliError::UnexpectedOperand(
                w.to_string_lossy().into_owned(),
            )),
            None => Ok(()),
        };
    }
    let target = match (netns, operands) {
        (Some(_), [_, ..]) => {
            return Err(CliError::Conflict {
                option: String::from("--netns"),
                with: String::from("a PID or command"),
            })
        }
        (Some(path), []) => NsTarget::Netns(path),
        (None, [only])
            if !only.is_empty() && only.as_encoded_bytes().iter().all(u8::is_ascii_digit) =>
        {
            let text = only.to_string_lossy();
            NsTarget::Pid(values::pid(&text).ok_or(CliError::InvalidPid(text.into_owned()))?)
        }
        (None, words) => NsTarget::Spawn(words.to_vec()),
    };
    if o.userns.is_some() && matches!(target, NsTarget::Spawn(_)) {
        return Err(CliError::Requires {
            option: String::from("--userns"),
            needs: String::from("--netns or a PID"),
        });
    }
    o.target = Some(target);
    Ok(())
}

/// Checks across options, once everything is parsed.
fn finish(o: &mut Options, given: &Given) -> Result<(), CliError> {
    let protocols = [
        (o.no_tcp, "--no-tcp", [Key::TcpPorts, Key::TcpNs]),
        (o.no_udp, "--no-udp", [Key::UdpPorts, Key::UdpNs]),
    ];
    for (disabled, flag, keys) in protocols {
        if !disabled {
            continue;
        }
        for key in keys {
            let fwd = forward_mut(o, key);
            let explicit = given.by_keyword[fwd_index(key)].is_some();
            if explicit && *fwd != Forward::None {
                let short = OPTIONS
                    .iter()
                    .find(|d| d.key == key)
                    .map(|d| d.display_name())
                    .unwrap_or_default();
                return Err(CliError::Conflict {
                    option: short,
                    with: String::from(flag),
                });
            }
            *fwd = Forward::None;
        }
    }
    Ok(())
}
