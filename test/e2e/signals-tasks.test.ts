// tasks/traffic.ts, slo.ts and validate.ts run as processes against the demo service (a real
// process on loopback) with an environment file of their own: exit codes, JSON, reports.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../tasks/lib/config/load.ts';
import { startDemoService, type DemoService } from '../support/demo-service.ts';

const exec = promisify(execFile);
let good: DemoService;
let degraded: DemoService;
let envDir: string;
let backups: string;

function envFile(name: string, svc: DemoService, extra = '', sources?: string): void {
  const text = `export default {
  hosts: [{ name: 'demo-1', address: '127.0.0.1', transport: 'local' }],
  app: { path: '/tmp/cutover-signals-e2e-app', repo: '/tmp/none.git' },
  services: [{ unit: 'demo-chat', sudo: false }],
  backups: { dir: ${JSON.stringify(path.join(backups, name))} },
  verify: { health: { url: '${svc.url}/api/v1/health' } },
  signals: {
    window: '15m',
    sources: ${sources ?? `{ requests: { kind: 'jsonl', path: ${JSON.stringify(path.join(svc.logDir, 'predictions_{date}.jsonl'))}, on: 'hosts' } }`},
    metrics: {
      'linear-head': { kind: 'share', source: 'requests', field: 'route', equals: 'linear_head' },
      p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 },
      errors: { kind: 'errorRate', source: 'requests' },
      'low-confidence': { kind: 'share', source: 'requests', field: 'prediction.low_confidence', equals: true },
    },
    gates: [
      { name: 'linear-head', metric: 'linear-head', min: 90, for: '15m', minSamples: 20 },
      { name: 'p95-latency', metric: 'p95', max: 250, for: '15m', minSamples: 20 },
      { name: 'errors', metric: 'errors', max: 5, minSamples: 20 },
      { name: 'low-confidence', metric: 'low-confidence', max: 30, warn: { max: 25 }, minSamples: 20 },
    ],
    traffic: { corpus: 'sandbox/signals/corpus.yaml', request: { url: '${svc.url}/api/v1/conversation/chat', body: { user_id: 'traffic', message: '{message}' } }, concurrency: 4 },
    validation: { questions: 'sandbox/signals/questions.yaml', request: { url: '${svc.url}/api/v1/conversation/chat', body: { user_id: 1, message: '{message}' } } },
    ${extra}
  },
};
`;
  writeFileSync(path.join(envDir, `${name}.ts`), text);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a task's --json document, read field by field
async function task(name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  try {
    const r = await exec(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'tasks', `${name}.ts`), ...args], { cwd: REPO_ROOT, env: { ...process.env, CUTOVER_ENVIRONMENTS_DIR: envDir, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, json: args.includes('--json') ? JSON.parse(r.stdout) : null };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    let json = null;
    try {
      json = JSON.parse(err.stdout);
    } catch {}
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, json };
  }
}

beforeAll(async () => {
  envDir = mkdtempSync(path.join(os.tmpdir(), 'cutover-sig-env-'));
  backups = mkdtempSync(path.join(os.tmpdir(), 'cutover-sig-backups-'));
  [good, degraded] = await Promise.all([startDemoService({ version: 'v1.1.0' }), startDemoService({ version: 'v1.6.0', mode: 'degraded', degraded: { after: 10 } })]);
  envFile('good', good);
  envFile('bad', degraded);
});
afterAll(async () => Promise.all([good?.stop(), degraded?.stop()]));

