/** tasks/slo.ts's flags, checked: a bad value names itself and what to write instead (exit 2). */
import path from 'node:path';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { UsageError } from '../base/errors.ts';
import type { CohortSpec } from '../signals/aggregate.ts';
import type { Signals } from '../config/signals.ts';
import { parseDuration } from '../config/signal-duration.ts';

export interface SloFlags {
  readonly windowMs?: number;
  readonly watchMs?: number;
  readonly rounds?: number;
  readonly since?: number;
  readonly checkpoints?: readonly number[];
  /** --journal: the checkpoints of signals.slo. */
  readonly journal?: boolean;
  readonly cohort?: string;
  readonly baseline?: string;
  readonly file?: string;
  readonly json: boolean;
}

function duration(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new UsageError(`--${name} ${JSON.stringify(v)}: not a duration; write e.g. 30s, 15m, 1h`);
  return ms;
}

export function sloFlags(args: ParsedArgs, now = Date.now()): SloFlags {
  const sinceText = str(args, 'since');
  let since: number | undefined;
  if (sinceText !== undefined) {
    const ago = parseDuration(sinceText);
    since = ago !== undefined ? now - ago : Date.parse(sinceText);
    if (Number.isNaN(since)) throw new UsageError(`--since ${JSON.stringify(sinceText)}: a time (2026-12-01T10:00:00Z) or a duration ago (2h)`);
  }
  const cp = str(args, 'checkpoints');
  const checkpoints = cp?.split(',').map((c) => duration('checkpoints', c.trim())!);
  const roundsText = str(args, 'rounds');
  const rounds = roundsText === undefined ? undefined : Number(roundsText);
  if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < 1)) throw new UsageError(`--rounds ${JSON.stringify(roundsText)}: a whole number of at least 1`);
  if (rounds !== undefined && str(args, 'watch') === undefined && cp === undefined && !flag(args, 'journal'))
    throw new UsageError('--rounds needs --watch (it bounds the number of rounds)');
  const baseline = str(args, 'baseline');
  const cohort = str(args, 'cohort');
  if (baseline && !cohort) throw new UsageError('--baseline needs --cohort (the cohort compared with it)');
  return {
    windowMs: duration('window', str(args, 'window')),
    watchMs: duration('watch', str(args, 'watch')),
    ...(rounds !== undefined ? { rounds } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(checkpoints ? { checkpoints } : {}),
    ...(flag(args, 'journal') ? { journal: true } : {}),
    ...(cohort ? { cohort } : {}),
    ...(baseline ? { baseline } : {}),
    ...(str(args, 'file') ? { file: path.resolve(str(args, 'file')!) } : {}),
    json: flag(args, 'json'),
  };
}

/** Named cohorts when a cohort is judged; one cohort `all` otherwise. */
export function cohortSpec(signals: Signals, f: Pick<SloFlags, 'cohort' | 'baseline'>, file: string): CohortSpec {
  if (!f.cohort) return 'all';
  for (const c of [f.cohort, f.baseline]) {
    if (c !== undefined && !signals.cohorts[c])
      throw new UsageError(`--cohort/--baseline ${c}: not a cohort of ${file} (signals.cohorts: ${Object.keys(signals.cohorts).join(', ') || 'none'})`);
  }
  return signals.cohorts;
}
