# Shared by bench/run and bench/profile (sourced, not run): tools, the sealed lab, the
# lab's servers, and per-process counters.
#
# The lab is DESIGN.md §7, built exactly like cli/tests/lab/mod.rs: a "host" and a
# "remote" namespace joined by a veth pair, documentation addresses only, every server
# in "remote", every translator in "host", all torn down on exit. Namespace names start
# with pbench- so they never collide with the tests' plh-/plr- ones.
#
#  [host ns] lab0 198.51.100.2/24 2001:db8:1::2/64 ──veth── 198.51.100.1 2001:db8:1::1 [remote ns]
#            default via 198.51.100.1 / 2001:db8:1::1        lo: 203.0.113.1 2001:db8:2::1
# shellcheck shell=bash disable=SC2034  # the constants are for the scripts sourcing this

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
NETCHECK="$ROOT/cli/tests/lab/netcheck.py"
OURS="$ROOT/target/release/pasta"
PASST="$ROOT/target/release/passt"
TAP_RELAY="$ROOT/target/release/passt-tap-relay"
VHOST_RELAY="$ROOT/target/release/passt-vhost-relay"
SYSTEM_PASTA=/usr/bin/pasta
PY=/usr/bin/python3

REMOTE_V4=203.0.113.1
REMOTE_V6=2001:db8:2::1
HOST_V4=198.51.100.2
HOST_V6=2001:db8:1::2
GATEWAY_V4=198.51.100.1
GATEWAY_V6=2001:db8:1::1
IPERF_PORT=5201
# iperf3 for UDP, bound to the remote's address: a wildcard server would answer UDP
# from the address routing picks (the veth's), which the client's connected socket
# ignores.
IPERF_UDP_PORT=5203
# Payload of the UDP bulk runs: a datagram that fits a 1500-byte link, the size where
# per-datagram costs (and batching them) show most.
UDP_LEN=1472
# The spliced path: a port pasta forwards from the host's loopback into the namespace.
SPLICE_PORT=5202
RR_PORT=7000
UDP_RR_PORT=7001
# Translators run as nobody, the way a rootless user runs them.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
# More pasta options for pasta_run.
PASTA_EXTRA=()
# Every background process is bounded by the longest a run can take.
SERVER_LIMIT=900

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}

need_root() {
    [[ $(id -u) == 0 ]] || die "needs root: the lab uses ip netns"
}

# need_pkgs PKG... : install missing Debian packages (a failure is only logged).
need_pkgs() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || log "could not install some of: ${missing[*]}"
}

build_ours() {
    log "building the release binaries"
    (cd "$ROOT" && cargo build --release -q -p passt-cli -p passt-shim-linux) ||
        die "cargo build --release failed"
}

# lab_up : create the namespaces ($H, $R; $S is reserved for slirp4netns's guest, $G
# for passt's) and
# $WORK, a scratch directory every user may write; cleanup runs on exit.
lab_up() {
    # pasta runs as nobody: /dev/net/tun must be usable by every user, as distributions
    # ship it (and as the lab tests set it).
    [[ -c /dev/net/tun ]] || die "no /dev/net/tun"
    chmod 0666 /dev/net/tun
    local id=$$
    H=pbench-h-$id
    R=pbench-r-$id
    S=pbench-s-$id
    G=pbench-g-$id
    WORK=$(mktemp -d /tmp/pbench-XXXXXX)
    chmod 1777 "$WORK"
    BG_PIDS=()
    trap lab_cleanup EXIT
    trap 'exit 130' INT TERM
    ip netns add "$H"
    ip netns add "$R"
    ip -n "$H" link add lab0 type veth peer name peer0 netns "$R"
    local cmd
    while read -r cmd; do
        # shellcheck disable=SC2086
        ip $cmd
    done <<EOF
-n $H link set lo up
-n $R link set lo up
-n $H addr add $HOST_V4/24 dev lab0
-n $H addr add $HOST_V6/64 dev lab0 nodad
-n $R addr add $GATEWAY_V4/24 dev peer0
-n $R addr add $GATEWAY_V6/64 dev peer0 nodad
-n $R addr add $REMOTE_V4/32 dev lo
-n $R addr add $REMOTE_V6/128 dev lo
-n $H link set lab0 up
-n $R link set peer0 up
-n $H route add default via $GATEWAY_V4
-n $H -6 route add default via $GATEWAY_V6
EOF
}

lab_cleanup() {
    local p ns
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    for ns in "$S" "$G" "$H" "$R"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [[ -n ${OUT:-} ]]; then
        if mkdir -p "$OUT"; then cp -r "$WORK"/. "$OUT"/ || true; fi
    fi
    rm -rf "$WORK"
}

# set_lab_mtu N : the veth's MTU on both ends.
set_lab_mtu() {
    ip -n "$H" link set lab0 mtu "$1"
    ip -n "$R" link set peer0 mtu "$1"
}

# start_bg CMD... : a background process, ended on exit.
start_bg() {
    "$@" </dev/null &
    BG_PIDS+=($!)
}

