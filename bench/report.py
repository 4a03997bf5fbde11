#!/usr/bin/env python3
"""Result parsing and the table for bench/run.

  iperf FILE                 print "<Gbit/s> <bytes>" from iperf3 -J output (receiver side);
                             fail when the run moved nothing or reported an error
  hyperfine FILE             print the mean run time in milliseconds from --export-json
  table RESULTS TARGET...    print the Markdown tables and the issue-7 target checks
  moved RESULTS TARGET       fail unless every bulk run through TARGET moved data

RESULTS is bench/run's TSV: workload, target, value, unit, cpu_s, bytes, rss_kib.
"""
import json
import sys

NAMES = {
    "direct": "direct (kernel)",
    "ours": "our pasta",
    "system": "system pasta",
    "slirp": "slirp4netns",
    "stream": "our passt, stream socket",
    "vhost": "our passt, vhost-user",
}


def iperf(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"iperf3 output unreadable: {e}")
    if "error" in data:
        sys.exit(f"iperf3: {data['error']}")
    received = data.get("end", {}).get("sum_received", {})
    bits, moved = received.get("bits_per_second", 0), received.get("bytes", 0)
    if not moved:
        sys.exit("iperf3 moved no data")
    print(f"{bits / 1e9:.3f} {moved}")


def hyperfine(path):
    with open(path) as f:
        data = json.load(f)
    print(f"{data['results'][0]['mean'] * 1000:.1f}")


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 7:
                continue
            workload, target, value, unit, cpu, moved, rss = fields[:7]
            p50, p99, runs = (fields[7:10] + ["", "", ""])[:3]
            rows[(workload, target)] = {
                "value": None if value == "n/a" else float(value),
                "unit": unit,
                "cpu": float(cpu) if cpu else None,
                "bytes": int(moved) if moved else None,
                "rss": int(rss) if rss else 0,
                # µs per transaction (request/response rows), median over the runs
                "p50": float(p50) if p50 else None,
                "p99": float(p99) if p99 else None,
                # every repeat's value
                "runs": [float(v) for v in runs.split(",") if v],
            }
    return rows


def is_bulk(workload):
    """Whether a workload is a bulk transfer (with bytes and CPU time)."""
    return workload.startswith(("tcp-", "splice-", "fwd-", "udp-upload", "udp-download"))


def label(workload):
    """A row title from a workload key such as tcp-upload-v4-65520."""
    parts = workload.split("-")
    if parts[0] == "tcp" and parts[1] in ("upload", "download"):
        way = "ns → remote" if parts[1] == "upload" else "remote → ns"
        return f"TCP bulk {parts[1]} {parts[2]} ({way}), MTU {parts[3]}, Gbit/s"
    return {
        "rr-v4": "TCP RR (1-byte request/response), transactions/s",
        "crr-v4": "TCP CRR (connect, request/response, close), transactions/s",
        "udp-rr-v4": "UDP RR (1-byte request/response), transactions/s",
        "splice-in": "TCP spliced, host loopback → ns (`-t`), Gbit/s; direct: loopback to loopback",
        "splice-out": "TCP spliced, ns → host loopback (`-t`, iperf3 -R), Gbit/s; direct: loopback to loopback",
        "splice-udp-in": "UDP spliced, host loopback → ns (`-u`, 1472-byte datagrams), Gbit/s received; direct: loopback to loopback",
        "splice-udp-out": "UDP spliced, ns → host loopback (`-u`, iperf3 -R, 1472 B), Gbit/s received; direct: loopback to loopback",
        "fwd-in": "TCP forwarded port, remote → ns (`-t`), Gbit/s; direct: remote to the host",
        "fwd-out": "TCP forwarded port, ns → remote (`-t`, iperf3 -R), Gbit/s; direct: the host to remote",
        "fwd-udp-in": "UDP forwarded port, remote → ns (`-u`, 1472 B), Gbit/s received; direct: remote to the host",
        "fwd-udp-out": "UDP forwarded port, ns → remote (`-u`, iperf3 -R, 1472 B), Gbit/s received; direct: the host to remote",
        "udp-upload-v4": "UDP bulk upload v4 (ns → remote, 1472-byte datagrams), Gbit/s received",
        "udp-download-v4": "UDP bulk download v4 (remote → ns, 1472 B), Gbit/s received",
        "startup": "start-up, `pasta --config-net -- true`, ms",
    }.get(workload, workload)


