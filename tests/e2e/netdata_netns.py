#!/usr/bin/env python3
"""Run Netdata's graphite exporter against streamavg inside a private
network namespace, and print what streamavg received as JSON.

test_clients.py runs this under `unshare --net`: the namespace has only a
loopback interface, so neither program can reach any other host, whatever
their defaults (Debian's netdata is built without Netdata Cloud and opts
out of anonymous statistics; the config below turns off its web server,
registry, health checks and machine learning as well).

The Netdata statsd server (inside the namespace) gets gauges whose values
the test chose, and /proc/loadavg is read for the load charts.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, free_port, terminate, wait_for  # noqa: E402

NETDATA = "/usr/sbin/netdata"

NETDATA_CONF = """\
[global]
    run as user = root
    hostname = e2e
    update every = 1
[db]
    mode = ram
    retention = 60
[directories]
    config = {dir}
    stock config = /usr/lib/netdata/conf.d
    log = {dir}
    cache = {dir}/cache
    lib = {dir}/lib
    home = {dir}
    lock = {dir}/lock
[logs]
    debug log = {dir}/debug.log
    error log = {dir}/error.log
    access log = none
    health log = none
[web]
    mode = none
[registry]
    enabled = no
[health]
    enabled = no
[ml]
    enabled = no
[plugins]
    enable running new plugins = no
    proc = yes
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    netdata monitoring = no
    statsd = yes
    timex = no
    checks = no
    apps = no
    python.d = no
    charts.d = no
    go.d = no
    ebpf = no
    perf = no
    slabinfo = no
[statsd]
    enabled = yes
    update every (flushInterval) = 1
    bind to = udp:127.0.0.1:{statsd}
"""

EXPORTING_CONF = """\
[exporting:global]
    enabled = yes
[graphite:streamavg]
    enabled = yes
    destination = tcp:127.0.0.1:{port}
    data source = average
    prefix = netdata
    hostname = e2e
    update every = 1
    send names instead of ids = yes
    send configured labels = {labels}
    send automatic labels = {labels}
"""


def main():
    labels = sys.argv[1] if len(sys.argv) > 1 else "yes"
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    srv = Server()
    d = tempfile.mkdtemp(prefix="streamavg-netdata-")
    for sub in ("cache", "lib", "lock"):
        os.mkdir(os.path.join(d, sub))
    statsd_port = free_port()
    with open(os.path.join(d, "netdata.conf"), "w") as f:
        f.write(NETDATA_CONF.format(dir=d, statsd=statsd_port))
    with open(os.path.join(d, "exporting.conf"), "w") as f:
        f.write(EXPORTING_CONF.format(port=srv.graphite_port, labels=labels))
    open(os.path.join(d, ".opt-out-from-anonymous-statistics"), "w").close()
    env = dict(os.environ, DO_NOT_TRACK="1")
    t0 = time.time()
    nd = subprocess.Popen([NETDATA, "-D", "-c",
                           os.path.join(d, "netdata.conf")],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=env)
    out = {"series": {}}

    def find(prefix):
        """The series named prefix, or prefix plus Netdata's labels (which
        Graphite tags, path;key=value, turn into .key:value)."""
        status, _, body = srv.get_json("/series")
        for e in body["series"]:
            if e["name"] == prefix or e["name"].startswith(prefix + "._"):
                out["series"][prefix] = e
                return e
        return None

    try:
        load = "netdata.e2e.system.load.load1"
        wait_for(lambda: find(load), 60, load)
        out["first_export_seconds"] = time.time() - t0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"known.answer:42.5|g\nknown.below:-7.25|g\n",
                     ("127.0.0.1", statsd_port))
        for n in ("netdata.e2e.statsd_known.answer_gauge.gauge",
                  "netdata.e2e.statsd_known.below_gauge.gauge"):
            wait_for(lambda: find(n), 30, n)
        with open("/proc/loadavg") as f:
            out["loadavg"] = float(f.read().split()[0])
        find(load)
    except AssertionError as e:
        out["error"] = str(e)
    finally:
        out["metrics"] = srv.metrics()
        terminate(nd)
        out["server_log"] = srv.logtext()
        srv.stop()
        if os.environ.get("KEEP_NETDATA_DIR"):
            out["dir"] = d
        else:
            shutil.rmtree(d, ignore_errors=True)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
