"""The hostile wire for the ingest paths added for agents: Graphite over
UDP, StatsD, InfluxDB line protocol at /write, WebSocket publish, the
ingest token and the source address list.  Each bad input is counted by
reason, the good input around it is kept, and the listener goes on."""
import json
import socket
import subprocess
import time
import unittest

from harness import BIN, Server, mean, read_to_close, wait_for
from test_clients import free_udp_port


def rejected(srv, proto, reason):
    return srv.metrics().get('streamavg_ingest_rejected_total{protocol="%s",'
                             'reason="%s"}' % (proto, reason), 0)


def wait_rejected(srv, proto, reason, n):
    return wait_for(lambda: rejected(srv, proto, reason) >= n,
                    what="%d %s rejections (%s)" % (n, proto, reason))


class UdpListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.statsd_port = free_udp_port()
        cls.srv = Server("statsd.port=%d" % cls.statsd_port,
                         "statsd.flush_ms=100", "graphite.max_line=100")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def send(self, port, *datagrams):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for d in datagrams:
                s.sendto(d, ("127.0.0.1", port))

    def test_graphite_udp_every_line_no_state_between(self):
        self.send(self.srv.graphite_port,
                  b"gu.a 1 1600000000\ngu.a 2 1600000001\r\n"
                  b"gu.a\t3\t1600000002",
                  # Ends without a newline: taken as is; the next datagram
                  # does not continue it.
                  b"gu.b 4", b"0 1600000003\n")
        info = self.srv.wait_points("gu.a", 3)
        self.assertEqual(info["last_value"], 3)
        self.assertEqual(self.srv.average("gu.a", window_size=3)[1]["average"],
                         2)
        b = self.srv.wait_points("gu.b", 1)
        time.sleep(0.2)
        self.assertEqual(self.srv.series_info("gu.b")["total"], 1)
        self.assertEqual(b["last_value"], 4)

    def test_graphite_udp_hostile_datagrams(self):
        port = self.srv.graphite_port
        before = {r: rejected(self.srv, "graphite_udp", r)
                  for r in ("too_long", "name", "value", "timestamp")}
        self.send(port, b"",                              # empty datagram
                  b"gu.h 1 1600000000\n" + b"gu.h " + b"9" * 300 + b"\n"
                  b"gu.h 2 1600000001\n",                 # far over the limit
                  b"gu.h\x00x 5\ngu.\xff\xfe 5\ngu h 1 2 3\n"
                  b"gu.h nan\ngu.h inf\ngu.h 0x10\ngu.h 1e999\n"
                  b"gu.h 1 17x\ngu.h 1 -5\ngu.h 3 1600000002\n")
        info = self.srv.wait_points("gu.h", 3)
        self.assertEqual(info["last_value"], 3)
        wait_rejected(self.srv, "graphite_udp", "timestamp",
                      before["timestamp"] + 2)
        self.assertEqual(rejected(self.srv, "graphite_udp", "too_long"),
                         before["too_long"] + 1)
        self.assertGreaterEqual(rejected(self.srv, "graphite_udp", "name"),
                                before["name"] + 2)
        self.assertEqual(rejected(self.srv, "graphite_udp", "value"),
                         before["value"] + 4)
        # Still listening.
        self.send(port, b"gu.h 4 1600000003")
        self.assertEqual(self.srv.wait_points("gu.h", 4)["last_value"], 4)

    def test_statsd_sent_to_graphite_port_tcp_and_udp(self):
        before_udp = rejected(self.srv, "graphite_udp", "name")
        before_tcp = rejected(self.srv, "graphite_tcp", "name")
        self.send(self.srv.graphite_port, b"app.hits:1|c\napp.temp:5|g\n")
        with self.srv.graphite() as s:
            s.sendall(b"app.hits:1|c\napp.temp:5|g|@0.5\ngs.ok 1 1600000000\n")
            self.srv.wait_points("gs.ok", 1)
        wait_rejected(self.srv, "graphite_udp", "name", before_udp + 2)
        wait_rejected(self.srv, "graphite_tcp", "name", before_tcp + 2)
        self.send(self.srv.graphite_port, b"gs.ok 2 1600000001")
        self.srv.wait_points("gs.ok", 2)

    def test_statsd_hostile_lines(self):
        before = rejected(self.srv, "statsd", "syntax")
        self.send(self.statsd_port, b"",
                  b"sd.g:1|g\r\nsd.g 5 1600000000\n\xff:1|g\nsd.g:nan|g\n"
                  b"sd.g:1|g|@2\n  \nsd.g:+2|g\n",
                  b"sd.g:-0.5|g")
        info = wait_for(lambda: (lambda i: i if i and i["total"] >= 3
                                 else None)(self.srv.series_info("sd.g")))
        self.assertEqual(info["last_value"], 2.5)
        wait_rejected(self.srv, "statsd", "syntax", before + 1)


