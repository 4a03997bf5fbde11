"""Hand-built packets for netcheck.py's syn-flood and dhcpv6-solicit modes: a burst of
TCP SYNs on an AF_PACKET socket (checksums computed here) and one DHCPv6 SOLICIT."""
import os
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def syn_flood(iface, src, dst, port, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    with open(f"/sys/class/net/{iface}/address") as f:
        our_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    # pasta's MAC (the default, 9a:55:9a:55:9a:55); our own as the source, so the
    # translator keeps sending the namespace's frames to the right place.
    eth = bytes.fromhex("9a559a559a55") + our_mac + struct.pack("!H", 0x0800)
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    sent = 0
    for i in range(count):
        sport = 10000 + i
        opts = struct.pack("!BBH", 2, 4, 1460)  # MSS
        tcp = struct.pack("!HHIIBBHHH", sport, port, 1000 + i, 0, (5 + 1) << 4, 0x02, 64240, 0, 0) + opts
        pseudo = saddr + daddr + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, saddr, daddr)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        try:
            s.send(eth + ip + tcp)
            sent += 1
        except OSError:
            pass
    print(f"sent {sent}")


def dhcpv6_solicit(iface):
    """One SOLICIT with a client identifier (DUID-LL), an IA_NA and elapsed time;
    the IA address of the ADVERTISE that answers it."""
    mac = open(f"/sys/class/net/{iface}/address").read().strip()
    duid = struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))
    xid = os.urandom(3)
    options = struct.pack("!HH", 1, len(duid)) + duid
    options += struct.pack("!HHIII", 3, 12, 0x1234, 0, 0)  # IA_NA, no addresses
    options += struct.pack("!HHH", 8, 2, 0)  # elapsed time
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.bind(("::", 546))
    s.settimeout(5)
    index = socket.if_nametoindex(iface)
    s.sendto(bytes([1]) + xid + options, ("ff02::1:2", 547, 0, index))
    while True:
        data, _ = s.recvfrom(2048)
        if data[0] != 2 or data[1:4] != xid:
            continue
        at = 4
        while at + 4 <= len(data):
            code, length = struct.unpack("!HH", data[at:at + 4])
            body = data[at + 4:at + 4 + length]
            if code == 3 and len(body) >= 12:  # IA_NA: its own options follow
                inner = 12
                while inner + 4 <= len(body):
                    c, l = struct.unpack("!HH", body[inner:inner + 4])
                    if c == 5 and l >= 16:  # IAADDR
                        return socket.inet_ntop(socket.AF_INET6, body[inner + 4:inner + 20])
                    inner += 4 + l
            at += 4 + length
        sys.exit("ADVERTISE without an IA address")
