"""gnuplot missing, crashing, hanging or writing garbage: /plot answers a
5xx JSON error within plot.timeout_ms, the worker replaces its child (the
next plot is drawn), and other requests are not slowed down meanwhile."""
import os
import stat
import tempfile
import threading
import time
import unittest

from harness import SLOW, Server, strict_json

TIMEOUT_MS = 1000

# Each stand-in misbehaves once (the first child it becomes), then the
# replacement child is the real gnuplot.  $1 is the marker file.
ONCE = """#!/bin/sh
if [ -e "%(marker)s" ]; then exec /usr/bin/gnuplot "$@"; fi
: > "%(marker)s"
%(body)s
"""
FAULTS = {
    # Reads the job's first line, then dies of a signal.
    "crash": 'read line; kill -SEGV $$',
    # Never answers.
    "hang": 'exec sleep 300',
    # Answers the job with bytes that are not SVG and no end marker.
    "garbage": 'read line; head -c 300000 /dev/urandom; exec sleep 300',
    # Exits at once, before any job.
    "exit": 'exit 3',
}


def stand_in(test, name, body):
    d = tempfile.mkdtemp(prefix="fake-gnuplot-")
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(ONCE % {"marker": os.path.join(d, "done"), "body": body})
    os.chmod(path, stat.S_IRWXU)

    def cleanup():
        for p in os.listdir(d):
            os.unlink(os.path.join(d, p))
        os.rmdir(d)
    test.addCleanup(cleanup)
    return path


@unittest.skipIf(SLOW, "measures time")
class PlotFaults(unittest.TestCase):
    def check_fault(self, name):
        srv = Server("plot.gnuplot=" + stand_in(self, name, FAULTS[name]),
                     "plot.timeout_ms=%d" % TIMEOUT_MS, "plot.max_procs=1")
        try:
            srv.ingest_points("pf.s", [float(i) for i in range(50)],
                              [1600000000.0 + i for i in range(50)])
            answer = []
            t0 = time.time()
            t = threading.Thread(target=lambda: answer.append(
                srv.request("/plot?series=pf.s&window_size=3")))
            t.start()
            # Meanwhile the loop answers at once.
            slowest = 0.0
            while t.is_alive():
                a = time.time()
                self.assertEqual(srv.average("pf.s", window_size=3)[0], 200)
                slowest = max(slowest, time.time() - a)
                time.sleep(0.05)
            t.join()
            took = time.time() - t0
            status, headers, body = answer[0]
            self.assertIn(status, (500, 502, 503, 504), body[:200])
            self.assertTrue(headers["Content-Type"].startswith(
                "application/json"))
            self.assertIn("error", strict_json(body))
            self.assertLess(took, TIMEOUT_MS / 1000.0 + 1.5)
            self.assertLess(slowest, 0.5)
            # The worker replaced its child: the next plot is drawn.
            status, headers, body = srv.request(
                "/plot?series=pf.s&window_size=3")
            self.assertEqual(status, 200, body[:300])
            self.assertIn(b"<svg", body)
            self.assertGreaterEqual(
                srv.metrics()["streamavg_plots_failed_total"], 1)
        finally:
            srv.stop()

    def test_crashing_gnuplot(self):
        self.check_fault("crash")

    def test_hanging_gnuplot(self):
        self.check_fault("hang")

    def test_garbage_from_gnuplot(self):
        self.check_fault("garbage")

    def test_gnuplot_that_died_while_idle(self):
        # Found dead before the job is given to it: replaced first, so
        # even the first plot is drawn.
        srv = Server("plot.gnuplot=" + stand_in(self, "exit", FAULTS["exit"]),
                     "plot.max_procs=1")
        try:
            status, _, body = srv.request("/plot?window_size=3")
            self.assertEqual(status, 200, body[:300])
        finally:
            srv.stop()

    def test_missing_gnuplot(self):
        srv = Server("plot.gnuplot=/nonexistent/gnuplot")
        try:
            status, headers, body = srv.request("/plot?window_size=3")
            self.assertEqual(status, 503)
            err = strict_json(body)["error"]
            self.assertIn("/nonexistent/gnuplot", err)
            self.assertIn("plot.gnuplot", err)
            # Everything else works.
            self.assertEqual(srv.average("default", window_size=3)[0], 200)
        finally:
            log = srv.stop()
        self.assertIn("cannot start the plot workers", log)


if __name__ == "__main__":
    unittest.main()
