// Gate logic with a controlled clock: every `now` is given, nothing reads the wall clock.
import { describe, expect, it } from 'vitest';
import { Gate, type GateConfig } from '../../tasks/lib/config/signals.ts';
import { evaluateGate } from '../../tasks/lib/signals/gates.ts';
import type { ClockState, MetricValue } from '../../tasks/lib/signals/types.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-12-01T10:00:00Z');
const gate = (g: Record<string, unknown>): GateConfig => Gate.parse({ name: 'g', metric: 'm', ...g });
const val = (value: number | null, samples = 100, extra: Partial<MetricValue> = {}): MetricValue => ({ value, samples, ...extra });

/** Evaluates once per minute with the given values; returns the verdicts and the last evaluation. */
function run(g: GateConfig, values: (number | null)[], baseline?: number) {
  let clock: ClockState | undefined;
  const verdicts: string[] = [];
  let last;
  values.forEach((v, i) => {
    const out = evaluateGate({ gate: g, unit: 'ms', cohort: 'canary', value: val(v), ...(baseline !== undefined ? { baselineCohort: 'stable', baseline: val(baseline) } : {}), clock, now: T0 + i * MIN });
    clock = out.clock;
    verdicts.push(out.evaluation.verdict);
    last = out.evaluation;
  });
  return { verdicts, last: last!, clock: clock! };
}

describe('continuous-breach clocks', () => {
  const p95 = gate({ max: 250, for: '15m' });

  it('warns while breached up to 15 minutes, fails after, and shows the clock', () => {
    const r = run(p95, Array(17).fill(300));
    expect(r.verdicts.slice(0, 16)).toEqual(Array(16).fill('warn'));
    expect(r.verdicts[16]).toBe('fail');
    expect(r.last.clock).toBe('breached 16m of 15m');
    expect(r.last.why).toContain('continuously for 16m (longer than 15m)');
  });

  it('a 6m12s breach reads "breached 6m12s of 15m"', () => {
    const first = evaluateGate({ gate: p95, unit: 'ms', cohort: 'all', value: val(300), now: T0 });
    const later = evaluateGate({ gate: p95, unit: 'ms', cohort: 'all', value: val(300), clock: first.clock, now: T0 + 6 * MIN + 12_000 });
    expect([later.evaluation.verdict, later.evaluation.clock]).toEqual(['warn', 'breached 6m12s of 15m']);
  });

  it('flapping: breach 6 min, clear 1 min, breach 10 min is not 15 continuous', () => {
    const values = [...Array(7).fill(300), 100, ...Array(11).fill(300)];
    const r = run(p95, values);
    expect(r.verdicts).not.toContain('fail');
    expect(r.verdicts[7]).toBe('pass');
    expect(r.last.clock).toBe('breached 10m of 15m');
  });

  it('the clock state is plain JSON: a copy resumes on another machine', () => {
    const a = run(p95, Array(10).fill(300));
    const resumed = JSON.parse(JSON.stringify(a.clock)) as ClockState;
    const out = evaluateGate({ gate: p95, unit: 'ms', cohort: 'canary', value: val(300), clock: resumed, now: T0 + 16 * MIN });
    expect(out.evaluation.verdict).toBe('fail');
  });

  it('no data neither clears nor confirms a breach', () => {
    const r = run(p95, [300, 300, null, null, 300]);
    expect(r.verdicts).toEqual(['warn', 'warn', 'inconclusive', 'inconclusive', 'warn']);
    expect(r.last.clock).toBe('breached 4m of 15m');
  });
});

