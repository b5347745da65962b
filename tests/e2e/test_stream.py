"""WebSocket /stream: history, live averages, subscriptions by URL and by
message, errors, slow readers and limits."""
import json
import struct
import time
import unittest

import websocket

import harness
from harness import Server, WSReader, close_rel, mean

MAX_MESSAGE = 1024


def expected_point(values, stamps, i, window):
    """The fields the server should send for point i (0-based) of a series
    holding values/stamps, for a count window."""
    win = values[max(0, i + 1 - window):i + 1]
    return {"timestamp": stamps[i], "value": values[i],
            "average": mean(win), "count": len(win)}


class Stream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("stream.max_message=%d" % MAX_MESSAGE,
                         "stream.backlog=300")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def setUp(self):
        self.socks = []

    def tearDown(self):
        for ws in self.socks:
            try:
                ws.close()
            except Exception:
                pass

    def connect(self, query=""):
        ws = self.srv.ws(query)
        self.socks.append(ws)
        return ws

    def sync(self, reader, ws):
        """Make sure everything sent on ws so far was handled: a bad
        message always gets an error reply, after the earlier ones."""
        n = len(reader.msgs)
        ws.send("{}")
        msgs = reader.wait_until(
            lambda m: any(x.get("type") == "error" and "unknown message" in
                          x.get("error", "") for x in m[n:]),
            what="the sync reply")
        return msgs

    def post(self, series, values, stamps):
        self.srv.ingest_points(series, values, stamps)

    def check_live(self, msg, series, window, values, stamps, i):
        self.assertEqual(msg["type"], "average", msg)
        self.assertEqual(msg["series"], series)
        self.assertEqual(msg["window_size"], window)
        exp = expected_point(values, stamps, i, window)
        for k in ("timestamp", "value", "count"):
            self.assertEqual(msg[k], exp[k], (k, msg, exp))
        self.assertTrue(close_rel(msg["average"], exp["average"]),
                        (msg, exp))
        self.assertNotIn("dropped", msg)

    def test_history_then_live_averages_by_url(self):
        name, window = "st.url", 3
        values = [4.0, 8.0, 15.0, 16.0, 23.0, 42.0]
        stamps = [1600000000.0 + i for i in range(len(values))]
        self.post(name, values, stamps)
        ws = self.connect("series=%s&window_size=%d" % (name, window))
        hist = json.loads(ws.recv())
        self.assertEqual(hist["type"], "history")
        self.assertEqual((hist["series"], hist["window_size"]),
                         (name, window))
        self.assertEqual(len(hist["points"]), len(values))
        for i, p in enumerate(hist["points"]):
            exp = expected_point(values, stamps, i, window)
            self.assertEqual(p.pop("offset"), i + 1)
            self.assertEqual(p, exp, i)

        more = [-1.5, 0.25, 100.0, 7.0]
        for v in more:                  # one request each
            values.append(v)
            stamps.append(stamps[-1] + 1)
            self.post(name, [v], [stamps[-1]])
        for i in range(len(values) - len(more), len(values)):
            self.check_live(json.loads(ws.recv()), name, window, values,
                            stamps, i)

        # Several points in one request: one message each, in order.
        batch = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0]
        start = len(values)
        values += batch
        stamps += [stamps[-1] + 1 + i for i in range(len(batch))]
        self.post(name, batch, stamps[start:])
        for i in range(start, len(values)):
            self.check_live(json.loads(ws.recv()), name, window, values,
                            stamps, i)

    def test_a_burst_travels_in_few_frames(self):
        # Points that arrive together reach a subscriber together: the
        # averages that wait for its next write go as one JSON array.
        name = "st.burst"
        ws = self.srv.ws("series=%s&window_size=3" % name, raw=True)
        self.socks.append(ws)
        self.assertEqual(json.loads(ws.recv())["type"], "history")
        values = [float(i * i % 13) for i in range(50)]
        stamps = [2000.0 + i for i in range(50)]
        self.post(name, values, stamps)
        got, frames, arrays = [], 0, 0
        while len(got) < len(values):
            frame = json.loads(ws.recv())
            frames += 1
            arrays += isinstance(frame, list)
            got.extend(frame if isinstance(frame, list) else [frame])
        self.assertGreater(arrays, 0)
        self.assertLess(frames, len(values))
        for i, m in enumerate(got):
            self.check_live(m, name, 3, values, stamps, i)

    def test_history_is_bounded_by_backlog(self):
        name, window = "st.backlog", 50
        values = [float((i * 31) % 97) for i in range(420)]
        stamps = [1600000000.0 + i for i in range(420)]
        self.post(name, values, stamps)
        ws = self.connect("series=%s&window_size=%d" % (name, window))
        hist = json.loads(ws.recv())
        self.assertEqual(len(hist["points"]), 300)
        for k, p in enumerate(hist["points"]):
            i = 120 + k
            exp = expected_point(values, stamps, i, window)
            self.assertEqual((p["timestamp"], p["value"], p["count"]),
                             (exp["timestamp"], exp["value"], exp["count"]))
            self.assertTrue(close_rel(p["average"], exp["average"]))

    def test_subscribe_by_message_and_unsubscribe(self):
        a, b = "st.msg.a", "st.msg.b"
        self.post(a, [1.0, 2.0], [1000.0, 1001.0])
        self.post(b, [10.0], [1000.0])
        ws = self.connect()
        reader = WSReader(ws)
        ws.send(json.dumps({"subscribe": {"series": a, "window_size": 2}}))
        msgs = reader.wait_count(1)
        self.assertEqual(msgs[0]["type"], "history")
        self.assertEqual(msgs[0]["series"], a)
        self.assertEqual([p["average"] for p in msgs[0]["points"]],
                         [1.0, 1.5])
        self.post(a, [4.0], [1002.0])
        msgs = reader.wait_count(2)
        self.assertEqual((msgs[1]["type"], msgs[1]["series"],
                          msgs[1]["average"], msgs[1]["count"]),
                         ("average", a, 3.0, 2))

        ws.send(json.dumps({"unsubscribe": {"series": a, "window_size": 2}}))
        self.sync(reader, ws)
        self.post(a, [8.0], [1003.0])       # nobody listens to a now
        n = len(reader.msgs)
        ws.send(json.dumps({"subscribe": [{"series": b, "window_size": 1}]}))
        reader.wait_count(n + 1)
        self.post(b, [20.0], [1001.0])
        msgs = reader.wait_count(n + 2)
        self.assertEqual(msgs[n]["type"], "history")
        self.assertEqual(msgs[n]["series"], b)
        self.assertEqual((msgs[n + 1]["type"], msgs[n + 1]["series"],
                          msgs[n + 1]["value"], msgs[n + 1]["average"]),
                         ("average", b, 20.0, 20.0))
        # Unsubscribing from something not subscribed is an error reply.
        ws.send(json.dumps({"unsubscribe": {"series": a, "window_size": 2}}))
        msgs = reader.wait_count(n + 3)
        self.assertEqual(msgs[n + 2]["type"], "error")

    def test_subscribe_before_the_series_exists(self):
        # A dashboard may open before its producer: the subscription waits
        # with an empty history, then gets the first points live.
        name = "st.later"
        ws = self.connect("series=%s&window_size=2" % name)
        reader = WSReader(ws)
        first = reader.wait_count(1)[0]
        self.assertEqual((first["type"], first["points"]), ("history", []))
        self.post(name, [4.0, 8.0], [1000.0, 1001.0])
        msgs = reader.wait_count(3)
        self.assertEqual([(m["value"], m["average"], m["count"])
                          for m in msgs[1:]], [(4.0, 4.0, 1), (8.0, 6.0, 2)])

    def test_two_windows_on_one_connection(self):
        name = "st.twowin"
        self.post(name, [1.0], [1000.0])
        ws = self.connect()
        reader = WSReader(ws)
        ws.send(json.dumps({"subscribe": [
            {"series": name, "window_size": 1},
            {"series": name, "window_size": 4}]}))
        reader.wait_count(2)
        values, stamps = [1.0], [1000.0]
        for v in (3.0, 5.0, 7.0):
            values.append(v)
            stamps.append(stamps[-1] + 1)
        self.post(name, values[1:], stamps[1:])
        msgs = reader.wait_count(2 + 6)[2:]
        for w in (1, 4):
            got = [m for m in msgs if m["window_size"] == w]
            self.assertEqual(len(got), 3)
            for k, m in enumerate(got):
                self.check_live(m, name, w, values, stamps, k + 1)

    def test_bad_messages_get_errors_and_connection_stays(self):
        name = "st.bad"
        self.post(name, [2.0], [1000.0])
        ws = self.connect()
        reader = WSReader(ws)
        bad = ["not json", "[1,2]", "{\"subscribe\": 3}", "{\"x\": 1}",
               "{\"subscribe\": {\"series\": \"st.bad\"}}",
               "{\"subscribe\": {\"series\": \"st.bad\", "
               "\"window_size\": 0}}",
               "{\"subscribe\": {\"series\": \"st.bad\", "
               "\"window_size\": \"3\"}}",
               "{\"subscribe\": {\"series\": \"a b\", \"window_size\": 3}}",
               "{\"subscribe\": {\"series\": \"st.bad\", "
               "\"window_size\": 3}} trailing",
               "\"just a string\"", ""]
        for text in bad:
            ws.send(text)
        msgs = reader.wait_count(len(bad))
        for text, m in zip(bad, msgs):
            self.assertEqual(m["type"], "error", (text, m))
            self.assertIsInstance(m["error"], str)
        ws.send_binary(b"\x01\x02")
        msgs = reader.wait_count(len(bad) + 1)
        self.assertEqual(msgs[-1]["type"], "error")
        # Still usable.
        ws.send(json.dumps({"subscribe": {"series": name,
                                          "window_size": 2}}))
        self.post(name, [6.0], [1001.0])
        msgs = reader.wait_count(len(bad) + 3)
        self.assertEqual(msgs[-2]["type"], "history")
        self.assertEqual((msgs[-1]["type"], msgs[-1]["average"]),
                         ("average", 4.0))
        # Subscribing twice to the same pair is refused.
        ws.send(json.dumps({"subscribe": {"series": name,
                                          "window_size": 2}}))
        msgs = reader.wait_count(len(bad) + 4)
        self.assertEqual(msgs[-1]["type"], "error")

    def test_url_errors(self):
        self.post("st.urlerr", [1.0], [1000.0])
        for query, word in (("series=st.urlerr", "window_size"),
                            ("series=st.urlerr&window_size=0",
                             "window_size"),
                            ("series=st.urlerr&window_size=abc",
                             "window_size"),
                            ("series=a%27b&window_size=3", "series")):
            with self.subTest(query=query):
                ws = self.connect(query)
                m = json.loads(ws.recv())
                self.assertEqual(m["type"], "error", m)
                self.assertIn(word, m["error"])
                # The connection stays usable.
                ws.send(json.dumps({"subscribe": {"series": "st.urlerr",
                                                  "window_size": 1}}))
                m = json.loads(ws.recv())
                self.assertEqual(m["type"], "history", m)

    # Query arguments are found whatever the length of the ones before.
    def test_url_subscription_with_long_series_name(self):
        for n in (57, 100, 255):
            name = "L" * n
            self.post(name, [3.0, 5.0], [1000.0, 1001.0])
            with self.subTest(n=n):
                ws = self.connect("series=%s&window_size=2" % name)
                m = json.loads(ws.recv())
                self.assertEqual(m["type"], "history", m)
                self.assertEqual(m["points"][-1]["average"], 4.0)

    # A value too long to be valid is refused, never taken as absent.
    def test_url_with_over_long_series_gets_error(self):
        ws = self.connect("series=%s&window_size=2" % ("L" * 400))
        ws.settimeout(5)
        m = json.loads(ws.recv())
        self.assertEqual(m["type"], "error", m)

    def test_url_subscription_with_long_name_window_first(self):
        name = "W" * 255
        self.post(name, [3.0, 5.0], [1000.0, 1001.0])
        ws = self.connect("window_size=2&series=%s" % name)
        m = json.loads(ws.recv())
        self.assertEqual((m["type"], m["series"]), ("history", name))
        self.assertEqual(m["points"][-1]["average"], 4.0)

    def test_two_subscribers_get_the_same_messages(self):
        name = "st.same"
        self.post(name, [1.0], [1000.0])
        r1 = WSReader(self.connect("series=%s&window_size=5" % name))
        r2 = WSReader(self.connect("series=%s&window_size=5" % name))
        r1.wait_count(1)
        r2.wait_count(1)
        values = [float(v) for v in range(2, 42)]
        self.post(name, values, [1000.0 + i for i in range(1, 41)])
        m1 = r1.wait_count(41)
        m2 = r2.wait_count(41)
        self.assertEqual(m1, m2)
        allv = [1.0] + values
        self.assertEqual([m["average"] for m in m1[1:]],
                         [mean(allv[max(0, i - 4):i + 1])
                          for i in range(1, 41)])

    def test_message_over_max_message_closes_1009(self):
        ws = self.connect()
        ws.send(json.dumps({"subscribe": {"series": "x" * MAX_MESSAGE,
                                          "window_size": 1}}))
        code = None
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                op, frame = ws.recv_data_frame(True)
            except websocket.WebSocketConnectionClosedException:
                break
            if op == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", frame.data[:2])[0]
                break
        self.assertEqual(code, 1009)
        # A message just under the limit is read and answered.
        ws = self.connect()
        text = json.dumps({"subscribe": {"series": "y", "window_size": 1}})
        text = text[:-1] + " " * (MAX_MESSAGE - len(text)) + "}"
        self.assertEqual(len(text), MAX_MESSAGE)
        ws.send(text)
        self.assertEqual(json.loads(ws.recv())["type"], "history")

    def test_handshake_without_subprotocol_refused(self):
        with self.assertRaises((websocket.WebSocketException,
                                ConnectionError)):
            ws = websocket.create_connection(
                "ws://127.0.0.1:%d/stream?series=st.nosub&window_size=2"
                % self.srv.port, timeout=10)
            self.socks.append(ws)

    def test_every_subscription_gets_its_history(self):
        # More subscriptions, sent before reading any reply, than a small
        # reply queue holds: each gets its history, those past the limit
        # an error.
        name = "st.many"
        self.post(name, [1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0])
        ws = self.connect()
        reader = WSReader(ws)
        for n in range(1, 71):
            ws.send(json.dumps({"subscribe": {"series": name,
                                              "window_size": n}}))
        msgs = reader.wait_count(70)
        hist = [m for m in msgs if m["type"] == "history"]
        errors = [m for m in msgs if m["type"] == "error"]
        self.assertEqual(sorted(m["window_size"] for m in hist),
                         list(range(1, 65)))
        self.assertEqual(len(errors), 6)
        self.assertIn("too many subscriptions", errors[0]["error"])

    def test_handshake_on_other_path_refused(self):
        for path in ("/", "/average", "/streams", "/stream/x", "/nothere"):
            with self.subTest(path=path):
                with self.assertRaises((websocket.WebSocketException,
                                        ConnectionError)):
                    ws = self.srv.ws(path=path)
                    self.socks.append(ws)
        self.assertEqual(self.srv.get_json("/health")[0], 200)

    def test_metrics_count_connections(self):
        before = self.srv.metrics()["streamavg_ws_connections"]
        ws = self.connect()
        ws.send("{}")
        json.loads(ws.recv())
        self.assertEqual(self.srv.metrics()["streamavg_ws_connections"],
                         before + 1)
        ws.close()
        self.socks.remove(ws)


