// The signals' sources against real parts: nginx (Debian) as a weighted load balancer writing its JSON
// access log, Prometheus (Debian) scraping the demo service's prom-client metrics, and request logs
// on a sandbox host read over SSH across a daily rotation. Loopback only.
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalsConfig, type SignalsInput } from '../../tasks/lib/config/signals.ts';
import { collectOnce } from '../../tasks/lib/signals/collect.ts';
import { evaluateGateSet } from '../../tasks/lib/signals/evaluate.ts';
import { Monitor } from '../../tasks/lib/signals/monitor.ts';
import { nearestRank } from '../../tasks/lib/signals/quantile.ts';
import { LogReader, RunnerLogPlace } from '../../tasks/lib/signals/sources/log-reader.ts';
import { openSources } from '../../tasks/lib/signals/sources/open.ts';
import { PrometheusClient } from '../../tasks/lib/signals/sources/prometheus.ts';
import { SshRunner } from '../../tasks/lib/runners/ssh.ts';
import type { Host } from '../../tasks/lib/config/schema.ts';
import { PROM_CLIENT, startDemoService, type DemoService } from '../support/demo-service.ts';
import { DEMO_APP_SOURCE } from '../../sandbox/origin.ts';
import { command, raw } from '../../tasks/lib/commands/shell.ts';
import { startNginx, type Nginx } from '../support/nginx.ts';
import { startPrometheus, type Prometheus } from '../support/prometheus.ts';
import { startSshHosts, type SshFleet } from '../support/sshd.ts';
import { freePort } from '../../sandbox/postgres.ts';