describe('verdicts', () => {
  it('inconclusive below minSamples: never a pass, never a failure', () => {
    const g = gate({ max: 250, minSamples: 20 });
    for (const v of [100, 900]) {
      const out = evaluateGate({ gate: g, unit: 'ms', cohort: 'all', value: val(v, 19), now: T0 });
      expect(out.evaluation.verdict).toBe('inconclusive');
      expect(out.evaluation.why).toBe('19 samples in all, fewer than minSamples 20: too few to judge');
    }
    expect(evaluateGate({ gate: g, unit: 'ms', cohort: 'all', value: val(100, 20), now: T0 }).evaluation.verdict).toBe('pass');
  });

  it('critical fails at once, whatever `for` says', () => {
    const g = gate({ max: 0, for: '15m', severity: 'critical' });
    const out = evaluateGate({ gate: g, unit: '', cohort: 'all', value: val(1), now: T0 });
    expect(out.evaluation.verdict).toBe('fail');
    expect(out.evaluation.why).toBe('1 > 0: critical, fails at once');
  });

  it('warn thresholds warn; ranges; without `for` a breach fails at once', () => {
    const share = gate({ max: 2, warn: { max: 1 } });
    expect(evaluateGate({ gate: share, unit: '%', cohort: 'all', value: val(1.5), now: T0 }).evaluation).toMatchObject({ verdict: 'warn', threshold: '<= 2%; warn unless <= 1%' });
    expect(evaluateGate({ gate: share, unit: '%', cohort: 'all', value: val(2.5), now: T0 }).evaluation.verdict).toBe('fail');
    const range = gate({ range: [1, 5] });
    expect(evaluateGate({ gate: range, unit: '%', cohort: 'all', value: val(0.5), now: T0 }).evaluation.why).toBe('0.5% outside 1%..5%');
  });

  it('relative gates: +50% errors, +500 ms P95, ±10% latency against the baseline cohort', () => {
    const errors = gate({ maxIncreasePct: 50 });
    const at = (g: GateConfig, v: number, b: number) => evaluateGate({ gate: g, unit: 'ms', cohort: 'canary', value: val(v), baselineCohort: 'stable', baseline: val(b), now: T0 }).evaluation;
    expect(at(errors, 1.5, 1).verdict).toBe('pass');
    expect(at(errors, 1.6, 1)).toMatchObject({ verdict: 'fail', value: 1.6, baseline: 1, why: '1.6 ms is +60% of baseline 1 ms (limit +50%)' });
    expect(at(gate({ maxIncrease: 500 }), 1600, 1000).verdict).toBe('fail');
    expect(at(gate({ withinPct: 10 }), 89, 100).verdict).toBe('fail');
    expect(at(gate({ withinPct: 10 }), 109, 100).verdict).toBe('pass');
  });

  it('relative gates with a zero baseline: 0 vs 0 passes, any rise fails unless zeroBaselineMax allows it', () => {
    const g = gate({ maxIncreasePct: 50 });
    const at = (g2: GateConfig, v: number) => evaluateGate({ gate: g2, unit: '%', cohort: 'canary', value: val(v), baselineCohort: 'stable', baseline: val(0), now: T0 }).evaluation;
    expect(at(g, 0).verdict).toBe('pass');
    expect(at(g, 0.2)).toMatchObject({ verdict: 'fail', why: '0.2% against a baseline of 0: an unbounded increase' });
    expect(at(gate({ maxIncreasePct: 50, zeroBaselineMax: 0.5 }), 0.2).verdict).toBe('pass');
  });

  it('relative thresholds without a baseline cohort are inconclusive', () => {
    const out = evaluateGate({ gate: gate({ maxIncreasePct: 50 }), unit: '%', cohort: 'all', value: val(3), now: T0 });
    expect([out.evaluation.verdict, out.evaluation.why]).toEqual(['inconclusive', 'no baseline cohort to compare with (relative thresholds only)']);
  });

  it.each([
    ['warn', 'warn'],
    ['inconclusive', 'inconclusive'],
    ['fail', 'fail'],
  ] as const)('Prometheus down under onUnavailable %s -> %s, clock kept', (on, verdict) => {
    const g = gate({ max: 0, onUnavailable: on, for: '15m' });
    const before: ClockState = { breachedSince: T0, lastAt: T0, lastVerdict: 'warn' };
    const out = evaluateGate({ gate: g, unit: '', cohort: 'all', value: val(null, 0, { unavailable: 'http://127.0.0.1:9: connection refused' }), clock: before, now: T0 + 5 * MIN });
    expect(out.evaluation.verdict).toBe(verdict);
    expect(out.evaluation.why).toBe(`the source is unavailable (http://127.0.0.1:9: connection refused); onUnavailable: ${on}`);
    expect(out.clock.breachedSince).toBe(T0);
  });

  it('a statistical test: a relative breach counts only when significant', () => {
    const g = gate({ maxIncreasePct: 50, test: { kind: 'two-proportion', confidence: 0.95, minSamples: 20 } });
    const at = (hits: number, n: number, bHits: number, bn: number) =>
      evaluateGate({ gate: g, unit: '%', cohort: 'canary', value: val((hits * 100) / n, n, { hits }), baselineCohort: 'stable', baseline: val((bHits * 100) / bn, bn, { hits: bHits }), now: T0 }).evaluation;
    const small = at(2, 50, 1, 50); // 4% vs 2%: +100%, but 2 errors in 50 is noise
    expect(small.verdict).toBe('pass');
    expect(small.test?.significant).toBe(false);
    const big = at(400, 10_000, 200, 10_000); // 4% vs 2% over 10,000 requests each
    expect([big.verdict, big.test?.significant]).toEqual(['fail', true]);
    expect(at(2, 10, 1, 10).verdict).toBe('inconclusive');
  });
});
