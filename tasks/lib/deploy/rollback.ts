/**
 * rollback [tag]: back to a tag that was verified live before (default: the previous one in the
 * host's history), with the same lock, restart and verification as a deploy. Code only, unless
 * --restore-db: then a fresh safety backup first, and the database restored in one transaction.
 */
import os from 'node:os';
import path from 'node:path';
import { readManifest } from '../backup/manifest.ts';
import { manifestPathFor } from '../backup/names.ts';
import { listBackups } from '../backup/retention.ts';
import { restoreDatabase } from '../backup/restore.ts';
import { RESTORE_FLAGS } from '../commands/pg.ts';
import { display, type Command } from '../commands/shell.ts';
import { systemd } from '../commands/systemd.ts';
import { secret, secretValues, type LoadedEnvironment } from '../config/load.ts';
import { CutoverError, ExitCode, UsageError } from '../base/errors.ts';
import { readHistory } from '../state/history.ts';
import { stateDirOf } from '../state/paths.ts';
import { currentAndPrevious, deployments, everDeployedOk } from '../state/queries.ts';
import { backupRunner, backupStep } from './backup-step.ts';
import { label, type HostRun, type RunCtx } from './context.ts';
import { deployTasks, timed } from './graph.ts';
import { releaseCommands } from './host-steps.ts';
import type { Procedure } from './orchestrate.ts';
import { validateTag } from './tag.ts';

export interface RollbackChoice {
  readonly tag: string;
  /** The dump to restore (absolute), when --restore-db was given. */
  readonly restoreFrom?: string;
}

/**
 * The target tag and the dump to restore. Default tag: the previous one in the history. Default
 * dump: the one taken before the deploy being undone (the run that made the current tag live).
 */
export async function chooseRollback(
  env: LoadedEnvironment,
  primary: HostRun,
  o: { tag?: string; force: boolean; restoreDb?: string | true },
): Promise<RollbackChoice> {
  const stateDir = stateDirOf(env.config.app);
  const { events } = await readHistory(primary.runner, stateDir);
  const live = currentAndPrevious(events);
  const where = `the history on ${primary.host.name} (${stateDir}/history.jsonl)`;
  // a tag that was live when a deploy started (before cutover's first deploy, say) ran in production too
  const wasLive = (t: string) => everDeployedOk(events, t) || deployments(events).some((d) => d.from === t);
  let tag: string;
  if (o.tag) {
    tag = validateTag(o.tag);
    if (!o.force && !wasLive(tag))
      throw new UsageError(`${tag} was never deployed and verified here, nor live before a deploy, per ${where}. Check the tag, or pass --force to roll back to it anyway.`);
  } else {
    const previous = live.previous ?? live.currentRun?.from ?? null;
    if (!previous) throw new UsageError(`there is no previous successfully deployed tag in ${where}${live.current ? ` (only ${live.current})` : ''}. Name the tag: npx tsx tasks/rollback.ts <tag> --force`);
    tag = previous;
  }
  if (o.restoreDb === undefined) return { tag };
  if (o.restoreDb !== true) return { tag, restoreFrom: path.resolve(o.restoreDb) };
  // the dump taken by the run that made the current tag live: the data as it was before it
  const undone = live.currentRun ?? deployments(events).at(-1);
  const file = undone?.backupFile ?? (await listBackups(env.backupDir)).find((b) => b.manifest.toTag === live.current)?.dumpPath;
  if (!file) throw new UsageError(`no backup is recorded for the deploy of ${live.current ?? 'the current tag'}; name one: --restore-db backups/${env.name}/<file>.dump (list them: ls ${env.backupDir})`);
  return { tag, restoreFrom: file };
}

