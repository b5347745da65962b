"""Limits answer with a sentence naming their key and count in /metrics:
the series limit (a producer that invents a name per point), the
connection limit."""
import socket
import time
import unittest

from harness import Server, wait_for


class Limits(unittest.TestCase):
    def test_series_limit_is_reported_clearly(self):
        srv = Server("series.max_series=3")
        try:
            # "default" is one of the three.
            status, out = srv.ingest(['{"series":"lim.%d","value":1}' % i
                                      for i in range(6)])
            self.assertEqual(status, 200)
            self.assertEqual((out["accepted"], out["rejected"]), (2, 4))
            self.assertIn("series.max_series", out["errors"][0]["error"])
            self.assertEqual(out["errors"][0]["line"], 3)
            # Existing series go on taking points.
            status, out = srv.ingest(['{"series":"lim.0","value":2}'])
            self.assertEqual((status, out["accepted"]), (200, 1))
            # A body of nothing but new series is refused outright.
            status, out = srv.ingest(['{"series":"lim.new","value":1}'])
            self.assertEqual(status, 400)
            m = srv.metrics()
            self.assertEqual(m["streamavg_series"], 3)
            self.assertEqual(
                m['streamavg_points_rejected_total{protocol="http"}'], 5)
        finally:
            srv.stop()

    def test_connection_limit(self):
        srv = Server("http.max_connections=4")
        held = []
        try:
            for _ in range(4):
                held.append(socket.create_connection(("127.0.0.1", srv.port),
                                                     timeout=10))
            time.sleep(0.2)
            with socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=10) as s:
                data = s.recv(4096)
            self.assertIn(b" 503 ", data.split(b"\r\n", 1)[0])
            self.assertIn(b"http.max_connections", data)
            for s in held:
                s.close()
            held = []

            def settled():
                try:
                    m = srv.metrics()
                except (AssertionError, OSError):
                    return None     # refused: the closes are not in yet
                return m if m["streamavg_http_connections"] == 1 else None
            metrics = wait_for(settled, 10, "the held connections to close")
            self.assertGreaterEqual(
                metrics["streamavg_http_connections_refused_total"], 1)
        finally:
            for s in held:
                s.close()
            log = srv.stop()
        self.assertIn("http.max_connections", log)


if __name__ == "__main__":
    unittest.main()
