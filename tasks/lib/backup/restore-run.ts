/**
 * The data part of every restore, whoever asks (`restore`, `rollback --restore-db`): a safety
 * backup of the database as it is, the dump restored in one transaction, the row counts compared
 * with the manifest's, and after a failure a recount that says which data the database holds.
 * No lock, no history, no output of its own: the caller holds the lock, records the run, shows
 * the progress it is given, and maps the typed result to its outcome and exit code.
 *
 * Interruption (the signal): before the restore command starts, it stops at once and nothing
 * was restored. Once the restore runs it is waited for, never cut off: a killed client would leave
 * pg_restore committing unseen on the host, and the state reported must be the real one.
 */
import type { DumpFormat, PgTarget } from '../commands/pg.ts';
import type { StepRecord } from '../base/run.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { compareRowCounts, countRows, dataState, type DataState, type RowCounts } from './counts.ts';
import { takeBackup, type Backup } from './dump.ts';
import { removeScratch, restoreCommand, scratchFile, uploadDump } from './restore.ts';
import { restoreTargetProblem, type RestoreSource } from './source.ts';

/** How the data part ended (the same words as the restore task's outcome). */
export type RestoreDataOutcome =
  | 'restored' // restored, row counts equal the backup's
  | 'counts-differ' // restored (committed), but the row counts differ from the backup's
  | 'failed-unchanged' // the restore failed; the database is as it was (checked against the safety backup)
  | 'uncertain' // the restore failed or its result could not be counted, and the data is neither as before nor as the backup
  | 'refused' // stopped before the database was touched (no safety backup, upload failed, a dump that cannot go in)
  | 'interrupted'; // the signal; dataState says which data the database holds

export type RestoreStep = 'check' | 'safety backup' | 'upload' | 'restore' | 'count rows' | 'count rows after the failure';

export interface RestoreProgress {
  readonly step: RestoreStep;
  /** One line for the caller's task output. */
  readonly message: string;
  /** Safety backup and upload: bytes so far. */
  readonly bytes?: number;
}

export interface RestoreRunOptions {
  /** Where pg_dump, pg_restore and psql run (catalog.ts dumpRunnerFor). */
  readonly runner: Runner;
  /** The environment's database; `format` is the safety backup's. */
  readonly db: PgTarget & { readonly format: DumpFormat };
  readonly password?: string;
  /** From checkRestoreSource: this environment's, this database's, read completely. */
  readonly source: RestoreSource;
  /** The environment's backup folder and name: where the safety backup goes, and what its manifest says. */
  readonly backupDir: string;
  readonly envName: string;
  /** The tag live now: the safety backup is named `<tag>_to_<tag>` (a restore does not change the code). */
  readonly liveTag: string | null;
  readonly runId: string;
  /** A folder on the runner's machine for the uploaded dump (the state folder on a host; the temp folder here). */
  readonly scratchDir: string;
  readonly signal?: AbortSignal;
  readonly secrets?: readonly string[];
  /** A safety backup the caller took already, of the database as it is now: not taken again. */
  readonly safety?: Backup;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** How long a recount may wait (it queues behind a restore still holding its locks). Default 60 s. */
  readonly recountTimeoutMs?: number;
}

export interface RestoreRunResult {
  readonly outcome: RestoreDataOutcome;
  readonly dataState: DataState;
  /** The safety backup (null when none could be taken): how to put back the data as it was. */
  readonly safety: Backup | null;
  /** The restore command was started: from there on the database may have changed. */
  readonly restoreStarted: boolean;
  /** Row counts after the restore (or after a failure); null when they could not be counted. */
  readonly countsAfter: RowCounts | null;
  readonly mismatches: readonly string[];
  readonly error?: string;
  /** `safety backup`, `restore`, `count rows after the failure`, with durations (for history and reports). */
  readonly steps: readonly StepRecord[];
  /** Things the caller should say (e.g. why counts may differ for an older backup). */
  readonly notes: readonly string[];
}

const RECOUNT_TIMEOUT_MS = 60_000;

