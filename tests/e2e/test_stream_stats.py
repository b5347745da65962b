"""WebSocket /stream beyond the average: several windows and any figures
in one subscription, a message-rate limit, offsets and resuming after a
reconnect."""
import json
import math
import time
import unittest

import numpy

from harness import Server, WSReader, close_rel, mean


class StreamStats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("series.history=100", "stream.backlog=20")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.socks = []

    def tearDown(self):
        for ws in self.socks:
            ws.close()

    def reader(self, query=""):
        ws = self.srv.ws(query)
        self.socks.append(ws)
        return ws, WSReader(ws)

    def of_type(self, msgs, t):
        return [m for m in msgs if m.get("type") == t]

    def test_several_windows_and_figures(self):
        vals = [float((i * 7) % 11) for i in range(30)]
        stamps = [2000.0 + i for i in range(30)]
        self.srv.ingest_points("ss.multi", vals[:10], stamps[:10])
        ws, rd = self.reader()
        ws.send(json.dumps({"subscribe": {
            "series": "ss.multi", "windows": [5, "8s"],
            "aggregates": ["count", "mean", "p90", "stddev", "max"]}}))
        msgs = rd.wait_until(lambda m: self.of_type(m, "snapshot"))
        self.assertEqual(msgs[0]["type"], "history")
        self.assertEqual([p["offset"] for p in msgs[0]["points"]],
                         list(range(1, 11)))
        self.srv.ingest_points("ss.multi", vals[10:], stamps[10:])
        msgs = rd.wait_until(lambda m: len(self.of_type(m, "stats")) >= 20)
        live = self.of_type(msgs, "stats")
        self.assertEqual([m["offset"] for m in live], list(range(11, 31)))
        last = live[-1]
        self.assertEqual(last["value"], vals[-1])
        w5, w8 = last["windows"]
        self.assertEqual((w5["window_size"], w8["window"]), (5, "8s"))
        self.assertEqual(sorted(w5), sorted(["window_size", "count", "mean",
                                             "p90", "stddev", "max"]))
        for w, pts in ((w5, vals[-5:]), (w8, vals[-8:])):
            a = numpy.array(pts)
            self.assertEqual(w["count"], len(pts))
            self.assertTrue(close_rel(w["mean"], mean(pts)))
            self.assertEqual(w["p90"], float(numpy.percentile(a, 90)))
            self.assertTrue(close_rel(w["stddev"], float(a.std()), 1e-9))
            self.assertEqual(w["max"], max(pts))

    def test_interval_limits_the_rate(self):
        ws, rd = self.reader()
        ws.send(json.dumps({"subscribe": {
            "series": "ss.rate", "window": "1h", "interval_ms": 300}}))
        rd.wait_until(lambda m: self.of_type(m, "snapshot"))
        start = time.time()
        for i in range(40):
            self.srv.ingest_points("ss.rate", [float(i)])
        msgs = rd.wait_until(
            lambda m: any(x.get("offset") == 40
                          for x in self.of_type(m, "stats")),
            what="the latest figures")
        took = time.time() - start
        live = self.of_type(msgs, "stats")
        # At most one message per 300 ms, plus the one a point may send at
        # once; the last carries the latest figures.
        self.assertLessEqual(len(live), 2 + took / 0.3)
        self.assertEqual(live[-1]["windows"][0]["count"], 40)
        self.assertEqual(live[-1]["windows"][0]["mean"], mean(range(40)))
        offs = [m["offset"] for m in live]
        self.assertEqual(offs, sorted(offs))

    def test_resume_recovers_missed_points(self):
        self.srv.ingest_points("ss.res", [1.0, 2.0, 3.0])
        ws, rd = self.reader("series=ss.res&window_size=2")
        self.srv.ingest_points("ss.res", [4.0])
        msgs = rd.wait_until(lambda m: self.of_type(m, "average"))
        seen = self.of_type(msgs, "average")[-1]["offset"]
        self.assertEqual(seen, 4)
        ws.close()
        self.srv.ingest_points("ss.res", [5.0, 6.0, 7.0])
        ws, rd = self.reader("series=ss.res&window_size=2&resume_from=%d"
                             % seen)
        msg = rd.wait_count(1)[0]
        self.assertEqual((msg["type"], msg["recovered"], msg["offset"]),
                         ("resume", True, 7))
        self.assertEqual([(p["offset"], p["value"], p["average"])
                          for p in msg["points"]],
                         [(5, 5.0, 4.5), (6, 6.0, 5.5), (7, 7.0, 6.5)])
        self.srv.ingest_points("ss.res", [8.0])
        msgs = rd.wait_until(lambda m: self.of_type(m, "average"))
        self.assertEqual(self.of_type(msgs, "average")[0]["offset"], 8)

    def test_resume_gap_too_old_says_so(self):
        self.srv.ingest_points("ss.gap", [float(i) for i in range(150)])
        ws, rd = self.reader()
        # 100 retained: offsets 51..150; 10 is gone, 140 is within reach
        # but 145 - 100 is more than the backlog of 20.
        ws.send(json.dumps({"subscribe": [
            {"series": "ss.gap", "window": "1d", "resume_from": 10},
            {"series": "ss.gap", "window_size": 3, "resume_from": 100},
            {"series": "ss.gap", "windows": [4], "resume_from": 140}]}))
        msgs = rd.wait_count(7)
        res = self.of_type(msgs, "resume")
        self.assertEqual([(m["recovered"], m["from"]) for m in res],
                         [(False, 10), (False, 100), (True, 140)])
        self.assertEqual(res[0]["retained_from"], 51)
        self.assertEqual([p["offset"] for p in res[2]["points"]],
                         list(range(141, 151)))
        hist = self.of_type(msgs, "history")
        self.assertEqual(len(hist), 2)
        self.assertEqual(hist[1]["points"][-1]["offset"], 150)
        snaps = self.of_type(msgs, "snapshot")
        self.assertEqual([s["offset"] for s in snaps], [150, 150])
        self.assertEqual(snaps[1]["windows"][0]["mean"], 147.5)

    def test_bad_specs_are_answered(self):
        ws, rd = self.reader()
        bad = [{"series": "ss.bad"},
               {"series": "ss.bad", "window_size": 3, "window": "5s"},
               {"series": "ss.bad", "window": "5m", "windows": [5]},
               {"series": "ss.bad", "windows": []},
               {"series": "ss.bad", "windows": [1] * 9},
               {"series": "ss.bad", "window": "5q"},
               {"series": "ss.bad", "window": "5s", "aggregates": ["p42"]},
               {"series": "ss.bad", "window": "5s", "interval_ms": 5},
               {"series": "ss.bad", "window": "5s", "halflife": "x"},
               {"series": "ss.bad", "window": "5s", "resume_from": -1}]
        for b in bad:
            ws.send(json.dumps({"subscribe": b}))
        msgs = rd.wait_count(len(bad))
        self.assertEqual([m["type"] for m in msgs], ["error"] * len(bad))


if __name__ == "__main__":
    unittest.main()
