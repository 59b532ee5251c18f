/**
 * canary <tag> --replay FILE.jsonl: the gates run offline over a recorded request log, as if the
 * canary had run while it was written, and every interval's decision is printed: to tune the
 * thresholds, bakes and holds before a real rollout. The canary cohort is the records of <tag>
 * (a field of every record says which release served it: --field, default `version`), the stable
 * cohort every other release in the file. Nothing is contacted, nothing changes.
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

/** The values of `field` in the file (the releases it holds), read once. */
async function valuesOf(file: string, field: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    try {
      const v = field.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), JSON.parse(line));
      if (typeof v === 'string' || typeof v === 'number') seen.set(String(v), (seen.get(String(v)) ?? 0) + 1);
    } catch {
      // a malformed line: the replay counts and reports it
    }
  }
  return seen;
}

export async function replayCanary(o: { signals: Signals; canary: CanaryConfig; percents: readonly number[]; tag: string; file: string; field: string }): Promise<{ lines: ReplayLine[]; outcome: 'promoted' | 'rolled back' | 'unfinished'; reason: string }> {
  await stat(o.file).catch(() => {
    throw new UsageError(`--replay ${o.file}: no such file`);
  });
  const versions = await valuesOf(o.file, o.field);
  if (!versions.has(o.tag)) throw new UsageError(`--replay ${o.file}: no record has ${o.field} = ${o.tag} (the releases in it: ${[...versions.keys()].join(', ') || 'none'}); name the field with --field`);
  const stable = [...versions.keys()].filter((v) => v !== o.tag);
  // every record source of the environment reads the file's records by the release field
  const sources = Object.fromEntries(Object.entries(o.signals.sources).map(([n, s]) => [n, s.kind === 'prometheus' ? s : { ...s, cohortBy: { field: o.field } }]));
  const signals = { ...o.signals, sources, gates: o.signals.gates.filter((g) => !o.canary.gates || o.canary.gates.includes(g.name)) } as Signals;
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
    if (!res) continue;
    clock ??= { startedAt: r.now, passingSince: null };
    const bakeMs = bakeOf(o.canary, Math.min(step, o.percents.length - 1));
    const j = judged(res.evaluations, res.verdict);
    const d = decide({ verdict: j.verdict, notPassing: j.notPassing, clock, now: r.now, bakeMs, maxHoldMs: o.canary.maxHold ?? 2 * bakeMs, onMaxHold: o.canary.onMaxHold });
    lines.push({ at: new Date(r.now).toISOString(), step, percent: o.percents[step]!, verdict: j.verdict, action: d.action, why: d.why });
    clock = d.clock;
    if (d.action === 'rollback') return { lines, outcome: 'rolled back', reason: d.why };
    if (d.action === 'promote') {
      if (step === o.percents.length - 1) return { lines, outcome: 'promoted', reason: d.why };
      step++;
      clock = { startedAt: r.now, passingSince: null };
    }
  }
  return { lines, outcome: 'unfinished', reason: `the file ends during step ${step + 1} (${percentText(o.percents[step]!)})` };
}

export function replayText(tag: string, file: string, r: Awaited<ReturnType<typeof replayCanary>>, interval: number): string[] {
  return [
    `replay of a canary of ${tag} over ${file}, every ${hmsText(Math.round(interval / 1000))} of its records' time:`,
    ...r.lines.map((l) => `  ${l.at.slice(11, 19)}Z step ${l.step + 1} (${percentText(l.percent)}) ${l.verdict.toUpperCase().padEnd(12)} ${l.action.padEnd(8)} ${l.why}`),
    `outcome: ${r.outcome}: ${r.reason}`,
  ];
}

/** Exit codes as a canary would end: 0 promoted, 1 rolled back, 2 neither (the file ended). */
export const replayExit = (outcome: string) => (outcome === 'promoted' ? ExitCode.ok : outcome === 'rolled back' ? ExitCode.rolledBack : ExitCode.refused);
