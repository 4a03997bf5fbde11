//! The engine: the single entry point the shims drive.
//!
//! ```text
//!   shim ──Event──▶ Engine::handle_event ──Op──▶ Host::exec ──OpResult──▶ engine
//!   shim ──now────▶ Engine::handle_timeout       (when Engine::poll_timeout says)
//! ```
//! One engine serves one guest link. It keeps what it learned about the guest (MAC,
//! addresses seen) in [`GuestState`], forgets it when the link goes down, and answers
//! the built-in services through the frame demultiplexer in [`crate::tap`].

use crate::config::{Config, ConfigError};
use crate::io::{Event, Host, Op, OpResult};
use crate::rng::Rng;
use crate::stats::{DropReason, Stats};
use crate::time::Instant;
use crate::wire::ethernet::MacAddr;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::time::Duration;
use managed::ManagedSlice;

/// Largest Ethernet frame on the tap link (the qemu framing caps frames at 65535).
pub const MAX_FRAME_LEN: usize = 65535;

/// Smallest transmit buffer the engine accepts: room for the largest reply a built-in
/// service builds (a DHCPv4 reply with every option is well under 1 KiB).
pub const MIN_TX_BUFFER: usize = 2048;

/// Lower bound of the unsolicited router advertisement interval (RFC 4861 §6.2.1:
/// MinRtrAdvInterval defaults to 0.33 × MaxRtrAdvInterval).
pub const RA_INTERVAL_MIN: Duration = Duration::from_secs(200);
/// Upper bound of the unsolicited router advertisement interval (RFC 4861 §6.2.1:
/// MaxRtrAdvInterval default 600 s).
pub const RA_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// Memory the caller lends to the engine.
pub struct Storage<'a> {
    /// Scratch space where outgoing frames are built; at least [`MIN_TX_BUFFER`] bytes.
    pub tx: ManagedSlice<'a, u8>,
}

/// What the engine has learned about the guest from its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuestState {
    /// Source MAC of the guest's frames.
    pub mac: Option<MacAddr>,
    /// Last non-zero IPv4 source address the guest used.
    pub addr_seen_v4: Option<Ipv4Addr>,
    /// Last global IPv6 source address the guest used (or was handed by DHCPv6).
    pub addr_seen_v6: Option<Ipv6Addr>,
    /// Last link-local IPv6 source address the guest used.
    pub addr_ll_seen: Option<Ipv6Addr>,
}

/// Why [`Engine::new`] refused to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The transmit buffer is smaller than [`MIN_TX_BUFFER`].
    TxBufferTooSmall,
}

/// The protocol engine for one guest link.
pub struct Engine<'a> {
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    pub(crate) guest: GuestState,
    pub(crate) tx: ManagedSlice<'a, u8>,
    link_up: bool,
    next_ra: Option<Instant>,
    rng: Rng,
}

impl<'a> Engine<'a> {
    /// Validate `config` and build an engine over the lent `storage`. The link starts
    /// down: the shim sends [`Event::TapUp`] when the guest is attached.
    pub fn new(config: Config, storage: Storage<'a>) -> Result<Engine<'a>, EngineError> {
        config.validate().map_err(EngineError::Config)?;
        if storage.tx.len() < MIN_TX_BUFFER {
            return Err(EngineError::TxBufferTooSmall);
        }
        let rng = Rng::new(config.seed ^ 0x5241_5f54_494d_4552);
        Ok(Engine {
            config,
            stats: Stats::default(),
            guest: GuestState::default(),
            tx: storage.tx,
            link_up: false,
            next_ra: None,
            rng,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters, including every drop by reason.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What the engine has learned about the guest.
    pub fn guest(&self) -> &GuestState {
        &self.guest
    }

    /// Whether the guest link is up.
    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// Handle one input. Never panics, whatever the frame contains.
    pub fn handle_event<H: Host>(&mut self, now: Instant, event: Event<'_>, host: &mut H) {
        match event {
            Event::TapFrame(frame) => {
                self.stats.frames_in += 1;
                if !self.link_up {
                    // A frame proves the link is there (pasta's tap has no "connect").
                    self.set_link_up(now);
                }
                crate::tap::receive(self, frame, host);
            }
            Event::TapUp => self.set_link_up(now),
            Event::TapDown => {
                self.link_up = false;
                self.guest = GuestState::default();
                self.next_ra = None;
            }
            Event::Socket { .. } => {
                // No flow owns a host socket yet in this build: any socket event names a
                // slot that is not live.
                self.stats.record_drop(DropReason::StaleSockRef);
            }
        }
    }

    /// When [`Engine::handle_timeout`] must next run, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_ra
    }

    /// Run every timer due at `now`.
    pub fn handle_timeout<H: Host>(&mut self, now: Instant, host: &mut H) {
        if let Some(due) = self.next_ra {
            if due <= now {
                crate::tap::send_unsolicited_ra(self, host);
                self.next_ra = Some(now + self.ra_interval());
            }
        }
    }

    fn set_link_up(&mut self, now: Instant) {
        if self.link_up {
            return;
        }
        self.link_up = true;
        let ra = self.config.services.ra && self.config.services.ndp && self.config.ipv6.is_some();
        // Like passt, the first unsolicited RA waits one full interval: a guest that
        // wants one sooner sends a router solicitation.
        self.next_ra = ra.then(|| now + self.ra_interval());
    }

    fn ra_interval(&mut self) -> Duration {
        let lo = RA_INTERVAL_MIN.as_millis() as u64;
        let hi = RA_INTERVAL_MAX.as_millis() as u64;
        Duration::from_millis(self.rng.range_inclusive(lo, hi))
    }

    /// Send `len` bytes of the transmit buffer to the guest.
    pub(crate) fn transmit<H: Host>(&mut self, len: usize, host: &mut H) {
        match host.exec(Op::TapSend(&self.tx[..len])) {
            OpResult::Done => self.stats.frames_out += 1,
            OpResult::Err(_) => self.stats.tx_errors += 1,
        }
    }
}
