//! Proxy ARP (RFC 826; behaviour per the passt reference §6.1).
//!
//! We answer every ARP request from the guest with our own MAC, whatever address it
//! asks for — every IPv4 destination is reached through us — except requests for the
//! guest's own address (answering would make its duplicate-address probe fail) and
//! gratuitous announcements.

use super::Reply;
use crate::config::Config;
use crate::stats::DropReason;
use crate::wire::arp::{self, Operation};
use crate::wire::ethernet::{self, EtherType};
use core::net::Ipv4Addr;

/// Length of an ARP reply frame: 14-byte Ethernet header + 28-byte ARP body, unpadded.
pub const REPLY_LEN: usize = ethernet::HEADER_LEN + arp::PACKET_LEN;

/// Answer one ARP packet from the guest, writing the reply frame into `out`.
pub fn respond(config: &Config, request: &arp::Repr, out: &mut [u8]) -> Reply {
    let Some(v4) = &config.ipv4 else {
        return Reply::Silent(DropReason::Disabled);
    };
    if request.operation != Operation::Request {
        return Reply::Silent(DropReason::ArpIgnored);
    }
    let sender = request.source_protocol_addr;
    let target = request.target_protocol_addr;
    // Gratuitous ARP (sender == target) announces, it does not ask — unless it is a
    // probe from 0.0.0.0 (RFC 5227 §2.1.1), which asks about `target`.
    let gratuitous = sender == target && sender != Ipv4Addr::UNSPECIFIED;
    if gratuitous || target == v4.addr {
        return Reply::Silent(DropReason::ArpIgnored);
    }
    if out.len() < REPLY_LEN {
        return Reply::Silent(DropReason::TxBufferTooSmall);
    }
    let eth = ethernet::Repr {
        src: config.our_mac,
        dst: request.source_hardware_addr,
        ethertype: EtherType::Arp,
    };
    let reply = arp::Repr {
        operation: Operation::Reply,
        source_hardware_addr: config.our_mac,
        source_protocol_addr: target,
        target_hardware_addr: request.source_hardware_addr,
        target_protocol_addr: sender,
    };
    let mut frame = ethernet::Frame::new_unchecked(&mut out[..REPLY_LEN]);
    eth.emit(&mut frame);
    reply.emit(&mut arp::Packet::new_unchecked(frame.payload_mut()));
    Reply::Frame(REPLY_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Ipv4Config, Mode};
    use crate::wire::ethernet::MacAddr;

    const GUEST_MAC: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const GUEST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    fn config() -> Config {
        let mut c = Config::new(Mode::Passt);
        c.ipv4 = Some(Ipv4Config {
            addr: GUEST,
            prefix_len: 24,
            gateway: Ipv4Addr::new(198, 51, 100, 1),
        });
        c
    }

    fn request(target: Ipv4Addr, sender: Ipv4Addr) -> arp::Repr {
        arp::Repr {
            operation: Operation::Request,
            source_hardware_addr: GUEST_MAC,
            source_protocol_addr: sender,
            target_hardware_addr: MacAddr([0; 6]),
            target_protocol_addr: target,
        }
    }

    #[test]
    fn answers_any_target_with_our_mac() {
        let mut out = [0u8; 64];
        let target = Ipv4Addr::new(203, 0, 113, 7);
        let Reply::Frame(len) = respond(&config(), &request(target, GUEST), &mut out) else {
            panic!("expected a reply");
        };
        assert_eq!(len, 42);
        let frame = ethernet::Frame::new_checked(&out[..len]).unwrap();
        assert_eq!(frame.dst_addr(), GUEST_MAC);
        assert_eq!(frame.src_addr(), MacAddr::PASST_DEFAULT);
        let reply = arp::Repr::parse(&arp::Packet::new_checked(frame.payload()).unwrap()).unwrap();
        assert_eq!(reply.operation, Operation::Reply);
        assert_eq!(reply.source_hardware_addr, MacAddr::PASST_DEFAULT);
        assert_eq!(reply.source_protocol_addr, target);
        assert_eq!(reply.target_hardware_addr, GUEST_MAC);
        assert_eq!(reply.target_protocol_addr, GUEST);
    }

    #[test]
    fn ignores_own_address_gratuitous_and_replies() {
        let mut out = [0u8; 64];
        let c = config();
        let ignored = Reply::Silent(DropReason::ArpIgnored);
        assert_eq!(
            respond(&c, &request(GUEST, Ipv4Addr::UNSPECIFIED), &mut out),
            ignored
        );
        assert_eq!(respond(&c, &request(GUEST, GUEST), &mut out), ignored);
        let mut reply = request(Ipv4Addr::new(198, 51, 100, 1), GUEST);
        reply.operation = Operation::Reply;
        assert_eq!(respond(&c, &reply, &mut out), ignored);
    }

    #[test]
    fn probe_from_unspecified_for_other_address_is_answered() {
        let mut out = [0u8; 64];
        let target = Ipv4Addr::new(198, 51, 100, 9);
        let r = respond(&config(), &request(target, Ipv4Addr::UNSPECIFIED), &mut out);
        assert_eq!(r, Reply::Frame(REPLY_LEN));
    }

    #[test]
    fn short_buffer_refused() {
        let mut out = [0u8; 41];
        let r = respond(
            &config(),
            &request(Ipv4Addr::new(1, 2, 3, 4), GUEST),
            &mut out,
        );
        assert_eq!(r, Reply::Silent(DropReason::TxBufferTooSmall));
    }
}