class InfluxWrite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("http.max_body=300000")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def write(self, body, query=""):
        status, _, out = self.srv.request("/write" + query, body,
                                          "text/plain")
        return status, out

    def raw_post(self, body, pieces):
        """POST /write over a raw socket, the body in `pieces` sends."""
        head = (b"POST /write?precision=s HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" %
                len(body))
        with socket.create_connection(("127.0.0.1", self.srv.port),
                                      timeout=30) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(head)
            step = max(1, len(body) // pieces)
            for i in range(0, len(body), step):
                s.sendall(body[i:i + step])
            answer = read_to_close(s)
        return int(answer.split()[1])

    def test_split_reads_and_byte_at_a_time(self):
        body = (b"iw.split v=1 1600000000\r\niw.split\tv=2\t1600000001\n"
                b"  iw.split   v=3   1600000002  \n\niw.split v=4 1600000003")
        self.assertEqual(self.raw_post(body, 7), 204)
        self.assertEqual(self.raw_post(body.replace(b"iw.split", b"iw.byte"),
                                       len(body)), 204)
        for name in ("iw.split.v", "iw.byte.v"):
            info = self.srv.wait_points(name, 4)
            self.assertEqual(info["last_value"], 4)
            self.assertEqual(info["last_timestamp"], 1600000003)

    def test_bad_lines_cost_only_themselves(self):
        bad = [b"iw.bad v=nan", b"iw.bad v=inf", b"iw.bad v=0x1p3",
               b"iw.bad v=1e400", b"iw.bad v=1 1600000000x",
               b"iw.bad v=1 -1", b"iw.bad\x00 v=1", b"iw.bad v",
               b"iw.bad v=99999999999999999999i",
               b"iw.bad " + b"f" * 100000 + b"=1"]
        good = [b"iw.bad v=1 1600000000", b"iw.bad v=2 1600000001",
                b"iw.bad,t=\xff\xfe v=3 1600000002"]
        body = b"\n".join([good[0]] + bad[:5] + [good[1]] + bad[5:] +
                          [good[2]])
        status, out = self.write(body, "?precision=s")
        self.assertEqual(status, 400)
        self.assertIn("partial write", json.loads(out)["error"])
        info = self.srv.wait_points("iw.bad.v", 2)
        self.assertEqual(info["total"], 2)
        self.assertEqual(info["last_value"], 2)
        # Invalid UTF-8 in a tag becomes '_' bytes.
        self.assertEqual(self.srv.series_info("iw.bad.v.t:__")["last_value"],
                         3)
        m = self.srv.metrics()
        for reason, n in (("value", 5), ("timestamp", 2), ("name", 2),
                          ("syntax", 1)):
            self.assertGreaterEqual(m['streamavg_ingest_rejected_total{'
                                    'protocol="influx",reason="%s"}' %
                                    reason], n, reason)

    def test_precision_missing_timestamp_and_ms_rule(self):
        before = time.time()
        self.assertEqual(self.write(b"iw.p a=1\niw.p b=2 1600000000000",
                                    "?precision=s&db=x")[0], 204)
        a = self.srv.wait_points("iw.p.a", 1)
        self.assertGreaterEqual(a["last_timestamp"], before - 1)
        b = self.srv.wait_points("iw.p.b", 1)
        self.assertEqual(b["last_timestamp"], 1600000000)
        self.assertEqual(self.write(b"iw.p c=1 1600000000000000000")[0], 204)
        self.assertEqual(self.srv.wait_points("iw.p.c", 1)["last_timestamp"],
                         1600000000)
        status, out = self.write(b"iw.p v=1", "?precision=fortnight")
        self.assertEqual(status, 400)
        self.assertIn("precision", json.loads(out)["error"])

    def test_method_and_encoding(self):
        status, _, _ = self.srv.request("/write")
        self.assertEqual(status, 405)
        req_status, _, _ = self.srv.request("/write", b"\x1f\x8b", None)
        self.assertIn(req_status, (204, 400))
        import urllib.request
        from harness import _OPENER
        req = urllib.request.Request(self.srv.base + "/write", b"x v=1",
                                     headers={"Content-Encoding": "gzip"})
        try:
            _OPENER.open(req, timeout=30)
            self.fail("a gzip body was taken")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 415)
        # "identity" is no encoding: the body is taken.
        req = urllib.request.Request(
            self.srv.base + "/write", b"wire.ident v=2.5 1600000000000000000",
            headers={"Content-Encoding": " Identity "})
        with _OPENER.open(req, timeout=30) as r:
            self.assertEqual(r.status, 204)
        self.assertEqual(self.srv.series_info("wire.ident.v")["last_value"],
                         2.5)


