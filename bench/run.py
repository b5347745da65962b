#!/usr/bin/env python3
"""streamavg's benchmark suite: streamavg against its peers, side by side.

Every benchmark starts its servers itself on 127.0.0.1 (free ports, files
in a temporary folder), pins the server to one core and the load generator
to the other (taskset), runs streamavg and its peer in turn, several times,
and stops everything.  Results: medians, the spread (min..max) and the
ratio streamavg/peer, printed and written to bench/results/.

    bench/run.py [--quick] [--only NAME[,NAME...]] [--reps N]

Names: average, fanout, ingest, plot, scale, memory.  BENCH_QUICK=1 is
--quick.  Run through `make bench`, which builds what this needs first.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "build")
STREAMAVG = os.path.join(BIN, "streamavg")
WSLOAD = os.path.join(BIN, "bench", "wsload")
GSEND = os.path.join(BIN, "bench", "gsend")
SINK = os.path.join(BIN, "bench", "sink")
RESULTS = os.path.join(HERE, "results")

SERVER_CORE = os.environ.get("BENCH_SERVER_CORE", "0")
LOAD_CORE = os.environ.get("BENCH_LOAD_CORE", "1")
TICK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- helpers


def log(*a):
    print(*a, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pinned(core, cmd):
    return ["taskset", "-c", str(core)] + cmd


def wait_port(port, timeout=20.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


LIVE = []     # servers still running: stopped on the way out


class Server:
    """A process pinned to the server core, stopped with SIGTERM."""

    def __init__(self, name, cmd, port, tmp, cwd=None, wait=True):
        LIVE.append(self)
        self.name = name
        self.port = port
        self.logf = open(os.path.join(tmp, f"{name}-{port}.log"), "w")
        self.proc = subprocess.Popen(pinned(SERVER_CORE, cmd), cwd=cwd,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=raise_nofile)
        self.pid = self.proc.pid
        if wait:
            wait_port(port, proc=self.proc)

    def cpu(self):
        return cpu_seconds(self.pid)

    def rss(self):
        return rss_bytes(self.pid)

    def stop(self):
        if self in LIVE:
            LIVE.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


def streamavg(tmp, *opts, graphite=True):
    port = free_port()
    gport = free_port() if graphite else 0
    cmd = [STREAMAVG, "-o", f"http.port={port}", "-o", "http.bind=127.0.0.1",
           "-o", f"graphite.port={gport}", "-o", "graphite.bind=127.0.0.1",
           "-o", "generator.enabled=false", "-o", "log.level=warn",
           # No write-ahead log: these are figures of the ingest path
           # itself (bench/ingest.py measures storage on and off), and the
           # default storage.dir would replay one run's points into the
           # next.
           "-o", "storage.dir="]
    for o in opts:
        cmd += ["-o", o]
    s = Server("streamavg", cmd, port, tmp, cwd=ROOT)
    s.gport = gport
    return s


def node_peer(tmp, history=100000):
    port = free_port()
    return Server("node", ["node", os.path.join(HERE, "peer-node",
                                                 "server.js"),
                           str(port), str(history)], port, tmp)


def http_get(port, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def total_points(port):
    st, body = http_get(port, "/series")
    return sum(s.get("total", 0) for s in json.loads(body)["series"])


def metric(port, name):
    st, body = http_get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def run_tool(cmd, core=LOAD_CORE, timeout=600, stdin=None):
    out = subprocess.run(pinned(core, cmd), capture_output=True, text=True,
                         timeout=timeout, preexec_fn=raise_nofile,
                         input=stdin)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {out.stderr.strip()[-400:]}")
    return out.stdout


def keyvals(text):
    d = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                d[parts[0]] = float(parts[1])
            except ValueError:
                d[parts[0]] = parts[1]
    return d


def gsend(port, points, conns=1, series=100, base_ts=1700000000):
    return keyvals(run_tool([GSEND, "-p", str(port), "-n", str(points),
                             "-c", str(conns), "-s", str(series),
                             "-t", str(base_ts)]))


def fill(server, points, series=1, base_ts=1700000000):
    """Points into a streamavg over Graphite TCP; waits until held."""
    before = total_points(server.port)
    gsend(server.gport, points, 1, series, base_ts)
    end = time.time() + 20
    while total_points(server.port) < before + points:
        if time.time() > end:
            raise RuntimeError("streamavg did not take every point")
        time.sleep(0.05)


# ---------------------------------------------------------------- statistics


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def fmt(x, unit=""):
    if x is None:
        return "-"
    if abs(x) >= 100:
        s = f"{x:,.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.3g}"
    return s + unit


class Table:
    """Rows of (case, metric, {peer: [values]}) -> median, spread, ratio."""

    def __init__(self, title, peers, note=""):
        self.title, self.peers, self.note = title, peers, note
        self.rows = []

    def add(self, case, name, values_by_peer, unit="", better="higher"):
        self.rows.append((case, name, values_by_peer, unit, better))

    def markdown(self):
        head = "| case | metric | " + " | ".join(
            f"{p} median (min..max)" for p in self.peers)
        if len(self.peers) > 1:
            head += " | " + " | ".join(
                f"streamavg/{p}" for p in self.peers[1:])
        head += " |"
        out = [f"### {self.title}", ""]
        if self.note:
            out += [self.note, ""]
        out += [head, "|" + " --- |" * (head.count("|") - 1)]
        for case, name, vals, unit, better in self.rows:
            cells = []
            for p in self.peers:
                v = vals.get(p, [])
                lo, hi = spread(v)
                cells.append(f"{fmt(med(v), unit)} ({fmt(lo)}..{fmt(hi)})"
                             if v else "-")
            ratios = []
            for p in self.peers[1:]:
                a, b = med(vals.get(self.peers[0], [])), med(vals.get(p, []))
                ratios.append(f"{a / b:.2f}x" if a is not None and b else "-")
            out.append(f"| {case} | {name} ({better} is better) | " +
                       " | ".join(cells + ratios) + " |")
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------- benchmarks


def wrk(port, path, seconds, conns=32):
    out = run_tool(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency",
                    f"http://127.0.0.1:{port}{path}"])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk: {errors.group(1)} error answers on {path}")
    return rps, p99, reqs


def measure_wrk(server, path, seconds, conns=32):
    c0 = server.cpu()
    rps, p99, reqs = wrk(server.port, path, seconds, conns)
    c1 = server.cpu()
    return {"rps": rps, "p99_ms": p99,
            "cpu_us_per_req": (c1 - c0) / reqs * 1e6 if reqs else None}


def nginx_peer(tmp, bodies):
    """nginx serving each body as a static file at the same path."""
    root = tempfile.mkdtemp(prefix="nginx-", dir=tmp)
    port = free_port()
    locs = []
    for name, body in bodies.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(body)
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""# one worker, one core: the same budget as streamavg's loop
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    default_type application/json;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ add_header cache-control no-store; }}
    }}
}}
""")
    return Server("nginx", ["nginx", "-p", root, "-c", conf, "-e",
                            os.path.join(root, "error.log")], port, tmp)


