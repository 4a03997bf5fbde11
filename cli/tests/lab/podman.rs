//! pasta started the way podman starts it (callers.md §1.1): podman's argv, run in the
//! lab's host namespace against a namespace made with `ip netns add`, waited for as Go's
//! `CombinedOutput` waits; and the checks podman's tests make on the result.

use super::{output_to_eof_within, pasta, pid_with_arg, wait_exit, Lab};
use std::process::{Command, Output};
use std::time::Duration;

/// podman's `createPastaArgs` (callers.md §1.1) for these user options: `--config-net`,
/// the user's options, then each default the user didn't override.
pub fn podman_args(user: &[&str], netns: &str) -> Vec<String> {
    let has = |names: &[&str]| user.iter().any(|o| names.contains(o));
    let mut a = vec!["--config-net".to_string()];
    a.extend(user.iter().map(|s| s.to_string()));
    a.extend(["--dns-forward", "169.254.1.1"].map(String::from));
    for (short, long) in [
        ("-t", "--tcp-ports"),
        ("-u", "--udp-ports"),
        ("-T", "--tcp-ns"),
        ("-U", "--udp-ns"),
    ] {
        if !has(&[short, long]) {
            a.extend([short, "none"].map(String::from));
        }
    }
    a.push("--no-map-gw".into());
    if !has(&["-d", "--debug", "--trace"]) {
        a.push("--quiet".into());
    }
    a.extend(["--netns".to_string(), format!("/run/netns/{netns}")]);
    a.extend(["--map-guest-addr", "169.254.1.2"].map(String::from));
    a
}

/// Run pasta with `args` in the lab's host namespace, as podman does: wait for the
/// exit and for EOF on both pipes.
///
/// The lab runs pasta as root (the namespaces under `/run/netns` are root's), where
/// pasta, as passt does, warns on stderr that it will switch to `nobody`; podman only
/// ever runs pasta rootless (podman#17840), so that one line is taken out of stderr.
pub fn start(lab: &Lab, args: &[String]) -> Output {
    let mut cmd = lab.in_host(pasta().to_str().unwrap());
    cmd.args(args);
    let mut out = output_to_eof_within(&mut cmd, Duration::from_secs(20));
    const ROOT_WARNING: &[u8] = b"Started as root, will change to nobody.\n";
    if out.stderr.starts_with(ROOT_WARNING) {
        out.stderr.drain(..ROOT_WARNING.len());
    }
    out
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn expect_ready(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// The daemonised pasta serving `netns` (given as `--netns PATH`, or `--netns=PATH`).
pub fn daemon_pid(netns: &str) -> i32 {
    let path = format!("/run/netns/{netns}");
    pid_with_arg(pasta(), &path)
        .or_else(|| pid_with_arg(pasta(), &format!("--netns={path}")))
        .expect("pasta is running in the background")
}

/// `ip -j ARGS` inside `netns`, parsed.
pub fn ip_json(netns: &str, args: &str) -> serde_json::Value {
    let out = Command::new("ip")
        .args(["-n", netns, "-j"])
        .args(args.split_whitespace())
        .output()
        .unwrap();
    assert!(out.status.success(), "ip {args}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `ADDR/PREFIX` of every address on `ifname` in `netns`, and its MTU.
pub fn addresses(netns: &str, ifname: &str) -> (Vec<String>, u64) {
    let addrs = ip_json(netns, "addr show");
    let link = addrs
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ifname"] == ifname)
        .unwrap_or_else(|| panic!("no {ifname} in {addrs}"));
    let list = link["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    (list, link["mtu"].as_u64().unwrap())
}

/// The default gateway of `family` (`-4`/`-6`) in `netns`.
pub fn default_gateway(netns: &str, family: &str) -> String {
    let routes = ip_json(netns, &format!("{family} route show"));
    routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst"] == "default")
        .and_then(|r| r["gateway"].as_str())
        .unwrap_or_else(|| panic!("no default route in {routes}"))
        .to_string()
}

/// Delete `netns` and return how long pasta (`pid`) took to exit.
pub fn delete_and_time_exit(netns: &str, pid: i32) -> Duration {
    let out = Command::new("ip")
        .args(["netns", "del", netns])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_exit(pid, Duration::from_secs(5)).expect("pasta still running 5 s after ip netns del")
}
