/**
 * Put a verified dump back into the database: checked here first (sha256, read to the end), sent
 * to where pg_dump runs, restored in one transaction (all or nothing), then the row counts are
 * compared with the manifest's.
 */
import { createReadStream } from 'node:fs';
import { parseRowCounts, pg, pgRestore, type PgTarget } from '../commands/pg.ts';
import { CutoverError, ExitCode } from '../base/errors.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import type { BackupManifest } from './manifest.ts';
import { verifyBackup } from './integrity.ts';

export interface RestoreOptions {
  readonly runner: Runner;
  readonly db: PgTarget;
  readonly password?: string;
  readonly dumpPath: string;
  readonly manifest: BackupManifest;
  /** A folder on the runner's host for the uploaded dump (removed afterwards). */
  readonly scratchDir: string;
  readonly runId: string;
  readonly signal?: AbortSignal;
  readonly secrets?: readonly string[];
}

export interface RestoreResult {
  readonly rowCounts: Readonly<Record<string, number>>;
  /** `public.messages: 12 in the backup, 11 now` — empty when every table matches. */
  readonly mismatches: readonly string[];
}

export async function restoreDatabase(o: RestoreOptions): Promise<RestoreResult> {
  const check = await verifyBackup(o.dumpPath, o.manifest);
  if (!check.ok)
    throw new CutoverError(`${o.dumpPath} cannot be restored: ${check.problems.map((p) => p.message).join('; ')}. Nothing was restored.`, ExitCode.refused);
  const remote = `${o.scratchDir}/restore-${o.runId}${o.manifest.format === 'custom' ? '.dump' : '.sql'}`;
  const opts = { signal: o.signal, secrets: o.secrets };
  try {
    await run(o.runner, pgRestore.upload(remote), { ...opts, stdinStream: createReadStream(o.dumpPath) });
    const restore = o.manifest.format === 'custom' ? pgRestore.restore(o.db, remote, o.password) : pgRestore.restorePlain(o.db, remote, o.password);
    await run(o.runner, restore, opts);
  } finally {
    await o.runner.exec(pgRestore.remove(remote)).catch(() => undefined);
  }
  const counts = parseRowCounts((await run(o.runner, pg.rowCounts(o.db, o.password), opts)).stdout);
  return { rowCounts: counts, mismatches: compareRowCounts(o.manifest.rowCounts, counts) };
}

/** Tables whose count differs, or that exist on one side only. */
export function compareRowCounts(expected: Readonly<Record<string, number>>, actual: Readonly<Record<string, number>>): string[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names
    .filter((t) => expected[t] !== actual[t])
    .map((t) => `${t}: ${expected[t] ?? 'absent'} in the backup, ${actual[t] ?? 'absent'} now`);
}
