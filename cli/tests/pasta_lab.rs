//! pasta end to end in the sealed lab: a command gets a working network.
//!
//! pasta runs in the lab's "host" namespace as the unprivileged user `nobody`; the
//! command it spawns talks to servers in the "remote" namespace.

mod lab;

use lab::{
    expect_success, netcheck_sh, output_within, pasta, pasta_sh, stdout, Lab, GATEWAY_V4,
    GATEWAY_V6, HOST_IFNAME, HOST_V4, HOST_V6, REMOTE_V4, REMOTE_V6,
};
use std::process::Command;
use std::time::Duration;

#[test]
fn config_net_copies_addresses_routes_mtu_and_brings_lo_up() {
    let Some(lab) = Lab::new() else { return };
    let out = pasta_sh(
        &lab,
        &[],
        "ip -j addr show; echo ===; ip -j route show; echo ===; ip -j -6 route show; echo ===; ip -j link show",
    );
    let text = expect_success(&out);
    let parts: Vec<&str> = text.split("===").collect();
    let addrs: serde_json::Value = serde_json::from_str(parts[0]).unwrap();
    let routes4: serde_json::Value = serde_json::from_str(parts[1]).unwrap();
    let routes6: serde_json::Value = serde_json::from_str(parts[2]).unwrap();
    let links: serde_json::Value = serde_json::from_str(parts[3]).unwrap();

    let tap = addrs
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ifname"] == HOST_IFNAME)
        .expect("tap named after the template");
    let locals: Vec<String> = tap["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    assert!(locals.contains(&format!("{HOST_V4}/24")), "{locals:?}");
    assert!(locals.contains(&format!("{HOST_V6}/64")), "{locals:?}");
    assert!(
        tap["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("tentative").is_none()),
        "no DAD: {tap}"
    );
    assert_eq!(tap["mtu"], 65520);
    let default4 = routes4
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst"] == "default")
        .expect("v4 default route");
    assert_eq!(default4["gateway"], GATEWAY_V4);
    let default6 = routes6
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst"] == "default")
        .expect("v6 default route");
    assert_eq!(default6["gateway"], GATEWAY_V6);
    let lo = links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ifname"] == "lo")
        .unwrap();
    assert!(
        lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "lo is up: {lo}"
    );
}

#[test]
fn exit_status_of_the_command_is_propagated() {
    let Some(lab) = Lab::new() else { return };
    assert_eq!(pasta_sh(&lab, &[], "exit 7").status.code(), Some(7));
    assert_eq!(pasta_sh(&lab, &[], "kill -9 $$").status.code(), Some(137));
}

#[test]
fn tcp_echo_to_remote_v4_and_v6() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("echo-server", REMOTE_V6, 7, &[]);
    let script = format!(
        "{} && echo && {}",
        netcheck_sh(&format!("echo {REMOTE_V4} 7 hello-v4")),
        netcheck_sh(&format!("echo {REMOTE_V6} 7 hello-v6"))
    );
    let out = expect_success(&pasta_sh(&lab, &[], &script));
    assert_eq!(out, "hello-v4\nhello-v6");
}

#[test]
fn bulk_64_mib_each_way_is_byte_exact() {
    bulk_each_way_is_byte_exact(&[], &[(REMOTE_V4, 64)]);
}

/// At MTU 1500 the namespace hands pasta's tap TSO super-frames with partial
/// checksums and takes super-frames back, which its kernel cuts at the MSS: every
/// byte must still arrive, over IPv4 and IPv6.
#[test]
fn bulk_each_way_at_mtu_1500_is_byte_exact() {
    bulk_each_way_is_byte_exact(&["-m", "1500"], &[(REMOTE_V4, 64), (REMOTE_V6, 16)]);
}

/// For each `(server, MiB)`: upload that many MiB to a sink on the remote and
/// download as many from a source there, through pasta with `opts`, and compare the
/// SHA-256 of what arrived with the expected one.
fn bulk_each_way_is_byte_exact(opts: &[&str], transfers: &[(&str, u32)]) {
    let Some(mut lab) = Lab::new() else { return };
    let mut script = Vec::new();
    let mut expected = Vec::new();
    for (i, (server, mib)) in transfers.iter().enumerate() {
        let (up_port, down_port) = (9000 + 2 * i as u16, 9001 + 2 * i as u16);
        for dir in ["up", "down"] {
            let sha = lab::expected_sha(dir, *mib);
            expected.push((format!("{dir} {mib} MiB via {server}"), sha));
        }
        let mib = mib.to_string();
        lab.remote_server("sink-server", server, up_port, &[]);
        lab.remote_server("source-server", server, down_port, &["down", &mib]);
        script.push(netcheck_sh(&format!("upload {server} {up_port} up {mib}")));
        script.push(netcheck_sh(&format!("download {server} {down_port}")));
    }
    let out = expect_success(&pasta_sh(&lab, opts, &script.join(" && ")));
    let mut lines = out.lines();
    for (what, sha) in expected {
        assert_eq!(lines.next().unwrap_or_default(), sha, "hash of {what}");
    }
}

#[test]
fn five_hundred_concurrent_connections_each_echo_their_own_payload() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    let out = expect_success(&pasta_sh(
        &lab,
        &[],
        &netcheck_sh(&format!("concurrent {REMOTE_V4} 7 500")),
    ));
    assert_eq!(out.trim(), "500 ok 0 bad");
}

