'use strict';
// The Node.js peer for streamavg's fan-out benchmark: the same job written
// the way a competent Node developer would, on the `ws` package.
//
// - POST /ingest takes NDJSON ({"series": S, "value": V, "timestamp": T}
//   a line) and answers {"accepted": n, "rejected": m}.
// - Each series keeps its newest HISTORY points in typed-array rings.
// - WebSocket /stream, subprotocol "streamavg": subscribe in the URL
//   (?series=S&window_size=N) or with {"subscribe": {...}} messages.  A
//   new subscription gets the recent history first, then one JSON message
//   per new point with the window average.  Each (series, window) keeps a
//   running sum, so an average costs O(1); each message is stringified
//   once and sent to every subscriber of that pair.
// - A subscriber whose socket has more than MAX_BUFFERED bytes waiting is
//   skipped for that message (counted as dropped), so a slow reader cannot
//   make the server's memory grow without bound.
// - GET /series lists the series with their totals; GET /health.
//
// Usage: node server.js PORT [HISTORY]

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const PORT = parseInt(process.argv[2] || '8090', 10);
const HISTORY = parseInt(process.argv[3] || '100000', 10);
const BACKLOG = 300;
const MAX_BUFFERED = 1 << 20;

const series = new Map();
let dropped = 0;

function getSeries(name) {
  let s = series.get(name);
  if (!s) {
    s = {
      name,
      ts: new Float64Array(HISTORY),
      val: new Float64Array(HISTORY),
      head: 0, // index of the oldest point
      len: 0,
      total: 0,
      watches: new Map(), // window -> {sum, subs: Set}
    };
    series.set(name, s);
  }
  return s;
}

// The i-th newest-but-k point: at(s, 0) is the oldest retained.
function at(s, i) {
  return (s.head + i) % HISTORY;
}

function windowAverage(s, last, window) {
  const from = Math.max(0, last + 1 - window);
  let sum = 0;
  for (let i = from; i <= last; i++) sum += s.val[at(s, i)];
  const count = last + 1 - from;
  return { average: count ? sum / count : null, count };
}

function append(s, ts, value) {
  // The value leaving each watched window, read before it is overwritten.
  for (const [window, w] of s.watches) {
    if (s.len >= window) w.sum -= s.val[at(s, s.len - window)];
  }
  if (s.len < HISTORY) {
    s.len++;
  } else {
    s.head = (s.head + 1) % HISTORY;
  }
  const slot = at(s, s.len - 1);
  s.ts[slot] = ts;
  s.val[slot] = value;
  s.total++;

  for (const [window, w] of s.watches) {
    w.sum += value;
    const count = Math.min(window, s.len);
    const msg = JSON.stringify({
      type: 'average', series: s.name, window_size: window,
      timestamp: ts, value, average: w.sum / count, count,
    });
    for (const ws of w.subs) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > MAX_BUFFERED) { dropped++; continue; }
      ws.send(msg);
    }
  }
}

function subscribe(ws, name, window) {
  if (!/^[A-Za-z0-9._:-]{1,255}$/.test(name) || !(window >= 1 && window <= HISTORY)) {
    ws.send(JSON.stringify({ type: 'error', error: 'bad series or window_size' }));
    return;
  }
  const s = getSeries(name);
  let w = s.watches.get(window);
  if (!w) {
    const { average, count } = s.len ? windowAverage(s, s.len - 1, window) : { average: 0, count: 0 };
    w = { sum: average * count, subs: new Set() };
    s.watches.set(window, w);
  }
  w.subs.add(ws);
  ws.subs.push([s, window]);
  const points = [];
  for (let i = Math.max(0, s.len - BACKLOG); i < s.len; i++) {
    const { average, count } = windowAverage(s, i, window);
    points.push({ timestamp: s.ts[at(s, i)], value: s.val[at(s, i)], average, count });
  }
  ws.send(JSON.stringify({ type: 'history', series: name, window_size: window, points }));
}

function ingest(body) {
  let accepted = 0, rejected = 0;
  const now = Date.now() / 1000;
  for (const line of body.split('\n')) {
    if (!line.trim()) continue;
    let p;
    try { p = JSON.parse(line); } catch { rejected++; continue; }
    const name = typeof p.series === 'string' ? p.series : 'default';
    if (typeof p.value !== 'number' || !Number.isFinite(p.value) ||
        !/^[A-Za-z0-9._:-]{1,255}$/.test(name)) { rejected++; continue; }
    const s = getSeries(name);
    let ts = typeof p.timestamp === 'number' ? p.timestamp : now;
    if (s.len && ts < s.ts[at(s, s.len - 1)]) ts = s.ts[at(s, s.len - 1)];
    append(s, ts, p.value);
    accepted++;
  }
  return { accepted, rejected };
}

function json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST' && url.pathname === '/ingest') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = ingest(Buffer.concat(chunks).toString('utf8'));
      json(res, r.accepted ? 200 : 400, r);
    });
    return;
  }
  if (url.pathname === '/series') {
    json(res, 200, { series: [...series.values()].map((s) => ({ name: s.name, count: s.len, total: s.total })) });
    return;
  }
  if (url.pathname === '/health') {
    json(res, 200, { status: 'ok', series: series.size, dropped });
    return;
  }
  json(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 60000;

const wss = new WebSocketServer({
  server,
  path: '/stream',
  handleProtocols: (protocols) => (protocols.has('streamavg') ? 'streamavg' : false),
});

wss.on('connection', (ws, req) => {
  if (ws.protocol !== 'streamavg') { ws.close(1002, 'subprotocol streamavg required'); return; }
  ws.subs = [];
  const url = new URL(req.url, 'http://x');
  const n = url.searchParams.get('window_size');
  if (n !== null) subscribe(ws, url.searchParams.get('series') || 'default', parseInt(n, 10));
  ws.on('message', (data) => {
    let m;
    try { m = JSON.parse(data); } catch { m = null; }
    if (m && m.subscribe) {
      for (const p of [].concat(m.subscribe)) subscribe(ws, p.series || 'default', p.window_size);
    } else {
      ws.send(JSON.stringify({ type: 'error', error: 'send {"subscribe": ...}' }));
    }
  });
  ws.on('close', () => {
    for (const [s, window] of ws.subs) {
      const w = s.watches.get(window);
      if (w) { w.subs.delete(ws); if (!w.subs.size) s.watches.delete(window); }
    }
  });
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`peer-node listening on 127.0.0.1:${PORT}`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
