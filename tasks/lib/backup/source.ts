/**
 * The restore source, checked in preflight before anything live changes: a manifest cutover
 * wrote, of this environment and this database, and a dump read completely right now (sha256
 * and size against the manifest; custom format: `pg_restore -f /dev/null` to the last byte).
 * `rollback --restore-db` and `restore` both call checkRestoreSource; every refusal is exit 2.
 */
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { pg, type PgTarget } from '../commands/pg.ts';
import type { LoadedEnvironment } from '../config/load.ts';
import type { Runner } from '../runners/types.ts';
import { resolveBackup } from './catalog.ts';
import { run } from '../runners/run.ts';
import { verifyBackup, type VerifyResult } from './integrity.ts';
import type { BackupManifest } from './manifest.ts';
import type { BackupEntry } from './retention.ts';

export interface RestoreSource extends BackupEntry {
  /** The full read just done (ok). */
  readonly verification: VerifyResult;
  /**
   * The dump replaces objects that exist (custom format: pg_restore --clean; plain: written with
   * `--clean --if-exists`). false for plain dumps made before that: they restore only into a
   * database without tables (see restoreTargetProblem).
   */
  readonly replacesObjects: boolean;
}

/** Plain dumps are SQL: they replace existing objects only when pg_dump wrote DROP ... IF EXISTS first. */
export function replacesObjects(m: BackupManifest): boolean {
  return m.format === 'custom' || (m.dumpOptions?.includes('--clean') ?? false);
}

export interface CheckOptions {
  readonly signal?: AbortSignal;
  /** Also check the database it goes into (see restoreTargetProblem): where psql runs, and its password. */
  readonly target?: { readonly runner: Runner; readonly password?: string };
}

/**
 * `arg`: a path to a .dump/.sql (or its .json), or a file name in the environment's backup
 * folder. Returns the backup, read completely and intact; throws UsageError (exit 2) naming what
 * is wrong, or CutoverError exit 130 when interrupted. Nothing is changed either way.
 */
export async function checkRestoreSource(env: LoadedEnvironment, arg: string, opts: CheckOptions = {}): Promise<RestoreSource> {
  const db = env.config.database;
  if (!db) throw new UsageError(`${env.file} has no database: there is nothing to restore. Nothing was changed.`);
  const entry = await resolveBackup(env, arg);
  const m = entry.manifest;
  if (m.envName !== env.name)
    throw new UsageError(`${m.file} is a backup of environment ${m.envName}, not ${env.name}: a restore never crosses environments. Nothing was changed.`);
  if (m.database !== db.name)
    throw new UsageError(`${m.file} is a backup of database ${m.database}, but ${env.file} names ${db.name}: a restore never crosses databases. Nothing was changed.`);

  const interrupted = () => new CutoverError(`interrupted while reading ${entry.dumpPath}; nothing was changed.`, ExitCode.interrupted);
  const verification = await verifyBackup(entry.dumpPath, m, { signal: opts.signal }).catch((err: unknown) => {
    if (opts.signal?.aborted) throw interrupted();
    throw err;
  });
  if (opts.signal?.aborted) throw interrupted();
  if (!verification.ok)
    throw new UsageError(`${entry.dumpPath} cannot be restored: ${verification.problems.map((p) => p.message).join('; ')}. Nothing was changed.`);

  const source: RestoreSource = { ...entry, verification, replacesObjects: replacesObjects(m) };
  if (opts.target) {
    const problem = await restoreTargetProblem(opts.target.runner, db, opts.target.password, source, opts.signal);
    if (problem) throw new UsageError(problem);
  }
  return source;
}

/**
 * Why `source` cannot go into the database as it is now, or null. The one case: a plain dump
 * without DROP statements (made before plain dumps were written with --clean) into a database
 * that has tables. Its CREATE statements would fail on the first existing object (one
 * transaction: nothing changes, but nothing is restored either), and dropping objects for it
 * would mean guessing what it creates. Into a database without tables it restores as it is.
 */
export async function restoreTargetProblem(
  runner: Runner,
  db: PgTarget,
  password: string | undefined,
  source: Pick<RestoreSource, 'replacesObjects' | 'dumpPath' | 'manifest'>,
  signal?: AbortSignal,
): Promise<string | null> {
  if (source.replacesObjects) return null;
  const r = await run(runner, pg.userTables(db, password), { signal });
  const [count, names] = r.stdout.trim().split('\t');
  const n = Number(count);
  if (!Number.isInteger(n)) throw new Error(`unexpected answer when listing the tables of ${db.name}: ${JSON.stringify(r.stdout.slice(0, 200))}`);
  if (n === 0) return null;
  return (
    `${source.manifest.file} is a plain SQL dump made without DROP statements (before cutover wrote plain dumps with --clean --if-exists), ` +
    `and ${db.name} has ${n} table(s) (${names}${n > 3 ? ', ...' : ''}): its CREATE statements would fail on them. ` +
    `Restore it into an empty database instead (createdb, then: psql --single-transaction -v ON_ERROR_STOP=1 -d <new database> -f ${source.dumpPath}), ` +
    `or restore a newer backup (npx tsx tasks/backup.ts list). Nothing was changed.`
  );
}