#[test]
fn refused_port_is_reported_within_100_ms() {
    let Some(lab) = Lab::new() else { return };
    let out = expect_success(&pasta_sh(
        &lab,
        &[],
        &netcheck_sh(&format!("refused {REMOTE_V4} 9")),
    ));
    let ms: u64 = out
        .trim()
        .strip_prefix("refused ")
        .unwrap_or_else(|| panic!("not refused: {out}"))
        .parse()
        .unwrap();
    assert!(ms < 100, "RST took {ms} ms");
}

#[test]
fn half_close_still_receives_the_reply() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("halfclose-server", REMOTE_V4, 7001, &[]);
    let out = expect_success(&pasta_sh(
        &lab,
        &[],
        &netcheck_sh(&format!("halfclose {REMOTE_V4} 7001")),
    ));
    assert_eq!(out, "got 1000");
}

#[test]
fn gateway_address_reaches_host_loopback() {
    let Some(mut lab) = Lab::new() else { return };
    lab.host_server("echo-server", "127.0.0.1", 8000);
    let out = expect_success(&pasta_sh(
        &lab,
        &[],
        &netcheck_sh(&format!("echo {GATEWAY_V4} 8000 via-gateway")),
    ));
    assert_eq!(out, "via-gateway");
}

#[test]
fn forwarded_ports_reach_a_server_in_the_namespace() {
    let Some(lab) = Lab::new() else { return };
    // The namespace runs an echo server on 9084; pasta forwards host port 8084 to it.
    // Clients: the host namespace's loopback and the remote namespace, v4 and v6.
    let ready = lab.dir.join("ready-ns");
    let script = format!(
        "READY_FILE={} timeout 30 {} & sleep 10",
        ready.display(),
        netcheck_sh("echo-server :: 9084")
    );
    let mut pasta_child = lab::pasta_with_ns_server(&lab, &["-t", "8084:9084"], &script, &ready);
    for (addr, name) in [("127.0.0.1", "lo4"), ("::1", "lo6")] {
        let mut c = lab.in_host("/usr/bin/python3");
        c.arg(lab::netcheck()).args(["echo", addr, "8084", name]);
        lab::expect_output(c, name);
    }
    for (addr, name) in [(HOST_V4, "remote4"), (HOST_V6, "remote6")] {
        let mut c = lab.in_remote("/usr/bin/python3");
        c.arg(lab::netcheck()).args(["echo", addr, "8084", name]);
        lab::expect_output(c, name);
    }
    let _ = pasta_child.kill();
    let _ = pasta_child.wait();
}

