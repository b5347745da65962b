#!/usr/bin/python3
"""Replay a recorded feed into a running streamavg server as a live stream.

Reads a USGS earthquake GeoJSON FeatureCollection or a CSV file, sorts the
points by time (oldest first) and POSTs them to <url>/ingest as NDJSON
lines {"series": S, "value": V, "timestamp": T}, either paced like the
original feed (--speed) or as fast as possible (--fast).

Python 3 standard library only.
"""

import argparse
import csv
import datetime as dt
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_QUAKE_SERIES = "earthquakes.magnitude"
# The server accepts 1 to 255 bytes of these characters in a series name.
SERIES_RE = re.compile(r"[A-Za-z0-9._:-]{1,255}\Z")
# Like the server: an epoch number above this is milliseconds, not seconds.
MS_THRESHOLD = 1e11

EXIT_OK, EXIT_REJECTED, EXIT_INPUT, EXIT_NETWORK = 0, 1, 2, 3


class InputError(Exception):
    """The input file cannot be replayed; the message says why."""


class ServerError(Exception):
    """The server could not be reached or answered with an HTTP error."""


def log(msg):
    # Human-readable messages go to stderr; stdout only carries the NDJSON
    # printed by --dry-run, so it can be piped.
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------- reading

def load_geojson(path):
    """Return ([(ts_seconds, magnitude)], skipped_null_mag)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read GeoJSON: {e}")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list):
        raise InputError(f"{path}: not a GeoJSON FeatureCollection")
    points, skipped = [], 0
    for i, feat in enumerate(doc["features"]):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            raise InputError(f"{path}: feature {i} has no properties")
        mag, ms = props.get("mag"), props.get("time")
        if mag is None:
            skipped += 1
            continue
        if not is_number(ms) or not is_number(mag):
            raise InputError(f"{path}: feature {i} ({feat.get('id')}): "
                             f"time and mag must be numbers, got "
                             f"time={ms!r} mag={mag!r}")
        points.append((ms / 1000.0, float(mag)))
    return points, skipped


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x)


def parse_time(text):
    """Epoch seconds from an ISO 8601 date-time or an epoch number.

    ISO 8601 without a zone is taken as UTC (the feed's files carry no
    zone, and local time would make the replay depend on the machine)."""
    text = text.strip()
    try:
        num = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(num):
            raise ValueError("not a finite time")
        return num / 1000.0 if num > MS_THRESHOLD else num
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def load_csv(path, time_col, value_col):
    """Return ([(ts_seconds, value)], skipped_empty_values)."""
    points, skipped = [], 0
    try:
        # utf-8-sig: tolerate a byte-order mark from spreadsheet exports.
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            cols = reader.fieldnames or []
            for col in (time_col, value_col):
                if col not in cols:
                    raise InputError(f"{path}: no column {col!r}; columns: "
                                     f"{', '.join(cols) or '(none)'}")
            for row in reader:
                line = reader.line_num
                raw_v = (row.get(value_col) or "").strip()
                if raw_v == "":
                    skipped += 1
                    continue
                try:
                    ts = parse_time(row.get(time_col) or "")
                except ValueError:
                    raise InputError(f"{path}:{line}: {time_col}="
                                     f"{row.get(time_col)!r} is not an ISO "
                                     f"8601 time or an epoch number")
                try:
                    value = float(raw_v)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise InputError(f"{path}:{line}: {value_col}={raw_v!r} "
                                     f"is not a finite number")
                points.append((ts, value))
    except OSError as e:
        raise InputError(f"{path}: {e}")
    except csv.Error as e:
        raise InputError(f"{path}: bad CSV: {e}")
    return points, skipped


def guess_format(path):
    ext = os.path.splitext(path)[1].lower()
    if ext in (".json", ".geojson"):
        return "geojson"
    if ext == ".csv":
        return "csv"
    try:
        with open(path, encoding="utf-8-sig") as f:
            head = f.read(4096).lstrip()
    except OSError as e:
        raise InputError(f"{path}: {e}")
    return "geojson" if head.startswith("{") else "csv"


# --------------------------------------------------------------- sending

def ndjson(points, series, with_ts):
    """NDJSON body for a batch of (ts, value) points, one line each."""
    lines = []
    for ts, value in points:
        obj = {"series": series, "value": value}
        if with_ts:
            obj["timestamp"] = ts
        lines.append(json.dumps(obj, allow_nan=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


class Sender:
    def __init__(self, base_url, timeout):
        self.url = base_url.rstrip("/") + "/ingest"
        self.timeout = timeout
        # An empty ProxyHandler: the points go straight to --url, never to
        # a proxy picked up from http_proxy and friends.
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}))

    def post(self, body):
        """POST one NDJSON body; return the server's JSON answer."""
        req = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/x-ndjson"})
        try:
            with self.opener.open(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read(2000).decode("utf-8", "replace").strip()
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise ServerError(f"{self.url}: HTTP {e.code} {e.reason}"
                              + (f": {detail}" if detail else ""))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerError(f"cannot reach {self.url}: {reason}")
        try:
            answer = json.loads(raw)
            int(answer["accepted"]), int(answer["rejected"])
        except (ValueError, KeyError, TypeError):
            raise ServerError(f"{self.url}: unexpected answer: "
                              f"{raw[:200].decode('utf-8', 'replace')}")
        return answer


def batches(points, args):
    """Yield lists of points, sleeping to keep the original pacing when
    --speed is given.  Each batch holds the points that are due."""
    size = args.batch
    if args.fast or args.dry_run:
        for i in range(0, len(points), size):
            yield points[i:i + size]
        return
    t0 = points[0][0]
    start = time.monotonic()
    i = 0
    while i < len(points):
        due = start + (points[i][0] - t0) / args.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        # Everything due by now (plus a few ms, to group near-simultaneous
        # points into one request) goes in this batch.
        now = time.monotonic() + 0.005
        j = i + 1
        while j < len(points) and j - i < size and \
                start + (points[j][0] - t0) / args.speed <= now:
            j += 1
        yield points[i:j]
        i = j


# --------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Replay a recorded feed (USGS earthquake GeoJSON or a "
                    "CSV file) into a running streamavg server through "
                    "POST /ingest (NDJSON), paced like the original or as "
                    "fast as possible.",
        epilog="CSV times are ISO 8601 (a time without a zone is taken as "
               "UTC) or epoch numbers (seconds; above 1e11 milliseconds). "
               "Points are sorted by time, oldest first; GeoJSON features "
               "with a null magnitude are skipped, as are CSV rows with an "
               "empty value. Messages and the summary go to stderr. "
               "Exit status: 0 all points accepted, 1 the server rejected "
               "points, 2 bad usage or input, 3 server unreachable or HTTP "
               "error.")
    p.add_argument("file", help="earthquakes GeoJSON (.json/.geojson) or "
                                "CSV file")
    p.add_argument("--format", choices=("auto", "geojson", "csv"),
                   default="auto",
                   help="input format (default: from the file name)")
    p.add_argument("--url", default=DEFAULT_URL,
                   help=f"server base URL (default: {DEFAULT_URL})")
    p.add_argument("--series",
                   help=f"series name (default: {DEFAULT_QUAKE_SERIES} for "
                        "GeoJSON, <file stem>.<value column> for CSV)")
    p.add_argument("--time-column", default="date", metavar="COL",
                   help="CSV column with the timestamp (default: date)")
    p.add_argument("--value-column", metavar="COL",
                   help="CSV column with the value (required for CSV)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, metavar="X",
                      help="replay at X times real time, from the gaps "
                           "between the original timestamps (default: 1)")
    pace.add_argument("--fast", action="store_true",
                      help="send as fast as possible, in batches")
    p.add_argument("--batch", type=int, default=500, metavar="N",
                   help="at most N points per POST (default: 500)")
    p.add_argument("--timestamps", choices=("original", "now"),
                   default="original",
                   help="send the file's timestamps (original, default) or "
                        "none, so the server stamps arrival time (now)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="replay only the N oldest points")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for each POST (default: 10)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the NDJSON that would be sent to stdout and "
                        "send nothing (no pacing)")
    args = p.parse_args(argv)
    if not (args.speed > 0 and math.isfinite(args.speed)):
        p.error("--speed must be a positive number")
    if args.batch < 1:
        p.error("--batch must be at least 1")
    if args.limit is not None and args.limit < 0:
        p.error("--limit must not be negative")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    if urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        p.error(f"--url must be an http:// or https:// URL, got {args.url!r}")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        fmt = args.format if args.format != "auto" else guess_format(args.file)
        if fmt == "geojson":
            points, skipped = load_geojson(args.file)
            series = args.series or DEFAULT_QUAKE_SERIES
            if skipped:
                log(f"skipped {skipped} feature(s) with a null magnitude")
        else:
            if not args.value_column:
                raise InputError("a CSV input needs --value-column")
            points, skipped = load_csv(args.file, args.time_column,
                                       args.value_column)
            stem = os.path.splitext(os.path.basename(args.file))[0]
            series = args.series or re.sub(
                r"[^A-Za-z0-9._:-]", "_", f"{stem}.{args.value_column}")[:255]
            if skipped:
                log(f"skipped {skipped} row(s) with an empty "
                    f"{args.value_column!r}")
    except InputError as e:
        log(f"replay: {e}")
        return EXIT_INPUT
    if not SERIES_RE.match(series):
        log(f"replay: series name {series!r} is not allowed: use 1 to 255 "
            "characters from A-Z a-z 0-9 . _ : -")
        return EXIT_INPUT

    # Feeds such as USGS list the newest first; the server wants each
    # series in time order.  sort() is stable, so ties keep file order.
    points.sort(key=lambda p: p[0])
    if args.limit is not None:
        points = points[:args.limit]
    if not points:
        log("replay: nothing to send")
        return EXIT_OK

    with_ts = args.timestamps == "original"
    sender = None if args.dry_run else Sender(args.url, args.timeout)
    if not args.dry_run:
        span = points[-1][0] - points[0][0]
        pace = "as fast as possible" if args.fast else \
            f"at {args.speed:g}x, about {span / args.speed:.0f} s"
        log(f"replaying {len(points)} points of {series!r} to "
            f"{sender.url} {pace}")

    sent = accepted = rejected = 0
    status = EXIT_OK
    started = time.monotonic()
    last_report = started
    try:
        for batch in batches(points, args):
            body = ndjson(batch, series, with_ts)
            if args.dry_run:
                sys.stdout.buffer.write(body)
                sent += len(batch)
                continue
            answer = sender.post(body)
            first = sent
            sent += len(batch)
            accepted += int(answer["accepted"])
            rejected += int(answer["rejected"])
            if int(answer["rejected"]):
                for err in (answer.get("errors") or [])[:5]:
                    # "line" counts from 1 within this POST's body.
                    k = err.get("line") if isinstance(err, dict) else None
                    where = f"point {first + k}" if isinstance(k, int) \
                        else "a point"
                    log(f"replay: server rejected {where}: "
                        f"{err.get('error') if isinstance(err, dict) else err}")
                log("replay: stopping because the server rejected points")
                status = EXIT_REJECTED
                break
            if time.monotonic() - last_report >= 10:
                last_report = time.monotonic()
                log(f"... {sent}/{len(points)} points sent")
    except ServerError as e:
        log(f"replay: {e}")
        status = EXIT_NETWORK
    except KeyboardInterrupt:
        log("replay: interrupted")
        status = 130
    except BrokenPipeError:
        # --dry-run piped into head and the like: not an error.  Point
        # stdout at /dev/null so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    elapsed = time.monotonic() - started

    if args.dry_run:
        sys.stdout.flush()
        log(f"dry run: {sent} points of {series!r} (nothing sent)")
    else:
        log(f"sent {sent}, accepted {accepted}, rejected {rejected}, "
            f"elapsed {elapsed:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
