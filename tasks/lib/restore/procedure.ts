/**
 * restore <backup>: a kernel procedure. Preflight (read-only): the terminal-or-`--yes` rule, the
 * backup (manifest, same environment and database, read completely), the row counts now, the
 * plan; then the typed database name. Under the lock: a safety backup, the restore in one
 * transaction (all or nothing, waited for even on Ctrl-C), the row counts compared with the
 * manifest's; after a failed restore the counts are read again to say which state the data is in.
 */
import os from 'node:os';
import path from 'node:path';
import { dumpRunnerFor, liveTag, resolveBackup } from '../backup/catalog.ts';
import { backupPlan, takeBackup } from '../backup/dump.ts';
import { verifyBackup } from '../backup/integrity.ts';
import { restoreDatabase } from '../backup/restore.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { sizeText } from '../base/format.ts';
import { flag, type ParsedArgs } from '../cli/args.ts';
import { parseRowCounts, pg, RESTORE_FLAGS } from '../commands/pg.ts';
import { secret, secretValues } from '../config/load.ts';
import { confirmByTyping, requireTerminalOrYes } from '../kernel/confirm.ts';
import { timed } from '../kernel/listr.ts';
import type { KernelCtx, Outcome, Procedure, RunHosts } from '../kernel/procedure.ts';
import type { ChangingTask } from '../kernel/run.ts';
import { run as runCmd } from '../runners/run.ts';
import type { RestoreCtx } from './context.ts';
import { dataState, EXIT, RESULT, type RestoreOutcome } from './outcome.ts';
import { planLines } from './plan.ts';
import { endEvent, reportInput, restoreOutcome, startEvent, summaryLines } from './summary.ts';

/** How long the row count after a failed restore may wait (it queues behind a restore still holding its locks). */
const RECOUNT_TIMEOUT_MS = 60_000;

const KERNEL_OUTCOME: Record<RestoreOutcome, Outcome> = {
  restored: 'done',
  'counts-differ': 'needs-attention',
  'failed-unchanged': 'rolled-back',
  uncertain: 'needs-attention',
  refused: 'refused',
  interrupted: 'interrupted',
};

/** Row counts now, without the run's signal (it may be aborted already); null when they cannot be read. */
async function recount(ctx: RestoreCtx): Promise<Record<string, number> | null> {
  try {
    const r = await ctx.runner.exec(pg.rowCounts(ctx.db, ctx.password), { timeoutMs: RECOUNT_TIMEOUT_MS });
    return r.code === 0 ? parseRowCounts(r.stdout) : null;
  } catch {
    return null;
  }
}

