// Records -> values: the field scanner against JSON.parse, exact quantiles, reducers per cohort,
// incremental reading across a daily rotation, the monitor's state resumed, a replay.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RecordAggregator } from '../../tasks/lib/signals/aggregate.ts';
import { SignalsConfig, type SignalsInput } from '../../tasks/lib/config/signals.ts';
import { Monitor, replayFile } from '../../tasks/lib/signals/monitor.ts';
import { QuantileAccumulator, nearestRank } from '../../tasks/lib/signals/quantile.ts';
import { FieldScanner, Malformed, timeOf } from '../../tasks/lib/signals/scan.ts';
import { LineSplitter } from '../../tasks/lib/signals/sources/lines.ts';
import { LocalLogPlace, LogReader } from '../../tasks/lib/signals/sources/log-reader.ts';
import { openSources } from '../../tasks/lib/signals/sources/open.ts';
import { fisherGreater, mannWhitneyGreater, twoProportionGreater } from '../../tasks/lib/signals/stats.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const MIN = 60_000;
const rec = (i: number, over: Record<string, unknown> = {}) => ({
  timestamp: new Date(T0 + i * 1000).toISOString(), route: 'linear_head', status: 200, latency_ms: 100 + (i % 10), version: 'v1.1.0',
  prediction: { primary: 'joy', confidence: 0.8, low_confidence: false, rule_applied: null }, text_preview: 'x', ...over,
});
const lines = (rs: object[]) => rs.map((r) => `${JSON.stringify(r)}\n`).join('');

const SEED: SignalsInput = {
  window: '15m',
  sources: { app: { kind: 'jsonl', path: '/tmp/x/predictions_{date}.jsonl', on: 'local', cohortBy: { field: 'version' } } },
  metrics: {
    linear: { kind: 'share', source: 'app', field: 'route', equals: 'linear_head' },
    regex: { kind: 'share', source: 'app', field: 'route', equals: 'regex' },
    p95: { kind: 'quantile', source: 'app', field: 'latency_ms', q: 0.95 },
    tiebreak: { kind: 'share', source: 'app', field: 'prediction.rule_applied', present: true },
    lowconf: { kind: 'share', source: 'app', field: 'prediction.low_confidence', equals: true },
    errors: { kind: 'errorRate', source: 'app' },
    rate: { kind: 'rate', source: 'app' },
  },
  gates: [
    { name: 'linear-head', metric: 'linear', min: 90, for: '15m' },
    { name: 'p95', metric: 'p95', max: 250, for: '15m' },
  ],
};

describe('FieldScanner', () => {
  const paths = ['timestamp', 'latency_ms', 'route', 'prediction.low_confidence', 'prediction.rule_applied', 'missing', 'prediction', 'a.b.c'];
  const s = new FieldScanner(paths);
  const pick = (o: Record<string, unknown>) => paths.map((p) => p.split('.').reduce<unknown>((x, k) => (x === undefined || x === null ? undefined : (x as Record<string, unknown>)[k]), o));

  it('reads the same values as JSON.parse, escapes and unicode included', () => {
    const objs = [
      rec(1),
      { ...rec(2), route: 'r\u00e9gex "q" \\ \n', latency_ms: -12.5e2, prediction: { low_confidence: true, rule_applied: 'tiebreak', nested: [1, { x: '}' }] } },
      { a: { b: { c: 0.1 } }, 'latency_ms': 46.26, route: null, extra: [[], {}, ''] },
      { '\u0072oute': 'escaped key' },
    ];
    for (const o of objs) {
      const text = JSON.stringify(o);
      const buf = Buffer.from(`  ${text} `);
      const row = s.scan(buf, 0, buf.length).map((v, i) => (paths[i] === 'prediction' && typeof v === 'string' ? JSON.parse(v) : v));
      expect(row).toEqual(pick(JSON.parse(text)));
    }
  });

  it('throws Malformed on broken lines', () => {
    for (const bad of ['{"a":1', '{"a":}', 'nope', '[1,2]', '{"a":1}x', '{"a":tru}', '{"a" 1}', '']) {
      const buf = Buffer.from(bad);
      expect(() => s.scan(buf, 0, buf.length), bad).toThrow(Malformed);
    }
  });

  it('times: ISO with Z, offsets, fractions; epoch seconds and ms', () => {
    expect(timeOf('2026-12-01T10:00:00.123Z')).toBe(T0 + 123);
    expect(timeOf('2026-12-01T11:00:00+01:00')).toBe(T0);
    expect(timeOf('2026-12-01T10:00:00.5Z')).toBe(T0 + 500);
    expect(timeOf(T0 / 1000)).toBe(T0);
    expect(timeOf('1796119200.250')).toBe(Date.parse('2026-12-01T10:00:00.250Z'));
    expect(timeOf('not a time')).toBeNull();
  });
});

