/**
 * What the host's state folder holds: the lock record (lock.json) and the history events
 * (history.jsonl, one JSON object per line). One zod shape per record is both the type and the
 * check: reading is tolerant (unknown extra keys are dropped: a newer cutover may add some), writing
 * is strict (a key the reader would drop is a mistake, refused before it is lost).
 */
import { z } from '../base/zod.ts';

export const TASKS = ['deploy', 'rollback', 'restore', 'backup', 'canary'] as const;
export type Task = (typeof TASKS)[number];

/**
 * How a run ended, relative to its own target (`to`), whatever the task: `deployed`: `to` is live
 * and verified (for a rollback task too); `rolled-back`: the run failed and the tag from before it
 * (`from`) is live again, verified. What is live is stated in FinishedEvent.live.
 */
export const RESULTS = ['deployed', 'rolled-back', 'failed', 'interrupted', 'needs-attention'] as const;
export type Result = (typeof RESULTS)[number];

export const LockRecord = z.object({
  runId: z.string().min(1),
  env: z.string(),
  /** The tag the run goes to (null when it has none, e.g. a restore). */
  tag: z.string().nullable(),
  task: z.enum(TASKS),
  /** user@machine of the process that holds the lock (the machine running cutover, not the host). */
  owner: z.string(),
  /** That process's pid on that machine. */
  pid: z.number().int(),
  startedAt: z.string(),
  /** Older than this (by the host's clock, from the lock file's mtime) means stale. */
  ttlSec: z.number().int().positive(),
});
export type LockRecord = z.infer<typeof LockRecord>;

const Step = z.object({ name: z.string(), durationMs: z.number(), ok: z.boolean() });
export type Step = z.infer<typeof Step>;

/** Written before anything changes, so even a killed run leaves a trace. */
const startedShape = {
  type: z.literal('started'),
  runId: z.string().min(1),
  task: z.enum(TASKS),
  env: z.string(),
  who: z.string(),
  /** The tag live before the run (null: not on a tag, or unknown). */
  from: z.string().nullable(),
  to: z.string().nullable(),
  backupFile: z.string().optional(),
  skipBackupReason: z.string().optional(),
  /** The hosts this run works on, when it was limited to some of them (--hosts, --tag). */
  hosts: z.array(z.string()).optional(),
  at: z.string(),
};

const finishedShape = {
  type: z.literal('finished'),
  runId: z.string().min(1),
  task: z.enum(TASKS),
  env: z.string(),
  result: z.enum(RESULTS),
  /**
   * The tag verified live on the hosts when the run ended; null when not verified (failed,
   * interrupted, needs-attention). A deploy that rolled back sets it to the tag it went back to.
   * The rollback default and "ever deployed successfully" are computed from this field alone.
   */
  live: z.string().nullable(),
  /** The dump taken by this run (known only after it finished, so it is here and not in `started`). */
  backupFile: z.string().optional(),
  /** SSM commands sent by this run (restarts), per host: to find them in the AWS console. */
  ssmCommands: z
    .array(z.object({ host: z.string(), instanceId: z.string(), commandId: z.string(), status: z.string(), durationMs: z.number() }))
    .optional(),
  steps: z.array(Step),
  error: z.string().optional(),
  at: z.string(),
};

/** Someone took the lock from another holder with --force-unlock. */
const lockForcedShape = {
  type: z.literal('lock-forced'),
  /** The run that took the lock. */
  runId: z.string().min(1),
  env: z.string(),
  who: z.string(),
  reason: z.string(),
  /** The record that was replaced (null when it could not be read: then previousRaw holds its text). */
  previous: LockRecord.nullable(),
  previousRaw: z.string().optional(),
  at: z.string(),
};

export const StartedEvent = z.object(startedShape);
export type StartedEvent = z.infer<typeof StartedEvent>;
export const FinishedEvent = z.object(finishedShape);
export type FinishedEvent = z.infer<typeof FinishedEvent>;
export const LockForcedEvent = z.object(lockForcedShape);
export type LockForcedEvent = z.infer<typeof LockForcedEvent>;

/** Reading: unknown keys dropped. */
export const HistoryEvent = z.discriminatedUnion('type', [StartedEvent, FinishedEvent, LockForcedEvent]);
export type HistoryEvent = z.infer<typeof HistoryEvent>;

/** Writing: unknown keys refused. */
export const HistoryEventToWrite = z.discriminatedUnion('type', [z.strictObject(startedShape), z.strictObject(finishedShape), z.strictObject(lockForcedShape)]);
