//! Configuring pasta's tap interface inside the namespace (passt-reference §8.3):
//! loopback up, and with `--config-net` the template's addresses (no DAD), routes and
//! MTU, link up.

use crate::discover::HostTemplate;
use crate::netlink::{Family, Netlink, IFF_NOARP, IFF_UP};
use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// Frames the tap's transmit queue holds (`txqueuelen`).
pub const TAP_QUEUE_FRAMES: u32 = 10_000;

/// What `--config-net` should put on the tap.
#[derive(Debug, Clone, Default)]
pub struct NsNetConfig {
    /// MTU to set (`None`: leave the kernel's).
    pub mtu: Option<u16>,
    /// IPv4 address and prefix to set instead of copying the template's (`-a`, `-n`).
    pub addr_v4: Option<(IpAddr, u8)>,
    /// IPv6 address and prefix to set instead of copying the template's.
    pub addr_v6: Option<(IpAddr, u8)>,
    /// IPv4 default gateway to set instead of copying the template's routes (`-g`).
    pub gateway_v4: Option<IpAddr>,
    /// IPv6 default gateway to set instead of copying the template's routes.
    pub gateway_v6: Option<IpAddr>,
    /// MAC for the tap (`--ns-mac-addr`).
    pub mac: Option<[u8; 6]>,
}

/// Bring `lo` up, and set the tap's MAC if asked. Runs inside the namespace.
pub fn basic_setup(nl: &mut Netlink, tap: &str, mac: Option<[u8; 6]>) -> io::Result<u32> {
    let lo = nl.link_index("lo").map_err(during("finding lo"))?;
    nl.link_set_up(lo).map_err(during("bringing lo up"))?;
    let idx = nl.link_index(tap).map_err(during("finding the tap"))?;
    if let Some(mac) = mac {
        nl.link_set_mac(idx, mac)
            .map_err(during("setting the MAC address"))?;
    }
    Ok(idx)
}

/// Apply `--config-net` to the tap `tap` (inside the namespace).
pub fn configure(
    nl: &mut Netlink,
    tap: &str,
    template: &HostTemplate,
    cfg: &NsNetConfig,
) -> io::Result<()> {
    let idx = basic_setup(nl, tap, cfg.mac)?;
    if let Some(mtu) = cfg.mtu {
        nl.link_set_mtu(idx, u32::from(mtu))
            .map_err(during("setting the MTU"))?;
    }
    // The tap queue must hold a full window of frames: the default 1000 frames is
    // 1.5 MB at MTU 1500, far less than the windows we advertise, and overflowing it
    // makes the guest retransmit (callers.md §0.9).
    let _ = nl.link_set_txqlen(idx, TAP_QUEUE_FRAMES);
    if template.v6.is_some() && !disable_dad(tap) {
        // Without the sysctl: up with NOARP first, and wait for the kernel's DAD on the
        // link-local address to finish (the copied addresses carry NODAD).
        nl.link_set_flags(idx, IFF_UP | IFF_NOARP, IFF_UP | IFF_NOARP)
            .map_err(during("bringing the tap up"))?;
        nl.wait_dad(idx, Duration::from_secs(2))
            .map_err(during("waiting for DAD"))?;
    }
    nl.link_set_flags(idx, IFF_UP, IFF_UP | IFF_NOARP)
        .map_err(during("bringing the tap up"))?;
    for (family, t, addr, gateway) in [
        (Family::V4, &template.v4, cfg.addr_v4, cfg.gateway_v4),
        (Family::V6, &template.v6, cfg.addr_v6, cfg.gateway_v6),
    ] {
        let Some(t) = t else { continue };
        match addr {
            Some((a, prefix)) => nl
                .addr_add(idx, a, prefix, true)
                .or_else(ignore_exists)
                .map_err(during("adding the address"))?,
            None => {
                nl.addr_copy(&t.addrs, family, idx)
                    .map_err(during("copying the addresses"))?;
            }
        }
        match gateway {
            Some(gw) => nl
                .route_add_default(idx, gw)
                .or_else(ignore_exists)
                .map_err(during("adding the default route"))?,
            None => {
                let copied = nl
                    .route_copy(&t.routes, t.ifindex, idx)
                    .map_err(during("copying the routes"))?;
                let has_default = t.routes.iter().any(|r| r.dst_len == 0);
                if (copied == 0 || !has_default) && t.gateway.is_some() {
                    nl.route_add_default(idx, t.gateway.unwrap_or(t.addr))
                        .or_else(ignore_exists)
                        .map_err(during("adding the default route"))?;
                }
            }
        }
    }
    Ok(())
}

/// Turn off IPv6 duplicate address detection on `tap` (`accept_dad = 0`), so its
/// link-local address is usable at once instead of tentative for the ~0.5 s DAD takes.
/// Runs inside the namespace: `/proc/sys/net` follows the calling thread's namespace.
fn disable_dad(tap: &str) -> bool {
    std::fs::write(format!("/proc/sys/net/ipv6/conf/{tap}/accept_dad"), "0").is_ok()
}

/// Name the step an error came from: "copying the routes: Invalid argument".
fn during(step: &'static str) -> impl Fn(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{step}: {e}"))
}

fn ignore_exists(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::AlreadyExists {
        Ok(())
    } else {
        Err(e)
    }
}
