/**
 * Holding the deploy lock for a run: taken (or forced, with a recorded reason), renewed while the
 * run holds it so a long run never looks stale to others, released only by its owner. A renewal
 * that fails twice in a row, or finds the lock taken by someone else, aborts `lost`: the run
 * stops safely (no automatic undo: another run may be working).
 */
import { CutoverError, ExitCode } from '../base/errors.ts';
import type { Runner } from '../runners/types.ts';
import { acquireLock, describeHolder, forceUnlock, releaseLock, renewLock, type LockHolder } from '../state/lock.ts';
import { lockFileIn } from '../state/paths.ts';
import type { LockRecord } from '../state/records.ts';

export class LockHeldError extends CutoverError {
  constructor(message: string) {
    super(message, ExitCode.refused);
  }
}

/** The abort reason when the run lost its lock. */
export class LockLostError extends Error {}

export interface LockHold {
  /** Aborted when the lock was lost: the run must stop at once. */
  readonly lost: AbortSignal;
  /** Notes for the summary (a forced lock, a renewal that needed a retry). */
  readonly notes: string[];
  /** Stops renewing and releases; returns problems to say (never throws). */
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
}

export async function holdLock(o: HoldOptions): Promise<LockHold> {
  const where = `${o.runner.host.name}:${lockFileIn(o.stateDir)}`;
  const notes: string[] = [];
  const got = await acquireLock(o.runner, o.stateDir, o.record);
  if (!got.ok) {
    const reason = o.force ?? o.takeOver?.(got.holder) ?? null;
    if (!reason) throw new LockHeldError(`${describeHolder(got.holder, where)} Nothing was changed.`);
    const forced = await forceUnlock(o.runner, o.stateDir, { record: o.record, seen: got.holder, reason, localMirrorDir: o.mirrorDir });
    if (!forced.ok) throw new LockHeldError('the lock changed while it was being forced; run again to see who holds it now. Nothing was changed.');
    notes.push(`took the lock from ${got.holder.record?.owner ?? 'an unreadable record'} (${o.force ? `--force-unlock: ${o.force}` : reason})`);
  }

  const lost = new AbortController();
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

  return {
    lost: lost.signal,
    notes,
    async release() {
      clearInterval(timer);
      await renewing;
      const problems: string[] = [];
      await releaseLock(o.runner, o.stateDir, o.record.runId).then(
        (r) => {
          if (r.status === 'not-owner') problems.push(`the lock was no longer ours when releasing it: ${describeHolder(r.holder)}`);
        },
        (e: Error) => problems.push(`could not release the lock on ${where} (${e.message}); it stays until released: ${o.forceHint}`),
      );
      return problems;
    },
  };
}
