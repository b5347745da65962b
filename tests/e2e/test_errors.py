"""Refusals: every error is a JSON object with an "error" key, the right
status and Content-Type application/json; no answer carries NaN/Infinity;
the server keeps serving afterwards."""
import http.client
import json
import socket
import unittest
from fractions import Fraction

from harness import Server, close_rel, quote, read_to_close, strict_json

HISTORY = 1000
MAX_BODY = 1024


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("series.history=%d" % HISTORY,
                         "http.max_body=%d" % MAX_BODY)
        cls.srv.ingest_points("err.s", [1.0, 2.0, 3.0])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def check_error(self, status, headers, body, expect, mention=None):
        self.assertEqual(status, expect, body)
        self.assertTrue(headers["Content-Type"].startswith(
            "application/json"), headers["Content-Type"])
        out = strict_json(body)
        self.assertIsInstance(out, dict)
        self.assertIsInstance(out.get("error"), str, out)
        self.assertTrue(out["error"])
        if mention:
            self.assertIn(mention, out["error"])
        return out

    def tearDown(self):
        # Whatever a test sent, the server still answers.
        status, _, out = self.srv.get_json("/health")
        self.assertEqual((status, out["status"]), (200, "ok"))

    def test_window_size_missing_or_malformed(self):
        base = "/average?series=err.s"
        for q in ("", "&window_size=", "&window_size=abc",
                  "&window_size=1.5", "&window_size=-3",
                  "&window_size=" + quote("+3"), "&window_size=+3",
                  "&window_size=" + quote(" 3"), "&window_size=3" + quote(" "),
                  "&window_size=0", "&window_size=00",
                  "&window_size=%d" % (HISTORY + 1),
                  "&window_size=99999999999999999999999",
                  "&window_size=0x10", "&window_size=1e2",
                  "&window_size=3&window=2s"):
            with self.subTest(q=q):
                self.check_error(*self.srv.request(base + q), 400,
                                 "window_size")

    def test_window_size_bounds_accepted(self):
        for n in (1, HISTORY):
            status, out = self.srv.average("err.s", window_size=n)
            self.assertEqual(status, 200)
            self.assertEqual(out["count"], min(n, 3))

    def test_bad_duration(self):
        for d in ("abc", "2", "s", "-2s", "2 s", "1.5s", "0s", "2w",
                  "400d"):
            with self.subTest(d=d):
                self.check_error(*self.srv.request(
                    "/average?series=err.s&window=" + quote(d)), 400,
                    "window")

    def test_unknown_series_404(self):
        out = self.check_error(*self.srv.request(
            "/average?series=err.nothere&window_size=3"), 404)
        self.assertIn("err.nothere", out["error"])

    def test_bad_series_name_400(self):
        for name in ("", "a b", "a/b", "x" * 256, "caf\u00e9", "a'b"):
            with self.subTest(name=name):
                self.check_error(*self.srv.request(
                    "/average?window_size=3&series=" + quote(name)), 400,
                    "series")

    # A value too long to be valid is refused, never taken as absent.
    def test_over_long_series_param_is_400_not_default(self):
        self.check_error(*self.srv.request(
            "/average?window_size=3&series=" + "x" * 400), 400, "series")

    def test_long_valid_series_name(self):
        name = "n" * 255
        self.srv.ingest_points(name, [2.0, 4.0])
        for q in ("series=%s&window_size=2", "window_size=2&series=%s"):
            status, _, out = self.srv.get_json("/average?" + q % name)
            self.assertEqual((status, out["series"], out["average"]),
                             (200, name, 3.0))

    def test_unknown_path_404(self):
        for path in ("/nothere", "/averages", "/api/average",
                     "/average/x"):
            with self.subTest(path=path):
                status, headers, body = self.srv.request(path)
                self.assertEqual(status, 404, (path, body))

    def test_unknown_api_path_is_json_404(self):
        self.check_error(*self.srv.request("/nothere"), 404)

    def test_wrong_methods_405(self):
        self.check_error(*self.srv.request(
            "/average?series=err.s&window_size=2", data=b"x",
            ctype="text/plain"), 405)
        self.check_error(*self.srv.request("/ingest"), 405)
        for path in ("/series", "/health", "/metrics", "/plot"):
            with self.subTest(path=path):
                self.check_error(*self.srv.request(
                    path, data=b"{}", ctype="application/json"), 405)

    def test_body_over_max_body_413(self):
        line = json.dumps({"series": "err.big", "value": 1.5}) + "\n"
        body = (line * (MAX_BODY // len(line) + 2)).encode()
        self.assertGreater(len(body), MAX_BODY)
        self.check_error(*self.srv.request("/ingest", body,
                                           "application/x-ndjson"), 413,
                         "max_body")
        self.assertIsNone(self.srv.series_info("err.big"))
        # Exactly the limit is fine.
        body = body[:MAX_BODY]
        body = body[:body.rindex(b"\n") + 1]
        body += b" " * (MAX_BODY - len(body))
        status, _, out = self.srv.request("/ingest", body,
                                          "application/x-ndjson")
        self.assertEqual(status, 200, out)

    def test_chunked_body_gets_411(self):
        # Any chunked body, small or over the limit, gets one clear answer
        # and stores nothing.
        line = (json.dumps({"series": "err.chunk", "value": 2}) +
                "\n").encode()
        for n in (1, MAX_BODY // len(line) + 2):
            with self.subTest(lines=n):
                conn = http.client.HTTPConnection("127.0.0.1", self.srv.port,
                                                  timeout=30)
                try:
                    conn.request("POST", "/ingest", body=iter([line] * n),
                                 headers={"Content-Type":
                                          "application/x-ndjson"},
                                 encode_chunked=True)
                    r = conn.getresponse()
                    self.check_error(r.status, r.headers, r.read(), 411)
                except (BrokenPipeError, ConnectionResetError):
                    pass    # refused before the whole body went: fine too
                finally:
                    conn.close()
        self.assertIsNone(self.srv.series_info("err.chunk"))

    def test_head_and_options_are_405(self):
        for method in ("HEAD", "OPTIONS", "PUT", "DELETE"):
            with self.subTest(method=method):
                status, _, _ = self.srv.request("/average?window_size=1",
                                                method=method)
                self.assertEqual(status, 405)

    def test_empty_body_400(self):
        for ctype in ("application/x-ndjson", "application/json",
                      "text/plain"):
            with self.subTest(ctype=ctype):
                self.check_error(*self.srv.request("/ingest", b"", ctype),
                                 400)
                self.check_error(*self.srv.request("/ingest", b"\n \n",
                                                   ctype), 400)

    def test_unsupported_content_type_415(self):
        body = b'{"series": "err.ct", "value": 1}\n'
        for ctype in ("application/xml", "text/csv",
                      "application/x-www-form-urlencoded", "x"):
            with self.subTest(ctype=ctype):
                self.check_error(*self.srv.request("/ingest", body, ctype),
                                 415, "Content-Type")
        self.assertIsNone(self.srv.series_info("err.ct"))

    def test_missing_content_type_415(self):
        with socket.create_connection(("127.0.0.1", self.srv.port),
                                      timeout=30) as s:
            body = b'{"series": "err.noct", "value": 1}\n'
            s.sendall(b"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" %
                      (len(body), body))
            data = read_to_close(s)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b" 415 ", head.split(b"\r\n")[0])
        self.assertIn("error", strict_json(body))

    def test_malformed_json_body_400(self):
        for body in (b"{", b"[1,", b'{"value": 1,}', b"nul", b"42",
                     b'"x"', b"[1] [2]"):
            with self.subTest(body=body):
                self.check_error(*self.srv.request("/ingest", body,
                                                   "application/json"), 400)

    def test_no_nan_or_infinity_in_answers(self):
        # Sums past the double range: the mean must still be finite JSON.
        cases = {"err.ovf": [1e308, 1.7e308, 1e308],
                 "err.novf": [-1e308, -1.7e308, -1.5e308],
                 "err.same": [1.7976931348623157e308] * 4}
        for name, values in cases.items():
            self.srv.ingest_points(name, values)
            for params in ({"window_size": 2}, {"window_size": 3},
                           {"window_size": 10}, {"window": "1h"}):
                with self.subTest(name=name, params=params):
                    status, out = self.srv.average(name, **params)
                    self.assertEqual(status, 200)
                    n = params.get("window_size", len(values))
                    win = values[-n:]
                    exact = float(sum(Fraction(v) for v in win) / len(win))
                    self.assertIsInstance(out["average"], float)
                    if all(v == win[0] for v in win):
                        self.assertEqual(out["average"], win[0])
                    elif abs(sum(Fraction(v) for v in win)) < Fraction(1e308):
                        self.assertTrue(close_rel(out["average"], exact),
                                        (out, exact))
                    # When the sum itself overflows, the server only
                    # promises a finite value within the window's range
                    # (window.c falls back to min/2 + max/2).
                    self.assertGreaterEqual(out["average"], min(win))
                    self.assertLessEqual(out["average"], max(win))
        for path in ("/series", "/health"):
            status, _, body = self.srv.request(path)
            strict_json(body)
        status, _, body = self.srv.request("/metrics")
        self.assertNotIn(b"nan", body.lower())

    def test_nan_and_infinity_refused_on_ingest(self):
        lines = ['{"series": "err.nan", "value": NaN}',
                 '{"series": "err.nan", "value": Infinity}',
                 '{"series": "err.nan", "value": -Infinity}',
                 '{"series": "err.nan", "value": 1e999}',
                 '{"series": "err.nan", "value": 1, "timestamp": NaN}']
        status, out = self.srv.ingest(lines)
        self.assertEqual(status, 400)
        self.assertEqual((out["accepted"], out["rejected"]), (0, len(lines)))
        status, _, out = self.srv.request(
            "/ingest", b"err.nan nan 1\nerr.nan inf\nerr.nan 1e999\n",
            "text/plain")
        self.assertEqual(status, 400)
        self.assertIsNone(self.srv.series_info("err.nan"))


if __name__ == "__main__":
    unittest.main()
