import { describe, expect, it } from 'vitest';
import { Environment, Service } from '../../tasks/lib/config/schema.ts';
import type { LoadedEnvironment } from '../../tasks/lib/config/load.ts';
import { healthRow, probeBody, readinessDepsRow, readinessRow, type HealthAnswer, type ReadinessAnswer } from '../../tasks/lib/verify/http-checks.ts';
import { serviceRows, unitRow, versionRow, type DeployedRead } from '../../tasks/lib/verify/host-checks.ts';
import { parseCheckNames, selectChecks } from '../../tasks/lib/verify/select.ts';
import type { Runner } from '../../tasks/lib/runners/types.ts';

const svc = Service.parse({ unit: 'demo-chat' });
const NOW = Date.UTC(2026, 0, 6, 10, 5, 30);
const answer = (status: number, body: string) => ({ kind: 'answer', status, body, bodyBytes: body.length, truncated: false, latencyMs: 2.25 }) as const;
const refused = { kind: 'error', error: 'connection refused (ECONNREFUSED)', timedOut: false, latencyMs: 1 } as const;
const HEALTH = { url: 'http://{host}:8001/health', expectStatus: 200, versionField: 'version', timeout: 60_000, interval: 200 };

describe('service rows from systemctl show', () => {
  it('active: since when and how long ago; the class keeps the start time so a restart is a change', () => {
    const row = unitRow(svc, { Id: 'demo-chat.service', LoadState: 'loaded', ActiveState: 'active', SubState: 'running', ActiveEnterTimestamp: 'Tue 2026-01-06 10:00:00 UTC', NRestarts: '2' }, '', NOW);
    expect(row).toEqual({
      kind: 'service',
      check: 'service demo-chat',
      threshold: 'active',
      verdict: 'ok',
      value: 'active (running) since Tue 2026-01-06 10:00:00 UTC, 5m 30s ago',
      why: 'systemctl show demo-chat: ActiveState=active, SubState=running, restarted 2 time(s) by systemd',
      valueClass: 'active Tue 2026-01-06 10:00:00 UTC',
    });
  });

  it('failed, not found, or no answer: FAIL with what to look at', () => {
    expect(unitRow(svc, { LoadState: 'loaded', ActiveState: 'failed', SubState: 'failed' }, '', NOW)).toMatchObject({
      verdict: 'fail',
      value: 'failed (failed)',
      why: 'demo-chat is failed. See: journalctl -u demo-chat -n 50 --no-pager',
    });
    expect(unitRow(svc, { LoadState: 'not-found', ActiveState: 'inactive' }, '', NOW)).toMatchObject({ verdict: 'fail', value: 'not found' });
    expect(unitRow(svc, undefined, 'systemctl exited 1: boom', NOW)).toMatchObject({ verdict: 'fail', value: 'unknown', why: 'systemctl exited 1: boom' });
  });
});

describe('the version row: deployed tag against the running version', () => {
  const on = (tag: string | null): DeployedRead => ({ ok: true, tag, commit: '0123456789abcdef0123', release: null, dirty: [] });
  const health = (version: string): HealthAnswer => ({ out: answer(200, ''), url: 'u', version: { ok: true, version } });

  it('equal: ok; different: FAIL saying what it means', () => {
    expect(versionRow('version', on('v1.1.0'), health('v1.1.0'))).toMatchObject({ verdict: 'ok', value: 'deployed v1.1.0, running v1.1.0', valueClass: 'v1.1.0 v1.1.0' });
    expect(versionRow('version', on('v1.0.0'), health('v1.1.0'))).toMatchObject({ verdict: 'fail', value: 'deployed v1.0.0, running v1.1.0' });
  });

  it('unknown running version or no tag: WARN; no working copy: FAIL; no versionField: not compared', () => {
    expect(versionRow('version', on('v1'), { out: refused, url: 'u', version: null })).toMatchObject({ verdict: 'warn', value: 'deployed v1, running unknown' });
    expect(versionRow('version', on('v1'), { out: answer(200, '{}'), url: 'u', version: { ok: false, problem: "the body has no field 'version'" } })).toMatchObject({
      verdict: 'warn',
      why: "health answered, but the body has no field 'version'",
    });
    expect(versionRow('version', on(null), health('v1'))).toMatchObject({ verdict: 'warn', value: 'deployed commit 0123456789ab' });
    expect(versionRow('version', { ok: false, problem: 'not a git repository' }, health('v1'))).toMatchObject({ verdict: 'fail', value: 'no working copy' });
    expect(versionRow(undefined, on('v1'), health('v2'))).toMatchObject({ verdict: 'ok', threshold: '(not compared)' });
  });
});

