"""Security: TLS from the config (with a certificate made here), the
WebSocket Origin allow-list, the subscribe token (never logged), no file
outside www/ or the dygraphs folder can be read, and the built-in default
bind is loopback only."""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from harness import ROOT, Server, listening_sockets, strict_json


def make_cert(test):
    if not shutil.which("openssl"):
        test.skipTest("openssl is not installed")
    d = tempfile.mkdtemp(prefix="streamavg-tls-")
    test.addCleanup(shutil.rmtree, d, True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class Tls(unittest.TestCase):
    def test_https_and_wss(self):
        cert, key = make_cert(self)
        srv = Server("http.tls_cert=" + cert, "http.tls_key=" + key,
                     tls_ca=cert)
        try:
            self.assertTrue(srv.base.startswith("https://"))
            self.assertEqual(srv.get("/health")[0], 200)
            srv.ingest_points("tls.s", [1.0, 2.0, 3.0])
            ws = srv.ws("series=tls.s&window_size=2")
            self.assertIn('"type":"history"', ws.recv())
            ws.close()
            # Plain HTTP on the TLS port gets no HTTP answer.
            with socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=5) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    data = s.recv(4096)
                except (ConnectionResetError, socket.timeout):
                    data = b""
                self.assertNotIn(b'"status":"ok"', data)
            # A client that does not trust the certificate is refused.
            ctx = ssl.create_default_context()
            with socket.create_connection(("127.0.0.1", srv.port),
                                          timeout=5) as s:
                with self.assertRaises(ssl.SSLError):
                    ctx.wrap_socket(s, server_hostname="127.0.0.1")
        finally:
            log = srv.stop()
        self.assertIn("(TLS)", log)

    def test_cert_without_key_is_refused(self):
        cert, key = make_cert(self)
        p = subprocess.run([os.path.join(ROOT, os.environ.get(
            "STREAMAVG_BIN", "build/streamavg")), "-o",
            "http.tls_cert=" + cert], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"http.tls_key", p.stderr)


class Origins(unittest.TestCase):
    def test_only_listed_origins_may_subscribe(self):
        import websocket
        srv = Server("stream.allowed_origins=http://good.example, "
                     "https://dash.example:8443")
        try:
            for origin in ("http://good.example", "https://DASH.example:8443",
                           None):
                kw = {"origin": origin} if origin else {
                    "suppress_origin": True}
                ws = srv.ws("series=default&window_size=2", **kw)
                self.assertIn('"type":"history"', ws.recv())
                ws.close()
            for origin in ("http://evil.example", "http://good.example.evil",
                           "null"):
                with self.assertRaises(
                        websocket.WebSocketBadStatusException,
                        msg=origin):
                    srv.ws("series=default&window_size=2", origin=origin)
            self.assertEqual(
                srv.metrics()["streamavg_ws_refused_origin_total"], 3)
        finally:
            log = srv.stop()
        self.assertIn("not in stream.allowed_origins", log)


class SubscribeToken(unittest.TestCase):
    def test_token_required_and_never_logged(self):
        import websocket
        token = "s3cret-Token-4711"
        srv = Server("stream.subscribe_token=" + token)
        try:
            for q in ("", "token=", "token=s3cret-Token-471",
                      "token=s3cret-Token-47110", "token=wrong-guess-xyz"):
                with self.assertRaises(
                        websocket.WebSocketBadStatusException, msg=q):
                    srv.ws("series=default&window_size=2&" + q)
            ws = srv.ws("series=default&window_size=2&token=" + token)
            self.assertIn('"type":"history"', ws.recv())
            ws.close()
            ws = srv.ws("series=default&window_size=2",
                        header=["Authorization: Bearer " + token])
            self.assertIn('"type":"history"', ws.recv())
            ws.close()
            self.assertEqual(
                srv.metrics()["streamavg_ws_refused_token_total"], 5)
        finally:
            log = srv.stop()
        self.assertIn("subscribe token", log)
        self.assertNotIn("s3cret", log)
        self.assertNotIn("wrong-guess", log)


TRAVERSALS = [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/.%2e/.%2e/.%2e/.%2e/etc/passwd",
    "/dygraphs/../../../../../etc/passwd",
    "/dygraphs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/dygraphs/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/dygraphs/../",
    "/dygraphs/..",
    "/dygraphs/../../../../../proc/self/environ",
    "//etc/passwd",
    "/dygraphs//etc/passwd",
    "/index.html/../../../../etc/passwd",
    "/../conf/streamavg.conf",
    "/%2e%2e/conf/streamavg.conf",
    "/../build/canary",
    "/%2e%2e/build/canary",
    "/..%5c..%5cbuild%5ccanary",
    "/dygraphs/../../../../..%s/build/canary" % ROOT,
    "/../../../../..%s/build/canary" % ROOT,
]


class PathTraversal(unittest.TestCase):
    def raw_get(self, srv, path):
        """The request line exactly as given (no client normalises it)."""
        with socket.create_connection(("127.0.0.1", srv.port),
                                      timeout=10) as s:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Connection: close\r\n\r\n" % path).encode())
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        return data

    def test_no_file_outside_www_or_dygraphs(self):
        canary = os.path.join(ROOT, "build", "canary")
        secret = "canary-%s" % os.urandom(8).hex()
        with open(canary, "w") as f:
            f.write(secret)
        self.addCleanup(os.unlink, canary)
        with open(os.path.join(ROOT, "conf", "streamavg.conf")) as f:
            conf_marker = "every key is optional"
            self.assertIn(conf_marker, f.read().lower())
        srv = Server()
        try:
            # The mounts do serve what is theirs.
            self.assertEqual(srv.request("/")[0], 200)
            for path in TRAVERSALS:
                data = self.raw_get(srv, path)
                with self.subTest(path=path):
                    text = data.decode("latin-1")
                    self.assertNotIn("root:x:0:0", text)
                    self.assertNotIn(secret, text)
                    self.assertNotIn(conf_marker, text.lower())
                    self.assertNotIn("PATH=", text)
                    if text.startswith("HTTP/1.1 200"):
                        # Only a page of www/ (lws may normalise to /).
                        self.assertIn("<html", text.lower(), path)
            self.assertEqual(srv.get("/health")[0], 200)
        finally:
            srv.stop()


class BuiltInDefaults(unittest.TestCase):
    def test_no_config_file_binds_loopback_only(self):
        """Without -c, the built-in defaults: IPv4 loopback only, no [::]
        listener (lws 4.1 adds one unless told not to)."""
        srv = Server(conf=None)
        try:
            socks = listening_sockets(srv.proc.pid)
            self.assertEqual(sorted(p for _, _, p in socks),
                             sorted([srv.port, srv.graphite_port]), socks)
            for fam, addr, port in socks:
                self.assertEqual((fam, addr), ("ipv4", "127.0.0.1"))
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
