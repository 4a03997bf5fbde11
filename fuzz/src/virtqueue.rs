//! The virtio-net device against a hostile driver: guest memory (two regions with a
//! hole between) patched by the fuzzer — descriptor tables, available rings, buffers
//! — then frames taken from the transmit ring and given to the receive ring. Every
//! malformed chain or ring must come out as an error; none may panic, loop forever,
//! or touch memory outside the guest's.
//!
//! Input: `[features][queue size][ops…]`, each op a tag byte and its operands:
//! - `0 off_hi off_lo len bytes…`: write `bytes` at guest address `off` (region 0)
//! - `1 off_hi off_lo len bytes…`: the same in region 1
//! - `2`: take every frame the transmit ring has (at most 64)
//! - `3 len_hi len_lo flags`: send a frame of that length to the guest, with an
//!   offload header when `flags & 1`
//! - `4`: ask for a receive kick and take both interrupts

use passt_core::io::TxOffload;
use passt_virtio_net::driver::QueueLayout;
use passt_virtio_net::{Negotiated, VirtioNet, MAX_FRAME, OFFERED};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Region 0: rings and buffers; region 1 above a hole.
const REGION0: (u64, usize) = (0, 0x1_0000);
const REGION1: (u64, usize) = (0x10_0000, 0x1_0000);
const RX_RING: u64 = 0;
const TX_RING: u64 = 0x4000;

/// How far a run got (for tests checking that seeds reach what they aim at).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingsOutcome {
    /// Frames taken from the transmit ring.
    pub frames_from_guest: usize,
    /// Frames given to the guest.
    pub frames_to_guest: usize,
    /// The run ended on a broken chain or ring (the front end would be dropped).
    pub refused: bool,
}

/// Run the device over the fuzzer's guest memory and operations.
pub fn virtqueue_rings(data: &[u8]) -> RingsOutcome {
    let mut out = RingsOutcome::default();
    let [features, size, ops @ ..] = data else {
        return out;
    };
    // Each bit of the first byte refuses one of the optional features offered.
    let version_1 = 1u64 << 32;
    let optional = (0..64)
        .map(|b| 1u64 << b)
        .filter(|&b| OFFERED & b != 0 && b != version_1);
    let refused: u64 = optional
        .take(8)
        .enumerate()
        .filter(|(i, _)| features & (1 << i) != 0)
        .map(|(_, b)| b)
        .sum();
    let Ok(features) = Negotiated::new(OFFERED & !refused) else {
        return out;
    };
    let size = 1u16 << (size % 6 + 1); // 2..64 entries
    let Ok(mem) = GuestMemoryMmap::<()>::from_ranges(&[
        (GuestAddress(REGION0.0), REGION0.1),
        (GuestAddress(REGION1.0), REGION1.1),
    ]) else {
        return out;
    };
    let queue = |base| {
        QueueLayout::at(base, size)
            .0
            .device_queue(passt_virtio_net::MAX_QUEUE_SIZE, features.event_idx())
    };
    let (Ok(rx), Ok(tx)) = (queue(RX_RING), queue(TX_RING)) else {
        return out;
    };
    let mut device = VirtioNet::new(rx, tx, features);
    let mut buf = vec![0u8; MAX_FRAME + 12];
    let frame = vec![0x5au8; 70_000];
    let mut ops = ops;
    while let Some((&tag, rest)) = ops.split_first() {
        ops = rest;
        let healthy = match tag % 5 {
            0 | 1 => {
                let [hi, lo, len, rest @ ..] = ops else {
                    return out;
                };
                let n = usize::from(*len).min(rest.len());
                let base = if tag % 5 == 0 { REGION0.0 } else { REGION1.0 };
                let at = base + u64::from(u16::from_be_bytes([*hi, *lo]));
                // Writes past a region's end just fail: the fuzzer learns.
                let _ = mem.write_slice(&rest[..n], GuestAddress(at));
                ops = &rest[n..];
                true
            }
            2 => {
                let mut ok = true;
                for _ in 0..64 {
                    match device.next_from_guest(&mem, &mut buf) {
                        Ok(Some(f)) => {
                            assert_eq!(f.start, features.header_len());
                            assert!(f.len <= MAX_FRAME, "frame of {} bytes", f.len);
                            out.frames_from_guest += 1;
                        }
                        Ok(None) => break,
                        Err(_) => {
                            ok = false;
                            break;
                        }
                    }
                }
                ok
            }
            3 => {
                let [hi, lo, flags, rest @ ..] = ops else {
                    return out;
                };
                ops = rest;
                let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(frame.len());
                let offload = TxOffload {
                    l4_offset: 34,
                    header_len: 54,
                    mss: 1460,
                    ipv6: false,
                    checksum_partial: true,
                    udp: false,
                };
                let offload = (flags & 1 != 0).then_some(&offload);
                use passt_virtio_net::rx::RxError;
                match device.send(&mem, &frame[..len], offload) {
                    Ok(()) => {
                        out.frames_to_guest += 1;
                        true
                    }
                    Err(RxError::Chain(_) | RxError::Ring(_)) => false,
                    Err(_) => true,
                }
            }
            _ => {
                device.rx.ask_for_kick(&mem).is_ok()
                    && device.rx.take_interrupt(&mem).is_ok()
                    && device.tx.take_interrupt(&mem).is_ok()
            }
        };
        if !healthy {
            // The transport drops a front end whose rings are broken: so do we.
            out.refused = true;
            return out;
        }
    }
    out
}
