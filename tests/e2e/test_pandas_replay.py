"""The Seattle hourly normals replayed with tools/replay.py, every rolling
figure the server pushes compared with pandas' rolling functions on the
same file: count windows (24 and 168 points) and time windows (6h, 7d),
mean, min, max and the standard deviation (pandas' std is the sample one,
ddof=1)."""
import json
import os
import subprocess
import unittest

import pandas

from harness import ROOT, Server, WSReader

REPLAY = os.path.join(ROOT, "tools", "replay.py")
DATA = os.path.join(ROOT, "data", "seattle-weather-hourly-normals.csv")
SERIES = "seattle.temperature"
WINDOWS = [24, 168, "6h", "7d"]


@unittest.skipUnless(os.path.exists(DATA), "the Seattle CSV is missing")
class PandasReplay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("stream.queue_max=20000", "stream.backlog=0")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_rolling_figures_match_pandas(self):
        df = pandas.read_csv(DATA, parse_dates=["date"])
        df = df.set_index("date").sort_index()
        temp = df["temperature"].astype(float)
        n = len(temp)

        ws = self.srv.ws()
        reader = WSReader(ws)
        try:
            ws.send(json.dumps({"subscribe": {
                "series": SERIES, "windows": WINDOWS,
                "aggregates": ["count", "mean", "min", "max",
                               "stddev_sample"]}}))
            reader.wait_count(2)        # the empty history and snapshot
            p = subprocess.run(
                ["/usr/bin/python3", REPLAY, DATA, "--fast",
                 "--value-column", "temperature", "--series", SERIES,
                 "--url", self.srv.base], cwd=ROOT, timeout=300,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 0, p.stderr)
            msgs = reader.wait_count(2 + n, timeout=120)[2:]
        finally:
            ws.close()
        self.assertEqual([m["offset"] for m in msgs], list(range(1, n + 1)))

        for k, w in enumerate(WINDOWS):
            roll = temp.rolling(w if isinstance(w, int) else w,
                                min_periods=1)
            want = {"mean": roll.mean().tolist(), "min": roll.min().tolist(),
                    "max": roll.max().tolist(),
                    "stddev_sample": roll.std().tolist(),
                    "count": roll.count().tolist()}
            worst = 0.0
            for i, m in enumerate(msgs):
                got = m["windows"][k]
                self.assertEqual(got["count"], want["count"][i], (w, i))
                self.assertEqual(got["min"], want["min"][i], (w, i))
                self.assertEqual(got["max"], want["max"][i], (w, i))
                self.assertAlmostEqual(got["mean"], want["mean"][i],
                                       delta=1e-9, msg=(w, i))
                sd = want["stddev_sample"][i]
                if got["count"] < 2:
                    self.assertIsNone(got["stddev_sample"])
                    continue
                # pandas keeps running sums, so its std drifts by ~1e-12
                # on this data; the server recomputes from the tree.
                self.assertAlmostEqual(got["stddev_sample"], sd, delta=1e-7,
                                       msg=(w, i))
                worst = max(worst, abs(got["stddev_sample"] - sd))
            print("window %r: largest stddev difference from pandas %.3g"
                  % (w, worst))


if __name__ == "__main__":
    unittest.main()
