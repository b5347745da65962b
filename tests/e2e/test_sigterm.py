"""SIGTERM stops the server cleanly (exit 0, no sanitizer report) while a
WebSocket client is connected and a plot is being drawn."""
import os
import stat
import tempfile
import threading
import unittest

from harness import Server, wait_for

# A gnuplot that takes its time: it sleeps before becoming the real one, so
# the plot is certainly still being drawn when SIGTERM arrives.  The server
# kills its plot children's process groups at shutdown.
SLOW_GNUPLOT = """#!/usr/bin/python3
import os, sys, time
time.sleep(60)
os.execv("/usr/bin/gnuplot", ["gnuplot"] + sys.argv[1:])
"""


class Sigterm(unittest.TestCase):
    def test_sigterm_with_ws_client_and_plot_in_flight(self):
        fd, mock = tempfile.mkstemp(prefix="slow-gnuplot-", suffix=".py")
        with os.fdopen(fd, "w") as f:
            f.write(SLOW_GNUPLOT)
        os.chmod(mock, stat.S_IRWXU)
        self.addCleanup(os.unlink, mock)

        srv = Server("plot.gnuplot=%s" % mock, "plot.timeout_ms=120000",
                     "plot.max_procs=1")
        ws = None
        try:
            srv.ingest_points("sig.s", [float(i) for i in range(100)],
                              [1600000000.0 + i for i in range(100)])
            ws = srv.ws("series=sig.s&window_size=3")
            self.assertEqual(ws.recv()[:17], '{"type":"history"')

            answers = []
            t = threading.Thread(target=lambda: answers.append(
                _try(srv.request, "/plot?series=sig.s&window_size=3")),
                daemon=True)
            before = srv.metrics()["streamavg_http_requests_total"]
            t.start()
            polls = [0]

            def plot_arrived():
                polls[0] += 1
                seen = srv.metrics()["streamavg_http_requests_total"]
                # Each /metrics counts itself; one more is the plot.
                return seen >= before + polls[0] + 1
            wait_for(plot_arrived, what="the plot request to arrive")
            self.assertTrue(t.is_alive())       # still being drawn
        finally:
            log = srv.stop()        # asserts exit 0 and a clean log
            if ws:
                ws.close()
        t.join(30)
        self.assertFalse(t.is_alive(), "the plot request never ended")
        self.assertIn("stopping", log)

    def test_sigterm_with_real_gnuplot_busy(self):
        srv = Server()
        try:
            srv.ingest_points("sig.r", [float(i % 97) for i in range(10000)],
                              [1600000000.0 + i for i in range(10000)],
                              batch=5000)
            ws = srv.ws("series=sig.r&window_size=10")
            ws.recv()
            threads = [threading.Thread(target=_try, daemon=True, args=(
                srv.request, "/plot?series=sig.r&window_size=%d&points=10000"
                % w)) for w in (1, 2, 3, 4)]
            for t in threads:
                t.start()
        finally:
            srv.stop()
        ws.close()


def _try(fn, *args):
    try:
        return fn(*args)
    except Exception as e:      # the server went away mid-answer: fine
        return e


if __name__ == "__main__":
    unittest.main()