describe('quantiles and statistics', () => {
  it('exact nearest rank up to the limit, a sketch beyond it (relative error <= 0.1%)', () => {
    const exact = new QuantileAccumulator(1000);
    for (let i = 1; i <= 1000; i++) exact.add(i);
    expect([exact.quantile(0.95), exact.quantile(0.5), exact.method]).toEqual([950, 500, 'exact']);
    const over = new QuantileAccumulator(1000);
    for (let i = 1; i <= 5000; i++) over.add(i);
    expect(over.method).toMatch(/^HdrHistogram/);
    expect(Math.abs(over.quantile(0.95)! - 4750) / 4750).toBeLessThanOrEqual(0.001);
    expect(nearestRank([1, 2, 3, 4], 4, 0.5)).toBe(2);
  });

  it('one-sided tests say when the canary is worse', () => {
    const a = Float64Array.from({ length: 200 }, (_, i) => 100 + i);
    const b = Float64Array.from({ length: 200 }, (_, i) => 50 + i);
    expect(mannWhitneyGreater(a, b).p).toBeLessThan(0.001);
    expect(mannWhitneyGreater(b, a).p).toBeGreaterThan(0.99);
    expect(mannWhitneyGreater(a, a).p).toBeGreaterThan(0.4);
    expect(twoProportionGreater(40, 1000, 20, 1000).p).toBeLessThan(0.01);
    // Fisher, 3/10 vs 0/10: P(X >= 3) = C(3,3)C(17,7)/C(20,10) = 19448/184756
    expect(fisherGreater(3, 10, 0, 10).p).toBeCloseTo(19448 / 184756, 10);
  });
});

describe('RecordAggregator', () => {
  const signals = SignalsConfig.parse(SEED);
  const agg = (cohorts: 'all' | 'keys' | Record<string, string[]>, to = T0 + 15 * MIN) =>
    new RecordAggregator({ source: 'app', config: signals.sources.app as never, metrics: signals.metrics, window: { from: to - 15 * MIN, to }, cohorts });

  it('the five seed metrics per cohort, malformed lines counted, records outside the window left out', () => {
    const a = agg({ canary: ['v1.2.0'], stable: ['v1.1.0'] });
    const text = lines([
      ...Array.from({ length: 100 }, (_, i) => rec(i)),
      ...Array.from({ length: 20 }, (_, i) => rec(i, { version: 'v1.2.0', route: i < 3 ? 'regex' : 'linear_head', latency_ms: 300 + i, status: i < 2 ? 503 : 200, prediction: { low_confidence: i < 5, rule_applied: i < 1 ? 'tiebreak_anger_keyword' : null } })),
      rec(-3600),
    ]) + '{"timestamp": "2026-12-01T10:00:01Z", "trunc\n\n';
    const sp = new LineSplitter((buf, s, e, off) => a.line(buf, s, e, 'h', 'f', off));
    sp.push(Buffer.from(text));
    const v = a.values();
    expect(v.canary).toMatchObject({ linear: { value: 85, samples: 20 }, regex: { value: 15 }, p95: { value: 318, method: 'exact' }, tiebreak: { value: 5 }, lowconf: { value: 25 }, errors: { value: 10, hits: 2 } });
    expect(v.stable).toMatchObject({ linear: { value: 100, samples: 100 }, p95: { value: 109 }, errors: { value: 0 } });
    expect(v.stable!.rate!.value).toBeCloseTo(100 / 15, 10);
    expect(a.sourceStats()).toMatchObject({ lines: 123, malformed: 1, records: 120, malformedAt: [expect.stringMatching(/^h:f:\d+$/)] });
  });
});

