"""Durability: every series, its history and its counts survive SIGTERM and
kill -9 (losing at most storage.fsync_ms of points), torn logs and corrupt
snapshots; a full or read-only disk refuses ingest with 507/503 while
queries go on, and writing resumes when space returns."""
import glob
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SLOW, Server, wait_for


def state_dir(test):
    d = tempfile.mkdtemp(prefix="streamavg-durable-")
    test.addCleanup(shutil.rmtree, d, True)
    return d


def snapshot_of(srv, names):
    """{name: /series entry} plus a few averages, to compare after a
    restart."""
    out = {}
    for n in names:
        e = srv.series_info(n)
        st, avg = srv.average(n, window_size=7)
        st2, tavg = srv.average(n, window="30s")
        out[n] = (e, avg, tavg)
    return out


class Feeder(threading.Thread):
    """Posts points 'k' = start, start+1, ... in batches of 200 until told
    to stop or the server goes; acks holds (time, values acknowledged)."""

    def __init__(self, srv, start):
        super().__init__(daemon=True)
        self.srv, self.v, self.acks = srv, start, []
        self.halt = threading.Event()
        self.start()

    def run(self):
        while not self.halt.is_set():
            lines = ['{"series":"k","value":%d}' % i
                     for i in range(self.v, self.v + 200)]
            try:
                status, _ = self.srv.ingest(lines)
            except Exception:
                return
            if status != 200:
                return
            self.v += 200
            self.acks.append((time.time(), self.v))

    def finish(self):
        self.halt.set()
        self.join(10)
        return self.v + 200     # at most this many may have been taken


class Restart(unittest.TestCase):
    def test_sigterm_under_load_keeps_every_acknowledged_point(self):
        d = state_dir(self)
        srv = Server(storage=d)
        feed = Feeder(srv, 0)
        wait_for(lambda: len(feed.acks) > 5, what="some points")
        srv.stop()
        sent = feed.finish()
        acked = feed.acks[-1][1]
        srv = Server(storage=d)
        try:
            e = srv.series_info("k")
            self.assertGreaterEqual(e["total"], acked)
            self.assertLessEqual(e["total"], sent)
            self.assertEqual(e["last_value"], e["total"] - 1)
        finally:
            srv.stop()

    def test_sigterm_restart_keeps_every_point(self):
        d = state_dir(self)
        names = ["d.a", "d.b", "d.late"]
        srv = Server("series.history=1000", "storage.snapshot_s=1",
                     storage=d)
        try:
            base = 1700000000.0
            srv.ingest_points("d.a", [i * 0.5 for i in range(3000)],
                              [base + i for i in range(3000)], batch=1000)
            # Wait for a snapshot, so the restart reads snapshot + log.
            wait_for(lambda: srv.metrics()[
                "streamavg_storage_snapshots_total"] >= 1,
                what="a snapshot")
            srv.ingest_points("d.b", [float(i) for i in range(500)])
            # Late points: timestamps raised, counted in /series.
            srv.ingest_points("d.late", [1.0, 2.0, 3.0],
                              [base + 10, base + 5, base + 1])
            srv.ingest_points("d.a", [-1.0, 7.25],
                              [base + 5000, base + 5001])
            before = snapshot_of(srv, names)
        finally:
            srv.stop()
        self.assertEqual(before["d.a"][0]["total"], 3002)
        self.assertEqual(before["d.a"][0]["count"], 1000)

        srv = Server("series.history=1000", storage=d)
        try:
            self.assertEqual(snapshot_of(srv, names), before)
            self.assertIsNotNone(srv.series_info("default"))
        finally:
            log = srv.stop()
        self.assertIn("restored", log)

    @unittest.skipIf(SLOW, "measures time")
    def test_kill_9_loses_at_most_fsync_ms(self):
        """Kill the server mid-write four times; each time every point
        acknowledged more than fsync_ms (plus scheduling slack) before the
        kill must be back, with no gap and nothing invented."""
        d = state_dir(self)
        fsync_ms = 200
        next_value = 0
        rng = random.Random(7)
        for round_no in range(4):
            srv = Server("storage.fsync_ms=%d" % fsync_ms,
                         "storage.snapshot_s=1", storage=d)
            e = srv.series_info("k")
            have = e["total"] if e else 0
            self.assertEqual(have, next_value, "round %d" % round_no)
            if e:
                self.assertEqual(e["last_value"], have - 1)
            feed = Feeder(srv, have)
            time.sleep(rng.uniform(0.4, 1.2))
            killed_at = time.time()
            srv.proc.kill()
            srv.proc.wait()
            sent = feed.finish()
            os.unlink(srv.log.name)
            safe = [v for (at, v) in feed.acks
                    if at < killed_at - fsync_ms / 1000.0 - 0.3]
            must = safe[-1] if safe else have

            srv = Server(storage=d)
            try:
                e = srv.series_info("k")
                got = e["total"] if e else 0
                self.assertGreaterEqual(got, must, "round %d lost acked "
                                        "points" % round_no)
                self.assertLessEqual(got, sent)
                if got:
                    self.assertEqual(e["last_value"], got - 1)
                next_value = got
            finally:
                srv.stop()

    def test_torn_log_and_corrupt_snapshot(self):
        d = state_dir(self)
        srv = Server("storage.snapshot_s=1", storage=d)
        try:
            for part in range(3):
                srv.ingest_points("c.s", [float(part * 100 + i)
                                          for i in range(100)])
                n = srv.metrics()["streamavg_storage_snapshots_total"]
                wait_for(lambda: srv.metrics()[
                    "streamavg_storage_snapshots_total"] > n,
                    what="snapshot %d" % part)
            srv.ingest_points("c.s", [300.0, 301.0])
        finally:
            srv.stop()
        snaps = sorted(glob.glob(os.path.join(d, "snap.*")),
                       key=lambda p: int(p.rsplit(".", 1)[1]))
        logs = sorted(glob.glob(os.path.join(d, "log.*")),
                      key=lambda p: int(p.rsplit(".", 1)[1]))
        self.assertEqual(len(snaps), 2, os.listdir(d))
        # A torn tail on the newest log, a flipped byte in the newest
        # snapshot.
        with open(logs[-1], "ab") as f:
            f.write(b"\x30\x00\x00\x00garbage")
        with open(snaps[-1], "r+b") as f:
            f.seek(40)
            b = f.read(1)
            f.seek(40)
            f.write(bytes([b[0] ^ 0xff]))

        srv = Server(storage=d)
        try:
            e = srv.series_info("c.s")
            self.assertEqual((e["total"], e["last_value"]), (302, 301.0))
        finally:
            log = srv.stop()
        self.assertIn("torn or corrupt record", log)
        self.assertIn("falling back", log)

    def test_storage_off(self):
        srv = Server("storage.dir=")
        try:
            srv.ingest_points("off.s", [1.0])
            self.assertNotIn("streamavg_storage_records_total", srv.metrics())
        finally:
            log = srv.stop()
        self.assertIn("storage: off", log)


