//! Descriptor chains checked as a net device uses them: a transmit chain read whole
//! into a buffer, a receive chain written progressively. `virtio-queue`'s walker
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

/// Writes into a receive chain's buffers (all device-writable), in order.
pub struct ChainWriter<'m, M: GuestMemory> {
    mem: &'m M,
    chain: DescriptorChain<&'m M>,
    head: u16,
    /// The current buffer: where the next byte goes, and room left in it.
    current: Option<(GuestAddress, u32)>,
    /// The chain's first buffer (where the header goes), once reached.
    first: Option<(GuestAddress, u32)>,
    written: u32,
    /// No descriptor taken yet, or the last one said NEXT.
    open: bool,
}

impl<'m, M: GuestMemory> ChainWriter<'m, M> {
    /// Start writing at the beginning of `chain`.
    pub fn new(mem: &'m M, chain: DescriptorChain<&'m M>) -> ChainWriter<'m, M> {
        ChainWriter {
            mem,
            head: chain.head_index(),
            chain,
            current: None,
            first: None,
            written: 0,
            open: true,
        }
    }

    /// The chain's head index (what goes into the used ring).
    pub fn head(&self) -> u16 {
        self.head
    }

    /// Bytes written so far.
    pub fn written(&self) -> u32 {
        self.written
    }

    /// The next buffer with room, or `None` at the end of the chain.
    fn buffer(&mut self) -> Result<Option<(GuestAddress, u32)>, ChainError> {
        loop {
            match self.current {
                Some((_, 0)) | None => {}
                Some(b) => return Ok(Some(b)),
            }
            if !self.open {
                return Ok(None);
            }
            let Some(desc) = self.chain.next() else {
                // Ended while the last descriptor still said NEXT (or on none at all).
                return Err(ChainError::Malformed { head: self.head });
            };
            if !desc.is_write_only() {
                return Err(ChainError::WrongDirection { head: self.head });
            }
            self.open = desc.has_next();
            // The whole buffer must be guest memory (checked once, before any write).
            if !self
                .mem
                .check_range(desc.addr(), desc.len() as usize, Permissions::Write)
            {
                return Err(outside(self.head, &desc));
            }
            let b = (desc.addr(), desc.len());
            self.first.get_or_insert(b);
            self.current = Some(b);
        }
    }

    /// Write as much of `data` as the chain holds; how much.
    pub fn write(&mut self, mut data: &[u8]) -> Result<usize, ChainError> {
        let mut done = 0;
        while !data.is_empty() {
            let Some((addr, room)) = self.buffer()? else {
                break;
            };
            let n = data.len().min(room as usize);
            self.mem
                .write_slice(&data[..n], addr)
                .map_err(|_| ChainError::OutsideMemory {
                    head: self.head,
                    addr: addr.raw_value(),
                    len: room,
                })?;
            let next = addr
                .checked_add(n as u64)
                .ok_or(ChainError::Malformed { head: self.head })?;
            self.current = Some((next, room - n as u32));
            self.written += n as u32;
            done += n;
            data = &data[n..];
        }
        Ok(done)
    }

    /// Overwrite `data` at the start of the chain's first buffer (the header, once the
    /// number of buffers a frame took is known). The first buffer must hold it.
    pub fn patch_start(&mut self, data: &[u8]) -> Result<(), ChainError> {
        match self.first {
            Some((addr, len)) if data.len() <= len as usize => self
                .mem
                .write_slice(data, addr)
                .map_err(|_| ChainError::OutsideMemory {
                    head: self.head,
                    addr: addr.raw_value(),
                    len,
                }),
            _ => Err(ChainError::TooShort {
                head: self.head,
                len: self.first.map_or(0, |(_, l)| l as usize),
            }),
        }
    }
}
