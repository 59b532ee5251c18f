/**
 * Where the time of one canary run went, from its own records: the event log (each step's traffic
 * change and every decision) and the report's step durations (the deploys, smoke checks, load
 * balancer changes). The baseline is what no controller can go below: the deploys it had to do,
 * and per step the wait until the gates passed (they need their minimum samples first) plus the
 * bake. What remains is the controller's own overhead.
 */
import { cpuBetween, type CpuSample } from './cpu.ts';

export interface CanaryEventLine { readonly type: string; readonly at: string; readonly step: number; readonly action?: string; readonly verdict?: string }
export interface StepRecord { readonly name: string; readonly durationMs: number }

export interface StepTiming {
  readonly step: number;
  /** Traffic moved (epoch ms). */
  readonly from: number;
  /** The promote decision (epoch ms). */
  readonly to: number;
  /** Until the judgement that began the pass streak that promoted (before it: too few samples, inconclusive). */
  readonly waitMs: number;
  /** After the bake, until the promote decision. */
  readonly lateMs: number;
}

export interface Timeline {
  readonly steps: readonly StepTiming[];
  /** Each deploy's own steps (backup ∥ fetch counted once, as the longer), by what was deployed. */
  readonly deploys: readonly { readonly what: string; readonly ms: number }[];
  readonly smokeMs: number;
  /** Drains, weight changes and the file put back at 100%. */
  readonly lbMs: number;
  /** The first change (the canary hosts out of rotation) began (epoch ms). */
  readonly firstChange: number;
  /** The last decision (epoch ms). */
  readonly lastDecision: number;
}

const PARALLEL = ['backup', 'prepare'];
const SERIAL = ['checkout', 'install', 'migrate', 'switch', 'restart', 'verify'];

/** The deploys in the report's step records: each one follows a drain (the host out of rotation first). */
export function deploysOf(records: readonly StepRecord[], canaryHosts: string): { what: string; ms: number }[] {
  const out: { what: string; parallel: number; serial: number }[] = [];
  let current: (typeof out)[number] | null = null;
  for (const r of records) {
    if (r.name === 'drain' || r.name.startsWith('drain ')) {
      current = { what: r.name === 'drain' ? canaryHosts : r.name.slice('drain '.length), parallel: 0, serial: 0 };
      out.push(current);
    } else if (current && PARALLEL.includes(r.name)) current.parallel = Math.max(current.parallel, r.durationMs);
    else if (current && SERIAL.includes(r.name)) current.serial += r.durationMs;
    else current = null;
  }
  return out.map((d) => ({ what: d.what, ms: d.parallel + d.serial }));
}

export function timelineOf(events: readonly CanaryEventLine[], records: readonly StepRecord[], bakeMs: number, canaryHosts: string): Timeline {
  const steps: StepTiming[] = [];
  for (const t of events.filter((e) => e.type === 'traffic' && e.step >= 0)) {
    const decisions = events.filter((e) => e.type === 'decision' && e.step === t.step);
    const promote = decisions.at(-1);
    // the pass streak that promoted: after the last judgement that did not pass
    const lastNotPassing = decisions.map((d) => d.verdict !== 'pass').lastIndexOf(true);
    const pass = decisions[lastNotPassing + 1];
    if (!promote || promote.action !== 'promote' || !pass) throw new Error(`step ${t.step + 1} was not promoted after passing gates`);
    const from = Date.parse(t.at);
    const to = Date.parse(promote.at);
    const waitMs = Date.parse(pass.at) - from;
    steps.push({ step: t.step, from, to, waitMs, lateMs: to - from - waitMs - bakeMs });
  }
  const sum = (match: (name: string) => boolean) => records.filter((r) => match(r.name)).reduce((a, r) => a + r.durationMs, 0);
  const drained = events.find((e) => e.type === 'traffic');
  const decisions = events.filter((e) => e.type === 'decision');
  if (!drained || !decisions.length) throw new Error('the event log has no traffic change or no decision');
  return {
    firstChange: Date.parse(drained.at) - (records.find((r) => r.name === 'drain')?.durationMs ?? 0),
    lastDecision: Date.parse(decisions.at(-1)!.at),
    steps,
    deploys: deploysOf(records, canaryHosts),
    smokeMs: sum((n) => n.startsWith('smoke ')),
    lbMs: sum((n) => n === 'drain' || n.startsWith('drain ') || n.startsWith('traffic ')),
  };
}

/** The controller's own CPU (children excluded) over the bakes: from each step's traffic change to its promotion. */
export function cpuWhileBaking(samples: readonly CpuSample[], t: Timeline): { cpuMs: number; wallMs: number; percent: number } {
  let cpuMs = 0;
  let wallMs = 0;
  for (const s of t.steps) {
    const c = cpuBetween(samples, s.from, s.to);
    if (!c) continue;
    cpuMs += c.cpuMs;
    wallMs += c.wallMs;
  }
  return { cpuMs, wallMs, percent: wallMs > 0 ? (100 * cpuMs) / wallMs : NaN };
}
