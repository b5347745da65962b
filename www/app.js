/* streamavg dashboard: plain JS, no build step.
 *
 * One WebSocket to /stream follows the selected series and window size.
 * A change of either closes it and opens a new one, and the server starts
 * the new one with a history batch, so the chart is always redrawn from a
 * consistent state.  Incoming points are only appended to an array; the
 * chart is redrawn at most once per animation frame. */
"use strict";

(function () {
  const MAX_POINTS = 2000;          // points kept per chart (bounded memory)
  const SERIES_REFRESH_MS = 5000;   // how often GET /series is polled
  const FETCH_TIMEOUT_MS = 4000;
  const BACKOFF_BASE_MS = 500;      // first reconnect delay (before jitter)
  const BACKOFF_MAX_MS = 30000;
  const PLOT_POINTS = 300;

  const $ = (id) => document.getElementById(id);
  const el = {
    conn: $("conn"), form: $("controls"), series: $("series"),
    win: $("window-size"), error: $("error"),
    average: $("stat-average"), count: $("stat-count"),
    last: $("stat-last"), time: $("stat-time"), dropped: $("dropped"),
    chart: $("chart"), legend: $("legend"),
    svgLink: $("svg-link"), svgImg: $("svg-img"),
    svgRefresh: $("svg-refresh"), svgStatus: $("svg-status"),
  };

  // What the page shows; `data` rows are [Date, value, average].
  const state = {
    series: "default", windowSize: 5, data: [], dropped: 0,
    ws: null, attempt: 0, retryTimer: 0, drawPending: false,
    graph: null, svgUrl: null, plotFailed: false,
    subscribed: false,  // a history batch came on the current socket
    lastError: "",      // the server's reason when it refused to subscribe
    userChose: false,   // series picked by the user or the address
  };

  /* ---------------------------------------------------- helpers */

  function fmt(x) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    // Enough digits for averages, without float noise such as 1.70000001.
    return Number(x.toPrecision(6)).toString();
  }

  function fmtTime(ts) {
    if (typeof ts !== "number") return "–";
    return new Date(ts * 1000).toISOString().replace("T", " ")
      .replace(/\.\d+Z$/, " UTC");
  }

  function showError(msg) {
    el.error.textContent = msg || "";
    el.error.hidden = !msg;
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

  /* ---------------------------------------------------- series list */

  let seriesBusy = false;

  async function refreshSeries() {
    if (seriesBusy) return;
    seriesBusy = true;
    try {
      const resp = await fetchWithTimeout("/series", { cache: "no-store" });
      if (!resp.ok) throw new Error(await errorText(resp));
      const body = await resp.json();
      fillSeries((body.series || []).map((s) => s.name));
    } catch (e) {
      // The stream's own state is shown in the header; the list just
      // stays as it was until the next poll works.
      console.warn("GET /series failed:", e.message || e);
    } finally {
      seriesBusy = false;
    }
  }

  function fillSeries(names) {
    names = names.slice().sort();
    // Nothing chosen yet and "default" does not exist: follow the first
    // series the server has instead of waiting on an empty one.
    const autoPick = !state.userChose && names.length > 0 &&
      !names.includes(state.series);
    if (autoPick) {
      state.series = names[0];
      state.userChose = true;
    } else if (names.includes(state.series) && !state.subscribed &&
               state.retryTimer) {
      // A series refused as unknown has appeared: subscribe now rather
      // than at the end of the backoff wait.
      state.attempt = 0;
      connect();
    }
    // Keep the current choice even before the server knows that series.
    if (!names.includes(state.series)) names.push(state.series);
    const current = Array.from(el.series.options, (o) => o.value);
    if (current.join("\n") !== names.join("\n")) {
      el.series.replaceChildren(...names.map((n) => {
        const o = document.createElement("option");
        o.value = n;
        o.textContent = n;   // textContent: names are never parsed as HTML
        return o;
      }));
    }
    el.series.value = state.series;
    if (autoPick) apply(true);
  }

  /* ---------------------------------------------------- stream */

  function streamUrl() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + location.host + "/stream?" +
      query({ series: state.series, window_size: state.windowSize });
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    setConn("connecting", "connecting…");
    let ws;
    state.subscribed = false;
    try {
      ws = new WebSocket(streamUrl(), "streamavg");
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    // Every handler first checks that this socket is still the current
    // one: a socket closed on purpose may still deliver late events.
    // "live" only once the history batch shows the subscription took.
    ws.onopen = () => {
      if (ws === state.ws) setConn("connecting", "connected, subscribing…");
    };
    ws.onmessage = (ev) => {
      if (ws === state.ws) onMessage(ev.data);
    };
    ws.onclose = () => {
      if (ws !== state.ws) return;
      state.ws = null;
      scheduleReconnect();
    };
    // An error is always followed by close, which does the work.
    ws.onerror = () => {};
  }

  function disconnect() {
    const ws = state.ws;
    state.ws = null;
    if (ws) ws.close(1000);
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
  }

  // Exponential backoff with jitter: the ceiling doubles per failed
  // attempt up to BACKOFF_MAX_MS and the wait is a random point between
  // half of it and all of it, so that many pages do not reconnect in step
  // after a server restart.
  function scheduleReconnect() {
    const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
    const delay = cap / 2 + Math.random() * cap / 2;
    state.attempt++;
    const until = Date.now() + delay;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) { connect(); return; }
      setConn("down", (state.lastError ? "not subscribed" : "disconnected") +
        ": retrying in " + left + " s (attempt " + state.attempt + ")");
      state.retryTimer = setTimeout(tick, Math.min(1000, until - Date.now()));
    };
    tick();
  }

  function onMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      console.warn("ignoring a message that is not JSON");
      return;
    }
    if (msg.type === "error") {
      showError("Server: " + msg.error);
      if (!state.subscribed) {
        // The server keeps the socket open without a subscription (for an
        // unknown series, say): drop it and try again with backoff, so the
        // page picks the series up once points for it arrive.
        state.lastError = msg.error;
        const ws = state.ws;
        state.ws = null;
        ws.close(1000);
        scheduleReconnect();
      }
      return;
    }
    // Only the current subscription is drawn.
    if (msg.series !== state.series || msg.window_size !== state.windowSize)
      return;
    if (msg.type === "history") {
      // A stable connection: the next failure starts the backoff afresh.
      state.attempt = 0;
      state.subscribed = true;
      state.lastError = "";
      showError("");
      setConn("live", "live: " + state.series + ", window " +
        state.windowSize);
      // The plot failed earlier (e.g. the series did not exist yet).
      if (state.plotFailed) refreshPlot();
      const pts = (msg.points || []).slice(-MAX_POINTS);
      state.data = pts.map(row);
      updateStats(pts[pts.length - 1]);
      scheduleDraw();
    } else if (msg.type === "average") {
      if (msg.dropped > 0) {
        state.dropped += msg.dropped;
        el.dropped.textContent = state.dropped +
          " update(s) dropped by the server because this page fell behind.";
        el.dropped.hidden = false;
      }
      state.data.push(row(msg));
      // Trim in chunks rather than shifting one row per message.
      if (state.data.length > MAX_POINTS + 100)
        state.data.splice(0, state.data.length - MAX_POINTS);
      updateStats(msg);
      scheduleDraw();
    }
  }

  function row(p) {
    // null average (empty window) leaves a gap in that line.
    return [new Date(p.timestamp * 1000), p.value,
      typeof p.average === "number" ? p.average : null];
  }

  function updateStats(p) {
    el.average.textContent = p ? fmt(p.average) : "–";
    el.count.textContent = p && typeof p.count === "number" ? p.count : "–";
    el.last.textContent = p ? fmt(p.value) : "–";
    el.time.textContent = p ? fmtTime(p.timestamp) : "–";
  }

  /* ---------------------------------------------------- chart */

  function scheduleDraw() {
    if (state.drawPending) return;
    state.drawPending = true;
    requestAnimationFrame(draw);
  }

  function draw() {
    state.drawPending = false;
    if (typeof Dygraph === "undefined") return;   // reported by init()
    const data = state.data.length > MAX_POINTS ?
      state.data.slice(-MAX_POINTS) : state.data;
    if (data.length === 0) {
      // dygraphs refuses an empty data set: show the placeholder instead.
      if (state.graph) { state.graph.destroy(); state.graph = null; }
      el.chart.replaceChildren(placeholder());
      return;
    }
    if (!state.graph) {
      el.chart.replaceChildren();
      state.graph = new Dygraph(el.chart, data, Object.assign({
        labels: ["time", "value", "average"],
        labelsDiv: el.legend,
        legend: "always",
        labelsUTC: true,
        strokeWidth: 1.5,
        series: { value: { strokeWidth: 1 } },
        axes: {
          x: { axisLabelFormatter: timeLabel, axisLabelWidth: 72 },
          y: { axisLabelWidth: 56 },
        },
      }, themeOptions()));
    } else {
      state.graph.updateOptions({ file: data });
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

  function plotUrl() {
    return "/plot?" + query({ series: state.series,
      window_size: state.windowSize, points: PLOT_POINTS });
  }

  function updatePlotLink() {
    el.svgLink.href = plotUrl();
    el.svgLink.download = "streamavg-" + state.series + "-w" +
      state.windowSize + ".svg";
  }

  // fetch() rather than setting img.src, so that a fresh copy is asked
  // for without adding unknown query parameters, and a server error can
  // be shown as text.
  async function refreshPlot() {
    el.svgStatus.textContent = "drawing…";
    el.svgRefresh.disabled = true;
    try {
      const resp = await fetchWithTimeout(plotUrl(), { cache: "no-store" });
      if (!resp.ok) throw new Error(await errorText(resp));
      const blob = await resp.blob();
      if (state.svgUrl) URL.revokeObjectURL(state.svgUrl);
      state.svgUrl = URL.createObjectURL(blob);
      el.svgImg.src = state.svgUrl;
      el.svgImg.hidden = false;
      state.plotFailed = false;
      el.svgStatus.textContent = "drawn at " +
        new Date().toLocaleTimeString();
    } catch (e) {
      state.plotFailed = true;
      el.svgStatus.textContent = "plot failed: " +
        (e.name === "AbortError" ? "timed out" : e.message);
    } finally {
      el.svgRefresh.disabled = false;
    }
  }

  /* ---------------------------------------------------- controls */

  function readWindowSize() {
    const n = Number(el.win.value);
    const ok = Number.isInteger(n) && n >= 1;
    el.win.setAttribute("aria-invalid", ok ? "false" : "true");
    return ok ? n : null;
  }

  // Follow a new series or window size: new stream, empty chart, new plot.
  function apply(force) {
    const n = readWindowSize();
    if (n === null) {
      showError("The window size must be a whole number of at least 1.");
      return;
    }
    const series = el.series.value || state.series;
    if (series === state.series && n === state.windowSize && state.ws &&
        force !== true)
      return;
    state.series = series;
    state.windowSize = n;
    state.data = [];
    state.dropped = 0;
    state.attempt = 0;
    state.lastError = "";
    el.dropped.hidden = true;
    showError("");
    updateStats(null);
    scheduleDraw();
    // Keep the choice in the address, so a reload or a shared link shows it.
    history.replaceState(null, "", "?" + query({ series, window_size: n }));
    updatePlotLink();
    refreshPlot();
    disconnect();
    connect();
  }

  function init() {
    if (typeof Dygraph === "undefined") {
      showError("The chart library did not load (/dygraphs/dygraph.min.js).");
    }
    const params = new URLSearchParams(location.search);
    if (params.get("series")) {
      state.series = params.get("series");
      state.userChose = true;
    }
    const n = Number(params.get("window_size"));
    if (Number.isInteger(n) && n >= 1) state.windowSize = n;
    el.win.value = state.windowSize;
    fillSeries([]);

    el.series.addEventListener("change", () => {
      state.userChose = true;
      apply();
    });
    el.win.addEventListener("change", () => apply());
    el.form.addEventListener("submit", (ev) => { ev.preventDefault(); apply(); });
    el.svgRefresh.addEventListener("click", refreshPlot);

    // Back online: skip the rest of the backoff wait.
    window.addEventListener("online", () => {
      if (!state.ws) { state.attempt = 0; connect(); }
    });
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change",
      () => { if (state.graph) state.graph.updateOptions(themeOptions()); });

    updatePlotLink();
    refreshPlot();
    refreshSeries();
    setInterval(refreshSeries, SERIES_REFRESH_MS);
    connect();
  }

  init();
})();
