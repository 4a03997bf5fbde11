#!/usr/bin/env python3
"""Socket checks for the sealed-lab tests. Every mode is bounded in time.

Modes (addresses are whatever the caller passes; the tests only use lab addresses):
  echo-server HOST PORT            serve: echo each connection's bytes back (forever)
  sink-server HOST PORT            serve: read to EOF, reply "<bytes> <sha256>\n"
  halfclose-server HOST PORT       serve: read to EOF, then send "got <n>" and close
  source-server HOST PORT SEED MB  serve: send MB MiB of seeded bytes, then close
  echo HOST PORT TEXT              connect, send TEXT, half-close, print the reply
  upload HOST PORT SEED MB         send MB MiB of seeded bytes, print the server's reply
  download HOST PORT               read to EOF, print "<bytes> <sha256>"
  concurrent HOST PORT N           N parallel connections, each echoing its own payload
  refused HOST PORT                connect to a closed port, print the milliseconds to RST
  halfclose HOST PORT              send, shutdown(SHUT_WR), print the reply
  peer-server HOST PORT            serve: read to EOF, reply "<client address> <bytes read>"
  peer HOST PORT TEXT [SRC]        connect (from SRC if given), send TEXT, half-close,
                                   print the reply
  timed MODE ARGS...               run MODE, then print its wall-clock seconds on stderr
  udp-echo-server HOST PORT        serve: send each UDP datagram (even an empty one)
                                   back to its sender; exits after TIMEOUT s idle
  udp-echo HOST PORT TEXT          send TEXT in one datagram, print the reply
  udp-zero HOST PORT               send a zero-length datagram, print "zero ok" if a
                                   zero-length reply comes back
  udp-rr HOST PORT N               N request/response round trips (64-byte payloads),
                                   print "<N> rr <seconds> s <rate>/s <lost> lost"
  udp-rr-count HOST PORT N WAIT    N numbered request/response round trips, each request
                                   given WAIT s for its reply (late replies and extra
                                   copies are told apart by number); print "<answered>
                                   answered <unanswered> unanswered <extra> extra"
  udp-probe HOST PORT [WAIT]       one datagram on a connected socket; print "reply",
                                   "refused" (port unreachable) or "silent" (WAIT s, 0.5)
  rr-server HOST PORT              serve TCP_RR/TCP_CRR: one connection at a time, echo each
                                   request byte; after echoing "C" (a crr request) close first,
                                   so that TIME_WAIT stays on the server and the client's
                                   ephemeral ports never run out
  udp-rr-server HOST PORT          serve UDP_RR: echo each datagram to its sender (forever)
  rr HOST PORT SECONDS             TCP_RR: one connection, 1-byte request/response for SECONDS;
                                   print transactions per second
  crr HOST PORT SECONDS            TCP_CRR: connect, 1-byte request/response, close, repeated
                                   for SECONDS; print transactions per second
  udp-rr-rate HOST PORT SECONDS    UDP_RR: 1-byte datagram request/response for SECONDS (a
                                   request unanswered in 1 s is sent again); print transactions
                                   per second, or fail when nothing ever came back
  syn-flood IFACE SRC DST PORT N   send N TCP SYNs out of IFACE (AF_PACKET) from SRC (an
                                   address nobody answers for), source ports 10000.., to
                                   DST:PORT; print "sent <n>"
  reset-check HOST PORT            connect, send a byte, print how the connection ended:
                                   "reset", "refused", "eof", "data" or "timeout"
  dhcpv6-solicit IFACE             send a DHCPv6 SOLICIT (RFC 8415 §18.2.1) out of IFACE from
                                   its link-local address; print the address the ADVERTISE
                                   offers in its IA_NA, or fail after 5 s
  until-connects HOST PORT SECONDS try an echo connection every 0.25 s until one works;
                                   print "recovered <refusals> <seconds>" (fail after SECONDS)
  paused-download HOST PORT MIB PAUSE MARKER
                                   read MIB MiB, create MARKER, read nothing for PAUSE s
                                   (the window closes), then read to EOF; print
                                   "<bytes> <sha256>"
  paused-sink-server HOST PORT MIB PAUSE MARKER
                                   serve: like sink-server, but after MIB MiB create
                                   MARKER and read nothing for PAUSE s
  flood-on-eof-server HOST PORT MIB
                                   serve: read to EOF, then send MIB MiB (or until the
                                   peer goes away)
  deaf-halfclose HOST PORT SECONDS MARKER
                                   connect, send a line, shutdown(SHUT_WR), create
                                   MARKER, never read; close after SECONDS; print "closed"
  reset-server HOST PORT MIB send|recv
                                   serve: send (or read) MIB MiB, then close with
                                   SO_LINGER 0: a RST in the middle of the transfer
  transfer-end HOST PORT send|recv MIB
                                   send (or read) up to MIB MiB; print how it ended:
                                   "eof <bytes>", "reset <bytes>" or "done <bytes>"
  sha SEED MB                      print what a sink reports for MB MiB of SEED's bytes
  net-counters                     print this network namespace's non-zero IP, IPv6,
                                   ICMPv6 and TCP counters (/proc/net/snmp, netstat,
                                   snmp6), one per line
  (servers touch $READY_FILE once listening)
"""
import hashlib
import os
import socket
import struct
import sys
import threading
import time

