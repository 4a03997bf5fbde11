//! `passt-tap-relay`: a stand-in for qemu in tests. It opens a tap device inside a
//! network namespace and relays its frames to passt's UNIX socket with qemu's stream
//! framing, so the namespace's own Linux network stack plays the virtual machine.
//!
//! ```text
//! passt-tap-relay --netns NAME|PATH [--tap tap0] --socket /tmp/passt_1.socket
//!                 [--faults seed=7,loss=10,dup=10,reorder=10,burst=50@4000]
//! ```
//! The tap is left down and unconfigured: the "guest" configures it itself (DHCP,
//! SLAAC, or by hand). The relay exits when passt closes the socket.
//!
//! `--faults` makes the link between the guest and passt a bad one
//! ([`passt_shim_linux::link_faults`]); what it did is printed at exit.

use passt_shim_linux::event_loop::GuestSource;
use passt_shim_linux::host::GuestLink;
use passt_shim_linux::link_faults::{FaultPlan, Faulty};
use passt_shim_linux::qemu::QemuStream;
use passt_shim_linux::{in_netns, NetnsHandle, Tap};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
use std::io;
use std::process::ExitCode;

/// Tap frames gathered before one write to passt's socket.
const TX_BATCH: usize = 256 * 1024;

fn usage() -> ExitCode {
    eprintln!(
        "usage: passt-tap-relay --netns NAME|PATH [--tap NAME] --socket PATH [--faults PLAN]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut netns = None;
    let mut tap_name = "tap0".to_string();
    let mut socket = None;
    let mut faults = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--netns" => netns = args.next(),
            "--tap" => tap_name = args.next().unwrap_or_default(),
            "--socket" => socket = args.next(),
            "--faults" => match args.next().map(|p| p.parse::<FaultPlan>()) {
                Some(Ok(plan)) => faults = Some(plan),
                Some(Err(e)) => {
                    eprintln!("passt-tap-relay: {e}");
                    return ExitCode::from(2);
                }
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let (Some(netns), Some(socket)) = (netns, socket) else {
        return usage();
    };
    match relay(&netns, &tap_name, &socket, faults) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passt-tap-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn relay(netns: &str, tap_name: &str, socket: &str, faults: Option<FaultPlan>) -> io::Result<()> {
    let ns = NetnsHandle::open(netns)?;
    let name = tap_name.to_string();
    let tap = in_netns(&ns, move || Tap::open_with(&name, false))??;
    let mut tap = Faulty::new(tap, faults);
    let result = relay_frames(&mut tap, socket);
    if let Some((to_guest, from_guest)) = tap.counts() {
        eprintln!(
            "passt-tap-relay: link faults: to the guest {to_guest}; from the guest {from_guest}"
        );
    }
    result
}

/// Move frames both ways until passt closes the socket.
fn relay_frames(tap: &mut Faulty<Tap>, socket: &str) -> io::Result<()> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::connect(&fd, &SocketAddrUnix::new(socket)?)?;
    rustix::io::ioctl_fionbio(&fd, true)?;
    let mut qemu = QemuStream::new(fd);
    let mut buf = vec![0u8; 65_536 + 256];
    loop {
        // While frames for passt are queued, stop reading the tap (backpressure, as
        // qemu does) but keep draining passt's side: passt may itself be waiting to
        // finish writing a frame to us.
        let (tap_ready, sock_in, sock_out) = {
            let tap_fd = tap.poll_fd().expect("tap is always attached");
            let sock_fd = qemu.poll_fd().expect("stream is always attached");
            let backlog = qemu.queued() > 0;
            let tap_events = if backlog {
                PollFlags::empty()
            } else {
                PollFlags::IN
            };
            let sock_events = if backlog {
                PollFlags::IN | PollFlags::OUT
            } else {
                PollFlags::IN
            };
            let mut fds = [
                PollFd::new(&tap_fd, tap_events),
                PollFd::new(&sock_fd, sock_events),
            ];
            // Frames the bad link kept back are ready without the tap.
            let timeout = tap.frames_pending().then_some(&rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            });
            poll(&mut fds, timeout)?;
            let sock = fds[1].revents();
            (
                fds[0].revents().contains(PollFlags::IN) || (!backlog && tap.frames_pending()),
                sock.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR),
                sock.contains(PollFlags::OUT),
            )
        };
        if sock_out {
            qemu.flush()?;
        }
        if tap_ready {
            while qemu.queued() < TX_BATCH {
                match tap.recv_frame(&mut buf) {
                    Ok(n) if n > 0 => qemu.queue_frame(&buf[..n])?,
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            qemu.flush()?;
        }
        if sock_in {
            loop {
                match qemu.recv_frame(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => {
                        // A full tap queue drops the frame, as a NIC would.
                        let _ = tap.send_frame(&buf[..n]);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        // Frames held back for reordering go now, at the latest.
        tap.after_batch();
    }
}
