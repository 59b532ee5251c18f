/**
 * The body of tasks/restore.ts. Before anything is touched: the terminal-or-`--yes` rule, the
 * backup (manifest, same environment and database, read completely), the row counts now, the plan,
 * the typed confirmation. Then the locked part (locked.ts), the report, the notifications, the
 * summary. Returns the exit code.
 */
import os from 'node:os';
import { resolveBackup, dumpRunnerFor, firstHost, liveTag } from '../backup/catalog.ts';
import { verifyBackup } from '../backup/integrity.ts';
import { flag, str, type ParsedArgs } from '../cli/args.ts';
import { parseRowCounts, pg } from '../commands/pg.ts';
import { chooseEnvironment, loadEnvironment, secret, secretValues } from '../config/load.ts';
import { newRunId } from '../base/run.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { notify } from '../notify/webhook.ts';
import { redactDeep, redactText } from '../reports/redact.ts';
import { writeReport } from '../reports/write.ts';
import { runnerFor } from '../runners/for-host.ts';
import { run as runCmd } from '../runners/run.ts';
import type { Runner } from '../runners/types.ts';
import { prepareSandbox } from '../sandbox.ts';
import { whoAmI } from '../state/lock.ts';
import { stateDirOf } from '../state/paths.ts';
import { confirmDatabaseName, requireTerminalOrYes } from './confirm.ts';
import { onInterrupt } from './interrupt.ts';
import { runLocked } from './locked.ts';
import { EXIT } from './outcome.ts';
import { planLines } from './plan.ts';
import { endEvent, reportInput, summaryLines } from './summary.ts';
import type { RestoreRun } from './types.ts';

const interrupted = () => new CutoverError('interrupted before anything was changed.', ExitCode.interrupted);

export async function restoreTask(args: ParsedArgs): Promise<ExitCode> {
  const yes = flag(args, 'yes');
  const json = flag(args, 'json');
  const say = (t: string) => (json ? process.stderr : process.stdout).write(`${t}\n`);
  requireTerminalOrYes(yes, process.stdin.isTTY);
  const force = str(args, 'force-unlock');
  if (force !== undefined && !force.trim()) throw new UsageError(`--force-unlock needs a reason, recorded in the history: --force-unlock "run 42 died with its laptop"`);

  const env = await loadEnvironment(chooseEnvironment(str(args, 'env'), process.env));
  const db = env.config.database;
  if (!db) throw new UsageError(`${env.file} has no database: there is nothing to restore`);
  const source = await resolveBackup(env, args.positionals[0]!);
  const m = source.manifest;
  if (m.envName !== env.name) throw new UsageError(`${m.file} is a backup of environment ${m.envName}, not ${env.name}: restore refuses to cross environments. Nothing was changed.`);
  if (m.database !== db.name) throw new UsageError(`${m.file} is a backup of database ${m.database}, but ${env.file} names ${db.name}. Nothing was changed.`);

  const interrupt = onInterrupt(say);
  const runners: Runner[] = [];
  try {
    say(`Reading ${m.file} completely (sha256 against its manifest, pg_restore to /dev/null)...`);
    const check = await verifyBackup(source.dumpPath, m, { signal: interrupt.signal }).catch((err: unknown) => {
      if (interrupt.signal.aborted) throw interrupted();
      throw err;
    });
    if (!check.ok) throw new CutoverError(`${source.dumpPath} cannot be restored: ${check.problems.map((p) => p.message).join('; ')}. Nothing was changed.`, ExitCode.refused);

    if (env.config.sandbox) await prepareSandbox(env);
    const { resolveHosts } = await import('../aws/hosts.ts');
    const host = firstHost(await resolveHosts(env, { signal: interrupt.signal }));
    const primary = runnerFor(env, host);
    runners.push(primary);
    const runner = dumpRunnerFor(env, primary);
    if (runner !== primary) runners.push(runner);
    const stateDir = stateDirOf(env.config.app);
    const password = secret(env, db.password);
    const secrets = secretValues(env);
    const [counted, tag] = await Promise.all([
      runCmd(runner, pg.rowCounts(db, password), { signal: interrupt.signal, secrets }).catch((err: Error) => {
        if (interrupt.signal.aborted) throw interrupted();
        throw new CutoverError(`cannot count the rows of ${db.name} now: ${err.message}\nNothing was changed.`, ExitCode.refused);
      }),
      liveTag(primary, stateDir),
    ]);
    const countsBefore = parseRowCounts(counted.stdout);
    const restoreOn = runner.host.name;
    planLines({ envName: env.name, dumpPath: source.dumpPath, manifest: m, database: db, restoreOn, liveTag: tag, nowCounts: countsBefore, nowMs: Date.now() }).forEach((l) => say(l));
    if (!yes) await confirmDatabaseName(db.name, interrupt.signal);
    if (interrupt.signal.aborted) throw interrupted();

    const startedAt = new Date();
    const run: RestoreRun = {
      env, runId: newRunId(startedAt), startedAt, who: whoAmI(), source, db, password, secrets, primary, runner, stateDir,
      // the dump is uploaded next to the lock on the host; with dumpOn 'local', into this machine's temp folder
      scratchDir: runner === primary ? stateDir : os.tmpdir(),
      liveTag: tag, countsBefore, ...(force ? { forceUnlock: force } : {}), signal: interrupt.signal, say,
      outcome: 'refused', dataState: 'as-before', safety: null, restoreStarted: false, countsAfter: null, mismatches: [], steps: [], notes: [], notifications: [], cleanup: [],
    };
    await runLocked(run).then(
      () => undefined,
      (err: unknown) => {
        // the lock was not taken (or the started record failed): nothing changed, and nothing to report
        if (run.steps.length === 0) throw err;
        run.error ??= (err as Error).message;
      },
    );
    return await finish(run, json);
  } finally {
    interrupt.dispose();
    await Promise.all(runners.map((r) => r.close()));
  }
}

