#!/usr/bin/env python3
"""The checks of tests/deploy/cluster_test.sh, run against a cluster that scripts/cluster.sh
brought up (BELFRY_CLUSTER_DIR). Everything a client does goes THROUGH HAProxy's public port;
the gateways' own addresses are used only to look at them (/metrics) and to drain one (SIGTERM).

Prints one line per check, "PASS name" or "FAIL name: why", and exits 0 if all passed.
Standard library only: a small RFC 6455 client on raw sockets, RESP for PUBSUB NUMSUB.
"""
import base64
import json
import os
import random
import re
import select
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIR = os.environ["BELFRY_CLUSTER_DIR"]
BIN = os.environ.get("BELFRY_BIN_DIR", os.path.join(ROOT, "build", "bin"))
API_KEY = os.environ["BELFRY_API_KEY"]
JWT_SECRET = os.environ["BELFRY_JWT_SECRET"]

passed = failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {why}", flush=True)
    return ok


def wait_until(pred, timeout, step=0.05):
    """Polls pred() until it returns a true value (returned) or timeout seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\w+)='?(.*?)'?\s*$", line)
            if m:
                env[m.group(1)] = m.group(2)
    return env


def load_procs():
    procs = {}
    with open(os.path.join(DIR, "procs")) as f:
        for line in f:
            name, pid, exe, addr = line.split()
            procs[name] = {"pid": int(pid), "exe": exe, "addr": addr}
    return procs


CL = load_env(os.path.join(DIR, "cluster.env"))
LB_HOST, LB_PORT = CL["BELFRY_CLUSTER_URL"].split("//")[1].split(":")
LB_PORT = int(LB_PORT)
PROCS = load_procs()
GATEWAYS = sorted(n for n in PROCS if n.startswith("gateway-"))


# ---- HTTP ------------------------------------------------------------------------------------


def http(method, url, body=None, headers=None, timeout=5):
    """Returns (status, body text); never raises for HTTP errors."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def lb(path):
    return f"http://{LB_HOST}:{LB_PORT}{path}"


def publish(channel, event, data):
    body = json.dumps({"event": event, "data": data}).encode()
    return http("POST", lb(f"/broadcast/{channel}"), body,
                {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})


def gateway_connections(name, ctype=None):
    """Open WebSockets on one gateway (its own /metrics), optionally of one channel type."""
    st, text = http("GET", f"http://{PROCS[name]['addr']}/metrics", timeout=2)
    if st != 200:
        return None
    n = 0
    for m in re.finditer(r'^belfry_gateway_connections\{type="(\w+)"\} (\d+)$', text, re.M):
        if ctype is None or m.group(1) == ctype:
            n += int(m.group(2))
    return n


def lb_servers(backend):
    """{server name: (status, current sessions)} from HAProxy's stats CSV."""
    st, text = http("GET", CL["BELFRY_CLUSTER_STATS"], timeout=2)
    out = {}
    if st != 200:
        return out
    for row in text.splitlines()[1:]:
        f = row.split(",")
        if len(f) > 17 and f[0] == backend and f[1] not in ("FRONTEND", "BACKEND"):
            out[f[1]] = (f[17], int(f[4] or 0))
    return out


# ---- Redis (RESP, one command) ---------------------------------------------------------------


def redis(*args):
    s = socket.create_connection(("127.0.0.1", int(CL["BELFRY_CLUSTER_REDIS_PORT"])), timeout=2)
    try:
        cmd = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        s.sendall(cmd.encode())
        f = s.makefile("rb")

        def read():
            line = f.readline().rstrip(b"\r\n")
            t, rest = line[:1], line[1:]
            if t in (b"+", b"-"):
                return rest.decode()
            if t == b":":
                return int(rest)
            if t == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            if t == b"*":
                return [read() for _ in range(int(rest))]
            raise ValueError(f"bad RESP {line!r}")

        return read()
    finally:
        s.close()


def numsub(channel):
    r = redis("PUBSUB", "NUMSUB", CL["BELFRY_CLUSTER_REDIS_PREFIX"] + "fan:{" + channel + "}")
    return int(r[1])


