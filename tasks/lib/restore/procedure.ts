/**
 * restore <backup>: a kernel procedure. Preflight (read-only): the terminal-or-`--yes` rule, the
 * backup (manifest, same environment and database, read completely), the row counts now, the
 * plan; then the typed database name. Under the lock: a safety backup, the restore in one
 * transaction (all or nothing, waited for even on Ctrl-C), the row counts compared with the
 * manifest's; after a failed restore the counts are read again to say which state the data is in.
 */
import os from 'node:os';
import path from 'node:path';
import { dumpRunnerFor, liveTag } from '../backup/catalog.ts';
import { countRows } from '../backup/counts.ts';
import { backupPlan } from '../backup/dump.ts';
import { pruneAfterRun } from '../backup/prune-after-run.ts';
import { runRestore } from '../backup/restore-run.ts';
import { checkRestoreSource } from '../backup/source.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { flag, type ParsedArgs } from '../cli/args.ts';
import { RESTORE_FLAGS } from '../commands/pg.ts';
import { secret, secretValues } from '../config/load.ts';
import { confirmByTyping, requireTerminalOrYes } from '../kernel/confirm.ts';
import type { Task } from '../kernel/listr.ts';
import type { KernelCtx, Outcome, Procedure, RunHosts } from '../kernel/procedure.ts';
import type { ChangingTask } from '../kernel/run.ts';
import type { RestoreCtx } from './context.ts';
import { EXIT, RESULT, type RestoreOutcome } from './outcome.ts';
import { planLines } from './plan.ts';
import { endEvent, reportInput, restoreOutcome, startEvent, summaryLines } from './summary.ts';

const KERNEL_OUTCOME: Record<RestoreOutcome, Outcome> = {
  restored: 'done',
  'counts-differ': 'needs-attention',
  'failed-unchanged': 'rolled-back',
  uncertain: 'needs-attention',
  refused: 'refused',
  interrupted: 'interrupted',
};

