/**
 * The shape every changing task shares (deploy, rollback): preflight -> plan -> (dry-run stops
 * here) -> confirmation -> lock -> "started" record -> the work -> on failure, the undo -> the
 * "finished" record -> lock released. Only this file decides the outcome; the entry point maps it
 * to an exit code.
 */
import type { ListrTask } from 'listr2';
import { secretValues } from '../config/load.ts';
import { CutoverError, ExitCode } from '../base/errors.ts';
import { makeList, type RendererName } from '../listr.ts';
import { acquireLock, describeHolder, forceUnlock, newLockRecord, releaseLock } from '../state/lock.ts';
import { appendHistory } from '../state/history.ts';
import { lockFileIn, stateDirOf } from '../state/paths.ts';
import type { Result } from '../state/records.ts';
import { confirmByTyping } from './confirm.ts';
import { label, type RunCtx } from './context.ts';
import { PreflightError, preflightTasks } from './preflight.ts';

export interface Procedure {
  readonly kind: 'deploy' | 'rollback';
  /** Read-only facts for the plan (git log, pending migrations...), after preflight. */
  plan(ctx: RunCtx): Promise<string[]>;
  /** The work, after the lock and the started record. */
  work(ctx: RunCtx): ListrTask<RunCtx>[];
  /** Undo after a failure that changed something live; null: none (the outcome is needs-attention). */
  undo: ((ctx: RunCtx) => ListrTask<RunCtx>[]) | null;
  /** What a dry-run shows instead of running the work (every command, recorded). */
  dryRun(ctx: RunCtx): Promise<string[]>;
}

export type Outcome = 'deployed' | 'rolled-back' | 'refused' | 'needs-attention' | 'interrupted' | 'dry-run';

export interface RunReport {
  readonly outcome: Outcome;
  readonly exitCode: ExitCode;
  readonly error?: string;
  readonly plan: string[];
  /** Things that went wrong in cleanup (lock release, history): said, never hidden. */
  readonly cleanup: string[];
}

export class LockHeldError extends CutoverError {}

const EXIT: Record<Outcome, ExitCode> = {
  deployed: ExitCode.ok,
  'dry-run': ExitCode.ok,
  'rolled-back': ExitCode.rolledBack,
  refused: ExitCode.refused,
  'needs-attention': ExitCode.needsHuman,
  interrupted: ExitCode.interrupted,
};

export interface RunOptions {
  readonly renderer?: RendererName;
  /** Where plan and progress lines go (stderr with --json). */
  readonly print: (text: string) => void;
}

