//! `-p/--pcap FILE`: every frame on the guest link, both directions, in the classic
//! libpcap savefile format that `tcpdump -r` and `tshark -r` read: a 24-byte file
//! header (magic `a1b2c3d4`, version 2.4, snaplen 65535, `LINKTYPE_ETHERNET`), then
//! per frame a 16-byte record header (CLOCK_REALTIME seconds and microseconds,
//! captured and original length) and the frame's bytes.
//!
//! [`Tapped`] wraps the guest link ([`GuestLink`] + [`GuestSource`]): frames received
//! from the guest are captured once read, frames sent to it once written, and with
//! `--trace` each gets a one-line summary in the log.

use crate::event_loop::{GuestSource, Received};
use crate::host::GuestLink;
use crate::log::Level;
use passt_core::io::TxOffload;
use std::fs::File;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::BorrowedFd;
use std::path::Path;

/// The savefile magic for microsecond timestamps, written in our byte order.
pub const MAGIC: u32 = 0xa1b2_c3d4;
/// Longest frame part captured.
pub const SNAPLEN: u32 = 65_535;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// An open capture file.
#[derive(Debug)]
pub struct PcapWriter {
    file: File,
    /// One record (header and frame) is assembled here and written at once.
    buf: Vec<u8>,
    /// Records that could not be written.
    pub errors: u64,
}

impl PcapWriter {
    /// Create (or empty a file of ours at) `path`, mode 0600, a symbolic link there
    /// refused ([`crate::owner_only::create_file`]), and write the file header.
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        let mut file = crate::owner_only::create_file(path, false)?;
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC.to_ne_bytes());
        h.extend_from_slice(&2u16.to_ne_bytes()); // version major
        h.extend_from_slice(&4u16.to_ne_bytes()); // version minor
        h.extend_from_slice(&0i32.to_ne_bytes()); // thiszone: UTC
        h.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        h.extend_from_slice(&SNAPLEN.to_ne_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        file.write_all(&h)?;
        Ok(PcapWriter {
            file,
            buf: Vec::with_capacity(16 + SNAPLEN as usize),
            errors: 0,
        })
    }

    /// Record `frame`, stamped with the wall clock now.
    pub fn record(&mut self, frame: &[u8]) {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        self.record_at(frame, t.tv_sec as u32, (t.tv_nsec / 1000) as u32);
    }

    /// Record `frame` with this timestamp.
    pub fn record_at(&mut self, frame: &[u8], sec: u32, usec: u32) {
        let caplen = frame.len().min(SNAPLEN as usize);
        self.buf.clear();
        self.buf.extend_from_slice(&sec.to_ne_bytes());
        self.buf.extend_from_slice(&usec.to_ne_bytes());
        self.buf.extend_from_slice(&(caplen as u32).to_ne_bytes());
        self.buf
            .extend_from_slice(&(frame.len() as u32).to_ne_bytes());
        self.buf.extend_from_slice(&frame[..caplen]);
        if self.file.write_all(&self.buf).is_err() {
            self.errors += 1;
            crate::log_ratelimit!(Level::Warning, "Failed to write a frame to the pcap file");
        }
    }
}

/// The guest link with capture (`--pcap`) and per-frame trace lines (`--trace`).
#[derive(Debug)]
pub struct Tapped<G> {
    inner: G,
    pcap: Option<PcapWriter>,
}

impl<G> Tapped<G> {
    /// Wrap `inner`; capture to `pcap` if given.
    pub fn new(inner: G, pcap: Option<PcapWriter>) -> Tapped<G> {
        Tapped { inner, pcap }
    }

    /// The link itself.
    pub fn inner(&self) -> &G {
        &self.inner
    }

    /// The link itself, mutably.
    pub fn inner_mut(&mut self) -> &mut G {
        &mut self.inner
    }

    fn observe(&mut self, dir: &str, frame: &[u8]) {
        if let Some(p) = &mut self.pcap {
            p.record(frame);
        }
        if crate::log::enabled(Level::Trace) {
            crate::log_trace!("tap {dir}: {}", summary(frame));
        }
    }
}

impl<G: GuestLink> GuestLink for Tapped<G> {
    fn send_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let r = self.inner.send_frame(frame);
        self.sent(frame, &r);
        r
    }

    fn send_offload(&mut self, frame: &[u8], offload: &TxOffload) -> io::Result<()> {
        // Captured as written (a super-frame stays one frame, as tcpdump shows it on
        // a device with segmentation offload), without the link's own header.
        let r = self.inner.send_offload(frame, offload);
        self.sent(frame, &r);
        r
    }

    fn peek_to_guest(
        &mut self,
        fd: BorrowedFd<'_>,
        len: usize,
        headroom: usize,
    ) -> io::Result<usize> {
        self.inner.peek_to_guest(fd, len, headroom)
    }

    fn commit_to_guest(&mut self, headers: &[u8], offload: &TxOffload) -> io::Result<()> {
        // Never captured: with a capture or trace lines, the engine is told not to
        // peek past us ([`GuestSource::negotiated_offload`]).
        self.inner.commit_to_guest(headers, offload)
    }
}

impl<G> Tapped<G> {
    fn sent(&mut self, frame: &[u8], r: &io::Result<()>) {
        match r {
            Ok(()) => self.observe("out", frame),
            Err(e) => crate::log_ratelimit!(
                Level::Debug,
                "Dropped a {}-byte frame to the guest: {e}",
                frame.len()
            ),
        }
    }
}

impl<G: GuestSource> GuestSource for Tapped<G> {
    fn recv_frame(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.recv_frame(buf)?;
        if n > 0 {
            self.observe("in", &buf[..n]);
        }
        Ok(n)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let r = self.inner.recv(buf)?;
        if r.len > 0 {
            self.observe("in", &buf[r.start..r.start + r.len]);
        }
        Ok(r)
    }

    fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.poll_fd()
    }

    fn frames_pending(&self) -> bool {
        self.inner.frames_pending()
    }

    fn after_batch(&mut self) {
        self.inner.after_batch();
    }

    fn negotiated_offload(&self) -> Option<passt_core::config::Offload> {
        // Frames peeked straight into the link never pass here whole: capture and
        // trace need them to.
        let observed = self.pcap.is_some() || crate::log::enabled(Level::Trace);
        self.inner
            .negotiated_offload()
            .map(|o| passt_core::config::Offload {
                direct_peek: o.direct_peek && !observed,
                ..o
            })
    }
}

/// A one-line description of an Ethernet frame for trace logs, e.g.
/// `74 bytes IPv4 TCP 198.51.100.2:40000 > 203.0.113.1:7 [S]`. Reads only what is
/// there: a short or odd frame gets a shorter description, never a panic.
pub fn summary(frame: &[u8]) -> String {
    let len = frame.len();
    let Some(ethertype) = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        return format!("{len} bytes (truncated Ethernet header)");
    };
    let l3 = &frame[14..];
    let (family, proto, src, dst, l4) = match ethertype {
        0x0800 if l3.len() >= 20 => {
            let ihl = usize::from(l3[0] & 0x0f) * 4;
            let src = Ipv4Addr::from([l3[12], l3[13], l3[14], l3[15]]);
            let dst = Ipv4Addr::from([l3[16], l3[17], l3[18], l3[19]]);
            let l4 = l3.get(ihl..).unwrap_or(&[]);
            ("IPv4", l3[9], src.to_string(), dst.to_string(), l4)
        }
        0x86dd if l3.len() >= 40 => {
            let addr = |o: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(&l3[o..o + 16]);
                Ipv6Addr::from(a).to_string()
            };
            ("IPv6", l3[6], addr(8), addr(24), &l3[40..])
        }
        0x0806 => return format!("{len} bytes ARP"),
        t => return format!("{len} bytes ethertype {t:#06x}"),
    };
    let port = |o: usize| l4.get(o..o + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match (proto, port(0), port(2)) {
        (6, Some(sp), Some(dp)) => {
            let flags = l4.get(13).copied().unwrap_or(0);
            let names: String = [
                (0x02, 'S'),
                (0x10, '.'),
                (0x01, 'F'),
                (0x04, 'R'),
                (0x08, 'P'),
            ]
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, c)| *c)
            .collect();
            format!("{len} bytes {family} TCP {src}:{sp} > {dst}:{dp} [{names}]")
        }
        (17, Some(sp), Some(dp)) => format!("{len} bytes {family} UDP {src}:{sp} > {dst}:{dp}"),
        (1, ..) | (58, ..) => format!("{len} bytes {family} ICMP {src} > {dst}"),
        (p, ..) => format!("{len} bytes {family} protocol {p} {src} > {dst}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_ne_bytes(b[o..o + 4].try_into().unwrap())
    }

    /// A TCP SYN from 198.51.100.2:40000 to 203.0.113.1:7.
    fn syn() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12] = 0x08;
        f[14] = 0x45;
        f[14 + 9] = 6;
        f[14 + 12..14 + 16].copy_from_slice(&[198, 51, 100, 2]);
        f[14 + 16..14 + 20].copy_from_slice(&[203, 0, 113, 1]);
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&7u16.to_be_bytes());
        f[34 + 12] = 0x50;
        f[34 + 13] = 0x02;
        f
    }

    #[test]
    fn file_header_and_records_follow_the_savefile_format() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("passt-pcap-{}.pcap", std::process::id()));
        let mut w = PcapWriter::create(&path).unwrap();
        w.record_at(&syn(), 1_700_000_000, 123_456);
        let big = vec![0xabu8; 70_000];
        w.record_at(&big, 1_700_000_001, 7);
        drop(w);
        let b = std::fs::read(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let _ = std::fs::remove_file(&path);
        assert_eq!(mode, 0o600);
        assert_eq!(u32_at(&b, 0), 0xa1b2_c3d4);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 2);
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), 4);
        assert_eq!(u32_at(&b, 16), 65_535, "snaplen");
        assert_eq!(u32_at(&b, 20), 1, "LINKTYPE_ETHERNET");
        let r = 24;
        assert_eq!(u32_at(&b, r), 1_700_000_000);
        assert_eq!(u32_at(&b, r + 4), 123_456);
        assert_eq!(u32_at(&b, r + 8), 54);
        assert_eq!(u32_at(&b, r + 12), 54);
        assert_eq!(&b[r + 16..r + 16 + 54], &syn()[..]);
        let r = r + 16 + 54;
        assert_eq!(
            u32_at(&b, r + 8),
            65_535,
            "captured length capped at snaplen"
        );
        assert_eq!(u32_at(&b, r + 12), 70_000, "original length kept");
        assert_eq!(b.len(), r + 16 + 65_535);
    }

    #[test]
    fn summary_names_addresses_ports_and_flags_and_survives_junk() {
        assert_eq!(
            summary(&syn()),
            "54 bytes IPv4 TCP 198.51.100.2:40000 > 203.0.113.1:7 [S]"
        );
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(summary(&arp), "42 bytes ARP");
        for n in 0..60 {
            let _ = summary(&syn()[..n.min(54)]);
            let mut v6 = vec![0u8; n];
            if n > 13 {
                v6[12] = 0x86;
                v6[13] = 0xdd;
            }
            let _ = summary(&v6);
        }
        assert_eq!(summary(&[1, 2]), "2 bytes (truncated Ethernet header)");
    }
}
