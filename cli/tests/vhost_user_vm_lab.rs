//! A real virtual machine on passt's vhost-user back end: qemu boots the machine's
//! Debian kernel with a busybox initramfs, its virtio-net device backed by
//! `passt --vhost-user` over shared memory, and the guest takes a DHCP lease and
//! talks TCP to the lab's remote.
//!
//! qemu 7.2 under TCG (what this machine kind has) crashes at the guest's DRIVER_OK
//! when a vhost-user virtio-net-pci device uses MSI-X: `virtio_pci_set_guest_notifiers`
//! registers the vector notifiers without irqfds, and `kvm_virtio_pci_irqfd_use`
//! dereferences the NULL `vector_irqfd` (whatever the back end; upstream passt too).
//! `vectors=0` gives the device legacy interrupts instead, which avoids that path.

mod lab;

use lab::guest::{passt_binary, wait_until};
use lab::{output_within, Lab, REMOTE_V4};
use std::fs::File;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn a_qemu_vm_on_vhost_user_boots_gets_a_lease_and_reaches_the_remote() {
    let kernel = match lab::vm::find_vm_parts() {
        Ok(k) => k,
        Err(why) => return lab::skip(&why),
    };
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let socket = lab.dir.join("passt.sock");
    let log = lab.dir.join("passt.log");
    let mut passt = lab.in_host_unprivileged(passt_binary());
    passt
        .args(["-f", "--vhost-user", "--one-off", "-s"])
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    let mut passt = passt.spawn().expect("passt");
    assert!(
        wait_until(Duration::from_secs(10), || socket.exists()),
        "passt did not listen"
    );
    let initramfs = lab.dir.join("initramfs.cpio");
    lab::vm::write_initramfs(&kernel, &initramfs, REMOTE_V4);
    let mut qemu = lab::vm::qemu(&lab, &kernel, &initramfs);
    qemu.args([
        "-object",
        "memory-backend-memfd,id=mem,size=256M,share=on",
        "-numa",
        "node,memdev=mem",
    ])
    .arg("-chardev")
    .arg(format!("socket,id=c0,path={}", socket.display()))
    .args(["-netdev", "vhost-user,id=n0,chardev=c0"])
    .args(["-device", "virtio-net-pci,netdev=n0,vectors=0"]);
    let out = output_within(&mut qemu, Duration::from_secs(120));
    let console = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let passt_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let context = format!(
        "console:\n{console}\nqemu stderr: {}\npasst log: {}",
        String::from_utf8_lossy(&out.stderr),
        passt_log()
    );
    lab::vm::assert_booted_and_reached_the_remote(&console, &context);
    let exited = wait_until(Duration::from_secs(10), || {
        passt.try_wait().ok().flatten().is_some()
    });
    let status = passt.try_wait().ok().flatten();
    let _ = passt.kill();
    let _ = passt.wait();
    assert!(
        exited && status.is_some_and(|s| s.success()),
        "passt --one-off after the VM powered off: {status:?}; {}",
        passt_log()
    );
}
