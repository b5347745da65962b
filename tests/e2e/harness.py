"""Start the real streamavg binary on free loopback ports for a test.

The binary comes from $STREAMAVG_BIN (the Makefile sets it: the strict
build, then the sanitized one).  Each Server gets its own ports, runs with
the shipped config plus overrides, and on stop must exit 0 after SIGTERM
with no sanitizer report in its log.
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("STREAMAVG_BIN", "build/streamavg"))
CONF = os.path.join(ROOT, "conf", "streamavg.conf")


def free_port():
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *overrides, generator=False):
        self.port = free_port()
        self.graphite_port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.NamedTemporaryFile(
            prefix="streamavg-", suffix=".log", delete=False)
        args = [BIN, "-c", CONF,
                "-o", "http.port=%d" % self.port,
                "-o", "graphite.port=%d" % self.graphite_port,
                "-o", "http.www=%s" % os.path.join(ROOT, "www"),
                "-o", "generator.enabled=%s" % str(generator).lower()]
        for o in overrides:
            args += ["-o", o]
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        self._wait_ready()

    def _wait_ready(self, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("streamavg exited early:\n" + self.logtext())
            try:
                self.get("/health")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("streamavg did not answer /health:\n" +
                           self.logtext())

    def logtext(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def request(self, path, data=None, ctype=None, method=None):
        """(status, headers, body bytes) of one HTTP request."""
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path):
        status, headers, body = self.request(path)
        return status, json.loads(body) if body.startswith(b"{") else body

    def ingest(self, lines, ctype="application/x-ndjson"):
        body = lines if isinstance(lines, bytes) else "".join(
            l + "\n" for l in lines).encode()
        status, _, out = self.request("/ingest", body, ctype)
        return status, json.loads(out)

    def stop(self):
        """SIGTERM; the server must exit 0, and the log must be clean."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("streamavg ignored SIGTERM:\n" +
                                     self.logtext())
        text = self.logtext()
        os.unlink(self.log.name)
        if self.proc.returncode != 0:
            raise AssertionError("streamavg exited %d:\n%s" %
                                 (self.proc.returncode, text))
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if bad in text:
                raise AssertionError("sanitizer report:\n" + text)
        return text
