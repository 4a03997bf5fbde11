//! From words to [`Options`]: the three passes described in the [module](super)
//! documentation, the per-option handlers and the checks across options.

use super::table::{Key, OPTIONS};
use super::{Action, AddrPair, Forward, IpVersions, ListOpt, LogLevel, NsTarget, Options};
use super::{ParseEnv, RepairPath};
use crate::error::CliError;
use crate::getopt::{Getopt, OptDef};
use crate::values::{self, AddrUse, Reason};
use passt_core::config::{MAX_DNS_SERVERS, MAX_SEARCH_DOMAINS};
use passt_core::fwd::spec::Spec;
use passt_core::Mode;
use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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