# start_servers : iperf3 (TCP, and UDP), the TCP RR/CRR server and the UDP RR server in "remote".
start_servers() {
    start_bg timeout "$SERVER_LIMIT" ip netns exec "$R" iperf3 -s -p "$IPERF_PORT" \
        >"$WORK/iperf3-server.log" 2>&1
    start_bg timeout "$SERVER_LIMIT" ip netns exec "$R" iperf3 -s -B "$REMOTE_V4" \
        -p "$IPERF_UDP_PORT" >"$WORK/iperf3-udp-server.log" 2>&1
    start_bg env READY_FILE="$WORK/ready-rr" timeout "$SERVER_LIMIT" \
        ip netns exec "$R" "$PY" "$NETCHECK" rr-server "$REMOTE_V4" "$RR_PORT"
    start_bg env READY_FILE="$WORK/ready-udp" timeout "$SERVER_LIMIT" \
        ip netns exec "$R" "$PY" "$NETCHECK" udp-rr-server "$REMOTE_V4" "$UDP_RR_PORT"
    local _
    for _ in $(seq 100); do
        [[ -e $WORK/ready-rr && -e $WORK/ready-udp ]] &&
            ip netns exec "$R" ss -Htln "sport = :$IPERF_PORT" | grep -q . &&
            ip netns exec "$R" ss -Htln "sport = :$IPERF_UDP_PORT" | grep -q . && return 0
        sleep 0.1
    done
    die "lab servers did not start"
}

# cpu_seconds PID : user + system time from /proc/PID/stat, in seconds.
cpu_seconds() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    awk -v u="${12}" -v s="${13}" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", (u + s) / t }'
}

# peak_rss_kib PID : VmHWM from /proc/PID/status.
peak_rss_kib() {
    awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

# pasta_run BIN MTU DIR LIMIT HOOK CMD... : run CMD under pasta BIN (as nobody, in the
# host namespace, --config-net, MTU, plus the options in the array PASTA_EXTRA). Once CMD has finished, and before pasta exits,
# HOOK runs with pasta's PID (so it can read pasta's counters); while CMD runs,
# $DIR/pid holds that PID. CMD's output goes to $DIR/out, $DIR/err. Returns CMD's exit
# status, 124 when it ran over LIMIT seconds.
pasta_run() {
    local bin=$1 mtu=$2 d=$3 limit=$4 hook=$5
    shift 5
    mkdir -p "$d" && chmod 1777 "$d"
    rm -f "$d/pid" "$d/done" "$d/release" "$d/rc"
    # The command reports completion, then waits (bounded) for the release. It is
    # expanded by the inner sh, hence the single quotes.
    # shellcheck disable=SC2016
    local script='"$@" >"$D/out" 2>"$D/err"; echo $? >"$D/rc"; : >"$D/done"
        n=0; while [ ! -e "$D/release" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done'
    timeout "$limit" ip netns exec "$H" "${NOBODY[@]}" env D="$d" \
        "$bin" -q -f -P "$d/pid" -m "$mtu" "${PASTA_EXTRA[@]}" --config-net -- \
        sh -c "$script" sh "$@" \
        >"$d/pasta.out" 2>"$d/pasta.err" &
    local tpid=$!
    while [[ ! -e $d/done ]] && kill -0 "$tpid" 2>/dev/null; do
        sleep 0.02
    done
    if [[ -e $d/done && -s $d/pid ]]; then
        "$hook" "$(cat "$d/pid")"
    fi
    : >"$d/release"
    wait "$tpid" || true
    [[ -e $d/rc ]] || return 124
    return "$(cat "$d/rc")"
}

# wait_for_file PATH SECONDS : true once PATH is non-empty.
wait_for_file() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        [[ -s $1 ]] && return 0
        sleep 0.02
    done
    return 1
}

# start_passt KIND MTU : our passt in "host" (as nobody, -m MTU, with --vhost-user for
# KIND vhost) serving a "VM": the namespace $G, whose tap the relay connects; the VM is
# configured as pasta --config-net would (the host's addresses, its gateway, MTU).
PASST_PID=""
RELAY_PID=""
start_passt() {
    local kind=$1 mtu=$2 relay=$TAP_RELAY flags=() sock=$WORK/passt-$1-$2.sock
    if [[ $kind == vhost ]]; then
        relay=$VHOST_RELAY
        flags=(--vhost-user)
    fi
    ip netns add "$G"
    ip -n "$G" link set lo up
    start_bg timeout "$SERVER_LIMIT" ip netns exec "$H" "${NOBODY[@]}" "$PASST" -f -q \
        -m "$mtu" -s "$sock" "${flags[@]}" >"$WORK/passt-$kind-$mtu.log" 2>&1
    local timeout_pid=$! _
    PASST_PID=""
    for _ in $(seq 100); do
        PASST_PID=$(pgrep -f -n -- "-s $sock" || true)
        [[ -S $sock && -n $PASST_PID ]] && break
        sleep 0.05
    done
    [[ -S $sock ]] || {
        log "passt ($kind) did not listen: $(cat "$WORK/passt-$kind-$mtu.log")"
        return 1
    }
    start_bg timeout "$SERVER_LIMIT" "$relay" --netns "$G" --tap tap0 --socket "$sock"
    RELAY_TIMEOUT_PID=$!
    for _ in $(seq 100); do
        ip -n "$G" link show tap0 >/dev/null 2>&1 && break
        sleep 0.05
    done
    RELAY_PID=$(pgrep -P "$RELAY_TIMEOUT_PID" || echo "$RELAY_TIMEOUT_PID")
    ip -n "$G" link set tap0 mtu "$mtu" up || return 1
    ip -n "$G" addr add "$HOST_V4/24" dev tap0
    ip -n "$G" addr add "$HOST_V6/64" dev tap0 nodad
    ip -n "$G" route add default via "$GATEWAY_V4"
    ip -n "$G" -6 route add default via "$GATEWAY_V6"
    PASST_TIMEOUT_PID=$timeout_pid
}

stop_passt() {
    kill "$RELAY_TIMEOUT_PID" "$PASST_TIMEOUT_PID" 2>/dev/null || true
    wait "$RELAY_TIMEOUT_PID" "$PASST_TIMEOUT_PID" 2>/dev/null || true
    ip netns del "$G" 2>/dev/null || true
    PASST_PID=""
}
