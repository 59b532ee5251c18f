/**
 * One deploy per environment: the lock on the host (see ../commands/lock.ts for how it is kept
 * atomic). A held lock is reported with its holder; a stale one is reported as stale and is only
 * ever taken by forceUnlock, with a reason recorded in the history. Only the owner releases.
 */
import os from 'node:os';
import { lock, LOCK_HELD_EXIT } from '../commands/lock.ts';
import { hmsText } from '../base/format.ts';
import { UsageError } from '../base/errors.ts';
import type { Runner } from '../runners/types.ts';
import { execExpecting } from './exec.ts';
import { appendMirror, serializeEvent } from './history.ts';
import { lockFileIn } from './paths.ts';
import { LockRecord, type LockForcedEvent, type Task } from './records.ts';

export const DEFAULT_LOCK_TTL_SEC = 2 * 60 * 60;

export interface LockHolder {
  /** null when lock.json is not a lock record (then `raw` is all there is). */
  readonly record: LockRecord | null;
  /** The lock file's text, exactly (what forceUnlock checks is still there). */
  readonly raw: string;
  /** Seconds since the lock was taken or renewed, by the host's clock (both ends of the subtraction). */
  readonly ageSec: number;
  readonly stale: boolean;
  /** Why it is stale ('pid 4242 is gone on laptop', 'older than its TTL (2h 5m > 2h)'), or null. */
  readonly staleReason: string | null;
}

export type AcquireResult = { readonly ok: true; readonly record: LockRecord } | { readonly ok: false; readonly holder: LockHolder };
export type OwnerOnlyResult =
  | { readonly status: 'released' | 'renewed' | 'absent' }
  | { readonly status: 'not-owner'; readonly holder: LockHolder };
export type ForceResult = { readonly ok: true; readonly event: LockForcedEvent } | { readonly ok: false; readonly holder: LockHolder | null };

/** What decides "the holder's process is gone": only knowable when it ran on this machine. */
export interface StaleContext {
  readonly machine: string;
  isAlive(pid: number): boolean;
}

export const thisMachine: StaleContext = { machine: os.hostname(), isAlive: pidAlive };

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but not ours to signal
  }
}

/** user@machine of this process: the lock's owner and the history's `who`. */
export function whoAmI(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown'; // no passwd entry (some containers)
  }
  return `${user}@${os.hostname()}`;
}

export interface NewLock {
  readonly runId: string;
  readonly env: string;
  readonly tag: string | null;
  readonly task: Task;
  readonly ttlSec?: number;
}

export function newLockRecord(o: NewLock, now: Date = new Date()): LockRecord {
  return LockRecord.parse({ runId: o.runId, env: o.env, tag: o.tag, task: o.task, owner: whoAmI(), pid: process.pid, startedAt: now.toISOString(), ttlSec: o.ttlSec ?? DEFAULT_LOCK_TTL_SEC });
}

/** Pure: is this holder stale? Both reasons are given when both hold. */
export function judgeStale(record: LockRecord | null, ageSec: number, ctx: StaleContext = thisMachine): { stale: boolean; reason: string | null } {
  if (!record) return { stale: true, reason: 'the lock file is not a lock record' };
  const reasons: string[] = [];
  const machine = record.owner.slice(record.owner.lastIndexOf('@') + 1);
  if (machine === ctx.machine && !ctx.isAlive(record.pid)) reasons.push(`pid ${record.pid} is gone on ${machine}`);
  if (ageSec > record.ttlSec) reasons.push(`older than its TTL (${hmsText(ageSec)} > ${hmsText(record.ttlSec)})`);
  return { stale: reasons.length > 0, reason: reasons.length ? reasons.join('; ') : null };
}

/** Pure: parses a `held <now> <mtime>\n<record>\n` block (see ../commands/lock.ts). */
export function parseHeld(block: string, ctx: StaleContext = thisMachine): LockHolder {
  const nl = block.indexOf('\n');
  const m = /^held (\d+) (\d+)$/.exec(nl < 0 ? block : block.slice(0, nl));
  if (!m) throw new Error(`not a lock report: ${JSON.stringify(block.slice(0, 200))}`);
  const raw = block.slice(nl + 1).replace(/\n$/, '');
  const ageSec = Math.max(0, Number(m[1]) - Number(m[2]));
  let record: LockRecord | null = null;
  try {
    const parsed = LockRecord.safeParse(JSON.parse(raw));
    record = parsed.success ? parsed.data : null;
  } catch {
    // not JSON: reported as an unreadable (stale) lock
  }
  const { stale, reason } = judgeStale(record, ageSec, ctx);
  return { record, raw, ageSec, stale, staleReason: reason };
}