def bench_average(cfg, tmp):
    windows = [10, 1000000]
    secs = cfg["wrk_s"]
    t = Table("HTTP GET /average against nginx serving the same bytes",
              ["streamavg", "nginx"],
              f"wrk -t1 -c32, {secs} s per run, {cfg['reps']} runs each, "
              "series `bench.s0` holding 1,000,000 points (history 1,000,000); "
              "nginx serves the identical JSON body as a static file at the "
              "same path (1 worker, access log off).")
    sa = streamavg(tmp, "series.history=1000000")
    try:
        log("  filling 1,000,000 points")
        fill(sa, 1000000, series=1)
        bodies, paths = {}, {}
        for w in windows:
            paths[w] = f"/average?series=bench.s0&window_size={w}"
            st, body = http_get(sa.port, paths[w])
            assert st == 200, body
            bodies[w] = body
        nx = {}
        for w in windows:
            nx[w] = nginx_peer(tmp, {"average": bodies[w]})
        try:
            res = {w: {"streamavg": [], "nginx": []} for w in windows}
            for rep in range(cfg["reps"]):
                for w in windows:
                    res[w]["streamavg"].append(
                        measure_wrk(sa, paths[w], secs))
                    res[w]["nginx"].append(
                        measure_wrk(nx[w], paths[w], secs))
                    log(f"  rep {rep + 1} window {w}: streamavg "
                        f"{res[w]['streamavg'][-1]['rps']:.0f} req/s, nginx "
                        f"{res[w]['nginx'][-1]['rps']:.0f} req/s")
        finally:
            for s in nx.values():
                s.stop()
    finally:
        sa.stop()
    for w in windows:
        case = f"window_size={w:,} ({len(bodies[w])} B body)"
        for key, unit, better in [("rps", " req/s", "higher"),
                                  ("p99_ms", " ms", "lower"),
                                  ("cpu_us_per_req", " us", "lower")]:
            t.add(case, {"rps": "requests/s", "p99_ms": "p99 latency",
                         "cpu_us_per_req": "server CPU per request"}[key],
                  {p: [r[key] for r in res[w][p]] for p in res[w]},
                  unit, better)
    return t, res


