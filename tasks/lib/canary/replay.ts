/**
 * canary <tag> --replay FILE.jsonl: the gates run offline over a recorded request log, as if the
 * canary had run while it was written, and every interval's decision is printed: to tune the
 * thresholds, bakes and holds before a real rollout. The canary cohort is the records of <tag>
 * (a field of every record says which release served it: --field, default `version`), the stable
 * cohort every other release in the file. The file is read in order: records in time order (the
 * logs of several hosts merged and sorted). The first step starts at the first record of <tag>.
 * Nothing is contacted, nothing changes.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ExitCode, UsageError } from '../base/errors.ts';
import { hmsText } from '../base/format.ts';
import { bakeOf, type CanaryConfig } from '../config/canary.ts';
import type { Signals } from '../config/signals.ts';
import { replayFile } from '../signals/index.ts';
import { decide, type StepClock } from './decide.ts';
import { judged } from './judge.ts';
import { percentText } from './split.ts';

export interface ReplayLine {
  readonly at: string;
  readonly step: number;
  readonly percent: number;
  readonly verdict: string;
  readonly action: string;
  readonly why: string;
}

const pick = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);

/** The values of `field` in the file (the releases it holds), and when `tag` first served (its first record's time), read once. */
async function valuesOf(file: string, field: string, tag: string, timeField: string): Promise<{ seen: Map<string, number>; firstAt: number | null }> {
  const seen = new Map<string, number>();
  let firstAt: number | null = null;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    try {
      const rec = JSON.parse(line) as unknown;
      const v = pick(rec, field);
      if (typeof v === 'string' || typeof v === 'number') seen.set(String(v), (seen.get(String(v)) ?? 0) + 1);
      const t = String(v) === tag ? Date.parse(String(pick(rec, timeField))) : NaN;
      if (Number.isFinite(t) && (firstAt === null || t < firstAt)) firstAt = t;
    } catch {
      // a malformed line: the replay counts and reports it
    }
  }
  return { seen, firstAt };
}

export async function replayCanary(o: { signals: Signals; canary: CanaryConfig; percents: readonly number[]; tag: string; file: string; field: string }): Promise<{ lines: ReplayLine[]; outcome: 'promoted' | 'rolled back' | 'unfinished'; reason: string; leftOut: string[] }> {
  await stat(o.file).catch(() => {
    throw new UsageError(`--replay ${o.file}: no such file`);
  });
  const timeField = Object.values(o.signals.sources).find((x) => x.kind !== 'prometheus')?.timeField ?? 'timestamp';
  const { seen: versions, firstAt } = await valuesOf(o.file, o.field, o.tag, timeField);
  if (!versions.has(o.tag)) throw new UsageError(`--replay ${o.file}: no record has ${o.field} = ${o.tag} (the releases in it: ${[...versions.keys()].join(', ') || 'none'}); name the field with --field`);
  const stable = [...versions.keys()].filter((v) => v !== o.tag);
  // every record source of the environment reads the file's records by the release field
  const sources = Object.fromEntries(Object.entries(o.signals.sources).map(([n, s]) => [n, s.kind === 'prometheus' ? s : { ...s, cohortBy: { field: o.field } }]));
  // the file is a request log: a gate over another kind of source (an nginx log, Prometheus) cannot be judged from it
  const chosen = o.signals.gates.filter((g) => !o.canary.gates || o.canary.gates.includes(g.name));
  const kindOf = (g: (typeof chosen)[number]) => o.signals.sources[o.signals.metrics[g.metric]?.source ?? '']?.kind;
  const leftOut = chosen.filter((g) => kindOf(g) !== 'jsonl').map((g) => `${g.name} (its metric ${g.metric} reads a ${kindOf(g) ?? 'missing'} source)`);
  const gates = chosen.filter((g) => kindOf(g) === 'jsonl');
  if (!gates.length) throw new UsageError(`--replay judges the gates over request logs (jsonl sources), and the canary's gates read none: ${leftOut.join(', ')}`);
  const signals = { ...o.signals, sources, gates } as Signals;
  const rounds = await replayFile(signals, o.file, {
    cohorts: stable.length ? { canary: [o.tag], stable } : { canary: [o.tag] },
    judge: [stable.length ? { cohort: 'canary', baseline: 'stable' } : { cohort: 'canary' }],
    interval: o.canary.interval,
  });
  const lines: ReplayLine[] = [];
  let step = 0;
  let clock: StepClock | null = null;
  for (const r of rounds) {
    const res = r.results[0];
    // before the release served its first request there was no canary: its first step starts then
    if (!res || (firstAt !== null && r.now < firstAt)) continue;
    clock ??= { startedAt: r.now, passingSince: null };
    const bakeMs = bakeOf(o.canary, Math.min(step, o.percents.length - 1));
    const j = judged(res.evaluations, res.verdict);
    const d = decide({ verdict: j.verdict, notPassing: j.notPassing, clock, now: r.now, bakeMs, maxHoldMs: o.canary.maxHold ?? 2 * bakeMs, onMaxHold: o.canary.onMaxHold });
    lines.push({ at: new Date(r.now).toISOString(), step, percent: o.percents[step]!, verdict: j.verdict, action: d.action, why: d.why });
    clock = d.clock;
    if (d.action === 'rollback') return { lines, outcome: 'rolled back', reason: d.why, leftOut };
    if (d.action === 'promote') {
      if (step === o.percents.length - 1) return { lines, outcome: 'promoted', reason: d.why, leftOut };
      step++;
      clock = { startedAt: r.now, passingSince: null };
    }
  }
  return { lines, outcome: 'unfinished', reason: `the file ends during step ${step + 1} (${percentText(o.percents[step]!)})`, leftOut };
}

export function replayText(tag: string, file: string, r: Awaited<ReturnType<typeof replayCanary>>, interval: number): string[] {
  return [
    `replay of a canary of ${tag} over ${file}, every ${hmsText(Math.round(interval / 1000))} of its records' time:`,
    ...(r.leftOut.length ? [`  not judged (not in a request log): ${r.leftOut.join(', ')}`] : []),
    ...r.lines.map((l) => `  ${l.at.slice(11, 19)}Z step ${l.step + 1} (${percentText(l.percent)}) ${l.verdict.toUpperCase().padEnd(12)} ${l.action.padEnd(8)} ${l.why}`),
    `outcome: ${r.outcome}: ${r.reason}`,
  ];
}

/** Exit codes as a canary would end: 0 promoted, 1 rolled back, 2 neither (the file ended). */
export const replayExit = (outcome: string) => (outcome === 'promoted' ? ExitCode.ok : outcome === 'rolled back' ? ExitCode.rolledBack : ExitCode.refused);
