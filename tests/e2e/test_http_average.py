"""GET /average: count and time windows over points whose average the test
computes itself, and the accuracy promises of the window maths."""
import random
import unittest

from harness import Server, close_rel, mean

HISTORY = 1000


class Average(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("series.history=%d" % HISTORY)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def avg(self, series, **params):
        status, out = self.srv.average(series, **params)
        self.assertEqual(status, 200, out)
        self.assertEqual(out["series"], series)
        return out

    def test_empty_series_average_is_null(self):
        # 'default' exists from the start; the generator is off.
        out = self.avg("default", window_size=5)
        self.assertEqual(out["count"], 0)
        self.assertIsNone(out["average"])
        status, out = self.srv.get_json("/average?window_size=3")[0::2]
        self.assertEqual(status, 200)
        self.assertEqual((out["series"], out["count"], out["average"]),
                         ("default", 0, None))
        out = self.avg("default", window="30s")
        self.assertEqual((out["count"], out["average"]), (0, None))

    def test_fewer_points_than_window(self):
        values = [2.5, 7.0, -1.25]
        self.srv.ingest_points("avg.few", values)
        out = self.avg("avg.few", window_size=10)
        self.assertEqual(out["window_size"], 10)
        self.assertEqual(out["count"], len(values))
        self.assertEqual(out["average"], mean(values))

    def test_window_ends_at_newest_point(self):
        values = [float(v) for v in (3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8)]
        self.srv.ingest_points("avg.newest", values)
        for n in (1, 2, 3, 5, 8, len(values), len(values) + 5):
            out = self.avg("avg.newest", window_size=n)
            self.assertEqual(out["count"], min(n, len(values)))
            self.assertEqual(out["average"], mean(values[-n:]), n)
        # One more point moves every window along by one.
        values.append(97.0)
        self.srv.ingest_points("avg.newest", [97.0])
        for n in (1, 4, 7):
            out = self.avg("avg.newest", window_size=n)
            self.assertEqual(out["average"], mean(values[-n:]), n)

    def test_points_in_one_request_are_applied_in_order(self):
        values = [float(i * i % 17) for i in range(40)]
        self.srv.ingest_points("avg.order", values)
        for n in range(1, 41, 3):
            self.assertEqual(self.avg("avg.order", window_size=n)["average"],
                             mean(values[-n:]), n)

    def test_duration_window(self):
        base = 1_600_000_000.0
        ts = [base + 0.5 * i for i in range(20)]       # 10 s of points
        values = [float((7 * i) % 11) - 3 for i in range(20)]
        self.srv.ingest_points("avg.time", values, ts)
        newest = ts[-1]
        for text, span in (("2s", 2.0), ("2500ms", 2.5), ("1s", 1.0),
                           ("500ms", 0.5), ("1m", 60.0), ("1h", 3600.0)):
            inside = [v for t, v in zip(ts, values) if t > newest - span]
            out = self.avg("avg.time", window=text)
            self.assertEqual(out["window"], text)
            self.assertEqual(out["count"], len(inside), text)
            self.assertTrue(close_rel(out["average"], mean(inside)), text)

    def test_duration_window_with_a_gap(self):
        ts = [1000.0, 1001.0, 1002.0, 1500.0, 1500.25]
        values = [10.0, 20.0, 30.0, 1.0, 2.0]
        self.srv.ingest_points("avg.gap", values, ts)
        for text, span in (("2s", 2), ("1m", 60), ("10m", 600)):
            inside = [v for t, v in zip(ts, values) if t > ts[-1] - span]
            out = self.avg("avg.gap", window=text)
            self.assertEqual(out["count"], len(inside), text)
            self.assertEqual(out["average"], mean(inside), text)

    def test_zeros_after_huge_values_average_exactly_zero(self):
        huge = [1e300, -1e300, 1e15, -1e15, 1e308, -1e308, 3.5e200, 1e-300,
                -7e15, 1e300]
        zeros = [0.0] * 8
        self.srv.ingest_points("avg.cancel", huge + zeros)
        for n in (1, 5, 8):
            out = self.avg("avg.cancel", window_size=n)
            self.assertEqual(out["count"], n)
            self.assertEqual(out["average"], 0.0, n)
        # Posted one at a time, too (the window slides over each point).
        for v in huge + zeros:
            self.srv.ingest_points("avg.cancel1", [v])
        self.assertEqual(self.avg("avg.cancel1", window_size=8)["average"],
                         0.0)

    def test_constant_window_is_exact(self):
        before = [1e17, 3.0, -2e16, 0.7]
        self.srv.ingest_points("avg.const", before + [0.1] * 9)
        for n in (1, 2, 3, 7, 9):
            self.assertEqual(self.avg("avg.const", window_size=n)["average"],
                             0.1, n)
        self.srv.ingest_points("avg.const3", [1 / 3] * 25)
        self.assertEqual(self.avg("avg.const3", window_size=25)["average"],
                         1 / 3)

    def test_non_negative_values_never_average_below_zero(self):
        values = [-1e300, -5e307, 1e300, 0.0, 5e-324, 0.0, 1e-320, 2e-310,
                  0.0, 1e-300]
        self.srv.ingest_points("avg.nonneg", values)
        for n in range(1, 8):
            out = self.avg("avg.nonneg", window_size=n)
            self.assertGreaterEqual(out["average"], 0.0, n)
            self.assertTrue(close_rel(out["average"], mean(values[-n:]),
                                      1e-9) or out["average"] <= 1e-299, n)

    def test_random_values_match_fsum(self):
        rng = random.Random(20240601)
        values = []
        for i in range(HISTORY + 237):     # more than the history holds
            scale = 10.0 ** rng.randint(-6, 9)
            values.append(rng.uniform(-1, 1) * scale)
        self.srv.ingest_points("avg.random", values, batch=500)
        for n in (1, 2, 7, 16, 17, 100, 333, 999, HISTORY):
            out = self.avg("avg.random", window_size=n)
            self.assertEqual(out["count"], n)
            exp = mean(values[-n:])
            self.assertTrue(close_rel(out["average"], exp), (n, out, exp))

    def test_window_size_at_history_bound(self):
        values = [float(i % 13) for i in range(HISTORY + 50)]
        self.srv.ingest_points("avg.bound", values, batch=1000)
        out = self.avg("avg.bound", window_size=HISTORY)
        self.assertEqual(out["count"], HISTORY)
        self.assertEqual(out["average"], mean(values[-HISTORY:]))


if __name__ == "__main__":
    unittest.main()
