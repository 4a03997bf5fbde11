//! `--help` and `--version` texts.
//!
//! The help lists every option of the running program, one line each, generated from
//! [`OPTIONS`] so that an option can't be added without a help line ([`describe`] is
//! an exhaustive `match`).

use crate::getopt::{HasArg, OptDef};
use crate::options::{Key, OPTIONS};
use passt_core::Mode;
use std::fmt::Write as _;

/// The program's name for `mode`.
pub fn program_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Pasta => "pasta",
        Mode::Passt => "passt",
    }
}

/// `--version` output: `pasta 0.1.0 (passt-rs)` and a newline.
pub fn version_text(mode: Mode) -> String {
    format!(
        "{} {} (passt-rs)\n",
        program_name(mode),
        env!("CARGO_PKG_VERSION")
    )
}

/// The argument placeholder and the one-line description of an option in `mode`.
pub fn describe(key: Key, mode: Mode) -> (&'static str, &'static str) {
    let pasta = mode == Mode::Pasta;
    match key {
        Key::Debug => ("", "Log debug messages (cancels -q)"),
        Key::Trace => ("", "Log per-packet and per-flow messages too (implies -d)"),
        Key::Quiet => ("", "Log warnings and errors only"),
        Key::Foreground => ("", "Don't run in background"),
        Key::Stderr => ("", "Deprecated, no effect"),
        Key::LogFile => ("PATH", "Log only to this file"),
        Key::LogSize => ("BYTES", "Maximum log file size (default: 1 MiB)"),
        Key::RunAs => ("UID[:GID]", "Run as this user (also LOGIN[:GROUP])"),
        Key::Help => ("", "Show this help and exit"),
        Key::Version => ("", "Show the version and exit"),
        Key::Socket => ("PATH", "UNIX socket path (default: /tmp/passt_N.socket)"),
        Key::VhostUser => ("", "Serve qemu as a vhost-user back end (shared memory)"),
        Key::PrintCapabilities => ("", "Print vhost-user back-end capabilities and exit"),
        Key::RepairPath => ("PATH", "'none' only: migration is not supported"),
        Key::Fd if pasta => (
            "FD",
            "Use this pre-opened tap file descriptor; implies --one-off: exit (1) when the tap goes away",
        ),
        Key::Fd => ("FD", "Use this connected socket; implies --one-off"),
        Key::OneOff => ("", "Quit once the first client disconnects"),
        Key::Control if pasta => ("PATH", "Control socket for pesto: forwards at run time"),
        Key::Control => ("PATH", "Refused: the control socket is pasta's"),
        Key::NsIfname => ("NAME", "Tap interface name in the namespace"),
        Key::Pcap => ("FILE", "Capture tap-side frames to this pcap file"),
        Key::Pid => ("FILE", "Write the process ID to this file"),
        Key::Mtu => (
            "MTU",
            "Link MTU: 0 (don't set) or 68-65535 (default: 65520)",
        ),
        Key::Address => ("ADDR", "Guest IPv4 or IPv6 address (default: the host's)"),
        Key::Netmask => ("MASK", "IPv4 netmask, dotted or prefix length"),
        Key::MacAddr => (
            "ADDR",
            "Our MAC on the tap link (default: 9a:55:9a:55:9a:55)",
        ),
        Key::Gateway => ("ADDR", "Guest IPv4 or IPv6 gateway (default: the host's)"),
        Key::Interface => ("NAME", "Take addresses and routes from this interface"),
        Key::Outbound => ("ADDR", "Source address for outbound connections"),
        Key::OutboundIf4 => ("NAME", "Bind outbound IPv4 sockets to this interface"),
        Key::OutboundIf6 => ("NAME", "Bind outbound IPv6 sockets to this interface"),
        Key::Dns => ("ADDR", "Advertise this name server (repeatable), or 'none'"),
        Key::Search => (
            "DOMAIN",
            "Advertise this search domain (repeatable), or 'none'",
        ),
        Key::Hostname => ("NAME", "Host name for the guest (DHCP)"),
        Key::Fqdn => (
            "NAME",
            "Guest's FQDN, for DHCP/DHCPv6 clients asking (81, 39)",
        ),
        Key::DhcpDns => ("", "Advertise name servers via DHCP, NDP, DHCPv6"),
        Key::NoDhcpDns => ("", "Don't advertise name servers"),
        Key::DhcpSearch => ("", "Advertise the search list via DHCP, NDP, DHCPv6"),
        Key::NoDhcpSearch => ("", "Don't advertise the search list"),
        Key::DnsForward => ("ADDR", "Forward DNS queries sent to ADDR to --dns-host"),
        Key::DnsHost => ("ADDR", "Where forwarded DNS queries go"),
        Key::MapHostLoopback => ("ADDR", "Guest address for the host's loopback, or 'none'"),
        Key::MapGuestAddr => (
            "ADDR",
            "Guest address for the host's own address, or 'none'",
        ),
        Key::NoMapGw => ("", "Don't map the gateway address to the host"),
        Key::NoTcp => ("", "Disable TCP"),
        Key::NoUdp => ("", "Disable UDP"),
        Key::NoIcmp => ("", "Disable ICMP and ICMPv6 echo"),
        Key::NoDhcp => ("", "Disable the DHCP server"),
        Key::NoNdp => ("", "Disable NDP responses"),
        Key::NoDhcpv6 => ("", "Disable the DHCPv6 server"),
        Key::NoRa => ("", "Disable router advertisements"),
        Key::Freebind => ("", "Bind forwarded ports to addresses not yet configured"),
        Key::NoSplice => ("", "Don't splice loopback connections"),
        Key::Ipv4Only => ("", "IPv4 only"),
        Key::Ipv6Only => ("", "IPv6 only"),
        Key::TcpPorts if pasta => (
            "SPEC",
            "Forward host TCP ports into the namespace (default: auto)",
        ),
        Key::TcpPorts => (
            "SPEC",
            "Forward host TCP ports to the guest (default: none)",
        ),
        Key::UdpPorts if pasta => (
            "SPEC",
            "Forward host UDP ports into the namespace (default: auto)",
        ),
        Key::UdpPorts => (
            "SPEC",
            "Forward host UDP ports to the guest (default: none)",
        ),
        Key::TcpNs => (
            "SPEC",
            "Forward namespace TCP ports to the host (default: auto)",
        ),
        Key::UdpNs => (
            "SPEC",
            "Forward namespace UDP ports to the host (default: auto)",
        ),
        Key::Userns => ("PATH", "User namespace to join"),
        Key::Netns => (
            "PATH|NAME",
            "Network namespace to join (NAME: /run/netns/NAME)",
        ),
        Key::NetnsOnly => ("", "Don't join or create a user namespace"),
        Key::NoNetnsQuit => ("", "Don't quit when the namespace goes away"),
        Key::ConfigNet => ("", "Configure the tap interface in the namespace"),
        Key::NoCopyRoutes => ("", "Deprecated, no effect"),
        Key::NoCopyAddrs => ("", "Deprecated, no effect"),
        Key::NsMacAddr => ("ADDR", "MAC address of the tap interface in the namespace"),
        Key::HostLoToNsLo => ("", "Deprecated: host loopback reaches namespace loopback"),
    }
}