describe('signals tasks as processes', () => {
  it('slo with no traffic yet is INCONCLUSIVE (exit 2): no data is neither a pass nor a failure', async () => {
    const r = await task('slo', ['--env', 'good', '--json']);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ decision: 'INCONCLUSIVE', exitCode: 2 });
  });

  it('traffic sends the corpus mix and logs it; slo then says GO; validate says GO with the seed report', async () => {
    const t = await task('traffic', ['--env', 'good', '--rate', '3000/min', '--max-events', '60', '--seed', '5', '--json']);
    expect(t.code).toBe(0);
    expect(t.json).toMatchObject({ sent: 60, answered: 60, errors: 0, stoppedBy: 'max-events' });
    const sent = readFileSync(t.json.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(sent).toHaveLength(60);
    expect(sent[0]).toMatchObject({ status: 200, version: 'v1.1.0', target: `${good.url}/api/v1/conversation/chat` });
    expect(new Set(sent.map((s) => s.scenario))).toContain('normal');

    const slo = await task('slo', ['--env', 'good', '--json']);
    expect(slo.code).toBe(0);
    expect(slo.json.decision).toBe('GO');
    expect(slo.json.values.all.p95.samples).toBe(60);
    expect(existsSync(slo.json.report)).toBe(true);
    const md = readFileSync(slo.json.report, 'utf8');
    expect(md).toContain('# SLO monitor of good: GO');
    expect(md).toContain('| linear-head |');

    const v = await task('validate', ['--env', 'good']);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('good: GO: met success rate >= 95% (100% (15/15))');
    const report = v.stdout.match(/report: (\S+)/)![1]!;
    const vmd = readFileSync(path.resolve(REPO_ROOT, report), 'utf8');
    expect(vmd).toContain('## Results by category');
    expect(vmd).toContain('| Mes dépenses du mois dernier | transaction_search.simple | ✅ | 3 | 200 |');
  });

  it('slo --watch with checkpoints fills the journal by itself, then stops; --file replays a recorded log', async () => {
    const w = await task('slo', ['--env', 'good', '--watch', '1s', '--checkpoints', '1s']);
    expect(w.code).toBe(0);
    const lines = w.stdout.split('\n');
    expect(lines.filter((l) => /^round \d+ at /.test(l)).length).toBe(2);
    expect(w.stdout).toContain('journal: H0 GO, H+1s GO');
    const md = readFileSync(path.resolve(REPO_ROOT, w.stdout.match(/report: (\S+)/)![1]!), 'utf8');
    expect(md).toMatch(/\| H0 \| .+ \| GO \| all gates pass \|/);
    expect(md).toMatch(/\| H\+1s \| /);
    const file = path.join(good.logDir, `predictions_${new Date().toISOString().slice(0, 10)}.jsonl`);
    const r = await task('slo', ['--env', 'good', '--file', file, '--json']);
    expect(r.code).toBe(0);
    const records = readFileSync(file, 'utf8').trim().split('\n').length; // the traffic and the validation questions
    expect(r.json).toMatchObject({ decision: 'GO', values: { all: { p95: { samples: records } } } });
  });

  it('a degraded release: validate and slo say NO-GO (exit 1) and name what failed', async () => {
    await task('traffic', ['--env', 'bad', '--rate', '3000/min', '--max-events', '100', '--seed', '5']);
    const slo = await task('slo', ['--env', 'bad', '--json']);
    expect(slo.code).toBe(1);
    expect(slo.json.decision).toBe('NO-GO');
    expect(slo.json.evaluations.find((e: { gate: string }) => e.gate === 'errors')).toMatchObject({ verdict: 'fail' });
    const v = await task('validate', ['--env', 'bad', '--json']);
    expect(v.code).toBe(1);
    expect(v.json.decision).toBe('NO-GO');
    expect(v.json.criteria.find((c: { criterion: string }) => c.criterion === 'no answer >= 500').met).toBe(false);
  });

  it('one slo run judges its clocks on the log\'s own past: a P95 breached for 35 minutes fails at once', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-sig-history-'));
    const now = Date.now();
    const lines = Array.from({ length: 35 * 6 }, (_, i) => JSON.stringify({ timestamp: new Date(now - 35 * 60_000 + i * 10_000).toISOString(), route: 'linear_head', status: 200, latency_ms: 300, prediction: { low_confidence: false } }));
    writeFileSync(path.join(dir, 'requests.jsonl'), `${lines.join('\n')}\n`);
    envFile('history', good, '', `{ requests: { kind: 'jsonl', path: ${JSON.stringify(path.join(dir, 'requests.jsonl'))}, on: 'local' } }`);
    const r = await task('slo', ['--env', 'history', '--json']);
    expect(r.code).toBe(1);
    expect(r.json.evaluations.find((e: { gate: string }) => e.gate === 'p95-latency')).toMatchObject({ verdict: 'fail', clock: 'breached 16m of 15m' });
    expect(r.json.series.length).toBe(17); // one evaluation a minute over the last 16 minutes, and now
  });

  it('bad flags and bad config: exit 2 with the bad value named', async () => {
    const a = await task('slo', ['--env', 'good', '--window', 'soon']);
    expect([a.code, a.stderr.trim()]).toEqual([2, 'cutover: --window "soon": not a duration; write e.g. 30s, 15m, 1h']);
    const b = await task('traffic', ['--env', 'good', '--rate', 'fast']);
    expect([b.code, b.stderr.trim()]).toEqual([2, 'cutover: --rate "fast": write e.g. 20/min, 5/s, 600/h']);
    envFile('broken', good, "slo: { journal: ['nope'] },");
    const c = await task('slo', ['--env', 'broken']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("broken.ts: signals.slo.journal: 'nope' is not a metric");
  });
});