// a different message each time: the demo's simulated model time (5-44 ms) depends on the text
const chat = (base: string, i: number) =>
  fetch(`${base}/api/v1/conversation/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: i, message: `Mes dépenses du mois ${i}` }) });
/** The access log's lines once it has `n` (nginx writes a request's line after its response is sent: a read right after the last answer can miss it). */
async function logLines(file: string, n: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
    if (lines.length >= n || i >= 100) return lines;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const noRunner = () => {
  throw new Error('no runner for local sources');
};

let stable: DemoService;
let canary: DemoService;
let nginx: Nginx;
let prom: Prometheus;

beforeAll(async () => {
  [stable, canary] = await Promise.all([
    startDemoService({ version: 'v1.1.0' }),
    // degraded from the first request: a quarter answered 500, 10% slowed by 300 ms
    startDemoService({ version: 'v1.6.0', mode: 'degraded', degraded: { after: 0, errorRate: 0.25 } }),
  ]);
  [nginx, prom] = await Promise.all([
    startNginx({ upstreams: [{ address: stable.address, weight: 9 }, { address: canary.address, weight: 1 }] }),
    startPrometheus({ scrape: [{ job: 'demo', targets: [stable.address, canary.address] }] }),
  ]);
});

afterAll(async () => {
  await Promise.all([nginx?.stop(), prom?.stop(), stable?.stop(), canary?.stop()]);
});

describe('nginx JSON access log', () => {
  it('splits 9:1 by weight, per upstream: rate, 5xx share and exact latency quantiles; a reload changes the weights', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await chat(nginx.url, i)).status); // one at a time: the round robin is exact
    expect(await logLines(nginx.accessLog, 100)).toHaveLength(100);
    const signals = SignalsConfig.parse({
      sources: { lb: { kind: 'nginx', path: nginx.accessLog, on: 'local' } },
      metrics: {
        requests: { kind: 'count', source: 'lb', where: [{ field: 'uri', equals: '/api/v1/conversation/chat' }] },
        errors: { kind: 'errorRate', source: 'lb' },
        p95: { kind: 'quantile', source: 'lb', field: 'latency_ms', q: 0.95 },
        upstreamP95: { kind: 'quantile', source: 'lb', field: 'upstream_latency_ms', q: 0.95 },
      },
      gates: [{ name: 'errors', metric: 'errors', maxIncreasePct: 50, minSamples: 10 }],
    } satisfies SignalsInput);
    const sources = openSources(signals, { hosts: [], runnerFor: noRunner });
    const now = Date.now() + 1000;
    const c = await collectOnce(signals, sources, { window: { from: now - 600_000, to: now }, cohorts: 'keys' });
    const byUp = c.values.cohorts;
    expect(byUp[stable.address]!.requests!.value).toBe(90);
    expect(byUp[canary.address]!.requests!.value).toBe(10);
    // the canary answers a quarter of its requests 500 (exactly: every 4th), the stable none
    expect(statuses.filter((s) => s === 500).length).toBe(2);
    expect(byUp[canary.address]!.errors).toMatchObject({ samples: 10, hits: 2, value: 20 });
    expect(byUp[stable.address]!.errors!.value).toBe(0);
    // exact: the same nearest rank as the log's own request_time values
    const log = readFileSync(nginx.accessLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { upstream_addr: string; request_time: number });
    const canaryTimes = Float64Array.from(log.filter((r) => r.upstream_addr === canary.address).map((r) => Math.round(r.request_time * 1e6) / 1e3)).sort();
    expect(byUp[canary.address]!.p95!.value).toBe(nearestRank(canaryTimes, canaryTimes.length, 0.95));
    expect(byUp[canary.address]!.p95!.method).toBe('exact');
    expect(byUp[canary.address]!.upstreamP95!.value).toBeGreaterThan(0);
    const verdict = evaluateGateSet({ signals, values: c.values, cohort: canary.address, baseline: stable.address, now });
    expect(verdict.evaluations[0]).toMatchObject({ gate: 'errors', verdict: 'fail', baseline: 0 });

    const old = await nginx.workers();
    await nginx.reload([{ address: stable.address, weight: 1 }, { address: canary.address, weight: 1 }]);
    // and the old worker gone: a kept-alive connection to it would be served on the old weights
    await nginx.waitForNewWorkers(old);
    const before = readFileSync(nginx.accessLog, 'utf8').trim().split('\n').length;
    for (let i = 0; i < 20; i++) await chat(nginx.url, i);
    const after = (await logLines(nginx.accessLog, before + 20)).slice(before).map((l) => (JSON.parse(l) as { upstream_addr: string }).upstream_addr);
    expect(after).toHaveLength(20);
    expect(after.filter((a) => a === canary.address).length).toBe(10);
  });
});

describe('Prometheus HTTP API', () => {
  it('values per cohort with {cohort}, no data vs zero, increase of a counter', async () => {
    for (let i = 0; i < 30; i++) await Promise.all([chat(stable.url, i), chat(canary.url, i)]);
    await prom.waitFor('sum by (version) (predictions_total)', (v) => v.length === 2 && v.every((x) => x >= 27));
    await prom.waitFor('count_over_time(golden_mismatch_total[5m])', (v) => v.length === 2 && v.every((x) => x >= 2)); // increase() needs two samples
    const client = new PrometheusClient({ url: prom.url, timeoutMs: 5000 });
    const now = Date.now();
    expect(await client.query('golden_mismatch_total{version="v1.1.0"}', now)).toEqual({ kind: 'value', value: 0, series: 1 });
    expect(await client.query('no_such_metric_total', now)).toEqual({ kind: 'nodata', why: 'the query returned no series' });
    expect(await client.query('0/0', now)).toEqual({ kind: 'nodata', why: 'the result is NaN' });
    const signals = SignalsConfig.parse({
      sources: { prom: { kind: 'prometheus', url: prom.url } },
      cohorts: { stable: ['v1.1.0'], canary: ['v1.6.0'] },
      metrics: {
        errors5xx: { kind: 'query', source: 'prom', query: 'sum(http_requests_total{status=~"5..",version=~"{cohort}"})' },
        golden: { kind: 'increase', source: 'prom', series: 'golden_mismatch_total{version=~"{cohort}"}', window: '5m' },
      },
      gates: [{ name: 'golden', metric: 'golden', max: 0, severity: 'critical' }],
    } satisfies SignalsInput);
    const c = await collectOnce(signals, openSources(signals, { hosts: [], runnerFor: noRunner }), { window: { from: now - 300_000, to: now }, cohorts: signals.cohorts });
    expect(c.values.cohorts.canary!.errors5xx!.value).toBeGreaterThan(0);
    expect(c.values.cohorts.stable!.errors5xx).toEqual({ value: null, samples: 0 }); // no 5xx series at all: no data, not zero
    expect(c.values.cohorts.canary!.golden!.value).toBe(0);
  });

  it('Prometheus down: unavailable, and each onUnavailable decides', async () => {
    const closed = await freePort();
    const client = new PrometheusClient({ url: `http://127.0.0.1:${closed}`, timeoutMs: 2000 });
    const a = await client.query('up', Date.now());
    expect(a.kind).toBe('unavailable');
    for (const on of ['warn', 'inconclusive', 'fail'] as const) {
      const signals = SignalsConfig.parse({
        sources: { prom: { kind: 'prometheus', url: `http://127.0.0.1:${closed}` } },
        metrics: { golden: { kind: 'increase', source: 'prom', series: 'golden_mismatch_total' } },
        gates: [{ name: 'golden', metric: 'golden', max: 0, severity: 'critical', onUnavailable: on }],
      } satisfies SignalsInput);
      const m = new Monitor(signals, openSources(signals, { hosts: [], runnerFor: noRunner }), { cohorts: 'all' });
      const r = await m.tick(Date.now());
      expect(r.results[0]!.evaluations[0]!.verdict).toBe(on);
      expect(r.values.sources.prom!.unavailable).toMatch(new RegExp(`127\\.0\\.0\\.1:${closed}`));
    }
  });
});

