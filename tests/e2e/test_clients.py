"""Real producers from Debian's packages against the real server: collectd's
write_graphite (TCP and UDP), Netdata's graphite exporter, the Python
InfluxDB client and the Python StatsD client.  Each test names the client it proves; expected values are
computed here, independently of the server."""
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import BIN, Server, close_rel, terminate, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTD = "/usr/sbin/collectd"
NETDATA = "/usr/sbin/netdata"


def free_udp_port():
    """A UDP port nobody is bound to right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def all_values(srv, name):
    """(count, sum) of every point a series holds, from the average of the
    window that spans them all."""
    info = srv.series_info(name)
    n = info["total"]
    status, out = srv.average(name, window_size=n)
    return out["count"], out["average"] * out["count"]


def meminfo_kb():
    with open("/proc/meminfo") as f:
        return {l.split(":")[0]: int(l.split()[1]) for l in f}


COLLECTD_CONF = """\
# Written by tests/e2e/test_clients.py: plugins that read this machine
# (load, memory) and a table whose values the test chose, sent only to the
# streamavg under test on loopback.
Hostname "e2e"
FQDNLookup false
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
AutoLoadPlugin false
CollectInternalStats false
Interval 0.5
LoadPlugin logfile
<Plugin logfile>
  LogLevel "info"
  File "{dir}/collectd.log"
</Plugin>
LoadPlugin load
LoadPlugin memory
LoadPlugin table
<Plugin table>
  <Table "{dir}/known.txt">
    Plugin "known"
    Instance "fixed"
    Separator " "
    <Result>
      Type "gauge"
      InstancesFrom 0
      ValuesFrom 1
    </Result>
  </Table>
</Plugin>
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "streamavg">
    Host "127.0.0.1"
    Port "{port}"
    Protocol "{proto}"
    Prefix "collectd."
    EscapeCharacter "_"
    SeparateInstances true
    StoreRates true
    AlwaysAppendDS false
  </Node>
