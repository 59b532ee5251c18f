/**
 * The body shared by the tasks that change hosts (deploy, rollback): load, connect, handle Ctrl-C,
 * orchestrate, report. Returns the exit code; the entry point sets it.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { chooseEnvironment, loadEnvironment, secretValues, type LoadedEnvironment } from '../config/load.ts';
import { ExitCode, UsageError } from '../base/errors.ts';
import { chooseRenderer } from '../listr.ts';
import { resolveHosts } from '../aws/hosts.ts';
import { runnerFor } from '../runners/for-host.ts';
import { RecordingRunner } from '../runners/recorder.ts';
import { prepareSandbox } from '../sandbox.ts';
import { whoAmI } from '../state/lock.ts';
import { newRunId, type HostRun, type RunCtx, type RunFlags } from './context.ts';
import { orchestrate, type Procedure, type RunReport } from './orchestrate.ts';
import { summaryJson, summaryText } from './summary.ts';

export interface ChangingTask {
  readonly kind: 'deploy' | 'rollback';
  /** The tag to move to (from the arguments, and for rollback the host's history), and how. */
  target(env: LoadedEnvironment, hosts: HostRun[], args: ParsedArgs): Promise<{ tag: string; procedure: Procedure }>;
}

export function runFlags(args: ParsedArgs): RunFlags {
  const skipBackup = str(args, 'skip-backup');
  const forceUnlock = str(args, 'force-unlock');
  if (skipBackup !== undefined && !skipBackup.trim()) throw new UsageError(`--skip-backup needs a reason, recorded in the history: --skip-backup "schema-only change, backup taken at 14:02"`);
  if (forceUnlock !== undefined && !forceUnlock.trim()) throw new UsageError(`--force-unlock needs a reason, recorded in the history: --force-unlock "run 42 died with its laptop"`);
  return { dryRun: flag(args, 'dry-run'), yes: flag(args, 'yes'), json: flag(args, 'json'), noRollback: flag(args, 'no-rollback'), skipBackup, forceUnlock };
}

export async function runChangingTask(args: ParsedArgs, spec: ChangingTask): Promise<ExitCode> {
  const flags = runFlags(args);
  const renderer = chooseRenderer(str(args, 'renderer'), process.env);
  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const print = (t: string) => (flags.json ? process.stderr : process.stdout).write(`${t}\n`);
  if (env.config.sandbox) for (const row of await prepareSandbox(env)) if (row.result !== 'ok') print(`note: ${row.detail}`);
  mkdirSync(env.backupDir, { recursive: true, mode: 0o700 });

  const hosts: HostRun[] = (await resolveHosts(env)).map((host) => {
    const real = runnerFor(env, host);
    // dry-run: read-only commands answer for real, anything else is only recorded: nothing can change
    const runner = flags.dryRun ? new RecordingRunner(real.host, { readOnly: real, secrets: secretValues(env) }) : real;
    return { host, runner, from: { commit: '' }, stage: 'untouched', checks: [] };
  });
  const ac = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++interrupts > 1) {
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // second Ctrl-C: stop now, the default way
      return;
    }
    process.stderr.write(`\n${sig}: stopping, cleaning up, releasing the lock (Ctrl-C again to quit at once)\n`);
    ac.abort(new Error(`interrupted (${sig})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const startedAt = new Date();
    const { tag, procedure } = await spec.target(env, hosts, args);
    const ctx: RunCtx = { env, runId: newRunId(), task: spec.kind, tag, who: whoAmI(), flags, signal: ac.signal, hosts, steps: [], notes: [], ssmCommands: [] };
    const report = await orchestrate(ctx, procedure, { renderer, print });
    const code = ac.signal.aborted ? ExitCode.interrupted : report.exitCode;
    const final = { ...report, exitCode: code, outcome: ac.signal.aborted ? ('interrupted' as const) : report.outcome };
    const summary = summaryText(ctx, final);
    print(`\n${summary}`);
    if (final.outcome !== 'dry-run') for (const line of await recordRun(ctx, final, startedAt, summary)) print(line);
    if (flags.json) process.stdout.write(`${JSON.stringify(summaryJson(ctx, final), null, 2)}\n`);
    return code;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await Promise.all(hosts.map((h) => h.runner.close()));
  }
}

/** The run's report (JSON + Markdown under backups/<env>/reports/) and its end notification: lines to print; problems are warnings. */
async function recordRun(ctx: RunCtx, report: RunReport, startedAt: Date, summary: string): Promise<string[]> {
  const [{ writeReport }, { runReportInput, runEndEvent }, { notify }] = await Promise.all([
    import('../reports/write.ts'),
    import('../reports/from-run.ts'),
    import('../notify/webhook.ts'),
  ]);
  const lines: string[] = [];
  try {
    const paths = await writeReport(ctx.env, runReportInput(ctx, report, { startedAt, finishedAt: new Date(), summary }));
    lines.push(`  report: ${path.relative(process.cwd(), paths.mdPath)} (and .json)`);
  } catch (err) {
    lines.push(`  WARNING: could not write the report: ${(err as Error).message}`);
  }
  const end = runEndEvent(ctx, report);
  if (end) {
    const sent = await notify(ctx.env, end);
    if (sent.warning) lines.push(`  WARNING: ${sent.warning}`);
  }
  return lines;
}
