"""WebSocket keepalive (lws 4.1's validity policy): an idle subscriber that
answers pings stays connected; a peer that stops answering is dropped
within stream.ping_s + stream.timeout_s."""
import base64
import os
import socket
import time
import unittest

from harness import SLOW, Server, WSReader, wait_for


def silent_ws(srv):
    """A WebSocket handshake by hand, after which this peer never reads or
    answers anything: a dead client as the server sees one."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /stream?series=ka.s&window_size=2 HTTP/1.1\r\n"
               "Host: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamavg\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head, head
    return s


@unittest.skipIf(SLOW, "measures time")
class Keepalive(unittest.TestCase):
    def test_live_peer_stays_dead_peer_dropped(self):
        srv = Server("stream.ping_s=1", "stream.timeout_s=1")
        try:
            live = srv.ws("series=ka.s&window_size=2")
            reader = WSReader(live)       # answers pings as it reads
            dead = silent_ws(srv)
            conns = "streamavg_ws_connections"
            self.assertEqual(srv.metrics()[conns], 2)
            t0 = time.time()
            wait_for(lambda: srv.metrics()[conns] == 1, 10,
                     "the silent peer to be dropped", interval=0.1)
            took = time.time() - t0
            self.assertLess(took, 1 + 1 + 1.5)
            # Long idle, yet the live one is still there and served.
            time.sleep(2.5)
            self.assertEqual(srv.metrics()[conns], 1)
            srv.ingest_points("ka.s", [5.0])
            reader.wait_until(lambda ms: any(m.get("type") == "average"
                                             for m in ms), 10,
                              "an average")
            # The dead peer's socket was closed by the server.
            dead.settimeout(5)
            data = b"x"
            while data:
                data = dead.recv(65536)
            dead.close()
            live.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