</Plugin>
"""

KNOWN = {"answer": 42.5, "below": -7.25, "big": 123456789.0}


@unittest.skipUnless(os.access(COLLECTD, os.X_OK),
                     "collectd is not installed (Debian: collectd-core)")
class CollectdWriteGraphite(unittest.TestCase):
    """collectd 5 with its write_graphite plugin, over TCP and over UDP."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def run_collectd(self, proto):
        d = tempfile.mkdtemp(prefix="streamavg-collectd-")
        with open(os.path.join(d, "known.txt"), "w") as f:
            for k, v in KNOWN.items():
                f.write("%s %r\n" % (k, v))
        conf = os.path.join(d, "collectd.conf")
        with open(conf, "w") as f:
            f.write(COLLECTD_CONF.format(dir=d, port=self.srv.graphite_port,
                                         proto=proto))
        proc = subprocess.Popen([COLLECTD, "-f", "-C", conf],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
        return d, proc

    def stop_collectd(self, d, proc):
        terminate(proc)
        shutil.rmtree(d, ignore_errors=True)

    def check_collectd(self, proto):
        host = "collectd.e2e"
        before = self.srv.metrics()
        d, proc = self.run_collectd(proto)
        try:
            names = ["%s.known.fixed.gauge.%s" % (host, k) for k in KNOWN]
            names += ["%s.load.load.shortterm" % host,
                      "%s.memory.memory.used" % host]
            for n in names:
                self.srv.wait_points(n, 2, timeout=30)
            # The values collectd read from the table are the ones written.
            for k, v in KNOWN.items():
                info = self.srv.series_info("%s.known.fixed.gauge.%s" %
                                            (host, k))
                self.assertEqual(info["last_value"], v)
            # Load: what /proc/loadavg says now, within what a second of
            # a shared machine can change.
            with open("/proc/loadavg") as f:
                load1 = float(f.read().split()[0])
            got = self.srv.series_info(host + ".load.load.shortterm")
            self.assertLess(abs(got["last_value"] - load1),
                            0.5 + 0.5 * load1, (got, load1))
            # Memory: collectd's six states add up to MemTotal, read from
            # one sample (same timestamp).
            states = ["used", "free", "buffered", "cached", "slab_recl",
                      "slab_unrecl"]

            def one_sample():
                infos = [self.srv.series_info("%s.memory.memory.%s" %
                                              (host, s)) for s in states]
                if all(infos) and len({i["last_timestamp"]
                                       for i in infos}) == 1:
                    return infos
                return None
            infos = wait_for(one_sample, 30, "one memory sample")
            total = sum(i["last_value"] for i in infos)
            self.assertTrue(close_rel(total, meminfo_kb()["MemTotal"] * 1024,
                                      1e-3), (total, meminfo_kb()))
        finally:
            self.stop_collectd(d, proc)
        after = self.srv.metrics()
        key = 'streamavg_points_total{protocol="graphite_%s"}' % proto
        self.assertGreater(after[key], before[key])

    def test_collectd_write_graphite_tcp(self):
        self.check_collectd("tcp")

    def test_collectd_write_graphite_udp(self):
        self.check_collectd("udp")


@unittest.skipUnless(os.access(NETDATA, os.X_OK),
                     "netdata is not installed (Debian: netdata-core)")
class NetdataGraphiteExporter(unittest.TestCase):
    """Netdata 1.37's graphite exporter, with its default labels (sent as
    Graphite tags), in a private network namespace (netdata_netns.py)."""

    def test_netdata_graphite_exporter(self):
        if "asan" in BIN:
            self.skipTest("Netdata's first export takes about 20 s; it runs "
                          "once, against the strict build")
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare(1) for a private network "
                          "namespace, so that Netdata reaches nothing but "
                          "loopback")
        p = subprocess.run(["unshare", "--net", sys.executable,
                            os.path.join(HERE, "netdata_netns.py")],
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        out = json.loads(p.stdout)
        self.assertNotIn("error", out, out.get("server_log", "")[-2000:])
        got = {k: v["last_value"] for k, v in out["series"].items()}
        self.assertEqual(
            got["netdata.e2e.statsd_known.answer_gauge.gauge"], 42.5)
        self.assertEqual(
            got["netdata.e2e.statsd_known.below_gauge.gauge"], -7.25)
        load = got["netdata.e2e.system.load.load1"]
        self.assertLess(abs(load - out["loadavg"]),
                        0.5 + 0.5 * out["loadavg"], out)
        m = out["metrics"]
        # Every line Netdata sent was taken, tags and all.
        self.assertEqual(
            m['streamavg_points_rejected_total{protocol="graphite_tcp"}'], 0)
        self.assertGreater(
            m['streamavg_points_total{protocol="graphite_tcp"}'], 100)


class InfluxDBPythonClient(unittest.TestCase):
    """python3-influxdb (InfluxDBClient) writing line protocol to /write."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("ingest.token=t0k3n")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def client(self, token="t0k3n", basic=False):
        """The token as a bearer header (username None keeps the client
        from sending basic auth instead), or as the basic-auth password
        InfluxDB 1.x users already configure."""
        from influxdb import InfluxDBClient
        headers = {"Authorization": "Bearer " + token} if token else {}
        user = ("me", token) if basic else (None, None)
        return InfluxDBClient(host="127.0.0.1", port=self.srv.port,
                              username=user[0], password=user[1],
                              database="any",
                              headers={} if basic else headers, timeout=30,
                              proxies={"http": None, "https": None})

    def test_influxdb_client_write_points(self):
        rng = random.Random(7)
        t0 = 1700000000
        points, expect = [], {}
        for i in range(200):
            host = "h%d" % (i % 3)
            usage = round(rng.uniform(0, 100), 3)
            count = rng.randint(-1000, 1000)
            points.append({
                "measurement": "cpu",
                # Tags in a changing order: the series names must not care.
                "tags": ({"region": "west", "host": host} if i % 2 else
                         {"host": host, "region": "west"}),
                "time": t0 + i,
                "fields": {"usage": usage, "count": count, "up": True,
                           "note": "a string, skipped"}})
            for f, v in (("usage", usage), ("count", float(count))):
                name = "cpu.%s.host:%s.region:west" % (f, host)
                expect.setdefault(name, []).append((t0 + i, v))
        self.assertTrue(self.client().write_points(points,
                                                   time_precision="s",
                                                   batch_size=64))
        for name, pts in expect.items():
            info = self.srv.wait_points(name, len(pts))
            self.assertEqual(info["total"], len(pts))
            self.assertEqual(info["last_timestamp"], pts[-1][0])
            self.assertEqual(info["last_value"], pts[-1][1])
            n, s = all_values(self.srv, name)
            self.assertEqual(n, len(pts))
            self.assertTrue(close_rel(s, math.fsum(v for _, v in pts),
                                      1e-9), (name, s))

    def test_influxdb_client_line_protocol_and_precision(self):
        from influxdb.exceptions import InfluxDBClientError
        c = self.client()
        lines = ["disk,path=/var\\ log free=1.5,inodes=10i 1700000000500",
                 "disk,path=/var\\ log free=2.5 1700000001500"]
        self.assertTrue(c.write(lines, params={"db": "any",
                                               "precision": "ms"},
                                protocol="line"))
        info = self.srv.wait_points("disk.free.path:_var_log", 2)
        self.assertEqual(info["last_timestamp"], 1700000001.5)
        self.assertEqual(info["last_value"], 2.5)
        # A bad line among good ones: InfluxDB's partial write (400), the
        # good lines kept.
        with self.assertRaises(InfluxDBClientError) as cm:
            c.write(["disk free=nan", "disk,path=x free=3 1700000002000"],
                    params={"db": "any", "precision": "ms"},
                    protocol="line")
        self.assertEqual(cm.exception.code, 400)
        self.assertIn("partial write", str(cm.exception))
        self.srv.wait_points("disk.free.path:x", 1)

    def test_influxdb_client_needs_the_token(self):
        from influxdb.exceptions import InfluxDBClientError
        before = self.srv.metrics()
        for token in (None, "wrong"):
            with self.assertRaises(InfluxDBClientError) as cm:
                self.client(token).write_points(
                    [{"measurement": "sec", "fields": {"v": 1}}])
            self.assertEqual(cm.exception.code, 401)
        self.assertIsNone(self.srv.series_info("sec.v"))
        after = self.srv.metrics()
        key = 'streamavg_ingest_denied_total{protocol="influx"}'
        self.assertEqual(after[key] - before[key], 2)
        self.assertNotIn("wrong", self.srv.logtext())
        # The password of basic auth carries the token too.
        self.assertTrue(self.client(basic=True).write_points(
            [{"measurement": "sec", "fields": {"v": 2}}]))
        self.assertEqual(self.srv.wait_points("sec.v", 1)["last_value"], 2)
        with self.assertRaises(InfluxDBClientError):
            self.client("nope", basic=True).write_points(
                [{"measurement": "sec", "fields": {"v": 3}}])


class StatsdPythonClient(unittest.TestCase):
    """python3-statsd (StatsClient) sending gauges and counters over UDP."""

    FLUSH_MS = 200

    @classmethod
    def setUpClass(cls):
        cls.statsd_port = free_udp_port()
        cls.srv = Server("statsd.port=%d" % cls.statsd_port,
                         "statsd.flush_ms=%d" % cls.FLUSH_MS)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def client(self):
        import statsd
        c = statsd.StatsClient("127.0.0.1", self.statsd_port)
        self.addCleanup(c.close)
        return c

    def test_statsd_client_counters_with_sample_rates(self):
        c = self.client()
        random.seed(1234)
        calls = [(1 + i % 5, (1, 0.5, 0.25)[i % 3]) for i in range(300)]
        for count, rate in calls:
            c.incr("app.hits", count, rate)
        # The client drops samples at random (random.random() > rate);
        # replay the same draws to know what was sent.
        random.seed(1234)
        expected = math.fsum(count / rate for count, rate in calls
                             if rate >= 1 or random.random() <= rate)

        def flushed():
            info = self.srv.series_info("app.hits")
            if not info or not info["total"]:
                return None
            n, s = all_values(self.srv, "app.hits")
            return s if close_rel(s, expected, 1e-9) else None
        wait_for(flushed, 20, "the counter's sum %r" % expected)
        # Nothing more arrives: a quiet counter makes no points.
        total = self.srv.series_info("app.hits")["total"]
        time.sleep(3 * self.FLUSH_MS / 1000)
        self.assertEqual(self.srv.series_info("app.hits")["total"], total)

    def test_statsd_client_gauges_and_deltas(self):
        c = self.client()
        c.gauge("app.temp", 20)
        self.srv.wait_points("app.temp", 1)
        c.gauge("app.temp", 5, delta=True)
        self.srv.wait_points("app.temp", 2)
        c.gauge("app.temp", -7.5, delta=True)
        info = self.srv.wait_points("app.temp", 3)
        self.assertEqual(info["last_value"], 17.5)
        # A pipeline: several lines in one datagram, all taken.
        with c.pipeline() as p:
            for v in (1, 2, 3, 4):
                p.gauge("app.pipe", v)
        info = self.srv.wait_points("app.pipe", 4)
        self.assertEqual(info["last_value"], 4)
        status, out = self.srv.average("app.pipe", window_size=4)
        self.assertEqual(out["average"], 2.5)

    def test_statsd_unsupported_type_counted(self):
        c = self.client()
        before = self.srv.metrics()
        c.timing("app.time", 12)
        c.set("app.users", "x")
        c.gauge("app.after", 1)
        self.srv.wait_points("app.after", 1)
        key = ('streamavg_ingest_rejected_total{protocol="statsd",'
               'reason="unsupported_type"}')
        after = wait_for(lambda: (lambda m: m if m[key] >= before[key] + 2
                                  else None)(self.srv.metrics()))
        self.assertEqual(after[key] - before[key], 2)


if __name__ == "__main__":
    unittest.main()