export async function runRestore(o: RestoreRunOptions): Promise<RestoreRunResult> {
  const steps: StepRecord[] = [];
  const notes: string[] = [];
  const say = (step: RestoreStep, message: string, bytes?: number) => o.onProgress?.({ step, message, ...(bytes === undefined ? {} : { bytes }) });
  const aborted = () => o.signal?.aborted === true;
  const m = o.source.manifest;
  const base = { steps, notes, mismatches: [] as string[], countsAfter: null, restoreStarted: false };
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const done = (ok: boolean) => steps.push({ name, durationMs: Math.round(performance.now() - t0), ok });
    try {
      const v = await fn();
      done(true);
      return v;
    } catch (err) {
      done(false);
      throw err;
    }
  };
  const stopped = (safety: Backup | null, error?: string): RestoreRunResult => ({
    ...base, outcome: aborted() ? 'interrupted' : 'refused', dataState: 'as-before', safety, ...(error ? { error } : {}),
  });
  if (aborted()) return stopped(o.safety ?? null, 'interrupted before the restore started');

  // a dump that cannot go into this database as it is: refused before the safety backup
  try {
    const problem = await restoreTargetProblem(o.runner, o.db, o.password, o.source, o.signal);
    if (problem) return stopped(o.safety ?? null, problem);
  } catch (err) {
    return stopped(o.safety ?? null, `cannot read the tables of ${o.db.name}: ${(err as Error).message}`);
  }

  let safety: Backup;
  try {
    safety = o.safety ?? (await timed('safety backup', () => safetyBackup(o, (bytes) => say('safety backup', `safety backup: ${bytes} bytes`, bytes))));
  } catch (err) {
    return stopped(null, (err as Error).message);
  }
  say('safety backup', `safety backup ${safety.manifest.file}: ${safety.manifest.sizeBytes} bytes, verified`);

  const remote = scratchFile(o.scratchDir, o.runId, m.format);
  const opts = { secrets: o.secrets };
  try {
    let sent: string;
    try {
      say('upload', `sending ${m.file} to ${o.runner.host.name}`);
      sent = await uploadDump(o.runner, o.source.dumpPath, remote, { ...opts, signal: o.signal });
    } catch (err) {
      return stopped(safety, aborted() ? 'interrupted before the restore started' : `the dump could not be sent to ${o.runner.host.name}: ${(err as Error).message}`);
    }
    if (aborted()) return stopped(safety, 'interrupted before the restore started');
    if (sent !== m.sha256)
      return stopped(safety, `${o.source.dumpPath} changed since it was checked (sha256 ${sent}, the manifest says ${m.sha256}): nothing was restored`);

    say('restore', `restoring ${o.db.name} from ${m.file} in one transaction`);
    const waitNote = () => say('restore', `the restore is one transaction: waiting for it to end, so the state of ${o.db.name} is known`);
    o.signal?.addEventListener('abort', waitNote, { once: true });
    let restoreError: Error | null = null;
    try {
      // no signal: never cut off (see the top of this file)
      await timed('restore', () => run(o.runner, restoreCommand(o.db, remote, m.format, o.password), opts));
    } catch (err) {
      restoreError = err as Error;
    } finally {
      o.signal?.removeEventListener('abort', waitNote);
    }
    return await afterRestore(o, safety, restoreError, { steps, notes, timed, say });
  } finally {
    await removeScratch(o.runner, remote);
  }
}

function safetyBackup(o: RestoreRunOptions, onBytes: (bytes: number) => void): Promise<Backup> {
  let last = 0;
  return takeBackup({
    runner: o.runner,
    db: o.db,
    password: o.password,
    format: o.db.format,
    dir: o.backupDir,
    envName: o.envName,
    fromTag: o.liveTag,
    toTag: o.liveTag ?? 'manual',
    runId: o.runId,
    signal: o.signal,
    onProgress: (bytes) => {
      if (bytes - last < 1 << 20) return; // a line per MiB is plenty
      last = bytes;
      onBytes(bytes);
    },
  });
}

interface Ctx {
  readonly steps: StepRecord[];
  readonly notes: string[];
  timed<T>(name: string, fn: () => Promise<T>): Promise<T>;
  say(step: RestoreStep, message: string): void;
}

/** The restore command ended (well or not): count, compare, and say which data the database holds. */
async function afterRestore(o: RestoreRunOptions, safety: Backup, restoreError: Error | null, c: Ctx): Promise<RestoreRunResult> {
  const m = o.source.manifest;
  const timeoutMs = o.recountTimeoutMs ?? RECOUNT_TIMEOUT_MS;
  const interrupted = o.signal?.aborted === true;
  const base = { safety, restoreStarted: true, steps: c.steps, notes: c.notes };
  if (restoreError === null) {
    c.say('count rows', `counting the rows of ${o.db.name}`);
    // without the signal: the restore is done, and what it left must be known
    const counts = await countRows(o.runner, o.db, o.password, { timeoutMs }).catch((err: Error) => err);
    if (counts instanceof Error)
      return {
        ...base, outcome: interrupted ? 'interrupted' : 'uncertain', dataState: 'unknown', countsAfter: null, mismatches: [],
        error: `restored (committed), but the rows could not be counted: ${counts.message}`,
      };
    const mismatches = compareRowCounts(m.rowCounts, counts);
    if (mismatches.length && m.rowCountsFrom !== 'dump-snapshot')
      c.notes.push(
        `${m.file} is an older backup whose row counts were taken beside the dump, not in its snapshot: ` +
          'writes during that backup make them differ from the data it holds',
      );
    return {
      ...base,
      outcome: interrupted ? 'interrupted' : mismatches.length ? 'counts-differ' : 'restored',
      dataState: mismatches.length ? 'unknown' : 'as-backup',
      countsAfter: counts,
      mismatches,
    };
  }
  // the claim "left as it was" is checked, not assumed: count again and compare with the safety backup
  c.say('count rows after the failure', `the restore failed; counting the rows of ${o.db.name} to see which data it holds`);
  const now = await c.timed('count rows after the failure', () => countRows(o.runner, o.db, o.password, { timeoutMs })).catch(() => null);
  const state = dataState(now, safety.manifest.rowCounts, m.rowCounts);
  const outcome: RestoreDataOutcome = interrupted ? 'interrupted' : ({ 'as-before': 'failed-unchanged', 'as-backup': 'restored', unknown: 'uncertain' } as const)[state];
  return { ...base, outcome, dataState: state, countsAfter: now, mismatches: now ? compareRowCounts(m.rowCounts, now) : [], error: restoreError.message };
}
