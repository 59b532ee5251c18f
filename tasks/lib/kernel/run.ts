/**
 * The one changing-task kernel. Every task that changes something (deploy, rollback, restore,
 * backup create, canary) is a Procedure run here, in this order:
 *
 *   hosts + state host -> preflight (read-only) -> plan -> [--dry-run: the work against recording
 *   runners, stop] -> confirmation -> lock (renewed while held) -> re-check under the lock ->
 *   "started" -> the work -> on failure, the procedure's undo -> "finished" -> retention (after
 *   success only) -> lock released -> summary, report, notification, --json.
 *
 * Only this file decides the outcome's exit code; the entry point sets it.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { newRunId } from '../base/run.ts';
import { holdThroughTerminalLoss, terminalLost } from '../base/terminal-loss.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { filterHosts, hostFilterFrom } from '../cli/host-filter.ts';
import { chooseEnvironment, loadEnvironment, secretValues, type LoadedEnvironment } from '../config/load.ts';
import type { Host } from '../config/schema.ts';
import { redactDeep, redactText } from '../reports/redact.ts';
import { runnerFor } from '../runners/for-host.ts';
import type { Runner } from '../runners/types.ts';
import { prepareSandbox } from './sandbox.ts';
import { serializeEvent } from '../state/history.ts';
import { newLockRecord, whoAmI } from '../state/lock.ts';
import { stateDirOf } from '../state/paths.ts';
import type { Result, Task } from '../state/records.ts';
import { DryLog } from './dry-run.ts';
import { InterruptedError, onInterrupt } from './interrupt.ts';
import { chooseRenderer, makeList, type ListMaker } from './listr.ts';
import type { LockHolder } from '../state/lock.ts';
import { holdLock, LockLostError, type LockHold } from './lock.ts';
import type { KernelCtx, Outcome, Procedure, RunHosts, RunResult } from './procedure.ts';
import { checkStateHost, chooseStateHost, rememberStateHost } from './state-host.ts';

export interface ChangingTask<C extends KernelCtx> {
  readonly task: Task;
  /** The procedure and its context, from the kernel's context and the run's hosts. Read-only. */
  build(args: ParsedArgs, base: KernelCtx, hosts: RunHosts): Promise<{ procedure: Procedure<C>; ctx: C }>;
}

const EXIT: Record<Outcome, ExitCode> = {
  done: ExitCode.ok,
  'dry-run': ExitCode.ok,
  'rolled-back': ExitCode.rolledBack,
  refused: ExitCode.refused,
  'needs-attention': ExitCode.needsHuman,
  interrupted: ExitCode.interrupted,
};

const RESULT: Record<Outcome, Result> = {
  done: 'deployed',
  'dry-run': 'failed',
  'rolled-back': 'rolled-back',
  refused: 'failed',
  'needs-attention': 'needs-attention',
  interrupted: 'interrupted',
};

export interface KernelFlags {
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly forceUnlock?: string;
}

export function kernelFlags(args: ParsedArgs): KernelFlags {
  const forceUnlock = str(args, 'force-unlock');
  if (forceUnlock !== undefined && !forceUnlock.trim())
    throw new UsageError(`--force-unlock needs a reason, recorded in the history: --force-unlock "run 42 died with its laptop"`);
  return { dryRun: flag(args, 'dry-run'), yes: flag(args, 'yes'), json: flag(args, 'json'), ...(forceUnlock ? { forceUnlock } : {}) };
}

async function environmentHosts(env: LoadedEnvironment, signal: AbortSignal): Promise<Host[]> {
  const { resolveHosts } = await import('../aws/hosts.ts');
  return resolveHosts(env, { signal });
}

export async function runChanging<C extends KernelCtx>(args: ParsedArgs, spec: ChangingTask<C>): Promise<ExitCode> {
  const held = holdThroughTerminalLoss(); // from here to the report: a lost terminal never stops it half-way
  try {
    return await changing(args, spec);
  } finally {
    held();
  }
}

