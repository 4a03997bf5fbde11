//! Linux side of passt/pasta: the pieces that talk to the kernel.
//!
//! * [`tap`]: the pasta tap device (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`).
//! * [`netns`]: joining network/user namespaces, running code inside a
//!   network namespace, spawning a command in new user + network namespaces.
//! * [`netlink`]: a small synchronous rtnetlink client for interface,
//!   address and route configuration and template discovery.
//! * [`log`]: pasta/passt logging (levels, log file with rotation, syslog);
//!   [`pcap`]: `--pcap` capture around the guest link; [`watch`]: what ends an
//!   attached pasta or a passt (namespace deletion, SIGTERM/SIGINT); [`control`]:
//!   the control socket (`-c`), forwards changed at run time.
//! * [`owner_only`]: the sockets and files we create, mode 0600 from the start, a
//!   symbolic link at their path never followed.
//!
//! All `unsafe` code lives in the private `sys` module (the TUNSETIFF ioctl
//! and the fork/unshare/exec sequence); everything else goes through rustix's
//! safe API or `std`.

#![deny(unsafe_code)]

pub mod alloc_count;
pub mod control;
pub mod daemon;
pub mod dgram;
pub mod discover;
pub mod event_loop;
pub mod host;
pub mod isolation;
pub mod link_faults;
pub mod log;
pub mod netlink;
pub mod netns;
pub mod nsconfig;
pub mod nssocket;
pub mod owner_only;
pub mod passt;
pub mod pasta;
pub mod pcap;
pub mod procnet;
pub mod qemu;
pub mod seccomp;
pub mod sockopts;
pub mod spin;
#[allow(unsafe_code)]
mod sys;
pub mod tap;
pub mod vhost_user;
pub mod watch;

pub use netlink::Netlink;
pub use netns::{in_netns, NetnsHandle, NsChild, NsCommand, UsernsHandle};
pub use tap::Tap;
