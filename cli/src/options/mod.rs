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
//!
//! The module is split along the parser's seams: `table.rs` names every option (the
//! getopt table and the [`Key`] each maps to), `parse.rs` turns words into
//! [`Options`], and this file holds the resulting types.

mod parse;
mod table;

pub use parse::{parse, parse_with};
pub use table::{Key, OPTIONS};

use crate::values::RunAs;
use passt_core::config::DEFAULT_MTU;
use passt_core::fwd::spec::PortSpan;
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