export function rollbackProcedure(restoreFrom: string | undefined): Procedure {
  return {
    kind: 'rollback',

    async plan(ctx) {
      const lines = ['', `Plan: roll ${ctx.env.name} back to ${ctx.tag} (${ctx.env.file}), run ${ctx.runId} by ${ctx.who}`];
      for (const h of ctx.hosts) lines.push(`  ${h.host.name} (${h.host.address}): ${label(h.from)} -> ${ctx.tag}`);
      if (ctx.env.config.app.strategy === 'releases') lines.push(`  releases: switch current back to ${ctx.tag}'s release folder (no reinstall when it is still there)`);
      if (restoreFrom) {
        const m = await readManifest(manifestPathFor(restoreFrom));
        if (!m.ok) throw new CutoverError(`--restore-db ${restoreFrom}: ${m.problem}`, ExitCode.refused);
        lines.push(
          `  database: a safety backup of ${m.manifest.database} now, then ${m.manifest.database} is REPLACED by ${path.relative(process.cwd(), restoreFrom)}`,
          `    (taken ${m.manifest.createdAt} before ${m.manifest.fromTag ?? '?'} -> ${m.manifest.toTag}; pg_restore ${RESTORE_FLAGS.join(' ')}; row counts compared after)`,
          `    data written since then is lost (it stays in the safety backup)`,
        );
      } else
        lines.push(
          '  database: NOT touched. This is a code-only rollback: migrations applied since do stay (the old code runs on the newer schema).',
          `    To put the data back too: --restore-db (the backup taken before the deploy being undone) or --restore-db <file>.`,
        );
      lines.push('  then: restart, verify (the same checks as a deploy); on failure: stop and report (exit 3)', '');
      return lines;
    },

    work: (ctx) =>
      deployTasks(ctx, {
        migrate: false,
        reuseRelease: true,
        backup: async (c, task) => {
          if (!restoreFrom) return void task.skip('No backup: code-only rollback, the database is not touched');
          await backupStep(c, task, 'Safety backup');
        },
        beforeRestart: restoreFrom ? [restoreTask(restoreFrom)] : [],
      }),

    undo: null,

    async dryRun(ctx) {
      const { app, services } = ctx.env.config;
      const secrets = secretValues(ctx.env);
      const lines = ['Dry run: these commands would run (nothing was changed):'];
      const show = (where: string, cmd: Command) => lines.push(`  [${where}] ${display(cmd, secrets)}`);
      for (const h of ctx.hosts) {
        const n = h.host.name;
        for (const c of releaseCommands(ctx)) show(n, c);
        if (app.strategy === 'releases') lines.push(`  [${n}] switch current to the release folder of ${ctx.tag}`);
        if (restoreFrom && h === ctx.hosts[0]) lines.push(`  [${n}] safety backup, then pg_restore ${RESTORE_FLAGS.join(' ')} of ${restoreFrom}`);
        for (const s of services) if (s.unit) show(n, systemd.restart([s.unit], s.sudo));
        lines.push(`  [${n}] verify ${ctx.tag}: health, readiness, chat, journal`);
      }
      return lines;
    },
  };
}

function restoreTask(dumpPath: string) {
  return {
    title: `Restore the database from ${path.basename(dumpPath)}`,
    task: timed('restore-db', async (c: RunCtx, task) => {
      const db = c.env.config.database;
      if (!db) throw new UsageError('--restore-db: this environment has no database');
      const m = await readManifest(manifestPathFor(dumpPath));
      if (!m.ok) throw new CutoverError(`cannot restore ${dumpPath}: ${m.problem}`, ExitCode.refused);
      for (const h of c.hosts) if (h.stage === 'untouched') h.stage = 'code-changed'; // the data is live too
      const r = await restoreDatabase({
        runner: backupRunner(c),
        db,
        password: secret(c.env, db.password),
        dumpPath,
        manifest: m.manifest,
        // where the dump is uploaded for pg_restore: the host's state folder, or here when pg_restore runs here
        scratchDir: db.dumpOn === 'local' ? os.tmpdir() : stateDirOf(c.env.config.app),
        runId: c.runId,
        signal: c.signal,
        secrets: secretValues(c.env),
      });
      if (r.mismatches.length) throw new CutoverError(`restored, but the row counts differ from the backup's: ${r.mismatches.join('; ')}`, ExitCode.needsHuman);
      task.title = `Database restored from ${path.basename(dumpPath)}: ${Object.keys(r.rowCounts).length} tables, row counts equal to the backup's`;
      c.notes.push(`database restored from ${dumpPath}`);
    }),
  };
}
