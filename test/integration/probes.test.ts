// Probes against real HTTP servers on 127.0.0.1 (answers controlled by each test), and the journal
// scan end to end over SSH against a sandbox host with its journalctl stand-in.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Environment } from '../../tasks/lib/config/schema.ts';
import { DEMO_APP_SOURCE } from '../../sandbox/origin.ts';
import { command, sh } from '../../tasks/lib/commands/shell.ts';
import { checkChat, type ChatConfig } from '../../tasks/lib/probes/chat.ts';
import { checkReadiness, waitForHealth, type HealthConfig } from '../../tasks/lib/probes/health.ts';
import { MAX_BODY_BYTES } from '../../tasks/lib/probes/http.ts';
import { hostNow, runJournalScan } from '../../tasks/lib/probes/journal.ts';
import { latencySample } from '../../tasks/lib/probes/latency.ts';
import { formatMs } from '../../tasks/lib/probes/text.ts';
import { run } from '../../tasks/lib/runners/run.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';
import { until } from '../support/until.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void | Promise<void>;
interface Served { server: Server; port: number; hits: number[]; url: (path: string) => string }

/** Node timers (setTimeout, AbortSignal.timeout) may fire about 1 ms early by performance.now(). */
const EARLY = 3;
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server on 127.0.0.1 recording when each request arrived (performance.now()). */
async function serve(handler: Handler, port = 0): Promise<Served> {
  const hits: number[] = [];
  const server = createServer((req, res) => {
    hits.push(performance.now());
    void handler(req, res, hits.length);
  });
  servers.push(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const p = (server.address() as { port: number }).port;
  return { server, port: p, hits, url: (path) => `http://127.0.0.1:${p}${path}` };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

const health = (url: string, over: Partial<HealthConfig> = {}): HealthConfig => ({ url, expectStatus: 200, timeout: 3000, interval: 100, ...over });
const hostUrl = (s: Served, path: string) => `http://{host}:${s.port}${path}`;

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('waitForHealth', () => {
  it('503 until the service is ready, then healthy: noticed within one interval, never polled faster', async () => {
    // ready from the 4th request on: counted, not timed, so a busy machine cannot change the count
    const s = await serve((_req, res, hit) => (hit < 4 ? json(res, 503, { status: 'starting' }) : json(res, 200, { status: 'healthy', version: 'v1.2.0' })));
    const t0 = performance.now();
    const r = await waitForHealth(health(hostUrl(s, '/api/v1/health'), { versionField: 'version' }), { address: '127.0.0.1', expectVersion: 'v1.2.0' });
    expect(r.ok).toBe(true);
    expect(r.version).toBe('v1.2.0');
    expect(r.attempts).toBe(s.hits.length);
    expect(r.seen).toEqual({ '503': r.attempts - 1, '200, version v1.2.0': 1 });
    expect(r.got).toEqual({ status: 200, body: '{"status":"healthy","version":"v1.2.0"}' });
    expect(r.requested).toEqual({ method: 'GET', url: s.url('/api/v1/health') });
    expect(r.detail).toBe(`GET ${s.url('/api/v1/health')}: 200, version v1.2.0 after ${formatMs(r.waitedMs)} (${r.attempts} attempts)`);
    // three 503s, then the first healthy answer ends the wait
    expect(r.attempts).toBe(4);
    // attempt k starts k intervals after the first, or later: never polled faster than configured
    s.hits.forEach((t, k) => expect(t - t0).toBeGreaterThanOrEqual(k * 100 - EARLY));
  });

  it('connection refused while the service restarts is retried, and tallied', async () => {
    const port = await freePort();
    const cfg = health(`http://{host}:${port}/health`);
    const started = performance.now();
    let listening = 0;
    const late = sleep(300).then(async () => {
      const s = await serve((_req, res) => json(res, 200, 'OK'), port);
      listening = performance.now();
      return s;
    });
    const r = await waitForHealth(cfg, { address: '127.0.0.1' });
    await late;
    expect(r.ok).toBe(true);
    const refused = r.seen['connection refused (ECONNREFUSED)'] ?? 0;
    expect(refused).toBeGreaterThanOrEqual(1);
    // one a 100 ms interval at most, until it listened (300 ms; later when a busy machine runs the timer late)
    expect(refused).toBeLessThanOrEqual(1 + Math.floor((listening - started) / 100));
    expect(r.seen['200']).toBe(1);
    expect(r.attempts).toBe(refused + 1);
    expect(r.waitedMs).toBeGreaterThanOrEqual(300 - EARLY);
    expect(performance.now() - listening).toBeLessThan(100 + 1500); // bounds (generous: a busy machine) a wait that stopped retrying
  });

  it('a wrong version is never healthy: the failure says what was asked, what came back, how long it waited', async () => {
    const s = await serve((_req, res) => json(res, 200, { status: 'healthy', version: 'v1.1.0' }));
    const url = s.url('/api/v1/health');
    const t0 = performance.now();
    const r = await waitForHealth(health(hostUrl(s, '/api/v1/health'), { versionField: 'version', timeout: 1900, interval: 300 }), { address: '127.0.0.1', expectVersion: 'v1.2.0' });
    expect(r.ok).toBe(false);
    expect(r.version).toBe('v1.1.0');
    expect(r.attempts).toBe(s.hits.length);
    // attempts at 0, 300, ... 1500 ms at most; one at 1800 ms would have only 100 ms left (less than half an interval).
    // Each attempt has at least 150 ms to answer: a busy machine cannot turn the last answer into a timeout.
    expect(r.attempts).toBeGreaterThanOrEqual(2); // fewer than 6 when a busy machine runs the timers late
    expect(r.attempts).toBeLessThanOrEqual(6);
    s.hits.forEach((t, k) => expect(t - t0).toBeGreaterThanOrEqual(k * 300 - EARLY));
    expect(r.waitedMs).toBeGreaterThanOrEqual(1450 - EARLY); // the last attempt starts within one interval of the end
    expect(r.waitedMs).toBeLessThan(1900 + 1000); // the timeout, plus a busy machine's late timers
    expect(r.detail).toBe(
      `GET ${url} was not healthy after ${formatMs(r.waitedMs)} (${r.attempts} attempts, every 300 ms, timeout 1.9 s): ` +
        `last it reports version v1.1.0 in 'version', expected v1.2.0; body: {"status":"healthy","version":"v1.1.0"}. Seen: 200, version v1.1.0 ×${r.attempts}`,
    );
  });

  it('expectBody, and a service that never answers: one request bounded by the time left', async () => {
    const s = await serve((_req, res) => json(res, 200, { status: 'degraded' }));
    // one attempt with 2 s to answer (the interval is longer than the timeout): a busy machine cannot turn the answer into a timeout
    const r = await waitForHealth(health(hostUrl(s, '/h'), { expectBody: '"status":"healthy"', timeout: 2000, interval: 5000 }), { address: '127.0.0.1' });
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('last the body does not contain "\\"status\\":\\"healthy\\""; body: {"status":"degraded"}. Seen: 200 without the expected text ×1');

    const hang = await serve(() => {}); // accepts, never answers
    const t0 = performance.now();
    const h = await waitForHealth(health(hostUrl(hang, '/h'), { timeout: 500, interval: 100 }), { address: '127.0.0.1' });
    expect(performance.now() - t0).toBeLessThan(500 + 1500); // not the 5 s request cap
    expect(h.ok).toBe(false);
    expect(h.attempts).toBe(1);
    // the time left when the request started: 500 ms less what ran before it (a millisecond or so on a busy machine)
    const limit = /^no answer within (\d+) ms$/.exec(h.got?.error ?? '')?.[1];
    expect(Number(limit)).toBeGreaterThanOrEqual(490);
    expect(Number(limit)).toBeLessThanOrEqual(500);
    expect(h.got).toEqual({ status: null, body: '', error: `no answer within ${limit} ms` });
    expect(h.detail).toBe(
      `GET ${hang.url('/h')} was not healthy after ${formatMs(h.waitedMs)} (1 attempt, every 100 ms, timeout 500 ms): last no answer: no answer within ${limit} ms. Seen: no answer within ${limit} ms ×1`,
    );
  });

  it('an interruption stops the wait at once and throws its reason', async () => {
    const port = await freePort();
    const ac = new AbortController();
    const reason = new Error('interrupted by SIGINT');
    setTimeout(() => ac.abort(reason), 150);
    const t0 = performance.now();
    await expect(waitForHealth(health(`http://{host}:${port}/h`), { address: '127.0.0.1', signal: ac.signal })).rejects.toBe(reason);
    expect(performance.now() - t0).toBeLessThan(150 + 1500); // not the 3 s timeout
  });
});

describe('checkReadiness', () => {
  it('the expected status passes; another fails with the body', async () => {
    let ready = false;
    const s = await serve((_req, res) => (ready ? json(res, 200, { ready: true }) : json(res, 503, { ready: false, dependencies: { database: 'unreachable' } })));
    const cfg = { url: hostUrl(s, '/api/v1/ready'), expectStatus: 200 };
    const bad = await checkReadiness(cfg, { address: '127.0.0.1' });
    expect(bad.ok).toBe(false);
    expect(bad.got).toEqual({ status: 503, body: '{"ready":false,"dependencies":{"database":"unreachable"}}' });
    expect(bad.detail).toBe(`GET ${s.url('/api/v1/ready')}: status 503, expected 200; body: {"ready":false,"dependencies":{"database":"unreachable"}} (after ${formatMs(bad.waitedMs)})`);
    ready = true;
    const good = await checkReadiness(cfg, { address: '127.0.0.1' });
    expect([good.ok, good.attempts, good.got?.status]).toEqual([true, 1, 200]);
  });

  it('connection refused is a failure saying so', async () => {
    const port = await freePort();
    const r = await checkReadiness({ url: `http://{host}:${port}/ready`, expectStatus: 200 }, { address: '127.0.0.1' });
    expect(r.ok).toBe(false);
    expect(r.got).toEqual({ status: null, body: '', error: 'connection refused (ECONNREFUSED)' });
    expect(r.detail).toBe(`GET http://127.0.0.1:${port}/ready: no answer: connection refused (ECONNREFUSED) (after ${formatMs(r.waitedMs)})`);
  });
});

describe('checkChat', () => {
  const received: { method?: string; type?: string; body: string }[] = [];
  afterEach(() => void received.splice(0));

  /** A chat endpoint: records the request, answers after `delayMs`. */
  const chatServer = (answer: { status?: number; body: unknown; delayMs?: number }) =>
    serve(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      received.push({ method: req.method, type: req.headers['content-type'], body });
      if (answer.delayMs) await sleep(answer.delayMs);
      if (!res.destroyed) json(res, answer.status ?? 200, answer.body);
    });
  const cfg = (s: Served, over: Partial<ChatConfig> = {}): ChatConfig => ({
    url: hostUrl(s, '/api/v1/conversation/chat'),
    method: 'POST',
    body: { user_id: 1, message: 'Mes dépenses du mois' },
    headers: {},
    expectStatus: 200,
    expectContains: ['response_text'],
    latencyBudget: 3000, // a loopback answer takes ms, and over 1 s on a busy machine
    ...over,
  });
  const ANSWER = { success: true, response_text: 'Here is a summary of your recent spending.', intent: 'transaction_search.simple' };

  it('a good answer: status, content, latency within budget, the request as configured', async () => {
    const s = await chatServer({ body: ANSWER });
    const r = await checkChat(cfg(s, { expectContains: ['response_text', 'transaction_search'] }), { address: '127.0.0.1' });
    expect(received).toEqual([{ method: 'POST', type: 'application/json', body: '{"user_id":1,"message":"Mes dépenses du mois"}' }]);
    expect(r.ok).toBe(true);
    expect(r.value).toBe(r.waitedMs);
    expect(r.threshold).toBe(3000);
    expect(r.requested).toEqual({ method: 'POST', url: s.url('/api/v1/conversation/chat') });
    expect(r.detail).toBe(`POST ${s.url('/api/v1/conversation/chat')}: 200 in ${formatMs(r.waitedMs)} (budget 3.0 s)`);
  });

  it('a body missing the expected text, and a wrong status', async () => {
    const s = await chatServer({ status: 429, body: { success: false, error: 'rate limit exceeded' } });
    const r = await checkChat(cfg(s, { expectContains: ['response_text', 'success'] }), { address: '127.0.0.1' });
    expect(r.ok).toBe(false);
    expect(r.got).toEqual({ status: 429, body: '{"success":false,"error":"rate limit exceeded"}' });
    expect(r.detail).toBe(
      `POST ${s.url('/api/v1/conversation/chat')}: status 429, expected 200; the answer does not contain "response_text". Body: {"success":false,"error":"rate limit exceeded"}`,
    );
  });

  it('slow chat: over the budget, the real latency measured and reported', async () => {
    const s = await chatServer({ body: ANSWER, delayMs: 300 });
    const r = await checkChat(cfg(s, { latencyBudget: 100 }), { address: '127.0.0.1' });
    expect(r.ok).toBe(false);
    expect(r.value).toBeGreaterThanOrEqual(300 - EARLY);
    expect(r.value).toBeLessThan(300 + 800); // the answer's latency, not the 1.2 s give-up
    expect([r.threshold, r.got?.status]).toEqual([100, 200]);
    expect(r.detail).toBe(`POST ${s.url('/api/v1/conversation/chat')}: it took ${formatMs(r.value!)}, over the budget of 100 ms. Body: ${JSON.stringify(ANSWER)}`);
  });

  it('no answer at all: gives up at twice the budget plus a second', async () => {
    const s = await chatServer({ body: ANSWER, delayMs: 5000 });
    const r = await checkChat(cfg(s, { latencyBudget: 100 }), { address: '127.0.0.1' });
    expect(r.ok).toBe(false);
    expect(r.waitedMs).toBeGreaterThanOrEqual(1200 - EARLY);
    expect(r.waitedMs).toBeLessThan(1200 + 1500); // not the 5 s the server would take
    expect(r.value).toBeUndefined();
    expect(r.got).toEqual({ status: null, body: '', error: 'no answer within 1200 ms' });
    expect(r.detail).toBe(`POST ${s.url('/api/v1/conversation/chat')}: no answer within 1.2 s (latency budget 100 ms)`);
  });

  it('a huge body is read only up to the cap, then the connection is dropped', async () => {
    let sent = 0;
    let closed = false;
    let closedEarly = false;
    const s = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.on('close', () => ((closed = true), (closedEarly = !res.writableFinished)));
      const chunk = Buffer.alloc(64 * 1024, 'a');
      while (sent < 64 * 1024 * 1024 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk))
          await new Promise<void>((done) => {
            const go = () => (res.off('drain', go), res.off('close', go), done());
            res.on('drain', go).on('close', go);
          });
      }
      if (!res.destroyed) res.end('response_text');
    });
    const r = await checkChat(cfg(s, { method: 'GET' }), { address: '127.0.0.1' });
    await until(() => closed, 'the server to see the connection closed', 10_000);
    expect(r.ok).toBe(false);
    expect(r.detail).toContain(`the answer does not contain "response_text" (only its first ${MAX_BODY_BYTES} bytes were read)`);
    expect(r.got?.body).toBe(`${'a'.repeat(300)}…`);
    expect(closedEarly).toBe(true);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('secrets never come back in a report: header tokens, configured secrets, secret-looking fields', async () => {
    const s = await chatServer({ status: 500, body: { error: 'bad auth Bearer sk-live-123456', password: 'pw', dsn: 'postgres://app:dbpass99@db' } });
    const r = await checkChat(cfg(s, { headers: { Authorization: 'Bearer sk-live-123456' } }), { address: '127.0.0.1', secrets: ['dbpass99'] });
    expect(r.got?.body).toBe('{"error":"bad auth ***","password":"***","dsn":"postgres://app:***@db"}');
    expect(r.detail).not.toMatch(/sk-live|dbpass99|"pw"/);
  });
});

