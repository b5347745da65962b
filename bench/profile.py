#!/usr/bin/env python3
"""Profiles of streamavg under the benchmarks' loads (make bench-profile).

perf samples (cpu-clock, frame-pointer call chains) a build of streamavg
with frame pointers (build/bench/streamavg-prof, same -O2) while a load
runs; callgrind counts instructions per ingested point and per /average
request, figures that do not drift with the machine's load; strace -c
counts the system calls per request and per message.  PROFILE_ONLY=perf,
callgrind or syscalls picks some of them.  Reports go
to bench/results/profile-*.txt.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the benchmark driver's helpers)

PROF_BIN = os.path.join(run.BIN, "bench", "streamavg-prof")
OUT = run.RESULTS


def perf_report(data, name, title):
    path = os.path.join(OUT, f"profile-{name}.txt")
    flat = subprocess.run(
        ["perf", "report", "-i", data, "--stdio", "--no-children",
         "--sort", "dso,symbol", "--percent-limit", "0.7", "-g", "none"],
        capture_output=True, text=True).stdout
    dsos = subprocess.run(
        ["perf", "report", "-i", data, "--stdio", "--no-children",
         "--sort", "dso", "-g", "none"],
        capture_output=True, text=True).stdout
    calls = subprocess.run(
        ["perf", "report", "-i", data, "--stdio", "--children",
         "--sort", "symbol", "--percent-limit", "4", "-g",
         "caller,0.5,callee,function,percent", "--max-stack", "12"],
        capture_output=True, text=True).stdout
    with open(path, "w") as f:
        f.write(f"# {title}\n\n## self time by object\n")
        f.write("\n".join(ln for ln in dsos.splitlines()
                          if ln and not ln.startswith("#")) + "\n")
        f.write("\n## self time by function\n")
        f.write("\n".join(ln for ln in flat.splitlines()
                          if ln and not ln.startswith("#")) + "\n")
        f.write("\n## inclusive time (children), call chains\n")
        f.write("\n".join(ln for ln in calls.splitlines()
                          if not ln.startswith("#"))[:60000] + "\n")
    run.log(f"  wrote {path}")


def perf_during(server, seconds, name, title, load):
    data = os.path.join(tempfile.gettempdir(), f"perf-{name}-{os.getpid()}")
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1999",
                          "-g", "-p", str(server.pid), "-o", data, "--",
                          "sleep", str(seconds)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        load()
    finally:
        p.wait()
    perf_report(data, name, title)
    os.unlink(data)


def streamavg_prof(tmp, *opts):
    saved = run.STREAMAVG
    run.STREAMAVG = PROF_BIN
    try:
        return run.streamavg(tmp, *opts)
    finally:
        run.STREAMAVG = saved


def main():
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="streamavg-prof-")
    only = os.environ.get("PROFILE_ONLY", "perf,callgrind,syscalls")
    if "perf" in only:
        perf_all(tmp)
    if "callgrind" in only:
        callgrind_all(tmp)
    if "syscalls" in only:
        syscalls_all(tmp)


def strace_during(server, seconds, load):
    """System calls of the server while load() runs (strace -c)."""
    out = os.path.join(tempfile.gettempdir(), f"strace-{os.getpid()}")
    p = subprocess.Popen(["timeout", "-s", "INT", str(seconds), "strace",
                          "-c", "-f", "-p", str(server.pid), "-o", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    r = load()
    p.wait()
    with open(out) as f:
        text = f.read()
    os.unlink(out)
    return r, text


def syscalls_all(tmp):
    run.log("== system calls per request and per message (strace -c)")
    parts = ["# System calls of streamavg under load (strace -c -f)\n"]
    sa = run.streamavg(tmp)
    try:
        run.fill(sa, 1000, 1)
        r, text = strace_during(sa, 3, lambda: run.wrk(
            sa.port, "/average?series=bench.s0&window_size=10", 2))
        parts.append(f"## GET /average under wrk -c32: {r[2]:,} requests "
                     f"(strace slows the server: count, do not time)\n")
        parts.append("```\n" + text + "```\n")
    finally:
        sa.stop()
    sa = run.streamavg(tmp)
    try:
        r, text = strace_during(sa, 4, lambda: run.wsload_run(
            sa, 1000, 100, 3))
        parts.append(f"## fan-out, 1,000 subscribers x 100 points/s: "
                     f"{r['points_sent']:,.0f} points, "
                     f"{r['messages']:,.0f} messages delivered "
                     f"(the trace covers part of the run)\n")
        parts.append("```\n" + text + "```\n")
    finally:
        sa.stop()
    with open(os.path.join(OUT, "profile-syscalls.txt"), "w") as f:
        f.write("\n".join(parts))
    run.log(f"  wrote {OUT}/profile-syscalls.txt")


def perf_all(tmp):
    run.log("== fan-out, 1,000 subscribers x 1,000 points/s")
    sa = streamavg_prof(tmp)
    try:
        perf_during(sa, 5, "fanout", "streamavg, WebSocket fan-out: 1,000 "
                    "subscribers x 1,000 points/s (wsload), perf cpu-clock",
                    lambda: run.wsload_run(sa, 1000, 1000, 5))
    finally:
        sa.stop()

    run.log("== ingest, Graphite TCP, 1 connection")
    sa = streamavg_prof(tmp)
    try:
        perf_during(sa, 3, "ingest", "streamavg, Graphite TCP ingest, one "
                    "connection, 100 series, perf cpu-clock",
                    lambda: [run.gsend(sa.gport, 3000000, 1, 100)
                             for _ in range(2)])
    finally:
        sa.stop()

    run.log("== /average, window_size=10")
    sa = streamavg_prof(tmp)
    try:
        run.fill(sa, 1000, 1)
        perf_during(sa, 4, "average", "streamavg, GET /average?window_size"
                    "=10 under wrk -c32, perf cpu-clock",
                    lambda: run.wrk(sa.port, "/average?series=bench.s0&"
                                    "window_size=10", 5))
    finally:
        sa.stop()

    run.log("== /plot, 30,000 points, repeated")
    sa = streamavg_prof(tmp, "plot.max_points=30000")
    try:
        run.fill(sa, 30000, 1)

        def plots():
            for _ in range(40):
                run.http_get(sa.port, "/plot?series=bench.s0&window_size=10"
                             "&points=30000")
        perf_during(sa, 4, "plot", "streamavg process (loop and plot "
                    "worker threads; gnuplot children not included), "
                    "/plot of 30,000 points, perf cpu-clock", plots)
    finally:
        sa.stop()



def callgrind_all(tmp):
    run.log("== callgrind: instructions per ingested point and per request")
    lines = []
    for name, load, units in (
            ("ingest", lambda s: run.gsend(s.gport, 200000, 1, 100), 200000),
            ("average", lambda s: run.wrk(s.port, "/average?series=bench.s0"
                                          "&window_size=10", 3, 4), None)):
        port, gport = run.free_port(), run.free_port()
        out = os.path.join(tmp, f"callgrind.{name}")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               PROF_BIN, "-o", f"http.port={port}", "-o",
               f"graphite.port={gport}", "-o", "generator.enabled=false",
               "-o", "log.level=warn", "-o", "storage.dir="]
        s = run.Server(f"callgrind-{name}", cmd, port, tmp, cwd=run.ROOT)
        s.gport = gport
        run.wait_port(port, 60)
        if name == "average":
            run.fill(s, 1000, 1)
        # Count only the load: zero the counters first.
        subprocess.run(["callgrind_control", "-z", str(s.pid)],
                       capture_output=True)
        r = load(s)
        subprocess.run(["callgrind_control", "-d", str(s.pid)],
                       capture_output=True)
        s.stop()
        n = units or r[2]
        # callgrind_control -d wrote <out>.1: the load alone, since the
        # counters were zeroed just before it.
        dump = out + ".1"
        ann = subprocess.run(["callgrind_annotate", "--threshold=100", dump],
                             capture_output=True, text=True).stdout
        total = re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", ann)
        ir = int(total.group(1).replace(",", "")) if total else 0
        funcs = ann[ann.find("file:function"):].splitlines()[2:45]
        ann = "\n".join(ln[:150] for ln in funcs
                        if "(below main)" not in ln and "libc_start" not in ln)
        unit = "point" if name == "ingest" else "request"
        lines.append(f"## {name}: {n:,} {unit}s, {ir:,} instructions, "
                     f"{ir / n:,.0f} per {unit}\n")
        lines.append("```\n" + ann + "\n```\n")
    with open(os.path.join(OUT, "profile-callgrind.txt"), "w") as f:
        f.write("# callgrind: instruction counts under load\n\n" +
                "\n".join(lines))
    run.log(f"  wrote {OUT}/profile-callgrind.txt")


if __name__ == "__main__":
    main()
