"""WebSocket /stream with a flush tick (stream.flush_ms): a point that
comes after a quiet spell goes out at once; points that come within a
tick of the last write wait for the tick and travel in one frame."""
import json
import time
import unittest

import harness
from harness import Server, mean

TICK_MS = 300


class StreamFlush(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("stream.flush_ms=%d" % TICK_MS)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post(self, series, value, stamp):
        self.srv.ingest_points(series, [value], [stamp])

    def frame(self, ws):
        """The next frame, as a list of messages, and when it came."""
        f = json.loads(ws.recv())
        return (f if isinstance(f, list) else [f]), time.monotonic()

    def test_points_within_a_tick_share_a_frame(self):
        name = "fl.tick"
        ws = self.srv.ws("series=%s&window_size=2" % name, raw=True)
        try:
            self.assertEqual(json.loads(ws.recv())["type"], "history")
            values = [3.0, 5.0, 8.0, 13.0, 21.0]
            stamps = [3000.0 + i for i in range(len(values))]

            # After a quiet spell: at once, alone.
            t0 = time.monotonic()
            self.post(name, values[0], stamps[0])
            msgs, t1 = self.frame(ws)
            self.assertEqual([m["value"] for m in msgs], [3.0])
            if not harness.SLOW:
                self.assertLess(t1 - t0, TICK_MS / 1000.0 / 2)

            # Four more, each in its own request, well within the tick:
            # they wait for it and come in one frame, in order.
            for v, s in zip(values[1:], stamps[1:]):
                self.post(name, v, s)
            got = []
            while len(got) < 4:
                msgs, t2 = self.frame(ws)
                got += msgs
            if not harness.SLOW:
                self.assertEqual(len(got), len(msgs),
                                 "the four came in more than one frame")
            for i, m in enumerate(got, start=1):
                self.assertEqual(m["value"], values[i])
                self.assertEqual(m["timestamp"], stamps[i])
                self.assertEqual(m["average"], mean(values[i - 1:i + 1]))
                self.assertEqual(m["count"], 2)

            # Quiet for more than a tick: the next one goes at once again.
            time.sleep(2 * TICK_MS / 1000.0)
            t0 = time.monotonic()
            self.post(name, 34.0, 3100.0)
            msgs, t1 = self.frame(ws)
            self.assertEqual([m["value"] for m in msgs], [34.0])
            if not harness.SLOW:
                self.assertLess(t1 - t0, TICK_MS / 1000.0 / 2)
        finally:
            ws.close()

    def test_a_closing_subscriber_leaves_the_tick_alone(self):
        # A connection that closes while it waits for the tick is taken
        # off the list; the others still get their averages.
        name = "fl.close"
        keep = self.srv.ws("series=%s&window_size=1" % name, raw=True)
        gone = [self.srv.ws("series=%s&window_size=1" % name, raw=True)
                for _ in range(5)]
        try:
            for ws in [keep] + gone:
                self.assertEqual(json.loads(ws.recv())["type"], "history")
            self.post(name, 1.0, 4000.0)
            for ws in [keep] + gone:
                self.assertEqual(self.frame(ws)[0][0]["value"], 1.0)
            self.post(name, 2.0, 4001.0)     # within the tick: waits
            for ws in gone:
                ws.close()
            self.post(name, 3.0, 4002.0)
            got = []
            while len(got) < 2:
                got += self.frame(keep)[0]
            self.assertEqual([m["value"] for m in got], [2.0, 3.0])
            self.assertEqual(self.srv.get_json("/health")[2]["status"], "ok")
        finally:
            keep.close()


if __name__ == "__main__":
    unittest.main()
