#!/usr/bin/env python3
"""A tiny authoritative DNS server for scripts/cluster.sh: it plays the part of Docker's embedded
DNS (127.0.0.11), so HAProxy discovers local gateways and routers exactly as it does in
docker-compose.yml (server-template + resolvers on deploy/haproxy/haproxy.cfg).

Records come from a zone file, re-read whenever it changes, one record a line:

    gateway                    A    127.42.7.1
    _gateway._tcp.belfry.local SRV  38001 gw-1.belfry.local
    gw-1.belfry.local          A    127.0.0.1

Answers A and SRV queries (SRV answers carry the targets' A records as additional records);
anything else for a known name is an empty NOERROR answer, an unknown name is NXDOMAIN. TTLs are
1 s. Standard library only; UDP on loopback only.

usage: dnsstub.py --zone FILE [--listen 127.0.0.1] [--port N | --port 0 --port-file FILE]
"""
import argparse
import os
import signal
import socket
import struct
import sys

T_A, T_SRV, C_IN = 1, 33, 1
RCODE_OK, RCODE_FORMERR, RCODE_NX, RCODE_NOTIMP = 0, 1, 3, 4


class Zone:
    """The zone file, parsed; reloaded when its mtime or size changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.a = {}  # name -> [ipv4]
        self.srv = {}  # name -> [(port, target)]

    def refresh(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self.stamp:
            return
        a, srv = {}, {}
        with open(self.path) as f:
            for n, line in enumerate(f, 1):
                parts = line.split("#", 1)[0].split()
                if not parts:
                    continue
                name = parts[0].lower().rstrip(".")
                kind = parts[1].upper() if len(parts) > 1 else ""
                if kind == "A" and len(parts) == 3:
                    socket.inet_aton(parts[2])
                    a.setdefault(name, []).append(parts[2])
                elif kind == "SRV" and len(parts) == 4:
                    srv.setdefault(name, []).append((int(parts[2]), parts[3].lower().rstrip(".")))
                else:
                    print(f"dnsstub: {self.path}:{n}: ignored: {line.strip()}", file=sys.stderr)
        self.a, self.srv, self.stamp = a, srv, stamp

    def known(self, name):
        return name in self.a or name in self.srv


def read_name(msg, off):
    """Returns (lowercased name, offset after it). Queries carry no compression."""
    labels = []
    while True:
        if off >= len(msg):
            raise ValueError("truncated name")
        n = msg[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(msg[off : off + n].decode("ascii", "replace"))
        off += n


def encode_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def rr(name_bytes, rtype, rdata):
    return name_bytes + struct.pack("!HHIH", rtype, C_IN, 1, len(rdata)) + rdata


def answer(zone, msg):
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    rd = flags & 0x0100
    if flags & 0x8000:
        return None  # a response, not a query
    try:
        if qd != 1:
            raise ValueError("one question expected")
        qname, off = read_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off : off + 4])
        question = msg[12 : off + 4]
    except (ValueError, struct.error):
        return struct.pack("!HHHHHH", qid, 0x8000 | rd | RCODE_FORMERR, 0, 0, 0, 0)

    zone.refresh()
    ans, add = [], []
    ptr = b"\xc0\x0c"  # the question's name
    if qclass != C_IN:
        rcode = RCODE_NOTIMP
    elif not zone.known(qname):
        rcode = RCODE_NX
    else:
        rcode = RCODE_OK
        if qtype == T_A:
            ans = [rr(ptr, T_A, socket.inet_aton(ip)) for ip in zone.a.get(qname, [])]
        elif qtype == T_SRV:
            for port, target in zone.srv.get(qname, []):
                ans.append(rr(ptr, T_SRV, struct.pack("!HHH", 0, 10, port) + encode_name(target)))
                for ip in zone.a.get(target, []):
                    add.append(rr(encode_name(target), T_A, socket.inet_aton(ip)))
    head = struct.pack(
        "!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, len(ans), 0, len(add)
    )
    return head + question + b"".join(ans) + b"".join(add)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zone", required=True)
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    if not args.listen.startswith("127."):
        ap.error("--listen must be a loopback address")

    zone = Zone(args.zone)
    zone.refresh()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.listen, args.port))
    port = sock.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"dnsstub: serving {args.zone} on {args.listen}:{port}/udp", file=sys.stderr, flush=True)
    while True:
        msg, peer = sock.recvfrom(4096)
        reply = answer(zone, msg)
        if reply:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
