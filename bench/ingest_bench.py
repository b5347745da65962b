#!/usr/bin/env python3
"""Ingest benchmark: points per second per protocol, one run.

Starts build/streamavg (the -O2 build; STREAMAVG_BIN to change it) on free
loopback ports, then for each protocol sends POINTS points, many lines per
write, from payloads built before the clock starts, and times until the
server's /metrics counts them all.  UDP has no flow control, and a sender
on the same machine outruns any receiver, so the UDP senders keep at most
WINDOW datagrams unread (polling /metrics) instead of losing most of them;
any loss left is reported, not hidden.  The last column is the server's
own figure: points over the time its loop spent parsing and storing them
(streamavg_ingest_parse_seconds_total), without the system calls.

    python3 bench/ingest_bench.py [POINTS]

The figures and the machine they came from are in bench/README.md.
"""
import http.client
import json
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
os.environ.setdefault("STREAMAVG_BIN", "build/streamavg")

from harness import Server  # noqa: E402
from test_clients import free_udp_port  # noqa: E402

POINTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
SERIES = 100
TS0 = 1700000000
WINDOW = 64


def lines(fmt, n, per_chunk):
    """Payloads of per_chunk lines each, n lines in all."""
    out, cur = [], []
    for i in range(n):
        cur.append(fmt(i))
        if len(cur) == per_chunk:
            out.append("".join(cur).encode())
            cur = []
    if cur:
        out.append("".join(cur).encode())
    return out


def graphite_line(proto):
    return lambda i: "b.%s.s%d %d.5 %d\n" % (proto, i % SERIES, i % 1000,
                                            TS0 + i // SERIES)


class Metrics:
    """/metrics over one kept-alive connection, so polling stays cheap."""

    def __init__(self, srv):
        self.conn = http.client.HTTPConnection("127.0.0.1", srv.port,
                                               timeout=60)

    def get(self, name, proto):
        self.conn.request("GET", "/metrics")
        for line in self.conn.getresponse().read().decode().splitlines():
            if line.startswith('%s{protocol="%s"} ' % (name, proto)):
                return float(line.split()[-1])
        raise KeyError(name)

    def points(self, proto):
        return self.get("streamavg_points_total", proto)


def run(srv, name, proto, send, n, udp=False):
    m = Metrics(srv)
    start = m.points(proto)
    busy0 = m.get("streamavg_ingest_parse_seconds_total", proto)
    t0 = time.perf_counter()
    send(m, start)
    deadline = time.time() + (2 if udp else 120)
    while m.points(proto) - start < n and time.time() < deadline:
        time.sleep(0.005)
    secs = time.perf_counter() - t0
    got = m.points(proto) - start
    busy = m.get("streamavg_ingest_parse_seconds_total", proto) - busy0
    lost = "" if got >= n else "  (%.2f%% lost)" % (100.0 * (n - got) / n)
    print("| %-36s | %9d | %6.2f | %10.0f | %10.0f |%s" %
          (name, got, secs, got / secs, got / busy if busy else 0, lost),
          flush=True)


def udp_sender(port, datagrams, per_datagram, proto):
    """Send the datagrams, never more than WINDOW ahead of the server."""
    def send(m, start):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i, d in enumerate(datagrams):
                if i % (WINDOW // 2) == 0:
                    while (i - WINDOW) * per_datagram > \
                            m.points(proto) - start:
                        pass
                s.sendto(d, ("127.0.0.1", port))
    return send


def main():
    statsd_port = free_udp_port()
    srv = Server("statsd.port=%d" % statsd_port, "statsd.flush_ms=1000",
                 "series.history=10000", "stream.publish=true",
                 "http.max_body=16777216")
    try:
        print("| protocol (points per write) | points | seconds | "
              "points/s | points/s of loop time |\n|---|---|---|---|---|")
        tcp = lines(graphite_line("tcp"), POINTS, 2000)

        def graphite_tcp(m, start):
            with srv.graphite() as s:
                for p in tcp:
                    s.sendall(p)
        run(srv, "Graphite TCP (2000 lines/write)", "graphite_tcp",
            graphite_tcp, POINTS)

        udp = lines(graphite_line("udp"), POINTS, 40)

        run(srv, "Graphite UDP (40 lines/datagram)", "graphite_udp",
            udp_sender(srv.graphite_port, udp, 40, "graphite_udp"), POINTS,
            udp=True)

        sd = lines(lambda i: "b.statsd.s%d:%d.5|g\n" % (i % SERIES, i % 1000),
                   POINTS, 50)

        run(srv, "StatsD gauges (50 lines/datagram)", "statsd",
            udp_sender(statsd_port, sd, 50, "statsd"), POINTS, udp=True)

        influx = lines(lambda i: "b,host=h%d,dc=x v=%d.5,w=%di %d\n" % (
            i % SERIES, i % 1000, i % 7, TS0 + i // SERIES), POINTS // 2,
            5000)

        def post(path, bodies, ctype):
            return lambda m, start: post_now(path, bodies, ctype)

        def post_now(path, bodies, ctype):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            for b in bodies:
                c.request("POST", path, b, {"Content-Type": ctype})
                r = c.getresponse()
                r.read()
                if r.status not in (200, 204):
                    raise SystemExit("%s answered %d" % (path, r.status))
            c.close()
        run(srv, "InfluxDB /write (5000 lines x 2 fields)", "influx",
            post("/write?precision=s", influx, "text/plain"),
            POINTS // 2 * 2)

        plain = lines(graphite_line("http"), POINTS, 5000)
        run(srv, "POST /ingest Graphite text (5000 lines)", "http",
            post("/ingest", plain, "text/plain"), POINTS)

        import websocket
        msgs = [json.dumps([{"series": "b.ws.s%d" % (j % SERIES),
                             "value": j % 1000 + 0.5}
                            for j in range(i, min(i + 1000, POINTS))])
                for i in range(0, POINTS, 1000)]

        def ws_publish(m, start):
            ws = srv.ws()
            for m in msgs:
                ws.send(m)
            ws.close()
        run(srv, "WebSocket publish (1000 points/msg)", "websocket",
            ws_publish, POINTS)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
