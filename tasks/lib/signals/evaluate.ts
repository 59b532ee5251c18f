/**
 * A whole gate set judged for one cohort against a baseline cohort over one window: the function
 * the SLO monitor, the canary controller and replays share. Pure: values and clocks in, an
 * evaluation per gate and the clocks to keep out.
 */
import type { Signals } from '../config/signals.ts';
import { evaluateGate } from './gates.ts';
import { unitOf } from './reducers.ts';
import type { ClockState, Evaluation, GateSetResult, GateVerdict, WindowValues } from './types.ts';

export interface GateSetInput {
  readonly signals: Pick<Signals, 'gates' | 'metrics'>;
  readonly values: WindowValues;
  /** The cohort judged (`all` when records are not split). */
  readonly cohort: string;
  /** The cohort relative thresholds compare with (the stable version, the other hosts). */
  readonly baseline?: string;
  /** What the last evaluation returned (gate name -> clock); absent: clocks start clear. */
  readonly clocks?: Readonly<Record<string, ClockState>>;
  /** Only these gates (default all). */
  readonly gates?: readonly string[];
  /** Epoch ms: the evaluation's time (controlled in tests and replays). */
  readonly now: number;
}

const RANK: Record<GateVerdict, number> = { pass: 0, warn: 1, inconclusive: 2, fail: 3 };

/** fail if any fails; else inconclusive if any is; else warn if any warns; else pass. */
export function worst(verdicts: readonly GateVerdict[]): GateVerdict {
  return verdicts.reduce<GateVerdict>((a, v) => (RANK[v] > RANK[a] ? v : a), 'pass');
}

export function evaluateGateSet(input: GateSetInput): GateSetResult {
  const { signals, values, cohort, baseline, now } = input;
  const gates = input.gates ? signals.gates.filter((g) => input.gates!.includes(g.name)) : signals.gates;
  const evaluations: Evaluation[] = [];
  const clocks: Record<string, ClockState> = {};
  for (const gate of gates) {
    const metric = signals.metrics[gate.metric]!;
    const out = evaluateGate({
      gate,
      unit: unitOf(metric),
      cohort,
      value: values.cohorts[cohort]?.[gate.metric],
      ...(baseline !== undefined ? { baselineCohort: baseline, baseline: values.cohorts[baseline]?.[gate.metric] } : {}),
      clock: input.clocks?.[gate.name],
      now,
    });
    evaluations.push(out.evaluation);
    clocks[gate.name] = out.clock;
  }
  return {
    at: new Date(now).toISOString(),
    window: values.window,
    cohort,
    ...(baseline !== undefined ? { baselineCohort: baseline } : {}),
    evaluations,
    clocks,
    verdict: worst(evaluations.map((e) => e.verdict)),
  };
}

/** GO / NO-GO / INCONCLUSIVE and the exit code tasks use (0 / 1 / 2), from a gate set's verdict. */
export function decision(verdict: GateVerdict): { decision: 'GO' | 'NO-GO' | 'INCONCLUSIVE'; exitCode: 0 | 1 | 2 } {
  if (verdict === 'fail') return { decision: 'NO-GO', exitCode: 1 };
  if (verdict === 'inconclusive') return { decision: 'INCONCLUSIVE', exitCode: 2 };
  return { decision: 'GO', exitCode: 0 }; // warnings (a breach shorter than its clock) are named, not a NO-GO
}
