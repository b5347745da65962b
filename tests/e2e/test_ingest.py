"""POST /ingest in its three formats, partial rejections, timestamps."""
import json
import time
import unittest

from harness import Server, mean


class Ingest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Timestamps up to 1e11 s (year 5138) test the milliseconds rule, so
        # the far-future check (series.max_future) is off here.
        cls.srv = Server("series.max_future=0")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post(self, body, ctype):
        status, headers, out = self.srv.request("/ingest", body, ctype)
        self.assertTrue(headers["Content-Type"].startswith(
            "application/json"))
        return status, json.loads(out)

    def check_series(self, name, values):
        info = self.srv.series_info(name)
        self.assertIsNotNone(info, name)
        self.assertEqual(info["count"], len(values))
        self.assertEqual(info["last_value"], values[-1])
        for n in range(1, len(values) + 1):
            status, out = self.srv.average(name, window_size=n)
            self.assertEqual(status, 200)
            self.assertEqual(out["count"], n)
            self.assertEqual(out["average"], mean(values[-n:]), (name, n))

    def test_ndjson(self):
        values = [1.5, -2.25, 1e-3, 42.0, 7.0]
        body = "".join(json.dumps({"series": "in.nd", "value": v}) + "\n"
                       for v in values).encode()
        for ctype in ("application/x-ndjson",
                      "application/x-ndjson; charset=utf-8"):
            status, out = self.post(body, ctype)
            self.assertEqual(status, 200, out)
            self.assertEqual(out, {"accepted": 5, "rejected": 0,
                                   "errors": []})
        self.check_series("in.nd", values + values)

    def test_ndjson_crlf_blank_lines_and_no_final_newline(self):
        body = (b'{"series": "in.crlf", "value": 1}\r\n\r\n'
                b'   \n{"series": "in.crlf", "value": 2}\r\n'
                b'{"series": "in.crlf", "value": 4}')
        status, out = self.post(body, "application/x-ndjson")
        self.assertEqual((status, out["accepted"], out["rejected"]),
                         (200, 3, 0), out)
        self.check_series("in.crlf", [1.0, 2.0, 4.0])

    def test_json_array(self):
        values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
        body = json.dumps([{"series": "in.arr", "value": v}
                           for v in values]).encode()
        status, out = self.post(body, "application/json")
        self.assertEqual(status, 200, out)
        self.assertEqual((out["accepted"], out["rejected"]), (8, 0))
        self.check_series("in.arr", values)

    def test_single_json_object(self):
        status, out = self.post(
            b'{"series": "in.one", "value": 12.5, "timestamp": 1500000000}',
            "application/json")
        self.assertEqual((status, out["accepted"]), (200, 1), out)
        info = self.srv.series_info("in.one")
        self.assertEqual((info["last_value"], info["last_timestamp"]),
                         (12.5, 1500000000))

    def test_graphite_lines(self):
        body = (b"in.gr 1 1600000000\nin.gr 2.5\t1600000001\n"
                b"in.gr  -4  1600000002\r\nin.gr 8\n\nin.gr 16")
        status, out = self.post(body, "text/plain")
        self.assertEqual((status, out["accepted"], out["rejected"]),
                         (200, 5, 0), out)
        self.check_series("in.gr", [1.0, 2.5, -4.0, 8.0, 16.0])

    def test_points_applied_in_order(self):
        values = [float((i * 37) % 101) for i in range(60)]
        lines = [json.dumps({"series": "in.order", "value": v})
                 for v in values]
        status, out = self.srv.ingest(lines)
        self.assertEqual(out["accepted"], 60)
        self.check_series("in.order", values)

    def test_bad_lines_among_good_ones(self):
        lines = ['{"series": "in.mixed", "value": 1}',
                 '{"series": "in.mixed", "value": "2"}',     # string
                 '{"series": "in.mixed", "value": 3}',
                 'not json',
                 '{"series": "in mixed", "value": 5}',       # bad name
                 '{"series": "in.mixed", "value": 6}',
                 '{"series": "in.mixed"}',                    # no value
                 '{"series": "in.mixed", "value": 8, "timestamp": -5}',
                 '{"series": "in.mixed", "value": 9}']
        status, out = self.srv.ingest(lines)
        self.assertEqual(status, 200, out)
        self.assertEqual((out["accepted"], out["rejected"]), (4, 5))
        self.assertEqual([e["line"] for e in out["errors"]], [2, 4, 5, 7, 8])
        for e in out["errors"]:
            self.assertIsInstance(e["error"], str)
            self.assertTrue(e["error"])
        self.check_series("in.mixed", [1.0, 3.0, 6.0, 9.0])

    def test_bad_items_in_json_array(self):
        body = json.dumps([{"series": "in.arrbad", "value": 1},
                           {"series": "in.arrbad", "value": None},
                           [1, 2],
                           {"series": "in.arrbad", "value": 4}]).encode()
        status, out = self.post(body, "application/json")
        self.assertEqual(status, 200, out)
        self.assertEqual((out["accepted"], out["rejected"]), (2, 2))
        self.assertEqual([e["item"] for e in out["errors"]], [2, 3])
        self.check_series("in.arrbad", [1.0, 4.0])

    def test_bad_graphite_lines_among_good_ones(self):
        body = (b"in.grbad 1\nin.grbad\nin.grbad nan\nin.grbad 4 5 6\n"
                b"in.grbad 0x10\nin.grbad 6\n")
        status, out = self.post(body, "text/plain")
        self.assertEqual((status, out["accepted"], out["rejected"]),
                         (200, 2, 4), out)
        self.assertEqual([e["line"] for e in out["errors"]], [2, 3, 4, 5])
        self.check_series("in.grbad", [1.0, 6.0])

    def test_only_bad_lines_400(self):
        status, out = self.srv.ingest(['{"series": "in.allbad"}', "{"])
        self.assertEqual(status, 400)
        self.assertEqual((out["accepted"], out["rejected"]), (0, 2))
        self.assertEqual([e["line"] for e in out["errors"]], [1, 2])
        self.assertIsNone(self.srv.series_info("in.allbad"))
        self.assertEqual(self.srv.get_json("/health")[0], 200)

    def test_many_bad_lines_reported_bounded(self):
        lines = ['{"series": "in.manybad", "value": "x"}'] * 50 + \
                ['{"series": "in.manybad", "value": 1}']
        status, out = self.srv.ingest(lines)
        self.assertEqual((status, out["accepted"], out["rejected"]),
                         (200, 1, 50))
        self.assertGreaterEqual(len(out["errors"]), 1)
        self.assertLessEqual(len(out["errors"]), 50)
        self.assertEqual(out["errors"][0]["line"], 1)

    def test_timestamp_optional_means_now(self):
        before = time.time()
        self.srv.ingest(['{"series": "in.now", "value": 1}',
                         '{"series": "in.now", "value": 2, '
                         '"timestamp": null}'])
        after = time.time()
        info = self.srv.series_info("in.now")
        self.assertEqual(info["count"], 2)
        self.assertGreaterEqual(info["last_timestamp"], before - 1)
        self.assertLessEqual(info["last_timestamp"], after + 1)
        # Graphite without a timestamp, and with -1, also mean now.
        for line in (b"in.gnow 3\n", b"in.gnow 4 -1\n", b"in.gnow 5 -1.0\n"):
            before = time.time()
            status, _ = self.post(line, "text/plain")
            after = time.time()
            self.assertEqual(status, 200)
            ts = self.srv.series_info("in.gnow")["last_timestamp"]
            self.assertTrue(before - 1 <= ts <= after + 1, (line, ts))

    def test_millisecond_timestamps(self):
        cases = [(1700000000123, 1700000000.123),   # ms
                 (1e11, 1e11),                        # at the threshold: s
                 (100000000001, 100000000.001),       # just above: ms
                 (1500000000, 1500000000),            # seconds
                 (1500000000.5, 1500000000.5)]
        for i, (sent, expect) in enumerate(cases):
            name = "in.ms%d" % i
            self.srv.ingest([json.dumps({"series": name, "value": 1,
                                         "timestamp": sent})])
            got = self.srv.series_info(name)["last_timestamp"]
            self.assertAlmostEqual(got, expect, delta=abs(expect) * 1e-15,
                                   msg=sent)
            status, out = self.post(b"%s 1 %r\n" % (name.encode() + b"g",
                                                    sent), "text/plain")
            self.assertEqual(status, 200, out)
            got = self.srv.series_info(name + "g")["last_timestamp"]
            self.assertAlmostEqual(got, expect, delta=abs(expect) * 1e-15,
                                   msg=sent)

    def test_timestamps_past_the_ceiling_are_refused(self):
        # 1e14 ms is the year 5138; anything larger no clock means, and
        # one such point would drag every later point of its series up.
        for sent in (1e14, 1e19, 1e300):
            with self.subTest(sent=sent):
                status, out = self.srv.ingest(
                    [json.dumps({"series": "in.ceil", "value": 1,
                                 "timestamp": sent})])
                self.assertEqual(status, 400, out)
                self.assertIn("timestamp", out["errors"][0]["error"])
                status, out = self.post(b"in.ceilg 1 %r\n" % sent,
                                        "text/plain")
                self.assertEqual(status, 400, out)
        self.assertIsNone(self.srv.series_info("in.ceilg"))

    def test_ms_timestamps_make_duration_windows_work(self):
        base_ms = 1_700_000_000_000
        ts = [base_ms + 400 * i for i in range(10)]    # 3.6 s of points
        values = [float(i) for i in range(10)]
        self.srv.ingest_points("in.mswin", values, ts)
        newest = ts[-1] / 1000
        inside = [v for t, v in zip(ts, values) if t / 1000 > newest - 2]
        status, out = self.srv.average("in.mswin", window="2s")
        self.assertEqual(out["count"], len(inside))
        self.assertEqual(out["average"], mean(inside))

    def test_late_points_are_kept_in_arrival_order(self):
        ts = [2000.0, 1000.0, 3000.0]
        self.srv.ingest_points("in.late", [1.0, 2.0, 3.0], ts)
        info = self.srv.series_info("in.late")
        self.assertEqual((info["count"], info["last_timestamp"]), (3, 3000))
        status, out = self.srv.average("in.late", window_size=2)
        self.assertEqual(out["average"], 2.5)

    def test_server_serves_after_bad_requests(self):
        for body, ctype in ((b"\xff\xfe\x00", "application/json"),
                            (b"\x00" * 100, "application/x-ndjson"),
                            (b"[" * 100, "application/json"),
                            (b"x" * 900, "text/plain"),
                            (b"{}", "image/png")):
            status, _, _ = self.srv.request("/ingest", body, ctype)
            self.assertGreaterEqual(status, 400)
        self.srv.ingest_points("in.after", [5.0, 7.0])
        self.check_series("in.after", [5.0, 7.0])


if __name__ == "__main__":
    unittest.main()