/** The refusal as the operator reads it: who, what, since when, and what to do. */
export function describeHolder(h: LockHolder, lockFile?: string): string {
  const where = lockFile ? ` (${lockFile})` : '';
  const who = h.record
    ? `held by ${h.record.owner} (run ${h.record.runId}: ${h.record.task}${h.record.tag ? ` ${h.record.tag}` : ''} to ${h.record.env}, pid ${h.record.pid}) since ${h.record.startedAt}, ${hmsText(h.ageSec)} ago`
    : `held, but its content is not a lock record: ${JSON.stringify(h.raw.slice(0, 200))}`;
  if (h.stale) return `The deploy lock${where} is STALE: ${who}; ${h.staleReason}. If no run is using it, take it with --force-unlock '<reason>'.`;
  return `The deploy lock${where} is ${who}. Wait for that run to finish; if it is dead, take the lock with --force-unlock '<reason>'.`;
}


export interface LockOptions {
  readonly stale?: StaleContext;
}

export async function acquireLock(runner: Runner, stateDir: string, record: LockRecord, opts: LockOptions = {}): Promise<AcquireResult> {
  const r = await execExpecting(runner, lock.acquire(stateDir, record), `take the deploy lock ${lockFileIn(stateDir)}`, [0, LOCK_HELD_EXIT]);
  if (r.code === 0) return { ok: true, record };
  return { ok: false, holder: parseHeld(r.stdout, opts.stale) };
}

/** The current holder, or null when the lock is free. Read-only. */
export async function lockStatus(runner: Runner, stateDir: string, opts: LockOptions = {}): Promise<LockHolder | null> {
  const r = await execExpecting(runner, lock.status(stateDir), `read the deploy lock ${lockFileIn(stateDir)}`, [0]);
  return r.stdout === 'free\n' ? null : parseHeld(r.stdout, opts.stale);
}

/** Removes the lock only when `runId` holds it; says what it found. */
export async function releaseLock(runner: Runner, stateDir: string, runId: string, opts: LockOptions = {}): Promise<OwnerOnlyResult> {
  const r = await execExpecting(runner, lock.release(stateDir, runId), `release the deploy lock ${lockFileIn(stateDir)}`, [0]);
  return ownerOnlyResult(r.stdout, opts.stale);
}

/** Restarts the lock's TTL clock when `runId` holds it (long runs call it between steps). */
export async function renewLock(runner: Runner, stateDir: string, runId: string, opts: LockOptions = {}): Promise<OwnerOnlyResult> {
  const r = await execExpecting(runner, lock.renew(stateDir, runId), `renew the deploy lock ${lockFileIn(stateDir)}`, [0]);
  return ownerOnlyResult(r.stdout, opts.stale);
}

/** `released`/`renewed`/`absent`, or `not-owner` and the holder's block. */
export function ownerOnlyResult(stdout: string, ctx?: StaleContext): OwnerOnlyResult {
  const first = stdout.slice(0, stdout.indexOf('\n'));
  if (first === 'released' || first === 'renewed' || first === 'absent') return { status: first };
  if (first === 'not-owner') return { status: 'not-owner', holder: parseHeld(stdout.slice(first.length + 1), ctx) };
  throw new Error(`unexpected answer from the lock command: ${JSON.stringify(stdout.slice(0, 200))}`);
}

export interface ForceUnlock {
  /** The new record (this run's). */
  readonly record: LockRecord;
  /** The holder the operator was shown: the lock is replaced only if it is still exactly that. */
  readonly seen: LockHolder;
  readonly reason: string;
  /** Where the history is mirrored on this machine (LoadedEnvironment.backupDir), or null. */
  readonly localMirrorDir: string | null;
  readonly now?: Date;
}

/**
 * Takes the lock from `seen` for `record`, atomically (a complete file renamed over lock.json), and
 * appends a `lock-forced` event (who, why, the previous holder) to the history in the same step.
 * { ok: false } when the lock changed meanwhile (holder null: it was released): nothing was done.
 */
export async function forceUnlock(runner: Runner, stateDir: string, f: ForceUnlock, opts: LockOptions = {}): Promise<ForceResult> {
  const reason = f.reason.trim();
  if (!reason) throw new UsageError("--force-unlock needs a reason, e.g. --force-unlock 'run 42 was killed with its laptop'");
  const event: LockForcedEvent = {
    type: 'lock-forced',
    runId: f.record.runId,
    env: f.record.env,
    who: f.record.owner,
    reason,
    previous: f.seen.record,
    ...(f.seen.record ? {} : { previousRaw: f.seen.raw }),
    at: (f.now ?? new Date()).toISOString(),
  };
  const line = serializeEvent(event);
  const r = await execExpecting(runner, lock.force(stateDir, f.record, f.seen.raw, line), `force the deploy lock ${lockFileIn(stateDir)}`, [0, LOCK_HELD_EXIT]);
  if (r.code === LOCK_HELD_EXIT) return { ok: false, holder: r.stdout === 'free\n' ? null : parseHeld(r.stdout, opts.stale) };
  if (f.localMirrorDir) appendMirror(f.localMirrorDir, line);
  return { ok: true, event };
}
