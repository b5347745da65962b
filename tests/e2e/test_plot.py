"""GET /plot: gnuplot's SVG of the rolling average, parameter checks,
concurrent requests, and series names that must never reach gnuplot."""
import json
import os
import re
import threading
import unittest

from harness import Server, quote, strict_json


def svg_ok(test, status, headers, body):
    test.assertEqual(status, 200, body[:300])
    test.assertTrue(headers["Content-Type"].startswith("image/svg+xml"),
                    headers["Content-Type"])
    text = body.decode("utf-8")
    test.assertIn("<svg", text)
    test.assertTrue(text.rstrip().endswith("</svg>"), text[-200:])
    test.assertEqual(text.count("<svg"), 1)
    test.assertIn("Gnuplot", text)
    return text


class Plot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def plot(self, query):
        return self.srv.request("/plot?" + query)

    def test_known_points(self):
        values = [float(v) for v in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5)]
        stamps = [1600000000.0 + 60 * i for i in range(len(values))]
        self.srv.ingest_points("pl.known", values, stamps)
        text = svg_ok(self, *self.plot("series=pl.known&window_size=3"))
        titles = re.findall(r"<text>([^<]*)</text>", text)
        self.assertTrue(any("pl.known" in t and "3" in t for t in titles),
                        titles)
        self.assertNotIn("no data", text)
        # Width and height are honoured.
        text = svg_ok(self, *self.plot(
            "series=pl.known&window_size=2&points=5&width=640&height=300"))
        self.assertIn('viewBox="0 0 640 300"', text)
        # A time window works as in /average, and says so in the title.
        text = svg_ok(self, *self.plot("series=pl.known&window=5m"))
        titles = re.findall(r"<text>([^<]*)</text>", text)
        self.assertTrue(any("average of 5m" in t for t in titles), titles)
        status, _, _ = self.srv.request("/plot?series=pl.known&window=5x")
        self.assertEqual(status, 400)

    def test_several_series_raw_values_and_band(self):
        stamps = [1600000000.0 + 60 * i for i in range(30)]
        self.srv.ingest_points("pl.m1", [float(i % 7) for i in range(30)],
                               stamps)
        self.srv.ingest_points("pl.m2", [float(i % 5) for i in range(30)],
                               stamps)
        text = svg_ok(self, *self.plot(
            "series=pl.m1,pl.m2&window_size=4&raw=1&band=1"))
        legend = set(re.findall(r"<text>([^<]*)</text>", text))
        for name in ("pl.m1", "pl.m2"):
            for what in ("average", "value", "min-max"):
                self.assertIn("%s %s" % (name, what), legend)
        # Each series must exist, and the list is bounded.
        status, _, body = self.plot("series=pl.m1,pl.nothere&window_size=4")
        self.assertEqual(status, 404, body)
        self.assertIn(b"pl.nothere", body)
        for bad in ("series=pl.m1,,pl.m2&window_size=4",
                    "series=" + ",".join(["pl.m1"] * 9) + "&window_size=4",
                    "series=pl.m1&window_size=4&raw=2",
                    "series=pl.m1&window_size=4&band=yes",
                    "series=pl.m1&window_size=4&format=gif"):
            with self.subTest(query=bad):
                status, _, body = self.plot(bad)
                self.assertEqual(status, 400, body)
                self.assertIn("error", strict_json(body))

    def test_png_and_pdf(self):
        self.srv.ingest_points("pl.bin", [1.0, 3.0, 2.0, 5.0],
                               [1600000000.0 + i for i in range(4)])
        status, headers, body = self.plot(
            "series=pl.bin&window_size=2&format=png")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "image/png")
        self.assertEqual(body[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(body[-8:-4], b"IEND")
        status, headers, body = self.plot(
            "series=pl.bin&window_size=2&format=pdf")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/pdf")
        self.assertEqual(body[:5], b"%PDF-")
        self.assertIn(b"%%EOF", body[-32:])

    def test_repeated_plot_comes_from_the_cache_until_data_changes(self):
        stamps = [1600000000.0 + i for i in range(10)]
        self.srv.ingest_points("pl.cache", [float(i) for i in range(10)],
                               stamps)
        query = "series=pl.cache&window_size=3&width=500"
        first = self.plot(query)
        before = self.srv.metrics()
        second = self.plot(query)
        after = self.srv.metrics()
        self.assertEqual(first[2], second[2])
        self.assertEqual(after["streamavg_plots_cached_total"],
                         before["streamavg_plots_cached_total"] + 1)
        self.assertEqual(after["streamavg_plots_total"],
                         before["streamavg_plots_total"])
        # A new point is new data: drawn again, not served stale.
        self.srv.ingest_points("pl.cache", [100.0], [1600000010.0])
        third = self.plot(query)
        final = self.srv.metrics()
        self.assertNotEqual(third[2], second[2])
        self.assertEqual(final["streamavg_plots_total"],
                         after["streamavg_plots_total"] + 1)

    def test_empty_series_says_no_data(self):
        text = svg_ok(self, *self.plot("series=default&window_size=5"))
        self.assertIn("no data", text)

    def test_flat_and_single_point_series(self):
        self.srv.ingest_points("pl.flat", [2.5] * 30,
                               [1600000000.0 + i for i in range(30)])
        svg_ok(self, *self.plot("series=pl.flat&window_size=4"))
        self.srv.ingest_points("pl.one", [7.0], [1600000000.0])
        svg_ok(self, *self.plot("series=pl.one&window_size=4"))
        # Identical timestamps: a zero-width time axis.
        self.srv.ingest_points("pl.samets", [1.0, 2.0, 3.0],
                               [1600000000.0] * 3)
        svg_ok(self, *self.plot("series=pl.samets&window_size=2"))

    def test_extreme_values(self):
        self.srv.ingest_points("pl.huge", [1e308, -1e308, 1e-300, 0.0],
                               [1600000000.0 + i for i in range(4)])
        svg_ok(self, *self.plot("series=pl.huge&window_size=1"))

    def check_400(self, query):
        status, headers, body = self.plot(query)
        self.assertEqual(status, 400, (query, body))
        self.assertTrue(headers["Content-Type"].startswith(
            "application/json"))
        self.assertIn("error", strict_json(body))

    def test_bad_parameters_400(self):
        self.srv.ingest_points("pl.params", [1.0, 2.0],
                               [1600000000.0, 1600000001.0])
        base = "series=pl.params"
        for q in ("", "&window_size=", "&window_size=abc", "&window_size=0",
                  "&window_size=-1", "&window_size=1.5",
                  "&window_size=100001",
                  "&window_size=2&width=abc", "&window_size=2&width=99",
                  "&window_size=2&width=10001", "&window_size=2&height=-5",
                  "&window_size=2&height=1e3", "&window_size=2&points=0",
                  "&window_size=2&points=10001", "&window_size=2&points=x"):
            with self.subTest(q=q):
                self.check_400(base + q)

    # Query arguments are found whatever the length of the ones before.
    def test_long_series_name_before_window_size(self):
        name = "P" * 255
        self.srv.ingest_points(name, [1.0, 2.0], [1600000000.0, 1600000001.0])
        svg_ok(self, *self.plot("window_size=2&series=" + name))
        svg_ok(self, *self.plot("series=%s&window_size=2" % name))

    # A value too long to be valid is refused, never taken as absent.
    def test_over_long_series_name_is_400(self):
        self.check_400("window_size=2&series=" + "P" * 400)

    def test_unknown_series_404(self):
        status, headers, body = self.plot("series=pl.nothere&window_size=2")
        self.assertEqual(status, 404)
        self.assertIn("error", strict_json(body))

    def test_injection_in_series_name_refused(self):
        marker = "/tmp/streamavg-e2e-inject-%d" % os.getpid()
        names = ["a';system('touch %s')" % marker,
                 "a`touch %s`" % marker,
                 "a'\nsystem(\"touch %s\")\n'" % marker,
                 "a\"; ! touch %s" % marker,
                 "a' . system('touch %s') . '" % marker,
                 "a$(touch %s)" % marker]
        try:
            for name in names:
                with self.subTest(name=name):
                    self.check_400("series=%s&window_size=2" % quote(name))
                    status, out = self.srv.average(name, window_size=2)
                    self.assertEqual(status, 400)
            # And they cannot be created through ingest either.
            for name in names:
                status, out = self.srv.ingest(
                    ['{"series": %s, "value": 1}' % json.dumps(name)])
                self.assertEqual(status, 400)
            svg_ok(self, *self.plot("series=default&window_size=2"))
            self.assertFalse(os.path.exists(marker))
        finally:
            if os.path.exists(marker):
                os.unlink(marker)

    def test_concurrent_identical_requests_all_answered(self):
        values = [float(i % 50) for i in range(5000)]
        self.srv.ingest_points("pl.conc", values,
                               [1600000000.0 + i for i in range(5000)])
        before = self.srv.metrics()
        results = []
        lock = threading.Lock()

        def one():
            r = self.plot("series=pl.conc&window_size=20&points=5000")
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(results), 8)
        bodies = set()
        for r in results:
            svg_ok(self, *r)
            bodies.add(r[2])
        # The same data and parameters: the same picture every time.
        self.assertEqual(len(bodies), 1)
        after = self.srv.metrics()
        drawn = after["streamavg_plots_total"] - before["streamavg_plots_total"]
        joined = (after["streamavg_plots_coalesced_total"] -
                  before["streamavg_plots_coalesced_total"])
        cached = (after["streamavg_plots_cached_total"] -
                  before["streamavg_plots_cached_total"])
        self.assertGreaterEqual(drawn, 1)
        self.assertEqual(drawn + joined + cached, 8)
        self.assertEqual(after["streamavg_plots_failed_total"],
                         before["streamavg_plots_failed_total"])


if __name__ == "__main__":
    unittest.main()
