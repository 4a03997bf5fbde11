//! Guest-side frame handling: demultiplex a tap frame to the right handler, and build
//! the frames we send on our own initiative.

use crate::engine::Engine;
use crate::io::Host;
use crate::services::{self, Reply};
use crate::stats::DropReason;
use crate::wire::arp;
use crate::wire::ethernet::{self, EtherType};

/// Handle one frame from the guest.
pub(crate) fn receive<H: Host>(engine: &mut Engine<'_>, frame: &[u8], host: &mut H) {
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
        EtherType::Arp => receive_arp(engine, eth.payload(), host),
        EtherType::Ipv4 | EtherType::Ipv6 => engine.stats.record_drop(DropReason::NoHandler),
    }
}

fn receive_arp<H: Host>(engine: &mut Engine<'_>, payload: &[u8], host: &mut H) {
    let parsed = arp::Packet::new_checked(payload).and_then(|p| arp::Repr::parse(&p));
    let Ok(request) = parsed else {
        engine.stats.record_drop(DropReason::ArpMalformed);
        return;
    };
    let reply = services::arp::respond(&engine.config, &request, &mut engine.tx);
    finish_service(engine, reply, host);
}

/// Send a service's reply, or count why it stayed silent.
fn finish_service<H: Host>(engine: &mut Engine<'_>, reply: Reply, host: &mut H) {
    match reply {
        Reply::Frame(len) => {
            engine.stats.service_replies += 1;
            engine.transmit(len, host);
        }
        Reply::Silent(reason) => engine.stats.record_drop(reason),
    }
}

/// Send an unsolicited router advertisement to all nodes.
pub(crate) fn send_unsolicited_ra<H: Host>(engine: &mut Engine<'_>, host: &mut H) {
    let _ = (engine, host);
}
