// demo-chat: the small chat service cutover deploys in its sandbox. Plain Node, no dependencies
// of its own (Prometheus metrics use the prom-client package DEMO_PROM_CLIENT points at).
// Behaviour per release comes from ./release.json:
//   {"version": "v1.1.0", "mode": "ok"|"unhealthy"|"crash"|"journal-errors"|"slow-chat"|"degraded", "degraded"?: {...},
//    "degradedFlag"?: "/features/new_ranker/enabled"}
// Environment: HOST, PORT, DATABASE_URL, DEMO_LOG_DIR (request log), DEMO_PROM_CLIENT, DEMO_RATE_LIMIT (20/s),
// DEMO_FLAGS_FILE (feature flags, ./flags.mjs: a JSON file, read at start and again whenever it changes).
// A degraded release with a `degradedFlag` ships its degradation behind that flag (a JSON pointer into
// DEMO_FLAGS_FILE): it behaves as `ok` while the value there is not `true`, and as `degraded` while it is
// (the `after` chats counted from the moment the flag turned on) — the feature a flags canary turns on.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { openFlags } from './flags.mjs';
import { loadMetrics } from './metrics.mjs';
import { hash, predict, redactPreview } from './predict.mjs';
import { createRateLimiter, parseRateLimit } from './rate-limit.mjs';
import { openRequestLog } from './request-log.mjs';

const MODES = ['ok', 'unhealthy', 'crash', 'journal-errors', 'slow-chat', 'degraded'];
const MAX_BODY = 64 * 1024;
const SLOW_CHAT_MS = 4000; // far over the tests' and the sandbox's chat budget (2.5 s), so a busy machine cannot blur the two
// degraded: passes deploy verification (health, the first chat requests), then under traffic
// answers errorRate of chat requests 500 and adds extraLatencyMs to slowShare of them
const DEGRADED = { errorRate: 0.08, extraLatencyMs: 300, slowShare: 0.1, after: 30 };
const SHUTDOWN_MS = 4500; // drains a slow chat (4 s); under the systemctl stand-in's 5 s before SIGKILL

// journald reads a leading <N> as the priority: 3 = err, 4 = warning, no prefix = info
const log = (line) => process.stdout.write(`${line}\n`);
const warn = (line) => process.stdout.write(`<4>${line}\n`);
const error = (line) => process.stdout.write(`<3>${line}\n`);

function loadRelease() {
  try {
    const release = JSON.parse(readFileSync('release.json', 'utf8'));
    const badFlag = release.degradedFlag !== undefined && (typeof release.degradedFlag !== 'string' || !release.degradedFlag.startsWith('/'));
    if (typeof release.version !== 'string' || !MODES.includes(release.mode) || badFlag) throw new Error(`bad content: ${JSON.stringify(release)}`);
    return release;
  } catch (e) {
    process.stderr.write(`<3>demo-chat: cannot load release.json in ${process.cwd()}: ${e.message}\n`);
    process.exit(1);
  }
}

function crash(version) {
  const lines = [
    'Traceback (most recent call last):',
    '  File "/srv/demo-chat/main.py", line 12, in <module>',
    '    from conversation_service.api import app',
    '  File "/srv/demo-chat/conversation_service/api.py", line 4, in <module>',
    '    from .settings import DATABASE_POOL_SIZE',
    `ImportError: cannot import name 'DATABASE_POOL_SIZE' from 'conversation_service.settings' (demo-chat ${version})`,
  ];
  // <3> so `journalctl -p err` finds the crash, like a logging handler that tags stderr as errors
  process.stderr.write(lines.map((l) => `<3>${l}\n`).join(''));
  process.exit(1);
}

function journalError(context) {
  error(`ERROR conversation_service: ${context}: relation "user_profiles" does not exist`);
  error('Traceback (most recent call last): psycopg2.errors.UndefinedTable: relation "user_profiles" does not exist');
}

function databaseTarget(url) {
  if (!url) return null;
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 5432) };
}

