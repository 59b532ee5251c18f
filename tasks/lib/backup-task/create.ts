/**
 * backup create: a verified dump now, as a kernel procedure (the deploy lock, the history, Ctrl-C,
 * --dry-run, the report), taken the way deploy takes one (pg_dump where database.dumpOn says),
 * then retention, which never removes a dump the rollback chain still needs.
 */
import path from 'node:path';
import { dumpRunnerFor, liveTag } from '../backup/catalog.ts';
import { backupPlan, takeBackup, type Backup } from '../backup/dump.ts';
import { pruneAfterRun } from '../backup/prune-after-run.ts';
import { UsageError } from '../base/errors.ts';
import { mbText, sizeText } from '../base/format.ts';
import type { PgTarget } from '../commands/pg.ts';
import { secret } from '../config/load.ts';
import { timed } from '../kernel/listr.ts';
import type { KernelCtx, Procedure } from '../kernel/procedure.ts';
import type { ChangingTask } from '../kernel/run.ts';
import type { ReportInput } from '../reports/types.ts';
import type { Runner } from '../runners/types.ts';

export interface CreateCtx extends KernelCtx {
  readonly task: 'backup';
  readonly db: PgTarget & { readonly format: 'custom' | 'plain' };
  readonly password?: string;
  /** Where pg_dump runs. */
  readonly runner: Runner;
  liveTag: string | null;
  backup: Backup | null;
}

const rel = (p: string) => path.relative(process.cwd(), p) || p;

function verdict(ctx: CreateCtx, outcome: string): string {
  return ctx.backup ? 'backup taken and verified' : outcome === 'interrupted' ? 'interrupted' : outcome === 'dry-run' ? 'dry run' : 'no backup taken';
}

const createProcedure: Procedure<CreateCtx> = {
  task: 'backup',
  lockTag: () => null,

  async preflight(ctx) {
    ctx.liveTag = await liveTag(ctx.state.runner, ctx.state.dir);
    const p = backupPlan({ db: ctx.db, format: ctx.db.format, dir: ctx.env.backupDir, fromTag: ctx.liveTag, toTag: ctx.liveTag ?? 'manual' });
    return [
      '',
      `Backup of ${ctx.env.name}: ${ctx.db.name} (${ctx.db.host}:${ctx.db.port}) with pg_dump on ${ctx.runner.host.name}; live tag: ${ctx.liveTag ?? '(none recorded)'}`,
      `  -> ${rel(p.dumpPath)} (mode 0600), read completely before it counts; then retention (keep: ${ctx.env.config.backups.keep}, never a dump rollback still needs)`,
      '',
    ];
  },

  started: (ctx) => ({ from: ctx.liveTag, to: ctx.liveTag }),

  work: (ctx) => [
    {
      title: `Backup of ${ctx.db.name}`,
      task: timed('backup', async (c: CreateCtx, task) => {
        // a backup outside a deploy is named after the tag it was taken under
        const common = { db: c.db, password: c.password, format: c.db.format, dir: c.env.backupDir, fromTag: c.liveTag, toTag: c.liveTag ?? 'manual' };
        if (c.dry) {
          const p = backupPlan(common);
          for (const cmd of p.onHost) c.dry.command(c.runner.host.name, cmd);
          c.dry.add('this machine', `the dump streams into ${rel(p.dumpPath)} (mode 0600) ${p.hereReads}`);
          for (const cmd of p.here) c.dry.command('this machine', cmd);
          return;
        }
        c.backup = await takeBackup({ ...common, runner: c.runner, envName: c.env.name, runId: c.runId, signal: c.signal, onProgress: (b) => (task.output = mbText(b)) });
        task.title = `Backup: ${rel(c.backup.dumpPath)} (${sizeText(c.backup.manifest.sizeBytes)}, verified)`;
      }),
    },
  ],

  // nothing live changes: a failed dump leaves no file behind
  recover: async () => 'refused',
  changedAnything: () => false,
  finished: (ctx) => ({ live: null, ...(ctx.backup ? { backupFile: ctx.backup.dumpPath } : {}) }),

  async afterSuccess(ctx) {
    return [...(await pruneAfterRun(ctx.env, ctx.state.runner)).notes];
  },

  summary(ctx, r) {
    const lines = [`backup of ${ctx.env.name}: ${verdict(ctx, r.outcome).toUpperCase()} (exit ${r.exitCode}), run ${ctx.runId}`];
    const b = ctx.backup;
    if (b) {
      const m = b.manifest;
      lines.push(`  ${rel(b.dumpPath)}: ${sizeText(m.sizeBytes)}, sha256 ${m.sha256}, ${Object.values(m.rowCounts).reduce((a, n) => a + n, 0)} rows in ${Object.keys(m.rowCounts).length} tables, dump ${m.durationMs} ms`);
    }
    if (r.error && !b) lines.push(`  ${r.error.split('\n').join('\n  ')}`);
    for (const n of ctx.notes) lines.push(`  note: ${n}`);
    for (const c of r.cleanup) lines.push(`  WARNING: ${c}`);
    return lines.join('\n');
  },

  json: (ctx, r) => ({
    action: 'create',
    env: ctx.env.name,
    runId: ctx.runId,
    exitCode: r.exitCode,
    ...(ctx.backup ? { dumpPath: ctx.backup.dumpPath, manifestPath: ctx.backup.manifestPath, manifest: ctx.backup.manifest } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(ctx.dry ? { dryRun: ctx.dry.entries } : {}),
    notes: ctx.notes,
    cleanup: r.cleanup,
  }),

  report: (ctx, r, summary): ReportInput => ({
    kind: 'backup',
    runId: ctx.runId,
    env: ctx.env.name,
    startedAt: r.startedAt.toISOString(),
    finishedAt: r.finishedAt.toISOString(),
    verdict: verdict(ctx, r.outcome),
    title: `backup of ${ctx.env.name} (${ctx.db.name}): ${verdict(ctx, r.outcome)}`,
    summary: [...summary.split('\n').map((l) => l.trim()).filter(Boolean), `run by ${ctx.who}`],
    steps: ctx.steps,
    checks: [],
    backup: ctx.backup ? { file: ctx.backup.dumpPath, sizeBytes: ctx.backup.manifest.sizeBytes, sha256: ctx.backup.manifest.sha256 } : null,
    extra: { exitCode: r.exitCode, liveTag: ctx.liveTag, ...(r.error ? { error: r.error } : {}) },
  }),

  startEvent: () => null,
  // a backup is routine: no notifications, unless it failed
  endEvent: (ctx, r) =>
    ctx.backup || r.outcome === 'dry-run' ? null : { kind: 'attention', title: `backup of ${ctx.env.name}: ${verdict(ctx, r.outcome)}`, text: r.error ?? '', runId: ctx.runId, fields: { database: ctx.db.name } },
};

export const createTask: ChangingTask<CreateCtx> = {
  task: 'backup',
  build: async (_args, base, hosts) => {
    const db = base.env.config.database;
    if (!db) throw new UsageError(`${base.env.file} has no database: there is nothing to back up`);
    const first = hosts.selected[0]!.runner;
    return {
      procedure: createProcedure,
      ctx: { ...base, task: 'backup', db, password: secret(base.env, db.password), runner: dumpRunnerFor(base.env, first), liveTag: null, backup: null },
    };
  },
};
