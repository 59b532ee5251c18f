/**
 * The pieces of a restore that touch the database: send the dump to where pg_restore (or psql)
 * runs and restore it in one transaction (all or nothing). runRestore
 * (restore-run.ts) puts them together with the safety backup and the checks.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pgRestore, type DumpFormat, type PgTarget } from '../commands/pg.ts';
import type { Command } from '../commands/shell.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';


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