async function changing<C extends KernelCtx>(args: ParsedArgs, spec: ChangingTask<C>): Promise<ExitCode> {
  const flags = kernelFlags(args);
  const renderer = chooseRenderer(str(args, 'renderer'), process.env);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const secrets = secretValues(env);
  const redact = (t: string) => redactText(t, secrets);
  const print = (t: string) => (flags.json ? process.stderr : process.stdout).write(`${redact(t)}\n`);
  if (env.config.sandbox) for (const row of await prepareSandbox(env)) if (row.verdict !== 'ok') print(`note: ${row.why}`);
  mkdirSync(env.backupDir, { recursive: true, mode: 0o700 });

  const interrupt = onInterrupt(print, 'stopping, cleaning up, releasing the lock');
  const abort = new AbortController();
  interrupt.signal.addEventListener('abort', () => abort.abort(interrupt.signal.reason), { once: true });
  const real: Runner[] = [];
  let warming: NodeJS.Immediate | undefined;
  try {
    const all = await environmentHosts(env, abort.signal);
    const dry = flags.dryRun ? new DryLog(secrets) : null;
    const runners = all.map((host) => {
      const r = runnerFor(env, host);
      real.push(r);
      return { host, runner: dry ? dry.runner(r) : r };
    });
    const stateHost = chooseStateHost(env, all);
    const stateRunner = runners.find((x) => x.host === stateHost)!.runner;
    // the state host is chosen among every host; the filter only says which ones the work touches
    const keep = new Set(filterHosts(all, hostFilterFrom(args), env.file));
    const selected = runners.filter((x) => keep.has(x.host));
    const base: KernelCtx = {
      env,
      runId: newRunId(),
      task: spec.task,
      who: whoAmI(),
      signal: abort.signal,
      dryRun: flags.dryRun,
      json: flags.json,
      state: { host: stateHost, runner: stateRunner, dir: stateDirOf(env.config.app) },
      dry,
      notes: [],
      steps: [],
      redact,
      print,
    };
    const { procedure, ctx } = await spec.build(args, base, { all: runners, selected });
    // the handshakes start a turn later (setImmediate) and overlap the state-host check and the
    // preflight's start; started before the build, node-ssh's loading delayed the first line ~50 ms
    warming = setImmediate(() => all.forEach((host, i) => (keep.has(host) || host === stateHost) && real[i]!.prewarm?.()));
    const list: ListMaker<C> = (tasks) => makeList(ctx, tasks, { renderer, json: flags.json });
    return await lifecycle(ctx, procedure, { list, flags, all: runners, interrupt: interrupt.signal, abort, notices: () => real.flatMap(noticesOf) });
  } catch (err) {
    if (interrupt.signal.aborted && !(err instanceof CutoverError && err.exitCode === ExitCode.interrupted))
      throw new CutoverError(`interrupted before anything was changed (${(err as Error).message.split('\n')[0]})`, ExitCode.interrupted);
    throw err;
  } finally {
    interrupt.dispose();
    clearImmediate(warming); // a run refused before it: no handshake starts after the runners are closed
    await Promise.all(real.map((r) => r.close()));
  }
}

interface LifecycleOptions<C> {
  readonly list: ListMaker<C>;
  readonly flags: KernelFlags;
  readonly all: RunHosts['all'];
  readonly interrupt: AbortSignal;
  readonly abort: AbortController;
  /** What the runners had to say (a command left running by a lost connection, stopped after reconnecting). */
  readonly notices: () => string[];
}

const noticesOf = (r: Runner): string[] => ('notices' in r && Array.isArray(r.notices) ? (r.notices as string[]) : []);

async function lifecycle<C extends KernelCtx>(ctx: C, proc: Procedure<C>, o: LifecycleOptions<C>): Promise<ExitCode> {
  const startedAt = new Date();
  await checkStateHost(ctx.env, ctx.state.host, o.all, ctx.signal);
  const plan = await proc.preflight(ctx, o.list);
  ctx.print(plan.join('\n'));
  if (ctx.dryRun) return finish(ctx, proc, await dryRun(ctx, proc, o.list, plan, startedAt), null);
  if (ctx.signal.aborted) throw new CutoverError('interrupted before anything was changed.', ExitCode.interrupted);
  await proc.confirm?.(ctx);
  // started just before the lock command, ended here if the work never used it (a refusal, a failure before it)
  const beside = proc.besideLock?.(ctx) ?? null;
  try {
    return await underLock(ctx, proc, o, startedAt);
  } finally {
    await beside?.dispose();
  }
}

