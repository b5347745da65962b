#!/usr/bin/env python3
"""Graphite ingest, two (or more) streamavg binaries taking turns.

    python3 bench/ab_ingest.py OLD_BIN,NEW_BIN [RUNS [POINTS [KEY=VALUE...]]]

Each run starts every binary in turn (A, B, A, B, ...) with the settings
of bench/run.py (storage off, pinned to the server core) and sends it
POINTS Graphite points (default 1,000,000; 100 series, one connection)
with gsend, as `make bench BENCH_ONLY=ingest` does; it checks that every
point is held.  Printed: per binary, the median points/s and server CPU
per point, with the range.  On a shared machine the wall-clock figures of
one binary swing by 2x from run to run; taking turns lets both binaries
meet the same load, which is what makes a before/after comparison fair.
Needs build/bench/gsend (make bench-tools).
"""
import statistics
import sys
import tempfile

import run


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bins = sys.argv[1].split(",")
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
    opts = sys.argv[4:]
    tmp = tempfile.mkdtemp(prefix="ab-ingest-")
    res = {b: [] for b in bins}
    for _ in range(reps):
        for b in bins:
            run.STREAMAVG = b
            s = run.streamavg(tmp, *opts)
            try:
                c0 = s.cpu()
                out = run.gsend(s.gport, n, 1, 100)
                c1 = s.cpu()
                held = run.total_points(s.port)
                if held != n:
                    raise RuntimeError(f"{b} holds {held} of {n} points")
            finally:
                s.stop()
            res[b].append((out["points_per_s"], (c1 - c0) / n * 1e9))
    for b in bins:
        pps = [x[0] for x in res[b]]
        ns = [x[1] for x in res[b]]
        print(f"{b}: points/s median {statistics.median(pps):,.0f} "
              f"({min(pps):,.0f}..{max(pps):,.0f}); CPU per point median "
              f"{statistics.median(ns):.0f} ns ({min(ns):.0f}..{max(ns):.0f})")


if __name__ == "__main__":
    main()
