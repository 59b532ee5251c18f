// sandbox/demo-app/server.mjs run directly: one process per test, on 127.0.0.1 and a port the kernel picks (PORT=0).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_APP_SOURCE } from '../../sandbox/origin.ts';
import { until } from '../support/until.ts';

const SERVER = join(DEMO_APP_SOURCE, 'server.mjs');
const PROM_CLIENT = createRequire(import.meta.url).resolve('prom-client').replace(/\/lib\/.*$|\/index\.js$/, '');
type Mode = 'ok' | 'unhealthy' | 'crash' | 'journal-errors' | 'slow-chat' | 'degraded';

/** Polls `fn` until it returns a truthy value (no fixed sleeps as synchronisation). */
interface App { child: ChildProcess; base: string; out: () => string; err: () => string; exited: Promise<number | null> }
const started: ChildProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function launch(mode: Mode, env: Record<string, string> = {}, release: Record<string, unknown> = {}): Promise<{ child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null>; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-app-'));
  dirs.push(dir);
  await writeFile(join(dir, 'release.json'), JSON.stringify({ version: 'v9.8.7', mode, ...release }));
  const { DATABASE_URL: _drop, ...base } = process.env;
  const child = spawn('/usr/bin/node', [SERVER], { cwd: dir, env: { ...base, HOST: '127.0.0.1', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '', err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, out: () => out, err: () => err, exited, dir };
}

async function startApp(mode: Mode, env: Record<string, string> = {}, release: Record<string, unknown> = {}): Promise<App & { dir: string }> {
  const p = await launch(mode, env, release);
  const deadline = Date.now() + 5000;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.out());
    if (m?.[1]) return { ...p, base: m[1] };
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`demo app did not start:\n${p.out()}\n${p.err()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const chat = (app: App, body: unknown) =>
  fetch(`${app.base}/api/v1/conversation/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function listeningPort(): Promise<number> {
  const s = createServer((sock) => sock.destroy());
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('demo-app server.mjs', () => {
  it('health answers 200 with the release version and logs one line per request', async () => {
    const app = await startApp('ok');
    const res = await fetch(`${app.base}/api/v1/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'healthy', version: 'v9.8.7', uptime_s: 0 });
    expect((await fetch(`${app.base}/nope`)).status).toBe(404);
    const requests = () => app.out().trim().split('\n').filter((l) => / \d+ms$/.test(l)).map((l) => l.replace(/ \d+ms$/, ''));
    await until(() => requests().length === 2, 'two request lines');
    expect(requests()).toEqual(['GET /api/v1/health 200', '<4>GET /nope 404']);
  });

  it('health answers 503 unhealthy in mode unhealthy', async () => {
    const app = await startApp('unhealthy');
    const res = await fetch(`${app.base}/api/v1/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unhealthy', version: 'v9.8.7' });
  });

  it('ready reports the database: not-configured, ok, unreachable', async () => {
    const none = await startApp('ok');
    const r1 = await fetch(`${none.base}/api/v1/ready`);
    expect([r1.status, await r1.json()]).toEqual([200, { ready: true, dependencies: { database: 'not-configured' } }]);

    const up = await startApp('ok', { DATABASE_URL: `postgres://cutover@127.0.0.1:${await listeningPort()}/demo` });
    const r2 = await fetch(`${up.base}/api/v1/ready`);
    expect([r2.status, await r2.json()]).toEqual([200, { ready: true, dependencies: { database: 'ok' } }]);

    const down = await startApp('ok', { DATABASE_URL: `postgres://cutover:s3cret@127.0.0.1:${await closedPort()}/demo` });
    const r3 = await fetch(`${down.base}/api/v1/ready`);
    const text = await r3.text();
    expect([r3.status, JSON.parse(text)]).toEqual([503, { ready: false, dependencies: { database: 'unreachable' } }]);
    expect(text + down.out()).not.toContain('s3cret');
  });

  it('chat answers with an intent and echoes nothing of the message', async () => {
    const app = await startApp('ok');
    const res = await chat(app, { user_id: 1, message: 'Mes dépenses chez Carrefour, carte 4970-1234' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['intent', 'prediction', 'processing_time_ms', 'response_text', 'success', 'visualizations']);
    expect(body).toMatchObject({ success: true, intent: 'transaction_search.by_merchant', response_text: 'Here are your transactions for that merchant.' });
    expect(JSON.stringify(body) + app.out()).not.toContain('4970');
  });

  it('chat answers 400 on bad JSON and on missing fields', async () => {
    const app = await startApp('ok');
    const bad = await chat(app, '{"user_id": 1, "message": ');
    expect([bad.status, await bad.json()]).toEqual([400, { success: false, error: 'invalid JSON body' }]);
    expect((await chat(app, { user_id: 1 })).status).toBe(400);
    expect((await chat(app, { message: 'hi' })).status).toBe(400);
  });

  it('chat answers 413 above 64 KiB and 200 just below', async () => {
    const app = await startApp('ok');
    const big = await chat(app, { user_id: 2, message: 'a'.repeat(64 * 1024) });
    expect([big.status, await big.json()]).toEqual([413, { success: false, error: 'request body too large (max 65536 bytes)' }]);
    const justBelow = JSON.stringify({ user_id: 2, message: '' }).length;
    const fits = await chat(app, { user_id: 2, message: 'b'.repeat(64 * 1024 - justBelow) });
    expect(fits.status).toBe(200);
  });

  // the limiter's arithmetic is tested with a controlled clock (test/unit/demo-rate-limit.test.ts); here the server
  // wiring, with a limit whose refill (one token per 3 s) no busy machine can earn during the burst
  it('chat answers 429 beyond the limit for one user_id, with Retry-After; others unaffected', async () => {
    const app = await startApp('ok', { DEMO_RATE_LIMIT: '20/min' });
    const answers = await Promise.all(Array.from({ length: 40 }, () => chat(app, { user_id: 7, message: 'hello' })));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBe(20);
    expect(statuses.filter((s) => s === 429).length).toBe(20);
    const limited = answers.find((r) => r.status === 429)!;
    expect(await limited.json()).toEqual({ success: false, error: 'rate limit exceeded: max 20 requests per minute per user' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await chat(app, { user_id: 8, message: 'hello' })).status).toBe(200);
  });

  it('slow-chat answers chat after at least 4000 ms; health answers while it is held', async () => {
    const app = await startApp('slow-chat');
    const t0 = performance.now();
    let chatDone = false;
    const pending = chat(app, { user_id: 1, message: 'hello' }).then((r) => ((chatDone = true), r));
    await until(() => app.out().includes('slow-chat: holding a chat request'), 'the chat request to be held');
    expect((await fetch(`${app.base}/api/v1/health`)).status).toBe(200);
    expect(chatDone).toBe(false);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(4000);
    expect(((await res.json()) as { processing_time_ms: number }).processing_time_ms).toBeGreaterThanOrEqual(4000);
  });

  it('crash exits 1 before listening, with a Traceback on stderr', async () => {
    const p = await launch('crash');
    expect(await p.exited).toBe(1);
    expect(p.err().split('\n')[0]).toBe('<3>Traceback (most recent call last):');
    expect(p.err()).toContain('ImportError');
    expect(p.out()).toBe('');
  });

  it('journal-errors logs <3>ERROR and a Traceback at start and on every chat', async () => {
    const app = await startApp('journal-errors');
    const count = () => app.out().split('\n').filter((l) => l.startsWith('<3>ERROR ')).length;
    const tracebacks = () => app.out().split('\n').filter((l) => l.startsWith('<3>Traceback')).length;
    await until(() => tracebacks() === 1, 'the startup traceback');
    expect([count(), tracebacks()]).toEqual([1, 1]);
    expect((await chat(app, { user_id: 1, message: 'hello' })).status).toBe(200);
    expect((await chat(app, { user_id: 1, message: 'hello' })).status).toBe(200);
    expect((await fetch(`${app.base}/api/v1/health`)).status).toBe(200);
    await until(() => app.out().includes('GET /api/v1/health 200'), 'the health request line');
    expect([count(), tracebacks()]).toEqual([3, 3]);
  });

  it('SIGTERM drains an in-flight request and exits 0', async () => {
    const app = await startApp('slow-chat');
    const inflight = chat(app, { user_id: 1, message: 'hello' });
    await until(() => app.out().includes('slow-chat: holding a chat request'), 'the chat request to be in flight');
    app.child.kill('SIGTERM');
    expect((await inflight).status).toBe(200);
    expect(await app.exited).toBe(0);
    expect(app.out()).toContain('demo-chat: SIGTERM received, draining');
  });

  it('writes one seed-shaped JSONL record per chat request, PII redacted, in a file per UTC day', async () => {
    const logDir = join(await mkdtemp(join(tmpdir(), 'demo-logs-')), 'logs');
    dirs.push(logDir);
    const app = await startApp('ok', { DEMO_LOG_DIR: logDir });
    expect((await chat(app, { user_id: 3, message: 'Je suis furieux et frustré, écrivez à jean.dupont@example.com ou 06 12 34 56 78' })).status).toBe(200);
    expect((await chat(app, { user_id: 3, message: '🙂🙂' })).status).toBe(200);
    const records = (await until(() => {
      const files = readdirSync(logDir);
      const text = files.length ? readFileSync(join(logDir, files[0]!), 'utf8') : '';
      return text.split('\n').filter(Boolean).length === 2 ? { files, rows: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) } : null;
    }, 'two records'))!;
    expect(records.files).toEqual([`predictions_${new Date().toISOString().slice(0, 10)}.jsonl`]);
    const [a, b] = records.rows;
    expect(Object.keys(a).sort()).toEqual(['intent', 'latency_ms', 'prediction', 'request_id', 'route', 'status', 'text_preview', 'timestamp', 'version']);
    expect(a).toMatchObject({ route: 'linear_head', status: 200, version: 'v9.8.7', prediction: { primary: 'anger', low_confidence: true, rule_applied: 'tiebreak_anger_keyword' } });
    expect(a.text_preview).toBe('Je suis furieux et frustré, écrivez à [EMAIL] ou [PHONE]');
    expect(b).toMatchObject({ route: 'regex', prediction: { rule_applied: null } });
  });

  it('exposes Prometheus metrics through the prom-client package DEMO_PROM_CLIENT points at', async () => {
    const app = await startApp('ok', { DEMO_PROM_CLIENT: PROM_CLIENT });
    expect((await chat(app, { user_id: 4, message: 'Mes dépenses du mois' })).status).toBe(200);
    const res = await fetch(`${app.base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^http_requests_total\{method="POST",path="\/api\/v1\/conversation\/chat",status="200",version="v9\.8\.7"\} 1$/m);
    expect(text).toMatch(/^predictions_total\{route="linear_head",version="v9\.8\.7"\} 1$/m);
    expect(text).toMatch(/^golden_mismatch_total\{version="v9\.8\.7"\} 0$/m);
    const without = await startApp('ok');
    expect((await fetch(`${without.base}/metrics`)).status).toBe(503);
  });

  it('degraded passes health and its first chats, then answers exactly 8% of chats 500 and slows 10% by 300 ms', async () => {
    const app = await startApp('degraded', { DEMO_RATE_LIMIT: '1000/s' }, { degraded: { after: 5 } });
    expect((await fetch(`${app.base}/api/v1/health`)).status).toBe(200);
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => chat(app, { user_id: i + 1, message: 'Mes dépenses' }).then((r) => r.status)));
    expect(first).toEqual([200, 200, 200, 200, 200]);
    const rest = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(app, { user_id: i + 1, message: 'Mes dépenses' }).then((r) => r.status)));
    expect(rest.filter((s) => s === 500).length).toBe(8);
    expect(app.out().split('\n').filter((l) => l.startsWith('<3>ERROR conversation_service: model backend timed out')).length).toBe(8);
  });

  it('degraded behind a flag: fine while DEMO_FLAGS_FILE has it off, degraded once the file is replaced with it on, fine again off', async () => {
    const flagDir = await mkdtemp(join(tmpdir(), 'demo-flags-'));
    dirs.push(flagDir);
    const file = join(flagDir, 'flags.json');
    const flagsText = (on: boolean) => `{"features": {"new_ranker": {"enabled": ${on}}}}\n`;
    const put = async (on: boolean) => {
      await writeFile(`${file}.new`, flagsText(on));
      await rename(`${file}.new`, file); // as cutover's canary writes it
    };
    await writeFile(file, flagsText(false));
    const app = await startApp('degraded', { DEMO_RATE_LIMIT: '1000/s', DEMO_FLAGS_FILE: file }, { degraded: { after: 5, errorRate: 0.3 }, degradedFlag: '/features/new_ranker/enabled' });
    const burst = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => chat(app, { user_id: i + 1, message: 'Mes dépenses' }).then((r) => r.status)));
    await until(() => app.out().includes('demo-chat: feature /features/new_ranker/enabled off'), 'the feature state at start');
    expect((await burst(60)).every((s) => s === 200)).toBe(true);

    await put(true);
    expect(await burst(5)).toEqual([200, 200, 200, 200, 200]); // its first `after` chats, counted from the flag
    expect((await burst(100)).filter((s) => s === 500).length).toBe(30);
    expect(app.out()).toContain(`demo-chat: feature /features/new_ranker/enabled on (${file})`);

    await put(false);
    expect((await burst(60)).every((s) => s === 200)).toBe(true);
    expect(app.out()).toMatch(/feature \/features\/new_ranker\/enabled on .*\n[^]*feature \/features\/new_ranker\/enabled off/);
  });

  it('release.json with a degradedFlag that is not a JSON pointer refuses to start', async () => {
    const p = await launch('degraded', {}, { degradedFlag: 'features.new_ranker' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('cannot load release.json');
  });

  it('release.json with an unknown mode refuses to start', async () => {
    const p = await launch('nonsense' as Mode);
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('cannot load release.json');
  });
});

describe('demo-app install.sh', () => {
  it('writes .installed with the release version, and fails clearly without release.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-install-'));
    dirs.push(dir);
    for (const f of ['install.sh', 'server.mjs']) await copyFile(join(DEMO_APP_SOURCE, f), join(dir, f));
    const run = () => promisify(execFile)('bash', [join(dir, 'install.sh')]);
    await expect(run()).rejects.toMatchObject({ code: 1, stderr: `install: release.json missing in ${dir}\n` });
    await writeFile(join(dir, 'release.json'), JSON.stringify({ version: 'v1.4.2', mode: 'ok' }));
    const { stdout } = await run();
    expect(stdout).toMatch(/^install: demo-chat v1\.4\.2 installed in /);
    expect(await readFile(join(dir, '.installed'), 'utf8')).toBe('v1.4.2\n');
  });

  it('refuses a server.mjs that does not parse, with node --check saying where, and installs nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'demo-install-'));
    dirs.push(dir);
    await copyFile(join(DEMO_APP_SOURCE, 'install.sh'), join(dir, 'install.sh'));
    await writeFile(join(dir, 'server.mjs'), "import http from 'node:http';\nconst = 1;\n");
    await writeFile(join(dir, 'release.json'), JSON.stringify({ version: 'v1.4.2', mode: 'ok' }));
    const err = await promisify(execFile)('bash', [join(dir, 'install.sh')]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 1 });
    const stderr = (err as { stderr: string }).stderr;
    expect(stderr).toContain(`${join(dir, 'server.mjs')}:2\n`);
    expect(stderr).toContain('SyntaxError');
    expect(stderr.endsWith('install: server.mjs does not parse\n')).toBe(true);
    await expect(readFile(join(dir, '.installed'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
