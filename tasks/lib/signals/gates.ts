/**
 * A gate judged: a pure function of (value, baseline, sample counts, thresholds, clock, now) ->
 * an Evaluation and the clock to keep. `for: 15m` means breached continuously for longer than
 * 15 minutes -> fail; a shorter breach warns with its clock; a pass resets it; no data (and an
 * unavailable source) leaves it as it was. Critical gates fail at once.
 */
import { isRelative, THRESHOLD_KEYS, type GateConfig, type ThresholdKey } from '../config/signals.ts';
import { clockText } from '../config/signal-duration.ts';
import { fisherGreater, mannWhitneyGreater, twoProportionGreater } from './stats.ts';
import { CLEAR_CLOCK, type ClockState, type Evaluation, type GateVerdict, type MetricValue } from './types.ts';

export interface GateInput {
  readonly gate: GateConfig;
  readonly unit: string;
  readonly cohort: string;
  readonly value: MetricValue | undefined;
  /** The baseline cohort's name and value; absent: relative thresholds cannot be judged. */
  readonly baselineCohort?: string;
  readonly baseline?: MetricValue | undefined;
  readonly clock?: ClockState;
  /** Epoch ms. */
  readonly now: number;
}

export interface GateOutcome {
  readonly evaluation: Evaluation;
  readonly clock: ClockState;
}

type Thresholds = Pick<GateConfig, ThresholdKey>;

/** `12.3`, `0.05`, `1234`: enough digits to read, not more. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? String(Math.round(v)) : a >= 1 ? String(Math.round(v * 100) / 100) : String(Math.round(v * 10000) / 10000);
}
const withUnit = (v: number, unit: string) => (unit === '%' ? `${num(v)}%` : unit ? `${num(v)} ${unit}` : num(v));

/** The thresholds as text: `>= 90%`, `<= 250 ms`, `1%..5%`, `<= baseline +50%`. */
export function thresholdText(t: Thresholds, unit: string): string {
  const parts: string[] = [];
  if (t.min !== undefined) parts.push(`>= ${withUnit(t.min, unit)}`);
  if (t.max !== undefined) parts.push(`<= ${withUnit(t.max, unit)}`);
  if (t.range) parts.push(`${withUnit(t.range[0], unit)}..${withUnit(t.range[1], unit)}`);
  if (t.maxIncreasePct !== undefined) parts.push(`<= baseline +${num(t.maxIncreasePct)}%`);
  if (t.maxIncrease !== undefined) parts.push(`<= baseline +${withUnit(t.maxIncrease, unit)}`);
  if (t.withinPct !== undefined) parts.push(`baseline ±${num(t.withinPct)}%`);
  return parts.join(', ');
}

function gateThresholdText(g: GateConfig, unit: string): string {
  const fail = thresholdText(g, unit);
  const warn = g.warn ? thresholdText(g.warn, unit) : '';
  const clock = g.severity === 'critical' ? ' (critical)' : g.for ? ` for ${clockText(g.for)}` : '';
  return [fail ? `${fail}${clock}` : '', warn ? `warn unless ${warn}` : ''].filter(Boolean).join('; ');
}

interface Breach {
  readonly key: ThresholdKey;
  readonly text: string;
}

