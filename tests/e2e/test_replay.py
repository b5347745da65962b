"""tools/replay.py end to end: the earthquake feed replayed with --fast,
checked against averages computed here from the file itself."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import ROOT, Server, WSReader, close_rel, mean

REPLAY = os.path.join(ROOT, "tools", "replay.py")
DATA = os.path.join(ROOT, "data", "earthquakes.json")
SERIES = "earthquakes.magnitude"


def quake_points(doc):
    """(feature index, time ms, magnitude) of the features with a
    magnitude, oldest first; ties keep the file's order (a stable sort)."""
    pts = [(i, f["properties"]["time"], float(f["properties"]["mag"]))
           for i, f in enumerate(doc["features"])
           if f["properties"].get("mag") is not None]
    pts.sort(key=lambda p: p[1])
    return pts


def replay(*args):
    p = subprocess.run(["/usr/bin/python3", REPLAY] + list(args), cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@unittest.skipUnless(os.path.exists(REPLAY) and os.path.exists(DATA),
                     "tools/replay.py or data/earthquakes.json missing")
class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A queue longer than the feed, so a subscriber that reads a bit
        # behind a --fast replay still gets every average.
        cls.srv = Server("stream.queue_max=4096")
        with open(DATA, encoding="utf-8") as f:
            cls.doc = json.load(f)
        cls.points = quake_points(cls.doc)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_help(self):
        rc, out, err = replay("--help")
        self.assertEqual(rc, 0)
        for opt in ("--fast", "--url"):
            self.assertIn(opt, out)

    def test_replay_fast(self):
        pts = self.points
        mags = [m for _, _, m in pts]
        self.assertGreater(len(mags), 100)

        # A subscription needs the series to exist: replay the oldest point
        # alone first, subscribe, then replay a copy of the file without
        # that one feature.  The server then holds the whole feed in order.
        rc, out, err = replay(DATA, "--fast", "--limit", "1",
                              "--url", self.srv.base)
        self.assertEqual(rc, 0, err)
        ws = self.srv.ws("series=%s&window_size=5" % SERIES)
        reader = WSReader(ws)
        try:
            hist = reader.wait_count(1)[0]
            self.assertEqual(hist["type"], "history")
            self.assertEqual([p["value"] for p in hist["points"]], mags[:1])

            rest = dict(self.doc)
            first = pts[0][0]
            rest["features"] = [f for i, f in enumerate(self.doc["features"])
                                if i != first]
            with tempfile.NamedTemporaryFile("w", suffix=".json",
                                             delete=False) as f:
                json.dump(rest, f)
            self.addCleanup(os.unlink, f.name)
            rc, out, err = replay(f.name, "--fast", "--url", self.srv.base)
            self.assertEqual(rc, 0, err)

            for n in (5, 100, 1000, len(mags)):
                status, got = self.srv.average(SERIES, window_size=n)
                self.assertEqual(status, 200)
                self.assertEqual(got["count"], min(n, len(mags)))
                self.assertTrue(close_rel(got["average"], mean(mags[-n:])),
                                (n, got, mean(mags[-n:])))
            info = self.srv.series_info(SERIES)
            self.assertEqual((info["count"], info["total"]),
                             (len(mags), len(mags)))
            self.assertEqual(info["last_value"], mags[-1])
            self.assertAlmostEqual(info["last_timestamp"], pts[-1][1] / 1000,
                                   delta=1e-6)

            # One average per replayed point, in time order.
            msgs = reader.wait_count(len(mags))
            live = msgs[1:]
            self.assertEqual(len(live), len(mags) - 1)
            self.assertTrue(all(m["type"] == "average" and
                                "dropped" not in m for m in live))
            self.assertEqual([m["value"] for m in live], mags[1:])
            stamps = [m["timestamp"] for m in live]
            self.assertEqual(stamps, sorted(stamps))
            for k, m in enumerate(live):
                i = k + 1
                exp = mean(mags[max(0, i - 4):i + 1])
                self.assertTrue(close_rel(m["average"], exp), (i, m, exp))
                self.assertEqual(m["count"], min(5, i + 1))
                self.assertAlmostEqual(m["timestamp"], pts[i][1] / 1000,
                                       delta=1e-6)
        finally:
            ws.close()

        status, headers, body = self.srv.request(
            "/plot?series=%s&window_size=20&points=2000" % SERIES)
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("image/svg+xml"))
        self.assertTrue(body.rstrip().endswith(b"</svg>"))
        self.assertIn(SERIES.encode(), body)


if __name__ == "__main__":
    unittest.main()