const restoreProcedure: Procedure<RestoreCtx> = {
  task: 'restore',
  lockTag: () => null,

  async preflight(ctx) {
    ctx.print(`Reading ${ctx.arg} completely (sha256 against its manifest, pg_restore to /dev/null)...`);
    // this environment's, this database's, intact, and able to go into the database as it is now
    const source = await checkRestoreSource(ctx.env, ctx.arg, { signal: ctx.signal, target: { runner: ctx.runner, password: ctx.password } });
    ctx.source = source;
    const [counted, tag] = await Promise.all([
      countRows(ctx.runner, ctx.db, ctx.password, { signal: ctx.signal }).catch((err: Error) => {
        throw new CutoverError(`cannot count the rows of ${ctx.db.name} now: ${err.message}\nNothing was changed.`, ExitCode.refused);
      }),
      liveTag(ctx.state.runner, ctx.state.dir),
    ]);
    ctx.countsBefore = counted;
    ctx.liveTag = tag;
    return planLines({ envName: ctx.env.name, dumpPath: source.dumpPath, manifest: source.manifest, database: ctx.db, restoreOn: ctx.runner.host.name, liveTag: tag, nowCounts: counted, nowMs: Date.now() });
  },

  async confirm(ctx) {
    if (!ctx.yes) await confirmByTyping(ctx.db.name, `Type the database name "${ctx.db.name}" to replace it`, ctx.signal);
  },

  started: (ctx) => ({ from: ctx.liveTag, to: ctx.liveTag, backupFile: ctx.source!.dumpPath }),

  work: (ctx) => [
    {
      title: `Safety backup of ${ctx.db.name}, then the restore from ${ctx.source?.manifest.file ?? ctx.arg}`,
      // not timed(): runRestore records its own steps (safety backup, restore, counts)
      task: async (c: RestoreCtx, task: Task<RestoreCtx>) => {
        c.signal.throwIfAborted();
        const source = c.source!;
        if (c.dry) {
          const p = backupPlan({ db: c.db, password: c.password, format: c.db.format, dir: c.env.backupDir, fromTag: c.liveTag, toTag: c.liveTag ?? 'manual' });
          for (const cmd of p.onHost) c.dry.command(c.runner.host.name, cmd);
          c.dry.add(c.runner.host.name, `pg_restore ${RESTORE_FLAGS.join(' ')} of ${path.relative(process.cwd(), source.dumpPath)} (uploaded to ${c.scratchDir} first), then the row counts compared with its manifest`);
          return;
        }
        const r = await runRestore({
          runner: c.runner, db: c.db, password: c.password, source, backupDir: c.env.backupDir, envName: c.env.name, liveTag: c.liveTag,
          runId: c.runId, scratchDir: c.scratchDir, signal: c.signal, secrets: secretValues(c.env),
          onProgress: (p) => {
            if (p.step === 'restore') c.restoreStarted = true;
            task.output = c.redact(p.message);
          },
        });
        c.steps.push(...r.steps);
        c.notes.push(...r.notes);
        c.safety = r.safety;
        c.restoreStarted = r.restoreStarted;
        c.countsAfter = r.countsAfter;
        c.mismatches = [...r.mismatches];
        c.dataState = r.dataState;
        c.result = r.outcome;
        if (r.safety) task.output = `safety backup: ${path.relative(process.cwd(), r.safety.dumpPath)}`;
        if (r.outcome === 'restored') {
          task.title = `Restored ${c.db.name}: the row counts of its ${Object.keys(r.countsAfter ?? {}).length} tables equal the backup's`;
          return;
        }
        // anything else is not a success: the kernel's failure path (no retention), the state said by the summary
        if (r.outcome === 'counts-differ') throw new Error(`restored (committed), but the row counts of ${r.mismatches.length} table(s) differ from the backup's`);
        throw new Error(r.outcome === 'interrupted' ? 'interrupted' : c.redact(r.error ?? `the restore ended ${r.outcome}`));
      },
    },
  ],

  // the data's state was decided by the restore itself (runRestore counts again after a failure)
  async recover(ctx) {
    return KERNEL_OUTCOME[ctx.result ?? 'refused'];
  },

  changedAnything: (ctx) => ctx.restoreStarted,

  // a restore verifies data, not a release: it never changes what rollback goes back to
  finished: (ctx, outcome) => {
    const o = ctx.result ?? (outcome === 'interrupted' ? 'interrupted' : 'refused');
    return { result: RESULT[o], live: null, ...(ctx.safety ? { backupFile: ctx.safety.dumpPath } : {}) };
  },

  // retention after a good restore: never the dump just restored, nor one the rollback chain needs
  async afterSuccess(ctx) {
    return [...(await pruneAfterRun(ctx.env, ctx.state.runner, { restoring: ctx.source!.dumpPath })).notes];
  },

  exitCode: (ctx, outcome) => EXIT[ctx.result ?? (outcome === 'interrupted' ? 'interrupted' : outcome === 'done' ? 'restored' : 'refused')],

  summary: (ctx, r) => summaryLines(ctx, r).join('\n'),
  report: (ctx, r, summary) => reportInput(ctx, r, summary),
  startEvent,
  endEvent: (ctx, r) => endEvent(ctx, r),

  json: (ctx, r) => {
    const m = ctx.source?.manifest;
    return {
      task: 'restore',
      env: ctx.env.name,
      runId: ctx.runId,
      outcome: restoreOutcome(ctx, r),
      exitCode: r.exitCode,
      dataState: ctx.dataState,
      database: { name: ctx.db.name, host: ctx.db.host, port: ctx.db.port, restoreOn: ctx.runner.host.name },
      backup: ctx.source && m ? { file: ctx.source.dumpPath, createdAt: m.createdAt, sha256: m.sha256, sizeBytes: m.sizeBytes } : null,
      safetyBackup: ctx.safety ? { file: ctx.safety.dumpPath, sha256: ctx.safety.manifest.sha256, sizeBytes: ctx.safety.manifest.sizeBytes } : null,
      rowCounts: { backup: m?.rowCounts ?? null, before: ctx.safety?.manifest.rowCounts ?? ctx.countsBefore, after: ctx.countsAfter },
      mismatches: ctx.mismatches,
      steps: ctx.steps,
      ...(r.error ? { error: r.error } : {}),
      ...(ctx.dry ? { dryRun: ctx.dry.entries } : {}),
      notes: ctx.notes,
      cleanup: r.cleanup,
    };
  },
};

function restoreCtx(args: ParsedArgs, base: KernelCtx, hosts: RunHosts): RestoreCtx {
  const yes = flag(args, 'yes');
  requireTerminalOrYes('restore replaces a database and asks you to type its name', yes || base.dryRun, process.stdin.isTTY);
  const db = base.env.config.database;
  if (!db) throw new UsageError(`${base.env.file} has no database: there is nothing to restore`);
  const first = hosts.selected[0]!.runner;
  const runner = dumpRunnerFor(base.env, first);
  return {
    ...base,
    task: 'restore',
    yes,
    arg: args.positionals[0]!,
    db,
    password: secret(base.env, db.password),
    runner,
    // the dump is uploaded next to the lock on the host; with dumpOn 'local', into this machine's temp folder
    scratchDir: runner === first ? base.state.dir : os.tmpdir(),
    source: null,
    liveTag: null,
    countsBefore: {},
    result: null,
    dataState: 'as-before',
    safety: null,
    restoreStarted: false,
    countsAfter: null,
    mismatches: [],
  };
}

export const restoreTask: ChangingTask<RestoreCtx> = {
  task: 'restore',
  build: async (args, base, hosts) => ({ procedure: restoreProcedure, ctx: restoreCtx(args, base, hosts) }),
};
