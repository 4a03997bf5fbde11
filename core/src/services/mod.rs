//! Built-in services that answer the guest directly, without touching the host.
//!
//! Each responder is a pure function of the configuration, the link state the engine
//! learned, and one parsed request; it writes a complete Ethernet frame into a buffer
//! and returns its length, or says why it stays silent.

pub mod arp;
pub mod dhcp;
pub mod dhcpv6;
pub mod ndp;