describe('latencySample', () => {
  it('nearest-rank percentiles over every measured request: two slow answers out of twenty make P95, not the mean', async () => {
    const s = await serve(async (_req, res, hit) => {
      if (hit === 4 || hit === 11) await sleep(60);
      json(res, hit === 7 ? 500 : 200, { ok: true });
    });
    const r = await latencySample(s.url('/ping'), 20);
    expect(s.hits.length).toBe(20);
    expect([r.requested, r.measured, r.failed, r.lastError]).toEqual([20, 20, 1, 'status 500']);
    expect(r.p50!).toBeLessThan(r.p95!); // the median of 18 fast answers, not the mean
    expect(r.p95!).toBeGreaterThanOrEqual(60 - EARLY);
    expect(r.p99).toBe(r.max);
    expect(r.min!).toBeLessThanOrEqual(r.p50!);
  });

  it('requests with no answer are counted, not measured', async () => {
    const port = await freePort();
    const r = await latencySample(`http://127.0.0.1:${port}/ping`, 3);
    expect(r).toEqual({ url: `http://127.0.0.1:${port}/ping`, requested: 3, measured: 0, failed: 3, p50: null, p95: null, p99: null, min: null, max: null, lastError: 'connection refused (ECONNREFUSED)' });
  });
});

describe('against the demo app, with the verify config of environments/local.ts', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function startDemo(port: number, version: string, mode: string): Promise<ChildProcess> {
    dir ||= await mkdtemp(join(tmpdir(), 'probes-demo-'));
    await writeFile(join(dir, 'release.json'), JSON.stringify({ version, mode }));
    const { DATABASE_URL: _none, ...env } = process.env;
    const child = spawn(process.execPath, [join(DEMO_APP_SOURCE, 'server.mjs')], { cwd: dir, env: { ...env, HOST: '127.0.0.1', PORT: String(port) }, stdio: 'ignore' });
    children.push(child);
    return child;
  }

  it('health with version, readiness and chat pass on a good release; a restart into slow chat fails only the chat budget', async () => {
    const port = await freePort();
    process.env.CUTOVER_SANDBOX_APP_PORT = String(port);
    const verify = Environment.parse((await import('../../environments/local.ts')).default).verify;
    const at = { address: '127.0.0.1' };

    const first = await startDemo(port, 'v1.1.0', 'ok');
    const h = await waitForHealth(verify.health, { ...at, expectVersion: 'v1.1.0' });
    expect([h.ok, h.version, h.requested.url]).toEqual([true, 'v1.1.0', `http://127.0.0.1:${port}/api/v1/health`]);
    expect(h.seen['200, version v1.1.0']).toBe(1);
    const wrong = await waitForHealth({ ...verify.health, timeout: 300 }, { ...at, expectVersion: 'v1.2.0' });
    expect(wrong.ok).toBe(false);
    expect(wrong.detail).toMatch(/ last it reports version v1\.1\.0 in 'version', expected v1\.2\.0; body: \{"status":"healthy","version":"v1\.1\.0","uptime_s":\d+\}\. Seen: 200, version v1\.1\.0 ×\d+$/);
    expect((await checkReadiness(verify.readiness!, at)).got).toEqual({ status: 200, body: '{"ready":true,"dependencies":{"database":"not-configured"}}' });
    const c = await checkChat(verify.chat!, at);
    expect([c.ok, c.got?.body]).toEqual([true, expect.stringContaining('"response_text":"Here is a summary of your recent spending."')]);

    first.kill('SIGTERM');
    await once(first, 'exit');
    const polling = waitForHealth(verify.health, { ...at, expectVersion: 'v1.1.1' });
    await sleep(300);
    await startDemo(port, 'v1.1.1', 'slow-chat');
    const back = await polling;
    expect([back.ok, back.version]).toEqual([true, 'v1.1.1']);
    expect(back.seen['connection refused (ECONNREFUSED)']).toBeGreaterThanOrEqual(1);
    const slow = await checkChat(verify.chat!, at);
    expect(slow.ok).toBe(false);
    expect(slow.value).toBeGreaterThanOrEqual(4000 - EARLY);
    expect(slow.detail).toBe(`POST http://127.0.0.1:${port}/api/v1/conversation/chat: it took ${formatMs(slow.value!)}, over the budget of 2.5 s. Body: ${slow.got?.body}`);
  });
});

