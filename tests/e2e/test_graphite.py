"""The Graphite plaintext listener over TCP."""
import socket
import time
import unittest

from harness import Server, mean, wait_for

MAX_LINE = 100
REJECTED = 'streamavg_points_rejected_total{protocol="graphite_tcp"}'
ACCEPTED = 'streamavg_points_total{protocol="graphite_tcp"}'


class Graphite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("graphite.max_line=%d" % MAX_LINE)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def check_values(self, name, values):
        info = self.srv.wait_points(name, len(values))
        self.assertEqual(info["total"], len(values))
        self.assertEqual(info["last_value"], values[-1])
        for n in (1, 2, len(values)):
            status, out = self.srv.average(name, window_size=n)
            self.assertEqual(out["average"], mean(values[-n:]), (name, n))

    def test_lines_split_across_sends(self):
        data = b"gr.split 10 1600000000\ngr.split 20 1600000001\ngr.split 3"
        data += b"0 1600000002\n"
        with self.srv.graphite() as s:
            for cut in (5, 11, 30, 47):
                s.sendall(data[:cut])
                data = data[cut:]
                time.sleep(0.01)
            s.sendall(data)
            self.check_values("gr.split", [10.0, 20.0, 30.0])

    def test_byte_at_a_time(self):
        data = b"gr.bytes 1.5 1600000000\ngr.bytes -2.5 1600000001\n"
        with self.srv.graphite() as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in data:
                s.sendall(bytes([b]))
            self.check_values("gr.bytes", [1.5, -2.5])

    def test_crlf_and_tabs(self):
        with self.srv.graphite() as s:
            s.sendall(b"gr.crlf 1 1600000000\r\ngr.crlf\t2\t1600000001\r\n"
                      b"  gr.crlf \t 4 \t 1600000002 \t\r\n")
            self.check_values("gr.crlf", [1.0, 2.0, 4.0])

    def test_final_line_without_newline_taken_at_close(self):
        with self.srv.graphite() as s:
            s.sendall(b"gr.final 5 1600000000\ngr.final 9 1600000001")
            self.check_values("gr.final", [5.0])
        # Closed now: the unterminated line must arrive.
        self.check_values("gr.final", [5.0, 9.0])

    def test_minus_one_timestamp_means_now(self):
        with self.srv.graphite() as s:
            before = time.time()
            s.sendall(b"gr.now 3 -1\n")
            info = self.srv.wait_points("gr.now", 1)
            after = time.time()
        self.assertTrue(before - 1 <= info["last_timestamp"] <= after + 1,
                        info)

    def test_over_long_line_dropped_next_line_taken(self):
        rejected = self.srv.metrics()[REJECTED]
        long_line = b"gr.long " + b"1" * (MAX_LINE * 3) + b"\n"
        with self.srv.graphite() as s:
            s.sendall(b"gr.long 1 1600000000\n")
            # The long line in pieces, so no single read holds it whole.
            for i in range(0, len(long_line), 37):
                s.sendall(long_line[i:i + 37])
            s.sendall(b"gr.long 3 1600000002\n")
            self.check_values("gr.long", [1.0, 3.0])
        wait_for(lambda: self.srv.metrics()[REJECTED] >= rejected + 1,
                 what="the long line counted")
        # A line of exactly max_line bytes is still taken.
        line = b"gr.exact 7 1600000000"
        line += b" " * (MAX_LINE - len(line))   # trailing blanks are allowed
        self.assertEqual(len(line), MAX_LINE)
        with self.srv.graphite() as s:
            s.sendall(line + b"\n")
            self.check_values("gr.exact", [7.0])
            # One byte more is dropped, and the line after it still taken.
            s.sendall(line + b" \ngr.exact 8 1600000001\n")
            self.check_values("gr.exact", [7.0, 8.0])

    def test_bad_line_keeps_connection(self):
        before = self.srv.metrics()
        with self.srv.graphite() as s:
            s.sendall(b"gr.bad 1 1600000000\n")
            self.srv.wait_points("gr.bad", 1)
            bad = [b"gr.bad\n", b"gr.bad x\n", b"gr bad 1 2 3\n",
                   b"gr.bad nan 1\n", b"gr.bad 1 -5\n", b"gr.bad inf\n",
                   b"gr/bad 1\n", b"\xff\xfe 1\n"]
            for line in bad:
                s.sendall(line)
            s.sendall(b"gr.bad 2 1600000001\n")
            self.check_values("gr.bad", [1.0, 2.0])
            # Still the same connection: one more line goes through.
            s.sendall(b"gr.bad 6 1600000002\n")
            self.check_values("gr.bad", [1.0, 2.0, 6.0])
        after = wait_for(
            lambda: (lambda m: m if m[REJECTED] >= before[REJECTED] +
                     len(bad) else None)(self.srv.metrics()),
            what="rejected lines counted")
        self.assertEqual(after[REJECTED] - before[REJECTED], len(bad))
        self.assertGreaterEqual(after[ACCEPTED] - before[ACCEPTED], 3)

    def test_many_lines_one_send_in_order(self):
        values = [float((i * 7919) % 1000) / 8 for i in range(2000)]
        data = b"".join(b"gr.bulk %r %d\n" % (v, 1600000000 + i)
                        for i, v in enumerate(values))
        with self.srv.graphite() as s:
            s.sendall(data)
            self.check_values("gr.bulk", values)
        for n in (10, 100, 1999):
            status, out = self.srv.average("gr.bulk", window_size=n)
            self.assertEqual(out["average"], mean(values[-n:]))

    def test_several_connections_at_once(self):
        socks = [self.srv.graphite() for _ in range(5)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"gr.multi%d %d" % (i, i))     # no newline yet
            for i, s in enumerate(socks):
                s.sendall(b"0 1600000000\n")
            for i in range(5):
                self.check_values("gr.multi%d" % i, [float(i * 10)])
        finally:
            for s in socks:
                s.close()


if __name__ == "__main__":
    unittest.main()
