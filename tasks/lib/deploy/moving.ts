/**
 * What deploy and rollback share as kernel procedures: the lock's tag, the history records, the
 * confirmation, the undo after a failure, the summary, report and notifications.
 */
import { label } from '../base/run.ts';
import { UsageError } from '../base/errors.ts';
import { confirmByTyping } from '../kernel/confirm.ts';
import type { ListMaker } from '../kernel/listr.ts';
import type { FinishedFields, Outcome, Procedure, StartedFields } from '../kernel/procedure.ts';
import type { RunCtx } from './context.ts';
import { preflightTasks, PreflightError, type PreflightOptions } from './preflight.ts';
import { runEndEvent, runReportInput, runStartEvent } from './report.ts';
import { changedAnything, failureText, summaryJson, summaryText } from './summary.ts';

type Shared = Omit<Procedure<RunCtx>, 'task' | 'preflight' | 'work' | 'recover'>;

export const movingParts: Shared = {
  lockTag: (ctx) => ctx.tag,

  async confirm(ctx) {
    if (!ctx.env.config.policy.confirm || ctx.flags.yes) return;
    if (!process.stdin.isTTY) throw new UsageError(`environment ${ctx.env.name} asks for confirmation and there is no terminal to ask in: run it in a terminal, or pass --yes.`);
    await confirmByTyping(ctx.env.name, `Type "${ctx.env.name}" to go ahead`, ctx.signal);
  },

  started: (ctx): StartedFields => ({
    from: ctx.hosts[0]!.from.tag ?? null,
    to: ctx.tag,
    ...(ctx.flags.skipBackup ? { skipBackupReason: ctx.flags.skipBackup } : {}),
    ...(ctx.filtered ? { hosts: ctx.hosts.map((h) => h.host.name) } : {}),
  }),

  changedAnything,

  finished: (ctx, outcome, error): FinishedFields => ({
    live: outcome === 'done' ? ctx.tag : outcome === 'rolled-back' ? (ctx.hosts[0]!.from.tag ?? null) : null,
    ...(ctx.backup ? { backupFile: ctx.backup.file } : {}),
    ...(ctx.ssmCommands.length ? { ssmCommands: ctx.ssmCommands } : {}),
    ...(error ? { error: failureText(ctx, error)! } : {}),
  }),

  summary: summaryText,
  json: summaryJson,
  report: (ctx, r, summary) => runReportInput(ctx, r, summary),
  startEvent: runStartEvent,
  endEvent: runEndEvent,
};

/** Preflight of every host (and EC2, the database): every problem at once, any refuses the run. */
export async function checkHosts(ctx: RunCtx, list: ListMaker<RunCtx>, opts: PreflightOptions): Promise<void> {
  const problems: string[] = [];
  await list(preflightTasks(ctx, problems, opts)).run();
  if (problems.length) throw new PreflightError(problems);
}

/**
 * After a failed step: what changed decides. Nothing live: refused (exit 2). Otherwise the undo
 * (`undo` tasks), unless automatic rollback is off. Never hides a host left half-deployed.
 */
export async function undoAfterFailure(ctx: RunCtx, list: ListMaker<RunCtx>, undo: (() => ReturnType<Procedure<RunCtx>['work']>) | null): Promise<Outcome> {
  if (!changedAnything(ctx)) return 'refused';
  const auto = ctx.env.config.policy.autoRollback && !ctx.flags.noRollback;
  if (!auto || !undo) {
    ctx.notes.push(auto ? 'no automatic undo for this task' : 'automatic rollback is off (--no-rollback or policy.autoRollback: false)');
    return 'needs-attention';
  }
  try {
    await list(undo()).run();
    return 'rolled-back';
  } catch (err) {
    if (ctx.signal.aborted) return 'interrupted';
    const uncertain = ctx.hosts.filter((h) => h.stage === 'rollback-failed');
    // the hosts' own reasons are in the summary; this says what failed as a whole
    if (!uncertain.length) ctx.notes.push(`the rollback to ${label(ctx.hosts[0]!.from)} failed: ${ctx.redact((err as Error).message)}`);
    return 'needs-attention';
  }
}