function tcpReachable({ host, port }, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Every k-th of n events where a share `rate` of them is picked, evenly: exactly rate * n over any n. */
const picked = (k, rate) => Math.floor((k + 1) * rate) > Math.floor(k * rate);

const INTENTS = [
  [/marchand|merchant|chez|netflix|carrefour|sncf/i, 'transaction_search.by_merchant', 'Here are your transactions for that merchant.'],
  [/cat[ée]gor|aliment|transport|food/i, 'transaction_search.by_category', 'Here is the breakdown of your spending by category.'],
  [/d[ée]pens|spent|spend|transaction/i, 'transaction_search.simple', 'Here is a summary of your recent spending.'],
  [/^(hi|hello|bonjour|salut)\b/i, 'greeting', 'Hello! Ask me about your spending.'],
];
const VISUALIZATIONS = {
  'transaction_search.simple': [{ type: 'kpi_card', title: 'Total' }, { type: 'kpi_card', title: 'Count' }, { type: 'kpi_card', title: 'Average' }],
  'transaction_search.by_category': [{ type: 'kpi_card', title: 'Total' }, { type: 'pie_chart', title: 'By category' }],
  'transaction_search.by_merchant': [{ type: 'kpi_card', title: 'Total' }, { type: 'bar_chart', title: 'By merchant' }],
};
function answer(message) {
  const hit = INTENTS.find(([re]) => re.test(message));
  return hit ? { intent: hit[1], text: hit[2] } : { intent: 'unknown', text: 'Sorry, I did not understand that question.' };
}

// reads the body; over MAX_BODY it keeps draining (so the client sees the 413) but stores nothing
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
      else if (size > 16 * MAX_BODY) req.destroy();
    });
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function main() {
  const release = loadRelease();
  // one host of a fleet can be made unhealthy on given versions (fleet tests): DEMO_UNHEALTHY_ON=v1.1.0,v1.4.0
  if ((process.env.DEMO_UNHEALTHY_ON ?? '').split(',').includes(release.version)) release.mode = 'unhealthy';
  if (release.mode === 'crash') crash(release.version);
  const started = Date.now();
  const db = databaseTarget(process.env.DATABASE_URL);
  let draining = false;
  const limit = parseRateLimit(process.env.DEMO_RATE_LIMIT || '20/s');
  const limiter = createRateLimiter(limit);
  const per = limit.windowMs === 1000 ? 'second' : 'minute';
  const requestLog = openRequestLog(process.env.DEMO_LOG_DIR);
  const metrics = loadMetrics(process.env.DEMO_PROM_CLIENT, release.version);
  if (!metrics.available) warn(`demo-chat: no /metrics: ${metrics.why}`);
  const degraded = { ...DEGRADED, ...(release.degraded ?? {}) };
  const flags = openFlags(process.env.DEMO_FLAGS_FILE, { warn });
  let chats = 0;
  // behind a flag: degraded only while it is on, its first `after` chats (counted from when it turned on) still fine
  let featureOn = null; // not looked at yet: the first look says where it is
  const degradedNow = () => {
    if (release.mode !== 'degraded') return false;
    if (!release.degradedFlag) return true;
    const on = flags.isOn(release.degradedFlag);
    if (on !== featureOn) {
      featureOn = on;
      chats = 0;
      log(`demo-chat: feature ${release.degradedFlag} ${on ? 'on' : 'off'} (${process.env.DEMO_FLAGS_FILE ?? 'no DEMO_FLAGS_FILE'})`);
    }
    return on;
  };

  const routes = {
    'GET /api/v1/health': async () => {
      const uptime_s = Math.floor((Date.now() - started) / 1000);
      if (release.mode === 'unhealthy') return [503, { status: 'unhealthy', version: release.version, uptime_s, reason: 'conversation engine failed to initialise' }];
      return [200, { status: 'healthy', version: release.version, uptime_s }];
    },
    'GET /api/v1/ready': async () => {
      if (draining) return [503, { ready: false, dependencies: { database: 'draining' } }];
      if (!db) return [200, { ready: true, dependencies: { database: 'not-configured' } }];
      const ok = await tcpReachable(db);
      return ok ? [200, { ready: true, dependencies: { database: 'ok' } }] : [503, { ready: false, dependencies: { database: 'unreachable' } }];
    },
    'POST /api/v1/conversation/chat': async (req) => {
      const t0 = Date.now();
      const raw = await readBody(req);
      if (raw === null) return [413, { success: false, error: `request body too large (max ${MAX_BODY} bytes)` }];
      let body;
      try { body = JSON.parse(raw); } catch { return [400, { success: false, error: 'invalid JSON body' }]; }
      const userId = body?.user_id;
      const validUser = (Number.isInteger(userId) && userId > 0) || (typeof userId === 'string' && userId.length > 0 && userId.length <= 64);
      if (!validUser || typeof body.message !== 'string' || body.message.trim() === '') {
        return [400, { success: false, error: 'expected {"user_id": <int or string>, "message": "<non-empty string>"}' }];
      }
      const token = limiter.take(String(userId));
      if (!token.ok) return [429, { success: false, error: `rate limit exceeded: max ${limit.capacity} requests per ${per} per user` }, { 'retry-after': String(token.retryAfterS) }];
      if (release.mode === 'journal-errors') journalError('chat request');
      if (release.mode === 'slow-chat') {
        log(`slow-chat: holding a chat request for ${SLOW_CHAT_MS} ms`);
        await sleep(SLOW_CHAT_MS);
      }
      const p = predict(body.message);
      const { intent, text } = answer(body.message);
      let extra = 0;
      let fail = false;
      const k = degradedNow() ? chats++ - degraded.after : -1;
      if (k >= 0) {
        fail = picked(k, degraded.errorRate);
        if (picked(k, degraded.slowShare)) extra = degraded.extraLatencyMs;
      }
      await sleep(5 + (hash(body.message) % 40) + extra); // the model's time: 5-44 ms, always the same for one message
      const chat = { message: body.message, prediction: p, intent };
      if (fail) {
        error(`ERROR conversation_service: model backend timed out after ${degraded.extraLatencyMs} ms`);
        return [500, { success: false, error: 'internal error: model backend timed out' }, {}, chat];
      }
      const visualizations = VISUALIZATIONS[intent] ?? [];
      return [200, { success: true, response_text: text, intent, prediction: p.prediction, visualizations, processing_time_ms: Date.now() - t0 }, {}, chat];
    },
    'GET /metrics': async () => {
      if (!metrics.available) return [503, { error: `metrics unavailable: ${metrics.why}` }];
      const { contentType, body } = await metrics.text();
      return [200, body, { 'content-type': contentType }];
    },
  };

  const server = createServer(async (req, res) => {
    const t0 = Date.now();
    const path = (req.url ?? '/').split('?')[0];
    const key = `${req.method} ${path}`;
    let status = 500, body, headers = {}, chat;
    try {
      const route = routes[key];
      if (route) [status, body, headers = {}, chat] = await route(req);
      else if (Object.keys(routes).some((k) => k.endsWith(` ${path}`))) [status, body] = [405, { error: 'method not allowed' }];
      else [status, body] = [404, { error: 'not found' }];
    } catch (e) {
      [status, body] = [500, { success: false, error: 'internal error' }];
      error(`ERROR handler ${key}: ${e?.stack ?? e}`);
    }
    if (draining) headers.connection = 'close';
    res.writeHead(status, { 'content-type': 'application/json', 'x-app-version': release.version, ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
    req.resume(); // discard any unread body (404/405 on a POST)
    const ms = Date.now() - t0;
    if (metrics.available && path !== '/metrics') metrics.request(req.method, path, status, ms / 1000);
    if (chat) {
      if (metrics.available && status === 200) metrics.prediction(chat.prediction);
      requestLog.write({
        timestamp: new Date().toISOString(), request_id: randomBytes(6).toString('hex'), route: chat.prediction.route, status, latency_ms: ms,
        version: release.version, intent: chat.intent, prediction: chat.prediction.prediction, text_preview: redactPreview(chat.message),
      });
    }
    const line = `${req.method} ${path} ${status} ${ms}ms`;
    (status >= 500 ? error : status >= 400 ? warn : log)(line);
  });

  server.listen(Number(process.env.PORT ?? 8001), process.env.HOST ?? '127.0.0.1', () => {
    const { address, port } = server.address();
    log(`demo-chat ${release.version} (mode ${release.mode}) listening on http://${address}:${port} pid ${process.pid}`);
    if (release.mode === 'journal-errors') journalError('startup');
    degradedNow();
  });
  server.on('error', (e) => { error(`demo-chat: cannot listen: ${e.message}`); process.exit(1); });

  const shutdown = (signal) => {
    if (draining) return;
    draining = true;
    log(`demo-chat: ${signal} received, draining`);
    server.close(() => { requestLog.close(); log('demo-chat: stopped'); process.exit(0); });
    server.closeIdleConnections();
    setTimeout(() => { warn('demo-chat: drain timeout, closing remaining connections'); server.closeAllConnections(); process.exit(0); }, SHUTDOWN_MS).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main();