def wsload_run(server, nconns, rate, seconds, window=10):
    """One fan-out run; server CPU sampled over the feed window."""
    cmd = pinned(LOAD_CORE, [WSLOAD, "-p", str(server.port), "-n",
                             str(nconns), "-r", str(rate), "-d", str(seconds),
                             "-w", str(window), "-s", "bench", "-g", "3"])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, preexec_fn=raise_nofile)
    lines, c0, c1, rss, lc0, lc1 = [], None, None, None, None, None
    try:
        for line in p.stdout:
            lines.append(line)
            if line.startswith("FEED_START"):
                c0, lc0 = server.cpu(), cpu_seconds(p.pid)
            elif line.startswith("FEED_END"):
                c1, lc1 = server.cpu(), cpu_seconds(p.pid)
                rss = server.rss()
        p.wait()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0 or c0 is None or c1 is None:
        raise RuntimeError("wsload failed: " + p.stderr.read()[-400:])
    kv = keyvals("".join(lines))
    msgs = kv["messages_in_window"]
    for k in ("lat_p50_ms", "lat_p99_ms"):
        if kv[k] < 0:       # more than that share never arrived
            kv[k] = None
    cpu = c1 - c0
    kv.update({
        "server_cpu_s": cpu,
        "server_cpu_ms_per_100k": cpu / msgs * 1e8 if msgs else None,
        "msgs_per_cpu_s": msgs / cpu if cpu else None,
        "server_cpu_pct": cpu / kv["feed_seconds"] * 100,
        "client_cpu_pct": (lc1 - lc0) / kv["feed_seconds"] * 100,
        "rss_mb": rss / 1e6,
        "delivered_pct": 100.0 * kv["messages"] / kv["expected"]
        if kv["expected"] else None,
        "fed_pct": 100.0 * kv["points_sent"] / kv["points_due"],
    })
    return kv


def bench_fanout(cfg, tmp):
    secs = cfg["ws_s"]
    t = Table("WebSocket fan-out against a Node.js server on `ws`",
              ["streamavg", "node"],
              f"wsload (lws client on the libev plugin) on core "
              f"{LOAD_CORE}, server on core {SERVER_CORE}; one series, "
              f"window 10, every connection subscribed to it; one point "
              f"per 1/rate s over HTTP POST /ingest NDJSON on four keep-"
              f"alive connections for "
              f"{secs} s; latency = client clock - the send time carried "
              f"in the value (its due time).  The feeder stops at the end "
              f"of the window, the client 3 s later; a latency shown as "
              f"`-` means more than that share of the messages had not "
              f"arrived by then.  Server CPU is sampled over the feed "
              f"window. "
              f"{cfg['reps']} runs each.")
    res = {}
    for nconns, rate in cfg["ws_loads"]:
        key = f"{nconns:,} subscribers x {rate:,} points/s"
        res[key] = {"streamavg": [], "node": []}
        for rep in range(cfg["reps"]):
            for peer in ("streamavg", "node"):
                srv = (streamavg(tmp) if peer == "streamavg"
                       else node_peer(tmp))
                try:
                    r = wsload_run(srv, nconns, rate, secs)
                finally:
                    srv.stop()
                res[key][peer].append(r)
                log(f"  {key} rep {rep + 1} {peer}: "
                    f"{r['msgs_per_s']:.0f} msg/s, p50 "
                    f"{fmt(r['lat_p50_ms'])} ms, p99 "
                    f"{fmt(r['lat_p99_ms'])} ms, fed {r['fed_pct']:.0f}%, "
                    f"server {r['server_cpu_pct']:.0f}% CPU, client "
                    f"{r['client_cpu_pct']:.0f}% CPU, delivered "
                    f"{r['delivered_pct']:.1f}%, dropped "
                    f"{r['dropped']:.0f}")
        for name, k, unit, better in [
                ("delivered messages/s", "msgs_per_s", "", "higher"),
                ("messages per server CPU second", "msgs_per_cpu_s", "",
                 "higher"),
                ("server CPU per 100,000 messages", "server_cpu_ms_per_100k",
                 " ms", "lower"),
                ("latency p50", "lat_p50_ms", " ms", "lower"),
                ("latency p99", "lat_p99_ms", " ms", "lower"),
                ("server CPU", "server_cpu_pct", " %", "lower"),
                ("load client CPU", "client_cpu_pct", " %", "lower"),
                ("points the feeder got in on time", "fed_pct", " %",
                 "higher"),
                ("delivered of points fed x subscribers", "delivered_pct",
                 " %", "higher"),
                ("server RSS", "rss_mb", " MB", "lower")]:
            t.add(key, name, {p: [r[k] for r in res[key][p]]
                              for p in res[key]}, unit, better)
    return t, res


