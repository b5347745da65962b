"""HTTP/1.1 keep-alive and pipelining on one connection.

libwebsockets 4.1.6 cannot read the body of a request it finds already
buffered behind another one (README, known limits; src/http_api.c, "requests
with a body pipelined behind another"): such a request is refused with 400
and the connection closed, before lws touches its body.  Everything else on
a kept-alive connection works, a POST included, and no client can make the
server spin, hang or use freed memory: under `make valgrind` the server must
stop with no report (harness.Server.stop checks).
"""
import json
import socket
import time
import unittest

from harness import Server


def post(body, path=b"/ingest", ctype=b"application/x-ndjson", clen=True):
    head = b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nContent-Type: " + ctype
    if clen:
        head += b"\r\nContent-Length: %d" % len(body)
    return head + b"\r\n\r\n" + body


GET = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"


def point(series, value):
    return (json.dumps({"series": series, "value": value}) + "\n").encode()


class Conn:
    """One raw HTTP/1.1 connection: send bytes, read whole answers."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        try:
            part = self.sock.recv(65536)
        except ConnectionResetError:
            # Closed with part of a body unread: a reset, after the data.
            part = b""
        if not part:
            self.closed = True
        self.buf += part
        return part

    def answer(self):
        """(status, {lower-case header: value}, body) of the next answer,
        or None when the server closed the connection first."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            if not self._fill():
                break
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closes(self, timeout=20):
        """True when the server closes the connection (and sends nothing
        more) within timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            while not self.closed:
                if self._fill() and self.buf.strip():
                    return False
        except socket.timeout:
            return False
        return not self.buf.strip()

    def close(self):
        self.sock.close()


class Pipelining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def conn(self):
        c = Conn(self.srv.port)
        self.addCleanup(c.close)
        return c

    def total(self, series):
        info = self.srv.series_info(series)
        return info["total"] if info else 0

    def assert_ok(self, answer, status=200):
        self.assertIsNotNone(answer, "the server closed the connection")
        self.assertEqual(answer[0], status, answer)
        self.assertNotEqual(answer[1].get("connection", "").lower(), "close",
                            answer)
        return json.loads(answer[2]) if answer[2] else None

    def assert_refused(self, c):
        """The next answer on c is the 400 for a pipelined body, and the
        server then closes the connection."""
        answer = c.answer()
        self.assertIsNotNone(answer, "closed without an answer")
        self.assertEqual(answer[0], 400, answer)
        self.assertIn("pipelined", json.loads(answer[2])["error"])
        self.assertEqual(answer[1].get("connection", "").lower(), "close")
        self.assertTrue(c.closes(), "the connection stayed open")

    def tearDown(self):
        # Whatever a test sent, the server still answers.
        status, _, out = self.srv.get_json("/health")
        self.assertEqual((status, out["status"]), (200, "ok"))

    # ---- one request at a time: keep-alive works, POSTs included ------

    def test_get_post_get_on_one_connection(self):
        c = self.conn()
        before = self.total("pipe.ka")
        for i in range(3):
            c.send(GET)
            self.assertEqual(self.assert_ok(c.answer())["status"], "ok")
            c.send(post(point("pipe.ka", i)))
            self.assertEqual(self.assert_ok(c.answer())["accepted"], 1)
        c.send(b"GET /series HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assert_ok(c.answer())
        c.send(post(b"pipe.ka.w value=1\n", b"/write", b"text/plain"))
        self.assert_ok(c.answer(), 204)
        c.send(GET)
        self.assert_ok(c.answer())
        self.assertEqual(self.total("pipe.ka"), before + 3)

    def test_post_after_a_dashboard_file_and_a_plot(self):
        c = self.conn()
        for req in (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"GET /nothing-here HTTP/1.1\r\nHost: a\r\n\r\n",
                    b"GET /plot?series=pipe.ka&window_size=3 "
                    b"HTTP/1.1\r\nHost: a\r\n\r\n"):
            c.send(req)
            answer = c.answer()
            self.assertIsNotNone(answer)
            self.assertNotEqual(answer[1].get("connection"), "close")
            c.send(post(point("pipe.file", 1)))
            self.assertEqual(self.assert_ok(c.answer())["accepted"], 1)

    def test_a_post_sent_in_pieces_is_read(self):
        # Head and body in separate writes, after a previous answer: each
        # part comes from a read of the socket, so the POST is taken.
        c = self.conn()
        c.send(GET)
        self.assert_ok(c.answer())
        req = post(point("pipe.pieces", 2))
        head, body = req.split(b"\r\n\r\n", 1)
        c.send(head + b"\r\n\r\n")
        time.sleep(0.2)
        c.send(body)
        self.assertEqual(self.assert_ok(c.answer())["accepted"], 1)

    def test_post_without_content_length_closes(self):
        # lws would read everything that follows as its body (up to 100
        # MB): the 400 closes the connection instead of swallowing it.
        c = self.conn()
        c.send(post(b"", clen=False))
        answer = c.answer()
        self.assertIsNotNone(answer)
        self.assertEqual(answer[0], 400, answer)
        self.assertEqual(answer[1].get("connection"), "close")
        self.assertTrue(c.closes())

    # ---- pipelined: bodies behind another request are refused ---------

    def test_post_pipelined_behind_get(self):
        before = self.total("pipe.p")
        c = self.conn()
        c.send(GET + post(point("pipe.p", 1)))
        self.assertEqual(self.assert_ok(c.answer())["status"], "ok")
        self.assert_refused(c)
        self.assertEqual(self.total("pipe.p"), before)

    def test_post_pipelined_behind_post(self):
        before = self.total("pipe.pp")
        c = self.conn()
        c.send(post(point("pipe.pp", 1)) + post(point("pipe.pp", 2)))
        self.assertEqual(self.assert_ok(c.answer())["accepted"], 1)
        self.assert_refused(c)
        self.assertEqual(self.total("pipe.pp"), before + 1)

    def test_other_pipelined_bodies(self):
        big = point("pipe.big", 1) * 2000       # more than lws reads at once
        cases = {
            "behind two GETs": (2, GET + GET + post(point("pipe.o", 1))),
            "a /write": (1, GET + post(b"pipe.o value=1\n", b"/write",
                                       b"text/plain")),
            "a big body": (1, GET + post(big)),
            "no Content-Length": (1, GET + post(b"", clen=False)),
            "a GET with a body": (1, GET + b"GET /health HTTP/1.1\r\nHost: "
                                  b"a\r\nContent-Length: 5\r\n\r\nhello"),
            "behind a 404": (1, b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n" +
                             post(point("pipe.o", 1))),
        }
        for name, (answered, data) in cases.items():
            for fin in (False, True):
                with self.subTest(case=name, fin=fin):
                    c = self.conn()
                    try:
                        c.send(data)
                        if fin:     # a FIN counts in the kernel's tally
                            c.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass        # refused and closed before the end
                                    # of a big body was sent
                    for _ in range(answered):
                        answer = c.answer()
                        self.assertIsNotNone(answer)
                        self.assertIn(answer[0], (200, 404), answer)
                    self.assert_refused(c)
        self.assertIsNone(self.srv.series_info("pipe.o"))
        self.assertIsNone(self.srv.series_info("pipe.big"))

    def test_pipelined_gets_are_all_answered(self):
        c = self.conn()
        c.send(GET * 20)
        for _ in range(20):
            self.assert_ok(c.answer())
        # The connection is still usable, for a POST too.
        c.send(post(point("pipe.after", 1)))
        self.assertEqual(self.assert_ok(c.answer())["accepted"], 1)

    def test_other_connections_carry_on(self):
        a = self.conn()
        a.send(GET)
        self.assert_ok(a.answer())
        for _ in range(5):
            b = self.conn()
            b.send(GET + post(point("pipe.x", 1)) * 3)
            self.assert_ok(b.answer())
            self.assert_refused(b)
        a.send(post(point("pipe.a", 1)))
        self.assertEqual(self.assert_ok(a.answer())["accepted"], 1)
        a.send(GET)
        self.assert_ok(a.answer())


if __name__ == "__main__":
    unittest.main()
