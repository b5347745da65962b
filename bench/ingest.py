#!/usr/bin/env python3
"""Ingest throughput with storage on and off.

Starts build/streamavg on free loopback ports (once with storage.dir in a
temporary folder, once with storage off), feeds it Graphite plaintext over
TCP from several sender processes for a few seconds, and reports points
accepted per second (from /metrics), the slowest fsync, and /health's
latency while the feed runs (the event loop must not wait for the disk).

usage: bench/ingest.py [SECONDS] [SENDERS]
"""
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, os.environ.get("STREAMAVG_BIN", "build/streamavg"))
POINTS = 'streamavg_points_total{protocol="graphite_tcp"}'
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sender(port, seconds, series):
    # One pre-built block of lines, sent again and again: the cost is the
    # server's, not Python's.
    block = "".join("bench.s%d %d.5 -1\n" % (i % series, i)
                    for i in range(20000)).encode()
    s = socket.create_connection(("127.0.0.1", port))
    end = time.time() + seconds
    while time.time() < end:
        s.sendall(block)
    s.close()


def metric(base, key):
    """The value of the /metrics line whose name and labels are key."""
    body = OPENER.open(base + "/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        name, _, value = line.rpartition(" ")
        if name == key:
            return float(value)
    return 0.0


def run(storage, seconds, senders):
    port, gport = free_port(), free_port()
    state = tempfile.mkdtemp(prefix="streamavg-bench-") if storage else ""
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [BIN, "-c", os.path.join(ROOT, "conf", "streamavg.conf"),
         "-o", "http.port=%d" % port, "-o", "graphite.port=%d" % gport,
         "-o", "generator.enabled=false", "-o", "storage.dir=%s" % state,
         "-o", "series.max_series=1000"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = "http://127.0.0.1:%d" % port
    try:
        for _ in range(200):
            try:
                OPENER.open(base + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        start_n = metric(base, POINTS)
        t0 = time.time()
        procs = [multiprocessing.Process(target=sender,
                                         args=(gport, seconds, 100))
                 for _ in range(senders)]
        for p in procs:
            p.start()
        lat = []
        while time.time() < t0 + seconds:
            a = time.time()
            OPENER.open(base + "/health", timeout=10).read()
            lat.append((time.time() - a) * 1e3)
            time.sleep(0.02)
        for p in procs:
            p.join()
        n = metric(base, POINTS) - start_n
        dt = time.time() - t0
        fsync = metric(base, "streamavg_storage_fsync_max_milliseconds")
        lat.sort()
        return {"storage": bool(storage), "points_per_s": n / dt,
                "health_p50_ms": lat[len(lat) // 2],
                "health_p99_ms": lat[int(len(lat) * 0.99)],
                "fsync_max_ms": fsync,
                "state_bytes": sum(os.path.getsize(os.path.join(state, f))
                                   for f in os.listdir(state))
                if storage else 0}
    finally:
        proc.terminate()
        proc.wait()
        if state:
            shutil.rmtree(state, ignore_errors=True)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    senders = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    for storage in (False, True):
        print(json.dumps(run(storage, seconds, senders)))


if __name__ == "__main__":
    main()
