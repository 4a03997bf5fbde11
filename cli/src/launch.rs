//! From parsed options to a running pasta or passt: discover the host, build the
//! engine's configuration, and hand over to the Linux shim.

use crate::getopt::Getopt;
use crate::help::{help_text, version_text};
use crate::options::{
    Action, Forward, IpVersions, Key, ListOpt, LogLevel, NsTarget, Options, ParseEnv, RepairPath,
    OPTIONS,
};
use crate::resolv::{self, Resolv};
use passt_core::config::{Config, DnsConfig, Domain, Ipv4Config, Ipv6Config, Mode, Protocols};
use passt_core::fwd::spec::PortSpan;
use passt_core::fwd::{DnsForward, PortForwards};
use passt_core::wire::ethernet::MacAddr;
use passt_shim_linux::daemon::PidFile;
use passt_shim_linux::discover::{self, HostTemplate};
use passt_shim_linux::netlink::Netlink;
use passt_shim_linux::nsconfig::NsNetConfig;
use passt_shim_linux::passt::{self, Listen, PasstPlan};
use passt_shim_linux::pasta::{self, ForwardSpecs, PastaPlan, Target};
use passt_shim_linux::sockopts::{self, SocketPolicy};
use passt_shim_linux::{log, log_debug, log_err, log_info, log_warn};
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flow table capacity: connections tracked at once.
pub const FLOWS: usize = 32_768;
/// Environment variable that shrinks the flow table, for tests that fill it (the SYN
/// flood in `cli/tests/hostile_lab.rs`): a number of flows, clamped to
/// [`MIN_TEST_FLOWS`]..=[`FLOWS`]. Deliberately not an option, so that no caller's
/// command line (podman's, libvirt's) can reach it; it can only make the table smaller.
pub const FLOWS_ENV: &str = "PASST_TEST_FLOWS";
/// Smallest flow table [`FLOWS_ENV`] can ask for.
pub const MIN_TEST_FLOWS: usize = 16;

