#!/usr/bin/env python3
"""The /plot benchmark's peers: a fresh gnuplot per plot and matplotlib.

Reads {"sizes": [...], "reps": R, "n": {size: plots}, "base": T0,
"values": [...]} on stdin, draws the rolling average (window 10) over the
newest P points of that series both ways, and prints {"gnuplot": {size:
[median ms per rep]}, "matplotlib": {...}} on stdout.

The gnuplot script is the one streamavg's plot pool sends (src/plot.c,
build_input), with the points inline as binary float64 pairs; gnuplot runs
as `gnuplot /dev/stdin` and the time runs until its SVG is complete.
matplotlib runs in this process, imported once, Agg backend, SVG into
memory: a warm server process, its most favourable case.
"""
import io
import json
import statistics
import struct
import subprocess
import sys
import time

WINDOW = 10


def rolling(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def time_format(span):
    if span <= 600:
        return "%H:%M:%S"
    if span <= 86400:
        return "%H:%M"
    return "%m-%d\\n%H:%M"


def gnuplot_input(xs, ys, title):
    script = (
        "reset\n"
        "set terminal svg size 800,400 dynamic noenhanced "
        "background '#ffffff' font 'sans,11'\n"
        "set output\n"
        f"set title '{title}'\n"
        "set xdata time\n"
        f"set format x \"{time_format(xs[-1] - xs[0])}\"\n"
        "set xlabel 'time (UTC)'\n"
        "set autoscale xfix\n"
        "set grid\n"
        "set key top left\n"
        f"plot '-' binary record={len(xs)} format='%float64%float64' "
        "using 1:2 with lines lw 1.5 lc rgb '#1f77b4' title 'average'\n")
    data = b"".join(struct.pack("<dd", x, y) for x, y in zip(xs, ys))
    return script.encode() + data + b"\nunset output\n"


def time_gnuplot(inp):
    t0 = time.perf_counter()
    out = subprocess.run(["gnuplot", "/dev/stdin"], input=inp,
                         capture_output=True, check=True)
    t1 = time.perf_counter()
    if b"</svg>" not in out.stdout:
        raise RuntimeError("gnuplot wrote no SVG: " + out.stderr.decode())
    return (t1 - t0) * 1e3


def main():
    cfg = json.load(sys.stdin)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.dates as mdates

    def time_matplotlib(xs, ys, title):
        t0 = time.perf_counter()
        fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
        ax.plot([x / 86400.0 for x in xs], ys, lw=1.5, color="#1f77b4",
                label="average")
        ax.xaxis_date()
        ax.xaxis.set_major_formatter(mdates.DateFormatter(
            time_format(xs[-1] - xs[0]).replace("\\n", "\n")))
        ax.set_xlim(xs[0] / 86400.0, xs[-1] / 86400.0)
        ax.set_title(title)
        ax.set_xlabel("time (UTC)")
        ax.grid(True)
        ax.legend(loc="upper left")
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
        plt.close(fig)
        t1 = time.perf_counter()
        if b"</svg>" not in buf.getvalue():
            raise RuntimeError("matplotlib wrote no SVG")
        return (t1 - t0) * 1e3

    values = cfg["values"]
    avg = rolling(values, WINDOW)
    xs_all = [cfg["base"] + i for i in range(len(values))]
    title = f"plot, average of the last {WINDOW} points"
    res = {"gnuplot": {}, "matplotlib": {}}
    time_matplotlib(xs_all[:10], avg[:10], title)     # warm-up
    for size in cfg["sizes"]:
        xs, ys = xs_all[-size:], avg[-size:]
        inp = gnuplot_input(xs, ys, title)
        n = cfg["n"][str(size)]
        g, m = [], []
        for _ in range(cfg["reps"]):
            g.append(statistics.median(time_gnuplot(inp) for _ in range(n)))
            m.append(statistics.median(time_matplotlib(xs, ys, title)
                                       for _ in range(n)))
        res["gnuplot"][str(size)] = g
        res["matplotlib"][str(size)] = m
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