def number(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def micros(us):
    """A transaction time in µs, as ms from 1 ms up."""
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def spread(rows, workloads, targets):
    """Min / median / max of every repeated measurement (the table shows the best)."""
    repeated = [w for w in workloads if any(len(rows.get((w, t), {}).get("runs", [])) > 1
                                            for t in targets)]
    if not repeated:
        return
    print()
    print("Every repeat, min / median / max (the table above shows the best run; p50 and")
    print("p99 are the median over the runs of each run's own percentile):")
    print()
    print("| workload | " + " | ".join(NAMES[t] for t in targets) + " |")
    print("|" + "|".join(["---"] + ["---:"] * len(targets)) + "|")
    for w in repeated:
        cells = [label(w)]
        for t in targets:
            runs = sorted(rows.get((w, t), {}).get("runs", []))
            if not runs:
                cells.append("—")
                continue
            mid = runs[(len(runs) - 1) // 2]
            cells.append(f"{number(runs[0])} / {number(mid)} / {number(runs[-1])}")
        print("| " + " | ".join(cells) + " |")


def ratio(rows, workload, target):
    """target / direct for one workload, or None."""
    mine = rows.get((workload, target), {}).get("value")
    base = rows.get((workload, "direct"), {}).get("value")
    if mine is None or not base:
        return None
    return mine / base


def row_order(workload):
    """Bulk rows first (biggest MTU first, v4 before v6, upload before download), then
    spliced, request/response and start-up rows."""
    kinds = {"tcp": 0, "splice": 1, "rr": 2, "crr": 3, "udp": 4, "startup": 5}
    parts = workload.split("-")
    if parts[0] == "tcp" and len(parts) == 4:
        return (0, -int(parts[3]), parts[2], parts[1] != "upload")
    return (kinds.get(parts[0], 9), 0, workload, workload == "splice-out")


def table(path, targets):
    rows = load(path)
    workloads = []
    for w, _ in rows:
        if w not in workloads:
            workloads.append(w)
    workloads.sort(key=row_order)
    head = ["workload"] + [NAMES[t] for t in targets]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(["---"] + ["---:"] * len(targets)) + "|")
    for w in workloads:
        cells = [label(w)]
        for t in targets:
            r = rows.get((w, t))
            if r is None:
                cells.append("—")
                continue
            cell = number(r["value"])
            q = ratio(rows, w, t)
            if t != "direct" and q is not None:
                cell += f" ({q:.2f}×)"
            if r["p99"] is not None:
                cell += f"; p50 {micros(r['p50'])}, p99 {micros(r['p99'])}"
            cells.append(cell)
        print("| " + " | ".join(cells) + " |")
    # Peak RSS of the translator over every run.
    cells = ["translator peak RSS (max over the runs), MiB"]
    for t in targets:
        rss = [r["rss"] for (w, tt), r in rows.items() if tt == t and r["rss"]]
        cells.append(f"{max(rss) / 1024:.1f}" if rss else "—")
    print("| " + " | ".join(cells) + " |")

    print()
    print("Translator CPU seconds per GB moved (user + system time of the translator process")
    print("during the bulk run, divided by the bytes iperf3 received):")
    print()
    cpu_targets = [t for t in targets if t != "direct"]
    print("| bulk workload | " + " | ".join(NAMES[t] for t in cpu_targets) + " |")
    print("|" + "|".join(["---"] + ["---:"] * len(cpu_targets)) + "|")
    for w in workloads:
        if not is_bulk(w):
            continue
        cells = [label(w).split(", Gbit/s")[0]]
        for t in cpu_targets:
            r = rows.get((w, t))
            if not r or r["cpu"] is None or not r["bytes"]:
                cells.append("n/a")
            else:
                cells.append(f"{r['cpu'] / (r['bytes'] / 1e9):.2f}")
        print("| " + " | ".join(cells) + " |")

    spread(rows, workloads, targets)
    checks(rows, workloads)


def checks(rows, workloads):
    """The issue-7 targets, each met / missed / not measured."""
    lines = []

    def check(name, got, want, better="higher"):
        if got is None or want is None:
            lines.append(f"- {name}: not measured")
            return
        ok = got >= want if better == "higher" else got <= want
        sign = "≥" if better == "higher" else "≤"
        lines.append(f"- {name}: {'met' if ok else 'MISSED'} ({got:.3f}, target {sign} {want:.2f})")

    bulk_top = [w for w in workloads if w.startswith("tcp-") and w.endswith("-65520")]
    bulk_1500 = [w for w in workloads if w.startswith("tcp-") and w.endswith("-1500")]
    for w in bulk_top:
        check(f"{w}: ≥ 0.5× direct", ratio(rows, w, "ours"), 0.5)
        mine = rows.get((w, "ours"), {}).get("value")
        slirp = rows.get((w, "slirp"), {}).get("value")
        if slirp is not None or w.split("-")[2] == "v4":
            check(f"{w}: ≥ 3× slirp4netns", mine / slirp if mine and slirp else None, 3.0)
    for w in bulk_1500:
        check(f"{w}: no cliff, ≥ 0.25× direct", ratio(rows, w, "ours"), 0.25)
    for w in ("splice-in", "splice-out"):
        if w in workloads:
            check(f"{w}: spliced ≥ 0.8× loopback to loopback", ratio(rows, w, "ours"), 0.8)
    check("TCP RR ≥ 0.7× direct", ratio(rows, "rr-v4", "ours"), 0.7)
    check("TCP CRR ≥ 0.8× direct", ratio(rows, "crr-v4", "ours"), 0.8)
    check("UDP RR ≥ 0.7× direct", ratio(rows, "udp-rr-v4", "ours"), 0.7)
    mine = rows.get(("startup", "ours"), {}).get("value")
    theirs = rows.get(("startup", "system"), {}).get("value")
    check("start-up no worse than the system pasta (ours / system)",
          mine / theirs if mine and theirs else None, 1.0, "lower")
    rss = {}
    for (w, t), r in rows.items():
        if r["rss"]:
            rss[t] = max(rss.get(t, 0), r["rss"])
    check("peak RSS no worse than the system pasta (ours / system)",
          rss["ours"] / rss["system"] if rss.get("ours") and rss.get("system") else None, 1.0, "lower")
    print()
    print("Issue 7 targets (ratios from this run):")
    print()
    print("\n".join(lines))
    vm_checks(rows, workloads)
    round_two_checks(rows, workloads)


def vm_checks(rows, workloads):
    """The issue-12 targets: vhost-user against the stream socket and pasta."""
    lines = []

    def versus(w, a, b):
        x = rows.get((w, a), {}).get("value")
        y = rows.get((w, b), {}).get("value")
        return x / y if x and y else None

    def check(name, got, want):
        if got is None:
            lines.append(f"- {name}: not measured")
        else:
            lines.append(f"- {name}: {'met' if got >= want else 'MISSED'} ({got:.2f}, target ≥ {want:.2f})")

    for w in workloads:
        if w.startswith("tcp-") and ("vhost" in {t for (ww, t) in rows if ww == w}):
            check(f"{w}: vhost-user ≥ 3× stream socket", versus(w, "vhost", "stream"), 3.0)
            check(f"{w}: vhost-user ≥ our pasta", versus(w, "vhost", "ours"), 1.0)
    for w in ("rr-v4", "crr-v4", "udp-rr-v4"):
        if (w, "vhost") in rows:
            if w == "rr-v4":
                check(f"{w}: vhost-user ≥ 1.5× stream socket", versus(w, "vhost", "stream"), 1.5)
            check(f"{w}: vhost-user ≥ our pasta", versus(w, "vhost", "ours"), 1.0)
    if lines:
        print()
        print("Issue 12 targets (ratios from this run):")
        print()
        print("\n".join(lines))


def round_two_checks(rows, workloads):
    """The issue-13 targets, on the median of the repeats (one noisy run does not
    decide), and whether our pasta is ahead of every other translator on each row."""
    lines = []

    def median(w, t):
        r = rows.get((w, t))
        if not r:
            return None
        runs = sorted(r["runs"]) or [r["value"]]
        return runs[len(runs) // 2]

    def median_ratio(w, t="ours", base="direct"):
        a, b = median(w, t), median(w, base)
        return a / b if a and b else None

    def check(name, got, want, better="higher"):
        if got is None:
            lines.append(f"- {name}: not measured")
            return
        ok = got >= want if better == "higher" else got <= want
        sign = "≥" if better == "higher" else "≤"
        lines.append(f"- {name}: {'met' if ok else 'MISSED'} ({got:.2f}, target {sign} {want:.2f})")

    for w in ("udp-upload-v4", "udp-download-v4"):
        check(f"{w}: ≥ 0.6× direct", median_ratio(w), 0.6)
    for w in ("splice-in", "splice-out"):
        check(f"{w}: ≥ 0.8× loopback to loopback", median_ratio(w), 0.8)
        check(f"{w}: ahead of the system pasta", median_ratio(w, "ours", "system"), 1.0)
    check("crr-v4: mean ≥ 0.8× direct", median_ratio("crr-v4"), 0.8)
    mine = rows.get(("crr-v4", "ours"), {}).get("p99")
    theirs = rows.get(("crr-v4", "system"), {}).get("p99")
    check("crr-v4: p99 no worse than the system pasta's (ours / system)",
          mine / theirs if mine and theirs else None, 1.0, "lower")
    for w, want in (("tcp-upload-v4-65520", 0.6), ("tcp-upload-v4-1500", 0.5),
                    ("tcp-download-v4-65520", 0.8), ("tcp-download-v4-1500", 0.8)):
        check(f"{w}: ≥ {want}× direct", median_ratio(w), want)
    behind = []
    for w in workloads:
        mine = median(w, "ours")
        if mine is None or w == "startup":
            continue
        for t in ("system", "slirp"):
            other = median(w, t)
            if other and other > mine:
                behind.append(f"{w} ({NAMES[t]}: {other:.3g} against {mine:.3g})")
    lines.append("- ahead of the system pasta and slirp4netns on every row (medians): "
                 + ("met" if not behind else "MISSED on " + "; ".join(behind)))
    print()
    print("Issue 13 targets (medians of the repeats, ratios from this run):")
    print()
    print("\n".join(lines))


def moved(path, target):
    rows = load(path)
    bulk = [r for (w, t), r in rows.items() if t == target and is_bulk(w)]
    if not bulk or not all(r["value"] for r in bulk):
        sys.exit(1)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    mode = argv[1]
    if mode == "iperf":
        iperf(argv[2])
    elif mode == "hyperfine":
        hyperfine(argv[2])
    elif mode == "table":
        table(argv[2], argv[3:])
    elif mode == "moved":
        moved(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