/** From the lock to the summary: lock, re-check, "started", the work, the undo, "finished", retention, release. */
async function underLock<C extends KernelCtx>(ctx: C, proc: Procedure<C>, o: LifecycleOptions<C>, startedAt: Date): Promise<ExitCode> {
  const secrets = secretValues(ctx.env);
  const startedLine = () =>
    serializeEvent({ type: 'started', runId: ctx.runId, task: proc.task, env: ctx.env.name, who: ctx.who, ...proc.started(ctx), at: new Date().toISOString() }, secrets);
  // nothing is checked between the lock and the start: the "started" line goes with the lock, in one command
  let early: string | undefined;
  try {
    early = proc.recheck ? undefined : startedLine();
  } catch {
    early = undefined; // said below, under the lock, as a start that could not be recorded
  }
  const hold = await holdLock({
    runner: ctx.state.runner,
    stateDir: ctx.state.dir,
    record: newLockRecord({ runId: ctx.runId, env: ctx.env.name, tag: proc.lockTag(ctx), task: proc.task, ttlSec: Math.round(ctx.env.config.state.lockTtl / 1000) }),
    ...(o.flags.forceUnlock ? { force: o.flags.forceUnlock } : {}),
    ...(proc.takeOver ? { takeOver: (holder: LockHolder) => proc.takeOver!(ctx, holder) } : {}),
    mirrorDir: ctx.env.backupDir,
    renewEveryMs: Math.max(2000, Math.floor(ctx.env.config.state.lockTtl / 4)),
    forceHint: `npx tsx tasks/${proc.task}.ts --env ${ctx.env.name} --force-unlock '<reason>'`,
    ...(early !== undefined ? { startedLine: early } : {}),
    // a re-check under the lock reads the history the lock command brought back
    withHistory: !!proc.recheck,
  });
  hold.lost.addEventListener('abort', () => o.abort.abort(hold.lost.reason), { once: true });
  ctx.notes.push(...hold.notes);

  try {
    await proc.recheck?.(ctx);
  } catch (err) {
    throw await released(err, hold); // a refusal under the lock: nothing changed, no history
  }
  try {
    await hold.start(early ?? startedLine());
  } catch (err) {
    // nothing changed and no "started" line exists (the lock was released): no "finished" line either
    throw new CutoverError(`could not record the start of the run in the history, so nothing was changed: ${(err as Error).message}`, ExitCode.refused);
  }
  rememberStateHost(ctx.env, ctx.state.host);
  const { notify } = await import('../notify/webhook.ts');
  const start = proc.startEvent(ctx);
  const startSent = start ? notify(ctx.env, start, { signal: ctx.signal }) : Promise.resolve({ sent: false, durationMs: 0 } as { sent: boolean; warning?: string }); // never delays the work

  let outcome: Outcome = 'needs-attention';
  let error: string | undefined;
  const cleanup: string[] = [];
  try {
    await o.list(proc.work(ctx)).run();
    outcome = 'done';
  } catch (err) {
    error = ctx.redact((err as Error).message);
    outcome = await afterFailure(ctx, proc, o, err);
  }
  ctx.notes.push(...o.notices());
  await proc.settle?.(ctx, outcome).catch((e: Error) => cleanup.push(`could not record the end of the ${proc.task}: ${e.message}`));
  const finished = proc.finished(ctx, outcome, error);
  let line: string | null = null;
  try {
    line = serializeEvent(
      {
        type: 'finished',
        runId: ctx.runId,
        task: proc.task,
        env: ctx.env.name,
        ...finished,
        result: finished.result ?? RESULT[outcome],
        steps: ctx.steps,
        ...(error && !finished.error ? { error } : {}),
        at: new Date().toISOString(),
      },
      secrets,
    );
  } catch (e) {
    cleanup.push(`could not record the end of the run in the history: ${(e as Error).message}`);
  }
  // retention after success only, the lock still held; "finished" and the release in one command around it
  const retention =
    outcome === 'done' && proc.afterSuccess ? async () => void ctx.notes.push(...(await proc.afterSuccess!(ctx).catch((e: Error) => [`after the run: ${e.message}`]))) : undefined;
  if (line !== null) cleanup.push(...(await hold.finish(line, retention)));
  else {
    await retention?.();
    cleanup.push(...(await hold.release()));
  }
  const sent = await startSent;
  if (sent.warning) cleanup.push(sent.warning);
  const result: RunResult = { outcome, exitCode: proc.exitCode?.(ctx, outcome) ?? EXIT[outcome], ...(error ? { error } : {}), plan: [], cleanup, startedAt, finishedAt: new Date() };
  return finish(ctx, proc, result, hold);
}

