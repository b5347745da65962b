"""WebSocket peers as they come: compressing browsers, broken text,
and a crowd that reconnects at once."""
import base64
import os
import resource
import selectors
import socket
import struct
import time
import unittest

import websocket

from harness import Server

CROWD = 1000


def handshake(port, query, extra=""):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET /stream?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: streamavg\r\n%s\r\n"
            % (query, port, key, extra)).encode()


class Peers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        cls.srv.ingest_points("wp.s", [1.0, 2.0, 3.0],
                              [1000.0, 1001.0, 1002.0])

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_permessage_deflate_is_declined_cleanly(self):
        # A browser offers compression; the server answers 101 without
        # taking it, and the stream works uncompressed.
        with socket.create_connection(("127.0.0.1", self.srv.port),
                                      timeout=10) as s:
            s.sendall(handshake(
                self.srv.port, "series=wp.s&window_size=2",
                "Sec-WebSocket-Extensions: permessage-deflate; "
                "client_max_window_bits\r\n"))
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            status, _, rest = head.partition(b"\r\n")
            self.assertIn(b" 101 ", status)
            self.assertNotIn(b"sec-websocket-extensions",
                             rest.split(b"\r\n\r\n")[0].lower())

    def test_invalid_utf8_text_closes_with_1007(self):
        ws = self.srv.ws()
        ws.send_frame(websocket.ABNF.create_frame(
            b"{\"subscribe\": \"\xff\xfe\"}", websocket.ABNF.OPCODE_TEXT))
        code = None
        try:
            while True:
                op, frame = ws.recv_data_frame(True)
                if op == websocket.ABNF.OPCODE_CLOSE:
                    code = struct.unpack("!H", frame.data[:2])[0]
                    break
        except websocket.WebSocketConnectionClosedException:
            pass
        self.assertEqual(code, 1007)
        self.assertEqual(self.srv.get_json("/health")[0], 200)

    def test_a_crowd_reconnecting_at_once_is_served(self):
        # CROWD handshakes sent as fast as one thread can, then every one
        # must be answered with 101 and its history.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < CROWD + 64:
            self.skipTest("the open-files limit is below %d" % (CROWD + 64))
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (max(soft, CROWD + 64), hard))
        sel = selectors.DefaultSelector()
        socks, got, finished = [], {}, set()
        try:
            start = time.time()
            for _ in range(CROWD):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", self.srv.port))
                socks.append(s)
                sel.register(s, selectors.EVENT_WRITE)
            sent = set()
            deadline = time.time() + 60
            while len(finished) < CROWD and time.time() < deadline:
                for key, ev in sel.select(timeout=1):
                    s = key.fileobj
                    if ev & selectors.EVENT_WRITE and s not in sent:
                        s.sendall(handshake(self.srv.port,
                                            "series=wp.s&window_size=3"))
                        sent.add(s)
                        sel.modify(s, selectors.EVENT_READ)
                    elif ev & selectors.EVENT_READ:
                        data = s.recv(65536)
                        got[s] = got.get(s, b"") + data
                        if b'"type":"history"' in got[s] or not data:
                            finished.add(s)
                            sel.unregister(s)
            spread = time.time() - start
            done = [s for s in socks
                    if b'"type":"history"' in got.get(s, b"")]
            self.assertEqual(len(done), CROWD,
                             "%d of %d served in %.1f s" %
                             (len(done), CROWD, spread))
            for s in done:
                self.assertTrue(got[s].startswith(b"HTTP/1.1 101"))
        finally:
            sel.close()
            for s in socks:
                s.close()
        self.assertEqual(self.srv.get_json("/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