class SlowSubscriber(unittest.TestCase):
    QUEUE = 16
    POINTS = 20000
    BATCH = 10          # below QUEUE: a reader that keeps up drops nothing

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("stream.queue_max=%d" % cls.QUEUE)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    @unittest.skipIf(harness.SLOW, "20,000 points outlast the reader's "
                     "timeout under valgrind")
    def test_slow_reader_drops_others_do_not(self):
        import socket
        name, window = "st.slow", 7
        self.srv.ingest_points(name, [0.0], [1000.0])
        values, stamps = [0.0], [1000.0]
        # A small receive buffer, so the server soon cannot write to it.
        slow = self.srv.ws("series=%s&window_size=%d" % (name, window),
                           sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF,
                                     4096),))
        fast = self.srv.ws("series=%s&window_size=%d" % (name, window))
        try:
            self.assertEqual(json.loads(slow.recv())["type"], "history")
            reader = WSReader(fast)
            reader.wait_count(1)
            body_lines = []
            for i in range(1, self.POINTS + 1):
                values.append(float((i * 7919) % 1009) - 500.0)
                stamps.append(1000.0 + i * 0.001)
            # One keep-alive connection for the many small POSTs.
            import http.client
            conn = http.client.HTTPConnection("127.0.0.1", self.srv.port,
                                              timeout=60)
            for start in range(1, self.POINTS + 1, self.BATCH):
                end = min(start + self.BATCH, self.POINTS + 1)
                body_lines = "".join(json.dumps(
                    {"series": name, "value": values[i],
                     "timestamp": stamps[i]}) + "\n"
                    for i in range(start, end))
                conn.request("POST", "/ingest", body=body_lines.encode(),
                             headers={"Content-Type":
                                      "application/x-ndjson"})
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                # Wait for the fast reader before the next batch.
                reader.wait_count(end)
            conn.close()
            msgs = reader.wait_count(self.POINTS + 1)
            live = msgs[1:]
            self.assertEqual(len(live), self.POINTS)
            for k in (0, 1, 5000, self.POINTS - 1):
                m = live[k]
                exp = expected_point(values, stamps, k + 1, window)
                self.assertEqual((m["value"], m["timestamp"], m["count"]),
                                 (exp["value"], exp["timestamp"],
                                  exp["count"]))
                self.assertTrue(close_rel(m["average"], exp["average"]))
            self.assertEqual([m["value"] for m in live], values[1:])
            self.assertFalse(any("dropped" in m for m in live))

            # Now the slow one reads everything it was sent.
            slow.settimeout(30)
            got, dropped = [], 0
            while not got or got[-1]["timestamp"] != stamps[-1]:
                m = json.loads(slow.recv())
                self.assertEqual(m["type"], "average")
                dropped += m.get("dropped", 0)
                got.append(m)
            self.assertGreater(dropped, 0)
            self.assertEqual(len(got) + dropped, self.POINTS)
            last = got[-1]
            exp = expected_point(values, stamps, self.POINTS, window)
            self.assertEqual(last["value"], exp["value"])
            self.assertTrue(close_rel(last["average"], exp["average"]))
            # What it did get is in order, each with its right average.
            idx = {t: i for i, t in enumerate(stamps)}
            order = [idx[m["timestamp"]] for m in got]
            self.assertEqual(order, sorted(order))
            for m in got[::50]:
                exp = expected_point(values, stamps, idx[m["timestamp"]],
                                     window)
                self.assertTrue(close_rel(m["average"], exp["average"]))
            metrics = self.srv.metrics()
            self.assertGreaterEqual(
                metrics["streamavg_ws_messages_dropped_total"], dropped)
        finally:
            slow.close()
            fast.close()


if __name__ == "__main__":
    unittest.main()