# Every blocking socket call gives up after this long ($NETCHECK_TIMEOUT, for tests that
# stall a peer on purpose).
TIMEOUT = float(os.environ.get("NETCHECK_TIMEOUT", 60))


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def seeded_chunks(seed, mib):
    block = hashlib.sha256(seed.encode()).digest() * (65536 // 32)
    for i in range(mib * 16):
        yield hashlib.sha256(block[:32] + i.to_bytes(4, "big")).digest() * 2048


def listener(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(512)
    ready = os.environ.get("READY_FILE")
    if ready:
        open(ready, "w").close()
    return s


def serve(host, port, handler):
    s = listener(host, port)
    while True:
        c, _ = s.accept()
        c.settimeout(TIMEOUT)
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def h_echo(c):
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                return
            c.sendall(d)


def h_sink(c):
    with c:
        h, n = hashlib.sha256(), 0
        while True:
            d = c.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        c.sendall(f"{n} {h.hexdigest()}\n".encode())


def h_halfclose(c):
    with c:
        n = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(f"got {n}".encode())


def h_peer(c):
    with c:
        n = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        peer = c.getpeername()[0]
        if peer.startswith("::ffff:"):
            peer = peer[len("::ffff:"):]
        c.sendall(f"{peer} {n}".encode())


def udp_socket(host):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(UDP_WAIT)
    return s


UDP_WAIT = 2
UDP_TRIES = 3


def udp_ask(host, port, payload):
    """Send one datagram and return the reply; retry a few times (UDP may drop)."""
    with udp_socket(host) as s:
        for _ in range(UDP_TRIES):
            s.sendto(payload, (host, port))
            try:
                data, _ = s.recvfrom(65536)
                return data
            except socket.timeout:
                print("udp: no reply yet, retrying", file=sys.stderr)
                continue
    sys.exit(f"no UDP reply from {host} port {port}")


def udp_server_socket(host, port):
    """A UDP socket bound to HOST PORT; $READY_FILE is touched once it is."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.bind((host, port))
    ready = os.environ.get("READY_FILE")
    if ready:
        open(ready, "w").close()
    return s


def udp_echo_server(host, port):
    s = udp_server_socket(host, port)
    s.settimeout(TIMEOUT)
    while True:
        try:
            data, peer = s.recvfrom(65536)
        except socket.timeout:
            return
        s.sendto(data, peer)


def udp_rr(host, port, n):
    lost = 0
    payload = b"r" * 64
    with udp_socket(host) as s:
        s.settimeout(1)
        s.connect((host, port))
        start = time.monotonic()
        for i in range(n):
            s.send(payload)
            try:
                s.recv(65536)
            except socket.timeout:
                lost += 1
        elapsed = time.monotonic() - start
    print(f"{n} rr {elapsed:.3f} s {n / elapsed:.0f}/s {lost} lost")


def udp_rr_count(host, port, n, wait):
    answered, extra = set(), 0
    with udp_socket(host) as s:
        s.connect((host, port))
        for i in range(n):
            want = b"%08d" % i + b"u" * 56
            s.send(want)
            deadline = time.monotonic() + wait
            while i not in answered:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    got = s.recv(65536)
                except socket.timeout:
                    break
                number = int(got[:8])
                if number in answered:
                    extra += 1
                answered.add(number)
    print(f"{len(answered)} answered {n - len(answered)} unanswered {extra} extra")


def rr_server(host, port):
    s = listener(host, port)
    while True:
        c, _ = s.accept()
        c.settimeout(TIMEOUT)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with c:
            try:
                while True:
                    d = c.recv(1)
                    if not d:
                        break
                    c.sendall(d)
                    if d == b"C":
                        break
            except OSError:
                pass


def udp_rr_server(host, port):
    s = udp_server_socket(host, port)
    while True:
        d, peer = s.recvfrom(65536)
        s.sendto(d, peer)


def rate(count, start):
    """Print COUNT transactions since START as transactions per second."""
    print(f"{count / (time.monotonic() - start):.0f}")


def latency_report(count, start, took):
    """Print the rate, then the median and 99th percentile of TOOK (seconds) in µs."""
    took.sort()
    at = lambda q: took[min(len(took) - 1, int(q * len(took)))] * 1e6  # noqa: E731
    print(f"{count / (time.monotonic() - start):.0f} {at(0.5):.0f} {at(0.99):.0f}")


def rr(host, port, seconds, latency=False):
    """Transactions of one byte each way on one connection, for SECONDS: the rate
    (and with LATENCY the median and 99th percentile of a transaction, in µs)."""
    took = []
    with connect(host, port) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n, start = 0, time.monotonic()
        end = start + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            c.sendall(b"R")
            if c.recv(1) != b"R":
                sys.exit("rr: connection closed")
            took.append(time.perf_counter() - t)
            n += 1
    if latency:
        latency_report(n, start, took)
    else:
        rate(n, start)


def crr(host, port, seconds, latency=False):
    """Connect, one byte each way, close, for SECONDS: the rate (and with LATENCY the
    median and 99th percentile of a whole connection, in µs)."""
    took = []
    n, start = 0, time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        with connect(host, port) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.sendall(b"C")
            if c.recv(1) != b"C":
                sys.exit("crr: no reply")
            # Wait for the server's FIN: the server closes first and keeps TIME_WAIT.
            while c.recv(1):
                pass
        took.append(time.perf_counter() - t)
        n += 1
    if latency:
        latency_report(n, start, took)
    else:
        rate(n, start)


def udp_rr_rate(host, port, seconds, latency=False):
    """One-byte datagrams answered, for SECONDS: the rate (and with LATENCY the median
    and 99th percentile of an answered one, in µs)."""
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.connect((host, port))
    s.settimeout(1.0)
    took = []
    n, start = 0, time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        s.send(b"U")
        try:
            s.recv(1)
        except (socket.timeout, ConnectionRefusedError):
            continue
        took.append(time.perf_counter() - t)
        n += 1
    if n == 0:
        sys.exit("udp-rr-rate: no reply")
    if latency:
        latency_report(n, start, took)
    else:
        rate(n, start)


def read_hashed(c, h, limit=None):
    """Read from c into hash h until EOF or `limit` bytes; how many were read."""
    n = 0
    while limit is None or n < limit:
        d = c.recv(1 << 20 if limit is None else min(1 << 20, limit - n))
        if not d:
            break
        h.update(d)
        n += len(d)
    return n


def touch(path):
    open(path, "w").close()


def udp_hello(host, port, ready):
    """A UDP socket connected to HOST PORT after one round trip (the neighbour is
    resolved and the flow exists); READY is touched then."""
    s = udp_socket(host)
    s.connect((host, port))
    s.settimeout(5)
    s.send(b"hello")
    s.recv(65536)
    touch(ready)
    return s


def udp_burst(host, port, n, ready, go, sent):
    """Touch READY; once GO exists, send N numbered datagrams back to back on one
    connected socket, touch SENT, then count the distinct echoes that come back within
    10 s."""
    answered = set()
    with udp_hello(host, port, ready) as s:
        while not os.path.exists(go):
            time.sleep(0.01)
        try:
            for i in range(n):
                s.send(b"%08d" % i + b"b" * 56)
        finally:
            touch(sent)
        deadline = time.monotonic() + 10
        while len(answered) < n and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                answered.add(int(s.recv(65536)[:8]))
            except socket.timeout:
                break
    print(f"{len(answered)} of {n} echoed")


def burst_datagram(i, size):
    """Datagram I of a burst: its number, then a pattern of its own, SIZE bytes."""
    head = b"%08d" % i
    return head + bytes((i + k) % 251 for k in range(size - len(head)))


def udp_burst_server(host, port, n, size, go, sent):
    """Answer the first datagram, then once GO exists send N numbered SIZE-byte
    datagrams back to back to its sender and touch SENT."""
    s = udp_server_socket(host, port)
    s.settimeout(TIMEOUT)
    _, peer = s.recvfrom(65536)
    s.sendto(b"hello", peer)
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        for i in range(n):
            s.sendto(burst_datagram(i, size), peer)
    finally:
        touch(sent)


def udp_burst_receive(host, port, n, size, ready):
    """Say hello to a udp-burst-server, touch READY, then count the datagrams of its
    burst that arrive intact (right length and content) within 10 s."""
    intact = set()
    with udp_hello(host, port, ready) as s:
        deadline = time.monotonic() + 10
        while len(intact) < n and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            i = int(data[:8])
            if data == burst_datagram(i, size):
                intact.add(i)
    print(f"{len(intact)} of {n} intact")


def h_paused_sink(mib, pause, marker):
    def handler(c):
        with c:
            h, n, paused = hashlib.sha256(), 0, False
            while True:
                if not paused and n >= mib << 20:
                    touch(marker)
                    time.sleep(pause)
                    paused = True
                d = c.recv(min(1 << 20, (mib << 20) - n) if not paused else 1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
            c.sendall(f"{n} {h.hexdigest()}\n".encode())
    return handler


def h_flood_on_eof(mib):
    def handler(c):
        with c:
            try:
                read_all(c)
                for _ in range(mib * 16):
                    c.sendall(b"r" * 65536)
            except OSError:
                pass
    return handler


def h_reset(mib, direction):
    def handler(c):
        n = 0
        while n < mib << 20:
            if direction == "send":
                c.sendall(b"s" * 65536)
                n += 65536
            else:
                d = c.recv(65536)
                if not d:
                    break
                n += len(d)
        # l_onoff 1, l_linger 0: close() sends RST (and drops what is unsent).
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    return handler


def transfer_end(host, port, direction, mib):
    n = 0
    try:
        with connect(host, port) as c:
            while n < mib << 20:
                if direction == "send":
                    c.sendall(b"u" * 65536)
                    n += 65536
                else:
                    d = c.recv(1 << 20)
                    if not d:
                        return f"eof {n}"
                    n += len(d)
            return f"done {n}"
    except (ConnectionResetError, BrokenPipeError):
        return f"reset {n}"


def net_counters():
    """Print the namespace's non-zero Ip, Tcp and TcpExt counters as "Group:Name
    value", then the non-zero Ip6 and Icmp6 ones as "Name value"."""
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as f:
            lines = f.read().splitlines()
        # Each group is two lines: the names, then the values.
        for names, values in zip(lines[::2], lines[1::2]):
            group, *keys = names.split()
            if group not in ("Ip:", "Tcp:", "TcpExt:"):
                continue
            for key, value in zip(keys, values.split()[1:]):
                if value != "0":
                    print(f"{group}{key} {value}")
    with open("/proc/net/snmp6") as f:
        for line in f:
            key, value = line.split()
            if key.startswith(("Ip6", "Icmp6")) and value != "0":
                print(f"{key} {value}")


def connect(host, port):
    c = socket.create_connection((host, port), timeout=TIMEOUT)
    return c


def read_all(c):
    out = b""
    while True:
        d = c.recv(1 << 20)
        if not d:
            return out
        out += d


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "echo-server":
        serve(args[0], int(args[1]), h_echo)
    elif mode == "sink-server":
        serve(args[0], int(args[1]), h_sink)
    elif mode == "peer-server":
        serve(args[0], int(args[1]), h_peer)
    elif mode == "peer":
        src = (args[3], 0) if len(args) > 3 else None
        c = socket.create_connection((args[0], int(args[1])), TIMEOUT, src)
        with c:
            c.sendall(args[2].encode())
            c.shutdown(socket.SHUT_WR)
            sys.stdout.write(read_all(c).decode())
    elif mode == "timed":
        start = time.monotonic()
        main([argv[0]] + args)
        sys.stdout.flush()
        print(f"{time.monotonic() - start:.6f}", file=sys.stderr)
    elif mode == "halfclose-server":
        serve(args[0], int(args[1]), h_halfclose)
    elif mode == "source-server":
        seed, mib = args[2], int(args[3])

        def h_source(c):
            with c:
                for chunk in seeded_chunks(seed, mib):
                    c.sendall(chunk)

        serve(args[0], int(args[1]), h_source)
    elif mode == "echo-server-select":
        # One thread, many connections: echo whatever arrives (for 10k-connection tests).
        import selectors
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        sel = selectors.DefaultSelector()
        lst = listener(args[0], int(args[1]))
        lst.setblocking(False)
        sel.register(lst, selectors.EVENT_READ)
        while True:
            for key, _ in sel.select():
                if key.fileobj is lst:
                    while True:
                        try:
                            c, _ = lst.accept()
                        except BlockingIOError:
                            break
                        c.setblocking(False)
                        sel.register(c, selectors.EVENT_READ)
                else:
                    c = key.fileobj
                    try:
                        d = c.recv(65536)
                    except (BlockingIOError, ConnectionError):
                        d = None
                    if d:
                        c.setblocking(True)
                        c.sendall(d)
                        c.setblocking(False)
                    elif d == b"":
                        sel.unregister(c)
                        c.close()
    elif mode == "rr-server":
        rr_server(args[0], int(args[1]))
    elif mode == "udp-rr-server":
        udp_rr_server(args[0], int(args[1]))
    elif mode == "rr":
        rr(args[0], int(args[1]), float(args[2]))
    elif mode == "crr":
        crr(args[0], int(args[1]), float(args[2]))
    elif mode == "udp-rr-rate":
        udp_rr_rate(args[0], int(args[1]), float(args[2]))
    elif mode in ("rr-latency", "crr-latency", "udp-rr-latency"):
        # The rate, then the median and 99th percentile in µs (bench/run).
        run = {"rr-latency": rr, "crr-latency": crr, "udp-rr-latency": udp_rr_rate}[mode]
        run(args[0], int(args[1]), float(args[2]), latency=True)
    elif mode == "echo":
        with connect(args[0], int(args[1])) as c:
            c.sendall(args[2].encode())
            c.shutdown(socket.SHUT_WR)
            sys.stdout.write(read_all(c).decode())
    elif mode == "upload":
        with connect(args[0], int(args[1])) as c:
            for chunk in seeded_chunks(args[2], int(args[3])):
                c.sendall(chunk)
            c.shutdown(socket.SHUT_WR)
            sys.stdout.write(read_all(c).decode())
    elif mode == "download":
        with connect(args[0], int(args[1])) as c:
            h = hashlib.sha256()
            n = read_hashed(c, h)
            print(n, h.hexdigest())
    elif mode == "concurrent":
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        host, port, n = args[0], int(args[1]), int(args[2])
        conns = []
        for i in range(n):
            conns.append(connect(host, port))
        for i, c in enumerate(conns):
            c.sendall(f"payload-{i:05d}-".encode() * 20)
        bad = 0
        for i, c in enumerate(conns):
            want = f"payload-{i:05d}-".encode() * 20
            got = b""
            while len(got) < len(want):
                d = c.recv(65536)
                if not d:
                    break
                got += d
            bad += got != want
            c.close()
        print(f"{n - bad} ok {bad} bad")
    elif mode == "refused":
        start = time.monotonic()
        try:
            connect(args[0], int(args[1])).close()
            print("connected")
        except ConnectionRefusedError:
            print(f"refused {int((time.monotonic() - start) * 1000)}")
        except OSError as e:
            print(f"error {e}")
    elif mode == "echo-twice":
        # One connection, two round trips with a pause between them: until WAITFILE
        # exists (the caller changes something meanwhile).
        with connect(args[0], int(args[1])) as c:
            for word, wait in ((b"one", True), (b"two", False)):
                c.sendall(word)
                got = b""
                while len(got) < len(word):
                    d = c.recv(65536)
                    if not d:
                        break
                    got += d
                sys.stdout.write(got.decode() + "\n")
                sys.stdout.flush()
                deadline = time.monotonic() + TIMEOUT
                while wait and not os.path.exists(args[2]) and time.monotonic() < deadline:
                    time.sleep(0.01)
    elif mode == "halfclose":
        with connect(args[0], int(args[1])) as c:
            c.sendall(b"x" * 1000)
            c.shutdown(socket.SHUT_WR)
            sys.stdout.write(read_all(c).decode())
    elif mode == "udp-echo-server":
        udp_echo_server(args[0], int(args[1]))
    elif mode == "udp-echo":
        sys.stdout.write(udp_ask(args[0], int(args[1]), args[2].encode()).decode())
    elif mode == "udp-zero":
        reply = udp_ask(args[0], int(args[1]), b"")
        print("zero ok" if reply == b"" else f"zero got {len(reply)} bytes")
    elif mode == "udp-rr":
        udp_rr(args[0], int(args[1]), int(args[2]))
    elif mode == "udp-burst":
        udp_burst(args[0], int(args[1]), int(args[2]), args[3], args[4], args[5])
    elif mode == "udp-burst-server":
        udp_burst_server(args[0], int(args[1]), int(args[2]), int(args[3]), args[4], args[5])
    elif mode == "udp-burst-receive":
        udp_burst_receive(args[0], int(args[1]), int(args[2]), int(args[3]), args[4])
    elif mode == "udp-rr-count":
        udp_rr_count(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif mode == "udp-probe":
        # One datagram on a connected socket, one short wait: "reply", "refused" (an
        # ICMP port unreachable came back: nothing is bound there) or "silent".
        with udp_socket(args[0]) as s:
            s.settimeout(float(args[2]) if len(args) > 2 else 0.5)
            try:
                s.connect((args[0], int(args[1])))
                s.send(b"probe")
                s.recv(65536)
                print("reply")
            except ConnectionRefusedError:
                print("refused")
            except socket.timeout:
                print("silent")
    elif mode == "raw-junk":
        # Hostile input: COUNT malformed frames out of IFACE (AF_PACKET), seeded.
        import random
        import struct
        iface, count, seed = args[0], int(args[1]), int(args[2])
        rnd = random.Random(seed)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        mac = bytes.fromhex("9a559a559a55")

        def eth(ethertype, body):
            src = bytes([rnd.choice([0x02, 0x52, 0x01, 0x00])]) + rnd.randbytes(5)
            return mac + src + struct.pack("!H", ethertype) + body

        def junk():
            kind = rnd.randrange(8)
            if kind == 0:
                return rnd.randbytes(rnd.randrange(14, 1600))
            if kind == 1:  # IPv4 header lying about its lengths
                ihl = rnd.randrange(16)
                hdr = bytes([0x40 | ihl, 0]) + struct.pack("!H", rnd.randrange(65536)) + rnd.randbytes(16)
                return eth(0x0800, hdr + rnd.randbytes(rnd.randrange(0, 64)))
            if kind == 2:  # IPv6 with an extension-header chain
                nh = rnd.choice([0, 43, 44, 60, 59, 6, 17, 58, 200])
                body = b"".join(bytes([rnd.choice([0, 43, 60, 6, 17]), rnd.randrange(4)]) + rnd.randbytes(6) for _ in range(rnd.randrange(6)))
                hdr = bytes([0x60, 0, 0, 0]) + struct.pack("!HBB", rnd.randrange(2000), nh, 64) + rnd.randbytes(32)
                return eth(0x86DD, hdr + body)
            if kind == 3:  # TCP with a bogus data offset and options
                ip = bytes([0x45, 0]) + struct.pack("!H", 60) + b"\0\0\0\0\x40\x06\0\0" + bytes([198, 51, 100, 2, 203, 0, 113, 1])
                tcp = struct.pack("!HHIIBBHHH", rnd.randrange(65536), rnd.randrange(65536), rnd.randrange(1 << 32), 0,
                                  rnd.randrange(256), rnd.choice([2, 18, 16, 4, 1, 255]), 65535, 0, 0) + rnd.randbytes(20)
                return eth(0x0800, ip + tcp)
            if kind == 4:  # junk DHCP
                ip = bytes([0x45, 0]) + struct.pack("!H", 28 + 300) + b"\0\0\0\0\x40\x11\0\0" + bytes([0, 0, 0, 0, 255, 255, 255, 255])
                return eth(0x0800, ip + struct.pack("!HHHH", 68, 67, 308, 0) + rnd.randbytes(300))
            if kind == 5:  # junk DHCPv6
                hdr = bytes([0x60, 0, 0, 0]) + struct.pack("!HBB", 8 + 60, 17, 1) + bytes.fromhex("fe800000000000000000000000000002ff020000000000000000000000010002")
                return eth(0x86DD, hdr + struct.pack("!HHHH", 546, 547, 68, 0) + rnd.randbytes(60))
            if kind == 6:  # ARP oddities
                return eth(0x0806, rnd.randbytes(rnd.randrange(0, 40)))
            return eth(rnd.randrange(65536), rnd.randbytes(rnd.randrange(0, 100)))

        sent = 0
        for _ in range(count):
            try:
                s.send(junk())
                sent += 1
            except OSError:
                pass
        print(f"sent {sent}")
    elif mode == "syn-flood":
        from rawlink import syn_flood  # a sibling file: this mode is lab-only
        syn_flood(args[0], args[1], args[2], int(args[3]), int(args[4]))
    elif mode == "reset-check":
        try:
            with socket.create_connection((args[0], int(args[1])), 5) as c:
                c.sendall(b"x")
                print("data" if c.recv(100) else "eof")
        except ConnectionResetError:
            print("reset")
        except ConnectionRefusedError:
            print("refused")
        except socket.timeout:
            print("timeout")
    elif mode == "until-connects":
        host, port, limit = args[0], int(args[1]), float(args[2])
        start, refusals = time.monotonic(), 0
        while True:
            try:
                with socket.create_connection((host, port), 2) as c:
                    c.sendall(b"back")
                    c.shutdown(socket.SHUT_WR)
                    if read_all(c) == b"back":
                        break
            except OSError:
                refusals += 1
            if time.monotonic() - start > limit:
                sys.exit(f"no connection within {limit} s ({refusals} refused)")
            time.sleep(0.25)
        print(f"recovered {refusals} {time.monotonic() - start:.1f}")
    elif mode == "dhcpv6-solicit":
        from rawlink import dhcpv6_solicit
        print(dhcpv6_solicit(args[0]))
    elif mode == "paused-download":
        mib, pause, marker = int(args[2]), float(args[3]), args[4]
        with connect(args[0], int(args[1])) as c:
            h = hashlib.sha256()
            n = read_hashed(c, h, mib << 20)
            touch(marker)
            time.sleep(pause)
            n += read_hashed(c, h)
            print(n, h.hexdigest())
    elif mode == "paused-sink-server":
        serve(args[0], int(args[1]), h_paused_sink(int(args[2]), float(args[3]), args[4]))
    elif mode == "flood-on-eof-server":
        serve(args[0], int(args[1]), h_flood_on_eof(int(args[2])))
    elif mode == "deaf-halfclose":
        with connect(args[0], int(args[1])) as c:
            c.sendall(b"hello, and goodbye\n")
            c.shutdown(socket.SHUT_WR)
            touch(args[3])
            time.sleep(float(args[2]))
        print("closed")
    elif mode == "reset-server":
        serve(args[0], int(args[1]), h_reset(int(args[2]), args[3]))
    elif mode == "transfer-end":
        print(transfer_end(args[0], int(args[1]), args[2], int(args[3])))
    elif mode == "net-counters":
        net_counters()
    elif mode == "sha":
        h = hashlib.sha256()
        for chunk in seeded_chunks(args[0], int(args[1])):
            h.update(chunk)
        print(int(args[1]) * 1024 * 1024, h.hexdigest())
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