def carbon_peer(tmp):
    root = tempfile.mkdtemp(prefix="carbon-", dir=tmp)
    for d in ("conf", "storage/whisper", "storage/lists", "log"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    port, pport, qport = free_port(), free_port(), free_port()
    conf = os.path.join(root, "conf", "carbon.conf")
    with open(conf, "w") as f:
        f.write(f"""[cache]
STORAGE_DIR = {root}/storage/
LOCAL_DATA_DIR = {root}/storage/whisper/
WHITELISTS_DIR = {root}/storage/lists/
CONF_DIR = {root}/conf/
LOG_DIR = {root}/log/
PID_DIR = {root}/
USER =
DATABASE = whisper
ENABLE_TAGS = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 500
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pport}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {qport}
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = False
LOG_LISTENER_CONNECTIONS = False
ENABLE_MANHOLE = False
""")
    with open(os.path.join(root, "conf", "storage-schemas.conf"), "w") as f:
        f.write("[bench]\npattern = .*\nretentions = 1s:1d\n")
    s = Server("carbon", ["carbon-cache", f"--config={conf}",
                          f"--pidfile={root}/carbon.pid",
                          f"--logdir={root}/log", "--nodaemon", "start"],
               port, tmp)
    s.gport = port
    return s


def sink_peer(tmp):
    port = free_port()
    s = Server("sink", [SINK, str(port)], port, tmp)
    s.gport = port
    return s


def bench_ingest(cfg, tmp):
    n = cfg["ingest_points"]
    nc = cfg["carbon_points"]
    t = Table("Graphite plaintext ingest over TCP",
              ["streamavg", "carbon-cache", "sink"],
              f"gsend writes pre-built lines (100 series) as fast as the "
              f"server reads, half-closes, and waits for the server to "
              f"close: every line has then been parsed.  {n:,} points to "
              f"streamavg and the sink, {nc:,} to carbon-cache (its receive "
              f"rate: lines parsed into its cache; whisper writes go on "
              f"after).  streamavg's /series total is checked to hold them "
              f"all.  {cfg['reps']} runs each.")
    res = {}
    for conns in (1, 4):
        key = f"{conns} connection{'s' if conns > 1 else ''}"
        res[key] = {"streamavg": [], "carbon-cache": [], "sink": []}
        for rep in range(cfg["reps"]):
            for peer, mk, pts in (("streamavg", streamavg, n),
                                  ("carbon-cache", carbon_peer, nc),
                                  ("sink", sink_peer, n)):
                srv = mk(tmp)
                try:
                    c0 = srv.cpu()
                    r = gsend(srv.gport, pts, conns, 100)
                    c1 = srv.cpu()
                    if peer == "streamavg":
                        held = total_points(srv.port)
                        if held != pts:
                            raise RuntimeError(f"streamavg holds {held} of "
                                               f"{pts} points")
                finally:
                    srv.stop()
                r["cpu_ns_per_point"] = (c1 - c0) / pts * 1e9
                res[key][peer].append(r)
                log(f"  {key} rep {rep + 1} {peer}: "
                    f"{r['points_per_s']:,.0f} points/s")
        t.add(key, "points/s", {p: [r["points_per_s"] for r in v]
                                for p, v in res[key].items()}, "", "higher")
        t.add(key, "server CPU per point", {
            p: [r["cpu_ns_per_point"] for r in v]
            for p, v in res[key].items()}, " ns", "lower")
    return t, res


PLOTPEERS = os.path.join(HERE, "plotpeers.py")


def plot_values(n):
    """The test series: a deterministic wander, one point a second."""
    v, out = 50.0, []
    for i in range(n):
        v += ((i * 7919) % 13 - 6) * 0.5
        out.append(round(v, 2))
    return out


def bench_plot(cfg, tmp):
    sizes = [300, 3000, 30000]
    t = Table("GET /plot against a fresh gnuplot per plot and matplotlib",
              ["streamavg", "gnuplot-fresh", "matplotlib"],
              "Wall time per SVG, rolling average of window 10 over the "
              "newest P points, 800x400.  streamavg: an HTTP client on the "
              "load core, a new point posted before each request (the "
              "data changed: nothing to reuse) and, separately, the same "
              "request repeated.  gnuplot-fresh: `gnuplot /dev/stdin` per "
              "plot with streamavg's script and inline binary data.  "
              "matplotlib: Agg, SVG, in a warm process (import done once).  "
              "Both peers run on the server core.")
    base = 1700000000
    vals = plot_values(30000)
    sa = streamavg(tmp, "plot.max_points=30000")
    res = {}
    try:
        body = "".join(f'{{"series":"plot","value":{v},"timestamp":'
                       f'{base + i}}}\n' for i, v in enumerate(vals))
        c = http.client.HTTPConnection("127.0.0.1", sa.port, timeout=60)
        c.request("POST", "/ingest", body,
                  {"Content-Type": "application/x-ndjson"})
        r = c.getresponse()
        assert r.status == 200, r.read()
        r.read()
        # The client runs on the load core.
        os.sched_setaffinity(0, {int(LOAD_CORE)})
        ts = base + len(vals)
        for size in sizes:
            n = cfg["plot_n"][size]
            path = f"/plot?series=plot&window_size=10&points={size}"
            for variant in ("new data", "repeated"):
                key = f"{size:,} points, {variant}"
                times = []
                for rep in range(cfg["reps"]):
                    lat = []
                    for i in range(n + 1):
                        if variant == "new data":
                            c.request("POST", "/ingest",
                                      f'{{"series":"plot","value":50,'
                                      f'"timestamp":{ts}}}\n',
                                      {"Content-Type":
                                       "application/x-ndjson"})
                            c.getresponse().read()
                            ts += 1
                        t0 = time.perf_counter()
                        c.request("GET", path)
                        r = c.getresponse()
                        svg = r.read()
                        t1 = time.perf_counter()
                        assert r.status == 200 and b"</svg>" in svg, svg[:200]
                        if i:   # the first one warms the gnuplot up
                            lat.append((t1 - t0) * 1e3)
                    times.append(statistics.median(lat))
                res[key] = {"streamavg": times}
        c.close()
    finally:
        os.sched_setaffinity(0, {int(SERVER_CORE), int(LOAD_CORE)})
        sa.stop()
    peers = json.loads(run_tool(
        ["/usr/bin/python3", PLOTPEERS], core=SERVER_CORE, stdin=json.dumps({
            "sizes": sizes, "reps": cfg["reps"], "n": cfg["plot_n"],
            "base": base, "values": vals})))
    for size in sizes:
        for variant in ("new data", "repeated"):
            key = f"{size:,} points, {variant}"
            res[key]["gnuplot-fresh"] = peers["gnuplot"][str(size)]
            res[key]["matplotlib"] = peers["matplotlib"][str(size)]
            t.add(key, "median ms per plot", res[key], " ms", "lower")
    return t, res


def bench_scale(cfg, tmp):
    n = cfg["scale_points"]
    t = Table("Scale: cost per point and per query",
              ["streamavg"],
              f"Ingest: {n:,} Graphite points over one TCP connection, "
              f"server CPU per point.  Query: wrk on /average for "
              f"{cfg['scale_wrk_s']} s, server CPU per request.  "
              f"{cfg['reps']} runs each.")
    res = {}
    for history, nseries in ((100000, 1), (100000, 100), (100000, 10000),
                             (10, 1), (1000000, 1)):
        key = f"ingest, {nseries:,} series, history {history:,}"
        res[key] = []
        for rep in range(cfg["reps"]):
            # 10,000 bench series plus `default` pass the default limit.
            sa = streamavg(tmp, f"series.history={history}",
                           "series.max_series=20000")
            try:
                c0 = sa.cpu()
                r = gsend(sa.gport, n, 1, nseries)
                c1 = sa.cpu()
            finally:
                sa.stop()
            res[key].append({"ns_per_point": (c1 - c0) / n * 1e9,
                             "points_per_s": r["points_per_s"]})
        t.add(key, "server CPU per point",
              {"streamavg": [r["ns_per_point"] for r in res[key]]}, " ns",
              "lower")
        t.add(key, "points/s",
              {"streamavg": [r["points_per_s"] for r in res[key]]}, "",
              "higher")
        log(f"  {key}: {med([r['ns_per_point'] for r in res[key]]):.0f} "
            f"ns/point")
    # Queries: one big series, and one series among 10,000.
    sa = streamavg(tmp, "series.history=1000000", "series.max_series=20000")
    try:
        fill(sa, 1000000, series=1, base_ts=1700000000)
        fill(sa, 100000, series=10000, base_ts=1700100000)
        cases = [(f"query, window_size={w:,}, 1 big series",
                  f"/average?series=bench.s0&window_size={w}")
                 for w in (10, 1000, 100000, 1000000)]
        cases += [("query, window=1h (time), 1 big series",
                   "/average?series=bench.s0&window=1h"),
                  ("query, window_size=10, one of 10,000 series",
                   "/average?series=bench.s9999&window_size=10")]
        for key, path in cases:
            res[key] = [measure_wrk(sa, path, cfg["scale_wrk_s"])
                        for _ in range(cfg["reps"])]
            t.add(key, "server CPU per request",
                  {"streamavg": [r["cpu_us_per_req"] for r in res[key]]},
                  " us", "lower")
            t.add(key, "requests/s",
                  {"streamavg": [r["rps"] for r in res[key]]}, "", "higher")
            log(f"  {key}: {med([r['rps'] for r in res[key]]):.0f} req/s")
    finally:
        sa.stop()
    return t, res


def idle_ws(server, nconns, idle):
    cmd = pinned(LOAD_CORE, [WSLOAD, "-p", str(server.port), "-n",
                             str(nconns), "-r", "0", "-s", "idle", "-w", "10"]
                 + (["-i"] if idle else []))
    time.sleep(0.3)
    before = server.rss()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, preexec_fn=raise_nofile)
    ready = None
    for line in p.stdout:
        if line.startswith("READY"):
            ready = int(line.split()[1])
            break
    time.sleep(1.0)
    after = server.rss()
    p.stdin.close()
    p.wait(30)
    if ready != nconns:
        raise RuntimeError(f"only {ready} of {nconns} connections")
    return (after - before) / nconns


