//! A minimal reader for classic libpcap files (not pcapng), for tests only.
//!
//! Format (see the `pcap-savefile(5)` man page): a 24-byte global header
//! (magic, version 2.4, thiszone, sigfigs, snaplen, linktype) followed by records of a
//! 16-byte header (ts_sec, ts_usec/ts_nsec, incl_len, orig_len) and `incl_len` bytes.
//! Every field is in the writer's byte order, which the magic reveals: the bytes
//! `a1 b2 c3 d4` mean big-endian, `d4 c3 b2 a1` (what x86 tcpdump writes) mean
//! little-endian; `a1b23c4d` is the same in nanosecond-timestamp files.

use std::fmt;

/// LINKTYPE_ETHERNET: every record is an Ethernet II frame without FCS.
pub const LINKTYPE_ETHERNET: u32 = 1;

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Why a byte string is not a usable capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the global header.
    NoHeader,
    /// Neither byte order of a known magic number.
    BadMagic(u32),
    /// Not LINKTYPE_ETHERNET.
    LinkType(u32),
    /// Record `index` runs past the end of the file.
    Truncated { index: usize },
    /// Record `index` was cut by the snapshot length: `incl_len < orig_len`.
    Snapped { index: usize, incl: u32, orig: u32 },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for PcapError {}

/// Split a classic pcap capture into its Ethernet frames, in capture order.
///
/// Refuses anything that is not a complete Ethernet capture: other link types, and
/// records cut short by the snapshot length (a fixture must hold whole frames).
pub fn frames(file: &[u8]) -> Result<Vec<Vec<u8>>, PcapError> {
    let header = file.get(..GLOBAL_HEADER_LEN).ok_or(PcapError::NoHeader)?;
    let raw_magic = [header[0], header[1], header[2], header[3]];
    // Which decoding of the first word yields a known magic picks the byte order.
    let be = match u32::from_be_bytes(raw_magic) {
        MAGIC_USEC | MAGIC_NSEC => true,
        _ => match u32::from_le_bytes(raw_magic) {
            MAGIC_USEC | MAGIC_NSEC => false,
            _ => return Err(PcapError::BadMagic(u32::from_be_bytes(raw_magic))),
        },
    };
    let word = |b: &[u8], at: usize| {
        let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if be {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let linktype = word(header, 20);
    if linktype != LINKTYPE_ETHERNET {
        return Err(PcapError::LinkType(linktype));
    }

    let mut out = Vec::new();
    let mut rest = &file[GLOBAL_HEADER_LEN..];
    while !rest.is_empty() {
        let index = out.len();
        let rec = rest
            .get(..RECORD_HEADER_LEN)
            .ok_or(PcapError::Truncated { index })?;
        let incl = word(rec, 8);
        let orig = word(rec, 12);
        if incl < orig {
            return Err(PcapError::Snapped { index, incl, orig });
        }
        let end = usize::try_from(incl)
            .ok()
            .and_then(|n| n.checked_add(RECORD_HEADER_LEN))
            .ok_or(PcapError::Truncated { index })?;
        let data = rest
            .get(RECORD_HEADER_LEN..end)
            .ok_or(PcapError::Truncated { index })?;
        out.push(data.to_vec());
        rest = &rest[end..];
    }
    Ok(out)
}