def mount_tmpfs(test, size):
    if os.geteuid() != 0:
        test.skipTest("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="streamavg-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size,
                        "tmpfs", d], capture_output=True)
    if r.returncode:
        os.rmdir(d)
        test.skipTest("cannot mount a tmpfs: %s" % r.stderr.decode())
    test.addCleanup(os.rmdir, d)
    test.addCleanup(subprocess.run, ["umount", "-l", d])
    return d


def remount(d, opts):
    subprocess.run(["mount", "-o", "remount," + opts, d], check=True)


class DiskTrouble(unittest.TestCase):
    def test_full_disk_then_space_returns(self):
        d = mount_tmpfs(self, "256k")
        srv = Server("storage.fsync_ms=100", "storage.snapshot_s=3600",
                     storage=d)
        accepted = 0
        try:
            ws = srv.ws("series=full.s&window_size=3")
            self.addCleanup(ws.close)
            self.assertIn('"type":"history"', ws.recv())
            lines = ['{"series":"full.s","value":%d}' % i
                     for i in range(2000)]

            def until_refused(want):
                nonlocal accepted
                status, out = srv.ingest(lines)
                accepted += out.get("accepted", 0)
                return out if status == want else None
            out = wait_for(lambda: until_refused(507), 30, "507 (disk full)")
            self.assertIn("No space left", out["error"])
            self.assertIn("storage.dir", out["error"])
            # Queries and the stream go on.
            st, avg = srv.average("full.s", window_size=3)
            self.assertEqual(st, 200)
            self.assertEqual(srv.series_info("full.s")["total"], accepted)
            m = srv.metrics()
            self.assertEqual(m["streamavg_storage_failing"], 1)
            # The stream went on delivering what was accepted.
            self.assertIn('"type":"average"', ws.recv())

            remount(d, "size=8m")
            wait_for(lambda: until_refused(200), 30, "ingest to resume")
            self.assertEqual(srv.metrics()["streamavg_storage_failing"], 0)
        finally:
            srv.stop()
        # Every point that was acknowledged is on disk.
        srv = Server(storage=d)
        try:
            self.assertEqual(srv.series_info("full.s")["total"], accepted)
        finally:
            srv.stop()

    def test_unwritable_folder_then_writable(self):
        d = mount_tmpfs(self, "1m")
        remount(d, "ro")
        srv = Server("storage.fsync_ms=100", storage=os.path.join(d, "st"))
        try:
            status, out = srv.ingest(['{"series":"ro.s","value":1}'])
            self.assertEqual(status, 503)
            self.assertIn("Read-only", out["error"])
            # /write answers the same way: InfluxDB clients retry a 5xx
            # and drop a batch answered 400.
            status, _, body = srv.request("/write", b"ro.w v=1\nro.w v=2",
                                          ctype="text/plain")
            self.assertEqual(status, 503, body)
            self.assertIn(b"line 1:", body)
            self.assertEqual(srv.get("/health")[0], 200)
            remount(d, "rw")
            wait_for(lambda: srv.ingest(['{"series":"ro.s","value":2}'])[0]
                     == 200, 30, "ingest to resume")
        finally:
            srv.stop()
        srv = Server(storage=os.path.join(d, "st"))
        try:
            self.assertEqual(srv.series_info("ro.s")["last_value"], 2)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