describe('request logs on a sandbox host over SSH', () => {
  let fleet: SshFleet;
  let appPort: number;
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-sig-ssh-'));
    appPort = await freePort();
    const app = path.join(dir, 'host1', 'app');
    const unit = { name: 'demo-chat', workingDirectory: app, execStart: `${process.execPath} server.mjs`, environment: { HOST: '127.0.0.1', PORT: String(appPort), DEMO_PROM_CLIENT: PROM_CLIENT, DEMO_LOG_DIR: path.join(dir, 'host1', 'demo-logs') } };
    fleet = await startSshHosts(1, { dir, units: [unit] });
    cpSync(DEMO_APP_SOURCE, app, { recursive: true });
    writeFileSync(path.join(app, 'release.json'), JSON.stringify({ version: 'v1.1.0', mode: 'ok' }));
  });
  afterAll(async () => fleet?.stop());

  it('reads incrementally by byte offset across the daily rotation, malformed lines counted, and a monitor judges it', async () => {
    const h = fleet.hosts[0]!;
    const logs = path.join(h.root, 'logs');
    mkdirSync(logs, { recursive: true });
    const runner = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 });
    try {
      const T = Date.parse('2026-12-01T23:50:00Z');
      const rec = (i: number, latency = 100) => `${JSON.stringify({ timestamp: new Date(T + i * 1000).toISOString(), route: 'linear_head', status: 200, latency_ms: latency, version: 'v1.1.0', prediction: { low_confidence: false, rule_applied: null } })}\n`;
      const day1 = path.join(logs, 'predictions_2026-12-01.jsonl');
      const day2 = path.join(logs, 'predictions_2026-12-02.jsonl');
      writeFileSync(day1, Array.from({ length: 300 }, (_, i) => rec(i)).join('') + 'garbage that is not JSON\n');
      const logPath = path.join(logs, 'predictions_{date}.jsonl');
      const reader = new LogReader(h.name, logPath, new RunnerLogPlace(runner, logPath));
      let n = 0;
      const r1 = await reader.read(() => void n++, { since: T });
      expect([n, r1.files]).toEqual([301, ['predictions_2026-12-01.jsonl']]);
      // more of yesterday, then the rotation: only what is new is read
      appendFileSync(day1, rec(300) + rec(301));
      writeFileSync(day2, Array.from({ length: 400 }, (_, i) => rec(600 + i, 400)).join(''));
      n = 0;
      const r2 = await reader.read(() => void n++);
      expect([n, r2.files]).toEqual([402, ['predictions_2026-12-01.jsonl', 'predictions_2026-12-02.jsonl']]);
      expect(r2.bytes).toBe(Buffer.byteLength(rec(300) + rec(301)) + Buffer.byteLength(readFileSync(day2)));

      const signals = SignalsConfig.parse({
        window: '10m',
        sources: { requests: { kind: 'jsonl', path: logPath, on: 'hosts' } },
        metrics: { p95: { kind: 'quantile', source: 'requests', field: 'latency_ms', q: 0.95 } },
        gates: [{ name: 'p95', metric: 'p95', max: 250, for: '15m' }],
      } satisfies SignalsInput);
      const host: Host = { name: h.name, address: h.address, port: h.port, transport: 'ssh', pathPrefix: [] };
      const m = new Monitor(signals, openSources(signals, { hosts: [host], runnerFor: () => runner }), { cohorts: 'keys' });
      const tick = await m.tick(T + 1000 * 1000);
      expect(tick.values.cohorts[h.name]!.p95).toMatchObject({ value: 400, samples: 400 });
      expect(tick.values.sources.requests).toMatchObject({ malformed: 1, malformedAt: [`${h.name}:predictions_2026-12-01.jsonl:${Buffer.byteLength(rec(0)) * 300}`] });
      expect(tick.results[0]!.evaluations[0]).toMatchObject({ verdict: 'warn', clock: 'breached 0s of 15m' });
      expect(tick.read.requests!.lines).toBe(703);
      const again = await m.tick(T + 1000 * 1000 + 60_000);
      expect(again.read.requests).toEqual({ lines: 0, bytes: 0 });
    } finally {
      await runner.close();
    }
  });

  it('the demo service started over SSH loads prom-client from the path its unit names, and logs its requests', async () => {
    const h = fleet.hosts[0]!;
    const runner = new SshRunner({ name: h.name, address: h.address, port: h.port, user: h.user }, { privateKeyPath: fleet.clientKeyPath, knownHostsPath: fleet.knownHostsPath, hostKeys: 'verify', keepaliveMs: 5000, connectTimeoutMs: 5000 });
    try {
      expect((await runner.exec(command(raw('systemctl start demo-chat')))).code).toBe(0);
      const base = `http://127.0.0.1:${appPort}`;
      const deadline = Date.now() + 10_000;
      while (!(await fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline) throw new Error('the demo service did not come up over SSH');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await chat(base, 1)).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^predictions_total\{route="linear_head",version="v1\.1\.0"\} 1$/m);
      expect(readdirSync(path.join(h.root, 'demo-logs'))).toEqual([`predictions_${new Date().toISOString().slice(0, 10)}.jsonl`]);
    } finally {
      await runner.exec(command(raw('systemctl stop demo-chat')));
      await runner.close();
    }
  });
});
