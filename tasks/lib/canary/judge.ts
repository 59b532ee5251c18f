/**
 * What the gates say about a step: the canary cohort (the hosts that run the release: their names,
 * their upstream addresses on the load balancer, the release's tag) against the stable cohort (the
 * others), over the signals' window. At 100% there is no stable cohort left: only the gates with
 * absolute thresholds judge then.
 */
import type { Signals } from '../config/signals.ts';
import type { Host } from '../config/schema.ts';
import type { RunCtx } from '../deploy/context.ts';
import type { GateConfig } from '../signals/index.ts';
import { Monitor, openSources, type Evaluation, type MonitorState } from '../signals/index.ts';
import type { Verdict } from './decide.ts';
import type { EvaluationLine } from './events.ts';

/** A gate compared with the stable cohort (its thresholds are relative). */
export function isRelative(g: GateConfig): boolean {
  const rel = (t: Partial<Record<string, unknown>> | undefined) => !!t && (t.maxIncreasePct !== undefined || t.maxIncrease !== undefined || t.withinPct !== undefined);
  return rel(g as Record<string, unknown>) || rel((g as { warn?: Record<string, unknown> }).warn);
}

export interface CohortKeys {
  readonly canary: readonly string[];
  readonly stable: readonly string[];
}

/** Every key that may name a host's records: its name (host cohorts), `address:port` (nginx upstreams), the tag it runs (a version field). */
export function keysOf(hosts: readonly { host: Host; tag?: string | undefined }[], port: (h: Host) => number | undefined): string[] {
  const keys = new Set<string>();
  for (const { host, tag } of hosts) {
    keys.add(host.name);
    const p = port(host);
    if (p !== undefined) keys.add(`${host.address}:${p}`);
    if (tag) keys.add(tag);
  }
  return [...keys];
}

export interface JudgeSetup {
  readonly signals: Signals;
  readonly gates?: readonly string[];
  readonly keys: CohortKeys;
  readonly hosts: readonly Host[];
  readonly runnerFor: (h: Host) => RunCtx['hosts'][number]['runner'];
  readonly state?: MonitorState | null;
  readonly signal?: AbortSignal;
  /** Where the step before stopped reading (its window's start): a new step does not read the logs from their beginning again. */
  readonly positions?: MonitorState['positions'];
  /** The step's start: records before it are not the step's (see MonitorOptions.notBefore). */
  readonly notBefore?: number;
}

/** A monitor for one step: its cohorts are that step's. At 100% (no stable host) only absolute gates. */
export function stepMonitor(s: JudgeSetup): Monitor {
  const positions = s.state ? (s.state as MonitorState).positions : s.positions;
  const sources = openSources(s.signals, { hosts: s.hosts, runnerFor: s.runnerFor, ...(positions ? { positions } : {}), ...(s.signal ? { signal: s.signal } : {}) });
  const chosen = s.signals.gates.filter((g) => !s.gates || s.gates.includes(g.name));
  const alone = s.keys.stable.length === 0;
  const gates = (alone ? chosen.filter((g) => !isRelative(g)) : chosen).map((g) => g.name);
  return new Monitor(s.signals, sources, {
    cohorts: alone ? { canary: [...s.keys.canary] } : { canary: [...s.keys.canary], stable: [...s.keys.stable] },
    judge: [alone ? { cohort: 'canary' } : { cohort: 'canary', baseline: 'stable' }],
    gates,
    ...(s.state ? { state: s.state as MonitorState } : {}),
    ...(s.signal ? { signal: s.signal } : {}),
    ...(s.notBefore !== undefined ? { notBefore: s.notBefore } : {}),
  });
}

export interface Judged {
  readonly verdict: Verdict;
  readonly notPassing: string[];
  readonly evaluations: EvaluationLine[];
  /** A source could not be read this round (a connection drop): no verdict on the release. */
  readonly unreadable?: boolean;
}

export function judged(evaluations: readonly Evaluation[], verdict: Verdict): Judged {
  return {
    verdict,
    notPassing: evaluations.filter((e) => e.verdict !== 'pass').map((e) => `${e.gate} ${e.verdict}: ${e.why}`),
    evaluations: evaluations.map((e) => ({
      gate: e.gate,
      metric: e.metric,
      verdict: e.verdict,
      value: e.value,
      ...(e.baseline !== undefined ? { baseline: e.baseline } : {}),
      threshold: e.threshold,
      clock: e.clock,
      samples: e.samples,
      why: e.why,
    })),
  };
}

/** One evaluation of the step; a failure to read becomes an inconclusive round (it never fails a canary by itself). */
export async function judgeNow(monitor: Monitor, now: number): Promise<Judged> {
  try {
    const round = await monitor.tick(now);
    const r = round.results[0];
    if (!r) return { verdict: 'inconclusive', notPassing: ['no cohort to judge yet'], evaluations: [] };
    const unavailable = Object.entries(round.values.sources).filter(([, st]) => st.unavailable).map(([n, st]) => `${n}: ${st.unavailable}`);
    // a failed gate still counts; otherwise a source that could not be read says nothing about the release
    if (unavailable.length && r.verdict !== 'fail') return { ...judged(r.evaluations, 'inconclusive'), notPassing: [`could not be read: ${unavailable.join('; ')}`], unreadable: true };
    return judged(r.evaluations, r.verdict);
  } catch (err) {
    return { verdict: 'inconclusive', notPassing: [`the signals could not be read: ${(err as Error).message.split('\n')[0]}`], evaluations: [], unreadable: true };
  }
}
