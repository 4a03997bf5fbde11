//! A real virtual machine for passt: qemu boots the machine's own Debian kernel with a
//! tiny initramfs (busybox, the virtio-net modules and an `/init` script), and the
//! guest's network is passt's stream socket. Everything the guest does is printed on
//! its serial console, which the test reads.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The qemu binary the boot test needs.
pub const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// qemu booting `kernel` with `initramfs` (emulated, one vCPU, 256 MiB, serial
/// console on stdout, powering off ends it) in the lab's host namespace; the caller
/// adds the network device.
pub fn qemu(lab: &super::Lab, kernel: &Kernel, initramfs: &Path) -> std::process::Command {
    let mut qemu = lab.in_host(QEMU);
    qemu.args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-serial", "stdio", "-monitor", "none", "-no-reboot"])
        .args(["-m", "256", "-smp", "1"])
        // Emulated, not KVM: nested KVM is missing or broken on CI-like machines, and
        // this small guest boots in seconds anyway.
        .args(["-accel", "tcg"])
        .arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(initramfs)
        .args(["-append", "console=ttyS0 quiet panic=-1"]);
    qemu
}

/// Check what the VM of [`write_initramfs`] printed: it finished, took the lab's
/// lease with passt's MTU, and its echo came back. `context` goes with a failure.
pub fn assert_booted_and_reached_the_remote(console: &str, context: &str) {
    use super::{GATEWAY_V4, HOST_V4};
    assert!(
        console.contains("vm-done"),
        "the VM did not finish: {context}"
    );
    assert!(
        console.contains(&format!(
            "lease ip={HOST_V4} mask=24 router={GATEWAY_V4} mtu=65520"
        )),
        "{context}"
    );
    assert!(console.contains("vm-mtu: 65520"), "{context}");
    assert!(console.contains("vm-echo: hello-from-vm"), "{context}");
}

/// Kernel modules the guest needs for its network card (with their dependencies).
const MODULES: [&str; 2] = ["virtio_pci", "virtio_net"];

/// A bootable kernel: its image and the matching module tree.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `/boot/vmlinuz-VERSION`.
    pub image: PathBuf,
    /// `/lib/modules/VERSION`.
    pub modules: PathBuf,
}

/// The newest installed kernel with a module tree, qemu, and busybox; or why not.
pub fn find_vm_parts() -> Result<Kernel, String> {
    if !Path::new(QEMU).exists() {
        return Err(format!("{QEMU} is not installed (Debian: qemu-system-x86)"));
    }
    if !Path::new("/bin/busybox").exists() {
        return Err("/bin/busybox is not installed".into());
    }
    let mut versions: Vec<String> = std::fs::read_dir("/boot")
        .map_err(|e| format!("/boot: {e}"))?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            Path::new("/lib/modules")
                .join(&version)
                .join("modules.dep")
                .exists()
                .then_some(version)
        })
        .collect();
    versions.sort();
    let version = versions
        .pop()
        .ok_or("no kernel in /boot with modules (Debian: linux-image-cloud-amd64)")?;
    Ok(Kernel {
        image: PathBuf::from(format!("/boot/vmlinuz-{version}")),
        modules: PathBuf::from(format!("/lib/modules/{version}")),
    })
}

/// Module files (relative to the module tree) to load, dependencies first; modules
/// built into the kernel are simply absent from `modules.dep`.
fn module_load_order(tree: &Path) -> Vec<String> {
    let deps = std::fs::read_to_string(tree.join("modules.dep")).expect("modules.dep");
    let mut order: Vec<String> = Vec::new();
    for name in MODULES {
        let file = format!("/{name}.ko");
        let Some(line) = deps.lines().find(|l| {
            l.split_once(':')
                .is_some_and(|(m, _)| m.ends_with(&file) || m.ends_with(&format!("{file}.xz")))
        }) else {
            continue;
        };
        let (module, needs) = line.split_once(':').expect("checked");
        // modules.dep lists dependencies so that they load last to first.
        for m in needs.split_whitespace().rev().chain([module]) {
            if !order.iter().any(|o| o == m) {
                order.push(m.to_string());
            }
        }
    }
    order
}

/// The shared libraries `binary` loads (none for a static one), from ldd(1).
fn shared_libraries(binary: &Path) -> Vec<PathBuf> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .expect("ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// The guest's `/init`: load the network driver, take a DHCP lease from passt, talk
/// TCP to the echo server at `echo_to`, print what happened, power off.
fn init_script(modules: &[String], echo_to: &str) -> String {
    let insmod: String = modules
        .iter()
        .map(|m| {
            let file = Path::new(m).file_name().unwrap().to_string_lossy();
            format!("insmod /modules/{file}\n")
        })
        .collect();
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
{insmod}ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -f -q -n -t 5 -T 1 -O mtu -s /udhcpc.sh
echo "vm-echo: $(echo hello-from-vm | nc -w 3 {echo_to} 7)"
echo "vm-mtu: $(cat /sys/class/net/eth0/mtu)"
echo vm-done
poweroff -f
"#
    )
}

/// udhcpc's event script inside the VM: apply the lease and print it.
const VM_UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
bound|renew)
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    echo "lease ip=$ip mask=$mask router=$router mtu=$mtu"
    ;;
esac
"#;

/// Write an initramfs (an uncompressed "newc" cpio archive) for `kernel` to `path`.
pub fn write_initramfs(kernel: &Kernel, path: &Path, echo_to: &str) {
    let modules = module_load_order(&kernel.modules);
    let mut cpio = Cpio::default();
    for dir in [
        "bin", "proc", "sys", "dev", "modules", "lib", "lib64", "usr", "usr/lib",
    ] {
        cpio.dir(dir);
    }
    let busybox = Path::new("/bin/busybox");
    cpio.file(
        "bin/busybox",
        0o755,
        &std::fs::read(busybox).expect("busybox"),
    );
    for lib in shared_libraries(busybox) {
        let rel = lib.strip_prefix("/").expect("absolute").to_path_buf();
        let mut parent = PathBuf::new();
        for c in rel.parent().into_iter().flat_map(|p| p.components()) {
            parent.push(c);
            cpio.dir(parent.to_str().expect("utf-8"));
        }
        let data = std::fs::read(&lib).expect("library");
        cpio.file(rel.to_str().expect("utf-8"), 0o755, &data);
    }
    for m in &modules {
        let name = Path::new(m).file_name().unwrap().to_string_lossy();
        let data = std::fs::read(kernel.modules.join(m)).expect("module");
        cpio.file(&format!("modules/{name}"), 0o644, &data);
    }
    cpio.file("init", 0o755, init_script(&modules, echo_to).as_bytes());
    cpio.file("udhcpc.sh", 0o755, VM_UDHCPC_SCRIPT.as_bytes());
    let mut f = std::fs::File::create(path).expect("initramfs");
    f.write_all(&cpio.finish()).expect("write initramfs");
}

/// A "newc" cpio archive builder (the initramfs format, see the kernel's
/// Documentation/driver-api/early-userspace/buffer-format.rst).
#[derive(Default)]
struct Cpio {
    out: Vec<u8>,
    ino: u32,
    dirs: Vec<String>,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            1, // nlink
            0, // mtime
            u32::try_from(data.len()).expect("file under 4 GiB"),
            0,
            0,
            0,
            0,
            u32::try_from(name.len() + 1).expect("short name"),
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.out.len() % 4 != 0 {
            self.out.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        if !self.dirs.iter().any(|d| d == name) {
            self.dirs.push(name.to_string());
            self.entry(name, 0o040_755, &[]);
        }
    }

    fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, 0o100_000 | perm, data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.out
    }
}
