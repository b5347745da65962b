#!/usr/bin/env python3
"""Soak: 1,000 WebSocket subscribers, 100,000 points/s over Graphite TCP,
a plot every second, subscribers coming and going, for SOAK_SECONDS
(default 60).  Fails (exit 1) when, after warm-up, the server's RSS grows
by more than 5 %, when any point sent is missing (also after a SIGTERM and
a restart from storage), or when file descriptors or child processes leak.

RSS is compared while the load runs: a connection that leaked would show
there, as 30 subscribers (with averages still queued for them) are
replaced every second.  The RSS after all 1,000 close at once is reported
but not judged: that mass close briefly needs memory the allocator keeps
afterwards (a peak, not a leak; a second round does not add to it).

The history of every series is filled before the timed run, so the server
is at its working size (about 130 MB) and memory should then be flat.

usage: SOAK_SECONDS=60 bench/soak.py        (or: make soak)
"""
import base64
import json
import multiprocessing
import os
import random
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, os.environ.get("STREAMAVG_BIN", "build/streamavg"))
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
SUBSCRIBERS = int(os.environ.get("SOAK_SUBSCRIBERS", "1000"))
RATE = int(os.environ.get("SOAK_RATE", "100000"))       # points/s
SERIES = 1000               # points spread over this many series
SUBSCRIBED = 100            # subscribers spread over this many of them
HISTORY = 5000              # points per series, filled before the clock
                            # starts, so memory is at its working size
WARMUP = max(10.0, SECONDS / 4)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(base, path, timeout=30):
    with OPENER.open(base + path, timeout=timeout) as r:
        return r.status, r.read()


