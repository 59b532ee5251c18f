/**
 * The part of a restore that changes something, under the deploy lock: the "started" record, a
 * safety backup, the restore in one transaction, the row counts, the "finished" record, the lock
 * released. Sets run.outcome; throws only when the lock cannot be taken (nothing changed).
 */
import path from 'node:path';
import { takeBackup } from '../backup/dump.ts';
import { restoreDatabase } from '../backup/restore.ts';
import { parseRowCounts, pg } from '../commands/pg.ts';
import { CutoverError, ExitCode } from '../base/errors.ts';
import { sizeText } from '../base/format.ts';
import { appendHistory } from '../state/history.ts';
import { acquireLock, describeHolder, forceUnlock, newLockRecord, releaseLock } from '../state/lock.ts';
import { lockFileIn } from '../state/paths.ts';
import type { HistoryEvent } from '../state/records.ts';
import { notify } from '../notify/webhook.ts';
import { dataState, RESULT } from './outcome.ts';
import { startEvent } from './summary.ts';
import type { RestoreRun } from './types.ts';

/** How long the row count after a failed restore may wait (it queues behind a restore still holding its locks). */
const RECOUNT_TIMEOUT_MS = 60_000;

async function takeLock(run: RestoreRun): Promise<void> {
  const record = newLockRecord({ runId: run.runId, env: run.env.name, tag: null, task: 'restore' });
  const got = await acquireLock(run.primary, run.stateDir, record);
  if (got.ok) return;
  const where = `${run.primary.host.name}:${lockFileIn(run.stateDir)}`;
  if (!run.forceUnlock) throw new CutoverError(`${describeHolder(got.holder, where)} Nothing was changed.`, ExitCode.refused);
  const forced = await forceUnlock(run.primary, run.stateDir, { record, seen: got.holder, reason: run.forceUnlock, localMirrorDir: run.env.backupDir });
  if (!forced.ok) throw new CutoverError('the lock changed while it was being forced; run again to see who holds it now. Nothing was changed.', ExitCode.refused);
  run.notes.push(`took the lock from ${got.holder.record?.owner ?? 'an unreadable record'} (--force-unlock: ${run.forceUnlock})`);
}

async function timed<T>(run: RestoreRun, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const done = (ok: boolean) => run.steps.push({ name, durationMs: Math.round(performance.now() - t0), ok });
  try {
    const v = await fn();
    done(true);
    return v;
  } catch (err) {
    done(false);
    throw err;
  }
}

/** Row counts now, without the run's signal (it may be aborted already); null when they cannot be read. */
async function recount(run: RestoreRun): Promise<Record<string, number> | null> {
  try {
    const r = await run.runner.exec(pg.rowCounts(run.db, run.password), { timeoutMs: RECOUNT_TIMEOUT_MS });
    return r.code === 0 ? parseRowCounts(r.stdout) : null;
  } catch {
    return null;
  }
}

export async function runLocked(run: RestoreRun): Promise<void> {
  await takeLock(run);
  const history = (event: HistoryEvent) => appendHistory(run.primary, run.stateDir, run.env.backupDir, event, { secrets: run.secrets });
  const m = run.source.manifest;
  try {
    // from/to: the live tag, which a restore does not change; backupFile: the dump being restored
    await history({ type: 'started', runId: run.runId, task: 'restore', env: run.env.name, who: run.who, from: run.liveTag, to: run.liveTag, backupFile: run.source.dumpPath, at: new Date().toISOString() });

    // announced once the lock is ours; not awaited here: a slow webhook never delays the restore
    run.notifications.push(notify(run.env, startEvent(run), { signal: run.signal }));

    run.say(`Safety backup of ${run.db.name} as it is now...`);
    try {
      run.safety = await timed(run, 'safety backup', () =>
        takeBackup({
          runner: run.runner,
          db: run.db,
          password: run.password,
          format: run.db.format,
          dir: run.env.backupDir,
          envName: run.env.name,
          fromTag: run.liveTag,
          toTag: run.liveTag ?? 'manual',
          runId: run.runId,
          signal: run.signal,
        }),
      );
    } catch (err) {
      run.error = (err as Error).message;
      run.outcome = run.signal.aborted ? 'interrupted' : 'refused';
      run.dataState = 'as-before';
      return;
    }
    const s = run.safety.manifest;
    run.say(`  ${path.relative(process.cwd(), run.safety.dumpPath)} (${sizeText(s.sizeBytes)}, verified)`);

    run.say(`Restoring ${run.db.name} from ${m.file} in one transaction...`);
    run.restoreStarted = true;
    // Ctrl-C does not cut the transaction off: a killed runner leaves pg_restore running on the host
    // (it would commit unseen). The restore is waited for, so the state reported is the real one.
    const waitNote = () => run.say(`  the restore is one transaction: waiting for it to end, so the state of ${run.db.name} is known (Ctrl-C again quits at once, state unknown)`);
    run.signal.addEventListener('abort', waitNote, { once: true });
    try {
      const r = await timed(run, 'restore', () =>
        restoreDatabase({
          runner: run.runner,
          db: run.db,
          password: run.password,
          dumpPath: run.source.dumpPath,
          manifest: m,
          scratchDir: run.scratchDir,
          runId: run.runId,
          secrets: run.secrets,
        }),
      );
      run.countsAfter = r.rowCounts;
      run.mismatches = [...r.mismatches];
      run.dataState = r.mismatches.length ? 'unknown' : 'as-backup';
      run.outcome = run.signal.aborted ? 'interrupted' : r.mismatches.length ? 'counts-differ' : 'restored';
    } catch (err) {
      run.error = (err as Error).message;
      // the claim "left as it was" is checked, not assumed: count again and compare with the safety backup
      run.countsAfter = await timed(run, 'count rows after the failure', () => recount(run));
      run.dataState = dataState(run.countsAfter, s.rowCounts, m.rowCounts);
      run.outcome = run.signal.aborted ? 'interrupted' : { 'as-before': 'failed-unchanged', 'as-backup': 'restored', unknown: 'uncertain' }[run.dataState] as RestoreRun['outcome'];
    } finally {
      run.signal.removeEventListener('abort', waitNote);
    }
  } finally {
    await history({
      type: 'finished',
      runId: run.runId,
      task: 'restore',
      env: run.env.name,
      result: RESULT[run.outcome],
      live: null, // a restore verifies data, not a release: it never changes what rollback goes back to
      steps: run.steps,
      ...(run.safety ? { backupFile: run.safety.dumpPath } : {}),
      ...(run.error ? { error: run.error } : {}),
      at: new Date().toISOString(),
    }).catch((e: Error) => run.cleanup.push(`could not record the end of the restore in the history: ${e.message}`));
    await releaseLock(run.primary, run.stateDir, run.runId).then(
      (r) => r.status === 'not-owner' && run.cleanup.push(`the lock was no longer ours when releasing it: ${describeHolder(r.holder)}`),
      (e: Error) => run.cleanup.push(`could not release the lock on ${run.primary.host.name} (${e.message}); it stays until released with --force-unlock '<reason>'`),
    );
  }
}
