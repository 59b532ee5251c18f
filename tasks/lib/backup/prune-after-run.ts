/**
 * Retention for the changing-task kernel and `backup prune`: the protected dumps are read from
 * the history on the host that keeps it (the first host, as for the lock), so a dump the rollback
 * chain needs is never deleted, whichever machine took it or runs the prune.
 */
import type { LoadedEnvironment } from '../config/load.ts';
import type { Runner } from '../runners/types.ts';
import { readHistory } from '../state/history.ts';
import { stateDirOf } from '../state/paths.ts';
import type { HistoryEvent } from '../state/records.ts';
import { protectedDumps, type Protection } from './protection.ts';
import { listBackups, presence, pruneBackups, type PruneResult } from './retention.ts';

/** The history's events, from `runner` (the host that keeps the lock and history). Throws when it cannot be read. */
export async function chainEvents(env: LoadedEnvironment, runner: Runner): Promise<HistoryEvent[]> {
  return (await readHistory(runner, stateDirOf(env.config.app))).events;
}

/** What must never be deleted in the environment's backup folder now, and why. Throws when the history cannot be read. */
export async function readProtection(env: LoadedEnvironment, runner: Runner, restoring: readonly string[] = []): Promise<Protection> {
  const [events, entries] = await Promise.all([chainEvents(env, runner), listBackups(env.backupDir)]);
  return protectedDumps({ events, entries, present: await presence(entries), restoring });
}

export interface AfterRunPrune {
  /** Why nothing was pruned (the history could not be read, say), or null. */
  readonly skipped: string | null;
  readonly result: PruneResult | null;
  /** One line each, for the run's notes: what was removed, what older dumps were kept and why. */
  readonly notes: readonly string[];
}

/**
 * Keep `backups.keep` newest, and every protected dump. The kernel calls it once a run has
 * succeeded (never before, never after a failure: the dumps are the way back), with the dump it is
 * about to restore in `restoring` when there is one. Never throws: a prune that cannot run is a
 * note, not a failed run.
 */
export async function pruneAfterRun(env: LoadedEnvironment, runner: Runner, opts: { restoring?: string | readonly string[]; now?: Date } = {}): Promise<AfterRunPrune> {
  const restoring = opts.restoring === undefined ? [] : typeof opts.restoring === 'string' ? [opts.restoring] : opts.restoring;
  const keep = env.config.backups.keep;
  let protect: Protection;
  try {
    protect = await readProtection(env, runner, restoring);
  } catch (err) {
    const why = `backups not pruned: cannot read the history on ${runner.host.name}, so the dumps rollback needs are unknown (${(err as Error).message.split('\n')[0]})`;
    return { skipped: why, result: null, notes: [why] };
  }
  try {
    const result = await pruneBackups(env.backupDir, keep, { protect, ...(opts.now ? { now: opts.now } : {}) });
    return { skipped: null, result, notes: pruneNotes(result, keep) };
  } catch (err) {
    const why = `backups not pruned: ${(err as Error).message}`;
    return { skipped: why, result: null, notes: [why] };
  }
}

/** `pruned 2 old backup(s) (keep: 5)`, then each older dump kept with its reasons. */
export function pruneNotes(r: PruneResult, keep: number): string[] {
  const notes: string[] = [];
  if (r.removed.length) notes.push(`pruned ${r.removed.length} old backup(s) (keep: ${keep})`);
  if (r.orphans.length) notes.push(`removed ${r.orphans.length} manifest(s) whose dump was missing: ${r.orphans.map((e) => e.manifest.file).join(', ')}`);
  for (const e of r.keptForProtection) notes.push(`kept ${e.manifest.file} beyond the newest ${keep}: ${(r.protection.get(e.dumpPath) ?? ['protected']).join('; ')}`);
  return notes;
}