# ---- a small WebSocket client ----------------------------------------------------------------


class WSClosed(Exception):
    pass


class WS:
    """One RFC 6455 client connection (text frames, pings answered, close code recorded)."""

    def __init__(self, path, name):
        self.path, self.name = path, name
        self.close_code = None
        self.events = []
        self.connect()

    def connect(self, timeout=5):
        self.close_code = None
        self.buf = b""
        self.sock = socket.create_connection((LB_HOST, LB_PORT), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {self.path} HTTP/1.1\r\nHost: {LB_HOST}:{LB_PORT}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in head:
            if time.monotonic() > deadline:
                raise OSError("handshake timed out")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise OSError(f"closed during handshake: {head[:200]!r}")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status + " ":
            self.sock.close()
            raise OSError(f"upgrade refused: {status}")
        self.sock.setblocking(False)

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            hdr += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.setblocking(True)
        try:
            self.sock.sendall(hdr + mask + data)
        finally:
            self.sock.setblocking(False)

    def _frame(self):
        """One complete frame from the buffer, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        op, n, off = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = int.from_bytes(b[2:4], "big"), 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = int.from_bytes(b[2:10], "big"), 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return op, b[off:off + n]

    def pump(self, timeout):
        """Reads what arrives within timeout; returns False once the connection is closed."""
        if self.close_code is not None:
            return False
        r, _, _ = select.select([self.sock], [], [], timeout)
        if r:
            try:
                chunk = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                chunk = None
            except OSError:
                chunk = b""
            if chunk == b"":
                self.close_code = self.close_code or 1006
                return False
            if chunk:
                self.buf += chunk
        while (fr := self._frame()) is not None:
            op, payload = fr
            if op == 0x1:
                self.events.append(json.loads(payload))
            elif op == 0x9:
                self._send(0xA, payload)
            elif op == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                try:
                    self._send(0x8, payload[:2])
                except OSError:
                    pass
                self.sock.close()
                return False
        return True

    def wait_event(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if pred(e):
                    return e
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.pump(min(left, 0.2)):  # closed: only what already arrived counts
                return next((e for e in self.events if pred(e)), None)

    def close(self):
        if self.close_code is None:
            try:
                self._send(0x8, (1000).to_bytes(2, "big"))
            except OSError:
                pass
            self.close_code = 1000
        self.sock.close()


def running(pid):
    """The process exists and is not a zombie (an exited child its new parent has not reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class FakeDrainingGateway:
    """A server that passes HAProxy's health check but refuses every upgrade with 503, like a
    gateway that started draining a moment ago and is not marked DOWN yet. It is added to the
    DNS zone that HAProxy discovers gateways from, as a new gateway would be."""

    def __init__(self):
        import http.server
        import threading

        self.upgrades = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/readyz":
                    self.send_response(200)
                else:
                    outer.upgrades += 1
                    self.send_response(503)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

            def log_message(self, *a):
                pass

        zone = os.path.join(DIR, "dns.zone")
        with open(zone) as f:
            self.zone_text = f.read()
        gw1 = PROCS[GATEWAYS[0]]["addr"]
        if CL["BELFRY_CLUSTER_DNS"] == "a":  # same port as the gateways, an address of its own
            net = re.search(r"^gateway A (\d+\.\d+\.\d+)\.\d+$", self.zone_text, re.M).group(1)
            addr = (f"{net}.250", int(gw1.rsplit(":", 1)[1]))
            record = f"gateway A {addr[0]}\n"
        else:  # SRV: a port of its own
            addr = ("127.0.0.1", 0)
            record = None
        self.server = http.server.ThreadingHTTPServer(addr, Handler)
        if record is None:
            port = self.server.server_address[1]
            record = (f"_gateway._tcp.belfry.local SRV {port} fake.belfry.local\n"
                      "fake.belfry.local A 127.0.0.1\n")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self._write(zone, self.zone_text + record)
        self.zone = zone

    @staticmethod
    def _write(path, text):
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    def close(self):
        self._write(self.zone, self.zone_text)
        self.server.shutdown()
        self.server.server_close()


def token(user, channel):
    out = subprocess.run([os.path.join(BIN, "belfryctl"), "token", "--secret", JWT_SECRET,
                          "--user", user, "--channel", channel, "--ttl", "10m"],
                         capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.strip()


def all_receive(clients, event, timeout=5):
    deadline = time.monotonic() + timeout
    missing = []
    for c in clients:
        got = c.wait_event(lambda e: e.get("event") == event,
                           max(0.05, deadline - time.monotonic()))
        if not got:
            missing.append(c.name)
    return missing


# ---- the checks ------------------------------------------------------------------------------


def main():
    suffix = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    pub_ch = f"deploy-{suffix}"
    pres_ch = f"presence-deploy-{suffix}"

    st, body = http("GET", lb("/readyz"))
    check("HAProxy routes /readyz to a gateway", st == 200, f"{st} {body}")
    st, body = http("POST", lb(f"/broadcast/{pub_ch}"), b'{"event":"x","data":1}')
    check("HAProxy routes /broadcast to a router, which wants the API key", st == 401,
          f"{st} {body}")
    st, body = http("GET", lb(f"/channels/{pub_ch}"), headers={"Authorization": f"Bearer {API_KEY}"})
    check("GET /channels through HAProxy", st == 200, f"{st} {body}")

    # Six public clients, spread over the gateways by leastconn.
    clients = [WS(f"/ws/{pub_ch}", f"pub-{i}") for i in range(2 * len(GATEWAYS))]
    per_gw = {g: gateway_connections(g, "public") for g in GATEWAYS}
    check("public clients are spread over every gateway",
          all(v and v >= 1 for v in per_gw.values()) and sum(per_gw.values()) == len(clients),
          f"per gateway: {per_gw}")
    subs = wait_until(lambda: numsub(pub_ch) == len(GATEWAYS), 5)
    check("every gateway subscribed the channel's fan-out", subs, f"NUMSUB {numsub(pub_ch)}")

    st, body = publish(pub_ch, "first", {"n": 1})
    check("publish through HAProxy with the API key", st == 204, f"{st} {body}")
    missing = all_receive(clients, "first")
    check("a publish reaches the clients on all gateways", not missing, f"missing: {missing}")

    # A gateway that answers 503 (draining, not yet marked DOWN) must never reach a client:
    # HAProxy retries the upgrade on another gateway (retry-on 503, redispatch).
    fake = FakeDrainingGateway()
    try:
        up = wait_until(lambda: sum(1 for st, _ in lb_servers("gateways").values()
                                    if st.startswith("UP")) == len(GATEWAYS) + 1, 10, 0.1)
        check("HAProxy discovers a new gateway through DNS", up, f"{lb_servers('gateways')}")
        extra, errors = [], []
        for i in range(4):
            try:
                extra.append(WS(f"/ws/{pub_ch}", f"extra-{i}"))
            except OSError as e:
                errors.append(str(e))
        print(f"  the 503 gateway was tried {fake.upgrades} times; every client got through")
        check("upgrades refused with 503 by a draining gateway are retried on another one",
              not errors and fake.upgrades >= 1,
              f"{len(errors)} failed ({errors[:1]}), the 503 server saw {fake.upgrades}")
        for c in extra:
            c.close()
    finally:
        fake.close()
    wait_until(lambda: sum(1 for st, _ in lb_servers("gateways").values()
                           if st.startswith("UP")) == len(GATEWAYS), 10, 0.1)

    # Presence: one user per gateway, tokens minted with belfryctl.
    users = [f"user-{i}" for i in range(len(GATEWAYS))]
    pres = [WS(f"/ws/{pres_ch}?token={token(u, pres_ch)}", u) for u in users]
    per_gw = {g: gateway_connections(g, "presence") for g in GATEWAYS}
    check("presence clients land on different gateways",
          all(v == 1 for v in per_gw.values()), f"per gateway: {per_gw}")
    here = [c.wait_event(lambda e: e.get("event") == "presence:here", 5) for c in pres]
    check("each presence client gets presence:here", all(here), f"{[bool(h) for h in here]}")

    def members():
        st, body = http("GET", lb(f"/presence/{pres_ch}"),
                        headers={"Authorization": f"Bearer {API_KEY}"})
        if st != 200:
            return None
        ids = sorted(m["id"] for m in json.loads(body)["members"])
        return ids if ids == users else None

    got = wait_until(members, 5, 0.1)
    check("GET /presence through HAProxy lists the users of every gateway", got,
          f"want {users}")

    # Drain gateway-1: its clients are closed with 1012 and come back through HAProxy.
    victim = GATEWAYS[0]
    on_victim = gateway_connections(victim)
    os.kill(PROCS[victim]["pid"], signal.SIGTERM)
    t0 = time.monotonic()
    everyone = clients + pres
    wait_until(lambda: sum(1 for c in everyone if not c.pump(0)) >= on_victim, 5)
    closed = [c for c in everyone if c.close_code is not None]
    codes = sorted({c.close_code for c in closed})
    check(f"SIGTERM on {victim} closes its {on_victim} connections with 1012",
          len(closed) == on_victim and codes == [1012],
          f"closed {len(closed)} with codes {codes}")

    attempts = []
    reconnect_errors = []
    for c in closed:
        for attempt in range(1, 6):  # what a client does: retry with a short backoff
            try:
                c.connect()
                attempts.append(attempt)
                break
            except OSError as e:
                reconnect_errors.append(f"{c.name}: {e}")
                time.sleep(0.2 * attempt)
    check("the drained clients reconnect through HAProxy",
          len(attempts) == len(closed), "; ".join(reconnect_errors))
    print(f"  reconnect attempts per client: {attempts} "
          f"({len(reconnect_errors)} refused, HAProxy retries 503s on another gateway)")

    gone = wait_until(lambda: not running(PROCS[victim]["pid"]), 12, 0.1)
    check(f"{victim} exits after draining", gone,
          f"still running {time.monotonic() - t0:.1f}s after SIGTERM")
    others = [g for g in GATEWAYS if g != victim]
    total = wait_until(lambda: sum(gateway_connections(g) or 0 for g in others) == len(everyone)
                       and len(everyone), 5)
    check("every client is now on the remaining gateways", total,
          f"{ {g: gateway_connections(g) for g in others} }")
    down = wait_until(lambda: [s for s, (status, _) in lb_servers("gateways").items()
                               if status.startswith("DOWN")], 5)
    check("HAProxy marks the drained gateway DOWN", down, f"{lb_servers('gateways')}")

    wait_until(lambda: numsub(pub_ch) == len(others), 5)
    st, body = publish(pub_ch, "second", {"n": 2})
    check("publish after the drain", st == 204, f"{st} {body}")
    missing = all_receive(clients, "second")
    check("the later publish reaches every client, the reconnected ones too", not missing,
          f"missing: {missing}")
    got = wait_until(members, 8, 0.1)
    check("presence still lists every user after the drain", got, f"want {users}")

    # Every route the router serves must be reachable through HAProxy (e.g. /history/).
    router = PROCS[sorted(n for n in PROCS if n.startswith("router-"))[0]]["addr"]
    auth = {"Authorization": f"Bearer {API_KEY}"}
    if http("GET", f"http://{router}/history/{pub_ch}", headers=auth)[0] != 404:
        st, body = http("GET", lb(f"/history/{pub_ch}"), headers=auth)
        events = [m.get("event") for m in json.loads(body).get("messages", [])] if st == 200 else []
        check("GET /history through HAProxy returns the channel's messages",
              "first" in events and "second" in events, f"{st} {body[:300]}")

    for c in everyone:
        c.close()
    return failed == 0


if __name__ == "__main__":
    try:
        ok = main()
    except Exception as e:  # a crash is a failed check, reported as such
        import traceback

        traceback.print_exc()
        check("cluster checks ran to the end", False, repr(e))
        ok = False
    print(f"checks: {passed} passed, {failed} failed", flush=True)
    sys.exit(0 if ok else 1)
