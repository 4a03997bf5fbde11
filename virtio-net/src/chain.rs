//! Descriptor chains checked as a net device uses them: a transmit chain read whole
//! into a buffer, a receive chain's buffers listed for writing. `virtio-queue`'s walker
//! follows `next` links and indirect tables (bounded by the queue or table size) and
//! stops silently on anything it cannot follow; these checks turn that into errors:
//! a chain that stops on a descriptor still flagged `NEXT` looped, pointed past its
//! table, or had an unreadable table — the driver is broken or hostile.

use virtio_queue::desc::split::Descriptor;
use virtio_queue::DescriptorChain;
use vm_memory::{Address, Bytes, GuestAddress, GuestMemory, Permissions};

/// Why a descriptor chain was refused (virtio 1.2 §2.7.5, §2.7.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// The walk ended on a descriptor flagged `NEXT`: a loop, a `next` index past the
    /// table, a chain longer than the queue, or an unusable indirect table.
    Malformed {
        /// The chain's head index.
        head: u16,
    },
    /// A buffer outside guest memory.
    OutsideMemory {
        /// The chain's head index.
        head: u16,
        /// The buffer's guest address.
        addr: u64,
        /// Its length.
        len: u32,
    },
    /// A device-writable buffer on the transmit queue, or a device-readable one on
    /// the receive queue.
    WrongDirection {
        /// The chain's head index.
        head: u16,
    },
    /// No bytes at all, or fewer than a header.
    TooShort {
        /// The chain's head index.
        head: u16,
        /// Bytes it holds.
        len: usize,
    },
    /// More bytes than the largest frame.
    TooLong {
        /// The chain's head index.
        head: u16,
    },
}

impl core::fmt::Display for ChainError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ChainError::Malformed { head } => write!(
                f,
                "descriptor chain {head} loops, runs past its table or is longer than the queue"
            ),
            ChainError::OutsideMemory { head, addr, len } => write!(
                f,
                "descriptor chain {head}: buffer {addr:#x}+{len} is outside guest memory"
            ),
            ChainError::WrongDirection { head } => write!(
                f,
                "descriptor chain {head}: buffer of the wrong direction for its queue"
            ),
            ChainError::TooShort { head, len } => {
                write!(f, "descriptor chain {head}: {len} bytes, too short")
            }
            ChainError::TooLong { head } => {
                write!(f, "descriptor chain {head}: longer than the largest frame")
            }
        }
    }
}

/// Read a transmit chain's bytes (all device-readable) into `buf`; how many.
pub fn read_all<M: GuestMemory>(
    mem: &M,
    chain: DescriptorChain<&M>,
    buf: &mut [u8],
) -> Result<usize, ChainError> {
    let head = chain.head_index();
    let mut total = 0usize;
    let mut open = true; // no descriptor seen yet, or the last one said NEXT
    for desc in chain {
        if desc.is_write_only() {
            return Err(ChainError::WrongDirection { head });
        }
        let len = desc.len() as usize;
        let Some(dst) = buf.get_mut(total..total + len) else {
            return Err(ChainError::TooLong { head });
        };
        mem.read_slice(dst, desc.addr())
            .map_err(|_| outside(head, &desc))?;
        total += len;
        open = desc.has_next();
    }
    if open {
        return Err(ChainError::Malformed { head });
    }
    Ok(total)
}

fn outside(head: u16, desc: &Descriptor) -> ChainError {
    ChainError::OutsideMemory {
        head,
        addr: desc.addr().raw_value(),
        len: desc.len(),
    }
}

/// Append a receive chain's buffers (all device-writable, all in guest memory) to
/// `out` as (guest address, length); their total length.
pub fn writable_buffers<M: GuestMemory>(
    mem: &M,
    chain: DescriptorChain<&M>,
    out: &mut Vec<(GuestAddress, u32)>,
) -> Result<usize, ChainError> {
    let head = chain.head_index();
    let mut total = 0usize;
    let mut open = true;
    for desc in chain {
        if !desc.is_write_only() {
            return Err(ChainError::WrongDirection { head });
        }
        if !mem.check_range(desc.addr(), desc.len() as usize, Permissions::Write) {
            return Err(outside(head, &desc));
        }
        total += desc.len() as usize;
        out.push((desc.addr(), desc.len()));
        open = desc.has_next();
    }
    if open {
        return Err(ChainError::Malformed { head });
    }
    Ok(total)
}