class WebSocketPublish(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.off = Server()
        cls.on = Server("stream.publish=true", "ingest.token=abc")

    @classmethod
    def tearDownClass(cls):
        cls.off.stop()
        cls.on.stop()

    def test_publish_off_by_default(self):
        ws = self.off.ws()
        try:
            ws.send(json.dumps({"series": "wp.off", "value": 1}))
            reply = json.loads(ws.recv())
        finally:
            ws.close()
        self.assertEqual(reply["type"], "error")
        self.assertIn("stream.publish", reply["error"])
        self.assertIsNone(self.off.series_info("wp.off"))

    def test_publish_with_token_in_header_and_url(self):
        ws = self.on.ws(header=["Authorization: Bearer abc"])
        ws2 = self.on.ws("token=abc&series=wp.sub&window_size=2")
        try:
            ws.send(json.dumps({"series": "wp.a", "value": 1.5,
                                "timestamp": 1600000000}))
            ws.send(json.dumps([{"series": "wp.a", "value": 2.5},
                                {"series": "wp.a", "value": "x"},
                                {"series": "bad name", "value": 1},
                                {"series": "wp.a", "value": 5}]))
            err = json.loads(ws.recv())
            self.assertEqual(err["type"], "error")
            self.assertTrue(err["error"].startswith("item 2:"), err)
            info = self.on.wait_points("wp.a", 3)
            self.assertEqual(info["last_value"], 5)
            self.assertEqual(self.on.average("wp.a", window_size=3)[1]
                             ["average"], mean([1.5, 2.5, 5]))
            # Publish and subscribe on one connection, same JSON shape.
            ws2.recv()                              # the history
            ws2.send(json.dumps({"series": "wp.sub", "value": 7}))
            msg = json.loads(ws2.recv())
            self.assertEqual((msg["type"], msg["value"]), ("average", 7))
        finally:
            ws.close()
            ws2.close()

    def test_publish_without_token_refused(self):
        m0 = self.on.metrics()['streamavg_ingest_denied_total{protocol='
                               '"websocket"}']
        for kw in ({}, {"header": ["Authorization: Bearer abd"]}):
            ws = self.on.ws(**kw)
            try:
                ws.send(json.dumps({"series": "wp.no", "value": 1}))
                self.assertEqual(json.loads(ws.recv())["type"], "error")
            finally:
                ws.close()
        ws = self.on.ws("token=nope")
        try:
            ws.send(json.dumps({"series": "wp.no", "value": 1}))
            self.assertEqual(json.loads(ws.recv())["type"], "error")
        finally:
            ws.close()
        self.assertIsNone(self.on.series_info("wp.no"))
        m1 = self.on.metrics()['streamavg_ingest_denied_total{protocol='
                               '"websocket"}']
        self.assertEqual(m1 - m0, 3)


class TokenAndSources(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.statsd_port = free_udp_port()
        cls.srv = Server("ingest.token=s3cr3t",
                         "ingest.allow_from=127.0.0.2, ::1",
                         "statsd.port=%d" % cls.statsd_port)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_http_ingest_needs_bearer_token(self):
        status, _, _ = self.srv.request("/ingest", b"ts.a 1\n", "text/plain")
        self.assertEqual(status, 401)
        import urllib.request
        from harness import _OPENER
        req = urllib.request.Request(
            self.srv.base + "/ingest", b"ts.a 1\n",
            headers={"Content-Type": "text/plain",
                     "Authorization": "Bearer s3cr3t"})
        with _OPENER.open(req, timeout=30) as r:
            self.assertEqual(r.status, 200)
        self.srv.wait_points("ts.a", 1)
        self.assertNotIn("s3cr3t", self.srv.logtext())

    def from_addr(self, src, kind):
        s = socket.socket(socket.AF_INET, kind)
        s.bind((src, 0))
        return s

    def test_sources_outside_the_list_refused(self):
        m0 = self.srv.metrics()
        # Graphite TCP from 127.0.0.1: refused at connect.
        s = self.from_addr("127.0.0.1", socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.srv.graphite_port))
        try:
            s.sendall(b"src.no 1\n")
            self.assertEqual(s.recv(10), b"")       # closed by the server
        except ConnectionResetError:
            pass
        s.close()
        # UDP from 127.0.0.1: dropped; from 127.0.0.2: taken.
        for src, name in (("127.0.0.1", b"src.no"), ("127.0.0.2", b"src.ok")):
            with self.from_addr(src, socket.SOCK_DGRAM) as u:
                u.sendto(name + b" 1\n", ("127.0.0.1",
                                          self.srv.graphite_port))
                u.sendto(name + b".c:1|g", ("127.0.0.1", self.statsd_port))
        with self.from_addr("127.0.0.2", socket.SOCK_STREAM) as t:
            t.connect(("127.0.0.1", self.srv.graphite_port))
            t.sendall(b"src.tcp 1\n")
            self.srv.wait_points("src.tcp", 1)
        self.srv.wait_points("src.ok", 1)
        self.srv.wait_points("src.ok.c", 1)
        self.assertIsNone(self.srv.series_info("src.no"))
        self.assertIsNone(self.srv.series_info("src.no.c"))
        m1 = self.srv.metrics()
        for proto in ("graphite_tcp", "graphite_udp", "statsd"):
            key = 'streamavg_ingest_denied_total{protocol="%s"}' % proto
            self.assertEqual(m1[key] - m0[key], 1, proto)


class Config(unittest.TestCase):
    def refused(self, *overrides):
        p = subprocess.run([BIN, "-o", "generator.enabled=false"] +
                           [a for o in overrides for a in ("-o", o)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        return p.stderr

    def test_bad_ingest_keys_refused(self):
        self.assertIn("ingest.allow_from",
                      self.refused("ingest.allow_from=10.0.0.0/40"))
        self.assertIn("ingest.token", self.refused("ingest.token=a b"))
        self.assertIn("statsd.port", self.refused("graphite.port=9125",
                                                  "statsd.port=9125"))


if __name__ == "__main__":
    unittest.main()
