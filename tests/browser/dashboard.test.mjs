// The dashboard in headless Chromium against the real server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  Relay, Server, debugView, launchBrowser, makePoints, openPage,
  screenshot, waitFor, whyNoBrowser,
} from "./support.mjs";

const skip = whyNoBrowser();

// The figure a stat card shows, at full precision.
function stat(page, chart, name) {
  return page.locator(".panel").nth(chart)
    .locator('[data-stat="' + name + '"]').getAttribute("data-value");
}

function heldIs(page, chart, n) {
  return waitFor(async () => {
    const v = await debugView(page);
    return v.charts[chart] && v.charts[chart].held === n && v;
  }, "chart " + chart + " to hold " + n + " points");
}

function liveState(page) {
  return waitFor(async () => (await debugView(page)).conn.state === "live",
    "the page to show it is live");
}

function closeTo(a, b) {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe("dashboard", { skip: skip || false }, () => {
  let browser, server;
  const T0 = Math.floor(Date.now() / 1000) - 100;

  before(async () => {
    browser = await launchBrowser();
    server = await Server.start();
  });
  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  });

  test("shows live points and the same averages as GET /average",
    async () => {
      await server.ingest("web.load", makePoints(T0, 40));
      const page = await openPage(browser, server.base +
        "/?chart=web.load,10&chart=web.load,200ms");
      await liveState(page);
      await heldIs(page, 0, 40);
      // Live points after the history, then the figures must match.
      await server.ingest("web.load", makePoints(T0, 25, 0.01, 40));
      await heldIs(page, 0, 65);
      await heldIs(page, 1, 65);
      const byCount = await server.json(
        "/average?series=web.load&window_size=10");
      const byTime = await server.json("/average?series=web.load&window=200ms");
      await waitFor(async () => closeTo(Number(await stat(page, 0, "average")),
        byCount.average), "the count window's average");
      assert.equal(Number(await stat(page, 0, "count")), byCount.count);
      await waitFor(async () => closeTo(Number(await stat(page, 1, "average")),
        byTime.average), "the time window's average");
      assert.equal(Number(await stat(page, 1, "count")), byTime.count);
      // Min and max of the newest 10 values, computed here.
      const last10 = makePoints(T0, 65).slice(-10).map((p) => p.value);
      assert.equal(Number(await stat(page, 0, "min")), Math.min(...last10));
      assert.equal(Number(await stat(page, 0, "max")), Math.max(...last10));
      // The chart drew: dygraphs' canvas is there.
      assert.ok(await page.locator(".panel").first().locator("canvas")
        .count() > 0);
      await screenshot(page, "dashboard.png");
      assert.deepEqual(page.problems, []);
      assert.deepEqual(page.offsite, []);
      await page.context().close();
    });

  test("holds a bounded number of points and batches its redraws",
    async () => {
      const page = await openPage(browser, server.base +
        "/?chart=fast,20&chart=fast,1s");
      await liveState(page);
      // 3,600 points, 100 at a time: more than a chart keeps (3,000).
      for (let i = 0; i < 36; i++) {
        await server.ingest("fast", makePoints(T0, 100, 0.01, i * 100));
        await new Promise((r) => setTimeout(r, 40));
      }
      const v = await waitFor(async () => {
        const d = await debugView(page);
        const last = d.charts[0].timestamps.at(-1);
        return last === makePoints(T0, 1, 0.01, 3599)[0].timestamp && d;
      }, "the last point");
      for (const c of v.charts) {
        assert.ok(c.held >= 3000 && c.held <= 3300, "held " + c.held);
        // Far fewer redraws than the 3,600 messages: one per frame at most.
        assert.ok(c.draws < 600, "draws " + c.draws);
      }
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });

  test("keeps its layout in the address", async () => {
    const page = await openPage(browser, server.base + "/?chart=web.load,10");
    await liveState(page);
    await page.getByRole("button", { name: "Add chart" }).click();
    await page.getByLabel("Series", { exact: true }).nth(1).selectOption("web.load");
    const win = page.getByLabel("Window", { exact: true }).nth(1);
    await win.fill("30s");
    await win.press("Enter");
    await waitFor(async () => new URL(page.url()).search ===
      "?chart=web.load,10&chart=web.load,30s", "the address to follow");
    // A link opens the same view.
    const again = await openPage(browser, page.url());
    await liveState(again);
    const v = await debugView(again);
    assert.deepEqual(v.charts.map((c) => c.window), ["10", "30s"]);
    assert.deepEqual(again.problems, []);
    await page.context().close();
    await again.context().close();
  });

  test("reads well on a phone in the dark, with labelled controls",
    async () => {
      const page = await openPage(browser, server.base +
        "/?chart=web.load,10", { colorScheme: "dark",
        viewport: { width: 390, height: 844 }, isMobile: true });
      await liveState(page);
      await heldIs(page, 0, 65);
      const wide = await page.evaluate(() =>
        document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, "no sideways scrolling (" + wide + " px)");
      const unlabelled = await page.evaluate(() => Array.from(
        document.querySelectorAll("input, select, button, a"))
        .filter((e) => e.checkVisibility() && !(e.labels && e.labels.length) &&
          !e.textContent.trim()).map((e) => e.outerHTML));
      assert.deepEqual(unlabelled, []);
      // The keyboard reaches the first chart's controls.
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.id),
        "series-1");
      await screenshot(page, "dashboard-phone-dark.png");
      assert.deepEqual(page.problems, []);
      await page.context().close();
    });

  test("resumes after a dropped connection with no gap or duplicate",
    async () => {
      const relay = await Relay.start(server.port);
      try {
        const all = makePoints(T0 + 10, 50);
        await server.ingest("drop.test", all.slice(0, 30));
        const page = await openPage(browser, relay.base +
          "/?chart=drop.test,5");
        await heldIs(page, 0, 30);
        relay.refusing = true;
        relay.cut();
        await waitFor(async () => (await debugView(page)).conn.state ===
          "down", "the page to show the drop");
        // Points arrive while the page is away; the server keeps them.
        await server.ingest("drop.test", all.slice(30));
        relay.refusing = false;
        await liveState(page);
        const v = await heldIs(page, 0, 50);
        assert.deepEqual(v.charts[0].timestamps, all.map((p) => p.timestamp));
        assert.equal(v.charts[0].holes, 0);
        await page.context().close();
      } finally {
        await relay.close();
      }
    });

  test("survives a server restart on the same port", async () => {
    const page = await openPage(browser, server.base + "/?chart=web.load,10");
    await liveState(page);
    await heldIs(page, 0, 65);
    const port = server.port;
    await server.stop();
    server = null;
    await waitFor(async () => (await debugView(page)).conn.state === "down",
      "the page to show the server is gone");
    server = await Server.start(port);
    // The new server has none of the old points; the page keeps them and
    // adds the new run after them.
    const fresh = makePoints(T0 + 50, 5);
    await server.ingest("web.load", fresh);
    await liveState(page);
    const v = await heldIs(page, 0, 70);
    const ts = v.charts[0].timestamps;
    assert.deepEqual(ts.slice(-5), fresh.map((p) => p.timestamp));
    assert.equal(new Set(ts).size, ts.length);
    // The points the restart lost are a break in the lines.
    assert.equal(v.charts[0].holes, 1);
    await screenshot(page, "dashboard-after-restart.png");
    await page.context().close();
  });
});