describe('incremental reading', () => {
  it('reads only what is new, waits for an unfinished line, follows the daily rotation', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signals-log-'));
    const p = path.join(dir, 'predictions_{date}.jsonl');
    const day1 = path.join(dir, 'predictions_2026-12-01.jsonl');
    const day2 = path.join(dir, 'predictions_2026-12-02.jsonl');
    writeFileSync(day1, lines([rec(1), rec(2)]) + '{"timestamp":');
    const reader = new LogReader('h', p, new LocalLogPlace(p));
    const seen: string[] = [];
    const read = () => reader.read((buf, s, e, file, off) => seen.push(`${file}@${off}:${JSON.parse(buf.toString('utf8', s, e)).timestamp.slice(11, 19)}`), { since: T0 });
    expect((await read()).files).toEqual(['predictions_2026-12-01.jsonl']);
    expect(seen).toEqual(['predictions_2026-12-01.jsonl@0:10:00:01', expect.stringMatching(/@\d+:10:00:02$/)]);
    appendFileSync(day1, '"2026-12-01T23:59:59Z"}\n');
    writeFileSync(day2, lines([rec(86_400)]));
    seen.length = 0;
    await read();
    expect(seen.map((x) => x.replace(/@\d+/, ''))).toEqual(['predictions_2026-12-01.jsonl:23:59:59', 'predictions_2026-12-02.jsonl:10:00:00']);
    const again = await read();
    expect([again.bytes, again.files]).toEqual([0, []]);
    // the position is plain JSON: another reader resumes exactly there
    appendFileSync(day2, lines([rec(86_401)]));
    const other = new LogReader('h', p, new LocalLogPlace(p), JSON.parse(JSON.stringify(reader.position())));
    const got: string[] = [];
    await other.read((buf, s, e) => got.push(buf.toString('utf8', s, e)));
    expect(got.map((l) => JSON.parse(l).timestamp)).toEqual([rec(86_401).timestamp]);
  });
});

describe('Monitor', () => {
  it('keeps only the window, and resumes elsewhere from its JSON state with the same clocks and window', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signals-mon-'));
    const file = path.join(dir, 'predictions_{date}.jsonl');
    const signals = SignalsConfig.parse({ ...SEED, sources: { app: { kind: 'jsonl', path: file, on: 'local' } } });
    const open = () => openSources(signals, { hosts: [], runnerFor: () => { throw new Error('no runner'); } });
    const today = path.join(dir, 'predictions_2026-12-01.jsonl');
    // minute 0..19: P95 300 ms (breach) from minute 5 on
    writeFileSync(today, lines(Array.from({ length: 20 * 60 }, (_, i) => rec(i, { latency_ms: i >= 5 * 60 ? 300 : 100 }))));
    const m = new Monitor(signals, open(), { cohorts: 'all' });
    const r1 = await m.tick(T0 + 12 * MIN);
    expect(r1.results[0]!.evaluations.find((e) => e.gate === 'p95')).toMatchObject({ verdict: 'warn', clock: 'breached 0s of 15m' });
    const state = JSON.parse(JSON.stringify(m.state()));
    const resumed = new Monitor(signals, open(), { cohorts: 'all', state });
    const r2 = await resumed.tick(T0 + 28 * MIN);
    const p95 = r2.results[0]!.evaluations.find((e) => e.gate === 'p95')!;
    expect([p95.verdict, p95.clock]).toEqual(['fail', 'breached 16m of 15m']);
    // the resumed monitor re-read from the window's start: the values cover minutes 13..20, not only what was new
    expect(r2.values.cohorts.all!.p95!.samples).toBe(7 * 60);
  });

  it('replays a recorded file tick by tick on the records own time', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signals-replay-'));
    const file = path.join(dir, 'recorded.jsonl');
    writeFileSync(file, lines(Array.from({ length: 40 * 60 }, (_, i) => rec(i, { latency_ms: i >= 10 * 60 ? 400 : 100 }))));
    const signals = SignalsConfig.parse(SEED);
    const rounds = await replayFile(signals, file, { cohorts: 'all', interval: 5 * MIN });
    const p95 = rounds.map((r) => r.results[0]!.evaluations.find((e) => e.gate === 'p95')!.verdict);
    // ticks at minutes 5..40; breached from minute 10, seen at 15: fails after 15 minutes of breach (at 35)
    expect(p95).toEqual(['pass', 'pass', 'warn', 'warn', 'warn', 'warn', 'fail', 'fail']);
  });
});
