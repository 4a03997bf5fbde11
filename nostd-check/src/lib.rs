//! Proof that `passt-core` is `no_std` and allocation-free.
//!
//! This crate is `#![no_std]`, has no allocator and brings its own
//! `#[panic_handler]`; it is built as a static library, a final artifact, so every
//! dependency's objects are linked into it. Should passt-core (or anything it depends
//! on) link `std`, the build fails with a duplicate `panic_impl` lang item, and on
//! `x86_64-unknown-none` because `std` does not exist there at all. Should it use
//! `alloc`, the build fails for want of a `#[global_allocator]`.
#![no_std]

use core::hint::black_box;
use core::net::Ipv4Addr;
use core::panic::PanicInfo;

use passt_core::config::{Config, Ipv4Config, Mode};
use passt_core::wire::ethernet::{EtherType, Frame, MacAddr};

/// A panic in a freestanding build has nowhere to go: spin.
#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// The ARP request `arping` sent in the captured fixture `arp.pcap`: broadcast, from
/// 00:00:5e:00:53:02 (198.51.100.2) asking for 198.51.100.1.
const ARP_REQUEST: [u8; 42] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x08, 0x06, 0x00, 0x01,
    0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0xc6, 0x33, 0x64, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x01,
];

/// Build and validate a pasta [`Config`], then parse an Ethernet frame: returns 1 if
/// both worked as expected, 0 otherwise.
///
/// Exported unmangled so the linker keeps it (and, with it, the passt-core code it
/// calls); `black_box` keeps the compiler from evaluating it all at build time.
#[no_mangle]
pub extern "C" fn passt_nostd_check() -> u32 {
    let mut config = Config::new(Mode::Pasta);
    config.ipv4 = Some(Ipv4Config {
        addr: Ipv4Addr::new(198, 51, 100, 2),
        prefix_len: 24,
        gateway: Ipv4Addr::new(198, 51, 100, 1),
    });
    let config = black_box(config);
    let config_ok = config.validate().is_ok();

    let bytes = black_box(ARP_REQUEST);
    let frame_ok = match Frame::new_checked(&bytes[..]) {
        Ok(frame) => {
            frame.ethertype() == EtherType::Arp
                && frame.dst_addr() == MacAddr::BROADCAST
                && frame.payload().len() == 28
        }
        Err(_) => false,
    };
    u32::from(config_ok && frame_ok)
}