def bench_memory(cfg, tmp):
    n = 1000000
    t = Table("Memory", ["streamavg", "node"],
              f"Per retained point: {n:,} points into a fresh server "
              f"(history 1,000,000), the growth of /metrics "
              f"streamavg_history_bytes and of RSS over the points.  Per "
              f"idle WebSocket: RSS growth over 1,000 connections (with no "
              f"subscription, and subscribed to an empty series).  "
              f"{cfg['reps']} runs each.")
    res = {k: {"streamavg": [], "node": []} for k in
           ("point_hist", "point_rss_1", "point_rss_100", "ws_idle",
            "ws_sub")}
    for rep in range(cfg["reps"]):
        for nseries, k in ((1, "point_rss_1"), (100, "point_rss_100")):
            sa = streamavg(tmp, "series.history=1000000")
            try:
                b0, r0 = metric(sa.port, "streamavg_history_bytes"), sa.rss()
                fill(sa, n, series=nseries)
                b1, r1 = metric(sa.port, "streamavg_history_bytes"), sa.rss()
            finally:
                sa.stop()
            res[k]["streamavg"].append((r1 - r0) / n)
            if nseries == 1:
                res["point_hist"]["streamavg"].append((b1 - b0) / n)
        for peer in ("streamavg", "node"):
            for k, idle in (("ws_idle", True), ("ws_sub", False)):
                srv = streamavg(tmp) if peer == "streamavg" else \
                    node_peer(tmp)
                try:
                    res[k][peer].append(idle_ws(srv, 1000, idle))
                finally:
                    srv.stop()
        log(f"  rep {rep + 1}: " + ", ".join(
            f"{k} {v['streamavg'][-1]:.1f}" for k, v in res.items()))
    t.add("per retained point, 1 series", "history bytes (/metrics)",
          res["point_hist"], " B", "lower")
    t.add("per retained point, 1 series", "RSS growth",
          res["point_rss_1"], " B", "lower")
    t.add("per retained point, 100 series", "RSS growth",
          res["point_rss_100"], " B", "lower")
    t.add("per idle WebSocket, no subscription", "RSS growth",
          res["ws_idle"], " B", "lower")
    t.add("per idle WebSocket, subscribed", "RSS growth",
          res["ws_sub"], " B", "lower")
    return t, res