/// The flow table capacity: [`FLOWS`], unless [`FLOWS_ENV`] asks for fewer.
fn flow_capacity() -> usize {
    std::env::var(FLOWS_ENV)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(FLOWS, |n| n.clamp(MIN_TEST_FLOWS, FLOWS))
}
/// Local mode (no usable host interface): the guest's IPv4 address.
const LOCAL_GUEST: Ipv4Addr = Ipv4Addr::new(169, 254, 2, 1);
/// Local mode: our address and the gateway.
const LOCAL_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 2, 2);
/// Our link-local address when the host has none to borrow.
const FALLBACK_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// The whole program for `mode`: parse argv, then run. Errors print one line and exit 1.
pub fn main(mode: Mode) -> ExitCode {
    let env = ParseEnv {
        ephemeral: ephemeral_range(),
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let action = match crate::parse_with(mode, args.iter().cloned(), &env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match action {
        Action::Help => {
            print!("{}", help_text(mode));
            ExitCode::SUCCESS
        }
        Action::Version => {
            print!("{}", version_text(mode));
            ExitCode::SUCCESS
        }
        Action::PrintCapabilities => {
            println!("{{ \"type\": \"net\" }}");
            ExitCode::SUCCESS
        }
        Action::Run(opts) => {
            if let Err(e) = log::init(&log_config(&opts)) {
                eprintln!("{e}");
                return ExitCode::from(1);
            }
            let specs = forward_specs(&args);
            match run(*opts, specs) {
                Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                Err(e) => {
                    log_err!("{e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// The host's ephemeral port range, skipped by `all` and exclusion-only specs.
fn ephemeral_range() -> PortSpan {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|w| w.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(first), Some(last)) if first <= last => PortSpan { first, last },
        _ => ParseEnv::default().ephemeral,
    }
}

/// Whether pasta will run a command (rather than attach to a namespace).
fn spawns_command(opts: &Options) -> bool {
    opts.mode == Mode::Pasta && matches!(opts.target, None | Some(NsTarget::Spawn(_)))
}

/// What `-q`/`-d`/`--trace`, `-l` and `--log-size` ask of the logger.
pub fn log_config(opts: &Options) -> log::Config {
    log::Config {
        name: crate::help::program_name(opts.mode),
        level: match opts.log_level {
            LogLevel::Warning => log::Level::Warning,
            // pasta running a command shares its terminal: quiet unless -d or --trace
            // (passt-reference §1.2).
            LogLevel::Info if spawns_command(opts) => log::Level::Warning,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        },
        file: opts.log_file.clone(),
        size: opts.log_size,
    }
}

/// The `-t`, `-T`, `-u` and `-U` arguments as given, in order (for error messages that name the
/// option behind a port, as passt's do).
pub fn forward_specs(args: &[OsString]) -> ForwardSpecs {
    let mut specs = ForwardSpecs::default();
    for found in Getopt::new(OPTIONS, args).map_while(Result::ok) {
        let list = match found.def.key {
            Key::TcpPorts => &mut specs.tcp_in,
            Key::TcpNs => &mut specs.tcp_out,
            Key::UdpPorts => &mut specs.udp_in,
            Key::UdpNs => &mut specs.udp_out,
            _ => continue,
        };
        if let Some(v) = found.value {
            list.push(v.to_string_lossy().into_owned());
        }
    }
    specs
}

fn run(opts: Options, specs: ForwardSpecs) -> Result<i32, String> {
    for w in &opts.warnings {
        log_warn!("{w}");
    }
    raise_file_limit();
    // Tests ask for the allocation count after set-up; the file is opened now, while
    // there still is a file system (owner-only, as every file we create).
    if let Some(path) = std::env::var_os("PASST_ALLOC_REPORT") {
        let file = passt_shim_linux::owner_only::create_file(path.as_ref(), false)
            .map_err(|e| format!("PASST_ALLOC_REPORT: {e}"))?;
        passt_shim_linux::alloc_count::report_to(file);
    }
    if let Some(RepairPath::Path(_)) = opts.repair_path {
        return Err("--repair-path: TCP migration is not supported by this build".into());
    }
    if opts.mode == Mode::Passt && opts.control_socket.is_some() {
        return Err("The control socket (-c) is served by pasta only in this build".into());
    }
    // A missing --outbound-if4/6 interface is named before discovery trips over it.
    socket_policy(&opts)?;
    // Resolved now, while /etc is there; switched to after set-up.
    let runas = crate::users::resolve(
        opts.runas.as_ref(),
        &crate::users::Accounts::read(),
        crate::users::Current::get(),
        |w| log_warn!("{w}"),
    )?;
    // Opened (created or emptied, mode 0600, a symbolic link refused) before anything
    // is set up, as passt does; written once ready.
    let pid_file = match &opts.pid_file {
        Some(p) => Some(
            PidFile::create(p)
                .map_err(|e| format!("Couldn't open PID file {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let want_v4 = opts.ip_versions != IpVersions::V6Only;
    let want_v6 = opts.ip_versions != IpVersions::V4Only;
    let iface = opts
        .interface
        .as_ref()
        .or(opts.outbound_if4.as_ref())
        .or(opts.outbound_if6.as_ref());
    let template = Netlink::open()
        .and_then(|mut nl| discover::discover(&mut nl, iface.map(|i| i.as_str()), want_v4, want_v6))
        .map_err(|e| format!("Failed to read the host's network configuration: {e}"))?;
    let config = engine_config(&opts, &template, &resolv::read_host())?;
    log_configuration(&template, &config);
    match opts.mode {
        Mode::Pasta => run_pasta(opts, template, config, specs, runas, pid_file),
        Mode::Passt => run_passt(opts, config, specs, runas, pid_file),
    }
}

/// One info line per part of the configuration, as passt reports it at start.
fn log_configuration(template: &HostTemplate, c: &Config) {
    let name = |t: &Option<discover::FamilyTemplate>| {
        t.as_ref().map_or("none".to_string(), |t| t.ifname.clone())
    };
    log_info!(
        "Template interface: {} (IPv4), {} (IPv6)",
        name(&template.v4),
        name(&template.v6)
    );
    if let Some(v4) = &c.ipv4 {
        log_info!(
            "IPv4: guest {}/{}, gateway {}",
            v4.addr,
            v4.prefix_len,
            v4.gateway
        );
    }
    if let Some(v6) = &c.ipv6 {
        log_info!(
            "IPv6: guest {}/{}, gateway {}, our link-local {}",
            v6.addr,
            v6.prefix_len,
            v6.gateway,
            v6.our_link_local
        );
    }
    let servers: Vec<String> = (c.dns.servers_v4.iter().map(|a| a.to_string()))
        .chain(c.dns.servers_v6.iter().map(|a| a.to_string()))
        .collect();
    if !servers.is_empty() {
        log_info!("DNS: {}", servers.join(", "));
    }
    log_debug!(
        "MAC {}, MTU {:?}, {} forwarded TCP port range(s)",
        c.our_mac,
        c.mtu,
        c.forwards.tcp_in.ranges.len()
    );
}

/// Every connection holds a host descriptor: lift the soft descriptor limit to the
/// hard one (passt-reference §9.1: RLIMIT_NOFILE soft raised to hard at start-up).
fn raise_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some() || limit.current.is_some() {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// The engine's configuration from the options and what the host has.
pub fn engine_config(
    opts: &Options,
    template: &HostTemplate,
    host_dns: &Resolv,
) -> Result<Config, String> {
    let mut c = Config::new(opts.mode);
    c.our_mac = opts.mac_addr.unwrap_or(MacAddr::PASST_DEFAULT);
    c.mtu = opts.mtu;
    let want_v4 = opts.ip_versions != IpVersions::V6Only;
    let want_v6 = opts.ip_versions != IpVersions::V4Only;

    if want_v4 {
        let t = template.v4.as_ref();
        let addr = opts.address.v4.or(t.and_then(|t| as_v4(t.addr)));
        let gateway = opts
            .gateway
            .v4
            .or(t.and_then(|t| t.gateway.and_then(as_v4)));
        c.ipv4 = match (addr, gateway) {
            (Some(addr), Some(gateway)) => Some(Ipv4Config {
                addr,
                prefix_len: opts
                    .prefix_len_v4
                    .or(t.map(|t| t.prefix_len))
                    .unwrap_or_else(|| classful(addr)),
                gateway,
            }),
            (Some(addr), None) => Some(Ipv4Config {
                addr,
                prefix_len: opts
                    .prefix_len_v4
                    .or(t.map(|t| t.prefix_len))
                    .unwrap_or_else(|| classful(addr)),
                gateway: addr,
            }),
            _ => None,
        };
    }
    if want_v6 {
        let t = template.v6.as_ref();
        let addr = opts.address.v6.or(t.and_then(|t| as_v6(t.addr)));
        let gateway = opts
            .gateway
            .v6
            .or(t.and_then(|t| t.gateway.and_then(as_v6)));
        if let Some(addr) = addr {
            let gateway = gateway.unwrap_or(FALLBACK_LL);
            let our_link_local = if gateway.is_unicast_link_local() {
                gateway
            } else {
                t.and_then(|t| t.link_local).unwrap_or(FALLBACK_LL)
            };
            c.ipv6 = Some(Ipv6Config {
                addr,
                prefix_len: 64,
                gateway,
                our_link_local,
            });
        }
    }
    if c.ipv4.is_none() && c.ipv6.is_none() {
        // Local mode (passt-reference §5.1): no usable host interface.
        c.ipv4 = Some(Ipv4Config {
            addr: LOCAL_GUEST,
            prefix_len: 16,
            gateway: LOCAL_GATEWAY,
        });
    }

    // Stand-ins for the host: the gateway means the host's loopback unless told otherwise.
    c.nat.map_host_loopback_v4 = opts.map_host_loopback.v4.or(if opts.no_map_gw {
        None
    } else {
        c.ipv4.map(|v| v.gateway)
    });
    c.nat.map_host_loopback_v6 = opts.map_host_loopback.v6.or(if opts.no_map_gw {
        None
    } else {
        c.ipv6.map(|v| v.gateway)
    });
    // The router our advertisements announce is the host too, unless told otherwise.
    c.nat.map_our_link_local = !opts.no_map_gw && opts.map_host_loopback.v6.is_none();
    c.nat.host_link_scope = template.v6.as_ref().map_or(0, |t| t.ifindex);
    c.nat.map_guest_addr_v4 = opts.map_guest_addr.v4;
    c.nat.map_guest_addr_v6 = opts.map_guest_addr.v6;

    c.dns = dns_config(opts, &c, host_dns);
    c.dns_forward = dns_forward(opts, &c, host_dns);
    c.services.dhcp = !opts.no_dhcp && c.ipv4.is_some();
    c.services.ndp = !opts.no_ndp && c.ipv6.is_some();
    // pasta --config-net configures the namespace itself: no router advertisements.
    c.services.ra = c.services.ndp && !opts.no_ra && !(opts.mode == Mode::Pasta && opts.config_net);
    c.services.dhcpv6 = !opts.no_dhcpv6 && c.ipv6.is_some();
    c.protocols = Protocols {
        tcp: !opts.no_tcp,
        udp: !opts.no_udp,
        icmp: !opts.no_icmp,
    };
    if let Forward::Ports { forwards, .. } = &opts.tcp_ports {
        c.forwards.tcp_in = PortForwards::clone(forwards);
    }
    if let Forward::Ports { forwards, .. } = &opts.tcp_ns {
        c.forwards.tcp_out = PortForwards::clone(forwards);
    }
    c.forwards.tcp_in_auto = opts.mode == Mode::Pasta && opts.tcp_ports == Forward::Auto;
    c.forwards.tcp_out_auto = opts.mode == Mode::Pasta && opts.tcp_ns == Forward::Auto;
    c.splice = opts.mode == Mode::Pasta && !opts.no_splice;
    if let Forward::Ports { forwards, .. } = &opts.udp_ports {
        c.forwards.udp_in = PortForwards::clone(forwards);
    }
    if let Forward::Ports { forwards, .. } = &opts.udp_ns {
        c.forwards.udp_out = PortForwards::clone(forwards);
    }
    let udp_auto = opts.mode == Mode::Pasta && !opts.no_udp;
    c.forwards.udp_in_auto = udp_auto && opts.udp_ports == Forward::Auto;
    c.forwards.udp_out_auto = udp_auto && opts.udp_ns == Forward::Auto;
    c.seed = random_seed();
    c.duid_time = duid_time();
    c.validate()
        .map_err(|e| format!("Invalid configuration: {e:?}"))?;
    Ok(c)
}

fn dns_config(opts: &Options, c: &Config, host: &Resolv) -> DnsConfig {
    let mut d = DnsConfig {
        advertise_servers: opts.dhcp_dns,
        advertise_search: opts.dhcp_search,
        // Validated by the parser (at most 253 characters without the final dot).
        fqdn: opts
            .fqdn
            .as_deref()
            .and_then(|n| Domain::try_from(n.strip_suffix('.').unwrap_or(n)).ok()),
        ..DnsConfig::default()
    };
    let servers: Vec<IpAddr> = match &opts.dns {
        ListOpt::Disabled => Vec::new(),
        ListOpt::Given(v) => v.clone(),
        ListOpt::FromHost => host
            .nameservers
            .iter()
            .filter_map(|a| match a {
                // A loopback resolver (systemd-resolved's 127.0.0.53) is reached through
                // the host-loopback stand-in, when there is one.
                IpAddr::V4(v4) if v4.is_loopback() => c.nat.map_host_loopback_v4.map(IpAddr::V4),
                IpAddr::V6(v6) if v6.is_loopback() => c.nat.map_host_loopback_v6.map(IpAddr::V6),
                other => Some(*other),
            })
            .collect(),
    };
    for s in servers {
        match s {
            IpAddr::V4(a) => {
                let _ = d.servers_v4.push(a);
            }
            IpAddr::V6(a) => {
                let _ = d.servers_v6.push(a);
            }
        }
    }
    let search: Vec<String> = match &opts.search {
        ListOpt::Disabled => Vec::new(),
        ListOpt::Given(v) => v.clone(),
        ListOpt::FromHost => host.search.clone(),
    };
    for s in search {
        if let Ok(domain) = Domain::try_from(s.as_str()) {
            let _ = d.search.push(domain);
        }
    }
    d
}

/// DNS forwarding (passt-reference §5.2 rule 1): `--dns-forward` addresses go to
/// `--dns-host`, by default the host's first resolv.conf nameserver of the family.
/// When that nameserver is a loopback stub (systemd-resolved's 127.0.0.53) the guest
/// is told to use the host-loopback stand-in, so DNS to the stand-in goes to the stub
/// (and not to 127.0.0.1) unless `--dns-forward` says otherwise. `-D none` turns
/// forwarding off.
fn dns_forward(opts: &Options, c: &Config, host: &Resolv) -> DnsForward {
    if matches!(opts.dns, ListOpt::Disabled) {
        return DnsForward::default();
    }
    let first_v4 = host.nameservers.iter().find_map(|a| as_v4(*a));
    let first_v6 = host.nameservers.iter().find_map(|a| as_v6(*a));
    let host_v4 = opts.dns_host.v4.or(first_v4);
    let host_v6 = opts.dns_host.v6.or(first_v6);
    let stub_v4 = first_v4.filter(|a| a.is_loopback() && opts.dns_host.v4.is_none());
    let stub_v6 = first_v6.filter(|a| a.is_loopback() && opts.dns_host.v6.is_none());
    DnsForward {
        match_v4: opts
            .dns_forward
            .v4
            .or(stub_v4.and(c.nat.map_host_loopback_v4)),
        match_v6: opts
            .dns_forward
            .v6
            .or(stub_v6.and(c.nat.map_host_loopback_v6)),
        host_v4,
        host_v6,
    }
}

fn run_pasta(
    opts: Options,
    template: HostTemplate,
    config: Config,
    specs: ForwardSpecs,
    runas: Option<passt_shim_linux::isolation::RunAs>,
    pid_file: Option<PidFile>,
) -> Result<i32, String> {
    let target = match opts.target.clone() {
        None | Some(NsTarget::Spawn(_)) => {
            let argv = match &opts.target {
                Some(NsTarget::Spawn(a)) if !a.is_empty() => a.clone(),
                _ => vec![std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into())],
            };
            Target::Spawn {
                argv,
                hostname: opts.hostname.clone(),
            }
        }
        Some(NsTarget::Pid(pid)) => Target::Attach {
            netns: PathBuf::from(format!("/proc/{pid}/ns/net")),
            userns: opts.userns_path(),
        },
        Some(NsTarget::Netns(path)) => Target::Attach {
            netns: path,
            userns: opts.userns_path(),
        },
    };
    let ns_ifname = opts
        .ns_ifname
        .as_ref()
        .map(|n| n.to_string())
        .or_else(|| {
            template
                .v4
                .as_ref()
                .or(template.v6.as_ref())
                .map(|t| t.ifname.clone())
        })
        .unwrap_or_else(|| "tap0".to_string());
    let net = NsNetConfig {
        mtu: opts.mtu,
        addr_v4: config
            .ipv4
            .filter(|_| opts.address.v4.is_some() || template.v4.is_none())
            .map(|v| (IpAddr::V4(v.addr), v.prefix_len)),
        addr_v6: opts.address.v6.map(|a| (IpAddr::V6(a), 64)),
        gateway_v4: config
            .ipv4
            .filter(|_| opts.gateway.v4.is_some() || template.v4.is_none())
            .map(|v| IpAddr::V4(v.gateway)),
        gateway_v6: opts.gateway.v6.map(IpAddr::V6),
        mac: opts.ns_mac_addr.map(|m| m.0),
    };
    // Without a host template for a family, --config-net sets what the options say.
    let mut template = template;
    if template.v4.is_none() {
        if let Some(v4) = config.ipv4 {
            template.v4 = Some(synthetic_template(
                IpAddr::V4(v4.addr),
                v4.prefix_len,
                IpAddr::V4(v4.gateway),
            ));
        }
    }
    let attached = matches!(target, Target::Attach { .. });
    let plan = PastaPlan {
        target,
        template,
        ns_ifname,
        config_net: opts.config_net,
        net,
        engine: config,
        flows: flow_capacity(),
        runas,
        no_netns_quit: opts.no_netns_quit,
        daemon: attached && !opts.foreground,
        pid_file,
        pcap: opts.pcap.clone(),
        specs,
        control: opts.control_socket.clone(),
        sockets: socket_policy(&opts)?,
        tap_fd: opts.fd,
    };
    pasta::run(plan).map_err(|e| e.to_string())
}

/// `-o`, `--outbound-if4/6` (the interfaces must exist) and `--freebind`.
fn socket_policy(opts: &Options) -> Result<SocketPolicy, String> {
    let index = |name: &Option<passt_core::fwd::IfName>, option: &str| {
        name.as_ref()
            .map(|n| {
                sockopts::ifindex(n.as_str())
                    .map_err(|e| format!("Invalid interface for {option}: {e}"))
            })
            .transpose()
    };
    Ok(SocketPolicy {
        outbound_v4: opts.outbound.v4,
        outbound_v6: opts.outbound.v6,
        outbound_if4: index(&opts.outbound_if4, "--outbound-if4")?,
        outbound_if6: index(&opts.outbound_if6, "--outbound-if6")?,
        freebind: opts.freebind,
    })
}

fn synthetic_template(addr: IpAddr, prefix_len: u8, gateway: IpAddr) -> discover::FamilyTemplate {
    discover::FamilyTemplate {
        ifindex: 0,
        ifname: "tap0".into(),
        addr,
        prefix_len,
        gateway: Some(gateway),
        link_local: None,
        addrs: Vec::new(),
        routes: Vec::new(),
    }
}

fn run_passt(
    opts: Options,
    config: Config,
    specs: ForwardSpecs,
    runas: Option<passt_shim_linux::isolation::RunAs>,
    pid_file: Option<PidFile>,
) -> Result<i32, String> {
    let listen = match opts.fd {
        Some(fd) => passt::inherited(fd).map_err(|e| e.to_string())?,
        None => passt::listen(opts.socket.as_deref()).map_err(|e| e.to_string())?,
    };
    if let Listen::Socket { path, .. } = &listen {
        log_info!("UNIX domain socket bound at {}", path.display());
        if opts.vhost_user {
            log_info!(
                "You can start qemu with: kvm ... -chardev socket,id=chr0,path={} -netdev \
                 vhost-user,id=netdev0,chardev=chr0 -device virtio-net,netdev=netdev0 -object \
                 memory-backend-memfd,id=memfd0,share=on,size=$RAMSIZE -numa node,memdev=memfd0",
                path.display()
            );
        } else {
            log_info!(
                "You can now start qemu (>= 7.2, with commit 13c6be96618c): kvm ... -device \
                 virtio-net-pci,netdev=s -netdev stream,id=s,server=off,addr.type=unix,addr.path={}",
                path.display()
            );
        }
    }
    let plan = PasstPlan {
        engine: config,
        flows: flow_capacity(),
        runas,
        one_off: opts.one_off,
        daemon: !opts.foreground && opts.fd.is_none(),
        pid_file,
        pcap: opts.pcap.clone(),
        specs,
        sockets: socket_policy(&opts)?,
        vhost_user: opts.vhost_user,
    };
    passt::run(plan, listen).map_err(|e| e.to_string())
}

fn as_v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(v) => Some(v),
        IpAddr::V6(_) => None,
    }
}

fn as_v6(a: IpAddr) -> Option<Ipv6Addr> {
    match a {
        IpAddr::V6(v) => Some(v),
        IpAddr::V4(_) => None,
    }
}

/// Classful prefix length for an address given without `-n` (passt-reference §1.2).
fn classful(a: Ipv4Addr) -> u8 {
    match a.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        192..=223 => 24,
        _ => 32,
    }
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty());
    u64::from_ne_bytes(b)
}

/// Seconds since 2000-01-01 00:00:00 UTC (the DUID-LLT epoch, RFC 8415 §11.2).
fn duid_time() -> u32 {
    const EPOCH_2000: u64 = 946_684_800;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(now.saturating_sub(EPOCH_2000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    fn options(mode: Mode, args: &[&str]) -> Options {
        match crate::parse(mode, args) {
            Ok(Action::Run(o)) => *o,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn template() -> HostTemplate {
        HostTemplate {
            v4: Some(synthetic_template(
                "198.51.100.2".parse().unwrap(),
                24,
                "198.51.100.1".parse().unwrap(),
            )),
            v6: None,
        }
    }

    fn resolv(text: &str) -> Resolv {
        resolv::parse(text)
    }

    #[test]
    fn dns_forward_goes_to_the_given_dns_host() {
        let o = options(
            Mode::Pasta,
            &["--dns-forward", "169.254.1.1", "--dns-host", "127.0.0.1"],
        );
        let c = engine_config(&o, &template(), &resolv("nameserver 203.0.113.53\n")).unwrap();
        assert_eq!(c.dns_forward.match_v4, Some("169.254.1.1".parse().unwrap()));
        assert_eq!(c.dns_forward.host_v4, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn dns_host_defaults_to_the_first_nameserver_and_a_stub_is_reached_via_the_gateway() {
        let o = options(Mode::Pasta, &["--dns-forward", "169.254.1.1"]);
        let c = engine_config(
            &o,
            &template(),
            &resolv("nameserver 2001:db8::53\nnameserver 203.0.113.53\n"),
        )
        .unwrap();
        assert_eq!(c.dns_forward.host_v4, Some("203.0.113.53".parse().unwrap()));
        assert_eq!(c.dns_forward.host_v6, Some("2001:db8::53".parse().unwrap()));

        // systemd-resolved's stub: DNS to the gateway (the host-loopback stand-in) goes
        // to 127.0.0.53, not 127.0.0.1.
        let o = options(Mode::Pasta, &[]);
        let c = engine_config(&o, &template(), &resolv("nameserver 127.0.0.53\n")).unwrap();
        assert_eq!(
            c.dns_forward.match_v4,
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(c.dns_forward.host_v4, Some("127.0.0.53".parse().unwrap()));
        assert_eq!(
            passt_core::fwd::target_from_guest(&c, "198.51.100.1:53".parse().unwrap()),
            "127.0.0.53:53".parse().unwrap()
        );

        let o = options(Mode::Pasta, &["-D", "none"]);
        let c = engine_config(&o, &template(), &resolv("nameserver 127.0.0.53\n")).unwrap();
        assert_eq!(
            c.dns_forward,
            DnsForward::default(),
            "-D none: no forwarding"
        );
    }

    #[test]
    fn our_link_local_means_the_host_unless_the_gateway_mapping_is_off() {
        let mut t = template();
        let mut v6 = synthetic_template(
            "2001:db8:1::2".parse().unwrap(),
            64,
            "2001:db8:1::1".parse().unwrap(),
        );
        v6.ifindex = 3;
        v6.link_local = Some("fe80::10".parse().unwrap());
        t.v6 = Some(v6);
        let c = engine_config(&options(Mode::Pasta, &[]), &t, &Resolv::default()).unwrap();
        assert!(c.nat.map_our_link_local);
        assert_eq!(
            c.nat.host_link_scope, 3,
            "the template's index scopes fe80::/10"
        );
        assert_eq!(
            passt_core::fwd::target_from_guest(&c, "[fe80::10]:22".parse().unwrap()),
            "[::1]:22".parse().unwrap()
        );
        let o = options(Mode::Pasta, &["--no-map-gw"]);
        let c = engine_config(&o, &t, &Resolv::default()).unwrap();
        assert!(!c.nat.map_our_link_local);
        let o = options(Mode::Pasta, &["--map-host-loopback", "fd00::1"]);
        let c = engine_config(&o, &t, &Resolv::default()).unwrap();
        assert!(
            !c.nat.map_our_link_local,
            "the given stand-in replaces ours"
        );
    }

    #[test]
    fn protocol_switches_reach_the_engine() {
        let o = options(Mode::Passt, &["--no-udp", "--no-icmp"]);
        let c = engine_config(&o, &template(), &Resolv::default()).unwrap();
        assert_eq!(
            c.protocols,
            Protocols {
                tcp: true,
                udp: false,
                icmp: false
            }
        );
    }

    #[test]
    fn udp_ports_are_forwarded() {
        let o = options(Mode::Pasta, &["-u", "5353:53"]);
        let c = engine_config(&o, &template(), &Resolv::default()).unwrap();
        let (_, r) = c.forwards.udp_in.find(5353).expect("range for 5353");
        assert_eq!(r.map(5353), 53);
        assert!(c.forwards.tcp_in.is_empty());
        assert!(!c.forwards.udp_in_auto, "explicit ports replace auto");
        assert!(c.forwards.udp_out_auto, "-U stays auto for pasta");
    }

    #[test]
    fn udp_ns_ports_are_forwarded_and_auto_is_pastas_default() {
        let o = options(Mode::Pasta, &["-U", "10003:10004", "-u", "none"]);
        let c = engine_config(&o, &template(), &Resolv::default()).unwrap();
        let (_, r) = c.forwards.udp_out.find(10003).expect("range for 10003");
        assert_eq!(r.map(10003), 10004);
        assert!(!c.forwards.udp_in_auto && !c.forwards.udp_out_auto);
        let o = options(Mode::Pasta, &[]);
        let c = engine_config(&o, &template(), &Resolv::default()).unwrap();
        assert!(c.forwards.udp_in_auto && c.forwards.udp_out_auto);
        let o = options(Mode::Passt, &[]);
        let c = engine_config(&o, &template(), &Resolv::default()).unwrap();
        assert!(!c.forwards.udp_in_auto && !c.forwards.udp_out_auto);
    }
}