def rss_kb(pid, kind="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(kind + ":"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def children(pid):
    """[(pid, state)] of pid's child processes."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(p), fields[0]))
    return out


def start_server(port, gport, state):
    log = open(os.path.join(os.path.dirname(state), "server.log"), "ab")
    return subprocess.Popen(
        [BIN, "-c", os.path.join(ROOT, "conf", "streamavg.conf"),
         "-o", "http.port=%d" % port, "-o", "graphite.port=%d" % gport,
         "-o", "generator.enabled=false", "-o", "storage.dir=%s" % state,
         "-o", "storage.snapshot_s=%s" % os.environ.get("SOAK_SNAPSHOT_S", "10"),
         "-o", "series.history=%d" % HISTORY,
         "-o", "graphite.max_line=256"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def wait_ready(base, proc):
    for _ in range(400):
        if proc.poll() is not None:
            raise SystemExit("the server exited at start-up")
        try:
            get(base, "/health", 1)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the server did not answer /health")


class Sender(multiprocessing.Process):
    """RATE points/s as Graphite lines over one TCP connection, in 10 ms
    slices; counts what it sent.  A process of its own, so the
    subscribers' reading does not hold it back."""

    def __init__(self, gport, seconds):
        super().__init__(daemon=True)
        self.gport, self.seconds = gport, seconds
        self.count = multiprocessing.Value("q", 0)
        self.start()

    @property
    def sent(self):
        return self.count.value

    def run(self):
        per_slice = RATE // 100
        s = socket.create_connection(("127.0.0.1", self.gport))
        blocks = [("".join("soak.s%d %d -1\n" % ((i + k) % SERIES, k)
                           for i in range(per_slice))).encode()
                  for k in range(10)]
        t0 = time.time()
        n = 0
        while time.time() < t0 + self.seconds:
            s.sendall(blocks[n % 10])
            self.count.value += per_slice
            n += 1
            delay = t0 + n * 0.01 - time.time()
            if delay > 0:
                time.sleep(delay)
        s.close()


class Subscribers(threading.Thread):
    """SUBSCRIBERS WebSockets in one selector loop, reading and throwing
    away what arrives; a few percent are replaced every second."""

    def __init__(self, port, seconds):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.sel = selectors.DefaultSelector()
        self.socks = set()
        self.bytes = self.opened = self.closed = self.failed = 0
        self.done = threading.Event()
        self.start()

    def open_one(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        q = "series=soak.s%d&window_size=%d" % (
            random.randrange(SUBSCRIBED), random.choice((5, 10, 50)))
        s.sendall(("GET /stream?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: streamavg\r\n\r\n"
                   % (q, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError("handshake refused: %r" % head[:80])
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ)
        self.socks.add(s)
        self.opened += 1

    def close_one(self, s):
        self.sel.unregister(s)
        self.socks.discard(s)
        s.close()
        self.closed += 1

    def run(self):
        for _ in range(SUBSCRIBERS):
            try:
                self.open_one()
            except OSError:
                self.failed += 1
        t0 = time.time()
        next_churn = t0 + 1
        while time.time() < t0 + self.seconds:
            for key, _ in self.sel.select(0.1):
                try:
                    data = key.fileobj.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.close_one(key.fileobj)
                self.bytes += len(data)
            if time.time() >= next_churn:
                next_churn += 1
                for s in random.sample(sorted(self.socks, key=id),
                                       min(30, len(self.socks))):
                    self.close_one(s)
                while len(self.socks) < SUBSCRIBERS:
                    try:
                        self.open_one()
                    except OSError:
                        self.failed += 1
                        break
        for s in list(self.socks):
            self.close_one(s)
        self.done.set()


def preload(base, gport):
    """Fill every series' history as fast as the server takes it."""
    block = "".join("soak.s%d %d -1\n" % (i, i) for i in range(SERIES))
    block = block.encode()
    with socket.create_connection(("127.0.0.1", gport)) as s:
        for _ in range(HISTORY):
            s.sendall(block)
    want = HISTORY * SERIES
    for _ in range(1200):
        if total_points(base) >= want:
            return want
        time.sleep(0.1)
    raise SystemExit("the preload did not arrive")


def total_points(base):
    _, body = get(base, "/series")
    return sum(e["total"] for e in json.loads(body)["series"]
               if e["name"].startswith("soak."))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="streamavg-soak-")
    state = os.path.join(work, "state")
    port, gport = free_port(), free_port()
    base = "http://127.0.0.1:%d" % port
    failures = []
    proc = start_server(port, gport, state)
    try:
        wait_ready(base, proc)
        preloaded = preload(base, gport)
        fd_idle = fd_count(proc.pid)
        kids_idle = len(children(proc.pid))
        sender = Sender(gport, SECONDS)
        subs = Subscribers(port, SECONDS)
        plots = {"ok": 0, "bad": 0}
        t0 = time.time()
        rss_warm = None
        rss_max = 0
        samples = []
        # Sampling ends before the subscribers all close (see above).
        while time.time() < t0 + SECONDS - 1.5:
            time.sleep(1)
            try:
                st, _ = get(base, "/plot?series=soak.s1&window_size=10"
                            "&points=1000", 10)
                plots["ok" if st == 200 else "bad"] += 1
            except OSError:
                plots["bad"] += 1
            # Readers of the API go on too (and their buffers are part of
            # the warm-up baseline).
            total_points(base)
            get(base, "/metrics")
            rss = rss_kb(proc.pid)
            samples.append((round(time.time() - t0), rss))
            if rss_warm is None and time.time() - t0 >= WARMUP:
                rss_warm = rss
            if rss_warm is not None:
                rss_max = max(rss_max, rss)
        sender.join()
        subs.done.wait(30)
        rss_left = rss_kb(proc.pid)
        time.sleep(2)       # closes settle
        sent = sender.sent + preloaded
        got = total_points(base)
        m = {}
        _, body = get(base, "/metrics")
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                m[k] = float(v)
        fd_end = fd_count(proc.pid)
        kids = children(proc.pid)
        rss_end = rss_kb(proc.pid)
        growth = (rss_max - rss_warm) / rss_warm * 100 if rss_warm else 0

        if got != sent:
            failures.append("points: sent %d, the server has %d" % (sent, got))
        if growth > 5:
            failures.append("RSS grew %.1f %% after warm-up (%d -> %d kB)" %
                            (growth, rss_warm, rss_max))
        if fd_end > fd_idle + 2:
            failures.append("fds: %d idle before, %d after" % (fd_idle,
                                                               fd_end))
        zombies = [k for k in kids if k[1] == "Z"]
        if zombies or len(kids) > kids_idle + 1:
            failures.append("children: %d before, now %r" % (kids_idle,
                                                             kids))
        if plots["bad"]:
            failures.append("%d plots failed" % plots["bad"])

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
        if rc != 0:
            failures.append("SIGTERM: exit status %d" % rc)
        proc = start_server(port, gport, state)
        wait_ready(base, proc)
        after = total_points(base)
        if after != sent:
            failures.append("after a restart: sent %d, the server has %d" %
                            (sent, after))
        report = {
            "seconds": SECONDS, "subscribers": SUBSCRIBERS,
            "points_sent": sent,
            "points_per_s": round((sent - preloaded) / SECONDS),
            "points_after_restart": after,
            "ws_opened": subs.opened, "ws_closed": subs.closed,
            "ws_failed": subs.failed,
            "ws_mb_read": round(subs.bytes / 1e6, 1),
            "ws_pushed": m.get("streamavg_ws_messages_pushed_total"),
            "ws_dropped": m.get("streamavg_ws_messages_dropped_total"),
            "plots_ok": plots["ok"], "plots_failed": plots["bad"],
            "rss_warm_kb": rss_warm, "rss_max_kb": rss_max,
            "rss_clients_gone_kb": rss_left, "rss_end_kb": rss_end, "rss_growth_pct": round(growth, 2),
            "fd_idle": fd_idle, "fd_end": fd_end,
            "children_idle": kids_idle, "children_end": len(kids),
            "snapshots": m.get("streamavg_storage_snapshots_total"),
            "fsync_max_ms": m.get("streamavg_storage_fsync_max_milliseconds"),
            "fork_max_ms": m.get("streamavg_storage_fork_max_milliseconds"),
            "rss_samples_kb": samples[::max(1, len(samples) // 12)],
        }
        print(json.dumps(report))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        if failures:
            with open(os.path.join(work, "server.log"), "rb") as f:
                sys.stderr.write(f.read()[-3000:].decode(errors="replace"))
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("SOAK FAILED: " + f)
    print("soak: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
