/**
 * The pieces of a restore that touch the database: send the dump to where pg_restore (or psql)
 * runs, restore it in one transaction (all or nothing), and count the rows after. runRestore
 * (restore-run.ts) puts them together with the safety backup and the checks.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pgRestore, type DumpFormat, type PgTarget } from '../commands/pg.ts';
import type { Command } from '../commands/shell.ts';
import { CutoverError, ExitCode } from '../base/errors.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { compareRowCounts, countRows } from './counts.ts';
import type { BackupManifest } from './manifest.ts';
import { verifyBackup } from './integrity.ts';

export { compareRowCounts } from './counts.ts';

/** Where the dump is put on the runner's machine for the restore (removed afterwards). */
export function scratchFile(scratchDir: string, runId: string, format: DumpFormat): string {
  return `${scratchDir}/restore-${runId}${format === 'custom' ? '.dump' : '.sql'}`;
}

/** pg_restore --clean ... --single-transaction for custom dumps; psql --single-transaction ON_ERROR_STOP for plain SQL. */
export function restoreCommand(db: PgTarget, file: string, format: DumpFormat, password?: string): Command {
  return format === 'custom' ? pgRestore.restore(db, file, password) : pgRestore.restorePlain(db, file, password);
}

/**
 * Streams the local dump to `remote` on the runner's machine (0600). Changes nothing live.
 * Returns the sha256 of the bytes sent: the caller compares it with the manifest, so a file
 * changed since it was checked is never restored.
 */
export async function uploadDump(runner: Runner, dumpPath: string, remote: string, opts: { signal?: AbortSignal; secrets?: readonly string[] } = {}): Promise<string> {
  const hash = createHash('sha256');
  // hashed on its way through (a 'data' listener would start the flow before the runner pipes it)
  const hashing = new Transform({ transform: (chunk: Buffer, _enc, done) => (hash.update(chunk), done(null, chunk)) });
  await run(runner, pgRestore.upload(remote), { ...opts, stdinStream: createReadStream(dumpPath).pipe(hashing) });
  return hash.digest('hex');
}

export async function removeScratch(runner: Runner, remote: string): Promise<void> {
  await runner.exec(pgRestore.remove(remote)).catch(() => undefined);
}

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

/**
 * Check, upload, restore, count; throws on the first failure. Kept for the callers of the old
 * path: new code calls runRestore (restore-run.ts), which adds the safety backup, the check of
 * the database it goes into, and says which state the data is in after a failure.
 */
export async function restoreDatabase(o: RestoreOptions): Promise<RestoreResult> {
  const check = await verifyBackup(o.dumpPath, o.manifest);
  if (!check.ok)
    throw new CutoverError(`${o.dumpPath} cannot be restored: ${check.problems.map((p) => p.message).join('; ')}. Nothing was restored.`, ExitCode.refused);
  const remote = scratchFile(o.scratchDir, o.runId, o.manifest.format);
  const opts = { signal: o.signal, secrets: o.secrets };
  try {
    await uploadDump(o.runner, o.dumpPath, remote, opts);
    await run(o.runner, restoreCommand(o.db, remote, o.manifest.format, o.password), opts);
  } finally {
    await removeScratch(o.runner, remote);
  }
  const counts = await countRows(o.runner, o.db, o.password, { signal: o.signal });
  return { rowCounts: counts, mismatches: compareRowCounts(o.manifest.rowCounts, counts) };
}