/** Report, notifications, summary; the exit code. Neither a report nor a notification can change it. */
async function finish(run: RestoreRun, json: boolean): Promise<ExitCode> {
  const code = EXIT[run.outcome];
  const sent = await Promise.all([...run.notifications, notify(run.env, endEvent(run))]);
  for (const n of sent) if (n.warning) run.notes.push(n.warning);
  let report: { jsonPath: string; mdPath: string } | null = null;
  try {
    report = await writeReport(run.env, reportInput(run, new Date()));
    run.notes.push(`report: ${report.mdPath}`);
  } catch (err) {
    run.notes.push(`the report could not be written: ${(err as Error).message}`);
  }
  run.say('');
  summaryLines(run).forEach((l) => run.say(redactText(l, run.secrets)));
  if (json)
    process.stdout.write(
      `${JSON.stringify(
        redactDeep({
          task: 'restore',
          env: run.env.name,
          runId: run.runId,
          outcome: run.outcome,
          exitCode: code,
          dataState: run.dataState,
          database: { name: run.db.name, host: run.db.host, port: run.db.port, restoreOn: run.runner.host.name },
          backup: { file: run.source.dumpPath, createdAt: run.source.manifest.createdAt, sha256: run.source.manifest.sha256, sizeBytes: run.source.manifest.sizeBytes },
          safetyBackup: run.safety ? { file: run.safety.dumpPath, sha256: run.safety.manifest.sha256, sizeBytes: run.safety.manifest.sizeBytes } : null,
          rowCounts: { backup: run.source.manifest.rowCounts, before: run.safety?.manifest.rowCounts ?? run.countsBefore, after: run.countsAfter },
          mismatches: run.mismatches,
          steps: run.steps,
          ...(run.error ? { error: run.error } : {}),
          report,
          notes: run.notes,
          cleanup: run.cleanup,
        }, run.secrets),
        null,
        2,
      )}\n`,
    );
  return code;
}