/// An option as `--help` names it: `-c, --long META`, or `    --long` without a short
/// form (so long names line up), `META` only when it takes an argument.
pub fn option_names<K>(def: &OptDef<K>, meta: &str) -> String {
    let mut names = match def.short {
        Some(c) if def.longs.is_empty() => format!("-{c}"),
        Some(c) => format!("-{c}, "),
        None => String::from("    "),
    };
    names.push_str(
        &def.longs
            .iter()
            .map(|l| format!("--{l}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if def.arg == HasArg::Required {
        names.push(' ');
        names.push_str(meta);
    }
    names
}

/// `--help` output for `mode`: usage, then one line per option of that program.
pub fn help_text(mode: Mode) -> String {
    let prog = program_name(mode);
    let mut out = match mode {
        Mode::Pasta => format!(
            "Usage: {prog} [OPTION]... [COMMAND [ARG]...]\n       \
             {prog} [OPTION]... PID\n       \
             {prog} [OPTION]... --netns [PATH|NAME]\n\n"
        ),
        Mode::Passt => format!("Usage: {prog} [OPTION]...\n\n"),
    };
    for def in OPTIONS {
        if def.key.only_for().is_some_and(|m| m != mode) {
            continue;
        }
        let (meta, text) = describe(def.key, mode);
        let names = option_names(def, meta);
        let _ = writeln!(out, "  {names:<34} {text}");
    }
    out.push_str("\nSPEC: none | ");
    out.push_str(match mode {
        Mode::Pasta => "auto",
        Mode::Passt => "all",
    });
    out.push_str(" | [ADDR[%IFNAME]/]PORT[-PORT][:PORT[-PORT]][,...] (~PORT[-PORT] excludes)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line() {
        assert_eq!(version_text(Mode::Pasta), "pasta 0.1.0 (passt-rs)\n");
        assert_eq!(version_text(Mode::Passt), "passt 0.1.0 (passt-rs)\n");
    }

    #[test]
    fn help_lists_each_option_of_the_program_once() {
        for mode in [Mode::Pasta, Mode::Passt] {
            let help = help_text(mode);
            for def in OPTIONS {
                let shown = def.key.only_for().is_none_or(|m| m == mode);
                let needle = match (def.longs.first(), def.short) {
                    (Some(l), _) => format!("--{l}"),
                    (None, Some(c)) => format!("-{c} "),
                    (None, None) => unreachable!(),
                };
                let lines = help
                    .lines()
                    .filter(|l| l.trim_start().starts_with('-'))
                    .filter(|l| {
                        // Only the names column, not the descriptions.
                        l.get(..36)
                            .unwrap_or(l)
                            .split_whitespace()
                            .any(|w| w.trim_end_matches(',') == needle.trim())
                    })
                    .count();
                assert_eq!(lines, usize::from(shown), "{mode:?} {needle}");
            }
        }
        let pasta = help_text(Mode::Pasta);
        assert!(pasta.contains("  -t, --tcp-ports SPEC"));
        assert!(pasta.contains("--netns PATH|NAME"));
        assert!(!pasta.contains("--vhost-user"));
        let passt = help_text(Mode::Passt);
        assert!(passt.contains("  -s, --socket, --socket-path PATH"));
        assert!(!passt.contains("--config-net"));
    }
}