/** Which thresholds the value breaks; relative ones only with a baseline value. */
function breaches(t: Thresholds, v: number, b: number | null | undefined, unit: string, zeroMax: number): Breach[] {
  const out: Breach[] = [];
  const u = (x: number) => withUnit(x, unit);
  if (t.min !== undefined && v < t.min) out.push({ key: 'min', text: `${u(v)} < ${u(t.min)}` });
  if (t.max !== undefined && v > t.max) out.push({ key: 'max', text: `${u(v)} > ${u(t.max)}` });
  if (t.range && (v < t.range[0] || v > t.range[1])) out.push({ key: 'range', text: `${u(v)} outside ${u(t.range[0])}..${u(t.range[1])}` });
  if (b === null || b === undefined) return out;
  if (t.maxIncreasePct !== undefined) {
    if (b === 0 && v > zeroMax) out.push({ key: 'maxIncreasePct', text: `${u(v)} against a baseline of 0: an unbounded increase` });
    else if (b > 0 && v > b * (1 + t.maxIncreasePct / 100)) out.push({ key: 'maxIncreasePct', text: `${u(v)} is ${pct(v, b)} of baseline ${u(b)} (limit +${num(t.maxIncreasePct)}%)` });
  }
  if (t.maxIncrease !== undefined && v > b + t.maxIncrease) out.push({ key: 'maxIncrease', text: `${u(v)} is +${u(v - b)} over baseline ${u(b)} (limit +${u(t.maxIncrease)})` });
  if (t.withinPct !== undefined) {
    if (b === 0 && Math.abs(v) > zeroMax) out.push({ key: 'withinPct', text: `${u(v)} against a baseline of 0` });
    else if (b !== 0 && Math.abs(v - b) > Math.abs(b) * (t.withinPct / 100)) out.push({ key: 'withinPct', text: `${u(v)} is ${pct(v, b)} of baseline ${u(b)} (limit ±${num(t.withinPct)}%)` });
  }
  return out;
}

function pct(v: number, b: number): string {
  const d = ((v - b) / Math.abs(b)) * 100;
  return `${d >= 0 ? '+' : ''}${num(d)}%`;
}

const needsBaseline = (t: Thresholds | undefined) => !!t && THRESHOLD_KEYS.some((k) => isRelative(k) && t[k] !== undefined);
const hasAbsolute = (t: Thresholds | undefined) => !!t && THRESHOLD_KEYS.some((k) => !isRelative(k) && t[k] !== undefined);

/** The p-value of "the cohort is worse than its baseline" for a gate's test; null when the values are not there. */
function testP(g: GateConfig, v: MetricValue, b: MetricValue): number | null {
  const kind = g.test!.kind;
  if (kind === 'mann-whitney') return v.values && b.values ? mannWhitneyGreater(v.values, b.values).p : null;
  if (v.hits === undefined || b.hits === undefined) return null;
  return kind === 'fisher' ? fisherGreater(v.hits, v.samples, b.hits, b.samples).p : twoProportionGreater(v.hits, v.samples, b.hits, b.samples).p;
}

