//! Guest-side frame handling: demultiplex a tap frame to the right handler, and build
//! the frames we send on our own initiative.

use crate::engine::Engine;
use crate::io::Host;
use crate::stats::DropReason;
use crate::wire::ethernet::{self, EtherType};

/// Handle one frame from the guest.
pub(crate) fn receive<H: Host>(engine: &mut Engine<'_>, frame: &[u8], host: &mut H) {
    let _ = host;
    if frame.len() > crate::engine::MAX_FRAME_LEN {
        engine.stats.record_drop(DropReason::FrameTooLong);
        return;
    }
    let Ok(eth) = ethernet::Frame::new_checked(frame) else {
        engine.stats.record_drop(DropReason::EthTruncated);
        return;
    };
    let src = eth.src_addr();
    if !src.is_unicast() {
        engine.stats.record_drop(DropReason::EthBadSource);
        return;
    }
    engine.guest.mac = Some(src);
    match eth.ethertype() {
        EtherType::Unknown(_) => engine.stats.record_drop(DropReason::EthUnknownType),
        EtherType::Arp | EtherType::Ipv4 | EtherType::Ipv6 => {
            engine.stats.record_drop(DropReason::NoHandler)
        }
    }
}

/// Send an unsolicited router advertisement to all nodes.
pub(crate) fn send_unsolicited_ra<H: Host>(engine: &mut Engine<'_>, host: &mut H) {
    let _ = (engine, host);
}
