/**
 * Where a canary is, kept on the state host (`canary.json`) so that any machine can see it, resume
 * it or abort it: the step, the traffic split, the hosts it moved, the step's clock, the monitor's
 * read positions and gate clocks, and the decisions that changed something. One zod shape is both
 * the type and the check (read tolerantly: a newer cutover may add keys).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from '../base/zod.ts';
import { canaryFiles, CONTROL_FILE } from '../commands/canary.ts';
import type { Host } from '../config/schema.ts';
import { hostFilePath } from '../runners/mount-namespace.ts';
import { run } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';

export const PHASES = [
  'deploying', // the canary hosts get the release
  'baking', // a step's traffic is on, the gates judge it
  'paused', // an operator paused it
  'waiting', // the maximum hold passed: waiting for a person
  'finishing', // 100%: the rest of the fleet gets the release
  'rolling-back',
  'done', // every host on the release, verified
  'rolled-back', // back on the previous release, verified
  'failed', // a human must look
  'stopped', // the controller stopped (Ctrl-C, lost its lock, died): the split is as it was; resume or abort
] as const;
export type Phase = (typeof PHASES)[number];

const Deployed = z.object({ tag: z.string().optional(), commit: z.string(), release: z.string().optional() });

export const CanaryHost = z.object({
  name: z.string(),
  /** What it ran before the canary (the rollback target). */
  from: Deployed,
  /** It runs the canary's release now (deployed, or its flags on; instances mode: its second instance does). */
  moved: z.boolean(),
  /** instances mode: the release folder the second instance runs from (the stable instance takes it over at 100%). */
  release: z.string().optional(),
});
export type CanaryHost = z.infer<typeof CanaryHost>;

export const DecisionRecord = z.object({
  at: z.string(),
  step: z.number().int(),
  percent: z.number(),
  action: z.string(),
  verdict: z.string(),
  why: z.string(),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

export const SmokeRecord = z.object({
  at: z.string(),
  step: z.number().int(),
  ok: z.boolean(),
  /** The smoke command's exit code (null: it did not run or was killed), as the playbook's report keeps it. */
  returncode: z.number().int().nullable(),
  detail: z.string(),
});
export type SmokeRecord = z.infer<typeof SmokeRecord>;

export const CanaryState = z.object({
  version: z.literal(1),
  /** The canary's id: the run that started it (a resume keeps it). */
  runId: z.string(),
  /** The run that drives it now (it holds the lock). */
  controllerRunId: z.string(),
  env: z.string(),
  tag: z.string(),
  mode: z.enum(['nginx', 'subset', 'flags', 'instances']),
  steps: z.array(z.number()),
  /** The step being baked (index into steps); -1 before the first. */
  stepIndex: z.number().int(),
  phase: z.enum(PHASES),
  /** The share of traffic the canary gets now, as asked, and as the weights really give it. */
  percent: z.number(),
  realPercent: z.number(),
  hosts: z.array(CanaryHost),
  stepStartedAt: z.number().nullable(),
  passingSince: z.number().nullable(),
  /** signals' MonitorState: read positions and gate clocks (JSON, resumed as is). */
  monitor: z.unknown().nullable(),
  decisions: z.array(DecisionRecord),
  smoke: z.array(SmokeRecord),
  /** Why it rolled back or failed. */
  reason: z.string().nullable(),
  /** nginx: the include as it was before the canary (null: there was none), put back by a resumed or aborted run too. */
  originalSplit: z.string().nullable().default(null),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type CanaryState = z.infer<typeof CanaryState>;

/** How many decisions canary.json keeps (the run's local event log keeps them all). */
export const KEPT_DECISIONS = 200;

/** The canary recorded on the state host, or null when none ever ran there. */
export async function readCanary(runner: Runner, stateDir: string, signal?: AbortSignal): Promise<CanaryState | null> {
  const r = await run(runner, canaryFiles.read(stateDir), signal ? { signal } : {});
  if (!r.stdout.trim()) return null;
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`${stateDir}/canary.json on ${runner.host.name} is not JSON; look at it, and remove it only when no canary runs`);
  }
  const parsed = CanaryState.safeParse(json);
  if (!parsed.success) throw new Error(`${stateDir}/canary.json on ${runner.host.name} is not a canary state this cutover reads: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export async function writeCanary(runner: Runner, stateDir: string, state: CanaryState): Promise<void> {
  const kept = state.decisions.length > KEPT_DECISIONS ? { ...state, decisions: state.decisions.slice(-KEPT_DECISIONS) } : state;
  await run(runner, canaryFiles.write(stateDir, JSON.stringify({ ...kept, updatedAt: new Date().toISOString() })));
}

/**
 * True when a local state host certainly has no control request: the take command's own first
 * test (`[ -e canary-control.json ] || exit 0`), made here without a process per interval (a
 * local command is a fork of this process: most of a bake's CPU on the sandbox). Any other host,
 * or a request present: the command decides, under its mutex.
 */
export async function noControlRequest(host: Pick<Host, 'transport' | 'mount'>, stateDir: string): Promise<boolean> {
  if (host.transport !== 'local' || !path.isAbsolute(stateDir)) return false; // a relative folder is the command's to resolve
  const file = path.join(stateDir, CONTROL_FILE);
  return !existsSync(host.mount ? await hostFilePath(host.mount, file) : file);
}

/** A phase in which no controller drives the canary any more. */
export const FINISHED: readonly Phase[] = ['done', 'rolled-back', 'failed'];
/** A phase that needs nothing more: not `failed` (its rollback did not complete; `abort` retries it). */
export const SETTLED: readonly Phase[] = ['done', 'rolled-back'];
