"""GET /stats against numpy on the same points, and the timestamp policy:
late points raised, duplicates kept, far-future points refused."""
import json
import math
import random
import time
import unittest

import numpy

from harness import Server, close_rel, mean

HISTORY = 2000


class Stats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("series.history=%d" % HISTORY,
                         "stats.exact_max=1500")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def stats(self, query, status=200):
        code, _, out = self.srv.get_json("/stats?" + query)
        self.assertEqual(code, status, out)
        return out

    def check(self, out, vals):
        a = numpy.array(vals, dtype=float)
        self.assertEqual(out["count"], len(vals))
        self.assertTrue(close_rel(out["mean"], mean(vals)))
        self.assertTrue(close_rel(out["sum"], math.fsum(vals)))
        self.assertEqual((out["min"], out["max"]), (min(vals), max(vals)))
        self.assertTrue(close_rel(out["stddev"], float(a.std()), 1e-9))
        if len(vals) > 1:
            self.assertTrue(close_rel(out["stddev_sample"],
                                      float(a.std(ddof=1)), 1e-9))
        for q in (50, 90, 99):
            self.assertEqual(out["p%d" % q], float(numpy.percentile(a, q)),
                             "p%d of %d points" % (q, len(vals)))

    def test_count_windows_match_numpy(self):
        rnd = random.Random(4)
        vals = [rnd.choice([rnd.uniform(-1e6, 1e6), float(rnd.randint(0, 9))])
                for _ in range(2500)]
        self.srv.ingest_points("st.count", vals, batch=500)
        kept = vals[-HISTORY:]
        for n in (1, 2, 7, 100, 999, 1500):
            out = self.stats("series=st.count&window_size=%d" % n)
            self.assertEqual(out["window_size"], n)
            self.assertEqual(out["offset"], 2500)
            self.check(out, kept[-n:])

    def test_time_window_and_ewma(self):
        ts = [1000.0 + i * 0.5 for i in range(200)]
        vals = [float(i % 17) for i in range(200)]
        self.srv.ingest_points("st.time", vals, ts)
        out = self.stats("series=st.time&window=10s&halflife=2s")
        # Timestamps strictly after 1099.5 - 10: the newest 20 points.
        self.check(out, vals[-20:])
        self.assertEqual(out["window"], "10s")
        w = [2 ** (-(ts[-1] - t) / 2.0) for t in ts[-20:]]
        want = math.fsum(x * y for x, y in zip(w, vals[-20:])) / math.fsum(w)
        self.assertTrue(close_rel(out["ewma"], want, 1e-12))
        self.assertEqual(out["halflife_seconds"], 2)
        out = self.stats("series=st.time&window_size=30&halflife=5")
        w = [2 ** (-(29 - i) / 5.0) for i in range(30)]
        want = math.fsum(x * y for x, y in zip(w, vals[-30:])) / math.fsum(w)
        self.assertTrue(close_rel(out["ewma"], want, 1e-12))
        self.assertEqual(out["halflife_points"], 5)

    def test_empty_and_over_exact_max(self):
        self.srv.ingest_points("st.big", [float(i) for i in range(1800)])
        out = self.stats("series=st.big&window_size=1600")
        self.assertEqual(out["count"], 1600)
        self.assertEqual(out["percentiles"], "sketch")
        self.assertEqual(out["percentile_relative_error"], 0.01)
        self.assertEqual(out["max"], 1799)
        # Above exact_max each of the two order statistics a percentile
        # interpolates between is estimated within 1%, so the answer is
        # within 1% of the larger of the two of numpy's.
        vals = sorted(float(i) for i in range(200, 1800))
        for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            k = int(q * (len(vals) - 1))
            exact = float(numpy.percentile(vals, q * 100))
            bound = 0.01 * max(abs(vals[k]), abs(vals[k + 1]))
            self.assertLessEqual(abs(out[key] - exact), bound * (1 + 1e-9),
                                 (key, out[key], exact))
        # ewma is still exact: the default half-life is 10 points.
        w = [2 ** (-(1599 - i) / 10.0) for i in range(1600)]
        want = math.fsum(x * y for x, y in zip(w, vals)) / math.fsum(w)
        self.assertTrue(close_rel(out["ewma"], want, 1e-12))
        out = self.stats("series=st.big&window_size=1500")
        self.assertEqual(out["percentiles"], "exact")
        out = self.stats("series=default&window=1h")
        self.assertEqual(out["count"], 0)
        for k in ("mean", "min", "max", "stddev", "p99", "ewma"):
            self.assertIsNone(out[k])
        out = self.stats("series=st.big&window_size=1")
        self.assertIsNone(out["stddev_sample"])
        self.assertEqual(out["stddev"], 0)

    def test_standing_windows_stay_exact(self):
        # Asked twice, a window becomes standing: its percentiles are then
        # kept point by point.  Each answer must still equal numpy's on
        # exactly the window's points, as the window slides and as the
        # ring evicts, for a count window and a time window.
        def live_windows():
            text = self.srv.get("/metrics")[1].decode()
            return [int(ln.split()[1]) for ln in text.splitlines()
                    if ln.startswith("streamavg_standing_windows ")]

        before = live_windows()
        rnd = random.Random(9)
        name = "st.standing"
        vals, ts = [], []
        t = 5000.0
        for rnd_round in range(12):
            batch = [rnd.choice([float(rnd.randint(-5, 5)),
                                 rnd.uniform(-1e3, 1e3)])
                     for _ in range(rnd.randint(1, 400))]
            stamps = []
            for _ in batch:
                t += rnd.choice([0.0, 0.25, 1.0])
                stamps.append(t)
            self.srv.ingest_points(name, batch, stamps)
            vals += batch
            ts += stamps
            kept_v, kept_t = vals[-HISTORY:], ts[-HISTORY:]
            out = self.stats("series=%s&window_size=700" % name)
            self.assertEqual(out["percentiles"], "exact")
            self.check(out, kept_v[-700:])
            # The ewma (default half-life: 10 points), kept standing too.
            win = kept_v[-700:]
            w = [2 ** (-(len(win) - 1 - i) / 10.0) for i in range(len(win))]
            want = math.fsum(x * y for x, y in zip(w, win)) / math.fsum(w)
            self.assertTrue(close_rel(out["ewma"], want, 1e-12),
                            (out["ewma"], want))
            out = self.stats("series=%s&window=90s" % name)
            self.check(out, [v for v, u in zip(kept_v, kept_t)
                             if u > kept_t[-1] - 90])
        self.assertEqual(live_windows(), [before[0] + 2])

    def test_sums_that_cancel_across_decades(self):
        # The double-double tree sum cannot hold 1e300 + 1 - 1e300, and
        # 1e308 + 1e308 overflows on the way; such windows are summed again
        # exactly.  The reference is exact rational arithmetic.
        from fractions import Fraction

        for name, vals in (("st.c1", [1e300, 1e200, 1e100, 1.0, -1e300,
                                      -1e200, -1e100]),
                           ("st.c2", [1e300, 1e200, 1.0, -1e300, -1e200]),
                           ("st.c3", [1e308, 1e308, -1e308, -1e308, 3.0])):
            exact = sum(Fraction(v) for v in vals)
            self.srv.ingest_points(name, vals)
            out = self.stats("series=%s&window_size=%d" % (name, len(vals)))
            self.assertEqual(out["sum"], float(exact))
            self.assertEqual(out["mean"], float(exact) / len(vals))
            code, _, avg = self.srv.get_json(
                "/average?series=%s&window_size=%d" % (name, len(vals)))
            self.assertEqual(avg["average"], float(exact) / len(vals))

    def test_ewma_with_extreme_values(self):
        # A value 300 decades larger than the rest, 100 half-lives back,
        # still dominates; one whose weight is 0 must vanish without
        # taking the tiny newest value with it.  Expected values come from
        # exact rational arithmetic.  Asked three times: one-off, then the
        # standing window's build, then the standing window.
        from fractions import Fraction

        def exact(vals, ages):
            num = sum(Fraction(v) / 2 ** a for v, a in zip(vals, ages))
            den = sum(Fraction(1) / 2 ** a for a in ages)
            return float(num / den)

        t = 7000.0
        vals = [-1e300] + [1.0] * 100
        self.srv.ingest_points("st.x1", vals, [t + i for i in range(101)])
        want = exact(vals, [100 - i for i in range(101)])
        for _ in range(3):
            out = self.stats("series=st.x1&window_size=101&halflife=1")
            self.assertTrue(close_rel(out["ewma"], want, 1e-12),
                            (out["ewma"], want))

        vals = [1.0] * 10 + [-1.7e308] + [0.5] * 9 + [1e-20]
        stamps = [t + i for i in range(20)] + [t + 9000]
        self.srv.ingest_points("st.x2", vals, stamps)
        ages = [int(stamps[-1] - u) // 2 for u in stamps]
        want = exact(vals, ages)
        for _ in range(3):
            out = self.stats("series=st.x2&window_size=21&halflife=2s")
            self.assertTrue(close_rel(out["ewma"], want, 1e-12),
                            (out["ewma"], want))

    def test_bad_parameters(self):
        for q in ("series=default", "series=default&window_size=0",
                  "series=default&window_size=3&halflife=0",
                  "series=default&window_size=3&halflife=5x",
                  "series=default&window_size=3&window=5s"):
            out = self.stats(q, 400)
            self.assertIn("error", out)
        self.stats("series=nope&window_size=3", 404)


class TimestampPolicy(unittest.TestCase):
    """README "Timestamps": late points are kept in arrival order with the
    newest timestamp; duplicates are separate points; a timestamp more
    than series.max_future seconds ahead of the clock is refused."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("series.max_future=60")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_late_points_take_the_newest_timestamp(self):
        self.srv.ingest_points("ts.late", [1, 2, 3, 4],
                               [100.0, 200.0, 150.0, 50.0])
        info = self.srv.series_info("ts.late")
        self.assertEqual(info["last_timestamp"], 200.0)
        self.assertEqual(info["last_value"], 4)
        out = self.srv.get_json("/stats?series=ts.late&window=1s")[2]
        # The three points stamped 200 after raising: 2, 3 and 4.
        self.assertEqual((out["count"], out["sum"], out["late"]), (3, 9, 2))

    def test_duplicates_are_separate_points(self):
        self.srv.ingest_points("ts.dup", [5, 5, 7], [300.0, 300.0, 300.0])
        out = self.srv.get_json("/stats?series=ts.dup&window=1s")[2]
        self.assertEqual((out["count"], out["sum"], out["late"]), (3, 17, 0))

    def test_far_future_is_refused(self):
        now = time.time()
        status, out = self.srv.ingest([
            json.dumps({"series": "ts.fut", "value": 1,
                        "timestamp": now + 30}),
            json.dumps({"series": "ts.fut", "value": 2,
                        "timestamp": now + 3600})])
        self.assertEqual((status, out["accepted"], out["rejected"]),
                         (200, 1, 1))
        self.assertIn("max_future", out["errors"][0]["error"])
        # Graphite lines follow the same rule.
        with self.srv.graphite() as g:
            g.sendall(b"ts.fut 3 %d\nts.fut 4 %d\n" %
                      (int(now) + 7200, int(now) + 10))
        self.srv.wait_points("ts.fut", 2)
        time.sleep(0.2)
        self.assertEqual(self.srv.series_info("ts.fut")["total"], 2)


if __name__ == "__main__":
    unittest.main()
