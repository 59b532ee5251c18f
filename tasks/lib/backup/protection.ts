/**
 * Which dumps retention must never delete, and why. Pure: from the history's events and the
 * backups in the folder. A dump is protected when
 * - it is the pre-deploy dump of a deployment on the rollback chain (state/queries.ts liveStack): `rollback
 *   --restore-db` can still step back over that deployment and restore it;
 * - a run is about to restore it;
 * - it is the newest dump whose last full read passed, and its file is there (one known-good
 *   dump is always kept, whatever its age; a manifest without its dump protects nothing real).
 */
import path from 'node:path';
import type { HistoryEvent } from '../state/records.ts';
import { liveStack, type Deployment } from '../state/queries.ts';
import type { BackupEntry } from './manifest.ts';

/** dumpPath -> why it is protected (one line per reason, in the order above). */
export type Protection = ReadonlyMap<string, readonly string[]>;

export interface ProtectionInput {
  /** The history's events in file order (readHistory), from the host that keeps it. */
  readonly events: readonly HistoryEvent[];
  /** The backups in the folder, newest first (listBackups). */
  readonly entries: readonly BackupEntry[];
  /** Whether an entry's dump file is there. */
  readonly present: (e: BackupEntry) => boolean;
  /** Dumps a run is about to restore (paths). */
  readonly restoring?: readonly string[];
}

export const NEWEST_VERIFIED = 'the newest verified dump: one dump known to restore is always kept';

export function protectedDumps(input: ProtectionInput): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (e: BackupEntry, why: string) => out.set(e.dumpPath, [...(out.get(e.dumpPath) ?? []), why]);
  for (const { run } of liveStack(input.events)) {
    const e = run && dumpOfDeployment(run, input.entries); // the bottom entry (live before cutover's first run) took no dump
    if (e) add(e, chainReason(run));
  }
  const restoring = new Set((input.restoring ?? []).map((p) => path.resolve(p)));
  for (const e of input.entries) if (restoring.has(path.resolve(e.dumpPath))) add(e, 'a run is about to restore it');
  const newest = newestVerified(input.entries, input.present);
  if (newest) add(newest, NEWEST_VERIFIED);
  return out;
}

/** The newest backup whose last full read passed and whose dump file is there, if any. */
export function newestVerified(entries: readonly BackupEntry[], present: (e: BackupEntry) => boolean): BackupEntry | undefined {
  return entries.find((e) => e.manifest.verified?.ok === true && present(e));
}

/**
 * The dump a deployment recorded (its backupFile, by file name: the path is the one on the machine
 * that ran it), else the one its run took before going to its tag (same run id and target tag).
 * `rollback --restore-db` should pick its default source with this too: then what it restores is
 * exactly what retention protects.
 */
export function dumpOfDeployment(d: Deployment, entries: readonly BackupEntry[]): BackupEntry | undefined {
  if (d.backupFile) {
    const name = path.basename(d.backupFile);
    return entries.find((e) => e.manifest.file === name);
  }
  return entries.find((e) => e.manifest.runId === d.runId && e.manifest.toTag === d.to);
}

function chainReason(d: Deployment): string {
  const what = d.task === 'deploy' ? `pre-deploy dump of ${d.live}` : `dump taken before the ${d.task} to ${d.live}`;
  return `${what} (run ${d.runId}): rollback --restore-db can still return to it`;
}
