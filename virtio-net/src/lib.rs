//! passt's virtio-net device, on rust-vmm's crates: `virtio-queue` walks the split
//! virtqueues, `vm-memory` reaches guest memory, `virtio-bindings` names the bits.
//!
//! ```text
//!   guest driver ── TX queue ──▶ VirtioNet::next_from_guest ──▶ Engine (Event::TapFrame)
//!   guest driver ◀── RX queue ── VirtioNet::send ◀── Op::TapSend / TapSendOffload
//! ```
//!
//! The device knows nothing of the transport: shim-linux's vhost-user back end sets
//! the queues up from a front end's messages, and a Rust VMM can set them up itself
//! and run the engine in-process through [`DeviceHost`] (see `tests/in_process.rs`).
//!
//! - [`features`]: what is offered, what an accepted set means (header, offloads).
//! - [`hdr`]: the `virtio_net_hdr` in front of each frame.
//! - [`rx`], [`tx`]: the two queues; [`chain`]: descriptor chains checked as a net
//!   device uses them; [`ring`]: used-ring publishing and notification decisions.
//! - [`device`]: the two queues together, and the in-process [`DeviceHost`].
//! - [`driver`]: the driver's side, for harnesses and tests that play the guest.
//!
//! No `unsafe`: guest memory is reached through `vm-memory` only.
#![forbid(unsafe_code)]

pub mod chain;
pub mod device;
pub mod driver;
pub mod features;
pub mod hdr;
pub mod ring;
pub mod rx;
pub mod tx;

pub use device::{DeviceHost, DeviceStats, VirtioNet};
pub use features::{Negotiated, OFFERED};

/// Index of the receive queue (virtio 1.2 §5.1.2).
pub const RX_QUEUE: usize = 0;
/// Index of the transmit queue.
pub const TX_QUEUE: usize = 1;
/// Largest queue we accept (what qemu allows for virtio-net).
pub const MAX_QUEUE_SIZE: u16 = 1024;
/// Largest frame either way (a 64 KiB TCP super-frame and its headers), without the
/// virtio-net header.
pub const MAX_FRAME: usize = 65_536 + 256;