describe('health and readiness rows', () => {
  it('health: status and body, secrets masked', () => {
    const a: HealthAnswer = { out: answer(503, '{"status":"down","token":"abc"}'), url: 'http://u:pw@h/health', version: null };
    expect(healthRow(HEALTH, a, [])).toEqual({
      kind: 'health',
      check: 'health',
      threshold: '200',
      verdict: 'fail',
      value: '503 in 2.3 ms',
      why: 'GET http://u:***@h/health: status 503, expected 200; body: {"status":"down","token":"***"}',
      valueClass: '503',
    });
    expect(healthRow(HEALTH, { out: refused, url: 'http://h/health', version: null }, [])).toMatchObject({ verdict: 'fail', value: 'no answer' });
  });

  it('readiness prints the dependency map; readiness-deps names what is missing', () => {
    const a: ReadinessAnswer = { out: answer(200, '{"ready":true,"dependencies":{"database":"ok"}}'), url: 'http://h/ready', dependencies: { database: 'ok' } };
    expect(readinessRow({ url: 'x', expectStatus: 200 }, a, [])).toMatchObject({ verdict: 'ok', value: '200; database=ok', why: 'GET http://h/ready: 200 in 2.3 ms; dependencies: database=ok' });
    expect(readinessDepsRow(['database'], a, [])).toMatchObject({ verdict: 'ok', value: 'database=ok', threshold: 'names database' });
    expect(readinessDepsRow(['database', 'redis', 'llm'], a, [])).toMatchObject({ verdict: 'fail', why: 'readiness does not name redis, llm (it names: database=ok)' });
    const none: ReadinessAnswer = { out: answer(200, '{"ready":true}'), url: 'http://h/ready', dependencies: null };
    expect(readinessDepsRow(['database'], none, [])).toMatchObject({ verdict: 'fail', value: 'no dependency map' });
  });
});

describe('probe bodies and check names', () => {
  it('the chat body with the message (and the test user) replaced', () => {
    expect(probeBody({ user_id: 1, message: 'hi' }, 'AAAA')).toBe('{"user_id":1,"message":"AAAA"}');
    expect(probeBody({ user_id: 1, message: 'hi' }, 'hi', 'probe')).toBe('{"user_id":"probe","message":"hi"}');
    expect(probeBody('raw text', 'x')).toBe('{"message":"x"}');
  });

  it('--check accepts repeats and commas', () => {
    expect(parseCheckNames(['health,chat', 'journal'])).toEqual(['health', 'chat', 'journal']);
    expect(() => parseCheckNames(['helth'])).toThrow(/--check helth: unknown check/);
  });
});