describe('journal scan over SSH (sandbox host, journalctl stand-in)', () => {
  let dir = '';
  let fleet: SshFleet;
  let runner: SshRunner;
  const cfg = { priority: 'err' as const, failPatterns: ['Traceback'] };
  const mainPid = async (unit: string) => Number((await run(runner, command(sh`systemctl show ${unit} -p MainPID --value`))).stdout.trim());

  /** Scan from the start of time until the unit has logged `n` entries (the writer is asynchronous). */
  async function waitForEntries(unit: string, n: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await runJournalScan(runner, [unit], '0', cfg)).scanned >= n) return;
      await sleep(50);
    }
    throw new Error(`${unit} did not log ${n} entries`);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'probes-journal-'));
    // a warning with non-UTF-8 bytes that also matches the pattern; an err line; a Traceback at info
    await writeFile(
      join(dir, 'noisy.sh'),
      [`echo "noisy $$ starting"`, `echo "<3>noisy $$ cannot open /var/lib/x"`, `echo "Traceback (most recent call last): noisy $$"`, `printf '<4>noisy %s caf\\xe9 Traceback\\n' $$`, 'exec sleep 1000', ''].join('\n'),
    );
    await writeFile(join(dir, 'clean.sh'), [`echo "clean $$ starting"`, `echo "<5>clean $$ notice"`, 'exec sleep 1000', ''].join('\n'));
    fleet = await startSshHosts(1, {
      dir: join(dir, 'fleet'),
      units: [
        { name: 'noisy', workingDirectory: dir, execStart: `bash ${join(dir, 'noisy.sh')}` },
        { name: 'clean', workingDirectory: dir, execStart: `bash ${join(dir, 'clean.sh')}` },
      ],
    });
    const h = fleet.hosts[0]!;
    runner = new SshRunner(
      { name: h.name, address: h.address, port: h.port, user: h.user },
      { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 },
    );
    await run(runner, command(sh`systemctl start noisy clean`));
    await waitForEntries('noisy', 4);
    await waitForEntries('clean', 2);
  });
  afterAll(async () => {
    await runner?.close();
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('entries before --since (by the host clock) are excluded; err entries and pattern matches are reported', async () => {
    const oldPid = await mainPid('noisy');
    const since = await hostNow(runner);
    expect(since).toMatch(/^\d{10}\.\d{9}$/);
    await run(runner, command(sh`systemctl restart noisy`));
    const pid = await mainPid('noisy');
    expect(pid).not.toBe(oldPid);
    for (let i = 0; i < 100 && (await runJournalScan(runner, ['noisy'], since, cfg)).scanned < 4; i++) await sleep(50);

    const r = await runJournalScan(runner, ['noisy'], since, cfg);
    expect(r.ok).toBe(false);
    expect([r.scanned, r.offending, r.unparsable]).toEqual([4, 3, 0]);
    expect(r.entries.map(({ unit, priority, message, reason }) => ({ unit, priority, message, reason }))).toEqual([
      { unit: 'noisy.service', priority: 'err', message: `noisy ${pid} cannot open /var/lib/x`, reason: 'priority' },
      { unit: 'noisy.service', priority: 'info', message: `Traceback (most recent call last): noisy ${pid}`, reason: { pattern: 'Traceback' } },
      { unit: 'noisy.service', priority: 'warning', message: `noisy ${pid} caf\uFFFD Traceback`, reason: { pattern: 'Traceback' } },
    ]);
    for (const e of r.entries) expect(e.timestampUs / 1e6).toBeGreaterThanOrEqual(Number(since));
    expect(r.requested).toEqual({ method: 'exec', url: `host1: journalctl -u noisy --since @${since} -o json --no-pager -q -a -n 10000` });
    expect(r.got?.status).toBe(0);
    expect(r.detail.split('\n')[0]).toBe(
      `3 of 4 entries of noisy since @${since} (${new Date(Number(since) * 1000).toISOString()}, host clock) are priority err or worse, or matching /Traceback/:`,
    );
    expect(r.detail.split('\n')[1]).toBe(`  ${r.entries[0]!.time} noisy.service err: noisy ${pid} cannot open /var/lib/x`);

    // the same unit from the start of time has both runs: it was --since that left the first out
    const all = await runJournalScan(runner, ['noisy'], '0', cfg);
    expect([all.scanned, all.offending]).toEqual([8, 6]);
    expect(all.entries.filter((e) => e.message.includes(String(oldPid))).length).toBe(3);
  });

  it('a clean unit passes; its notice fails only under a stricter priority; -n bounds what is read', async () => {
    const clean = await runJournalScan(runner, ['clean'], '0', cfg);
    expect(clean.ok).toBe(true);
    expect([clean.scanned, clean.offending, clean.entries]).toEqual([2, 0, []]);
    expect(clean.detail).toBe(`2 entries of clean since @0 (1970-01-01T00:00:00.000Z, host clock): none is priority err or worse, or matching /Traceback/`);

    const strict = await runJournalScan(runner, ['clean'], '0', { priority: 'notice', failPatterns: [] });
    expect(strict.ok).toBe(false);
    expect(strict.entries.map((e) => [e.priority, e.reason])).toEqual([['notice', 'priority']]);

    const bounded = await runJournalScan(runner, ['clean', 'noisy'], '0', cfg, { lines: 2 });
    expect(bounded.scanned).toBe(2);
    expect(bounded.detail).toContain('(only the last 2 entries were read)');
  });

  it('a unit name that does not exist scans nothing and passes (preflight must check units exist)', async () => {
    const r = await runJournalScan(runner, ['noisy-typo'], '0', cfg);
    expect([r.ok, r.scanned]).toEqual([true, 0]);
    expect((await readdir(join(fleet.hosts[0]!.root, 'journal'))).sort()).toEqual(['clean.jsonl', 'noisy.jsonl']);
  });
});
