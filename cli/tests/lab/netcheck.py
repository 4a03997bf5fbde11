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
  ready-file PATH                  (used with servers) touch PATH once listening
"""
import hashlib
import os
import socket
import sys
import threading
import time

TIMEOUT = 60


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
            h, n = hashlib.sha256(), 0
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                h.update(d)
                n += len(d)
            print(n, h.hexdigest())
    elif mode == "concurrent":
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
    elif mode == "halfclose":
        with connect(args[0], int(args[1])) as c:
            c.sendall(b"x" * 1000)
            c.shutdown(socket.SHUT_WR)
            sys.stdout.write(read_all(c).decode())
    elif mode == "sha":
        h = hashlib.sha256()
        for chunk in seeded_chunks(args[0], int(args[1])):
            h.update(chunk)
        print(int(args[1]) * 1024 * 1024, h.hexdigest())
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
