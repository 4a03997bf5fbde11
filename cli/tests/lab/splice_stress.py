#!/usr/bin/env python3
"""Many short and long TCP transfers through pasta's spliced path, for a byte-exact check.

Modes (bounded in time; addresses are whatever the caller passes, lab addresses only):
  recv BIND PORT COUNT RESULTS   listen on BIND:PORT (small receive buffer), accept COUNT
                                 connections, read each to EOF (every other one slowly: a
                                 pause first, then small reads with pauses) and append
                                 "<bytes> <sha256>" per connection to RESULTS; touches
                                 $READY_FILE once listening
  send HOST PORT FIRST COUNT RESULTS
                                 transfers FIRST..FIRST+COUNT of the size schedule, four at
                                 a time: connect, send the bytes, close at once; append
                                 "<bytes> <sha256>" per transfer to RESULTS
  sizes FIRST COUNT              print the schedule's sizes

Each connection carries fresh random bytes, so the two result files must hold the same
lines (in any order) when nothing was lost, truncated, reordered or mixed up.
"""
import hashlib
import os
import socket
import sys
import threading
import time

TIMEOUT = 30
MIB = 1 << 20
# Sizes around the boundaries that matter: one byte, a segment, a page, the 64 KiB
# splice/pipe unit, the default socket buffer, the 1 MiB pipe; every 64th is 64 MiB.
CYCLE = [1, 2, 3, 100, 1459, 1460, 4095, 4096, 4097, 65535, 65536, 65537, 131085,
         425984, MIB, MIB + 1, 4 * MIB - 1]
BIG = 64 * MIB
SENDERS = 4


def size_of(i):
    if i % 64 == 63:
        return BIG
    return CYCLE[i % len(CYCLE)]


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Results:
    """Lines appended under a lock, flushed as they come."""

    def __init__(self, path):
        self.file = open(path, "a")
        self.lock = threading.Lock()

    def add(self, length, digest):
        with self.lock:
            self.file.write(f"{length} {digest}\n")
            self.file.flush()


def receive(conn, slow, results):
    conn.settimeout(TIMEOUT)
    h = hashlib.sha256()
    total = 0
    if slow:
        time.sleep(0.02)
    reads = 0
    while True:
        careful = slow and total < MIB
        data = conn.recv(4096 if careful else MIB)
        if not data:
            break
        h.update(data)
        total += len(data)
        reads += 1
        if careful and reads % 16 == 0:
            time.sleep(0.001)
    conn.close()
    results.add(total, h.hexdigest())


def recv(bind, port, count, path):
    results = Results(path)
    s = socket.socket(family(bind), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    if family(bind) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((bind, port))
    s.listen(256)
    s.settimeout(TIMEOUT)
    ready = os.environ.get("READY_FILE")
    if ready:
        open(ready, "w").close()
    threads = []
    for n in range(count):
        conn, _ = s.accept()
        t = threading.Thread(target=receive, args=(conn, n % 2 == 1, results))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(TIMEOUT)
        if t.is_alive():
            sys.exit("a receiver never saw the end of its stream")


def send(host, port, first, count, path):
    results = Results(path)
    todo = list(range(first, first + count))
    lock = threading.Lock()
    failures = []

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            data = os.urandom(size_of(i))
            try:
                c = socket.create_connection((host, port), timeout=TIMEOUT)
                c.sendall(data)
                c.close()
            except OSError as e:
                failures.append(f"transfer {i} ({len(data)} bytes): {e}")
                return
            results.add(len(data), hashlib.sha256(data).hexdigest())

    threads = [threading.Thread(target=worker) for _ in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit("\n".join(failures))


def main(argv):
    mode = argv[1]
    if mode == "recv":
        recv(argv[2], int(argv[3]), int(argv[4]), argv[5])
    elif mode == "send":
        send(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
    elif mode == "sizes":
        first, count = int(argv[2]), int(argv[3])
        print(" ".join(str(size_of(i)) for i in range(first, first + count)))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
