"""Start the real streamavg binary on free loopback ports for a test.

The binary comes from $STREAMAVG_BIN (the Makefile sets it: the strict
build, then the sanitized one).  Each Server gets its own ports, runs with
the shipped config plus overrides, and on stop must exit 0 after SIGTERM
with no sanitizer report in its log.
"""
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("STREAMAVG_BIN", "build/streamavg"))
CONF = os.path.join(ROOT, "conf", "streamavg.conf")
# `make valgrind` runs the binary under a wrapper; everything is then many
# times slower, and tests that measure time skip themselves (SLOW).
WRAP = os.environ.get("STREAMAVG_WRAP", "").split()
SLOW = bool(os.environ.get("STREAMAVG_SLOW"))


def _no_constant(name):
    raise ValueError("non-standard JSON constant %r" % name)


def strict_json(body):
    """Parse JSON the way a strict client would: NaN, Infinity and
    -Infinity are refused (Python's json module takes them by default)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body, parse_constant=_no_constant)


def wait_for(pred, timeout=20.0, what="condition", interval=0.02):
    """Poll pred() until it returns something true; return that value.
    Fails the test with `what` when the deadline passes."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def mean(values):
    """The exact-as-possible mean, computed independently of the server."""
    values = list(values)
    return math.fsum(values) / len(values)


def close_rel(a, b, rel=1e-12):
    """a and b equal within rel relative (exactly equal counts too)."""
    if a == b:
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b))


def quote(s):
    return urllib.parse.quote(s, safe="")


def listening_sockets(pid):
    """[(family, address, port)] of the TCP sockets process pid listens
    on, read from /proc (no external tools)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    found = []
    for fam, path in (("ipv4", "/proc/net/tcp"), ("ipv6", "/proc/net/tcp6")):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state != "0A" or inode not in inodes:    # 0A: LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            if fam == "ipv4":
                addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                # /proc prints the address as four host-order 32-bit words.
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, words)
            found.append((fam, addr, int(port_hex, 16)))
    return found


def _message_socket():
    import websocket

    class MessageSocket(websocket.WebSocket):
        """recv() gives one message per call, a batch's elements in order."""

        def recv(self):
            pending = self.__dict__.setdefault("_pending", [])
            if pending:
                return pending.pop(0)
            text = super().recv()
            if isinstance(text, str) and text.startswith("["):
                pending.extend(json.dumps(m, separators=(",", ":"))
                               for m in strict_json(text))
                return pending.pop(0) if pending else text
            return text

    return MessageSocket


class WSReader(threading.Thread):
    """Reads every message of a WebSocket in the background, parsing each
    strictly as JSON, so a test can wait for what it expects."""

    def __init__(self, ws):
        super().__init__(daemon=True)
        self.ws = ws
        self.msgs = []
        self.frames = 0
        self.error = None
        self.cond = threading.Condition()
        self.start()

    def run(self):
        try:
            while True:
                text = self.ws.recv()
                if not text:
                    break
                msg = strict_json(text)
                # A reader that lags gets several averages in one frame,
                # a JSON array: the tests see them one by one.
                batch = msg if isinstance(msg, list) else [msg]
                with self.cond:
                    self.frames += 1
                    self.msgs.extend(batch)
                    self.cond.notify_all()
        except Exception as e:      # closed, or a test bug: keep it
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def wait_count(self, n, timeout=30.0):
        """The first n messages, once they have arrived."""
        deadline = time.time() + timeout
        with self.cond:
            while len(self.msgs) < n:
                left = deadline - time.time()
                if left <= 0 or (self.error and len(self.msgs) < n):
                    raise AssertionError(
                        "got %d of %d WebSocket messages (%r)" %
                        (len(self.msgs), n, self.error))
                self.cond.wait(left)
            return list(self.msgs[:n])

    def wait_until(self, pred, timeout=30.0, what="a message"):
        """The messages so far, once pred(messages) is true."""
        deadline = time.time() + timeout
        with self.cond:
            while not pred(self.msgs):
                left = deadline - time.time()
                if left <= 0 or self.error:
                    raise AssertionError("timed out waiting for %s (%d "
                                         "messages, %r)" %
                                         (what, len(self.msgs), self.error))
                self.cond.wait(left)
            return list(self.msgs)


def read_to_close(sock):
    """Everything a socket receives until the peer closes it."""
    data = b""
    while True:
        part = sock.recv(65536)
        if not part:
            return data
        data += part