BENCHES = {"average": bench_average, "fanout": bench_fanout,
           "ingest": bench_ingest, "plot": bench_plot, "scale": bench_scale,
           "memory": bench_memory}


def config(quick, reps):
    if quick:
        c = {"reps": 2, "wrk_s": 2, "ws_s": 2,
             "ws_loads": [(1000, 100), (1000, 1000)],
             "ingest_points": 1000000, "carbon_points": 100000,
             "plot_n": {300: 5, 3000: 3, 30000: 2},
             "scale_points": 500000, "scale_wrk_s": 1}
    else:
        c = {"reps": 3, "wrk_s": 5, "ws_s": 5,
             "ws_loads": [(1000, 100), (1000, 1000), (10000, 100)],
             "ingest_points": 5000000, "carbon_points": 300000,
             "plot_n": {300: 20, 3000: 10, 30000: 4},
             "scale_points": 2000000, "scale_wrk_s": 2}
    if reps:
        c["reps"] = reps
    return c


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = open("/proc/loadavg").read().split()[:3]
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), "
            f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') >> 30}"
            f" GiB, Linux {platform.release()}, load average at start "
            f"{' '.join(load)}")


def on_term(sig, frame):
    raise SystemExit(f"stopped by signal {sig}")


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""))
    ap.add_argument("--reps", type=int,
                    default=int(os.environ.get("BENCH_REPS", "0")))
    a = ap.parse_args()
    cfg = config(a.quick, a.reps)
    names = [n for n in a.only.split(",") if n] or list(BENCHES)
    for n in names:
        if n not in BENCHES:
            sys.exit(f"unknown benchmark {n}; known: {', '.join(BENCHES)}")
    os.makedirs(RESULTS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="streamavg-bench-")
    started = time.time()
    head = [f"# streamavg benchmark results ({'quick' if a.quick else 'full'}"
            f" run)", "",
            f"- when: {datetime.datetime.now().isoformat(timespec='seconds')}",
            f"- machine: {machine()}",
            f"- commit: " + subprocess.run(
                ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip(),
            f"- server core {SERVER_CORE}, load generator core {LOAD_CORE}",
            ""]
    sections, raw = [], {}
    try:
        for n in names:
            log(f"== {n}")
            t0 = time.time()
            try:
                table, r = BENCHES[n](cfg, tmp)
                sections.append(table.markdown() +
                                f"\n({time.time() - t0:.0f} s)\n")
                raw[n] = r
                log(table.markdown())
            except Exception as e:      # one broken benchmark, not all
                log(f"  FAILED: {e}")
                sections.append(f"### {n}\n\nFAILED: {e}\n")
    finally:
        for srv in list(LIVE):
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    head.append(f"- total time: {time.time() - started:.0f} s\n")
    name = "quick" if a.quick else "full"
    if a.only:
        name += "-" + "-".join(names)
    with open(os.path.join(RESULTS, f"{name}.md"), "w") as f:
        f.write("\n".join(head) + "\n" + "\n".join(sections))
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    log(f"written: bench/results/{name}.md and {name}.json")
    if any("FAILED" in s for s in sections):
        sys.exit(1)


if __name__ == "__main__":
    main()
