"""The command line and the configuration file: refusals name the key,
graphite.port=0 turns the listener off, the shipped config binds to
loopback only."""
import os
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, CONF, ROOT, Server, free_port, listening_sockets


def run(*args, timeout=20):
    """Run the binary to completion (it must not start serving)."""
    try:
        p = subprocess.run([BIN] + list(args), cwd=ROOT, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("streamavg %s kept running (it should have "
                             "refused to start)" % " ".join(args)) from e
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def port_args():
    # Should one of these start by mistake, it stays on free loopback ports.
    return ["-o", "http.port=%d" % free_port(),
            "-o", "graphite.port=%d" % free_port(),
            "-o", "generator.enabled=false"]


class CommandLine(unittest.TestCase):
    def test_version(self):
        rc, out, err = run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^streamavg \d+\.\d+\.\d+\s*$")

    def test_help(self):
        for flag in ("-h", "--help"):
            rc, out, err = run(flag)
            self.assertEqual(rc, 0)
            self.assertIn("usage", out.lower())
            self.assertIn("-o KEY=VALUE", out)

    def test_unknown_option(self):
        rc, out, err = run("--bogus", *port_args())
        self.assertNotEqual(rc, 0)
        self.assertIn("--bogus", err)
        rc, out, err = run("-o")
        self.assertNotEqual(rc, 0)

    def config_file(self, obj_text):
        f = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        f.write(obj_text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_unknown_key_in_file(self):
        path = self.config_file('{"http": {"port": 8080, "bogus_key": 1}}')
        rc, out, err = run("-c", path, *port_args())
        self.assertNotEqual(rc, 0)
        self.assertIn("bogus_key", err)
        path = self.config_file('/* c */ {"nosuchsection": {"a": 1}}')
        rc, out, err = run("-c", path, *port_args())
        self.assertNotEqual(rc, 0)
        self.assertIn("nosuchsection", err)

    def test_wrong_type_in_file(self):
        for text, key in (('{"http": {"port": "x"}}', "http.port"),
                          ('{"generator": {"enabled": 1}}',
                           "generator.enabled"),
                          ('{"plot": {"gnuplot": 5}}', "plot.gnuplot"),
                          ('{"series": {"history": 1.5}}', "series.history"),
                          ('{"http": 3}', "http")):
            with self.subTest(text=text):
                rc, out, err = run("-c", self.config_file(text),
                                   *port_args())
                self.assertNotEqual(rc, 0)
                self.assertIn(key, err)

    def test_out_of_range_and_bad_json_in_file(self):
        for text, word in (('{"http": {"port": 70000}}', "http.port"),
                           ('{"series": {"history": 0}}', "series.history"),
                           ('{"http": {"port": 1', "JSON"),
                           ('[]', "object")):
            with self.subTest(text=text):
                rc, out, err = run("-c", self.config_file(text),
                                   *port_args())
                self.assertNotEqual(rc, 0)
                self.assertIn(word, err)

    def test_missing_config_file(self):
        rc, out, err = run("-c", "/nonexistent/streamavg.conf", *port_args())
        self.assertNotEqual(rc, 0)
        self.assertIn("/nonexistent/streamavg.conf", err)

    def test_unknown_override(self):
        rc, out, err = run("-c", CONF, *port_args(), "-o", "unknown.key=1")
        self.assertNotEqual(rc, 0)
        self.assertIn("unknown.key", err)

    def test_bad_override_values(self):
        for o, key in (("http.port=notanumber", "http.port"),
                       ("http.port=", "http.port"),
                       ("http.port=-1", "http.port"),
                       ("generator.enabled=maybe", "generator.enabled"),
                       ("series.history=1e3", "series.history"),
                       ("http.bind=not-an-ip", "http.bind"),
                       ("graphite.bind=localhost", "graphite.bind"),
                       ("nodot", "KEY=VALUE")):
            with self.subTest(o=o):
                rc, out, err = run("-c", CONF, *port_args(), "-o", o)
                self.assertNotEqual(rc, 0)
                self.assertIn(key, err)


class GraphiteOff(unittest.TestCase):
    def test_graphite_port_zero_turns_listener_off(self):
        srv = Server("graphite.port=0")
        try:
            socks = listening_sockets(srv.proc.pid)
            self.assertEqual([p for _, _, p in socks], [srv.port], socks)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", srv.graphite_port),
                                         timeout=10).close()
            status, out = srv.ingest(["{\"series\": \"c.off\", "
                                      "\"value\": 1}"])
            self.assertEqual(status, 200)
        finally:
            srv.stop()


class DefaultBind(unittest.TestCase):
    def test_shipped_config_listens_on_loopback_only(self):
        with open(CONF) as f:
            text = f.read()
        self.assertIn('"bind": "127.0.0.1"', text)
        srv = Server()      # the shipped config, only the ports changed
        try:
            socks = listening_sockets(srv.proc.pid)
            self.assertEqual(sorted(p for _, _, p in socks),
                             sorted([srv.port, srv.graphite_port]), socks)
            for fam, addr, port in socks:
                self.assertEqual((fam, addr), ("ipv4", "127.0.0.1"),
                                 (fam, addr, port))
        finally:
            srv.stop()

    def test_ipv6_loopback_bind(self):
        if not os.path.exists("/proc/net/tcp6"):
            self.skipTest("no IPv6")
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no ::1")
        srv = Server("http.bind=::1", "graphite.bind=::1", host="::1")
        try:
            socks = listening_sockets(srv.proc.pid)
            self.assertEqual(len(socks), 2, socks)
            for fam, addr, port in socks:
                self.assertEqual((fam, addr), ("ipv6", "::1"))
            with socket.create_connection(("::1", srv.graphite_port),
                                          timeout=10) as s:
                s.sendall(b"c.v6 4 1600000000\n")
            srv.wait_points("c.v6", 1)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
