//! Sealed-lab helpers shared by the integration tests.
//!
//! Every lab is a network namespace created with `ip netns add` under a
//! unique name (`h4-<pid>-<tag>-<n>`), holding only documentation addresses,
//! and deleted by a Drop guard, also when the test panics.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use passt_shim_linux::NetnsHandle;

/// Bound for any external command a test runs.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether skips must become failures (`PASST_LAB_REQUIRED=1`, set by CI).
pub fn lab_required() -> bool {
    std::env::var_os("PASST_LAB_REQUIRED").is_some_and(|v| v == "1")
}

/// Reports a skip, or fails the test when labs are required.
pub fn skip(why: &str) {
    if lab_required() {
        panic!("PASST_LAB_REQUIRED=1 but: {why}");
    }
    eprintln!("skipped: {why}");
}

/// True if the lab can run (we are root); otherwise reports the skip.
pub fn have_root() -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        skip("needs root to create network namespaces");
        false
    }
}

/// Output of a finished command.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with a time bound, capturing its output; kills it on timeout.
pub fn run(cmd: &mut Command) -> Out {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + CMD_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {CMD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut stderr);
    }
    Out {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Runs `ip ARGS`, panicking with its stderr if it fails; returns stdout.
pub fn ip(args: &[&str]) -> String {
    let out = run(Command::new("ip").args(args));
    assert_eq!(
        out.code,
        Some(0),
        "ip {}: {}",
        args.join(" "),
        out.stderr.trim()
    );
    out.stdout
}

/// `ip netns add/del` mount /run/netns on first use; serialise them.
static NETNS_LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A named network namespace, deleted on drop.
pub struct Lab {
    name: String,
}

impl Lab {
    /// Creates `h4-<pid>-<tag>-<n>` with `lo` down and nothing else.
    pub fn new(tag: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("h4-{}-{tag}-{n}", std::process::id());
        let _g = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        ip(&["netns", "add", &name]);
        Lab { name }
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens the namespace by name, as `--netns NAME` would.
    pub fn netns(&self) -> NetnsHandle {
        NetnsHandle::open(&self.name).expect("open lab netns")
    }

    /// Runs `ip -n <lab> ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Runs `ip -j -n <lab> ARGS` and parses the JSON.
    pub fn ip_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-j"];
        all.extend_from_slice(args);
        let text = self.ip(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip -j {args:?}: {e}: {text}"))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _g = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let out = run(Command::new("ip").args(["netns", "del", &self.name]));
        if out.code != Some(0) {
            eprintln!("warning: ip netns del {}: {}", self.name, out.stderr.trim());
        }
    }
}
