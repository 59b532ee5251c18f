/**
 * Holding the deploy lock for a run: taken (or forced, with a recorded reason) together with the
 * run's "started" record when nothing is checked in between, renewed while the run holds it so a
 * long run never looks stale to others, and released only by its owner, in the same command as
 * the "finished" record. A renewal that fails twice in a row, or finds the lock taken by someone
 * else, aborts `lost`: the run stops safely (no automatic undo: another run may be working).
 */
import { CutoverError, ExitCode } from '../base/errors.ts';
import type { Runner } from '../runners/types.ts';
import { addToHistoryCopy, appendLine, appendMirror, dropHistoryCopy, keepHistoryCopy } from '../state/history.ts';
import { describeHolder, forceUnlock, releaseLock, renewLock, type LockHolder, type OwnerOnlyResult } from '../state/lock.ts';
import { finishAndHold, StartNotRecordedError, takeLock, type TakenLock } from '../state/lock-session.ts';
import { lockFileIn } from '../state/paths.ts';
import type { LockRecord } from '../state/records.ts';

export class LockHeldError extends CutoverError {
  constructor(message: string) {
    super(message, ExitCode.refused);
  }
}

/** The abort reason when the run lost its lock. */
export class LockLostError extends Error {}

export { StartNotRecordedError };

export interface LockHold {
  /** Aborted when the lock was lost: the run must stop at once. */
  readonly lost: AbortSignal;
  /** Notes for the summary (a forced lock, a renewal that needed a retry). */
  readonly notes: string[];
  /**
   * Records "started" on the host (then in the local mirror): nothing to do when it went with the
   * lock. Throws when it could not: the lock is released then (by the same command), and the
   * error's message says what the release found.
   */
  start(line: string): Promise<void>;
  /**
   * Records "finished" (the local mirror first), runs `between` (retention: the lock is still held,
   * the history read there needs no round trip) and releases, in one command. Returns problems to
   * say (never throws).
   */
  finish(line: string, between?: () => Promise<void>): Promise<string[]>;
  /** Stops renewing and releases (a refusal under the lock); returns problems to say (never throws). */
  release(): Promise<string[]>;
}

export interface HoldOptions {
  readonly runner: Runner;
  readonly stateDir: string;
  readonly record: LockRecord;
  /** --force-unlock: the reason, recorded in the history. */
  readonly force?: string;
  /** A held lock this run may take over (its own earlier run, stale): the reason, recorded like --force-unlock; null to refuse. */
  readonly takeOver?: (holder: LockHolder) => string | null;
  /** Where the history is mirrored on this machine. */
  readonly mirrorDir: string | null;
  /** How often the lock is renewed (a quarter of its TTL is the usual choice). */
  readonly renewEveryMs: number;
  /** The command that takes a stale or dead run's lock, for messages. */
  readonly forceHint: string;
  /** The serialized "started" event, recorded in the same command as the lock (a run with no re-check under it). */
  readonly startedLine?: string;
  /** Bring the history back with the lock: a re-check under the lock reads it without a round trip. */
  readonly withHistory?: boolean;
}