#[test]
fn outbound_forward_reaches_a_host_loopback_server() {
    let Some(mut lab) = Lab::new() else { return };
    lab.host_server("echo-server", "127.0.0.1", 5213);
    lab.host_server("echo-server", "::1", 5214);
    let script = format!(
        "{} && echo && {}",
        netcheck_sh("echo 127.0.0.1 5213 dash-T-v4"),
        netcheck_sh("echo ::1 5214 dash-T-v6")
    );
    let out = expect_success(&pasta_sh(&lab, &["-T", "5213,5214"], &script));
    assert_eq!(out, "dash-T-v4\ndash-T-v6");
}

#[test]
fn spliced_paths_carry_bulk_data_byte_exact() {
    let Some(mut lab) = Lab::new() else { return };
    // -T: namespace loopback → host loopback, 16 MiB each way.
    lab.host_server("sink-server", "127.0.0.1", 9100);
    lab.host_server_args("source-server", "127.0.0.1", 9101, &["down", "16"]);
    let script = format!(
        "{} && {}",
        netcheck_sh("upload 127.0.0.1 9100 up 16"),
        netcheck_sh("download 127.0.0.1 9101")
    );
    let out = expect_success(&pasta_sh(&lab, &["-T", "9100,9101"], &script));
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), lab::expected_sha("up", 16));
    assert_eq!(lines.next().unwrap(), lab::expected_sha("down", 16));
}