const restoreProcedure: Procedure<RestoreCtx> = {
  task: 'restore',
  lockTag: () => null,

  async preflight(ctx) {
    const source = await resolveBackup(ctx.env, ctx.arg);
    const m = source.manifest;
    if (m.envName !== ctx.env.name) throw new UsageError(`${m.file} is a backup of environment ${m.envName}, not ${ctx.env.name}: restore refuses to cross environments. Nothing was changed.`);
    if (m.database !== ctx.db.name) throw new UsageError(`${m.file} is a backup of database ${m.database}, but ${ctx.env.file} names ${ctx.db.name}. Nothing was changed.`);
    ctx.print(`Reading ${m.file} completely (sha256 against its manifest, pg_restore to /dev/null)...`);
    const check = await verifyBackup(source.dumpPath, m, { signal: ctx.signal });
    if (!check.ok) throw new CutoverError(`${source.dumpPath} cannot be restored: ${check.problems.map((p) => p.message).join('; ')}. Nothing was changed.`, ExitCode.refused);
    ctx.source = source;
    const [counted, tag] = await Promise.all([
      runCmd(ctx.runner, pg.rowCounts(ctx.db, ctx.password), { signal: ctx.signal, secrets: secretValues(ctx.env) }).catch((err: Error) => {
        throw new CutoverError(`cannot count the rows of ${ctx.db.name} now: ${err.message}\nNothing was changed.`, ExitCode.refused);
      }),
      liveTag(ctx.state.runner, ctx.state.dir),
    ]);
    ctx.countsBefore = parseRowCounts(counted.stdout);
    ctx.liveTag = tag;
    return planLines({ envName: ctx.env.name, dumpPath: source.dumpPath, manifest: m, database: ctx.db, restoreOn: ctx.runner.host.name, liveTag: tag, nowCounts: ctx.countsBefore, nowMs: Date.now() });
  },

  async confirm(ctx) {
    if (!ctx.yes) await confirmByTyping(ctx.db.name, `Type the database name "${ctx.db.name}" to replace it`, ctx.signal);
  },

  started: (ctx) => ({ from: ctx.liveTag, to: ctx.liveTag, backupFile: ctx.source!.dumpPath }),

  work: (ctx) => [
    {
      title: `Safety backup of ${ctx.db.name} as it is now`,
      task: timed('safety backup', async (c: RestoreCtx, task) => {
        const common = { db: c.db, password: c.password, format: c.db.format, dir: c.env.backupDir, fromTag: c.liveTag, toTag: c.liveTag ?? 'manual' };
        if (c.dry) {
          for (const cmd of backupPlan(common).onHost) c.dry.command(c.runner.host.name, cmd);
          return;
        }
        c.safety = await takeBackup({ ...common, runner: c.runner, envName: c.env.name, runId: c.runId, signal: c.signal });
        task.title = `Safety backup: ${path.relative(process.cwd(), c.safety.dumpPath)} (${sizeText(c.safety.manifest.sizeBytes)}, verified)`;
      }),
    },
    {
      title: `Restore ${ctx.db.name} from ${ctx.source?.manifest.file ?? ctx.arg} in one transaction`,
      task: timed('restore', async (c: RestoreCtx, task) => {
        const source = c.source!;
        if (c.dry) {
          c.dry.add(c.runner.host.name, `pg_restore ${RESTORE_FLAGS.join(' ')} of ${path.relative(process.cwd(), source.dumpPath)} (uploaded to ${c.scratchDir} first), then the row counts compared with its manifest`);
          return;
        }
        c.restoreStarted = true;
        // Ctrl-C does not cut the transaction off: a killed runner leaves pg_restore running on the host
        // (it would commit unseen). The restore is waited for, so the state reported is the real one.
        const waitNote = () => (task.output = `the restore is one transaction: waiting for it to end, so the state of ${c.db.name} is known (Ctrl-C again quits at once, state unknown)`);
        c.signal.addEventListener('abort', waitNote, { once: true });
        try {
          const r = await restoreDatabase({ runner: c.runner, db: c.db, password: c.password, dumpPath: source.dumpPath, manifest: source.manifest, scratchDir: c.scratchDir, runId: c.runId, secrets: secretValues(c.env) });
          c.countsAfter = r.rowCounts;
          c.mismatches = [...r.mismatches];
          c.dataState = r.mismatches.length ? 'unknown' : 'as-backup';
          c.result = c.signal.aborted ? 'interrupted' : r.mismatches.length ? 'counts-differ' : 'restored';
          task.title = r.mismatches.length
            ? `Restored ${c.db.name}, but the row counts of ${r.mismatches.length} table(s) differ from the backup's`
            : `Restored ${c.db.name}: the row counts of its ${Object.keys(r.rowCounts).length} tables equal the backup's`;
        } finally {
          c.signal.removeEventListener('abort', waitNote);
        }
      }),
    },
  ],

  async recover(ctx) {
    // the claim "left as it was" is checked, not assumed: count again and compare with the safety backup
    if (!ctx.restoreStarted || !ctx.safety) {
      ctx.result = 'refused';
      return 'refused';
    }
    const t0 = performance.now();
    ctx.countsAfter = await recount(ctx);
    ctx.steps.push({ name: 'count rows after the failure', durationMs: Math.round(performance.now() - t0), ok: ctx.countsAfter !== null });
    ctx.dataState = dataState(ctx.countsAfter, ctx.safety.manifest.rowCounts, ctx.source!.manifest.rowCounts);
    ctx.result = ctx.signal.aborted ? 'interrupted' : ({ 'as-before': 'failed-unchanged', 'as-backup': 'restored', unknown: 'uncertain' } as const)[ctx.dataState];
    return KERNEL_OUTCOME[ctx.result];
  },

  changedAnything: (ctx) => ctx.restoreStarted,

  // a restore verifies data, not a release: it never changes what rollback goes back to
  finished: (ctx, outcome) => {
    const o = ctx.result ?? (outcome === 'interrupted' ? 'interrupted' : 'refused');
    return { result: RESULT[o], live: null, ...(ctx.safety ? { backupFile: ctx.safety.dumpPath } : {}) };
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