export async function holdLock(o: HoldOptions): Promise<LockHold> {
  const where = `${o.runner.host.name}:${lockFileIn(o.stateDir)}`;
  const notes: string[] = [];
  let taken: TakenLock | null = null;
  const got = await takeLock(o.runner, o.stateDir, o.record, { ...(o.startedLine !== undefined ? { startedLine: o.startedLine } : {}), history: !!o.withHistory });
  if (got.ok) {
    taken = got.lock;
    if (taken.history !== null) keepHistoryCopy(o.runner, o.stateDir, taken.history);
  } else {
    // --force-unlock, or a lock this run may take over (its own earlier controller's, stale)
    const reason = o.force ?? o.takeOver?.(got.holder) ?? null;
    if (!reason) throw new LockHeldError(`${describeHolder(got.holder, where)} Nothing was changed.`);
    const forced = await forceUnlock(o.runner, o.stateDir, { record: o.record, seen: got.holder, reason, localMirrorDir: o.mirrorDir });
    if (!forced.ok) throw new LockHeldError('the lock changed while it was being forced; run again to see who holds it now. Nothing was changed.');
    notes.push(`took the lock from ${got.holder.record?.owner ?? 'an unreadable record'} (${o.force ? `--force-unlock: ${o.force}` : reason})`);
  }

  const lost = new AbortController();
  lost.signal.addEventListener('abort', () => dropHistoryCopy(o.runner, o.stateDir), { once: true }); // someone else may append now
  let failures = 0;
  let renewing: Promise<void> = Promise.resolve();
  const renew = async () => {
    try {
      const r = await renewLock(o.runner, o.stateDir, o.record.runId);
      if (r.status === 'renewed') {
        failures = 0;
        return;
      }
      const who = r.status === 'not-owner' ? describeHolder(r.holder, where) : `the lock file ${where} is gone`;
      lost.abort(new LockLostError(`this run lost the deploy lock: ${who}`));
    } catch (err) {
      if (++failures >= 2) lost.abort(new LockLostError(`the deploy lock on ${where} could not be renewed twice in a row (${(err as Error).message})`));
      else notes.push(`a renewal of the lock failed once (${(err as Error).message}); it was retried`);
    }
  };
  const timer = setInterval(() => {
    if (!lost.signal.aborted) renewing = renewing.then(renew);
  }, o.renewEveryMs);
  timer.unref(); // never the reason the process stays alive

  const stopRenewing = async () => {
    clearInterval(timer);
    await renewing;
  };
  const answer = (r: OwnerOnlyResult, problems: string[]) => {
    if (r.status === 'not-owner') problems.push(`the lock was no longer ours when releasing it: ${describeHolder(r.holder)}`);
  };
  const cannotRelease = (e: Error) => `could not release the lock on ${where} (${e.message}); it stays until released: ${o.forceHint}`;
  /** The lock released by a command of its own (the session is gone, or there was none). */
  const releaseAlone = async (problems: string[]) => {
    await releaseLock(o.runner, o.stateDir, o.record.runId).then((r) => answer(r, problems), (e: Error) => problems.push(cannotRelease(e)));
    dropHistoryCopy(o.runner, o.stateDir);
  };

  return {
    lost: lost.signal,
    notes,
    async start(line) {
      try {
        // forced: the lock command is over, the line goes in a command of its own
        if (taken) await taken.start(o.startedLine === undefined ? line : undefined);
        else await appendLine(o.runner, o.stateDir, line).catch((e: Error) => Promise.reject(new StartNotRecordedError(e.message, null)));
      } catch (err) {
        await stopRenewing();
        const problems: string[] = [];
        if (err instanceof StartNotRecordedError && err.release) answer(err.release, problems);
        else await releaseAlone(problems); // the forced path, or a session that ended before it could say
        dropHistoryCopy(o.runner, o.stateDir);
        throw new Error([(err as Error).message, ...problems].join('\n  '));
      }
      taken = null;
      addToHistoryCopy(o.runner, o.stateDir, line);
      // the mirror gets the line only once the host has it: a run that could not record its start did not start
      if (o.mirrorDir) appendMirror(o.mirrorDir, line);
    },
    async finish(line, between) {
      await stopRenewing();
      const problems: string[] = [];
      if (o.mirrorDir) appendMirror(o.mirrorDir, line); // first: a trace exists even when the host is unreachable
      const notRecorded = (why: string) => problems.push(`could not record the end of the run in the history: ${why}`);
      const f = await finishAndHold(o.runner, o.stateDir, o.record.runId, line, { history: !!between }).catch((e: Error) => {
        notRecorded(e.message);
        dropHistoryCopy(o.runner, o.stateDir); // what the host holds now is not known
        return null;
      });
      if (f && !f.recorded) notRecorded(f.problem ?? 'unknown');
      else if (f?.history != null) keepHistoryCopy(o.runner, o.stateDir, f.history);
      else if (f) addToHistoryCopy(o.runner, o.stateDir, line);
      try {
        await between?.();
      } finally {
        if (f) await f.release().then((r) => answer(r, problems), (e: Error) => problems.push(cannotRelease(e)));
        else await releaseAlone(problems);
        dropHistoryCopy(o.runner, o.stateDir);
      }
      return problems;
    },
    async release() {
      await stopRenewing();
      const problems: string[] = [];
      if (taken) await taken.release().then((r) => answer(r, problems), async () => releaseAlone(problems));
      else await releaseAlone(problems);
      taken = null;
      dropHistoryCopy(o.runner, o.stateDir);
      return problems;
    },
  };
}
