// sandbox/demo-app/server.mjs run directly: one process per test, on 127.0.0.1 and a port the kernel picks (PORT=0).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_APP_SOURCE } from '../../sandbox/origin.ts';

const SERVER = join(DEMO_APP_SOURCE, 'server.mjs');
type Mode = 'ok' | 'unhealthy' | 'crash' | 'journal-errors' | 'slow-chat';

interface App { child: ChildProcess; base: string; out: () => string; err: () => string; exited: Promise<number | null> }
const started: ChildProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function launch(mode: Mode, env: Record<string, string> = {}): Promise<{ child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> }> {
  const dir = await mkdtemp(join(tmpdir(), 'demo-app-'));
  dirs.push(dir);
  await writeFile(join(dir, 'release.json'), JSON.stringify({ version: 'v9.8.7', mode }));
  const { DATABASE_URL: _drop, ...base } = process.env;
  const child = spawn('/usr/bin/node', [SERVER], { cwd: dir, env: { ...base, HOST: '127.0.0.1', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '', err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, out: () => out, err: () => err, exited };
}

async function startApp(mode: Mode, env: Record<string, string> = {}): Promise<App> {
  const p = await launch(mode, env);
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
    await new Promise((r) => setTimeout(r, 50));
    const lines = app.out().trim().split('\n').slice(1).map((l) => l.replace(/ \d+ms$/, ''));
    expect(lines).toEqual(['GET /api/v1/health 200', '<4>GET /nope 404']);
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
    expect(Object.keys(body).sort()).toEqual(['intent', 'processing_time_ms', 'response_text', 'success']);
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

  it('chat answers 429 beyond 20 requests per second for one user_id, others unaffected', async () => {
    const app = await startApp('ok');
    const t0 = performance.now();
    const statuses = await Promise.all(Array.from({ length: 40 }, () => chat(app, { user_id: 7, message: 'hello' }).then((r) => r.status)));
    const elapsedS = (performance.now() - t0) / 1000;
    const ok = statuses.filter((s) => s === 200).length;
    // the bucket refills 20 tokens/s, so a slow burst may earn a few extra
    expect(ok).toBeGreaterThanOrEqual(20);
    expect(ok).toBeLessThanOrEqual(20 + Math.ceil(elapsedS * 20));
    expect(statuses.filter((s) => s === 429).length).toBe(40 - ok);
    const limited = await chat(app, { user_id: 7, message: 'hello' });
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1']);
    expect((await chat(app, { user_id: 8, message: 'hello' })).status).toBe(200);
  });

  it('slow-chat answers chat after at least 1500 ms, health stays fast', async () => {
    const app = await startApp('slow-chat');
    const t0 = performance.now();
    const res = await chat(app, { user_id: 1, message: 'hello' });
    const ms = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(1500);
    expect(((await res.json()) as { processing_time_ms: number }).processing_time_ms).toBeGreaterThanOrEqual(1500);
    const h0 = performance.now();
    expect((await fetch(`${app.base}/api/v1/health`)).status).toBe(200);
    expect(performance.now() - h0).toBeLessThan(500);
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
    await new Promise((r) => setTimeout(r, 50));
    expect([count(), tracebacks()]).toEqual([1, 1]);
    expect((await chat(app, { user_id: 1, message: 'hello' })).status).toBe(200);
    expect((await chat(app, { user_id: 1, message: 'hello' })).status).toBe(200);
    expect((await fetch(`${app.base}/api/v1/health`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect([count(), tracebacks()]).toEqual([3, 3]);
  });

  it('SIGTERM drains an in-flight request and exits 0 within 2 s', async () => {
    const app = await startApp('slow-chat');
    const inflight = chat(app, { user_id: 1, message: 'hello' });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    app.child.kill('SIGTERM');
    expect((await inflight).status).toBe(200);
    expect(await app.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(app.out()).toContain('demo-chat: SIGTERM received, draining');
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
});
