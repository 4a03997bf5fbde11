//! Reading listening TCP ports from `/proc/net/tcp` and `/proc/net/tcp6`, and bound
//! UDP ports from `/proc/net/udp` and `/proc/net/udp6` (proc(5)), for `auto`
//! forwarding. The files describe the network namespace they were opened in, so they
//! are opened once (inside the namespace where needed) and re-read every scan. TCP
//! listeners come from a sock_diag dump instead where the kernel offers one
//! ([`crate::netlink::sock_diag`]: reading `/proc/net/tcp` walks every connection).

use crate::netlink::sock_diag::TcpListeners;
use passt_core::fwd::PortSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// `st` value of a listening TCP socket (`TCP_LISTEN` in the kernel's tcp_states.h).
const TCP_LISTEN: u8 = 0x0a;
/// `st` value of a bound, unconnected UDP socket (`TCP_CLOSE`; a connected one shows
/// `TCP_ESTABLISHED`, passt-reference §8.4).
const UDP_UNCONNECTED: u8 = 0x07;

/// Which kind of `/proc/net` table a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `/proc/net/tcp{,6}`: listening sockets count.
    Tcp,
    /// `/proc/net/udp{,6}`: bound, unconnected sockets count (servers).
    Udp,
}

impl Table {
    fn wanted_state(self) -> u8 {
        match self {
            Table::Tcp => TCP_LISTEN,
            Table::Udp => UDP_UNCONNECTED,
        }
    }
}

/// Add the local ports of the sockets `table` counts in one file's text to `out`.
pub fn parse_listening(text: &str, table: Table, out: &mut PortSet) {
    text.lines()
        .skip(1)
        .for_each(|line| parse_line(line, table, out));
}

/// One socket line: `sl local_address rem_address st …`.
fn parse_line(line: &str, table: Table, out: &mut PortSet) {
    let mut fields = line.split_whitespace();
    let (Some(_sl), Some(local), Some(_remote), Some(state)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    let Some((_, port)) = local.rsplit_once(':') else {
        return;
    };
    let (Ok(port), Ok(state)) = (u16::from_str_radix(port, 16), u8::from_str_radix(state, 16))
    else {
        return;
    };
    if state == table.wanted_state() && port != 0 {
        out.insert(port);
    }
}

/// Read buffer: the files can list thousands of sockets, so they are streamed through
/// this fixed buffer (growing it would allocate inside the sandboxed event loop).
const BUFFER: usize = 64 * 1024;

/// Open `/proc/net` files (and a sock_diag socket) of one namespace, re-read on
/// demand.
pub struct ListeningPorts {
    files: Vec<(File, Table)>,
    tcp: Option<TcpListeners>,
    buf: Box<[u8]>,
}

impl ListeningPorts {
    /// Watch these already-open files (missing families are simply absent), and ask
    /// `tcp` for the listening TCP sockets if given (then `files` should hold no TCP
    /// table).
    pub fn new(files: Vec<(File, Table)>, tcp: Option<TcpListeners>) -> ListeningPorts {
        ListeningPorts {
            files,
            tcp,
            buf: vec![0u8; BUFFER].into_boxed_slice(),
        }
    }

    /// The listening ports right now.
    pub fn scan(&mut self, out: &mut PortSet) -> io::Result<()> {
        *out = PortSet::new();
        if let Some(tcp) = &mut self.tcp {
            tcp.scan(out)?;
        }
        for (f, table) in &mut self.files {
            let table = *table;
            f.seek(SeekFrom::Start(0))?;
            let mut carry = 0; // bytes of an unfinished line at the start of buf
            let mut header = true;
            loop {
                let n = f.read(&mut self.buf[carry..])?;
                let filled = carry + n;
                let complete = match self.buf[..filled].iter().rposition(|b| *b == b'\n') {
                    Some(nl) => nl + 1,
                    // No newline in a full buffer: a line longer than any real one; drop it.
                    None if filled == self.buf.len() => filled,
                    None if n == 0 => filled,
                    None => 0,
                };
                for line in self.buf[..complete].split(|b| *b == b'\n') {
                    if header {
                        header = false;
                        continue;
                    }
                    if let Ok(text) = std::str::from_utf8(line) {
                        parse_line(text, table, out);
                    }
                }
                self.buf.copy_within(complete..filled, 0);
                carry = filled - complete;
                if n == 0 {
                    break;
                }
            }
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
        parse_listening(text, Table::Tcp, &mut s);
        assert_eq!(s.iter().collect::<Vec<_>>(), [22, 8080]);
        let v6 = "  sl  local_address                         remote_address                        st\n\
   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 0\n";
        parse_listening(v6, Table::Tcp, &mut s);
        assert!(s.contains(8081));
        parse_listening("garbage\nmore garbage here x\n", Table::Tcp, &mut s);
    }

    #[test]
    fn tables_larger_than_the_buffer_are_read_whole() {
        let mut text = String::from("  sl  local_address rem_address   st\n");
        for i in 0..3000 {
            // Established connections (state 01), then one listener on the last line.
            text.push_str(&format!("{i:5}: 020064C6:{:04X} 010071CB:0007 01 00000000:00000000 00:00000000 00000000  1000 0 1\n", 10000 + i));
        }
        text.push_str(" 3000: 00000000:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 1\n");
        assert!(text.len() > 3 * BUFFER);
        let path = std::env::temp_dir().join(format!("procnet-{}", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let mut ports = ListeningPorts::new(vec![(File::open(&path).unwrap(), Table::Tcp)], None);
        let mut s = PortSet::new();
        ports.scan(&mut s).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), [8888]);
    }

    #[test]
    fn scan_reads_this_namespace() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let files = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|p| File::open(p).ok())
            .map(|f| (f, Table::Tcp))
            .collect();
        let mut ports = ListeningPorts::new(files, None);
        let mut s = PortSet::new();
        ports.scan(&mut s).unwrap();
        assert!(s.contains(port));
        drop(l);
        ports.scan(&mut s).unwrap();
        assert!(!s.contains(port), "re-read, not cached");
    }

    #[test]
    fn udp_servers_count_and_connected_sockets_do_not() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  100: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 1 2 0 0\n\
  101: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000  1000        0 2 2 0 0\n";
        let mut s = PortSet::new();
        parse_listening(text, Table::Udp, &mut s);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [5353],
            "the connected one is a client"
        );
        let mut t = PortSet::new();
        parse_listening(text, Table::Tcp, &mut t);
        assert!(t.is_empty(), "07 is not LISTEN");
    }

    #[test]
    fn scan_finds_a_udp_server_of_this_namespace() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(server.local_addr().unwrap()).unwrap();
        let files = [
            ("/proc/net/udp", Table::Udp),
            ("/proc/net/udp6", Table::Udp),
        ]
        .iter()
        .filter_map(|(p, t)| File::open(p).ok().map(|f| (f, *t)))
        .collect();
        let mut ports = ListeningPorts::new(files, None);
        let mut s = PortSet::new();
        ports.scan(&mut s).unwrap();
        assert!(s.contains(port));
        assert!(!s.contains(client.local_addr().unwrap().port()));
    }
}
