//! Reading listening TCP ports from `/proc/net/tcp` and `/proc/net/tcp6` (proc(5)), for
//! `auto` forwarding. The files describe the network namespace they were opened in, so
//! they are opened once (inside the namespace where needed) and re-read every scan.

use passt_core::fwd::PortSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// `st` value of a listening TCP socket (`TCP_LISTEN` in the kernel's tcp_states.h).
const TCP_LISTEN: u8 = 0x0a;

/// Add the local ports of listening sockets in one `/proc/net/tcp{,6}` text to `out`.
pub fn parse_listening(text: &str, out: &mut PortSet) {
    for line in text.lines().skip(1) {
        let mut fields = line.split_whitespace();
        let (Some(_sl), Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some((_, port)) = local.rsplit_once(':') else {
            continue;
        };
        let (Ok(port), Ok(state)) = (u16::from_str_radix(port, 16), u8::from_str_radix(state, 16))
        else {
            continue;
        };
        if state == TCP_LISTEN && port != 0 {
            out.insert(port);
        }
    }
}

/// Open `/proc/net/tcp` and `/proc/net/tcp6` files of one namespace, re-read on demand.
pub struct ListeningPorts {
    files: Vec<File>,
    buf: Vec<u8>,
}

impl ListeningPorts {
    /// Watch these already-open files (missing families are simply absent).
    pub fn new(files: Vec<File>) -> ListeningPorts {
        ListeningPorts {
            files,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    /// The listening ports right now.
    pub fn scan(&mut self, out: &mut PortSet) -> io::Result<()> {
        *out = PortSet::new();
        for f in &mut self.files {
            // Plain seek + read into a reused buffer: std's read_to_string would also
            // stat the file, a call the sandbox does not allow.
            f.seek(SeekFrom::Start(0))?;
            self.buf.clear();
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match f.read(&mut chunk)? {
                    0 => break,
                    n => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
            parse_listening(&String::from_utf8_lossy(&self.buf), out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_only() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0\n\
   1: 020064C6:9C40 010071CB:0007 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 20 4 30 10 -1\n\
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0\n";
        let mut s = PortSet::new();
        parse_listening(text, &mut s);
        assert_eq!(s.iter().collect::<Vec<_>>(), [22, 8080]);
        let v6 = "  sl  local_address                         remote_address                        st\n\
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 0\n";
        parse_listening(v6, &mut s);
        assert!(s.contains(8081));
        parse_listening("garbage\nmore garbage here x\n", &mut s);
    }

    #[test]
    fn scan_reads_this_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let files = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|p| File::open(p).ok())
            .collect();
        let mut ports = ListeningPorts::new(files);
        let mut s = PortSet::new();
        ports.scan(&mut s).unwrap();
        assert!(s.contains(port));
        drop(l);
        ports.scan(&mut s).unwrap();
        assert!(!s.contains(port), "re-read, not cached");
    }
}
