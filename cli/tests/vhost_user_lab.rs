//! `passt --vhost-user` end to end in the sealed lab: a "VM" gets a working network
//! through virtqueues in shared memory.
//!
//! passt runs in the lab's "host" namespace as the unprivileged user `nobody`, as a
//! vhost-user back end. The virtual machine is a third namespace, "guest", whose tap
//! device `passt-vhost-relay` connects to passt as qemu and the guest's virtio-net
//! driver would: memfd guest memory, split virtqueues, kicks and interrupts through
//! eventfds. The guest's kernel does DHCP against passt's server and talks to the
//! "remote" namespace.

mod lab;

use lab::guest::{relay_binary_of, Guest, Lease, Passt, Relay, RelayKind};
use lab::{Lab, GATEWAY_V4, HOST_V4, REMOTE_V4};
use std::path::PathBuf;
use std::time::Duration;

/// One lab with passt serving a vhost-user guest. Fields drop in order: the relay
/// first, the lab (and its servers) last.
struct World {
    relay: Option<Relay>,
    passt: Passt,
    guest: Guest,
    relay_bin: PathBuf,
    lab: Lab,
}

impl World {
    /// A lab, the guest namespace and `passt --vhost-user -f -s SOCKET`; `None` when
    /// the lab cannot run here (skipped).
    fn new() -> Option<World> {
        let lab = Lab::new()?;
        let relay_bin = relay_binary_of(RelayKind::VhostUser)?;
        let guest = Guest::new(&lab);
        let passt = Passt::start(&lab, &["--vhost-user"]);
        Some(World {
            relay: None,
            passt,
            guest,
            relay_bin,
            lab,
        })
    }

    /// Plug the guest in (relay arguments `extra`) and configure IPv4 by DHCP.
    fn plug_and_dhcp(&mut self, extra: &[&str]) -> Lease {
        assert!(self.relay.is_none(), "already plugged in");
        self.relay = Some(Relay::start_with(
            &self.relay_bin,
            &self.guest,
            &self.passt.socket,
            extra,
        ));
        self.guest.dhcp()
    }
}

/// What passt's DHCP server must hand the guest.
fn expected_lease() -> Lease {
    Lease {
        ip: HOST_V4.into(),
        mask: "24".into(),
        router: GATEWAY_V4.into(),
        mtu: "65520".into(),
        server_id: GATEWAY_V4.into(),
    }
}

#[test]
fn dhcp_through_virtqueues_gives_the_hosts_address_gateway_and_mtu() {
    let Some(mut w) = World::new() else { return };
    let lease = w.plug_and_dhcp(&[]);
    assert_eq!(lease, expected_lease(), "passt log: {}", w.passt.log());
}

#[test]
fn ping_to_remote_v4_through_virtqueues() {
    let Some(mut w) = World::new() else { return };
    // passt (as nobody) answers echoes through ping sockets in its own namespace.
    w.lab.allow_ping_sockets();
    w.plug_and_dhcp(&[]);
    let args = ["-4", "-c", "3", "-i", "0.2", "-W", "2", REMOTE_V4];
    let out = w.guest.run("ping", &args, Duration::from_secs(15));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(" 0% packet loss"),
        "ping {args:?}: {text}\n{}\npasst log: {}",
        String::from_utf8_lossy(&out.stderr),
        w.passt.log()
    );
}

#[test]
fn tcp_echo_to_remote_v4_through_virtqueues() {
    let Some(mut w) = World::new() else { return };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    w.plug_and_dhcp(&[]);
    assert_eq!(
        w.guest
            .netcheck(&["echo", REMOTE_V4, "7", "hello-vhost-user"]),
        "hello-vhost-user"
    );
}

#[test]
fn tcp_echo_without_offloads_and_with_a_small_ring() {
    let Some(mut w) = World::new() else { return };
    w.lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let lease = w.plug_and_dhcp(&["--no-offload", "--queue-size", "64"]);
    assert_eq!(lease, expected_lease(), "passt log: {}", w.passt.log());
    assert_eq!(
        w.guest.netcheck(&["echo", REMOTE_V4, "7", "plain-frames"]),
        "plain-frames"
    );
}