describe('host reads through a runner (answers scripted)', () => {
  const runner = (answers: Record<string, { code: number; stdout?: string; stderr?: string }>): Runner => ({
    host: { name: 'h1', address: '10.0.0.1', port: 22, user: 'ops' },
    async exec(cmd) {
      const a = answers[cmd.script] ?? { code: 127, stderr: `unexpected: ${cmd.script}` };
      return { host: 'h1', code: a.code, stdout: a.stdout ?? '', stderr: a.stderr ?? '', stdoutBytes: (a.stdout ?? '').length, durationMs: 1 };
    },
    async close() {},
  });

  it('services: systemd units from one show, custom ones by their status command, in the environment order', async () => {
    const services = [Service.parse({ name: 'worker', commands: { restart: 'w restart', status: 'w status', logs: 'w logs' } }), Service.parse({ unit: 'api' }), Service.parse({ unit: 'gone' })];
    const r = runner({
      'systemctl show -p Id,LoadState,ActiveState,SubState,ActiveEnterTimestamp,NRestarts -- api gone': {
        code: 0,
        stdout: 'Id=api.service\nLoadState=loaded\nActiveState=active\nSubState=running\nActiveEnterTimestamp=Tue 2026-01-06 10:00:00 UTC\n\nId=gone.service\nLoadState=not-found\nActiveState=inactive\n',
      },
      'w status': { code: 3, stderr: 'worker: not running' },
    });
    const rows = await serviceRows(services, { runner: r, secrets: [], now: () => NOW });
    expect(rows.map((x) => [x.check, x.verdict, x.value])).toEqual([
      ['service worker', 'fail', 'not running'],
      ['service api', 'ok', 'active (running) since Tue 2026-01-06 10:00:00 UTC, 5m 30s ago'],
      ['service gone', 'fail', 'not found'],
    ]);
    expect(rows[0]!.why).toBe('`w status` exited 3: worker: not running');
  });
});

describe('which checks run', () => {
  const base = {
    hosts: [{ name: 'h1', address: '10.0.0.1', transport: 'local' }],
    app: { path: '/srv/app', repo: 'git@example.invalid:app.git' },
    services: [{ unit: 'api' }],
    verify: { health: { url: 'http://{host}/health' } } as Record<string, unknown>,
  };
  const envOf = (extra: Record<string, unknown> = {}, verify: Record<string, unknown> = {}): LoadedEnvironment => ({
    name: 't',
    file: 'environments/t.ts',
    config: Environment.parse({ ...base, ...extra, verify: { ...base.verify, ...verify } }),
    secrets: {},
    backupDir: '/nonexistent',
  });

  it('every configured check by default; hardening only when opted in', () => {
    expect(selectChecks(envOf())).toEqual(['service', 'version', 'health', 'latency', 'disk', 'lock']);
    const full = envOf(
      { database: { name: 'db', user: 'u' } },
      {
        readiness: { url: 'http://{host}/ready' },
        chat: { url: 'http://{host}/chat', body: { user_id: 1, message: 'hi' } },
        journal: {},
        hardening: { oversizedBody: true, rateLimit: { requests: 30, userId: 'probe' }, readinessDependencies: ['database'] },
      },
    );
    expect(selectChecks(full)).toEqual(['service', 'version', 'health', 'readiness', 'chat', 'latency', 'journal', 'disk', 'backup', 'lock', 'oversized-body', 'rate-limit', 'readiness-deps']);
    expect(selectChecks(full, ['lock', 'health'])).toEqual(['health', 'lock']);
  });

  it('asking for a check the environment cannot make is refused, naming what to configure', () => {
    expect(() => selectChecks(envOf(), ['backup', 'chat'])).toThrow('--check backup needs a database (backups are of the database) in environments/t.ts; --check chat needs verify.chat in environments/t.ts');
  });

  it('the schema: hardening probes that need the chat or readiness say so at their key; budgets are durations', () => {
    const r = Environment.safeParse({ ...base, verify: { ...base.verify, hardening: { rateLimit: { requests: 10, userId: 'p' }, readinessDependencies: ['db'] } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'verify.hardening.rateLimit: the rate-limit probe needs verify.chat (its URL and body)',
      'verify.hardening.readinessDependencies: needs verify.readiness',
    ]);
    const ok = Environment.parse({ ...base, backups: { maxAge: '2h' }, verify: { ...base.verify, latency: { p95: '200ms' }, disk: { minFreePercent: 15 } } });
    expect(ok.verify.latency).toEqual({ samples: 20, target: 'health', p95: 200 });
    expect(ok.verify.disk).toEqual({ minFreePercent: 15 });
    expect(ok.backups.maxAge).toBe(7_200_000);
  });
});
