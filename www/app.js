/* streamavg dashboard: plain JS, no build step.
 *
 * The page shows several charts, each a (series, window) pair.  One
 * WebSocket to /stream carries every subscription: a "feed" is one
 * (series, window_size) subscription, shared by the charts that need it.
 * A window given as a duration is computed here, from the raw points of a
 * window_size=1 feed (see timeWindow()), so that one feed of raw points
 * serves every duration chart of a series.
 *
 * Incoming points are only stored in the feed; charts are marked dirty
 * and redrawn at most once per animation frame.  Each feed keeps at most
 * MAX_POINTS points, so an open page stays the same size for hours. */
"use strict";

(function () {
  const MAX_POINTS = 3000;          // points held per feed (bounded memory)
  const TRIM_SLACK = 300;           // trim in chunks, not one per point
  const MAX_CHARTS = 8;
  const SERIES_REFRESH_MS = 3000;   // how often GET /series is polled
  const TICK_MS = 1000;             // rate sampling and stale-stat refresh
  const RATE_SAMPLES = 6;           // the rate spans the last 5 seconds
  const FETCH_TIMEOUT_MS = 4000;
  const BACKOFF_BASE_MS = 500;      // first reconnect delay (before jitter)
  const BACKOFF_MAX_MS = 15000;
  const DRAW_COST_FACTOR = 4;       // a chart redraws at most every 4x
                                    // the time its last draw took
  const FRAME_BUDGET_MS = 10;       // drawing stops for this frame past it
  const RESYNC_MS = 5000;           // history asked again at most this often
  const PLOT_POINTS = 300;
  const NAME_RE = /^[A-Za-z0-9._:-]{1,255}$/;
  // The units the server's window=DURATION takes, with its scale factors,
  // so that "30s" means the same here and in GET /average?window=30s.
  const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

  const $ = (id) => document.getElementById(id);
  const el = {
    conn: $("conn"), add: $("add-chart"), error: $("error"),
    charts: $("charts"), none: $("no-charts"),
    template: $("chart-template"),
  };

  const charts = [];               // in page order, as in the address
  const feeds = new Map();         // feedKey -> feed
  let seriesNames = [];            // from GET /series, sorted
  let seriesCounts = new Map();    // name -> points the server retains
  let chartSeq = 0;

  /* ---------------------------------------------------- helpers */

  function fmt(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    // Enough digits for averages, without float noise such as 1.70000001.
    return Number(x.toPrecision(6)).toString();
  }

  function showError(node, msg) {
    node.textContent = msg || "";
    node.hidden = !msg;
  }

  function setConn(kind, text) {
    el.conn.dataset.state = kind;
    el.conn.textContent = text;
  }

  function query(params) {
    return new URLSearchParams(params).toString();
  }

  // fetch() with a time limit, so a hung server cannot pile up requests.
  function fetchWithTimeout(url, opts) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    return fetch(url, Object.assign({ signal: ctl.signal }, opts))
      .finally(() => clearTimeout(timer));
  }

  // The server's {"error": "..."} sentence when there is one.
  async function errorText(resp) {
    try {
      const body = await resp.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return "HTTP " + resp.status;
  }

  /* ---------------------------------------------------- windows, layout */

  // "50" is the newest 50 points; "30s" is a span of time.  Returns
  // {text, points} or {text, seconds}, or null for anything else.
  function parseWindow(text) {
    const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(String(text).trim());
    if (!m || Number(m[1]) < 1) return null;
    const n = Number(m[1]);
    if (!m[2]) return { text: String(n), points: n };
    return { text: n + m[2], seconds: n * UNITS[m[2]] };
  }

  // One chart in the address: "SERIES,WINDOW".  A comma can never be
  // part of a series name, so the split is unambiguous.
  function parseSpec(s) {
    const i = s.lastIndexOf(",");
    if (i < 0) return null;
    const series = s.slice(0, i);
    const win = parseWindow(s.slice(i + 1));
    return NAME_RE.test(series) && win ? { series, win } : null;
  }

  // ?chart=SERIES,WINDOW, repeated, one per chart in page order.  The
  // first dashboard's ?series=S&window_size=N still opens one chart.
  function readLayout() {
    const q = new URLSearchParams(location.search);
    const specs = q.getAll("chart").map(parseSpec).filter(Boolean);
    if (!specs.length && (q.has("series") || q.has("window_size"))) {
      const one = parseSpec((q.get("series") || "default") + "," +
        (q.get("window_size") || "5"));
      if (one) specs.push(one);
    }
    return specs.slice(0, MAX_CHARTS);
  }

  // Kept in the address on every change, so a reload or a shared link
  // reopens the same view.  Built by hand: URLSearchParams would write
  // the comma as %2C.
  function writeLayout() {
    const parts = charts.map((c) => "chart=" +
      encodeURIComponent(c.series) + "," + encodeURIComponent(c.win.text));
    history.replaceState(null, "", location.pathname +
      (parts.length ? "?" + parts.join("&") : ""));
  }

  /* ---------------------------------------------------- the connection */

  const conn = {
    ws: null, attempt: 0, timer: 0,
    // Keys of subscribe requests not answered yet, oldest first.  The
    // server answers each subscribe, in order, with a history batch or an
    // error, and its errors name no subscription: this list says whose
    // error it is.
    pending: [],
  };

  function streamUrl() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/stream";
  }

  function connect() {
    clearTimeout(conn.timer);
    conn.timer = 0;
    setConn("connecting", "connecting…");
    let ws;
    try {
      ws = new WebSocket(streamUrl(), "streamavg");
    } catch (e) {
      scheduleReconnect();
      return;
    }
    conn.ws = ws;
    conn.pending = [];
    // Every handler first checks that this socket is still the current
    // one: a socket given up on may still deliver late events.
    ws.onopen = () => {
      if (ws !== conn.ws) return;
      for (const f of feeds.values()) subscribeFeed(f);
      showConnState();
    };
    ws.onmessage = (ev) => {
      if (ws === conn.ws) onMessage(ev.data);
    };
    ws.onclose = () => {
      if (ws !== conn.ws) return;
      conn.ws = null;
      for (const f of feeds.values()) f.live = false;
      scheduleReconnect();
    };
    // An error is always followed by close, which does the work.
    ws.onerror = () => {};
  }

  function isOpen() {
    return conn.ws && conn.ws.readyState === WebSocket.OPEN;
  }

  // Exponential backoff with jitter: the ceiling doubles per failed
  // attempt up to BACKOFF_MAX_MS and the wait is a random point between
  // half of it and all of it, so that many pages do not reconnect in step
  // after a server restart.
  function scheduleReconnect() {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** conn.attempt);
    const delay = cap / 2 + Math.random() * cap / 2;
    conn.attempt++;
    const until = Date.now() + delay;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) { connect(); return; }
      setConn("down", "disconnected: retrying in " + left + " s (attempt " +
        conn.attempt + ")");
      conn.timer = setTimeout(tick, Math.min(1000, until - Date.now()));
    };
    tick();
  }

  function showConnState() {
    if (!isOpen()) return;
    const all = Array.from(feeds.values());
    const waiting = all.filter((f) => !f.live && !f.error).length;
    if (waiting) {
      setConn("connecting", "connected, subscribing (" + waiting + ")…");
    } else {
      setConn("live", "live: " + all.filter((f) => f.live).length +
        " subscription(s)");
    }
  }

  function send(msg) {
    if (!isOpen()) return false;
    conn.ws.send(JSON.stringify(msg));
    return true;
  }

  function subscribeFeed(f) {
    f.live = false;
    // Held points may be followed by a hole; mergeHistory() decides.
    f.resuming = f.points.length > 0;
    if (send({ subscribe: { series: f.series, window_size: f.n } }))
      conn.pending.push(f.key);
  }

  // A frame is one message, or, when the page fell behind, a JSON array of
  // the averages that waited: taken one by one, in order.
  function onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      console.warn("ignoring a message that is not JSON");
      return;
    }
    if (Array.isArray(msg)) {
      for (const m of msg) onOne(m);
      return;
    }
    onOne(msg);
  }

  function onOne(msg) {
    if (msg.type === "error") {
      onServerError(msg.error);
      return;
    }
    const key = feedKey(msg.series, msg.window_size);
    const f = feeds.get(key);
    if (msg.type === "history") {
      const i = conn.pending.indexOf(key);
      if (i >= 0) conn.pending.splice(i, 1);
      if (!f) {
        // The chart went away while its subscribe was on the wire.
        send({ unsubscribe: { series: msg.series,
          window_size: msg.window_size } });
        return;
      }
      // A stable connection: the next failure starts the backoff afresh.
      conn.attempt = 0;
      f.live = true;
      f.error = "";
      mergeHistory(f, msg.points || []);
      feedChanged(f);
      showConnState();
    } else if (msg.type === "average" && f && f.live) {
      appendPoint(f, toPoint(msg));
      if (msg.dropped > 0) {
        f.dropped += msg.dropped;
        resync(f);
      }
      f.received++;
      feedChanged(f);
    }
  }

  function onServerError(text) {
    const key = conn.pending.shift();
    const f = key && feeds.get(key);
    if (f) {
      f.error = text;
      feedChanged(f);
      showConnState();
    } else {
      showError(el.error, "Server: " + text);
    }
  }

  /* ---------------------------------------------------- feeds */

  function feedKey(series, n) {
    return series + "|" + n;
  }

  // The charts of a feed share its points; the first one subscribes.
  function acquireFeed(series, n, chart) {
    const key = feedKey(series, n);
    let f = feeds.get(key);
    if (!f) {
      f = { key, series, n, points: [], charts: new Set(), live: false,
        error: "", dropped: 0, trimmed: false, received: 0, samples: [],
        rate: null, resyncAt: -Infinity, resuming: false };
      feeds.set(key, f);
      subscribeFeed(f);
      showConnState();
    }
    f.charts.add(chart);
    return f;
  }

  function releaseFeed(f, chart) {
    f.charts.delete(chart);
    if (f.charts.size) return;
    feeds.delete(f.key);
    // A refused subscription has nothing to undo; one still on the wire
    // is undone when its history arrives (see onMessage).
    if (f.live) send({ unsubscribe: { series: f.series, window_size: f.n } });
    showConnState();
  }

  function toPoint(p) {
    return {
      ts: p.timestamp, v: p.value,
      // null average (empty window) leaves a gap in that line.
      a: typeof p.average === "number" ? p.average : null,
      c: p.count,
      // The server's position of the point in its series, when it sends
      // one: it orders points exactly where timestamps can tie.
      off: typeof p.offset === "number" ? p.offset : undefined,
    };
  }

  // Whether held point p comes before q.  Offsets decide when both points
  // carry one; otherwise timestamps do.
  function before(p, q) {
    if (p.off !== undefined && q.off !== undefined) return p.off < q.off;
    return p.ts < q.ts;
  }

  // A history batch (first subscription, or a reconnect).  The server's
  // copy is taken from its first point on, and what the feed held before
  // that point is kept: no duplicate where both have a point, no gap
  // where the server still has the data.  Points the server lost (a
  // restart) stay as they were.  With timestamps alone, a run of equal
  // timestamps cut by the batch's start may lose a few of its points;
  // offsets, once the server sends them, make the seam exact.
  function mergeHistory(f, rows) {
    const fresh = rows.map(toPoint);
    // A server that restarted counts offsets from the start again, so the
    // held points' offsets no longer compare with the new ones: order by
    // timestamp across the restart.
    if (f.resuming && offsetsWentBack(f.points, fresh)) forgetOffsets(f);
    if (!fresh.length) return;      // the hole, if any, is marked later
    const first = fresh[0];
    let keep = 0;
    while (keep < f.points.length && before(f.points[keep], first)) keep++;
    // The history starts after everything held on a resume: the server
    // restarted or more points came than its backlog, so a hole lies
    // between.
    if (f.resuming && keep === f.points.length) first.gap = true;
    f.resuming = false;
    f.points = f.points.slice(0, keep).concat(fresh);
    trimFeed(f);
  }

  function offsetsWentBack(held, fresh) {
    const last = held.length ? held[held.length - 1].off : undefined;
    if (last === undefined) return false;
    if (!fresh.length) return true;     // the server holds none of them
    const newest = fresh[fresh.length - 1].off;
    return newest !== undefined && newest < last;
  }

  function forgetOffsets(f) {
    for (const p of f.points) p.off = undefined;
  }

  function appendPoint(f, p) {
    const pts = f.points;
    // A live point older than the newest held is a stale one, queued
    // before a resync's history overtook it (replies are sent first).
    if (pts.length && before(p, pts[pts.length - 1])) return;
    // The first point after a resume whose history was empty.
    if (f.resuming) p.gap = true;
    f.resuming = false;
    pts.push(p);
    trimFeed(f);
  }

  // The server dropped averages because the page fell behind: the chart
  // has a hole.  Subscribing again brings the recent history, which
  // mergeHistory() folds in, filling the hole while the server still has
  // those points.  At most once per RESYNC_MS, so a page that cannot keep
  // up does not ask for history on every message.
  function resync(f) {
    const now = performance.now();
    if (now - f.resyncAt < RESYNC_MS) return;
    f.resyncAt = now;
    send({ unsubscribe: { series: f.series, window_size: f.n } });
    subscribeFeed(f);
  }

  function trimFeed(f) {
    if (f.points.length <= MAX_POINTS + TRIM_SLACK) return;
    f.points.splice(0, f.points.length - MAX_POINTS);
    f.trimmed = true;
  }

  // The rate: the live points received, sampled once a second; the rate
  // is the growth over the last RATE_SAMPLES samples.  Constant memory
  // whatever the rate, and it falls to 0 when the stream stops.
  function sampleRate(f, now) {
    f.samples.push([now, f.received]);
    if (f.samples.length > RATE_SAMPLES) f.samples.shift();
    const [t0, n0] = f.samples[0];
    f.rate = now > t0 ? (f.received - n0) * 1000 / (now - t0) : null;
  }

  function feedChanged(f) {
    for (const c of f.charts) markDirty(c);
  }

  /* ---------------------------------------------------- series list */

  let seriesBusy = false;

  async function refreshSeries() {
    if (seriesBusy) return;
    seriesBusy = true;
    try {
      const resp = await fetchWithTimeout("/series", { cache: "no-store" });
      if (!resp.ok) throw new Error(await errorText(resp));
      const list = (await resp.json()).series || [];
      seriesCounts = new Map(list.map((s) => [s.name, s.count]));
      seriesNames = list.map((s) => s.name).sort();
      for (const c of charts) fillSeries(c);
    } catch (e) {
      // The connection state is shown in the header; the list just stays
      // as it was until the next poll works.
      console.warn("GET /series failed:", e.message || e);
    } finally {
      seriesBusy = false;
    }
  }

  function fillSeries(c) {
    // A chart opened without a series ("default" missing) follows the
    // first series the server has instead of waiting on an empty one.
    if (c.autoPick && seriesNames.length &&
        !seriesNames.includes(c.series)) {
      c.autoPick = false;
      setChart(c, seriesNames[0], c.win);
      return;
    }
    // Keep the current choice even before the server knows that series.
    const names = seriesNames.includes(c.series) ? seriesNames :
      seriesNames.concat(c.series).sort();
    const sel = c.ui.series;
    const current = Array.from(sel.options, (o) => o.value);
    if (current.join("\n") !== names.join("\n")) {
      sel.replaceChildren(...names.map((n) => {
        const o = document.createElement("option");
        o.value = n;
        o.textContent = n;   // textContent: names are never parsed as HTML
        return o;
      }));
    }
    sel.value = c.series;
  }

  /* ---------------------------------------------------- charts */

  // A chart panel from the template; ids get a suffix so that each label
  // points at its own control.
  function buildPanel(id) {
    const node = el.template.content.firstElementChild.cloneNode(true);
    for (const n of node.querySelectorAll("[id]")) n.id += "-" + id;
    for (const n of node.querySelectorAll("label[for]"))
      n.htmlFor += "-" + id;
    // Buttons named alike in every panel ("Remove") are described by
    // their panel's title, so a screen reader says which chart.
    for (const n of node.querySelectorAll("[data-describe]"))
      n.setAttribute("aria-describedby", "title-" + id);
    node.setAttribute("aria-labelledby", "title-" + id);
    const role = (r) => node.querySelector('[data-role="' + r + '"]');
    const ui = {
      node, title: node.querySelector(".panel-title"),
      form: node.querySelector("form"), series: node.querySelector("select"),
      win: node.querySelector("input"), error: role("error"),
      note: role("note"), chart: role("chart"), legend: role("legend"),
      svgLink: role("svg-link"), svgImg: role("svg-img"),
      svgStatus: role("svg-status"),
      svgRefresh: node.querySelector('[data-action="plot"]'),
      remove: node.querySelector('[data-action="remove"]'),
      stat: {},
    };
    for (const dd of node.querySelectorAll("[data-stat]"))
      ui.stat[dd.dataset.stat] = dd;
    return ui;
  }

  function addChart(spec, autoPick) {
    const c = {
      id: ++chartSeq, series: spec.series, win: spec.win, feed: null,
      graph: null, autoPick: !!autoPick, svgUrl: null, plotDue: false,
      lastDraw: 0,
      drawCost: 0, draws: 0, windowCount: 0,
    };
    c.ui = buildPanel(c.id);
    c.ui.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      applyControls(c);
    });
    c.ui.series.addEventListener("change", () => applyControls(c));
    c.ui.win.addEventListener("change", () => applyControls(c));
    c.ui.remove.addEventListener("click", () => removeChart(c));
    c.ui.svgRefresh.addEventListener("click", () => refreshPlot(c));
    el.charts.append(c.ui.node);
    charts.push(c);
    bindChart(c);
    return c;
  }

  function removeChart(c) {
    releaseFeed(c.feed, c);
    dirty.delete(c);
    if (c.graph) c.graph.destroy();
    if (c.svgUrl) URL.revokeObjectURL(c.svgUrl);
    c.ui.node.remove();
    charts.splice(charts.indexOf(c), 1);
    layoutChanged();
    el.add.focus();     // the focused button went away with its panel
  }

  function applyControls(c) {
    c.autoPick = false;
    const win = parseWindow(c.ui.win.value);
    c.ui.win.setAttribute("aria-invalid", win ? "false" : "true");
    if (!win) {
      showError(c.ui.error, "The window is a whole number of points (50) " +
        "or of ms, s, m, h or d (30s).");
      return;
    }
    setChart(c, c.ui.series.value || c.series, win);
  }

  function setChart(c, series, win) {
    if (series === c.series && win.text === c.win.text) return;
    c.series = series;
    c.win = win;
    bindChart(c);
  }

  // Follow the chart's (series, window): its feed, controls, plot link
  // and the address.  A duration window reads a window_size=1 feed: every
  // raw point, averaged here.
  function bindChart(c) {
    const old = c.feed;
    c.feed = acquireFeed(c.series, c.win.points || 1, c);
    // Acquire first: a feed shared with the new choice must not be let go.
    if (old && old !== c.feed) releaseFeed(old, c);
    c.ui.title.textContent = c.series + " · window " + c.win.text +
      (c.win.points ? " points" : "");
    c.ui.win.value = c.win.text;
    c.ui.win.setAttribute("aria-invalid", "false");
    c.ui.series.value = c.series;
    showError(c.ui.error, "");
    fillSeries(c);
    if (c.graph) { c.graph.destroy(); c.graph = null; }
    // The plot waits for the feed's history: a duration window's plot
    // needs to know how many points the window holds.
    c.plotDue = true;
    markDirty(c);
    layoutChanged();
  }

  function layoutChanged() {
    writeLayout();
    el.none.hidden = charts.length > 0;
    el.add.disabled = charts.length >= MAX_CHARTS;
  }

  // A new chart: the first series not shown yet, the last chart's window.
  function onAddChart() {
    const shown = new Set(charts.map((c) => c.series));
    const series = seriesNames.find((n) => !shown.has(n)) ||
      (charts.length ? charts[charts.length - 1].series : "default");
    const win = charts.length ? charts[charts.length - 1].win :
      parseWindow("5");
    addChart({ series, win }).ui.series.focus();
  }

  /* ---------------------------------------------------- statistics */

  // The figures of a chart's window, from the points the feed holds:
  // {rows, average, count, min, max, scanned, partial}.  `rows` feed
  // dygraphs as [Date, value, average].
  function view(c) {
    const pts = c.feed.points;
    if (c.win.seconds) return timeWindow(pts, c.win.seconds, c.feed);
    const rows = chartRows(pts, (p) => p.a);
    const last = pts[pts.length - 1];
    // The server's count says how many points its window holds: fewer
    // than N while a series is young or after a restart.
    const span = last && typeof last.c === "number" ?
      Math.min(c.win.points, last.c) : c.win.points;
    const from = Math.max(0, pts.length - span);
    const mm = minMax(pts, from);
    // The server computes the average and count over the whole window;
    // min and max come from the points held, which may be fewer.
    return Object.assign({ rows, average: last ? last.a : null,
      count: last ? last.c : null, scanned: pts.length - from,
      partial: last ? last.c > pts.length - from : false }, mm);
  }

  // dygraphs rows [Date, value, average].  Before a point that follows a
  // hole (see mergeHistory) a row of nulls breaks both lines, so the
  // chart does not draw a straight line across data nobody has.
  function chartRows(pts, averageOf) {
    const rows = [];
    pts.forEach((p, i) => {
      if (p.gap && i > 0)
        rows.push([new Date((pts[i - 1].ts + p.ts) * 500), null, null]);
      rows.push([new Date(p.ts * 1000), p.v, averageOf(p, i)]);
    });
    return rows;
  }

  function minMax(pts, from) {
    let min = Infinity, max = -Infinity;
    for (let i = from; i < pts.length; i++) {
      if (pts[i].v < min) min = pts[i].v;
      if (pts[i].v > max) max = pts[i].v;
    }
    return from < pts.length ? { min, max } : { min: null, max: null };
  }

  // A duration window, computed here because the server's /stream takes
  // only window_size=N today.  The window ending at a point holds the
  // points whose timestamps lie less than `seconds` before it, as GET
  // /average?window= counts them, so both agree while the page holds
  // every point of the span.  One pass with a running sum; the current
  // window's figures are summed afresh so no rounding carries over.
  function timeWindow(pts, seconds, f) {
    const avg = new Array(pts.length);
    let lo = 0, sum = 0;
    for (let i = 0; i < pts.length; i++) {
      sum += pts[i].v;
      const start = pts[i].ts - seconds;
      while (pts[lo].ts <= start) sum -= pts[lo++].v;
      avg[i] = sum / (i - lo + 1);
    }
    const rows = chartRows(pts, (p, i) => avg[i]);
    if (!pts.length) return { rows, average: null, count: null, min: null,
      max: null, scanned: 0, partial: false };
    let exact = 0;
    for (let i = lo; i < pts.length; i++) exact += pts[i].v;
    const count = pts.length - lo;
    // The span reaches past the oldest point held, and the server has (or
    // had) older ones: the figures cover only part of the window.
    const partial = lo === 0 &&
      pts[0].ts > pts[pts.length - 1].ts - seconds &&
      (f.trimmed || (seriesCounts.get(f.series) || 0) > pts.length);
    return Object.assign({ rows, average: exact / count, count,
      scanned: count, partial }, minMax(pts, lo));
  }

  function showStats(c, v) {
    const set = (name, x, text) => {
      const dd = c.ui.stat[name];
      dd.textContent = text !== undefined ? text : fmt(x);
      // Full precision for tests and for a hover.
      dd.dataset.value = x === null || x === undefined ? "" : String(x);
      dd.title = dd.dataset.value;
    };
    const last = c.feed.points[c.feed.points.length - 1];
    set("average", v.average);
    set("count", v.count, v.count === null ? "–" : String(v.count));
    set("min", v.min);
    set("max", v.max);
    set("rate", c.feed.rate, c.feed.rate === null ? "–" :
      c.feed.rate.toFixed(c.feed.rate < 10 ? 1 : 0));
    set("last", last ? last.v : null);
    c.windowCount = v.count || 0;
    showNote(c, v);
  }

  function showNote(c, v) {
    const f = c.feed;
    const notes = [];
    if (f.error) notes.push("Server refused this subscription: " + f.error);
    else if (!f.live) notes.push("Waiting for the server…");
    if (v.partial) {
      notes.push(c.win.seconds ?
        "The page holds only the newest " + f.points.length + " points; " +
        "the figures cover the part of the window they span." :
        "Min and max cover the newest " + v.scanned + " points held; " +
        "average and count cover the whole window.");
    }
    if (f.dropped > 0)
      notes.push(f.dropped + " update(s) dropped by the server because " +
        "this page fell behind; the chart was filled in from its history.");
    showError(c.ui.note, notes.join(" "));
  }

  /* ---------------------------------------------------- drawing */

  const dirty = new Set();
  let frameQueued = false;

  function markDirty(c) {
    dirty.add(c);
    if (frameQueued) return;
    frameQueued = true;
    requestAnimationFrame(frame);
  }

  // One frame draws the charts that changed since the last one, oldest
  // change first, until FRAME_BUDGET_MS is spent; the rest wait for the
  // next frame, so several busy charts never make one long frame.  A
  // chart whose last draw was slow also waits a few frames, so that it
  // cannot take every frame.  A drawn chart goes to the back of the
  // queue when it changes again.
  function frame(now) {
    frameQueued = false;
    const start = performance.now();
    for (const c of Array.from(dirty)) {
      if (performance.now() - start > FRAME_BUDGET_MS) break;
      if (now - c.lastDraw < c.drawCost * DRAW_COST_FACTOR) continue;
      dirty.delete(c);
      const t0 = performance.now();
      draw(c);
      c.drawCost = performance.now() - t0;
      c.lastDraw = now;
      c.draws++;
    }
    if (dirty.size && !frameQueued) {
      frameQueued = true;
      requestAnimationFrame(frame);
    }
  }

  function draw(c) {
    const v = view(c);
    showStats(c, v);
    updatePlotLink(c);
    c.ui.node.dataset.points = String(c.feed.points.length);
    if (c.plotDue && c.feed.live) {
      c.plotDue = false;
      refreshPlot(c);
    }
    if (typeof Dygraph === "undefined") return;   // reported by init()
    if (v.rows.length === 0) {
      // dygraphs refuses an empty data set: show the placeholder instead.
      if (c.graph) { c.graph.destroy(); c.graph = null; }
      c.ui.chart.replaceChildren(placeholder());
      return;
    }
    if (!c.graph) {
      c.ui.chart.replaceChildren();
      c.graph = new Dygraph(c.ui.chart, v.rows, Object.assign({
        labels: ["time", "value", "average"],
        labelsDiv: c.ui.legend,
        legend: "always",
        labelsUTC: true,
        strokeWidth: 1.5,
        series: { value: { strokeWidth: 1 } },
        axes: {
          x: { axisLabelFormatter: timeLabel, axisLabelWidth: 88 },
          y: { axisLabelWidth: 56 },
        },
      }, themeOptions()));
    } else {
      c.graph.updateOptions({ file: v.rows });
    }
  }

  // Below a day dygraphs' own labels become bare "SS.mmm" for fast
  // streams; a UTC clock time is clearer there.  Longer spans keep the
  // default (dates).
  function timeLabel(d, granularity, opts, g) {
    const range = g.xAxisRange();
    const span = range[1] - range[0];
    if (span >= 86400e3)
      return Dygraph.dateAxisLabelFormatter(d, granularity, opts);
    return d.toISOString().slice(11, span < 10e3 ? 21 : 19);
  }

  function placeholder() {
    const p = document.createElement("p");
    p.className = "placeholder";
    p.textContent = "No points yet.";
    return p;
  }

  // Chart colours come from the CSS custom properties, so they follow
  // prefers-color-scheme like the rest of the page.
  function themeOptions() {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    return {
      colors: [v("--raw"), v("--avg")],
      axisLineColor: v("--muted"),
      gridLineColor: v("--grid"),
    };
  }

  /* ---------------------------------------------------- SVG plot */

  // /plot takes the same windows as the page: a number of points
  // (window_size) or a duration (window, e.g. 30s).
  function plotUrl(c) {
    const win = c.win.points ? { window_size: c.win.points }
                             : { window: c.win.text };
    return "/plot?" + query(Object.assign({ series: c.series }, win,
      { points: PLOT_POINTS }));
  }

  function updatePlotLink(c) {
    const url = plotUrl(c);
    if (c.ui.svgLink.getAttribute("href") === url) return;
    c.ui.svgLink.href = url;
    c.ui.svgLink.download = "streamavg-" + c.series + "-" + c.win.text +
      ".svg";
  }

  // fetch() rather than setting img.src, so that a fresh copy is asked
  // for without adding unknown query parameters, and a server error can
  // be shown as text.
  async function refreshPlot(c) {
    updatePlotLink(c);
    c.ui.svgStatus.textContent = "drawing…";
    c.ui.svgRefresh.disabled = true;
    try {
      const resp = await fetchWithTimeout(plotUrl(c), { cache: "no-store" });
      if (!resp.ok) throw new Error(await errorText(resp));
      const blob = await resp.blob();
      if (c.svgUrl) URL.revokeObjectURL(c.svgUrl);
      c.svgUrl = URL.createObjectURL(blob);
      c.ui.svgImg.src = c.svgUrl;
      c.ui.svgImg.hidden = false;
      c.ui.svgStatus.textContent = "drawn at " +
        new Date().toLocaleTimeString();
    } catch (e) {
      c.ui.svgStatus.textContent = "plot failed: " +
        (e.name === "AbortError" ? "timed out" : e.message);
    } finally {
      c.ui.svgRefresh.disabled = false;
    }
  }

  /* ---------------------------------------------------- start */

  // Once a second: sample each feed's rate, and redraw the figures of a
  // quiet feed, whose rate falls and whose partial note may change.
  function tick() {
    const now = performance.now();
    for (const f of feeds.values()) {
      sampleRate(f, now);
      feedChanged(f);
    }
  }

  // A read-only view for the browser tests and the console.
  function debugView() {
    return {
      conn: { state: el.conn.dataset.state, attempt: conn.attempt },
      charts: charts.map((c) => ({
        series: c.series, window: c.win.text, draws: c.draws,
        drawMs: Math.round(c.drawCost * 10) / 10,
        held: c.feed.points.length, live: c.feed.live,
        holes: c.feed.points.filter((p) => p.gap).length,
        timestamps: c.feed.points.map((p) => p.ts),
      })),
    };
  }

  function init() {
    if (typeof Dygraph === "undefined") {
      showError(el.error,
        "The chart library did not load (/dygraphs/dygraph.min.js).");
    }
    const specs = readLayout();
    if (specs.length) specs.forEach((s) => addChart(s, false));
    else addChart({ series: "default", win: parseWindow("5") }, true);

    el.add.addEventListener("click", onAddChart);
    // Back online: skip the rest of the backoff wait.
    window.addEventListener("online", () => {
      if (!conn.ws) { conn.attempt = 0; connect(); }
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change",
      () => {
        for (const c of charts)
          if (c.graph) c.graph.updateOptions(themeOptions());
      });
    window.streamavgDebug = debugView;

    refreshSeries();
    setInterval(refreshSeries, SERIES_REFRESH_MS);
    setInterval(tick, TICK_MS);
    connect();
  }

  init();
})();