export function evaluateGate(input: GateInput): GateOutcome {
  const { gate: g, unit, cohort, now } = input;
  const clock = input.clock ?? CLEAR_CLOCK;
  const v = input.value;
  const b = input.baseline;
  const relative = needsBaseline(g) || needsBaseline(g.warn);
  const base = {
    gate: g.name,
    metric: g.metric,
    cohort,
    ...(input.baselineCohort !== undefined ? { baselineCohort: input.baselineCohort } : {}),
    value: v?.value ?? null,
    ...(relative ? { baseline: b?.value ?? null, baselineSamples: b?.samples ?? 0 } : {}),
    unit,
    threshold: gateThresholdText(g, unit),
    severity: g.severity,
    samples: v?.samples ?? 0,
    at: new Date(now).toISOString(),
  };
  const done = (verdict: GateVerdict, why: string, next: ClockState, clockShown = '', extra: Partial<Evaluation> = {}): GateOutcome => ({
    evaluation: { ...base, ...extra, verdict, clock: clockShown, why },
    clock: { ...next, lastAt: now, lastVerdict: verdict },
  });
  const kept = (verdict: GateVerdict, why: string) => done(verdict, why, clock, runningClock(clock, g, now));

  const unavailable = v?.unavailable ?? (relative ? b?.unavailable : undefined);
  if (unavailable) return kept(g.onUnavailable, `the source is unavailable (${unavailable}); onUnavailable: ${g.onUnavailable}`);
  if (!v || v.value === null) return kept('inconclusive', `no data for ${cohort}${v ? ` (${v.samples} samples)` : ''}: neither a pass nor a failure`);
  if (v.samples < g.minSamples) return kept('inconclusive', `${v.samples} samples in ${cohort}, fewer than minSamples ${g.minSamples}: too few to judge`);

  const absoluteOnly = hasAbsolute(g) || hasAbsolute(g.warn);
  let baselineValue: number | null = null;
  let note = '';
  if (relative) {
    if (input.baselineCohort === undefined) {
      if (!absoluteOnly) return kept('inconclusive', 'no baseline cohort to compare with (relative thresholds only)');
      note = '; relative thresholds skipped: no baseline cohort';
    } else if (!b || b.value === null) {
      if (!absoluteOnly) return kept('inconclusive', `no data for the baseline ${input.baselineCohort}: cannot compare`);
      note = `; relative thresholds skipped: no data for ${input.baselineCohort}`;
    } else if (b.samples < g.minSamples) {
      return kept('inconclusive', `${b.samples} samples in the baseline ${input.baselineCohort}, fewer than minSamples ${g.minSamples}`);
    } else baselineValue = b.value;
  }

  let fails = breaches(g, v.value, baselineValue, unit, g.zeroBaselineMax);
  let warns = g.warn ? breaches(g.warn, v.value, baselineValue, unit, g.zeroBaselineMax) : [];
  let test: Evaluation['test'];
  if (g.test && baselineValue !== null && [...fails, ...warns].some((x) => isRelative(x.key))) {
    if (v.samples < g.test.minSamples || b!.samples < g.test.minSamples)
      return kept('inconclusive', `the ${g.test.kind} test needs ${g.test.minSamples} samples in each cohort (${v.samples} and ${b!.samples})`);
    const p = testP(g, v, b!);
    if (p === null) return kept('inconclusive', `the ${g.test.kind} test cannot run: the values are not kept (over the exact limit)`);
    const significant = p < 1 - g.test.confidence;
    test = { kind: g.test.kind, p, significant };
    if (!significant) {
      fails = fails.filter((x) => !isRelative(x.key));
      warns = warns.filter((x) => !isRelative(x.key));
      note += `; the difference is not significant (${g.test.kind} p=${num(p)} at ${num(g.test.confidence * 100)}% confidence)`;
    } else note += `; significant (${g.test.kind} p=${num(p)})`;
  }
  const extra = test ? { test } : {};
  const value = withUnit(v.value, unit);

  if (fails.length > 0) {
    const since = clock.breachedSince ?? now;
    const breached: ClockState = { ...clock, breachedSince: since };
    const what = fails.map((f) => f.text).join('; ');
    if (g.severity === 'critical') return done('fail', `${what}: critical, fails at once${note}`, breached, '', extra);
    if (g.for === undefined) return done('fail', `${what}${note}`, breached, '', extra);
    const elapsed = now - since;
    const shown = `breached ${clockText(elapsed)} of ${clockText(g.for)}`;
    if (elapsed > g.for) return done('fail', `${what}, continuously for ${clockText(elapsed)} (longer than ${clockText(g.for)})${note}`, breached, shown, extra);
    return done('warn', `${what}, for ${clockText(elapsed)} so far: fails if still breached after ${clockText(g.for)}${note}`, breached, shown, extra);
  }
  const cleared = clock.breachedSince !== null ? `; cleared a breach that had lasted ${clockText(now - clock.breachedSince)}` : '';
  const reset: ClockState = { ...clock, breachedSince: null };
  if (warns.length > 0) return done('warn', `${warns.map((w) => w.text).join('; ')} (warning threshold)${cleared}${note}`, reset, '', extra);
  return done('pass', `${value} within ${thresholdText(g, unit) || thresholdText(g.warn ?? {}, unit)}${cleared}${note}`, reset, '', extra);
}

/** The clock shown while a breach is neither confirmed nor cleared (no data, source down). */
function runningClock(clock: ClockState, g: GateConfig, now: number): string {
  if (clock.breachedSince === null || g.for === undefined) return '';
  return `breached ${clockText(now - clock.breachedSince)} of ${clockText(g.for)} (no new data)`;
}
