// What the browser tests share: the real server on free loopback ports
// (as tests/e2e/harness.py starts it), a TCP relay that can cut the
// page's connections, and Debian's Chromium driven by playwright-core.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
  "..", "..");
export const ARTIFACTS = path.join(ROOT, "tests", "artifacts");
const BIN = path.resolve(ROOT, process.env.STREAMAVG_BIN ||
  "build/strict/streamavg");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// Why the tests cannot run here, or "" when they can.
export function whyNoBrowser() {
  if (!existsSync(CHROMIUM))
    return CHROMIUM + " is missing: install Debian's chromium package " +
      "(make browser installs it) to run the browser tests";
  return "";
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn() until it returns something true; fail with `what` otherwise.
export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

// The real binary with the shipped configuration, on `port` (a free one
// when not given), the generator off, serving this checkout's www/.
export class Server {
  static async start(port) {
    const s = new Server();
    s.port = port || await freePort();
    s.base = "http://127.0.0.1:" + s.port;
    s.log = "";
    s.proc = spawn(BIN, ["-c", path.join(ROOT, "conf", "streamavg.conf"),
      "-o", "http.port=" + s.port, "-o", "graphite.port=0",
      "-o", "http.www=" + path.join(ROOT, "www"),
      "-o", "generator.enabled=false",
      // A restart must lose the history here (the page's handling of a
      // server that lost points is under test), and the tests must not
      // write into the project's own data folder.
      "-o", "storage.dir="], { cwd: ROOT });
    s.proc.stdout.on("data", (d) => { s.log += d; });
    s.proc.stderr.on("data", (d) => { s.log += d; });
    s.exited = new Promise((r) => s.proc.once("exit", (code) => r(code)));
    await waitFor(async () => {
      if (s.proc.exitCode !== null)
        throw new Error("streamavg exited early:\n" + s.log);
      try { return (await fetch(s.base + "/health")).ok; }
      catch (e) { return false; }
    }, "streamavg to answer /health");
    return s;
  }

  // SIGTERM; the server must exit 0.
  async stop() {
    this.proc.kill("SIGTERM");
    const code = await this.exited;
    if (code !== 0) throw new Error("streamavg exited " + code + ":\n" +
      this.log);
  }

  async json(pathAndQuery) {
    const r = await fetch(this.base + pathAndQuery);
    if (!r.ok) throw new Error(pathAndQuery + ": HTTP " + r.status);
    return r.json();
  }

  // POST points [{value, timestamp}] to `series` as NDJSON.
  async ingest(series, points) {
    const body = points.map((p) => JSON.stringify(Object.assign({ series },
      p))).join("\n") + "\n";
    const r = await fetch(this.base + "/ingest", { method: "POST", body,
      headers: { "Content-Type": "application/x-ndjson" } });
    const out = await r.json();
    if (!r.ok || out.rejected) throw new Error("ingest: " +
      JSON.stringify(out));
  }
}

// Points with timestamps `step` seconds apart from `t0`: values that
// are not round, so that averages test the arithmetic.
export function makePoints(t0, n, step = 0.01, from = 0) {
  const pts = [];
  for (let i = from; i < from + n; i++)
    pts.push({ timestamp: +(t0 + i * step).toFixed(3),
      value: Math.round(1000 * Math.sin(i / 7) + i) / 8 });
  return pts;
}

// A TCP relay on loopback in front of the server.  cut() closes every
// connection through it; while refusing, new ones are closed at once:
// a network drop the page must recover from, while the server (and its
// data) stay up.
export class Relay {
  static async start(target) {
    const r = new Relay();
    r.socks = new Set();
    r.refusing = false;
    r.server = net.createServer((c) => r.accept(c, target));
    r.port = await freePort();
    await new Promise((res) => r.server.listen(r.port, "127.0.0.1", res));
    r.base = "http://127.0.0.1:" + r.port;
    return r;
  }

  accept(client, target) {
    if (this.refusing) { client.destroy(); return; }
    const up = net.connect(target, "127.0.0.1");
    for (const [a, b] of [[client, up], [up, client]]) {
      this.socks.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => { this.socks.delete(a); b.destroy(); });
      a.pipe(b);
    }
  }

  cut() {
    for (const s of this.socks) s.destroy();
  }

  close() {
    this.cut();
    return new Promise((res) => this.server.close(res));
  }
}

// Debian's Chromium, headless, kept off every network but loopback.
// playwright-core gives each launch a fresh temporary --user-data-dir.
export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
      "--disable-quic", "--no-proxy-server"],
  });
}

// A page that records console errors, uncaught exceptions and every
// request that is not to loopback.
export async function openPage(browser, url, contextOptions = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.problems = [];
  page.offsite = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push("console: " + m.text());
  });
  page.on("pageerror", (e) => page.problems.push("exception: " + e.message));
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (!["127.0.0.1", "localhost"].includes(u.hostname) &&
        !["data:", "blob:"].includes(u.protocol))
      page.offsite.push(r.url());
  });
  await page.goto(url);
  return page;
}

export function debugView(page) {
  return page.evaluate(() => window.streamavgDebug());
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