/// Try `echo` to `port` on the host namespace's loopback until it answers or `limit`.
fn echo_until(lab: &Lab, port: u16, limit: Duration) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let mut c = lab.in_host("/usr/bin/python3");
        c.arg(lab::netcheck())
            .args(["echo", "127.0.0.1", &port.to_string(), "auto"]);
        let out = output_within(&mut c, Duration::from_secs(10));
        if stdout(&out) == "auto" {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn auto_forwarding_follows_servers_in_the_namespace() {
    let Some(lab) = Lab::new() else { return };
    lab::open_tun_device();
    // pasta's default is `-t auto`: a server the command starts 2 s in is forwarded,
    // and unforwarded once it exits (after 4 s).
    let script = format!(
        "sleep 2; timeout 4 {} ; sleep 6",
        netcheck_sh("echo-server 0.0.0.0 8090")
    );
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.args(["--config-net", "--", "sh", "-c", &script]);
    let started = std::time::Instant::now();
    let mut pasta_child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let reached = echo_until(&lab, 8090, Duration::from_secs(6));
    let at = reached.map(|_| started.elapsed());
    assert!(
        at.is_some(),
        "the namespace's server never became reachable from the host"
    );
    assert!(
        at.unwrap() < Duration::from_secs(5),
        "reachable only after {at:?}"
    );
    // The server exits 6 s in; within 3 s more its port is no longer forwarded.
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut closed = false;
    while std::time::Instant::now() < deadline {
        let mut c = lab.in_host("/usr/bin/python3");
        c.arg(lab::netcheck())
            .args(["refused", "127.0.0.1", "8090"]);
        if stdout(&output_within(&mut c, Duration::from_secs(5))).starts_with("refused") {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(closed, "port 8090 still forwarded after its server exited");
    let _ = pasta_child.kill();
    let _ = pasta_child.wait();
}

#[test]
fn event_loop_allocates_nothing_after_start_up() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("echo-server", REMOTE_V4, 7, &[]);
    lab.remote_server("echo-server", REMOTE_V6, 7, &[]);
    lab.remote_server("sink-server", REMOTE_V4, 9000, &[]);
    lab.remote_server("source-server", REMOTE_V4, 9001, &["down", "32"]);
    lab.host_server("echo-server", "127.0.0.1", 5213);
    let report = lab.dir.join("allocations");
    // A traffic mix over at least 10 s: TCP both ways and both families, bulk, many
    // connections, refusals, the spliced -T path, and `auto` scans every second while
    // a namespace server comes and goes.
    let script = format!(
        "start=$(date +%s); \
         {echo4} && {echo6} && {up} && {down} && {many} && {refused} && {spliced} && \
         (timeout 3 {server} &) && sleep 4 && \
         while [ $(( $(date +%s) - start )) -lt 11 ]; do {echo4} >/dev/null; sleep 0.5; done",
        echo4 = netcheck_sh(&format!("echo {REMOTE_V4} 7 x")),
        echo6 = netcheck_sh(&format!("echo {REMOTE_V6} 7 y")),
        up = netcheck_sh(&format!("upload {REMOTE_V4} 9000 up 32")),
        down = netcheck_sh(&format!("download {REMOTE_V4} 9001")),
        many = netcheck_sh(&format!("concurrent {REMOTE_V4} 7 200")),
        refused = netcheck_sh(&format!("refused {REMOTE_V4} 9")),
        spliced = netcheck_sh("echo 127.0.0.1 5213 z"),
        server = netcheck_sh("echo-server 0.0.0.0 8091"),
    );
    lab::open_tun_device();
    let mut cmd = lab.in_host_unprivileged(pasta());
    cmd.env("PASST_ALLOC_REPORT", &report);
    cmd.args(["-T", "5213", "--config-net", "--", "sh", "-c", &script]);
    cmd.current_dir(&lab.dir);
    let started = std::time::Instant::now();
    expect_success(&output_within(&mut cmd, Duration::from_secs(120)));
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the mix ran only {:?}",
        started.elapsed()
    );
    let text = std::fs::read_to_string(&report).expect("pasta wrote its allocation report");
    assert_eq!(text.trim(), "allocations_after_init 0");
}

#[test]
fn running_a_command_is_quiet_unless_asked() {
    let Some(lab) = Lab::new() else { return };
    let quiet = pasta_sh(&lab, &[], "true");
    assert!(quiet.status.success());
    assert_eq!(
        String::from_utf8_lossy(&quiet.stderr),
        "",
        "pasta shares the command's terminal"
    );
    let debug = pasta_sh(&lab, &["-d"], "true");
    assert!(!debug.stderr.is_empty(), "-d still reports");
}

/// With tap offloads on, `--pcap` still writes a capture tcpdump reads: every record
/// is an Ethernet frame (the virtio-net header stripped), and the TCP super-frames
/// both ways at MTU 1500 appear whole, longer than the MTU.
#[test]
fn pcap_at_mtu_1500_holds_plain_ethernet_frames_and_super_frames() {
    let Some(mut lab) = Lab::new() else { return };
    lab.remote_server("sink-server", REMOTE_V4, 9000, &[]);
    lab.remote_server("source-server", REMOTE_V4, 9001, &["down", "8"]);
    let pcap = lab.dir.join("offload.pcap");
    let pcap_arg = pcap.to_str().unwrap();
    let script = format!(
        "{} && {}",
        netcheck_sh(&format!("upload {REMOTE_V4} 9000 up 8")),
        netcheck_sh(&format!("download {REMOTE_V4} 9001"))
    );
    expect_success(&pasta_sh(
        &lab,
        &["-m", "1500", "--pcap", pcap_arg],
        &script,
    ));
    let dump = Command::new("tcpdump")
        .args(["-nn", "-e", "-r", pcap_arg])
        .output()
        .expect("tcpdump");
    assert!(dump.status.success(), "tcpdump: {}", stdout(&dump));
    let lines = stdout(&dump);
    let odd: Vec<&str> = lines
        .lines()
        .filter(|l| {
            !["ethertype IPv4", "ethertype IPv6", "ethertype ARP"]
                .iter()
                .any(|t| l.contains(t))
        })
        .collect();
    assert!(
        odd.is_empty(),
        "records that are not Ethernet frames: {odd:?}"
    );
    // "length N" after the ethertype is the IP packet's length.
    let longest = |dir: &str| {
        lines
            .lines()
            .filter(|l| l.contains(dir) && l.contains("ethertype IPv4"))
            .filter_map(|l| {
                let (_, rest) = l.split_once("ethertype IPv4 (0x0800), length ")?;
                rest.split(':').next()?.parse::<usize>().ok()
            })
            .max()
            .unwrap_or(0)
    };
    let up = longest(&format!("> {REMOTE_V4}.9000:"));
    let down = longest(&format!("{REMOTE_V4}.9001 >"));
    assert!(
        up > 1514,
        "no super-frame from the namespace (longest {up})"
    );
    assert!(
        down > 1514,
        "no super-frame to the namespace (longest {down})"
    );
}