def terminate(proc, timeout=20):
    """SIGTERM a child we started, then SIGKILL it if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Never a proxy: the tests talk to loopback only, whatever http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Server:
    def __init__(self, *overrides, generator=False, conf=CONF,
                 host="127.0.0.1", storage=None, port=None, tls_ca=None):
        """storage: the storage.dir to use (kept); by default a fresh
        temporary folder, removed at stop, so tests never share state.
        tls_ca: the server speaks TLS (set http.tls_cert and http.tls_key
        in overrides); trust this certificate file."""
        self.port = port or free_port()
        self.graphite_port = free_port()
        self.own_storage = storage is None
        self.storage = storage or tempfile.mkdtemp(prefix="streamavg-state-")
        self.host = host
        self.tls_ca = tls_ca
        self.opener = _OPENER
        if tls_ca:
            import ssl
            self.opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}),
                urllib.request.HTTPSHandler(
                    context=ssl.create_default_context(cafile=tls_ca)))
        self.base = "%s://%s:%d" % ("https" if tls_ca else "http",
                                    "[%s]" % host if ":" in host else host,
                                      self.port)
        self.log = tempfile.NamedTemporaryFile(
            prefix="streamavg-", suffix=".log", delete=False)
        args = WRAP + [BIN] + (["-c", conf] if conf else []) + [
                "-o", "http.port=%d" % self.port,
                "-o", "graphite.port=%d" % self.graphite_port,
                "-o", "http.www=%s" % os.path.join(ROOT, "www"),
                "-o", "generator.enabled=%s" % str(generator).lower(),
                "-o", "storage.dir=%s" % self.storage]
        for o in overrides:
            args += ["-o", o]
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            self._wait_ready()
        except BaseException:
            # Never leave a server behind when start-up fails.
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._drop_storage()
            raise

    def _wait_ready(self, timeout=120.0 if SLOW else 20.0):
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

    def request(self, path, data=None, ctype=None, method=None,
                timeout=60):
        """(status, headers, body bytes) of one HTTP request."""
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with self.opener.open(req, timeout=timeout) as r:
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

    def get_json(self, path):
        """(status, headers, strictly parsed JSON body)."""
        status, headers, body = self.request(path)
        return status, headers, strict_json(body)

    def average(self, series, **params):
        """(status, JSON) of GET /average for series with params."""
        q = "series=" + quote(series)
        for k, v in params.items():
            q += "&%s=%s" % (k, quote(str(v)))
        status, _, out = self.get_json("/average?" + q)
        return status, out

    def ingest_points(self, series, values, timestamps=None, batch=None):
        """POST points as NDJSON (in batches of `batch` lines); returns the
        last answer.  Every point must be accepted."""
        lines = []
        for i, v in enumerate(values):
            o = {"series": series, "value": v}
            if timestamps is not None:
                o["timestamp"] = timestamps[i]
            lines.append(json.dumps(o, allow_nan=False))
        batch = batch or max(1, len(lines))
        out = None
        for i in range(0, len(lines), batch):
            status, out = self.ingest(lines[i:i + batch])
            if status != 200 or out["rejected"]:
                raise AssertionError("ingest refused: %d %r" % (status, out))
        return out

    def series_info(self, name):
        """The /series entry for name, or None."""
        status, _, out = self.get_json("/series")
        if status != 200:
            raise AssertionError("/series answered %d" % status)
        for e in out["series"]:
            if e["name"] == name:
                return e
        return None

    def wait_points(self, name, total, timeout=20.0):
        """Wait until series name has received `total` points in all."""
        return wait_for(lambda: (lambda e: e if e and e["total"] >= total
                                 else None)(self.series_info(name)),
                        timeout, "%d points in %s" % (total, name))

    def metrics(self):
        """/metrics as {'name{labels}': value}."""
        status, _, body = self.request("/metrics")
        if status != 200:
            raise AssertionError("/metrics answered %d" % status)
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, val = line.rpartition(" ")
                out[key] = float(val)
        return out

    def ws(self, query="", path="/stream", timeout=30, raw=False, **kw):
        """A WebSocket to path?query with the streamavg subprotocol.  Its
        recv() returns one message at a time, taking apart the JSON arrays
        in which the server sends averages to a reader that lags; raw=True
        gives the frames as they came."""
        import websocket
        if self.tls_ca:
            kw.setdefault("sslopt", {"ca_certs": self.tls_ca})
        url = "%s://127.0.0.1:%d%s%s" % ("wss" if self.tls_ca else "ws",
                                          self.port, path,
                                          "?" + query if query else "")
        kw.setdefault("subprotocols", ["streamavg"])
        kw.setdefault("http_no_proxy", ["127.0.0.1", "localhost"])
        if not raw:
            kw.setdefault("class_", _message_socket())
        return websocket.create_connection(url, timeout=timeout, **kw)

    def graphite(self):
        """A TCP connection to the Graphite listener."""
        return socket.create_connection(("127.0.0.1", self.graphite_port),
                                        timeout=30)

    def _drop_storage(self):
        if self.own_storage:
            shutil.rmtree(self.storage, ignore_errors=True)

    def kill(self):
        """kill -9, as a crash would; returns the log so far."""
        self.proc.kill()
        self.proc.wait()
        text = self.logtext()
        os.unlink(self.log.name)
        self._drop_storage()
        return text

    def stop(self):
        """SIGTERM; the server must exit 0, and the log must be clean."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=120 if SLOW else 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("streamavg ignored SIGTERM:\n" +
                                     self.logtext())
        text = self.logtext()
        os.unlink(self.log.name)
        self._drop_storage()
        if self.proc.returncode != 0:
            raise AssertionError("streamavg exited %d:\n%s" %
                                 (self.proc.returncode, text))
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if bad in text:
                raise AssertionError("sanitizer report:\n" + text)
        return text