export async function orchestrate(ctx: RunCtx, proc: Procedure, opts: RunOptions): Promise<RunReport> {
  const list = (tasks: ListrTask<RunCtx>[]) => makeList(ctx, tasks, { renderer: opts.renderer, json: ctx.flags.json });
  const problems: string[] = [];
  await list(preflightTasks(ctx, problems, { needTag: proc.kind === 'deploy' })).run();
  if (problems.length) throw new PreflightError(problems);

  const plan = await proc.plan(ctx);
  opts.print(plan.join('\n'));
  if (ctx.flags.dryRun) {
    opts.print((await proc.dryRun(ctx)).join('\n'));
    return { outcome: 'dry-run', exitCode: ExitCode.ok, plan, cleanup: [] };
  }
  if (ctx.env.config.policy.confirm && !ctx.flags.yes) await confirmByTyping(ctx.env.name, opts.print);

  const cleanup: string[] = [];
  const primary = ctx.hosts[0]!; // one lock per environment, on the first host
  const stateDir = stateDirOf(ctx.env.config.app);
  const record = newLockRecord({ runId: ctx.runId, env: ctx.env.name, tag: ctx.tag, task: proc.kind });
  const got = await acquireLock(primary.runner, stateDir, record);
  if (!got.ok) {
    if (!ctx.flags.forceUnlock) throw new LockHeldError(describeHolder(got.holder, `${primary.host.name}:${lockFileIn(stateDir)}`));
    const forced = await forceUnlock(primary.runner, stateDir, { record, seen: got.holder, reason: ctx.flags.forceUnlock, localMirrorDir: ctx.env.backupDir });
    if (!forced.ok) throw new LockHeldError(`the lock changed while it was being forced; run again to see who holds it now`);
    ctx.notes.push(`took the lock from ${got.holder.record?.owner ?? 'an unreadable record'} (--force-unlock: ${ctx.flags.forceUnlock})`);
  }

  const secrets = secretValues(ctx.env);
  const history = (event: Parameters<typeof appendHistory>[3]) => appendHistory(primary.runner, stateDir, ctx.env.backupDir, event, { secrets });
  let outcome: Outcome = 'needs-attention';
  let error: string | undefined;
  try {
    await history({
      type: 'started',
      runId: ctx.runId,
      task: proc.kind,
      env: ctx.env.name,
      who: ctx.who,
      from: primary.from.tag ?? null,
      to: ctx.tag,
      ...(ctx.flags.skipBackup ? { skipBackupReason: ctx.flags.skipBackup } : {}),
      at: new Date().toISOString(),
    });
    // a failed notification warns and never fails a deploy
    const { notify } = await import('../notify/webhook.ts');
    const { runStartEvent } = await import('../reports/from-run.ts');
    const sent = await notify(ctx.env, runStartEvent(ctx), { signal: ctx.signal });
    if (sent.warning) cleanup.push(sent.warning);
    try {
      await list(proc.work(ctx)).run();
      outcome = 'deployed';
    } catch (err) {
      error = (err as Error).message;
      outcome = await afterFailure(ctx, proc, list);
    }
  } finally {
    const result: Result = outcome === 'refused' || outcome === 'dry-run' ? 'failed' : outcome;
    const live = outcome === 'deployed' ? ctx.tag : outcome === 'rolled-back' ? (primary.from.tag ?? null) : null;
    await history({
      type: 'finished',
      runId: ctx.runId,
      task: proc.kind,
      env: ctx.env.name,
      result,
      live,
      steps: ctx.steps,
      ...(ctx.backup ? { backupFile: ctx.backup.file } : {}),
      ...(ctx.ssmCommands.length ? { ssmCommands: ctx.ssmCommands } : {}),
      ...(error ? { error } : {}),
      at: new Date().toISOString(),
    }).catch((e: Error) => cleanup.push(`could not record the end of the run in the history: ${e.message}`));
    await releaseLock(primary.runner, stateDir, ctx.runId).then(
      (r) => r.status === 'not-owner' && cleanup.push(`the lock was no longer ours when releasing it: ${describeHolder(r.holder)}`),
      (e: Error) =>
        cleanup.push(`could not release the lock on ${primary.host.name} (${e.message}); it stays until released: npx tsx tasks/${proc.kind}.ts --env ${ctx.env.name} --force-unlock '<reason>'`),
    );
  }
  return { outcome, exitCode: EXIT[outcome], ...(error ? { error } : {}), plan, cleanup };
}

/** After a failed step: what changed decides. Never hides a host that is left half-deployed. */
async function afterFailure(ctx: RunCtx, proc: Procedure, list: (t: ListrTask<RunCtx>[]) => { run(): Promise<unknown> }): Promise<Outcome> {
  if (ctx.signal.aborted) return 'interrupted';
  const live = ctx.hosts.some((h) => h.stage !== 'untouched');
  if (!live) return 'refused'; // nothing live changed (e.g. the backup failed): exit 2
  const auto = ctx.env.config.policy.autoRollback && !ctx.flags.noRollback;
  if (!auto || !proc.undo) {
    ctx.notes.push(auto ? 'no automatic undo for this task' : 'automatic rollback is off (--no-rollback or policy.autoRollback: false)');
    return 'needs-attention';
  }
  try {
    await list(proc.undo(ctx)).run();
    return 'rolled-back';
  } catch (err) {
    if (ctx.signal.aborted) return 'interrupted';
    for (const h of ctx.hosts) if (h.stage !== 'untouched' && h.stage !== 'rolled-back') h.stage = 'rollback-failed';
    ctx.notes.push(`the rollback to ${label(ctx.hosts[0]!.from)} failed: ${(err as Error).message}`);
    return 'needs-attention';
  }
}