/** Releases the lock after a refusal under it; the refusal, with what the release had to say. */
async function released(err: unknown, hold: LockHold): Promise<unknown> {
  const problems = await hold.release();
  if (problems.length && err instanceof Error) err.message += problems.map((p) => `\n  ${p}`).join('');
  return err;
}

/** After the work threw: interrupted, lost the lock, or failed (then the procedure's undo). */
async function afterFailure<C extends KernelCtx>(ctx: C, proc: Procedure<C>, o: LifecycleOptions<C>, err: unknown): Promise<Outcome> {
  const reason: unknown = ctx.signal.reason;
  if (ctx.signal.aborted && reason instanceof LockLostError) {
    ctx.notes.push(`${reason.message}; no automatic undo was attempted (another run may be working)`);
    return proc.changedAnything(ctx) ? 'needs-attention' : 'refused';
  }
  if (ctx.signal.aborted && reason instanceof InterruptedError) return 'interrupted';
  return proc.recover(ctx, o.list, err);
}

async function dryRun<C extends KernelCtx>(ctx: C, proc: Procedure<C>, list: ListMaker<C>, plan: string[], startedAt: Date): Promise<RunResult> {
  let error: string | undefined;
  try {
    await list(proc.work(ctx)).run();
  } catch (err) {
    // a read-only answer made the graph stop (a gate, a missing release): said as it is
    error = ctx.redact((err as Error).message);
  }
  ctx.print(['', ...ctx.dry!.lines()].join('\n'));
  return { outcome: 'dry-run', exitCode: ExitCode.ok, ...(error ? { error } : {}), plan, cleanup: [], startedAt, finishedAt: new Date() };
}

/** Summary, report, end notification, --json; nothing here can change the exit code. */
async function finish<C extends KernelCtx>(ctx: C, proc: Procedure<C>, r: RunResult, hold: LockHold | null): Promise<ExitCode> {
  const lost = terminalLost();
  if (lost) ctx.notes.push(`${lost}: the run went on to its end without showing its output; this report and the history hold what it did`);
  const summary = proc.summary(ctx, r);
  ctx.print(`\n${summary}`);
  let report: { jsonPath: string; mdPath: string } | null = null;
  if (hold && r.outcome !== 'dry-run') {
    const [{ writeReport }, { notify }] = await Promise.all([import('../reports/write.ts'), import('../notify/webhook.ts')]);
    try {
      report = await writeReport(ctx.env, proc.report(ctx, r, summary));
      ctx.print(`  report: ${path.relative(process.cwd(), report.mdPath)} (and .json)`);
    } catch (err) {
      ctx.print(`  WARNING: could not write the report: ${(err as Error).message}`);
    }
    const end = proc.endEvent(ctx, r);
    if (end) {
      const sent = await notify(ctx.env, end);
      if (sent.warning) ctx.print(`  WARNING: ${sent.warning}`);
    }
  }
  if (ctx.json) process.stdout.write(`${JSON.stringify(redactDeep({ ...(proc.json(ctx, r) as object), report }, secretValues(ctx.env)), null, 2)}\n`);
  return r.exitCode;
}
